//! The web UI for reviewers and owners: server-rendered pages (minijinja,
//! templates embedded in the binary), a little inline JavaScript for keyboard
//! shortcuts, no build step.
//!
//! Sign-in takes a reviewer or admin token; the HttpOnly, SameSite=Strict
//! cookie holds a random session id kept in this process's memory (so a
//! person signs in to one gateway process), and every request looks the
//! token up again like an API call. Every form carries the session's random
//! CSRF value; pages have a nonce CSP and may not be framed.

mod actions;
mod chart;
mod diff;
mod log;
mod login;
mod page;
mod queue;
mod session;

use std::sync::Arc;

use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub use chart::CHART_DAYS;
pub use log::LOG_PAGE_ROWS;
pub use session::{UiSessions, LOGIN_COOKIE, SESSION_COOKIE, UI_SESSIONS_MAX, UI_SESSION_IDLE_S, UI_SESSION_LIFE_S};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/queue", get(queue::queue))
        .route("/queue/{id}/approve", post(queue::approve))
        .route("/queue/group/{group}/{verdict}", post(queue::decide_group))
        .route("/proposals/{id}", get(queue::proposal))
        .route("/queue/{id}/reject", post(queue::reject))
        .route("/log", get(log::log))
        .route("/log/{id}/undo", post(log::undo))
        .route("/revert", get(log::revert_preview).post(log::revert_run))
        .route("/actions", get(actions::actions))
        .route("/actions/{name}", get(actions::policy))
        .route("/actions/{name}/{switch}", post(actions::switch))
}

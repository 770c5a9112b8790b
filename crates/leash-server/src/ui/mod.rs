//! The web UI for reviewers and owners: server-rendered pages (minijinja,
//! templates embedded in the binary), a little inline JavaScript for keyboard
//! shortcuts, no build step.
//!
//! Sign-in takes a reviewer or admin token and keeps it in an HttpOnly,
//! SameSite=Strict cookie, so every request is authenticated against the
//! database like an API call and any gateway process can serve it. Every form
//! carries a CSRF value derived from that token, which a foreign page cannot
//! read or compute.

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
pub use session::SESSION_COOKIE;

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

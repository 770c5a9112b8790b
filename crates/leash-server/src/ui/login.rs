//! Signing in with a reviewer or admin token, and signing out. The sign-in
//! form carries a CSRF value that matches a cookie set with the form (a
//! foreign page can neither read nor set it), failed sign-ins are slowed like
//! any failed authentication, and the page shows only fixed messages chosen
//! by a short code (or the engine's answer when a token could not be
//! checked), never text from the address bar.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leash_engine::{EngineError, SignIn};
use serde_json::json;

use super::page::{render, FormData, St};
use super::session::{cookie, forged_page, random_hex, same, Session, LOGIN_COOKIE, SESSION_COOKIE, UI_SESSION_LIFE_S};
use crate::auth::ClientAddr;
use crate::AppState;

/// The only messages the sign-in page shows, by the `m` in its address.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("agent", "error", "Agent tokens cannot sign in; use a reviewer or admin token."),
    ("unknown", "error", "That token is unknown or revoked."),
    ("stale", "error", "The sign-in form was stale; try again."),
    ("ended", "error", "Your session ended: the token was revoked or lost its role. Sign in again."),
    ("out", "ok", "Signed out."),
];

pub(super) async fn login_page(State(s): St, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let message = q.get("m").and_then(|m| MESSAGES.iter().find(|(k, ..)| k == m));
    form(&s, &headers, message.map(|(_, kind, text)| (*kind, text.to_string()))).await
}

/// The sign-in form with a message (`kind`, text).
async fn form(s: &AppState, headers: &HeaderMap, message: Option<(&str, String)>) -> Response {
    // Keep the form's value across reloads; make one on the first visit.
    let (csrf, fresh) = match cookie(headers, LOGIN_COOKIE) {
        Some(v) if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) => (v, false),
        _ => (random_hex(16), true),
    };
    let mut ctx = json!({"login_csrf": csrf});
    if let Some((kind, text)) = message {
        ctx["flash"] = json!(text);
        ctx["flash_kind"] = json!(kind);
    }
    let page = render(s, "login.html", "login", None, ctx, &HashMap::new()).await;
    if !fresh {
        return page;
    }
    let set = format!("{LOGIN_COOKIE}={csrf}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600");
    ([(header::SET_COOKIE, set)], page).into_response()
}

/// A token that could not be checked (the database failed): the sign-in
/// form with the shared answer, never "unknown token", and nothing counted
/// against the address.
pub(super) async fn check_failed(s: &AppState, headers: &HeaderMap, e: &EngineError) -> Response {
    let answer = e.answer();
    let text = format!("The token could not be checked: {}", answer.message);
    let mut page = form(s, headers, Some(("error", text))).await;
    *page.status_mut() = crate::errors::failure_status(answer.failure);
    page
}

pub(super) async fn login(
    State(s): St,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): FormData,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let sent = form.get("csrf").map(String::as_str).unwrap_or_default();
    if expected.is_empty() || !same(sent, &expected) {
        return Redirect::to("/login?m=stale").into_response();
    }
    let token = form.get("token").map(|t| t.trim().to_string()).unwrap_or_default();
    match s.engine.sign_in(&token).await {
        Ok(SignIn::Person(_)) => {
            let Some(id) = s.ui.open(&token) else {
                return Redirect::to("/login?m=stale").into_response();
            };
            let session =
                format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={UI_SESSION_LIFE_S}");
            let spent = format!("{LOGIN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/login; Max-Age=0");
            let cookies = axum::response::AppendHeaders([(header::SET_COOKIE, session), (header::SET_COOKIE, spent)]);
            (cookies, Redirect::to("/queue")).into_response()
        }
        Ok(SignIn::Agent) => Redirect::to("/login?m=agent").into_response(),
        Ok(SignIn::Unknown) => match s.auth.failed(addr).await {
            Ok(()) => Redirect::to("/login?m=unknown").into_response(),
            Err(too_many) => too_many.into_response(),
        },
        Err(e) => check_failed(&s, &headers, &e).await,
    }
}

pub(super) async fn logout(State(s): St, sess: Session, Form(form): FormData) -> Response {
    if sess.forged(&form).is_some() {
        return forged_page();
    }
    s.ui.close(&sess.id);
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login?m=out")).into_response()
}

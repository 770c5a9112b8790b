//! Signing in with a reviewer or admin token, and signing out.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leash_engine::Role;
use serde_json::json;

use super::page::{back, render, FormData, St};
use super::session::{Session, SESSION_COOKIE};

pub(super) async fn login_page(State(s): St, Query(q): Query<HashMap<String, String>>) -> Response {
    render(&s, "login.html", "login", None, json!({}), &q).await
}

pub(super) async fn login(State(s): St, Form(form): FormData) -> Response {
    let token = form.get("token").map(|t| t.trim().to_string()).unwrap_or_default();
    match s.engine.caller_for_token(&token).await {
        Ok(Some(who)) if who.role >= Role::Reviewer => {
            let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/queue")).into_response()
        }
        Ok(Some(_)) => back("/login", "error", "Agent tokens cannot sign in; use a reviewer or admin token."),
        _ => back("/login", "error", "That token is unknown or revoked."),
    }
}

pub(super) async fn logout(State(_s): St, sess: Session, Form(form): FormData) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

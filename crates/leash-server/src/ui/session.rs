//! Who is signed in: the session cookie, the reviewer or admin it names,
//! and the CSRF value every form must carry. Pages take `Session` as an
//! extractor; a request without a valid session goes to the sign-in page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use leash_engine::{Caller, Role};
use sha2::{Digest, Sha256};

use crate::AppState;

pub const SESSION_COOKIE: &str = "leash_session";

/// The signed-in person, the page's CSRF value, and the state for the banner.
pub(super) struct Session {
    pub(super) who: Caller,
    pub(super) csrf: String,
}

pub(super) fn csrf_for(token: &str) -> String {
    hex::encode(&Sha256::digest(format!("leash-csrf:{token}").as_bytes())[..16])
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').map(str::trim).find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}="))).map(str::to_string)
}

pub(super) async fn session(s: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || Redirect::to("/login").into_response();
    let token = cookie_token(headers).ok_or_else(to_login)?;
    let who = s.engine.caller_for_token(&token).await.ok().flatten().ok_or_else(to_login)?;
    if who.role < Role::Reviewer {
        return Err(to_login());
    }
    Ok(Session { csrf: csrf_for(&token), who })
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Session, Response> {
        session(s, &parts.headers).await
    }
}

impl Session {
    /// For a form post: the refusal when the form's CSRF value is not this
    /// session's.
    pub(super) fn forged(&self, form: &HashMap<String, String>) -> Option<Response> {
        if form.get("csrf") != Some(&self.csrf) {
            return Some((
            StatusCode::FORBIDDEN,
            Html("<p>This form is missing its CSRF value or it is stale. Go back, reload the page and try again.</p>"),
        )
            .into_response());
        }
        None
    }
}

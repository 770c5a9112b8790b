//! Who is signed in. The cookie carries a random session id, never the
//! token: the token stays in this process's memory, looked up again on every
//! request (so a revocation ends the session), and signing out forgets the
//! session at once. Every form carries the session's random CSRF value.
//! Pages take `Session` as an extractor; a request without a live session
//! goes to the sign-in page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use leash_engine::{Caller, SignIn};

use crate::AppState;

pub const SESSION_COOKIE: &str = "leash_session";
/// The sign-in form's CSRF value, before there is a session.
pub const LOGIN_COOKIE: &str = "leash_login";
/// A session unused this long ends.
pub const UI_SESSION_IDLE_S: u64 = 2 * 3600;
/// A session ends this long after sign-in, used or not.
pub const UI_SESSION_LIFE_S: u64 = 12 * 3600;
/// Sessions held at once; the oldest is dropped to make room.
pub const UI_SESSIONS_MAX: usize = 10_000;

/// Random bytes as hex: session ids, CSRF values, CSP nonces.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        // No randomness: an empty value never matches a cookie or form.
        return String::new();
    }
    hex::encode(buf)
}

struct Entry {
    token: String,
    csrf: String,
    created: Instant,
    last: Instant,
}

/// The live UI sessions of this process.
#[derive(Default)]
pub struct UiSessions {
    map: Mutex<HashMap<String, Entry>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl UiSessions {
    /// A new session for a checked token; returns its id.
    pub(super) fn open(&self, token: &str) -> Option<String> {
        let (id, csrf) = (random_hex(32), random_hex(16));
        if id.is_empty() || csrf.is_empty() {
            return None;
        }
        let mut map = lock(&self.map);
        if map.len() >= UI_SESSIONS_MAX {
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| e.created).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        let now = Instant::now();
        map.insert(id.clone(), Entry { token: token.to_string(), csrf, created: now, last: now });
        Some(id)
    }

    /// The token and CSRF value of a live session, marking it used.
    fn use_session(&self, id: &str, idle: Duration) -> Option<(String, String)> {
        let mut map = lock(&self.map);
        let e = map.get_mut(id)?;
        if e.last.elapsed() >= idle || e.created.elapsed() >= Duration::from_secs(UI_SESSION_LIFE_S) {
            map.remove(id);
            return None;
        }
        e.last = Instant::now();
        Some((e.token.clone(), e.csrf.clone()))
    }

    pub(super) fn close(&self, id: &str) {
        lock(&self.map).remove(id);
    }

    /// Live sessions, for tests.
    pub fn count(&self) -> usize {
        lock(&self.map).len()
    }
}

/// The signed-in person, the page's CSRF value, and the session id.
pub(super) struct Session {
    pub(super) who: Caller,
    pub(super) csrf: String,
    pub(super) id: String,
}

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .find_map(|c| c.strip_prefix(&prefix))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

pub(super) async fn session(s: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || Redirect::to("/login").into_response();
    let id = cookie(headers, SESSION_COOKIE).ok_or_else(to_login)?;
    let (token, csrf) = s.ui.use_session(&id, s.options.ui_session_idle).ok_or_else(to_login)?;
    let who = match s.engine.sign_in(&token).await {
        Ok(SignIn::Person(who)) => who,
        Ok(SignIn::Agent | SignIn::Unknown) => {
            // Revoked (or no longer a reviewer): the session ends with it.
            s.ui.close(&id);
            return Err(Redirect::to("/login?m=ended").into_response());
        }
        // The session stays: it works again once the database answers.
        Err(e) => return Err(super::login::check_failed(s, headers, &e).await),
    };
    Ok(Session { csrf, who, id })
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Session, Response> {
        session(s, &parts.headers).await
    }
}

/// The refusal of a form post whose CSRF value is missing or not the one issued.
pub(super) fn forged_page() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<p>This form is missing its CSRF value or it is stale. Go back, reload the page and try again.</p>"),
    )
        .into_response()
}

/// Compares without an early exit, so timing does not reveal a prefix.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Session {
    /// For a form post: the refusal when the form's CSRF value is not this
    /// session's.
    pub(super) fn forged(&self, form: &HashMap<String, String>) -> Option<Response> {
        match form.get("csrf") {
            Some(v) if !self.csrf.is_empty() && same(v, &self.csrf) => None,
            _ => Some(forged_page()),
        }
    }
}

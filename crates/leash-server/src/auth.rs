//! Bearer tokens. Repeated failures from one address are answered slowly on
//! every authenticating route (API, `/mcp`, `POST /login`), and only a few
//! failing requests per address may wait at once: the rest get 429 at once,
//! so a burst of parallel guesses costs the guesser, not the server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use leash_core::codes::ErrorCode;
use leash_engine::Caller;

use crate::errors::ApiError;
use crate::AppState;

/// Failures allowed per address per window before answers slow down.
pub const AUTH_FAILURES_FREE: u32 = 5;
pub const AUTH_WINDOW_S: u64 = 60;
pub const AUTH_DELAY_MS_MAX: u64 = 5_000;
/// Failing requests from one address that may wait at once; more get 429.
pub const AUTH_WAITING_PER_ADDRESS_MAX: u32 = 2;
/// Addresses remembered at once; the table is cleared when full.
pub const AUTH_ADDRESSES_MAX: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

#[derive(Default)]
pub struct FailedAuth {
    by_addr: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    waiting: Mutex<HashMap<IpAddr, u32>>,
}

/// A failing request's place among those waiting; freed when dropped.
struct Waiting<'a>(&'a FailedAuth, IpAddr);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut w = lock(&self.0.waiting);
        if let Some(n) = w.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                w.remove(&self.1);
            }
        }
    }
}

impl FailedAuth {
    /// Records a failure; returns how long to wait before answering.
    fn fail(&self, addr: IpAddr) -> Duration {
        let mut map = lock(&self.by_addr);
        if map.len() >= AUTH_ADDRESSES_MAX {
            map.clear();
        }
        let now = Instant::now();
        let entry = map.entry(addr).or_insert((0, now));
        if now.duration_since(entry.1) > Duration::from_secs(AUTH_WINDOW_S) {
            *entry = (0, now);
        }
        entry.0 += 1;
        let over = entry.0.saturating_sub(AUTH_FAILURES_FREE);
        if over == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis((100u64 << over.min(6)).min(AUTH_DELAY_MS_MAX))
    }

    /// Counts a failed authentication from `addr` and waits as long as it
    /// earned; `Err` (429) when too many of its failures are already waiting.
    pub async fn failed(&self, addr: IpAddr) -> Result<(), ApiError> {
        let wait = self.fail(addr);
        if wait.is_zero() {
            return Ok(());
        }
        let _slot = {
            let mut w = lock(&self.waiting);
            if w.len() >= AUTH_ADDRESSES_MAX {
                w.clear();
            }
            let n = w.entry(addr).or_insert(0);
            if *n >= AUTH_WAITING_PER_ADDRESS_MAX {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::TooManyRequests.as_str(),
                    "too many failed sign-ins from this address at once; wait, and check the token",
                ));
            }
            *n += 1;
            Waiting(self, addr)
        };
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// The bearer token of a request, if it sent one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

pub async fn caller(state: &AppState, headers: &HeaderMap, addr: IpAddr) -> Result<Caller, ApiError> {
    let token = bearer(headers);
    let found = match token {
        Some(t) => state.engine.caller_for_token(t).await?,
        None => None,
    };
    match found {
        Some(c) => Ok(c),
        None => {
            state.auth.failed(addr).await?;
            let message = if token.is_some() {
                "the token is unknown or revoked; ask an admin for one (leash token create)"
            } else {
                "send Authorization: Bearer <token>"
            };
            Err(ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated.as_str(), message))
        }
    }
}

/// The client's address (unspecified when the server was not given it).
pub struct ClientAddr(pub IpAddr);

pub fn client_addr(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(&parts.extensions)))
    }
}

/// The authenticated caller of a request, as a handler argument.
pub struct Authed(pub Caller);

impl axum::extract::FromRequestParts<std::sync::Arc<AppState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &std::sync::Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        caller(state, &parts.headers, client_addr(&parts.extensions)).await.map(Authed)
    }
}

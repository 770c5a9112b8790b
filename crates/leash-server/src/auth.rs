//! Bearer tokens. Repeated failures from one address are answered slowly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use leash_engine::Caller;

use crate::errors::ApiError;
use crate::AppState;

/// Failures allowed per address per window before answers slow down.
pub const AUTH_FAILURES_FREE: u32 = 5;
pub const AUTH_WINDOW_S: u64 = 60;
pub const AUTH_DELAY_MS_MAX: u64 = 5_000;
/// Addresses remembered at once; the table is cleared when full.
pub const AUTH_ADDRESSES_MAX: usize = 10_000;

#[derive(Default)]
pub struct FailedAuth {
    by_addr: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl FailedAuth {
    /// Records a failure; returns how long to wait before answering.
    fn fail(&self, addr: IpAddr) -> Duration {
        let mut map = match self.by_addr.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
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
}

pub async fn caller(state: &AppState, headers: &HeaderMap, addr: IpAddr) -> Result<Caller, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let found = match token {
        Some(t) => state.engine.caller_for_token(t).await?,
        None => None,
    };
    match found {
        Some(c) => Ok(c),
        None => {
            let wait = state.auth.fail(addr);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let message = if token.is_some() {
                "the token is unknown or revoked; ask an admin for one (leash token create)"
            } else {
                "send Authorization: Bearer <token>"
            };
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                leash_core::codes::ErrorCode::Unauthenticated.as_str(),
                message,
            ))
        }
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
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        caller(state, &parts.headers, addr).await.map(Authed)
    }
}

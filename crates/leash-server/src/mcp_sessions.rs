//! `/mcp` sessions: every request is authenticated before the MCP service
//! sees it, so an `initialize` without a valid token creates nothing. Live
//! sessions are counted per token and in total, a session answers only the
//! token that opened it, and idle sessions end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leash_core::codes::ErrorCode;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::SessionManager;

use crate::errors::ApiError;
use crate::AppState;

/// Live MCP sessions one token may hold; a client needs one, a few restarts a few more.
pub const MCP_SESSIONS_PER_TOKEN_MAX: usize = 16;
/// Live MCP sessions on one server, all tokens together.
pub const MCP_SESSIONS_MAX: usize = 1_000;
/// A session unused this long ends; the client starts a new one (404 tells it to).
pub const MCP_SESSION_IDLE_S: u64 = 600;

const SESSION_HEADER: &str = "mcp-session-id";

struct Live {
    owner: String,
    last: Instant,
}

pub struct McpSessions {
    live: Mutex<HashMap<String, Live>>,
    manager: Arc<LocalSessionManager>,
    reservations: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Reservations for sessions being opened start with this, which no session id does.
const RESERVED: &str = "reserved:";

impl McpSessions {
    pub fn new(manager: Arc<LocalSessionManager>) -> McpSessions {
        McpSessions { live: Mutex::default(), manager, reservations: AtomicU64::new(0) }
    }

    /// Live sessions (reservations included), for tests and metrics.
    pub fn count(&self) -> usize {
        lock(&self.live).len()
    }

    fn close(&self, ids: Vec<String>) {
        let manager = self.manager.clone();
        tokio::spawn(async move {
            for id in ids.into_iter().filter(|id| !id.starts_with(RESERVED)) {
                let _ = manager.close_session(&Arc::from(id.as_str())).await;
            }
        });
    }
}

fn refusal(status: StatusCode, code: ErrorCode, message: String) -> Response {
    ApiError::new(status, code.as_str(), message).into_response()
}

pub async fn guard(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let addr = crate::auth::client_addr(req.extensions());
    let caller = match crate::auth::caller(&s, req.headers(), addr).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let idle = s.options.mcp_session_idle;
    let id = req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(id) = id {
        {
            let mut live = lock(&s.mcp.live);
            match live.get_mut(&id) {
                Some(l) if l.owner == caller.name && l.last.elapsed() < idle => l.last = Instant::now(),
                Some(l) if l.owner == caller.name => {
                    live.remove(&id);
                    s.mcp.close(vec![id]);
                    return refusal(
                        StatusCode::NOT_FOUND,
                        ErrorCode::NotFound,
                        "this MCP session ended after being idle; start a new one with initialize".into(),
                    );
                }
                // Another token's session is none of this caller's business.
                _ => {
                    return refusal(
                        StatusCode::NOT_FOUND,
                        ErrorCode::NotFound,
                        "no such MCP session; start a new one with initialize".into(),
                    )
                }
            }
        }
        let delete = req.method() == Method::DELETE;
        let response = next.run(req).await;
        if delete && response.status().is_success() {
            lock(&s.mcp.live).remove(&id);
        }
        return response;
    }
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    // A POST without a session opens one: sweep the idle, check the caps,
    // and hold a place while the session is made.
    let reservation = format!("{RESERVED}{}", s.mcp.reservations.fetch_add(1, Ordering::Relaxed));
    {
        let mut live = lock(&s.mcp.live);
        let expired: Vec<String> = live
            .iter()
            .filter(|(id, l)| !id.starts_with(RESERVED) && l.last.elapsed() >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            live.remove(id);
        }
        s.mcp.close(expired);
        let mine = live.values().filter(|l| l.owner == caller.name).count();
        let (per_token, total) = (s.options.mcp_sessions_per_token, s.options.mcp_sessions_max);
        if mine >= per_token {
            return refusal(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                format!(
                    "{} holds {mine} live MCP sessions, the most one token may; end one (DELETE /mcp) or wait {} s for an idle one to end",
                    caller.name,
                    idle.as_secs()
                ),
            );
        }
        if live.len() >= total {
            return refusal(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                format!("the server holds {total} live MCP sessions, its most; try again later"),
            );
        }
        live.insert(reservation.clone(), Live { owner: caller.name.clone(), last: Instant::now() });
    }
    // Removed however the request ends, even if it is dropped midway.
    struct Held<'a>(&'a McpSessions, String);
    impl Drop for Held<'_> {
        fn drop(&mut self) {
            lock(&self.0.live).remove(&self.1);
        }
    }
    let held = Held(&s.mcp, reservation);
    let response = next.run(req).await;
    drop(held);
    let mut live = lock(&s.mcp.live);
    if let Some(id) = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        live.insert(id.to_string(), Live { owner: caller.name, last: Instant::now() });
    }
    response
}

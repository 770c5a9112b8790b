//! `leash serve`: the HTTP JSON API of docs/api.md under `/api/v1`, OpenAPI,
//! Prometheus metrics, and the webhook worker that drains `leash_outbox`.
//! Every handler authenticates, calls one engine function, and maps its
//! answer to a status code; no rule is decided here.

mod api;
pub mod auth;
mod bodies;
mod errors;
mod headers;
mod hosts;
mod listen;
pub mod mcp;
mod mcp_input;
pub mod mcp_sessions;
mod metrics;
pub mod openapi;
pub mod slack;
pub mod ui;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use leash_engine::Engine;

pub use errors::status_for;

/// Larger bodies get 413; a call is a few hundred bytes.
pub const BODY_BYTES_MAX: usize = 64 * 1024;
/// A request not answered by then, reading its body included, gets 408.
pub const REQUEST_TIMEOUT_S: u64 = 30;

pub use listen::{CONNECTIONS_MAX, CONNECTIONS_PER_ADDRESS_MAX, HEADER_READ_TIMEOUT_S};

pub use metrics::UNKNOWN_ACTION_LABEL;

/// How a router is set up; `Options::default()` is what `leash serve` uses.
#[derive(Debug, Clone)]
pub struct Options {
    /// Refuse any `Host`/`Origin` that is not this machine (DNS rebinding);
    /// on when the server listens on loopback.
    pub loopback_only: bool,
    pub mcp_sessions_per_token: usize,
    pub mcp_sessions_max: usize,
    pub mcp_session_idle: Duration,
    pub ui_session_idle: Duration,
    /// A request head must arrive whole within this of the connection
    /// opening or going idle (also the keep-alive idle limit).
    pub header_read_timeout: Duration,
    /// A request not answered by then, body read included, gets 408.
    pub request_timeout: Duration,
    /// Open connections from one client address, and in all; over either
    /// a new connection is closed at once.
    pub connections_per_address: usize,
    pub connections_max: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            loopback_only: true,
            mcp_sessions_per_token: mcp_sessions::MCP_SESSIONS_PER_TOKEN_MAX,
            mcp_sessions_max: mcp_sessions::MCP_SESSIONS_MAX,
            mcp_session_idle: Duration::from_secs(mcp_sessions::MCP_SESSION_IDLE_S),
            ui_session_idle: Duration::from_secs(ui::UI_SESSION_IDLE_S),
            header_read_timeout: Duration::from_secs(HEADER_READ_TIMEOUT_S),
            request_timeout: Duration::from_secs(REQUEST_TIMEOUT_S),
            connections_per_address: CONNECTIONS_PER_ADDRESS_MAX,
            connections_max: CONNECTIONS_MAX,
        }
    }
}

pub struct AppState {
    pub engine: Arc<Engine>,
    pub auth: auth::FailedAuth,
    pub mcp: mcp_sessions::McpSessions,
    pub ui: ui::UiSessions,
    pub options: Options,
}

pub fn router(engine: Arc<Engine>) -> Router {
    router_with(engine, Options::default())
}

pub fn router_with(engine: Arc<Engine>, options: Options) -> Router {
    router_and_state(engine, options).0
}

/// The router and the state it serves with (tests count live sessions).
pub fn router_and_state(engine: Arc<Engine>, options: Options) -> (Router, Arc<AppState>) {
    let (mcp, manager) = mcp::http_service(engine.clone(), options.mcp_session_idle);
    let state = Arc::new(AppState {
        engine,
        auth: auth::FailedAuth::default(),
        mcp: mcp_sessions::McpSessions::new(manager),
        ui: ui::UiSessions::default(),
        options,
    });
    // `route_layer`: the guard and the input check cover `/mcp` only, not the
    // merged router's fallback (an unknown path is 404, not 401).
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .route_layer(axum::middleware::from_fn(mcp_input::http))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), mcp_sessions::guard));
    // The last layer is the outermost: the security headers go on every
    // answer, and every plain error becomes JSON, including the Host
    // check's refusal and the timeout's 408.
    let router = api::routes()
        .merge(ui::routes())
        .merge(mcp)
        .layer(axum::middleware::from_fn(bodies::require_json))
        .layer(axum::middleware::from_fn_with_state(state.clone(), hosts::only_this_machine))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.options.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(axum::middleware::map_response(errors::json_for_plain_errors))
        .layer(axum::middleware::map_response(headers::security_headers))
        .with_state(state.clone());
    (router, state)
}

/// Binds and serves until `shutdown` resolves; runs the webhook worker alongside.
pub async fn serve(
    engine: Arc<Engine>,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    serve_on(engine, listener, shutdown).await
}

pub async fn serve_on(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "leash is listening on {addr}, not loopback: put TLS in front of it, tokens travel in every request"
        );
        eprintln!("WARNING: leash serve is bound to {addr}, beyond this machine. Put a TLS proxy in front: bearer tokens are sent in the clear.");
    }
    serve_on_with(engine, listener, Options { loopback_only: addr.ip().is_loopback(), ..Options::default() }, shutdown)
        .await
}

/// `serve_on` with explicit options (tests use short times and caps).
pub async fn serve_on_with(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let worker = tokio::spawn(webhooks::run(engine.clone()));
    let app = router_with(engine, options.clone());
    tracing::info!(%addr, "leash serve listening");
    listen::serve(listener, app, &options, shutdown).await;
    worker.abort();
    Ok(())
}

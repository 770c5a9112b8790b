//! `leash serve`: the HTTP JSON API of docs/api.md under `/api/v1`, OpenAPI,
//! Prometheus metrics, and the webhook worker that drains `leash_outbox`.
//! Every handler authenticates, calls one engine function, and maps its
//! answer to a status code; no rule is decided here.

mod api;
mod auth;
mod bodies;
mod errors;
pub mod mcp;
mod metrics;
mod openapi;
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
pub const REQUEST_TIMEOUT_S: u64 = 30;

pub struct AppState {
    pub engine: Arc<Engine>,
    pub auth: auth::FailedAuth,
}

pub fn router(engine: Arc<Engine>) -> Router {
    let mcp = mcp::http_service(engine.clone());
    let state = Arc::new(AppState { engine, auth: auth::FailedAuth::default() });
    api::routes()
        .merge(ui::routes())
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::map_response(errors::json_for_plain_errors))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(REQUEST_TIMEOUT_S),
        ))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state)
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
    let worker = tokio::spawn(webhooks::run(engine.clone()));
    let app = router(engine).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(%addr, "leash serve listening");
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    worker.abort();
    result
}

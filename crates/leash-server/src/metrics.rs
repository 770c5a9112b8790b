//! Prometheus metrics: calls by action and outcome, call latency, reverts,
//! refusals for limits, breaker trips, and the queue depth read at scrape.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use leash_core::call::CallResult;
use leash_core::codes::Code;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::errors::ApiError;
use crate::AppState;

const LATENCY_BUCKETS_S: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The process-wide recorder; several servers in one process share it.
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(LATENCY_BUCKETS_S).ok()?;
            builder.install_recorder().ok()
        })
        .as_ref()
}

/// The label for calls to an action the policy does not define: hostile or
/// mistyped names never become labels of their own.
pub const UNKNOWN_ACTION_LABEL: &str = "unknown";

/// Records one call; `action` becomes a label only if the policy defines it.
pub fn record_call(engine: &leash_engine::Engine, action: &str, result: &CallResult, took: Duration) {
    handle();
    let action = if engine.policy().action(action).is_some() { action } else { UNKNOWN_ACTION_LABEL };
    let outcome = result.outcome.as_str();
    let code = result.code.map(|c| c.as_str()).unwrap_or("");
    metrics::counter!("leash_calls_total", "action" => action.to_string(), "outcome" => outcome, "code" => code)
        .increment(1);
    metrics::histogram!("leash_call_seconds", "action" => action.to_string()).record(took.as_secs_f64());
    if let Some(Code::LimitRun | Code::LimitHour | Code::OutsideWindow) = result.code {
        metrics::counter!("leash_limit_refusals_total", "action" => action.to_string(), "code" => code).increment(1);
    }
    if result.message.contains("tripped the breaker") {
        metrics::counter!("leash_breaker_trips_total", "action" => action.to_string()).increment(1);
    }
}

pub async fn render(State(s): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let Some(h) = handle() else {
        return Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            leash_core::codes::ErrorCode::Internal.as_str(),
            "metrics are unavailable",
        ));
    };
    // A gauge the database could not answer for fails the scrape: an old
    // number would look current.
    let depth = s.engine.open_proposals().await?;
    metrics::gauge!("leash_queue_depth").set(depth as f64);
    let paused = s.engine.pauses().await?.len();
    metrics::gauge!("leash_paused_scopes").set(paused as f64);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response())
}

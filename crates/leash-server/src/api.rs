//! The `/api/v1` endpoints. Each authenticates, reads its body (`JsonBody`),
//! calls one engine function and returns its JSON; the engine decides what
//! the caller may do and see.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use leash_core::call::Call;
use leash_engine::{parse_time, ChangeQuery, ProposalQuery, RevertRequest, Selector, SelectorFields};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Authed;
use crate::bodies::{ApproveBody, AuditBody, DecideManyBody, JsonBody, PauseBody, RejectBody, RevertBody};
use crate::errors::{status_for, ApiError};
use crate::AppState;

type St = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::render))
        .route("/openapi.json", get(crate::openapi::document))
        .route("/api/v1/actions", get(actions))
        .route("/api/v1/actions/{name}", post(call_action))
        .route("/api/v1/actions/{name}/records/{key}", get(read_record))
        .route("/api/v1/actions/{name}/policy", get(action_policy))
        .route("/api/v1/audit", post(audit))
        .route("/api/v1/proposals", get(proposals))
        .route("/api/v1/proposals/approve", post(approve_many))
        .route("/api/v1/proposals/reject", post(reject_many))
        .route("/api/v1/proposals/{id}", get(proposal))
        .route("/api/v1/proposals/{id}/approve", post(approve))
        .route("/api/v1/proposals/{id}/reject", post(reject))
        .route("/api/v1/changes", get(changes))
        .route("/api/v1/changes/{id}", get(change))
        .route("/api/v1/reverts", post(revert))
        .route("/api/v1/pause", post(pause))
        .route("/api/v1/resume", post(resume))
        .route("/api/v1/report", get(report))
        .route("/api/v1/slack/actions", post(crate::slack::actions))
}

async fn healthz(State(s): St) -> Response {
    match s.engine.health().await {
        Ok(_) => Json(json!({"ok": true})).into_response(),
        // Always 503, with the shared answer: the cause stays in the server log.
        Err(e) => {
            let answer = e.answer();
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, answer.code, answer.message).into_response()
        }
    }
}

async fn actions(State(s): St, Authed(who): Authed) -> Result<Response, ApiError> {
    let sheet = s.engine.actions_sheet(&who).await?;
    Ok(Json(json!({"actions": sheet})).into_response())
}

async fn call_action(
    State(s): St,
    Authed(who): Authed,
    Path(name): Path<String>,
    JsonBody(call): JsonBody<Call>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = s.engine.call(&who, &name, call).await?;
    crate::metrics::record_call(&s.engine, &name, &result, started.elapsed());
    Ok((status_for(&result), Json(result)).into_response())
}

async fn read_record(
    State(s): St,
    Authed(who): Authed,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match s.engine.read_record(&who, &name, &key).await? {
        Ok(record) => Ok(Json(json!({"action": name, "key": key, "record": record})).into_response()),
        Err(r) => Err(ApiError::new(crate::errors::code_status(r.code), r.code.as_str(), r.message)),
    }
}

/// The action's page: JSON, or its text with `Accept: text/markdown`.
async fn action_policy(
    State(s): St,
    Authed(who): Authed,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let page = s.engine.explain_for(&who, &name).await?;
    let markdown = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/markdown")));
    if markdown {
        let text = leash_core::explain::render_text(&page);
        return Ok(([(axum::http::header::CONTENT_TYPE, "text/markdown; charset=utf-8")], text).into_response());
    }
    Ok(Json(page).into_response())
}

/// A backtest; the policy, if sent, is TOML text checked like the real one
/// and never written anywhere.
async fn audit(State(s): St, Authed(who): Authed, JsonBody(b): JsonBody<AuditBody>) -> Result<Response, ApiError> {
    let policy = match &b.policy {
        Some(text) => Some(leash_core::policy::parse_policy("policy", text).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ApiError::invalid(format!("the policy has {} error(s): {}", errors.len(), lines.join("; ")))
        })?),
        None => None,
    };
    let req = leash_engine::AuditRequest {
        since: time(&s, b.since.as_ref())?,
        until: time(&s, b.until.as_ref())?,
        action: b.action,
        revert_refused: b.revert_refused,
        dry_run: b.dry_run,
    };
    let report = s.engine.audit(&who, policy.as_ref(), &req).await?;
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
struct ProposalParams {
    status: Option<String>,
    action: Option<String>,
    limit: Option<u32>,
}

async fn proposals(State(s): St, Authed(who): Authed, Query(q): Query<ProposalParams>) -> Result<Response, ApiError> {
    let query = ProposalQuery::from_fields(q.status.as_deref(), q.action.as_deref(), q.limit)?;
    let list = s.engine.proposals(&who, &query).await?;
    Ok(Json(json!({"proposals": list})).into_response())
}

async fn proposal(State(s): St, Authed(who): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(s.engine.proposal_for(&who, &id).await?).into_response())
}

async fn approve(
    State(s): St,
    Authed(who): Authed,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ApproveBody>,
) -> Result<Response, ApiError> {
    let result = s.engine.approve(&who, &id, b.set, b.note.as_deref()).await?;
    Ok((status_for(&result), Json(result)).into_response())
}

async fn reject(
    State(s): St,
    Authed(who): Authed,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RejectBody>,
) -> Result<Response, ApiError> {
    let p = s.engine.reject(&who, &id, &b.note).await?;
    Ok(Json(p).into_response())
}

fn time(s: &AppState, t: Option<&String>) -> Result<Option<String>, ApiError> {
    t.map(|t| parse_time(t, s.engine.clock().now()).map_err(ApiError::invalid)).transpose()
}

async fn changes(
    State(s): St,
    Authed(who): Authed,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let query = ChangeQuery::from_fields(q.iter().map(|(k, v)| (k.as_str(), v.as_str())), s.engine.clock().now())?;
    let list = s.engine.changes(&who, &query).await?;
    Ok(Json(json!({"changes": list})).into_response())
}

async fn change(State(s): St, Authed(who): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(s.engine.change(&who, &id).await?).into_response())
}

async fn revert(State(s): St, Authed(who): Authed, JsonBody(b): JsonBody<RevertBody>) -> Result<Response, ApiError> {
    let fields = SelectorFields {
        change_ids: b.change_ids,
        run_id: b.run_id,
        action: b.action,
        since: b.since,
        until: b.until,
        actor: b.actor,
        proposal_id: b.proposal_id,
    };
    let selector = Selector::from_fields(fields, s.engine.clock().now())?;
    let report = s
        .engine
        .revert(
            &who,
            &RevertRequest { selector, dry_run: b.dry_run, force: b.force, batch_max: leash_engine::REVERT_BATCH_MAX },
            |_, _| {},
        )
        .await?;
    if !report.dry_run {
        metrics::counter!("leash_reverts_total").increment(report.reverted.len() as u64);
    }
    Ok(Json(report).into_response())
}

fn scope(b: &PauseBody) -> Result<Option<&str>, ApiError> {
    match (&b.action, b.all) {
        (Some(a), false) => Ok(Some(a.as_str())),
        (None, true) => Ok(None),
        _ => Err(ApiError::invalid("name an action, or send all: true")),
    }
}

async fn pause(State(s): St, Authed(who): Authed, JsonBody(b): JsonBody<PauseBody>) -> Result<Response, ApiError> {
    let p = s.engine.pause(&who, scope(&b)?, &b.reason).await?;
    Ok(Json(p).into_response())
}

async fn resume(State(s): St, Authed(who): Authed, JsonBody(b): JsonBody<PauseBody>) -> Result<Response, ApiError> {
    let cleared = s.engine.resume(&who, scope(&b)?, &b.reason).await?;
    Ok(Json(json!({"resumed": cleared})).into_response())
}

async fn report(
    State(s): St,
    Authed(who): Authed,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let r = s.engine.report(&who, time(&s, q.get("since"))?, time(&s, q.get("until"))?).await?;
    Ok(Json(r).into_response())
}

/// The members a group decision names: the listed ids, or a group's open proposals.
async fn members(s: &AppState, who: &leash_engine::Caller, b: &DecideManyBody) -> Result<Vec<String>, ApiError> {
    match (&b.ids, &b.group) {
        (Some(ids), None) if !ids.is_empty() => Ok(ids.clone()),
        (None, Some(group)) => Ok(s.engine.group_members(who, group).await?),
        _ => Err(ApiError::invalid("name the proposals with `ids` (a non-empty list) or a `group`, not both")),
    }
}

async fn approve_many(
    State(s): St,
    Authed(who): Authed,
    JsonBody(b): JsonBody<DecideManyBody>,
) -> Result<Response, ApiError> {
    let ids = members(&s, &who, &b).await?;
    let results = s.engine.approve_many(&who, &ids, b.note.as_deref()).await?;
    Ok(Json(json!({"results": results})).into_response())
}

async fn reject_many(
    State(s): St,
    Authed(who): Authed,
    JsonBody(b): JsonBody<DecideManyBody>,
) -> Result<Response, ApiError> {
    let ids = members(&s, &who, &b).await?;
    let note = b.note.as_deref().unwrap_or_default();
    let results = s.engine.reject_many(&who, &ids, note).await?;
    Ok(Json(json!({"results": results})).into_response())
}

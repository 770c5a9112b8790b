//! `GET /openapi.json`: the request types come from the code (utoipa), each
//! action's call body from the policy (enums, ranges, required reason).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use leash_core::schema::{describe, result_schema};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::bodies::{ApproveBody, AuditBody, DecideManyBody, PauseBody, RejectBody, RevertBody};
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "leash", description = "A write gateway between AI agents and a team's database."),
    components(schemas(ApproveBody, RejectBody, RevertBody, PauseBody, DecideManyBody, AuditBody))
)]
struct ApiDoc;

/// The fixed endpoints: method, path, summary, least role, request schema.
/// The role matrix test walks this list.
pub const ENDPOINTS: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("get", "/api/v1/actions", "The planning sheet of the actions this token may use", "agent", None),
    ("get", "/api/v1/actions/{name}/records/{key}", "An action's `read` fields of one record", "agent", None),
    (
        "get",
        "/api/v1/actions/{name}/policy",
        "The action's policy on one page (JSON; `Accept: text/markdown` gives the text)",
        "agent",
        None,
    ),
    ("get", "/api/v1/proposals", "Open proposals (agents see only their own)", "agent", None),
    ("get", "/api/v1/proposals/{id}", "One proposal, or for an agent what became of it", "agent", None),
    (
        "post",
        "/api/v1/proposals/{id}/approve",
        "Approve, optionally editing values; refused if the record moved on",
        "reviewer",
        Some("ApproveBody"),
    ),
    ("post", "/api/v1/proposals/{id}/reject", "Reject with a note", "reviewer", Some("RejectBody")),
    (
        "post",
        "/api/v1/proposals/approve",
        "Approve several proposals (ids, or a group), each re-checked alone; the answer lists each member's outcome",
        "reviewer",
        Some("DecideManyBody"),
    ),
    (
        "post",
        "/api/v1/proposals/reject",
        "Reject several proposals (ids, or a group) with one note",
        "reviewer",
        Some("DecideManyBody"),
    ),
    (
        "post",
        "/api/v1/slack/actions",
        "Slack's interactive buttons (form field `payload`, signed by Slack; no bearer token)",
        "none",
        None,
    ),
    (
        "get",
        "/api/v1/changes",
        "The change log, newest first (filters: action, run_id, actor, record_key, since, until, limit)",
        "reviewer",
        None,
    ),
    ("get", "/api/v1/changes/{id}", "One change in full", "reviewer", None),
    ("post", "/api/v1/reverts", "Plan (dry_run) or execute a revert", "reviewer", Some("RevertBody")),
    ("post", "/api/v1/pause", "Pause an action or all", "admin", Some("PauseBody")),
    ("post", "/api/v1/resume", "Resume an action or all", "admin", Some("PauseBody")),
    (
        "post",
        "/api/v1/audit",
        "Judge applied changes again under a policy (TOML text, default the current one); optionally revert the refused",
        "reviewer",
        Some("AuditBody"),
    ),
    ("get", "/api/v1/report", "Per action: counts, reversal rate, earned next stage", "reviewer", None),
    ("get", "/healthz", "Liveness and database reachability", "none", None),
    ("get", "/metrics", "Prometheus metrics", "none", None),
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

pub async fn document(State(s): State<Arc<AppState>>) -> Json<Value> {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({"openapi": "3.1.0"}));
    let mut paths = Map::new();
    for (method, path, summary, role, body) in ENDPOINTS {
        let mut op = json!({
            "summary": summary,
            "description": format!("Needs a {role} token."),
            "parameters": parameters(path),
            "responses": {"200": {"description": "OK"}, "400": error_response("invalid input"), "401": error_response("no or unknown token"), "403": error_response("the token's role may not do this")},
        });
        if *role == "none" {
            op["security"] = json!([]);
        }
        if *role != "none" {
            op["responses"]["429"] = error_response("too many failed authentications from this address at once");
        }
        if let Some(b) = body {
            op["responses"]["415"] = error_response("the body is not sent as application/json");
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    for a in &s.engine.policy().actions {
        let op = json!({
            "summary": a.summary,
            "description": describe(a),
            "operationId": a.name,
            "requestBody": {"required": true, "content": {"application/json": {"schema": s.engine.call_schema(a)}}},
            "responses": {
                "200": {"description": "applied or unchanged", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallResult"}}}},
                "202": {"description": "pending_review or suggested", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallResult"}}}},
                "400": error_response("invalid input"), "401": error_response("no or unknown token"),
                "403": error_response("not permitted, or the policy is not approved"), "404": error_response("unknown action or record"),
                "409": error_response("stale record"), "422": error_response("a rule refused the value"),
                "415": error_response("the body is not sent as application/json"),
                "429": error_response("a limit or the time window"), "503": error_response("paused or breaker tripped"),
            }
        });
        paths.insert(format!("/api/v1/actions/{}", a.name), json!({"post": op}));
    }
    doc["paths"] = Value::Object(paths);
    let schemas = doc["components"]["schemas"].as_object_mut().map(std::mem::take).unwrap_or_default();
    let mut schemas: Map<String, Value> = schemas;
    schemas.insert("CallResult".into(), result_schema());
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}, "required": ["code", "message"]}),
    );
    doc["components"]["schemas"] = Value::Object(schemas);
    doc["components"]["securitySchemes"] = json!({"bearer": {"type": "http", "scheme": "bearer"}});
    doc["security"] = json!([{"bearer": []}]);
    Json(doc)
}

#[cfg(test)]
mod tests {
    /// docs/api.md has a row for every fixed endpoint the server serves.
    #[test]
    fn the_api_reference_lists_every_endpoint() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (method, route, ..) in super::ENDPOINTS {
            let row = format!("| {} | `{route}` |", method.to_uppercase());
            assert!(text.contains(&row), "docs/api.md has no row `{row}`");
        }
        assert!(text.contains("| POST | `/api/v1/actions/{name}` |"), "the call itself");
    }
}

//! The review queue: each open proposal with its diff, notes and whether it
//! went stale; approve (with edits) and reject.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use leash_core::value::Value;
use leash_engine::{ProposalQuery, ProposalView};
use serde_json::json;

use super::page::{back, failed_page, field_rows, render, FormData, St};
use super::session::Session;

pub(super) async fn queue(State(s): St, sess: Session, Query(q): Query<HashMap<String, String>>) -> Response {
    let proposals = match s.engine.proposals(&sess.who, &ProposalQuery::default()).await {
        Ok(list) => list,
        Err(e) => return failed_page(&s, "queue.html", "queue", &sess, &e, &q).await,
    };
    let mut rows = Vec::new();
    for ProposalView { proposal: p, stale } in proposals {
        let reasons: Vec<&str> = p.reasons.iter().map(|r| r.as_str()).collect();
        rows.push(json!({
            "id": p.id, "action": p.action, "table": p.table_name, "key": p.record_key.clone().unwrap_or_else(|| "(new row)".into()),
            "status": p.status.as_str(), "actor": p.actor, "created_at": p.created_at.get(..19).unwrap_or(&p.created_at).replace('T', " "),
            "confidence": p.confidence, "fields": field_rows(&p.fields), "notes": p.notes, "reason": p.reason,
            "evidence": p.evidence, "reasons": reasons, "stale": stale,
        }));
    }
    render(&s, "queue.html", "queue", Some(&sess), json!({"proposals": rows}), &q).await
}

fn edits(form: &HashMap<String, String>) -> serde_json::Map<String, Value> {
    form.iter().filter_map(|(k, v)| k.strip_prefix("set.").map(|f| (f.to_string(), Value::String(v.clone())))).collect()
}

pub(super) async fn approve(State(s): St, sess: Session, Path(id): Path<String>, Form(form): FormData) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    match s.engine.approve(&sess.who, &id, edits(&form), form.get("note").map(String::as_str)).await {
        Ok(r) if r.code.is_none() => back("/queue", "done", &format!("Approved: {}", r.message)),
        Ok(r) => back(
            "/queue",
            "error",
            &format!("Not approved ({}): {}", r.code.map(|c| c.as_str()).unwrap_or(""), r.message),
        ),
        Err(e) => back("/queue", "error", &e.answer().message),
    }
}

pub(super) async fn reject(State(s): St, sess: Session, Path(id): Path<String>, Form(form): FormData) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let note = form.get("note").cloned().unwrap_or_default();
    match s.engine.reject(&sess.who, &id, &note).await {
        Ok(p) => back("/queue", "done", &format!("Rejected the {} proposal.", p.action)),
        Err(e) => back("/queue", "error", &e.answer().message),
    }
}

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
    // A group with more than one open member is one card: its first member
    // shows the change, the others are listed.
    let mut sizes: HashMap<String, usize> = HashMap::new();
    for v in &proposals {
        if let Some(g) = &v.proposal.group {
            *sizes.entry(g.clone()).or_default() += 1;
        }
    }
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let mut cards: HashMap<String, usize> = HashMap::new();
    for view in &proposals {
        let group = view.proposal.group.clone().filter(|g| sizes.get(g).copied().unwrap_or(0) > 1);
        match group.as_ref().and_then(|g| cards.get(g)) {
            Some(&at) => {
                let member = json!({"id": view.proposal.id, "key": key_of(view), "stale": view.stale});
                if let Some(members) = rows[at]["members"].as_array_mut() {
                    members.push(member);
                }
            }
            None => {
                if let Some(g) = &group {
                    cards.insert(g.clone(), rows.len());
                }
                rows.push(card(view, group.as_deref()));
            }
        }
    }
    render(&s, "queue.html", "queue", Some(&sess), json!({"proposals": rows}), &q).await
}

fn key_of(view: &ProposalView) -> String {
    view.proposal.record_key.clone().unwrap_or_else(|| "(new row)".into())
}

/// One proposal as the queue and its own page show it.
pub(super) fn card(view: &ProposalView, group: Option<&str>) -> serde_json::Value {
    let p = &view.proposal;
    let reasons: Vec<&str> = p.reasons.iter().map(|r| r.as_str()).collect();
    let short = |t: &str| t.get(..19).unwrap_or(t).replace('T', " ");
    json!({
        "id": p.id, "action": p.action, "table": p.table_name, "key": key_of(view),
        "status": p.status.as_str(), "open": p.status.is_open(), "actor": p.actor, "created_at": short(&p.created_at),
        "confidence": p.confidence, "fields": field_rows(&p.fields), "notes": p.notes, "reason": p.reason,
        "evidence": p.evidence, "reasons": reasons, "stale": view.stale, "group": group,
        "members": if group.is_some() { vec![json!({"id": p.id, "key": key_of(view), "stale": view.stale})] } else { Vec::new() },
        "escalated_at": p.escalated_at.as_deref().map(short), "expires_at": p.expires_at.as_deref().map(short),
        "reviewer": p.reviewer, "decided_at": p.decided_at.as_deref().map(short), "review_note": p.review_note,
        "change_id": p.change_id,
    })
}

/// One proposal's own page: the link chat messages carry.
pub(super) async fn proposal(
    State(s): St,
    sess: Session,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.engine.proposal(&sess.who, &id).await {
        Ok(view) => render(&s, "proposal.html", "queue", Some(&sess), json!({"p": card(&view, None)}), &q).await,
        Err(e) => failed_page(&s, "proposal.html", "queue", &sess, &e, &q).await,
    }
}

/// Approve or reject every open member of a group, each decided alone.
pub(super) async fn decide_group(
    State(s): St,
    sess: Session,
    Path((group, verdict)): Path<(String, String)>,
    Form(form): FormData,
) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let ids = match s.engine.group_members(&sess.who, &group).await {
        Ok(ids) => ids,
        Err(e) => return back("/queue", "error", &e.answer().message),
    };
    let note = form.get("note").cloned().unwrap_or_default();
    let results = match verdict.as_str() {
        "approve" => s.engine.approve_many(&sess.who, &ids, (!note.is_empty()).then_some(note.as_str())).await,
        "reject" => s.engine.reject_many(&sess.who, &ids, &note).await,
        _ => return back("/queue", "error", "Unknown decision."),
    };
    match results {
        Ok(results) => {
            let decided = results.iter().filter(|r| r.status == "accepted" || r.status == "rejected").count();
            let left: Vec<String> = results
                .iter()
                .filter(|r| r.status != "accepted" && r.status != "rejected")
                .map(|r| format!("{} ({})", r.id, r.status))
                .collect();
            let mut msg = format!(
                "{decided} of {} {}.",
                results.len(),
                if verdict == "approve" { "approved" } else { "rejected" }
            );
            if !left.is_empty() {
                msg.push_str(&format!(" Not decided: {}.", left.join(", ")));
            }
            back("/queue", if left.is_empty() { "done" } else { "error" }, &msg)
        }
        Err(e) => back("/queue", "error", &e.answer().message),
    }
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

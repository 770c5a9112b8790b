//! The change log with its filters, one-click undo, and batch revert with a
//! dry-run preview before anything is written.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use leash_engine::{ChangeQuery, EngineError, RevertRequest, Selector, SelectorFields, REVERT_BATCH_MAX};
use serde_json::json;

use super::page::{back, failed_page, field_rows, render, FormData, St};
use super::session::Session;
use crate::AppState;

/// Change-log rows per page.
pub const LOG_PAGE_ROWS: u32 = 50;

pub(super) async fn log(State(s): St, sess: Session, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).cloned();
    // `before` pages back from the last row shown; it is an `until`.
    let fields = ["action", "run_id", "actor", "record_key", "since", "until"]
        .iter()
        .filter_map(|k| get(k).map(|v| (*k, v)))
        .chain(get("before").map(|b| ("until", b)))
        .chain(std::iter::once(("limit", LOG_PAGE_ROWS.to_string())))
        .collect::<Vec<_>>();
    let query = ChangeQuery::from_fields(fields.iter().map(|(k, v)| (*k, v.as_str())), s.engine.clock().now());
    let changes = match query {
        Ok(query) => s.engine.changes(&sess.who, &query).await,
        Err(e) => Err(e),
    };
    let changes = match changes {
        Ok(list) => list,
        Err(e) => return failed_page(&s, "log.html", "log", &sess, &e, &q).await,
    };
    let next_until = (changes.len() as u32 == LOG_PAGE_ROWS).then(|| changes.last().map(|c| c.at.clone())).flatten();
    let rows: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            json!({"id": c.id, "at": c.at.get(..19).unwrap_or(&c.at).replace('T', " "), "action": c.action, "table": c.table_name,
                   "key": c.record_key, "fields": field_rows(&c.fields), "actor": c.actor, "reason": c.reason, "approver": c.approver,
                   "run_id": c.run_id, "reverted_by": c.reverted_by, "watch": c.watch})
        })
        .collect();
    let keep: Vec<String> = ["action", "run_id", "actor", "record_key", "since"]
        .iter()
        .filter_map(|k| get(k).map(|v| format!("{k}={v}")))
        .chain(next_until.iter().map(|u| format!("before={u}")))
        .collect();
    let f: HashMap<&str, String> = ["action", "run_id", "actor", "record_key", "since", "until"]
        .iter()
        .map(|k| (*k, get(k).unwrap_or_default()))
        .collect();
    let ctx = json!({"changes": rows, "f": f, "next_until": next_until, "next_query": keep.join("&")});
    render(&s, "log.html", "log", Some(&sess), ctx, &q).await
}

pub(super) async fn undo(State(s): St, sess: Session, Path(id): Path<String>, Form(form): FormData) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let req = RevertRequest {
        selector: Selector::Ids(vec![id.clone()]),
        dry_run: false,
        force: false,
        batch_max: REVERT_BATCH_MAX,
    };
    match s.engine.revert(&sess.who, &req, |_, _| {}).await {
        Ok(r) if !r.reverted.is_empty() => back("/log", "done", &format!("Undone: change {id}.")),
        Ok(r) if !r.conflicts.is_empty() => {
            back("/log", "error", &format!("Not undone: {} changed since leash wrote it.", r.conflicts[0].field))
        }
        Ok(_) => back("/log", "error", "Nothing to undo: the change was already undone."),
        Err(e) => back("/log", "error", &e.answer().message),
    }
}

/// What a revert form names: the selector, a phrase for the page, and the
/// form fields that carry it to the confirming post.
type Chosen = (Selector, String, Vec<(String, String)>);

/// The selection from a query or form, by the engine's one rule.
fn selection(s: &AppState, q: &HashMap<String, String>) -> Result<Chosen, EngineError> {
    let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let fields = SelectorFields {
        change_ids: get("ids").map(|ids| ids.split(',').map(|i| i.trim().to_string()).collect()).unwrap_or_default(),
        run_id: get("run_id"),
        action: get("action"),
        since: get("since"),
        until: get("until"),
        actor: get("actor"),
        proposal_id: get("proposal_id"),
    };
    let keep: Vec<(String, String)> = ["ids", "run_id", "action", "since", "until", "actor", "proposal_id"]
        .iter()
        .filter_map(|k| get(k).map(|v| (k.to_string(), v)))
        .collect();
    let selector = Selector::from_fields(fields, s.engine.clock().now())?;
    let what = match &selector {
        Selector::Ids(ids) => format!("{} named change(s)", ids.len()),
        Selector::Run(run) => format!("run {run}"),
        Selector::Action { action, .. } => {
            format!("everything {action} did since {}", get("since").unwrap_or_default())
        }
        Selector::Actor(actor) => format!("everything {actor} did"),
        Selector::Proposal(p) => format!("the change approved from proposal {p}"),
    };
    Ok((selector, what, keep))
}

pub(super) async fn revert_preview(State(s): St, sess: Session, Query(q): Query<HashMap<String, String>>) -> Response {
    let (sel, what, keep) = match selection(&s, &q) {
        Ok(chosen) => chosen,
        Err(e) => return back("/log", "error", &format!("Choose what to revert: {}", e.answer().message)),
    };
    let req = RevertRequest { selector: sel, dry_run: true, force: false, batch_max: REVERT_BATCH_MAX };
    match s.engine.revert(&sess.who, &req, |_, _| {}).await {
        Ok(plan) => {
            let keep: serde_json::Map<String, serde_json::Value> =
                keep.into_iter().map(|(k, v)| (k, json!(v))).collect();
            render(&s, "revert.html", "log", Some(&sess), json!({"plan": plan, "what": what, "selector": keep}), &q)
                .await
        }
        Err(e) => back("/log", "error", &e.answer().message),
    }
}

pub(super) async fn revert_run(State(s): St, sess: Session, Form(form): FormData) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let (sel, what, _) = match selection(&s, &form) {
        Ok(chosen) => chosen,
        Err(e) => return back("/log", "error", &format!("Choose what to revert: {}", e.answer().message)),
    };
    let req =
        RevertRequest { selector: sel, dry_run: false, force: form.contains_key("force"), batch_max: REVERT_BATCH_MAX };
    match s.engine.revert(&sess.who, &req, |_, _| {}).await {
        Ok(r) => {
            let run = r.revert_run_id.clone().unwrap_or_default();
            let msg = format!(
                "Reverted {} change(s) of {what}; {} skipped. This revert is run {run}.",
                r.reverted.len(),
                r.skipped
            );
            back(&format!("/log?run_id={run}"), "done", &msg)
        }
        Err(e) => back("/log", "error", &e.answer().message),
    }
}

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
    // The next page's filters, percent-encoded by the template.
    let keep: serde_json::Map<String, serde_json::Value> = ["action", "run_id", "actor", "record_key", "since"]
        .iter()
        .filter_map(|k| get(k).map(|v| (k.to_string(), json!(v))))
        .chain(next_until.iter().map(|u| ("before".to_string(), json!(u))))
        .collect();
    let f: HashMap<&str, String> = ["action", "run_id", "actor", "record_key", "since", "until"]
        .iter()
        .map(|k| (*k, get(k).unwrap_or_default()))
        .collect();
    let revert = revert_of_filter(&s, &f);
    let ctx = json!({"changes": rows, "f": f, "next_until": next_until, "next_query": keep, "revert_query": revert});
    render(&s, "log.html", "log", Some(&sess), ctx, &q).await
}

pub(super) async fn undo(State(s): St, sess: Session, Path(id): Path<String>, Form(form): FormData) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let selector = match Selector::change(&id) {
        Ok(sel) => sel,
        Err(e) => return back("/log", "error", &e.answer().message),
    };
    let req = RevertRequest { selector, dry_run: false, force: false, batch_max: REVERT_BATCH_MAX };
    match s.engine.revert(&sess.who, &req, |_, _| {}).await {
        Ok(r) if !r.reverted.is_empty() => back("/log", "done", &format!("Undone: change {id}.")),
        Ok(r) if !r.conflicts.is_empty() => {
            back("/log", "error", &format!("Not undone: {} changed since leash wrote it.", r.conflicts[0].field))
        }
        Ok(_) => back("/log", "error", "Nothing to undo: the change was already undone."),
        Err(e) => back("/log", "error", &e.answer().message),
    }
}

/// The selection a revert page or form names, by the engine's one rule: a
/// field that is there must name something (blank is refused, never
/// dropped), so what the preview planned is what the form carries.
fn selection(s: &AppState, q: &HashMap<String, String>) -> Result<Selector, EngineError> {
    let get = |k: &str| q.get(k).cloned();
    let fields = SelectorFields {
        change_ids: get("ids").map(|ids| ids.split(',').map(str::to_string).collect()),
        run_id: get("run_id"),
        action: get("action"),
        since: get("since"),
        until: get("until"),
        actor: get("actor"),
        proposal_id: get("proposal_id"),
    };
    Selector::from_fields(fields, s.engine.clock().now())
}

pub(super) async fn revert_preview(State(s): St, sess: Session, Query(q): Query<HashMap<String, String>>) -> Response {
    let sel = match selection(&s, &q) {
        Ok(sel) => sel,
        Err(e) => return back("/log", "error", &format!("Choose what to revert: {}", e.answer().message)),
    };
    let (what, keep) = (sel.describe(), sel.fields());
    let req = RevertRequest { selector: sel, dry_run: true, force: false, batch_max: REVERT_BATCH_MAX };
    match s.engine.revert(&sess.who, &req, |_, _| {}).await {
        Ok(plan) => {
            let keep: serde_json::Map<String, serde_json::Value> =
                keep.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            render(&s, "revert.html", "log", Some(&sess), json!({"plan": plan, "what": what, "selector": keep}), &q)
                .await
        }
        Err(e) => back("/log", "error", &e.answer().message),
    }
}

pub(super) async fn revert_run(State(s): St, sess: Session, Form(mut form): FormData) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let force = form.remove("force").is_some();
    form.remove("csrf");
    let sel = match selection(&s, &form) {
        Ok(sel) => sel,
        Err(e) => return back("/log", "error", &format!("Choose what to revert: {}", e.answer().message)),
    };
    let what = sel.describe();
    let req = RevertRequest { selector: sel, dry_run: false, force, batch_max: REVERT_BATCH_MAX };
    match s.engine.revert(&sess.who, &req, |_, _| {}).await {
        Ok(r) => {
            let run = r.revert_run_id.clone().unwrap_or_default();
            let msg = format!(
                "Reverted {} change(s) of {what}; {} skipped. This revert is run {run}.",
                r.reverted.len(),
                r.skipped
            );
            back(&log_link(&[("run_id", &run)]), "done", &msg)
        }
        Err(e) => back("/log", "error", &e.answer().message),
    }
}

/// The revert selection that is exactly this filter, if there is one (a
/// run, with its actor; an action from a time; an actor): a filter the
/// selection could not express gets no "revert" link, never a wider one.
fn revert_of_filter(s: &AppState, f: &HashMap<&str, String>) -> Option<serde_json::Map<String, serde_json::Value>> {
    let given = |k: &str| f.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let fields = SelectorFields {
        change_ids: None,
        run_id: given("run_id"),
        action: given("action"),
        since: given("since"),
        until: given("until"),
        actor: given("actor"),
        proposal_id: None,
    };
    let named: Vec<&str> = f.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, _)| *k).collect();
    let selector = Selector::from_fields(fields, s.engine.clock().now()).ok()?;
    let carried = selector.fields();
    let exact = named.len() == carried.len() && named.iter().all(|k| carried.iter().any(|(c, _)| c == k));
    exact.then(|| carried.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
}

/// `/log` with these filters, each value percent-encoded.
pub(super) fn log_link(filters: &[(&str, &str)]) -> String {
    format!("/log?{}", serde_urlencoded::to_string(filters).unwrap_or_default())
}

//! The actions page: the planning sheet, today's counts, the reversal rate,
//! whether each action earned its next stage, and the pause switch.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use leash_core::report::Report;
use leash_engine::ActionSheet;
use serde_json::json;

use super::chart::{chart, CHART_DAYS};
use super::page::{back, failed_page, render, FormData, St};
use super::session::Session;

pub(super) async fn actions(State(s): St, sess: Session, Query(q): Query<HashMap<String, String>>) -> Response {
    let now = s.engine.clock().now();
    let since = leash_engine::stamp(now.checked_sub(jiff::SignedDuration::from_hours(24 * CHART_DAYS)).unwrap_or(now));
    let overview = match s.engine.actions_overview(&sess.who, since).await {
        Ok(o) => o,
        Err(e) => return failed_page(&s, "actions.html", "actions", &sess, &e, &q).await,
    };
    let today = leash_engine::stamp(now).get(..10).unwrap_or_default().to_string();
    let rows: Vec<serde_json::Value> = overview.sheet.iter().map(|a| row(a, &overview.report, &today)).collect();
    let ctx = json!({"actions": rows, "can_pause": overview.may_pause});
    render(&s, "actions.html", "actions", Some(&sess), ctx, &q).await
}

/// One action's card: its sheet row, today's counts and the chart.
fn row(a: &ActionSheet, report: &Report, today: &str) -> serde_json::Value {
    let r = report.actions.iter().find(|x| x.name == a.name);
    let days = r.map(|r| r.days.clone()).unwrap_or_default();
    let t = days.iter().find(|d| d.date == today).cloned().unwrap_or_default();
    let limits: Vec<String> =
        [a.per_run.map(|n| format!("{n} per run")), a.per_hour.map(|n| format!("{n} per hour")), a.window.clone()]
            .into_iter()
            .flatten()
            .collect();
    json!({
        "name": a.name, "summary": a.summary, "mode": a.mode, "risk": a.risk, "fields": a.fields, "owner": a.owner,
        "exception_approver": a.exception_approver, "rollback_minutes": a.rollback_minutes, "limits": limits.join(", "),
        "approved": a.approved, "approved_by": a.approved_by, "approved_at": a.approved_at, "paused": a.paused,
        "today": {"applied": t.applied, "proposed": t.proposed, "rejected": t.rejected, "reverted": t.reverted},
        "reversal_rate": r.map(|r| format!("{:.1}%", r.reversal_rate * 100.0)).unwrap_or_default(),
        "earned": r.is_some_and(|r| r.earned_next_stage), "why": r.map(|r| r.why.clone()).unwrap_or_default(),
        "chart": chart(&days),
    })
}

/// One action's policy on one page, printable without the chrome.
pub(super) async fn policy(
    State(s): St,
    sess: Session,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.engine.explain_for(&sess.who, &name).await {
        Ok(page) => render(&s, "policy.html", "actions", Some(&sess), json!({"p": page}), &q).await,
        Err(e) => {
            let mut r = failed_page(&s, "policy.html", "actions", &sess, &e, &q).await;
            if matches!(e, leash_engine::EngineError::NotFound(_)) {
                *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
            }
            r
        }
    }
}

pub(super) async fn switch(
    State(s): St,
    sess: Session,
    Path((name, switch)): Path<(String, String)>,
    Form(form): FormData,
) -> Response {
    if let Some(r) = sess.forged(&form) {
        return r;
    }
    let reason = form.get("reason").cloned().unwrap_or_default();
    let result = match switch.as_str() {
        "pause" => s.engine.pause(&sess.who, Some(&name), &reason).await.map(|_| format!("Paused {name}.")),
        "resume" => s.engine.resume(&sess.who, Some(&name), &reason).await.map(|_| format!("Resumed {name}.")),
        _ => return back("/actions", "error", "Unknown switch."),
    };
    match result {
        Ok(msg) => back("/actions", "done", &msg),
        Err(e) => back("/actions", "error", &e.answer().message),
    }
}

//! The web UI for reviewers and owners: server-rendered pages (minijinja,
//! templates embedded in the binary), a little inline JavaScript for keyboard
//! shortcuts, no build step.
//!
//! Sign-in takes a reviewer or admin token and keeps it in an HttpOnly,
//! SameSite=Strict cookie, so every request is authenticated against the
//! database like an API call and any gateway process can serve it. Every form
//! carries a CSRF value derived from that token, which a foreign page cannot
//! read or compute.

mod diff;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use leash_core::journal::ProposalStatus;
use leash_core::value::{display, same_value, Value};
use leash_engine::{parse_time, Caller, RevertRequest, Role, Selector, REVERT_BATCH_MAX};
use leash_store::{ChangeFilter, ProposalFilter};
use minijinja::Environment;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppState;

type St = State<Arc<AppState>>;
type FormData = Form<HashMap<String, String>>;

pub const SESSION_COOKIE: &str = "leash_session";
pub const LOG_PAGE_ROWS: u32 = 50;
pub const CHART_DAYS: i64 = 14;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/queue", get(queue))
        .route("/queue/{id}/approve", post(approve))
        .route("/queue/{id}/reject", post(reject))
        .route("/log", get(log))
        .route("/log/{id}/undo", post(undo))
        .route("/revert", get(revert_preview).post(revert_run))
        .route("/actions", get(actions))
        .route("/actions/{name}/{switch}", post(switch))
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("queue.html", include_str!("templates/queue.html")),
            ("log.html", include_str!("templates/log.html")),
            ("revert.html", include_str!("templates/revert.html")),
            ("actions.html", include_str!("templates/actions.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

/// The signed-in person, the page's CSRF value, and the state for the banner.
struct Session {
    who: Caller,
    csrf: String,
}

fn csrf_for(token: &str) -> String {
    hex::encode(&Sha256::digest(format!("leash-csrf:{token}").as_bytes())[..16])
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').map(str::trim).find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}="))).map(str::to_string)
}

async fn session(s: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || Redirect::to("/login").into_response();
    let token = cookie_token(headers).ok_or_else(to_login)?;
    let who = s.engine.caller_for_token(&token).await.ok().flatten().ok_or_else(to_login)?;
    if who.role < Role::Reviewer {
        return Err(to_login());
    }
    Ok(Session { csrf: csrf_for(&token), who })
}

/// For a form post: the session, and the CSRF value must match.
async fn form_session(s: &AppState, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<Session, Response> {
    let session = session(s, headers).await?;
    if form.get("csrf") != Some(&session.csrf) {
        return Err((
            StatusCode::FORBIDDEN,
            Html("<p>This form is missing its CSRF value or it is stale. Go back, reload the page and try again.</p>"),
        )
            .into_response());
    }
    Ok(session)
}

async fn render(
    s: &AppState,
    name: &str,
    page: &str,
    session: Option<&Session>,
    mut ctx: serde_json::Value,
    q: &HashMap<String, String>,
) -> Response {
    if let Some(sess) = session {
        ctx["who"] = json!(sess.who.name);
        ctx["role"] = json!(sess.who.role.as_str());
        ctx["csrf"] = json!(sess.csrf);
        ctx["breakers"] = json!(breakers(s).await);
    }
    ctx["page"] = json!(page);
    if let Some(done) = q.get("done") {
        ctx["flash"] = json!(done);
        ctx["flash_kind"] = json!("ok");
    }
    if let Some(err) = q.get("error") {
        ctx["flash"] = json!(err);
        ctx["flash_kind"] = json!("error");
    }
    let result =
        templates().get_template(name).and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&ctx))));
    match result {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<p>This page failed to render; the server log has the cause.</p>"),
            )
                .into_response()
        }
    }
}

/// Tripped breakers, with the changes they name, for the banner on every page.
async fn breakers(s: &AppState) -> Vec<serde_json::Value> {
    let pauses = s.engine.store().pauses().await.unwrap_or_default();
    pauses
        .into_iter()
        .filter(|p| p.kind == "breaker")
        .map(|p| {
            let ids: Vec<String> = p
                .reason
                .split("leash revert ")
                .nth(1)
                .and_then(|rest| rest.split('`').next())
                .map(|ids| ids.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            json!({"scope": p.scope, "reason": p.reason.split(';').next().unwrap_or(&p.reason), "ids": ids.join(","), "count": ids.len()})
        })
        .collect()
}

fn back(path: &str, key: &str, message: &str) -> Response {
    let encoded: String = message
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~ ".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect::<String>()
        .replace(' ', "+");
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}{key}={encoded}")).into_response()
}

async fn login_page(State(s): St, Query(q): Query<HashMap<String, String>>) -> Response {
    render(&s, "login.html", "login", None, json!({}), &q).await
}

async fn login(State(s): St, Form(form): FormData) -> Response {
    let token = form.get("token").map(|t| t.trim().to_string()).unwrap_or_default();
    match s.engine.caller_for_token(&token).await {
        Ok(Some(who)) if who.role >= Role::Reviewer => {
            let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/queue")).into_response()
        }
        Ok(Some(_)) => back("/login", "error", "Agent tokens cannot sign in; use a reviewer or admin token."),
        _ => back("/login", "error", "That token is unknown or revoked."),
    }
}

async fn logout(State(s): St, headers: HeaderMap, Form(form): FormData) -> Response {
    if let Err(r) = form_session(&s, &headers, &form).await {
        return r;
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

fn field_rows(fields: &[leash_core::call::FieldChange]) -> Vec<serde_json::Value> {
    fields
        .iter()
        .map(|f| {
            let (old_html, new_html) = diff::html(&display(&f.old), &display(&f.new));
            json!({"field": f.field, "old_html": old_html, "new_html": new_html, "new": display(&f.new)})
        })
        .collect()
}

async fn queue(State(s): St, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let sess = match session(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let open =
        ProposalFilter { statuses: vec![ProposalStatus::Pending, ProposalStatus::Suggested], ..Default::default() };
    let proposals = s.engine.store().proposals(&open).await.unwrap_or_default();
    let mut rows = Vec::new();
    for p in proposals {
        // Compare with the record as it is now: a moved record cannot be approved.
        let current = match &p.record_key {
            Some(key) => s.engine.record_now(&p.action, key).await.ok().flatten(),
            None => None,
        };
        let stale = current.as_ref().and_then(|rec| {
            p.fields.iter().find_map(|f| {
                let now = rec.get(&f.field).cloned().unwrap_or(Value::Null);
                (!same_value(&now, &f.old)).then(|| format!("{} is now `{}`", f.field, display(&now)))
            })
        });
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

async fn approve(State(s): St, headers: HeaderMap, Path(id): Path<String>, Form(form): FormData) -> Response {
    let sess = match form_session(&s, &headers, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match s.engine.approve(&sess.who, &id, edits(&form), form.get("note").map(String::as_str)).await {
        Ok(r) if r.code.is_none() => back("/queue", "done", &format!("Approved: {}", r.message)),
        Ok(r) => back(
            "/queue",
            "error",
            &format!("Not approved ({}): {}", r.code.map(|c| c.as_str()).unwrap_or(""), r.message),
        ),
        Err(e) => back("/queue", "error", &e.to_string()),
    }
}

async fn reject(State(s): St, headers: HeaderMap, Path(id): Path<String>, Form(form): FormData) -> Response {
    let sess = match form_session(&s, &headers, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let note = form.get("note").cloned().unwrap_or_default();
    match s.engine.reject(&sess.who, &id, &note).await {
        Ok(p) => back("/queue", "done", &format!("Rejected the {} proposal.", p.action)),
        Err(e) => back("/queue", "error", &e.to_string()),
    }
}

async fn log(State(s): St, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let sess = match session(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let now = s.engine.clock().now();
    let time = |k: &str| get(k).and_then(|t| parse_time(&t, now).ok());
    let filter = ChangeFilter {
        action: get("action"),
        run_id: get("run_id"),
        actor: get("actor"),
        record_key: get("record_key"),
        since: time("since"),
        until: get("before").or_else(|| time("until")),
        newest: Some(LOG_PAGE_ROWS),
        ..ChangeFilter::default()
    };
    let changes = s.engine.store().changes(&filter).await.unwrap_or_default();
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

async fn undo(State(s): St, headers: HeaderMap, Path(id): Path<String>, Form(form): FormData) -> Response {
    let sess = match form_session(&s, &headers, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
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
        Err(e) => back("/log", "error", &e.to_string()),
    }
}

/// What a revert form names: the selector, a phrase for the page, and the
/// form fields that carry it to the confirming post.
type Chosen = (Selector, String, Vec<(String, String)>);

/// The selector from a query or form: ids, run_id, or action with since/until.
fn selector(s: &AppState, q: &HashMap<String, String>) -> Option<Chosen> {
    let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let now = s.engine.clock().now();
    if let Some(ids) = get("ids") {
        let list: Vec<String> = ids.split(',').map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect();
        let what = format!("{} named change(s)", list.len());
        return Some((Selector::Ids(list), what, vec![("ids".into(), ids)]));
    }
    if let Some(run) = get("run_id") {
        return Some((Selector::Run(run.clone()), format!("run {run}"), vec![("run_id".into(), run)]));
    }
    let (action, since) = (get("action")?, get("since")?);
    let since_t = parse_time(&since, now).ok()?;
    let until = get("until");
    let until_t = until.as_deref().and_then(|u| parse_time(u, now).ok());
    let mut keep = vec![("action".to_string(), action.clone()), ("since".to_string(), since.clone())];
    keep.extend(until.map(|u| ("until".to_string(), u)));
    Some((
        Selector::Action { action: action.clone(), since: since_t, until: until_t },
        format!("everything {action} did since {since}"),
        keep,
    ))
}

async fn revert_preview(State(s): St, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let sess = match session(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some((sel, what, keep)) = selector(&s, &q) else {
        return back("/log", "error", "Choose what to revert: a run, or an action and a time it started from.");
    };
    let req = RevertRequest { selector: sel, dry_run: true, force: false, batch_max: REVERT_BATCH_MAX };
    match s.engine.revert(&sess.who, &req, |_, _| {}).await {
        Ok(plan) => {
            let keep: serde_json::Map<String, serde_json::Value> =
                keep.into_iter().map(|(k, v)| (k, json!(v))).collect();
            render(&s, "revert.html", "log", Some(&sess), json!({"plan": plan, "what": what, "selector": keep}), &q)
                .await
        }
        Err(e) => back("/log", "error", &e.to_string()),
    }
}

async fn revert_run(State(s): St, headers: HeaderMap, Form(form): FormData) -> Response {
    let sess = match form_session(&s, &headers, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some((sel, what, _)) = selector(&s, &form) else {
        return back("/log", "error", "Choose what to revert.");
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
        Err(e) => back("/log", "error", &e.to_string()),
    }
}

/// Bars per day for applied, proposed, rejected, reverted, as inline SVG.
fn chart(days: &[leash_core::report::Day]) -> String {
    let (w, h, bar) = (14 * 4 * 7 + 20, 80, 6);
    let max =
        days.iter().map(|d| d.applied.max(d.proposed).max(d.rejected).max(d.reverted)).max().unwrap_or(0).max(1) as f64;
    let mut out = format!("<svg role=\"img\" aria-label=\"activity over the last {CHART_DAYS} days\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    for (i, d) in days.iter().enumerate() {
        for (j, (v, color)) in
            [(d.applied, "#1f883d"), (d.proposed, "#0969da"), (d.rejected, "#bc4c00"), (d.reverted, "#cf222e")]
                .iter()
                .enumerate()
        {
            let bh = ((*v as f64 / max) * (h as f64 - 14.0)).round();
            let x = i * 4 * (bar + 1) + j * (bar + 1);
            out.push_str(&format!(
                "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{bh}\" fill=\"{color}\"><title>{}: {v}</title></rect>",
                h as f64 - 12.0 - bh,
                d.date
            ));
        }
    }
    out.push_str("</svg>");
    out
}

async fn actions(State(s): St, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let sess = match session(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = s.engine.clock().now();
    let since = leash_engine::stamp(now.checked_sub(jiff::SignedDuration::from_hours(24 * CHART_DAYS)).unwrap_or(now));
    let today = leash_engine::stamp(now).get(..10).unwrap_or_default().to_string();
    let sheet = s.engine.actions_sheet().await.unwrap_or_default();
    let report = s.engine.report(Some(since), None).await.ok();
    let rows: Vec<serde_json::Value> = sheet
        .iter()
        .map(|a| {
            let r = report.as_ref().and_then(|r| r.actions.iter().find(|x| x.name == a.name));
            let days = r.map(|r| r.days.clone()).unwrap_or_default();
            let t = days.iter().find(|d| d.date == today).cloned().unwrap_or_default();
            let limits: Vec<String> = [a.per_run.map(|n| format!("{n} per run")), a.per_hour.map(|n| format!("{n} per hour")), a.window.clone()]
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
        })
        .collect();
    let ctx = json!({"actions": rows, "can_pause": sess.who.role == Role::Admin});
    render(&s, "actions.html", "actions", Some(&sess), ctx, &q).await
}

async fn switch(
    State(s): St,
    headers: HeaderMap,
    Path((name, switch)): Path<(String, String)>,
    Form(form): FormData,
) -> Response {
    let sess = match form_session(&s, &headers, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let reason = form.get("reason").cloned().unwrap_or_default();
    let result = match switch.as_str() {
        "pause" => s.engine.pause(&sess.who, Some(&name), &reason).await.map(|_| format!("Paused {name}.")),
        "resume" => s.engine.resume(&sess.who, Some(&name), &reason).await.map(|_| format!("Resumed {name}.")),
        _ => return back("/actions", "error", "Unknown switch."),
    };
    match result {
        Ok(msg) => back("/actions", "done", &msg),
        Err(e) => back("/actions", "error", &e.to_string()),
    }
}

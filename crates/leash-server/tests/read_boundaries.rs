//! The second hostile-caller probe, over HTTP, MCP (streamable HTTP) and
//! the web UI: an action reads only what it names, reads obey the approval
//! gate, no blank selection means "everything", a repeated key in an MCP
//! call is refused, and every link percent-encodes what it carries.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/inproc.rs"]
mod inproc;

use std::sync::Arc;

use axum::Router;
use inproc::{form_value, send, Req};
use leash_core::policy::parse_policy;
use leash_engine::{Caller, Engine, Role};
use leash_testkit::secrets::{self, leaked};
use leash_testkit::{fresh_database, Kind, TestDb};
use serde_json::{json, Value};

struct Shop {
    _db: TestDb,
    engine: Arc<Engine>,
    app: Router,
    agent: String,
    reviewer: String,
}

async fn shop(approve: bool) -> Shop {
    let db = fresh_database(Kind::Sqlite).await.unwrap();
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let mut statements = secrets::schema(Kind::Sqlite);
    statements.extend(secrets::rows());
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    store.execute_script(&statements).await.unwrap();
    let engine = Arc::new(Engine::open(parse_policy("shop.toml", secrets::POLICY).unwrap(), store).await.unwrap());
    let ops = Caller::local("ops");
    if approve {
        engine.approve_policy(&ops, None).await.unwrap();
    }
    let agent = engine.create_token(&ops, "assistant", Role::Agent, Vec::new()).await.unwrap();
    let reviewer = engine.create_token(&ops, "lead", Role::Reviewer, Vec::new()).await.unwrap();
    let app = leash_server::router(engine.clone());
    Shop { _db: db, engine, app, agent, reviewer }
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"probe","version":"1"}}}"#;

fn mcp(body: &str, token: &str) -> Req {
    Req::post("/mcp", body).header("accept", "application/json, text/event-stream").bearer(token)
}

/// An initialized MCP session of this token.
async fn session(app: &Router, token: &str) -> String {
    let r = send(app, mcp(INIT, token)).await;
    let id = r.headers["mcp-session-id"].to_str().unwrap().to_string();
    let ready = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    send(app, mcp(ready, token).header("mcp-session-id", &id)).await;
    id
}

async fn tool(app: &Router, token: &str, id: &str, name: &str, arguments: &Value) -> String {
    let body =
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
    send(app, mcp(&body.to_string(), token).header("mcp-session-id", id)).await.body
}

#[tokio::test]
async fn no_http_or_mcp_answer_carries_a_column_the_action_may_not_read() {
    let s = shop(true).await;
    let id = session(&s.app, &s.agent).await;
    for step in secrets::walk() {
        let mut texts = Vec::new();
        let path = format!("/api/v1/actions/{}", step.action);
        texts.push(send(&s.app, Req::post(&path, &step.body.to_string()).bearer(&s.agent)).await.body);
        let key = step.body["key"].as_str().unwrap_or("1");
        let read = format!("/api/v1/actions/{}/records/{key}", step.action);
        texts.push(send(&s.app, Req::get(&read).bearer(&s.agent)).await.body);
        // The same call again over MCP (an idempotent retry answers as the first).
        texts.push(tool(&s.app, &s.agent, &id, step.action, &step.body).await);
        let args = json!({"action": step.action, "key": key});
        texts.push(tool(&s.app, &s.agent, &id, "read_record", &args).await);
        for text in texts {
            assert!(!text.is_empty(), "{} {}: an answer", step.action, step.body);
            assert_eq!(leaked(&text), None, "{} {}: {text}", step.action, step.body);
        }
    }
    // The reviewer's views (queue, proposals, log) carry the same scrubbed notes.
    for path in ["/api/v1/proposals?status=all", "/api/v1/changes"] {
        let text = send(&s.app, Req::get(path).bearer(&s.reviewer)).await.body;
        assert_eq!(leaked(&text), None, "{path}: {text}");
    }
    // `expect` on a secret column: refused, right guess or wrong.
    let [ssn, _] = secrets::secrets_of(3);
    for guess in ["000", ssn.as_str()] {
        let body = json!({"key": "3", "set": {"status": "solved"}, "reason": "r", "expect": {"ssn": guess}});
        let r = send(&s.app, Req::post("/api/v1/actions/fix_contact", &body.to_string()).bearer(&s.agent)).await;
        assert_eq!((r.status, r.code()), (422, "field_not_allowed".to_string()), "{}", r.body);
        let text = tool(&s.app, &s.agent, &id, "fix_contact", &body).await;
        assert!(text.contains("field_not_allowed") && text.contains("\"isError\":true"), "{text}");
    }
}

#[tokio::test]
async fn reads_obey_the_approval_gate_over_http_and_mcp() {
    let s = shop(false).await;
    let r = send(&s.app, Req::get("/api/v1/actions/fix_contact/records/1").bearer(&s.agent)).await;
    assert_eq!((r.status, r.code()), (403, "policy_unapproved".to_string()), "{}", r.body);
    let id = session(&s.app, &s.agent).await;
    let text = tool(&s.app, &s.agent, &id, "read_record", &json!({"action": "fix_contact", "key": "1"})).await;
    assert!(text.contains("policy_unapproved") && !text.contains("ann lee"), "{text}");
    s.engine.approve_policy(&Caller::local("ops"), None).await.unwrap();
    let r = send(&s.app, Req::get("/api/v1/actions/fix_contact/records/1").bearer(&s.agent)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["record"], json!({"id": 1, "name": "ann lee"}));
}

/// Before: `{"change_ids": [" "]}` planned every change in the journal, and
/// a filter with a blank value read as no filter.
#[tokio::test]
async fn blank_selections_are_refused_on_the_api() {
    let s = shop(true).await;
    let body = json!({"key": "1", "set": {"status": "solved"}, "reason": "r", "confidence": 0.99});
    let r = send(&s.app, Req::post("/api/v1/actions/fix_contact", &body.to_string()).bearer(&s.agent)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for body in [
        json!({"change_ids": [" "], "dry_run": true}),
        json!({"change_ids": [""], "dry_run": true}),
        json!({"change_ids": [], "dry_run": true}),
        json!({"run_id": "", "dry_run": true}),
        json!({"actor": " ", "dry_run": true}),
        json!({"action": "", "since": "1h", "dry_run": true}),
        json!({"proposal_id": "\t", "dry_run": true}),
    ] {
        let r = send(&s.app, Req::post("/api/v1/reverts", &body.to_string()).bearer(&s.reviewer)).await;
        assert_eq!((r.status, r.code()), (400, "invalid_input".to_string()), "{body}: {}", r.body);
    }
    for query in ["run_id=", "actor=%20", "action=", "record_key=%09"] {
        let r = send(&s.app, Req::get(&format!("/api/v1/changes?{query}")).bearer(&s.reviewer)).await;
        assert_eq!((r.status, r.code()), (400, "invalid_input".to_string()), "{query}: {}", r.body);
    }
    let all = leash_engine::ChangeQuery { limit: 10, ..Default::default() };
    let changes = s.engine.changes(&Caller::local("ops"), &all).await.unwrap();
    assert!(!changes.is_empty() && changes.iter().all(|c| c.reverted_by.is_none()), "nothing was reverted");
}

/// An agent-chosen run id travels in every link and form percent-encoded:
/// before, `x&ids=,` in a run id became a second field, and the preview
/// planned every open change.
#[tokio::test]
async fn ui_links_and_forms_carry_exactly_what_they_name() {
    let s = shop(true).await;
    let hostile = "x&ids=,&actor=nobody";
    for (key, run) in [("1", hostile), ("5", "other")] {
        let body = json!({"key": key, "set": {"status": "solved"}, "reason": "r", "confidence": 0.99, "run_id": run});
        let r = send(&s.app, Req::post("/api/v1/actions/fix_contact", &body.to_string()).bearer(&s.agent)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let cookie = sign_in(&s).await;
    let log = send(&s.app, Req::get("/log").cookie(&cookie)).await;
    let encoded = "run_id=x%26ids%3D%2C%26actor%3Dnobody";
    assert!(log.body.contains(encoded), "the run link is percent-encoded: {}", log.body);
    assert!(!log.body.contains("run_id=x&ids="), "never raw");
    let preview = send(&s.app, Req::get(&format!("/revert?{encoded}&actor=assistant")).cookie(&cookie)).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("<strong>1</strong> change(s) would be undone"), "one change: {}", preview.body);
    assert_eq!(form_value(&preview.body, "run_id").as_deref(), Some("x&amp;ids=,&amp;actor=nobody"));
    assert_eq!(form_value(&preview.body, "actor").as_deref(), Some("assistant"));
    assert!(form_value(&preview.body, "ids").is_none(), "the form carries only the planned selection");
    // The log's "revert everything shown" link is the filter exactly, or absent.
    let narrow =
        send(&s.app, Req::get("/log?action=fix_contact&since=2000-01-01&actor=assistant").cookie(&cookie)).await;
    assert!(!narrow.body.contains("Preview a revert of everything"), "no selection is exactly that filter");
    let run = send(&s.app, Req::get("/log?run_id=other&actor=assistant").cookie(&cookie)).await;
    assert!(run.body.contains("/revert?actor=assistant&amp;run_id=other"), "{}", run.body);
    // A blank or comma-only id list is refused, never planned.
    for query in ["ids=,", "ids=%20", "run_id=", "actor="] {
        let r = send(&s.app, Req::get(&format!("/revert?{query}")).cookie(&cookie)).await;
        assert_eq!(r.status, 303, "{query}");
        assert!(r.location().starts_with("/log?error="), "{query}: {}", r.location());
    }
}

async fn sign_in(s: &Shop) -> String {
    let page = send(&s.app, Req::get("/login")).await;
    let login_cookie = page.set_cookie("leash_login").unwrap();
    let csrf = form_value(&page.body, "csrf").unwrap();
    let form = format!("token={}&csrf={csrf}", s.reviewer);
    let r = send(&s.app, Req::form("/login", &form).cookie(&login_cookie)).await;
    r.set_cookie("leash_session").unwrap()
}

/// Before: rmcp kept the last of two `set` or `key` entries, so the call
/// wrote what the first copy did not say. Refused at any level, over HTTP.
#[tokio::test]
async fn an_mcp_call_repeating_a_key_at_any_level_is_refused() {
    let s = shop(true).await;
    let id = session(&s.app, &s.agent).await;
    let args = [
        r#"{"key":"1","set":{"status":"open"},"set":{"status":"solved"},"reason":"r","confidence":0.99}"#,
        r#"{"key":"2","key":"1","set":{"status":"solved"},"reason":"r","confidence":0.99}"#,
        r#"{"key":"1","set":{"status":"solved"},"reason":"r","reason":"s","confidence":0.99}"#,
    ];
    for a in args {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"fix_contact","arguments":{a}}}}}"#
        );
        let r = send(&s.app, mcp(&body, &s.agent).header("mcp-session-id", &id)).await;
        assert!(r.body.contains("invalid_input") && r.body.contains("appears twice"), "{a}: {}", r.body);
    }
    let all = leash_engine::ChangeQuery { limit: 10, ..Default::default() };
    assert!(s.engine.changes(&Caller::local("ops"), &all).await.unwrap().is_empty(), "nothing written");
}

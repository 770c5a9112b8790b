//! A call body with a field twice in `set` over real HTTP is refused
//! `invalid_input` naming the field, and nothing is written — the last
//! value must never silently win. Parsing is the same on every store, so
//! this runs on SQLite, on the testkit's shop.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use leash_core::policy::parse_policy;
use leash_engine::{Caller, Engine, Role};
use leash_testkit::{shop, Kind};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_twice_in_set_is_refused_over_http() {
    let shop = shop::build(Kind::Sqlite).await.unwrap();
    let store = shop.store.clone();
    let engine = Engine::open(parse_policy("leash.toml", shop::POLICY).unwrap(), store.clone()).await.unwrap();
    let ops = Caller::local("ops");
    engine.approve_policy(&ops, None).await.unwrap();
    let token = engine.create_token(&ops, "assistant", Role::Agent, Vec::new()).await.unwrap();
    let lead = engine.create_token(&ops, "lead", Role::Reviewer, Vec::new()).await.unwrap();
    let engine = Arc::new(engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(leash_server::serve_on(engine.clone(), listener, async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let send = |path: String, who: &str, body: &'static str| {
        http.post(format!("{base}{path}")).bearer_auth(who).header("content-type", "application/json").body(body).send()
    };
    let post = |body: &'static str| send("/api/v1/actions/set_status".into(), &token, body);
    let r = post(r#"{"key": "1", "set": {"status": "solved", "status": "open"}}"#).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_input", "{body}");
    assert!(body["message"].as_str().unwrap_or("").contains("field `status` appears twice in set"), "{body}");
    assert!(store.changes(&Default::default()).await.unwrap().is_empty(), "nothing written");

    let r = post(r#"{"key": "1", "set": {"status": "solved"}}"#).await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);

    // A reviewer's edit on approve reads `set` the same way.
    let r = send("/api/v1/actions/review_status".into(), &token, r#"{"key": "1", "set": {"status": "open"}}"#);
    let proposed: Value = r.await.unwrap().json().await.unwrap();
    let id = proposed["proposal_id"].as_str().expect("a proposal").to_string();
    let approve = format!("/api/v1/proposals/{id}/approve");
    let r = send(approve, &lead, r#"{"set": {"status": "open", "status": "solved"}}"#).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_input", "{body}");
    assert!(body["message"].as_str().unwrap_or("").contains("field `status` appears twice in set"), "{body}");
    assert_eq!(store.changes(&Default::default()).await.unwrap().len(), 1, "only the single-valued call landed");
    let _ = stop.send(());
    let _ = server.await;
}

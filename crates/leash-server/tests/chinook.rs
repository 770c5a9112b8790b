//! A Chinook-shaped schema over HTTP and MCP: a price rule on the proposed
//! value, a genre from the database, a composite key named as an object and
//! read back by its columns, and an e-mail refused with its standard form.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/inproc.rs"]
mod inproc;

use std::sync::Arc;

use inproc::{send, Req};
use leash_core::policy::parse_policy;
use leash_engine::{Caller, Engine, Role};
use leash_testkit::{chinook, fresh_database, Kind};
use serde_json::{json, Value};

const POLICY: &str = r#"
[[actions]]
name = "set_track_price"
summary = "Set a track's price; more than 10 % up goes to a person."
table = "Track"
key = "TrackId"
mode = "direct"
review_if = "new.UnitPrice > record.UnitPrice * 1.1"
  [actions.fields.UnitPrice]
  range = [0, 100]
  [actions.fields.GenreId]
  exists_in = "Genre.GenreId"

[[actions]]
name = "move_in_playlist"
summary = "Set a track's position in a playlist."
table = "PlaylistTrack"
key = ["PlaylistId", "TrackId"]
mode = "direct"
read = ["PlaylistId", "TrackId", "Position"]
  [actions.fields.Position]
  range = [1, 1000]

[[actions]]
name = "fix_email"
summary = "Write a customer's e-mail in standard form."
table = "Customer"
key = "CustomerId"
mode = "direct"
  [actions.fields.Email]
  change = "mechanical"
  format = "email"
"#;

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

#[tokio::test]
async fn a_team_policy_works_over_http_and_mcp() {
    let db = fresh_database(Kind::Sqlite).await.unwrap();
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let statements = chinook::statements(Kind::Sqlite);
    store.execute_script(&statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let engine = Arc::new(Engine::open(parse_policy("chinook.toml", POLICY).unwrap(), store).await.unwrap());
    let ops = Caller::local("ops");
    engine.approve_policy(&ops, None).await.unwrap();
    let agent = engine.create_token(&ops, "assistant", Role::Agent, Vec::new()).await.unwrap();
    let app = leash_server::router(engine.clone());
    let post = |path: &str, body: Value| Req::post(path, &body.to_string()).bearer(&agent);

    let r = send(&app, post("/api/v1/actions/set_track_price", json!({"key": 1, "set": {"UnitPrice": "1.05"}}))).await;
    assert_eq!((r.status, &json_of(&r.body)["outcome"]), (200, &json!("applied")), "{}", r.body);
    let r = send(&app, post("/api/v1/actions/set_track_price", json!({"key": 2, "set": {"UnitPrice": "1.50"}}))).await;
    assert_eq!((r.status, &json_of(&r.body)["reasons"][0]), (202, &json!("review_if")), "{}", r.body);
    let r = send(&app, post("/api/v1/actions/set_track_price", json!({"key": 3, "set": {"GenreId": 77}}))).await;
    assert_eq!((r.status, r.code()), (422, "value_not_allowed".to_string()), "{}", r.body);

    let key = json!({"PlaylistId": 1, "TrackId": 4});
    let r = send(&app, post("/api/v1/actions/move_in_playlist", json!({"key": key, "set": {"Position": 40}}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        send(&app, Req::get("/api/v1/actions/move_in_playlist/records/PlaylistId=1,TrackId=4").bearer(&agent)).await;
    assert_eq!(json_of(&r.body)["record"]["Position"], json!(40), "{}", r.body);

    let r =
        send(&app, post("/api/v1/actions/fix_email", json!({"key": 4, "set": {"Email": " michelleb@AOL.com "}}))).await;
    assert_eq!((r.status, r.code()), (422, "not_canonical".to_string()), "{}", r.body);
    assert!(r.body.contains("send `michelleb@aol.com`"), "{}", r.body);

    // MCP: the tool's schema names both key columns, and a call by them lands.
    let mcp =
        |body: &str| Req::post("/mcp", body).header("accept", "application/json, text/event-stream").bearer(&agent);
    let r = send(&app, mcp(INIT)).await;
    let id = r.headers["mcp-session-id"].to_str().unwrap().to_string();
    send(&app, mcp(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).header("mcp-session-id", &id)).await;
    let list = send(&app, mcp(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#).header("mcp-session-id", &id)).await;
    assert!(list.body.contains(r#""required":["PlaylistId","TrackId"]"#), "{}", list.body);
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "move_in_playlist",
        "arguments": {"key": {"PlaylistId": 1, "TrackId": 5}, "set": {"Position": 50}}}});
    let r = send(&app, mcp(&call.to_string()).header("mcp-session-id", &id)).await;
    assert!(r.body.contains(r#"\"outcome\":\"applied\""#) || r.body.contains(r#""outcome":"applied""#), "{}", r.body);
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

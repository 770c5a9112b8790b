//! `leash mcp` over stdio and `/mcp` on `leash serve`, driven by real MCP
//! clients: rmcp's client in Rust, and Python's `mcp` package.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::leash;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rmcp_client::model::CallToolRequestParams;
use rmcp_client::service::{RoleClient, RunningService};
use rmcp_client::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp_client::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp_client::ServiceExt;
use serde_json::{json, Value};

/// A demo database with an approved policy and an agent token for two actions.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    assert!(leash(dir.path(), &["init", "--demo"]).status.success());
    assert!(leash(dir.path(), &["approve-policy", "--by", "ops"]).status.success());
    let out = leash(
        dir.path(),
        &["token", "create", "assistant", "--role", "agent", "--actions", "set_ticket_status,adjust_invoice", "--json"],
    );
    let token = serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_string();
    (dir, token)
}

fn args(v: Value) -> CallToolRequestParams {
    let name = v["name"].as_str().unwrap().to_string();
    CallToolRequestParams::new(name).with_arguments(v["arguments"].as_object().cloned().unwrap())
}

/// Three calls, one per outcome (applied, pending_review, refused), and a read.
async fn exercise(client: &RunningService<RoleClient, ()>) {
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        ["adjust_invoice", "proposal_status", "read_record", "set_ticket_status"],
        "exactly the token's actions"
    );
    let status = tools.iter().find(|t| t.name == "set_ticket_status").unwrap();
    let schema = Value::Object((*status.input_schema).clone());
    assert_eq!(
        schema["properties"]["set"]["properties"]["status"]["enum"],
        json!(["open", "needs_reply", "pending", "solved"])
    );
    assert_eq!(schema["additionalProperties"], false);
    assert!(status.output_schema.is_some());
    assert_eq!(status.annotations.as_ref().and_then(|a| a.destructive_hint), Some(true));
    let invoice = tools.iter().find(|t| t.name == "adjust_invoice").unwrap();
    let schema = Value::Object((*invoice.input_schema).clone());
    assert!(schema["required"].as_array().unwrap().contains(&json!("reason")), "{schema}");
    assert_eq!(schema["properties"]["set"]["properties"]["amount"]["maximum"], json!(100000.0));
    assert!(invoice.description.as_deref().unwrap().contains("Limits"), "{:?}", invoice.description);

    let r = client
        .call_tool(args(
            json!({"name": "set_ticket_status", "arguments": {"key": "1", "set": {"status": "needs_reply"}}}),
        ))
        .await
        .unwrap();
    assert_eq!(r.structured_content.as_ref().unwrap()["outcome"], "applied");
    assert_ne!(r.is_error, Some(true));
    let r = client
        .call_tool(args(json!({"name": "adjust_invoice", "arguments": {"key": "3", "set": {"amount": 99}, "reason": "customer says 99"}})))
        .await
        .unwrap();
    let pending = r.structured_content.clone().unwrap();
    assert_eq!(pending["outcome"], "pending_review");
    let r = client
        .call_tool(args(json!({"name": "set_ticket_status", "arguments": {"key": "2", "set": {"status": "bogus"}}})))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true), "a refusal is a tool error the model can read");
    assert_eq!(r.structured_content.as_ref().unwrap()["code"], "value_not_allowed");
    let r = client
        .call_tool(args(
            json!({"name": "set_ticket_status", "arguments": {"key": "2", "set": {"status": "open"}, "drop": 1}}),
        ))
        .await
        .unwrap();
    assert_eq!(r.structured_content.as_ref().unwrap()["code"], "invalid_input");

    let r = client
        .call_tool(args(json!({"name": "read_record", "arguments": {"action": "set_ticket_status", "key": "1"}})))
        .await
        .unwrap();
    assert_eq!(
        r.structured_content.as_ref().unwrap()["record"],
        json!({"id": 1, "status": "needs_reply"}),
        "only the action's read fields"
    );
    let id = pending["proposal_id"].as_str().unwrap();
    let r = client.call_tool(args(json!({"name": "proposal_status", "arguments": {"proposal_id": id}}))).await.unwrap();
    assert_eq!(r.structured_content.as_ref().unwrap()["status"], "pending");
}

#[tokio::test]
async fn stdio_server_serves_the_tokens_actions_to_an_rmcp_client() {
    let (dir, token) = setup();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_leash"));
    cmd.current_dir(dir.path())
        .arg("mcp")
        .env("LEASH_TOKEN", &token)
        .env_remove("LEASH_DATABASE_URL")
        .stderr(Stdio::null());
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    exercise(&client).await;
    client.cancel().await.unwrap();
    // The proposal the token made over MCP cannot be decided under its name.
    let queue: Value = serde_json::from_slice(&leash(dir.path(), &["queue", "--json"]).stdout).unwrap();
    let id = queue["proposals"][0]["id"].as_str().unwrap();
    let own = leash(dir.path(), &["approve", id, "--by", "assistant", "--json"]);
    let own: Value = serde_json::from_slice(&own.stdout).unwrap();
    assert_eq!(own["code"], "not_permitted", "{own}");
}

struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(dir: &Path) -> (Served, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_leash"))
        .current_dir(dir)
        .args(["serve", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served(child);
    let base = format!("http://{listen}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return (served, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("leash serve did not come up");
}

#[tokio::test]
async fn http_endpoint_serves_tools_and_refuses_foreign_origins() {
    let (dir, token) = setup();
    let (_server, base) = serve(dir.path()).await;
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(token.clone());
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    exercise(&client).await;
    client.cancel().await.unwrap();

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "evil", "version": "1"}}});
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/mcp"))
        .header("Origin", "http://evil.example.com")
        .header("Accept", "application/json, text/event-stream")
        .bearer_auth(&token)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "a foreign Origin is refused (DNS rebinding)");
    let resp = http
        .post(format!("{base}/mcp"))
        .header("Origin", base.as_str())
        .header("Accept", "application/json, text/event-stream")
        .bearer_auth(&token)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "the server's own origin is fine: {}", resp.status());
}

#[test]
fn python_mcp_client_started_as_in_the_readme_gets_three_outcomes() {
    let Some(python) = leash_testkit::python::python_with(&["mcp"], "the Python MCP client") else { return };
    let (dir, token) = setup();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py");
    let out = Command::new(python)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_leash"))
        .arg(dir.path().join("leash.toml"))
        .env("LEASH_TOKEN", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["tools"], json!(["adjust_invoice", "proposal_status", "read_record", "set_ticket_status"]));
    assert_eq!(r["applied"], "applied");
    assert_eq!(r["review"], "pending_review");
    assert_eq!((r["refused_is_error"].clone(), r["refused_code"].clone()), (json!(true), json!("value_not_allowed")));
    assert_eq!(r["record"]["status"], "needs_reply");
}

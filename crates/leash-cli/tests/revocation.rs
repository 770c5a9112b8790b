//! Security findings that need the command line: a running `leash mcp`
//! loses a revoked token's rights, and `--actions` is for agent tokens only.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::leash;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rmcp_client::model::CallToolRequestParams;
use rmcp_client::transport::TokioChildProcess;
use rmcp_client::ServiceExt;
use serde_json::json;

fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(leash(dir.path(), &["init", "--demo"]).status.success());
    assert!(leash(dir.path(), &["approve-policy", "--by", "ops"]).status.success());
    dir
}

fn changes(dir: &Path) -> usize {
    support::json(&leash(dir, &["log", "--json"]))["changes"].as_array().map(Vec::len).unwrap_or(0)
}

fn status_call(status: &str) -> CallToolRequestParams {
    let args = json!({"key": "1", "set": {"status": status}});
    CallToolRequestParams::new("set_ticket_status").with_arguments(args.as_object().cloned().unwrap())
}

/// The caller is looked up on every request: one fixed when `leash mcp`
/// started would let a revoked token keep writing for the life of the process.
#[tokio::test]
async fn a_running_stdio_mcp_server_refuses_a_revoked_token() {
    let dir = demo();
    let out = leash(dir.path(), &["token", "create", "assistant", "--role", "agent", "--json"]);
    let token = support::json(&out)["token"].as_str().unwrap().to_string();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_leash"));
    cmd.current_dir(dir.path())
        .arg("mcp")
        .env("LEASH_TOKEN", &token)
        .env_remove("LEASH_DATABASE_URL")
        .stderr(Stdio::null());
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();

    let r = client.call_tool(status_call("needs_reply")).await.unwrap();
    assert_eq!(r.structured_content.as_ref().unwrap()["outcome"], "applied", "{r:?}");
    let before = changes(dir.path());

    assert!(leash(dir.path(), &["token", "revoke", "assistant"]).status.success());
    // Another process revoked it: this one notices within the token cache time.
    tokio::time::sleep(Duration::from_millis(leash_engine::TOKEN_CACHE_TTL_MS + 300)).await;
    let r = client.call_tool(status_call("pending")).await.unwrap();
    assert_eq!(r.is_error, Some(true), "{r:?}");
    let body = r.structured_content.clone().unwrap();
    assert_eq!(body["code"], "unauthenticated", "{body}");
    assert_eq!(changes(dir.path()), before, "nothing was written");
    assert!(client.list_all_tools().await.is_err(), "the tool list is refused too");
    client.cancel().await.unwrap();
}

/// `--actions` does not limit reviewing, so it is refused on a reviewer or
/// admin token rather than silently ignored.
#[test]
fn actions_scoping_is_refused_for_reviewer_and_admin_tokens() {
    let dir = demo();
    for role in ["reviewer", "admin"] {
        let out =
            leash(dir.path(), &["token", "create", "lead", "--role", role, "--actions", "set_ticket_status", "--json"]);
        assert!(!out.status.success(), "{role}");
        let err = support::json(&out);
        assert!(err["error"].as_str().unwrap().contains("scoping applies to agent tokens"), "{err}");
    }
    assert!(support::json(&leash(dir.path(), &["token", "list", "--json"]))["tokens"].as_array().unwrap().is_empty());
    let out = leash(dir.path(), &["token", "create", "bot", "--role", "agent", "--actions", "set_ticket_status"]);
    assert!(out.status.success(), "agent tokens are still scoped");
}

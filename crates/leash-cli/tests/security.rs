//! The `leash` binary's side of the hostile-caller checks: `init` keeps the policy
//! private, a field given twice is refused, and `leash check` refuses hostile
//! CEL and bad webhook URLs with a clear message that never prints a URL's
//! credentials.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{demo_dir, leash};

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The policy holds the database URL and webhook secrets.
#[cfg(unix)]
#[test]
fn init_writes_the_policy_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    assert!(leash(dir.path(), &["init"]).status.success());
    let mode = std::fs::metadata(dir.path().join("leash.toml")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // --force over a world-readable file tightens it too.
    let path = dir.path().join("leash.toml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(leash(dir.path(), &["init", "--force"]).status.success());
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let demo = tempfile::tempdir().unwrap();
    assert!(leash(demo.path(), &["init", "--demo"]).status.success());
    assert_eq!(std::fs::metadata(demo.path().join("leash.toml")).unwrap().permissions().mode() & 0o777, 0o600);
}

/// `--set status=a --set status=b` is refused naming the field;
/// before, the last one won.
#[test]
fn a_field_set_twice_on_the_command_line_is_refused() {
    let dir = demo_dir();
    let args =
        ["call", "set_ticket_status", "--key", "1", "--set", "status=needs_reply", "--set", "status=solved", "--json"];
    let out = leash(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["outcome"], "rejected", "{r}");
    assert_eq!(r["code"], "invalid_input", "{r}");
    assert!(r["message"].as_str().unwrap_or("").contains("`status`"), "{r}");
    let log = leash(dir.path(), &["log", "--json"]);
    let log: Value = serde_json::from_slice(&log.stdout).unwrap();
    assert_eq!(log["changes"].as_array().map(Vec::len), Some(0), "nothing written: {log}");
}

fn check_with(dir: &Path, extra: &str) -> (Option<i32>, String) {
    let policy = std::fs::read_to_string(dir.join("leash.toml")).unwrap();
    std::fs::write(dir.join("leash.toml"), format!("{policy}\n{extra}\n")).unwrap();
    let out = leash(dir, &["check"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// A 2,000-deep parenthesised condition and a 4,000-term sum are
/// refused by `leash check` with the key and the limit; before, the first
/// overflowed the stack.
#[test]
fn check_refuses_deep_and_long_cel_without_crashing() {
    for (when, says) in [
        (format!("{}record.status{}", "(".repeat(2000), ")".repeat(2000)), "nested 2000 levels deep"),
        (format!("1{}", " + 1".repeat(3999)), "at most"),
    ] {
        let dir = demo_dir();
        let action = format!(
            "[[actions]]\nname = \"hostile\"\nsummary = \"s\"\ntable = \"tickets\"\nkey = \"id\"\nwhen = \"{when}\"\n  [actions.fields.status]\n"
        );
        let (code, text) = check_with(dir.path(), &action);
        assert_eq!(code, Some(1), "refused, not crashed: {}", &text[..text.len().min(400)]);
        assert!(text.contains("actions.hostile.when") && text.contains(says), "{}", &text[..text.len().min(600)]);
    }
}

/// `leash check` refuses a webhook without a secret and
/// URLs that are not absolute http(s) with a host, and prints neither a URL's
/// userinfo nor its query.
#[test]
fn check_refuses_unsigned_webhooks_and_bad_urls_printing_them_redacted() {
    let dir = demo_dir();
    let (code, text) = check_with(dir.path(), "[[webhooks]]\nurl = \"https://user:pass@hooks.test/x?token=s\"\n");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("missing required key `secret`"), "{text}");
    assert!(!text.contains("pass") && !text.contains("token=s"), "{text}");

    for bad in ["http://", "ftp://user:pass@hooks.test/x?token=s", "http://hooks .test/x"] {
        let dir = demo_dir();
        let (code, text) = check_with(dir.path(), &format!("[[webhooks]]\nurl = \"{bad}\"\nsecret = \"k\"\n"));
        assert_eq!(code, Some(1), "{bad}: {text}");
        assert!(text.contains("webhooks[0].url"), "{bad}: {text}");
        assert!(!text.contains("pass") && !text.contains("token=s"), "{bad}: {text}");
    }
}

/// `leash outbox` shows a delivery still being retried, its
/// target and last error redacted.
#[test]
fn outbox_lists_waiting_deliveries_redacted() {
    let dir = demo_dir();
    let hook = "[[webhooks]]\nurl = \"http://user:pass@127.0.0.1:1/x?token=s\"\nsecret = \"k\"\n";
    let policy = std::fs::read_to_string(dir.path().join("leash.toml")).unwrap();
    std::fs::write(dir.path().join("leash.toml"), format!("{hook}\n{policy}")).unwrap();
    assert!(leash(dir.path(), &["approve-policy", "--by", "lead"]).status.success());
    let call = leash(dir.path(), &["call", "set_ticket_status", "--key", "1", "--set", "status=needs_reply", "--json"]);
    assert_eq!(call.status.code(), Some(0), "{}", String::from_utf8_lossy(&call.stdout));
    let out = leash(dir.path(), &["outbox", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["waiting_total"], 1, "{r}");
    assert_eq!(r["parked_total"], 0, "{r}");
    assert_eq!(r["waiting"][0]["target"], "http://…@127.0.0.1:1/x?…", "{r}");
    let text = String::from_utf8_lossy(&leash(dir.path(), &["outbox"]).stdout).to_string();
    assert!(text.contains("1 delivery(ies) waiting") && !text.contains("pass") && !text.contains("token=s"), "{text}");
}

/// Over MCP stdio: rmcp would read `{"status": …, "status": …}` (or two
/// `set`s, or two `key`s) as the last one; the server refuses it before the
/// tool runs.
#[test]
fn a_field_set_twice_in_an_mcp_call_is_refused() {
    use std::io::{BufRead, BufReader, Write};
    let dir = demo_dir();
    let out = leash(dir.path(), &["token", "create", "assistant", "--role", "agent", "--json"]);
    let token = serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leash"))
        .current_dir(dir.path())
        .arg("mcp")
        .env("LEASH_TOKEN", &token)
        .env_remove("LEASH_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |line: &str| writeln!(stdin, "{line}").unwrap();
    send(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
    );
    let mut answer = String::new();
    stdout.read_line(&mut answer).unwrap();
    assert!(answer.contains("\"id\":1"), "{answer}");
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send(
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"set_ticket_status","arguments":{"key":"1","set":{"status":"pending","status":"solved"},"reason":"r"}}}"#,
    );
    answer.clear();
    stdout.read_line(&mut answer).unwrap();
    let r: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(r["id"], 2, "{r}");
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r.to_string().contains("appears twice in set"), "{r}");
    // A repeated `set` or `key` at the top of the arguments, likewise, and
    // behind a byte-order mark (which rmcp reads past).
    for (id, bom, args) in [
        (3, "", r#"{"key":"1","set":{"status":"pending"},"set":{"status":"solved"},"reason":"r"}"#),
        (4, "", r#"{"key":"2","key":"1","set":{"status":"solved"},"reason":"r"}"#),
        (5, "\u{feff}", r#"{"key":"1","set":{"status":"pending"},"set":{"status":"solved"},"reason":"r"}"#),
    ] {
        send(&format!(
            r#"{bom}{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"set_ticket_status","arguments":{args}}}}}"#
        ));
        answer.clear();
        stdout.read_line(&mut answer).unwrap();
        let r: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!((r["id"].as_i64(), &r["result"]["isError"]), (Some(id), &Value::Bool(true)), "{r}");
        assert!(r.to_string().contains("appears twice in the arguments"), "{r}");
    }
    drop(stdin);
    let _ = child.wait();
    let log = leash(dir.path(), &["log", "--json"]);
    let log: Value = serde_json::from_slice(&log.stdout).unwrap();
    assert_eq!(log["changes"].as_array().map(Vec::len), Some(0), "nothing written: {log}");
}

//! `leash call --json` and `leash log --json` on a table with columns no
//! action may read: the walk of every refusal and review reason answers
//! without a secret, as it does over HTTP and MCP.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::leash;

use leash_testkit::secrets::{self, leaked};
use leash_testkit::Kind;
use serde_json::Value;

/// The walk's JSON body as `leash call` flags.
fn flags(action: &str, body: &Value) -> Vec<String> {
    let mut args = vec!["call".to_string(), action.to_string(), "--json".into(), "--as".into(), "assistant".into()];
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(key) = body.get("key") {
        args.extend(["--key".into(), text(key)]);
    }
    for (flag, map) in [("--set", "set"), ("--expect", "expect")] {
        for (field, value) in body.get(map).and_then(Value::as_object).into_iter().flatten() {
            args.extend([flag.to_string(), format!("{field}={}", text(value))]);
        }
    }
    for (flag, name) in [("--reason", "reason"), ("--confidence", "confidence"), ("--run", "run_id")] {
        if let Some(v) = body.get(name) {
            args.extend([flag.to_string(), text(v)]);
        }
    }
    args
}

#[test]
fn no_cli_answer_carries_a_column_the_action_may_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let url = format!("sqlite://{}", db.display());
    let mut statements = secrets::schema(Kind::Sqlite);
    statements.extend(secrets::rows());
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(leash_engine::run_script(&format!("{url}?mode=rwc"), &statements)).unwrap();
    let policy = format!("[database]\nurl = \"{url}\"\n{}", secrets::POLICY);
    std::fs::write(dir.path().join("leash.toml"), policy).unwrap();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let out = leash(dir.path(), &s(&["approve-policy", "--by", "owner"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = leash(dir.path(), &s(&["token", "create", "assistant", "--role", "agent"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut answered = 0;
    for step in secrets::walk() {
        let out = leash(dir.path(), &flags(step.action, &step.body));
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(leaked(&stdout), None, "{} {}: {stdout}", step.action, step.body);
        assert_eq!(leaked(&stderr), None, "{} {}: {stderr}", step.action, step.body);
        answered += usize::from(serde_json::from_str::<Value>(&stdout).is_ok_and(|v| v.get("outcome").is_some()));
    }
    assert!(answered + 2 >= secrets::walk().len(), "most steps answered with a result ({answered})");
    for cmd in [&["queue", "--json"][..], &["log", "--json"]] {
        let out = leash(dir.path(), &s(cmd));
        assert_eq!(leaked(&String::from_utf8_lossy(&out.stdout)), None, "{cmd:?}");
    }
}

//! What a hostile caller could do on the data side, kept fixed on every
//! store: one test per hole. Webhook delivery is in
//! `leash-server/tests/webhooks_security.rs`.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use leash_core::call::Call;
use leash_core::codes::{Code, Outcome};
use leash_core::policy::parse_policy;
use leash_engine::check_schema;
use serde_json::json;

/// An append without a NOT NULL field, or with it null, is a
/// refusal the caller can act on — never 500 `internal` — and writes nothing.
async fn append_without_a_required_field_is_refused_not_internal(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let calls: [(&str, &[(&str, &str)]); 4] = [
        ("body missing", &[("ticket_id", "1")]),
        ("body null", &[("ticket_id", "1"), ("body", "")]),
        ("ticket_id missing", &[("body", "hello")]),
        ("ticket_id null", &[("ticket_id", ""), ("body", "hello")]),
    ];
    for (what, set) in calls {
        let r = f.call("add_note", None, set).await;
        assert_eq!(r.outcome, Outcome::Rejected, "{kind:?} {what}: {r:?}");
        assert!(
            matches!(r.code, Some(Code::MissingRequired | Code::InvalidInput)),
            "{kind:?} {what}: expected missing_required or invalid_input, got {r:?}"
        );
        let field = if what.starts_with("body") { "body" } else { "ticket_id" };
        assert!(r.message.contains(field), "{kind:?} {what}: the message names the field: {}", r.message);
    }
    // A JSON null, as HTTP and MCP send it, is the same refusal.
    let mut null_body = call(None, &[("ticket_id", "1")]);
    null_body.set.insert("body".into(), json!(null));
    let r = f.engine.call(&agent(), "add_note", null_body).await.unwrap();
    assert_eq!(r.outcome, Outcome::Rejected, "{r:?}");
    assert!(f.changes().await.is_empty(), "{kind:?}: nothing journaled");
    let ok = f.call("add_note", None, &[("ticket_id", "1"), ("body", "hello")]).await;
    assert_eq!(ok.outcome, Outcome::Applied, "{kind:?}: a full row still lands: {ok:?}");
    assert_eq!(f.changes().await.len(), 1, "{kind:?}: only the full row was written");
}

/// `leash check` warns about a NOT NULL column without default that
/// an append action does not list.
async fn check_warns_about_required_columns_an_append_does_not_list(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let policy = parse_policy(
        "leash.toml",
        r#"
[[actions]]
name = "add_note"
summary = "Add a note to a ticket."
table = "notes"
key = "id"
kind = "append"
mode = "direct"
  [actions.fields.ticket_id]
"#,
    )
    .unwrap();
    let issues = check_schema(&policy, f.store.as_ref()).await.unwrap();
    let warning = issues.iter().find(|i| i.message.contains("column body is NOT NULL and has no default"));
    let warning = warning.unwrap_or_else(|| panic!("{kind:?}: no warning about body: {issues:?}"));
    assert!(warning.warning && warning.message.contains("add [actions.fields.body]"), "{warning:?}");
}

/// `"01"`, `" 1"` and `"1"` on an integer key are one record: one
/// journal key, one hash chain, and `verify` finds neither break nor drift.
async fn key_spellings_reach_one_record_one_chain(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    for (key, status) in [("01", "solved"), (" 1", "pending"), ("1", "needs_reply"), ("001", "open")] {
        let r = f.call("set_status", Some(key), &[("status", status)]).await;
        assert_eq!(r.outcome, Outcome::Applied, "{kind:?} key {key:?}: {r:?}");
        assert_eq!(f.get("tickets", "1", "status").await, json!(status), "{kind:?} key {key:?}");
    }
    let changes = f.changes().await;
    assert_eq!(changes.len(), 4);
    assert!(changes.iter().all(|c| c.record_key == "1"), "{kind:?}: journaled under one key: {changes:?}");
    let report = f.engine.verify().await.unwrap();
    assert!(report.ok, "{kind:?}: {report:?}");
    assert!(report.chain_breaks.is_empty() && report.drift.is_empty(), "{kind:?}: {report:?}");
    // A numeric key in JSON is the same record too.
    let numeric = Call { key: Some(json!(1)), ..call(None, &[("status", "solved")]) };
    let r = f.engine.call(&agent(), "set_status", numeric).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    assert_eq!(f.changes().await.last().map(|c| c.record_key.clone()), Some("1".into()));
    assert!(f.engine.verify().await.unwrap().ok);
}

/// A field twice in a call's `set` (raw JSON, as HTTP reads it) is
/// refused naming the field; before, the last one silently won.
#[test]
fn a_field_twice_in_set_is_refused_not_last_wins() {
    let raw = r#"{"key": "1", "set": {"status": "solved", "status": "open"}, "reason": "r"}"#;
    let err = serde_json::from_str::<Call>(raw).unwrap_err().to_string();
    assert!(err.contains("field `status` appears twice in set"), "{err}");
    let raw = r#"{"key": "1", "set": {"status": "solved"}, "expect": {"status": "open", "status": "x"}}"#;
    let err = serde_json::from_str::<Call>(raw).unwrap_err().to_string();
    assert!(err.contains("field `status` appears twice in expect"), "{err}");
}

/// Hostile CEL is refused when the policy loads, with the key and
/// the limit, on an ordinary 2 MiB thread (no stack overflow).
#[test]
fn deep_or_long_cel_is_refused_at_load() {
    let load = |when: String| {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let text = format!(
                    "[[actions]]\nname = \"a\"\nsummary = \"s\"\ntable = \"tickets\"\nkey = \"id\"\nwhen = \"{when}\"\n  [actions.fields.status]\n"
                );
                parse_policy("leash.toml", &text).err().map(|e| e.iter().map(|e| e.to_string()).collect::<String>())
            })
            .unwrap()
            .join()
            .expect("loading never crashes")
    };
    let deep = load(format!("{}record.a{}", "(".repeat(2000), ")".repeat(2000))).expect("refused");
    assert!(deep.contains("when") && deep.contains("nested 2000 levels deep"), "{deep}");
    let long = load(format!("1{}", " + 1".repeat(3999))).expect("refused");
    assert!(long.contains("when") && long.contains("at most"), "{long}");
}

/// Fuzz target: the user times `--since`/`--until` and the API's `since`
/// accept (`parse_time`) never panic, whatever the text and the clock.
mod fuzz_time {
    use leash_engine::parse_time;
    use proptest::prelude::*;

    const PARTS: &[&str] = &[
        "2026",
        "-",
        "02",
        "30",
        "13",
        "00",
        "T",
        "Z",
        ":",
        "+05:30",
        "24:00",
        "9999",
        "-009999",
        "1h",
        "30m",
        "7d",
        "18446744073709551615s",
        "99999999999d",
        " ",
        ".",
        "1e3",
        "now",
    ];

    fn text(seed: &[u32]) -> String {
        let mut at = seed.iter();
        let mut next = || at.next().copied().unwrap_or(0) as usize;
        if next() % 4 == 0 {
            return (0..next() % 32).map(|_| char::from_u32(next() as u32 % 0x11_0000).unwrap_or('?')).collect();
        }
        (0..next() % 10).map(|_| PARTS[next() % PARTS.len()]).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn user_times_parse_without_panic(seed in prop::collection::vec(any::<u32>(), 0..40), now in any::<i64>()) {
            let now = jiff::Timestamp::from_second(now % 253_402_300_799).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            for now in [now, jiff::Timestamp::MIN, jiff::Timestamp::MAX] {
                let _ = parse_time(&text(&seed), now);
            }
        }
    }
}

conformance!(
    append_without_a_required_field_is_refused_not_internal,
    check_warns_about_required_columns_an_append_does_not_list,
    key_spellings_reach_one_record_one_chain,
);

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use leash_core::policy::{parse_policy, Kind, Mode};

const DESIGN_SAMPLE: &str = r#"
[database]
url = "sqlite://shop.db"

[[actions]]
name      = "fix_address_format"
summary   = "Rewrite a customer's address in standard form. Mechanical edits only."
table     = "customers"
key       = "id"
kind      = "update"
mode      = "direct"
risk      = "low"
rollback_minutes = 1
owner     = "ops@acme.test"
exception_approver = "support-lead"
minutes_saved = 2
read      = ["name", "address", "city", "state", "zip"]
requires  = ["reason"]
when      = "record.deleted_at == null"
locked_if = "record.locked == true"
review_if = "record.vip == true"
review_note = "VIP account: a person checks every change"

  [actions.fields.address]
  change = "mechanical"
  format = "us_address"
  max_len = 200
  [actions.fields.state]
  one_of = ["AL","AK", "NY"]
  [actions.fields.zip]
  pattern = '^\d{5}(-\d{4})?$'

  [actions.limits]
  per_run  = 100
  per_hour = 500
  window   = "mon-fri 09:00-18:00 America/New_York"

  [actions.review]
  below_confidence = 0.8
  watch = "1h"

  [actions.breaker]
  same_change = 20
  within = "10m"
"#;

#[test]
fn design_sample_policy_loads_with_every_key() {
    let policy = parse_policy("leash.toml", DESIGN_SAMPLE).unwrap();
    assert_eq!(policy.database_url.as_deref(), Some("sqlite://shop.db"));
    let a = &policy.actions[0];
    assert_eq!((a.kind, a.mode), (Kind::Update, Mode::Direct));
    assert_eq!(a.fields.len(), 3);
    assert_eq!(a.limits.per_run_max, Some(100));
    assert_eq!(a.review.watch_s, Some(3600));
    assert_eq!(a.breaker.as_ref().map(|b| (b.same_change_max, b.within_s)), Some((20, 600)));
    assert!(a.requires_reason && !a.requires_evidence);
    assert_eq!(a.hash.len(), 64);
}

#[test]
fn action_hash_ignores_layout_but_not_meaning() {
    let a = parse_policy("a", DESIGN_SAMPLE).unwrap().actions[0].hash.clone();
    let relaid = DESIGN_SAMPLE.replace("risk      = \"low\"", "risk = 'low'   # comment");
    assert_eq!(parse_policy("a", &relaid).unwrap().actions[0].hash, a);
    let changed = DESIGN_SAMPLE.replace("per_run  = 100", "per_run  = 101");
    assert_ne!(parse_policy("a", &changed).unwrap().actions[0].hash, a);
}

#[test]
fn check_reports_every_error_with_line_and_key() {
    let broken = r#"
[[actions]]
name = "Bad-Name"
summary = "x"
table = "t"
key = "id"
colour = "blue"
mode = "sometimes"
when = "record.a =="
  [actions.fields.status]
  one_of = []
  range = [10, 1]
  pattern = "("
  change = "mechanical"
  [actions.limits]
  window = "mon-fri 09:00-18:00 Nowhere/City"
  per_run = 0
"#;
    let errors = parse_policy("leash.toml", broken).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expect = [
        ("leash.toml:3:", "name"),
        ("leash.toml:7:", "colour: unknown key"),
        ("leash.toml:8:", "mode"),
        ("leash.toml:9:", "when"),
        ("leash.toml:11:", "one_of"),
        ("leash.toml:12:", "range"),
        ("leash.toml:13:", "pattern"),
        ("leash.toml:14:", "change"),
        ("leash.toml:16:", "window"),
        ("leash.toml:17:", "per_run"),
    ];
    for (loc, key) in expect {
        assert!(text.iter().any(|t| t.starts_with(loc) && t.contains(key)), "missing {loc} {key} in {text:#?}");
    }
}

#[test]
fn syntax_error_names_its_line() {
    let errors = parse_policy("p.toml", "[[actions]]\nname = \"x\n").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 2, "{:?}", errors[0]);
}

#[test]
fn missing_required_keys_are_each_reported() {
    let errors = parse_policy("p.toml", "[[actions]]\nmode = \"direct\"\n").unwrap_err();
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    for k in ["name", "summary", "table", "fields", "key"] {
        assert!(keys.iter().any(|x| x.ends_with(k)), "{k} not reported: {keys:?}");
    }
}

#[test]
fn policy_error_messages_read_well() {
    let broken = "[[actions]]\nname = \"fix\"\nsummary = \"s\"\ntable = \"t\"\nkey = \"id\"\nmode = \"always\"\n  [actions.fields.zip]\n  pattern = \"(\"\n  change = \"mechanical\"\n  [actions.limits]\n  window = \"weekdays 9-5\"\n";
    let text: Vec<String> = parse_policy("leash.toml", broken).unwrap_err().iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn a_long_invalid_condition_is_quoted_only_in_part() {
    let when = format!("record.a == 1 && {}", "record.b == 2 && ".repeat(12));
    let text = format!("[[actions]]\nname = \"fix\"\nsummary = \"s\"\ntable = \"t\"\nkey = \"id\"\nwhen = \"{when}\"\n  [actions.fields.status]\n  one_of = [\"a\"]\n");
    let errors = parse_policy("leash.toml", &text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = &errors[0].message;
    assert!(message.starts_with("invalid CEL expression `record.a == 1 && record.b == 2"), "{message}");
    assert!(message.contains("…`: ") && message.len() < when.len() + 40, "{message}");
}

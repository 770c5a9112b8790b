//! Property tests: the parsers and the rule engine never panic, and canonical
//! forms are fixed points.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use leash_core::call::{Call, FieldChange};
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::format::{canonical, Format};
use leash_core::journal::Op;
use leash_core::policy::parse_policy;
use leash_core::value::{Record, Value};
use proptest::prelude::*;

const POLICY: &str = r#"
[[actions]]
name = "fix"
summary = "Fix things."
table = "t"
key = "id"
mode = "direct"
when = "record.deleted == false"
review_if = "record.vip == true"
  [actions.fields.status]
  one_of = ["open", "closed"]
  [actions.fields.n]
  range = [1, 10]
  [actions.fields.email]
  change = "mechanical"
  format = "email"
  [actions.fields.note]
  max_len = 5
  only_if_empty = true
  [actions.fields.zip]
  pattern = '^\d{5}$'
"#;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["open", "closed", "5", "12345", "a@B.com", ""]).prop_map(|s| Value::String(s.into())),
    ]
}

proptest! {
    #[test]
    fn policy_parser_never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = parse_policy("fuzz.toml", &text);
    }

    #[test]
    fn policy_parser_never_panics_on_mutated_policies(cut in 0usize..POLICY.len(), insert in "[\\[\\]=\"a-z0-9 \n]{0,8}") {
        let mut text = POLICY.to_string();
        let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(cut, &insert);
        let _ = parse_policy("fuzz.toml", &text);
    }

    #[test]
    fn decide_is_total_and_applies_only_what_rules_allow(
        fields in prop::collection::btree_map(prop::sample::select(vec!["status", "n", "email", "note", "zip", "other"]), scalar(), 0..4),
        record in prop::collection::btree_map(prop::sample::select(vec!["status", "n", "email", "note", "zip", "deleted", "vip"]), scalar(), 0..7),
    ) {
        let policy = parse_policy("p.toml", POLICY).unwrap();
        let action = &policy.actions[0];
        let call = Call { key: Some(Value::from(1)), set: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), ..Call::default() };
        let record: Record = record.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let dups = BTreeMap::new();
        let decision = decide(action, &call, &Inputs { record: Some(&record), duplicates: &dups, watch_active: false, approved: false });
        if let Decision::Apply { fields, .. } = decision {
            prop_assert!(record.get("deleted") == Some(&Value::Bool(false)), "when must hold");
            for f in fields {
                prop_assert!(action.field(&f.field).is_some());
                // A blank value is judged by `would_blank`/`allow_blank`, not by the value rules.
                if f.field == "status" { prop_assert!(f.new == "open" || f.new == "closed" || leash_core::value::is_blank(&f.new)); }
                if f.field == "note" { prop_assert!(leash_core::value::is_blank(&f.old)); }
            }
        }
    }

    #[test]
    fn canonical_forms_are_fixed_points(text in ".{0,30}") {
        for format in [Format::Date, Format::Phone, Format::Email, Format::Name, Format::Text, Format::UsAddress] {
            if let Ok(c) = canonical(format, &text) {
                prop_assert_eq!(canonical(format, &c), Ok(c.clone()), "{:?}", format);
            }
        }
    }
}

/// The hash chain's definition, written the plain way: canonical JSON (keys
/// sorted at every level) of the change's content, then sha256.
fn reference_hash(c: &leash_core::journal::Change) -> String {
    use sha2::{Digest, Sha256};
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    let content = serde_json::json!({
        "id": c.id, "at": c.at, "action": c.action, "policy_hash": c.policy_hash,
        "table_name": c.table_name, "record_key": c.record_key, "op": c.op.as_str(),
        "fields": c.fields, "actor": c.actor, "approver": c.approver, "reason": c.reason,
        "evidence": c.evidence, "confidence": c.confidence, "run_id": c.run_id,
        "proposal_id": c.proposal_id, "reverts": c.reverts, "watch": c.watch,
        "prev_hash": c.prev_hash,
    });
    hex::encode(Sha256::digest(sort(&content).to_string().as_bytes()))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            // Keys in random order: JSON columns keep insertion order in memory.
            prop::collection::vec(("[a-zA-Z_]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn change_hash_matches_its_plain_definition(
        text in prop::collection::vec("\\PC{0,12}", 6),
        opt in prop::collection::vec(prop::option::of("\\PC{0,12}"), 7),
        confidence in prop::option::of(any::<f64>()),
        fields in prop::collection::vec(("[a-z_]{1,8}", json_value(), json_value()), 0..4),
        watch in any::<bool>(),
        op in prop::sample::select(vec![Op::Update, Op::Insert, Op::Delete]),
    ) {
        let c = leash_core::journal::Change {
            id: text[0].clone(), at: text[1].clone(), action: text[2].clone(), policy_hash: text[3].clone(),
            table_name: text[4].clone(), record_key: text[5].clone(), op,
            fields: fields.into_iter().map(|(field, old, new)| FieldChange { field, old, new }).collect(),
            actor: text[0].clone(), approver: opt[0].clone(), reason: opt[1].clone(), evidence: opt[2].clone(),
            confidence, run_id: opt[3].clone(), proposal_id: opt[4].clone(), reverts: opt[5].clone(),
            reverted_by: None, watch, prev_hash: opt[6].clone(), hash: String::new(),
        };
        prop_assert_eq!(c.compute_hash(), reference_hash(&c));
    }
}

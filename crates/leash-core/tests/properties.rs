//! Property tests: the parsers and the rule engine never panic, and canonical
//! forms are fixed points.

use std::collections::BTreeMap;

use leash_core::call::Call;
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::format::{canonical, Format};
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
                if f.field == "status" { prop_assert!(f.new == "open" || f.new == "closed" || f.new.is_null()); }
                if f.field == "note" { prop_assert!(leash_core::value::is_blank(&f.old)); }
            }
        }
    }

    #[test]
    fn canonical_forms_are_fixed_points(text in ".{0,30}") {
        for format in [Format::Date, Format::Phone, Format::Email, Format::Name, Format::Text] {
            if let Ok(c) = canonical(format, &text) {
                if format != Format::Name {
                    prop_assert_eq!(canonical(format, &c), Ok(c.clone()), "{:?}", format);
                }
            }
        }
    }
}

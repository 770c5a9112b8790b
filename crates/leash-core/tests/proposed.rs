//! Rules on the proposed value: `new` in conditions (the record as the call
//! would leave it) and `review_above` / `review_below` per field.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use leash_core::call::Call;
use leash_core::codes::{Code, ReviewReason};
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::policy::parse_policy;
use leash_core::value::Record;
use proptest::prelude::*;
use serde_json::{json, Value};

const POLICY: &str = r#"
[[actions]]
name = "set_price"
summary = "Set a track's price."
table = "Track"
key = "TrackId"
mode = "direct"
review_if = "new.UnitPrice > record.UnitPrice * 1.1"
review_note = "more than 10 % up: a person checks the price"
when = "new.Discount <= 30"
  [actions.fields.UnitPrice]
  range = [0, 100]
  [actions.fields.Discount]
  review_above = 20
  [actions.fields.ReleaseDate]
  review_below = "2000-01-01"
"#;

fn decision(set: Value) -> Decision {
    let policy = parse_policy("p.toml", POLICY).unwrap();
    let record: Record = json!({"TrackId": 1, "UnitPrice": 1.0, "Discount": 0, "ReleaseDate": "2010-05-01"})
        .as_object()
        .cloned()
        .unwrap();
    let call = Call { key: Some(json!(1)), set: set.as_object().cloned().unwrap(), ..Call::default() };
    let dups = BTreeMap::new();
    decide(
        &policy.actions[0],
        &call,
        &Inputs { record: Some(&record), duplicates: &dups, watch_active: false, approved: false },
    )
}

fn reasons(d: &Decision) -> Vec<ReviewReason> {
    match d {
        Decision::Review { reasons, .. } => reasons.clone(),
        _ => Vec::new(),
    }
}

#[test]
fn a_price_up_to_ten_percent_lands_and_more_goes_to_a_person() {
    assert!(matches!(decision(json!({"UnitPrice": 1.05})), Decision::Apply { .. }));
    assert!(matches!(decision(json!({"UnitPrice": 1.10})), Decision::Apply { .. }));
    let d = decision(json!({"UnitPrice": 1.25}));
    assert_eq!(reasons(&d), vec![ReviewReason::ReviewIf], "{d:?}");
}

#[test]
fn when_reads_the_proposed_value() {
    match decision(json!({"Discount": 40})) {
        Decision::Reject(r) => assert_eq!(r.code, Code::ConditionFalse),
        other => panic!("{other:?}"),
    }
    // A call that leaves Discount alone is judged on the record's own value.
    assert!(matches!(decision(json!({"UnitPrice": 1.0})), Decision::Unchanged));
}

#[test]
fn thresholds_send_numbers_and_dates_beyond_them_to_a_person() {
    let d = decision(json!({"Discount": 25}));
    assert_eq!(reasons(&d), vec![ReviewReason::OverThreshold], "{d:?}");
    if let Decision::Review { notes, .. } = &d {
        assert!(notes[0].contains("above 20"), "{notes:?}");
    }
    assert!(matches!(decision(json!({"Discount": 20})), Decision::Apply { .. }), "the threshold itself lands");
    assert_eq!(reasons(&decision(json!({"ReleaseDate": "1999-12-31"}))), vec![ReviewReason::OverThreshold]);
    assert!(matches!(decision(json!({"ReleaseDate": "2000-01-01"})), Decision::Apply { .. }));
    // Unreadable as a number: the threshold cannot vouch for it (and `when`
    // cannot compare it either).
    assert!(reasons(&decision(json!({"Discount": "lots"}))).contains(&ReviewReason::OverThreshold));
}

#[test]
fn names_other_than_record_and_new_are_refused_at_load() {
    let bad = POLICY.replace("new.Discount <= 30", "old.Discount <= 30");
    let errors = parse_policy("p.toml", &bad).unwrap_err();
    assert!(errors.iter().any(|e| e.message.contains("`record.<column>` and `new.<column>`")), "{errors:?}");
}

proptest! {
    /// `review_above = T` flags exactly the values above T, never one at or below.
    #[test]
    fn review_above_flags_exactly_what_is_above(discount in 0i64..=30) {
        let d = decision(json!({"Discount": discount}));
        let flagged = reasons(&d).contains(&ReviewReason::OverThreshold);
        prop_assert_eq!(flagged, discount > 20, "{:?}", d);
    }
}

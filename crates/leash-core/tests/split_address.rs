//! An address kept in several columns is checked as one address: the part
//! columns the action reads or writes join the street field.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use leash_core::call::Call;
use leash_core::codes::ReviewReason;
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::policy::parse_policy;
use leash_core::value::{Record, Value};
use serde_json::json;

const POLICY: &str = r#"
[[actions]]
name = "fix_address"
summary = "Rewrite an address in standard form."
table = "customers"
key = "id"
mode = "direct"
read = ["id", "address", "city", "state", "zip"]
  [actions.fields.address]
  change = "mechanical"
  format = "us_address"
  [actions.fields.city]
  change = "mechanical"
  format = "us_address"
  [actions.fields.zip]
  pattern = '^\d{5}$'
"#;

fn decision(set: Value) -> Decision {
    let policy = parse_policy("p.toml", POLICY).unwrap();
    let record: Record =
        json!({"id": 1, "address": "125 main st apt#4b", "city": "brookln", "state": "NY", "zip": "11211"})
            .as_object()
            .cloned()
            .unwrap();
    let call = Call { key: Some(json!(1)), set: set.as_object().cloned().unwrap(), ..Call::default() };
    decide(
        &policy.actions[0],
        &call,
        &Inputs { record: Some(&record), duplicates: &BTreeMap::new(), watch_active: false, approved: false },
    )
}

fn reasons(d: Decision) -> Vec<ReviewReason> {
    match d {
        Decision::Review { reasons, .. } => reasons,
        Decision::Apply { .. } => Vec::new(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn street_and_city_fixed_together_is_mechanical() {
    assert!(reasons(decision(json!({"address": "125 Main St, Apt 4B", "city": "Brooklyn"}))).is_empty());
}

#[test]
fn zip_change_is_judged_with_the_whole_address() {
    let r = reasons(decision(json!({"zip": "97201"})));
    assert!(r.contains(&ReviewReason::ZipStateMismatch), "{r:?}");
    assert!(r.contains(&ReviewReason::NotMechanical), "{r:?}");
}

#[test]
fn dropping_the_unit_from_the_street_column_is_caught() {
    assert_eq!(reasons(decision(json!({"address": "125 Main St"}))), vec![ReviewReason::UnitDropped]);
}

#[test]
fn another_city_is_not_a_typo() {
    assert_eq!(reasons(decision(json!({"city": "Queens"}))), vec![ReviewReason::CityChanged]);
}

#[test]
fn a_part_column_the_action_may_not_read_is_not_joined_or_quoted() {
    let policy =
        parse_policy("p.toml", &POLICY.replace("read = [\"id\", \"address\", \"city\", \"state\", \"zip\"]\n", ""))
            .unwrap();
    let record: Record = json!({"id": 1, "address": "125 Main St", "city": "Brooklyn", "state": "NY", "zip": "11211"})
        .as_object()
        .cloned()
        .unwrap();
    let call = Call {
        key: Some(json!(1)),
        set: json!({"address": "9 Elm St, Austin, TX 78701"}).as_object().cloned().unwrap(),
        ..Call::default()
    };
    let inputs = Inputs { record: Some(&record), duplicates: &BTreeMap::new(), watch_active: false, approved: false };
    let text = format!("{:?}", decide(&policy.actions[0], &call, &inputs));
    assert!(!text.contains("NY") && !text.contains("New York"), "state is not the action's to read: {text}");
}

#[test]
fn parts_name_the_columns_that_hold_the_other_parts() {
    let policy = parse_policy(
        "p.toml",
        r#"
[[actions]]
name = "fix_address"
summary = "Rewrite a customer's address in standard form."
table = "Customer"
key = "CustomerId"
mode = "direct"
read = ["CustomerId"]
  [actions.fields.Address]
  change = "mechanical"
  format = "us_address"
  parts = {city = "City", state = "State", zip = "PostalCode"}
"#,
    )
    .unwrap();
    let action = &policy.actions[0];
    assert!(action.may_see("PostalCode") && action.columns().contains(&"City"), "named parts are the action's");
    let record: Record =
        json!({"CustomerId": 1, "Address": "125 main street", "City": "Brooklyn", "State": "NY", "PostalCode": "11211"})
            .as_object()
            .cloned()
            .unwrap();
    let inputs = Inputs { record: Some(&record), duplicates: &BTreeMap::new(), watch_active: false, approved: false };
    let call = |address: &str| Call {
        key: Some(json!(1)),
        set: json!({"Address": address}).as_object().cloned().unwrap(),
        ..Call::default()
    };
    assert!(reasons(decide(action, &call("125 Main St"), &inputs)).is_empty(), "a rewrite lands");
    let moved = reasons(decide(action, &call("125 Main St, Austin, TX 78701"), &inputs));
    assert!(moved.contains(&ReviewReason::CityChanged), "judged with City and PostalCode: {moved:?}");
}

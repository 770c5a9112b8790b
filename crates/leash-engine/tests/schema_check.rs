//! The policy against each store's live schema: introspection finds tables,
//! columns, unique keys and types the same way everywhere.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use leash_core::policy::parse_policy;
use leash_core::value::ColumnType;
use leash_engine::check_schema;

const MISMATCHED: &str = r#"
[[actions]]
name = "bad_table"
summary = "s"
table = "no_such_table"
key = "id"
  [actions.fields.status]

[[actions]]
name = "bad_columns"
summary = "s"
table = "tickets"
key = "status"
read = ["id", "colour"]
  [actions.fields.statsu]
  [actions.fields.locked]
  one_of = ["maybe"]

[[actions]]
name = "bad_types"
summary = "s"
table = "invoices"
key = "id"
  [actions.fields.seats]
  change = "mechanical"
  format = "phone"
  [actions.fields.due_date]
  range = [1, 5]
"#;

async fn introspection_maps_columns_keys_and_types(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let tickets = f.store.table_schema("tickets").await.unwrap().unwrap();
    assert_eq!(tickets.unique_columns, vec!["id".to_string()]);
    let ty = |t: &leash_store::TableSchema, c: &str| t.column(c).unwrap().ty;
    assert_eq!(ty(&tickets, "id"), ColumnType::Integer);
    assert_eq!(ty(&tickets, "status"), ColumnType::Text);
    assert_eq!(ty(&tickets, "locked"), ColumnType::Boolean);
    let invoices = f.store.table_schema("invoices").await.unwrap().unwrap();
    assert_eq!(ty(&invoices, "due_date"), ColumnType::Date);
    assert_eq!(ty(&invoices, "amount"), ColumnType::Numeric);
    assert!(f.store.table_schema("no_such_table").await.unwrap().is_none());
}

async fn check_reports_every_mismatch_between_policy_and_schema(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let policy = parse_policy("p.toml", MISMATCHED).unwrap();
    let issues = check_schema(&policy, f.store.as_ref()).await.unwrap();
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    for expected in [
        "actions.bad_table.table",
        "actions.bad_columns.key",
        "actions.bad_columns.read",
        "actions.bad_columns.fields.statsu",
        "actions.bad_columns.fields.locked.one_of",
        "actions.bad_types.fields.seats.format",
        "actions.bad_types.fields.due_date.range",
    ] {
        assert!(keys.contains(&expected), "{expected} not reported in {issues:#?}");
    }
    assert!(issues.iter().all(|i| i.line > 0 && !i.message.is_empty()));
    let engine = leash_engine::Engine::open(policy, f.store.clone()).await;
    assert!(matches!(engine, Err(leash_engine::EngineError::Schema(_))), "the engine refuses to start on a mismatch");
}

conformance!(introspection_maps_columns_keys_and_types, check_reports_every_mismatch_between_policy_and_schema);

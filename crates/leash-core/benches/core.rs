//! Micro-benchmarks for the pure core: `cargo bench -p leash-core`.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use leash_core::call::Call;
use leash_core::condition::Condition;
use leash_core::decide::{decide, Inputs};
use leash_core::format::address;
use leash_core::policy::parse_policy;
use leash_core::rules::{check_field, FieldContext};
use leash_core::value::{Record, Value};
use serde_json::json;

const POLICY: &str = r#"
[[actions]]
name = "fix"
summary = "Fix a record."
table = "t"
key = "id"
mode = "direct"
when = "record.deleted_at == null && record.score >= 0"
  [actions.fields.status]
  one_of = ["open", "pending", "solved"]
  [actions.fields.code]
  pattern = '^[A-Z]{3}-\d+$'
  [actions.fields.address]
  change = "mechanical"
  format = "us_address"
"#;

/// `leash bench`'s policy, record and call (crates/leash-bench/src/setup.rs
/// and `set_call` in crates/leash-bench/src/lib.rs), so its `policy_eval_ns`
/// figure can be measured here without building the engine.
const LEASH_BENCH_POLICY: &str = include_str!("../../leash-bench/src/bench_policy.toml");

fn leash_bench_record() -> Record {
    json!({"id": 1, "status": "open", "priority": "normal", "score": 10, "code": "ABC-1", "email": "a@b.test",
        "note": "n", "due": "2026-12-01", "region": "NE", "phone": "+14155550134", "title": null, "flag": false, "deleted_at": null})
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn leash_bench_call() -> Call {
    Call {
        key: Some(Value::from(1i64)),
        set: [("status".to_string(), Value::String("pending".into()))].into_iter().collect(),
        reason: Some("bench".into()),
        confidence: Some(0.99),
        run_id: None,
        ..Call::default()
    }
}

fn record() -> Record {
    json!({"id": 1, "status": "open", "code": "ABC-1", "score": 3, "deleted_at": null, "address": "125 main st apt#4b, brookln ny 11211"})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let policy = parse_policy("bench.toml", POLICY).expect("bench policy parses");
    let action = &policy.actions[0];
    let rec = record();
    let dups = BTreeMap::new();

    c.bench_function("rule check: pattern", |b| {
        let rule = action.field("code").expect("code rule");
        let cx = FieldContext { record: &rec, action, duplicate_of: None };
        b.iter(|| check_field(rule, black_box(&json!("ABC-1")), black_box(&json!("XYZ-42")), &cx))
    });
    c.bench_function("CEL condition", |b| {
        let cond = Condition::compile("record.deleted_at == null && record.score >= 0").expect("compiles");
        b.iter(|| cond.eval_bool(black_box(&rec)))
    });
    c.bench_function("address canonicalization", |b| {
        b.iter(|| address::canonical(black_box("125 main st apt#4b, brookln ny 11211")))
    });
    c.bench_function("address comparison", |b| {
        b.iter(|| {
            address::compare(
                "address",
                black_box("125 main st apt#4b, brookln ny 11211"),
                black_box("125 Main St, Apt 4B, Brooklyn, NY 11211"),
            )
        })
    });
    c.bench_function("decide: status change", |b| {
        let call = Call {
            key: Some(Value::from(1)),
            set: [("status".to_string(), json!("pending"))].into_iter().collect(),
            ..Call::default()
        };
        let inputs = Inputs { record: Some(&rec), duplicates: &dups, watch_active: false, approved: false };
        b.iter(|| decide(action, black_box(&call), &inputs))
    });
    c.bench_function("decide: leash bench policy_eval", |b| {
        let policy = parse_policy("bench.toml", LEASH_BENCH_POLICY).expect("leash bench policy parses");
        let action = policy.action("bench_update").expect("bench_update");
        let rec = leash_bench_record();
        let call = leash_bench_call();
        let inputs = Inputs { record: Some(&rec), duplicates: &dups, watch_active: false, approved: false };
        b.iter(|| decide(action, black_box(&call), &inputs))
    });
}

criterion_group!(core, benches);
criterion_main!(core);

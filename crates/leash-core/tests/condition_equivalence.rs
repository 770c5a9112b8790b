//! Conditions evaluate as CEL always evaluated them: the fast evaluator and
//! the cut-down record give the same value, or the same error, as the plain
//! interpreter run on the whole record (what `Condition` did before).

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use leash_core::call::Call;
use leash_core::condition::Condition;
use leash_core::decide::{decide, Inputs};
use leash_core::policy::parse_policy;
use leash_core::value::{Record, Value};
use proptest::prelude::*;
use serde_json::json;

static STANDARD: LazyLock<cel_interpreter::Context<'static>> = LazyLock::new(cel_interpreter::Context::default);

/// The reference: compile with cel-interpreter, convert the whole record,
/// run, convert the result back. `None` when the text does not compile.
fn reference(source: &str, record: &Record) -> Option<Result<Value, String>> {
    let program = std::panic::catch_unwind(|| cel_interpreter::Program::compile(source)).ok()?.ok()?;
    let value = match cel_interpreter::to_value(record) {
        Ok(v) => v,
        Err(e) => return Some(Err(e.to_string())),
    };
    let mut context = STANDARD.new_inner_scope();
    context.add_variable_from_value("record", value);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| program.execute(&context)));
    Some(match run {
        Err(_) => Err("evaluation failed".to_string()),
        Ok(Err(e)) => Err(leash_core::condition::without_values(&e)),
        Ok(Ok(v)) => v.json().map_err(|_| "the result is not a plain value".to_string()),
    })
}

/// An error that prints a map prints its entries in hash order, which
/// differs between two conversions of the same record; compare up to there.
fn comparable(result: Result<Value, String>) -> Result<Value, String> {
    result.map_err(|e| e.split("Map {").next().unwrap_or_default().to_string())
}

const COLUMNS: &[&str] = &["a", "b", "n", "s", "l", "m", "size", "flag"];

fn column_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![0i64, 1, -1, 2, 10, i64::MIN, i64::MAX]).prop_map(Value::from),
        prop::sample::select(vec![u64::MAX, 1u64 << 63]).prop_map(Value::from),
        prop::sample::select(vec![0.0f64, -0.0, 0.5, 1.0, 2.5, -3.0, 1e300]).prop_map(Value::from),
        prop::sample::select(vec!["", " ", "a", "b", "open", "é"]).prop_map(Value::from),
        Just(json!([1, "a"])),
        Just(json!([])),
        Just(json!({"k": 1})),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    prop::collection::btree_map(prop::sample::select(COLUMNS.to_vec()), column_value(), 0..COLUMNS.len())
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn leaf() -> impl Strategy<Value = String> {
    let column = prop::sample::select(COLUMNS.iter().chain(&["missing", "contains"]).copied().collect::<Vec<_>>());
    let literal = prop::sample::select(vec![
        "null",
        "true",
        "false",
        "0",
        "1",
        "-1",
        "2",
        "9223372036854775807",
        "0u",
        "5u",
        "18446744073709551615u",
        "0.0",
        "-0.0",
        "0.5",
        "1.0",
        "2.5",
        "1e300",
        "''",
        "'a'",
        "\"b\"",
        "'open'",
        "' '",
    ]);
    // Outside the fast subset: these go to the interpreter.
    let other = prop::sample::select(vec![
        "size(record.s)",
        "record.s + 'x'",
        "record.n + 1",
        "record.s.startsWith('a')",
        "[record.a]",
        "{'k': record.a}",
        "size(record)",
        "'a' in record",
        "record['a']",
        "int(record.n)",
        "record.l",
        "record.m.k",
        "b'x'",
        "[1, 2]",
    ]);
    prop_oneof![
        4 => column.clone().prop_map(|c| format!("record.{c}")),
        1 => column.prop_map(|c| format!("has(record.{c})")),
        3 => literal.prop_map(str::to_string),
        1 => other.prop_map(str::to_string),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    let comparison = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    leaf().prop_recursive(3, 24, 3, move |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("!({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("({a}) ? ({b}) : ({c})")),
            (inner.clone(), comparison.clone(), inner.clone()).prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            (inner.clone(), prop::collection::vec(inner, 0..3))
                .prop_map(|(a, list)| format!("({a}) in [{}]", list.join(", "))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn condition_gives_what_the_interpreter_gives_on_the_whole_record(source in expression(), record in record()) {
        let Some(expected) = reference(&source, &record) else {
            prop_assert!(Condition::compile(&source).is_err(), "{source} compiles here, not in cel-interpreter");
            return Ok(());
        };
        let condition = match Condition::compile(&source) {
            Ok(c) => c,
            Err(why) => {
                prop_assert!(why.contains("at most"), "{source}: {why}");
                return Ok(());
            }
        };
        prop_assert_eq!(comparable(condition.eval(&record)), comparable(expected.clone()), "{}", source);
        let expected_bool = expected.and_then(|v| match v {
            Value::Bool(b) => Ok(b),
            other => Err(format!("`{source}` gave {}, not true or false", leash_core::condition::json_type(&other))),
        });
        prop_assert_eq!(comparable(condition.eval_bool(&record).map(Value::Bool)), comparable(expected_bool.map(Value::Bool)));
    }
}

/// One action whose conditions are written as given, one whose conditions
/// are wrapped; both may read every column (nothing of the record is
/// hidden from their messages, which would scrub the sources apart), and
/// the wrapped ones read the whole record (`size(record)`) and leave the
/// fast subset: the interpreter on the whole record, as before.
fn policies(
    when: &str,
    locked_if: &str,
    review_if: &str,
) -> Option<(leash_core::policy::Policy, Vec<(String, String)>)> {
    let action = |w: &str, l: &str, r: &str| {
        format!(
            "[[actions]]\nname = \"fix\"\nsummary = \"s\"\ntable = \"t\"\nkey = \"id\"\nmode = \"direct\"\n\
             read = [\"a\", \"b\", \"l\", \"m\", \"size\", \"flag\"]\n\
             when = {w:?}\nlocked_if = {l:?}\nreview_if = {r:?}\n\
             [actions.fields.s]\none_of = [\"a\", \"b\", \"open\"]\n[actions.fields.n]\nrange = [0, 10]\n"
        )
    };
    let wrap = |c: &str| format!("size(record) >= 0 ? ({c}) : null");
    let both = format!(
        "{}\n{}",
        action(when, locked_if, review_if),
        action(&wrap(when), &wrap(locked_if), &wrap(review_if)).replace("\"fix\"", "\"fix_reference\"")
    );
    let renames = [when, locked_if, review_if].iter().map(|c| (wrap(c), c.to_string())).collect();
    parse_policy("p.toml", &both).ok().map(|p| (p, renames))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn decide_with_fast_conditions_matches_decide_with_the_interpreter(
        when in expression(),
        locked_if in expression(),
        review_if in expression(),
        record in record(),
        set in prop::collection::btree_map(prop::sample::select(vec!["s", "n"]), column_value(), 1..3),
    ) {
        let Some((policy, renames)) = policies(&when, &locked_if, &review_if) else { return Ok(()) };
        let call = Call { key: Some(json!(1)), set: set.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), ..Call::default() };
        let dups = BTreeMap::new();
        let inputs = Inputs { record: Some(&record), duplicates: &dups, watch_active: false, approved: false };
        let (Some(fast), Some(slow)) = (policy.action("fix"), policy.action("fix_reference")) else {
            return Err(TestCaseError::fail("both actions load"));
        };
        let got = format!("{:?}", decide(fast, &call, &inputs));
        let mut want = format!("{:?}", decide(slow, &call, &inputs)).replace("fix_reference", "fix");
        // As `{:?}` spells text inside the decision's messages.
        // Strip exactly the outer quotes: a text that ends in a quote keeps its own.
        let debug = |text: &str| {
            let quoted = format!("{text:?}");
            quoted[1..quoted.len() - 1].to_string()
        };
        for (wrapped, plain) in &renames {
            want = want.replace(&debug(wrapped), &debug(plain));
        }
        prop_assert_eq!(got.split("Map {").next(), want.split("Map {").next());
    }
}

#[test]
fn a_column_named_like_a_function_errs_as_the_interpreter_does() {
    let record: Record = json!({"a": 1}).as_object().cloned().unwrap_or_default();
    for source in ["record.size > 1", "record.size", "record.contains == null"] {
        let expected = reference(source, &record).expect("compiles");
        assert_eq!(Condition::compile(source).unwrap().eval(&record), expected, "{source}");
    }
}

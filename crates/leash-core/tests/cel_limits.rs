//! CEL conditions are bounded when the policy loads: a hostile expression is refused with a clear error instead of
//! overflowing the stack in `leash check` or on `serve`'s first call, and
//! every expression within the limits compiles and evaluates on an ordinary
//! 2 MiB thread (in a debug build, where frames are largest).

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use leash_core::condition::{
    Condition, ConditionError, CEL_DEPTH_MAX, CEL_NESTING_MAX, CEL_SOURCE_BYTES_MAX, CEL_TOKENS_MAX,
};
use leash_core::policy::parse_policy;
use leash_core::value::Record;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

/// The default stack of a spawned thread and of a `cargo test` thread, and
/// of tokio's worker threads that evaluate conditions in `serve`.
const THREAD_STACK_BYTES: usize = 2 << 20;

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::Builder::new().stack_size(THREAD_STACK_BYTES).spawn(f).expect("a thread starts");
    thread.join().expect("the thread neither panics nor overflows its stack")
}

fn sample_record() -> Record {
    json!({"a": 1, "n": 2, "s": "x", "flag": true, "l": [1, 2], "m": {"k": 1}, "deleted_at": null})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// Compiles, and if that works evaluates both ways; only a crash fails.
fn exercise(source: &str) -> Result<(), ConditionError> {
    let condition = Condition::parse(source)?;
    let record = sample_record();
    let _ = condition.eval(&record);
    let _ = condition.eval_bool(&record);
    Ok(())
}

fn too_large(source: String) -> String {
    match on_small_stack(move || exercise(&source)) {
        Err(ConditionError::TooLarge(what)) => what,
        other => panic!("expected a size limit, got {other:?}"),
    }
}

#[test]
fn two_thousand_nested_parentheses_are_refused_before_parsing() {
    let what = too_large(format!("{}record.a{}", "(".repeat(2000), ")".repeat(2000)));
    assert_eq!(what, format!("is nested 2000 levels deep (brackets and `?:`); at most {CEL_NESTING_MAX} are allowed"));
}

#[test]
fn a_four_thousand_term_sum_is_refused() {
    let spaced = format!("1{}", " + 1".repeat(3999));
    assert!(too_large(spaced).contains(&format!("bytes long; at most {CEL_SOURCE_BYTES_MAX} are allowed")));
    let compact = format!("1{}", "+1".repeat(1999));
    assert_eq!(
        too_large(compact),
        format!("has 3999 tokens (names, values and operators); at most {CEL_TOKENS_MAX} are allowed")
    );
}

#[test]
fn deep_unary_operators_are_refused() {
    assert!(too_large(format!("{}true", "!".repeat(4000))).contains("tokens"));
    assert!(too_large(format!("{}1", "-".repeat(4000))).contains("tokens"));
}

#[test]
fn deep_list_and_map_literals_are_refused() {
    assert!(too_large(format!("{}{}", "[".repeat(2000), "]".repeat(2000))).starts_with("is nested 2000 levels"));
    assert!(too_large(format!("{}1{}", "{1: ".repeat(500), "}".repeat(500))).starts_with("is nested 500 levels"));
}

#[test]
fn long_chains_are_refused_by_tokens_or_tree_depth() {
    assert!(too_large(format!("'a'{}", " + 'a'".repeat(2000))).contains("bytes long"));
    assert!(too_large(format!("'a'{}", " + 'a'".repeat(300))).contains("tokens"));
    let members = too_large(format!("record.m{}", ".k".repeat(100)));
    assert_eq!(
        members,
        format!(
            "is 102 levels deep once parsed (each operator of a chain like `a + b + c` is one level); \
             at most {CEL_DEPTH_MAX} are allowed"
        )
    );
    assert!(too_large(format!("{}1", "true ? 1 : ".repeat(100))).starts_with("is nested 100 levels"));
}

#[test]
fn a_long_string_literal_within_the_byte_limit_is_fine() {
    let source = format!("record.s != '{}'", "(".repeat(CEL_SOURCE_BYTES_MAX - 20));
    on_small_stack(move || {
        assert_eq!(Condition::compile(&source).map(|c| c.eval_bool(&sample_record())), Ok(Ok(true)))
    });
}

#[test]
fn compile_returns_an_error_for_every_hostile_expression() {
    let hostile = [
        format!("{}1{}", "(".repeat(2000), ")".repeat(2000)),
        format!("1{}", " + 1".repeat(3999)),
        format!("{}true", "!".repeat(4000)),
        format!("{}{}", "[".repeat(2000), "]".repeat(2000)),
        format!("{}1{}", "{1: ".repeat(2000), "}".repeat(2000)),
        format!("'a'{}", " + 'a'".repeat(4000)),
        format!("{}1", "true ? 1 : ".repeat(2000)),
        format!("record{}", ".a".repeat(2000)),
    ];
    for source in hostile {
        let head: String = source.chars().take(12).collect();
        let outcome = on_small_stack(move || Condition::compile(&source).map(|_| ()));
        assert!(outcome.as_ref().is_err_and(|e| e.contains("at most")), "{head}…: {outcome:?}");
    }
}

#[test]
fn the_policy_loader_names_the_key_and_the_limit() {
    let policy = |when: &str, from: &str| {
        format!(
            "[[actions]]\nname = \"fix\"\nsummary = \"s\"\ntable = \"t\"\nkey = \"id\"\nwhen = \"{when}\"\n\
             [actions.fields.state]\nfrom = \"{from}\"\n"
        )
    };
    let text = policy(&format!("{}1{}", "(".repeat(2000), ")".repeat(2000)), &format!("1{}", "+1".repeat(300)));
    let errors = on_small_stack(move || parse_policy("leash.toml", &text).expect_err("refused"));
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            format!(
                "leash.toml:6: actions.fix.when: `when` is nested 2000 levels deep (brackets and `?:`); \
                 at most {CEL_NESTING_MAX} are allowed"
            ),
            format!(
                "leash.toml:8: actions.fix.fields.state.from: `from` has 601 tokens (names, values and operators); \
                 at most {CEL_TOKENS_MAX} are allowed"
            ),
        ]
    );
}

/// `shape(k)` for growing `k` until a limit refuses it: the largest allowed
/// must compile and evaluate on a 2 MiB thread. Returns that largest `k`.
fn largest_allowed(shape: fn(usize) -> String) -> usize {
    on_small_stack(move || {
        let mut k = 1;
        loop {
            match exercise(&shape(k + 1)) {
                Ok(()) => k += 1,
                Err(ConditionError::TooLarge(_)) => return k,
                Err(ConditionError::Invalid(why)) => panic!("{}: {why}", shape(k + 1)),
            }
        }
    })
}

/// A family of expressions, named, by size.
type Shape = (&'static str, fn(usize) -> String);

#[test]
fn the_largest_allowed_expressions_compile_and_evaluate_on_a_2_mib_thread() {
    let nested: [Shape; 5] = [
        ("parentheses", |k| format!("{}record.n{}", "(".repeat(k), ")".repeat(k))),
        ("calls", |k| format!("{}record.s{}", "size(".repeat(k), ")".repeat(k))),
        ("lists", |k| format!("{}record.n{}", "[".repeat(k), "]".repeat(k))),
        ("maps", |k| format!("{}record.n{}", "{'k': ".repeat(k), "}".repeat(k))),
        ("ternaries", |k| format!("{}record.n", "record.flag ? 1 : ".repeat(k))),
    ];
    for (name, shape) in nested {
        assert_eq!(largest_allowed(shape), CEL_NESTING_MAX, "{name}");
    }
    // `record` may name a comprehension's variable; each level is a call,
    // a list and three levels of the tree.
    let comprehensions = |k| format!("{}record == 1{}", "[1].exists(record, ".repeat(k), ")".repeat(k));
    assert!(largest_allowed(comprehensions) >= 6);
    let chains: [Shape; 5] = [
        ("sum inside the deepest parentheses", |k| format!("(((((((({}))))))))", vec!["record.n"; k].join(" + "))),
        ("comparisons", |k| format!("record.n{}", " == record.n".repeat(k))),
        ("members", |k| format!("record.m{}", ".k".repeat(k))),
        ("indexes", |k| format!("record.l{}", "[0]".repeat(k))),
        ("methods", |k| format!("record.s{}", ".size()".repeat(k))),
    ];
    for (name, shape) in chains {
        let k = largest_allowed(shape);
        assert!((CEL_DEPTH_MAX - 4..CEL_DEPTH_MAX).contains(&k), "{name}: {k}");
    }
    let flat: [Shape; 3] = [
        ("and", |k| vec!["record.flag"; k].join(" && ")),
        ("in a list", |k| format!("record.s in [{}]", vec!["'a'"; k].join(", "))),
        ("negations", |k| format!("{}record.flag", "!".repeat(k))),
    ];
    for (name, shape) in flat {
        let k = largest_allowed(shape);
        assert!(k >= CEL_TOKENS_MAX / 4, "{name}: {k}");
    }
}

/// Text within the text limits reaches the parser even when the tree it
/// gives is then refused: the deepest nesting around the longest chain the
/// token limit allows must parse on a 2 MiB thread too.
#[test]
fn the_largest_text_the_parser_sees_parses_on_a_2_mib_thread() {
    let wraps: [(&str, &str); 5] =
        [("(", ")"), ("size(", ")"), ("[", "]"), ("{1: ", "}"), ("[1].exists(record, ", ")")];
    let chains: [fn(usize) -> String; 5] = [
        |n| vec!["1"; n].join("+"),
        |n| vec!["1"; n].join("=="),
        |n| format!("record{}", ".a".repeat(n)),
        |n| vec!["1"; n].join(" in "),
        |n| vec!["1"; n].join("%"),
    ];
    for (open, close) in wraps {
        for chain in chains {
            let (open, close) = (open.repeat(CEL_NESTING_MAX), close.repeat(CEL_NESTING_MAX));
            let outcome = on_small_stack(move || {
                // The longest chain the token limit lets through.
                let texts = (1..CEL_TOKENS_MAX).rev().map(|n| format!("{open}{}{close}", chain(n)));
                let mut outcomes = texts.map(|source| exercise(&source).map_err(|e| e.to_string()));
                outcomes.find(|outcome| !matches!(outcome, Err(e) if e.contains("tokens")))
            });
            assert!(matches!(&outcome, Some(Err(e)) if e.contains("levels deep once parsed")), "{outcome:?}");
        }
    }
}

/// Text made of CEL's pieces, and of the pieces that confuse lexers.
fn soup() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "(",
        "[",
        "{",
        "'",
        "\"",
        "'''",
        "\"\"\"",
        "r'",
        "b\"",
        "br'",
        "\\",
        "\\'",
        "//",
        "\n",
        "`",
        "`a/b`",
        "?",
        ":",
        ",",
        ".",
        "!",
        "-",
        "+",
        "*",
        "/",
        "%",
        "==",
        "<",
        "&&",
        "||",
        " in ",
        "1",
        "0x1",
        "1u",
        "1.5",
        "1e3",
        "true",
        "null",
        "record",
        ".a",
        "record.n",
        "record.s",
        "size",
        "has",
        ".all(",
        ".exists(record, ",
        "x",
        " ",
        "'a'",
        "\"((\"",
        "'))'",
        "é",
    ]);
    prop::collection::vec(piece, 0..300).prop_map(|pieces| pieces.concat())
}

/// Well-formed expressions nested at random, many past the limits.
fn nested() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec!["record.n", "record.s", "record.l", "1", "'(('", "true", "null", "[]", "{}"]);
    leaf.prop_map(str::to_string).prop_recursive(14, 64, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("({e})")),
            inner.clone().prop_map(|e| format!("[{e}]")),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{{k}: {v}}}")),
            inner.clone().prop_map(|e| format!("size({e})")),
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("{e}.a")),
            inner.clone().prop_map(|e| format!("{e}[0]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} + {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} == {b} // ((\n")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("{a} ? {b} : {c}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} in [{b}, r'\\']")),
        ]
    })
}

fn never_crashes<S: Strategy<Value = String> + 'static>(strategy: fn() -> S) {
    let outcome = on_small_stack(move || {
        // More cases than the default: each is quick, and a crash is what matters.
        let mut runner = TestRunner::new(Config::with_cases(10_000));
        runner
            .run(&strategy(), |source| {
                let _ = exercise(&source);
                Ok(())
            })
            .map_err(|e| e.to_string())
    });
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[test]
fn arbitrary_text_is_compiled_or_refused_never_crashed_on() {
    never_crashes(any::<String>);
}

#[test]
fn bracket_soups_are_compiled_or_refused_never_crashed_on() {
    never_crashes(soup);
}

#[test]
fn randomly_nested_expressions_are_compiled_or_refused_never_crashed_on() {
    never_crashes(nested);
}

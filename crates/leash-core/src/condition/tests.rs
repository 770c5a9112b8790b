use super::*;
use serde_json::json;

fn record(v: Value) -> Record {
    v.as_object().cloned().unwrap()
}

#[test]
fn condition_reads_record_fields_and_nulls() {
    let c = Condition::compile("record.deleted_at == null").unwrap();
    assert!(c.eval_bool(&record(json!({"deleted_at": null}))).unwrap());
    assert!(!c.eval_bool(&record(json!({"deleted_at": "2026-01-01"}))).unwrap());
}

#[test]
fn condition_rejects_names_other_than_record() {
    let err = Condition::compile("customer.vip == true").unwrap_err();
    assert!(err.contains("customer"), "{err}");
    assert!(Condition::compile("record.vip ==").is_err());
}

#[test]
fn condition_on_missing_column_is_an_error_not_false() {
    let c = Condition::compile("record.vip == true").unwrap();
    assert!(c.eval_bool(&record(json!({}))).is_err());
}

#[test]
fn common_conditions_compile_to_the_fast_form() {
    for source in [
        "record.deleted_at == null && record.score >= 0",
        "record.flag == true",
        "!(record.status in ['open', 'pending']) || has(record.owner)",
        "record.n > 1.5 ? record.a != 'x' : record.b <= -3",
    ] {
        let c = Condition::compile(source).unwrap();
        assert!(c.compiled.fast.is_some(), "{source}");
    }
    for source in ["size(record.tags) > 0", "record.a + 1 == 2", "record.name.startsWith('A')"] {
        assert!(Condition::compile(source).unwrap().compiled.fast.is_none(), "{source}");
    }
}

#[test]
fn columns_are_those_read_as_record_dot_column() {
    let columns = |s: &str| Condition::compile(s).unwrap().compiled.columns.clone();
    assert_eq!(columns("record.b == 1 && has(record.a) || record.b > 2"), Some(vec!["a".into(), "b".into()]));
    assert_eq!(columns("size(record) > 2"), None);
    assert_eq!(columns("'a' in record"), None);
    assert_eq!(columns("record['a'] == 1"), None);
    assert_eq!(columns("true"), Some(vec![]));
    assert_eq!(columns("record.size == 1"), None, "`size` is also a function");
}

#[test]
fn scan_ignores_brackets_in_strings_and_comments() {
    let shape = |s: &str| bounds::scan(s).unwrap();
    assert_eq!(shape("record.a == '((((((((((('").nesting, 0);
    assert_eq!(shape("record.a == \"\\\"(((((((((\"").nesting, 0);
    assert_eq!(shape("record.a == r'\\' && (true)").nesting, 1);
    assert_eq!(shape("record.a == '''(((\n((((((((('''").nesting, 0);
    assert_eq!(shape("true // ((((((((((((\n && (true)").nesting, 1);
    assert_eq!(shape("`a//b` == ((1))").nesting, 2);
    assert_eq!(shape("a ? b : (c ? d : e)").nesting, 3);
    assert_eq!(shape("record.deleted_at == null && record.score >= 0").tokens, 11);
    assert_eq!(shape("1.5e3 + 2").tokens, 3);
}

#[test]
fn scan_refuses_what_the_lexer_could_read_differently() {
    for source in [
        "record.a == 'unclosed ((((",
        "record.a == '\\q' ((((",
        "record.a == 'line\nbreak'",
        "1r'x'",
        "'''never closed",
        "(]",
        ")",
        "`a`b` == 1",
    ] {
        assert!(bounds::scan(source).is_err(), "{source:?}");
    }
    // The lexer reads `in"x"` as `in` then a string: two tokens.
    assert_eq!(bounds::scan("record.a in\"x\"").map(|s| s.tokens), Ok(5));
}

#[test]
fn scan_counts_the_brackets_the_lexer_sees_after_tricky_strings() {
    let nesting = |s: &str| bounds::scan(s).unwrap().nesting;
    // `bar` is a name, so `\"` is an escape and the string is `"a\""`.
    assert_eq!(nesting(r#"bar"a\"" + ((((((((( 1 ))))))))) + """#), 9);
    // A raw string has no escapes: `r"\"` is a whole string.
    assert_eq!(nesting(r#"r"\" + ((((((((( 1 ))))))))) + """#), 9);
    assert_eq!(nesting("'//' + ((((((((( 1 )))))))))"), 9);
    assert_eq!(nesting("// it's\n((((((((( 1 )))))))))"), 9);
    assert_eq!(nesting("'a''' + ((((((((( 1 )))))))))"), 9);
    assert_eq!(nesting(r#""""a"""" ((((((((( ""#), 0);
    assert_eq!(nesting("é'(((((((((' + (1)"), 1);
}

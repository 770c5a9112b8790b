//! Record values. A record is a map of column name to a JSON value; the store
//! converts database types to and from this shape, the core only compares.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
pub use serde_json::Value;

/// One record as the store loaded it: column → value.
pub type Record = serde_json::Map<String, Value>;

/// What a column holds, as far as the rules care. Each store maps its own
/// type names onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    #[default]
    Text,
    Integer,
    Numeric,
    Boolean,
    Date,
    Timestamp,
    Json,
}

/// Records up to this many columns are searched by comparing names in
/// order: hashing the name (SipHash) costs more than comparing a dozen short
/// keys, and rules and conditions look a column up on every call.
const LINEAR_LOOKUP_COLUMNS_MAX: usize = 16;

/// `record.get(column)`, quicker for the small records tables usually have.
pub fn column<'a>(record: &'a Record, column: &str) -> Option<&'a Value> {
    if record.len() > LINEAR_LOOKUP_COLUMNS_MAX {
        return record.get(column);
    }
    record.iter().find(|(name, _)| name.as_str() == column).map(|(_, value)| value)
}

/// Empty means null or a string of only whitespace.
pub fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        // The same as `s.trim().is_empty()`, stopping at the first letter.
        Value::String(s) => s.chars().all(char::is_whitespace),
        _ => false,
    }
}

/// Equality as a person reads it: `5` equals `5.0`; otherwise exact.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

/// Short human text of a value for messages and tables.
pub fn display(value: &Value) -> String {
    display_text(value).into_owned()
}

/// `display`, borrowing a string's own text instead of copying it.
pub fn display_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::Null => Cow::Borrowed("null"),
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// Converts a caller's value to what the column holds, so that `"42"` from a
/// command line compares equal to the stored integer 42. `None` means the value
/// cannot be stored in that column.
pub fn coerce(value: &Value, column: ColumnType) -> Option<Value> {
    if value.is_null() {
        return Some(Value::Null);
    }
    match column {
        ColumnType::Text | ColumnType::Date | ColumnType::Timestamp => match value {
            Value::String(_) => Some(value.clone()),
            Value::Number(n) => Some(Value::String(n.to_string())),
            Value::Bool(b) => Some(Value::String(b.to_string())),
            _ => None,
        },
        ColumnType::Integer => match value {
            Value::Number(n) if n.is_i64() => Some(value.clone()),
            Value::Number(n) => {
                n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| Value::from(f as i64))
            }
            Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
            Value::Bool(b) => Some(Value::from(*b as i64)),
            _ => None,
        },
        ColumnType::Numeric => match value {
            Value::Number(_) => Some(value.clone()),
            Value::String(s) => {
                let s = s.trim();
                if let Ok(i) = s.parse::<i64>() {
                    Some(Value::from(i))
                } else {
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                }
            }
            _ => None,
        },
        ColumnType::Boolean => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(Value::Bool(false)),
                Some(1) => Some(Value::Bool(true)),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "1" => Some(Value::Bool(true)),
                "false" | "f" | "no" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        },
        // A JSON column's value is the document's text: a string is taken
        // as that text and must parse; anything else is written out.
        ColumnType::Json => match value {
            Value::String(s) => serde_json::from_str::<Value>(s).is_ok().then(|| value.clone()),
            other => Some(Value::String(other.to_string())),
        },
    }
}

/// A stored value as rules and conditions compare it. The store keeps each
/// value in the database's own form (docs/policy.md, Values and types): integers and booleans as
/// JSON numbers and booleans, everything else as the text the database
/// prints. Rules need more: `numeric` text compares as a number, `json`
/// text as the document it holds, and timestamps in one spelling
/// (RFC 3339, UTC: `2026-02-01T11:30:15Z`), so that
/// `timestamp(record.paid_at) < timestamp('2026-01-01T00:00:00Z')` works in
/// CEL whatever the database's own spelling. A text the type cannot read
/// stays as it is.
pub fn typed_view(value: &Value, column: ColumnType) -> Value {
    typed_view_cow(value, column).into_owned()
}

/// `typed_view`, borrowing the value when the view is the value itself
/// (text, dates, and anything a type cannot read): the common case, with
/// nothing to copy.
fn typed_view_cow(value: &Value, column: ColumnType) -> Cow<'_, Value> {
    let same = Cow::Borrowed(value);
    let Value::String(s) = value else {
        return match (column, value) {
            (ColumnType::Boolean, Value::Number(n)) => match n.as_i64() {
                Some(0) => Cow::Owned(Value::Bool(false)),
                Some(1) => Cow::Owned(Value::Bool(true)),
                _ => same,
            },
            _ => same,
        };
    };
    match column {
        ColumnType::Integer | ColumnType::Numeric => number_from_text(s).map_or(same, Cow::Owned),
        ColumnType::Boolean => match s.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "1" | "yes" | "y" | "on" => Cow::Owned(Value::Bool(true)),
            "f" | "false" | "0" | "no" | "n" | "off" => Cow::Owned(Value::Bool(false)),
            _ => same,
        },
        ColumnType::Json => serde_json::from_str(s).map_or(same, Cow::Owned),
        ColumnType::Timestamp => timestamp_rfc3339(s).map_or(same, |t| Cow::Owned(Value::String(t))),
        ColumnType::Text | ColumnType::Date => same,
    }
}

/// Whether two stored values of one column mean the same thing: `12.5` and
/// `12.50` on a numeric column, one instant in two spellings, one JSON
/// document with other spacing.
pub fn same_stored(a: &Value, b: &Value, column: ColumnType) -> bool {
    same_value(a, b) || same_value(&typed_view_cow(a, column), &typed_view_cow(b, column))
}

/// A record with every value in its typed view, for rules and conditions.
pub fn typed_record(record: &Record, column: impl Fn(&str) -> ColumnType) -> Record {
    record.iter().map(|(k, v)| (k.clone(), typed_view(v, column(k)))).collect()
}

fn number_from_text(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some(Value::from(u));
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite()).and_then(serde_json::Number::from_f64).map(Value::Number)
}

/// `2026-02-01 11:30:15+00`, `2026-02-01T11:30:15.5+05:30` or a time with no
/// zone (read as UTC) → `2026-02-01T11:30:15Z` / `…T06:00:15.5Z`.
fn timestamp_rfc3339(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.to_string());
    }
    // PostgreSQL prints offsets as `+00` or `+05:30`; a bare hour offset is
    // not RFC 3339, so complete it.
    let with_minutes = match s.rfind(['+', '-']) {
        Some(i) if i > 10 && s[i + 1..].len() == 2 && s[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{s}:00")
        }
        _ => String::new(),
    };
    if let Ok(ts) = with_minutes.parse::<jiff::Timestamp>() {
        return Some(ts.to_string());
    }
    let civil = s.parse::<jiff::civil::DateTime>().ok()?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerce_turns_command_line_text_into_column_types() {
        assert_eq!(coerce(&json!("42"), ColumnType::Integer), Some(json!(42)));
        assert_eq!(coerce(&json!("4x"), ColumnType::Integer), None);
        assert_eq!(coerce(&json!("12.5"), ColumnType::Numeric), Some(json!(12.5)));
        assert_eq!(coerce(&json!("yes"), ColumnType::Boolean), Some(json!(true)));
        assert_eq!(coerce(&json!(7), ColumnType::Text), Some(json!("7")));
        assert_eq!(coerce(&json!([1]), ColumnType::Text), None);
    }

    #[test]
    fn typed_view_reads_database_text_as_rules_compare_it() {
        assert_eq!(typed_view(&json!("12.50"), ColumnType::Numeric), json!(12.5));
        assert_eq!(typed_view(&json!("t"), ColumnType::Boolean), json!(true));
        assert_eq!(typed_view(&json!(0), ColumnType::Boolean), json!(false));
        assert_eq!(typed_view(&json!("{\"a\": 1}"), ColumnType::Json), json!({"a": 1}));
        for spelling in
            ["2026-02-01 11:30:15+00", "2026-02-01T11:30:15Z", "2026-02-01 13:30:15+02", "2026-02-01 11:30:15"]
        {
            assert_eq!(
                typed_view(&json!(spelling), ColumnType::Timestamp),
                json!("2026-02-01T11:30:15Z"),
                "{spelling}"
            );
        }
        assert_eq!(
            typed_view(&json!("2026-02-01 11:30:15.25+05:30"), ColumnType::Timestamp),
            json!("2026-02-01T06:00:15.25Z")
        );
        assert_eq!(typed_view(&json!("not a time"), ColumnType::Timestamp), json!("not a time"));
        assert!(same_stored(&json!("12.50"), &json!(12.5), ColumnType::Numeric));
        assert!(!same_stored(&json!("12.50"), &json!("12.51"), ColumnType::Numeric));
        assert!(same_stored(&json!("{\"a\":1}"), &json!("{\"a\": 1}"), ColumnType::Json));
        assert!(!same_stored(&json!("abc"), &json!("ABC"), ColumnType::Text));
    }

    #[test]
    fn coerce_keeps_json_as_text_and_refuses_what_does_not_parse() {
        assert_eq!(coerce(&json!({"a": 1}), ColumnType::Json), Some(json!("{\"a\":1}")));
        assert_eq!(coerce(&json!("[1, 2]"), ColumnType::Json), Some(json!("[1, 2]")));
        assert_eq!(coerce(&json!("{bad"), ColumnType::Json), None);
    }

    #[test]
    fn same_value_treats_integer_and_float_forms_as_equal() {
        assert!(same_value(&json!(5), &json!(5.0)));
        assert!(!same_value(&json!("5"), &json!(5)));
        assert!(is_blank(&json!("  ")));
        assert!(!is_blank(&json!(0)));
    }
}

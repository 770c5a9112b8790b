//! Record values. A record is a map of column name to a JSON value; the store
//! converts database types to and from this shape, the core only compares.

use serde::{Deserialize, Serialize};
pub use serde_json::Value;

/// One record as the store loaded it: column → value.
pub type Record = serde_json::Map<String, Value>;

/// What a column holds, as far as the rules care. Each store maps its own
/// type names onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Text,
    Integer,
    Numeric,
    Boolean,
    Date,
    Timestamp,
    Json,
}

/// Empty means null or a string of only whitespace.
pub fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
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
    match value {
        Value::Null => "null".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
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
        ColumnType::Json => Some(value.clone()),
    }
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
    fn same_value_treats_integer_and_float_forms_as_equal() {
        assert!(same_value(&json!(5), &json!(5.0)));
        assert!(!same_value(&json!("5"), &json!(5)));
        assert!(is_blank(&json!("  ")));
        assert!(!is_blank(&json!(0)));
    }
}

//! The breaker's idea of "the same change": per field, the delta for numbers
//! and dates (so every due date moved +30 days is one signature), otherwise
//! the new value.

use sha2::{Digest, Sha256};

use crate::call::FieldChange;
use crate::value::{display, Value};

fn date(v: &Value) -> Option<jiff::civil::Date> {
    v.as_str().and_then(|s| s.get(..10)).and_then(|s| s.parse().ok())
}

/// A readable signature, e.g. `due_date:+30d` or `status=solved`.
pub fn describe(fields: &[FieldChange]) -> String {
    let mut parts: Vec<String> = fields
        .iter()
        .map(|f| match (&f.old, &f.new) {
            (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => format!("{}:{:+}", f.field, b - a),
                _ => format!("{}={}", f.field, display(&f.new)),
            },
            (old, new) => match (date(old), date(new)) {
                (Some(a), Some(b)) => format!("{}:{:+}d", f.field, (b - a).get_days()),
                _ => format!("{}={}", f.field, display(new)),
            },
        })
        .collect();
    parts.sort();
    parts.join(";")
}

/// A fixed-width key for storing the signature.
pub fn key(description: &str) -> String {
    hex::encode(&Sha256::digest(description.as_bytes())[..16])
}

/// The review queue's group of an action's proposals that make "the same
/// change": short enough to type (`leash approve --group G`).
pub fn group(action: &str, description: &str) -> String {
    hex::encode(&Sha256::digest(format!("{action}\n{description}").as_bytes())[..6])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fc(field: &str, old: Value, new: Value) -> FieldChange {
        FieldChange { field: field.into(), old, new }
    }

    #[test]
    fn shifts_by_the_same_amount_share_a_signature() {
        let a = describe(&[fc("due_date", json!("2026-12-01"), json!("2026-12-31"))]);
        let b = describe(&[fc("due_date", json!("2026-11-05"), json!("2026-12-05"))]);
        assert_eq!(a, "due_date:+30d");
        assert_eq!(a, b);
        assert_eq!(describe(&[fc("amount", json!(10), json!(15))]), describe(&[fc("amount", json!(100), json!(105))]));
        assert_ne!(
            describe(&[fc("status", json!("open"), json!("solved"))]),
            describe(&[fc("status", json!("open"), json!("pending"))])
        );
    }
}

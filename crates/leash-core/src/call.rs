//! The call an agent makes (docs/api.md) and its result shape.

use serde::{Deserialize, Serialize};

use crate::codes::{Code, Outcome, ReviewReason};
use crate::policy::{is_identifier, Key};
use crate::value::Value;

pub const REASON_BYTES_MAX: usize = 2_000;
pub const EVIDENCE_BYTES_MAX: usize = 8_000;
pub const VALUE_BYTES_MAX: usize = 10_000;
pub const ID_BYTES_MAX: usize = 128;
pub const FIELDS_PER_CALL_MAX: usize = 64;
/// Columns in one composite key, at most.
pub const KEY_COLUMNS_MAX: usize = 8;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Call {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(default, deserialize_with = "fields_once")]
    pub set: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "expect_once")]
    pub expect: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `set` as a map in which each field appears once: `{"a": 1, "a": 2}` is
/// refused, never read as "the last one wins". For every body with a `set`.
pub fn fields_once<'de, D: serde::Deserializer<'de>>(d: D) -> Result<serde_json::Map<String, Value>, D::Error> {
    d.deserialize_map(FieldsOnce("set"))
}

/// `expect` as `fields_once` reads `set`, or null.
pub fn expect_once<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Map<String, Value>>, D::Error> {
    d.deserialize_option(OptionalFieldsOnce)
}

struct FieldsOnce(&'static str);

impl<'de> serde::de::Visitor<'de> for FieldsOnce {
    type Value = serde_json::Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an object of field names and values")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = serde_json::Map::new();
        while let Some(field) = access.next_key::<String>()? {
            let value: Value = access.next_value()?;
            if map.contains_key(&field) {
                let shown: String = field.chars().take(64).collect();
                return Err(serde::de::Error::custom(format!(
                    "field `{shown}` appears twice in {}; send each field once",
                    self.0
                )));
            }
            map.insert(field, value);
        }
        Ok(map)
    }
}

struct OptionalFieldsOnce;

impl<'de> serde::de::Visitor<'de> for OptionalFieldsOnce {
    type Value = Option<serde_json::Map<String, Value>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an object of field names and values, or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(FieldsOnce("expect")).map(Some)
    }
}

/// A refusal before any rule runs: the call itself is malformed.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
}

impl Refusal {
    pub fn new(code: Code, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into() }
    }
}

fn too_big(what: &str, max: usize) -> Refusal {
    Refusal::new(Code::InvalidInput, format!("{what} is longer than {max} bytes; shorten it"))
}

impl Call {
    /// The record key as text, whether the caller sent `"42"` or `42`.
    pub fn key_text(&self) -> Result<Option<String>, Refusal> {
        if !self.names_record()? {
            return Ok(None);
        }
        Ok(match &self.key {
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        })
    }

    /// Whether the call names a record by `key`: `key_text` without
    /// building the text. A composite key is an object of its columns.
    pub fn names_record(&self) -> Result<bool, Refusal> {
        let part_ok = |v: &Value| match v {
            Value::String(s) => s.len() <= ID_BYTES_MAX && !s.trim().is_empty(),
            Value::Number(_) => true,
            _ => false,
        };
        match &self.key {
            None | Some(Value::Null) => Ok(false),
            Some(v @ (Value::String(_) | Value::Number(_))) if part_ok(v) => Ok(true),
            Some(Value::Object(parts)) if !parts.is_empty() && parts.len() <= KEY_COLUMNS_MAX && parts.values().all(part_ok) => {
                Ok(true)
            }
            Some(_) => Err(Refusal::new(
                Code::InvalidInput,
                "key must be a non-empty string or number of at most 128 bytes, or for a key of several columns an object of them",
            )),
        }
    }

    /// The record key as text in the key's own shape: one column's value,
    /// or for a composite key a JSON array of its columns' values in policy
    /// order (`["1","3402"]`, the journal's spelling). A composite key may be
    /// sent as an object of its columns or as that array's text.
    pub fn key_for(&self, key: &Key) -> Result<Option<String>, Refusal> {
        if !self.names_record()? {
            return Ok(None);
        }
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let shape = || {
            let cols: Vec<String> = key.columns().iter().map(|c| format!("\"{c}\": …")).collect();
            Refusal::new(Code::InvalidInput, format!("name the record by its key: {{{}}}", cols.join(", ")))
        };
        match (&self.key, key.as_single()) {
            (Some(Value::Object(parts)), Some(col)) => match parts.get(col) {
                Some(v) if parts.len() == 1 => Ok(Some(text(v))),
                _ => Err(shape()),
            },
            (Some(v), Some(_)) => Ok(Some(text(v))),
            (Some(Value::Object(parts)), None) => {
                if parts.len() != key.columns().len() {
                    return Err(shape());
                }
                let values: Option<Vec<String>> = key.columns().iter().map(|c| parts.get(c).map(text)).collect();
                let values = values.ok_or_else(shape)?;
                Ok(Some(serde_json::to_string(&values).unwrap_or_default()))
            }
            (Some(Value::String(s)), None) => key.parts(s).map(|p| Some(key.text(p))).ok_or_else(shape),
            _ => Err(shape()),
        }
    }

    /// Shape checks that need no policy: sizes, types, ranges.
    pub fn check_shape(&self) -> Result<(), Refusal> {
        self.names_record()?;
        if self.set.len() > FIELDS_PER_CALL_MAX {
            return Err(Refusal::new(Code::InvalidInput, format!("set names more than {FIELDS_PER_CALL_MAX} fields")));
        }
        let maps = std::iter::once(&self.set).chain(self.expect.iter());
        for (field, value) in maps.flat_map(|m| m.iter()) {
            if !is_identifier(field) {
                return Err(Refusal::new(Code::InvalidInput, format!("`{field}` is not a field name")));
            }
            match value {
                Value::Array(_) | Value::Object(_) => {
                    return Err(Refusal::new(
                        Code::InvalidInput,
                        format!("{field}: values must be text, numbers, true/false or null"),
                    ))
                }
                Value::String(s) if s.len() > VALUE_BYTES_MAX => return Err(too_big(field, VALUE_BYTES_MAX)),
                Value::String(s) if s.contains('\0') => {
                    return Err(Refusal::new(
                        Code::InvalidInput,
                        format!("{field}: text may not contain NUL characters"),
                    ))
                }
                _ => {}
            }
        }
        let texts = [
            ("reason", &self.reason, REASON_BYTES_MAX),
            ("evidence", &self.evidence, EVIDENCE_BYTES_MAX),
            ("run_id", &self.run_id, ID_BYTES_MAX),
            ("idempotency_key", &self.idempotency_key, ID_BYTES_MAX),
        ];
        for (name, text, max) in texts {
            if text.as_ref().is_some_and(|t| t.len() > max) {
                return Err(too_big(name, max));
            }
        }
        // Selections trim what they are given, so a run id with spaces around
        // it (or nothing but spaces) could never be selected again.
        if let Some(run) = &self.run_id {
            if run.trim().is_empty() || run.trim() != run {
                return Err(Refusal::new(
                    Code::InvalidInput,
                    "run_id may not be blank or start or end with spaces; send the run's name as it is",
                ));
            }
        }
        if let Some(c) = self.confidence {
            if !(0.0..=1.0).contains(&c) {
                return Err(Refusal::new(Code::InvalidInput, format!("confidence {c} must be between 0 and 1")));
            }
        }
        Ok(())
    }
}

/// One field of a change: what it was and what it becomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// What every caller gets back (docs/api.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    pub outcome: Outcome,
    pub change_id: Option<String>,
    pub proposal_id: Option<String>,
    pub code: Option<Code>,
    pub message: String,
    pub reasons: Vec<ReviewReason>,
    pub notes: Vec<String>,
    pub fields: Vec<FieldChange>,
}

impl CallResult {
    /// The bare answer of one outcome; the constructors below fill it in.
    fn of(outcome: Outcome, message: impl Into<String>) -> CallResult {
        CallResult {
            outcome,
            change_id: None,
            proposal_id: None,
            code: None,
            message: message.into(),
            reasons: Vec::new(),
            notes: Vec::new(),
            fields: Vec::new(),
        }
    }

    pub fn rejected(code: Code, message: impl Into<String>) -> CallResult {
        CallResult { code: Some(code), ..CallResult::of(Outcome::Rejected, message) }
    }

    /// Nothing written: the record already holds these values.
    pub fn unchanged(message: impl Into<String>) -> CallResult {
        CallResult::of(Outcome::Unchanged, message)
    }

    /// A change written: its id and the fields as the database stored them.
    pub fn applied(change_id: String, fields: Vec<FieldChange>, message: impl Into<String>) -> CallResult {
        CallResult { change_id: Some(change_id), fields, ..CallResult::of(Outcome::Applied, message) }
    }

    /// A proposal waiting for a person (`suggested`: the action is in suggest mode).
    pub fn proposed(
        proposal_id: String,
        suggested: bool,
        message: impl Into<String>,
        reasons: Vec<ReviewReason>,
        notes: Vec<String>,
        fields: Vec<FieldChange>,
    ) -> CallResult {
        let outcome = if suggested { Outcome::Suggested } else { Outcome::PendingReview };
        CallResult { proposal_id: Some(proposal_id), reasons, notes, fields, ..CallResult::of(outcome, message) }
    }

    /// This answer, as the decision on a proposal.
    pub fn for_proposal(self, proposal_id: &str) -> CallResult {
        CallResult { proposal_id: Some(proposal_id.to_string()), ..self }
    }
}

impl From<Refusal> for CallResult {
    fn from(r: Refusal) -> CallResult {
        CallResult::rejected(r.code, r.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_in_a_call_are_refused_by_the_parser() {
        let err = serde_json::from_value::<Call>(json!({"key": "1", "set": {}, "sql": "x"})).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn a_field_sent_twice_is_refused_not_last_wins() {
        let err = serde_json::from_str::<Call>(r#"{"set": {"a": 1, "a": 2}}"#).unwrap_err();
        assert!(err.to_string().contains("field `a` appears twice in set"), "{err}");
        let err = serde_json::from_str::<Call>(r#"{"expect": {"b": 1, "b": 1}}"#).unwrap_err();
        assert!(err.to_string().contains("field `b` appears twice in expect"), "{err}");
        let ok = serde_json::from_str::<Call>(r#"{"set": {"a": 1, "b": 2}, "expect": null}"#).unwrap();
        assert_eq!((ok.set.len(), ok.expect), (2, None));
    }

    #[test]
    fn shape_check_refuses_nested_values_and_huge_text() {
        let mut call = Call { key: Some(json!(1)), ..Call::default() };
        call.set.insert("tags".into(), json!(["a"]));
        assert_eq!(call.check_shape().unwrap_err().code, Code::InvalidInput);
        call.set.insert("tags".into(), json!("x".repeat(VALUE_BYTES_MAX + 1)));
        assert_eq!(call.check_shape().unwrap_err().code, Code::InvalidInput);
        call.set.insert("tags".into(), json!("ok"));
        call.confidence = Some(1.5);
        assert_eq!(call.check_shape().unwrap_err().code, Code::InvalidInput);
        call.confidence = None;
        for run in [" ", "", " night", "night "] {
            call.run_id = Some(run.into());
            assert_eq!(call.check_shape().unwrap_err().code, Code::InvalidInput, "{run:?}");
        }
        call.run_id = Some("night shift".into());
        assert!(call.check_shape().is_ok());
    }
}

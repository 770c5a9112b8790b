//! JSON Schemas generated from the policy: what an action's call may contain
//! (`inputSchema` for MCP, the request body in OpenAPI) and the result shape.

use serde_json::{json, Map, Value};

use crate::codes::{Code, Outcome, ReviewReason};
use crate::policy::{Action, Bound, Kind};

/// Field → the values its `exists_in` table holds, when few enough to list.
pub type ClosedSets = std::collections::BTreeMap<String, Vec<Value>>;

/// At most this many values of an `exists_in` column become a schema's enum.
pub const CLOSED_SET_ENUM_MAX: usize = 100;

fn field_schema(rule: &crate::policy::FieldRule, sets: &ClosedSets) -> Value {
    let mut s = Map::new();
    if let Some(values) = rule.one_of.as_ref().or_else(|| sets.get(&rule.name)) {
        s.insert("enum".into(), Value::Array(values.clone()));
    }
    match &rule.range {
        Some((Bound::Number(lo), Bound::Number(hi))) => {
            s.insert("type".into(), json!("number"));
            s.insert("minimum".into(), json!(lo));
            s.insert("maximum".into(), json!(hi));
        }
        Some((Bound::Date(lo), Bound::Date(hi))) => {
            s.insert("type".into(), json!("string"));
            s.insert("format".into(), json!("date"));
            s.insert("description".into(), json!(format!("a date from {lo} to {hi}")));
        }
        _ => {}
    }
    if let Some(p) = &rule.pattern {
        s.insert("pattern".into(), json!(p.as_str()));
    }
    if let Some(n) = rule.max_len {
        s.insert("maxLength".into(), json!(n));
    }
    let mut notes = Vec::new();
    if rule.only_if_empty {
        notes.push("only fills a blank field".to_string());
    }
    if let (true, Some(f)) = (rule.mechanical, rule.format) {
        notes.push(format!("only a rewrite of the same {} in standard form lands directly", f.as_str()));
    }
    if let Some(kind) = rule.sensitive {
        notes.push(format!("{} field: always reviewed by a person", kind.as_str()));
    }
    if rule.unique {
        notes.push("a value another record already holds goes to a person".to_string());
    }
    if let Some(set) = &rule.exists_in {
        notes.push(format!("must be a {} of an existing {} record", set.column, set.table));
    }
    if let Some(above) = &rule.review_above {
        notes.push(format!("above {above} goes to a person"));
    }
    if let Some(below) = &rule.review_below {
        notes.push(format!("below {below} goes to a person"));
    }
    if !notes.is_empty() {
        let notes = notes.join("; ");
        // A date range already describes the field: the notes follow it.
        let text = match s.get("description").and_then(Value::as_str) {
            Some(range) => format!("{range}; {notes}"),
            None => notes,
        };
        s.insert("description".into(), json!(text));
    }
    if !rule.allow_blank && !s.contains_key("type") && !s.contains_key("enum") {
        s.insert("type".into(), json!(["string", "number", "boolean"]));
    }
    Value::Object(s)
}

/// The body of a call to this action.
pub fn call_schema(action: &Action) -> Value {
    call_schema_with(action, &ClosedSets::new())
}

/// `call_schema`, with the values of `exists_in` sets read from the database.
pub fn call_schema_with(action: &Action, sets: &ClosedSets) -> Value {
    let fields: Map<String, Value> = action.fields.iter().map(|f| (f.name.clone(), field_schema(f, sets))).collect();
    let mut props = Map::new();
    let mut required = vec![json!("set")];
    if action.kind == Kind::Update {
        let key = match action.key.as_single() {
            Some(col) => {
                json!({"type": ["string", "integer"], "description": format!("the {col} of the record in {}", action.table)})
            }
            None => {
                let cols: Map<String, Value> =
                    action.key.columns().iter().map(|c| (c.clone(), json!({"type": ["string", "integer"]}))).collect();
                json!({"type": "object", "properties": cols, "required": action.key.columns(), "additionalProperties": false,
                       "description": format!("the record in {}, by its key columns {}", action.table, action.key)})
            }
        };
        props.insert("key".into(), key);
        required.push(json!("key"));
    }
    props.insert(
        "set".into(),
        json!({"type": "object", "properties": fields, "additionalProperties": false, "minProperties": 1,
               "description": "the fields to write and their new values"}),
    );
    props.insert("reason".into(), json!({"type": "string", "maxLength": crate::call::REASON_BYTES_MAX, "description": "why this change is right, in a sentence"}));
    props.insert("evidence".into(), json!({"type": "string", "maxLength": crate::call::EVIDENCE_BYTES_MAX, "description": "what you saw that supports it"}));
    props.insert("confidence".into(), json!({"type": "number", "minimum": 0, "maximum": 1}));
    props.insert("expect".into(), json!({"type": "object", "description": "field values you read; the call is refused if the record changed since"}));
    props.insert("run_id".into(), json!({"type": "string", "maxLength": crate::call::ID_BYTES_MAX, "description": "the job this call belongs to"}));
    props.insert("idempotency_key".into(), json!({"type": "string", "maxLength": crate::call::ID_BYTES_MAX, "description": "a retry with the same key returns the first outcome"}));
    if action.requires_reason {
        required.push(json!("reason"));
    }
    if action.requires_evidence {
        required.push(json!("evidence"));
    }
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// The result of every call (docs/api.md).
pub fn result_schema() -> Value {
    let outcomes: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let reasons: Vec<&str> = ReviewReason::ALL.iter().map(|r| r.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "outcome": {"type": "string", "enum": outcomes},
            "change_id": {"type": ["string", "null"]},
            "proposal_id": {"type": ["string", "null"]},
            "code": {"type": ["string", "null"], "enum": codes.iter().map(|c| json!(c)).chain([Value::Null]).collect::<Vec<_>>()},
            "message": {"type": "string"},
            "reasons": {"type": "array", "items": {"type": "string", "enum": reasons}},
            "notes": {"type": "array", "items": {"type": "string"}},
            "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "old": {}, "new": {}}, "required": ["field", "old", "new"]}}
        },
        "required": ["outcome", "change_id", "proposal_id", "code", "message", "reasons", "notes", "fields"]
    })
}

/// One sentence for a tool or endpoint description: the summary, the limits,
/// and what goes to a person.
pub fn describe(action: &Action) -> String {
    let mut parts = vec![action.summary.trim_end_matches('.').to_string()];
    let mut limits = Vec::new();
    if let Some(n) = action.limits.per_run_max {
        limits.push(format!("at most {n} records per run"));
    }
    if let Some(n) = action.limits.per_hour_max {
        limits.push(format!("{n} per hour"));
    }
    if let Some(w) = &action.limits.window {
        limits.push(format!("only during {}", w.source));
    }
    if !limits.is_empty() {
        parts.push(format!("Limits: {}", limits.join(", ")));
    }
    let mut review = Vec::new();
    match action.mode {
        crate::policy::Mode::Suggest => review.push("every call becomes a suggestion for a person".to_string()),
        crate::policy::Mode::Review => review.push("a person approves every call".to_string()),
        crate::policy::Mode::Direct => {}
    }
    if action.review_if.is_some() {
        review.push(action.review_note.clone().unwrap_or_else(|| "some records always go to a person".into()));
    }
    if action.fields.iter().any(|f| f.sensitive.is_some()) {
        review.push("changes to sensitive fields".into());
    }
    if action.fields.iter().any(|f| f.mechanical) {
        review.push("anything that is more than a rewrite in standard form".into());
    }
    let unique: Vec<&str> = action.fields.iter().filter(|f| f.unique).map(|f| f.name.as_str()).collect();
    if !unique.is_empty() {
        review.push(format!("the same {} as another record", unique.join(" or ")));
    }
    for f in &action.fields {
        match (&f.review_above, &f.review_below) {
            (Some(above), Some(below)) => review.push(format!("{} above {above} or below {below}", f.name)),
            (Some(above), None) => review.push(format!("{} above {above}", f.name)),
            (None, Some(below)) => review.push(format!("{} below {below}", f.name)),
            (None, None) => {}
        }
    }
    if let Some(c) = action.review.below_confidence {
        review.push(format!("calls with confidence under {c}"));
    }
    if !review.is_empty() {
        parts.push(format!("Goes to review: {}", review.join("; ")));
    }
    let sets: Vec<String> = action
        .fields
        .iter()
        .filter_map(|f| {
            f.exists_in.as_ref().map(|set| format!("{} must name an existing {} ({})", f.name, set.table, set.column))
        })
        .collect();
    if !sets.is_empty() {
        parts.push(sets.join("; "));
    }
    if action.requires_reason || action.requires_evidence {
        let what: Vec<&str> =
            [action.requires_reason.then_some("reason"), action.requires_evidence.then_some("evidence")]
                .into_iter()
                .flatten()
                .collect();
        parts.push(format!("Requires {}", what.join(" and ")));
    }
    format!("{}.", parts.join(". "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_say_what_unique_exists_in_and_thresholds_do() {
        let policy = crate::policy::parse_policy(
            "leash.toml",
            r#"
[[actions]]
name = "set_track"
summary = "Set a track's genre and price."
table = "Track"
key = "TrackId"
mode = "direct"
  [actions.fields.GenreId]
  exists_in = "Genre.GenreId"
  [actions.fields.UnitPrice]
  review_above = 5
  review_below = 0.5
  [actions.fields.Isrc]
  unique = true
"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let action = &policy.actions[0];
        assert_eq!(
            describe(action),
            "Set a track's genre and price. Goes to review: the same Isrc as another record; \
             UnitPrice above 5 or below 0.5. GenreId must name an existing Genre (GenreId)."
        );
        let set = &call_schema(action)["properties"]["set"]["properties"];
        assert_eq!(set["GenreId"]["description"], "must be a GenreId of an existing Genre record");
        assert_eq!(set["UnitPrice"]["description"], "above 5 goes to a person; below 0.5 goes to a person");
        assert_eq!(set["Isrc"]["description"], "a value another record already holds goes to a person");
    }
}

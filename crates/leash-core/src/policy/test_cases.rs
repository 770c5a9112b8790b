//! `leash.test.toml`, the file `leash test` runs: a policy's test cases — a
//! record, a call, the expected outcome — so a team can pin down what a
//! policy does before trusting it.

use serde::Serialize;

use super::load::{item_json, PolicyError};
use crate::call::Call;
use crate::codes::{Code, Outcome, ReviewReason};
use crate::value::{Record, Value};

#[derive(Debug, Clone, Serialize)]
pub struct Expect {
    pub outcome: Outcome,
    pub code: Option<Code>,
    /// Every listed reason must be among the call's reasons.
    pub reasons: Vec<ReviewReason>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestCase {
    pub name: String,
    pub line: usize,
    pub action: String,
    /// The record the call names (for `append`, may be empty).
    pub record: Record,
    /// Other rows to put in the action's table first (e.g. for `unique`).
    pub rows: Vec<Record>,
    pub call: Call,
    /// The instant the call runs at (windows, hours); default: now.
    pub at: Option<String>,
    pub expect: Expect,
}

const CASE_KEYS: &[&str] = &["name", "action", "record", "rows", "call", "at", "expect"];

pub fn parse_test_cases(file: &str, text: &str) -> Result<Vec<TestCase>, Vec<PolicyError>> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let err = |line: usize, key: String, message: String| PolicyError { file: file.into(), line, key, message };
    let doc = toml_edit::Document::parse(text.to_string()).map_err(|e| {
        vec![err(e.span().map(|s| line_of(s.start)).unwrap_or(1), "(syntax)".into(), e.message().trim().into())]
    })?;
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    for (k, _) in doc.iter().filter(|(k, _)| *k != "cases") {
        errors.push(err(1, k.to_string(), "unknown key; a test file holds only [[cases]]".into()));
    }
    let Some(tables) = doc.get("cases").and_then(|i| i.as_array_of_tables()) else {
        errors.push(err(1, "cases".into(), "no [[cases]] in the file".into()));
        return Err(errors);
    };
    for (i, t) in tables.iter().enumerate() {
        let line = t.span().map(|s| line_of(s.start)).unwrap_or(1);
        let json = item_json(&toml_edit::Item::Table(t.clone()));
        let name =
            json.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("case {}", i + 1));
        let at = |key: &str| format!("cases[{i}].{key}");
        for k in json.as_object().into_iter().flat_map(|o| o.keys()) {
            if !CASE_KEYS.contains(&k.as_str()) {
                errors.push(err(line, at(k), format!("unknown key; expected one of: {}", CASE_KEYS.join(", "))));
            }
        }
        let action = json.get("action").and_then(Value::as_str).map(str::to_string);
        let record = json.get("record").and_then(Value::as_object).cloned().unwrap_or_default();
        let rows: Vec<Record> = json
            .get("rows")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|r| r.as_object().cloned()).collect())
            .unwrap_or_default();
        let call = match json.get("call").map(|c| serde_json::from_value::<Call>(c.clone())) {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                errors.push(err(line, at("call"), format!("not a call: {e}")));
                None
            }
            None => {
                errors.push(err(
                    line,
                    at("call"),
                    "missing; e.g. call = { key = \"1\", set = { status = \"open\" } }".into(),
                ));
                None
            }
        };
        let expect = json.get("expect").and_then(Value::as_object);
        let outcome = expect.and_then(|e| e.get("outcome")).and_then(Value::as_str).and_then(Outcome::parse);
        let code = expect.and_then(|e| e.get("code")).and_then(Value::as_str);
        let code_parsed = code.map(Code::parse);
        let reasons: Vec<Option<ReviewReason>> = expect
            .and_then(|e| e.get("reasons"))
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|r| r.as_str().and_then(ReviewReason::parse)).collect())
            .unwrap_or_default();
        if outcome.is_none() {
            errors.push(err(
                line,
                at("expect.outcome"),
                format!(
                    "missing or unknown; one of: {}",
                    Outcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if let Some(None) = code_parsed {
            errors.push(err(line, at("expect.code"), format!("`{}` is not an error code", code.unwrap_or_default())));
        }
        if reasons.iter().any(Option::is_none) {
            errors.push(err(line, at("expect.reasons"), "holds a name that is not a review reason".into()));
        }
        if action.is_none() {
            errors.push(err(line, at("action"), "missing: name the action the call uses".into()));
        }
        if let (Some(action), Some(call), Some(outcome)) = (action, call, outcome) {
            cases.push(TestCase {
                name,
                line,
                action,
                record,
                rows,
                call,
                at: json.get("at").and_then(Value::as_str).map(str::to_string),
                expect: Expect {
                    outcome,
                    code: code_parsed.flatten(),
                    reasons: reasons.into_iter().flatten().collect(),
                },
            });
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

//! CEL conditions (`when`, `locked_if`, `review_if`, `from`), compiled once when
//! the policy loads. Expressions see one variable, `record`: the loaded row.

use std::sync::{Arc, LazyLock};

use crate::value::{Record, Value};

/// CEL's standard functions, registered once: building them is most of the
/// cost of a fresh context, and every evaluation only adds `record` on top.
static STANDARD: LazyLock<cel_interpreter::Context<'static>> = LazyLock::new(cel_interpreter::Context::default);

/// A record converted to CEL's value type.
pub struct Prepared {
    value: Result<cel_interpreter::Value, String>,
}

impl Prepared {
    pub fn new(record: &Record) -> Prepared {
        Prepared { value: cel_interpreter::to_value(record).map_err(|e| e.to_string()) }
    }
}

#[derive(Clone)]
pub struct Condition {
    source: String,
    program: Arc<cel_interpreter::Program>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Condition({:?})", self.source)
    }
}

impl Condition {
    pub fn compile(source: &str) -> Result<Condition, String> {
        // The CEL parser can panic on some malformed input instead of
        // returning an error; a broken policy must still get a clear message.
        let compiled = std::panic::catch_unwind(|| cel_interpreter::Program::compile(source))
            .map_err(|_| "the expression is incomplete or malformed".to_string())?;
        let program = compiled.map_err(|e| {
            let text = e.to_string();
            text.lines().next().unwrap_or("syntax error").trim().to_string()
        })?;
        let unknown: Vec<String> =
            program.references().variables().into_iter().filter(|v| *v != "record").map(str::to_string).collect();
        if !unknown.is_empty() {
            return Err(format!("unknown name {}; conditions may only use `record.<column>`", unknown.join(", ")));
        }
        Ok(Condition { source: source.to_string(), program: Arc::new(program) })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a JSON value. An error usually means the record lacks a
    /// column the expression reads; callers treat that as missing context.
    pub fn eval(&self, record: &Record) -> Result<Value, String> {
        self.eval_on(&Prepared::new(record))
    }

    /// Like `eval`, on a record already converted for CEL (once per call,
    /// however many conditions read it).
    pub fn eval_on(&self, record: &Prepared) -> Result<Value, String> {
        let record_value = record.value.clone().map_err(|e| e.clone())?;
        let mut context = STANDARD.new_inner_scope();
        context.add_variable_from_value("record", record_value);
        let program = &self.program;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| program.execute(&context)))
            .map_err(|_| "evaluation failed".to_string())?
            .map_err(|e| e.to_string())?;
        result.json().map_err(|e| e.to_string())
    }

    pub fn eval_bool(&self, record: &Record) -> Result<bool, String> {
        self.eval_bool_on(&Prepared::new(record))
    }

    pub fn eval_bool_on(&self, record: &Prepared) -> Result<bool, String> {
        match self.eval_on(record)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!("`{}` gave {other}, not true or false", self.source)),
        }
    }
}

#[cfg(test)]
mod tests {
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
}

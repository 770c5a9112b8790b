//! `leash test`: runs each case of a policy test file on a throw-away SQLite
//! copy of the action's table, so a policy can be checked without touching
//! the real database.

use std::sync::Arc;

use leash_core::call::{CallResult, FieldChange};
use leash_core::policy::test_cases::TestCase;
use leash_core::policy::{Action, Kind, Policy};
use leash_core::value::{ColumnType, Value};
use leash_store::{Store, TableSchema};
use serde::Serialize;

use crate::{Caller, Clock, Engine, EngineError, Result, Role};

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub line: usize,
    pub passed: bool,
    /// Why it failed, in a sentence.
    pub problem: Option<String>,
    pub result: Option<CallResult>,
}

fn inferred_type(v: Option<&Value>) -> ColumnType {
    match v {
        Some(Value::Bool(_)) => ColumnType::Boolean,
        Some(Value::Number(n)) if n.is_i64() => ColumnType::Integer,
        Some(Value::Number(_)) => ColumnType::Numeric,
        _ => ColumnType::Text,
    }
}

/// `CREATE TABLE` for the copy: the live table's columns when known, else
/// the columns the action and the case name, typed from the case's values.
fn create_table(action: &Action, live: Option<&TableSchema>, case: &TestCase) -> String {
    let mut cols: Vec<(String, ColumnType)> = match live {
        Some(t) => t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
        None => {
            let mut names: Vec<String> = action.columns().into_iter().map(str::to_string).collect();
            for r in case.rows.iter().chain(std::iter::once(&case.record)) {
                names.extend(r.keys().cloned());
            }
            names.sort();
            names.dedup();
            names
                .into_iter()
                .map(|n| {
                    let sample = std::iter::once(&case.record).chain(case.rows.iter()).find_map(|r| r.get(&n));
                    let ty = if action.key == *n.as_str() && action.kind == Kind::Append {
                        ColumnType::Integer
                    } else {
                        inferred_type(sample)
                    };
                    (n, ty)
                })
                .collect()
        }
    };
    cols.retain(|(n, _)| leash_core::policy::is_identifier(n));
    let key_assigned = action.kind == Kind::Append;
    leash_store::sqlite_copy_ddl(copy_table(action), &cols, &action.key, key_assigned)
}

/// The copy's table: a schema-qualified name (`crm.customers`) becomes its
/// last part, since the copy is one SQLite file with no schemas.
fn copy_table(action: &Action) -> &str {
    action.table.rsplit('.').next().unwrap_or(&action.table)
}

async fn run_case(policy: &Policy, case: &TestCase, live: Option<&TableSchema>) -> Result<CaseResult> {
    let fail = |problem: String| CaseResult {
        name: case.name.clone(),
        line: case.line,
        passed: false,
        problem: Some(problem),
        result: None,
    };
    let Some(action) = policy.action(&case.action) else {
        return Ok(fail(format!("the policy has no action `{}`", case.action)));
    };
    let dir = std::env::temp_dir().join(format!("leash-test-{}", ulid::Ulid::new().to_string().to_lowercase()));
    std::fs::create_dir_all(&dir).map_err(|e| EngineError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    let outcome = async {
        let store: Arc<dyn Store> =
            Arc::from(leash_store::open(&format!("sqlite://{}", dir.join("copy.db").display())).await?);
        store.execute_script(&[&create_table(action, live, case)]).await?;
        let schema = store
            .table_schema(copy_table(action))
            .await?
            .ok_or_else(|| EngineError::Invalid(format!("could not create a copy of {}", action.table)))?;
        let mut tx = store.begin().await?;
        for row in case.rows.iter().chain((!case.record.is_empty()).then_some(&case.record)) {
            // A plain key is given to the insert; a composite one's columns
            // are fields of the row.
            let key = action.key.as_single().and_then(|k| row.get(k)).map(leash_core::value::display);
            let fields: Vec<FieldChange> = row
                .iter()
                .filter(|(k, _)| action.key != *k.as_str() || key.is_none())
                .map(|(k, v)| FieldChange { field: k.clone(), old: Value::Null, new: v.clone() })
                .collect();
            tx.insert_record(&schema, &action.key, key.as_deref(), &fields).await?;
        }
        tx.commit().await?;
        let copy = Action { table: copy_table(action).to_string(), ..action.clone() };
        let only = Policy { actions: vec![copy], ..policy.clone() };
        let clock = match case.at.as_deref().map(str::parse::<jiff::Timestamp>) {
            Some(Ok(t)) => Clock::fixed(t),
            Some(Err(e)) => return Err(EngineError::Invalid(format!("case `{}`: `at` is not a time: {e}", case.name))),
            None => Clock::system(),
        };
        let engine = Engine::open(only, store).await?.with_clock(clock);
        // The copy is throw-away: approving its one action here is what lets
        // the case run exactly as the approved policy would.
        engine.approve_policy(&Caller::local("policy-test"), Some("leash test")).await?;
        let caller = Caller { name: "policy-test".into(), role: Role::Agent, actions: Vec::new() };
        engine.call(&caller, &action.name, case.call.clone()).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let result = match outcome {
        Ok(r) => r,
        Err(e) => return Ok(fail(format!("could not run: {e}"))),
    };
    let e = &case.expect;
    let mut problems = Vec::new();
    if result.outcome != e.outcome {
        problems.push(format!("expected {}, got {}", e.outcome, result.outcome));
    }
    if e.code.is_some() && result.code != e.code {
        let got = result.code.map(|c| c.as_str()).unwrap_or("no code");
        problems.push(format!("expected code {}, got {got}", e.code.map(|c| c.as_str()).unwrap_or("")));
    }
    for r in &e.reasons {
        if !result.reasons.contains(r) {
            problems.push(format!("expected reason {r}"));
        }
    }
    if !problems.is_empty() && !result.message.is_empty() {
        problems.push(format!("leash said: {}", result.message));
    }
    Ok(CaseResult {
        name: case.name.clone(),
        line: case.line,
        passed: problems.is_empty(),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
        result: Some(result),
    })
}

/// Runs every case. `live` names the real database, whose tables' columns
/// the copies take when it is reachable.
pub async fn run_test_cases(policy: &Policy, cases: &[TestCase], live: Option<&str>) -> Result<Vec<CaseResult>> {
    let live = match live {
        Some(url) => leash_store::open(url).await.ok(),
        None => None,
    };
    let live = live.as_deref();
    let mut out = Vec::new();
    for case in cases {
        let schema = match (live, policy.action(&case.action)) {
            (Some(store), Some(a)) => store.table_schema(&a.table).await.ok().flatten(),
            _ => None,
        };
        out.push(run_case(policy, case, schema.as_ref()).await?);
    }
    Ok(out)
}

//! The policy against the live schema: every table and column exists, keys
//! are unique, and rules fit the column types. Run once at start, never per call.

use std::collections::HashMap;

use leash_core::policy::{Action, Bound, FieldRule, Kind, Policy};
use leash_core::rules::ADDRESS_PART_COLUMNS;
use leash_core::value::{coerce, ColumnType};
use leash_store::{Store, TableSchema};
use serde::Serialize;

use crate::Result;

#[derive(Debug, Clone, Serialize)]
pub struct SchemaIssue {
    pub line: usize,
    pub key: String,
    pub message: String,
    /// Worth knowing, but the policy still runs (`serve` starts).
    pub warning: bool,
}

impl std::fmt::Display for SchemaIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.warning { "warning: " } else { "" };
        write!(f, "line {}: {}: {what}{}", self.line, self.key, self.message)
    }
}

pub(crate) async fn load_schemas(policy: &Policy, store: &dyn Store) -> Result<HashMap<String, TableSchema>> {
    let mut schemas = HashMap::new();
    // The actions' tables, and the tables their `exists_in` sets live in.
    let sets = policy.actions.iter().flat_map(|a| a.fields.iter().filter_map(|f| f.exists_in.as_ref()));
    let tables: Vec<&str> =
        policy.actions.iter().map(|a| a.table.as_str()).chain(sets.map(|e| e.table.as_str())).collect();
    for table in tables {
        if !schemas.contains_key(table) {
            if let Some(schema) = store.table_schema(table).await? {
                schemas.insert(table.to_string(), schema);
            }
        }
    }
    Ok(schemas)
}

/// Every mismatch between the policy and the database, for `leash check`.
pub async fn check_schema(policy: &Policy, store: &dyn Store) -> Result<Vec<SchemaIssue>> {
    Ok(issues(policy, &load_schemas(policy, store).await?))
}

pub(crate) fn issues(policy: &Policy, schemas: &HashMap<String, TableSchema>) -> Vec<SchemaIssue> {
    let mut out = Vec::new();
    for a in &policy.actions {
        let Some(table) = schemas.get(&a.table) else {
            out.push(error(a.line, at(a, "table"), format!("the database has no table `{}`", a.table)));
            continue;
        };
        key_issues(a, table, &mut out);
        for col in a.read.iter().filter(|c| table.column(c).is_none()) {
            out.push(error(a.line, at(a, "read"), format!("table {} has no column `{col}`", a.table)));
        }
        for rule in &a.fields {
            field_issues(a, rule, table, &mut out);
            exists_in_issues(a, rule, schemas, &mut out);
        }
        sight_warnings(a, table, &mut out);
        for col in unfilled_columns(a, table) {
            out.push(SchemaIssue {
                line: a.line,
                key: at(a, "fields"),
                message: format!(
                    "column {col} is NOT NULL and has no default, but {} does not list it: every row it adds would be refused; add [actions.fields.{col}]",
                    a.name
                ),
                warning: true,
            });
        }
    }
    out
}

fn error(line: usize, key: String, message: String) -> SchemaIssue {
    SchemaIssue { line, key, message, warning: false }
}

fn at(a: &Action, key: &str) -> String {
    format!("actions.{}.{key}", a.name)
}

/// The key column exists and, for updates, names one record.
fn key_issues(a: &Action, table: &TableSchema, out: &mut Vec<SchemaIssue>) {
    match table.column(&a.key) {
        None => out.push(error(a.line, at(a, "key"), format!("table {} has no column `{}`", a.table, a.key))),
        Some(_) if a.kind == Kind::Update && !table.unique_columns.contains(&a.key) => out.push(error(
            a.line,
            at(a, "key"),
            format!(
                "`{}` is not unique in {} (no primary key or unique index on it alone); a key must name one record",
                a.key, a.table
            ),
        )),
        Some(_) => {}
    }
}

/// One field's column: it exists, may be written, and fits the rules.
fn field_issues(a: &Action, rule: &FieldRule, table: &TableSchema, out: &mut Vec<SchemaIssue>) {
    let key = at(a, &format!("fields.{}", rule.name));
    let mut issue = |suffix: &str, message: String| out.push(error(rule.line, format!("{key}{suffix}"), message));
    let Some(col) = table.column(&rule.name) else {
        issue("", format!("table {} has no column `{}`", a.table, rule.name));
        return;
    };
    if rule.name == a.key && a.kind == Kind::Update {
        issue("", "an action may not rewrite the key that identifies the record".into());
    }
    if let Some(why) = col.unwritable() {
        issue("", format!("column {} ({}) cannot be written: {why}", col.name, col.declared));
    }
    if rule.unique && col.ty == ColumnType::Json {
        issue(".unique", format!("column {} holds JSON, which is not compared for `unique`", col.name));
    }
    for v in rule.one_of.iter().flatten() {
        let label = leash_core::value::display(v);
        if !col.labels.is_empty() && !col.labels.contains(&label) {
            issue(
                ".one_of",
                format!("`{label}` is not a label of {} (it has: {})", col.declared, col.labels.join(", ")),
            );
        }
    }
    for v in rule.one_of.iter().flatten().filter(|v| coerce(v, col.ty).is_none()) {
        issue(".one_of", format!("{v} cannot be stored in column {} ({})", col.name, col.declared));
    }
    if let Some((lo, _)) = &rule.range {
        let (fits, what) = match lo {
            Bound::Number(_) => {
                (matches!(col.ty, ColumnType::Integer | ColumnType::Numeric | ColumnType::Text), "number")
            }
            Bound::Date(_) => (matches!(col.ty, ColumnType::Date | ColumnType::Timestamp | ColumnType::Text), "date"),
        };
        if !fits {
            issue(".range", format!("a {what} range does not fit column {} ({})", col.name, col.declared));
        }
    }
    let texty = matches!(col.ty, ColumnType::Text | ColumnType::Date | ColumnType::Timestamp);
    if (rule.format.is_some() || rule.mechanical) && !texty {
        issue(".format", format!("a text format does not fit column {} ({})", col.name, col.declared));
    }
    if !rule.allow_blank && !col.nullable && rule.only_if_empty && col.ty != ColumnType::Text {
        issue(".only_if_empty", format!("column {} is NOT NULL and not text, so it is never empty", col.name));
    }
}

/// Where a rule would read a column the action may not read: the address
/// rule leaves such part columns out (say so), and `from` over one is an
/// oracle (a refused value tells the agent a guess was wrong).
fn sight_warnings(a: &Action, table: &TableSchema, out: &mut Vec<SchemaIssue>) {
    let mut warn = |key: String, message: String| out.push(SchemaIssue { line: a.line, key, message, warning: true });
    let address = a.fields.iter().any(|f| f.mechanical && f.format == Some(leash_core::format::Format::UsAddress));
    for col in ADDRESS_PART_COLUMNS.iter().filter(|c| address && table.column(c).is_some() && !a.may_see(c)) {
        warn(
            at(a, "read"),
            format!("the address is checked without column {col}, which {} does not read; list it in `read` to check the address whole", a.name),
        );
    }
    for rule in &a.fields {
        let Some(cols) = rule.from.as_ref().and_then(|f| f.columns()) else { continue };
        for col in cols.iter().filter(|c| !a.may_see(c)) {
            warn(
                at(a, &format!("fields.{}.from", rule.name)),
                format!(
                    "`from` reads {col}, which {} may not read: each refused value tells the agent a guess was wrong; list {col} in `read` if it is not secret, or drop the rule",
                    a.name
                ),
            );
        }
    }
}

/// `exists_in` names a table and column the database has.
fn exists_in_issues(a: &Action, rule: &FieldRule, schemas: &HashMap<String, TableSchema>, out: &mut Vec<SchemaIssue>) {
    let Some(set) = &rule.exists_in else { return };
    let key = at(a, &format!("fields.{}.exists_in", rule.name));
    match schemas.get(&set.table) {
        None => out.push(error(rule.line, key, format!("the database has no table `{}`", set.table))),
        Some(t) if t.column(&set.column).is_none() => {
            out.push(error(rule.line, key, format!("table {} has no column `{}`", set.table, set.column)))
        }
        Some(_) => {}
    }
}

/// Columns an append action must fill but does not list: the database would
/// refuse every row it inserts (`missing_required`).
fn unfilled_columns(a: &Action, table: &TableSchema) -> Vec<String> {
    if a.kind != Kind::Append {
        return Vec::new();
    }
    table
        .columns
        .iter()
        .filter(|c| !c.nullable && !c.has_default && c.name != a.key && a.field(&c.name).is_none())
        .map(|c| c.name.clone())
        .collect()
}

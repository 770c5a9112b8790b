//! The policy against the live schema: every table and column exists, keys
//! are unique, and rules fit the column types. Run once at start, never per call.

use std::collections::HashMap;

use leash_core::policy::{Bound, Kind, Policy};
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
    for action in &policy.actions {
        if !schemas.contains_key(&action.table) {
            if let Some(schema) = store.table_schema(&action.table).await? {
                schemas.insert(action.table.clone(), schema);
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
        let mut issue =
            |line: usize, key: String, message: String| out.push(SchemaIssue { line, key, message, warning: false });
        let at = |k: &str| format!("actions.{}.{k}", a.name);
        let Some(table) = schemas.get(&a.table) else {
            issue(a.line, at("table"), format!("the database has no table `{}`", a.table));
            continue;
        };
        match table.column(&a.key) {
            None => issue(a.line, at("key"), format!("table {} has no column `{}`", a.table, a.key)),
            Some(_) if a.kind == Kind::Update && !table.unique_columns.contains(&a.key) => issue(
                a.line,
                at("key"),
                format!(
                    "`{}` is not unique in {} (no primary key or unique index on it alone); a key must name one record",
                    a.key, a.table
                ),
            ),
            Some(_) => {}
        }
        for col in &a.read {
            if table.column(col).is_none() {
                issue(a.line, at("read"), format!("table {} has no column `{col}`", a.table));
            }
        }
        for rule in &a.fields {
            let key = at(&format!("fields.{}", rule.name));
            let Some(col) = table.column(&rule.name) else {
                issue(rule.line, key, format!("table {} has no column `{}`", a.table, rule.name));
                continue;
            };
            if rule.name == a.key && a.kind == Kind::Update {
                issue(rule.line, key.clone(), "an action may not rewrite the key that identifies the record".into());
            }
            if let Some(why) = col.unwritable() {
                issue(
                    rule.line,
                    key.clone(),
                    format!("column {} ({}) cannot be written: {why}", col.name, col.declared),
                );
            }
            if rule.unique && col.ty == ColumnType::Json {
                issue(
                    rule.line,
                    format!("{key}.unique"),
                    format!("column {} holds JSON, which is not compared for `unique`", col.name),
                );
            }
            if !col.labels.is_empty() {
                for v in rule.one_of.iter().flatten() {
                    let label = leash_core::value::display(v);
                    if !col.labels.contains(&label) {
                        issue(
                            rule.line,
                            format!("{key}.one_of"),
                            format!("`{label}` is not a label of {} (it has: {})", col.declared, col.labels.join(", ")),
                        );
                    }
                }
            }
            for v in rule.one_of.iter().flatten() {
                if coerce(v, col.ty).is_none() {
                    issue(
                        rule.line,
                        format!("{key}.one_of"),
                        format!("{v} cannot be stored in column {} ({})", col.name, col.declared),
                    );
                }
            }
            if let Some((lo, _)) = &rule.range {
                let fits = match lo {
                    Bound::Number(_) => matches!(col.ty, ColumnType::Integer | ColumnType::Numeric | ColumnType::Text),
                    Bound::Date(_) => matches!(col.ty, ColumnType::Date | ColumnType::Timestamp | ColumnType::Text),
                };
                if !fits {
                    issue(
                        rule.line,
                        format!("{key}.range"),
                        format!(
                            "a {} range does not fit column {} ({})",
                            if matches!(lo, Bound::Number(_)) { "number" } else { "date" },
                            col.name,
                            col.declared
                        ),
                    );
                }
            }
            let texty = matches!(col.ty, ColumnType::Text | ColumnType::Date | ColumnType::Timestamp);
            if (rule.format.is_some() || rule.mechanical) && !texty {
                issue(
                    rule.line,
                    format!("{key}.format"),
                    format!("a text format does not fit column {} ({})", col.name, col.declared),
                );
            }
            if !rule.allow_blank && !col.nullable && rule.only_if_empty && col.ty != ColumnType::Text {
                issue(
                    rule.line,
                    format!("{key}.only_if_empty"),
                    format!("column {} is NOT NULL and not text, so it is never empty", col.name),
                );
            }
        }
        for col in unfilled_columns(a, table) {
            out.push(SchemaIssue {
                line: a.line,
                key: at("fields"),
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

/// Columns an append action must fill but does not list: the database would
/// refuse every row it inserts (`missing_required`).
fn unfilled_columns(a: &leash_core::policy::Action, table: &TableSchema) -> Vec<String> {
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

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

/// One table as a starter policy needs it (`leash init --db`).
#[derive(Debug, Clone, Serialize)]
pub struct TableOutline {
    pub name: String,
    /// The primary key's columns in key order; empty when it has none.
    pub primary_key: Vec<String>,
    /// Columns that alone identify a row (primary key or unique index).
    pub unique_columns: Vec<String>,
    pub columns: Vec<ColumnOutline>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnOutline {
    pub name: String,
    pub ty: ColumnType,
    /// The type as the database prints it.
    pub declared: String,
    /// leash may write it (it holds no bytes and the database does not compute it).
    pub writable: bool,
    /// A foreign key on this column alone: the table and column it names.
    pub references: Option<(String, String)>,
}

/// The tables of the database a URL names, leash's own left out, each with
/// its keys and columns: what `leash init --db` writes a starter policy from.
/// Reads the catalogue only; creates nothing.
pub async fn outline_database(url: &str) -> Result<Vec<TableOutline>> {
    let store = leash_store::open(url).await?;
    let mut out = Vec::new();
    for t in store.user_tables().await? {
        let Some(schema) = store.table_schema(&t.name).await? else { continue };
        let columns = schema
            .columns
            .iter()
            .map(|c| ColumnOutline {
                name: c.name.clone(),
                ty: c.ty,
                declared: c.declared.clone(),
                writable: c.unwritable().is_none(),
                references: c.references.as_ref().map(|r| (r.table.clone(), r.column.clone())),
            })
            .collect();
        out.push(TableOutline {
            name: t.name,
            primary_key: t.primary_key,
            unique_columns: schema.unique_columns,
            columns,
        });
    }
    Ok(out)
}

/// The values of each `exists_in` column, for fields whose set is small
/// enough to list (`CLOSED_SET_ENUM_MAX`).
pub(crate) async fn closed_sets(
    policy: &Policy,
    schemas: &HashMap<String, TableSchema>,
    store: &dyn Store,
) -> Result<HashMap<(String, String), Vec<serde_json::Value>>> {
    use leash_core::schema::CLOSED_SET_ENUM_MAX;
    let mut out = HashMap::new();
    for a in &policy.actions {
        for f in &a.fields {
            let Some(set) = &f.exists_in else { continue };
            let Some(table) = schemas.get(&set.table) else { continue };
            let values = store.distinct_values(table, &set.column, CLOSED_SET_ENUM_MAX as u32 + 1).await?;
            if values.len() <= CLOSED_SET_ENUM_MAX {
                out.insert((a.name.clone(), f.name.clone()), values);
            }
        }
    }
    Ok(out)
}

/// Every mismatch between the policy and the database, for `leash check`;
/// a table the database lacks is named with the closest one it has.
pub async fn check_schema(policy: &Policy, store: &dyn Store) -> Result<Vec<SchemaIssue>> {
    let schemas = load_schemas(policy, store).await?;
    let sets = policy.actions.iter().flat_map(|a| a.fields.iter().filter_map(|f| f.exists_in.as_ref()));
    let mut named = policy.actions.iter().map(|a| &a.table).chain(sets.map(|e| &e.table));
    let tables = if named.all(|t| schemas.contains_key(t)) {
        Vec::new()
    } else {
        store.user_tables().await?.into_iter().map(|t| t.name).collect()
    };
    Ok(issues_among(policy, &schemas, &tables))
}

pub(crate) fn issues(policy: &Policy, schemas: &HashMap<String, TableSchema>) -> Vec<SchemaIssue> {
    issues_among(policy, schemas, &[])
}

/// The issues, suggesting for a missing table the closest of `tables`.
fn issues_among(policy: &Policy, schemas: &HashMap<String, TableSchema>, tables: &[String]) -> Vec<SchemaIssue> {
    let mut out = Vec::new();
    if policy.actions.is_empty() {
        out.push(SchemaIssue {
            line: 1,
            key: "actions".into(),
            message: "the policy defines no [[actions]]: nothing can be called until one is written or uncommented"
                .into(),
            warning: true,
        });
    }
    for a in &policy.actions {
        let Some(table) = schemas.get(&a.table) else {
            let message = format!("the database has no table `{}`{}", a.table, did_you_mean(&a.table, tables));
            out.push(error(a.line, at(a, "table"), message));
            continue;
        };
        key_issues(a, table, &mut out);
        for col in a.read.iter().filter(|c| table.column(c).is_none()) {
            out.push(error(a.line, at(a, "read"), no_column(table, col)));
        }
        for rule in &a.fields {
            field_issues(a, rule, table, &mut out);
            exists_in_issues(a, rule, schemas, tables, &mut out);
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

/// `table Track has no column `genreid`; did you mean `GenreId`?`
fn no_column(table: &TableSchema, col: &str) -> String {
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    format!("table {} has no column `{col}`{}", table.name, did_you_mean(col, &names))
}

/// `; did you mean `X`?` for the closest of `names`, or nothing when none
/// is close: the same name in another case first, else the fewest edits,
/// at most a third of the name's length (and at least one).
fn did_you_mean(name: &str, names: &[String]) -> String {
    match closest(name, names) {
        Some(n) => format!("; did you mean `{n}`?"),
        None => String::new(),
    }
}

pub(crate) fn closest<'a>(name: &str, names: &'a [String]) -> Option<&'a str> {
    if let Some(same) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        return Some(same);
    }
    let lower = name.to_lowercase();
    let most = (name.chars().count() / 3).max(1);
    names
        .iter()
        .map(|n| (edit_distance(&lower, &n.to_lowercase()), n))
        .filter(|(d, _)| *d <= most)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

/// Levenshtein distance in characters (names are short: two rows suffice).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

fn error(line: usize, key: String, message: String) -> SchemaIssue {
    SchemaIssue { line, key, message, warning: false }
}

fn at(a: &Action, key: &str) -> String {
    format!("actions.{}.{key}", a.name)
}

/// The key column exists and, for updates, names one record.
fn key_issues(a: &Action, table: &TableSchema, out: &mut Vec<SchemaIssue>) {
    let missing: Vec<&String> = a.key.columns().iter().filter(|c| table.column(c).is_none()).collect();
    for col in &missing {
        out.push(error(a.line, at(a, "key"), no_column(table, col)));
    }
    if !missing.is_empty() {
        return;
    }
    if a.kind == Kind::Update && !table.is_unique_key(&a.key) {
        let which = if a.key.is_composite() { "on exactly these columns" } else { "on it alone" };
        out.push(error(
            a.line,
            at(a, "key"),
            format!(
                "`{}` is not unique in {} (no primary key or unique index {which}); a key must name one record",
                a.key, a.table
            ),
        ));
    }
    // An append names the key the new row gets: a column that alone names
    // no row (one part of a composite key) is a mistake every call would pay.
    if a.kind == Kind::Append && !a.key.is_composite() && !table.is_unique_key(&a.key) {
        let keyed = table
            .unique_keys
            .first()
            .map(|k| format!("; it is keyed on ({}): write key = [\"{}\"]", k.join(", "), k.join("\", \"")));
        out.push(error(
            a.line,
            at(a, "key"),
            format!("`{}` alone does not name a row of {}{}", a.key, a.table, keyed.unwrap_or_default()),
        ));
    }
    // An append on a table keyed on several columns cannot be given its key
    // by the database: the call must set every key column.
    if a.kind == Kind::Append && a.key.is_composite() {
        for col in a.key.columns().iter().filter(|c| a.field(c).is_none()) {
            out.push(error(
                a.line,
                at(a, "key"),
                format!("{} adds rows keyed on ({}), but may not set {col}; add [actions.fields.{col}]", a.name, a.key),
            ));
        }
    }
}

/// One field's column: it exists, may be written, and fits the rules.
fn field_issues(a: &Action, rule: &FieldRule, table: &TableSchema, out: &mut Vec<SchemaIssue>) {
    let key = at(a, &format!("fields.{}", rule.name));
    let mut issue = |suffix: &str, message: String| out.push(error(rule.line, format!("{key}{suffix}"), message));
    let Some(col) = table.column(&rule.name) else {
        issue("", no_column(table, &rule.name));
        return;
    };
    if a.key.contains(&rule.name) && a.kind == Kind::Update {
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
fn exists_in_issues(
    a: &Action,
    rule: &FieldRule,
    schemas: &HashMap<String, TableSchema>,
    tables: &[String],
    out: &mut Vec<SchemaIssue>,
) {
    let Some(set) = &rule.exists_in else { return };
    let key = at(a, &format!("fields.{}.exists_in", rule.name));
    match schemas.get(&set.table) {
        None => out.push(error(
            rule.line,
            key,
            format!("the database has no table `{}`{}", set.table, did_you_mean(&set.table, tables)),
        )),
        Some(t) if t.column(&set.column).is_none() => out.push(error(rule.line, key, no_column(t, &set.column))),
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
        .filter(|c| !c.nullable && !c.has_default && !a.key.contains(&c.name) && a.field(&c.name).is_none())
        .map(|c| c.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_closest_name_is_the_same_in_another_case_then_the_fewest_edits() {
        let tables = names(&["Album", "Artist", "Genre", "PlaylistTrack", "Track", "tracks_old"]);
        assert_eq!(closest("track", &tables), Some("Track"));
        assert_eq!(closest("TRACK", &tables), Some("Track"));
        assert_eq!(closest("Trak", &tables), Some("Track"));
        assert_eq!(closest("playlist_track", &tables), Some("PlaylistTrack"));
        assert_eq!(closest("Albums", &tables), Some("Album"));
        assert_eq!(closest("invoice", &tables), None, "nothing close: no guess");
        assert_eq!(closest("x", &names(&["y"])), Some("y"), "one edit is always close enough");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn a_missing_column_is_named_with_its_closest_spelling() {
        let table = TableSchema {
            name: "Track".into(),
            columns: ["TrackId", "GenreId", "UnitPrice"]
                .iter()
                .map(|n| leash_store::Column { name: n.to_string(), ..Default::default() })
                .collect(),
            unique_columns: vec!["TrackId".into()],
            unique_keys: Vec::new(),
            has_triggers: false,
        };
        assert_eq!(no_column(&table, "genreid"), "table Track has no column `genreid`; did you mean `GenreId`?");
        assert_eq!(no_column(&table, "Composer"), "table Track has no column `Composer`");
    }
}

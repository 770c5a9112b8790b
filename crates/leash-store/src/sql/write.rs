//! One record and its journal row: the locking read a call decides on, the
//! compare-and-set UPDATE with its journal INSERT, inserts and deletes of
//! whole rows, and the chain head. Values go in as text the database
//! parses and come back as the text it prints (PostgreSQL, MySQL), so what
//! the journal holds is what the database stored.

use leash_core::call::FieldChange;
use leash_core::journal::Change;
use leash_core::value::{display, same_value, Value};

use super::query::{json_text, Query};
use super::state;
use super::tx::SqlTx;
use crate::dialect::{Dialect, WriteShape};
use crate::rows::{record_from_row, stored_form, value_at, CHANGE_COLUMNS};
use crate::*;

pub(super) fn column<'a>(table: &'a TableSchema, name: &str) -> Result<&'a Column> {
    table.column(name).ok_or_else(|| StoreError::Invalid(format!("table {} has no column `{name}`", table.name)))
}

/// `SELECT <every column as text> FROM table WHERE <key matches>`.
fn select_record(d: Dialect, table: &TableSchema, key_cols: &Key, key: &str) -> Result<Query> {
    let cols: Vec<String> = table.columns.iter().map(|c| d.read_expr(c)).collect();
    let mut q = Query::new(d, &format!("SELECT {} FROM ", cols.join(", ")));
    q.table(&table.name).push(" WHERE ");
    key_match(&mut q, table, key_cols, key, None)?;
    Ok(q)
}

/// A record key's text split into its columns' values (`Key::parts`).
pub(super) fn key_parts(key_cols: &Key, text: &str) -> Result<Vec<String>> {
    key_cols.parts(text).ok_or_else(|| StoreError::Invalid(format!("`{text}` is not a key of ({key_cols})")))
}

/// A key's text from its columns' values: the journal's spelling.
pub(super) fn key_text(key_cols: &Key, parts: Vec<String>) -> String {
    key_cols.text(parts)
}

/// A record's key as the database prints it.
pub(super) fn key_of(record: &leash_core::value::Record, key_cols: &Key) -> Option<String> {
    let parts: Option<Vec<String>> =
        key_cols.columns().iter().map(|c| record.get(c).filter(|v| !v.is_null()).map(display)).collect();
    parts.map(|p| key_text(key_cols, p))
}

/// `col = ?`, or for a composite key `(a = ? AND b = ?)`; `qualifier`
/// prefixes each column with its table.
pub(super) fn key_match(
    q: &mut Query,
    table: &TableSchema,
    key_cols: &Key,
    key: &str,
    qualifier: Option<&str>,
) -> Result<()> {
    let parts = key_parts(key_cols, key)?;
    let composite = key_cols.is_composite();
    q.push(if composite { "(" } else { "" });
    for (i, (col, part)) in key_cols.columns().iter().zip(&parts).enumerate() {
        q.push(if i > 0 { " AND " } else { "" });
        if let Some(t) = qualifier {
            q.push(t).push(".");
        }
        q.ident(col).push(" = ").key(part, column(table, col)?);
    }
    q.push(if composite { ")" } else { "" });
    Ok(())
}

/// `col IN (…)`, or for a composite key `((a = ? AND b = ?) OR …)`.
pub(super) fn key_in<S: AsRef<str>>(q: &mut Query, table: &TableSchema, key_cols: &Key, keys: &[S]) -> Result<()> {
    if let Some(col) = key_cols.as_single() {
        let c = column(table, col)?;
        q.ident(col).push(" IN (");
        for (i, k) in keys.iter().enumerate() {
            q.push(if i > 0 { ", " } else { "" }).key(k.as_ref(), c);
        }
        q.push(")");
        return Ok(());
    }
    q.push("(");
    for (i, k) in keys.iter().enumerate() {
        q.push(if i > 0 { " OR " } else { "" });
        key_match(q, table, key_cols, k.as_ref(), None)?;
    }
    q.push(if keys.is_empty() { "1 = 0)" } else { ")" });
    Ok(())
}

/// The key's columns as text, to select (`qualifier`: the table's name).
pub(super) fn key_exprs(
    d: Dialect,
    table: &TableSchema,
    key_cols: &Key,
    qualifier: Option<&str>,
) -> Result<Vec<String>> {
    key_cols
        .columns()
        .iter()
        .map(|c| {
            let name = match qualifier {
                Some(t) => format!("{t}.{}", d.quote(c)),
                None => d.quote(c),
            };
            Ok(d.text_of(&name, column(table, c)?))
        })
        .collect()
}

/// The key text of a row whose first columns are `key_exprs`.
pub(super) fn key_from_row(row: &sqlx::any::AnyRow, key_cols: &Key) -> Result<String> {
    let parts = (0..key_cols.columns().len()).map(|i| Ok(display(&value_at(row, i)?))).collect::<Result<Vec<_>>>()?;
    Ok(key_text(key_cols, parts))
}

/// New values as a store that cannot ask the database will store them.
fn predicted_locally(d: Dialect, table: &TableSchema, new: &[(&str, &Value)]) -> Result<Vec<Value>> {
    new.iter().map(|(f, v)| Ok(d.predicted_locally(v, column(table, f)?))).collect()
}

pub(super) async fn lock_for_write(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    key: &str,
    action: &str,
    new: &[(&str, &Value)],
) -> Result<Locked> {
    let d = tx.dialect();
    if !d.locks_and_reads_in_one() {
        let mut q = select_record(d, table, key_cols, key)?;
        q.push(d.for_update());
        let record = tx.one(q).await?.map(|row| record_from_row(&row, table)).transpose()?;
        let canonical = record.as_ref().and_then(|r| key_of(r, key_cols));
        let (pauses, head) =
            state::call_context(tx, action, &table.name, Some(canonical.as_deref().unwrap_or(key))).await?;
        let new = predicted_locally(d, table, new)?;
        return Ok(Locked { record, key: canonical, pauses, head, new });
    }
    // One statement reads the record, its chain head, whether anything is
    // paused and (PostgreSQL) how the database would store the new values.
    // SQLite's write lock is already held (BEGIN IMMEDIATE). On PostgreSQL
    // the row comes back as it is after any lock wait, but the subqueries
    // read the snapshot taken before it: the head may be stale, so
    // `update_with_change` checks it again under the lock.
    let cols: Vec<String> = table.columns.iter().map(|c| d.read_expr(c)).collect();
    let mut q =
        Query::new(d, &format!("SELECT {}, (SELECT hash FROM leash_changes WHERE table_name = ", cols.join(", ")));
    q.text(&table.name).push(" AND record_key = ").text(key);
    q.push(" ORDER BY seq DESC LIMIT 1), EXISTS (SELECT 1 FROM leash_state WHERE scope IN (");
    q.text(ALL_SCOPE).push(", ").text(action).push("))");
    let predicts = d.predicts_stored_text();
    if predicts {
        for (field, value) in new {
            q.push(", ").predicted(value, column(table, field)?);
        }
    }
    q.push(" FROM ").table(&table.name).push(" WHERE ");
    key_match(&mut q, table, key_cols, key, None)?;
    q.push(&d.for_update_of(&table.name));
    let Some(row) = tx.one(q).await? else {
        let (pauses, head) = state::call_context(tx, action, &table.name, Some(key)).await?;
        return Ok(Locked { record: None, key: None, pauses, head, new: predicted_locally(d, table, new)? });
    };
    let n = table.columns.len();
    let record = record_from_row(&row, table)?;
    let mut head = match value_at(&row, n)? {
        Value::Null => None,
        hash => Some(display(&hash)),
    };
    // An integer on SQLite, a boolean on PostgreSQL.
    let paused = match value_at(&row, n + 1)? {
        Value::Bool(b) => b,
        v => v.as_i64().unwrap_or(0) != 0,
    };
    let predicted = if predicts {
        let mut out = Vec::with_capacity(new.len());
        for (i, (field, _)) in new.iter().enumerate() {
            out.push(stored_form(value_at(&row, n + 2 + i)?, column(table, field)?.ty));
        }
        out
    } else {
        predicted_locally(d, table, new)?
    };
    let canonical = key_of(&record, key_cols);
    // The head was looked up by the key as sent; the record's own spelling
    // of it (a uuid in capitals, citext) names its chain.
    if let Some(k) = canonical.as_deref().filter(|k| *k != key) {
        head = chain_head(tx, &table.name, k).await?;
    }
    let pauses = if paused { state::pauses_for(tx, action).await? } else { Vec::new() };
    Ok(Locked { record: Some(record), key: canonical, pauses, head, new: predicted })
}

pub(super) async fn find_other(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    except_key: Option<&str>,
    field: &str,
    value: &Value,
) -> Result<Option<String>> {
    let d = tx.dialect();
    let mut q = tx.q(&format!("SELECT {} FROM ", key_exprs(d, table, key_cols, None)?.join(", ")));
    q.table(&table.name).push(" WHERE ").ident(field).push(" = ").value(value, column(table, field)?);
    if let Some(k) = except_key {
        q.push(" AND NOT ");
        key_match(&mut q, table, key_cols, k, None)?;
    }
    q.push(" LIMIT 1");
    tx.one(q).await?.map(|row| key_from_row(&row, key_cols)).transpose()
}

/// The named fields of one record as stored, after a write (which a
/// trigger may have rewritten).
async fn read_back(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    key: &str,
    fields: &[&str],
) -> Result<Vec<Value>> {
    let d = tx.dialect();
    let cols = fields.iter().map(|f| column(table, f)).collect::<Result<Vec<_>>>()?;
    let exprs: Vec<String> = cols.iter().map(|c| d.read_expr(c)).collect();
    let mut q = tx.q(&format!("SELECT {} FROM ", exprs.join(", ")));
    q.table(&table.name).push(" WHERE ");
    key_match(&mut q, table, key_cols, key, None)?;
    let row =
        tx.one(q).await?.ok_or_else(|| StoreError::Database(format!("record {key} vanished during its write")))?;
    cols.iter().enumerate().map(|(i, c)| Ok(stored_form(value_at(&row, i)?, c.ty))).collect()
}

pub(super) async fn insert_record(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    key: Option<&str>,
    row: &[FieldChange],
) -> Result<(String, Vec<Value>)> {
    let Some(key_col) = key_cols.as_single() else { return insert_composite(tx, table, key_cols, key, row).await };
    let d = tx.dialect();
    let key_column = column(table, key_col)?;
    let fields: Vec<&FieldChange> = row.iter().filter(|f| f.field != key_col).collect();
    let mut q = tx.q("INSERT INTO ");
    q.table(&table.name).push(" (");
    let mut names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    if key.is_some() {
        names.insert(0, key_col);
    }
    for (i, c) in names.iter().enumerate() {
        q.push(if i > 0 { ", " } else { "" }).ident(c);
    }
    q.push(") VALUES (");
    if let Some(k) = key {
        q.key(k, key_column);
    }
    for (i, f) in fields.iter().enumerate() {
        q.push(if i > 0 || key.is_some() { ", " } else { "" }).value(&f.new, column(table, &f.field)?);
    }
    q.push(")");
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    let (new_key, stored) = match d.last_insert_id() {
        Some(last_id) => {
            tx.exec(q).await?;
            let new_key = match key {
                Some(k) => k.to_string(),
                None => {
                    let row = tx.one(Query::new(d, last_id)).await?;
                    let row = row.ok_or_else(|| StoreError::Database("insert returned no key".into()))?;
                    display(&value_at(&row, 0)?)
                }
            };
            let stored = read_back(tx, table, key_cols, &new_key, &names).await?;
            (new_key, stored)
        }
        None => {
            let mut exprs = vec![d.text_of(&d.quote(key_col), key_column)];
            for f in &names {
                exprs.push(d.read_expr(column(table, f)?));
            }
            q.push(&format!(" RETURNING {}", exprs.join(", ")));
            let row = tx.one(q).await?.ok_or_else(|| StoreError::Database("insert returned no key".into()))?;
            let new_key = display(&value_at(&row, 0)?);
            // SQLite's RETURNING does not see what triggers did after the insert.
            let stored = if table.has_triggers && !d.returning_sees_triggers() {
                read_back(tx, table, key_cols, &new_key, &names).await?
            } else {
                let mut out = Vec::with_capacity(names.len());
                for (i, f) in names.iter().enumerate() {
                    out.push(stored_form(value_at(&row, i + 1)?, column(table, f)?.ty));
                }
                out
            };
            (new_key, stored)
        }
    };
    let mut stored = stored.into_iter();
    let values = row
        .iter()
        .map(|f| if f.field == key_col { Value::String(new_key.clone()) } else { stored.next().unwrap_or(Value::Null) })
        .collect();
    Ok((new_key, values))
}

/// A row of a table keyed on several columns: the call sets every one of
/// them (`leash check` refuses an action that does not), and the key is
/// what the database stored in them (or, reinserting a deleted row, `key`).
async fn insert_composite(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    key: Option<&str>,
    row: &[FieldChange],
) -> Result<(String, Vec<Value>)> {
    let mut fields: Vec<FieldChange> = row.to_vec();
    if let Some(k) = key {
        for (col, part) in key_cols.columns().iter().zip(key_parts(key_cols, k)?) {
            if !fields.iter().any(|f| &f.field == col) {
                fields.push(FieldChange { field: col.clone(), old: Value::Null, new: Value::String(part) });
            }
        }
    }
    let mut q = tx.q("INSERT INTO ");
    q.table(&table.name).push(" (");
    for (i, f) in fields.iter().enumerate() {
        q.push(if i > 0 { ", " } else { "" }).ident(&f.field);
    }
    q.push(") VALUES (");
    for (i, f) in fields.iter().enumerate() {
        q.push(if i > 0 { ", " } else { "" }).value(&f.new, column(table, &f.field)?);
    }
    q.push(")");
    tx.exec(q).await?;
    let parts: Option<Vec<String>> = key_cols
        .columns()
        .iter()
        .map(|c| fields.iter().find(|f| &f.field == c).filter(|f| !f.new.is_null()).map(|f| display(&f.new)))
        .collect();
    let sent = key_text(
        key_cols,
        parts.ok_or_else(|| StoreError::Invalid(format!("a row of {} needs {key_cols}", table.name)))?,
    );
    // What the database stored, its key columns' spelling included.
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    let stored = read_back(tx, table, key_cols, &sent, &names).await?;
    let by_name: std::collections::HashMap<&str, &Value> = names.iter().copied().zip(stored.iter()).collect();
    let new_parts: Option<Vec<String>> =
        key_cols.columns().iter().map(|c| by_name.get(c.as_str()).map(|v| display(v))).collect();
    let new_key = new_parts.map(|p| key_text(key_cols, p)).unwrap_or(sent);
    let values =
        row.iter().map(|f| by_name.get(f.field.as_str()).map(|v| (*v).clone()).unwrap_or(Value::Null)).collect();
    Ok((new_key, values))
}

pub(super) async fn delete_record(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    key: &str,
    fields: &[FieldChange],
) -> Result<bool> {
    let mut q = tx.q("DELETE FROM ");
    q.table(&table.name).push(" WHERE ");
    key_match(&mut q, table, key_cols, key, None)?;
    for f in fields.iter().filter(|f| !key_cols.contains(&f.field)) {
        q.push(" AND ").still_holds(&f.new, column(table, &f.field)?);
    }
    Ok(tx.exec(q).await? == 1)
}

pub(super) async fn chain_head(tx: &mut SqlTx, table: &str, key: &str) -> Result<Option<String>> {
    let q = chain_head_query(tx.dialect(), table, key);
    tx.one(q).await?.map(|row| Ok(display(&value_at(&row, 0)?))).transpose()
}

/// A record's chain head: its newest journal row.
pub(super) fn chain_head_query(d: Dialect, table: &str, key: &str) -> Query {
    let mut q = Query::new(d, "SELECT hash FROM leash_changes WHERE table_name = ");
    q.text(table).push(" AND record_key = ").text(key).push(" ORDER BY seq DESC LIMIT 1");
    q
}

/// The values of `CHANGE_COLUMNS`, comma-separated.
pub(super) fn push_change_list(q: &mut Query, c: &Change) {
    q.text(&c.id).push(", ").text(&c.at).push(", ").text(&c.action).push(", ").text(&c.policy_hash).push(", ");
    q.text(&c.table_name).push(", ").text(&c.record_key).push(", ").text(c.op.as_str()).push(", ");
    q.text(&json_text(&c.fields)).push(", ").text(&c.actor).push(", ").opt_text(c.approver.as_deref()).push(", ");
    q.opt_text(c.reason.as_deref())
        .push(", ")
        .opt_text(c.evidence.as_deref())
        .push(", ")
        .opt_float(c.confidence)
        .push(", ");
    q.opt_text(c.run_id.as_deref()).push(", ").opt_text(c.proposal_id.as_deref()).push(", ");
    debug_assert!(c.reverted_by.is_none(), "a revert marks a change in leash_reverts, never in its row");
    q.opt_text(c.reverts.as_deref()).push(", ");
    q.int(c.watch as i64).push(", ").text(c.prev_hash.as_deref().unwrap_or("")).push(", ").text(&c.hash);
}

pub(super) fn push_change_values(q: &mut Query, c: &Change) {
    q.push("(");
    push_change_list(q, c);
    q.push(")");
}

pub(super) async fn insert_change(tx: &mut SqlTx, c: &Change) -> Result<()> {
    debug_assert_eq!(c.hash, c.compute_hash(), "a change must be sealed before it is written");
    let mut q = tx.q(&format!("INSERT INTO leash_changes ({CHANGE_COLUMNS}) VALUES "));
    push_change_values(&mut q, c);
    tx.exec(q).await?;
    Ok(())
}

/// `UPDATE … SET new … WHERE key AND every field still holds old`.
fn push_cas_update(
    q: &mut Query,
    table: &TableSchema,
    key_cols: &Key,
    key: &str,
    fields: &[FieldChange],
) -> Result<()> {
    debug_assert!(!fields.is_empty(), "an update with no fields");
    q.push("UPDATE ").table(&table.name).push(" SET ");
    for (i, f) in fields.iter().enumerate() {
        q.push(if i > 0 { ", " } else { "" }).ident(&f.field).push(" = ").value(&f.new, column(table, &f.field)?);
    }
    q.push(" WHERE ");
    key_match(q, table, key_cols, key, None)?;
    for f in fields {
        q.push(" AND ").still_holds(&f.old, column(table, &f.field)?);
    }
    Ok(())
}

pub(super) async fn update_with_change(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    change: &Change,
) -> Result<Written> {
    debug_assert_eq!(change.hash, change.compute_hash(), "a change must be sealed before it is written");
    let d = tx.dialect();
    let key = change.record_key.as_str();
    match d.write_shape() {
        // The INSERT selects from the UPDATE's returned row, and only if the
        // database stored exactly the values the change says: no row, no
        // journal row. The UPDATE also matches only if the change extends
        // the chain's current head (`lock_for_write` may have read an older
        // one). The answer says which happened.
        WriteShape::Cte => {
            let mut q = tx.q("WITH cas AS (");
            push_cas_update(&mut q, table, key_cols, key, &change.fields)?;
            q.push(" AND (SELECT hash FROM leash_changes WHERE table_name = ").text(&table.name);
            q.push(" AND record_key = ").text(key).push(" ORDER BY seq DESC LIMIT 1) IS NOT DISTINCT FROM ");
            q.opt_text(change.prev_hash.as_deref());
            let mut returning = Vec::with_capacity(change.fields.len());
            for (i, f) in change.fields.iter().enumerate() {
                let col = column(table, &f.field)?;
                returning.push(format!("{} AS r{i}", d.text_of(&d.quote(&f.field), col)));
            }
            q.push(&format!(
                " RETURNING {}), ins AS (INSERT INTO leash_changes ({CHANGE_COLUMNS}) SELECT ",
                returning.join(", ")
            ));
            push_change_list(&mut q, change);
            q.push(" FROM cas WHERE 1 = 1");
            for (i, f) in change.fields.iter().enumerate() {
                let text = d.text_for(&f.new, column(table, &f.field)?);
                q.push(&format!(" AND r{i} IS NOT DISTINCT FROM ")).opt_text(text.as_deref());
            }
            let names: Vec<String> = (0..change.fields.len()).map(|i| format!("r{i}")).collect();
            q.push(&format!(" RETURNING 1) SELECT {}, (SELECT COUNT(*) FROM ins) FROM cas", names.join(", ")));
            let Some(row) = tx.one(q).await? else { return Ok(Written::Stale) };
            if value_at(&row, change.fields.len())?.as_i64() == Some(1) {
                return Ok(Written::Journaled);
            }
            let mut stored = Vec::with_capacity(change.fields.len());
            for (i, f) in change.fields.iter().enumerate() {
                stored.push(stored_form(value_at(&row, i)?, column(table, &f.field)?.ty));
            }
            Ok(Written::Stored(stored))
        }
        // Two statements in one call; `changes()` is the UPDATE's row count.
        WriteShape::Pair if !table.has_triggers => {
            let mut q = tx.q("");
            push_cas_update(&mut q, table, key_cols, key, &change.fields)?;
            q.push(&format!("; INSERT INTO leash_changes ({CHANGE_COLUMNS}) SELECT "));
            push_change_list(&mut q, change);
            q.push(" WHERE changes() = 1");
            match tx.exec(q).await? {
                0 => Ok(Written::Stale),
                2 => Ok(Written::Journaled),
                n => Err(StoreError::Database(format!("update and journal touched {n} rows, expected 2"))),
            }
        }
        // The UPDATE, then what it stored (MySQL reformats values; triggers
        // may rewrite them), then the journal row if that is what the change says.
        WriteShape::Pair | WriteShape::Separate => {
            let mut q = tx.q("");
            push_cas_update(&mut q, table, key_cols, key, &change.fields)?;
            let n = tx.exec(q).await?;
            debug_assert!(n <= 1, "a key matched {n} rows");
            if n == 0 {
                return Ok(Written::Stale);
            }
            let names: Vec<&str> = change.fields.iter().map(|f| f.field.as_str()).collect();
            let stored = read_back(tx, table, key_cols, key, &names).await?;
            if stored.iter().zip(&change.fields).all(|(s, f)| same_value(s, &f.new)) {
                insert_change(tx, change).await?;
                return Ok(Written::Journaled);
            }
            Ok(Written::Stored(stored))
        }
    }
}

//! Set-based forms for batch revert: one statement for many records of one
//! table, journal rows many at a time.

use std::collections::HashMap;

use leash_core::call::FieldChange;
use leash_core::journal::Change;
use leash_core::value::{display, Record, Value};

use super::query::Query;
use super::tx::SqlTx;
use super::write::{column, key_exprs, key_from_row, key_in, key_match, key_of, push_change_values};
use crate::rows::{record_from_row, stored_form, value_at, CHANGE_COLUMNS};
use crate::*;

/// Rows per set-based statement, well under every store's parameter limit.
pub const BULK_ROWS_MAX: usize = 500;
/// Journal rows per multi-row INSERT (20 parameters each).
pub const CHANGES_PER_INSERT_MAX: usize = 100;

pub(super) async fn lock_records(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    keys: &[String],
) -> Result<HashMap<String, Record>> {
    let d = tx.dialect();
    let mut out = HashMap::new();
    for chunk in keys.chunks(BULK_ROWS_MAX) {
        let cols: Vec<String> = table.columns.iter().map(|c| d.read_expr(c)).collect();
        let mut q = tx.q(&format!("SELECT {} FROM ", cols.join(", ")));
        q.table(&table.name).push(" WHERE ");
        key_in(&mut q, table, key_cols, chunk)?;
        q.push(d.for_update());
        for row in tx.all(q).await? {
            let rec = record_from_row(&row, table)?;
            if let Some(key) = key_of(&rec, key_cols) {
                out.insert(key, rec);
            }
        }
    }
    Ok(out)
}

/// Those of `ids` no revert has undone yet. Called with the changes'
/// records locked: another revert of them has committed or not begun.
pub(super) async fn open_changes(tx: &mut SqlTx, ids: &[String]) -> Result<Vec<String>> {
    let mut done = std::collections::HashSet::new();
    for chunk in ids.chunks(BULK_ROWS_MAX) {
        for row in tx.all(marks_query(tx.dialect(), chunk)).await? {
            done.insert(display(&value_at(&row, 0)?));
        }
    }
    Ok(ids.iter().filter(|id| !done.contains(*id)).cloned().collect())
}

/// The named fields of these records as stored now, by key.
async fn read_many(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    keys: &[&str],
    fields: &[&str],
) -> Result<HashMap<String, Vec<Value>>> {
    let d = tx.dialect();
    let cols = fields.iter().map(|f| column(table, f)).collect::<Result<Vec<_>>>()?;
    let mut exprs = key_exprs(d, table, key_cols, None)?;
    exprs.extend(cols.iter().map(|c| d.read_expr(c)));
    let mut q = tx.q(&format!("SELECT {} FROM ", exprs.join(", ")));
    q.table(&table.name).push(" WHERE ");
    key_in(&mut q, table, key_cols, keys)?;
    rows_by_key(tx.all(q).await?, key_cols, &cols)
}

/// Rows of (key columns' text…, field values…) by key.
fn rows_by_key(rows: Vec<sqlx::any::AnyRow>, key_cols: &Key, cols: &[&Column]) -> Result<HashMap<String, Vec<Value>>> {
    let mut out = HashMap::new();
    let n = key_cols.columns().len();
    for row in rows {
        let key = key_from_row(&row, key_cols)?;
        let values = cols.iter().enumerate().map(|(i, c)| Ok(stored_form(value_at(&row, i + n)?, c.ty)));
        out.insert(key, values.collect::<Result<Vec<_>>>()?);
    }
    Ok(out)
}

pub(super) async fn update_records(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    rows: &[(String, Vec<FieldChange>)],
) -> Result<Vec<Option<Vec<Value>>>> {
    let Some(key_col) = key_cols.as_single() else { return update_each(tx, table, key_cols, rows).await };
    let d = tx.dialect();
    let key_column = column(table, key_col)?;
    // One statement per set of fields (a revert batch has one, as a rule).
    let mut groups: Vec<(Vec<&str>, Vec<usize>)> = Vec::new();
    for (i, (_, fields)) in rows.iter().enumerate() {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        match groups.iter_mut().find(|(f, _)| *f == names) {
            Some((_, members)) => members.push(i),
            None => groups.push((names, vec![i])),
        }
    }
    let mut out: Vec<Option<Vec<Value>>> = vec![None; rows.len()];
    for (fields, members) in groups {
        let cols = fields.iter().map(|f| column(table, f)).collect::<Result<Vec<_>>>()?;
        for chunk in members.chunks(BULK_ROWS_MAX) {
            let mut q = tx.q("");
            if !d.updates_from_values() {
                // MySQL has no UPDATE … FROM (VALUES …): a CASE per field.
                q.push("UPDATE ").table(&table.name).push(" SET ");
                for (f, col) in cols.iter().enumerate() {
                    q.push(if f > 0 { ", " } else { "" }).ident(&col.name).push(" = CASE");
                    for &r in chunk {
                        let (key, changes) = &rows[r];
                        q.push(" WHEN ").ident(key_col).push(" = ").key(key, key_column);
                        q.push(" THEN ").value(&changes[f].new, col);
                    }
                    q.push(" ELSE ").ident(&col.name).push(" END");
                }
                // Only the batch's rows: without it MySQL evaluates the CASE
                // on (and locks) every row of the table.
                q.push(" WHERE ").ident(key_col).push(" IN (");
                for (i, &r) in chunk.iter().enumerate() {
                    q.push(if i > 0 { ", " } else { "" }).key(&rows[r].0, key_column);
                }
                q.push(")");
            } else {
                // A join on the key; a CASE per field would compare every
                // row with every key.
                let names: Vec<String> = (0..cols.len()).map(|i| format!("v{i}")).collect();
                q.push(&format!("WITH undo (k, {}) AS (VALUES ", names.join(", ")));
                for (i, &r) in chunk.iter().enumerate() {
                    let (key, changes) = &rows[r];
                    q.push(if i > 0 { ", (" } else { "(" }).key(key, key_column);
                    for (f, col) in cols.iter().enumerate() {
                        q.push(", ").value(&changes[f].new, col);
                    }
                    q.push(")");
                }
                q.push(") UPDATE ").table(&table.name).push(" SET ");
                for (f, col) in cols.iter().enumerate() {
                    q.push(if f > 0 { ", " } else { "" }).ident(&col.name).push(&format!(" = undo.{}", names[f]));
                }
                q.push(" FROM undo WHERE ").table(&table.name).push(".").ident(key_col).push(" = undo.k");
            }
            if d.returning_sees_triggers() {
                // What was stored, triggers included, in the same statement.
                let t = d.quote_table(&table.name);
                let mut exprs = vec![d.text_of(&format!("{t}.{}", d.quote(key_col)), key_column)];
                exprs.extend(cols.iter().map(|c| d.text_of(&format!("{t}.{}", d.quote(&c.name)), c)));
                q.push(&format!(" RETURNING {}", exprs.join(", ")));
                let stored = rows_by_key(tx.all(q).await?, key_cols, &cols)?;
                for &r in chunk {
                    out[r] = stored.get(&rows[r].0).cloned();
                }
                continue;
            }
            let n = tx.exec(q).await? as usize;
            if n == chunk.len() && !table.has_triggers {
                // Every row was found and nothing rewrote the values: what
                // was written is what is stored.
                for &r in chunk {
                    out[r] = Some(rows[r].1.iter().map(|f| f.new.clone()).collect());
                }
                continue;
            }
            let keys: Vec<&str> = chunk.iter().map(|&r| rows[r].0.as_str()).collect();
            let stored = read_many(tx, table, key_cols, &keys, &fields).await?;
            for &r in chunk {
                out[r] = stored.get(&rows[r].0).cloned();
            }
        }
    }
    Ok(out)
}

/// `update_records` for a table keyed on several columns: one UPDATE per
/// record (a set-wise join on a composite key is not worth its dialects),
/// each followed by what was stored.
async fn update_each(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_cols: &Key,
    rows: &[(String, Vec<FieldChange>)],
) -> Result<Vec<Option<Vec<Value>>>> {
    let mut out = Vec::with_capacity(rows.len());
    for (key, changes) in rows {
        let mut q = tx.q("UPDATE ");
        q.table(&table.name).push(" SET ");
        for (i, f) in changes.iter().enumerate() {
            q.push(if i > 0 { ", " } else { "" }).ident(&f.field).push(" = ").value(&f.new, column(table, &f.field)?);
        }
        q.push(" WHERE ");
        key_match(&mut q, table, key_cols, key, None)?;
        if tx.exec(q).await? == 0 {
            out.push(None);
            continue;
        }
        let fields: Vec<&str> = changes.iter().map(|f| f.field.as_str()).collect();
        out.push(read_many(tx, table, key_cols, &[key.as_str()], &fields).await?.remove(key));
    }
    Ok(out)
}

pub(super) async fn chain_heads(tx: &mut SqlTx, table: &str, keys: &[String]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(BULK_ROWS_MAX) {
        for row in tx.all(chain_heads_query(tx.dialect(), table, chunk)).await? {
            let head = value_at(&row, 1)?;
            if !matches!(head, Value::Null) {
                out.insert(display(&value_at(&row, 0)?), display(&head));
            }
        }
    }
    Ok(out)
}

/// The head is the record's newest row, as the write path reads it: one
/// descent of the (table, record, seq) index per key. Asking instead for
/// the row no other row points back to reads every row of every chain, and
/// chains grow with the journal.
pub(super) fn chain_heads_query(d: Dialect, table: &str, keys: &[String]) -> Query {
    let mut q = Query::new(d, "SELECT k.k, (SELECT c.hash FROM leash_changes c WHERE c.table_name = ");
    q.text(table).push(" AND c.record_key = k.k ORDER BY c.seq DESC LIMIT 1) FROM ");
    let (open, sep, close) = d.keys_table();
    for (i, key) in keys.iter().enumerate() {
        q.push(if i > 0 { sep } else { open }).text(key);
    }
    q.push(close);
    q
}

/// Which of these changes a revert has marked already.
pub(super) fn marks_query(d: Dialect, ids: &[String]) -> Query {
    let mut q = Query::new(d, "SELECT change_id FROM leash_reverts WHERE change_id IN (");
    q.list(ids).push(")");
    q
}

pub(super) async fn insert_changes(tx: &mut SqlTx, changes: &[Change]) -> Result<()> {
    for chunk in changes.chunks(CHANGES_PER_INSERT_MAX) {
        let mut q = tx.q(&format!("INSERT INTO leash_changes ({CHANGE_COLUMNS}) VALUES "));
        for (i, c) in chunk.iter().enumerate() {
            debug_assert_eq!(c.hash, c.compute_hash(), "a change must be sealed before it is written");
            if i > 0 {
                q.push(", ");
            }
            push_change_values(&mut q, c);
        }
        tx.exec(q).await?;
    }
    Ok(())
}

/// Records which change undid which; the count of marks written. A change
/// already marked (a concurrent revert got there first) is a unique
/// violation: the count comes back short and the caller rolls back.
pub(super) async fn mark_reverted_many(tx: &mut SqlTx, pairs: &[(String, String)]) -> Result<u64> {
    let mut marked = 0;
    for chunk in pairs.chunks(BULK_ROWS_MAX) {
        let mut q = tx.q("INSERT INTO leash_reverts (change_id, reverted_by) VALUES ");
        for (i, (id, by)) in chunk.iter().enumerate() {
            q.push(if i > 0 { ", (" } else { "(" }).text(id).push(", ").text(by).push(")");
        }
        match tx.exec(q).await {
            Ok(n) => marked += n,
            Err(StoreError::Rejected(r)) if r.kind == RejectionKind::Unique => return Ok(marked),
            Err(e) => return Err(e),
        }
    }
    Ok(marked)
}

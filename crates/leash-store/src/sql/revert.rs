//! Set-based forms for batch revert: one statement for many records of one
//! table, journal rows many at a time.

use std::collections::HashMap;

use leash_core::call::FieldChange;
use leash_core::journal::Change;
use leash_core::value::{display, Record, Value};

use super::tx::SqlTx;
use super::write::{column, key_of, push_change_values};
use crate::rows::{record_from_row, stored_form, value_at, CHANGE_COLUMNS};
use crate::*;

/// Rows per set-based statement, well under every store's parameter limit.
pub const BULK_ROWS_MAX: usize = 500;
/// Journal rows per multi-row INSERT (20 parameters each).
pub const CHANGES_PER_INSERT_MAX: usize = 100;

pub(super) async fn lock_records(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_col: &str,
    keys: &[String],
) -> Result<HashMap<String, Record>> {
    let d = tx.dialect();
    let key_column = column(table, key_col)?;
    let mut out = HashMap::new();
    for chunk in keys.chunks(BULK_ROWS_MAX) {
        let cols: Vec<String> = table.columns.iter().map(|c| d.read_expr(c)).collect();
        let mut q = tx.q(&format!("SELECT {} FROM ", cols.join(", ")));
        q.table(&table.name).push(" WHERE ").ident(key_col).push(" IN (");
        for (i, k) in chunk.iter().enumerate() {
            q.push(if i > 0 { ", " } else { "" }).key(k, key_column);
        }
        q.push(")").push(d.for_update());
        for row in tx.all(q).await? {
            let rec = record_from_row(&row, table)?;
            if let Some(key) = key_of(&rec, key_col) {
                out.insert(key, rec);
            }
        }
    }
    Ok(out)
}

pub(super) async fn open_changes(tx: &mut SqlTx, ids: &[String]) -> Result<Vec<String>> {
    let d = tx.dialect();
    let mut out = Vec::new();
    for chunk in ids.chunks(BULK_ROWS_MAX) {
        let mut q = tx.q("SELECT id FROM leash_changes WHERE reverted_by IS NULL AND id IN (");
        q.list(chunk).push(")").push(d.for_update());
        for row in tx.all(q).await? {
            out.push(display(&value_at(&row, 0)?));
        }
    }
    Ok(out)
}

/// The named fields of these records as stored now, by key.
async fn read_many(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_col: &str,
    keys: &[&str],
    fields: &[&str],
) -> Result<HashMap<String, Vec<Value>>> {
    let d = tx.dialect();
    let key_column = column(table, key_col)?;
    let cols = fields.iter().map(|f| column(table, f)).collect::<Result<Vec<_>>>()?;
    let mut exprs = vec![d.text_of(&d.quote(key_col), key_column)];
    exprs.extend(cols.iter().map(|c| d.read_expr(c)));
    let mut q = tx.q(&format!("SELECT {} FROM ", exprs.join(", ")));
    q.table(&table.name).push(" WHERE ").ident(key_col).push(" IN (");
    for (i, k) in keys.iter().enumerate() {
        q.push(if i > 0 { ", " } else { "" }).key(k, key_column);
    }
    q.push(")");
    rows_by_key(tx.all(q).await?, &cols)
}

/// Rows of (key text, field values…) by key.
fn rows_by_key(rows: Vec<sqlx::any::AnyRow>, cols: &[&Column]) -> Result<HashMap<String, Vec<Value>>> {
    let mut out = HashMap::new();
    for row in rows {
        let key = display(&value_at(&row, 0)?);
        let values = cols.iter().enumerate().map(|(i, c)| Ok(stored_form(value_at(&row, i + 1)?, c.ty)));
        out.insert(key, values.collect::<Result<Vec<_>>>()?);
    }
    Ok(out)
}

pub(super) async fn update_records(
    tx: &mut SqlTx,
    table: &TableSchema,
    key_col: &str,
    rows: &[(String, Vec<FieldChange>)],
) -> Result<Vec<Option<Vec<Value>>>> {
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
                let stored = rows_by_key(tx.all(q).await?, &cols)?;
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
            let stored = read_many(tx, table, key_col, &keys, &fields).await?;
            for &r in chunk {
                out[r] = stored.get(&rows[r].0).cloned();
            }
        }
    }
    Ok(out)
}

pub(super) async fn chain_heads(tx: &mut SqlTx, table: &str, keys: &[String]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(BULK_ROWS_MAX) {
        // The head is the row no other row of the record points back to;
        // the chain's unique index answers that directly.
        let mut q = tx.q("SELECT c.record_key, c.hash FROM leash_changes c WHERE c.table_name = ");
        q.text(table).push(" AND c.record_key IN (").list(chunk);
        q.push(") AND NOT EXISTS (SELECT 1 FROM leash_changes d WHERE d.table_name = c.table_name AND d.record_key = c.record_key AND d.prev_hash = c.hash)");
        for row in tx.all(q).await? {
            out.insert(display(&value_at(&row, 0)?), display(&value_at(&row, 1)?));
        }
    }
    Ok(out)
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

pub(super) async fn mark_reverted_many(tx: &mut SqlTx, pairs: &[(String, String)]) -> Result<u64> {
    let d = tx.dialect();
    let mut marked = 0;
    for chunk in pairs.chunks(BULK_ROWS_MAX) {
        let mut q = tx.q("");
        if !d.updates_from_values() {
            q.push("UPDATE leash_changes SET reverted_by = CASE id");
            for (id, by) in chunk {
                q.push(" WHEN ").text(id).push(" THEN ").text(by);
            }
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
            q.push(" END WHERE reverted_by IS NULL AND id IN (").list(&ids).push(")");
        } else {
            // A join on the id index; a CASE would compare every row with
            // every pair.
            q.push("WITH marks (change_id, undo_id) AS (VALUES ");
            for (i, (id, by)) in chunk.iter().enumerate() {
                q.push(if i > 0 { ", (" } else { "(" }).text(id).push(", ").text(by).push(")");
            }
            q.push(") UPDATE leash_changes SET reverted_by = marks.undo_id FROM marks");
            q.push(" WHERE leash_changes.id = marks.change_id AND leash_changes.reverted_by IS NULL");
        }
        marked += tx.exec(q).await?;
    }
    Ok(marked)
}

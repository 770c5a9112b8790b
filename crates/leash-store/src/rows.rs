//! Decoding rows of the generic driver into leash's nouns.

use leash_core::journal::{Change, Op, Proposal, ProposalStatus};
use leash_core::value::{ColumnType, Record, Value};
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Row, ValueRef};

use crate::{Approval, Dialect, Pause, PauseKind, Result, StoreError, TableSchema, TokenRow, Undoable};

/// The columns a journal row is written with.
pub const CHANGE_COLUMNS: &str = "id, at, action, policy_hash, table_name, record_key, op, fields, actor, approver, reason, evidence, confidence, run_id, proposal_id, reverts, watch, prev_hash, hash";
/// A journal row as read (with, from `JOURNAL`, its revert mark) but
/// `confidence`, in `Packed`'s order.
const PACKED_COLUMNS: &str = "id, at, action, policy_hash, table_name, record_key, op, fields, actor, approver, reason, evidence, run_id, proposal_id, reverts, watch, prev_hash, hash, reverted_by";

/// A journal row read as two columns: its text columns packed by the
/// database into one JSON array, and `confidence` as the number it is (a
/// JSON rendering of a float may not round-trip, and the hash covers it).
/// The generic driver's cost is per column of every row; reading a million
/// rows 19 columns at a time was most of `verify`'s time.
pub fn packed_change_columns(d: Dialect) -> String {
    format!("{}, confidence", d.json_array_text(PACKED_COLUMNS))
}

#[derive(serde::Deserialize)]
struct Packed {
    id: String,
    at: String,
    action: String,
    policy_hash: String,
    table_name: String,
    record_key: String,
    op: String,
    /// The column's text (a JSON string), or the array itself where a store
    /// embeds JSON text as JSON.
    fields: serde_json::Value,
    actor: String,
    approver: Option<String>,
    reason: Option<String>,
    evidence: Option<String>,
    run_id: Option<String>,
    proposal_id: Option<String>,
    reverts: Option<String>,
    watch: serde_json::Value,
    prev_hash: String,
    hash: String,
    reverted_by: Option<String>,
}

/// A row read with `packed_change_columns`.
pub fn change_from_packed(row: &AnyRow) -> Result<Change> {
    let text = text_at_named(row, 0, "journal row")?;
    let p: Packed = serde_json::from_str(&text).map_err(|e| corrupt("journal row", e))?;
    let fields = fields_of(p.fields)?;
    Ok(Change {
        id: p.id,
        at: p.at,
        action: p.action,
        policy_hash: p.policy_hash,
        table_name: p.table_name,
        record_key: p.record_key,
        op: Op::parse(&p.op).ok_or_else(|| corrupt("op", &p.op))?,
        fields,
        actor: p.actor,
        approver: p.approver,
        reason: p.reason,
        evidence: p.evidence,
        confidence: value_at(row, 1)?.as_f64(),
        run_id: p.run_id,
        proposal_id: p.proposal_id,
        reverts: p.reverts,
        reverted_by: p.reverted_by,
        watch: matches!(stored_form(p.watch, ColumnType::Boolean), Value::Bool(true)),
        prev_hash: (!p.prev_hash.is_empty()).then_some(p.prev_hash),
        hash: p.hash,
    })
}
/// The journal as read: each change with the id of the change that undid it
/// (`leash_reverts`, written when a revert lands; the journal row never changes).
pub const JOURNAL: &str = "leash_changes LEFT JOIN leash_reverts ON leash_reverts.change_id = leash_changes.id";
/// What a revert reads of a change, in `PackedUndoable`'s order.
const UNDOABLE_COLUMNS: &str =
    "id, action, policy_hash, table_name, record_key, op, fields, actor, reverts, reverted_by";
pub const APPROVAL_COLUMNS: &str = "action, action_hash, policy_hash, approved_by, note, at, page";
pub const PROPOSAL_COLUMNS: &str = "id, created_at, action, table_name, record_key, fields, reasons, notes, status, actor, reason, evidence, confidence, run_id, reviewer, decided_at, review_note, edited, change_id, group_key, expires_at, on_expire, escalated_at";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// One column of any row as a JSON value, whatever type the driver reports.
pub fn value_at(row: &AnyRow, idx: usize) -> Result<Value> {
    let raw = row.try_get_raw(idx)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().kind();
    Ok(match kind {
        AnyTypeInfoKind::Null => Value::Null,
        AnyTypeInfoKind::Bool => Value::Bool(row.try_get::<bool, _>(idx)?),
        AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
            Value::from(row.try_get::<i64, _>(idx)?)
        }
        AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => {
            let f = row.try_get::<f64, _>(idx)?;
            serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
        }
        AnyTypeInfoKind::Text => Value::String(row.try_get::<String, _>(idx)?),
        AnyTypeInfoKind::Blob => Value::String(String::from_utf8_lossy(&row.try_get::<Vec<u8>, _>(idx)?).into_owned()),
    })
}

/// A value as read into leash's stored form (docs/policy.md, Values and types): integers as JSON
/// numbers, booleans as booleans, everything else as the database's text.
/// SQLite hands over its stored value itself, which already is that form
/// but for booleans kept as 0 and 1.
pub fn stored_form(value: Value, ty: ColumnType) -> Value {
    match (ty, &value) {
        (ColumnType::Boolean, Value::Number(n)) => match n.as_i64() {
            Some(0) => Value::Bool(false),
            Some(1) => Value::Bool(true),
            _ => value,
        },
        (ColumnType::Boolean, Value::String(s)) => match s.as_str() {
            "t" | "true" | "1" => Value::Bool(true),
            "f" | "false" | "0" => Value::Bool(false),
            _ => value,
        },
        (ColumnType::Integer, Value::String(s)) => match s.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => s.parse::<u64>().map(Value::from).unwrap_or(value),
        },
        _ => value,
    }
}

/// A row read with the table's columns in order (and perhaps more after them).
pub fn record_from_row(row: &AnyRow, table: &TableSchema) -> Result<Record> {
    let mut record = Record::new();
    for (i, col) in table.columns.iter().enumerate() {
        record.insert(col.name.clone(), stored_form(value_at(row, i)?, col.ty));
    }
    Ok(record)
}

fn column_value(row: &AnyRow, col: &str) -> Result<Value> {
    let idx = row
        .columns()
        .iter()
        .position(|c| sqlx::Column::name(c) == col)
        .ok_or_else(|| corrupt(col, "missing column"))?;
    value_at(row, idx)
}

/// Text whether the driver reports it as text or, as MySQL does for TEXT
/// columns, as bytes.
fn opt_string(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(match column_value(row, col)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

fn string(row: &AnyRow, col: &str) -> Result<String> {
    opt_string(row, col)?.ok_or_else(|| corrupt(col, "unexpected NULL"))
}

fn opt_f64(row: &AnyRow, col: &str) -> Result<Option<f64>> {
    Ok(column_value(row, col)?.as_f64())
}

fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    serde_json::from_str(&string(row, col)?).map_err(|e| corrupt(col, e))
}

/// Text at a column position (for rows read with a fixed column list).
fn opt_text_at(row: &AnyRow, idx: usize) -> Result<Option<String>> {
    Ok(match value_at(row, idx)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

fn text_at_named(row: &AnyRow, idx: usize, name: &str) -> Result<String> {
    opt_text_at(row, idx)?.ok_or_else(|| corrupt(name, "unexpected NULL"))
}

/// What a revert reads of a change, packed like `packed_change_columns`
/// (every column is text).
pub fn packed_undoable_columns(d: Dialect) -> String {
    d.json_array_text(UNDOABLE_COLUMNS)
}

#[derive(serde::Deserialize)]
struct PackedUndoable {
    id: String,
    action: String,
    policy_hash: String,
    table_name: String,
    record_key: String,
    op: String,
    fields: serde_json::Value,
    actor: String,
    reverts: Option<String>,
    reverted_by: Option<String>,
}

/// A row read with `packed_undoable_columns`.
pub fn undoable_from_packed(row: &AnyRow) -> Result<Undoable> {
    let text = text_at_named(row, 0, "journal row")?;
    let p: PackedUndoable = serde_json::from_str(&text).map_err(|e| corrupt("journal row", e))?;
    Ok(Undoable {
        id: p.id,
        action: p.action,
        policy_hash: p.policy_hash,
        table_name: p.table_name,
        record_key: p.record_key,
        op: Op::parse(&p.op).ok_or_else(|| corrupt("op", &p.op))?,
        fields: fields_of(p.fields)?,
        actor: p.actor,
        reverts: p.reverts,
        reverted_by: p.reverted_by,
    })
}

/// The `fields` column as packed: its text (a JSON string), or the array
/// itself where a store embeds JSON text as JSON.
fn fields_of(v: Value) -> Result<Vec<leash_core::call::FieldChange>> {
    match v {
        Value::String(s) => serde_json::from_str(&s),
        other => serde_json::from_value(other),
    }
    .map_err(|e| corrupt("fields", e))
}

pub fn proposal_from_row(row: &AnyRow) -> Result<Proposal> {
    let status = string(row, "status")?;
    let edited: Option<String> = opt_string(row, "edited")?;
    Ok(Proposal {
        id: string(row, "id")?,
        created_at: string(row, "created_at")?,
        action: string(row, "action")?,
        table_name: string(row, "table_name")?,
        record_key: opt_string(row, "record_key")?,
        fields: json(row, "fields")?,
        reasons: json(row, "reasons")?,
        notes: json(row, "notes")?,
        status: ProposalStatus::parse(&status).ok_or_else(|| corrupt("status", status))?,
        actor: string(row, "actor")?,
        reason: opt_string(row, "reason")?,
        evidence: opt_string(row, "evidence")?,
        confidence: opt_f64(row, "confidence")?,
        run_id: opt_string(row, "run_id")?,
        reviewer: opt_string(row, "reviewer")?,
        decided_at: opt_string(row, "decided_at")?,
        review_note: opt_string(row, "review_note")?,
        edited: edited.map(|e| serde_json::from_str(&e).map_err(|e| corrupt("edited", e))).transpose()?,
        change_id: opt_string(row, "change_id")?,
        group: opt_string(row, "group_key")?,
        expires_at: opt_string(row, "expires_at")?,
        on_expire: opt_string(row, "on_expire")?.and_then(|s| leash_core::policy::OnExpire::parse(&s)),
        escalated_at: opt_string(row, "escalated_at")?,
    })
}

/// The columns `pause_from_row` reads, in order.
pub const PAUSE_COLUMNS: &str = "scope, kind, reason, by_name, at, change_ids";

pub fn pause_from_row(row: &AnyRow) -> Result<Pause> {
    let kind = string(row, "kind")?;
    Ok(Pause {
        scope: string(row, "scope")?,
        kind: PauseKind::parse(&kind).ok_or_else(|| corrupt("kind", kind))?,
        reason: string(row, "reason")?,
        by: string(row, "by_name")?,
        at: string(row, "at")?,
        change_ids: match opt_string(row, "change_ids")? {
            Some(ids) => serde_json::from_str(&ids).map_err(|e| corrupt("change_ids", e))?,
            None => Vec::new(),
        },
    })
}

pub fn token_from_row(row: &AnyRow) -> Result<TokenRow> {
    Ok(TokenRow {
        name: string(row, "name")?,
        role: string(row, "role")?,
        actions: json(row, "actions")?,
        created_at: string(row, "created_at")?,
        revoked_at: opt_string(row, "revoked_at")?,
    })
}

pub fn approval_from_row(row: &AnyRow) -> Result<Approval> {
    Ok(Approval {
        action: string(row, "action")?,
        action_hash: string(row, "action_hash")?,
        policy_hash: string(row, "policy_hash")?,
        approved_by: string(row, "approved_by")?,
        note: opt_string(row, "note")?,
        at: string(row, "at")?,
        page: opt_string(row, "page")?,
    })
}

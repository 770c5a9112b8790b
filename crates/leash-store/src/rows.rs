//! Decoding rows of the generic driver into leash's nouns.

use leash_core::journal::{Change, Op, Proposal, ProposalStatus};
use leash_core::value::{ColumnType, Record, Value};
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Row, ValueRef};

use crate::{Approval, Pause, PauseKind, Result, StoreError, TableSchema, TokenRow, Undoable};

pub const CHANGE_COLUMNS: &str = "id, at, action, policy_hash, table_name, record_key, op, fields, actor, approver, reason, evidence, confidence, run_id, proposal_id, reverts, reverted_by, watch, prev_hash, hash";
/// What a revert reads of a change, in `undoable_from_row`'s order.
pub const UNDOABLE_COLUMNS: &str = "id, action, policy_hash, table_name, record_key, op, fields, reverts, reverted_by";
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

pub fn change_from_row(row: &AnyRow) -> Result<Change> {
    let op = string(row, "op")?;
    let prev_hash = string(row, "prev_hash")?;
    Ok(Change {
        id: string(row, "id")?,
        at: string(row, "at")?,
        action: string(row, "action")?,
        policy_hash: string(row, "policy_hash")?,
        table_name: string(row, "table_name")?,
        record_key: string(row, "record_key")?,
        op: Op::parse(&op).ok_or_else(|| corrupt("op", op))?,
        fields: json(row, "fields")?,
        actor: string(row, "actor")?,
        approver: opt_string(row, "approver")?,
        reason: opt_string(row, "reason")?,
        evidence: opt_string(row, "evidence")?,
        confidence: opt_f64(row, "confidence")?,
        run_id: opt_string(row, "run_id")?,
        proposal_id: opt_string(row, "proposal_id")?,
        reverts: opt_string(row, "reverts")?,
        reverted_by: opt_string(row, "reverted_by")?,
        watch: matches!(stored_form(column_value(row, "watch")?, ColumnType::Boolean), Value::Bool(true)),
        prev_hash: (!prev_hash.is_empty()).then_some(prev_hash),
        hash: string(row, "hash")?,
    })
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

pub fn undoable_from_row(row: &AnyRow) -> Result<Undoable> {
    let op = text_at_named(row, 5, "op")?;
    let fields = text_at_named(row, 6, "fields")?;
    Ok(Undoable {
        id: text_at_named(row, 0, "id")?,
        action: text_at_named(row, 1, "action")?,
        policy_hash: text_at_named(row, 2, "policy_hash")?,
        table_name: text_at_named(row, 3, "table_name")?,
        record_key: text_at_named(row, 4, "record_key")?,
        op: Op::parse(&op).ok_or_else(|| corrupt("op", op))?,
        fields: serde_json::from_str(&fields).map_err(|e| corrupt("fields", e))?,
        reverts: opt_text_at(row, 7)?,
        reverted_by: opt_text_at(row, 8)?,
    })
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

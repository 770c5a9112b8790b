//! A call's values on their way to the database and back: checked against
//! the live column (type, enum labels, length), brought into the one form
//! the store keeps them in, seen typed by the rules, and — when the
//! database still refuses one — named in a refusal instead of its error.

use leash_core::call::{Call, FieldChange, Refusal};
use leash_core::codes::Code;
use leash_core::policy::{Action, Key};
use leash_core::rules::check_new_value;
use leash_core::value::{coerce, display, typed_record, typed_view, ColumnType, Record, Value};
use leash_store::{Column, Rejection, RejectionKind, TableSchema};

use crate::{Engine, Result};

/// The column's type for the rules; a column the table lacks is text.
pub(crate) fn column_type(table: &TableSchema, name: &str) -> ColumnType {
    table.column(name).map(|c| c.ty).unwrap_or_default()
}

/// A record as the rules and conditions see it.
pub(crate) fn typed(table: &TableSchema, record: &Record) -> Record {
    typed_record(record, |c| column_type(table, c))
}

/// A caller's value for `col`, checked and brought into the column's form;
/// the refusal names the column and its type. `closed`: the policy's
/// `one_of` decides the allowed labels (a subset of an enum's, by `check`).
pub(crate) fn value_for(col: &Column, value: &Value, closed: bool) -> std::result::Result<Value, Refusal> {
    let refuse = |why: String| {
        Refusal::new(
            Code::InvalidInput,
            format!(
                "{}: `{}` cannot be stored in column {} ({}): {why}",
                col.name,
                display(value),
                col.name,
                col.declared
            ),
        )
    };
    if let Some(why) = col.unwritable() {
        return Err(refuse(format!("{why}; leash never writes it")));
    }
    let v = coerce(value, col.ty).ok_or_else(|| refuse(format!("send a {} value", type_words(col.ty))))?;
    if let Value::String(s) = &v {
        if !closed && !col.labels.is_empty() && !col.labels.iter().any(|l| l == s) {
            return Err(refuse(format!("use one of {}", col.labels.join(", "))));
        }
        if let Some(max) = col.max_chars {
            let n = s.chars().count();
            if n > max as usize {
                return Err(refuse(format!("{n} characters; it holds at most {max}")));
            }
        }
    }
    Ok(v)
}

fn type_words(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "text",
        ColumnType::Integer => "whole-number",
        ColumnType::Numeric => "numeric",
        ColumnType::Boolean => "true/false",
        ColumnType::Date => "date (YYYY-MM-DD)",
        ColumnType::Timestamp => "time (ISO 8601, e.g. 2026-02-01T11:30:15Z)",
        ColumnType::Json => "JSON",
    }
}

/// A key's text split into its columns' values (`Key::parts`).
pub(crate) fn key_parts(key: &Key, text: &str) -> Option<Vec<String>> {
    key.parts(text)
}

/// A record key in its columns' one spelling: integer keys as the database
/// prints them (`"01"`, `" 1"` → `"1"`), so one record never has two
/// histories; other keys as sent, for the database to parse.
pub(crate) fn key_for(action: &Action, table: &TableSchema, key: &str) -> std::result::Result<String, Refusal> {
    let parts = action.key.parts(key).ok_or_else(|| {
        Refusal::new(
            Code::InvalidInput,
            format!(
                "`{key}` does not name a record of {} by its key ({}); send each key column",
                action.table, action.key
            ),
        )
    })?;
    let mut out = Vec::with_capacity(parts.len());
    for (col_name, part) in action.key.columns().iter().zip(parts) {
        match table.column(col_name) {
            Some(col) if col.ty == ColumnType::Integer => match part.trim().parse::<i64>() {
                Ok(i) => out.push(i.to_string()),
                Err(_) => return Err(bad_key(action, col, &part)),
            },
            _ => out.push(part),
        }
    }
    Ok(action.key.text(out))
}

fn bad_key(action: &Action, col: &Column, key: &str) -> Refusal {
    Refusal::new(
        Code::InvalidInput,
        format!(
            "key `{key}` cannot name a record of {}: its key column {} is {}; send the key as the database stores it",
            action.table, col.name, col.declared
        ),
    )
}

/// Checks the call's values and key against the live columns and brings
/// them into the columns' forms (`"42"` → 42 for an integer column).
pub(crate) fn coerce_call(action: &Action, table: &TableSchema, call: &mut Call) -> std::result::Result<(), Refusal> {
    let convert = |field: &str, value: &Value| -> std::result::Result<Value, Refusal> {
        match table.column(field) {
            Some(col) => value_for(col, value, action.field(field).is_some_and(|r| r.one_of.is_some())),
            None => Err(Refusal::new(Code::InvalidInput, format!("{} has no column `{field}`", action.table))),
        }
    };
    for (field, value) in call.set.iter_mut() {
        *value = convert(field, value)?;
        if let Some(rule) = action.field(field) {
            check_new_value(rule, &typed_view(value, column_type(table, field)))?;
        }
    }
    if let Some(expect) = call.expect.as_mut() {
        for (field, value) in expect.iter_mut() {
            // `expect` compares, it does not write: a generated or binary
            // column may be expected.
            if let Some(col) = table.column(field) {
                *value = coerce(value, col.ty).unwrap_or_else(|| value.clone());
            } else {
                return Err(Refusal::new(Code::InvalidInput, format!("{} has no column `{field}`", action.table)));
            }
        }
    }
    if let Some(key) = call.key_for(&action.key)? {
        call.key = Some(Value::String(key_for(action, table, &key)?));
    }
    Ok(())
}

/// The call as the rules see it: `set` and `expect` typed like the record.
pub(crate) fn typed_call(table: &TableSchema, call: &Call, stored_new: &Record) -> Call {
    let typed_map = |m: &serde_json::Map<String, Value>| -> serde_json::Map<String, Value> {
        m.iter().map(|(k, v)| (k.clone(), typed_view(v, column_type(table, k)))).collect()
    };
    Call { set: typed_map(stored_new), expect: call.expect.as_ref().map(typed_map), ..call.clone() }
}

/// Fields as the rules see them (for the breaker's idea of "the same").
pub(crate) fn typed_fields(table: &TableSchema, fields: &[FieldChange]) -> Vec<FieldChange> {
    fields
        .iter()
        .map(|f| {
            let ty = column_type(table, &f.field);
            FieldChange { field: f.field.clone(), old: typed_view(&f.old, ty), new: typed_view(&f.new, ty) }
        })
        .collect()
}

/// A decision's fields (typed) back in the store's form: old as the record
/// holds it, new as the database will store it.
pub(crate) fn stored_fields(
    fields: Vec<FieldChange>,
    record: Option<&Record>,
    stored_new: &Record,
) -> Vec<FieldChange> {
    fields
        .into_iter()
        .map(|f| FieldChange {
            old: match record {
                Some(r) => r.get(&f.field).cloned().unwrap_or(Value::Null),
                None => f.old,
            },
            new: stored_new.get(&f.field).cloned().unwrap_or(f.new),
            field: f.field,
        })
        .collect()
}

impl Engine {
    /// The refusal for a write the database turned down, naming the value
    /// it stumbled on. The database's own text goes to the log only.
    pub(crate) async fn refusal_for(&self, rej: &Rejection, action: &Action, call: &Call) -> Result<Refusal> {
        // The database's text may quote values; it is for whoever turns the
        // log up, not for a warning every command prints.
        tracing::warn!(action = %action.name, kind = rej.kind.as_str(), column = rej.column.as_deref().unwrap_or(""),
            "the database refused a write");
        tracing::debug!(action = %action.name, detail = %rej.detail, "what the database said");
        let table = self.schema(&action.table)?;
        let named = |col: &str| table.column(col).map(|c| format!("{col} ({})", c.declared));
        let column = rej.column.as_deref().and_then(named);
        let constraint = rej.constraint.as_deref().unwrap_or("a constraint");
        Ok(match rej.kind {
            RejectionKind::Value => {
                let culprit = match rej.column.as_deref() {
                    Some(c) => Some(c.to_string()),
                    None => self.find_culprit(action, table, call).await?,
                };
                value_refusal(action, table, call, culprit)
            }
            RejectionKind::NotNull => Refusal::new(
                Code::MissingRequired,
                match column {
                    Some(c) => format!("{c} may not be empty; set it in the call"),
                    None => "a column that may not be empty was left empty; set every required field".to_string(),
                },
            ),
            RejectionKind::Unique => Refusal::new(
                Code::InvalidInput,
                format!(
                    "another record of {} already holds this value ({}); the database keeps it unique",
                    action.table,
                    column.unwrap_or_else(|| constraint.to_string())
                ),
            ),
            RejectionKind::Check => {
                let culprit = match rej.column.clone() {
                    Some(c) => Some(c),
                    // A domain's check fails in the cast: ask which value.
                    None => self.find_culprit(action, table, call).await?,
                };
                let what = match &culprit {
                    Some(c) => format!("{c}: `{}`", call.set.get(c).map(display).unwrap_or_default()),
                    None => "this change".to_string(),
                };
                Refusal::new(
                    Code::InvalidInput,
                    format!("{what} is refused by the database's check {constraint}; send a value that meets it"),
                )
            }
            RejectionKind::ForeignKey => foreign_key_refusal(table, call, rej),
        })
    }

    /// Which of the call's key and values the column's type cannot hold,
    /// asking the database one value at a time (only on this error path);
    /// where it cannot be asked, the one value the call sets.
    async fn find_culprit(&self, action: &Action, table: &TableSchema, call: &Call) -> Result<Option<String>> {
        if !self.store().can_test_values() {
            return Ok((call.set.len() == 1).then(|| call.set.keys().next().cloned()).flatten());
        }
        let key_text = call.key_text().ok().flatten().unwrap_or_default();
        let parts = key_parts(&action.key, &key_text).unwrap_or_default();
        let key = action.key.columns().iter().cloned().zip(parts.into_iter().map(Value::String));
        for (field, value) in key.chain(call.set.iter().map(|(f, v)| (f.clone(), v.clone()))) {
            if let Some(col) = table.column(&field) {
                if self.store().fits(col, &value).await? == Some(false) {
                    return Ok(Some(field));
                }
            }
        }
        Ok(None)
    }
}

/// A foreign key refused the write: the column and the table its value
/// must name, from the schema (`ArtistId must name a record of Artist
/// (ArtistId); 999 is not one`). Which column: the one the database named,
/// else the call's fields that point at another table.
fn foreign_key_refusal(table: &TableSchema, call: &Call, rej: &Rejection) -> Refusal {
    let pointing = |f: &&String| table.column(f).is_some_and(|c| c.references.is_some());
    // A column the call did not set (a trigger's) is not the caller's to learn.
    let suspects: Vec<&String> = match rej.column.as_ref().filter(|c| call.set.contains_key(c.as_str())) {
        Some(c) => vec![c],
        None => call.set.keys().filter(pointing).collect(),
    };
    let must = |f: &str| -> Option<String> {
        let to = table.column(f)?.references.as_ref()?;
        let value = call.set.get(f).map(display).unwrap_or_default();
        Some(format!("{f} must name a record of {} ({}); {value} is not one", to.table, to.column))
    };
    let message = match suspects.as_slice() {
        [one] => must(one).unwrap_or_else(|| {
            // A key over several columns, or other rows pointing at the
            // value this change replaces.
            format!(
                "{one}: `{}` would break a link between tables (a foreign key): it names no record of the table it points at, or other records point at the value it replaces",
                call.set.get(one.as_str()).map(display).unwrap_or_default()
            )
        }),
        [] => format!(
            "a field must name a record that exists ({})",
            rej.constraint.as_deref().unwrap_or("a foreign key of the table")
        ),
        many => {
            let each: Vec<String> = many
                .iter()
                .filter_map(|f| table.column(f)?.references.as_ref().map(|to| format!("{f} of {} ({})", to.table, to.column)))
                .collect();
            let values: Vec<String> = many.iter().filter_map(|f| call.set.get(f.as_str()).map(display)).collect();
            format!("each must name an existing record: {}; one of {} is not one", each.join(", "), values.join(", "))
        }
    };
    Refusal::new(Code::InvalidInput, message)
}

/// A value the column's type refused: which one (the key, a field, or, not
/// knowing, the call's fields with their types).
fn value_refusal(action: &Action, table: &TableSchema, call: &Call, culprit: Option<String>) -> Refusal {
    match culprit {
        Some(c) if action.key.contains(&c) && !call.set.contains_key(&c) => {
            let key = call.key_text().ok().flatten().unwrap_or_default();
            match table.column(&c) {
                Some(col) => bad_key(action, col, &key),
                None => Refusal::new(Code::InvalidInput, format!("key `{key}` cannot name a record")),
            }
        }
        Some(c) => {
            let value = call.set.get(&c).map(display).unwrap_or_default();
            let ty = table.column(&c).map(|col| col.declared.as_str()).unwrap_or("its type");
            Refusal::new(
                Code::InvalidInput,
                format!("{c}: `{value}` cannot be stored in column {c} ({ty}); send a value of that type"),
            )
        }
        None => {
            let fields: Vec<String> =
                call.set.keys().filter_map(|f| table.column(f).map(|c| format!("{f} ({})", c.declared))).collect();
            Refusal::new(
                Code::InvalidInput,
                format!("a value does not fit its column's type ({}); check each value's spelling", fields.join(", ")),
            )
        }
    }
}

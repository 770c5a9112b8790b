//! `decide`: the pure decision for one call on one loaded record. Plain data in,
//! plain data out; the engine loads, calls this, and writes what it says.

use std::collections::BTreeMap;

use crate::call::{Call, FieldChange, Refusal};
use crate::codes::{Code, ReviewReason};
use crate::condition::Prepared;
use crate::format::Flag;
use crate::policy::{Action, Kind, Mode};
use crate::rules::{address_flags, check_field, FieldContext};
use crate::value::{column, display, same_value, Record, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Apply { fields: Vec<FieldChange>, watch: bool },
    Review { fields: Vec<FieldChange>, reasons: Vec<ReviewReason>, notes: Vec<String>, suggested: bool },
    Reject(Refusal),
    Unchanged,
}

/// What the engine knows besides the call.
pub struct Inputs<'a> {
    /// The loaded record; `None` when the key does not exist. For `append`,
    /// the row the call would insert.
    pub record: Option<&'a Record>,
    /// field → key of another record already holding the new value (`unique`).
    pub duplicates: &'a BTreeMap<String, String>,
    /// The action went direct recently: flag everything that lands.
    pub watch_active: bool,
    /// A person approves: hard rules still hold, review routing does not.
    pub approved: bool,
}

fn reject(code: Code, message: impl Into<String>) -> Decision {
    Decision::Reject(Refusal::new(code, message))
}

/// Checks that need no record: the call's shape, fields, required context.
pub fn check_call(action: &Action, call: &Call) -> Result<(), Refusal> {
    call.check_shape()?;
    check_fields(action, call)
}

/// `check_call` without the shape: `decide` sees the call typed like the
/// record (a JSON column's text as the document it holds), which the shape
/// rules for callers would refuse.
fn check_fields(action: &Action, call: &Call) -> Result<(), Refusal> {
    if call.set.is_empty() {
        let names: Vec<&str> = action.fields.iter().map(|f| f.name.as_str()).collect();
        return Err(Refusal::new(
            Code::InvalidInput,
            format!("the call sets no field; `set` one of: {}", names.join(", ")),
        ));
    }
    if let Some(field) = call.set.keys().find(|f| action.field(f).is_none()) {
        let names: Vec<&str> = action.fields.iter().map(|f| f.name.as_str()).collect();
        return Err(Refusal::new(
            Code::FieldNotAllowed,
            format!("{} may not write `{field}`; it may write only: {}", action.name, names.join(", ")),
        ));
    }
    if let Some(field) = call.expect.iter().flat_map(|e| e.keys()).find(|f| !action.may_see(f)) {
        return Err(Refusal::new(
            Code::FieldNotAllowed,
            format!(
                "{} may not read `{field}`; `expect` may name only what the action reads or writes: {}",
                action.name,
                action.columns().join(", ")
            ),
        ));
    }
    match (action.kind, call.names_record()?) {
        (Kind::Update, false) => return Err(Refusal::new(Code::InvalidInput, "name the record with `key`")),
        (Kind::Append, true) => {
            return Err(Refusal::new(
                Code::InvalidInput,
                "this action adds a new row; leave `key` out, the database assigns it",
            ))
        }
        _ => {}
    }
    let blank = |t: &Option<String>| t.as_deref().is_none_or(|t| t.trim().is_empty());
    if action.requires_reason && blank(&call.reason) {
        return Err(Refusal::new(
            Code::MissingRequired,
            "this action requires a `reason`: say in a sentence why the change is right",
        ));
    }
    if action.requires_evidence && blank(&call.evidence) {
        return Err(Refusal::new(
            Code::MissingRequired,
            "this action requires `evidence`: quote what you saw that supports the change",
        ));
    }
    Ok(())
}

/// The decision for one call. Its messages and notes quote only values the
/// caller may learn (`sight.rs`): the call's own values and the columns the
/// action reads or writes. Nothing is scrubbed after the fact — replacing a
/// hidden value inside text that echoes the caller's input would tell the
/// caller which of its guesses was right.
pub fn decide(action: &Action, call: &Call, inputs: &Inputs) -> Decision {
    judge(action, call, inputs)
}

/// The decision, in the order docs/policy.md gives: the call's fields, the
/// record, `expect`, `when` and `locked_if`, each field's rules, then what
/// sends the change to a person, then the mode.
fn judge(action: &Action, call: &Call, inputs: &Inputs) -> Decision {
    if let Err(refusal) = check_fields(action, call) {
        return Decision::Reject(refusal);
    }
    let Some(record) = inputs.record else {
        let key = call.key_text().ok().flatten().unwrap_or_default();
        return reject(
            Code::RecordNotFound,
            format!("no record in {} has {} = {key}; check the key", action.table, action.key),
        );
    };
    if let Err(r) = check_expect(call, record) {
        return Decision::Reject(r);
    }
    // The proposed record is built only for an action whose conditions read it.
    let proposed = uses_new(action).then(|| proposed(record, call));
    let prepared = match &proposed {
        Some(p) => Prepared::proposed(record, p),
        None => Prepared::new(record),
    };
    let mut flags = match check_conditions(action, &prepared) {
        Ok(flags) => flags,
        Err(r) => return Decision::Reject(r),
    };
    let changes = match check_fields_rules(action, call, record, inputs, &mut flags) {
        Ok(changes) => changes,
        Err(r) => return Decision::Reject(r),
    };
    if changes.is_empty() {
        return Decision::Unchanged;
    }
    if inputs.approved {
        // A person approves: what follows only flags for review, which
        // approval overrides, so none of it can change the decision.
        return Decision::Apply { fields: changes, watch: inputs.watch_active };
    }
    flags.extend(address_flags(action, record, &changes));
    flags.extend(review_flags(action, call, &prepared, inputs.watch_active, !flags.is_empty()));
    route(action, changes, flags, inputs.watch_active)
}

fn uses_new(action: &Action) -> bool {
    [&action.when, &action.locked_if, &action.review_if].into_iter().flatten().any(|c| c.uses_new())
}

/// The record as the call would leave it: `new` in conditions.
fn proposed(record: &Record, call: &Call) -> Record {
    let mut new = record.clone();
    for (field, value) in &call.set {
        new.insert(field.clone(), value.clone());
    }
    new
}

/// `expect`: each field the agent says it read must still hold that value.
fn check_expect(call: &Call, record: &Record) -> Result<(), Refusal> {
    for (field, expected) in call.expect.iter().flatten() {
        let Some(current) = record.get(field) else {
            return Err(Refusal::new(
                Code::InvalidInput,
                format!("expect names `{field}`, which this record does not have"),
            ));
        };
        if !same_value(current, expected) {
            return Err(Refusal::new(
                Code::StaleRecord,
                format!(
                    "{field} is now `{}`, not `{}` as you read it; read the record again and decide anew",
                    display(current),
                    display(expected)
                ),
            ));
        }
    }
    Ok(())
}

fn condition_context(which: &str, source: &str, why: String) -> Flag {
    Flag {
        reason: ReviewReason::MissingContext,
        note: format!("{which} `{source}` could not be evaluated on this record ({why})"),
    }
}

/// `when` false refuses, `locked_if` true refuses; a condition that cannot
/// be evaluated on this record is a flag for a person instead.
fn check_conditions(action: &Action, prepared: &Prepared) -> Result<Vec<Flag>, Refusal> {
    let mut flags = Vec::new();
    if let Some(when) = &action.when {
        match when.eval_bool_on(prepared) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Refusal::new(
                    Code::ConditionFalse,
                    format!("this record does not meet `{}`; the action does not apply to it", when.source()),
                ))
            }
            Err(why) => flags.push(condition_context("when", when.source(), why)),
        }
    }
    if let Some(locked) = &action.locked_if {
        match locked.eval_bool_on(prepared) {
            Ok(false) => {}
            Ok(true) => {
                return Err(Refusal::new(
                    Code::RecordLocked,
                    format!("this record is locked (`{}`); leave it to a person", locked.source()),
                ))
            }
            Err(why) => flags.push(condition_context("locked_if", locked.source(), why)),
        }
    }
    Ok(flags)
}

/// Each field the call changes, checked by its rules; a field whose value
/// is already the new one is left out.
fn check_fields_rules(
    action: &Action,
    call: &Call,
    record: &Record,
    inputs: &Inputs,
    flags: &mut Vec<Flag>,
) -> Result<Vec<FieldChange>, Refusal> {
    let mut changes = Vec::new();
    for (field, new) in &call.set {
        let old = match action.kind {
            Kind::Update => column(record, field).unwrap_or(&Value::Null),
            Kind::Append => &Value::Null,
        };
        if action.kind == Kind::Update && same_value(old, new) {
            continue;
        }
        // `check_fields` refused any field without a rule.
        let Some(rule) = action.field(field) else { continue };
        let cx = FieldContext { record, action, duplicate_of: inputs.duplicates.get(field).map(String::as_str) };
        flags.extend(check_field(rule, old, new, &cx)?);
        changes.push(FieldChange { field: field.clone(), old: old.clone(), new: new.clone() });
    }
    Ok(changes)
}

/// `review_if`, `below_confidence`, and the watch window (which flags only
/// what something else already flagged).
fn review_flags(action: &Action, call: &Call, prepared: &Prepared, watch_active: bool, flagged: bool) -> Vec<Flag> {
    let mut flags = Vec::new();
    if let Some(review_if) = &action.review_if {
        match review_if.eval_bool_on(prepared) {
            Ok(false) => {}
            Ok(true) => flags.push(Flag {
                reason: ReviewReason::ReviewIf,
                note: action
                    .review_note
                    .clone()
                    .unwrap_or_else(|| format!("`{}` holds for this record", review_if.source())),
            }),
            Err(why) => flags.push(condition_context("review_if", review_if.source(), why)),
        }
    }
    if let Some(min) = action.review.below_confidence {
        match call.confidence {
            Some(c) if c >= min => {}
            Some(c) => flags.push(Flag {
                reason: ReviewReason::LowConfidence,
                note: format!("the agent is only {:.0}% sure (direct needs {:.0}%)", c * 100.0, min * 100.0),
            }),
            None => flags.push(Flag {
                reason: ReviewReason::LowConfidence,
                note: "the agent gave no confidence for this change".to_string(),
            }),
        }
    }
    if watch_active && (flagged || !flags.is_empty()) {
        flags.push(Flag {
            reason: ReviewReason::WatchWindow,
            note: "this action went direct recently; while it is watched, anything unusual waits for a person"
                .to_string(),
        });
    }
    flags
}

/// Where the change goes, by the action's mode and the flags raised.
fn route(action: &Action, changes: Vec<FieldChange>, flags: Vec<Flag>, watch_active: bool) -> Decision {
    let (mut reasons, mut notes) = (Vec::new(), Vec::new());
    for flag in flags {
        if !reasons.contains(&flag.reason) {
            reasons.push(flag.reason);
        }
        notes.push(flag.note);
    }
    match action.mode {
        Mode::Suggest => Decision::Review { fields: changes, reasons, notes, suggested: true },
        Mode::Review => {
            reasons.insert(0, ReviewReason::ModeReview);
            notes.insert(0, format!("{} is in review mode: a person approves every change", action.name));
            Decision::Review { fields: changes, reasons, notes, suggested: false }
        }
        Mode::Direct if reasons.is_empty() => Decision::Apply { fields: changes, watch: watch_active },
        Mode::Direct => Decision::Review { fields: changes, reasons, notes, suggested: false },
    }
}

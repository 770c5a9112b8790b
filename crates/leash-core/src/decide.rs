//! `decide`: the pure decision for one call on one loaded record. Plain data in,
//! plain data out; the engine loads, calls this, and writes what it says.

use std::collections::BTreeMap;

use crate::call::{Call, FieldChange, Refusal};
use crate::codes::{Code, ReviewReason};
use crate::condition::Prepared;
use crate::format::Flag;
use crate::policy::{Action, Kind, Mode};
use crate::rules::{address_flags, check_field, FieldContext};
use crate::sight::Hidden;
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

/// The decision for one call. Its messages and notes never carry a value of
/// a column the action may not show (`sight.rs`), whatever rule or
/// condition quoted it.
pub fn decide(action: &Action, call: &Call, inputs: &Inputs) -> Decision {
    let decision = judge(action, call, inputs);
    let Some(record) = inputs.record else { return decision };
    match decision {
        Decision::Reject(mut r) => {
            r.message = Hidden::of(action, record).scrub(&r.message);
            Decision::Reject(r)
        }
        Decision::Review { fields, reasons, mut notes, suggested } => {
            Hidden::of(action, record).scrub_all(&mut notes);
            Decision::Review { fields, reasons, notes, suggested }
        }
        other => other,
    }
}

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
    if let Some(expect) = &call.expect {
        for (field, expected) in expect {
            let Some(current) = record.get(field) else {
                return reject(Code::InvalidInput, format!("expect names `{field}`, which this record does not have"));
            };
            if !same_value(current, expected) {
                return reject(
                    Code::StaleRecord,
                    format!(
                        "{field} is now `{}`, not `{}` as you read it; read the record again and decide anew",
                        display(current),
                        display(expected)
                    ),
                );
            }
        }
    }
    let prepared = Prepared::new(record);
    let mut flags: Vec<Flag> = Vec::new();
    let condition_context = |which: &str, source: &str, why: String| Flag {
        reason: ReviewReason::MissingContext,
        note: format!("{which} `{source}` could not be evaluated on this record ({why})"),
    };
    if let Some(when) = &action.when {
        match when.eval_bool_on(&prepared) {
            Ok(true) => {}
            Ok(false) => {
                return reject(
                    Code::ConditionFalse,
                    format!("this record does not meet `{}`; the action does not apply to it", when.source()),
                )
            }
            Err(why) => flags.push(condition_context("when", when.source(), why)),
        }
    }
    if let Some(locked) = &action.locked_if {
        match locked.eval_bool_on(&prepared) {
            Ok(false) => {}
            Ok(true) => {
                return reject(
                    Code::RecordLocked,
                    format!("this record is locked (`{}`); leave it to a person", locked.source()),
                )
            }
            Err(why) => flags.push(condition_context("locked_if", locked.source(), why)),
        }
    }

    let mut changes = Vec::new();
    for (field, new) in &call.set {
        let old = match action.kind {
            Kind::Update => column(record, field).unwrap_or(&Value::Null),
            Kind::Append => &Value::Null,
        };
        if action.kind == Kind::Update && same_value(old, new) {
            continue;
        }
        let Some(rule) = action.field(field) else { unreachable!("check_call refuses unlisted fields") };
        let cx = FieldContext { record, action, duplicate_of: inputs.duplicates.get(field).map(String::as_str) };
        match check_field(rule, old, new, &cx) {
            Ok(more) => flags.extend(more),
            Err(refusal) => return Decision::Reject(refusal),
        }
        changes.push(FieldChange { field: field.clone(), old: old.clone(), new: new.clone() });
    }
    if changes.is_empty() {
        return Decision::Unchanged;
    }
    if inputs.approved {
        // A person approves: what follows only flags for review, which
        // approval overrides, so none of it can change the decision.
        return Decision::Apply { fields: changes, watch: inputs.watch_active };
    }
    flags.extend(address_flags(action, record, &changes));
    if let Some(review_if) = &action.review_if {
        match review_if.eval_bool_on(&prepared) {
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
    if inputs.watch_active && !flags.is_empty() {
        flags.push(Flag {
            reason: ReviewReason::WatchWindow,
            note: "this action went direct recently; while it is watched, anything unusual waits for a person"
                .to_string(),
        });
    }
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
        Mode::Direct if reasons.is_empty() => Decision::Apply { fields: changes, watch: inputs.watch_active },
        Mode::Direct => Decision::Review { fields: changes, reasons, notes, suggested: false },
    }
}

//! Revert (DESIGN §4): plan first, then undo newest-first, one transaction
//! per change; a field that moved on since is a conflict, skipped unless forced.

use std::collections::HashMap;

use leash_core::call::FieldChange;
use leash_core::journal::{Change, Op};
use leash_core::value::{same_value, Record, Value};
use leash_store::ChangeFilter;
use serde::Serialize;

use crate::write::Provenance;
use crate::{Caller, Engine, EngineError, Result, Role};

#[derive(Debug, Clone)]
pub enum Selector {
    Ids(Vec<String>),
    Run(String),
    Action { action: String, since: String, until: Option<String> },
    Actor(String),
    Proposal(String),
}

#[derive(Debug, Clone)]
pub struct RevertRequest {
    pub selector: Selector,
    pub dry_run: bool,
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub change_id: String,
    pub field: String,
    pub expected: Value,
    pub current: Value,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RevertReport {
    pub dry_run: bool,
    /// The changes undone (or, in a dry run, that would be).
    pub reverted: Vec<String>,
    pub conflicts: Vec<Conflict>,
    /// Selected but left alone: already reverted, or in conflict.
    pub skipped: usize,
    /// The new journal rows, all in one run so the revert can be undone too.
    pub revert_change_ids: Vec<String>,
    pub revert_run_id: Option<String>,
}

/// Where a revert finds a record: the database, or in a dry run what the
/// earlier (newer) steps of the plan would have left.
type Overlay = HashMap<(String, String), Option<Record>>;

impl Engine {
    pub async fn revert(
        &self,
        by: &Caller,
        req: &RevertRequest,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<RevertReport> {
        by.require(Role::Reviewer, "reverting")?;
        let mut selected = self.select(&req.selector).await?;
        selected.reverse(); // newest first
        let run_id = format!("revert-{}", self.clock().id());
        let mut report = RevertReport {
            dry_run: req.dry_run,
            revert_run_id: (!req.dry_run).then(|| run_id.clone()),
            ..Default::default()
        };
        let mut overlay = Overlay::new();
        let total = selected.len();
        for (i, change) in selected.into_iter().enumerate() {
            progress(i, total);
            if change.reverted_by.is_some() {
                report.skipped += 1;
                continue;
            }
            self.revert_one(by, &change, req, &run_id, &mut overlay, &mut report).await?;
        }
        progress(total, total);
        if !req.dry_run {
            tracing::info!(by = %by.name, reverted = report.reverted.len(), conflicts = report.conflicts.len(), run = %run_id, "revert");
        }
        Ok(report)
    }

    async fn select(&self, selector: &Selector) -> Result<Vec<Change>> {
        let mut filter = ChangeFilter::default();
        match selector {
            Selector::Ids(ids) => filter.ids = ids.clone(),
            Selector::Run(run) => filter.run_id = Some(run.clone()),
            Selector::Action { action, since, until } => {
                filter.action = Some(action.clone());
                filter.since = Some(since.clone());
                filter.until = until.clone();
            }
            Selector::Actor(actor) => filter.actor = Some(actor.clone()),
            Selector::Proposal(p) => filter.proposal_id = Some(p.clone()),
        }
        let mut changes = self.store().changes(&filter).await?;
        // "Everything this action or actor did" means the changes themselves,
        // not earlier reverts of them: undoing those would re-apply the mistake.
        if matches!(selector, Selector::Action { .. } | Selector::Actor(_) | Selector::Proposal(_)) {
            changes.retain(|c| c.reverts.is_none());
        }
        if let Selector::Ids(ids) = selector {
            if let Some(missing) = ids.iter().find(|id| !changes.iter().any(|c| &c.id == *id)) {
                return Err(EngineError::NotFound(format!("change {missing}")));
            }
        }
        Ok(changes)
    }

    async fn revert_one(
        &self,
        by: &Caller,
        change: &Change,
        req: &RevertRequest,
        run_id: &str,
        overlay: &mut Overlay,
        report: &mut RevertReport,
    ) -> Result<()> {
        let action = self.key_column(&change.action, &change.table_name)?;
        let table = self.schema(&change.table_name)?;
        let key_col = action.key.clone();
        let mut tx = self.store().begin().await?;
        // Re-read under the lock: another revert may have got here first.
        match tx.lock_change(&change.id).await? {
            Some(c) if c.reverted_by.is_none() => {}
            _ => {
                report.skipped += 1;
                return Ok(());
            }
        }
        let slot = (change.table_name.clone(), change.record_key.clone());
        let current = match overlay.get(&slot) {
            Some(r) if req.dry_run => r.clone(),
            _ => tx.lock_record(table, &key_col, &change.record_key).await?,
        };
        let conflicts = conflicts_of(change, current.as_ref(), &key_col);
        let record_gone = current.is_none() && change.op != Op::Delete;
        if !conflicts.is_empty() && (!req.force || record_gone) {
            report.skipped += 1;
            report.conflicts.extend(conflicts);
            return Ok(());
        }
        let back = undo_fields(change, current.as_ref(), &key_col);
        if req.dry_run {
            overlay.insert(slot, after(change.op, current, &back));
            report.reverted.push(change.id.clone());
            return Ok(());
        }
        let ok = match change.op {
            Op::Update => tx.update_record(table, &key_col, &change.record_key, &back).await?,
            Op::Insert => tx.delete_record(table, &key_col, &change.record_key, &as_row(&back)).await?,
            Op::Delete => {
                tx.insert_record(table, &key_col, Some(&change.record_key), &back).await?;
                true
            }
        };
        if !ok {
            report.skipped += 1;
            return Ok(());
        }
        let reason = format!("revert of {}", change.id);
        let prov = Provenance {
            actor: &by.name,
            approver: None,
            reason: Some(&reason),
            evidence: None,
            confidence: None,
            run_id: Some(run_id),
            proposal_id: None,
            reverts: Some(&change.id),
            watch: false,
        };
        let mut undo = self.revert_change(change, undo_op(change.op), back, &prov);
        self.journal(tx.as_mut(), &mut undo).await?;
        if !tx.mark_reverted(&change.id, &undo.id).await? {
            return Err(EngineError::Invalid(format!("change {} was reverted concurrently", change.id)));
        }
        tx.commit().await?;
        report.reverted.push(change.id.clone());
        report.revert_change_ids.push(undo.id);
        Ok(())
    }

    fn revert_change(&self, original: &Change, op: Op, fields: Vec<FieldChange>, prov: &Provenance<'_>) -> Change {
        Change {
            id: self.clock().id(),
            at: self.clock().stamp(),
            action: original.action.clone(),
            policy_hash: original.policy_hash.clone(),
            table_name: original.table_name.clone(),
            record_key: original.record_key.clone(),
            op,
            fields,
            actor: prov.actor.to_string(),
            approver: None,
            reason: prov.reason.map(str::to_string),
            evidence: None,
            confidence: None,
            run_id: prov.run_id.map(str::to_string),
            proposal_id: None,
            reverts: prov.reverts.map(str::to_string),
            reverted_by: None,
            watch: false,
            prev_hash: None,
            hash: String::new(),
        }
    }
}

fn undo_op(op: Op) -> Op {
    match op {
        Op::Update => Op::Update,
        Op::Insert => Op::Delete,
        Op::Delete => Op::Insert,
    }
}

/// Fields whose current value is not what the change left behind.
fn conflicts_of(change: &Change, current: Option<&Record>, key_col: &str) -> Vec<Conflict> {
    let conflict = |field: &str, expected: &Value, current: Value| Conflict {
        change_id: change.id.clone(),
        field: field.to_string(),
        expected: expected.clone(),
        current,
    };
    match (change.op, current) {
        (Op::Delete, None) => Vec::new(),
        (Op::Delete, Some(_)) => {
            vec![conflict(key_col, &Value::String("(no row)".into()), Value::String(change.record_key.clone()))]
        }
        (_, None) => {
            change.fields.iter().map(|f| conflict(&f.field, &f.new, Value::String("(no row)".into()))).collect()
        }
        (_, Some(rec)) => change
            .fields
            .iter()
            .filter(|f| f.field != key_col)
            .filter_map(|f| {
                let now = rec.get(&f.field).cloned().unwrap_or(Value::Null);
                (!same_value(&now, &f.new)).then(|| conflict(&f.field, &f.new, now))
            })
            .collect(),
    }
}

/// The fields a revert writes: from what is there now back to the old value.
fn undo_fields(change: &Change, current: Option<&Record>, key_col: &str) -> Vec<FieldChange> {
    let now = |field: &str| current.and_then(|r| r.get(field)).cloned().unwrap_or(Value::Null);
    match change.op {
        Op::Update => change
            .fields
            .iter()
            .map(|f| FieldChange { field: f.field.clone(), old: now(&f.field), new: f.old.clone() })
            .collect(),
        // Undoing an insert deletes the row; the journal keeps its content.
        Op::Insert => match current {
            Some(rec) => rec
                .iter()
                .filter(|(k, _)| *k != key_col)
                .map(|(k, v)| FieldChange { field: k.clone(), old: v.clone(), new: Value::Null })
                .collect(),
            None => Vec::new(),
        },
        Op::Delete => change
            .fields
            .iter()
            .filter(|f| f.field != key_col)
            .map(|f| FieldChange { field: f.field.clone(), old: Value::Null, new: f.old.clone() })
            .collect(),
    }
}

/// `delete_record` compares each field's `new` with the row; a deletion's
/// fields carry the row in `old`.
fn as_row(fields: &[FieldChange]) -> Vec<FieldChange> {
    fields.iter().map(|f| FieldChange { field: f.field.clone(), old: Value::Null, new: f.old.clone() }).collect()
}

fn after(op: Op, current: Option<Record>, back: &[FieldChange]) -> Option<Record> {
    match op {
        Op::Insert => None,
        Op::Update | Op::Delete => {
            let mut rec = current.unwrap_or_default();
            for f in back {
                rec.insert(f.field.clone(), f.new.clone());
            }
            Some(rec)
        }
    }
}

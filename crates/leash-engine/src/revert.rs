//! Revert (docs/api.md): plan first, then undo newest-first, one transaction
//! per change; a field that moved on since is a conflict, skipped unless forced.

use std::collections::{BTreeMap, HashMap, HashSet};

use leash_core::call::FieldChange;
use leash_core::journal::{Change, Op};
use leash_core::policy::Key;
use leash_core::value::{same_stored, Record, Value};
use leash_store::{ChangeFilter, StoreTx, TableSchema, Undoable};
use serde::Serialize;

use crate::journal::{Changed, Provenance};
use crate::values::column_type;
use crate::{Caller, Engine, EngineError, Result, Role};

/// What a revert undoes. Every name in it is `Named` and the id list is
/// `ChangeIds`, neither of which can be built empty or blank: no selection
/// can mean "everything" (the store reads an empty filter as no filter).
#[derive(Debug, Clone)]
pub enum Selector {
    Ids(ChangeIds),
    /// A run belongs to the token that made it: with several, `actor` says whose.
    Run {
        run: Named,
        actor: Option<Named>,
    },
    Action {
        action: Named,
        since: String,
        until: Option<String>,
    },
    Actor(Named),
    Proposal(Named),
}

/// Text that names one thing: trimmed, never empty, at most `ID_BYTES_MAX` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Named(String);

impl Named {
    /// `what` names the field for the refusal ("run_id", "a change id").
    pub fn new(what: &str, text: &str) -> Result<Named> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EngineError::Invalid(format!("{what} is blank; name it, or leave it out")));
        }
        if text.len() > leash_core::call::ID_BYTES_MAX {
            return Err(EngineError::Invalid(format!(
                "{what} is longer than {} bytes",
                leash_core::call::ID_BYTES_MAX
            )));
        }
        Ok(Named(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One or more change ids, each `Named`.
#[derive(Debug, Clone)]
pub struct ChangeIds(Vec<Named>);

impl ChangeIds {
    pub fn new<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> Result<ChangeIds> {
        let ids = ids.into_iter().map(|i| Named::new("a change id", i.as_ref())).collect::<Result<Vec<_>>>()?;
        if ids.is_empty() {
            return Err(EngineError::Invalid("name at least one change id".into()));
        }
        Ok(ChangeIds(ids))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Named::as_str)
    }
}

impl Selector {
    /// The change with this id.
    pub fn change(id: &str) -> Result<Selector> {
        Ok(Selector::Ids(ChangeIds::new([id])?))
    }

    /// These changes.
    pub fn ids<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> Result<Selector> {
        Ok(Selector::Ids(ChangeIds::new(ids)?))
    }

    /// A run, by whichever single token made it.
    pub fn run(run: &str) -> Result<Selector> {
        Ok(Selector::Run { run: Named::new("run_id", run)?, actor: None })
    }

    /// Everything this actor did.
    pub fn actor(actor: &str) -> Result<Selector> {
        Ok(Selector::Actor(Named::new("actor", actor)?))
    }

    /// What was approved from this proposal.
    pub fn proposal(id: &str) -> Result<Selector> {
        Ok(Selector::Proposal(Named::new("proposal_id", id)?))
    }

    /// Everything an action did from `since` (and before `until`), both
    /// RFC 3339 stamps already parsed.
    pub fn action(action: &str, since: &str, until: Option<&str>) -> Result<Selector> {
        Ok(Selector::Action {
            action: Named::new("action", action)?,
            since: since.to_string(),
            until: until.map(str::to_string),
        })
    }
}

#[derive(Debug, Clone)]
pub struct RevertRequest {
    pub selector: Selector,
    pub dry_run: bool,
    pub force: bool,
    /// Changes per transaction; `REVERT_BATCH_MAX` unless a test wants
    /// smaller steps.
    pub batch_max: usize,
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

/// Changes undone per transaction. Each record's undo stays atomic; a crash
/// loses at most the batch in flight, and running the revert again finishes.
pub const REVERT_BATCH_MAX: usize = 500;

/// Consecutive changes of one table with no record twice, so the batch can
/// be read, compared and written set-wise and still mean newest-first.
fn batches(changes: Vec<Undoable>, batch_max: usize) -> Vec<Vec<Undoable>> {
    let mut out: Vec<Vec<Undoable>> = Vec::new();
    let mut keys: std::collections::HashSet<String> = std::collections::HashSet::new();
    for c in changes {
        let fits = out.last().is_some_and(|b: &Vec<Undoable>| {
            b.len() < batch_max.clamp(1, REVERT_BATCH_MAX)
                && b[0].table_name == c.table_name
                && !keys.contains(&c.record_key)
        });
        if !fits {
            out.push(Vec::new());
            keys.clear();
        }
        keys.insert(c.record_key.clone());
        if let Some(b) = out.last_mut() {
            b.push(c);
        }
    }
    out
}

impl Engine {
    pub async fn revert(
        &self,
        by: &Caller,
        req: &RevertRequest,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<RevertReport> {
        by.require(Role::Reviewer, "reverting")?;
        let mut selected = self.select(&req.selector).await?;
        self.may_undo(by, &selected)?;
        if req.force {
            self.may_force(by, &selected).await?;
        }
        selected.reverse(); // newest first
        let run_id = format!("revert-{}", self.clock().id());
        let mut report = RevertReport {
            dry_run: req.dry_run,
            revert_run_id: (!req.dry_run).then(|| run_id.clone()),
            ..Default::default()
        };
        let total = selected.len();
        let (open, done): (Vec<Undoable>, Vec<Undoable>) = selected.into_iter().partition(|c| c.reverted_by.is_none());
        report.skipped += done.len();
        let mut overlay = Overlay::new();
        let mut handled = done.len();
        for batch in batches(open, req.batch_max) {
            let n = batch.len();
            self.revert_batch(by, batch, req, &run_id, &mut overlay, &mut report).await?;
            handled += n;
            progress(handled, total);
        }
        progress(total, total);
        if !req.dry_run {
            tracing::info!(by = %by.name, reverted = report.reverted.len(), conflicts = report.conflicts.len(), run = %run_id, "revert");
        }
        Ok(report)
    }

    /// `[actions.review] only` bounds undo as it bounds approval: those
    /// names, the exception approver and admins may revert the action's
    /// changes, nobody else — a dry run included, so the refusal comes first.
    fn may_undo(&self, by: &Caller, selected: &[Undoable]) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for c in selected.iter().filter(|c| seen.insert(c.action.as_str())) {
            if let Some(who) = self.undone_only_by(by, &c.action) {
                return Err(EngineError::Forbidden(format!(
                    "{} changes are reverted by {who} or an admin only; ask one of them (change {})",
                    c.action, c.id
                )));
            }
        }
        Ok(())
    }

    /// Who alone may undo this action's changes, when `by` may not.
    fn undone_only_by(&self, by: &Caller, action: &str) -> Option<String> {
        if by.role == Role::Admin {
            return None;
        }
        let action = self.policy().action(action)?;
        let only = action.review.only.as_ref()?;
        let mut names: Vec<&str> = only.iter().map(String::as_str).collect();
        names.extend(action.exception_approver.as_deref());
        (!names.contains(&by.name.as_str())).then(|| names.join(", "))
    }

    /// Forcing overwrites whatever a record holds now: if a later change of
    /// the same record belongs to an action `by` may not undo, forcing would
    /// undo it by the back door, so it is refused.
    async fn may_force(&self, by: &Caller, selected: &[Undoable]) -> Result<()> {
        let guarded = |a: &str| self.undone_only_by(by, a);
        if !self.policy().actions.iter().any(|a| guarded(&a.name).is_some()) {
            return Ok(());
        }
        let mut records: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in selected {
            records.entry(c.table_name.as_str()).or_default().push(c.record_key.clone());
        }
        for (table, keys) in records {
            let filter = ChangeFilter { table_name: Some(table.to_string()), records: keys, ..ChangeFilter::default() };
            let history = self.store().changes(&filter).await?;
            for c in selected.iter().filter(|c| c.table_name == table) {
                let later = history.iter().find(|h| {
                    h.record_key == c.record_key
                        && h.id > c.id
                        && h.reverted_by.is_none()
                        && guarded(&h.action).is_some()
                });
                if let Some(h) = later {
                    return Err(EngineError::Forbidden(format!(
                        "forcing the revert of {} would overwrite change {} of {}, which only {} or an admin may undo",
                        c.id,
                        h.id,
                        h.action,
                        guarded(&h.action).unwrap_or_default()
                    )));
                }
            }
        }
        Ok(())
    }

    async fn select(&self, selector: &Selector) -> Result<Vec<Undoable>> {
        let mut filter = ChangeFilter::default();
        let text = |n: &Named| Some(n.as_str().to_string());
        match selector {
            Selector::Ids(ids) => filter.ids = ids.iter().map(str::to_string).collect(),
            Selector::Run { run, actor } => {
                filter.run_id = text(run);
                filter.actor = actor.as_ref().and_then(text);
            }
            Selector::Action { action, since, until } => {
                filter.action = text(action);
                filter.since = Some(since.clone());
                filter.until = until.clone();
            }
            Selector::Actor(actor) => filter.actor = text(actor),
            Selector::Proposal(p) => filter.proposal_id = text(p),
        }
        // `Selector` cannot be built empty; this holds if a variant is added.
        if !filter.selects_something() {
            return Err(EngineError::Invalid("name what to revert; nothing was selected".into()));
        }
        let mut changes = self.store().undoables(&filter).await?;
        if let Selector::Run { run, actor: None } = selector {
            one_token_per_run(run, &changes)?;
        }
        // "Everything this action or actor did" means the changes themselves,
        // not earlier reverts of them: undoing those would re-apply the mistake.
        if matches!(selector, Selector::Action { .. } | Selector::Actor(_) | Selector::Proposal(_)) {
            changes.retain(|c| c.reverts.is_none());
        }
        if let Selector::Ids(ids) = selector {
            if let Some(missing) = ids.iter().find(|id| !changes.iter().any(|c| c.id == *id)) {
                return Err(EngineError::NotFound(format!("change {missing}")));
            }
        }
        Ok(changes)
    }

    /// One transaction: lock the batch's records and changes, compare, write
    /// the undos set-wise, journal them, mark the originals.
    async fn revert_batch(
        &self,
        by: &Caller,
        batch: Vec<Undoable>,
        req: &RevertRequest,
        run_id: &str,
        overlay: &mut Overlay,
        report: &mut RevertReport,
    ) -> Result<()> {
        let Some(first) = batch.first() else { return Ok(()) };
        let action = self.key_column(&first.action, &first.table_name)?;
        let table = self.schema(&first.table_name)?;
        let key_col = &action.key;
        let mut tx = self.store().begin().await?;
        let ids: Vec<String> = batch.iter().map(|c| c.id.clone()).collect();
        let keys: Vec<String> = batch.iter().map(|c| c.record_key.clone()).collect();
        // Undoing updates needs only their fields; undoing an insert keeps
        // the whole row in the journal, and a dry run's plan reuses rows.
        let narrow;
        let read_as = if req.dry_run || batch.iter().any(|c| c.op == Op::Insert) {
            table
        } else {
            narrow = narrowed(table, key_col, &batch);
            &narrow
        };
        let mut current = tx.lock_records(read_as, key_col, &keys).await?;
        // Re-read once the records are locked: a revert of the same changes
        // locks the same records, so it has committed or not begun.
        let open: HashSet<String> = tx.open_changes(&ids).await?.into_iter().collect();
        let cx = BatchCx { table, key_col, req };
        let mut undos = Vec::new();
        for change in batch {
            if !open.contains(&change.id) {
                // Reverted since it was selected.
                report.skipped += 1;
                continue;
            }
            let slot = (change.table_name.clone(), change.record_key.clone());
            let now = match overlay.get(&slot) {
                Some(r) if req.dry_run => r.clone(),
                _ => current.remove(&change.record_key),
            };
            let Some(back) = plan_one(&cx, &change, now.as_ref(), report) else { continue };
            if req.dry_run {
                overlay.insert(slot, after(change.op, now, &back));
                report.reverted.push(change.id.clone());
            } else if self.undo_row(tx.as_mut(), &cx, &change, &back).await? {
                undos.push((undo_op(change.op), change, back));
            } else {
                report.skipped += 1;
            }
        }
        if req.dry_run || undos.is_empty() {
            return Ok(());
        }
        self.store_undos(tx.as_mut(), &cx, &mut undos).await?;
        self.journal_undos(tx.as_mut(), by, table, run_id, undos, report).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an inserted row or puts a deleted one back; an update's undo
    /// is written set-wise with the batch (`store_undos`). False: the row
    /// was not as the journal says, and nothing was done.
    async fn undo_row(
        &self,
        tx: &mut dyn StoreTx,
        cx: &BatchCx<'_>,
        change: &Undoable,
        back: &[FieldChange],
    ) -> Result<bool> {
        match change.op {
            Op::Update => Ok(true),
            Op::Insert => Ok(tx.delete_record(cx.table, cx.key_col, &change.record_key, &as_row(back)).await?),
            Op::Delete => {
                tx.insert_record(cx.table, cx.key_col, Some(&change.record_key), back).await?;
                Ok(true)
            }
        }
    }

    /// The batch's updates in one statement per shape; what the database
    /// stored for each (a trigger may rewrite it) is what its journal row says.
    async fn store_undos(&self, tx: &mut dyn StoreTx, cx: &BatchCx<'_>, undos: &mut [Undo]) -> Result<()> {
        let updates: Vec<(String, Vec<FieldChange>)> = undos
            .iter()
            .filter(|(op, _, _)| *op == Op::Update)
            .map(|(_, change, back)| (change.record_key.clone(), back.clone()))
            .collect();
        let stored = tx.update_records(cx.table, cx.key_col, &updates).await?;
        debug_assert!(stored.iter().all(Option::is_some), "a locked record vanished during its revert");
        let mut stored: HashMap<String, Vec<Value>> =
            updates.iter().zip(stored).filter_map(|((key, _), values)| Some((key.clone(), values?))).collect();
        for (op, change, back) in undos.iter_mut().filter(|(op, _, _)| *op == Op::Update) {
            debug_assert_eq!(*op, Op::Update);
            if let Some(values) = stored.remove(&change.record_key) {
                for (f, v) in back.iter_mut().zip(values) {
                    f.new = v;
                }
            }
        }
        Ok(())
    }

    /// Each undo is a journal row of its own, in the revert's run, sealed
    /// onto its record's chain; the originals are marked reverted, once.
    async fn journal_undos(
        &self,
        tx: &mut dyn StoreTx,
        by: &Caller,
        table: &TableSchema,
        run_id: &str,
        undos: Vec<Undo>,
        report: &mut RevertReport,
    ) -> Result<()> {
        let undo_keys: Vec<String> = undos.iter().map(|(_, c, _)| c.record_key.clone()).collect();
        let heads = tx.chain_heads(&table.name, &undo_keys).await?;
        let mut rows = Vec::with_capacity(undos.len());
        let mut marks = Vec::with_capacity(undos.len());
        for (op, original, back) in undos {
            let reason = format!("revert of {}", original.id);
            let prov = Provenance::of_revert(&by.name, &reason, run_id, &original.id);
            let mut undo = self.revert_change(&original, op, back, &prov);
            undo.seal(heads.get(&original.record_key).cloned());
            marks.push((original.id.clone(), undo.id.clone()));
            report.reverted.push(original.id.clone());
            report.revert_change_ids.push(undo.id.clone());
            rows.push(undo);
        }
        tx.insert_changes(&rows).await?;
        for undo in &rows {
            self.queue_event(tx, "change.reverted", undo).await?;
        }
        let marked = tx.mark_reverted_many(&marks).await?;
        if marked as usize != marks.len() {
            return Err(EngineError::Invalid(
                "some of these changes were reverted concurrently; run the revert again".into(),
            ));
        }
        Ok(())
    }

    fn revert_change(&self, original: &Undoable, op: Op, fields: Vec<FieldChange>, prov: &Provenance<'_>) -> Change {
        let what = Changed {
            action: &original.action,
            policy_hash: &original.policy_hash,
            table: &original.table_name,
            key: original.record_key.clone(),
        };
        self.new_change(what, op, fields, prov)
    }
}

/// One batch's table, its key column and the request it serves.
struct BatchCx<'a> {
    table: &'a TableSchema,
    key_col: &'a Key,
    req: &'a RevertRequest,
}

/// An undo to write: its operation, the change it undoes, and the fields.
type Undo = (Op, Undoable, Vec<FieldChange>);

/// The fields that put this change back, or `None` when a field moved on
/// since (a conflict, reported; forced over unless the record is gone).
fn plan_one(
    cx: &BatchCx<'_>,
    change: &Undoable,
    now: Option<&Record>,
    report: &mut RevertReport,
) -> Option<Vec<FieldChange>> {
    let conflicts = conflicts_of(cx.table, change, now, cx.key_col);
    let record_gone = now.is_none() && change.op != Op::Delete;
    if !conflicts.is_empty() && (!cx.req.force || record_gone) {
        report.skipped += 1;
        report.conflicts.extend(conflicts);
        return None;
    }
    Some(undo_fields(change, now, cx.key_col))
}

/// A run id is the token's own: two tokens that used the same text made two
/// runs, and undoing "the run" must say whose.
fn one_token_per_run(run: &Named, changes: &[Undoable]) -> Result<()> {
    let mut actors: Vec<&str> = changes.iter().map(|c| c.actor.as_str()).collect();
    actors.sort_unstable();
    actors.dedup();
    if actors.len() > 1 {
        return Err(EngineError::Invalid(format!(
            "run {run} was used by {} tokens ({}); name one with actor (--actor) to revert its run",
            actors.len(),
            actors.join(", ")
        )));
    }
    Ok(())
}

/// The table with only the key and the columns these changes touched.
fn narrowed(table: &TableSchema, key_col: &Key, changes: &[Undoable]) -> TableSchema {
    let touched: std::collections::HashSet<&str> =
        changes.iter().flat_map(|c| c.fields.iter().map(|f| f.field.as_str())).collect();
    TableSchema {
        name: table.name.clone(),
        columns: table
            .columns
            .iter()
            .filter(|c| key_col.contains(&c.name) || touched.contains(c.name.as_str()))
            .cloned()
            .collect(),
        unique_columns: table.unique_columns.clone(),
        unique_keys: table.unique_keys.clone(),
        has_triggers: table.has_triggers,
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
fn conflicts_of(table: &TableSchema, change: &Undoable, current: Option<&Record>, key_col: &Key) -> Vec<Conflict> {
    let conflict = |field: &str, expected: &Value, current: Value| Conflict {
        change_id: change.id.clone(),
        field: field.to_string(),
        expected: expected.clone(),
        current,
    };
    match (change.op, current) {
        (Op::Delete, None) => Vec::new(),
        (Op::Delete, Some(_)) => {
            vec![conflict(
                &key_col.to_string(),
                &Value::String("(no row)".into()),
                Value::String(change.record_key.clone()),
            )]
        }
        (_, None) => {
            change.fields.iter().map(|f| conflict(&f.field, &f.new, Value::String("(no row)".into()))).collect()
        }
        (_, Some(rec)) => change
            .fields
            .iter()
            .filter(|f| !key_col.contains(&f.field))
            .filter_map(|f| {
                let now = rec.get(&f.field).cloned().unwrap_or(Value::Null);
                (!same_stored(&now, &f.new, column_type(table, &f.field))).then(|| conflict(&f.field, &f.new, now))
            })
            .collect(),
    }
}

/// The fields a revert writes: from what is there now back to the old value.
fn undo_fields(change: &Undoable, current: Option<&Record>, key_col: &Key) -> Vec<FieldChange> {
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
                .filter(|(k, _)| !key_col.contains(k))
                .map(|(k, v)| FieldChange { field: k.clone(), old: v.clone(), new: Value::Null })
                .collect(),
            None => Vec::new(),
        },
        Op::Delete => change
            .fields
            .iter()
            .filter(|f| !key_col.contains(&f.field))
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

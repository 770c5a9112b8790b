//! The stage of the write path that a call and an approval share: lock the
//! record (reading its chain head and the pauses in the same statement),
//! bring the new values into the store's form, look for duplicates, and take
//! the core's decision. Nothing is written here; what comes out is either a
//! staged change ready to land, or the one reason it will not.

use leash_core::call::{Call, Refusal};
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::journal::Proposal;
use leash_core::policy::{Action, Kind};
use leash_core::value::{Record, Value};
use leash_store::{Locked, StoreTx, TableSchema};

use crate::review::moved_since;
use crate::values::{typed, typed_call};
use crate::write::{find_duplicates, refusal_for_pauses};
use crate::{Engine, Result};

/// Who the stage runs for: an agent's call (pauses refuse it; the watch
/// window may flag it) or a person approving a proposal (the record must
/// not have moved since the proposal; review routing no longer applies).
pub(crate) enum Gate<'p> {
    Call { watch: bool },
    Approval { proposal: &'p Proposal },
}

/// A call with its record locked and its decision taken, ready to land.
pub(crate) struct Staged {
    /// The record's own key spelling, which names its journal rows; `None`
    /// for an insert until the database assigns one.
    pub key: Option<String>,
    /// The record as locked (updates only).
    pub record: Option<Record>,
    /// Its chain head, read with the lock.
    pub head: Option<String>,
    /// The call's new values as the database will store them.
    pub stored_new: Record,
    pub decision: Decision,
}

/// What the stage gives: a staged change, a refusal, or (for an approval)
/// the reason its record moved on since it was proposed. It lives for one
/// call on its stack, so the large variant is not boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Stage {
    Ready(Staged),
    Refused(Refusal),
    Moved(String),
}

impl Engine {
    /// Locks, checks the gate, and decides, inside the caller's transaction.
    pub(crate) async fn stage(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        table: &TableSchema,
        call: &Call,
        gate: Gate<'_>,
    ) -> Result<Stage> {
        let key = call.key_text().ok().flatten();
        let locked = lock(tx, action, table, call, key.as_deref()).await?;
        let update = action.kind == Kind::Update;
        match gate {
            Gate::Call { .. } => {
                if let Some(r) = refusal_for_pauses(&locked.pauses, &action.name) {
                    return Ok(Stage::Refused(r));
                }
            }
            Gate::Approval { proposal } if update => {
                if let Some(why) = moved_since(action, table, proposal, locked.record.as_ref()) {
                    return Ok(Stage::Moved(why));
                }
            }
            Gate::Approval { .. } => {}
        }
        let key = locked.key.clone().or(key);
        let stored_new: Record = call.set.keys().cloned().zip(locked.new.iter().cloned()).collect();
        if let Some(r) = self.outside_sets(tx, action, &stored_new).await? {
            return Ok(Stage::Refused(r));
        }
        let duplicates = find_duplicates(tx, action, table, key.as_deref(), &stored_new).await?;
        let record = locked.record.filter(|_| update);
        let (watch_active, approved) = match gate {
            Gate::Call { watch } => (watch, false),
            Gate::Approval { .. } => (false, true),
        };
        // Rules see values typed as the columns hold them; an insert is
        // judged on the row it would be.
        let on = match action.kind {
            Kind::Update => record.as_ref().map(|r| typed(table, r)),
            Kind::Append => Some(typed(table, &stored_new)),
        };
        let inputs = Inputs { record: on.as_ref(), duplicates: &duplicates, watch_active, approved };
        let decision = decide(action, &typed_call(table, call, &stored_new), &inputs);
        Ok(Stage::Ready(Staged { key, record, head: locked.head, stored_new, decision }))
    }
}

impl Engine {
    /// `exists_in`: each new value must be in its column of the other table,
    /// read in this transaction (a closed set the database keeps).
    async fn outside_sets(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        stored_new: &Record,
    ) -> Result<Option<Refusal>> {
        for (field, value) in stored_new.iter().filter(|(_, v)| !v.is_null()) {
            let Some(set) = action.field(field).and_then(|r| r.exists_in.as_ref()) else { continue };
            let table = self.schema(&set.table)?;
            let column = leash_core::policy::Key::single(&set.column);
            if tx.find_other(table, &column, None, &set.column, value).await?.is_none() {
                return Ok(Some(set.refusal(field, value)));
            }
        }
        Ok(None)
    }
}

/// The record under its lock, or for an insert the row it would be.
async fn lock(
    tx: &mut dyn StoreTx,
    action: &Action,
    table: &TableSchema,
    call: &Call,
    key: Option<&str>,
) -> Result<Locked> {
    let new_values: Vec<Value> = call.set.values().cloned().collect();
    if let (Kind::Update, Some(k)) = (action.kind, key) {
        let new: Vec<(&str, &Value)> = call.set.iter().map(|(f, v)| (f.as_str(), v)).collect();
        return Ok(tx.lock_for_write(table, &action.key, k, &action.name, &new).await?);
    }
    let (pauses, _) = tx.call_context(&action.name, &action.table, None).await?;
    Ok(Locked { pauses, new: new_values, ..Locked::default() })
}

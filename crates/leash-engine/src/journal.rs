//! The journal: every change sealed onto its record's hash chain and written
//! in the transaction that changes the record. `write_change` is the one
//! place a call's or an approval's record change and its journal row are
//! written (a revert writes its batch set-wise, in `revert.rs`, the same way:
//! the records and their rows in one transaction).

use leash_core::call::{Call, FieldChange, Refusal};
use leash_core::codes::Code;
use leash_core::journal::{Change, Op, Proposal};
use leash_core::policy::{Action, Kind};
use leash_store::{StoreTx, TableSchema, Written};

use crate::{Caller, Engine, Result};

/// What a write changes: the record (by key; none for an insert), its new
/// field values, and the chain head if the caller already read it under lock.
pub(crate) struct Target<'a> {
    pub table: &'a TableSchema,
    pub key: Option<&'a str>,
    pub fields: &'a [FieldChange],
    pub known_head: Option<Option<String>>,
}

/// Which record a journal row is about, and under which definition.
pub(crate) struct Changed<'a> {
    pub action: &'a str,
    pub policy_hash: &'a str,
    pub table: &'a str,
    pub key: String,
}

/// Who and why, carried into the journal row.
pub(crate) struct Provenance<'a> {
    pub actor: &'a str,
    pub approver: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub evidence: Option<&'a str>,
    pub confidence: Option<f64>,
    pub run_id: Option<&'a str>,
    pub proposal_id: Option<&'a str>,
    pub reverts: Option<&'a str>,
    pub watch: bool,
}

impl<'a> Provenance<'a> {
    /// A proposal, landing as a reviewer approves it.
    pub(crate) fn of_approval(proposal: &'a Proposal, reviewer: &'a str, watch: bool) -> Provenance<'a> {
        Provenance {
            actor: &proposal.actor,
            approver: Some(reviewer),
            reason: proposal.reason.as_deref(),
            evidence: proposal.evidence.as_deref(),
            confidence: proposal.confidence,
            run_id: proposal.run_id.as_deref(),
            proposal_id: Some(&proposal.id),
            reverts: None,
            watch,
        }
    }

    /// The undo of one change, in a revert's run.
    pub(crate) fn of_revert(by: &'a str, reason: &'a str, run_id: &'a str, original: &'a str) -> Provenance<'a> {
        Provenance {
            actor: by,
            approver: None,
            reason: Some(reason),
            evidence: None,
            confidence: None,
            run_id: Some(run_id),
            proposal_id: None,
            reverts: Some(original),
            watch: false,
        }
    }

    /// An agent's call, landing directly.
    pub(crate) fn of_call(caller: &'a Caller, call: &'a Call, watch: bool) -> Provenance<'a> {
        Provenance {
            actor: &caller.name,
            approver: None,
            reason: call.reason.as_deref(),
            evidence: call.evidence.as_deref(),
            confidence: call.confidence,
            run_id: call.run_id.as_deref(),
            proposal_id: None,
            reverts: None,
            watch,
        }
    }
}

impl Engine {
    /// Seals a change onto its record's chain and writes it.
    pub(crate) async fn journal(
        &self,
        tx: &mut dyn StoreTx,
        change: &mut Change,
        known_head: Option<Option<String>>,
    ) -> Result<()> {
        let head = match known_head {
            Some(head) => head,
            None => tx.chain_head(&change.table_name, &change.record_key).await?,
        };
        change.seal(head);
        tx.insert_change(change).await?;
        self.queue_change_event(tx, change).await
    }

    /// A new journal row for a change of one record, not yet sealed onto
    /// its chain.
    pub(crate) fn new_change(
        &self,
        what: Changed<'_>,
        op: Op,
        fields: Vec<FieldChange>,
        prov: &Provenance<'_>,
    ) -> Change {
        Change {
            id: self.clock().id(),
            at: self.clock().stamp(),
            action: what.action.to_string(),
            policy_hash: what.policy_hash.to_string(),
            table_name: what.table.to_string(),
            record_key: what.key,
            op,
            fields,
            actor: prov.actor.to_string(),
            approver: prov.approver.map(str::to_string),
            reason: prov.reason.map(str::to_string),
            evidence: prov.evidence.map(str::to_string),
            confidence: prov.confidence,
            run_id: prov.run_id.map(str::to_string),
            proposal_id: prov.proposal_id.map(str::to_string),
            reverts: prov.reverts.map(str::to_string),
            reverted_by: None,
            watch: prov.watch,
            prev_hash: None,
            hash: String::new(),
        }
    }

    /// Writes the record and its journal row in the caller's transaction: the
    /// old value is stored with the new one or neither is.
    pub(crate) async fn write_change(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        target: Target<'_>,
        prov: &Provenance<'_>,
    ) -> Result<std::result::Result<Change, Refusal>> {
        let Target { table, key, fields, known_head } = target;
        let what = |key: String| Changed { action: &action.name, policy_hash: &action.hash, table: &table.name, key };
        if let (Kind::Update, Some(key)) = (action.kind, key) {
            let change = self.new_change(what(key.to_string()), Op::Update, fields.to_vec(), prov);
            return self.write_update(tx, action, table, change, known_head).await;
        }
        let (key, stored) = tx.insert_record(table, &action.key, key, fields).await?;
        let mut change = self.new_change(what(key), Op::Insert, fields.to_vec(), prov);
        for (f, v) in change.fields.iter_mut().zip(stored) {
            f.new = v;
        }
        self.journal(tx, &mut change, None).await?;
        Ok(Ok(change))
    }

    /// The compare-and-set UPDATE and its journal row, in one statement
    /// where the store can; the row says what the database stored.
    async fn write_update(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        table: &TableSchema,
        mut change: Change,
        known_head: Option<Option<String>>,
    ) -> Result<std::result::Result<Change, Refusal>> {
        let head_from_lock = known_head.is_some();
        let head = match known_head {
            Some(head) => head,
            None => tx.chain_head(&table.name, &change.record_key).await?,
        };
        change.seal(head);
        // The row and its journal entry land together or not at all.
        let mut written = tx.update_with_change(table, &action.key, &change).await?;
        if written == Written::Stale && head_from_lock {
            // The head read with the lock may predate it (PostgreSQL):
            // once more on the head read now, under the lock.
            change.seal(tx.chain_head(&table.name, &change.record_key).await?);
            written = tx.update_with_change(table, &action.key, &change).await?;
        }
        match written {
            Written::Journaled => {}
            Written::Stale => {
                return Ok(Err(Refusal::new(
                    Code::StaleRecord,
                    "the record changed while this call ran; read it again and retry",
                )))
            }
            // The database stored something else (a trigger, its own
            // formatting): the journal says what it stored.
            Written::Stored(values) => {
                for (f, v) in change.fields.iter_mut().zip(values) {
                    f.new = v;
                }
                let head = change.prev_hash.clone();
                change.seal(head);
                tx.insert_change(&change).await?;
            }
        }
        self.queue_change_event(tx, &change).await?;
        Ok(Ok(change))
    }
}

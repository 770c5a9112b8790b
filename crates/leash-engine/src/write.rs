//! The write path (ARCHITECTURE.md): one call, one transaction.

use std::collections::BTreeMap;

use leash_core::breaker;
use leash_core::call::{Call, CallResult, FieldChange, Refusal};
use leash_core::codes::{Code, Outcome};
use leash_core::decide::{check_call, decide, Decision, Inputs};
use leash_core::journal::{Change, Op, Proposal, ProposalStatus};
use leash_core::policy::{Action, Kind};
use leash_core::value::{Record, Value};
use leash_store::{Locked, PauseKind, StoreError, StoreTx, TableSchema, Written, ALL_SCOPE};

use crate::values::{coerce_call, stored_fields, typed, typed_call, typed_fields};
use crate::{Caller, Engine, EngineError, Result};

/// Run ids this process remembers having recorded; cleared when full.
pub const RUNS_REMEMBERED_MAX: usize = 10_000;

/// What a write changes: the record (by key; none for an insert), its new
/// field values, and the chain head if the caller already read it under lock.
pub(crate) struct Target<'a> {
    pub table: &'a TableSchema,
    pub key: Option<&'a str>,
    pub fields: &'a [FieldChange],
    pub known_head: Option<Option<String>>,
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

fn refused(code: Code, message: impl Into<String>) -> CallResult {
    CallResult::rejected(code, message)
}

impl Engine {
    /// Runs one call through the gateway and returns its one outcome.
    pub async fn call(&self, caller: &Caller, action_name: &str, mut call: Call) -> Result<CallResult> {
        let result = match self.call_inner(caller, action_name, &mut call).await {
            Ok(result) => result,
            Err(e) => {
                // Two copies of one call raced: both found no stored outcome,
                // and the loser failed on the key's uniqueness (or on the row
                // the winner changed). The winner's outcome is the answer for both.
                let first = match &call.idempotency_key {
                    Some(key) => self.store().begin().await?.idempotent_result(action_name, &caller.name, key).await?,
                    None => None,
                };
                match (first, e) {
                    (Some(first), _) => serde_json::from_str(&first)
                        .map_err(|e| EngineError::Invalid(format!("stored outcome unreadable: {e}")))?,
                    // The database refused a value or the row: a refusal
                    // that names it, never the database's text. Nothing was
                    // written.
                    (None, EngineError::Store(StoreError::Rejected(rej))) => {
                        let Some(action) = self.policy().action(action_name) else {
                            return Err(StoreError::Rejected(rej).into());
                        };
                        let r = self.refusal_for(&rej, action, &call).await?;
                        let tx = self.store().begin().await?;
                        self.finish_rejected(tx, caller, action_name, &call, r).await?
                    }
                    (None, e) => return Err(e),
                }
            }
        };
        tracing::info!(
            action = action_name, actor = %caller.name, outcome = result.outcome.as_str(),
            code = result.code.map(|c| c.as_str()).unwrap_or(""), change_id = result.change_id.as_deref().unwrap_or(""),
            proposal_id = result.proposal_id.as_deref().unwrap_or(""), "call"
        );
        Ok(result)
    }

    async fn call_inner(&self, caller: &Caller, action_name: &str, call: &mut Call) -> Result<CallResult> {
        let Some(action) = self.policy().action(action_name) else {
            let names: Vec<&str> =
                self.policy().actions.iter().filter(|a| caller.may_call(&a.name)).map(|a| a.name.as_str()).collect();
            return Ok(refused(
                Code::UnknownAction,
                format!("there is no action `{action_name}`; available: {}", names.join(", ")),
            ));
        };
        if !caller.may_call(action_name) {
            return Ok(refused(
                Code::NotPermitted,
                format!("{} may not use {action_name}; ask an admin to grant it", caller.name),
            ));
        }
        if let Err(r) = check_call(action, call) {
            return Ok(r.into());
        }
        let table = self.schema(&action.table)?;
        if let Err(r) = coerce_call(action, table, call) {
            return Ok(r.into());
        }
        let call = &*call;
        let now = self.clock().now();
        if let Some(window) = &action.limits.window {
            if !window.contains(now) {
                return Ok(refused(
                    Code::OutsideWindow,
                    format!("{action_name} may only write during {}; try again then", window.source),
                ));
            }
        }

        let mut tx = self.store().begin_grouped().await?;
        if let Some(key) = &call.idempotency_key {
            if let Some(first) = tx.idempotent_result(action_name, &caller.name, key).await? {
                return serde_json::from_str(&first)
                    .map_err(|e| crate::EngineError::Invalid(format!("stored outcome unreadable: {e}")));
            }
        }
        let watch_active = match self.check_approved(tx.as_mut(), action).await? {
            Ok(watch) => watch,
            Err(r) => return self.finish_rejected(tx, caller, action_name, call, r).await,
        };

        let key = call.key_text().ok().flatten();
        let new: Vec<(&str, &Value)> = call.set.iter().map(|(f, v)| (f.as_str(), v)).collect();
        let locked = match (action.kind, &key) {
            (Kind::Update, Some(k)) => tx.lock_for_write(table, &action.key, k, action_name, &new).await?,
            _ => {
                let (pauses, _) = tx.call_context(action_name, &action.table, None).await?;
                Locked {
                    record: Some(call.set.clone()),
                    pauses,
                    new: call.set.values().cloned().collect(),
                    ..Locked::default()
                }
            }
        };
        if let Some(r) = refusal_for_pauses(&locked.pauses, action_name) {
            return self.finish_rejected(tx, caller, action_name, call, r).await;
        }
        // The record's own key spelling names its journal rows.
        let key = locked.key.clone().or(key);
        let stored_new: Record = call.set.keys().cloned().zip(locked.new.iter().cloned()).collect();
        let duplicates = find_duplicates(tx.as_mut(), action, table, key.as_deref(), &stored_new).await?;
        let typed_record = locked.record.as_ref().map(|r| typed(table, r));
        let inputs = Inputs { record: typed_record.as_ref(), duplicates: &duplicates, watch_active, approved: false };
        let decision = decide(action, &typed_call(table, call, &stored_new), &inputs);
        let record = locked.record.as_ref().filter(|_| action.kind == Kind::Update);
        let head = locked.head.clone();

        let stamp = self.clock().stamp();
        let result = match decision {
            Decision::Reject(r) => return self.finish_rejected(tx, caller, action_name, call, r).await,
            Decision::Unchanged => CallResult {
                outcome: Outcome::Unchanged,
                change_id: None,
                proposal_id: None,
                code: None,
                message: "the record already holds these values; nothing was written".into(),
                reasons: Vec::new(),
                notes: Vec::new(),
                fields: Vec::new(),
            },
            Decision::Apply { fields, watch } => {
                let fields = stored_fields(fields, record, &stored_new);
                if let Some(r) =
                    self.take_limits(tx.as_mut(), action, &caller.name, call.run_id.as_deref(), now).await?
                {
                    drop(tx);
                    let tx = self.store().begin().await?;
                    return self.finish_rejected(tx, caller, action_name, call, r).await;
                }
                let signature = match self.breaker_gate(tx.as_mut(), action, &typed_fields(table, &fields)).await? {
                    Ok(signature) => signature,
                    Err(r) => {
                        drop(tx);
                        let tx = self.store().begin().await?;
                        return self.finish_rejected(tx, caller, action_name, call, r).await;
                    }
                };
                let prov = Provenance {
                    actor: &caller.name,
                    approver: None,
                    reason: call.reason.as_deref(),
                    evidence: call.evidence.as_deref(),
                    confidence: call.confidence,
                    run_id: call.run_id.as_deref(),
                    proposal_id: None,
                    reverts: None,
                    watch,
                };
                let target = Target { table, key: key.as_deref(), fields: &fields, known_head: Some(head.clone()) };
                match self.write_change(tx.as_mut(), action, target, &prov).await? {
                    Ok(change) => {
                        let tripped = match &signature {
                            Some(sig) => self.count_for_breaker(tx.as_mut(), action, &change, sig).await?,
                            None => None,
                        };
                        let mut result = applied(change);
                        if let Some(why) = tripped {
                            result.message = format!("{} — this change tripped the breaker: {why}", result.message);
                        }
                        result
                    }
                    Err(r) => {
                        drop(tx);
                        let tx = self.store().begin().await?;
                        return self.finish_rejected(tx, caller, action_name, call, r).await;
                    }
                }
            }
            Decision::Review { fields, reasons, notes, suggested } => {
                let fields = stored_fields(fields, record, &stored_new);
                // A proposal counts against the run's and the hour's limits
                // like a write, so a runaway job cannot flood the reviewers;
                // approving it later does not count it again.
                if let Some(r) =
                    self.take_limits(tx.as_mut(), action, &caller.name, call.run_id.as_deref(), now).await?
                {
                    drop(tx);
                    let tx = self.store().begin().await?;
                    return self.finish_rejected(tx, caller, action_name, call, r).await;
                }
                let signature = breaker::describe(&typed_fields(table, &fields));
                // The deadline is on the database's clock, which every
                // gateway process shares.
                let expires_at = match action.review.expire_s {
                    Some(s) => Some(later(&tx.db_now().await?, s)?),
                    None => None,
                };
                let proposal = Proposal {
                    id: self.clock().id(),
                    created_at: stamp.clone(),
                    action: action.name.clone(),
                    table_name: action.table.clone(),
                    record_key: key.clone(),
                    fields: fields.clone(),
                    reasons: reasons.clone(),
                    notes: notes.clone(),
                    status: if suggested { ProposalStatus::Suggested } else { ProposalStatus::Pending },
                    actor: caller.name.clone(),
                    reason: call.reason.clone(),
                    evidence: call.evidence.clone(),
                    confidence: call.confidence,
                    run_id: call.run_id.clone(),
                    reviewer: None,
                    decided_at: None,
                    review_note: None,
                    edited: None,
                    change_id: None,
                    group: Some(breaker::group(&action.name, &signature)),
                    expires_at,
                    on_expire: action.review.expire_s.map(|_| action.review.on_expire),
                    escalated_at: None,
                };
                tx.insert_proposal(&proposal).await?;
                self.queue_event(tx.as_mut(), "proposal.created", &proposal).await?;
                let who = action.exception_approver.as_deref().unwrap_or("a reviewer");
                CallResult {
                    outcome: if suggested { Outcome::Suggested } else { Outcome::PendingReview },
                    change_id: None,
                    proposal_id: Some(proposal.id),
                    code: None,
                    message: if suggested {
                        format!("recorded as a suggestion ({} is in suggest mode); {who} may accept it", action.name)
                    } else {
                        format!("waiting for {who}; check back with the proposal id")
                    },
                    reasons,
                    notes,
                    fields,
                }
            }
        };
        if let Some(run) = &call.run_id {
            // A run is recorded once, when it first writes; its counts come
            // from the journal, so later calls need not touch the row.
            let seen_as = (caller.name.clone(), run.clone());
            let first = !crate::lock(&self.runs_seen).contains(&seen_as);
            if first && result.outcome != Outcome::Unchanged {
                tx.touch_run(run, &caller.name, action_name, &stamp).await?;
                let mut seen = crate::lock(&self.runs_seen);
                if seen.len() >= RUNS_REMEMBERED_MAX {
                    seen.clear();
                }
                seen.insert(seen_as);
            }
        }
        self.remember(tx.as_mut(), caller, action_name, call, &result).await?;
        tx.commit().await?;
        Ok(result)
    }

    async fn remember(
        &self,
        tx: &mut dyn StoreTx,
        caller: &Caller,
        action: &str,
        call: &Call,
        result: &CallResult,
    ) -> Result<()> {
        if let Some(key) = &call.idempotency_key {
            let text = serde_json::to_string(result).unwrap_or_default();
            tx.save_idempotent(action, &caller.name, key, &text, &self.clock().stamp()).await?;
        }
        Ok(())
    }

    /// A rejection writes nothing but, with an idempotency key, its outcome.
    async fn finish_rejected(
        &self,
        mut tx: Box<dyn StoreTx>,
        caller: &Caller,
        action: &str,
        call: &Call,
        r: Refusal,
    ) -> Result<CallResult> {
        let result = CallResult::from(r);
        if call.idempotency_key.is_some() {
            self.remember(tx.as_mut(), caller, action, call, &result).await?;
            tx.commit().await?;
        }
        Ok(result)
    }

    /// Counts this write against `per_run` and `per_hour`, inside the write's
    /// own transaction so a refused or failed write counts nothing.
    async fn take_limits(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        actor: &str,
        run_id: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<Option<Refusal>> {
        if let (Some(max), Some(run)) = (action.limits.per_run_max, run_id) {
            if !tx.bump_counter(&run_counter(&action.name, actor, run), 0, max).await? {
                return Ok(Some(Refusal::new(
                    Code::LimitRun,
                    format!(
                        "run {run} has reached its cap of {max} records for {}; stop this run and report what is left",
                        action.name
                    ),
                )));
            }
        }
        if let Some(max) = action.limits.per_hour_max {
            let hour = now.as_second().div_euclid(3600) * 3600;
            if !tx.bump_counter(&format!("hour:{}", action.name), hour, max).await? {
                return Ok(Some(Refusal::new(
                    Code::LimitHour,
                    format!("{} has made {max} changes this hour, its cap; wait for the next hour", action.name),
                )));
            }
        }
        Ok(None)
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
        let new_change = |key: String, op: Op| Change {
            id: self.clock().id(),
            at: self.clock().stamp(),
            action: action.name.clone(),
            policy_hash: action.hash.clone(),
            table_name: table.name.clone(),
            record_key: key,
            op,
            fields: fields.to_vec(),
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
        };
        match (action.kind, key) {
            (Kind::Update, Some(key)) => {
                let mut change = new_change(key.to_string(), Op::Update);
                let head_from_lock = known_head.is_some();
                let head = match known_head {
                    Some(head) => head,
                    None => tx.chain_head(&table.name, key).await?,
                };
                change.seal(head);
                // The row and its journal entry land together or not at all.
                let mut written = tx.update_with_change(table, &action.key, &change).await?;
                if written == Written::Stale && head_from_lock {
                    // The head read with the lock may predate it (PostgreSQL):
                    // once more on the head read now, under the lock.
                    change.seal(tx.chain_head(&table.name, key).await?);
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
            (_, key) => {
                let (key, stored) = tx.insert_record(table, &action.key, key, fields).await?;
                let mut change = new_change(key, Op::Insert);
                for (f, v) in change.fields.iter_mut().zip(stored) {
                    f.new = v;
                }
                self.journal(tx, &mut change, None).await?;
                Ok(Ok(change))
            }
        }
    }
}

/// The counter of one token's run of one action: a run id is the token's
/// own, so two tokens using the same text count apart. Hashed to fit the
/// counter's name column whatever the lengths of the names.
pub(crate) fn run_counter(action: &str, actor: &str, run: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(actor.as_bytes());
    h.update([0]);
    h.update(run.as_bytes());
    format!("run:{action}:{}", &hex::encode(h.finalize())[..32])
}

/// A stamp `seconds` after another stamp.
pub(crate) fn later(stamp: &str, seconds: u64) -> Result<String> {
    let t: jiff::Timestamp =
        stamp.parse().map_err(|e| EngineError::Invalid(format!("the database's clock read `{stamp}`: {e}")))?;
    let t = t.checked_add(jiff::SignedDuration::from_secs(seconds.min(i64::MAX as u64) as i64)).unwrap_or(t);
    Ok(crate::clock::stamp(t))
}

fn applied(change: Change) -> CallResult {
    CallResult {
        outcome: Outcome::Applied,
        message: format!("applied; undo with `leash revert {}`", change.id),
        change_id: Some(change.id),
        proposal_id: None,
        code: None,
        reasons: Vec::new(),
        notes: Vec::new(),
        fields: change.fields,
    }
}

/// A pause on this action or on all, read from the database on every call.
pub(crate) async fn paused(tx: &mut dyn StoreTx, action: &str) -> Result<Option<Refusal>> {
    Ok(refusal_for_pauses(&tx.pauses_for(action).await?, action))
}

/// The refusal for the pauses in force, the action's own before a global one.
pub(crate) fn refusal_for_pauses(pauses: &[leash_store::Pause], action: &str) -> Option<Refusal> {
    let p = pauses.iter().find(|p| p.scope == action).or(pauses.first())?;
    let whole = if p.scope == ALL_SCOPE { "all actions are" } else { "this action is" };
    Some(if p.kind == PauseKind::Breaker {
        Refusal::new(
            Code::BreakerTripped,
            format!("{whole} stopped by the breaker ({}); a person must review and `leash resume {action}`", p.reason),
        )
    } else {
        Refusal::new(
            Code::Paused,
            format!("{whole} paused by {} ({}); do not retry until it is resumed", p.by, p.reason),
        )
    })
}

/// For `unique` fields: another record already holding the new value.
pub(crate) async fn find_duplicates(
    tx: &mut dyn StoreTx,
    action: &Action,
    table: &TableSchema,
    key: Option<&str>,
    new: &Record,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (field, value) in new {
        if action.field(field).is_some_and(|r| r.unique) && !value.is_null() {
            if let Some(other) = tx.find_other(table, &action.key, key, field, value).await? {
                out.insert(field.clone(), other);
            }
        }
    }
    Ok(out)
}

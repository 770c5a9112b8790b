//! The write path (ARCHITECTURE.md): one call, one transaction.

use std::collections::BTreeMap;

use leash_core::breaker;
use leash_core::call::{Call, CallResult, FieldChange, Refusal};
use leash_core::codes::{Code, Outcome};
use leash_core::decide::{check_call, Decision};
use leash_core::journal::{Change, Proposal, ProposalStatus};
use leash_core::policy::Action;
use leash_core::value::Record;
use leash_store::{PauseKind, StoreError, StoreTx, TableSchema, ALL_SCOPE};

use crate::journal::{Provenance, Target};
use crate::stage::{Gate, Stage, Staged};
use crate::values::{coerce_call, stored_fields, typed_fields};
use crate::{Caller, Engine, EngineError, Result};

/// Run ids this process remembers having recorded; cleared when full.
pub const RUNS_REMEMBERED_MAX: usize = 10_000;

/// One call as it goes through the write path: who, which action on which
/// table, and what the call says (already coerced to the columns).
pub(crate) struct CallCx<'a> {
    pub caller: &'a Caller,
    pub action: &'a Action,
    pub table: &'a TableSchema,
    pub call: &'a Call,
}

/// A decision to send to a person, before it is a proposal.
struct Draft {
    fields: Vec<FieldChange>,
    reasons: Vec<leash_core::codes::ReviewReason>,
    notes: Vec<String>,
    suggested: bool,
}

impl Engine {
    /// Runs one call through the gateway and returns its one outcome.
    pub async fn call(&self, caller: &Caller, action_name: &str, mut call: Call) -> Result<CallResult> {
        let result = match self.run_call(caller, action_name, &mut call).await {
            Ok(result) => result,
            Err(e) => self.after_failure(caller, action_name, &call, e).await?,
        };
        tracing::info!(
            action = action_name, actor = %caller.name, outcome = result.outcome.as_str(),
            code = result.code.map(|c| c.as_str()).unwrap_or(""), change_id = result.change_id.as_deref().unwrap_or(""),
            proposal_id = result.proposal_id.as_deref().unwrap_or(""), "call"
        );
        Ok(result)
    }

    /// The write path: admit, stage (lock and decide), land, remember,
    /// commit — every refusal through `refused`.
    async fn run_call(&self, caller: &Caller, action_name: &str, call: &mut Call) -> Result<CallResult> {
        let (action, table) = match self.admit(caller, action_name, call) {
            Ok(admitted) => admitted,
            Err(r) => return Ok(r.into()),
        };
        let cx = CallCx { caller, action, table, call: &*call };
        let mut tx = self.store().begin_grouped().await?;
        if let Some(first) = self.first_outcome(tx.as_mut(), &cx).await? {
            return Ok(first);
        }
        let watch = match self.check_approved(tx.as_mut(), action).await? {
            Ok(watch) => watch,
            Err(r) => return self.refused(Some(tx), &cx, r).await,
        };
        let staged = match self.stage(tx.as_mut(), action, table, cx.call, Gate::Call { watch }).await? {
            Stage::Ready(staged) => staged,
            Stage::Refused(r) => return self.refused(Some(tx), &cx, r).await,
            Stage::Moved(why) => return self.refused(Some(tx), &cx, Refusal::new(Code::StaleRecord, why)).await,
        };
        let result = match self.land(tx.as_mut(), &cx, staged).await? {
            Ok(result) => result,
            Err(r) => return self.refused(Some(tx), &cx, r).await,
        };
        self.record_run(tx.as_mut(), &cx, &result).await?;
        self.remember(tx.as_mut(), &cx, &result).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// What needs no transaction: the action exists and is granted, the
    /// call's shape and fields, its values brought to the columns' types,
    /// the time window.
    fn admit(
        &self,
        caller: &Caller,
        action_name: &str,
        call: &mut Call,
    ) -> std::result::Result<(&Action, &TableSchema), Refusal> {
        let Some(action) = self.policy().action(action_name) else {
            let names: Vec<&str> =
                self.policy().actions.iter().filter(|a| caller.may_call(&a.name)).map(|a| a.name.as_str()).collect();
            return Err(Refusal::new(
                Code::UnknownAction,
                format!("there is no action `{action_name}`; available: {}", names.join(", ")),
            ));
        };
        if !caller.may_call(action_name) {
            return Err(Refusal::new(
                Code::NotPermitted,
                format!("{} may not use {action_name}; ask an admin to grant it", caller.name),
            ));
        }
        check_call(action, call)?;
        let table = self.schema(&action.table).map_err(|e| Refusal::new(Code::InvalidInput, e.to_string()))?;
        coerce_call(action, table, call)?;
        if let Some(window) = action.limits.window.as_ref().filter(|w| !w.contains(self.clock().now())) {
            return Err(Refusal::new(
                Code::OutsideWindow,
                format!("{action_name} may only write during {}; try again then", window.source),
            ));
        }
        Ok((action, table))
    }

    /// A retry with a known idempotency key gets the first outcome.
    async fn first_outcome(&self, tx: &mut dyn StoreTx, cx: &CallCx<'_>) -> Result<Option<CallResult>> {
        let Some(key) = &cx.call.idempotency_key else { return Ok(None) };
        let Some(first) = tx.idempotent_result(&cx.action.name, &cx.caller.name, key).await? else { return Ok(None) };
        serde_json::from_str(&first)
            .map(Some)
            .map_err(|e| EngineError::Invalid(format!("stored outcome unreadable: {e}")))
    }

    /// The decision, landed: nothing, a change, or a proposal.
    async fn land(
        &self,
        tx: &mut dyn StoreTx,
        cx: &CallCx<'_>,
        staged: Staged,
    ) -> Result<std::result::Result<CallResult, Refusal>> {
        let Staged { key, record, head, stored_new, decision } = staged;
        let stored = |fields| stored_fields(fields, record.as_ref(), &stored_new);
        match decision {
            Decision::Reject(r) => Ok(Err(r)),
            Decision::Unchanged => {
                Ok(Ok(CallResult::unchanged("the record already holds these values; nothing was written")))
            }
            Decision::Apply { fields, watch } => {
                let fields = stored(fields);
                let target = Target { table: cx.table, key: key.as_deref(), fields: &fields, known_head: Some(head) };
                self.apply(tx, cx, target, watch).await
            }
            Decision::Review { fields, reasons, notes, suggested } => {
                let draft = Draft { fields: stored(fields), reasons, notes, suggested };
                self.propose(tx, cx, key, draft).await
            }
        }
    }

    /// Counts the limits and the breaker, then writes the record and its
    /// journal row.
    async fn apply(
        &self,
        tx: &mut dyn StoreTx,
        cx: &CallCx<'_>,
        target: Target<'_>,
        watch: bool,
    ) -> Result<std::result::Result<CallResult, Refusal>> {
        let (action, now) = (cx.action, self.clock().now());
        if let Some(r) = self.take_limits(tx, action, &cx.caller.name, cx.call.run_id.as_deref(), now).await? {
            return Ok(Err(r));
        }
        let signature = match self.breaker_gate(tx, action, &typed_fields(cx.table, target.fields)).await? {
            Ok(signature) => signature,
            Err(r) => return Ok(Err(r)),
        };
        let prov = Provenance::of_call(cx.caller, cx.call, watch);
        let change = match self.write_change(tx, action, target, &prov).await? {
            Ok(change) => change,
            Err(r) => return Ok(Err(r)),
        };
        let tripped = match &signature {
            Some(sig) => self.count_for_breaker(tx, action, &change, sig).await?,
            None => None,
        };
        let mut result = applied(change);
        if let Some(why) = tripped {
            result.message = format!("{} — this change tripped the breaker: {why}", result.message);
        }
        Ok(Ok(result))
    }

    /// A proposal for a person. It counts against the run's and the hour's
    /// limits like a write, so a runaway job cannot flood the reviewers;
    /// approving it later does not count it again.
    async fn propose(
        &self,
        tx: &mut dyn StoreTx,
        cx: &CallCx<'_>,
        key: Option<String>,
        draft: Draft,
    ) -> Result<std::result::Result<CallResult, Refusal>> {
        let (action, call) = (cx.action, cx.call);
        if let Some(r) =
            self.take_limits(tx, action, &cx.caller.name, call.run_id.as_deref(), self.clock().now()).await?
        {
            return Ok(Err(r));
        }
        let signature = breaker::describe(&typed_fields(cx.table, &draft.fields));
        // The deadline is on the database's clock, which every gateway shares.
        let expires_at = match action.review.expire_s {
            Some(s) => Some(later(&tx.db_now().await?, s)?),
            None => None,
        };
        let proposal = Proposal {
            id: self.clock().id(),
            created_at: self.clock().stamp(),
            action: action.name.clone(),
            table_name: action.table.clone(),
            record_key: key,
            fields: draft.fields.clone(),
            reasons: draft.reasons.clone(),
            notes: draft.notes.clone(),
            status: if draft.suggested { ProposalStatus::Suggested } else { ProposalStatus::Pending },
            actor: cx.caller.name.clone(),
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
        self.queue_event(tx, "proposal.created", &proposal).await?;
        let who = action.exception_approver.as_deref().unwrap_or("a reviewer");
        let message = if draft.suggested {
            format!("recorded as a suggestion ({} is in suggest mode); {who} may accept it", action.name)
        } else {
            format!("waiting for {who}; check back with the proposal id")
        };
        Ok(Ok(CallResult::proposed(proposal.id, draft.suggested, message, draft.reasons, draft.notes, draft.fields)))
    }

    /// A run is recorded once, when it first writes; its counts come from
    /// the journal, so later calls need not touch the row.
    async fn record_run(&self, tx: &mut dyn StoreTx, cx: &CallCx<'_>, result: &CallResult) -> Result<()> {
        let Some(run) = &cx.call.run_id else { return Ok(()) };
        let seen_as = (cx.caller.name.clone(), run.clone());
        if result.outcome == Outcome::Unchanged || crate::lock(&self.runs_seen).contains(&seen_as) {
            return Ok(());
        }
        tx.touch_run(run, &cx.caller.name, &cx.action.name, &self.clock().stamp()).await?;
        let mut seen = crate::lock(&self.runs_seen);
        if seen.len() >= RUNS_REMEMBERED_MAX {
            seen.clear();
        }
        seen.insert(seen_as);
        Ok(())
    }

    /// A call that failed with an error: two copies of one call raced (both
    /// found no stored outcome, and the loser failed on the key's uniqueness
    /// or on the row the winner changed), so the winner's outcome answers
    /// both; or the database refused a value or the row, which becomes a
    /// refusal naming it, never the database's text. Nothing was written.
    async fn after_failure(
        &self,
        caller: &Caller,
        action_name: &str,
        call: &Call,
        e: EngineError,
    ) -> Result<CallResult> {
        let first = match &call.idempotency_key {
            Some(key) => self.store().begin().await?.idempotent_result(action_name, &caller.name, key).await?,
            None => None,
        };
        match (first, e) {
            (Some(first), _) => serde_json::from_str(&first)
                .map_err(|e| EngineError::Invalid(format!("stored outcome unreadable: {e}"))),
            (None, EngineError::Store(StoreError::Rejected(rej))) => {
                let Some(action) = self.policy().action(action_name) else {
                    return Err(StoreError::Rejected(rej).into());
                };
                let table = self.schema(&action.table)?;
                let r = self.refusal_for(&rej, action, call).await?;
                self.refused(None, &CallCx { caller, action, table, call }, r).await
            }
            (None, e) => Err(e),
        }
    }

    async fn remember(&self, tx: &mut dyn StoreTx, cx: &CallCx<'_>, result: &CallResult) -> Result<()> {
        if let Some(key) = &cx.call.idempotency_key {
            let text = serde_json::to_string(result).unwrap_or_default();
            tx.save_idempotent(&cx.action.name, &cx.caller.name, key, &text, &self.clock().stamp()).await?;
        }
        Ok(())
    }

    /// The one exit of a refused call: whatever the transaction did (a limit
    /// counted, a record locked) is rolled back, and with an idempotency key
    /// the refusal is remembered in a transaction of its own.
    async fn refused(&self, tx: Option<Box<dyn StoreTx>>, cx: &CallCx<'_>, r: Refusal) -> Result<CallResult> {
        drop(tx);
        let result = CallResult::from(r);
        if cx.call.idempotency_key.is_some() {
            let mut tx = self.store().begin().await?;
            self.remember(tx.as_mut(), cx, &result).await?;
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
    let message = format!("applied; undo with `leash revert {}`", change.id);
    CallResult::applied(change.id, change.fields, message)
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

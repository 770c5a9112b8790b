//! The review queue: approving re-runs the write path with the reviewer as
//! approver; a record that moved on since the proposal makes it `stale`.

use leash_core::call::{Call, CallResult, Refusal};
use leash_core::codes::{Code, Outcome};
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::journal::{Proposal, ProposalStatus};
use leash_core::policy::Kind;
use leash_core::value::{display, same_stored, Record, Value};
use leash_store::{Locked, StoreError, TableSchema};

use crate::values::{coerce_call, column_type, stored_fields, typed, typed_call};
use crate::write::{find_duplicates, paused, Provenance, Target};
use crate::{Caller, Engine, EngineError, Result, Role};

impl Engine {
    pub async fn approve(
        &self,
        reviewer: &Caller,
        id: &str,
        edits: serde_json::Map<String, Value>,
        note: Option<&str>,
    ) -> Result<CallResult> {
        reviewer.require(Role::Reviewer, "approving")?;
        let mut call = Call::default();
        match self.approve_inner(reviewer, id, edits, note, &mut call).await {
            // The database refused an edited value: say which, write nothing.
            Err(EngineError::Store(StoreError::Rejected(rej))) => {
                let proposal = self.store().proposal(id).await?;
                match proposal.as_ref().and_then(|p| self.policy().action(&p.action)) {
                    Some(action) => Ok(self.refusal_for(&rej, action, &call).await?.into()),
                    None => Err(StoreError::Rejected(rej).into()),
                }
            }
            r => r,
        }
    }

    async fn approve_inner(
        &self,
        reviewer: &Caller,
        id: &str,
        edits: serde_json::Map<String, Value>,
        note: Option<&str>,
        call: &mut Call,
    ) -> Result<CallResult> {
        // A proposal whose time is up is dealt with before anyone may approve it.
        self.expire_due().await?;
        let mut tx = self.store().begin().await?;
        let mut proposal =
            tx.lock_proposal(id).await?.ok_or_else(|| EngineError::NotFound(format!("proposal {id}")))?;
        if proposal.status == ProposalStatus::Expired {
            return Ok(CallResult::rejected(
                Code::Expired,
                format!(
                    "proposal {id} expired at {}: nobody decided in time; ask the agent to propose it again",
                    proposal.expires_at.as_deref().unwrap_or("its deadline")
                ),
            ));
        }
        if !proposal.status.is_open() {
            return Ok(CallResult::rejected(
                Code::Conflict,
                format!("proposal {id} is already {}; nothing to approve", proposal.status.as_str()),
            ));
        }
        if let Some(why) = self.may_not_decide(reviewer, &proposal, "approve") {
            return Ok(CallResult::rejected(Code::NotPermitted, why));
        }
        let Some(action) = self.policy().action(&proposal.action) else {
            return Ok(CallResult::rejected(
                Code::UnknownAction,
                format!("the policy no longer has action {}; reject the proposal", proposal.action),
            ));
        };
        if let Some(r) = paused(tx.as_mut(), &action.name).await? {
            return Ok(r.into());
        }
        if let Err(r) = self.check_approved(tx.as_mut(), action).await? {
            return Ok(r.into());
        }
        let table = self.schema(&action.table)?;
        *call = Call {
            key: proposal.record_key.clone().map(Value::String),
            reason: proposal.reason.clone(),
            evidence: proposal.evidence.clone(),
            confidence: proposal.confidence,
            run_id: proposal.run_id.clone(),
            ..Call::default()
        };
        for f in &proposal.fields {
            call.set.insert(f.field.clone(), f.new.clone());
        }
        let mut edits = edits;
        for (field, value) in edits.iter_mut() {
            if action.field(field).is_none() {
                return Ok(
                    Refusal::new(Code::FieldNotAllowed, format!("{} may not write `{field}`", action.name)).into()
                );
            }
            call.set.insert(field.clone(), value.clone());
        }
        if let Err(r) = coerce_call(action, table, call) {
            return Ok(r.into());
        }
        let key = call.key_text().ok().flatten();
        let new: Vec<(&str, &Value)> = call.set.iter().map(|(f, v)| (f.as_str(), v)).collect();
        let locked = match (action.kind, &key) {
            (Kind::Update, Some(k)) => tx.lock_for_write(table, &action.key, k, &action.name, &new).await?,
            _ => Locked { new: call.set.values().cloned().collect(), ..Locked::default() },
        };
        if action.kind == Kind::Update {
            if let Some(why) = moved_since(table, &proposal, locked.record.as_ref()) {
                proposal.status = ProposalStatus::Stale;
                proposal.reviewer = Some(reviewer.name.clone());
                proposal.decided_at = Some(self.clock().stamp());
                proposal.review_note = Some(why.clone());
                tx.update_proposal(&proposal).await?;
                tx.commit().await?;
                return Ok(CallResult::rejected(
                    Code::StaleRecord,
                    format!("{why}; the proposal is now stale and was not applied. Ask the agent to look again"),
                ));
            }
        }
        let key = locked.key.clone().or(key);
        let stored_new: Record = call.set.keys().cloned().zip(locked.new.iter().cloned()).collect();
        for (field, value) in edits.iter_mut() {
            if let Some(v) = stored_new.get(field) {
                *value = v.clone();
            }
        }
        let record = locked.record.as_ref().filter(|_| action.kind == Kind::Update);
        let record_for_rules = typed(table, record.unwrap_or(&stored_new));
        let duplicates = find_duplicates(tx.as_mut(), action, table, key.as_deref(), &stored_new).await?;
        let inputs =
            Inputs { record: Some(&record_for_rules), duplicates: &duplicates, watch_active: false, approved: true };
        let decision = decide(action, &typed_call(table, call, &stored_new), &inputs);
        let now = self.clock().stamp();
        proposal.reviewer = Some(reviewer.name.clone());
        proposal.decided_at = Some(now);
        proposal.review_note = note.map(str::to_string);
        proposal.edited = (!edits.is_empty()).then_some(edits);
        let result = match decision {
            Decision::Reject(r) => return Ok(r.into()),
            Decision::Review { .. } => unreachable!("an approved decision is never routed to review"),
            Decision::Unchanged => {
                proposal.status = ProposalStatus::Accepted;
                CallResult {
                    outcome: Outcome::Unchanged,
                    change_id: None,
                    proposal_id: Some(proposal.id.clone()),
                    code: None,
                    message: "accepted; the record already held these values".into(),
                    reasons: Vec::new(),
                    notes: Vec::new(),
                    fields: Vec::new(),
                }
            }
            Decision::Apply { fields, watch } => {
                let fields = stored_fields(fields, record, &stored_new);
                let prov = Provenance {
                    actor: &proposal.actor,
                    approver: Some(&reviewer.name),
                    reason: proposal.reason.as_deref(),
                    evidence: proposal.evidence.as_deref(),
                    confidence: proposal.confidence,
                    run_id: proposal.run_id.as_deref(),
                    proposal_id: Some(&proposal.id),
                    reverts: None,
                    watch,
                };
                let known_head = record.map(|_| locked.head.clone());
                let target = Target { table, key: key.as_deref(), fields: &fields, known_head };
                let change = match self.write_change(tx.as_mut(), action, target, &prov).await? {
                    Ok(c) => c,
                    Err(r) => return Ok(r.into()),
                };
                proposal.status = ProposalStatus::Accepted;
                proposal.change_id = Some(change.id.clone());
                CallResult {
                    outcome: Outcome::Applied,
                    message: format!("approved and applied; undo with `leash revert {}`", change.id),
                    change_id: Some(change.id),
                    proposal_id: Some(proposal.id.clone()),
                    code: None,
                    reasons: Vec::new(),
                    notes: Vec::new(),
                    fields: change.fields,
                }
            }
        };
        tx.update_proposal(&proposal).await?;
        tx.commit().await?;
        tracing::info!(proposal = id, reviewer = %reviewer.name, outcome = result.outcome.as_str(), "approve");
        Ok(result)
    }

    pub async fn reject(&self, reviewer: &Caller, id: &str, note: &str) -> Result<Proposal> {
        reviewer.require(Role::Reviewer, "rejecting")?;
        if note.trim().is_empty() {
            return Err(EngineError::Invalid("say why with --note; the agent and the report learn from it".into()));
        }
        self.expire_due().await?;
        let mut tx = self.store().begin().await?;
        let mut proposal =
            tx.lock_proposal(id).await?.ok_or_else(|| EngineError::NotFound(format!("proposal {id}")))?;
        if !proposal.status.is_open() {
            return Err(EngineError::Invalid(format!("proposal {id} is already {}", proposal.status.as_str())));
        }
        if let Some(why) = self.may_not_decide(reviewer, &proposal, "reject") {
            return Err(EngineError::Forbidden(why));
        }
        proposal.status = ProposalStatus::Rejected;
        proposal.reviewer = Some(reviewer.name.clone());
        proposal.decided_at = Some(self.clock().stamp());
        proposal.review_note = Some(note.to_string());
        tx.update_proposal(&proposal).await?;
        tx.commit().await?;
        Ok(proposal)
    }
}

impl Engine {
    /// Why this reviewer may not decide this proposal, if they may not:
    /// nobody decides a call they made themselves, and an action with
    /// `[actions.review] only` is decided by those names and its exception
    /// approver alone.
    fn may_not_decide(&self, reviewer: &Caller, proposal: &Proposal, verb: &str) -> Option<String> {
        if reviewer.name == proposal.actor {
            return Some(format!(
                "{} made this call and may not {verb} it; another reviewer must decide proposal {}",
                reviewer.name, proposal.id
            ));
        }
        let action = self.policy().action(&proposal.action)?;
        let only = action.review.only.as_ref()?;
        let allowed = only.iter().chain(action.exception_approver.as_ref()).any(|n| *n == reviewer.name);
        (!allowed).then(|| {
            let mut names: Vec<&str> = only.iter().map(String::as_str).collect();
            names.extend(action.exception_approver.as_deref());
            format!(
                "{} proposals are decided by {} only; ask one of them to {verb} proposal {}",
                action.name,
                names.join(", "),
                proposal.id
            )
        })
    }
}

/// Why a proposal no longer fits its record, if it does not: the record is
/// gone, or a field is no longer what it was when the change was proposed.
/// The one rule for "stale", for approving and for showing the queue.
pub(crate) fn moved_since(table: &TableSchema, proposal: &Proposal, record: Option<&Record>) -> Option<String> {
    let Some(rec) = record else { return Some("the record no longer exists".to_string()) };
    proposal.fields.iter().find_map(|f| {
        let now = rec.get(&f.field).cloned().unwrap_or(Value::Null);
        (!same_stored(&now, &f.old, column_type(table, &f.field)))
            .then(|| format!("{} was `{}` when proposed and is now `{}`", f.field, display(&f.old), display(&now)))
    })
}

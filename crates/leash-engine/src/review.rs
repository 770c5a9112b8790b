//! The review queue: approving re-runs the write path with the reviewer as
//! approver; a record that moved on since the proposal makes it `stale`.

use leash_core::call::{Call, CallResult, Refusal};
use leash_core::codes::Code;
use leash_core::decide::Decision;
use leash_core::journal::{Proposal, ProposalStatus};
use leash_core::policy::Action;
use leash_core::value::{display, same_stored, Record, Value};
use leash_store::{StoreError, StoreTx, TableSchema};

use crate::journal::{Provenance, Target};
use crate::stage::{Gate, Stage, Staged};
use crate::values::{coerce_call, column_type, stored_fields};
use crate::write::paused;
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
        match self.run_approval(reviewer, id, edits, note, &mut call).await {
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

    /// Approving re-runs the write path with the reviewer as approver: the
    /// proposal is still open and theirs to decide, the action not paused
    /// and approved, the record not moved since; then the same stage as a
    /// call, and the change lands with the proposal decided.
    async fn run_approval(
        &self,
        reviewer: &Caller,
        id: &str,
        mut edits: serde_json::Map<String, Value>,
        note: Option<&str>,
        call: &mut Call,
    ) -> Result<CallResult> {
        // A proposal whose time is up is dealt with before anyone may approve it.
        self.expire_due().await?;
        let mut tx = self.store().begin().await?;
        let mut proposal =
            tx.lock_proposal(id).await?.ok_or_else(|| EngineError::NotFound(format!("proposal {id}")))?;
        let action = match self.decidable(reviewer, &proposal) {
            Ok(action) => action,
            Err(r) => return Ok(r.into()),
        };
        if let Some(r) = paused(tx.as_mut(), &action.name).await? {
            return Ok(r.into());
        }
        if let Err(r) = self.check_approved(tx.as_mut(), action).await? {
            return Ok(r.into());
        }
        let table = self.schema(&action.table)?;
        *call = match approval_call(action, table, &proposal, &edits) {
            Ok(call) => call,
            Err(r) => return Ok(r.into()),
        };
        let staged = match self.stage(tx.as_mut(), action, table, call, Gate::Approval { proposal: &proposal }).await? {
            Stage::Ready(staged) => staged,
            Stage::Refused(r) => return Ok(r.into()),
            Stage::Moved(why) => return self.mark_stale(tx, reviewer, proposal, why).await,
        };
        // The edits as the database stores them, for the proposal's record.
        for (field, value) in edits.iter_mut() {
            if let Some(v) = staged.stored_new.get(field) {
                *value = v.clone();
            }
        }
        proposal.reviewer = Some(reviewer.name.clone());
        proposal.decided_at = Some(self.clock().stamp());
        proposal.review_note = note.map(str::to_string);
        proposal.edited = (!edits.is_empty()).then_some(edits);
        let result = match self.land_approval(tx.as_mut(), action, table, reviewer, &mut proposal, staged).await? {
            Ok(result) => result,
            Err(r) => return Ok(r.into()),
        };
        tx.update_proposal(&proposal).await?;
        tx.commit().await?;
        tracing::info!(proposal = id, reviewer = %reviewer.name, outcome = result.outcome.as_str(), "approve");
        Ok(result)
    }

    /// The proposal's action, if this reviewer may decide it now: it is
    /// open (not expired or decided), not theirs, and its action still exists.
    fn decidable(&self, reviewer: &Caller, proposal: &Proposal) -> std::result::Result<&Action, Refusal> {
        let id = &proposal.id;
        if proposal.status == ProposalStatus::Expired {
            return Err(Refusal::new(
                Code::Expired,
                format!(
                    "proposal {id} expired at {}: nobody decided in time; ask the agent to propose it again",
                    proposal.expires_at.as_deref().unwrap_or("its deadline")
                ),
            ));
        }
        if !proposal.status.is_open() {
            return Err(Refusal::new(
                Code::Conflict,
                format!("proposal {id} is already {}; nothing to approve", proposal.status.as_str()),
            ));
        }
        if let Some(why) = self.may_not_decide(reviewer, proposal, "approve") {
            return Err(Refusal::new(Code::NotPermitted, why));
        }
        self.policy().action(&proposal.action).ok_or_else(|| {
            Refusal::new(
                Code::UnknownAction,
                format!("the policy no longer has action {}; reject the proposal", proposal.action),
            )
        })
    }

    /// The record moved on since the proposal: it becomes stale, decided by
    /// nobody's write, and the reviewer is told why.
    async fn mark_stale(
        &self,
        mut tx: Box<dyn StoreTx>,
        reviewer: &Caller,
        mut proposal: Proposal,
        why: String,
    ) -> Result<CallResult> {
        proposal.status = ProposalStatus::Stale;
        proposal.reviewer = Some(reviewer.name.clone());
        proposal.decided_at = Some(self.clock().stamp());
        proposal.review_note = Some(why.clone());
        tx.update_proposal(&proposal).await?;
        tx.commit().await?;
        Ok(CallResult::rejected(
            Code::StaleRecord,
            format!("{why}; the proposal is now stale and was not applied. Ask the agent to look again"),
        ))
    }

    /// The approved decision, landed: the change written with the reviewer
    /// as approver (or nothing, if the record already holds it), and the
    /// proposal accepted.
    async fn land_approval(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        table: &TableSchema,
        reviewer: &Caller,
        proposal: &mut Proposal,
        staged: Staged,
    ) -> Result<std::result::Result<CallResult, Refusal>> {
        let Staged { key, record, head, stored_new, decision } = staged;
        let (fields, watch) = match decision {
            Decision::Reject(r) => return Ok(Err(r)),
            Decision::Unchanged => {
                proposal.status = ProposalStatus::Accepted;
                let result = CallResult::unchanged("accepted; the record already held these values");
                return Ok(Ok(result.for_proposal(&proposal.id)));
            }
            Decision::Review { .. } => {
                return Err(EngineError::Invalid("an approved decision was routed to review".into()));
            }
            Decision::Apply { fields, watch } => (stored_fields(fields, record.as_ref(), &stored_new), watch),
        };
        let prov = Provenance::of_approval(proposal, &reviewer.name, watch);
        let known_head = record.map(|_| head);
        let target = Target { table, key: key.as_deref(), fields: &fields, known_head };
        let change = match self.write_change(tx, action, target, &prov).await? {
            Ok(change) => change,
            Err(r) => return Ok(Err(r)),
        };
        proposal.status = ProposalStatus::Accepted;
        proposal.change_id = Some(change.id.clone());
        let message = format!("approved and applied; undo with `leash revert {}`", change.id);
        Ok(Ok(CallResult::applied(change.id, change.fields, message).for_proposal(&proposal.id)))
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
/// The one rule for "stale", for approving and for showing the queue. The
/// text reaches the agent (its proposals, `proposal_status`), so a value is
/// quoted only where the action, as defined now, may show that field.
pub(crate) fn moved_since(
    action: &Action,
    table: &TableSchema,
    proposal: &Proposal,
    record: Option<&Record>,
) -> Option<String> {
    let Some(rec) = record else { return Some("the record no longer exists".to_string()) };
    proposal.fields.iter().find_map(|f| {
        let now = rec.get(&f.field).cloned().unwrap_or(Value::Null);
        let moved = !same_stored(&now, &f.old, column_type(table, &f.field));
        moved.then(|| match action.may_see(&f.field) {
            true => format!("{} was `{}` when proposed and is now `{}`", f.field, display(&f.old), display(&now)),
            false => format!("{} changed since it was proposed", f.field),
        })
    })
}

/// The call an approval makes: the proposal's fields with the reviewer's
/// edits over them, each a field the action may write, brought to the
/// columns' types.
fn approval_call(
    action: &Action,
    table: &TableSchema,
    proposal: &Proposal,
    edits: &serde_json::Map<String, Value>,
) -> std::result::Result<Call, Refusal> {
    let mut call = Call {
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
    for (field, value) in edits {
        if action.field(field).is_none() {
            return Err(Refusal::new(Code::FieldNotAllowed, format!("{} may not write `{field}`", action.name)));
        }
        call.set.insert(field.clone(), value.clone());
    }
    coerce_call(action, table, &mut call)?;
    Ok(call)
}

//! Earning wider access (docs/policy.md): policy approval, the watch window after
//! an action goes direct, the breaker, the planning sheet and the report.

use leash_core::breaker;
use leash_core::call::{FieldChange, Refusal};
use leash_core::codes::Code;
use leash_core::journal::Change;
use leash_core::policy::{Action, Kind, Mode, Risk};
use leash_core::report::{report, Report, ReportInputs};
use leash_store::{Approval, Pause, PauseKind, StoreTx};
use serde::Serialize;

use crate::clock::stamp;
use crate::write::paused;
use crate::{Caller, Engine, Result, Role};

#[derive(Debug, Clone, Serialize)]
pub struct PolicyApproval {
    pub action: String,
    pub action_hash: String,
    /// False when this exact definition was approved before.
    pub newly_approved: bool,
    /// What changed since the action's last approval, in the page's words.
    pub changes: Vec<String>,
}

/// One row of the planning sheet (`leash actions`).
#[derive(Debug, Clone, Serialize)]
pub struct ActionSheet {
    pub name: String,
    pub summary: String,
    pub table: String,
    pub kind: Kind,
    pub fields: Vec<String>,
    pub risk: Risk,
    pub rollback_minutes: Option<u32>,
    pub owner: Option<String>,
    pub exception_approver: Option<String>,
    pub mode: Mode,
    pub per_run: Option<u32>,
    pub per_hour: Option<u32>,
    pub window: Option<String>,
    pub approved: bool,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    pub paused: Option<Pause>,
    /// The environment whose overrides are in force (`[environments.NAME]`).
    pub environment: Option<String>,
}

/// The web UI's actions page: what the caller may see and do there.
#[derive(Debug, Clone, Serialize)]
pub struct ActionsOverview {
    pub sheet: Vec<ActionSheet>,
    pub report: Report,
    pub may_pause: bool,
}

impl Engine {
    /// Records who approved the current definition of every action.
    pub async fn approve_policy(&self, by: &Caller, note: Option<&str>) -> Result<Vec<PolicyApproval>> {
        by.require(Role::Admin, "approving the policy")?;
        let approvals = self.store().approvals().await?;
        let mut tx = self.store().begin().await?;
        let mut out = Vec::new();
        for a in &self.policy().actions {
            let known = tx.approval_for(&a.name, &a.hash).await?.is_some();
            let changes = if known { Vec::new() } else { self.changes_of(a, &approvals) };
            if !known {
                let approval = Approval {
                    action: a.name.clone(),
                    action_hash: a.hash.clone(),
                    policy_hash: self.policy().hash.clone(),
                    approved_by: by.name.clone(),
                    note: note.map(str::to_string),
                    at: self.clock().stamp(),
                    page: self.approved_page(a),
                };
                tx.insert_approval(&approval).await?;
            }
            out.push(PolicyApproval {
                action: a.name.clone(),
                action_hash: a.hash.clone(),
                newly_approved: !known,
                changes,
            });
        }
        tx.commit().await?;
        tracing::info!(by = %by.name, "approve-policy");
        Ok(out)
    }

    /// The approval of this action's current definition, or the refusal.
    /// Returns whether the watch window is open.
    pub(crate) async fn check_approved(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
    ) -> Result<std::result::Result<bool, Refusal>> {
        let cached = crate::lock(&self.approved).get(&action.name).filter(|a| a.action_hash == action.hash).cloned();
        let approval = match cached {
            Some(a) => Some(a),
            None => {
                let fetched = tx.approval_for(&action.name, &action.hash).await?;
                if let Some(a) = &fetched {
                    crate::lock(&self.approved).insert(action.name.clone(), a.clone());
                }
                fetched
            }
        };
        let Some(approval) = approval else {
            if self.require_approval {
                return Ok(Err(unapproved(action)));
            }
            tracing::warn!(action = %action.name, "running an unapproved action (--allow-unapproved)");
            return Ok(Ok(false));
        };
        let watch = match (action.mode, action.review.watch_s, approval.at.parse::<jiff::Timestamp>()) {
            (Mode::Direct, Some(w), Ok(at)) => {
                self.clock().now() < at.checked_add(jiff::SignedDuration::from_secs(w as i64)).unwrap_or(at)
            }
            _ => false,
        };
        Ok(Ok(watch))
    }

    /// The approval gate for reads (`read_record`): what an action reads is
    /// part of its definition, so nobody reads through an action whose
    /// current definition was never approved.
    pub(crate) async fn approved_for_reading(&self, action: &Action) -> Result<Option<Refusal>> {
        let cached = crate::lock(&self.approved).get(&action.name).is_some_and(|a| a.action_hash == action.hash);
        if cached || !self.require_approval {
            return Ok(None);
        }
        let approvals = self.store().approvals().await?;
        let Some(found) = approvals.into_iter().find(|a| a.action == action.name && a.action_hash == action.hash)
        else {
            return Ok(Some(unapproved(action)));
        };
        crate::lock(&self.approved).insert(action.name.clone(), found);
        Ok(None)
    }

    /// Before a write: takes the lock on this change's breaker signature and,
    /// holding it, re-reads the pause state, so a call that raced the Nth
    /// identical change is refused rather than counted afresh. Returns the
    /// signature to count once the write is done.
    pub(crate) async fn breaker_gate(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        fields: &[FieldChange],
    ) -> Result<std::result::Result<Option<String>, Refusal>> {
        if action.breaker.is_none() {
            return Ok(Ok(None));
        }
        let description = breaker::describe(fields);
        let key = breaker::key(&description);
        // The counter row serialises writers of one signature across processes.
        tx.bump_counter(&format!("breaker:{}:{key}", action.name), 0, u32::MAX).await?;
        if let Some(r) = paused(tx, &action.name).await? {
            return Ok(Err(r));
        }
        Ok(Ok(Some(description)))
    }

    /// After a write: counts it under its signature and trips the breaker on
    /// the Nth identical change inside the window. Returns a note when it tripped.
    pub(crate) async fn count_for_breaker(
        &self,
        tx: &mut dyn StoreTx,
        action: &Action,
        change: &Change,
        description: &str,
    ) -> Result<Option<String>> {
        let Some(b) = &action.breaker else { return Ok(None) };
        let key = breaker::key(description);
        let now = self.clock().now();
        let since = stamp(now.checked_sub(jiff::SignedDuration::from_secs(b.within_s as i64)).unwrap_or(now));
        let ids = tx.breaker_event(&action.name, &key, &change.id, &change.at, &since).await?;
        debug_assert!(ids.len() as u32 <= b.same_change_max, "the breaker let a change past its trip");
        if (ids.len() as u32) < b.same_change_max {
            return Ok(None);
        }
        let command = format!("leash revert {}", ids.join(" "));
        let reason = format!(
            "{} identical changes ({description}) within {}; a person reviews them, undoes them with `{command}`, then `leash resume {}`",
            ids.len(),
            human_span(b.within_s),
            action.name
        );
        let pause = Pause {
            scope: action.name.clone(),
            kind: PauseKind::Breaker,
            reason: reason.clone(),
            by: "breaker".into(),
            at: self.clock().stamp(),
            change_ids: ids.clone(),
        };
        tx.set_pause(&pause).await?;
        tx.clear_breaker(&action.name, &key).await?;
        let event = serde_json::json!({"scope": pause.scope, "kind": "breaker", "reason": reason, "change_ids": ids, "revert_command": command});
        self.queue_event(tx, "action.paused", &event).await?;
        tracing::error!(action = %action.name, signature = %description, changes = ids.len(), revert = %command, "breaker tripped");
        Ok(Some(reason))
    }

    /// The actions this caller may use, in policy order: the one filter
    /// every listing (the planning sheet, MCP's tools) goes through.
    pub fn actions_for<'a>(&'a self, who: &Caller) -> Vec<&'a Action> {
        self.policy().actions.iter().filter(|a| who.may_call(&a.name)).collect()
    }

    /// The planning sheet of the actions this caller may use, each with its
    /// approval and pause state.
    pub async fn actions_sheet(&self, who: &Caller) -> Result<Vec<ActionSheet>> {
        let approvals = self.store().approvals().await?;
        let pauses = self.store().pauses().await?;
        let environment = self.policy().environment.as_deref();
        Ok(self.actions_for(who).into_iter().map(|a| sheet_row(a, &approvals, &pauses, environment)).collect())
    }

    /// The actions page of the web UI in one read: the sheet, the report
    /// since `since` (by day), and whether this caller may pause.
    pub async fn actions_overview(&self, who: &Caller, since: String) -> Result<ActionsOverview> {
        let report = self.report(who, Some(since), None).await?;
        let sheet = self.actions_sheet(who).await?;
        // The same rule `pause` and `resume` enforce.
        let may_pause = who.require(Role::Admin, "pausing").is_ok();
        Ok(ActionsOverview { sheet, report, may_pause })
    }

    /// Per action over `[since, until)`: counts, reversal rate, minutes saved
    /// and whether it earned its next stage.
    pub async fn report(&self, who: &Caller, since: Option<String>, until: Option<String>) -> Result<Report> {
        who.require(Role::Reviewer, "reading the report")?;
        let actions: Vec<String> = self.policy().actions.iter().map(|a| a.name.clone()).collect();
        let tallies = self.store().change_tallies(&actions, since.as_deref(), until.as_deref()).await?;
        let proposals = self.store().proposal_tallies(since.as_deref(), until.as_deref()).await?;
        let now = self.clock().now();
        let days = self.policy().rollout.revert_free_days as i64;
        let cutoff = stamp(now.checked_sub(jiff::SignedDuration::from_hours(24 * days)).unwrap_or(now));
        let recent = self.store().change_tallies(&actions, Some(&cutoff), None).await?;
        let by_day = since.is_some();
        let inputs = ReportInputs { tallies: &tallies, proposals: &proposals, recent: &recent, since, until, by_day };
        Ok(report(self.policy(), &inputs))
    }
}

/// One action's row of the planning sheet: its latest approval of the
/// current definition and the pause in force, if any.
fn sheet_row(a: &Action, approvals: &[Approval], pauses: &[Pause], environment: Option<&str>) -> ActionSheet {
    let approval = approvals.iter().rev().find(|p| p.action == a.name && p.action_hash == a.hash);
    ActionSheet {
        name: a.name.clone(),
        summary: a.summary.clone(),
        table: a.table.clone(),
        kind: a.kind,
        fields: a.fields.iter().map(|f| f.name.clone()).collect(),
        risk: a.risk.unwrap_or(leash_core::policy::Risk::Medium),
        rollback_minutes: a.rollback_minutes,
        owner: a.owner.clone(),
        exception_approver: a.exception_approver.clone(),
        mode: a.mode,
        per_run: a.limits.per_run_max,
        per_hour: a.limits.per_hour_max,
        window: a.limits.window.as_ref().map(|w| w.source.clone()),
        approved: approval.is_some(),
        approved_by: approval.map(|p| p.approved_by.clone()),
        approved_at: approval.map(|p| p.at.clone()),
        paused: pauses.iter().find(|p| p.scope == a.name || p.scope == leash_store::ALL_SCOPE).cloned(),
        environment: environment.map(str::to_string),
    }
}

/// `600` → `10m`, as a person would write it in the policy.
fn human_span(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn unapproved(action: &Action) -> Refusal {
    Refusal::new(
        Code::PolicyUnapproved,
        format!(
            "the current definition of {} was never approved; an admin reviews it and runs `leash approve-policy --by NAME`",
            action.name
        ),
    )
}

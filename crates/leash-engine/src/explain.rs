//! `leash explain` (docs/policy.md): each action's page from the pure
//! generator, with the facts only the database knows — the table's columns
//! and who approved this exact definition — and what changed since the last
//! approval, for `leash approve-policy` to show.

use leash_core::explain::{describe_changes, explain_action, ActionPage, PageFacts};
use leash_core::policy::Action;
use leash_store::Approval;
use serde::Serialize;

use crate::{Caller, Engine, EngineError, Result, Role};

/// What changed in one action's definition since its last approval.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyChange {
    pub action: String,
    /// One sentence each, in the page's words; empty when this exact
    /// definition is already approved.
    pub changes: Vec<String>,
}

impl Engine {
    /// The page of one action, or of every action in policy order.
    /// An unknown action is `NotFound`, naming the ones there are.
    pub async fn explain(&self, action: Option<&str>) -> Result<Vec<ActionPage>> {
        let actions: Vec<&Action> = match action {
            Some(name) => match self.policy().action(name) {
                Some(a) => vec![a],
                None => {
                    let names: Vec<&str> = self.policy().actions.iter().map(|a| a.name.as_str()).collect();
                    return Err(EngineError::NotFound(format!(
                        "action `{name}` (the policy has: {})",
                        names.join(", ")
                    )));
                }
            },
            None => self.policy().actions.iter().collect(),
        };
        let approvals = self.store().approvals().await?;
        Ok(actions.into_iter().map(|a| self.page(a, latest(&approvals, a, true))).collect())
    }

    /// One action's page for a caller: reviewers and admins read any page,
    /// an agent only the pages of actions it may call.
    pub async fn explain_for(&self, who: &Caller, action: &str) -> Result<ActionPage> {
        if who.role < Role::Reviewer && !who.may_call(action) {
            return Err(EngineError::Forbidden(format!(
                "{} may not use {action}, so it may not read its page; ask an admin to grant it",
                who.name
            )));
        }
        let mut pages = self.explain(Some(action)).await?;
        pages.pop().ok_or_else(|| EngineError::NotFound(format!("action `{action}`")))
    }

    /// The page as the engine sees an action, with this approval's facts.
    fn page(&self, action: &Action, approval: Option<&Approval>) -> ActionPage {
        let columns: Vec<String> = self
            .schemas
            .get(&action.table)
            .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        let facts = PageFacts {
            table_columns: &columns,
            approved_by: approval.map(|a| a.approved_by.as_str()),
            approved_at: approval.map(|a| a.at.as_str()),
            environment: self.policy().environment.as_deref(),
        };
        explain_action(action, &facts)
    }

    /// Per action, what changed since its last approval (nothing when the
    /// current definition is the approved one).
    pub async fn policy_changes(&self) -> Result<Vec<PolicyChange>> {
        let approvals = self.store().approvals().await?;
        Ok(self
            .policy()
            .actions
            .iter()
            .map(|a| PolicyChange { action: a.name.clone(), changes: self.changes_of(a, &approvals) })
            .collect())
    }

    pub(crate) fn changes_of(&self, action: &Action, approvals: &[Approval]) -> Vec<String> {
        if latest(approvals, action, true).is_some() {
            return Vec::new();
        }
        let now = self.page(action, None);
        match latest(approvals, action, false) {
            None => describe_changes(None, &now),
            Some(last) => match last.page.as_deref().and_then(|p| serde_json::from_str::<ActionPage>(p).ok()) {
                Some(before) => {
                    let lines = describe_changes(Some(&before), &now);
                    if lines.is_empty() {
                        vec!["Nothing on the page changed (only settings the page does not show).".to_string()]
                    } else {
                        lines
                    }
                }
                None => vec![format!(
                    "The definition {} approved on {} was recorded without its page; read the whole page (`leash explain {}`).",
                    last.approved_by, last.at, action.name
                )],
            },
        }
    }

    /// The page to keep with an approval of `action`'s current definition.
    pub(crate) fn approved_page(&self, action: &Action) -> Option<String> {
        serde_json::to_string(&self.page(action, None)).ok()
    }
}

/// The latest approval of this action: of its current definition (`exact`)
/// or of any.
fn latest<'a>(approvals: &'a [Approval], action: &Action, exact: bool) -> Option<&'a Approval> {
    approvals.iter().rev().find(|p| p.action == action.name && (!exact || p.action_hash == action.hash))
}

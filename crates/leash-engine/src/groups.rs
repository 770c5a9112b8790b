//! Deciding several proposals at once: a group ("the same change" on many
//! records, by the breaker's signature) or a list of ids. Each member is
//! decided alone — re-checked against its record, stale ones not written —
//! and the answer says what became of each.

use leash_core::call::CallResult;
use leash_core::journal::ProposalStatus;
use leash_store::ProposalFilter;
use serde::Serialize;

use crate::queries::{open_statuses, PROPOSALS_PAGE_MAX};
use crate::{Caller, Engine, EngineError, Result, Role};

/// What became of one member of a group decision.
#[derive(Debug, Clone, Serialize)]
pub struct MemberOutcome {
    pub id: String,
    /// The proposal's status afterwards (`accepted`, `rejected`, `stale`, …),
    /// or the refusal's code when it was not decided.
    pub status: String,
    /// For an approval: the answer of the write it made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<CallResult>,
    pub message: String,
}

impl Engine {
    /// The open proposals of a group, oldest first (at most `PROPOSALS_PAGE_MAX`).
    pub async fn group_members(&self, who: &Caller, group: &str) -> Result<Vec<String>> {
        who.require(Role::Reviewer, "deciding proposals")?;
        let filter = ProposalFilter {
            statuses: open_statuses(),
            group: Some(group.to_string()),
            limit: Some(PROPOSALS_PAGE_MAX),
            ..ProposalFilter::default()
        };
        let ids: Vec<String> = self.store().proposals(&filter).await?.into_iter().map(|p| p.id).collect();
        if ids.is_empty() {
            return Err(EngineError::NotFound(format!("open proposals in group {group}")));
        }
        Ok(ids)
    }

    /// Approves each proposal alone, as `approve` would one by one.
    pub async fn approve_many(
        &self,
        reviewer: &Caller,
        ids: &[String],
        note: Option<&str>,
    ) -> Result<Vec<MemberOutcome>> {
        reviewer.require(Role::Reviewer, "approving")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let outcome = match self.approve(reviewer, id, Default::default(), note).await {
                Ok(r) => {
                    let status = match r.code {
                        Some(code) => code.as_str().to_string(),
                        None => ProposalStatus::Accepted.as_str().to_string(),
                    };
                    MemberOutcome { id: id.clone(), status, message: r.message.clone(), result: Some(r) }
                }
                Err(e) => failed(id, &e),
            };
            out.push(outcome);
        }
        Ok(out)
    }

    /// Rejects each proposal alone, with one note for all.
    pub async fn reject_many(&self, reviewer: &Caller, ids: &[String], note: &str) -> Result<Vec<MemberOutcome>> {
        reviewer.require(Role::Reviewer, "rejecting")?;
        if note.trim().is_empty() {
            return Err(EngineError::Invalid("say why with a note; the agent and the report learn from it".into()));
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(match self.reject(reviewer, id, note).await {
                Ok(p) => MemberOutcome {
                    id: id.clone(),
                    status: p.status.as_str().to_string(),
                    result: None,
                    message: format!("rejected the {} proposal", p.action),
                },
                Err(e) => failed(id, &e),
            });
        }
        Ok(out)
    }
}

fn failed(id: &str, e: &EngineError) -> MemberOutcome {
    let answer = e.answer();
    MemberOutcome { id: id.to_string(), status: answer.code.to_string(), result: None, message: answer.message }
}

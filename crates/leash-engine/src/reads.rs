//! What an agent may read through leash: an action's `read` fields of one
//! record, and what became of its own proposals.

use leash_core::call::Refusal;
use leash_core::codes::Code;
use leash_core::policy::Kind;
use leash_core::value::Record;
use serde::Serialize;

use crate::{Caller, Engine, EngineError, Result, Role};

#[derive(Debug, Clone, Serialize)]
pub struct ProposalStatusView {
    pub proposal_id: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    pub change_id: Option<String>,
}

impl Engine {
    /// The `read` fields of one record, as the action allows. Refusals use
    /// the call's codes so an agent can act on them.
    pub async fn read_record(
        &self,
        caller: &Caller,
        action: &str,
        key: &str,
    ) -> Result<std::result::Result<Record, Refusal>> {
        let Some(a) = self.policy().action(action) else {
            return Ok(Err(Refusal::new(Code::UnknownAction, format!("there is no action `{action}`"))));
        };
        if !caller.may_call(action) {
            return Ok(Err(Refusal::new(Code::NotPermitted, format!("{} may not use {action}", caller.name))));
        }
        if a.kind == Kind::Append {
            return Ok(Err(Refusal::new(Code::InvalidInput, format!("{action} adds rows; it has no record to read"))));
        }
        let table = self.schema(&a.table)?;
        let Some(record) = self.store().read_record(table, &a.key, key).await? else {
            return Ok(Err(Refusal::new(
                Code::RecordNotFound,
                format!("no record in {} has {} = {key}", a.table, a.key),
            )));
        };
        Ok(Ok(record.into_iter().filter(|(k, _)| a.read.contains(k)).collect()))
    }

    /// A record as it is now, all columns, for a person reviewing a proposal
    /// of this action. Uses the schema read at start.
    pub async fn record_now(&self, action: &str, key: &str) -> Result<Option<Record>> {
        let Some(a) = self.policy().action(action) else { return Ok(None) };
        let table = self.schema(&a.table)?;
        Ok(self.store().read_record(table, &a.key, key).await?)
    }

    /// What became of a proposal; an agent sees only its own.
    pub async fn proposal_status(&self, caller: &Caller, id: &str) -> Result<ProposalStatusView> {
        let p = self.store().proposal(id).await?.ok_or_else(|| EngineError::NotFound(format!("proposal {id}")))?;
        if caller.role == Role::Agent && p.actor != caller.name {
            return Err(EngineError::NotFound(format!("proposal {id}")));
        }
        Ok(ProposalStatusView {
            proposal_id: p.id,
            status: p.status.as_str().to_string(),
            decided_by: p.reviewer,
            note: p.review_note,
            change_id: p.change_id,
        })
    }
}

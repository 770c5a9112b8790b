//! The nouns the journal and the review queue store: `Change`, `Proposal`.
//! Plain data plus the hash-chain rule, so the chain can be checked anywhere.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::call::FieldChange;
use crate::codes::ReviewReason;
use crate::policy::canonical_json;
use crate::value::Value;

/// What a change did to the record's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Update,
    Insert,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Update => "update",
            Op::Insert => "insert",
            Op::Delete => "delete",
        }
    }
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "update" => Op::Update,
            "insert" => Op::Insert,
            "delete" => Op::Delete,
            _ => return None,
        })
    }
}

/// One row of `leash_changes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    pub at: String,
    pub action: String,
    pub policy_hash: String,
    pub table_name: String,
    pub record_key: String,
    pub op: Op,
    pub fields: Vec<FieldChange>,
    pub actor: String,
    pub approver: Option<String>,
    pub reason: Option<String>,
    pub evidence: Option<String>,
    pub confidence: Option<f64>,
    pub run_id: Option<String>,
    pub proposal_id: Option<String>,
    pub reverts: Option<String>,
    /// Set later, when a revert lands; outside the hash because it changes.
    pub reverted_by: Option<String>,
    pub watch: bool,
    pub prev_hash: Option<String>,
    pub hash: String,
}

impl Change {
    /// sha256 over the row's content and the previous hash of the same record.
    pub fn compute_hash(&self) -> String {
        let content = serde_json::json!({
            "id": self.id, "at": self.at, "action": self.action, "policy_hash": self.policy_hash,
            "table_name": self.table_name, "record_key": self.record_key, "op": self.op.as_str(),
            "fields": self.fields, "actor": self.actor, "approver": self.approver, "reason": self.reason,
            "evidence": self.evidence, "confidence": self.confidence, "run_id": self.run_id,
            "proposal_id": self.proposal_id, "reverts": self.reverts, "watch": self.watch,
            "prev_hash": self.prev_hash,
        });
        hex::encode(Sha256::digest(canonical_json(&content).as_bytes()))
    }

    pub fn seal(&mut self, prev_hash: Option<String>) {
        self.prev_hash = prev_hash;
        self.hash = self.compute_hash();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Pending,
    Suggested,
    Accepted,
    Rejected,
    Expired,
    Stale,
}

impl ProposalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Pending => "pending",
            ProposalStatus::Suggested => "suggested",
            ProposalStatus::Accepted => "accepted",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Expired => "expired",
            ProposalStatus::Stale => "stale",
        }
    }
    pub fn parse(s: &str) -> Option<ProposalStatus> {
        [Self::Pending, Self::Suggested, Self::Accepted, Self::Rejected, Self::Expired, Self::Stale]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
    pub fn is_open(self) -> bool {
        matches!(self, ProposalStatus::Pending | ProposalStatus::Suggested)
    }
}

/// One row of `leash_proposals`: a change waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub created_at: String,
    pub action: String,
    pub table_name: String,
    /// `None` for an `append` proposal: the row does not exist yet.
    pub record_key: Option<String>,
    /// Old values as read when proposed, and the proposed new values.
    pub fields: Vec<FieldChange>,
    pub reasons: Vec<ReviewReason>,
    pub notes: Vec<String>,
    pub status: ProposalStatus,
    pub actor: String,
    pub reason: Option<String>,
    pub evidence: Option<String>,
    pub confidence: Option<f64>,
    pub run_id: Option<String>,
    pub reviewer: Option<String>,
    pub decided_at: Option<String>,
    pub review_note: Option<String>,
    /// Values the reviewer changed before accepting.
    pub edited: Option<serde_json::Map<String, Value>>,
    pub change_id: Option<String>,
}

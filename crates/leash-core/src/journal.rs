//! The nouns the journal and the review queue store: `Change`, `Proposal`.
//! Plain data plus the hash-chain rule, so the chain can be checked anywhere.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::call::FieldChange;
use crate::codes::ReviewReason;
use crate::value::Value;

/// The hashed content of a change, fields in sorted order (canonical JSON).
#[derive(Serialize)]
struct Sealed<'a> {
    action: &'a str,
    actor: &'a str,
    approver: &'a Option<String>,
    at: &'a str,
    confidence: Option<f64>,
    evidence: &'a Option<String>,
    fields: Vec<SealedField<'a>>,
    id: &'a str,
    op: &'static str,
    policy_hash: &'a str,
    prev_hash: &'a Option<String>,
    proposal_id: &'a Option<String>,
    reason: &'a Option<String>,
    record_key: &'a str,
    reverts: &'a Option<String>,
    run_id: &'a Option<String>,
    table_name: &'a str,
    watch: bool,
}

#[derive(Serialize)]
struct SealedField<'a> {
    field: &'a str,
    new: Canon<'a>,
    old: Canon<'a>,
}

/// A value serialized with object keys sorted (JSON columns keep their
/// insertion order in memory).
struct Canon<'a>(&'a Value);

impl Serialize for Canon<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut m = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    m.serialize_entry(k, &Canon(&map[k.as_str()]))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Canon(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
    /// sha256 over the row's content and the previous hash of the same record:
    /// the canonical JSON (keys sorted at every level, no spaces) of every
    /// column but `seq`, `hash` and `reverted_by`. Serialized straight into
    /// the hasher; `tests/properties.rs` holds it to the plain definition.
    pub fn compute_hash(&self) -> String {
        let sealed = Sealed {
            action: &self.action,
            actor: &self.actor,
            approver: &self.approver,
            at: &self.at,
            confidence: self.confidence,
            evidence: &self.evidence,
            fields: self
                .fields
                .iter()
                .map(|f| SealedField { field: &f.field, new: Canon(&f.new), old: Canon(&f.old) })
                .collect(),
            id: &self.id,
            op: self.op.as_str(),
            policy_hash: &self.policy_hash,
            prev_hash: &self.prev_hash,
            proposal_id: &self.proposal_id,
            reason: &self.reason,
            record_key: &self.record_key,
            reverts: &self.reverts,
            run_id: &self.run_id,
            table_name: &self.table_name,
            watch: self.watch,
        };
        let mut hasher = HashWriter(Sha256::new());
        // Writing to a hasher cannot fail, and these types always serialize.
        let _ = serde_json::to_writer(&mut hasher, &sealed);
        hex::encode(hasher.0.finalize())
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
    pub const ALL: [ProposalStatus; 6] =
        [Self::Pending, Self::Suggested, Self::Accepted, Self::Rejected, Self::Expired, Self::Stale];

    pub fn parse(s: &str) -> Option<ProposalStatus> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
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
    /// Proposals of one action whose changes are "the same" (the breaker's
    /// signature) share a group, decided together or one by one.
    #[serde(default)]
    pub group: Option<String>,
    /// When nobody has decided by then, it expires or escalates (`on_expire`).
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub on_expire: Option<crate::policy::OnExpire>,
    /// Still open, and the exception approver was told it waited too long.
    #[serde(default)]
    pub escalated_at: Option<String>,
}

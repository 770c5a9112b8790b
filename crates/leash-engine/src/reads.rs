//! What a caller may read through leash, each read checked for the caller
//! here and nowhere else: an action's `read` fields of one record, the
//! change log, proposals (with whether each is stale, decided once), tokens,
//! pauses, and whether the database answers.

use std::collections::{BTreeMap, HashMap};

use leash_core::call::Refusal;
use leash_core::codes::Code;
use leash_core::journal::{Change, Proposal};
use leash_core::policy::Kind;
use leash_core::value::Record;
use leash_store::{ChangeFilter, Pause, ProposalFilter, TokenRow};
use serde::Serialize;

use crate::queries::{open_statuses, ChangeQuery, ProposalQuery};
use crate::review::moved_since;
use crate::values::key_for;
use crate::{Caller, Engine, EngineError, Result, Role};

/// A proposal and, while it is open, why it can no longer be approved as
/// it stands (its record moved on or is gone).
#[derive(Debug, Clone, Serialize)]
pub struct ProposalView {
    #[serde(flatten)]
    pub proposal: Proposal,
    pub stale: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProposalStatusView {
    pub proposal_id: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    pub change_id: Option<String>,
}

/// What a caller may see of one proposal: an agent what became of its
/// own, a reviewer or admin all of it. Serialized as the variant alone.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ProposalSeen {
    Status(ProposalStatusView),
    Full(Box<ProposalView>),
}

/// What a token is to a person signing in (the web UI): reviewers and
/// admins sign in, agents do not.
#[derive(Debug, Clone)]
pub enum SignIn {
    Person(Caller),
    Agent,
    /// Unknown or revoked.
    Unknown,
}

/// Who may act as a person: review, sign in, decide from chat.
fn is_person(who: &Caller) -> bool {
    who.role >= Role::Reviewer
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
        if let Some(r) = self.approved_for_reading(a).await? {
            return Ok(Err(r));
        }
        let table = self.schema(&a.table)?;
        let key = match key_for(a, table, key) {
            Ok(k) => k,
            Err(r) => return Ok(Err(r)),
        };
        let record = match self.store().read_record(table, &a.key, &key).await {
            Ok(r) => r,
            Err(leash_store::StoreError::Rejected(rej)) => {
                let call = leash_core::call::Call { key: Some(key.clone().into()), ..Default::default() };
                return Ok(Err(self.refusal_for(&rej, a, &call).await?));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(record) = record else {
            return Ok(Err(Refusal::new(
                Code::RecordNotFound,
                format!("no record in {} has {} = {key}", a.table, a.key),
            )));
        };
        Ok(Ok(record.into_iter().filter(|(k, _)| a.read.contains(k)).collect()))
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

    /// One proposal as this caller may see it (`GET /api/v1/proposals/{id}`).
    pub async fn proposal_for(&self, who: &Caller, id: &str) -> Result<ProposalSeen> {
        if is_person(who) {
            return Ok(ProposalSeen::Full(Box::new(self.proposal(who, id).await?)));
        }
        Ok(ProposalSeen::Status(self.proposal_status(who, id).await?))
    }

    /// The change log, newest first (reviewers and admins).
    pub async fn changes(&self, who: &Caller, q: &ChangeQuery) -> Result<Vec<Change>> {
        who.require(Role::Reviewer, "reading the change log")?;
        let filter = ChangeFilter {
            action: q.action.clone(),
            run_id: q.run_id.clone(),
            actor: q.actor.clone(),
            record_key: q.record_key.as_deref().map(|k| self.journal_key(q.action.as_deref(), k)).transpose()?,
            proposal_id: q.proposal_id.clone(),
            since: q.since.clone(),
            until: q.until.clone(),
            newest: Some(q.limit),
            ..ChangeFilter::default()
        };
        Ok(self.store().changes(&filter).await?)
    }

    /// A record key as the journal spells it, from any spelling a call may
    /// use: `PlaylistId=1,TrackId=3` or `{"PlaylistId":1,…}` becomes
    /// `["1","3"]` by the key of the action named, or of the actions keyed
    /// on those columns; `007` of an integer key is `7` when every action
    /// (or the one named) reads it so. Otherwise the text as given.
    fn journal_key(&self, action: Option<&str>, text: &str) -> Result<String> {
        let composite = text.contains('=') || text.starts_with('{') || text.starts_with('[');
        let actions = self
            .policy()
            .actions
            .iter()
            .filter(|a| action.is_none_or(|name| a.name == name))
            .filter(|a| a.key.is_composite() == composite);
        let mut spellings: Vec<String> =
            actions.filter_map(|a| key_for(a, self.schema(&a.table).ok()?, text).ok()).collect();
        spellings.sort();
        spellings.dedup();
        match spellings.as_slice() {
            [one] => Ok(one.clone()),
            [] if composite && !text.starts_with('[') => Err(EngineError::Invalid(format!(
                "record_key `{text}` names no action's key columns; name each key column once \
                 (PlaylistId=1,TrackId=3), or use the journal's spelling"
            ))),
            [_, _, ..] if composite => Err(EngineError::Invalid(format!(
                "record_key `{text}` reads differently under different actions; add the action filter"
            ))),
            _ => Ok(text.to_string()),
        }
    }

    pub async fn change(&self, who: &Caller, id: &str) -> Result<Change> {
        who.require(Role::Reviewer, "reading the change log")?;
        self.store().change(id).await?.ok_or_else(|| EngineError::NotFound(format!("change {id}")))
    }

    /// Proposals, oldest first; an agent sees only its own. Each open one
    /// says whether its record moved on since (records read in batches).
    pub async fn proposals(&self, who: &Caller, q: &ProposalQuery) -> Result<Vec<ProposalView>> {
        // Reading the queue is one of the moments expiry is decided.
        self.expire_due().await?;
        let filter = ProposalFilter {
            statuses: q.statuses.clone(),
            action: q.action.clone(),
            actor: (who.role == Role::Agent).then(|| who.name.clone()),
            limit: Some(q.limit),
            ..ProposalFilter::default()
        };
        let proposals = self.store().proposals(&filter).await?;
        self.with_staleness(proposals).await
    }

    /// Open proposals, oldest first, at most `PROPOSALS_PAGE_DEFAULT`.
    pub async fn queue(&self, who: &Caller) -> Result<Vec<Proposal>> {
        Ok(self.proposals(who, &ProposalQuery::default()).await?.into_iter().map(|v| v.proposal).collect())
    }

    /// One proposal, in full, for reviewers (agents: `proposal_status`).
    pub async fn proposal(&self, who: &Caller, id: &str) -> Result<ProposalView> {
        who.require(Role::Reviewer, "reading proposals")?;
        let p = self.store().proposal(id).await?.ok_or_else(|| EngineError::NotFound(format!("proposal {id}")))?;
        let mut views = self.with_staleness(vec![p]).await?;
        views.pop().ok_or_else(|| EngineError::NotFound(format!("proposal {id}")))
    }

    async fn with_staleness(&self, proposals: Vec<Proposal>) -> Result<Vec<ProposalView>> {
        let open = open_statuses();
        let mut wanted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for p in proposals.iter().filter(|p| open.contains(&p.status)) {
            if let Some(key) = &p.record_key {
                wanted.entry(p.action.as_str()).or_default().push(key.clone());
            }
        }
        let mut records: HashMap<(String, String), Record> = HashMap::new();
        for (action, keys) in wanted {
            let Some(a) = self.policy().action(action).filter(|a| a.kind == Kind::Update) else { continue };
            let table = self.schema(&a.table)?;
            for (key, rec) in self.store().read_records(table, &a.key, &keys).await? {
                records.insert((action.to_string(), key), rec);
            }
        }
        Ok(proposals
            .into_iter()
            .map(|p| {
                let stale = match (&p.record_key, self.policy().action(&p.action)) {
                    (Some(key), Some(a)) if open.contains(&p.status) && a.kind == Kind::Update => {
                        let table = self.schema(&a.table).ok();
                        let rec = records.get(&(p.action.clone(), key.clone()));
                        table.and_then(|t| moved_since(a, t, &p, rec))
                    }
                    _ => None,
                };
                ProposalView { proposal: p, stale }
            })
            .collect())
    }

    pub async fn tokens(&self, who: &Caller) -> Result<Vec<TokenRow>> {
        who.require(Role::Admin, "listing tokens")?;
        Ok(self.store().tokens().await?)
    }

    /// A token looked up for a person signing in; nothing is written.
    pub async fn sign_in(&self, token: &str) -> Result<SignIn> {
        Ok(match self.caller_for_token(token).await? {
            Some(who) if is_person(&who) => SignIn::Person(who),
            Some(_) => SignIn::Agent,
            None => SignIn::Unknown,
        })
    }

    /// The named token of a person deciding from chat (`[slack.reviewers]`);
    /// refused unless it is a reviewer's or an admin's.
    pub async fn reviewer_named(&self, name: &str) -> Result<Caller> {
        let who = self.caller_named(name).await?;
        if !is_person(&who) {
            return Err(EngineError::Forbidden(format!("{name} is not a reviewer token")));
        }
        Ok(who)
    }

    /// Pauses and tripped breakers in force.
    pub async fn pauses(&self) -> Result<Vec<Pause>> {
        Ok(self.store().pauses().await?)
    }

    /// How many proposals wait for a person (pending or suggested).
    pub async fn open_proposals(&self) -> Result<usize> {
        let filter = ProposalFilter { statuses: open_statuses(), ..ProposalFilter::default() };
        Ok(self.store().proposals(&filter).await?.len())
    }

    /// The database answers (for `/healthz`).
    pub async fn health(&self) -> Result<()> {
        self.store().pauses().await?;
        Ok(())
    }
}

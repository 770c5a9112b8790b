//! What a front-end may ask for, built from request fields in one place:
//! the change-log filter and the proposal filter (with their caps), and the
//! revert selector ("exactly one of…"). HTTP query strings, UI forms and CLI
//! flags all come through here, so they refuse the same things the same way.

use jiff::Timestamp;
use leash_core::journal::ProposalStatus;

use crate::clock::parse_time;
use crate::revert::Selector;
use crate::{EngineError, Result};

/// Change-log rows per answer unless the caller asks for fewer or more.
pub const CHANGES_PAGE_DEFAULT: u32 = 100;
/// Change-log rows per answer at most.
pub const CHANGES_PAGE_MAX: u32 = 10_000;
/// Proposals per answer unless the caller asks otherwise.
pub const PROPOSALS_PAGE_DEFAULT: u32 = 200;
/// Proposals per answer at most (the review queue's bound too).
pub const PROPOSALS_PAGE_MAX: u32 = 1_000;

/// A filter on the change log; newest first, at most `limit` rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeQuery {
    pub action: Option<String>,
    pub run_id: Option<String>,
    pub actor: Option<String>,
    pub record_key: Option<String>,
    pub proposal_id: Option<String>,
    /// RFC 3339 stamps, inclusive and exclusive.
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: u32,
}

impl ChangeQuery {
    pub const FIELDS: &'static [&'static str] =
        &["action", "run_id", "actor", "record_key", "proposal_id", "since", "until", "limit"];

    /// From named fields (a query string, a form, flags). Empty values are
    /// left out; times are a date, an instant or a span ago (`2h`); an
    /// unknown name is refused, naming the ones there are.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: Timestamp,
    ) -> Result<ChangeQuery> {
        let mut q = ChangeQuery { limit: CHANGES_PAGE_DEFAULT, ..ChangeQuery::default() };
        for (name, value) in fields {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let text = Some(value.to_string());
            match name {
                "action" => q.action = text,
                "run_id" => q.run_id = text,
                "actor" => q.actor = text,
                "record_key" => q.record_key = text,
                "proposal_id" => q.proposal_id = text,
                "since" => q.since = Some(time(value, now)?),
                "until" => q.until = Some(time(value, now)?),
                "limit" => {
                    let n = value.parse::<u32>().map_err(|_| EngineError::Invalid("limit must be a number".into()))?;
                    q.limit = n.clamp(1, CHANGES_PAGE_MAX);
                }
                other => {
                    return Err(EngineError::Invalid(format!(
                        "unknown filter `{other}`; use {}",
                        ChangeQuery::FIELDS.join(", ")
                    )))
                }
            }
        }
        Ok(q)
    }
}

/// Which proposals: open ones (pending or suggested), every status, or one.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalQuery {
    pub statuses: Vec<ProposalStatus>,
    pub action: Option<String>,
    pub limit: u32,
}

impl Default for ProposalQuery {
    fn default() -> ProposalQuery {
        ProposalQuery { statuses: open_statuses(), action: None, limit: PROPOSALS_PAGE_DEFAULT }
    }
}

pub(crate) fn open_statuses() -> Vec<ProposalStatus> {
    vec![ProposalStatus::Pending, ProposalStatus::Suggested]
}

impl ProposalQuery {
    /// `status`: `open` (the default), `all`, or one status by name.
    pub fn from_fields(status: Option<&str>, action: Option<&str>, limit: Option<u32>) -> Result<ProposalQuery> {
        let statuses = match status.map(str::trim) {
            None | Some("") | Some("open") => open_statuses(),
            Some("all") => Vec::new(),
            Some(other) => vec![ProposalStatus::parse(other).ok_or_else(|| {
                EngineError::Invalid(format!("unknown status `{other}`; use open, all, or one proposal status"))
            })?],
        };
        Ok(ProposalQuery {
            statuses,
            action: action.map(str::to_string),
            limit: limit.unwrap_or(PROPOSALS_PAGE_DEFAULT).clamp(1, PROPOSALS_PAGE_MAX),
        })
    }
}

/// The ways of naming what to revert, as a request carries them.
#[derive(Debug, Clone, Default)]
pub struct SelectorFields {
    pub change_ids: Vec<String>,
    pub run_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub proposal_id: Option<String>,
}

impl Selector {
    /// Exactly one way of naming changes: ids, a run, an action since a time,
    /// an actor, or a proposal.
    pub fn from_fields(f: SelectorFields, now: Timestamp) -> Result<Selector> {
        let named = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let chosen =
            [!f.change_ids.is_empty(), named(&f.run_id), named(&f.action), named(&f.actor), named(&f.proposal_id)];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err(EngineError::Invalid(
                "name exactly one of: change ids, a run, an action with a time it started from, an actor, a proposal"
                    .into(),
            ));
        }
        let text = |v: Option<String>| v.unwrap_or_default().trim().to_string();
        Ok(if !f.change_ids.is_empty() {
            Selector::Ids(f.change_ids.into_iter().map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect())
        } else if named(&f.run_id) {
            Selector::Run(text(f.run_id))
        } else if named(&f.action) {
            let since = f
                .since
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| EngineError::Invalid("an action needs a time it started from (since)".into()))?;
            let until = f.until.filter(|u| !u.trim().is_empty()).map(|u| time(&u, now)).transpose()?;
            Selector::Action { action: text(f.action), since: time(&since, now)?, until }
        } else if named(&f.actor) {
            Selector::Actor(text(f.actor))
        } else {
            Selector::Proposal(text(f.proposal_id))
        })
    }
}

fn time(text: &str, now: Timestamp) -> Result<String> {
    parse_time(text, now).map_err(EngineError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn change_queries_cap_their_size_and_refuse_unknown_filters() {
        let q = ChangeQuery::from_fields([("action", "a"), ("since", "2h"), ("limit", "999999")], now()).unwrap();
        assert_eq!(q.limit, CHANGES_PAGE_MAX);
        assert_eq!(q.since.as_deref(), Some("2026-11-25T10:00:00.000000Z"));
        assert_eq!(ChangeQuery::from_fields([], now()).unwrap().limit, CHANGES_PAGE_DEFAULT);
        let e = ChangeQuery::from_fields([("colour", "red")], now()).unwrap_err();
        assert!(e.to_string().contains("unknown filter `colour`"), "{e}");
        assert!(ChangeQuery::from_fields([("since", "yesterday-ish")], now()).is_err());
    }

    #[test]
    fn a_revert_names_exactly_one_selection() {
        let none = Selector::from_fields(SelectorFields::default(), now());
        assert!(none.is_err());
        let two = SelectorFields { run_id: Some("r".into()), actor: Some("a".into()), ..Default::default() };
        assert!(Selector::from_fields(two, now()).is_err());
        let action = SelectorFields { action: Some("set_status".into()), ..Default::default() };
        assert!(Selector::from_fields(action, now()).unwrap_err().to_string().contains("since"));
        let run = SelectorFields { run_id: Some(" nightly ".into()), ..Default::default() };
        assert!(matches!(Selector::from_fields(run, now()).unwrap(), Selector::Run(r) if r == "nightly"));
    }
}

//! What a front-end may ask for, built from request fields in one place:
//! the change-log filter and the proposal filter (with their caps), and the
//! revert selector ("exactly one of…"). HTTP query strings, UI forms and CLI
//! flags all come through here, so they refuse the same things the same way.

use jiff::Timestamp;
use leash_core::journal::ProposalStatus;

use crate::clock::parse_time;
use crate::revert::{ChangeIds, Named, Selector};
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

    /// From named fields (a query string, flags). A blank value is refused
    /// (leave the filter out instead); times are a date, an instant or a
    /// span ago (`2h`); an unknown name is refused, naming the ones there are.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: Timestamp,
    ) -> Result<ChangeQuery> {
        let mut q = ChangeQuery { limit: CHANGES_PAGE_DEFAULT, ..ChangeQuery::default() };
        for (name, value) in fields {
            let value = value.trim();
            if value.is_empty() && ChangeQuery::FIELDS.contains(&name) {
                return Err(EngineError::Invalid(format!("the filter `{name}` is blank; leave it out to see all")));
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
        let action = action.map(|a| Named::new("action", a).map(|n| n.as_str().to_string())).transpose()?;
        Ok(ProposalQuery {
            statuses,
            action,
            limit: limit.unwrap_or(PROPOSALS_PAGE_DEFAULT).clamp(1, PROPOSALS_PAGE_MAX),
        })
    }
}

/// The ways of naming what to revert, as a request carries them. A field
/// that is present must name something: blank is refused, never ignored.
#[derive(Debug, Clone, Default)]
pub struct SelectorFields {
    pub change_ids: Option<Vec<String>>,
    pub run_id: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub proposal_id: Option<String>,
}

impl Selector {
    /// Exactly one way of naming changes: ids, a run (with the actor whose
    /// run it is, when several tokens used it), an action since a time, an
    /// actor, or a proposal.
    pub fn from_fields(f: SelectorFields, now: Timestamp) -> Result<Selector> {
        let named = |what: &str, v: &Option<String>| v.as_deref().map(|t| Named::new(what, t)).transpose();
        let run = named("run_id", &f.run_id)?;
        let action = named("action", &f.action)?;
        let actor = named("actor", &f.actor)?;
        let proposal = named("proposal_id", &f.proposal_id)?;
        let ids = f.change_ids.map(ChangeIds::new).transpose()?;
        let chosen =
            [ids.is_some(), run.is_some(), action.is_some(), actor.is_some() && run.is_none(), proposal.is_some()];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err(EngineError::Invalid(
                "name exactly one of: change ids, a run (and, when several tokens used it, the actor), \
                 an action with a time it started from, an actor, a proposal"
                    .into(),
            ));
        }
        let since = named("since", &f.since)?.map(|s| time(s.as_str(), now)).transpose()?;
        let until = named("until", &f.until)?.map(|u| time(u.as_str(), now)).transpose()?;
        if action.is_none() && (since.is_some() || until.is_some()) {
            return Err(EngineError::Invalid("since and until go with an action; leave them out".into()));
        }
        Ok(match (ids, run, action, actor, proposal) {
            (Some(ids), ..) => Selector::Ids(ids),
            (_, Some(run), _, actor, _) => Selector::Run { run, actor },
            (_, _, Some(action), ..) => {
                let since = since
                    .ok_or_else(|| EngineError::Invalid("an action needs a time it started from (since)".into()))?;
                Selector::Action { action, since, until }
            }
            (_, _, _, Some(actor), _) => Selector::Actor(actor),
            (.., Some(proposal)) => Selector::Proposal(proposal),
            _ => return Err(EngineError::Invalid("name what to revert".into())),
        })
    }

    /// The request fields that name exactly this selection: what a preview
    /// hands to the form that confirms it.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let s = |n: &Named| n.as_str().to_string();
        match self {
            Selector::Ids(ids) => vec![("ids", ids.iter().collect::<Vec<_>>().join(","))],
            Selector::Run { run, actor } => {
                std::iter::once(("run_id", s(run))).chain(actor.iter().map(|a| ("actor", s(a)))).collect()
            }
            Selector::Action { action, since, until } => std::iter::once(("action", s(action)))
                .chain([("since", since.clone())])
                .chain(until.iter().map(|u| ("until", u.clone())))
                .collect(),
            Selector::Actor(actor) => vec![("actor", s(actor))],
            Selector::Proposal(p) => vec![("proposal_id", s(p))],
        }
    }

    /// The selection in words, for a page or a message.
    pub fn describe(&self) -> String {
        match self {
            Selector::Ids(ids) => format!("{} named change(s)", ids.len()),
            Selector::Run { run, actor: Some(actor) } => format!("run {run} of {actor}"),
            Selector::Run { run, actor: None } => format!("run {run}"),
            Selector::Action { action, since, until: None } => format!("everything {action} did since {since}"),
            Selector::Action { action, since, until: Some(until) } => {
                format!("everything {action} did from {since} until {until}")
            }
            Selector::Actor(actor) => format!("everything {actor} did"),
            Selector::Proposal(p) => format!("the change approved from proposal {p}"),
        }
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
        for name in ["action", "run_id", "actor", "record_key", "proposal_id"] {
            let e = ChangeQuery::from_fields([(name, " ")], now()).unwrap_err();
            assert!(e.to_string().contains("blank"), "{name}: {e}");
        }
    }

    #[test]
    fn a_revert_names_exactly_one_selection() {
        let none = Selector::from_fields(SelectorFields::default(), now());
        assert!(none.is_err());
        let two = SelectorFields { run_id: Some("r".into()), proposal_id: Some("p".into()), ..Default::default() };
        assert!(Selector::from_fields(two, now()).is_err());
        let action = SelectorFields { action: Some("set_status".into()), ..Default::default() };
        assert!(Selector::from_fields(action, now()).unwrap_err().to_string().contains("since"));
        let run = SelectorFields { run_id: Some(" nightly ".into()), ..Default::default() };
        assert!(
            matches!(Selector::from_fields(run, now()).unwrap(), Selector::Run { run, actor: None } if run.as_str() == "nightly")
        );
        let whose = SelectorFields { run_id: Some("nightly".into()), actor: Some("bot".into()), ..Default::default() };
        let whose = Selector::from_fields(whose, now()).unwrap();
        assert_eq!(whose.fields(), vec![("run_id", "nightly".to_string()), ("actor", "bot".to_string())]);
    }

    #[test]
    fn a_blank_or_empty_name_is_refused_never_read_as_everything() {
        let blank_ids = [vec![], vec![" ".to_string()], vec!["".to_string()], vec!["a".into(), " ".into()]];
        for ids in blank_ids {
            let f = SelectorFields { change_ids: Some(ids.clone()), ..Default::default() };
            assert!(Selector::from_fields(f, now()).is_err(), "{ids:?}");
        }
        for blank in ["", " ", "\t"] {
            let b = || Some(blank.to_string());
            for f in [
                SelectorFields { run_id: b(), ..Default::default() },
                SelectorFields { actor: b(), ..Default::default() },
                SelectorFields { proposal_id: b(), ..Default::default() },
                SelectorFields { action: b(), since: Some("2h".into()), ..Default::default() },
                SelectorFields { run_id: Some("r".into()), actor: b(), ..Default::default() },
            ] {
                let e = Selector::from_fields(f.clone(), now()).unwrap_err();
                assert!(e.to_string().contains("blank"), "{f:?}: {e}");
            }
        }
        assert!(Selector::change(" ").is_err() && Selector::ids(Vec::<String>::new()).is_err());
    }
}

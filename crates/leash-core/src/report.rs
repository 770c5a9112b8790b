//! `leash report`: what each action did in a period and whether it has
//! earned its next rollout stage. Pure: the engine loads the rows.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::journal::ProposalStatus;
use crate::policy::{Mode, Policy};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Day {
    pub date: String,
    pub applied: u64,
    pub proposed: u64,
    pub rejected: u64,
    pub reverted: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionReport {
    pub name: String,
    pub mode: Mode,
    pub proposed: u64,
    pub applied: u64,
    pub pending: u64,
    pub accepted: u64,
    pub edited: u64,
    pub rejected: u64,
    pub reverted: u64,
    pub reversal_rate: f64,
    pub minutes_saved: f64,
    pub earned_next_stage: bool,
    pub why: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Day>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actions: Vec<ActionReport>,
}

/// The journal of one action on one UTC day, counted by the store (the
/// report never loads the rows themselves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeTally {
    pub action: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Changes that are not reverts.
    pub applied: u64,
    /// Of those, how many a later revert undid.
    pub reverted: u64,
    /// Revert changes written that day.
    pub reverts: u64,
}

/// Proposals of one action made on one UTC day with one status, counted by
/// the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalTally {
    pub action: String,
    /// `YYYY-MM-DD` of `created_at`.
    pub day: String,
    pub status: ProposalStatus,
    /// Accepted with a reviewer's edit.
    pub edited: bool,
    /// `YYYY-MM-DD` of `decided_at` for rejected proposals (a rejection is
    /// counted on the day it was made).
    pub decided_day: Option<String>,
    pub count: u64,
}

/// What the engine hands in: the period's tallies of changes and proposals, and the
/// tallies of the rollout's revert-free window (which may reach before the
/// period).
pub struct ReportInputs<'a> {
    pub tallies: &'a [ChangeTally],
    pub proposals: &'a [ProposalTally],
    pub recent: &'a [ChangeTally],
    pub since: Option<String>,
    pub until: Option<String>,
    pub by_day: bool,
}

fn next_stage(mode: Mode) -> Option<&'static str> {
    match mode {
        Mode::Suggest => Some("review"),
        Mode::Review => Some("direct"),
        Mode::Direct => None,
    }
}

pub fn report(policy: &Policy, inputs: &ReportInputs) -> Report {
    let r = &policy.rollout;
    let actions = policy
        .actions
        .iter()
        .map(|a| {
            let tallies: Vec<&ChangeTally> = inputs.tallies.iter().filter(|t| t.action == a.name).collect();
            let props: Vec<&ProposalTally> = inputs.proposals.iter().filter(|p| p.action == a.name).collect();
            let sum = |keep: &dyn Fn(&ProposalTally) -> bool| props.iter().filter(|p| keep(p)).map(|p| p.count).sum();
            let accepted: u64 = sum(&|p| p.status == ProposalStatus::Accepted);
            let edited: u64 = sum(&|p| p.status == ProposalStatus::Accepted && p.edited);
            let rejected: u64 = sum(&|p| p.status == ProposalStatus::Rejected);
            let pending: u64 = sum(&|p| p.status.is_open());
            let reverted = tallies.iter().map(|t| t.reverted).sum::<u64>();
            let applied_n = tallies.iter().map(|t| t.applied).sum::<u64>();
            let reversal_rate = if applied_n == 0 { 0.0 } else { reverted as f64 / applied_n as f64 };
            let recent_reverts = inputs.recent.iter().filter(|t| t.action == a.name).map(|t| t.reverts).sum::<u64>();
            let reviewed = accepted + rejected;
            let unedited_rate = if reviewed == 0 { 0.0 } else { (accepted - edited) as f64 / reviewed as f64 };
            let (earned, why) = match next_stage(a.mode) {
                None => (false, "already direct, the last stage; keep watching the reversal rate".to_string()),
                Some(next) if reviewed < r.min_reviewed as u64 => {
                    (false, format!("{reviewed} of {} reviewed proposals needed before {next}", r.min_reviewed))
                }
                Some(next) if unedited_rate < r.min_accepted_rate => (
                    false,
                    format!(
                        "{:.0}% accepted unedited of {reviewed} reviewed; {next} needs {:.0}%",
                        unedited_rate * 100.0,
                        r.min_accepted_rate * 100.0
                    ),
                ),
                Some(next) if recent_reverts > 0 => (
                    false,
                    format!("{recent_reverts} revert(s) in the last {} days; {next} needs none", r.revert_free_days),
                ),
                Some(next) => (
                    true,
                    format!(
                        "{:.0}% of {reviewed} reviewed proposals accepted unedited and no reverts in {} days: ready for {next}",
                        unedited_rate * 100.0,
                        r.revert_free_days
                    ),
                ),
            };
            let days = if inputs.by_day { by_day(&tallies, &props) } else { Vec::new() };
            ActionReport {
                name: a.name.clone(),
                mode: a.mode,
                proposed: sum(&|_| true),
                applied: applied_n,
                pending,
                accepted,
                edited,
                rejected,
                reverted,
                reversal_rate,
                minutes_saved: (applied_n - reverted) as f64 * a.minutes_saved,
                earned_next_stage: earned,
                why,
                days,
            }
        })
        .collect();
    Report { since: inputs.since.clone(), until: inputs.until.clone(), actions }
}

fn by_day(tallies: &[&ChangeTally], props: &[&ProposalTally]) -> Vec<Day> {
    fn day<'d>(days: &'d mut BTreeMap<String, Day>, at: &str) -> &'d mut Day {
        let date = at.get(..10).unwrap_or(at).to_string();
        days.entry(date.clone()).or_insert_with(|| Day { date, ..Day::default() })
    }
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    for t in tallies {
        let d = day(&mut days, &t.day);
        d.applied += t.applied;
        d.reverted += t.reverts;
    }
    for p in props {
        day(&mut days, &p.day).proposed += p.count;
        if p.status == ProposalStatus::Rejected {
            day(&mut days, p.decided_day.as_deref().unwrap_or(&p.day)).rejected += p.count;
        }
    }
    // A day holds only what happened that day.
    days.into_values().filter(|d| d.applied + d.proposed + d.rejected + d.reverted > 0).collect()
}

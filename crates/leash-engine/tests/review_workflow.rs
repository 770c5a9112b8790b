//! The review workflow on every store: limits bound the queue, proposals
//! expire or escalate on the database's clock whichever gateway looks next,
//! a group of "the same change" is decided member by member, and nobody
//! decides a call they made (nor, with `only`, an action not theirs).

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use leash_core::codes::{Code, Outcome};
use leash_core::journal::ProposalStatus;
use leash_core::policy::parse_policy;
use leash_engine::{Clock, Engine, ProposalQuery};
use serde_json::json;

const WORKFLOW: &str = r#"
[[actions]]
name = "propose_status"
summary = "Propose a ticket's status."
table = "tickets"
key = "id"
mode = "review"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.limits]
  per_run = 3

[[actions]]
name = "expiring_status"
summary = "Propose a ticket's status; unanswered proposals expire."
table = "tickets"
key = "id"
mode = "review"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.review]
  expire = "1s"

[[actions]]
name = "escalating_status"
summary = "Propose a ticket's status; unanswered proposals escalate."
table = "tickets"
key = "id"
mode = "review"
exception_approver = "support-lead"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.review]
  expire = "1s"
  on_expire = "escalate"

[[actions]]
name = "set_status"
summary = "Set a ticket's status."
table = "tickets"
key = "id"
mode = "direct"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]

[[actions]]
name = "lead_decides"
summary = "Propose a ticket's status; only the lead and the support lead decide."
table = "tickets"
key = "id"
mode = "review"
exception_approver = "support-lead"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.review]
  only = ["lead"]

[[webhooks]]
url = "http://127.0.0.1:9/hook"
events = ["proposal.escalated"]
secret = "s3cret"
"#;

async fn workflow(kind: Kind) -> Option<Fixture> {
    fixture_with(kind, WORKFLOW, Clock::system()).await
}

fn run_call(key: &str, status: &str, run: &str) -> leash_core::call::Call {
    let mut c = call(Some(key), &[("status", status)]);
    c.run_id = Some(run.into());
    c
}

/// A second gateway process on the same database.
async fn second_gateway(f: &Fixture) -> Engine {
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&f.url).await.unwrap());
    Engine::open(parse_policy("workflow.toml", WORKFLOW).unwrap(), store).await.unwrap()
}

async fn a_review_mode_run_puts_at_most_per_run_proposals_in_the_queue(kind: Kind) {
    let Some(f) = workflow(kind).await else { return };
    let mut outcomes = Vec::new();
    for key in 100..106 {
        let r = f.engine.call(&agent(), "propose_status", run_call(&key.to_string(), "solved", "flood")).await.unwrap();
        outcomes.push(r.code.map(|c| c.as_str()).unwrap_or(r.outcome.as_str()));
    }
    assert_eq!(outcomes, ["pending_review", "pending_review", "pending_review", "limit_run", "limit_run", "limit_run"]);
    let queued = f.engine.queue(&reviewer()).await.unwrap();
    assert_eq!(queued.len(), 3, "{kind:?}: the queue holds what the cap allows");
    // Approving does not count a proposal again: all three land.
    for p in &queued {
        let r = f.engine.approve(&reviewer(), &p.id, Default::default(), None).await.unwrap();
        assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    }
    assert!(f.engine.verify().await.unwrap().ok);
}

async fn an_unanswered_proposal_expires_for_every_gateway(kind: Kind) {
    let Some(f) = workflow(kind).await else { return };
    let other = second_gateway(&f).await;
    let r = f.engine.call(&agent(), "expiring_status", call(Some("100"), &[("status", "solved")])).await.unwrap();
    assert_eq!(r.outcome, Outcome::PendingReview);
    let id = r.proposal_id.unwrap();
    let p = f.store.proposal(&id).await.unwrap().unwrap();
    assert!(p.expires_at.is_some(), "{kind:?}: the deadline is stored");
    assert_eq!(f.engine.queue(&reviewer()).await.unwrap().len(), 1, "not yet expired");
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    // The other gateway looks first: it expires the proposal.
    assert!(other.queue(&reviewer()).await.unwrap().is_empty(), "{kind:?}: expired, out of the queue");
    let p = f.store.proposal(&id).await.unwrap().unwrap();
    assert_eq!(p.status, ProposalStatus::Expired, "{kind:?}");
    let r = f.engine.approve(&reviewer(), &id, Default::default(), None).await.unwrap();
    assert_eq!(r.code, Some(Code::Expired), "{kind:?}: {r:?}");
    assert_eq!(f.get("tickets", "100", "status").await, json!("open"), "nothing written");
    assert!(f.engine.reject(&reviewer(), &id, "too late").await.is_err(), "an expired proposal is decided");
}

async fn an_unanswered_proposal_escalates_once_and_can_still_be_approved(kind: Kind) {
    let Some(f) = workflow(kind).await else { return };
    let other = Arc::new(second_gateway(&f).await);
    let r = f.engine.call(&agent(), "escalating_status", call(Some("100"), &[("status", "solved")])).await.unwrap();
    let id = r.proposal_id.unwrap();
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    // Both gateways look at once; the proposal escalates once.
    let (a, b) = tokio::join!(f.engine.expire_due(), other.expire_due());
    assert_eq!(a.unwrap() + b.unwrap(), 1, "{kind:?}: dealt with exactly once");
    assert_eq!(f.engine.expire_due().await.unwrap(), 0, "{kind:?}: and not again");
    let p = f.store.proposal(&id).await.unwrap().unwrap();
    assert_eq!(p.status, ProposalStatus::Pending, "{kind:?}: escalated proposals stay open");
    assert!(p.escalated_at.is_some());
    let views = f.engine.proposals(&reviewer(), &ProposalQuery::default()).await.unwrap();
    assert!(
        views.iter().any(|v| v.proposal.id == id && v.proposal.escalated_at.is_some()),
        "{kind:?}: shown escalated"
    );
    let claimed = f.engine.claim_deliveries("9999", "9999-12-31", 10).await.unwrap();
    let escalations: Vec<_> = claimed.iter().filter(|r| r.event == "proposal.escalated").collect();
    assert_eq!(escalations.len(), 1, "{kind:?}: one event");
    assert!(escalations[0].payload.contains("support-lead"), "{kind:?}: it names the exception approver");
    let r = f.engine.approve(&reviewer(), &id, Default::default(), None).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
}

async fn a_group_is_decided_member_by_member_and_a_stale_one_is_not_written(kind: Kind) {
    let Some(f) = workflow(kind).await else { return };
    let mut ids = Vec::new();
    for key in ["100", "101", "102"] {
        let r = f.engine.call(&agent(), "propose_status", call(Some(key), &[("status", "pending")])).await.unwrap();
        ids.push(r.proposal_id.unwrap());
    }
    let other = f.engine.call(&agent(), "propose_status", call(Some("103"), &[("status", "solved")])).await.unwrap();
    let queued = f.engine.queue(&reviewer()).await.unwrap();
    let group = queued[0].group.clone().unwrap();
    assert!(queued[..3].iter().all(|p| p.group.as_ref() == Some(&group)), "{kind:?}: the same change, one group");
    assert_ne!(queued[3].group.as_ref(), Some(&group), "{kind:?}: another value, another group");
    assert_eq!(f.engine.group_members(&reviewer(), &group).await.unwrap(), ids);
    // Someone writes one record first: that member is stale.
    f.call("set_status", Some("101"), &[("status", "solved")]).await;
    let results = f.engine.approve_many(&reviewer(), &ids, Some("all the same")).await.unwrap();
    let statuses: Vec<&str> = results.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["accepted", "stale_record", "accepted"], "{kind:?}");
    assert_eq!(f.get("tickets", "100", "status").await, json!("pending"));
    assert_eq!(f.get("tickets", "101", "status").await, json!("solved"), "{kind:?}: the stale member was not written");
    assert_eq!(f.get("tickets", "102", "status").await, json!("pending"));
    let rejected = f.engine.reject_many(&reviewer(), &[other.proposal_id.unwrap()], "not this one").await.unwrap();
    assert_eq!(rejected[0].status, "rejected");
    assert!(f.engine.verify().await.unwrap().ok);
}

fn reviewer_named(name: &str) -> leash_engine::Caller {
    leash_engine::Caller { name: name.into(), role: leash_engine::Role::Reviewer, actions: Vec::new() }
}

async fn nobody_decides_their_own_call_and_only_decides_alone(kind: Kind) {
    let Some(f) = workflow(kind).await else { return };
    // A reviewer token that proposes (it may call) cannot approve or reject it.
    let lead = reviewer();
    let mine = f.engine.call(&lead, "propose_status", call(Some("100"), &[("status", "solved")])).await.unwrap();
    let mine = mine.proposal_id.unwrap();
    let r = f.engine.approve(&lead, &mine, Default::default(), None).await.unwrap();
    assert_eq!(r.code, Some(Code::NotPermitted), "{kind:?}: {r:?}");
    let e = f.engine.reject(&lead, &mine, "mine").await.unwrap_err();
    assert_eq!(e.answer().code, "not_permitted", "{kind:?}: {e}");
    let group = f.engine.approve_many(&lead, std::slice::from_ref(&mine), None).await.unwrap();
    assert_eq!(group[0].status, "not_permitted", "{kind:?}: a group decision checks each member");
    // The same holds for the local user at a terminal.
    let local = leash_engine::Caller::local("ana");
    let theirs = f.engine.call(&local, "propose_status", call(Some("101"), &[("status", "solved")])).await.unwrap();
    let r = f.engine.approve(&local, theirs.proposal_id.as_ref().unwrap(), Default::default(), None).await.unwrap();
    assert_eq!(r.code, Some(Code::NotPermitted), "{kind:?}: {r:?}");
    assert_eq!(f.get("tickets", "100", "status").await, json!("open"), "{kind:?}: nothing written");
    assert_eq!(f.get("tickets", "101", "status").await, json!("open"), "{kind:?}: nothing written");
    // Someone else may.
    let r = f.engine.approve(&reviewer_named("bo"), &mine, Default::default(), None).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");

    // `only`: the names listed and the exception approver decide, nobody else.
    let mut ids = Vec::new();
    for key in ["102", "103", "104"] {
        let r = f.engine.call(&agent(), "lead_decides", call(Some(key), &[("status", "pending")])).await.unwrap();
        ids.push(r.proposal_id.unwrap());
    }
    let r = f.engine.approve(&reviewer_named("bo"), &ids[0], Default::default(), None).await.unwrap();
    assert_eq!(r.code, Some(Code::NotPermitted), "{kind:?}: {r:?}");
    assert!(r.message.contains("lead, support-lead"), "{kind:?}: it names who may: {}", r.message);
    let e = f.engine.reject(&reviewer_named("bo"), &ids[0], "no").await.unwrap_err();
    assert_eq!(e.answer().code, "not_permitted");
    let r = f.engine.approve(&lead, &ids[0], Default::default(), None).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let r = f.engine.approve(&reviewer_named("support-lead"), &ids[1], Default::default(), None).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: the exception approver decides too");
    f.engine.reject(&lead, &ids[2], "not now").await.unwrap();
    assert_eq!(f.get("tickets", "104", "status").await, json!("open"));
    assert!(f.engine.verify().await.unwrap().ok);
}

conformance!(
    nobody_decides_their_own_call_and_only_decides_alone,
    a_review_mode_run_puts_at_most_per_run_proposals_in_the_queue,
    an_unanswered_proposal_expires_for_every_gateway,
    an_unanswered_proposal_escalates_once_and_can_still_be_approved,
    a_group_is_decided_member_by_member_and_a_stale_one_is_not_written,
);

//! Rollout on every store: approval gates, suggest → review → direct with a
//! report that matches the journal, the watch window, and the breaker.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use leash_core::codes::{Code, Outcome, ReviewReason};
use leash_core::policy::parse_policy;
use leash_engine::{Caller, Clock, Engine};
use serde_json::json;

const STAGED: &str = r#"
[rollout]
min_reviewed = 10
min_accepted_rate = 0.8
revert_free_days = 7

[[actions]]
name = "set_status"
summary = "Set a ticket's status."
table = "tickets"
key = "id"
mode = "MODE"
minutes_saved = 2
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.review]
  below_confidence = 0.8
  watch = "1h"
  [actions.breaker]
  same_change = 5
  within = "10m"
"#;

fn staged(mode: &str) -> String {
    STAGED.replace("MODE", mode)
}

async fn reopen(f: &Fixture, mode: &str, at: &str) -> Engine {
    let policy = parse_policy("p.toml", &staged(mode)).unwrap();
    Engine::open(policy, f.store.clone()).await.unwrap().with_clock(Clock::fixed(at.parse().unwrap()))
}

async fn unapproved_definition_is_refused_until_approved(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let engine = reopen(&f, "direct", "2026-11-25T15:00:00Z").await;
    let r = engine.call(&agent(), "set_status", call(Some("1"), &[("status", "solved")])).await.unwrap();
    assert_eq!(r.code, Some(Code::PolicyUnapproved), "{r:?}");
    assert!(engine.approve_policy(&reviewer(), None).await.is_err(), "only admins approve policy");
    engine.approve_policy(&Caller::local("ops"), Some("reviewed")).await.unwrap();
    let r = engine.call(&agent(), "set_status", call(Some("1"), &[("status", "solved")])).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied);
    // Changing the definition needs a new approval.
    let changed = reopen(&f, "review", "2026-11-25T15:00:00Z").await;
    let r = changed.call(&agent(), "set_status", call(Some("4"), &[("status", "solved")])).await.unwrap();
    assert_eq!(r.code, Some(Code::PolicyUnapproved));
    let sheet = changed.actions_sheet(&Caller::local("ops")).await.unwrap();
    assert!(!sheet[0].approved);
    let loose = reopen(&f, "review", "2026-11-25T15:00:00Z").await.allow_unapproved();
    let r = loose.call(&agent(), "set_status", call(Some("4"), &[("status", "solved")])).await.unwrap();
    assert_eq!(r.outcome, Outcome::PendingReview);
}

async fn action_earns_its_way_from_suggest_to_direct_with_matching_report(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let ops = Caller::local("ops");
    // Stage 1: suggest. 12 suggestions; 10 accepted as is, 1 edited, 1 rejected.
    let e = reopen(&f, "suggest", "2026-11-20T15:00:00Z").await;
    e.approve_policy(&ops, None).await.unwrap();
    let mut ids = Vec::new();
    for key in 100..112 {
        let r = e.call(&agent(), "set_status", call(Some(&key.to_string()), &[("status", "pending")])).await.unwrap();
        assert_eq!(r.outcome, Outcome::Suggested);
        ids.push(r.proposal_id.unwrap());
    }
    for id in &ids[..10] {
        assert_eq!(e.approve(&reviewer(), id, Default::default(), None).await.unwrap().outcome, Outcome::Applied);
    }
    let edit: serde_json::Map<String, serde_json::Value> =
        [("status".to_string(), json!("solved"))].into_iter().collect();
    e.approve(&reviewer(), &ids[10], edit, None).await.unwrap();
    e.reject(&reviewer(), &ids[11], "wrong ticket").await.unwrap();
    let report = e.report(&Caller::local("owner"), None, None).await.unwrap();
    let a = &report.actions[0];
    assert_eq!((a.proposed, a.accepted, a.edited, a.rejected, a.pending, a.applied), (12, 11, 1, 1, 0, 11));
    assert_eq!(a.minutes_saved, 22.0);
    assert!(a.earned_next_stage, "{}", a.why);
    // The report's applied count is the journal's.
    let journal = f.store.changes(&Default::default()).await.unwrap();
    assert_eq!(journal.iter().filter(|c| c.action == "set_status").count() as u64, a.applied);

    // Stage 2: review. One revert this week blocks promotion.
    let e = reopen(&f, "review", "2026-11-21T15:00:00Z").await;
    e.approve_policy(&ops, None).await.unwrap();
    for key in 120..131 {
        let r = e.call(&agent(), "set_status", call(Some(&key.to_string()), &[("status", "pending")])).await.unwrap();
        assert!(r.reasons.contains(&ReviewReason::ModeReview));
        e.approve(&reviewer(), r.proposal_id.as_deref().unwrap(), Default::default(), None).await.unwrap();
    }
    let last = f.store.changes(&Default::default()).await.unwrap().pop().unwrap();
    let revert = leash_engine::RevertRequest {
        selector: leash_engine::Selector::ids([last.id]).unwrap(),
        dry_run: false,
        force: false,
        batch_max: leash_engine::REVERT_BATCH_MAX,
    };
    e.revert(&reviewer(), &revert, |_, _| {}).await.unwrap();
    let a = e.report(&Caller::local("owner"), None, None).await.unwrap().actions.remove(0);
    assert!(!a.earned_next_stage);
    assert!(a.why.contains("revert"), "{}", a.why);
    assert_eq!(a.reverted, 1);
    // A week later the revert has aged out.
    let later = reopen(&f, "review", "2026-11-30T15:00:00Z").await;
    assert!(later.report(&Caller::local("owner"), None, None).await.unwrap().actions[0].earned_next_stage);
    let by_day = later.report(&Caller::local("owner"), Some("2026-11-20T00:00:00.000000Z".into()), None).await.unwrap();
    assert!(by_day.actions[0].days.len() >= 2, "a report over a range has a day-by-day table");

    // Stage 3: direct, watched for an hour after approval.
    let e = reopen(&f, "direct", "2026-11-30T15:00:00Z").await;
    e.approve_policy(&ops, None).await.unwrap();
    let r = e.call(&agent(), "set_status", call(Some("140"), &[("status", "pending")])).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied);
    let c = f.store.change(r.change_id.as_deref().unwrap()).await.unwrap().unwrap();
    assert!(c.watch, "applied changes are flagged while watched");
    let mut unsure = call(Some("141"), &[("status", "pending")]);
    unsure.confidence = Some(0.5);
    let r = e.call(&agent(), "set_status", unsure).await.unwrap();
    assert!(
        r.reasons.contains(&ReviewReason::WatchWindow) && r.reasons.contains(&ReviewReason::LowConfidence),
        "{r:?}"
    );
    // Two hours on, the watch is over.
    let after = reopen(&f, "direct", "2026-11-30T17:30:00Z").await;
    let r = after.call(&agent(), "set_status", call(Some("142"), &[("status", "pending")])).await.unwrap();
    assert!(!f.store.change(r.change_id.as_deref().unwrap()).await.unwrap().unwrap().watch);
}

async fn breaker_trips_on_the_nth_identical_change_and_names_the_revert(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let e = reopen(&f, "direct", "2026-11-25T15:00:00Z").await;
    e.approve_policy(&Caller::local("ops"), None).await.unwrap();
    for key in 100..104 {
        assert_eq!(
            e.call(&agent(), "set_status", call(Some(&key.to_string()), &[("status", "solved")]))
                .await
                .unwrap()
                .outcome,
            Outcome::Applied
        );
    }
    // A different change does not count toward the same signature.
    assert_eq!(
        e.call(&agent(), "set_status", call(Some("200"), &[("status", "pending")])).await.unwrap().outcome,
        Outcome::Applied
    );
    let fifth = e.call(&agent(), "set_status", call(Some("104"), &[("status", "solved")])).await.unwrap();
    assert_eq!(fifth.outcome, Outcome::Applied, "the 5th lands and trips");
    assert!(fifth.message.contains("breaker"), "{}", fifth.message);
    let sixth = e.call(&agent(), "set_status", call(Some("105"), &[("status", "solved")])).await.unwrap();
    assert_eq!(sixth.code, Some(Code::BreakerTripped));
    let other = e.call(&agent(), "set_status", call(Some("201"), &[("status", "pending")])).await.unwrap();
    assert_eq!(other.code, Some(Code::BreakerTripped), "the whole action stops");
    let pause =
        f.store.pauses().await.unwrap().into_iter().find(|p| p.kind == leash_store::PauseKind::Breaker).unwrap();
    assert!(pause.reason.contains("leash revert "), "{}", pause.reason);
    let ids = pause.change_ids.clone();
    assert!(pause.reason.contains(&ids.join(" ")), "the reason names the same changes: {}", pause.reason);
    assert_eq!(ids.len(), 5);
    e.resume(&Caller::local("ops"), Some("set_status"), "reviewed").await.unwrap();
    assert_eq!(
        e.call(&agent(), "set_status", call(Some("106"), &[("status", "solved")])).await.unwrap().outcome,
        Outcome::Applied,
        "counting starts afresh after resume"
    );
}

async fn breaker_counts_across_concurrent_engines(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let a = Arc::new(reopen(&f, "direct", "2026-11-25T15:00:00Z").await);
    a.approve_policy(&Caller::local("ops"), None).await.unwrap();
    let b = Arc::new(reopen(&f, "direct", "2026-11-25T15:00:00Z").await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let engine = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            engine
                .call(&agent(), "set_status", call(Some(&(100 + i).to_string()), &[("status", "solved")]))
                .await
                .unwrap()
        }));
    }
    let mut applied = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.outcome {
            Outcome::Applied => applied += 1,
            _ => assert_eq!(r.code, Some(Code::BreakerTripped), "{r:?}"),
        }
    }
    assert_eq!(applied, 5, "exactly the 5th trips, not before, not after");
}

conformance!(
    unapproved_definition_is_refused_until_approved,
    action_earns_its_way_from_suggest_to_direct_with_matching_report,
    breaker_trips_on_the_nth_identical_change_and_names_the_revert,
    breaker_counts_across_concurrent_engines,
);

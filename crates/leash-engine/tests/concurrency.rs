//! Many tasks at once on one SQLite file: no lost update, no cap exceeded.

mod common;

use common::*;
use leash_core::codes::{Code, Outcome};
use serde_json::json;

const STATUSES: [&str; 4] = ["open", "needs_reply", "pending", "solved"];

async fn racing_calls_on_one_record_lose_no_update_and_chain_old_values(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let mut tasks = Vec::new();
    for i in 0..32 {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move {
            let status = STATUSES[1 + i % 3];
            engine.call(&agent(), "set_status", call(Some("1"), &[("status", status)])).await.unwrap()
        }));
    }
    let mut applied = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert!(matches!(r.outcome, Outcome::Applied | Outcome::Unchanged), "{r:?}");
        applied += (r.outcome == Outcome::Applied) as usize;
    }
    let changes = f.changes().await;
    assert_eq!(changes.len(), applied);
    for pair in changes.windows(2) {
        assert_eq!(pair[1].fields[0].old, pair[0].fields[0].new, "each change starts where the previous ended");
    }
    assert_eq!(changes[0].fields[0].old, json!("open"));
    assert_eq!(f.get("tickets", "1", "status").await, changes.last().unwrap().fields[0].new);
    assert!(f.engine.verify().await.unwrap().ok);
}

async fn racing_calls_that_expect_the_same_value_let_exactly_one_win(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let mut tasks = Vec::new();
    for i in 0..16 {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = call(Some("1"), &[("status", STATUSES[1 + i % 3])]);
            c.expect = Some(serde_json::from_value(json!({"status": "open"})).unwrap());
            engine.call(&agent(), "set_status", c).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let winners = outcomes.iter().filter(|r| r.outcome == Outcome::Applied).count();
    let stale = outcomes.iter().filter(|r| r.code == Some(Code::StaleRecord)).count();
    let same = outcomes.iter().filter(|r| r.outcome == Outcome::Unchanged).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    assert_eq!(winners + stale + same, 16, "{outcomes:?}");
    assert_eq!(f.changes().await.len(), 1);
}

async fn concurrent_run_never_exceeds_its_cap(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let mut tasks = Vec::new();
    for i in 100..250 {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = call(Some(&i.to_string()), &[("status", "solved")]);
            c.run_id = Some("burst".into());
            engine.call(&agent(), "set_status", c).await.unwrap()
        }));
    }
    let (mut applied, mut capped) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match (r.outcome, r.code) {
            (Outcome::Applied, _) => applied += 1,
            (Outcome::Rejected, Some(Code::LimitRun)) => capped += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((applied, capped), (100, 50));
    assert_eq!(f.changes().await.len(), 100);
}

/// Retries that arrive together: every copy gets the first call's outcome,
/// and the record changes once.
async fn racing_retries_with_one_idempotency_key_all_get_the_first_outcome(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = call(Some("1"), &[("status", "solved")]);
            c.idempotency_key = Some("retry-1".into());
            engine.call(&agent(), "set_status", c).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().expect("a retry gets the first outcome, not an error"));
    }
    assert_eq!(outcomes[0].outcome, Outcome::Applied, "{outcomes:?}");
    assert!(outcomes.iter().all(|r| r == &outcomes[0]), "{outcomes:?}");
    assert_eq!(f.changes().await.len(), 1);
    assert_eq!(f.get("tickets", "1", "status").await, json!("solved"));
}

conformance!(
    racing_retries_with_one_idempotency_key_all_get_the_first_outcome,
    racing_calls_on_one_record_lose_no_update_and_chain_old_values,
    racing_calls_that_expect_the_same_value_let_exactly_one_win,
    concurrent_run_never_exceeds_its_cap,
);

//! Many tasks at once on one SQLite file: no lost update, no cap exceeded.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// On SQLite the calls below share commits (group commit): one call's
/// failure must fail it alone, and the others' writes must all land.
async fn a_failing_call_among_concurrent_calls_fails_alone(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    fail_journal_for(&f, "105").await;
    let mut tasks = Vec::new();
    for i in 100..124 {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move {
            (i, engine.call(&agent(), "set_status", call(Some(&i.to_string()), &[("status", "solved")])).await)
        }));
    }
    for t in tasks {
        match t.await.unwrap() {
            (105, r) => assert!(r.is_err(), "the injected failure surfaces: {r:?}"),
            (i, r) => assert_eq!(r.unwrap().outcome, Outcome::Applied, "call on {i}"),
        }
    }
    assert_eq!(f.changes().await.len(), 23);
    assert_eq!(f.get("tickets", "105", "status").await, json!("open"), "the failed call's update was undone");
    for i in [100, 104, 106, 123] {
        assert_eq!(f.get("tickets", &i.to_string(), "status").await, json!("solved"));
    }
    assert!(f.engine.verify().await.unwrap().ok);
}

/// Reads and writes go on after the server drops every connection of the
/// pool (a restart, an idle kill): pooled connections are not pinged on
/// every use.
async fn writes_go_on_after_the_server_drops_every_connection(kind: Kind) {
    if kind == Kind::Sqlite {
        return; // no server
    }
    let Some(f) = fixture(kind).await else { return };
    assert_eq!(f.call("set_status", Some("100"), &[("status", "solved")]).await.outcome, Outcome::Applied);
    let kill = match kind {
        Kind::Postgres => {
            let name = f.url.rsplit("application_name=").next().unwrap();
            format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'")
        }
        // The scratch database is the connections' default database.
        _ => {
            let name = f.url.rsplit('/').next().unwrap();
            format!(
                "BEGIN NOT ATOMIC DECLARE done INT DEFAULT 0; DECLARE tid BIGINT;
                 DECLARE c CURSOR FOR SELECT id FROM information_schema.processlist WHERE db = '{name}';
                 DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
                 OPEN c; l: LOOP FETCH c INTO tid; IF done THEN LEAVE l; END IF; KILL tid; END LOOP; CLOSE c; END"
            )
        }
    };
    let admin = leash_store::open(&leash_testkit::server_url(kind).unwrap()).await.unwrap();
    admin.execute_script(&[&kill]).await.unwrap();
    assert_eq!(f.changes().await.len(), 1, "a read after the kill");
    for i in 101..104 {
        assert_eq!(f.call("set_status", Some(&i.to_string()), &[("status", "solved")]).await.outcome, Outcome::Applied);
    }
    assert_eq!(f.changes().await.len(), 4);
}

conformance!(
    a_failing_call_among_concurrent_calls_fails_alone,
    writes_go_on_after_the_server_drops_every_connection,
    racing_retries_with_one_idempotency_key_all_get_the_first_outcome,
    racing_calls_on_one_record_lose_no_update_and_chain_old_values,
    racing_calls_that_expect_the_same_value_let_exactly_one_win,
    concurrent_run_never_exceeds_its_cap,
);

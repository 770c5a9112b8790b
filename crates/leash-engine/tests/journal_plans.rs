//! Every read the log, revert, report and verify make of the journal can be
//! served by an index on every store: the database's own plan for each
//! (`Store::journal_plans`) must not scan `leash_changes` whole (which steps
//! do is each store's reading of its plan, `JournalPlan::full_scans`).
//! PostgreSQL is asked with sequential scans priced out and MySQL with
//! index seeks priced in, so a small table's cheap scan does not hide a
//! missing index.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use leash_core::call::FieldChange;
use leash_core::journal::{Change, Op};
use leash_core::value::Value;
use leash_testkit::{conformance, Kind};

/// One row in this many carries the action, actor, run and month the reads
/// ask for: rare values, as a log filter's usually are, so a planner with
/// statistics takes an index that fits and walks a whole one only when none
/// does.
const RARE: usize = 400;

fn change(i: usize) -> Change {
    let mut c = Change {
        id: format!("c{i:04}"),
        at: match i % RARE {
            7 => format!("2026-12-{:02}T00:00:00Z", i % 28 + 1),
            _ => format!("2026-{:02}-{:02}T00:00:00Z", i % 11 + 1, i % 28 + 1),
        },
        action: match i % RARE {
            7 => "a1".into(),
            9 => "a2".into(),
            _ => "a0".into(),
        },
        policy_hash: "p".into(),
        table_name: "t".into(),
        record_key: (i % 200).to_string(),
        op: Op::Update,
        fields: vec![FieldChange { field: "status".into(), old: Value::from("x"), new: Value::from("y") }],
        actor: if i % RARE == 11 { "bot1".into() } else { "bot0".into() },
        approver: None,
        reason: None,
        evidence: None,
        confidence: None,
        run_id: Some(if i % RARE == 13 { "r1".into() } else { format!("r{}", 2 + i / 100) }),
        proposal_id: None,
        reverts: None,
        reverted_by: None,
        watch: false,
        prev_hash: None,
        hash: String::new(),
    };
    // Each its own record's first row would collide on the chain index.
    c.seal(Some(format!("h{i}")));
    c
}

async fn every_journal_read_uses_an_index(kind: Kind) {
    let Some(db) = leash_testkit::fresh_database(kind).await else { return };
    let store = leash_store::open(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let rows: Vec<Change> = (0..4000).map(change).collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_changes(&rows).await.unwrap();
    tx.commit().await.unwrap();
    store.execute_script(&[store.dialect().analyze_journal()]).await.unwrap();

    let plans = store.journal_plans().await.unwrap();
    assert!(plans.len() >= 15, "every journal read of log, revert, report and verify is asked about: {}", plans.len());
    let bad: Vec<String> = plans
        .iter()
        .filter(|p| !p.full_scans.is_empty())
        .map(|p| format!("{}: {:?}\n  {}\n  plan:\n{}", p.read, p.full_scans, p.sql, p.plan))
        .collect();
    assert!(bad.is_empty(), "{kind:?}: reads that scan the whole journal:\n{}", bad.join("\n"));
}

conformance!(every_journal_read_uses_an_index);

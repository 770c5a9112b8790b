//! The journal at scale: `verify` scoped to a table, a record or
//! the records changed since a time; the revert marks in `leash_reverts`
//! (each change undone once, however many reverts race; marks made before
//! the upgrade kept).

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use leash_core::call::Call;
use leash_engine::{RevertRequest, Selector, VerifyScope};
use leash_store::{SqlStore, Store};
use serde_json::json;

fn scope(table: Option<&str>, record: Option<&str>, since: Option<&str>) -> VerifyScope {
    VerifyScope {
        table: table.map(str::to_string),
        record: record.map(str::to_string),
        since: since.map(str::to_string),
    }
}

async fn verify_checks_a_table_a_record_or_the_records_changed_since(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    f.call("set_status", Some("1"), &[("status", "solved")]).await;
    f.call("set_status", Some("1"), &[("status", "pending")]).await;
    f.call("set_status", Some("4"), &[("status", "solved")]).await;
    let r = f.call("fix_customer", Some("1"), &[("name", "Ann Lee")]).await;
    assert!(r.change_id.is_some(), "{r:?}");
    // Someone writes around leash on ticket 4.
    f.store.execute_script(&["UPDATE tickets SET status = 'open' WHERE id = 4"]).await.unwrap();

    let all = f.engine.verify_scoped(&VerifyScope::default()).await.unwrap();
    assert!(!all.ok);
    assert_eq!((all.checked, all.drift.len()), (4, 1));
    let one = f.engine.verify_scoped(&scope(Some("tickets"), Some("1"), None)).await.unwrap();
    assert!(one.ok, "{one:?}");
    assert_eq!(one.checked, 2);
    let four = f.engine.verify_scoped(&scope(Some("tickets"), Some("4"), None)).await.unwrap();
    assert_eq!((four.ok, four.checked, four.drift[0].record_key.as_str()), (false, 1, "4"));
    let customers = f.engine.verify_scoped(&scope(Some("customers"), None, None)).await.unwrap();
    assert_eq!((customers.ok, customers.checked), (true, 1));
    let tickets = f.engine.verify_scoped(&scope(Some("tickets"), None, None)).await.unwrap();
    assert_eq!((tickets.ok, tickets.checked), (false, 3));
    // Every change of the fixture is stamped 2026-11-25T15:00:00Z.
    let later = f.engine.verify_scoped(&scope(None, None, Some("2026-11-26T00:00:00Z"))).await.unwrap();
    assert_eq!((later.ok, later.checked), (true, 0));
    let since = f.engine.verify_scoped(&scope(None, None, Some("2026-11-25T00:00:00Z"))).await.unwrap();
    assert_eq!((since.ok, since.checked, since.drift.len()), (false, 4, 1));
    let since_customers =
        f.engine.verify_scoped(&scope(Some("customers"), None, Some("2026-11-25T00:00:00Z"))).await.unwrap();
    assert_eq!((since_customers.ok, since_customers.checked), (true, 1));
    let err = f.engine.verify_scoped(&scope(None, Some("1"), None)).await.unwrap_err();
    assert!(err.to_string().contains("--table"), "{err}");
    // A record the journal never names: nothing to check, nothing wrong.
    let none = f.engine.verify_scoped(&scope(Some("tickets"), Some("999"), None)).await.unwrap();
    assert_eq!((none.ok, none.checked), (true, 0));
}

async fn racing_reverts_of_one_run_undo_each_change_once(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let keys: Vec<String> = (100..160).map(|k| k.to_string()).collect();
    for k in &keys {
        let c = Call { run_id: Some("nightly".into()), ..call(Some(k), &[("status", "solved")]) };
        assert!(f.engine.call(&agent(), "set_status", c).await.unwrap().change_id.is_some());
    }
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move {
            let req = RevertRequest {
                selector: Selector::run("nightly").unwrap(),
                dry_run: false,
                // Forced: a field that no longer holds what the change wrote
                // (because a racing revert undid it) is no stop; only the
                // revert marks keep a change from being undone twice.
                force: true,
                batch_max: 25,
            };
            engine.revert(&reviewer(), &req, |_, _| {}).await
        }));
    }
    let mut undone: Vec<String> = Vec::new();
    let mut succeeded = 0;
    for t in tasks {
        // A revert that lost a race on a batch is refused and rolled back;
        // running it again would finish (the others have).
        if let Ok(report) = t.await.unwrap() {
            succeeded += 1;
            undone.extend(report.reverted);
        }
    }
    assert!(succeeded >= 1);
    undone.sort();
    let before = undone.len();
    undone.dedup();
    assert_eq!((before, undone.len()), (keys.len(), keys.len()), "each change undone exactly once");
    let journal = f.changes().await;
    assert_eq!(journal.iter().filter(|c| c.reverts.is_some()).count(), keys.len(), "one undo row per change");
    for k in &keys {
        assert_eq!(f.get("tickets", k, "status").await, json!("open"));
    }
    assert!(f.engine.verify().await.unwrap().ok);
}

/// A database an older release left: changes marked reverted in the journal
/// row itself. The upgrade moves the marks and the journal stays readable,
/// and immutable from then on.
async fn revert_marks_made_before_the_upgrade_are_kept(kind: Kind) {
    let Some(db) = leash_testkit::fresh_database(kind).await else { return };
    let store = SqlStore::connect(&db.url).await.unwrap();
    let moved = kind.migration_version("revert marks in leash_reverts").expect("the migration that moved the marks");
    store.migrate_up_to(moved - 1).await.unwrap();
    let row = |id: &str, prev: &str, reverts: &str, reverted_by: &str| {
        format!(
            "INSERT INTO leash_changes (id, at, action, policy_hash, table_name, record_key, op, fields, actor, \
             reverts, reverted_by, prev_hash, hash) VALUES ('{id}', '2026-11-01T00:00:00Z', 'a', 'p', 't', '1', \
             'update', '[]', 'bot', {reverts}, {reverted_by}, '{prev}', 'h-{id}')"
        )
    };
    let (c1, c2) = (row("c1", "", "NULL", "'c2'"), row("c2", "h-c1", "'c1'", "NULL"));
    store.execute_script(&[&c1, &c2]).await.unwrap();
    store.migrate().await.unwrap();

    let c1 = store.change("c1").await.unwrap().unwrap();
    assert_eq!(c1.reverted_by.as_deref(), Some("c2"));
    assert_eq!(store.change("c2").await.unwrap().unwrap().reverted_by, None);
    assert!(store.execute_script(&["UPDATE leash_changes SET watch = 1"]).await.is_err(), "never updated");
    assert!(store.execute_script(&["DELETE FROM leash_reverts"]).await.is_err(), "marks are kept");
    let again = "INSERT INTO leash_reverts (change_id, reverted_by) VALUES ('c1', 'c9')";
    assert!(store.execute_script(&[again]).await.is_err(), "a change is reverted once");
    let marks = store.undoables(&Default::default()).await.unwrap();
    assert_eq!(
        marks.iter().map(|u| (u.id.as_str(), u.reverted_by.as_deref())).collect::<Vec<_>>(),
        [("c1", Some("c2")), ("c2", None)]
    );
}

conformance!(
    verify_checks_a_table_a_record_or_the_records_changed_since,
    racing_reverts_of_one_run_undo_each_change_once,
    revert_marks_made_before_the_upgrade_are_kept,
);

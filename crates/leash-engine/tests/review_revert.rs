//! The review queue, revert in every mode, and verify, on a real SQLite file.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use leash_core::codes::{Code, Outcome};
use leash_core::journal::{Op, ProposalStatus};
use leash_engine::{parse_time, RevertRequest, Selector};
use serde_json::json;

fn edits(pairs: &[(&str, &str)]) -> serde_json::Map<String, serde_json::Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
}

fn req(selector: Selector, dry_run: bool) -> RevertRequest {
    RevertRequest { selector, dry_run, force: false, batch_max: leash_engine::REVERT_BATCH_MAX }
}

async fn approval_with_edit_applies_and_journals_approver_and_edit(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let p = f.call("review_status", Some("1"), &[("status", "solved")]).await;
    let id = p.proposal_id.unwrap();
    let r = f.engine.approve(&reviewer(), &id, edits(&[("status", "pending")]), Some("not solved yet")).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    assert_eq!(f.get("tickets", "1", "status").await, json!("pending"));
    let c = &f.changes().await[0];
    assert_eq!(
        (c.actor.as_str(), c.approver.as_deref(), c.proposal_id.as_deref()),
        ("assistant", Some("lead"), Some(id.as_str()))
    );
    let p = f.store.proposal(&id).await.unwrap().unwrap();
    assert_eq!(p.status, ProposalStatus::Accepted);
    assert_eq!(p.edited.unwrap().get("status"), Some(&json!("pending")));
    assert_eq!(p.change_id, r.change_id);
    // Decided once: a second approval is a conflict.
    let again = f.engine.approve(&reviewer(), &id, Default::default(), None).await.unwrap();
    assert_eq!(again.code, Some(Code::Conflict));
}

async fn approval_still_enforces_hard_rules_on_edits(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let id = f.call("review_status", Some("1"), &[("status", "solved")]).await.proposal_id.unwrap();
    let r = f.engine.approve(&reviewer(), &id, edits(&[("status", "bogus")]), None).await.unwrap();
    assert_eq!(r.code, Some(Code::ValueNotAllowed));
    let r = f.engine.approve(&reviewer(), &id, edits(&[("locked", "true")]), None).await.unwrap();
    assert_eq!(r.code, Some(Code::FieldNotAllowed));
    assert!(f.store.proposal(&id).await.unwrap().unwrap().status.is_open(), "a refused approval leaves it open");
}

async fn approving_after_the_record_changed_is_stale_and_overwrites_nothing(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let id = f.call("review_status", Some("1"), &[("status", "solved")]).await.proposal_id.unwrap();
    assert_eq!(f.call("set_status", Some("1"), &[("status", "pending")]).await.outcome, Outcome::Applied);
    let r = f.engine.approve(&reviewer(), &id, Default::default(), None).await.unwrap();
    assert_eq!(r.code, Some(Code::StaleRecord), "{r:?}");
    assert_eq!(f.get("tickets", "1", "status").await, json!("pending"));
    assert_eq!(f.store.proposal(&id).await.unwrap().unwrap().status, ProposalStatus::Stale);
}

async fn reject_records_reviewer_and_note_and_agents_cannot_review(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let id = f.call("review_status", Some("1"), &[("status", "solved")]).await.proposal_id.unwrap();
    assert!(f.engine.approve(&agent(), &id, Default::default(), None).await.is_err());
    assert!(f.engine.reject(&reviewer(), &id, " ").await.is_err(), "a rejection needs a note");
    let p = f.engine.reject(&reviewer(), &id, "customer still waiting").await.unwrap();
    assert_eq!((p.status, p.reviewer.as_deref()), (ProposalStatus::Rejected, Some("lead")));
    assert!(f.engine.queue(&reviewer()).await.unwrap().is_empty());
    assert_eq!(f.get("tickets", "1", "status").await, json!("open"));
}

async fn approved_append_proposal_inserts_the_row(kind: Kind) {
    let policy = POLICY.replace("kind = \"append\"\nmode = \"direct\"", "kind = \"append\"\nmode = \"review\"");
    let Some(f2) = fixture_with(kind, &policy, leash_engine::Clock::system()).await else { return };
    let id = f2.call("add_note", None, &[("ticket_id", "1"), ("body", "hello")]).await.proposal_id.unwrap();
    let r = f2.engine.approve(&reviewer(), &id, Default::default(), None).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    let c = &f2.changes().await[0];
    assert_eq!(c.op, Op::Insert);
    assert_eq!(f2.get("notes", &c.record_key, "body").await, json!("hello"));
}

async fn batch_revert_by_run_restores_every_record_newest_first(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    for i in 100..150 {
        let mut c = call(Some(&i.to_string()), &[("status", "solved")]);
        c.run_id = Some("bad".into());
        f.engine.call(&agent(), "set_status", c).await.unwrap();
    }
    // The same record twice in the run: newest-first undoes both cleanly.
    let mut c = call(Some("100"), &[("status", "pending")]);
    c.run_id = Some("bad".into());
    f.engine.call(&agent(), "set_status", c).await.unwrap();

    let plan = f.engine.revert(&reviewer(), &req(Selector::run("bad").unwrap(), true), |_, _| {}).await.unwrap();
    assert_eq!((plan.reverted.len(), plan.conflicts.len()), (51, 0), "{plan:?}");
    assert_eq!(f.get("tickets", "100", "status").await, json!("pending"), "a dry run writes nothing");
    assert_eq!(f.changes().await.len(), 51);

    let done = f.engine.revert(&reviewer(), &req(Selector::run("bad").unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!((done.reverted.len(), done.conflicts.len(), done.skipped), (51, 0, 0));
    for i in 100..150 {
        assert_eq!(f.get("tickets", &i.to_string(), "status").await, json!("open"));
    }
    let verify = f.engine.verify().await.unwrap();
    assert!(verify.ok, "{verify:?}");
    // Running it again finds nothing left to do.
    let again = f.engine.revert(&reviewer(), &req(Selector::run("bad").unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!((again.reverted.len(), again.skipped), (0, 51));
}

async fn revert_skips_field_changed_since_and_reports_conflict_unless_forced(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let first = f.call("set_status", Some("1"), &[("status", "solved")]).await.change_id.unwrap();
    f.store.execute_script(&["UPDATE tickets SET status = 'pending' WHERE id = 1"]).await.unwrap();
    let r =
        f.engine.revert(&reviewer(), &req(Selector::ids([first.clone()]).unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted.len(), 0);
    assert_eq!(r.skipped, 1);
    assert_eq!(r.conflicts[0].field, "status");
    assert_eq!((r.conflicts[0].expected.clone(), r.conflicts[0].current.clone()), (json!("solved"), json!("pending")));
    assert_eq!(f.get("tickets", "1", "status").await, json!("pending"));
    let forced = f
        .engine
        .revert(
            &reviewer(),
            &RevertRequest {
                selector: Selector::ids([first]).unwrap(),
                dry_run: false,
                force: true,
                batch_max: leash_engine::REVERT_BATCH_MAX,
            },
            |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(forced.reverted.len(), 1);
    assert_eq!(f.get("tickets", "1", "status").await, json!("open"));
}

async fn a_revert_is_a_journaled_change_that_can_itself_be_reverted(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let id = f.call("set_status", Some("1"), &[("status", "solved")]).await.change_id.unwrap();
    let undo =
        f.engine.revert(&reviewer(), &req(Selector::ids([id.clone()]).unwrap(), false), |_, _| {}).await.unwrap();
    let undo_id = undo.revert_change_ids[0].clone();
    let row = f.store.change(&undo_id).await.unwrap().unwrap();
    assert_eq!(row.reverts.as_deref(), Some(id.as_str()));
    assert_eq!(f.store.change(&id).await.unwrap().unwrap().reverted_by.as_deref(), Some(undo_id.as_str()));
    let redo = f
        .engine
        .revert(&reviewer(), &req(Selector::run(&undo.revert_run_id.unwrap()).unwrap(), false), |_, _| {})
        .await
        .unwrap();
    assert_eq!(redo.reverted, vec![undo_id]);
    assert_eq!(f.get("tickets", "1", "status").await, json!("solved"));
    assert!(f.engine.verify().await.unwrap().ok);
}

async fn revert_of_append_deletes_exactly_the_inserted_row_and_keeps_its_content(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let keep = f.call("add_note", None, &[("ticket_id", "1"), ("body", "keep me")]).await;
    let bad = f.call("add_note", None, &[("ticket_id", "1"), ("body", "wrong ticket")]).await.change_id.unwrap();
    let r = f.engine.revert(&reviewer(), &req(Selector::ids([bad.clone()]).unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted, vec![bad.clone()]);
    let bad_key = f.store.change(&bad).await.unwrap().unwrap().record_key;
    assert_eq!(f.get("notes", &bad_key, "body").await, json!(null), "row deleted");
    let keep_key = f.store.change(keep.change_id.as_ref().unwrap()).await.unwrap().unwrap().record_key;
    assert_eq!(f.get("notes", &keep_key, "body").await, json!("keep me"));
    let undo = f.store.change(&r.revert_change_ids[0]).await.unwrap().unwrap();
    assert_eq!(undo.op, Op::Delete);
    assert!(
        undo.fields.iter().any(|x| x.field == "body" && x.old == json!("wrong ticket")),
        "journal keeps the content"
    );
    // And the deletion can be undone: the row comes back with its key.
    f.engine.revert(&reviewer(), &req(Selector::ids([undo.id]).unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!(f.get("notes", &bad_key, "body").await, json!("wrong ticket"));
    assert!(f.engine.verify().await.unwrap().ok);
}

async fn revert_by_action_and_time_by_actor_and_by_proposal(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    f.call("set_status", Some("1"), &[("status", "solved")]).await;
    f.call("fix_customer", Some("1"), &[("zip", "11222")]).await;
    let since = parse_time("2026-11-25", f.engine.clock().now()).unwrap();
    let by_action = Selector::action("set_status", &since, None).unwrap();
    let r = f.engine.revert(&reviewer(), &req(by_action.clone(), false), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted.len(), 1);
    // Asking again does not undo the revert (which would re-apply the change).
    let again = f.engine.revert(&reviewer(), &req(by_action, false), |_, _| {}).await.unwrap();
    assert_eq!((again.reverted.len(), again.skipped), (0, 1));
    assert_eq!(f.get("tickets", "1", "status").await, json!("open"));
    assert_eq!(f.get("customers", "1", "zip").await, json!("11222"), "other actions untouched");
    let before = Selector::action("fix_customer", "2020-01-01T00:00:00.000000Z", Some(&since)).unwrap();
    assert!(f.engine.revert(&reviewer(), &req(before, false), |_, _| {}).await.unwrap().reverted.is_empty());
    let r = f.engine.revert(&reviewer(), &req(Selector::actor("assistant").unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted.len(), 1);
    assert_eq!(f.get("customers", "1", "zip").await, json!("11211"));

    let id = f.call("review_status", Some("4"), &[("status", "solved")]).await.proposal_id.unwrap();
    f.engine.approve(&reviewer(), &id, Default::default(), None).await.unwrap();
    let r = f.engine.revert(&reviewer(), &req(Selector::proposal(&id).unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted.len(), 1);
    assert_eq!(f.get("tickets", "4", "status").await, json!("pending"));
    assert!(
        f.engine.revert(&agent(), &req(Selector::actor("x").unwrap(), true), |_, _| {}).await.is_err(),
        "agents cannot revert"
    );
}

async fn verify_finds_drift_and_tampered_journal_rows(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    f.call("set_status", Some("1"), &[("status", "solved")]).await;
    f.call("set_status", Some("1"), &[("status", "pending")]).await;
    f.call("set_status", Some("4"), &[("status", "solved")]).await;
    assert!(f.engine.verify().await.unwrap().ok);

    f.store.execute_script(&["UPDATE tickets SET status = 'open' WHERE id = 4"]).await.unwrap();
    let v = f.engine.verify().await.unwrap();
    assert!(!v.ok);
    assert_eq!(v.drift.len(), 1);
    assert_eq!(
        (v.drift[0].record_key.as_str(), v.drift[0].journal.clone(), v.drift[0].current.clone()),
        ("4", json!("solved"), json!("open"))
    );

    // The journal refuses edits; someone with the database drops the guard.
    let blocked = f.store.execute_script(&["UPDATE leash_changes SET fields = '[]' WHERE record_key = '1'"]).await;
    assert!(blocked.is_err(), "journal rows are never rewritten");
    let deleting = f.store.execute_script(&["DELETE FROM leash_changes"]).await;
    assert!(deleting.is_err(), "journal rows are never deleted");
    drop_journal_guard(&f).await;
    f.store
        .execute_script(&["UPDATE leash_changes SET fields = replace(fields, 'solved', 'open') WHERE record_key = '1'"])
        .await
        .unwrap();
    let v = f.engine.verify().await.unwrap();
    assert!(v.chain_breaks.iter().any(|b| b.record_key == "1"), "{v:?}");
}

async fn journal_failure_leaves_the_record_unchanged(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    // Make the journal insert fail for one record, after the UPDATE ran.
    fail_journal_for(&f, "4").await;
    let err = f.engine.call(&agent(), "set_status", call(Some("4"), &[("status", "solved")])).await;
    assert!(err.is_err(), "{err:?}");
    assert_eq!(f.get("tickets", "4", "status").await, json!("pending"), "no change without its journal row");
    assert!(f.changes().await.is_empty());
    assert_eq!(f.call("set_status", Some("1"), &[("status", "solved")]).await.outcome, Outcome::Applied);
}

conformance!(
    approval_with_edit_applies_and_journals_approver_and_edit,
    approval_still_enforces_hard_rules_on_edits,
    approving_after_the_record_changed_is_stale_and_overwrites_nothing,
    reject_records_reviewer_and_note_and_agents_cannot_review,
    approved_append_proposal_inserts_the_row,
    batch_revert_by_run_restores_every_record_newest_first,
    revert_skips_field_changed_since_and_reports_conflict_unless_forced,
    a_revert_is_a_journaled_change_that_can_itself_be_reverted,
    revert_of_append_deletes_exactly_the_inserted_row_and_keeps_its_content,
    revert_by_action_and_time_by_actor_and_by_proposal,
    verify_finds_drift_and_tampered_journal_rows,
    journal_failure_leaves_the_record_unchanged,
);

//! The write path on a real database: every outcome and error code of
//! docs/policy.md the store can produce, and messy records.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use leash_core::call::CallResult;
use leash_core::codes::{Code, Outcome, ReviewReason};
use leash_engine::{Caller, Clock, Role};
use leash_store::Written;
use serde_json::json;

#[track_caller]
fn rejected(r: &CallResult, code: Code) {
    assert_eq!(r.outcome, Outcome::Rejected, "{r:?}");
    assert_eq!(r.code, Some(code), "{r:?}");
    assert!(!r.message.is_empty());
}

#[track_caller]
fn review(r: &CallResult, reason: ReviewReason) {
    assert_eq!(r.outcome, Outcome::PendingReview, "{r:?}");
    assert!(r.reasons.contains(&reason), "{r:?}");
    assert!(r.proposal_id.is_some());
    assert!(!r.notes.is_empty(), "a person must get a note: {r:?}");
}

async fn applied_change_writes_record_and_journal_row_with_old_and_new(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let r = f.call("set_status", Some("1"), &[("status", "needs_reply")]).await;
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    assert_eq!(f.get("tickets", "1", "status").await, json!("needs_reply"));
    let changes = f.changes().await;
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(Some(&c.id), r.change_id.as_ref());
    assert_eq!((c.fields[0].old.clone(), c.fields[0].new.clone()), (json!("open"), json!("needs_reply")));
    assert_eq!(c.actor, "assistant");
    assert_eq!(c.policy_hash, f.engine.policy().action("set_status").unwrap().hash);
}

async fn same_value_is_unchanged_and_writes_nothing(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let r = f.call("set_status", Some("1"), &[("status", "open")]).await;
    assert_eq!(r.outcome, Outcome::Unchanged);
    assert!(f.changes().await.is_empty());
}

async fn unknown_action_and_unpermitted_agent_are_refused(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    rejected(&f.call("drop_everything", Some("1"), &[("status", "open")]).await, Code::UnknownAction);
    let narrow = Caller { name: "narrow".into(), role: Role::Agent, actions: vec!["add_note".into()] };
    let r = f.engine.call(&narrow, "set_status", call(Some("1"), &[("status", "solved")])).await.unwrap();
    rejected(&r, Code::NotPermitted);
    assert_eq!(f.get("tickets", "1", "status").await, json!("open"));
}

async fn unknown_token_name_is_not_permitted(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let err = f.engine.caller_named("ghost").await.unwrap_err();
    assert!(matches!(err, leash_engine::EngineError::Forbidden(_)), "{err}");
    let admin = Caller::local("admin");
    f.engine.create_token(&admin, "bot", Role::Agent, vec!["set_status".into()]).await.unwrap();
    let bot = f.engine.caller_named("bot").await.unwrap();
    rejected(
        &f.engine.call(&bot, "add_note", call(None, &[("ticket_id", "1"), ("body", "x")])).await.unwrap(),
        Code::NotPermitted,
    );
    f.engine.revoke_token(&admin, "bot").await.unwrap();
    assert!(f.engine.caller_named("bot").await.is_err());
}

async fn malformed_calls_are_invalid_input(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    rejected(&f.call("set_status", Some("1"), &[]).await, Code::InvalidInput);
    rejected(&f.call("set_status", None, &[("status", "open")]).await, Code::InvalidInput);
    rejected(&f.call("adjust_invoice", Some("1"), &[("seats", "many")]).await, Code::InvalidInput);
    rejected(&f.call("add_note", Some("1"), &[("ticket_id", "1"), ("body", "x")]).await, Code::InvalidInput);
    let mut nested = call(Some("1"), &[]);
    nested.set.insert("status".into(), json!({"$ne": null}));
    rejected(&f.engine.call(&agent(), "set_status", nested).await.unwrap(), Code::InvalidInput);
    assert!(f.changes().await.is_empty());
}

async fn field_the_action_does_not_list_is_refused(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    rejected(&f.call("set_status", Some("1"), &[("locked", "false")]).await, Code::FieldNotAllowed);
    assert_eq!(f.get("tickets", "2", "locked").await, json!(true));
}

async fn value_outside_closed_set_and_sql_in_value_change_nothing(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    rejected(&f.call("set_status", Some("1"), &[("status", "urgent")]).await, Code::ValueNotAllowed);
    rejected(
        &f.call("set_status", Some("1"), &[("status", "'; DROP TABLE customers; --")]).await,
        Code::ValueNotAllowed,
    );
    // A field without a closed set stores SQL text as plain text: bound, never run.
    let r = f.call("add_note", None, &[("ticket_id", "1"), ("body", "'; DROP TABLE customers; --")]).await;
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    assert_eq!(f.get("customers", "1", "name").await, json!("ann lee"), "customers table intact");
    let key = f.changes().await[0].record_key.clone();
    assert_eq!(f.get("notes", &key, "body").await, json!("'; DROP TABLE customers; --"));
}

async fn numbers_and_dates_outside_their_range_are_refused(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    rejected(&f.call("adjust_invoice", Some("1"), &[("seats", "51")]).await, Code::OutOfRange);
    rejected(&f.call("adjust_invoice", Some("1"), &[("due_date", "2031-01-01")]).await, Code::OutOfRange);
    let r = f.call("adjust_invoice", Some("1"), &[("seats", "50")]).await;
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    assert_eq!(f.get("invoices", "1", "seats").await, json!(50));
}

async fn pattern_length_and_required_context_are_enforced(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    rejected(&f.call("fix_customer", Some("1"), &[("zip", "1121")]).await, Code::PatternMismatch);
    rejected(&f.call("fix_customer", Some("1"), &[("name", "Ann Lee With A Very Long Name")]).await, Code::TooLong);
    let mut no_reason = call(Some("1"), &[("zip", "11222")]);
    no_reason.reason = None;
    rejected(&f.engine.call(&agent(), "fix_customer", no_reason).await.unwrap(), Code::MissingRequired);
    let mut no_evidence = call(Some("1"), &[("region", "NY")]);
    no_evidence.evidence = Some("  ".into());
    rejected(&f.engine.call(&agent(), "copy_region", no_evidence).await.unwrap(), Code::MissingRequired);
}

async fn blank_fields_are_filled_but_never_overwritten_or_blanked(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    assert_eq!(f.call("fix_customer", Some("1"), &[("nickname", "Annie")]).await.outcome, Outcome::Applied);
    rejected(&f.call("fix_customer", Some("2"), &[("nickname", "Rob")]).await, Code::NotEmpty);
    rejected(&f.call("fix_customer", Some("2"), &[("email", "")]).await, Code::WouldBlank);
    // allow_blank lets the owner permit it.
    assert_eq!(f.call("fix_customer", Some("1"), &[("phone", "")]).await.outcome, Outcome::Applied);
    assert_eq!(f.get("customers", "1", "phone").await, json!(null));
    assert_eq!(f.get("customers", "2", "nickname").await, json!("Bobby"));
}

async fn missing_key_locked_record_and_false_condition_are_refused(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    rejected(&f.call("set_status", Some("9999"), &[("status", "open")]).await, Code::RecordNotFound);
    rejected(&f.call("set_status", Some("2"), &[("status", "solved")]).await, Code::RecordLocked);
    rejected(&f.call("set_status", Some("3"), &[("status", "open")]).await, Code::ConditionFalse);
}

async fn expect_that_no_longer_holds_is_stale_record(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let mut c = call(Some("1"), &[("status", "solved")]);
    c.expect = Some(serde_json::from_value(json!({"status": "pending"})).unwrap());
    rejected(&f.engine.call(&agent(), "set_status", c.clone()).await.unwrap(), Code::StaleRecord);
    c.expect = Some(serde_json::from_value(json!({"status": "open"})).unwrap());
    assert_eq!(f.engine.call(&agent(), "set_status", c).await.unwrap().outcome, Outcome::Applied);
}

async fn the_101st_record_of_a_run_capped_at_100_is_refused(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    for i in 100..200 {
        let mut c = call(Some(&i.to_string()), &[("status", "pending")]);
        c.run_id = Some("nightly".into());
        assert_eq!(f.engine.call(&agent(), "set_status", c).await.unwrap().outcome, Outcome::Applied);
    }
    let mut c = call(Some("200"), &[("status", "pending")]);
    c.run_id = Some("nightly".into());
    rejected(&f.engine.call(&agent(), "set_status", c.clone()).await.unwrap(), Code::LimitRun);
    assert_eq!(f.get("tickets", "200", "status").await, json!("open"));
    c.run_id = Some("another-run".into());
    assert_eq!(f.engine.call(&agent(), "set_status", c).await.unwrap().outcome, Outcome::Applied);
}

async fn per_hour_cap_refuses_then_resets_next_hour(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    for key in ["1", "2", "3"] {
        assert_eq!(f.call("adjust_invoice", Some(key), &[("seats", "7")]).await.outcome, Outcome::Applied);
    }
    rejected(&f.call("adjust_invoice", Some("1"), &[("seats", "8")]).await, Code::LimitHour);
    // A rejection does not use up the cap: the count stays at 3, not 4.
    let later = leash_engine::Engine::open(leash_core::policy::parse_policy("t", POLICY).unwrap(), f.store.clone())
        .await
        .unwrap()
        .with_clock(Clock::fixed("2026-11-25T16:00:00Z".parse().unwrap()));
    assert_eq!(
        later.call(&agent(), "adjust_invoice", call(Some("1"), &[("seats", "8")])).await.unwrap().outcome,
        Outcome::Applied
    );
}

async fn write_outside_the_window_is_refused(kind: Kind) {
    // Saturday 2026-11-28 15:00 UTC = 10:00 in New York, but a weekend.
    let Some(f) = fixture_with(kind, POLICY, Clock::fixed("2026-11-28T15:00:00Z".parse().unwrap())).await else {
        return;
    };
    rejected(&f.call("office_hours_status", Some("1"), &[("status", "solved")]).await, Code::OutsideWindow);
    let Some(weekday) = fixture(kind).await else { return };
    assert_eq!(weekday.call("office_hours_status", Some("1"), &[("status", "solved")]).await.outcome, Outcome::Applied);
}

async fn pause_stops_calls_until_resumed(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let admin = Caller::local("ops");
    f.engine.pause(&admin, Some("set_status"), "bad batch").await.unwrap();
    rejected(&f.call("set_status", Some("1"), &[("status", "solved")]).await, Code::Paused);
    assert_eq!(f.call("fix_customer", Some("1"), &[("zip", "11222")]).await.outcome, Outcome::Applied);
    f.engine.pause(&admin, None, "incident").await.unwrap();
    rejected(&f.call("fix_customer", Some("1"), &[("zip", "11223")]).await, Code::Paused);
    f.engine.resume(&admin, None, "over").await.unwrap();
    f.engine.resume(&admin, Some("set_status"), "fixed").await.unwrap();
    assert_eq!(f.call("set_status", Some("1"), &[("status", "solved")]).await.outcome, Outcome::Applied);
    let err = f.engine.pause(&agent(), None, "x").await.unwrap_err();
    assert!(matches!(err, leash_engine::EngineError::Forbidden(_)));
}

async fn review_reasons_each_reach_the_queue_with_a_note(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    review(&f.call("review_status", Some("1"), &[("status", "solved")]).await, ReviewReason::ModeReview);
    review(&f.call("fix_customer", Some("1"), &[("name", "Anne Lee")]).await, ReviewReason::NotMechanical);
    review(&f.call("adjust_invoice", Some("1"), &[("amount", "150")]).await, ReviewReason::SensitiveField);
    review(&f.call("fix_customer", Some("4"), &[("email", "jon2@smith.test")]).await, ReviewReason::DuplicateValue);
    review(&f.call("copy_region", Some("3"), &[("region", "NY")]).await, ReviewReason::MissingContext);
    review(&f.call("fix_customer", Some("3"), &[("email", "DANA@wu.test")]).await, ReviewReason::ReviewIf);
    let mut unsure = call(Some("1"), &[("zip", "11222")]);
    unsure.confidence = Some(0.5);
    review(&f.engine.call(&agent(), "fix_customer", unsure).await.unwrap(), ReviewReason::LowConfidence);
    let s = f.call("suggest_status", Some("1"), &[("status", "solved")]).await;
    assert_eq!(s.outcome, Outcome::Suggested);
    assert_eq!(f.engine.queue(&reviewer()).await.unwrap().len(), 8);
    assert!(f.changes().await.is_empty(), "nothing lands while it waits");
    assert_eq!(f.get("customers", "1", "name").await, json!("ann lee"));
}

async fn mechanical_rewrite_lands_and_from_rule_allows_only_its_value(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    assert_eq!(f.call("fix_customer", Some("1"), &[("email", "Ann@example.com")]).await.outcome, Outcome::Applied);
    assert_eq!(f.call("fix_customer", Some("1"), &[("name", "Ann Lee")]).await.outcome, Outcome::Applied);
    // A formatted value is written in its standard spelling, or refused naming it.
    let r = f.call("fix_customer", Some("2"), &[("email", " bob@STONE.test ")]).await;
    rejected(&r, Code::NotCanonical);
    assert!(r.message.contains("send `bob@stone.test`"), "{}", r.message);
    rejected(&f.call("copy_region", Some("1"), &[("region", "CA")]).await, Code::ValueNotAllowed);
    assert_eq!(f.call("copy_region", Some("1"), &[("region", "NY")]).await.outcome, Outcome::Applied);
}

async fn retry_with_idempotency_key_returns_first_outcome_and_writes_once(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let mut c = call(Some("1"), &[("status", "solved")]);
    c.idempotency_key = Some("c-1-1".into());
    let first = f.engine.call(&agent(), "set_status", c.clone()).await.unwrap();
    let again = f.engine.call(&agent(), "set_status", c.clone()).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(f.changes().await.len(), 1);
    // Even a refusal is remembered: the retry does not get a different answer.
    let mut bad = call(Some("1"), &[("status", "nope")]);
    bad.idempotency_key = Some("c-1-2".into());
    let r1 = f.engine.call(&agent(), "set_status", bad.clone()).await.unwrap();
    rejected(&r1, Code::ValueNotAllowed);
    assert_eq!(f.engine.call(&agent(), "set_status", bad).await.unwrap(), r1);
}

async fn duplicate_names_old_records_and_conflicting_values_are_handled_per_record(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    // Two customers share a name; the key picks exactly one.
    assert_eq!(f.call("fix_customer", Some("5"), &[("zip", "90029")]).await.outcome, Outcome::Applied);
    assert_eq!(f.get("customers", "4", "zip").await, json!("90028"));
    // One good and one bad field in a call: the call is refused whole.
    rejected(&f.call("fix_customer", Some("2"), &[("zip", "97202"), ("nickname", "Rob")]).await, Code::NotEmpty);
    assert_eq!(f.get("customers", "2", "zip").await, json!("97201"));
}

/// The store's compare-and-set with its journal row: a mismatch writes
/// neither, even if the transaction is then committed.
async fn stale_compare_and_set_writes_neither_row_nor_journal_row(kind: Kind) {
    use leash_core::call::FieldChange;
    use leash_core::journal::{Change, Op};
    let Some(f) = fixture(kind).await else { return };
    let table = f.store.table_schema("tickets").await.unwrap().unwrap();
    let change = |old: &str| {
        let mut c = Change {
            id: format!("01TEST{old}"),
            at: "2026-11-25T15:00:00Z".into(),
            action: "set_status".into(),
            policy_hash: "p".into(),
            table_name: "tickets".into(),
            record_key: "1".into(),
            op: Op::Update,
            fields: vec![FieldChange { field: "status".into(), old: json!(old), new: json!("solved") }],
            actor: "assistant".into(),
            approver: None,
            reason: None,
            evidence: None,
            confidence: None,
            run_id: None,
            proposal_id: None,
            reverts: None,
            reverted_by: None,
            watch: false,
            prev_hash: None,
            hash: String::new(),
        };
        c.seal(None);
        c
    };
    let mut tx = f.store.begin().await.unwrap();
    assert_eq!(
        tx.update_with_change(&table, &leash_core::policy::Key::single("id"), &change("pending")).await.unwrap(),
        Written::Stale
    );
    tx.commit().await.unwrap();
    assert_eq!(f.get("tickets", "1", "status").await, json!("open"));
    assert!(f.changes().await.is_empty(), "no journal row for a write that did not happen");

    let mut tx = f.store.begin().await.unwrap();
    assert_eq!(
        tx.update_with_change(&table, &leash_core::policy::Key::single("id"), &change("open")).await.unwrap(),
        Written::Journaled
    );
    tx.commit().await.unwrap();
    assert_eq!(f.get("tickets", "1", "status").await, json!("solved"));
    let changes = f.changes().await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0], change("open"), "the journal row reads back exactly as written");
    assert!(f.engine.verify().await.unwrap().chain_breaks.is_empty());
}

/// A second engine (another process) has none of the first one's caches:
/// its first statements read the approval and the stored outcome of a key.
async fn a_fresh_engine_reads_approvals_and_stored_outcomes(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let mut keyed = call(Some("1"), &[("status", "solved")]);
    keyed.idempotency_key = Some("k-1".into());
    let first = f.engine.call(&agent(), "set_status", keyed.clone()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Applied);
    let policy = leash_core::policy::parse_policy("test.toml", POLICY).unwrap();
    let other = leash_engine::Engine::open(policy, f.store.clone()).await.unwrap();
    assert_eq!(other.call(&agent(), "set_status", keyed).await.unwrap(), first, "the stored outcome, not a new call");
    let r = other.call(&agent(), "set_status", call(Some("100"), &[("status", "solved")])).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
    assert_eq!(f.changes().await.len(), 2);
}

conformance!(
    a_fresh_engine_reads_approvals_and_stored_outcomes,
    stale_compare_and_set_writes_neither_row_nor_journal_row,
    applied_change_writes_record_and_journal_row_with_old_and_new,
    same_value_is_unchanged_and_writes_nothing,
    unknown_action_and_unpermitted_agent_are_refused,
    unknown_token_name_is_not_permitted,
    malformed_calls_are_invalid_input,
    field_the_action_does_not_list_is_refused,
    value_outside_closed_set_and_sql_in_value_change_nothing,
    numbers_and_dates_outside_their_range_are_refused,
    pattern_length_and_required_context_are_enforced,
    blank_fields_are_filled_but_never_overwritten_or_blanked,
    missing_key_locked_record_and_false_condition_are_refused,
    expect_that_no_longer_holds_is_stale_record,
    the_101st_record_of_a_run_capped_at_100_is_refused,
    per_hour_cap_refuses_then_resets_next_hour,
    write_outside_the_window_is_refused,
    pause_stops_calls_until_resumed,
    review_reasons_each_reach_the_queue_with_a_note,
    mechanical_rewrite_lands_and_from_rule_allows_only_its_value,
    retry_with_idempotency_key_returns_first_outcome_and_writes_once,
    duplicate_names_old_records_and_conflicting_values_are_handled_per_record,
);

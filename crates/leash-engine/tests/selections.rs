//! What a revert may select and who may run it (docs/api.md), on every
//! store: no empty or blank selection means "everything", a run id is its
//! token's own, and `[actions.review] only` bounds undo as it bounds approval.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use leash_core::codes::{Code, Outcome};
use leash_engine::{Caller, Clock, EngineError, RevertRequest, Role, Selector, SelectorFields, REVERT_BATCH_MAX};
use serde_json::json;

fn req(selector: Selector, dry_run: bool) -> RevertRequest {
    RevertRequest { selector, dry_run, force: false, batch_max: REVERT_BATCH_MAX }
}

fn bot(name: &str) -> Caller {
    Caller { name: name.into(), role: Role::Agent, actions: Vec::new() }
}

fn run_call(key: &str, status: &str, run: &str) -> leash_core::call::Call {
    leash_core::call::Call { run_id: Some(run.into()), ..call(Some(key), &[("status", status)]) }
}

/// A blank or empty change id, run, actor or action is refused before
/// anything is read; before, `[" "]` planned every change in the journal.
async fn blank_selections_are_refused_never_everything(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    for key in ["100", "101", "102"] {
        assert_eq!(f.call("set_status", Some(key), &[("status", "solved")]).await.outcome, Outcome::Applied);
    }
    let now = f.engine.clock().now();
    let blank_ids = [vec![" ".to_string()], vec![String::new()], vec![], vec!["01J".into(), "\t".into()]];
    for ids in blank_ids {
        let fields = SelectorFields { change_ids: Some(ids.clone()), ..SelectorFields::default() };
        let e = Selector::from_fields(fields, now).unwrap_err();
        assert!(matches!(e, EngineError::Invalid(_)), "{kind:?} {ids:?}: {e}");
    }
    for blank in ["", "  "] {
        for fields in [
            SelectorFields { run_id: Some(blank.into()), ..SelectorFields::default() },
            SelectorFields { actor: Some(blank.into()), ..SelectorFields::default() },
            SelectorFields { action: Some(blank.into()), since: Some("1h".into()), ..SelectorFields::default() },
            SelectorFields { proposal_id: Some(blank.into()), ..SelectorFields::default() },
        ] {
            assert!(Selector::from_fields(fields.clone(), now).is_err(), "{kind:?}: {fields:?}");
        }
    }
    // Nothing was planned or undone.
    assert!(f.changes().await.iter().all(|c| c.reverted_by.is_none()));
    assert_eq!(f.get("tickets", "100", "status").await, json!("solved"));
}

/// Two tokens that use the same run id have two runs: each its own cap, and
/// a revert of "the run" must say whose.
async fn a_run_belongs_to_the_token_that_made_it(kind: Kind) {
    let policy = POLICY.replacen("per_run = 100", "per_run = 2", 1);
    let Some(f) = fixture_with(kind, &policy, Clock::fixed("2026-11-25T15:00:00Z".parse().unwrap())).await else {
        return;
    };
    let (a, b) = (bot("bot-a"), bot("bot-b"));
    for (who, keys) in [(&a, ["100", "101", "102"]), (&b, ["200", "201", "202"])] {
        let mut outcomes = Vec::new();
        for key in keys {
            outcomes.push(f.engine.call(who, "set_status", run_call(key, "solved", "nightly")).await.unwrap());
        }
        let applied = outcomes.iter().filter(|r| r.outcome == Outcome::Applied).count();
        assert_eq!(applied, 2, "{kind:?} {}: its own cap of 2: {outcomes:?}", who.name);
        assert_eq!(outcomes[2].code, Some(Code::LimitRun), "{kind:?}");
    }
    let e = f.engine.revert(&reviewer(), &req(Selector::run("nightly").unwrap(), true), |_, _| {}).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("bot-a") && text.contains("bot-b") && text.contains("actor"), "{kind:?}: {text}");
    let fields = SelectorFields { run_id: Some("nightly".into()), actor: Some("bot-b".into()), ..Default::default() };
    let whose = Selector::from_fields(fields, f.engine.clock().now()).unwrap();
    let r = f.engine.revert(&reviewer(), &req(whose, false), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted.len(), 2, "{kind:?}: bot-b's run only: {r:?}");
    assert_eq!(f.get("tickets", "200", "status").await, json!("open"));
    assert_eq!(f.get("tickets", "100", "status").await, json!("solved"), "{kind:?}: bot-a's run untouched");
    // One token's run alone reverts by its id, as before.
    let solo = f.engine.call(&a, "set_status", run_call("300", "solved", "solo")).await.unwrap();
    assert_eq!(solo.outcome, Outcome::Applied);
    let r = f.engine.revert(&reviewer(), &req(Selector::run("solo").unwrap(), false), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted.len(), 1);
}

/// Where `[actions.review] only` is set, only those names, the exception
/// approver and admins may revert the action's changes; other reviewers
/// are refused, even a dry run, and nothing is undone.
async fn only_bounds_who_may_undo(kind: Kind) {
    let policy = POLICY.replacen(
        "  [actions.fields.amount]\n  sensitive = \"money\"",
        "  [actions.review]\n  only = [\"dana\"]\n  [actions.fields.amount]\n  sensitive = \"money\"",
        1,
    );
    let policy =
        policy.replacen("name = \"adjust_invoice\"", "name = \"adjust_invoice\"\nexception_approver = \"cfo\"", 1);
    let policy = format!(
        "{policy}\n[[actions]]\nname = \"fix_seats\"\nsummary = \"Fix an invoice's seats.\"\ntable = \"invoices\"\n\
         key = \"id\"\nmode = \"direct\"\n  [actions.fields.seats]\n  range = [1, 50]\n"
    );
    assert!(policy.contains("only = [\"dana\"]") && policy.contains("exception_approver = \"cfo\""));
    let Some(f) = fixture_with(kind, &policy, Clock::fixed("2026-11-25T15:00:00Z".parse().unwrap())).await else {
        return;
    };
    let r = f.call("adjust_invoice", Some("1"), &[("seats", "7")]).await;
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let id = r.change_id.unwrap();
    for dry_run in [true, false] {
        let e = f.engine.revert(&reviewer(), &req(Selector::change(&id).unwrap(), dry_run), |_, _| {}).await;
        let e = e.unwrap_err();
        assert!(matches!(e, EngineError::Forbidden(_)), "{kind:?}: {e}");
        assert!(e.to_string().contains("dana, cfo"), "{e}");
    }
    assert_eq!(f.get("invoices", "1", "seats").await.to_string().trim_matches('"'), "7", "{kind:?}: not undone");
    let by_actor = Selector::actor("assistant").unwrap();
    assert!(f.engine.revert(&reviewer(), &req(by_actor, true), |_, _| {}).await.is_err(), "{kind:?}: by actor too");
    for (who, role) in [("dana", Role::Reviewer), ("cfo", Role::Reviewer), ("ops", Role::Admin)] {
        let caller = Caller { name: who.into(), role, actions: Vec::new() };
        let plan = f.engine.revert(&caller, &req(Selector::change(&id).unwrap(), true), |_, _| {}).await.unwrap();
        assert_eq!(plan.reverted, vec![id.clone()], "{kind:?} {who}");
    }
    // A forced revert of another action's change may not overwrite a later
    // change of this one by the back door; unforced, it is a conflict.
    let older = f.call("fix_seats", Some("2"), &[("seats", "8")]).await;
    let protected = f.call("adjust_invoice", Some("2"), &[("seats", "9")]).await;
    assert_eq!((older.outcome, protected.outcome), (Outcome::Applied, Outcome::Applied), "{kind:?}");
    let forced =
        RevertRequest { force: true, ..req(Selector::change(older.change_id.as_ref().unwrap()).unwrap(), false) };
    let e = f.engine.revert(&reviewer(), &forced, |_, _| {}).await.unwrap_err();
    assert!(e.to_string().contains("would overwrite change"), "{kind:?}: {e}");
    let unforced = req(Selector::change(older.change_id.as_ref().unwrap()).unwrap(), false);
    let r = f.engine.revert(&reviewer(), &unforced, |_, _| {}).await.unwrap();
    assert_eq!((r.reverted.len(), r.conflicts.len()), (0, 1), "{kind:?}: {r:?}");
    assert_eq!(f.get("invoices", "2", "seats").await.to_string().trim_matches('"'), "9", "{kind:?}: kept");
    // Other actions' changes stay revertible by any reviewer.
    let other = f.call("set_status", Some("100"), &[("status", "solved")]).await;
    let sel = Selector::change(&other.change_id.unwrap()).unwrap();
    assert_eq!(f.engine.revert(&reviewer(), &req(sel, false), |_, _| {}).await.unwrap().reverted.len(), 1);
}

/// Runs, actors and idempotency keys are compared exactly on every store
/// (MariaDB's default collation made `Night` and `níght` one run to a filter
/// and two to a cap, and `K` and `k` one idempotency key).
async fn names_that_select_compare_exactly(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let a = bot("bot-a");
    for (key, run) in [("100", "Night"), ("101", "níght"), ("102", "night")] {
        let r = f.engine.call(&a, "set_status", run_call(key, "solved", run)).await.unwrap();
        assert_eq!(r.outcome, Outcome::Applied, "{kind:?}");
    }
    let r = f.engine.revert(&reviewer(), &req(Selector::run("night").unwrap(), true), |_, _| {}).await.unwrap();
    assert_eq!(r.reverted.len(), 1, "{kind:?}: one run, not three: {r:?}");
    let r = f.engine.revert(&reviewer(), &req(Selector::actor("BOT-A").unwrap(), true), |_, _| {}).await.unwrap();
    assert!(r.reverted.is_empty(), "{kind:?}: BOT-A is not bot-a");
    for (key, idem) in [("103", "K"), ("104", "k")] {
        let c =
            leash_core::call::Call { idempotency_key: Some(idem.into()), ..call(Some(key), &[("status", "solved")]) };
        let r = f.engine.call(&a, "set_status", c).await.unwrap();
        assert_eq!(r.outcome, Outcome::Applied, "{kind:?} {idem}: a key of its own, not a retry of the other");
    }
    assert_eq!(f.get("tickets", "104", "status").await, json!("solved"), "{kind:?}");
}

conformance!(
    blank_selections_are_refused_never_everything,
    a_run_belongs_to_the_token_that_made_it,
    only_bounds_who_may_undo,
    names_that_select_compare_exactly,
);

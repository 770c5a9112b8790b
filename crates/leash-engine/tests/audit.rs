//! `leash audit` on every store: a loose policy, changes made under it, a
//! tightened one, exactly the changes it refuses, and undoing those.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use leash_core::codes::Code;
use leash_core::policy::{parse_policy, Policy};
use leash_engine::{AuditRequest, Caller, EngineError, RevertRequest, Selector};
use serde_json::json;

/// `solved` is no longer the agent's to set; nothing reads a field the
/// change did not write.
const TIGHT: &str = r#"
[[actions]]
name = "set_status"
summary = "Set a ticket's status, never to solved."
table = "tickets"
key = "id"
mode = "direct"
when = "record.status != 'closed'"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending"]
"#;

fn policy(text: &str) -> Policy {
    parse_policy("tight.toml", text).unwrap()
}

fn only_status() -> AuditRequest {
    AuditRequest { action: Some("set_status".into()), ..AuditRequest::default() }
}

/// Five changes under the loose policy; the last one is already reverted.
async fn history(f: &Fixture) -> Vec<String> {
    let mut ids = Vec::new();
    for (key, status) in
        [("100", "solved"), ("101", "pending"), ("102", "solved"), ("103", "needs_reply"), ("104", "solved")]
    {
        let r = f.call("set_status", Some(key), &[("status", status)]).await;
        ids.push(
            r.change_id.clone().unwrap_or_else(|| panic!("{:?}: {key} applies under the loose policy: {r:?}", f.kind)),
        );
    }
    let undo = RevertRequest {
        selector: Selector::ids([ids[4].clone()]).unwrap(),
        dry_run: false,
        force: false,
        batch_max: 10,
    };
    let r = f.engine.revert(&reviewer(), &undo, |_, _| {}).await.unwrap();
    assert_eq!(r.reverted, vec![ids[4].clone()]);
    ids
}

async fn a_tightened_rule_refuses_exactly_the_changes_it_forbids_and_reverts_the_rest(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let ids = history(&f).await;
    let tight = policy(TIGHT);
    let report = f.engine.audit(&reviewer(), Some(&tight), &only_status()).await.unwrap();
    assert_eq!(report.policy_hash, tight.hash);
    assert_eq!(report.checked, 4, "{kind:?}: the reverted change and the revert itself are not judged");
    let refused: Vec<&str> = report.refused.iter().map(|r| r.change_id.as_str()).collect();
    assert_eq!(refused, [ids[0].as_str(), ids[2].as_str()], "{kind:?}");
    assert!(report.refused.iter().all(|r| r.code == Code::ValueNotAllowed && r.record_key != "104"), "{report:?}");
    assert!(report.refused[0].message.contains("solved") || report.refused[0].message.contains("one of"), "{report:?}");
    let tally = &report.actions[0];
    assert_eq!(
        (tally.name.as_str(), tally.checked, tally.would_apply, tally.would_review, tally.would_refuse),
        ("set_status", 4, 2, 0, 2)
    );
    assert!(report.approximate.is_empty(), "{kind:?}: `when` reads only the journaled status");
    assert!(report.revert.is_none());

    // The current policy allowed all of them: a clean compliance check.
    let now = f.engine.audit(&reviewer(), None, &only_status()).await.unwrap();
    assert_eq!((now.checked, now.refused.len()), (4, 0), "{kind:?}");
    assert_eq!(now.approximate.len(), 4, "{kind:?}: `locked_if` reads `locked`, which no change journaled");

    // A person edits ticket 102 since (through leash): its revert is a conflict.
    let person =
        f.engine.call(&Caller::local("dana"), "set_status", call(Some("102"), &[("status", "pending")])).await.unwrap();
    assert!(person.change_id.is_some(), "{person:?}");

    let before = f.changes().await.len();
    let plan = AuditRequest { revert_refused: true, dry_run: true, ..only_status() };
    let planned = f.engine.audit(&reviewer(), Some(&tight), &plan).await.unwrap();
    let revert = planned.revert.as_ref().unwrap();
    assert!(revert.dry_run);
    assert_eq!(revert.reverted, vec![ids[0].clone()], "{kind:?}: {revert:?}");
    assert_eq!(revert.conflicts.len(), 1, "{kind:?}");
    assert_eq!(f.changes().await.len(), before, "{kind:?}: a dry run writes nothing");
    assert_eq!(f.get("tickets", "100", "status").await, json!("solved"));

    let run = AuditRequest { revert_refused: true, ..only_status() };
    let done = f.engine.audit(&reviewer(), Some(&tight), &run).await.unwrap();
    let refused: Vec<&str> = done.refused.iter().map(|r| r.change_id.as_str()).collect();
    assert_eq!(refused, [ids[0].as_str(), ids[2].as_str()], "{kind:?}: the person's own edit is allowed");
    let revert = done.revert.as_ref().unwrap();
    assert_eq!(revert.reverted, vec![ids[0].clone()], "{kind:?}");
    assert_eq!(revert.conflicts.len(), 1);
    assert_eq!(revert.conflicts[0].change_id, ids[2], "{kind:?}: the conflict is kept and reported");
    assert_eq!(revert.revert_change_ids.len(), 1);
    assert!(revert.revert_run_id.is_some(), "{kind:?}: journaled as one run");
    assert_eq!(f.get("tickets", "100", "status").await, json!("open"), "{kind:?}: undone");
    assert_eq!(f.get("tickets", "102", "status").await, json!("pending"), "{kind:?}: the person's value stays");
    let v = f.engine.verify().await.unwrap();
    assert!(v.ok, "{kind:?}: {v:?}");

    // Once reverted, a change is skipped; only the conflicting one is left.
    let after = f.engine.audit(&reviewer(), Some(&tight), &only_status()).await.unwrap();
    let refused: Vec<&str> = after.refused.iter().map(|r| r.change_id.as_str()).collect();
    assert_eq!(refused, [ids[2].as_str()], "{kind:?}");
    assert_eq!(after.checked, 4, "{kind:?}: 101, 102, 103 and the person's edit");
}

async fn limits_window_and_fields_read_from_now_are_replayed(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let ids = history(&f).await;
    // Three an hour: the fourth change of that hour (all share the test clock's) is over the cap.
    let capped = TIGHT.replace("\"pending\"]", "\"pending\", \"solved\"]\n  [actions.limits]\n  per_hour = 3");
    let r = f.engine.audit(&reviewer(), Some(&policy(&capped)), &only_status()).await.unwrap();
    let refused: Vec<(&str, Code)> = r.refused.iter().map(|r| (r.change_id.as_str(), r.code)).collect();
    assert_eq!(refused, [(ids[3].as_str(), Code::LimitHour)], "{kind:?}");
    // The test clock is a Wednesday morning in New York.
    let weekend = TIGHT.replace(
        "\"pending\"]",
        "\"pending\", \"solved\"]\n  [actions.limits]\n  window = \"sat-sun 09:00-18:00 America/New_York\"",
    );
    let r = f.engine.audit(&reviewer(), Some(&policy(&weekend)), &only_status()).await.unwrap();
    assert_eq!(r.refused.len(), 4, "{kind:?}");
    assert!(r.refused.iter().all(|c| c.code == Code::OutsideWindow), "{r:?}");
    // A condition on a field no change wrote reads it from now: listed approximate.
    let locked = TIGHT.replace(
        "when = \"record.status != 'closed'\"\n",
        "when = \"record.status != 'closed'\"\nlocked_if = \"record.locked == true\"\n",
    );
    let r = f.engine.audit(&reviewer(), Some(&policy(&locked)), &only_status()).await.unwrap();
    assert_eq!(r.approximate, ids[..4].to_vec(), "{kind:?}");
    // A range after every change holds none.
    let since = AuditRequest { since: Some("2099-01-01T00:00:00Z".into()), ..only_status() };
    assert_eq!(f.engine.audit(&reviewer(), None, &since).await.unwrap().checked, 0);
}

async fn an_audit_needs_a_reviewer_and_a_policy_that_fits_the_database(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    history(&f).await;
    let e = f.engine.audit(&agent(), None, &only_status()).await.unwrap_err();
    assert!(matches!(e, EngineError::Forbidden(_)), "{e:?}");
    let wrong = TIGHT.replace("[actions.fields.status]", "[actions.fields.colour]");
    let e = f.engine.audit(&reviewer(), Some(&policy(&wrong)), &only_status()).await.unwrap_err();
    assert!(matches!(e, EngineError::Schema(_)), "{kind:?}: {e:?}");
    assert!(e.to_string().contains("colour"), "{e}");
    // Nothing to refuse: --revert-refused reverts nothing (never "everything").
    let loose = AuditRequest { revert_refused: true, ..only_status() };
    let before = f.changes().await.len();
    let r = f.engine.audit(&reviewer(), None, &loose).await.unwrap();
    assert!(r.refused.is_empty() && r.revert.as_ref().unwrap().reverted.is_empty(), "{r:?}");
    assert_eq!(f.changes().await.len(), before);
}

conformance!(
    a_tightened_rule_refuses_exactly_the_changes_it_forbids_and_reverts_the_rest,
    limits_window_and_fields_read_from_now_are_replayed,
    an_audit_needs_a_reviewer_and_a_policy_that_fits_the_database,
);

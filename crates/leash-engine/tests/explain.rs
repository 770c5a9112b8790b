//! `leash explain` with the database's facts, and `approve-policy` saying what
//! changed since the last approval, on every store.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use leash_core::policy::parse_policy;
use leash_engine::{Caller, Engine, EngineError};

async fn pages_carry_columns_and_who_approved_this_definition(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let pages = f.engine.explain(None).await.unwrap();
    assert_eq!(pages.len(), f.engine.policy().actions.len());
    let page = f.engine.explain(Some("set_status")).await.unwrap().remove(0);
    assert_eq!(page.approved_by.as_deref(), Some("test-admin"), "{kind:?}");
    assert!(page.approved_at.is_some());
    // The table's other column, named from the live schema.
    assert!(page.never.iter().any(|l| l.contains("locked")), "{kind:?}: {:?}", page.never);
    let e = f.engine.explain(Some("nope")).await.unwrap_err();
    assert!(matches!(e, EngineError::NotFound(_)), "{e:?}");
    assert!(e.to_string().contains("set_status"), "names the actions there are: {e}");
    assert!(f.engine.explain_for(&agent(), "set_status").await.is_ok());
    let narrow = Caller { actions: vec!["add_note".into()], ..agent() };
    assert!(matches!(f.engine.explain_for(&narrow, "set_status").await, Err(EngineError::Forbidden(_))));
}

async fn approve_policy_says_what_changed_since_the_last_approval(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    assert!(f.engine.policy_changes().await.unwrap().iter().all(|c| c.changes.is_empty()), "all approved");
    // The owner takes `solved` away and adds a cap.
    let changed = POLICY.replacen(
        "one_of = [\"open\", \"needs_reply\", \"pending\", \"solved\"]\n  [actions.limits]\n  per_run = 100",
        "one_of = [\"open\", \"needs_reply\", \"pending\"]\n  [actions.limits]\n  per_run = 100\n  per_hour = 5",
        1,
    );
    assert_ne!(changed, POLICY);
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&f.url).await.unwrap());
    let engine = Engine::open(parse_policy("changed.toml", &changed).unwrap(), store).await.unwrap();
    let page = engine.explain(Some("set_status")).await.unwrap().remove(0);
    assert_eq!(page.approved_by, None, "{kind:?}: this definition is not approved");
    let pending = engine.policy_changes().await.unwrap();
    let lines = &pending.iter().find(|c| c.action == "set_status").unwrap().changes;
    assert!(lines.iter().any(|l| l.starts_with("status — no longer")), "{kind:?}: {lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("Limits — now") && l.contains('5')), "{kind:?}: {lines:?}");
    assert!(pending.iter().filter(|c| c.action != "set_status").all(|c| c.changes.is_empty()));
    let approved = engine.approve_policy(&Caller::local("owner"), None).await.unwrap();
    let set_status = approved.iter().find(|a| a.action == "set_status").unwrap();
    assert!(set_status.newly_approved);
    assert_eq!(&set_status.changes, lines, "{kind:?}: the same lines, recorded with the approval");
    let page = engine.explain(Some("set_status")).await.unwrap().remove(0);
    assert_eq!(page.approved_by.as_deref(), Some("owner"));
    assert!(engine.policy_changes().await.unwrap().iter().all(|c| c.changes.is_empty()));
}

conformance!(
    pages_carry_columns_and_who_approved_this_definition,
    approve_policy_says_what_changed_since_the_last_approval,
);

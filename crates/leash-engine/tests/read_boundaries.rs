//! An action reads only what it names (SECURITY.md), on every store: no
//! answer of the engine — a call's outcome, message and notes, a read, a
//! proposal's status, a backtest — carries a value of a column the action
//! may not read, whatever rule, condition or `expect` put it there.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use leash_core::call::Call;
use leash_core::codes::{Code, Outcome};
use leash_core::policy::parse_policy;
use leash_engine::{AuditRequest, Caller, Clock, Engine, EngineError, Role};
use leash_store::Store;
use leash_testkit::secrets::{self, leaked};
use leash_testkit::{conformance, Kind, TestDb};
use proptest::prelude::*;
use serde_json::json;

struct Shop {
    engine: Arc<Engine>,
    _store: Arc<dyn Store>,
    _db: TestDb,
}

async fn shop(kind: Kind, policy: &str, approve: bool) -> Option<Shop> {
    let db = leash_testkit::fresh_database(kind).await?;
    let store: Arc<dyn Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let mut statements = secrets::schema(kind);
    statements.extend(secrets::rows());
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    store.execute_script(&statements).await.unwrap();
    let policy = parse_policy("shop.toml", policy).unwrap();
    let clock = Clock::fixed("2026-11-25T15:00:00Z".parse().unwrap());
    let engine = Engine::open(policy, store.clone()).await.unwrap().with_clock(clock);
    if approve {
        engine.approve_policy(&Caller::local("owner"), None).await.unwrap();
    }
    Some(Shop { engine: Arc::new(engine), _store: store, _db: db })
}

fn agent() -> Caller {
    Caller { name: "assistant".into(), role: Role::Agent, actions: Vec::new() }
}

fn reviewer() -> Caller {
    Caller { name: "lead".into(), role: Role::Reviewer, actions: Vec::new() }
}

/// Every answer the engine gives for one call of the walk, as JSON text,
/// and the codes and review reasons it carried.
async fn answers(s: &Shop, action: &str, body: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let call: Call = serde_json::from_value(body.clone()).unwrap();
    let r = s.engine.call(&agent(), action, call).await.unwrap();
    seen.extend(r.code.map(|c| c.as_str().to_string()));
    seen.extend(r.reasons.iter().map(|r| r.as_str().to_string()));
    out.push(serde_json::to_string(&r).unwrap());
    if let Some(id) = &r.proposal_id {
        out.push(serde_json::to_string(&s.engine.proposal_status(&agent(), id).await.unwrap()).unwrap());
    }
    let key = body["key"].as_str().unwrap_or("1");
    match s.engine.read_record(&agent(), action, key).await.unwrap() {
        Ok(record) => out.push(serde_json::to_string(&record).unwrap()),
        Err(refusal) => out.push(refusal.message),
    }
    (out, seen)
}

/// Values of the record's columns `action` may not read, long enough that
/// their appearance is no coincidence, and not sent by the caller itself.
async fn hidden_values(s: &Shop, action: &str, body: &serde_json::Value) -> Vec<String> {
    let (Some(a), Some(key)) = (s.engine.policy().action(action), body["key"].as_str()) else { return Vec::new() };
    let table = s._store.table_schema(secrets::TABLE).await.unwrap().unwrap();
    let Some(record) = s._store.read_record(&table, &leash_core::policy::Key::single("id"), key).await.unwrap() else {
        return Vec::new();
    };
    let sent = body.to_string();
    record
        .iter()
        .filter(|(col, v)| !a.may_see(col) && (v.is_string() || v.is_number()))
        .map(|(_, v)| leash_core::value::display(v))
        .filter(|v| v.chars().count() >= 5 && !sent.contains(v.as_str()))
        .collect()
}

async fn no_answer_carries_a_column_the_action_may_not_read(kind: Kind) {
    let Some(s) = shop(kind, secrets::POLICY, true).await else { return };
    let mut reached = BTreeSet::new();
    for step in secrets::walk() {
        let hidden = hidden_values(&s, step.action, &step.body).await;
        let (texts, seen) = answers(&s, step.action, &step.body).await;
        reached.extend(seen);
        for text in texts {
            assert_eq!(leaked(&text), None, "{kind:?} {} {}: {text}", step.action, step.body);
            let shown: Vec<&String> = hidden.iter().filter(|h| text.contains(h.as_str())).collect();
            assert!(shown.is_empty(), "{kind:?} {} {}: quotes {shown:?} in {text}", step.action, step.body);
        }
    }
    let missing: Vec<&&str> =
        secrets::CODES_REACHED.iter().chain(secrets::REASONS_REACHED).filter(|c| !reached.contains(**c)).collect();
    assert!(missing.is_empty(), "{kind:?}: the walk no longer reaches {missing:?} (reached {reached:?})");
    // The reviewer's view of the queue carries the same notes, scrubbed.
    for p in s.engine.proposals(&reviewer(), &Default::default()).await.unwrap() {
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(leaked(&text), None, "{kind:?}: {text}");
    }
}

/// `expect` on a column the action may not read is refused the same way
/// whether the guess is right or wrong: it is no oracle.
async fn expect_on_an_unread_column_is_refused_whatever_it_guesses(kind: Kind) {
    let Some(s) = shop(kind, secrets::POLICY, true).await else { return };
    let [ssn, _] = secrets::secrets_of(1);
    let mut answers = Vec::new();
    for guess in [json!("000"), json!(ssn), json!(null)] {
        let call = Call {
            key: Some(json!("1")),
            set: [("status".to_string(), json!("solved"))].into_iter().collect(),
            reason: Some("r".into()),
            expect: Some([("ssn".to_string(), guess)].into_iter().collect()),
            ..Call::default()
        };
        let r = s.engine.call(&agent(), "fix_contact", call).await.unwrap();
        assert_eq!((r.outcome, r.code), (Outcome::Rejected, Some(Code::FieldNotAllowed)), "{kind:?}: {r:?}");
        answers.push(r.message);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{kind:?}: {answers:?}");
    let all = leash_engine::ChangeQuery { limit: 100, ..Default::default() };
    assert_eq!(s.engine.changes(&reviewer(), &all).await.unwrap().len(), 0, "nothing written");
}

/// A message that echoes the caller's own text (here `expect` on a field
/// it may read) echoes it whole: nothing inside it is replaced, so the
/// answer cannot tell which guess matched a hidden value.
async fn echoed_guesses_are_never_an_oracle(kind: Kind) {
    let Some(s) = shop(kind, secrets::POLICY, true).await else { return };
    let [ssn, secret] = secrets::secrets_of(3);
    let mut messages = Vec::new();
    for guess in [format!("x {ssn} {secret}"), "x SSN-003-55-0198 sk_live_3_AAAAAAAAA".to_string()] {
        let call = Call {
            key: Some(json!("3")),
            set: [("name".to_string(), json!("Dana Wu"))].into_iter().collect(),
            reason: Some("r".into()),
            expect: Some([("name".to_string(), json!(guess))].into_iter().collect()),
            ..Call::default()
        };
        let r = s.engine.call(&agent(), "fix_contact", call).await.unwrap();
        assert_eq!(r.code, Some(Code::StaleRecord), "{kind:?}: {r:?}");
        assert!(r.message.contains(&guess) && !r.message.contains("hidden"), "{kind:?}: {}", r.message);
        messages.push(r.message.replace(&guess, "GUESS"));
    }
    assert_eq!(messages[0], messages[1], "{kind:?}: the answer is the same whatever the guess");
}

/// Reads obey the approval gate like writes.
async fn read_record_is_refused_until_the_action_is_approved(kind: Kind) {
    let Some(s) = shop(kind, secrets::POLICY, false).await else { return };
    let r = s.engine.read_record(&agent(), "fix_contact", "1").await.unwrap();
    assert_eq!(r.map_err(|e| e.code), Err(Code::PolicyUnapproved), "{kind:?}");
    s.engine.approve_policy(&Caller::local("owner"), None).await.unwrap();
    let record = s.engine.read_record(&agent(), "fix_contact", "1").await.unwrap().unwrap();
    assert_eq!(record.keys().collect::<Vec<_>>(), vec!["id", "name"], "{kind:?}: only the read fields");
}

/// A candidate policy in a backtest may read only what the live policy's
/// actions may read; its refusals quote nothing else.
async fn a_backtest_reads_only_what_the_live_policy_may_read(kind: Kind) {
    let Some(s) = shop(kind, secrets::POLICY, true).await else { return };
    let call = Call {
        key: Some(json!("5")),
        set: [("status".to_string(), json!("solved"))].into_iter().collect(),
        reason: Some("r".into()),
        confidence: Some(0.99),
        ..Call::default()
    };
    let r = s.engine.call(&agent(), "fix_contact", call).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let oracle =
        secrets::POLICY.replace("when = \"record.ssn != ''\"", "when = \"record.ssn.startsWith('SSN-005')\"").replacen(
            "[actions.fields.email]",
            "[actions.fields.region]\nfrom = \"record.api_secret\"\n[actions.fields.email]",
            1,
        );
    let candidate = parse_policy("candidate.toml", &oracle).unwrap();
    let e = s.engine.audit(&reviewer(), Some(&candidate), &AuditRequest::default()).await.unwrap_err();
    assert!(matches!(e, EngineError::Forbidden(_)), "{kind:?}: {e}");
    let text = e.to_string();
    assert!(text.contains("reads ssn") && text.contains("reads api_secret"), "{text}");
    assert_eq!(leaked(&text), None);
    // The live policy's own backtest still runs, and says nothing hidden.
    let report = s.engine.audit(&reviewer(), None, &AuditRequest::default()).await.unwrap();
    assert_eq!(report.checked, 1);
    assert_eq!(leaked(&serde_json::to_string(&report).unwrap()), None);
}

conformance!(
    no_answer_carries_a_column_the_action_may_not_read,
    echoed_guesses_are_never_an_oracle,
    expect_on_an_unread_column_is_refused_whatever_it_guesses,
    read_record_is_refused_until_the_action_is_approved,
    a_backtest_reads_only_what_the_live_policy_may_read,
);

fn value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!("")),
        Just(json!("solved")),
        Just(json!("open")),
        Just(json!("Ann Lee")),
        Just(json!("ann@example.com")),
        Just(json!("12 Elm Street Apt 4B")),
        Just(json!("555 0100")),
        Just(json!(250)),
        Just(json!("99999")),
        "[a-zA-Z0-9 @.-]{0,12}".prop_map(|s| json!(s)),
    ]
}

fn column() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "id",
        "name",
        "email",
        "phone",
        "address",
        "city",
        "state",
        "zip",
        "status",
        "nickname",
        "credit",
        "region",
        "vip",
        "locked",
        "ssn",
        "api_secret",
    ])
    .prop_map(str::to_string)
}

fn body() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::sample::select(vec!["1", "2", "3", "4", "5", "6", "99"]),
        prop::collection::btree_map(column(), value(), 1..3),
        prop::option::of(prop::collection::btree_map(column(), value(), 1..3)),
        prop::option::of(0.0f64..=1.0),
    )
        .prop_map(|(key, set, expect, confidence)| {
            json!({"key": key, "set": set, "expect": expect, "confidence": confidence, "reason": "r"})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random calls (fields, values and `expect` over every column, the
    /// secret ones included) on every action: no answer carries a secret.
    #[test]
    fn random_calls_never_answer_with_a_secret(
        steps in prop::collection::vec((prop::sample::select(vec![
            "fix_contact", "copy_region", "odd_conditions", "set_credit", "fix_address", "review_status",
        ]), body()), 1..6)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let Some(s) = shop(Kind::Sqlite, secrets::POLICY, true).await else { return Ok(()) };
            for (action, body) in steps {
                let (texts, _) = answers(&s, action, &body).await;
                for text in texts {
                    prop_assert_eq!(leaked(&text), None, "{} {}: {}", action, body, text);
                }
            }
            Ok(())
        })?;
    }
}

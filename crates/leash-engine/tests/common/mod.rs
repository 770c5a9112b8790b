//! Test fixtures: the testkit's small shop on a database of its own, and an
//! engine over it whose policy is approved.
#![allow(dead_code)]

use std::sync::Arc;

use leash_core::call::{Call, CallResult};
use leash_core::policy::parse_policy;
use leash_core::value::Value;
use leash_engine::{Caller, Clock, Engine, Role};
use leash_store::Store;

use leash_testkit::shop::Shop;
pub use leash_testkit::shop::POLICY;
pub use leash_testkit::{conformance, Kind, TestDb};

/// A database of its own for one test, with the shop's tables and rows and
/// an engine whose policy is approved.
pub struct Fixture {
    pub kind: Kind,
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub url: String,
    _db: TestDb,
}

pub async fn fixture(kind: Kind) -> Option<Fixture> {
    fixture_with(kind, POLICY, Clock::fixed("2026-11-25T15:00:00Z".parse().unwrap())).await
}

pub async fn fixture_with(kind: Kind, policy: &str, clock: Clock) -> Option<Fixture> {
    let Shop { store, db } = leash_testkit::shop::build(kind).await?;
    let policy = parse_policy("test.toml", policy).unwrap();
    let engine = Engine::open(policy, store.clone()).await.unwrap().with_clock(clock);
    engine.approve_policy(&Caller::local("test-admin"), Some("fixture")).await.unwrap();
    Some(Fixture { kind, engine: Arc::new(engine), store, url: db.url.clone(), _db: db })
}

/// Makes the journal insert fail for one record key, after the record's UPDATE.
pub async fn fail_journal_for(f: &Fixture, key: &str) {
    let statements: Vec<String> = match f.kind {
        Kind::Sqlite => vec![format!(
            "CREATE TRIGGER fail_journal BEFORE INSERT ON leash_changes WHEN NEW.record_key = '{key}'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )],
        Kind::Postgres => vec![
            format!("CREATE FUNCTION fail_journal() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.record_key = '{key}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$"),
            "CREATE TRIGGER fail_journal BEFORE INSERT ON leash_changes FOR EACH ROW EXECUTE FUNCTION fail_journal()".into(),
        ],
        Kind::Mysql => vec![format!(
            "CREATE TRIGGER fail_journal BEFORE INSERT ON leash_changes FOR EACH ROW
             BEGIN IF NEW.record_key = '{key}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF; END"
        )],
    };
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    f.store.execute_script(&statements).await.unwrap();
}

/// Removes the journal's guard against rewrites, as someone with the database could.
pub async fn drop_journal_guard(f: &Fixture) {
    let statement = match f.kind {
        Kind::Sqlite | Kind::Mysql => "DROP TRIGGER leash_changes_no_rewrite",
        Kind::Postgres => "DROP TRIGGER leash_changes_guard ON leash_changes",
    };
    f.store.execute_script(&[statement]).await.unwrap();
}

pub fn agent() -> Caller {
    Caller { name: "assistant".into(), role: Role::Agent, actions: Vec::new() }
}

pub fn reviewer() -> Caller {
    Caller { name: "lead".into(), role: Role::Reviewer, actions: Vec::new() }
}

pub fn call(key: Option<&str>, set: &[(&str, &str)]) -> Call {
    Call {
        key: key.map(|k| Value::String(k.into())),
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), if v.is_empty() { Value::Null } else { Value::String(v.to_string()) }))
            .collect(),
        reason: Some("test".into()),
        evidence: Some("seen in test".into()),
        confidence: Some(0.99),
        ..Call::default()
    }
}

impl Fixture {
    pub async fn call(&self, action: &str, key: Option<&str>, set: &[(&str, &str)]) -> CallResult {
        self.engine.call(&agent(), action, call(key, set)).await.unwrap()
    }

    pub async fn get(&self, table: &str, key: &str, field: &str) -> Value {
        let schema = self.store.table_schema(table).await.unwrap().unwrap();
        let rec = self.store.read_record(&schema, &leash_core::policy::Key::single("id"), key).await.unwrap();
        rec.and_then(|r| r.get(field).cloned()).unwrap_or(Value::Null)
    }

    pub async fn changes(&self) -> Vec<leash_core::journal::Change> {
        self.store.changes(&Default::default()).await.unwrap()
    }
}

//! Test fixtures: a fresh database with a small shop, built by code, and an
//! engine over it. Each fixture owns its own database file.
#![allow(dead_code)]

use std::sync::Arc;

use leash_core::call::{Call, CallResult};
use leash_core::policy::parse_policy;
use leash_core::value::Value;
use leash_engine::{Caller, Clock, Engine, Role};
use leash_store::Store;

pub const POLICY: &str = r#"
[[actions]]
name = "set_status"
summary = "Set a ticket's status."
table = "tickets"
key = "id"
mode = "direct"
when = "record.status != 'closed'"
locked_if = "record.locked == true"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.limits]
  per_run = 100

[[actions]]
name = "review_status"
summary = "Set a ticket's status, always with a person."
table = "tickets"
key = "id"
mode = "review"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]

[[actions]]
name = "suggest_status"
summary = "Suggest a ticket's status."
table = "tickets"
key = "id"
mode = "suggest"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]

[[actions]]
name = "fix_customer"
summary = "Fix a customer's contact fields."
table = "customers"
key = "id"
mode = "direct"
requires = ["reason"]
review_if = "record.vip == true"
review_note = "VIP: a person checks"
  [actions.fields.email]
  change = "mechanical"
  format = "email"
  unique = true
  [actions.fields.name]
  change = "mechanical"
  format = "name"
  max_len = 20
  [actions.fields.zip]
  pattern = '^\d{5}$'
  [actions.fields.nickname]
  only_if_empty = true
  [actions.fields.phone]
  allow_blank = true
  [actions.review]
  below_confidence = 0.8

[[actions]]
name = "copy_region"
summary = "Set a customer's region from their state."
table = "customers"
key = "id"
mode = "direct"
requires = ["evidence"]
  [actions.fields.region]
  from = "record.state"

[[actions]]
name = "adjust_invoice"
summary = "Move an invoice's due date or amount."
table = "invoices"
key = "id"
mode = "direct"
  [actions.fields.due_date]
  format = "date"
  range = ["2026-01-01", "2027-12-31"]
  [actions.fields.amount]
  sensitive = "money"
  range = [0, 1000]
  [actions.fields.seats]
  range = [1, 50]
  [actions.limits]
  per_hour = 3

[[actions]]
name = "office_hours_status"
summary = "Set a ticket's status, only in office hours."
table = "tickets"
key = "id"
mode = "direct"
  [actions.fields.status]
  one_of = ["open", "solved"]
  [actions.limits]
  window = "mon-fri 09:00-18:00 America/New_York"

[[actions]]
name = "add_note"
summary = "Add a note to a ticket."
table = "notes"
key = "id"
kind = "append"
mode = "direct"
  [actions.fields.ticket_id]
  [actions.fields.body]
  max_len = 200
"#;

pub use leash_testkit::{conformance, Kind, TestDb};

fn schema(kind: Kind) -> Vec<String> {
    let serial = leash_testkit::serial(kind);
    vec![
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY, status VARCHAR(40) NOT NULL, locked BOOLEAN NOT NULL DEFAULT FALSE)".into(),
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), zip VARCHAR(10), nickname VARCHAR(40),
            phone VARCHAR(40), state VARCHAR(2), region VARCHAR(2), vip BOOLEAN NOT NULL DEFAULT FALSE)".into(),
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, due_date DATE NOT NULL, amount NUMERIC(12,2) NOT NULL, seats INTEGER)".into(),
        format!("CREATE TABLE notes (id {serial}, ticket_id INTEGER NOT NULL, body TEXT NOT NULL)"),
    ]
}

pub fn rows() -> Vec<String> {
    let mut out = vec![
        "INSERT INTO tickets (id, status, locked) VALUES (1, 'open', FALSE), (2, 'open', TRUE), (3, 'closed', FALSE), (4, 'pending', FALSE)".to_string(),
        "INSERT INTO customers (id, name, email, zip, nickname, phone, state, region, vip) VALUES
            (1, 'ann lee', 'Ann@EXAMPLE.com', '11211', NULL, '555', 'NY', NULL, FALSE),
            (2, 'Bob Stone', 'bob@stone.test', '97201', 'Bobby', NULL, 'OR', NULL, FALSE),
            (3, 'Dana Wu', 'DANA@WU.TEST', '10022', NULL, NULL, NULL, NULL, TRUE),
            (4, 'Jon Smith', 'jon@smith.test', '90028', NULL, NULL, 'CA', NULL, FALSE),
            (5, 'Jon Smith', 'jon2@smith.test', '90028', NULL, NULL, 'CA', NULL, FALSE)".to_string(),
        "INSERT INTO invoices (id, due_date, amount, seats) VALUES (1, '2026-12-01', 100, 5), (2, '2026-12-02', 200, 5), (3, '2026-12-03', 300, 5)".to_string(),
    ];
    let many: Vec<String> = (100..400).map(|i| format!("({i}, 'open', FALSE)")).collect();
    out.push(format!("INSERT INTO tickets (id, status, locked) VALUES {}", many.join(", ")));
    out
}

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
    let db = leash_testkit::fresh_database(kind).await?;
    let url = db.url.clone();
    let store: Arc<dyn Store> = Arc::from(leash_store::open(&url).await.unwrap());
    let mut statements = schema(kind);
    statements.extend(rows());
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    store.execute_script(&statements).await.unwrap();
    let policy = parse_policy("test.toml", policy).unwrap();
    let engine = Engine::open(policy, store.clone()).await.unwrap().with_clock(clock);
    engine.approve_policy(&Caller::local("test-admin"), Some("fixture")).await.unwrap();
    Some(Fixture { kind, engine: Arc::new(engine), store, url, _db: db })
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
        let rec = self.store.read_record(&schema, "id", key).await.unwrap();
        rec.and_then(|r| r.get(field).cloned()).unwrap_or(Value::Null)
    }

    pub async fn changes(&self) -> Vec<leash_core::journal::Change> {
        self.store.changes(&Default::default()).await.unwrap()
    }
}

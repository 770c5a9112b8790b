//! Real column and key types on every store (docs/policy.md, Values and types): each type written
//! through a call, read back as the database stores it, journaled as
//! stored, reverted to exactly the old value, verified — and a value or key
//! the type cannot hold refused with `invalid_input` naming the column,
//! nothing written, no database text in the message.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use leash_core::call::Call;
use leash_core::codes::{Code, Outcome};
use leash_core::policy::parse_policy;
use leash_core::value::Value;
use leash_engine::{Caller, Engine, RevertRequest, Role, Selector, REVERT_BATCH_MAX};
use leash_store::Store;
use leash_testkit::{conformance, Kind, TestDb};
use serde_json::json;

struct Db {
    engine: Engine,
    store: Arc<dyn Store>,
    _db: TestDb,
}

async fn open(kind: Kind, statements: &[String], policy: &str) -> Option<Db> {
    let db = leash_testkit::fresh_database(kind).await?;
    let store: Arc<dyn Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    store.execute_script(&statements).await.unwrap();
    let policy = parse_policy("types.toml", policy).unwrap();
    let engine = Engine::open(policy, store.clone()).await.unwrap();
    engine.approve_policy(&Caller::local("admin"), None).await.unwrap();
    Some(Db { engine, store, _db: db })
}

fn agent() -> Caller {
    Caller { name: "assistant".into(), role: Role::Agent, actions: Vec::new() }
}

fn call(key: &str, field: &str, value: Value) -> Call {
    let mut c = Call { key: Some(Value::String(key.into())), reason: Some("types".into()), ..Call::default() };
    c.set.insert(field.into(), value);
    c
}

impl Db {
    async fn get(&self, table: &str, key_col: &str, key: &str, field: &str) -> Value {
        let schema = self.store.table_schema(table).await.unwrap().unwrap();
        let record = self
            .store
            .read_record(&schema, &leash_core::policy::Key::single(key_col), key)
            .await
            .unwrap()
            .expect("the record exists");
        record.get(field).cloned().unwrap_or(Value::Null)
    }

    async fn journal_len(&self) -> usize {
        self.store.changes(&Default::default()).await.unwrap().len()
    }

    async fn revert(&self, change_id: &str) {
        let req = RevertRequest {
            selector: Selector::ids([change_id.to_string()]).unwrap(),
            dry_run: false,
            force: false,
            batch_max: REVERT_BATCH_MAX,
        };
        let report = self.engine.revert(&Caller::local("admin"), &req, |_, _| {}).await.unwrap();
        assert!(report.conflicts.is_empty(), "no conflict reverting {change_id}: {:?}", report.conflicts);
        assert_eq!(report.reverted, vec![change_id.to_string()]);
    }

    async fn assert_verified(&self, what: &str) {
        let report = self.engine.verify().await.unwrap();
        assert!(report.ok, "verify after {what}: {report:?}");
    }
}

/// One column of the matrix: its SQL type, the row's first value, what an
/// agent writes, what the database then holds (in leash's stored form), and
/// a value the type cannot hold (`None`: every text fits).
struct Case {
    column: &'static str,
    sql_type: &'static str,
    initial: &'static str,
    write: Value,
    stored: Value,
    hostile: Option<Value>,
}

fn case(column: &'static str, sql_type: &'static str, initial: &'static str, write: Value, stored: Value) -> Case {
    Case { column, sql_type, initial, write, stored, hostile: None }
}

impl Case {
    fn refusing(mut self, hostile: Value) -> Case {
        self.hostile = Some(hostile);
        self
    }
}

const KEY: &str = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";

fn matrix(kind: Kind) -> (Vec<String>, &'static str, Vec<Case>) {
    let hostile_text = json!("x'); DROP TABLE things; --");
    match kind {
        Kind::Postgres => (
            vec![
                "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')".into(),
                "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)".into(),
            ],
            "uuid PRIMARY KEY",
            vec![
                case("i", "integer", "1", json!("42"), json!(42)).refusing(json!("4x2")),
                case("b", "bigint", "10", json!(9_000_000_000i64), json!(9_000_000_000i64)).refusing(json!("1 OR 1=1")),
                case("n", "numeric(10,2)", "12.50", json!("99.5"), json!("99.50")).refusing(json!("abc")),
                case("r", "double precision", "1.5", json!("2.25"), json!("2.25")).refusing(json!("x")),
                case("bo", "boolean", "false", json!("true"), json!(true)).refusing(json!("maybe")),
                case("d", "date", "2026-01-01", json!("2026-02-01"), json!("2026-02-01")).refusing(json!("2026-02-30")),
                case(
                    "ts",
                    "timestamp",
                    "2026-01-01 00:00:00",
                    json!("2026-02-01T11:30:15"),
                    json!("2026-02-01 11:30:15"),
                )
                .refusing(json!("not a time")),
                case(
                    "tz",
                    "timestamptz",
                    "2026-01-01 00:00:00+00",
                    json!("2026-02-01T11:30:15Z"),
                    json!("2026-02-01 11:30:15+00"),
                )
                .refusing(json!("yesterday-ish")),
                case("j", "json", "{\"a\":1}", json!("{\"b\": [1, 2]}"), json!("{\"b\": [1, 2]}"))
                    .refusing(json!("{bad")),
                case("jb", "jsonb", "{\"a\": 1}", json!("{\"b\":2,\"a\":1}"), json!("{\"a\": 1, \"b\": 2}"))
                    .refusing(json!("[1,")),
                case(
                    "u",
                    "uuid",
                    "b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                    json!("C0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
                    json!("c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                )
                .refusing(json!("not-a-uuid")),
                case("e", "mood", "sad", json!("happy"), json!("happy")).refusing(json!("grumpy")),
                case("dom", "posint", "5", json!("7"), json!(7)).refusing(json!("-3")),
                case("t", "text", "plain", hostile_text.clone(), hostile_text.clone()),
                case("v", "varchar(20)", "short", json!("longer one"), json!("longer one"))
                    .refusing(json!("x".repeat(30))),
                case("ch", "char(4)", "ab", json!("xy"), json!("xy")).refusing(json!("abcdef")),
                case("arr", "integer[]", "{1,2}", json!("{3,4}"), json!("{3,4}")).refusing(json!("{a}")),
                case("ip", "inet", "10.0.0.1", json!("192.168.1.7"), json!("192.168.1.7/32"))
                    .refusing(json!("999.1.1.1")),
                case("iv", "interval", "1 day", json!("2 hours"), json!("02:00:00")).refusing(json!("soon")),
            ],
        ),
        Kind::Mysql => (
            Vec::new(),
            "CHAR(36) PRIMARY KEY",
            vec![
                case("i", "INT", "1", json!("42"), json!(42)).refusing(json!("4x2")),
                case("b", "BIGINT", "10", json!(9_000_000_000i64), json!(9_000_000_000i64)).refusing(json!("1 OR 1=1")),
                case("n", "DECIMAL(10,2)", "12.50", json!("99.5"), json!("99.50")).refusing(json!("abc")),
                case("r", "DOUBLE", "1.5", json!("2.25"), json!("2.25")).refusing(json!("x")),
                case("bo", "TINYINT(1)", "0", json!("true"), json!(true)).refusing(json!("maybe")),
                case("d", "DATE", "2026-01-01", json!("2026-02-01"), json!("2026-02-01")).refusing(json!("2026-02-30")),
                case(
                    "ts",
                    "DATETIME",
                    "2026-01-01 00:00:00",
                    json!("2026-02-01T11:30:15Z"),
                    json!("2026-02-01 11:30:15"),
                )
                .refusing(json!("not a time")),
                case(
                    "tz",
                    "TIMESTAMP NULL",
                    "2026-01-01 00:00:00",
                    json!("2026-02-01T13:30:15+02:00"),
                    json!("2026-02-01 11:30:15"),
                )
                .refusing(json!("yesterday-ish")),
                case("j", "JSON", "{\"a\": 1}", json!("{\"b\": [1, 2]}"), json!("{\"b\": [1, 2]}"))
                    .refusing(json!("{bad")),
                case("e", "ENUM('sad','ok','happy')", "sad", json!("happy"), json!("happy")).refusing(json!("grumpy")),
                case("u", "CHAR(36)", "b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", json!(KEY), json!(KEY)),
                case("t", "TEXT", "plain", hostile_text.clone(), hostile_text.clone()),
                case("v", "VARCHAR(20)", "short", json!("longer one"), json!("longer one"))
                    .refusing(json!("x".repeat(30))),
            ],
        ),
        Kind::Sqlite => (
            Vec::new(),
            "TEXT PRIMARY KEY",
            vec![
                case("i", "INTEGER", "1", json!("42"), json!(42)).refusing(json!("4x2")),
                case("n", "NUMERIC", "12.5", json!("99.5"), json!(99.5)).refusing(json!("abc")),
                case("r", "REAL", "1.5", json!("2.25"), json!(2.25)).refusing(json!("x")),
                case("bo", "BOOLEAN", "0", json!("true"), json!(true)).refusing(json!("maybe")),
                case("d", "DATE", "2026-01-01", json!("2026-02-01"), json!("2026-02-01")),
                case(
                    "ts",
                    "DATETIME",
                    "2026-01-01 00:00:00",
                    json!("2026-02-01T11:30:15Z"),
                    json!("2026-02-01T11:30:15Z"),
                ),
                case("j", "JSON", "{\"a\":1}", json!("{\"b\": [1, 2]}"), json!("{\"b\": [1, 2]}"))
                    .refusing(json!("{bad")),
                case("t", "TEXT", "plain", hostile_text.clone(), hostile_text.clone()),
            ],
        ),
    }
}

fn sql_literal(kind: Kind, sql_type: &str, value: &str) -> String {
    let quoted = format!("'{}'", value.replace('\'', "''"));
    match (kind, sql_type) {
        (Kind::Postgres, _) => format!("CAST({quoted} AS {sql_type})"),
        _ => quoted,
    }
}

async fn every_column_type_round_trips_and_refuses_what_it_cannot_hold(kind: Kind) {
    let (mut statements, key_type, cases) = matrix(kind);
    let cols: Vec<String> = cases.iter().map(|c| format!("{} {}", c.column, c.sql_type)).collect();
    statements.push(format!("CREATE TABLE things (id {key_type}, {})", cols.join(", ")));
    let names: Vec<&str> = cases.iter().map(|c| c.column).collect();
    let values: Vec<String> = cases.iter().map(|c| sql_literal(kind, c.sql_type, c.initial)).collect();
    statements.push(format!(
        "INSERT INTO things (id, {}) VALUES ({}, {})",
        names.join(", "),
        sql_literal(kind, "uuid", KEY),
        values.join(", ")
    ));
    let fields: String = cases.iter().map(|c| format!("  [actions.fields.{}]\n", c.column)).collect();
    let policy = format!(
        "[[actions]]\nname = \"edit\"\nsummary = \"Edit a thing.\"\ntable = \"things\"\nkey = \"id\"\nmode = \"direct\"\n{fields}"
    );
    let Some(db) = open(kind, &statements, &policy).await else { return };

    for c in &cases {
        let before = db.get("things", "id", KEY, c.column).await;
        let result = db.engine.call(&agent(), "edit", call(KEY, c.column, c.write.clone())).await.unwrap();
        assert_eq!(result.outcome, Outcome::Applied, "{kind:?} {}: {result:?}", c.column);
        let now = db.get("things", "id", KEY, c.column).await;
        assert_eq!(now, c.stored, "{kind:?} {}: the database holds the written value", c.column);
        let change = db.store.change(result.change_id.as_deref().unwrap()).await.unwrap().unwrap();
        assert_eq!(change.record_key, KEY, "{kind:?} {}", c.column);
        assert_eq!(change.fields[0].old, before, "{kind:?} {}: the journal's old is what was stored", c.column);
        assert_eq!(change.fields[0].new, c.stored, "{kind:?} {}: the journal's new is what is stored", c.column);
        assert_eq!(result.fields[0].new, c.stored, "{kind:?} {}: the caller hears what is stored", c.column);
        db.assert_verified(&format!("writing {}", c.column)).await;

        db.revert(&change.id).await;
        assert_eq!(
            db.get("things", "id", KEY, c.column).await,
            before,
            "{kind:?} {}: revert restores exactly",
            c.column
        );
        db.assert_verified(&format!("reverting {}", c.column)).await;

        if let Some(hostile) = &c.hostile {
            let journaled = db.journal_len().await;
            let result = db.engine.call(&agent(), "edit", call(KEY, c.column, hostile.clone())).await.unwrap();
            assert_eq!(result.outcome, Outcome::Rejected, "{kind:?} {} refuses {hostile}", c.column);
            assert_eq!(result.code, Some(Code::InvalidInput), "{kind:?} {}: {}", c.column, result.message);
            assert!(result.message.contains(c.column), "{kind:?}: the refusal names {}: {}", c.column, result.message);
            for leak in ["syntax", "SQLSTATE", "ERROR", "at row", "operator does not exist", "database error"] {
                assert!(
                    !result.message.contains(leak),
                    "{kind:?} {}: database text leaked: {}",
                    c.column,
                    result.message
                );
            }
            assert_eq!(db.journal_len().await, journaled, "{kind:?} {}: nothing journaled", c.column);
            assert_eq!(db.get("things", "id", KEY, c.column).await, before, "{kind:?} {}: nothing written", c.column);
        }
    }
}

/// Keys of each common type: written, journaled under the record's own
/// spelling, reverted, verified; a key the column cannot hold is refused.
async fn keys_of_every_common_type_name_one_record_each(kind: Kind) {
    let (uuid, text_key) = match kind {
        Kind::Postgres => ("uuid", "text"),
        Kind::Mysql => ("CHAR(36)", "VARCHAR(40)"),
        Kind::Sqlite => ("TEXT", "TEXT"),
    };
    let tables = [("ki", "INTEGER", "7"), ("kb", "BIGINT", "9000000000"), ("ku", uuid, KEY), ("kt", text_key, "ORD-7")];
    let mut statements = Vec::new();
    let mut policy = String::new();
    for (table, ty, key) in tables {
        statements.push(format!("CREATE TABLE {table} (id {ty} PRIMARY KEY, note VARCHAR(40))"));
        statements.push(format!("INSERT INTO {table} (id, note) VALUES ({}, 'first')", sql_literal(kind, ty, key)));
        policy.push_str(&format!(
            "[[actions]]\nname = \"note_{table}\"\nsummary = \"Note.\"\ntable = \"{table}\"\nkey = \"id\"\nmode = \"direct\"\n  [actions.fields.note]\n"
        ));
    }
    let Some(db) = open(kind, &statements, &policy).await else { return };
    for (table, _, key) in tables {
        let action = format!("note_{table}");
        let result = db.engine.call(&agent(), &action, call(key, "note", json!("second"))).await.unwrap();
        assert_eq!(result.outcome, Outcome::Applied, "{kind:?} {table}: {result:?}");
        let id = result.change_id.unwrap();
        assert_eq!(db.store.change(&id).await.unwrap().unwrap().record_key, key, "{kind:?} {table}");
        db.revert(&id).await;
        assert_eq!(db.get(table, "id", key, "note").await, json!("first"), "{kind:?} {table}");
        db.assert_verified(&format!("the {table} key")).await;
    }

    // One integer record, three spellings: one history, one chain.
    for (spelling, note) in [("07", "a"), (" 7", "b"), ("7", "c")] {
        let result = db.engine.call(&agent(), "note_ki", call(spelling, "note", json!(note))).await.unwrap();
        assert_eq!(result.outcome, Outcome::Applied, "{kind:?} key {spelling:?}: {result:?}");
    }
    let changes = db.store.changes(&Default::default()).await.unwrap();
    let keys: Vec<&str> = changes.iter().filter(|c| c.table_name == "ki").map(|c| c.record_key.as_str()).collect();
    assert!(keys.iter().all(|k| *k == "7"), "{kind:?}: every spelling journals the record's own key: {keys:?}");
    db.assert_verified("three spellings of one key").await;

    let journaled = db.journal_len().await;
    let mut hostile = vec![("note_ki", "1 OR 1=1"), ("note_kb", "9000000000; DROP TABLE kb")];
    if kind == Kind::Postgres {
        hostile.push(("note_ku", "not-a-uuid"));
    }
    for (action, key) in hostile {
        let result = db.engine.call(&agent(), action, call(key, "note", json!("x"))).await.unwrap();
        assert_eq!(result.code, Some(Code::InvalidInput), "{kind:?} {action} key {key:?}: {result:?}");
        assert!(result.message.contains("key"), "{kind:?}: {}", result.message);
        assert!(!result.message.contains("syntax"), "{kind:?}: database text leaked: {}", result.message);
    }
    assert_eq!(db.journal_len().await, journaled, "{kind:?}: a bad key writes nothing");
}

conformance!(
    every_column_type_round_trips_and_refuses_what_it_cannot_hold,
    keys_of_every_common_type_name_one_record_each
);

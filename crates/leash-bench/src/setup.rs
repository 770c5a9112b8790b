//! The bench's own database: a temporary SQLite file, or a schema (PostgreSQL)
//! or database (MySQL) made for the run and dropped after it.

use std::sync::Arc;

use leash_core::policy::parse_policy;
use leash_engine::Engine;
use leash_store::{Dialect, SqlStore, Store};

use crate::{BenchError, Result};

/// Ten field rules and a CEL condition: a realistic policy, not an empty one.
pub const POLICY: &str = include_str!("bench_policy.toml");

pub fn sample_record() -> serde_json::Value {
    serde_json::json!({"id": 1, "status": "open", "priority": "normal", "score": 10, "code": "ABC-1", "email": "a@b.test",
        "note": "n", "due": "2026-12-01", "region": "NE", "phone": "+14155550134", "title": null, "flag": false, "deleted_at": null})
}

pub struct Database {
    pub url: String,
    pub raw: SqlStore,
    scratch: leash_store::scratch::ScratchDb,
}

impl Database {
    /// `server`: where to make the database; by default the store's local
    /// server (`Dialect::local_server`), ignored for SQLite.
    pub async fn create(store: Dialect, server: Option<&str>, records: usize) -> Result<Database> {
        let local = store.local_server().map_or("", |s| s.url);
        let server = server.unwrap_or(local).to_string();
        let scratch = leash_store::scratch::ScratchDb::create(store, &server, "leash_bench").await?;
        let url = scratch.url.clone();
        let raw = SqlStore::connect(&url).await?;
        let serial = store.serial_key();
        let mut statements = vec![
            "CREATE TABLE bench_items (id INTEGER PRIMARY KEY, status VARCHAR(20) NOT NULL, priority VARCHAR(10), score INTEGER,
                code VARCHAR(20), email VARCHAR(100), note VARCHAR(200), due DATE, region VARCHAR(2), phone VARCHAR(20),
                title VARCHAR(80), flag BOOLEAN NOT NULL DEFAULT FALSE, deleted_at VARCHAR(30))"
                .to_string(),
            format!("CREATE TABLE bench_audit (id {serial}, record_id INTEGER NOT NULL, field VARCHAR(40) NOT NULL, old_value TEXT, new_value TEXT)"),
            // The same audit row, findable the ways leash's journal is: by id,
            // by record, by run, by action and time, by actor.
            format!("CREATE TABLE bench_audit_indexed (id {serial}, record_id INTEGER NOT NULL, field VARCHAR(40) NOT NULL,
                old_value TEXT, new_value TEXT, change_id VARCHAR(40) NOT NULL, at VARCHAR(40) NOT NULL,
                action VARCHAR(60) NOT NULL, actor VARCHAR(60) NOT NULL, run_id VARCHAR(60))"),
            "CREATE UNIQUE INDEX bench_audit_indexed_id ON bench_audit_indexed (change_id)".to_string(),
            "CREATE INDEX bench_audit_indexed_record ON bench_audit_indexed (record_id, id)".to_string(),
            "CREATE INDEX bench_audit_indexed_run ON bench_audit_indexed (run_id)".to_string(),
            "CREATE INDEX bench_audit_indexed_action_at ON bench_audit_indexed (action, at)".to_string(),
            "CREATE INDEX bench_audit_indexed_actor ON bench_audit_indexed (actor)".to_string(),
        ];
        for chunk in (1..=records).collect::<Vec<_>>().chunks(500) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|i| format!("({i}, 'open', 'normal', {i}, 'ABC-{i}', 'u{i}@b.test', 'n', '2026-12-01', 'NE', '+14155550134', NULL, FALSE, NULL)"))
                .collect();
            statements.push(format!(
                "INSERT INTO bench_items (id, status, priority, score, code, email, note, due, region, phone, title, flag, deleted_at) VALUES {}",
                rows.join(", ")
            ));
        }
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        raw.execute_script(&refs).await?;
        Ok(Database { url, raw, scratch })
    }

    pub async fn engine(&self) -> Result<Engine> {
        let store: Arc<dyn Store> = Arc::from(leash_store::open(&self.url).await?);
        let policy = parse_policy("bench.toml", POLICY).map_err(|e| BenchError::Other(format!("{e:?}")))?;
        Ok(Engine::open(policy, store).await?)
    }

    /// Drops the schema or database (also done when the value is dropped).
    pub async fn drop(self) {
        drop(self.raw);
        drop(self.scratch);
    }
}

//! Policies a team writes for its own schema, on every store, on a schema
//! shaped like Chinook (quoted mixed-case names, numeric money, a lookup
//! table): a price up to 10 % lands and more waits for a person, a genre
//! must exist, a threshold, and an environment that narrows.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use leash_core::call::Call;
use leash_core::codes::{Code, Outcome, ReviewReason};
use leash_core::policy::parse_policy_in;
use leash_engine::{Caller, Engine, Role};
use leash_store::Store;
use leash_testkit::{chinook, conformance, Kind, TestDb};
use serde_json::json;

const POLICY: &str = r#"
[[actions]]
name = "set_track_price"
summary = "Set a track's price; more than 10 % up goes to a person."
table = "Track"
key = "TrackId"
mode = "direct"
review_if = "new.UnitPrice > record.UnitPrice * 1.1"
review_note = "more than 10 % up: a person checks the price"
  [actions.fields.UnitPrice]
  range = [0, 100]
  review_above = 5

[[actions]]
name = "set_track_genre"
summary = "File a track under an existing genre."
table = "Track"
key = "TrackId"
mode = "direct"
  [actions.fields.GenreId]
  exists_in = "Genre.GenreId"

[environments.production.actions.set_track_genre]
mode = "review"
"#;

struct Fixture {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    _db: TestDb,
}

async fn fixture(kind: Kind, environment: Option<&str>) -> Option<Fixture> {
    let db = leash_testkit::fresh_database(kind).await?;
    let store: Arc<dyn Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let statements = chinook::statements(kind);
    store.execute_script(&statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let policy = parse_policy_in("chinook.toml", POLICY, environment).unwrap();
    let engine = Engine::open(policy, store.clone()).await.unwrap();
    engine.approve_policy(&Caller::local("owner"), None).await.unwrap();
    Some(Fixture { engine: Arc::new(engine), store, _db: db })
}

fn call(key: u32, field: &str, value: serde_json::Value) -> Call {
    Call {
        key: Some(json!(key)),
        set: [(field.to_string(), value)].into_iter().collect(),
        reason: Some("catalogue".into()),
        ..Call::default()
    }
}

fn agent() -> Caller {
    Caller { name: "assistant".into(), role: Role::Agent, actions: Vec::new() }
}

impl Fixture {
    async fn price(&self, key: u32) -> String {
        let table = self.store.table_schema("Track").await.unwrap().unwrap();
        let rec = self.store.read_record(&table, "TrackId", &key.to_string()).await.unwrap().unwrap();
        leash_core::value::display(&rec["UnitPrice"])
    }
}

async fn a_price_up_to_ten_percent_lands_and_more_waits(kind: Kind) {
    let Some(f) = fixture(kind, None).await else { return };
    let r = f.engine.call(&agent(), "set_track_price", call(1, "UnitPrice", json!("1.05"))).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    assert!(f.price(1).await.starts_with("1.05"), "{kind:?}: money stays exact: {}", f.price(1).await);
    let r = f.engine.call(&agent(), "set_track_price", call(2, "UnitPrice", json!("1.29"))).await.unwrap();
    assert_eq!(r.outcome, Outcome::PendingReview, "{kind:?}: {r:?}");
    assert_eq!(r.reasons, vec![ReviewReason::ReviewIf], "{kind:?}");
    let r = f.engine.call(&agent(), "set_track_price", call(3, "UnitPrice", json!("9.99"))).await.unwrap();
    assert!(r.reasons.contains(&ReviewReason::OverThreshold), "{kind:?}: {r:?}");
    assert!(f.price(2).await.starts_with("0.99"), "{kind:?}: nothing written before a person decides");
}

async fn a_genre_must_exist(kind: Kind) {
    let Some(f) = fixture(kind, None).await else { return };
    let r = f.engine.call(&agent(), "set_track_genre", call(1, "GenreId", json!(7))).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let r = f.engine.call(&agent(), "set_track_genre", call(1, "GenreId", json!(99))).await.unwrap();
    assert_eq!(r.code, Some(Code::ValueNotAllowed), "{kind:?}: {r:?}");
    assert!(r.message.contains("Genre.GenreId"), "{kind:?}: the message names the table: {}", r.message);
    // MCP and OpenAPI list the 25 genres as the field's enum.
    let action = f.engine.policy().action("set_track_genre").unwrap();
    let schema = f.engine.call_schema(action);
    let values = schema["properties"]["set"]["properties"]["GenreId"]["enum"].as_array().unwrap().clone();
    assert_eq!(values.len(), 25, "{kind:?}: {schema}");
    assert!(values.iter().any(|v| leash_core::value::display(v) == "7"), "{kind:?}: {values:?}");
}

async fn production_narrows_what_staging_lets_land(kind: Kind) {
    let Some(f) = fixture(kind, Some("production")).await else { return };
    let r = f.engine.call(&agent(), "set_track_genre", call(1, "GenreId", json!(7))).await.unwrap();
    assert_eq!(r.outcome, Outcome::PendingReview, "{kind:?}: production asks a person: {r:?}");
    let sheet = f.engine.actions_sheet(&Caller::local("owner")).await.unwrap();
    assert!(sheet.iter().all(|a| a.environment.as_deref() == Some("production")), "{kind:?}");
}

conformance!(
    a_price_up_to_ten_percent_lands_and_more_waits,
    a_genre_must_exist,
    production_narrows_what_staging_lets_land,
);

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

[[actions]]
name = "move_in_playlist"
summary = "Set a track's position in a playlist."
table = "PlaylistTrack"
key = ["PlaylistId", "TrackId"]
mode = "direct"
  [actions.fields.Position]
  range = [1, 1000]

[[actions]]
name = "add_to_playlist"
summary = "Add a track to a playlist."
table = "PlaylistTrack"
key = ["PlaylistId", "TrackId"]
kind = "append"
mode = "direct"
  [actions.fields.PlaylistId]
  exists_in = "Playlist.PlaylistId"
  [actions.fields.TrackId]
  exists_in = "Track.TrackId"
  [actions.fields.Position]

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
        let rec = self
            .store
            .read_record(&table, &leash_core::policy::Key::single("TrackId"), &key.to_string())
            .await
            .unwrap()
            .unwrap();
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

fn reviewer() -> Caller {
    Caller { name: "lead".into(), role: Role::Reviewer, actions: Vec::new() }
}

/// A table keyed on two columns: an update and an append name the record by
/// both, the journal keys it canonically, and revert and verify work on it.
async fn a_composite_key_updates_appends_reverts_and_verifies(kind: Kind) {
    let Some(f) = fixture(kind, None).await else { return };
    let by_object = Call {
        key: Some(json!({"PlaylistId": 1, "TrackId": 3})),
        set: [("Position".to_string(), json!(99))].into_iter().collect(),
        ..Call::default()
    };
    let r = f.engine.call(&agent(), "move_in_playlist", by_object).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let change = f.engine.change(&reviewer(), r.change_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(change.record_key, r#"["1","3"]"#, "{kind:?}: the journal's key is the columns in policy order");
    // The same record by the journal's spelling, and a key missing a column.
    let by_text = Call {
        key: Some(json!(r#"["1","3"]"#)),
        set: [("Position".to_string(), json!(98))].into_iter().collect(),
        ..Call::default()
    };
    assert_eq!(f.engine.call(&agent(), "move_in_playlist", by_text).await.unwrap().outcome, Outcome::Applied);
    // The log finds both by any spelling of the key.
    for spelling in [r#"["1","3"]"#, "TrackId=3,PlaylistId=01", r#"{"PlaylistId":1,"TrackId":3}"#] {
        let now = jiff::Timestamp::now();
        let q = leash_engine::ChangeQuery::from_fields([("record_key", spelling)], now).unwrap();
        let log = f.engine.changes(&reviewer(), &q).await.unwrap();
        assert_eq!(log.len(), 2, "{kind:?}: {spelling}: {log:?}");
    }
    let half = Call { key: Some(json!({"PlaylistId": 1})), ..call(0, "Position", json!(5)) };
    let r = f.engine.call(&agent(), "move_in_playlist", half).await.unwrap();
    assert_eq!(r.code, Some(Code::InvalidInput), "{kind:?}: {r:?}");
    assert!(r.message.contains("PlaylistId") && r.message.contains("TrackId"), "{}", r.message);
    // An append sets both key columns; the journal keys it the same way.
    let add = Call {
        set: [
            ("PlaylistId".to_string(), json!(2)),
            ("TrackId".to_string(), json!(41)),
            ("Position".to_string(), json!(1)),
        ]
        .into_iter()
        .collect(),
        ..Call::default()
    };
    let r = f.engine.call(&agent(), "add_to_playlist", add).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let added = f.engine.change(&reviewer(), r.change_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(added.record_key, r#"["2","41"]"#, "{kind:?}");
    let bad = Call {
        set: [
            ("PlaylistId".to_string(), json!(9)),
            ("TrackId".to_string(), json!(41)),
            ("Position".to_string(), json!(1)),
        ]
        .into_iter()
        .collect(),
        ..Call::default()
    };
    assert_eq!(f.engine.call(&agent(), "add_to_playlist", bad).await.unwrap().code, Some(Code::ValueNotAllowed));
    assert!(f.engine.verify().await.unwrap().ok, "{kind:?}: chains and records agree");
    // Revert everything the agent did: the two updates and the insert.
    let req = leash_engine::RevertRequest {
        selector: leash_engine::Selector::actor("assistant").unwrap(),
        dry_run: false,
        force: false,
        batch_max: leash_engine::REVERT_BATCH_MAX,
    };
    let done = f.engine.revert(&reviewer(), &req, |_, _| {}).await.unwrap();
    assert_eq!((done.reverted.len(), done.conflicts.len()), (3, 0), "{kind:?}: {done:?}");
    let table = f.store.table_schema("PlaylistTrack").await.unwrap().unwrap();
    let key = leash_core::policy::Key::new(vec!["PlaylistId".into(), "TrackId".into()]).unwrap();
    let rec = f.store.read_record(&table, &key, r#"["1","3"]"#).await.unwrap().unwrap();
    assert_eq!(leash_core::value::display(&rec["Position"]), "3", "{kind:?}: the position is back");
    assert!(f.store.read_record(&table, &key, r#"["2","41"]"#).await.unwrap().is_none(), "{kind:?}: the row is gone");
    assert!(f.engine.verify().await.unwrap().ok, "{kind:?}: still consistent after the revert");
    // The schema an agent sees names both columns.
    let schema = f.engine.call_schema(f.engine.policy().action("move_in_playlist").unwrap());
    assert_eq!(schema["properties"]["key"]["required"], json!(["PlaylistId", "TrackId"]), "{schema}");
}

/// `leash check` refuses an action that could never succeed: an append
/// keyed on one part of a composite key, or one that may not set a key column.
async fn check_refuses_keys_that_could_never_work(kind: Kind) {
    let Some(f) = fixture(kind, None).await else { return };
    let half = POLICY
        .replace("key = [\"PlaylistId\", \"TrackId\"]\nkind = \"append\"", "key = \"PlaylistId\"\nkind = \"append\"");
    let issues =
        leash_engine::check_schema(&leash_core::policy::parse_policy("p.toml", &half).unwrap(), f.store.as_ref())
            .await
            .unwrap();
    let text: Vec<String> = issues.iter().filter(|i| !i.warning).map(|i| i.message.clone()).collect();
    assert_eq!(text.len(), 1, "{kind:?}: one error for one mistake: {text:?}");
    assert!(text[0].contains("keyed on (PlaylistId, TrackId)"), "{kind:?}: {text:?}");
    let unset = POLICY.replace("  [actions.fields.TrackId]\n  exists_in = \"Track.TrackId\"\n", "");
    let issues =
        leash_engine::check_schema(&leash_core::policy::parse_policy("p.toml", &unset).unwrap(), f.store.as_ref())
            .await
            .unwrap();
    assert!(issues.iter().any(|i| !i.warning && i.message.contains("may not set TrackId")), "{kind:?}: {issues:?}");
}

/// The backtest replays what the write path judges: `new` in a condition,
/// a threshold, `exists_in` (against the set as it is now), composite keys.
async fn the_backtest_replays_new_values_thresholds_sets_and_composite_keys(kind: Kind) {
    let Some(f) = fixture(kind, None).await else { return };
    for (track, price) in [(1, "1.05"), (2, "0.95")] {
        let r = f.engine.call(&agent(), "set_track_price", call(track, "UnitPrice", json!(price))).await.unwrap();
        assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    }
    for (track, genre) in [(3, 7), (4, 2)] {
        let r = f.engine.call(&agent(), "set_track_genre", call(track, "GenreId", json!(genre))).await.unwrap();
        assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    }
    let key = Call {
        key: Some(json!({"PlaylistId": 2, "TrackId": 5})),
        set: [("Position".to_string(), json!(40))].into_iter().collect(),
        ..Call::default()
    };
    assert_eq!(f.engine.call(&agent(), "move_in_playlist", key).await.unwrap().outcome, Outcome::Applied);
    let all = leash_engine::AuditRequest::default();
    let live = f.engine.audit(&reviewer(), None, &all).await.unwrap();
    assert_eq!(live.checked, 5, "{kind:?}: {live:?}");
    assert!(live.refused.is_empty() && live.reviewed.is_empty(), "{kind:?}: the live policy let these land: {live:?}");
    // Stricter: any price rise waits (a `new` condition), any price over 1
    // waits (a threshold), and genres must be playlist ids 1–3.
    let stricter = POLICY
        .replace(
            "review_if = \"new.UnitPrice > record.UnitPrice * 1.1\"",
            "review_if = \"new.UnitPrice > record.UnitPrice\"",
        )
        .replace("review_above = 5", "review_above = 1")
        .replace("exists_in = \"Genre.GenreId\"", "exists_in = \"Playlist.PlaylistId\"");
    let candidate = leash_core::policy::parse_policy("stricter.toml", &stricter).unwrap();
    let report = f.engine.audit(&reviewer(), Some(&candidate), &all).await.unwrap();
    assert_eq!(report.checked, 5, "{kind:?}");
    assert_eq!(report.reviewed.len(), 1, "{kind:?}: only the rise waits: {report:?}");
    let reasons = &report.reviewed[0].reasons;
    assert!(reasons.contains(&ReviewReason::ReviewIf) && reasons.contains(&ReviewReason::OverThreshold), "{reasons:?}");
    assert_eq!(report.refused.len(), 1, "{kind:?}: genre 7 is no playlist: {report:?}");
    assert_eq!(report.refused[0].code, Code::ValueNotAllowed, "{kind:?}");
    assert!(report.refused[0].message.contains("Playlist.PlaylistId"), "{}", report.refused[0].message);
    let playlist = report.actions.iter().find(|a| a.name == "move_in_playlist").unwrap();
    assert_eq!((playlist.checked, playlist.would_apply), (1, 1), "{kind:?}: the composite-key change is judged");
}

conformance!(
    the_backtest_replays_new_values_thresholds_sets_and_composite_keys,
    check_refuses_keys_that_could_never_work,
    a_composite_key_updates_appends_reverts_and_verifies,
    a_price_up_to_ten_percent_lands_and_more_waits,
    a_genre_must_exist,
    production_narrows_what_staging_lets_land,
);

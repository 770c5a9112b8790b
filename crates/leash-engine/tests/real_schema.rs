//! A schema shaped like a real application's (a film rental shop): uuid
//! keys, an enum, a domain, numeric money, timestamps with zones, JSON,
//! arrays and full-text columns leash never writes, and triggers that stamp
//! `last_update` and lower-case a written e-mail. The whole loop runs on it
//! — direct writes, a review with an edit, conditions over typed values,
//! refusals, revert, verify — and what the journal holds is what the
//! database stored.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use leash_core::call::Call;
use leash_core::codes::{Code, Outcome, ReviewReason};
use leash_core::policy::parse_policy;
use leash_core::value::Value;
use leash_engine::{check_schema, Caller, Engine, RevertRequest, Role, Selector, REVERT_BATCH_MAX};
use leash_store::Store;
use leash_testkit::{conformance, Kind};
use serde_json::json;

const ANN: &str = "6f1c2c3e-6a43-4f4e-9d3a-0b7e4c6d2a11";
const BEN: &str = "2b9d8e7f-1c2a-4b3c-8d9e-0f1a2b3c4d5e";

/// The rental shop, per store. PostgreSQL uses its own types throughout;
/// MySQL and SQLite the nearest they have.
fn rental_shop(kind: Kind) -> Vec<String> {
    let customers = format!(
        "INSERT INTO customer (customer_id, first_name, last_name, email, prefs) VALUES \
         ('{ANN}', 'Ann', 'Lee', 'ann@old.test', '{{\"lang\": \"en\"}}'), ('{BEN}', 'Ben', 'Ode', 'ben@ode.test', '{{}}')"
    );
    let films = "INSERT INTO film (film_id, title, release_year, rental_rate) VALUES (1, 'Alien', 1979, 2.99)";
    let rentals = format!(
        "INSERT INTO rental (rental_id, customer_id, film_id, status, due_at, amount) VALUES \
         (1, '{ANN}', 1, 'reserved', '2026-03-01 10:00:00', 4.99), (2, '{BEN}', 1, 'out', '2026-09-01 10:00:00', 9.50)"
    );
    let mut s: Vec<String> = match kind {
        Kind::Postgres => vec![
            "CREATE TYPE rental_status AS ENUM ('reserved', 'out', 'returned', 'lost')".into(),
            "CREATE DOMAIN year AS integer CHECK (VALUE BETWEEN 1888 AND 2100)".into(),
            "CREATE TABLE customer (customer_id uuid PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL,
                email text, active boolean NOT NULL DEFAULT true, prefs jsonb NOT NULL DEFAULT '{}',
                tags text[] NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now(),
                last_update timestamptz NOT NULL DEFAULT now())".into(),
            "CREATE TABLE film (film_id serial PRIMARY KEY, title text NOT NULL, release_year year,
                rental_rate numeric(4,2) NOT NULL DEFAULT 4.99, fulltext tsvector,
                last_update timestamptz NOT NULL DEFAULT now())".into(),
            "CREATE TABLE rental (rental_id bigserial PRIMARY KEY, customer_id uuid NOT NULL REFERENCES customer,
                film_id integer NOT NULL REFERENCES film, status rental_status NOT NULL DEFAULT 'reserved',
                due_at timestamptz NOT NULL, amount numeric(6,2) NOT NULL,
                last_update timestamptz NOT NULL DEFAULT now())".into(),
            "CREATE FUNCTION stamp_last_update() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN NEW.last_update = clock_timestamp(); RETURN NEW; END $$".into(),
            "CREATE FUNCTION lower_email() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN NEW.email = lower(NEW.email); RETURN NEW; END $$".into(),
            "CREATE TRIGGER customer_stamp BEFORE UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION stamp_last_update()".into(),
            "CREATE TRIGGER customer_email BEFORE INSERT OR UPDATE OF email ON customer FOR EACH ROW EXECUTE FUNCTION lower_email()".into(),
            "CREATE TRIGGER film_stamp BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION stamp_last_update()".into(),
            "CREATE TRIGGER rental_stamp BEFORE UPDATE ON rental FOR EACH ROW EXECUTE FUNCTION stamp_last_update()".into(),
        ],
        Kind::Mysql => vec![
            "CREATE TABLE customer (customer_id CHAR(36) PRIMARY KEY, first_name VARCHAR(45) NOT NULL,
                last_name VARCHAR(45) NOT NULL, email VARCHAR(100), active TINYINT(1) NOT NULL DEFAULT 1,
                prefs JSON NOT NULL, created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
                last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)".into(),
            "CREATE TABLE film (film_id INT PRIMARY KEY, title VARCHAR(128) NOT NULL, release_year SMALLINT,
                rental_rate DECIMAL(4,2) NOT NULL DEFAULT 4.99, blurb TEXT, last_update TIMESTAMP NULL,
                CONSTRAINT film_year CHECK (release_year BETWEEN 1888 AND 2100))".into(),
            "CREATE TABLE rental (rental_id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id CHAR(36) NOT NULL,
                film_id INT NOT NULL, status ENUM('reserved','out','returned','lost') NOT NULL DEFAULT 'reserved',
                due_at DATETIME NOT NULL, amount DECIMAL(6,2) NOT NULL, last_update TIMESTAMP NULL,
                FOREIGN KEY (customer_id) REFERENCES customer (customer_id), FOREIGN KEY (film_id) REFERENCES film (film_id))".into(),
            "CREATE TRIGGER customer_stamp BEFORE UPDATE ON customer FOR EACH ROW
                SET NEW.last_update = NOW(6), NEW.email = LOWER(NEW.email)".into(),
            "CREATE TRIGGER rental_stamp BEFORE UPDATE ON rental FOR EACH ROW SET NEW.last_update = NOW(6)".into(),
        ],
        Kind::Sqlite => vec![
            "CREATE TABLE customer (customer_id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
                email TEXT, active BOOLEAN NOT NULL DEFAULT 1, prefs JSON NOT NULL DEFAULT '{}',
                created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, last_update DATETIME)".into(),
            "CREATE TABLE film (film_id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                release_year INTEGER CHECK (release_year BETWEEN 1888 AND 2100),
                rental_rate NUMERIC NOT NULL DEFAULT 4.99, blurb TEXT, last_update DATETIME)".into(),
            "CREATE TABLE rental (rental_id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customer,
                film_id INTEGER NOT NULL REFERENCES film,
                status TEXT NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved','out','returned','lost')),
                due_at DATETIME NOT NULL, amount NUMERIC NOT NULL, last_update DATETIME)".into(),
            // SQLite's triggers cannot rewrite NEW: they write the row again.
            "CREATE TRIGGER customer_email AFTER UPDATE OF email ON customer WHEN NEW.email <> lower(NEW.email)
                BEGIN UPDATE customer SET email = lower(NEW.email) WHERE customer_id = NEW.customer_id; END".into(),
            "CREATE TRIGGER rental_stamp AFTER UPDATE ON rental
                BEGIN UPDATE rental SET last_update = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rental_id = NEW.rental_id; END".into(),
        ],
    };
    s.extend([customers, films.to_string(), rentals]);
    s
}

const POLICY: &str = r#"
[[actions]]
name = "set_email"
summary = "Set a customer's e-mail address."
table = "customer"
key = "customer_id"
mode = "direct"
  [actions.fields.email]
  format = "email"

[[actions]]
name = "set_prefs"
summary = "Replace a customer's preferences."
table = "customer"
key = "customer_id"
mode = "direct"
review_if = "record.active == false"
  [actions.fields.prefs]

[[actions]]
name = "set_rental_status"
summary = "Move a rental along."
table = "rental"
key = "rental_id"
mode = "direct"
when = "record.status != 'lost'"
  [actions.fields.status]
  one_of = ["out", "returned", "lost"]

[[actions]]
name = "move_due"
summary = "Move a rental's due time."
table = "rental"
key = "rental_id"
mode = "direct"
review_if = "timestamp(record.due_at) < timestamp('2026-06-01T00:00:00Z')"
review_note = "due before June: a person checks"
  [actions.fields.due_at]
  range = ["2026-01-01", "2027-12-31"]

[[actions]]
name = "adjust_amount"
summary = "Correct what a rental costs."
table = "rental"
key = "rental_id"
mode = "direct"
  [actions.fields.amount]
  sensitive = "money"
  range = [0, 500]

[[actions]]
name = "set_release_year"
summary = "Fix a film's release year."
table = "film"
key = "film_id"
mode = "direct"
  [actions.fields.release_year]
"#;

fn agent() -> Caller {
    Caller { name: "assistant".into(), role: Role::Agent, actions: Vec::new() }
}

fn call(key: &str, field: &str, value: &str) -> Call {
    let mut c = Call { key: Some(Value::String(key.into())), reason: Some("shop".into()), ..Call::default() };
    c.set.insert(field.into(), Value::String(value.into()));
    c
}

async fn read(store: &dyn Store, table: &str, key_col: &str, key: &str, field: &str) -> Value {
    let schema = store.table_schema(table).await.unwrap().unwrap();
    let rec = store.read_record(&schema, &leash_core::policy::Key::single(key_col), key).await.unwrap().unwrap();
    rec.get(field).cloned().unwrap_or(Value::Null)
}

async fn the_rental_shop_runs_the_whole_loop_as_the_database_stores_it(kind: Kind) {
    let Some(db) = leash_testkit::fresh_database(kind).await else { return };
    let store: Arc<dyn Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let statements = rental_shop(kind);
    store.execute_script(&statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let policy = parse_policy("shop.toml", POLICY).unwrap();
    assert!(check_schema(&policy, store.as_ref()).await.unwrap().is_empty(), "{kind:?}: the policy fits the shop");
    let engine = Engine::open(policy, store.clone()).await.unwrap();
    engine.approve_policy(&Caller::local("owner"), None).await.unwrap();
    let s = store.as_ref();

    // A trigger lower-cases the address: the journal says what was stored.
    let r = engine.call(&agent(), "set_email", call(ANN, "email", "Ann.Lee@example.com")).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    assert_eq!(r.fields[0].new, json!("ann.lee@example.com"), "{kind:?}: the caller hears what was stored");
    let email_change = r.change_id.clone().unwrap();
    let journaled = store.change(&email_change).await.unwrap().unwrap();
    assert_eq!(journaled.fields[0].new, json!("ann.lee@example.com"), "{kind:?}: journaled as stored");
    assert_eq!(read(s, "customer", "customer_id", ANN, "email").await, json!("ann.lee@example.com"));
    assert!(engine.verify().await.unwrap().ok, "{kind:?}: no false drift after a trigger's rewrite");

    // An enum column, closed by the policy and by the database.
    let r = engine.call(&agent(), "set_rental_status", call("1", "status", "out")).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let r = engine.call(&agent(), "set_rental_status", call("1", "status", "misplaced")).await.unwrap();
    assert_eq!(r.code, Some(Code::ValueNotAllowed), "{kind:?}: {r:?}");

    // A condition over a time, whatever the database's spelling of it.
    let r = engine.call(&agent(), "move_due", call("1", "due_at", "2026-03-08T10:00:00Z")).await.unwrap();
    assert_eq!(r.outcome, Outcome::PendingReview, "{kind:?}: due in March is before June: {r:?}");
    assert!(r.reasons.contains(&ReviewReason::ReviewIf), "{kind:?}: {r:?}");
    let r = engine.call(&agent(), "move_due", call("2", "due_at", "2026-10-01T09:00:00+02:00")).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: due in September: {r:?}");
    let r = engine.call(&agent(), "move_due", call("2", "due_at", "2031-01-01T00:00:00Z")).await.unwrap();
    assert_eq!(r.code, Some(Code::OutOfRange), "{kind:?}: a range on a time column: {r:?}");

    // Money goes to a person, who edits it; the journal keeps the stored form.
    let r = engine.call(&agent(), "adjust_amount", call("2", "amount", "12")).await.unwrap();
    assert_eq!(r.outcome, Outcome::PendingReview, "{kind:?}: {r:?}");
    let lead = Caller { name: "lead".into(), role: Role::Reviewer, actions: Vec::new() };
    let mut edit = serde_json::Map::new();
    edit.insert("amount".into(), json!("12.5"));
    let r = engine.approve(&lead, r.proposal_id.as_deref().unwrap(), edit, Some("rounded")).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    let amount = read(s, "rental", "rental_id", "2", "amount").await;
    assert_eq!(r.fields[0].new, amount, "{kind:?}: the journal holds the stored amount");

    // JSON: the document as the database prints it.
    let r = engine.call(&agent(), "set_prefs", call(BEN, "prefs", r#"{"lang":"de","sms":false}"#)).await.unwrap();
    assert_eq!(r.outcome, Outcome::Applied, "{kind:?}: {r:?}");
    assert_eq!(r.fields[0].new, read(s, "customer", "customer_id", BEN, "prefs").await);
    let r = engine.call(&agent(), "set_prefs", call(BEN, "prefs", "{not json")).await.unwrap();
    assert_eq!(r.code, Some(Code::InvalidInput), "{kind:?}: {r:?}");

    // A year outside the database's own check: refused, named, nothing written.
    let r = engine.call(&agent(), "set_release_year", call("1", "release_year", "2150")).await.unwrap();
    assert_eq!(r.code, Some(Code::InvalidInput), "{kind:?}: {r:?}");
    assert!(r.message.contains("release_year"), "{kind:?}: {}", r.message);
    assert_eq!(read(s, "film", "film_id", "1", "release_year").await, json!(1979));
    assert!(engine.verify().await.unwrap().ok, "{kind:?}: verify before the undo");

    // Undo everything the agent did: every field back exactly, chains intact.
    let req = RevertRequest {
        selector: Selector::actor("assistant").unwrap(),
        dry_run: false,
        force: false,
        batch_max: REVERT_BATCH_MAX,
    };
    let report = engine.revert(&Caller::local("owner"), &req, |_, _| {}).await.unwrap();
    assert!(report.conflicts.is_empty(), "{kind:?}: {:?}", report.conflicts);
    assert_eq!(read(s, "customer", "customer_id", ANN, "email").await, json!("ann@old.test"));
    assert_eq!(read(s, "rental", "rental_id", "1", "status").await, json!("reserved"));
    assert_eq!(
        read(s, "rental", "rental_id", "2", "amount").await,
        json!(if kind == Kind::Sqlite { json!(9.5) } else { json!("9.50") })
    );
    let prefs = read(s, "customer", "customer_id", BEN, "prefs").await;
    assert_eq!(prefs, json!("{}"), "{kind:?}: the document back as it was");
    let report = engine.verify().await.unwrap();
    assert!(report.ok, "{kind:?}: {report:?}");
}

/// `leash check` knows the types: an enum cannot take a `one_of` value it
/// lacks, binary and generated columns are not writable, and (PostgreSQL)
/// a schema-qualified, mixed-case table is found.
async fn check_refuses_what_the_column_types_cannot_do(kind: Kind) {
    let Some(db) = leash_testkit::fresh_database(kind).await else { return };
    let store: Arc<dyn Store> = Arc::from(leash_store::open(&db.url).await.unwrap());
    let mut statements = rental_shop(kind);
    let (blob, generated) = match kind {
        Kind::Postgres => ("bytea", "integer GENERATED ALWAYS AS (film_id * 2) STORED"),
        Kind::Mysql => ("BLOB", "INT AS (film_id * 2) STORED"),
        Kind::Sqlite => ("BLOB", "INTEGER GENERATED ALWAYS AS (film_id * 2) STORED"),
    };
    statements.push(format!("CREATE TABLE poster (film_id INTEGER PRIMARY KEY, image {blob}, twice {generated})"));
    store.execute_script(&statements.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let policy = r#"
[[actions]]
name = "set_rental_status"
summary = "Move a rental along."
table = "rental"
key = "rental_id"
  [actions.fields.status]
  one_of = ["out", "misplaced"]

[[actions]]
name = "set_poster"
summary = "Replace a poster."
table = "poster"
key = "film_id"
  [actions.fields.image]
  [actions.fields.twice]
"#;
    let policy = parse_policy("check.toml", policy).unwrap();
    let issues = check_schema(&policy, store.as_ref()).await.unwrap();
    let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    if kind != Kind::Sqlite {
        assert!(has("misplaced"), "{kind:?}: an enum without the label: {text:?}");
    }
    assert!(has("image") && has("bytes"), "{kind:?}: a binary column: {text:?}");
    assert!(has("twice") && has("computes"), "{kind:?}: a generated column: {text:?}");

    if kind == Kind::Postgres {
        // A schema of its own beside the test's, so runs never collide.
        let crm = format!("crm_{}", std::process::id());
        store
            .execute_script(&[
                &format!("DROP SCHEMA IF EXISTS {crm} CASCADE"),
                &format!("CREATE SCHEMA {crm}"),
                &format!("CREATE TABLE {crm}.\"Customers\" (\"Id\" uuid PRIMARY KEY, \"Email\" text)"),
                &format!("INSERT INTO {crm}.\"Customers\" VALUES ('{ANN}', 'a@b.test')"),
            ])
            .await
            .unwrap();
        let policy = parse_policy(
            "crm.toml",
            &format!("[[actions]]\nname = \"set_email\"\nsummary = \"E-mail.\"\ntable = \"{crm}.Customers\"\nkey = \"Id\"\nmode = \"direct\"\n  [actions.fields.Email]\n"),
        )
        .unwrap();
        let issues = check_schema(&policy, store.as_ref()).await.unwrap();
        assert!(issues.is_empty(), "a schema-qualified mixed-case table: {issues:?}");
        let engine = Engine::open(policy, store.clone()).await.unwrap();
        engine.approve_policy(&Caller::local("owner"), None).await.unwrap();
        let r = engine.call(&agent(), "set_email", call(ANN, "Email", "c@d.test")).await.unwrap();
        assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
        assert!(engine.verify().await.unwrap().ok);
        store.execute_script(&[&format!("DROP SCHEMA {crm} CASCADE")]).await.unwrap();
    }
}

conformance!(
    the_rental_shop_runs_the_whole_loop_as_the_database_stores_it,
    check_refuses_what_the_column_types_cannot_do
);

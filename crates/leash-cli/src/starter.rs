//! What `leash init` writes: a starter policy, and with `--demo` the demo
//! shop database it fits.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::EXIT_DECIDED;

pub const DEMO_POLICY: &str = r#"# leash policy for the demo shop. Every key is checked by `leash check`.
[database]
url = "sqlite://shop.db"

[rollout]
min_reviewed = 20
min_accepted_rate = 0.95
revert_free_days = 7

[[actions]]
name = "fix_contact_format"
summary = "Rewrite a customer's email, phone or name in standard form; mechanical edits only."
table = "customers"
key = "id"
mode = "direct"
risk = "low"
rollback_minutes = 1
owner = "ops@shop.test"
exception_approver = "support-lead"
minutes_saved = 2
read = ["id", "name", "email", "phone", "vip", "locked"]
requires = ["reason"]
when = "record.deleted_at == null"
locked_if = "record.locked == true"
review_if = "record.vip == true"
review_note = "VIP account: a person checks every change"
  [actions.fields.email]
  change = "mechanical"
  format = "email"
  [actions.fields.phone]
  change = "mechanical"
  format = "phone"
  [actions.fields.name]
  change = "mechanical"
  format = "name"
  max_len = 120
  [actions.limits]
  per_run = 100
  per_hour = 500

[[actions]]
name = "fix_address_format"
summary = "Rewrite a customer's address in standard form; anything that could move the customer goes to a person."
table = "customers"
key = "id"
mode = "direct"
risk = "low"
rollback_minutes = 1
owner = "ops@shop.test"
exception_approver = "support-lead"
minutes_saved = 3
read = ["id", "name", "address", "city", "state", "zip"]
requires = ["reason"]
locked_if = "record.locked == true"
  [actions.fields.address]
  change = "mechanical"
  format = "us_address"
  max_len = 200
  [actions.fields.city]
  change = "mechanical"
  format = "us_address"
  [actions.fields.state]
  one_of = ["AL","AK","AZ","AR","CA","CO","CT","DE","DC","FL","GA","HI","ID","IL","IN","IA","KS","KY","LA","ME","MD","MA","MI","MN","MS","MO","MT","NE","NV","NH","NJ","NM","NY","NC","ND","OH","OK","OR","PA","RI","SC","SD","TN","TX","UT","VT","VA","WA","WV","WI","WY"]
  [actions.fields.zip]
  pattern = '^\d{5}(-\d{4})?$'

[[actions]]
name = "set_ticket_status"
summary = "Set an open ticket's status, e.g. to needs_reply when the customer has waited."
table = "tickets"
key = "id"
mode = "direct"
risk = "low"
rollback_minutes = 1
owner = "support@shop.test"
minutes_saved = 1
when = "record.status != 'closed'"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]

[[actions]]
name = "tag_ticket_topic"
summary = "Tag a ticket with its topic from a fixed list when it has none."
table = "tickets"
key = "id"
mode = "suggest"   # the stage of tag_ticket_topic: suggest, review, direct
risk = "low"
rollback_minutes = 1
owner = "support@shop.test"
exception_approver = "support-lead"
minutes_saved = 1
  [actions.fields.topic]
  one_of = ["shipping", "billing", "returns", "product", "other"]
  only_if_empty = true
  [actions.review]
  below_confidence = 0.8
  watch = "1h"

[[actions]]
name = "fill_ticket_priority"
summary = "Fill in a ticket's priority when it is blank; never overwrite one a person set."
table = "tickets"
key = "id"
mode = "direct"
risk = "low"
rollback_minutes = 1
owner = "support@shop.test"
minutes_saved = 1
  [actions.fields.priority]
  one_of = ["low", "normal", "high"]
  only_if_empty = true

[[actions]]
name = "adjust_invoice"
summary = "Move an invoice's due date; any change to an amount waits for a person."
table = "invoices"
key = "id"
mode = "direct"
risk = "medium"
rollback_minutes = 5
owner = "finance@shop.test"
exception_approver = "finance-lead"
minutes_saved = 3
requires = ["reason"]
when = "record.status == 'open'"
  [actions.fields.due_date]
  format = "date"
  range = ["2026-01-01", "2027-12-31"]
  [actions.fields.amount]
  sensitive = "money"
  range = [0, 100000]
  [actions.limits]
  per_run = 100
  [actions.review]
  expire = "24h"
  on_expire = "escalate"
  [actions.breaker]
  same_change = 20
  within = "10m"

[[actions]]
name = "add_ticket_note"
summary = "Add an internal note to a ticket."
table = "ticket_notes"
key = "id"
kind = "append"
mode = "direct"
risk = "low"
rollback_minutes = 1
owner = "support@shop.test"
minutes_saved = 1
requires = ["reason"]
  [actions.fields.ticket_id]
  [actions.fields.body]
  max_len = 500
"#;

/// The demo shop's tables and its messy rows.
pub const DEMO_SCHEMA: &[&str] = &[
    "CREATE TABLE customers (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, phone TEXT,
        address TEXT, city TEXT, state TEXT, zip TEXT,
        vip BOOLEAN NOT NULL DEFAULT 0, locked BOOLEAN NOT NULL DEFAULT 0,
        deleted_at TEXT, created_at TEXT NOT NULL)",
    "CREATE TABLE tickets (
        id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, subject TEXT NOT NULL,
        status TEXT NOT NULL, priority TEXT, topic TEXT, last_customer_message_at TEXT)",
    "CREATE TABLE invoices (
        id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount NUMERIC NOT NULL,
        due_date DATE NOT NULL, status TEXT NOT NULL)",
    "CREATE TABLE ticket_notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id INTEGER NOT NULL, body TEXT NOT NULL)",
    "INSERT INTO customers (id, name, email, phone, address, city, state, zip, vip, locked, deleted_at, created_at) VALUES
        (1, 'ann lee', 'Ann.Lee@EXAMPLE.COM', '(415) 555-0134', '125 main st apt#4b', 'brookln', 'NY', '11211', 0, 0, NULL, '2019-03-02'),
        (2, 'Bob  Stone', 'bob@stone.test', '415.555.0199', '18 Market Street', 'Portland', 'ME', '97201', 0, 0, NULL, '2021-07-19'),
        (3, 'Carla Diaz', 'carla@diaz.test', '+1 212 555 0101', '9 Elm St Unit 12B', 'Austin', 'TX', '78701', 0, 1, NULL, '2020-01-11'),
        (4, 'Dana Wu', 'DANA@WU.TEST', '646-555-0172', '400 Park Ave', 'New York', 'NY', '10022', 1, 0, NULL, '2018-05-30'),
        (5, 'Jon Smith', 'jon@smith.test', NULL, '77 Sunset Blvd Apt 3', 'Los Angeles', 'CA', '90028', 0, 0, NULL, '2022-09-01'),
        (6, 'Jon Smith', 'jsmith@old.test', '', NULL, NULL, NULL, NULL, 0, 0, '2023-02-14', '2012-04-04')",
    "INSERT INTO tickets (id, customer_id, subject, status, priority, last_customer_message_at) VALUES
        (1, 1, 'Where is my order?', 'open', NULL, '2026-11-24T09:12:00Z'),
        (2, 2, 'Wrong size', 'open', 'high', '2026-11-23T15:40:00Z'),
        (3, 4, 'Invoice question', 'closed', 'normal', '2026-10-02T11:00:00Z'),
        (4, 5, 'Change my address', 'pending', NULL, NULL)",
];

/// The demo's fixtures: the tables above plus 60 open invoices.
pub fn demo_fixtures() -> Vec<String> {
    let invoices: Vec<String> = (1..=60)
        .map(|i| format!("({i}, {}, {}.00, '2026-12-{:02}', 'open')", 1 + i % 5, 40 + i * 7, 1 + i % 28))
        .collect();
    let subjects = ["Where is my parcel?", "Charged twice", "Return label please", "Zipper broke", "Change my email"];
    let tickets: Vec<String> =
        (10..=80).map(|i| format!("({i}, {}, '{}', 'open', NULL)", 1 + i % 5, subjects[i % subjects.len()])).collect();
    let mut out: Vec<String> = DEMO_SCHEMA.iter().map(|s| s.to_string()).collect();
    out.push(format!(
        "INSERT INTO invoices (id, customer_id, amount, due_date, status) VALUES {}",
        invoices.join(", ")
    ));
    out.push(format!("INSERT INTO tickets (id, customer_id, subject, status, priority) VALUES {}", tickets.join(", ")));
    out
}

pub const STARTER_POLICY: &str = r#"# A starter policy: three low-risk actions, each in suggest mode, so every
# call becomes a suggestion a person accepts until the action earns more.
# Point [database] url at your database and rename tables and columns.
[database]
url = "sqlite://shop.db"

[[actions]]
name = "tag_ticket"
summary = "Set a ticket's priority from a fixed list when it is blank."
table = "tickets"
key = "id"
mode = "suggest"
risk = "low"
rollback_minutes = 1
minutes_saved = 1
  [actions.fields.priority]
  one_of = ["low", "normal", "high"]
  only_if_empty = true

[[actions]]
name = "mark_needs_reply"
summary = "Set an open ticket's status to needs_reply."
table = "tickets"
key = "id"
mode = "suggest"
risk = "low"
rollback_minutes = 1
minutes_saved = 1
requires = ["reason"]
when = "record.status == 'open'"
  [actions.fields.status]
  one_of = ["needs_reply"]

[[actions]]
name = "add_internal_note"
summary = "Add an internal note to a ticket."
table = "ticket_notes"
key = "id"
kind = "append"
mode = "suggest"
risk = "low"
rollback_minutes = 1
minutes_saved = 1
requires = ["reason"]
  [actions.fields.ticket_id]
  [actions.fields.body]
  max_len = 500
"#;

pub const STARTER_TESTS: &str = r#"# Policy tests: `leash test` runs each call on a throw-away copy of the table
# and compares the outcome. Add a case for every rule you rely on.
[[cases]]
name = "a blank priority gets a suggestion"
action = "tag_ticket"
record = { id = 1, status = "open", priority = "" }
call = { key = "1", set = { priority = "low" } }
expect = { outcome = "suggested" }

[[cases]]
name = "a priority a person set is never overwritten"
action = "tag_ticket"
record = { id = 1, status = "open", priority = "high" }
call = { key = "1", set = { priority = "low" } }
expect = { outcome = "rejected", code = "not_empty" }

[[cases]]
name = "only the fixed priorities"
action = "tag_ticket"
record = { id = 1, status = "open", priority = "" }
call = { key = "1", set = { priority = "urgent" } }
expect = { outcome = "rejected", code = "value_not_allowed" }

[[cases]]
name = "an open ticket can be marked needs_reply"
action = "mark_needs_reply"
record = { id = 2, status = "open" }
call = { key = "2", set = { status = "needs_reply" }, reason = "no reply for 26 h" }
expect = { outcome = "suggested" }

[[cases]]
name = "a closed ticket is left alone"
action = "mark_needs_reply"
record = { id = 2, status = "closed" }
call = { key = "2", set = { status = "needs_reply" }, reason = "customer waiting" }
expect = { outcome = "rejected", code = "condition_false" }

[[cases]]
name = "needs_reply wants a reason"
action = "mark_needs_reply"
record = { id = 2, status = "open" }
call = { key = "2", set = { status = "needs_reply" } }
expect = { outcome = "rejected", code = "missing_required" }

[[cases]]
name = "an internal note is suggested"
action = "add_internal_note"
call = { set = { ticket_id = 1, body = "Called the courier." }, reason = "context for the next agent" }
expect = { outcome = "suggested" }
"#;

/// The policy holds secrets (the database URL's password, webhook secrets,
/// Slack's signing secret) once filled in: only its owner may read it.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
        // An existing file (--force) keeps its old mode unless told.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text)
    }
}

pub async fn init(config: &Path, demo: bool, force: bool, db: Option<&str>, json: bool) -> Result<u8> {
    if config.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", config.display());
    }
    let dir = config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Some(url) = db {
        if demo {
            bail!("--demo builds its own database; leave out --db, or leave out --demo to start from yours");
        }
        return init_from_database(config, dir, url, json).await;
    }
    let text = if demo { DEMO_POLICY } else { STARTER_POLICY };
    write_private(config, text).with_context(|| format!("cannot write {}", config.display()))?;
    let tests = dir.join(crate::test_cases::TEST_FILE);
    if !demo && (force || !tests.exists()) {
        std::fs::write(&tests, STARTER_TESTS).with_context(|| format!("cannot write {}", tests.display()))?;
    }
    let mut db = None;
    if demo {
        let path = dir.join("shop.db");
        if path.exists() {
            bail!("{} exists; remove it to build a fresh demo database", path.display());
        }
        let fixtures = demo_fixtures();
        let url = format!("sqlite://{}", path.display());
        leash_engine::run_script(&url, &fixtures.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        db = Some(path);
    }
    if json {
        println!("{}", serde_json::json!({"policy": config, "database": db}));
    } else {
        println!("wrote {}", config.display());
        if let Some(db) = db {
            println!("wrote {} with demo customers, tickets and invoices", db.display());
        }
        if !demo {
            println!("wrote {} (run it with: leash test)", tests.display());
        }
        if !demo {
            println!(
                "its actions name example tables: point [database] url at your database and rename them, \
                 or write one from your schema with: leash init --db URL --force"
            );
        }
        println!("next: leash check, leash approve-policy --by YOU, then leash call … (see leash --help)");
    }
    Ok(EXIT_DECIDED)
}

/// `leash init --db URL`: one commented-out action per table of that database.
async fn init_from_database(config: &Path, dir: &Path, url: &str, json: bool) -> Result<u8> {
    crate::starter_schema::refuse_missing_sqlite(url)?;
    let shown = leash_core::url::redact_url(url);
    let tables =
        leash_engine::outline_database(url).await.with_context(|| format!("cannot read the tables of {shown}"))?;
    let (file_url, password_left_out) = crate::starter_schema::url_for_file(url, dir);
    let text = crate::starter_schema::starter_policy(&file_url, password_left_out, &tables);
    write_private(config, &text).with_context(|| format!("cannot write {}", config.display()))?;
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    if json {
        println!("{}", serde_json::json!({"policy": config, "database": null, "tables": names}));
    } else {
        println!(
            "wrote {} from the {} table(s) of {shown}: one action each, commented out — nothing can write until you uncomment one",
            config.display(),
            tables.len()
        );
        if password_left_out {
            println!("the password is not in the file: set LEASH_DATABASE_URL to the whole URL");
        }
        println!(
            "next: uncomment an action and give its fields rules, then leash check, leash approve-policy --by YOU"
        );
    }
    Ok(EXIT_DECIDED)
}

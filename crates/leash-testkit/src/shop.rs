//! The small shop most tests run on — tickets, customers, invoices and
//! notes — built by code on any store, with the rows tests name by key and
//! the policy of actions over them. A suite that needs other rows adds its
//! own to these tables rather than writing the tables again.

use std::sync::Arc;

use leash_store::Store;

use crate::{fresh_database, Kind, TestDb};

/// Actions over the shop: a status in three modes, a customer's contact
/// fields (mechanical, with a VIP review and a uniqueness rule), a region
/// copied from a column, an invoice's date and money, a ticket's status in
/// office hours only, and a note appended to a ticket.
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

/// The tickets table: every column a ticket test sets or reads.
pub const TICKETS: &str = "CREATE TABLE tickets (id INTEGER PRIMARY KEY, status VARCHAR(40) NOT NULL, \
    priority VARCHAR(10) NOT NULL DEFAULT 'normal', locked BOOLEAN NOT NULL DEFAULT FALSE)";

/// Every table of the shop, on `kind`'s store.
pub fn tables(kind: Kind) -> Vec<String> {
    vec![
        TICKETS.into(),
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), zip VARCHAR(10), nickname VARCHAR(40),
            phone VARCHAR(40), state VARCHAR(2), region VARCHAR(2), vip BOOLEAN NOT NULL DEFAULT FALSE)".into(),
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, due_date DATE NOT NULL, amount NUMERIC(12,2) NOT NULL, seats INTEGER)".into(),
        format!("CREATE TABLE notes (id {}, ticket_id INTEGER NOT NULL, body TEXT NOT NULL)", kind.serial_key()),
    ]
}

/// Tickets 1 (open), 2 (open, locked), 3 (closed), 4 (pending) and 100..=399
/// (open); customers 1..=5 (1 with messy contact fields, 3 a VIP, 4 and 5
/// two Jon Smiths); invoices 1..=3 of 100, 200 and 300.
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
    out.push(open_tickets(100..=399));
    out
}

/// One INSERT of open, unlocked tickets with these keys.
pub fn open_tickets(keys: std::ops::RangeInclusive<u32>) -> String {
    let values: Vec<String> = keys.map(|i| format!("({i}, 'open', FALSE)")).collect();
    format!("INSERT INTO tickets (id, status, locked) VALUES {}", values.join(", "))
}

/// A database of its own with the shop's tables and rows in it, and the
/// store over it; dropping it drops the database.
pub struct Shop {
    pub store: Arc<dyn Store>,
    pub db: TestDb,
}

impl Shop {
    pub fn url(&self) -> &str {
        &self.db.url
    }
}

/// The shop on a fresh database of `kind`'s store (`None`: that store is
/// skipped here).
pub async fn build(kind: Kind) -> Option<Shop> {
    let db = fresh_database(kind).await?;
    let store: Arc<dyn Store> = match leash_store::open(&db.url).await {
        Ok(store) => Arc::from(store),
        Err(e) => panic!("{kind:?}: cannot open the shop's database: {e}"),
    };
    let statements: Vec<String> = tables(kind).into_iter().chain(rows()).collect();
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    if let Err(e) = store.execute_script(&statements).await {
        panic!("{kind:?}: cannot build the shop: {e}");
    }
    Some(Shop { store, db })
}

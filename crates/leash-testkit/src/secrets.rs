//! A shop table whose rows hold columns no action may read (`ssn`,
//! `api_secret`), a policy whose rules and conditions touch them anyway, and
//! a walk of calls meant to reach every refusal and review reason. Every
//! interface (engine, HTTP, MCP, CLI) runs the walk and asserts that no
//! secret appears in any answer.

use serde_json::{json, Value};

use crate::Kind;

/// Records 1..=RECORDS exist; `MISSING_KEY` does not.
pub const RECORDS: u32 = 6;
pub const MISSING_KEY: &str = "99";

/// The secret columns' values of record `id`: distinctive enough that any
/// appearance in an answer is a leak, never a coincidence.
pub fn secrets_of(id: u32) -> [String; 2] {
    [format!("SSN-00{id}-55-0199"), format!("sk_live_{id}_Zq9XwV3pL")]
}

/// Every secret of every record.
pub fn all_secrets() -> Vec<String> {
    (1..=RECORDS).flat_map(secrets_of).collect()
}

/// The secret found in `text`, if any.
pub fn leaked(text: &str) -> Option<String> {
    all_secrets().into_iter().find(|s| text.contains(s.as_str()))
}

pub const TABLE: &str = "shop_customers";

/// The table, per store.
pub fn schema(kind: Kind) -> Vec<String> {
    let boolean = if kind == Kind::Mysql { "TINYINT(1)" } else { "BOOLEAN" };
    vec![format!(
        "CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), phone VARCHAR(40),
         address VARCHAR(200), city VARCHAR(60), state VARCHAR(2), zip VARCHAR(10), status VARCHAR(20),
         nickname VARCHAR(40), credit NUMERIC(12,2), region VARCHAR(40), vip {boolean} NOT NULL DEFAULT FALSE,
         locked {boolean} NOT NULL DEFAULT FALSE, ssn VARCHAR(40) NOT NULL, api_secret VARCHAR(80) NOT NULL)"
    )]
}

/// Six customers: 1 plain, 2 locked, 3 VIP, 4 with a nickname, 5 a
/// duplicate email of 1's, 6 with a ZIP that is not its state's.
pub fn rows() -> Vec<String> {
    let row = |id: u32, name: &str, email: &str, addr: &str, city: &str, state: &str, zip: &str, more: &str| {
        let [ssn, secret] = secrets_of(id);
        format!(
            "({id}, '{name}', '{email}', '555-0100', '{addr}', '{city}', '{state}', '{zip}', 'open', {more}, 100, NULL, \
             {}, {}, '{ssn}', '{secret}')",
            if id == 3 { "TRUE" } else { "FALSE" },
            if id == 2 { "TRUE" } else { "FALSE" },
        )
    };
    let values = [
        row(1, "ann lee", "ann@example.com", "12 Elm St Apt 4B", "Austin", "TX", "78701", "NULL"),
        row(2, "Bob Stone", "bob@stone.test", "9 Oak Ave", "Portland", "OR", "97201", "NULL"),
        row(3, "Dana Wu", "dana@wu.test", "1 Main St", "New York", "NY", "10022", "NULL"),
        row(4, "Jon Smith", "jon@smith.test", "5 Pine Rd Unit 12B", "Los Angeles", "CA", "90028", "'Jonny'"),
        row(5, "Jo Smith", "jo@smith.test", "7 Birch Ln", "Seattle", "WA", "98101", "NULL"),
        row(6, "Kim Park", "kim@park.test", "3 Cedar Ct", "Boston", "MA", "02108", "NULL"),
    ];
    vec![format!(
        "INSERT INTO {TABLE} (id, name, email, phone, address, city, state, zip, status, nickname, credit, region, vip, \
         locked, ssn, api_secret) VALUES {}",
        values.join(", ")
    )]
}

/// Actions that read `id` and `name` only, with rules and conditions that
/// touch the secret columns the way a policy author might.
pub const POLICY: &str = r#"
[[actions]]
name = "fix_contact"
summary = "Fix a customer's contact fields."
table = "shop_customers"
key = "id"
mode = "direct"
read = ["id", "name"]
requires = ["reason"]
when = "record.ssn != ''"
locked_if = "record.locked == true"
review_if = "record.vip == true"
  [actions.fields.email]
  change = "mechanical"
  format = "email"
  unique = true
  [actions.fields.name]
  change = "mechanical"
  format = "name"
  max_len = 20
  [actions.fields.phone]
  pattern = '^[0-9 ()+-]+$'
  [actions.fields.nickname]
  only_if_empty = true
  [actions.fields.status]
  one_of = ["open", "needs_reply", "solved"]
  [actions.limits]
  per_run = 3
  [actions.review]
  below_confidence = 0.8

[[actions]]
name = "copy_region"
summary = "Set a customer's region from a column the agent may not read."
table = "shop_customers"
key = "id"
mode = "direct"
read = ["id", "name"]
  [actions.fields.region]
  from = "record.ssn"

[[actions]]
name = "odd_conditions"
summary = "Set a status under conditions that fail on the secret columns."
table = "shop_customers"
key = "id"
mode = "direct"
read = ["id"]
when = "record.api_secret"
review_if = "record.ssn > 5"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "solved"]

[[actions]]
name = "set_credit"
summary = "Set a customer's credit."
table = "shop_customers"
key = "id"
mode = "direct"
read = ["id"]
when = "record.vip == false"
  [actions.fields.credit]
  sensitive = "money"
  range = [0, 1000]

[[actions]]
name = "fix_address"
summary = "Rewrite a customer's street address in standard form."
table = "shop_customers"
key = "id"
mode = "direct"
read = ["id"]
  [actions.fields.address]
  change = "mechanical"
  format = "us_address"

[[actions]]
name = "review_status"
summary = "Propose a customer's status."
table = "shop_customers"
key = "id"
mode = "review"
read = ["id", "name"]
  [actions.fields.status]
  one_of = ["open", "needs_reply", "solved"]
"#;

/// One call of the walk, in the shape every interface sends.
#[derive(Debug, Clone)]
pub struct WalkCall {
    pub action: &'static str,
    pub body: Value,
}

fn call(action: &'static str, body: Value) -> WalkCall {
    WalkCall { action, body }
}

/// Calls meant to reach every refusal and review reason a record can be
/// part of, some with `expect` on secret columns (guessing and right).
pub fn walk() -> Vec<WalkCall> {
    let [ssn1, secret1] = secrets_of(1);
    let r = "seen in the inbox";
    vec![
        call("fix_contact", json!({"key": "1", "set": {"name": "Ann Lee"}, "reason": r, "confidence": 0.99})),
        call("fix_contact", json!({"key": "1", "set": {"name": "Ann Lee"}, "reason": r, "expect": {"ssn": "000"}})),
        call("fix_contact", json!({"key": "1", "set": {"name": "Ann Lee"}, "reason": r, "expect": {"ssn": ssn1}})),
        call(
            "fix_contact",
            json!({"key": "1", "set": {"status": "solved"}, "reason": r, "expect": {"api_secret": secret1}}),
        ),
        call("fix_contact", json!({"key": "1", "set": {"status": "solved"}, "reason": r, "expect": {"name": "x"}})),
        call("fix_contact", json!({"key": "1", "set": {"ssn": "1"}, "reason": r})),
        call("fix_contact", json!({"key": "1", "set": {"status": "closed"}, "reason": r})),
        call("fix_contact", json!({"key": "1", "set": {"phone": "call me"}, "reason": r})),
        call("fix_contact", json!({"key": "1", "set": {"name": "A very long name indeed, too long"}, "reason": r})),
        call("fix_contact", json!({"key": "4", "set": {"nickname": "J"}, "reason": r, "confidence": 0.99})),
        call("fix_contact", json!({"key": "1", "set": {"phone": null}, "reason": r})),
        call("fix_contact", json!({"key": "1", "set": {"status": "solved"}})),
        call("fix_contact", json!({"key": MISSING_KEY, "set": {"status": "solved"}, "reason": r})),
        call("fix_contact", json!({"key": "2", "set": {"status": "solved"}, "reason": r})),
        call("fix_contact", json!({"key": "3", "set": {"status": "solved"}, "reason": r, "confidence": 0.99})),
        call("fix_contact", json!({"key": "5", "set": {"status": "solved"}, "reason": r, "confidence": 0.2})),
        call("fix_contact", json!({"key": "5", "set": {"email": "ann@example.com"}, "reason": r, "confidence": 0.99})),
        call("fix_contact", json!({"key": "5", "set": {"name": "Joe Smith"}, "reason": r, "confidence": 0.99})),
        call("fix_contact", json!({"key": "6", "set": {"email": " Kim@Park.test"}, "reason": r, "confidence": 0.99})),
        call("copy_region", json!({"key": "1", "set": {"region": "NY"}})),
        call("odd_conditions", json!({"key": "1", "set": {"status": "solved"}})),
        call("set_credit", json!({"key": "1", "set": {"credit": "5000"}})),
        call("set_credit", json!({"key": "1", "set": {"credit": "250"}})),
        call("set_credit", json!({"key": "3", "set": {"credit": "250"}})),
        call("fix_address", json!({"key": "1", "set": {"address": "12 Elm Street"}})),
        call("fix_address", json!({"key": "6", "set": {"address": "4 Cedar Ct"}})),
        call("fix_address", json!({"key": "2", "set": {"address": "9 Oak Ave, Nowhere, AK 99501"}})),
        call("review_status", json!({"key": "6", "set": {"status": "needs_reply"}, "run_id": "walk"})),
        call("no_such_action", json!({"key": "1", "set": {"status": "solved"}})),
        call("fix_contact", json!({"key": "6", "set": {"status": "solved"}, "reason": r, "run_id": "walk"})),
        call("fix_contact", json!({"key": "5", "set": {"status": "needs_reply"}, "reason": r, "run_id": "walk"})),
        call("fix_contact", json!({"key": "4", "set": {"status": "solved"}, "reason": r, "run_id": "walk"})),
        call("fix_contact", json!({"key": "1", "set": {"status": "needs_reply"}, "reason": r, "run_id": "walk"})),
    ]
}

/// Codes and review reasons the walk must reach on the engine: if a change
/// to the policy or the walk stops reaching one, the walk no longer proves
/// that answer keeps secrets.
pub const CODES_REACHED: &[&str] = &[
    "field_not_allowed",
    "value_not_allowed",
    "pattern_mismatch",
    "too_long",
    "not_empty",
    "would_blank",
    "missing_required",
    "record_not_found",
    "record_locked",
    "condition_false",
    "stale_record",
    "limit_run",
    "out_of_range",
    "unknown_action",
];
pub const REASONS_REACHED: &[&str] = &[
    "review_if",
    "low_confidence",
    "not_mechanical",
    "duplicate_value",
    "sensitive_field",
    "missing_context",
    "mode_review",
];

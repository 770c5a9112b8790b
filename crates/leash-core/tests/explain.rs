//! `explain`: each action's page says, in words, exactly what the engine does.
//! The demo policy's pages are snapshots (read them as an owner would), the
//! rule sentences are checked one kind at a time, and a few claims that are
//! easy to get wrong are checked against `decide` itself.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use leash_core::call::Call;
use leash_core::codes::{Code, ReviewReason};
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::explain::{
    describe_changes, explain_action, explain_policy, render_text, ActionPage, PageFacts, PAGE_LINES_MAX,
};
use leash_core::policy::{parse_policy, Action};
use leash_core::value::{Record, Value};
use serde_json::json;

/// `leash demo`'s policy, copied from `crates/leash-cli/src/starter.rs`
/// (leash-core cannot depend on the CLI); `demo_policy_copy_is_current` keeps
/// the copy honest.
const DEMO_POLICY: &str = r#"# leash policy for the demo shop. Every key is checked by `leash check`.
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

#[test]
fn demo_policy_copy_is_current() {
    let source = include_str!("../../leash-cli/src/starter.rs");
    let start = "pub const DEMO_POLICY: &str = r#\"";
    let from = source.find(start).expect("starter.rs defines DEMO_POLICY") + start.len();
    let len = source[from..].find("\"#;").expect("DEMO_POLICY ends");
    assert_eq!(
        &source[from..from + len],
        DEMO_POLICY,
        "copy DEMO_POLICY again from crates/leash-cli/src/starter.rs and read the changed snapshots"
    );
}

/// The demo database's columns (`DEMO_SCHEMA` in starter.rs).
const DEMO_COLUMNS: &[(&str, &[&str])] = &[
    (
        "customers",
        &[
            "id",
            "name",
            "email",
            "phone",
            "address",
            "city",
            "state",
            "zip",
            "vip",
            "locked",
            "deleted_at",
            "created_at",
        ],
    ),
    ("tickets", &["id", "customer_id", "subject", "status", "priority", "topic", "last_customer_message_at"]),
    ("invoices", &["id", "customer_id", "amount", "due_date", "status"]),
    ("ticket_notes", &["id", "ticket_id", "body"]),
];

const APPROVED_AT: &str = "2026-11-25T14:02:11Z";

fn columns_of(table: &str) -> Vec<String> {
    let cols = DEMO_COLUMNS.iter().find(|(t, _)| *t == table).map(|(_, c)| *c).unwrap_or(&[]);
    cols.iter().map(|c| c.to_string()).collect()
}

/// Every demo page; add_ticket_note is left unapproved to show that page too.
fn demo_pages() -> Vec<ActionPage> {
    let policy = parse_policy("leash.toml", DEMO_POLICY).expect("the demo policy parses");
    let columns: BTreeMap<String, Vec<String>> =
        DEMO_COLUMNS.iter().map(|(t, _)| (t.to_string(), columns_of(t))).collect();
    explain_policy(&policy, |a| {
        let approved = a.name != "add_ticket_note";
        PageFacts {
            table_columns: columns.get(&a.table).map(Vec::as_slice).unwrap_or(&[]),
            approved_by: approved.then_some("ops-lead"),
            approved_at: approved.then_some(APPROVED_AT),
            environment: None,
        }
    })
}

fn demo_page(name: &str) -> ActionPage {
    demo_pages().into_iter().find(|p| p.name == name).expect("a demo action")
}

fn line_count(text: &str) -> usize {
    text.lines().count()
}

#[test]
fn demo_pages_read_as_written() {
    let pages = demo_pages();
    assert_eq!(pages.len(), 7);
    for page in pages {
        insta::assert_snapshot!(format!("demo_{}", page.name), render_text(&page));
    }
}

/// docs/policy.md's `--json` keys, in order; `mode`, `kind` and `reads` follow.
const CONTRACT_KEYS: &[&str] = &[
    "name",
    "summary",
    "table",
    "fields",
    "conditions",
    "limits",
    "to_a_person",
    "never",
    "owner",
    "exception_approver",
    "risk",
    "rollback_minutes",
    "approved_by",
    "approved_at",
];

#[test]
fn json_has_the_contract_keys_and_only_named_extras() {
    let page = demo_page("fix_address_format");
    let json = json!({ "actions": [page] });
    let object = json["actions"][0].as_object().expect("an action is an object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(&keys[..CONTRACT_KEYS.len()], CONTRACT_KEYS);
    assert_eq!(&keys[CONTRACT_KEYS.len()..], ["mode", "kind", "reads"]);
    let field = json["actions"][0]["fields"][0].as_object().expect("a field is an object");
    assert_eq!(field.keys().map(String::as_str).collect::<Vec<_>>(), ["field", "rules"]);
    let pretty = serde_json::to_string_pretty(&json).expect("a page serialises");
    insta::assert_snapshot!("json_fix_address_format", pretty);
}

#[test]
fn unapproved_pages_say_so_and_carry_nulls() {
    let page = demo_page("add_ticket_note");
    assert_eq!((page.approved_by.as_deref(), page.approved_at.as_deref()), (None, None));
    assert!(render_text(&page).contains("- Not approved: leash refuses its calls"));
    let json = serde_json::to_value(&page).expect("a page serialises");
    assert!(json["approved_by"].is_null() && json["approved_at"].is_null());
}

// ------------------------------------------------------------ one page

/// A big but believable action: every rule kind, every condition and limit,
/// thirteen fields on a thirty-column table.
const MAX_ACTION: &str = r#"
[[actions]]
name = "update_account"
summary = "Correct an account's contact, address, billing and plan details after the customer asks in writing."
table = "crm.accounts"
key = "account_id"
mode = "direct"
risk = "high"
rollback_minutes = 15
owner = "revops@acme.test"
exception_approver = "finance-lead"
read = ["account_id", "contact_name", "contact_email", "status", "region", "arr", "legal_hold"]
requires = ["reason", "evidence"]
when = "record.status != 'closed' && record.region == 'us'"
locked_if = "record.legal_hold == true"
review_if = "record.arr >= 100000"
review_note = "Large account: the account manager checks every change"
  [actions.fields.contact_name]
  change = "mechanical"
  format = "name"
  max_len = 120
  [actions.fields.contact_email]
  change = "mechanical"
  format = "email"
  unique = true
  [actions.fields.contact_phone]
  change = "mechanical"
  format = "phone"
  [actions.fields.street]
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
  [actions.fields.renewal_date]
  format = "date"
  date_order = "mdy"
  range = ["2026-01-01", "2030-12-31"]
  [actions.fields.plan]
  one_of = ["starter", "team", "business", "enterprise"]
  [actions.fields.credit_limit]
  sensitive = "money"
  range = [0, 250000]
  [actions.fields.billing_email]
  from = "record.contact_email"
  allow_blank = true
  [actions.fields.nickname]
  only_if_empty = true
  max_len = 40
  [actions.fields.notes]
  change = "mechanical"
  format = "text"
  [actions.limits]
  per_run = 50
  per_hour = 200
  window = "mon-fri 08:00-20:00 America/Chicago"
  [actions.review]
  below_confidence = 0.9
  watch = "2h"
  [actions.breaker]
  same_change = 10
  within = "15m"
"#;

fn max_columns() -> Vec<String> {
    let named = [
        "account_id",
        "contact_name",
        "contact_email",
        "contact_phone",
        "street",
        "city",
        "state",
        "zip",
        "renewal_date",
        "plan",
        "credit_limit",
        "billing_email",
        "nickname",
        "notes",
        "status",
        "region",
        "arr",
        "legal_hold",
        "owner_id",
        "created_at",
        "updated_at",
        "deleted_at",
        "segment",
        "industry",
        "employees",
        "website",
        "tax_id",
        "currency",
        "source",
        "score",
    ];
    named.iter().map(|c| c.to_string()).collect()
}

fn only_action(policy_text: &str) -> Action {
    let policy = parse_policy("leash.toml", policy_text).expect("the test policy parses");
    policy.actions.into_iter().next().expect("one action")
}

#[test]
fn every_page_fits_on_one_page() {
    for page in demo_pages() {
        let text = render_text(&page);
        assert!(line_count(&text) <= PAGE_LINES_MAX, "{} has {} lines", page.name, line_count(&text));
    }
    let columns = max_columns();
    let facts = PageFacts {
        table_columns: &columns,
        approved_by: Some("cfo"),
        approved_at: Some(APPROVED_AT),
        environment: None,
    };
    let text = render_text(&explain_action(&only_action(MAX_ACTION), &facts));
    assert!(line_count(&text) <= PAGE_LINES_MAX, "the biggest page has {} lines:\n{text}", line_count(&text));
    insta::assert_snapshot!("max_action", text);
}

// ------------------------------------------------------ rules in words

/// One field `f` with the given rules on an update action in `mode`;
/// `extra` adds action keys and tables.
fn page_in_mode(mode: &str, field_rules: &str, extra: &str) -> ActionPage {
    let text = format!(
        "[[actions]]\nname = \"t\"\nsummary = \"Test.\"\ntable = \"things\"\nkey = \"id\"\nmode = \"{mode}\"\n{extra}\n  [actions.fields.f]\n{field_rules}\n"
    );
    explain_action(&only_action(&text), &PageFacts::default())
}

fn page_with(field_rules: &str, extra: &str) -> ActionPage {
    page_in_mode("direct", field_rules, extra)
}

fn rules_of(field_rules: &str) -> Vec<String> {
    page_with(field_rules, "").fields.remove(0).rules
}

#[test]
fn a_closed_set_lists_its_values() {
    assert_eq!(
        rules_of("one_of = [\"open\", \"needs_reply\", \"pending\", \"solved\"]"),
        ["Only one of open, needs_reply, pending, solved.", "Emptying it is refused."]
    );
    assert_eq!(rules_of("one_of = [1, 2.5, true]")[0], "Only one of 1, 2.5, true.");
}

#[test]
fn a_range_gives_both_ends() {
    assert_eq!(rules_of("range = [0, 100000]")[0], "Between 0 and 100000; anything else is refused.");
    assert_eq!(
        rules_of("range = [\"2026-01-01\", \"2027-12-31\"]")[0],
        "Between 2026-01-01 and 2027-12-31; anything else is refused."
    );
}

#[test]
fn fill_only_never_overwrites_and_says_nothing_of_blanking() {
    let rules = rules_of("only_if_empty = true\none_of = [\"low\", \"high\"]");
    assert_eq!(rules, ["Only one of low, high.", "Only when it is empty; never overwrites a value."]);
}

#[test]
fn blanking_is_refused_unless_allowed() {
    assert_eq!(rules_of(""), ["Any value the column accepts.", "Emptying it is refused."]);
    assert_eq!(rules_of("allow_blank = true"), ["Any value the column accepts.", "May be emptied."]);
}

#[test]
fn pattern_and_length_quote_their_limits() {
    let rules = rules_of("pattern = '^\\d{5}$'\nmax_len = 5");
    assert_eq!(rules[..2], ["Must match the pattern `^\\d{5}$`.", "At most 5 characters."]);
}

#[test]
fn a_sensitive_field_always_goes_to_a_person() {
    let page = page_with("sensitive = \"money\"\nrange = [0, 100]", "");
    assert_eq!(page.fields[0].rules[0], "Money — a person approves every change.");
    assert_eq!(page.to_a_person, ["Any change to f (money)."]);
    let access = page_with("sensitive = \"access\"", "");
    assert_eq!(access.fields[0].rules[0], "Access — a person approves every change.");
}

#[test]
fn unique_and_from_say_when_a_person_checks() {
    let page = page_with("unique = true", "");
    assert!(page.fields[0].rules.contains(
        &"If another record already holds the same value, a person checks (a possible duplicate).".to_string()
    ));
    assert_eq!(page.to_a_person, ["A value for f that another record already holds (a possible duplicate)."]);
    let page = page_with("from = \"record.contact_email\"", "");
    assert_eq!(
        page.fields[0].rules[0],
        "Must equal the record's contact_email (`record.contact_email`); when that has no value on the record, a person checks."
    );
    assert!(page.to_a_person[0].starts_with("A value for f when the record has nothing to check it against"));
    let computed = rules_of("from = \"record.first + ' ' + record.last\"");
    assert!(computed[0].starts_with("Must equal what `record.first + ' ' + record.last` gives on the record;"));
}

#[test]
fn each_format_says_what_formatting_means_for_it() {
    let cases = [
        ("date", "the same calendar day written another way"),
        ("phone", "the same number when their E.164 forms (+14155550134) are"),
        ("email", "the case of the domain after the @"),
        ("name", "upper and lower case and spacing"),
        ("text", "extra, leading and trailing spaces, tabs and line breaks"),
        ("us_address", "state names to codes"),
    ];
    for (format, words) in cases {
        let page = page_with(&format!("change = \"mechanical\"\nformat = \"{format}\""), "");
        let rule = &page.fields[0].rules[0];
        assert!(rule.starts_with(&format!("Formatting only ({format}): ")), "{rule}");
        assert!(rule.contains(words) && rule.ends_with("goes to a person."), "{rule}");
        assert!(page.to_a_person.contains(&"Filling in an empty f: that is new information, not a rewrite.".into()));
    }
    let address = rules_of("change = \"mechanical\"\nformat = \"us_address\"");
    assert!(address[0].contains("A different house number, PO Box, street, unit, city, state or ZIP"));
    let date = rules_of("change = \"mechanical\"\nformat = \"date\"\ndate_order = \"dmy\"");
    assert!(date[0].contains("03/04/2026 is read day first"));
}

#[test]
fn a_format_without_mechanical_only_checks_the_value_reads() {
    assert_eq!(
        rules_of("format = \"date\"")[0],
        "Must be a date leash can read (2026-03-14, 03/14/2026, 14.03.2026, Mar 14, 2026); otherwise refused. A date like 03/04/2026 is ambiguous and refused."
    );
    assert_eq!(rules_of("format = \"email\"")[0], "Must be an email address; otherwise refused.");
    // `text` and `name` accept any text, so they add no rule.
    assert_eq!(rules_of("format = \"text\"")[0], "Any value the column accepts.");
}

#[test]
fn an_appended_row_has_no_old_value_to_protect() {
    let text = "[[actions]]\nname = \"add_note\"\nsummary = \"Add a note.\"\ntable = \"notes\"\nkind = \"append\"\nmode = \"direct\"\n  [actions.fields.body]\n  only_if_empty = true\n  [actions.fields.email]\n  change = \"mechanical\"\n  format = \"email\"\n";
    let columns: Vec<String> = ["id", "body", "email", "created_at"].iter().map(|c| c.to_string()).collect();
    let page = explain_action(&only_action(text), &PageFacts { table_columns: &columns, ..PageFacts::default() });
    assert_eq!(page.fields[0].rules, ["Any value the column accepts."]);
    assert_eq!(
        page.to_a_person,
        ["Any value for email: a new row has nothing to rewrite, so each value is new information."]
    );
    assert_eq!(
        page.never[..2],
        [
            "Set any other column of notes (id, created_at); the database fills those in.",
            "Change or delete a row that already exists in notes."
        ]
    );
    assert!(render_text(&page).contains("Adds new rows to notes, one per call; it never changes existing ones."));
}

#[test]
fn conditions_read_in_words_with_their_cel() {
    let page = page_with(
        "",
        "requires = [\"reason\", \"evidence\"]\nwhen = \"record.status != 'closed'\"\nlocked_if = \"record.locked == true\"\nreview_if = \"size(record.tags) > 3\"\nreview_note = \"Busy ticket.\"",
    );
    assert_eq!(
        page.conditions,
        [
            "Every call must give a reason and quote its evidence; without them it is refused.",
            "Only when status is not closed (`record.status != 'closed'`); otherwise refused.",
            "Refused when locked is true (`record.locked == true`): the record is locked.",
            "A person checks when `size(record.tags) > 3` holds — Busy ticket.",
        ]
    );
    assert!(page.to_a_person.contains(&"Records where `size(record.tags) > 3` holds — Busy ticket.".to_string()));
    assert!(page.to_a_person.iter().any(|l| l.starts_with("A record on which a condition above cannot be evaluated")));
}

#[test]
fn limits_read_in_words() {
    let page = page_with(
        "",
        "  [actions.limits]\n  per_run = 100\n  per_hour = 500\n  window = \"mon-fri 09:00-18:00 America/New_York\"\n  [actions.breaker]\n  same_change = 20\n  within = \"10m\"\n  [actions.review]\n  watch = \"1h30m\"\n  below_confidence = 0.85",
    );
    assert_eq!(
        page.limits,
        [
            "At most 100 records per run, written or proposed (counted when the agent names its run); past that, refused.",
            "At most 500 records per clock hour, written or proposed; past that, refused until the next hour.",
            "Only Monday to Friday, 09:00 to 18:00 America/New_York time (`mon-fri 09:00-18:00 America/New_York`); outside it every call is refused.",
            "If 20 identical changes (the same new value, or the same shift of a number or date) are written without a person within 10 minutes, the action pauses until a person resumes it.",
            "Watched for the first 1 hour 30 minutes after this definition is approved: each change written without a person is marked watched in the journal.",
        ]
    );
    assert_eq!(page.to_a_person, ["A change the agent is less than 85% sure of, or gives no confidence for."]);
    let bare = page_with("", "");
    assert_eq!(bare.limits, ["No cap per run or per hour, no time window and no breaker."]);
    assert_eq!(bare.to_a_person, ["Nothing: every change that passes the rules on this page is written at once."]);
}

#[test]
fn the_mode_decides_what_waits_for_a_person() {
    let suggest = page_in_mode("suggest", "", "  [actions.review]\n  watch = \"1h\"");
    assert_eq!(
        suggest.to_a_person,
        ["Every change: in suggest mode each call is only a suggestion, which a person may accept."]
    );
    assert_eq!(
        suggest.limits[1],
        "The watch (1 hour) does nothing in suggest mode; it starts when a direct definition is approved."
    );
    let review = page_in_mode("review", "", "");
    assert_eq!(review.to_a_person, ["Every change: in review mode a person approves each one before it is written."]);
    assert!(render_text(&review).contains("Mode: review — a person approves every change before it is written."));
}

#[test]
fn never_names_the_other_columns_when_they_are_known() {
    let unknown = page_with("", "");
    assert_eq!(
        unknown.never,
        [
            "Change any other column of things.",
            "Add rows to things or delete any.",
            "Touch any table other than things.",
            "Write a value these rules refuse, even with a person's approval.",
        ]
    );
    let columns: Vec<String> = ["id", "f", "owner"].iter().map(|c| c.to_string()).collect();
    let action = only_action(
        "[[actions]]\nname = \"t\"\nsummary = \"T.\"\ntable = \"things\"\nkey = \"id\"\n  [actions.fields.f]\n",
    );
    let known = explain_action(&action, &PageFacts { table_columns: &columns, ..PageFacts::default() });
    assert_eq!(known.never[0], "Change any other column of things: id, owner.");
}

// ------------------------------------------ the words match the engine

fn record(pairs: &[(&str, Value)]) -> Record {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn decide_on(action: &Action, record: &Record, set: Value, reason: bool) -> Decision {
    let call = Call {
        key: Some(json!("1")),
        set: set.as_object().cloned().unwrap_or_default(),
        reason: reason.then(|| "test".to_string()),
        ..Call::default()
    };
    let duplicates = BTreeMap::new();
    decide(
        action,
        &call,
        &Inputs { record: Some(record), duplicates: &duplicates, watch_active: false, approved: false },
    )
}

fn demo_action(name: &str) -> Action {
    let policy = parse_policy("leash.toml", DEMO_POLICY).expect("the demo policy parses");
    policy.action(name).cloned().expect("a demo action")
}

fn reasons(decision: &Decision) -> Vec<ReviewReason> {
    match decision {
        Decision::Review { reasons, .. } => reasons.clone(),
        other => panic!("expected review, got {other:?}"),
    }
}

/// The page says state and zip are read with the address; `decide` agrees.
#[test]
fn a_state_change_is_judged_with_the_address() {
    let page = demo_page("fix_address_format");
    let state = &page.fields[2];
    assert_eq!(state.field, "state");
    assert!(state.rules.contains(
        &"Read as one address with address, city and zip: a change that could move the address goes to a person."
            .to_string()
    ));
    let action = demo_action("fix_address_format");
    let customer = record(&[
        ("id", json!(1)),
        ("address", json!("125 Main St")),
        ("city", json!("Brooklyn")),
        ("state", json!("NY")),
        ("zip", json!("11211")),
        ("locked", json!(false)),
    ]);
    let moved = decide_on(&action, &customer, json!({"state": "NJ"}), true);
    assert!(reasons(&moved).contains(&ReviewReason::NotMechanical), "{moved:?}");
    let typo = decide_on(&action, &customer, json!({"city": "Brookln"}), true);
    assert!(matches!(typo, Decision::Apply { .. }), "a city typo under the same ZIP is formatting: {typo:?}");
}

/// "Filling in an empty phone: that is new information, not a rewrite."
#[test]
fn filling_a_blank_formatting_field_goes_to_a_person() {
    let page = demo_page("fix_contact_format");
    assert!(page
        .to_a_person
        .contains(&"Filling in an empty email, phone or name: that is new information, not a rewrite.".to_string()));
    let action = demo_action("fix_contact_format");
    let customer = record(&[
        ("id", json!(5)),
        ("phone", Value::Null),
        ("vip", json!(false)),
        ("locked", json!(false)),
        ("deleted_at", Value::Null),
    ]);
    let filled = decide_on(&action, &customer, json!({"phone": "+14155550134"}), true);
    assert_eq!(reasons(&filled), [ReviewReason::NotMechanical]);
}

/// "Only when status is not closed …; otherwise refused." and "Every call must give a reason".
#[test]
fn conditions_and_requirements_refuse_as_the_page_says() {
    let action = demo_action("set_ticket_status");
    let closed = record(&[("id", json!(3)), ("status", json!("closed"))]);
    match decide_on(&action, &closed, json!({"status": "open"}), false) {
        Decision::Reject(r) => assert_eq!(r.code, Code::ConditionFalse),
        other => panic!("expected condition_false, got {other:?}"),
    }
    let invoice = demo_action("adjust_invoice");
    let open = record(&[("id", json!(1)), ("status", json!("open")), ("due_date", json!("2026-12-01"))]);
    match decide_on(&invoice, &open, json!({"due_date": "2026-12-31"}), false) {
        Decision::Reject(r) => assert_eq!(r.code, Code::MissingRequired),
        other => panic!("expected missing_required, got {other:?}"),
    }
}

// --------------------------------------------------- approve-policy

const BEFORE: &str = r#"
[[actions]]
name = "set_ticket_status"
summary = "Set an open ticket's status."
table = "tickets"
key = "id"
mode = "review"
owner = "support@shop.test"
  [actions.fields.status]
  one_of = ["open", "needs_reply", "pending", "solved"]
  [actions.limits]
  per_run = 100
"#;

#[test]
fn changes_are_described_in_the_page_words() {
    let after_text = BEFORE
        .replace("mode = \"review\"", "mode = \"direct\"")
        .replace("\"needs_reply\", ", "")
        .replace(", \"solved\"", "")
        .replace("per_run = 100", "per_run = 50");
    let facts = PageFacts::default();
    let before = explain_action(&only_action(BEFORE), &facts);
    let after = explain_action(&only_action(&after_text), &facts);
    let lines = describe_changes(Some(&before), &after);
    assert!(lines[0].starts_with("Mode is now direct (was review): a change that passes every rule"), "{lines:#?}");
    for expected in [
        "status — no longer: only one of open, needs_reply, pending, solved.",
        "status — now: only one of open, pending.",
        "Always to a person — no longer: every change: in review mode a person approves each one before it is written.",
    ] {
        assert!(lines.iter().any(|l| l == expected), "missing {expected:?} in {lines:#?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("Limits — no longer: at most 100 records per run")));
    assert!(lines.iter().any(|l| l.starts_with("Limits — now: at most 50 records per run")));
    insta::assert_snapshot!("changes_tightened", lines.join("\n"));
}

#[test]
fn a_new_action_or_an_unchanged_one_says_so() {
    let page = explain_action(&only_action(BEFORE), &PageFacts::default());
    assert_eq!(
        describe_changes(None, &page),
        ["New action: set_ticket_status has no approved definition yet; every line of its page is new."]
    );
    let approved = ActionPage { approved_by: Some("ops-lead".into()), ..page.clone() };
    assert!(describe_changes(Some(&approved), &page).is_empty(), "approval facts are not part of the definition");
    let relaid = BEFORE.replace("owner = \"support@shop.test\"", "owner = 'support@shop.test'  # unchanged");
    assert!(describe_changes(Some(&page), &explain_action(&only_action(&relaid), &PageFacts::default())).is_empty());
    let fields =
        BEFORE.replace("  [actions.limits]", "  [actions.fields.priority]\n  only_if_empty = true\n  [actions.limits]");
    let more = explain_action(&only_action(&fields), &PageFacts::default());
    assert_eq!(
        describe_changes(Some(&page), &more)[0],
        "May now change priority: any value the column accepts. Only when it is empty; never overwrites a value."
    );
    assert_eq!(describe_changes(Some(&more), &page)[0], "May no longer change priority.");
}

#[test]
fn a_risk_the_policy_does_not_state_is_said_so() {
    let page = page_with("one_of = [\"a\"]", "");
    assert_eq!(page.risk, "not stated (read as medium)");
    assert_eq!(page_with("one_of = [\"a\"]", "risk = \"low\"\n").risk, "low");
}

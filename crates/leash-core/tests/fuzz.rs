//! Fuzz targets for every untrusted input the core reads:
//! a call's JSON (parsed, shape-checked, checked and decided against a
//! policy), the policy TOML with its CEL, the US address parser and
//! comparison, and the date, duration and window parsers. Each runs 10,000
//! cases (set here, not only by `PROPTEST_CASES`) and asserts no panic, and
//! that every refusal of a call carries a stable code.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use leash_core::call::Call;
use leash_core::codes::Code;
use leash_core::decide::{check_call, decide, Decision, Inputs};
use leash_core::format::address;
use leash_core::format::{canonical, canonical_date, DateOrder, Format};
use leash_core::policy::{parse_duration_s, parse_policy, Policy, Window};
use leash_core::value::Record;
use proptest::prelude::*;
use serde_json::{json, Value};

const CASES: u32 = 10_000;

fn config() -> ProptestConfig {
    ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() }
}

const POLICY: &str = r#"
[[actions]]
name = "fix_customer"
summary = "Fix a customer's contact fields."
table = "customers"
key = "id"
mode = "direct"
requires = ["reason"]
review_if = "record.vip == true"
  [actions.fields.email]
  change = "mechanical"
  format = "email"
  [actions.fields.address]
  change = "mechanical"
  format = "us_address"
  [actions.fields.due]
  format = "date"
  range = ["2026-01-01", "2027-12-31"]
  [actions.fields.amount]
  sensitive = "money"
  range = [0, 1000]
  [actions.fields.status]
  one_of = ["open", "solved"]
  [actions.fields.zip]
  pattern = '^\d{5}$'

[[actions]]
name = "add_note"
summary = "Add a note."
table = "notes"
key = "id"
kind = "append"
mode = "direct"
  [actions.fields.body]
  max_len = 200
"#;

/// Parsed once: loading compiles CEL and patterns, which would dominate.
fn policy() -> &'static Policy {
    static POLICY_LOADED: std::sync::LazyLock<Policy> =
        std::sync::LazyLock::new(|| parse_policy("leash.toml", POLICY).unwrap_or_else(|e| panic!("{e:?}")));
    &POLICY_LOADED
}

/// Turns a list of numbers into choices, as a byte-driven fuzzer does:
/// proptest generates and shrinks the plain list fast, even in a debug build,
/// and the input is built from it deterministically.
struct Choices<'a> {
    seed: &'a [u32],
    at: usize,
}

impl Choices<'_> {
    fn next(&mut self) -> u32 {
        let n = self.seed.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        n
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }

    fn pick<'p>(&mut self, pool: &[&'p str]) -> &'p str {
        pool[self.below(pool.len())]
    }

    /// Any text: characters from the whole of Unicode, controls included.
    fn text(&mut self, max: usize) -> String {
        let len = self.below(max + 1);
        (0..len).map(|_| char::from_u32(self.next() % 0x11_0000).unwrap_or('\u{fffd}')).collect()
    }
}

fn seed() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(any::<u32>(), 0..96)
}

const FIELDS: &[&str] =
    &["email", "address", "due", "amount", "status", "zip", "body", "id", "vip", "sql", "", "a b", "é"];
const SAMPLES: &[&str] =
    &["1", "01", " 1", "", "2026-02-30", "12/31/2026", "123 Main St, Springfield, IL 62704", "solved", "a@b.test"];

/// A JSON value of any kind, nested a little.
fn json_value(c: &mut Choices, depth: u32) -> Value {
    match c.below(if depth > 0 { 9 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(c.next().is_multiple_of(2)),
        2 => json!(i64::from(c.next() as i32) * i64::from(c.next())),
        3 => {
            let bits = (u64::from(c.next()) << 32) | u64::from(c.next());
            serde_json::Number::from_f64(f64::from_bits(bits)).map(Value::Number).unwrap_or(Value::Null)
        }
        4 => Value::String(c.text(24)),
        5 | 6 => Value::String(c.pick(SAMPLES).to_string()),
        7 => Value::Array((0..c.below(4)).map(|_| json_value(c, depth - 1)).collect()),
        _ => Value::Object((0..c.below(4)).map(|_| (c.pick(FIELDS).to_string(), json_value(c, depth - 1))).collect()),
    }
}

/// A call body: mostly the call's own keys, with values of any type; a key
/// may appear twice, and some bodies are cut or spliced, as a broken or
/// hostile client sends them.
fn call_json(seed: &[u32]) -> String {
    const KEYS: &[&str] =
        &["key", "set", "reason", "evidence", "confidence", "expect", "run_id", "idempotency_key", "sql"];
    let mut c = Choices { seed, at: 0 };
    let parts: Vec<String> =
        (0..c.below(7)).map(|_| format!("\"{}\": {}", c.pick(KEYS), json_value(&mut c, 2))).collect();
    let body = format!("{{{}}}", parts.join(", "));
    let at = c.below(body.len() + 1);
    match c.below(5) {
        0 if body.is_char_boundary(at) => format!("{}{}{}", &body[..at], c.text(4), &body[at..]),
        1 if body.is_char_boundary(at) => body[..at].to_string(),
        _ => body,
    }
}

fn record() -> Record {
    json!({"id": 1, "email": "a@b.test", "address": "1 Main St, Springfield, IL 62704", "due": "2026-05-01",
           "amount": "10.00", "status": "open", "zip": "62704", "vip": false, "body": null})
    .as_object()
    .cloned()
    .unwrap_or_default()
}

#[track_caller]
fn stable(code: Code) {
    assert!(Code::ALL.contains(&code) && Code::parse(code.as_str()) == Some(code), "{code:?}");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn call_json_is_parsed_checked_and_decided_without_panic(seed in seed()) {
        let policy = policy();
        let text = call_json(&seed);
        let Ok(call) = serde_json::from_str::<Call>(&text) else { return Ok(()) };
        let _ = call.key_text();
        let record = record();
        let duplicates = BTreeMap::new();
        for action in policy.actions.iter() {
            match check_call(action, &call) {
                Err(refusal) => {
                    stable(refusal.code);
                    prop_assert!(!refusal.message.is_empty());
                }
                Ok(()) => {
                    let inputs = Inputs { record: Some(&record), duplicates: &duplicates, watch_active: false, approved: false };
                    if let Decision::Reject(refusal) = decide(action, &call, &inputs) {
                        stable(refusal.code);
                    }
                }
            }
        }
    }
}

/// Policy fragments, valid and not, and CEL built from its tokens.
fn policy_text(seed: &[u32]) -> String {
    const CEL: &[&str] = &[
        "record.a",
        "record.status",
        "1",
        "'x'",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "!=",
        "<",
        "&&",
        "||",
        "!",
        "?",
        ":",
        ",",
        ".",
        "size(",
        "has(",
        "in",
        "true",
        "null",
        "\\\"",
        "\\\\",
        "b'\\\\x00'",
        "1e999",
        "9223372036854775808",
        "record.status.matches('a+')",
    ];
    const VALUES: &[&str] = &[
        "[\"reason\", \"evidence\"]",
        "[0, 1000]",
        "[\"2026-01-01\", \"2026-13-01\"]",
        "{ per_run = 2 }",
        "-1",
        "99999999999999999999",
        "true",
        "\"mon-fri 09:00-18:00 America/New_York\"",
        "\"review\"",
        "\"append\"",
        "\"http://user:pass@127.0.0.1:1/x?token=s\"",
        "\"https://hooks.test/x\"",
        "\"date\"",
        "\"10m\"",
    ];
    const KEYS: &[&str] = &[
        "name",
        "summary",
        "table",
        "key",
        "mode",
        "kind",
        "when",
        "locked_if",
        "review_if",
        "requires",
        "range",
        "one_of",
        "format",
        "change",
        "pattern",
        "from",
        "max_len",
        "window",
        "per_run",
        "per_hour",
        "url",
        "secret",
        "events",
        "unique",
        "only_if_empty",
        "sensitive",
        "expire_after",
        "on_expire",
        "bogus",
    ];
    const HEADERS: &[&str] = &[
        "[[actions]]",
        "[actions.fields.status]",
        "[actions.fields.amount]",
        "[actions.limits]",
        "[actions.review]",
        "[[webhooks]]",
        "[[notify]]",
        "[slack]",
        "[database]",
        "[rollout]",
        "[[actions",
        "",
    ];
    let mut c = Choices { seed, at: 0 };
    let base = c.below(4) == 0;
    let mut lines = Vec::new();
    for _ in 0..c.below(20) {
        lines.push(match c.below(6) {
            0 | 1 => {
                let cel: Vec<&str> = (0..c.below(24)).map(|_| c.pick(CEL)).collect();
                format!("{} = \"{}\"", c.pick(KEYS), cel.join(" "))
            }
            2 => format!("{} = {}", c.pick(KEYS), c.pick(VALUES)),
            3 => format!("{} = \"{}\"", c.pick(KEYS), c.text(12).replace(['"', '\\'], "")),
            4 => c.pick(HEADERS).to_string(),
            _ => c.text(20),
        });
    }
    let body = lines.join("\n");
    if base {
        format!("{POLICY}\n{body}")
    } else {
        body
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn policy_toml_and_cel_load_or_fail_without_panic(seed in seed()) {
        let text = policy_text(&seed);
        match parse_policy("leash.toml", &text) {
            Ok(_) => {}
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(!e.message.is_empty(), "{e}");
                    // A URL key's error never repeats the URL's credentials.
                    if e.key.ends_with("url") {
                        prop_assert!(!e.message.contains("pass@") && !e.message.contains("token=s"), "{e}");
                    }
                }
            }
        }
    }
}

/// Text that looks like an address, with noise.
fn address_text(c: &mut Choices) -> String {
    const PARTS: &[&str] = &[
        "123",
        "1/2",
        "Main",
        "St",
        "Street",
        "N",
        "North",
        "Apt",
        "#",
        "4B",
        "Unit",
        "PO Box",
        "PSC 1234",
        "Box",
        "APO",
        "AE",
        "Rural Route",
        "RR",
        "Hwy",
        "US",
        "12",
        "Springfield",
        "IL",
        "Illinois",
        "62704",
        "62704-1234",
        "CA",
        ",",
        ".",
        "-",
        "  ",
        "c/o",
        "Ste",
        "Fl",
        "3rd",
        "Mañana",
        "\u{200b}",
        "\t",
        "00000",
        "99999999",
    ];
    if c.below(4) == 0 {
        return c.text(60);
    }
    let parts: Vec<&str> = (0..c.below(16)).map(|_| c.pick(PARTS)).collect();
    parts.join(" ")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn addresses_parse_canonicalize_and_compare_without_panic(seed in seed()) {
        let mut c = Choices { seed: &seed, at: 0 };
        let (a, b) = (address_text(&mut c), address_text(&mut c));
        let _ = address::parse(&a);
        if let Ok(c) = address::canonical(&a) {
            let _ = address::canonical(&c);
        }
        let _ = address::compare("address", &a, &b);
        let _ = address::same_city(&a, &b);
        let _ = canonical(Format::Phone, &a);
        let _ = canonical(Format::Email, &a);
        let _ = canonical(Format::Name, &a);
    }
}

/// Dates, times, durations and windows, well formed and not.
fn time_text(seed: &[u32]) -> String {
    const PARTS: &[&str] = &[
        "2026",
        "-",
        "/",
        "02",
        "30",
        "31",
        "12",
        "13",
        "00",
        "9999",
        "0",
        "T",
        "Z",
        ":",
        "+05:30",
        "mon",
        "fri",
        "sat-sun",
        "09:00",
        "24:00",
        "18:00",
        "America/New_York",
        "Mars/Olympus",
        "UTC",
        "30s",
        "10m",
        "1h",
        "2d",
        "18446744073709551615",
        "s",
        " ",
        ".",
        "Feb",
        "February",
        "1st",
        "1h30m",
    ];
    let mut c = Choices { seed, at: 0 };
    if c.below(4) == 0 {
        return c.text(30);
    }
    (0..c.below(10)).map(|_| c.pick(PARTS)).collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn dates_durations_and_windows_parse_without_panic(seed in seed()) {
        let text = time_text(&seed);
        for order in [None, Some(DateOrder::Mdy), Some(DateOrder::Dmy)] {
            if let Ok(date) = canonical_date(&text, order) {
                // A canonical date reads back as itself.
                prop_assert_eq!(canonical_date(&date, order).ok(), Some(date.clone()));
            }
        }
        let _ = canonical(Format::Date, &text);
        let _ = parse_duration_s(&text);
        if let Ok(window) = Window::parse(&text) {
            let _ = window.contains(jiff::Timestamp::UNIX_EPOCH);
            let _ = window.contains(jiff::Timestamp::MAX);
        }
    }
}

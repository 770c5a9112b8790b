//! Turns `leash.toml` text into a checked `Policy`, collecting every error
//! (file, line, key) instead of stopping at the first.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use toml_edit::{Item, TableLike};

use crate::format::DateOrder;

use super::walker::{At, Walker};
use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.key, self.message)
    }
}

const TOP_KEYS: &[&str] = &["database", "actions", "webhooks", "notify", "slack", "rollout", "environments"];
pub(super) const ACTIONS_KEY: &str = "actions";
const NOTIFY_KEYS: &[&str] = &["kind", "url", "events", "ui_url"];
const SLACK_KEYS: &[&str] = &["signing_secret", "reviewers"];
const DATABASE_KEYS: &[&str] = &["url", "environment"];
const ROLLOUT_KEYS: &[&str] = &["min_reviewed", "min_accepted_rate", "revert_free_days"];
const WEBHOOK_KEYS: &[&str] = &["url", "events", "secret"];
const LIMIT_KEYS: &[&str] = &["per_run", "per_hour", "window"];
const REVIEW_KEYS: &[&str] = &["below_confidence", "watch", "expire", "on_expire", "only"];
const BREAKER_KEYS: &[&str] = &["same_change", "within"];
const ACTION_KEYS: &[&str] = &[
    "name",
    "summary",
    "table",
    "key",
    "kind",
    "mode",
    "risk",
    "rollback_minutes",
    "owner",
    "exception_approver",
    "minutes_saved",
    "read",
    "requires",
    "when",
    "locked_if",
    "review_if",
    "review_note",
    "fields",
    "limits",
    "review",
    "breaker",
];
const FIELD_KEYS: &[&str] = &[
    "date_order",
    "one_of",
    "range",
    "only_if_empty",
    "pattern",
    "max_len",
    "change",
    "format",
    "sensitive",
    "unique",
    "from",
    "allow_blank",
    "review_above",
    "review_below",
    "exists_in",
    "region",
    "parts",
];
pub const NAME_MAX: usize = 64;

/// Every key the loader accepts, by the table it sits in: the one list the
/// policy reference (`docs/policy.md`) is checked against.
pub const POLICY_KEYS: &[(&str, &[&str])] = &[
    ("", TOP_KEYS),
    ("database", DATABASE_KEYS),
    ("rollout", ROLLOUT_KEYS),
    ("webhooks", WEBHOOK_KEYS),
    ("notify", NOTIFY_KEYS),
    ("slack", SLACK_KEYS),
    ("actions", ACTION_KEYS),
    ("actions.fields.<column>", FIELD_KEYS),
    ("actions.limits", LIMIT_KEYS),
    ("actions.review", REVIEW_KEYS),
    ("actions.breaker", BREAKER_KEYS),
    ("environments.<name>", environments::ENVIRONMENT_KEYS),
    ("environments.<name>.actions.<action>", environments::OVERRIDE_KEYS),
    ("environments.<name>.actions.<action>.limits", environments::OVERRIDE_LIMIT_KEYS),
    ("environments.<name>.actions.<action>.review", environments::OVERRIDE_REVIEW_KEYS),
];

/// The start of a long text, to quote in a one-line message.
pub(super) fn excerpt(text: &str) -> String {
    const QUOTED_CHARS_MAX: usize = 120;
    match text.char_indices().nth(QUOTED_CHARS_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= NAME_MAX
}

/// `table` or `schema.table`, each part an identifier.
pub fn is_table_name(s: &str) -> bool {
    match s.split_once('.') {
        Some((schema, table)) => is_identifier(schema) && is_identifier(table),
        None => is_identifier(s),
    }
}

fn is_action_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= NAME_MAX
}

/// Parses and checks a policy. `file` is only used in error locations. The
/// environment in force is the file's `[database] environment`, if any.
pub fn parse_policy(file: &str, text: &str) -> Result<Policy, Vec<PolicyError>> {
    parse_policy_in(file, text, None)
}

/// `parse_policy` in environment `environment` (`LEASH_ENV`), which wins
/// over the file's `[database] environment`.
pub fn parse_policy_in(file: &str, text: &str, environment: Option<&str>) -> Result<Policy, Vec<PolicyError>> {
    let mut w = Walker {
        file,
        line_starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect(),
        errors: Vec::new(),
    };
    let doc = match toml_edit::Document::parse(text.to_string()) {
        Ok(doc) => doc,
        Err(e) => {
            let line = w.line(e.span()).unwrap_or(1);
            let message = e.message().trim().to_string();
            return Err(vec![PolicyError { file: file.into(), line, key: "(syntax)".into(), message }]);
        }
    };
    let root = At { key: String::new(), line: 1 };
    let mut policy = Policy {
        database_url: None,
        actions: Vec::new(),
        webhooks: Vec::new(),
        notify: Vec::new(),
        slack: None,
        rollout: Rollout::default(),
        environment: None,
        hash: hex::encode(Sha256::digest(text.as_bytes())),
    };
    let (mut environments, mut file_environment) = (None, None);
    for (name, item, at) in w.entries(doc.as_table(), &root, TOP_KEYS) {
        match name {
            "database" => (policy.database_url, file_environment) = parse_database(&mut w, item, &at),
            "environments" => environments = Some((item, at)),
            // No [[actions]] at all is a policy that lets nothing be called
            // (a starter with every action commented out); `leash check` says so.
            "actions" => policy.actions = parse_actions(&mut w, item, &at),
            "webhooks" => policy.webhooks = parse_webhooks(&mut w, item, &at),
            "notify" => policy.notify = parse_notify(&mut w, item, &at),
            "slack" => policy.slack = parse_slack(&mut w, item, &at),
            "rollout" => policy.rollout = parse_rollout(&mut w, item, &at),
            _ => unreachable!("entries() filters unknown keys"),
        }
    }
    let chosen = environment.map(str::to_string).or(file_environment);
    let defined = match environments {
        Some((item, at)) => environments::apply(&mut w, item, &at, chosen.as_deref(), &mut policy.actions),
        None => Vec::new(),
    };
    if let Some(name) = chosen {
        if !defined.contains(&name) {
            let known = if defined.is_empty() { "none are defined".to_string() } else { defined.join(", ") };
            w.error(&root.child("environments", Some(1)), format!("no [environments.{name}] ({known})"));
        }
        policy.environment = Some(name);
    }
    if w.errors.is_empty() {
        Ok(policy)
    } else {
        Err(w.errors)
    }
}

/// `[database] url, environment`.
fn parse_database(w: &mut Walker, item: &Item, at: &At) -> (Option<String>, Option<String>) {
    let Some(table) = item.as_table_like() else {
        w.error(at, "expected a table: [database]");
        return (None, None);
    };
    let (mut url, mut environment) = (None, None);
    for (k, item, at) in w.entries(table, at, DATABASE_KEYS) {
        match k {
            "url" => url = w.string(item, &at),
            _ => environment = w.identifier(item, &at),
        }
    }
    (url, environment)
}

fn parse_rollout(w: &mut Walker, item: &Item, at: &At) -> Rollout {
    let mut rollout = Rollout::default();
    let Some(table) = item.as_table_like() else {
        w.error(at, "expected a table: [rollout]");
        return rollout;
    };
    for (name, item, at) in w.entries(table, at, ROLLOUT_KEYS) {
        match name {
            "min_reviewed" => rollout.min_reviewed = w.count(item, &at, 0).unwrap_or(rollout.min_reviewed),
            "min_accepted_rate" => match w.number(item, &at) {
                Some(r) if (0.0..=1.0).contains(&r) => rollout.min_accepted_rate = r,
                Some(r) => w.error(&at, format!("{r} is not a rate between 0 and 1")),
                None => {}
            },
            _ => rollout.revert_free_days = w.count(item, &at, 0).unwrap_or(rollout.revert_free_days),
        }
    }
    rollout
}

fn parse_webhooks(w: &mut Walker, item: &Item, at: &At) -> Vec<Webhook> {
    let Some(tables) = item.as_array_of_tables() else {
        w.error(at, "expected [[webhooks]] tables");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let at = At { key: format!("webhooks[{i}]"), line: w.line(table.span()).unwrap_or(at.line) };
        let (mut url, mut events, mut secret) = (None, Vec::new(), None);
        for (name, item, at) in w.entries(table, &at, WEBHOOK_KEYS) {
            match name {
                "url" => url = w.string(item, &at),
                "events" => {
                    events = w.string_list(item, &at).unwrap_or_default();
                    for e in &events {
                        if !WEBHOOK_EVENTS.contains(&e.as_str()) {
                            w.error(
                                &at,
                                format!("unknown event `{e}`; expected one of: {}", WEBHOOK_EVENTS.join(", ")),
                            );
                        }
                    }
                }
                _ => secret = w.string(item, &at),
            }
        }
        let secret = secret.filter(|s| !s.trim().is_empty());
        match (url, secret) {
            (Some(u), _) if !http_url(w, &u, &at.child("url", None)) => {}
            (Some(u), Some(secret)) => out.push(Webhook { url: u, events, secret }),
            (Some(_), None) => w.error(
                &at,
                "missing required key `secret`: every webhook delivery is signed; add secret = \"<a long random string>\" and check X-Leash-Signature in the receiver",
            ),
            (None, _) => w.error(&at, "missing required key `url`"),
        }
    }
    out
}

fn parse_actions(w: &mut Walker, item: &Item, at: &At) -> Vec<Action> {
    let Some(tables) = item.as_array_of_tables() else {
        w.error(at, "expected [[actions]] tables");
        return Vec::new();
    };
    let mut out: Vec<Action> = Vec::new();
    let mut names = HashSet::new();
    for (i, table) in tables.iter().enumerate() {
        let line = w.line(table.span()).unwrap_or(at.line);
        let label = table.get("name").and_then(Item::as_str).filter(|n| is_action_name(n));
        let at = At { key: format!("actions.{}", label.map(str::to_string).unwrap_or_else(|| format!("[{i}]"))), line };
        if let Some(action) = parse_action(w, table, &at) {
            if !names.insert(action.name.clone()) {
                w.error(&at, format!("a second action is named `{}`; names must be unique", action.name));
                continue;
            }
            out.push(action);
        }
    }
    out
}

fn required<T>(w: &mut Walker, value: Option<T>, at: &At, key: &str, hint: &str) -> Option<T> {
    if value.is_none() {
        w.error(&at.child(key, None), format!("missing required key; {hint}"));
    }
    value
}

/// An action's keys as read, before the required ones are known present.
#[derive(Default)]
struct ActionDraft {
    name: Option<String>,
    summary: Option<String>,
    table: Option<String>,
    key: Option<Key>,
    read_at: Option<At>,
}

fn empty_action(line: usize) -> Action {
    Action {
        name: String::new(),
        line,
        summary: String::new(),
        table: String::new(),
        key: Key::single(""),
        kind: Kind::Update,
        mode: Mode::Suggest,
        risk: None,
        rollback_minutes: None,
        owner: None,
        exception_approver: None,
        minutes_saved: 0.0,
        read: Vec::new(),
        requires_reason: false,
        requires_evidence: false,
        when: None,
        locked_if: None,
        review_if: None,
        review_note: None,
        fields: Vec::new(),
        limits: Limits::default(),
        review: ReviewSettings::default(),
        breaker: None,
        hash: String::new(),
    }
}

fn parse_action(w: &mut Walker, table: &toml_edit::Table, at: &At) -> Option<Action> {
    let errors_before = w.errors.len();
    let mut draft = ActionDraft::default();
    let mut action = empty_action(at.line);
    for (k, item, at) in w.entries(table, at, ACTION_KEYS) {
        action_key(w, k, item, &at, &mut draft, &mut action)?;
    }
    let name = required(w, draft.name, at, "name", "every action needs name = \"verb_object\"");
    let summary = required(w, draft.summary, at, "summary", "say in one sentence what the action does");
    let tbl = required(w, draft.table, at, "table", "name the table the action writes");
    if table.get("fields").is_none() {
        w.error(
            &at.child("fields", None),
            "missing [actions.fields.<column>]; an action must list the fields it may write",
        );
    }
    let key = match (draft.key, action.kind) {
        (Some(k), _) => Some(k),
        (None, Kind::Append) => Some(Key::single("id")),
        (None, Kind::Update) => required(w, None, at, "key", "name the key column(s) that identify one record"),
    };
    if action.review_note.is_some() && action.review_if.is_none() {
        w.error(&at.child("review_note", None), "review_note is only shown with review_if; add review_if or remove it");
    }
    if let (true, Some(at)) = (action.read.is_empty(), draft.read_at) {
        w.error(&at, "read lists no fields; leave it out to let the agent read the key and the fields it writes");
    }
    if w.errors.len() > errors_before {
        return None;
    }
    action.name = name?;
    action.summary = summary?;
    action.table = tbl?;
    action.key = key?;
    if action.read.is_empty() {
        action.read =
            action.key.columns().iter().cloned().chain(action.fields.iter().map(|f| f.name.clone())).collect();
    }
    action.hash = definition_hash(table);
    Some(action)
}

/// One key of an action; `None` stops reading the action (its error is
/// already recorded).
fn action_key(
    w: &mut Walker,
    k: &str,
    item: &Item,
    at: &At,
    draft: &mut ActionDraft,
    action: &mut Action,
) -> Option<()> {
    match k {
        "name" => {
            let s = w.string(item, at)?;
            if is_action_name(&s) {
                draft.name = Some(s);
            } else {
                w.error(at, format!("`{s}` is not a valid action name; use [a-z][a-z0-9_]*"));
            }
        }
        "summary" => {
            draft.summary = w.string(item, at).filter(|s| !s.trim().is_empty()).or_else(|| {
                w.error(at, "the summary must say in one sentence what the action does");
                None
            })
        }
        "table" => draft.table = w.table_name(item, at),
        "key" => draft.key = parse_key(w, item, at),
        "kind" => action.kind = w.choice(item, at, Kind::NAMES, Kind::parse).unwrap_or(Kind::Update),
        "mode" => action.mode = w.choice(item, at, Mode::NAMES, Mode::parse).unwrap_or(Mode::Suggest),
        "risk" => action.risk = w.choice(item, at, Risk::NAMES, Risk::parse),
        "rollback_minutes" => action.rollback_minutes = w.count(item, at, 0),
        "owner" => action.owner = w.string(item, at),
        "exception_approver" => action.exception_approver = w.string(item, at),
        "minutes_saved" => match w.number(item, at) {
            Some(m) if m >= 0.0 => action.minutes_saved = m,
            Some(m) => w.error(at, format!("{m} minutes cannot be negative")),
            None => {}
        },
        "read" => {
            draft.read_at = Some(at.clone());
            action.read = read_list(w, item, at);
        }
        "requires" => {
            for r in w.string_list(item, at).unwrap_or_default() {
                match r.as_str() {
                    "reason" => action.requires_reason = true,
                    "evidence" => action.requires_evidence = true,
                    other => w.error(at, format!("`{other}` cannot be required; expected reason or evidence")),
                }
            }
        }
        "when" => action.when = w.condition(item, at),
        "locked_if" => action.locked_if = w.condition(item, at),
        "review_if" => action.review_if = w.condition(item, at),
        "review_note" => action.review_note = w.string(item, at),
        "fields" => action.fields = parse_fields(w, item, at),
        "limits" => action.limits = parse_limits(w, item, at),
        "review" => action.review = parse_review(w, item, at),
        "breaker" => action.breaker = parse_breaker(w, item, at),
        _ => unreachable!("entries() filters unknown keys"),
    }
    Some(())
}

/// `key = "id"` or `key = ["PlaylistId", "TrackId"]`: one error for one mistake.
fn parse_key(w: &mut Walker, item: &Item, at: &At) -> Option<Key> {
    let columns = match item.as_array() {
        Some(_) => w.string_list(item, at)?,
        None => vec![w.string(item, at)?],
    };
    if let Some(bad) = columns.iter().find(|c| !is_identifier(c)) {
        w.error(at, format!("`{bad}` is not a column name"));
        return None;
    }
    let key = Key::new(columns);
    if key.is_none() {
        w.error(at, "name the key column, or a list of different key columns: key = [\"PlaylistId\", \"TrackId\"]");
    }
    key
}

/// `read`: column names only.
fn read_list(w: &mut Walker, item: &Item, at: &At) -> Vec<String> {
    let mut out = Vec::new();
    for col in w.string_list(item, at).unwrap_or_default() {
        if is_identifier(&col) {
            out.push(col);
        } else {
            w.error(at, format!("`{col}` is not a column name"));
        }
    }
    out
}

fn parse_fields(w: &mut Walker, item: &Item, at: &At) -> Vec<FieldRule> {
    let Some(table) = item.as_table_like() else {
        w.error(at, "expected [actions.fields.<column>] tables");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, item, at) in w.entries(table, at, &[]) {
        if !is_identifier(name) {
            w.error(&at, format!("`{name}` is not a column name"));
            continue;
        }
        let Some(rules) = item.as_table_like() else {
            w.error(&at, "expected a table of rules, e.g. [actions.fields.status] one_of = [...]");
            continue;
        };
        out.push(parse_field(w, name, rules, &at));
    }
    if out.is_empty() && table.is_empty() {
        w.error(at, "no fields listed; an action must be able to write at least one field");
    }
    out
}

fn parse_field(w: &mut Walker, name: &str, table: &dyn TableLike, at: &At) -> FieldRule {
    let mut rule = FieldRule { name: name.to_string(), line: at.line, ..FieldRule::default() };
    let mut change_at = None;
    for (k, item, at) in w.entries(table, at, FIELD_KEYS) {
        match k {
            "one_of" => match item.as_array() {
                Some(a) if !a.is_empty() => {
                    rule.one_of = Some(a.iter().filter_map(|v| scalar(w, v, &at)).collect());
                }
                _ => w.error(&at, "expected a non-empty list of allowed values"),
            },
            "range" => rule.range = parse_range(w, item, &at),
            "only_if_empty" => rule.only_if_empty = w.boolean(item, &at).unwrap_or(false),
            "pattern" => {
                if let Some(p) = w.string(item, &at) {
                    match regex::RegexBuilder::new(&p).size_limit(1 << 20).build() {
                        Ok(r) => rule.pattern = Some(r),
                        Err(e) => {
                            // The regex crate draws a caret diagram over several lines; one line reads better in `leash check`.
                            let text = e.to_string();
                            let why = text.lines().last().unwrap_or("").trim_start_matches("error: ").to_string();
                            w.error(&at, format!("invalid regex `{p}`: {why}"))
                        }
                    }
                }
            }
            "max_len" => rule.max_len = w.count(item, &at, 1).map(|n| n as usize),
            "change" => {
                change_at = Some(at.clone());
                match w.string(item, &at).as_deref() {
                    Some("mechanical") => rule.mechanical = true,
                    Some(other) => {
                        w.error(&at, format!("`{other}` is not a change kind; the only one is \"mechanical\""))
                    }
                    None => {}
                }
            }
            "format" => rule.format = w.choice(item, &at, Format::NAMES, Format::parse),
            "sensitive" => rule.sensitive = w.choice(item, &at, Sensitive::NAMES, Sensitive::parse),
            "unique" => rule.unique = w.boolean(item, &at).unwrap_or(false),
            "from" => rule.from = w.condition(item, &at),
            "allow_blank" => rule.allow_blank = w.boolean(item, &at).unwrap_or(false),
            "date_order" => rule.date_order = w.choice(item, &at, DateOrder::NAMES, DateOrder::parse),
            "review_above" => rule.review_above = parse_bound(w, item, &at),
            "review_below" => rule.review_below = parse_bound(w, item, &at),
            "exists_in" => rule.exists_in = parse_exists_in(w, item, &at),
            "region" => rule.region = parse_region(w, item, &at),
            "parts" => rule.parts = parse_parts(w, item, &at),
            _ => unreachable!("entries() filters unknown keys"),
        }
    }
    if rule.mechanical && rule.format.is_none() && table.get("format").is_none() {
        if let Some(at) = change_at {
            w.error(&at, format!("change = \"mechanical\" needs a format: one of {}", Format::NAMES.join(", ")));
        }
    }
    rule
}

fn scalar(w: &mut Walker, v: &toml_edit::Value, at: &At) -> Option<Value> {
    match v {
        toml_edit::Value::String(s) => Some(Value::String(s.value().clone())),
        toml_edit::Value::Integer(i) => Some(Value::from(*i.value())),
        toml_edit::Value::Float(f) => serde_json::Number::from_f64(*f.value()).map(Value::Number),
        toml_edit::Value::Boolean(b) => Some(Value::Bool(*b.value())),
        toml_edit::Value::Datetime(d) => Some(Value::String(d.value().to_string())),
        _ => {
            w.error(at, format!("expected plain values, found a {}", v.type_name()));
            None
        }
    }
}

/// One bound: a number, or a date (`"2026-12-31"`).
fn bound_of(v: &toml_edit::Value) -> Option<Bound> {
    match v {
        toml_edit::Value::Integer(i) => Some(Bound::Number(*i.value() as f64)),
        toml_edit::Value::Float(f) if f.value().is_finite() => Some(Bound::Number(*f.value())),
        toml_edit::Value::String(s) => s.value().parse().ok().map(Bound::Date),
        toml_edit::Value::Datetime(d) => d.value().to_string().parse().ok().map(Bound::Date),
        _ => None,
    }
}

fn parse_bound(w: &mut Walker, item: &Item, at: &At) -> Option<Bound> {
    let b = item.as_value().and_then(bound_of);
    if b.is_none() {
        w.error(at, "expected a number or a date (\"2026-12-31\")");
    }
    b
}

/// `exists_in = "table.column"` or `"schema.table.column"`.
fn parse_exists_in(w: &mut Walker, item: &Item, at: &At) -> Option<ExistsIn> {
    let text = w.string(item, at)?;
    let Some((table, column)) = text.rsplit_once('.') else {
        w.error(at, format!("`{text}` names no column; write \"table.column\" (or \"schema.table.column\")"));
        return None;
    };
    if !is_table_name(table) || !is_identifier(column) {
        w.error(at, format!("`{text}` is not a table and column name; write \"table.column\""));
        return None;
    }
    Some(ExistsIn { table: table.to_string(), column: column.to_string() })
}

/// A two-letter region code (ISO 3166-1), as phone numbering plans use.
fn parse_region(w: &mut Walker, item: &Item, at: &At) -> Option<String> {
    let text = w.string(item, at)?;
    let region = text.to_ascii_uppercase();
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) && crate::format::phone_region_known(&region) {
        return Some(region);
    }
    w.error(at, format!("`{text}` is not a region; use a two-letter country code such as \"US\" or \"DE\""));
    None
}

/// `parts = {city = "City", state = "State", zip = "PostalCode", unit = "Unit"}`.
fn parse_parts(w: &mut Walker, item: &Item, at: &At) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(table) = item.as_table_like() else {
        w.error(at, "expected a table such as { city = \"City\", zip = \"PostalCode\" }");
        return out;
    };
    for (part, v, at) in w.entries(table, at, ADDRESS_PARTS) {
        if let Some(col) = w.identifier(v, &at) {
            out.insert(part.to_string(), col);
        }
    }
    out
}

/// The parts of an address another column may hold.
pub const ADDRESS_PARTS: &[&str] = &["city", "state", "zip", "unit"];

fn parse_range(w: &mut Walker, item: &Item, at: &At) -> Option<(Bound, Bound)> {
    let hint = "expected [low, high] with two numbers or two dates";
    let Some(a) = item.as_array().filter(|a| a.len() == 2) else {
        w.error(at, hint);
        return None;
    };
    let (lo, hi) = match (a.get(0).and_then(bound_of), a.get(1).and_then(bound_of)) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => {
            w.error(at, hint);
            return None;
        }
    };
    let ordered = match (&lo, &hi) {
        (Bound::Number(l), Bound::Number(h)) => l <= h,
        (Bound::Date(l), Bound::Date(h)) => l <= h,
        _ => {
            w.error(at, "both ends of a range must be numbers, or both dates");
            return None;
        }
    };
    if !ordered {
        w.error(at, format!("the range [{lo}, {hi}] is empty; put the low end first"));
        return None;
    }
    Some((lo, hi))
}

fn sub_table<'t>(w: &mut Walker, item: &'t Item, at: &At) -> Option<&'t dyn TableLike> {
    let t = item.as_table_like();
    if t.is_none() {
        w.error(at, format!("expected a table [{}]", at.key));
    }
    t
}

fn parse_limits(w: &mut Walker, item: &Item, at: &At) -> Limits {
    let mut limits = Limits::default();
    let Some(table) = sub_table(w, item, at) else { return limits };
    for (k, item, at) in w.entries(table, at, LIMIT_KEYS) {
        match k {
            "per_run" => limits.per_run_max = w.count(item, &at, 1),
            "per_hour" => limits.per_hour_max = w.count(item, &at, 1),
            _ => {
                if let Some(s) = w.string(item, &at) {
                    limits.window = Window::parse(&s).map_err(|why| w.error(&at, why)).ok();
                }
            }
        }
    }
    limits
}

fn parse_review(w: &mut Walker, item: &Item, at: &At) -> ReviewSettings {
    let mut review = ReviewSettings::default();
    let Some(table) = sub_table(w, item, at) else { return review };
    for (k, item, at) in w.entries(table, at, REVIEW_KEYS) {
        match k {
            "below_confidence" => match w.number(item, &at) {
                Some(c) if (0.0..=1.0).contains(&c) => review.below_confidence = Some(c),
                Some(c) => w.error(&at, format!("{c} is not a confidence between 0 and 1")),
                None => {}
            },
            "watch" => review.watch_s = w.duration(item, &at),
            "expire" => review.expire_s = w.duration(item, &at),
            "only" => match w.string_list(item, &at) {
                Some(names) if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) => {
                    w.error(&at, "list the reviewers by name (token names or local users); leave `only` out to let every reviewer decide")
                }
                names => review.only = names,
            },
            _ => review.on_expire = w.choice(item, &at, OnExpire::NAMES, OnExpire::parse).unwrap_or_default(),
        }
    }
    review
}

/// `[[notify]] kind, url, events, ui_url`: chat channels.
fn parse_notify(w: &mut Walker, item: &Item, at: &At) -> Vec<Notify> {
    let Some(tables) = item.as_array_of_tables() else {
        w.error(at, "expected [[notify]] tables");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let at = At { key: format!("notify[{i}]"), line: w.line(table.span()).unwrap_or(at.line) };
        let (mut kind, mut url, mut events, mut ui_url) = (None, None, vec!["proposal.created".to_string()], None);
        for (name, item, at) in w.entries(table, &at, NOTIFY_KEYS) {
            match name {
                "kind" => kind = w.choice(item, &at, ChatKind::NAMES, ChatKind::parse),
                "url" => url = w.string(item, &at).filter(|u| https_url(w, u, &at)),
                "events" => {
                    events = w.string_list(item, &at).unwrap_or_default();
                    if let Some(e) = events.iter().find(|e| !NOTIFY_EVENTS.contains(&e.as_str())) {
                        w.error(&at, format!("unknown event `{e}`; expected one of: {}", NOTIFY_EVENTS.join(", ")));
                    }
                }
                _ => ui_url = w.string(item, &at).filter(|u| http_url(w, u, &at)),
            }
        }
        let kind = required(w, kind, &at, "kind", "slack or teams");
        let url = required(w, url, &at, "url", "the chat's incoming-webhook URL");
        if let (Some(kind), Some(url)) = (kind, url) {
            let ui_url = ui_url.unwrap_or_else(|| "http://127.0.0.1:7777".to_string());
            out.push(Notify { kind, url, events, ui_url: ui_url.trim_end_matches('/').to_string() });
        }
    }
    out
}

/// `[slack] signing_secret`, `[slack.reviewers] U024BE7LH = "dana"`.
fn parse_slack(w: &mut Walker, item: &Item, at: &At) -> Option<SlackSettings> {
    let table = sub_table(w, item, at)?;
    let (mut secret, mut reviewers) = (None, BTreeMap::new());
    for (name, item, at) in w.entries(table, at, SLACK_KEYS) {
        match name {
            "signing_secret" => secret = w.string(item, &at).filter(|s| !s.trim().is_empty()),
            _ => {
                let Some(people) = sub_table(w, item, &at) else { continue };
                for (user, item, at) in w.entries(people, &at, &[]) {
                    if let Some(token) = w.identifier(item, &at) {
                        reviewers.insert(user.to_string(), token);
                    }
                }
            }
        }
    }
    let signing_secret = required(w, secret, at, "signing_secret", "the Slack app's signing secret")?;
    Some(SlackSettings { signing_secret, reviewers })
}

/// An absolute http(s) URL with a host; the error shows it redacted.
fn http_url(w: &mut Walker, url: &str, at: &At) -> bool {
    match crate::url::parse_http_url(url) {
        Ok(_) => true,
        Err(why) => {
            w.error(at, format!("`{}` {why}", crate::url::redact_url(url)));
            false
        }
    }
}

fn https_url(w: &mut Walker, url: &str, at: &At) -> bool {
    let Ok(u) = crate::url::parse_http_url(url) else { return http_url(w, url, at) };
    let (name, _) = u.host.rsplit_once(':').filter(|(_, p)| !p.contains(']')).unwrap_or((u.host, ""));
    let local = ["127.0.0.1", "localhost", "[::1]"].contains(&name);
    let ok = u.scheme.eq_ignore_ascii_case("https") || local;
    if !ok {
        w.error(at, format!("`{}` must be an https URL (http only to this machine)", crate::url::url_origin(url)));
    }
    ok
}

fn parse_breaker(w: &mut Walker, item: &Item, at: &At) -> Option<Breaker> {
    let table = sub_table(w, item, at)?;
    let (mut same, mut within) = (None, None);
    for (k, item, at) in w.entries(table, at, BREAKER_KEYS) {
        match k {
            "same_change" => same = w.count(item, &at, 2),
            _ => within = w.duration(item, &at),
        }
    }
    let same = required(w, same, at, "same_change", "how many identical changes trip the breaker")?;
    let within = required(w, within, at, "within", "the window, e.g. \"10m\"")?;
    Some(Breaker { same_change_max: same, within_s: within })
}

/// A TOML item as JSON (datetimes as their text).
pub(crate) fn item_json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(v) => value_json(v),
        Item::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.to_string(), item_json(v))).collect()),
        Item::ArrayOfTables(a) => Value::Array(a.iter().map(|t| item_json(&Item::Table(t.clone()))).collect()),
    }
}

pub(crate) fn value_json(v: &toml_edit::Value) -> Value {
    match v {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => {
            serde_json::Number::from_f64(*f.value()).map(Value::Number).unwrap_or(Value::Null)
        }
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(value_json).collect()),
        toml_edit::Value::InlineTable(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.to_string(), value_json(v))).collect())
        }
    }
}

fn definition_hash(table: &toml_edit::Table) -> String {
    let json = item_json(&Item::Table(table.clone()));
    hex::encode(Sha256::digest(canonical_json(&json).as_bytes()))
}

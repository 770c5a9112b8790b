//! The policy model. A `Policy` value is already validated: the engine never
//! re-checks what these types guarantee (parse, don't validate).

mod chat;
mod environments;
mod load;
pub mod test_cases;
mod walker;
mod window;

use std::collections::BTreeMap;

use serde::Serialize;

pub use chat::{ChatKind, Notify, SlackSettings, NOTIFY_EVENTS};
pub use load::{
    is_identifier, is_table_name, parse_policy, parse_policy_in, PolicyError, ADDRESS_PARTS, NAME_MAX, POLICY_KEYS,
};
pub use window::{parse_duration_s, Window};

use crate::condition::Condition;
use crate::format::Format;
use crate::value::Value;

#[derive(Debug, Clone)]
pub struct Policy {
    pub database_url: Option<String>,
    pub actions: Vec<Action>,
    pub webhooks: Vec<Webhook>,
    /// Chat channels that hear about proposals (`[[notify]]`).
    pub notify: Vec<Notify>,
    /// Approving from Slack's buttons (`[slack]`).
    pub slack: Option<SlackSettings>,
    pub rollout: Rollout,
    /// The environment whose overrides are in force (`[environments.NAME]`).
    pub environment: Option<String>,
    /// sha256 of the whole file, for the record of what was in force.
    pub hash: String,
}

impl Policy {
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Update,
    Append,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Suggest,
    Review,
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitive {
    Money,
    Access,
    Contract,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ }) => {
        impl $ty {
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str { match self { $($ty::$variant => $text),+ } }
            pub fn parse(text: &str) -> Option<$ty> { match text { $($text => Some($ty::$variant),)+ _ => None } }
        }
    };
}
text_enum!(Kind { Update => "update", Append => "append" });
text_enum!(Mode { Suggest => "suggest", Review => "review", Direct => "direct" });
text_enum!(Risk { Low => "low", Medium => "medium", High => "high" });
text_enum!(Sensitive { Money => "money", Access => "access", Contract => "contract" });

#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    /// Where the action starts in the policy file, for later error messages.
    pub line: usize,
    pub summary: String,
    pub table: String,
    /// The key column(s). For `append`, the column the database fills in
    /// (or, composite, the columns the call sets).
    pub key: Key,
    pub kind: Kind,
    pub mode: Mode,
    /// `None`: the policy does not say (read as medium).
    pub risk: Option<Risk>,
    pub rollback_minutes: Option<u32>,
    pub owner: Option<String>,
    pub exception_approver: Option<String>,
    pub minutes_saved: f64,
    pub read: Vec<String>,
    pub requires_reason: bool,
    pub requires_evidence: bool,
    pub when: Option<Condition>,
    pub locked_if: Option<Condition>,
    pub review_if: Option<Condition>,
    pub review_note: Option<String>,
    /// In the order the policy lists them.
    pub fields: Vec<FieldRule>,
    pub limits: Limits,
    pub review: ReviewSettings,
    pub breaker: Option<Breaker>,
    /// sha256 of this action's definition; what `approve-policy` signs.
    pub hash: String,
}

impl Action {
    pub fn field(&self, name: &str) -> Option<&FieldRule> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every column this action touches, for the schema check.
    pub fn columns(&self) -> Vec<&str> {
        let mut cols: Vec<&str> = self.key.columns().iter().map(String::as_str).collect();
        cols.extend(self.fields.iter().map(|f| f.name.as_str()));
        cols.extend(self.read.iter().map(String::as_str));
        cols.extend(self.fields.iter().flat_map(|f| f.parts.values().map(String::as_str)));
        cols.sort_unstable();
        cols.dedup();
        cols
    }
}

/// The column or columns that name one record: `key = "id"` or
/// `key = ["PlaylistId", "TrackId"]`. Never empty, no column twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(Vec<String>);

impl Key {
    /// `None` for an empty list or a column named twice.
    pub fn new(columns: Vec<String>) -> Option<Key> {
        let mut seen = std::collections::HashSet::new();
        (!columns.is_empty() && columns.iter().all(|c| seen.insert(c))).then_some(Key(columns))
    }

    pub fn single(column: &str) -> Key {
        Key(vec![column.to_string()])
    }

    /// The columns in policy order: the order of a composite key's text.
    pub fn columns(&self) -> &[String] {
        &self.0
    }

    pub fn is_composite(&self) -> bool {
        self.0.len() > 1
    }

    /// The one column of a key that has one.
    pub fn as_single(&self) -> Option<&str> {
        match self.0.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    pub fn contains(&self, column: &str) -> bool {
        self.0.iter().any(|c| c == column)
    }

    /// A key's text split into its columns' values, in policy order: a plain
    /// key's text as it is; a composite key's as the journal spells it (a
    /// JSON array, `["1","3402"]`), as a JSON object of its columns, or as
    /// `PlaylistId=1,TrackId=3402`. `None`: not a key of these columns.
    pub fn parts(&self, text: &str) -> Option<Vec<String>> {
        if self.as_single().is_some() {
            return Some(vec![text.to_string()]);
        }
        let n = self.0.len();
        if let Ok(parts) = serde_json::from_str::<Vec<String>>(text) {
            return (parts.len() == n).then_some(parts);
        }
        let named: std::collections::HashMap<String, String> =
            match serde_json::from_str::<serde_json::Map<String, Value>>(text) {
                Ok(map) => map.into_iter().map(|(k, v)| (k, crate::value::display(&v))).collect(),
                Err(_) => text
                    .split(',')
                    .map(|pair| pair.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
                    .collect::<Option<_>>()?,
            };
        if named.len() != n {
            return None;
        }
        self.0.iter().map(|c| named.get(c).cloned()).collect()
    }

    /// The key's text from its columns' values: the journal's spelling.
    pub fn text(&self, parts: Vec<String>) -> String {
        match (self.as_single(), parts.as_slice()) {
            (Some(_), [only]) => only.clone(),
            _ => serde_json::to_string(&parts).unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_single() == Some(other)
    }
}

#[derive(Debug, Clone, Default)]
pub struct FieldRule {
    pub name: String,
    pub line: usize,
    pub one_of: Option<Vec<Value>>,
    pub range: Option<(Bound, Bound)>,
    pub only_if_empty: bool,
    pub pattern: Option<regex::Regex>,
    pub max_len: Option<usize>,
    /// `change = "mechanical"`: only a rewrite in `format` passes directly.
    pub mechanical: bool,
    pub format: Option<Format>,
    pub sensitive: Option<Sensitive>,
    pub unique: bool,
    pub from: Option<Condition>,
    pub allow_blank: bool,
    /// How to read ambiguous dates like `03/04/2025` in this field.
    pub date_order: Option<crate::format::DateOrder>,
    /// A new number or date beyond these goes to a person (`over_threshold`).
    pub review_above: Option<Bound>,
    pub review_below: Option<Bound>,
    /// The new value must exist in this column (a closed set from a table).
    pub exists_in: Option<ExistsIn>,
    /// The default region of `phone` numbers written without a country code.
    pub region: Option<String>,
    /// For `us_address`: part (`city`, `state`, `zip`, `unit`) → the column
    /// that holds it.
    pub parts: BTreeMap<String, String>,
}

/// `exists_in`: a table (maybe `schema.table`) and one of its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ExistsIn {
    pub table: String,
    pub column: String,
}

impl ExistsIn {
    /// The refusal of a value that is not in the set: the write path and
    /// the backtest say it the same way.
    pub fn refusal(&self, field: &str, value: &crate::value::Value) -> crate::call::Refusal {
        crate::call::Refusal::new(
            crate::codes::Code::ValueNotAllowed,
            format!(
                "{field}: `{}` is not in {}.{}; use a value that exists there",
                crate::value::display(value),
                self.table,
                self.column
            ),
        )
    }
}

/// One end of a `range`: numbers compare as numbers, dates as ISO dates.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Number(f64),
    Date(jiff::civil::Date),
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Number(n) => write!(f, "{n}"),
            Bound::Date(d) => write!(f, "{d}"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub per_run_max: Option<u32>,
    pub per_hour_max: Option<u32>,
    pub window: Option<Window>,
}

#[derive(Debug, Clone, Default)]
pub struct ReviewSettings {
    pub below_confidence: Option<f64>,
    pub watch_s: Option<u64>,
    /// A proposal nobody decided within this long expires (or escalates).
    pub expire_s: Option<u64>,
    pub on_expire: OnExpire,
    /// Who may decide this action's proposals (with the exception approver);
    /// `None`: every reviewer.
    pub only: Option<Vec<String>>,
}

/// What happens to a proposal nobody decided in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExpire {
    /// It expires: it can no longer be approved.
    #[default]
    Reject,
    /// It stays open, marked escalated, and the exception approver is told.
    Escalate,
}

impl OnExpire {
    pub const NAMES: &'static [&'static str] = &["reject", "escalate"];

    pub fn parse(s: &str) -> Option<OnExpire> {
        match s {
            "reject" => Some(OnExpire::Reject),
            "escalate" => Some(OnExpire::Escalate),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnExpire::Reject => "reject",
            OnExpire::Escalate => "escalate",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Breaker {
    pub same_change_max: u32,
    pub within_s: u64,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub events: Vec<String>,
    /// Required: every delivery is signed with it.
    pub secret: String,
}

pub const WEBHOOK_EVENTS: &[&str] =
    &["change.applied", "change.reverted", "proposal.created", "proposal.escalated", "action.paused"];

/// Thresholds an action must meet to earn its next stage.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub min_reviewed: u32,
    pub min_accepted_rate: f64,
    pub revert_free_days: u32,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout { min_reviewed: 50, min_accepted_rate: 0.95, revert_free_days: 7 }
    }
}

/// Canonical JSON (sorted keys) so a definition hashes the same however the
/// file is laid out.
pub(crate) fn canonical_json(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

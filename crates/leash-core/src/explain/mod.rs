//! `leash explain` (docs/policy.md): one page per action, in words an owner or a
//! support lead can read aloud, generated from the parsed `Action` so that
//! what the page says and what the engine does are never written twice.
//!
//! Every sentence here mirrors a rule in `rules.rs`, `decide.rs` or the
//! engine's limits; when those change, the words must change with them.
//! What the core cannot know (the table's other columns, who approved the
//! definition and when) comes in as `PageFacts`.

mod cel;
mod changes;
mod text;
mod words;

use serde::{Deserialize, Serialize};

use crate::policy::{Action, Kind, Mode, Policy};

pub use changes::describe_changes;
pub use text::{render_text, PAGE_LINES_MAX};

/// One action's page. The JSON field names are the contract of
/// `leash explain --json`; `mode`, `kind` and `reads` are additions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionPage {
    pub name: String,
    /// The policy's own sentence of what the action does.
    pub summary: String,
    pub table: String,
    /// Every field the action may change, in policy order, with its rules.
    pub fields: Vec<FieldPage>,
    /// `when`, `locked_if`, `review_if` and required reason/evidence.
    pub conditions: Vec<String>,
    /// Caps, time window, breaker and watch window.
    pub limits: Vec<String>,
    /// What waits for a person whatever the agent sends, and why.
    pub to_a_person: Vec<String>,
    /// What the action can never do.
    pub never: Vec<String>,
    pub owner: Option<String>,
    pub exception_approver: Option<String>,
    pub risk: String,
    pub rollback_minutes: Option<u32>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    /// `suggest`, `review` or `direct`.
    pub mode: Mode,
    /// `update` or `append`.
    pub kind: Kind,
    /// The columns the agent may read through this action.
    pub reads: Vec<String>,
    /// The environment whose overrides shape this page (`[environments.NAME]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldPage {
    pub field: String,
    /// Whole sentences, each starting with a capital and ending in a full stop.
    pub rules: Vec<String>,
}

/// What the page needs that the pure core cannot look up.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageFacts<'a> {
    /// Every column of the action's table; empty when unknown, and the page
    /// then speaks of "every other column" without naming them.
    pub table_columns: &'a [String],
    /// Who approved this exact definition (its `Action::hash`), if anyone.
    pub approved_by: Option<&'a str>,
    /// When, as the store recorded it.
    pub approved_at: Option<&'a str>,
    /// The environment in force, if the policy names one.
    pub environment: Option<&'a str>,
}

/// The page for one action. Pure: the same action and facts give the same page.
pub fn explain_action(action: &Action, facts: &PageFacts) -> ActionPage {
    let columns = words::known_columns(action, facts.table_columns);
    let address = crate::rules::address_column_names(action, &columns);
    ActionPage {
        name: action.name.clone(),
        summary: action.summary.clone(),
        table: action.table.clone(),
        fields: action
            .fields
            .iter()
            .map(|f| FieldPage { field: f.name.clone(), rules: words::field_rules(action, f, &address) })
            .collect(),
        conditions: words::conditions(action),
        limits: words::limits(action),
        to_a_person: words::to_a_person(action, &address),
        never: words::never(action, facts.table_columns),
        owner: action.owner.clone(),
        exception_approver: action.exception_approver.clone(),
        risk: match action.risk {
            Some(r) => r.as_str().to_string(),
            None => "not stated (read as medium)".to_string(),
        },
        rollback_minutes: action.rollback_minutes,
        approved_by: facts.approved_by.map(str::to_string),
        approved_at: facts.approved_at.map(str::to_string),
        mode: action.mode,
        kind: action.kind,
        reads: action.read.clone(),
        environment: facts.environment.map(str::to_string),
    }
}

/// Every action's page, in policy order. `facts_for` supplies each action's
/// columns and approval.
pub fn explain_policy<'f>(policy: &'f Policy, facts_for: impl Fn(&Action) -> PageFacts<'f>) -> Vec<ActionPage> {
    let environment = policy.environment.as_deref();
    policy.actions.iter().map(|a| explain_action(a, &PageFacts { environment, ..facts_for(a) })).collect()
}

/// The mode in one sentence, shared by the page and by `describe_changes`.
pub fn mode_words(mode: Mode) -> &'static str {
    match mode {
        Mode::Suggest => "the agent only suggests; a person accepts or drops each change",
        Mode::Review => "a person approves every change before it is written",
        Mode::Direct => {
            "a change that passes every rule on this page is written at once; anything flagged waits for a person"
        }
    }
}

/// `Only one of …` → `only one of …`, for a rule after `field:`.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

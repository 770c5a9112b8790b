//! The page as plain text: Markdown-ish, one line per rule, at most
//! `PAGE_LINES_MAX` lines for any realistic action.

use crate::policy::Kind;

use super::{lower_first, mode_words, ActionPage};

/// docs/policy.md: one page is at most this many lines.
pub const PAGE_LINES_MAX: usize = 60;

/// The page as text, ending in a newline.
pub fn render_text(page: &ActionPage) -> String {
    let mut out = vec![format!("# {} — {}", page.name, page.summary.trim()), String::new()];
    out.push(match page.kind {
        Kind::Update => format!("Changes existing rows of {}, one record per call.", page.table),
        Kind::Append => format!("Adds new rows to {}, one per call; it never changes existing ones.", page.table),
    });
    out.push(format!("Mode: {} — {}.", page.mode.as_str(), mode_words(page.mode)));
    // An appended row has nothing to read beforehand; the engine refuses reads for it.
    if page.kind == Kind::Update {
        out.push(format!("May read: {}.", page.reads.join(", ")));
    }
    let fields: Vec<String> = page.fields.iter().map(|f| format!("{}: {}", f.field, rules_line(&f.rules))).collect();
    section(&mut out, "May change", &fields);
    let any_record = [format!("Any record of {}; no condition.", page.table)];
    section(&mut out, "Only when", if page.conditions.is_empty() { &any_record } else { &page.conditions });
    section(&mut out, "Limits", &page.limits);
    section(&mut out, "Always to a person", &page.to_a_person);
    section(&mut out, "Never", &page.never);
    section(&mut out, "Who", &who(page));
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn section(out: &mut Vec<String>, title: &str, lines: &[String]) {
    out.push(String::new());
    out.push(format!("## {title}"));
    out.extend(lines.iter().map(|l| format!("- {l}")));
}

/// `status: only one of … Emptying it is refused.`: the rules as one line.
fn rules_line(rules: &[String]) -> String {
    let mut line = rules.join(" ");
    if let Some(first) = rules.first() {
        line.replace_range(..first.len(), &lower_first(first));
    }
    line
}

fn who(page: &ActionPage) -> Vec<String> {
    let named = |who: &Option<String>| who.clone().unwrap_or_else(|| "none named".to_string());
    let rollback = match page.rollback_minutes {
        Some(1) => "1 minute".to_string(),
        Some(m) => format!("{m} minutes"),
        None => "not stated".to_string(),
    };
    let approval = match (&page.approved_by, &page.approved_at) {
        (Some(by), Some(at)) => format!("Approved by {by} on {at}."),
        (Some(by), None) => format!("Approved by {by}."),
        (None, _) => "Not approved: leash refuses its calls until someone approves this exact definition.".to_string(),
    };
    let mut lines = vec![
        format!("Owner: {}. Exception approver: {}.", named(&page.owner), named(&page.exception_approver)),
        format!("Risk: {}. Rollback: {rollback}.", page.risk),
        approval,
    ];
    if let Some(env) = &page.environment {
        lines.push(format!("Environment: {env} — this page includes its overrides."));
    }
    lines
}

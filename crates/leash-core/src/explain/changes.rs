//! What changed between two pages of one action, in the page's own words, for
//! `leash approve-policy` to show before it records an approval.

use super::{lower_first, mode_words, ActionPage};

/// The differences from `before` (the page of the last approved definition,
/// or `None` when there is none) to `after`, one sentence each. Approval
/// facts are not compared: they are not part of the definition. Empty when
/// nothing on the page changed (e.g. only `minutes_saved` or the layout).
pub fn describe_changes(before: Option<&ActionPage>, after: &ActionPage) -> Vec<String> {
    let Some(before) = before else {
        return vec![format!(
            "New action: {} has no approved definition yet; every line of its page is new.",
            after.name
        )];
    };
    let mut out = Vec::new();
    let mut scalar = |label: &str, old: String, new: String| {
        if old != new {
            out.push(format!("{label} is now {new} (was {old})."));
        }
    };
    scalar("Summary", quoted(&before.summary), quoted(&after.summary));
    scalar("Table", before.table.clone(), after.table.clone());
    scalar("Kind", before.kind.as_str().into(), after.kind.as_str().into());
    if before.mode != after.mode {
        out.push(format!(
            "Mode is now {} (was {}): {}.",
            after.mode.as_str(),
            before.mode.as_str(),
            mode_words(after.mode)
        ));
    }
    out.extend(field_changes(before, after));
    for (label, old, new) in [
        ("Only when", &before.conditions, &after.conditions),
        ("Limits", &before.limits, &after.limits),
        ("Always to a person", &before.to_a_person, &after.to_a_person),
        ("Never", &before.never, &after.never),
    ] {
        out.extend(line_changes(label, old, new));
    }
    let (gone, added) = (missing(&before.reads, &after.reads), missing(&after.reads, &before.reads));
    if !added.is_empty() {
        out.push(format!("Now also reads: {}.", added.join(", ")));
    }
    if !gone.is_empty() {
        out.push(format!("No longer reads: {}.", gone.join(", ")));
    }
    let who = |o: &Option<String>| o.clone().unwrap_or_else(|| "none named".into());
    let minutes = |m: Option<u32>| m.map(|m| format!("{m} min")).unwrap_or_else(|| "not stated".into());
    let mut scalar = |label: &str, old: String, new: String| {
        if old != new {
            out.push(format!("{label} is now {new} (was {old})."));
        }
    };
    scalar("Owner", who(&before.owner), who(&after.owner));
    scalar("Exception approver", who(&before.exception_approver), who(&after.exception_approver));
    scalar("Risk", before.risk.clone(), after.risk.clone());
    scalar("Rollback", minutes(before.rollback_minutes), minutes(after.rollback_minutes));
    out
}

fn quoted(text: &str) -> String {
    format!("“{}”", text.trim())
}

/// Items of `a` that `b` lacks, in `a`'s order.
fn missing<'a>(a: &'a [String], b: &[String]) -> Vec<&'a str> {
    a.iter().filter(|x| !b.contains(x)).map(String::as_str).collect()
}

fn line_changes(label: &str, old: &[String], new: &[String]) -> Vec<String> {
    let gone = missing(old, new).into_iter().map(|l| format!("{label} — no longer: {}", lower_first(l)));
    let added = missing(new, old).into_iter().map(|l| format!("{label} — now: {}", lower_first(l)));
    gone.chain(added).collect()
}

fn field_changes(before: &ActionPage, after: &ActionPage) -> Vec<String> {
    let mut out = Vec::new();
    for f in &after.fields {
        match before.fields.iter().find(|b| b.field == f.field) {
            None => out.push(format!("May now change {}: {}", f.field, lower_first(&f.rules.join(" ")))),
            Some(b) => out.extend(line_changes(&f.field, &b.rules, &f.rules)),
        }
    }
    for b in before.fields.iter().filter(|b| !after.fields.iter().any(|f| f.field == b.field)) {
        out.push(format!("May no longer change {}.", b.field));
    }
    out
}

//! Human-readable tables and lines; JSON goes straight through serde.

use indicatif::{ProgressBar, ProgressStyle};
use leash_core::call::{CallResult, FieldChange};
use leash_core::codes::Outcome;
use leash_core::journal::{Change, Proposal};
use leash_core::value::display;

/// A progress bar on stderr for long work (revert, demo batches).
pub fn bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len}").map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_message(label.to_string());
    bar
}

/// A plain text table: a header row and left-aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

pub fn fields_line(fields: &[FieldChange]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {} → {}", f.field, display(&f.old), display(&f.new)))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn call_result(r: &CallResult) -> String {
    let mut out = match r.outcome {
        Outcome::Applied => format!("applied  change {}", r.change_id.as_deref().unwrap_or("?")),
        Outcome::PendingReview | Outcome::Suggested => {
            format!("{}  proposal {}", r.outcome, r.proposal_id.as_deref().unwrap_or("?"))
        }
        Outcome::Rejected => format!("rejected  {}", r.code.map(|c| c.as_str()).unwrap_or("?")),
        Outcome::Unchanged => "unchanged".to_string(),
    };
    for f in &r.fields {
        out.push_str(&format!("\n  {}: {} → {}", f.field, display(&f.old), display(&f.new)));
    }
    if !r.reasons.is_empty() {
        let reasons: Vec<&str> = r.reasons.iter().map(|r| r.as_str()).collect();
        out.push_str(&format!("\n  reasons: {}", reasons.join(", ")));
    }
    for n in &r.notes {
        out.push_str(&format!("\n  note: {n}"));
    }
    out.push_str(&format!("\n  {}", r.message));
    out
}

pub fn proposals(list: &[Proposal]) -> String {
    if list.is_empty() {
        return "the queue is empty".to_string();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            let reasons: Vec<&str> = p.reasons.iter().map(|r| r.as_str()).collect();
            vec![
                p.id.clone(),
                p.action.clone(),
                p.record_key.clone().unwrap_or_else(|| "(new)".into()),
                p.status.as_str().to_string(),
                reasons.join(","),
                clip(&fields_line(&p.fields), 70),
                p.actor.clone(),
            ]
        })
        .collect();
    table(&["ID", "ACTION", "KEY", "STATUS", "REASONS", "CHANGE", "BY"], &rows)
}

pub fn changes(list: &[Change]) -> String {
    if list.is_empty() {
        return "no changes match".to_string();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.at.get(..19).unwrap_or(&c.at).replace('T', " "),
                c.action.clone(),
                c.record_key.clone(),
                clip(&fields_line(&c.fields), 60),
                c.actor.clone(),
                c.approver.clone().unwrap_or_default(),
                c.run_id.clone().unwrap_or_default(),
                match (&c.reverts, &c.reverted_by) {
                    (_, Some(by)) => format!("reverted by {by}"),
                    (Some(of), None) => format!("reverts {of}"),
                    _ => String::new(),
                },
            ]
        })
        .collect();
    table(&["ID", "AT (UTC)", "ACTION", "KEY", "CHANGE", "ACTOR", "APPROVER", "RUN", "UNDO"], &rows)
}

pub fn sheet(actions: &[leash_engine::ActionSheet]) -> String {
    let rows: Vec<Vec<String>> = actions
        .iter()
        .map(|a| {
            let limits = [a.per_run.map(|n| format!("{n}/run")), a.per_hour.map(|n| format!("{n}/h"))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let approved = match (&a.approved_by, &a.approved_at) {
                (Some(by), Some(at)) => format!("{by} {}", at.get(..10).unwrap_or(at)),
                _ => "NOT APPROVED".into(),
            };
            vec![
                a.name.clone(),
                serde_json::to_value(a.mode).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                serde_json::to_value(a.risk).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                a.fields.join(","),
                limits,
                a.rollback_minutes.map(|m| format!("{m} min")).unwrap_or_default(),
                a.owner.clone().unwrap_or_default(),
                a.exception_approver.clone().unwrap_or_default(),
                approved,
                a.paused.as_ref().map(|p| format!("{} ({})", p.kind, clip(&p.reason, 30))).unwrap_or_default(),
            ]
        })
        .collect();
    let table = table(
        &["ACTION", "MODE", "RISK", "FIELDS", "LIMITS", "ROLLBACK", "OWNER", "EXCEPTIONS", "APPROVED", "PAUSED"],
        &rows,
    );
    let summaries: Vec<String> = actions.iter().map(|a| format!("  {}: {}", a.name, a.summary)).collect();
    format!("{table}\n\n{}", summaries.join("\n"))
}

pub fn report(r: &leash_core::report::Report) -> String {
    let rows: Vec<Vec<String>> = r
        .actions
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                serde_json::to_value(a.mode).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                a.proposed.to_string(),
                a.applied.to_string(),
                a.pending.to_string(),
                a.accepted.to_string(),
                a.edited.to_string(),
                a.rejected.to_string(),
                a.reverted.to_string(),
                format!("{:.1}%", a.reversal_rate * 100.0),
                format!("{:.0}", a.minutes_saved),
                if a.earned_next_stage { "yes".into() } else { "no".into() },
            ]
        })
        .collect();
    let mut out = table(
        &[
            "ACTION",
            "MODE",
            "PROPOSED",
            "APPLIED",
            "PENDING",
            "ACCEPTED",
            "EDITED",
            "REJECTED",
            "REVERTED",
            "REVERSAL",
            "MIN SAVED",
            "EARNED",
        ],
        &rows,
    );
    out.push('\n');
    for a in &r.actions {
        out.push_str(&format!("\n  {}: {}", a.name, a.why));
    }
    for a in r.actions.iter().filter(|a| !a.days.is_empty()) {
        let rows: Vec<Vec<String>> = a
            .days
            .iter()
            .map(|d| {
                vec![
                    d.date.clone(),
                    d.applied.to_string(),
                    d.proposed.to_string(),
                    d.rejected.to_string(),
                    d.reverted.to_string(),
                ]
            })
            .collect();
        out.push_str(&format!(
            "\n\n{} by day\n{}",
            a.name,
            table(&["DAY", "APPLIED", "PROPOSED", "REJECTED", "REVERTED"], &rows)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use leash_core::call::{CallResult, FieldChange};
    use leash_core::codes::{Code, Outcome, ReviewReason};
    use serde_json::json;

    #[test]
    fn call_results_as_people_read_them() {
        let applied = CallResult {
            outcome: Outcome::Applied,
            change_id: Some("01J0000000000000000000000A".into()),
            proposal_id: None,
            code: None,
            message: "applied; undo with `leash revert 01J0000000000000000000000A`".into(),
            reasons: vec![],
            notes: vec![],
            fields: vec![FieldChange { field: "status".into(), old: json!("open"), new: json!("needs_reply") }],
        };
        let review = CallResult {
            outcome: Outcome::PendingReview,
            change_id: None,
            proposal_id: Some("01J0000000000000000000000B".into()),
            code: None,
            message: "waiting for support-lead; check back with the proposal id".into(),
            reasons: vec![ReviewReason::UnitDropped],
            notes: vec!["address: `Apt 3` is missing from the new address; mail would not reach the door".into()],
            fields: vec![FieldChange {
                field: "address".into(),
                old: json!("77 Sunset Blvd Apt 3"),
                new: json!("77 Sunset Blvd"),
            }],
        };
        let refused =
            CallResult::rejected(Code::ValueNotAllowed, "status: `urgent` is not allowed; use one of: open, solved");
        let text = [&applied, &review, &refused].map(super::call_result).join("\n---\n");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn tables_align_their_columns() {
        let rows =
            vec![vec!["a".to_string(), "long value".to_string()], vec!["longer key".to_string(), "v".to_string()]];
        insta::assert_snapshot!(super::table(&["KEY", "VALUE"], &rows));
    }
}

//! Human-readable tables and lines; JSON goes straight through serde.

use leash_core::call::{CallResult, FieldChange};
use leash_core::codes::Outcome;
use leash_core::journal::{Change, Proposal};
use leash_core::value::display;

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

//! Human-readable tables and lines; JSON goes straight through serde.

use indicatif::{ProgressBar, ProgressStyle};
use leash_core::call::{CallResult, FieldChange};
use leash_core::codes::Outcome;
use leash_core::journal::{Change, Proposal};
use leash_core::value::display;
use leash_engine::ProposalView;

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
            let status = match &p.escalated_at {
                Some(_) => format!("{} (escalated)", p.status.as_str()),
                None => p.status.as_str().to_string(),
            };
            let members = p.group.as_ref().map(|g| list.iter().filter(|o| o.group.as_ref() == Some(g)).count());
            let group = match (&p.group, members) {
                (Some(g), Some(n)) if n > 1 => format!("{g} ({n})"),
                _ => String::new(),
            };
            vec![
                p.id.clone(),
                p.action.clone(),
                p.record_key.clone().unwrap_or_else(|| "(new)".into()),
                status,
                reasons.join(","),
                clip(&fields_line(&p.fields), 60),
                p.actor.clone(),
                group,
            ]
        })
        .collect();
    table(&["ID", "ACTION", "KEY", "STATUS", "REASONS", "CHANGE", "BY", "GROUP"], &rows)
}

/// What became of each member of a group decision, and the totals.
pub fn group_outcomes(results: &[leash_engine::MemberOutcome]) -> String {
    let rows: Vec<Vec<String>> =
        results.iter().map(|r| vec![r.id.clone(), r.status.clone(), clip(&r.message, 90)]).collect();
    let decided = results.iter().filter(|r| r.status == "accepted" || r.status == "rejected").count();
    format!("{}\n{decided} of {} decided", table(&["ID", "STATUS", "MESSAGE"], &rows), results.len())
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
                a.paused.as_ref().map(|p| format!("{} ({})", p.kind.as_str(), clip(&p.reason, 30))).unwrap_or_default(),
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

/// `leash show` of a change: who, why, what, and how to undo it.
pub fn change(c: &Change) -> String {
    let mut t = format!(
        "change {}\n  at:        {}\n  action:    {} on {} {}\n  actor:     {}\n  approver:  {}\n  reason:    {}\n  evidence:  {}\n  run:       {}\n  proposal:  {}",
        c.id, c.at, c.action, c.table_name, c.record_key, c.actor,
        c.approver.as_deref().unwrap_or("-"), c.reason.as_deref().unwrap_or("-"), c.evidence.as_deref().unwrap_or("-"),
        c.run_id.as_deref().unwrap_or("-"), c.proposal_id.as_deref().unwrap_or("-"),
    );
    for f in &c.fields {
        t.push_str(&format!(
            "\n  {}: {} → {}",
            f.field,
            leash_core::value::display(&f.old),
            leash_core::value::display(&f.new)
        ));
    }
    match (&c.reverts, &c.reverted_by) {
        (_, Some(by)) => t.push_str(&format!("\n  reverted by change {by}")),
        (Some(of), None) => t.push_str(&format!("\n  this reverts {of}; undo it with: leash revert {}", c.id)),
        (None, None) => t.push_str(&format!("\n  undo: leash revert {}", c.id)),
    }
    t
}

/// `leash show` of a proposal, and what a reviewer can do with it.
pub fn proposal(v: &ProposalView) -> String {
    let p = &v.proposal;
    let mut t = format!(
        "proposal {} ({})\n  action:    {} on {} {}\n  by:        {}\n  reason:    {}\n  evidence:  {}\n  created:   {}",
        p.id, p.status.as_str(), p.action, p.table_name, p.record_key.as_deref().unwrap_or("(new row)"), p.actor,
        p.reason.as_deref().unwrap_or("-"), p.evidence.as_deref().unwrap_or("-"), p.created_at,
    );
    t.push_str(&format!("\n  change:    {}", fields_line(&p.fields)));
    for n in &p.notes {
        t.push_str(&format!("\n  note:      {n}"));
    }
    if let Some(r) = &p.reviewer {
        t.push_str(&format!("\n  decided:   by {r} at {}", p.decided_at.as_deref().unwrap_or("?")));
    }
    if let Some(n) = &p.review_note {
        t.push_str(&format!("\n  review:    {n}"));
    }
    if let Some(why) = &v.stale {
        t.push_str(&format!("\n  stale:     {why}; approving it will be refused"));
    }
    if p.status.is_open() {
        t.push_str(&format!(
            "\n  approve: leash approve {} [--set field=value]   reject: leash reject {} --note …",
            p.id, p.id
        ));
    }
    t
}

pub fn revert(r: &leash_engine::RevertReport) -> String {
    let mut t = if r.dry_run {
        format!("dry run: would revert {} change(s), {} skipped", r.reverted.len(), r.skipped)
    } else {
        format!("reverted {} change(s), {} skipped", r.reverted.len(), r.skipped)
    };
    for c in &r.conflicts {
        t.push_str(&format!(
            "\n  conflict: change {} field {}: leash wrote `{}`, it is now `{}` (skipped; --force overwrites)",
            c.change_id,
            c.field,
            leash_core::value::display(&c.expected),
            leash_core::value::display(&c.current)
        ));
    }
    if let Some(run) = &r.revert_run_id {
        if !r.reverted.is_empty() {
            t.push_str(&format!("\n  this revert is run {run}; undo it with: leash revert --run {run}"));
        }
    }
    t
}

pub fn verify(r: &leash_engine::VerifyReport) -> String {
    let mut t = if r.ok {
        format!("ok: {} change(s) checked, every chain intact, no drift", r.checked)
    } else {
        format!(
            "{} change(s) checked: {} chain break(s), {} drifted field(s)",
            r.checked,
            r.chain_breaks.len(),
            r.drift.len()
        )
    };
    for b in &r.chain_breaks {
        t.push_str(&format!(
            "\n  chain break: {} {} change {}: {}",
            b.table_name, b.record_key, b.change_id, b.problem
        ));
    }
    for d in &r.drift {
        t.push_str(&format!(
            "\n  drift: {} {} field {}: leash wrote `{}` (change {}), it is now `{}`",
            d.table_name,
            d.record_key,
            d.field,
            leash_core::value::display(&d.journal),
            d.change_id,
            leash_core::value::display(&d.current)
        ));
    }
    if r.parked_total > 0 {
        t.push_str(&format!(
            "\n{} webhook delivery(ies) parked, never to be sent (their webhook left the policy, or they failed for too long):",
            r.parked_total
        ));
        for p in &r.parked {
            t.push_str(&format!(
                "\n  parked: {} {} to {} (queued {}, {} attempt(s)): {}",
                p.id,
                p.event,
                p.target,
                p.created_at,
                p.attempts,
                p.last_error.as_deref().unwrap_or("")
            ));
        }
        if r.parked_total > r.parked.len() as u64 {
            t.push_str(&format!("\n  … and {} older", r.parked_total - r.parked.len() as u64));
        }
    }
    t
}

/// `leash outbox`: undelivered webhook rows, targets already redacted.
pub fn outbox(
    waiting: &[leash_engine::UndeliveredRow],
    waiting_total: u64,
    parked: &[leash_engine::UndeliveredRow],
    parked_total: u64,
) -> String {
    let mut t = format!("{waiting_total} delivery(ies) waiting for a retry, {parked_total} parked (never to be sent)");
    let rows = waiting.iter().map(|r| ("waiting", r)).chain(parked.iter().map(|r| ("parked", r)));
    for (state, r) in rows {
        t.push_str(&format!(
            "\n  {state}: {} {} to {} (queued {}, {} attempt(s)){}",
            r.id,
            r.event,
            r.target,
            r.created_at,
            r.attempts,
            r.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    t
}

/// `leash check`: each error and warning with file and line, then the verdict.
pub fn check(file: &str, issues: &[leash_engine::SchemaIssue], actions: usize) -> String {
    let mut lines: Vec<String> = issues
        .iter()
        .map(|i| format!("{file}:{}: {}: {}{}", i.line, i.key, if i.warning { "warning: " } else { "" }, i.message))
        .collect();
    let errors = issues.iter().filter(|i| !i.warning).count();
    lines.push(if errors == 0 {
        format!("{file}: ok — {actions} action(s), every table and column found")
    } else {
        format!("{errors} error(s)")
    });
    lines.join("\n")
}

/// `leash audit`: the counts per action, then every refused and reviewed change.
pub fn audit(r: &leash_engine::AuditReport) -> String {
    let rows: Vec<Vec<String>> = r
        .actions
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.checked.to_string(),
                a.would_apply.to_string(),
                a.would_review.to_string(),
                a.would_refuse.to_string(),
            ]
        })
        .collect();
    let mut out =
        format!("{} changes judged under policy {}\n", r.checked, r.policy_hash.get(..12).unwrap_or(&r.policy_hash));
    out.push_str(&table(&["ACTION", "CHECKED", "WOULD APPLY", "WOULD REVIEW", "WOULD REFUSE"], &rows));
    if !r.refused.is_empty() {
        out.push_str("\n\nwould refuse:");
        for c in &r.refused {
            out.push_str(&format!("\n  {} {} key {}: {} — {}", c.change_id, c.action, c.record_key, c.code, c.message));
        }
    }
    if !r.reviewed.is_empty() {
        out.push_str("\n\nwould go to a person:");
        for c in &r.reviewed {
            let reasons: Vec<&str> = c.reasons.iter().map(|x| x.as_str()).collect();
            out.push_str(&format!("\n  {} ({})", c.change_id, reasons.join(", ")));
        }
    }
    if !r.approximate.is_empty() {
        out.push_str(&format!(
            "\n\n{} change(s) judged with fields read from the record as it is now (the journal holds only the fields a change wrote): {}",
            r.approximate.len(),
            r.approximate.join(" ")
        ));
    }
    if let Some(undo) = &r.revert {
        out.push_str("\n\n");
        out.push_str(&revert(undo));
    }
    if r.refused.is_empty() {
        out.push_str("\n\nnothing would be refused");
    } else if r.revert.is_none() {
        out.push_str("\n\nundo exactly these: add --revert-refused (with --dry-run to plan first)");
    }
    out
}

/// `leash bench`'s figures, the journal curve and the targets.
pub fn bench(f: &leash_bench::Figures) -> String {
    let rows = vec![
        vec![
            "guarded_writes_per_s".into(),
            f.guarded_writes_per_s.to_string(),
            "direct calls through the engine, sequential".into(),
        ],
        vec![
            "baseline_writes_per_s".into(),
            f.baseline_writes_per_s.to_string(),
            "lock + update + audit row by hand".into(),
        ],
        vec!["overhead_ratio".into(), f.overhead_ratio.to_string(), "baseline / guarded (1.0 = free)".into()],
        vec![
            "baseline_indexed_writes_per_s".into(),
            f.baseline_indexed_writes_per_s.to_string(),
            "the same, audit row indexed like the journal".into(),
        ],
        vec![
            "overhead_vs_indexed_ratio".into(),
            f.overhead_vs_indexed_ratio.to_string(),
            "indexed baseline / guarded".into(),
        ],
        vec![
            "concurrent_guarded_writes_per_s".into(),
            f.concurrent_guarded_writes_per_s.to_string(),
            "8 callers, distinct records".into(),
        ],
        vec![
            "revert_10k_ms".into(),
            f.revert_10k_ms.to_string(),
            format!("batch revert of {} changes", f.revert_changes),
        ],
        vec!["baseline_restore_10k_ms".into(), f.baseline_restore_10k_ms.to_string(), "plain batched UPDATEs".into()],
        vec!["policy_eval_ns".into(), f.policy_eval_ns.to_string(), "one decision in the pure core, median".into()],
        vec!["http_call_p50_ms".into(), f.http_call_p50_ms.to_string(), "8 HTTP clients on loopback".into()],
        vec!["http_call_p99_ms".into(), f.http_call_p99_ms.to_string(), String::new()],
        vec!["http_call_p50_1client_ms".into(), f.http_call_p50_1client_ms.to_string(), "1 client, sequential".into()],
        vec!["http_call_p99_1client_ms".into(), f.http_call_p99_1client_ms.to_string(), String::new()],
    ];
    let mut t = table(&["FIGURE", "VALUE", "WHAT"], &rows);
    if let Some(curve) = &f.journal {
        let rows: Vec<Vec<String>> = curve
            .iter()
            .map(|j| {
                [
                    j.rows as f64,
                    j.proposals as f64,
                    j.call_p50_ms,
                    j.call_p99_ms,
                    j.log_page_ms,
                    j.revert_run_1000_ms,
                    j.verify_s,
                ]
                .into_iter()
                .chain([j.report_ms, j.rss_mb])
                .map(|v| v.to_string())
                .collect()
            })
            .collect();
        let head = [
            "ROWS",
            "PROPOSALS",
            "CALL P50 MS",
            "P99 MS",
            "LOG PAGE MS",
            "REVERT 1K MS",
            "VERIFY S",
            "REPORT MS",
            "RSS MB",
        ];
        t.push_str("\n\nAs the journal grows:\n");
        t.push_str(&table(&head, &rows));
    }
    for (target, met) in &f.targets {
        t.push_str(&format!("\n{} {target}", if *met { "met    " } else { "MISSED " }));
    }
    t
}

#[cfg(test)]
mod tests {
    use leash_core::call::{CallResult, FieldChange};
    use leash_core::codes::{Code, ReviewReason};
    use serde_json::json;

    #[test]
    fn call_results_as_people_read_them() {
        let applied = CallResult::applied(
            "01J0000000000000000000000A".into(),
            vec![FieldChange { field: "status".into(), old: json!("open"), new: json!("needs_reply") }],
            "applied; undo with `leash revert 01J0000000000000000000000A`",
        );
        let review = CallResult::proposed(
            "01J0000000000000000000000B".into(),
            false,
            "waiting for support-lead; check back with the proposal id",
            vec![ReviewReason::UnitDropped],
            vec!["address: `Apt 3` is missing from the new address; mail would not reach the door".into()],
            vec![FieldChange {
                field: "address".into(),
                old: json!("77 Sunset Blvd Apt 3"),
                new: json!("77 Sunset Blvd"),
            }],
        );
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

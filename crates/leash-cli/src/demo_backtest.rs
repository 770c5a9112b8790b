//! The demo's explain-and-audit stage: one action's page, then a backtest of
//! a tightened rule over what the agent already did, with its refused list
//! and the revert it would take (planned only, so the demo's counts stand).

use anyhow::Result;
use leash_core::policy::parse_policy;
use leash_engine::{AuditRequest, Caller, Engine};

/// Refused changes listed before "and N more".
const LISTED_MAX: usize = 5;

pub async fn explain_and_audit(engine: &Engine, config: &std::path::Path, reviewer: &Caller, json: bool) -> Result<()> {
    let page = engine.explain(Some("set_ticket_status")).await?;
    let tight_path = config.with_file_name("tight.toml");
    // Shipping tags were corrected too often: the owner takes `shipping` away.
    let text = std::fs::read_to_string(config)?.replacen(
        "one_of = [\"shipping\", \"billing\", \"returns\", \"product\", \"other\"]",
        "one_of = [\"billing\", \"returns\", \"product\", \"other\"]",
        1,
    );
    std::fs::write(&tight_path, &text)?;
    let tight = parse_policy(&tight_path.display().to_string(), &text)
        .map_err(|e| anyhow::anyhow!("demo tight policy: {e:?}"))?;
    let req = AuditRequest {
        action: Some("tag_ticket_topic".into()),
        revert_refused: true,
        dry_run: true,
        ..AuditRequest::default()
    };
    let report = engine.audit(reviewer, Some(&tight), &req).await?;
    if json {
        return Ok(());
    }
    println!("   $ leash explain set_ticket_status");
    for p in &page {
        for line in leash_core::explain::render_text(p).lines() {
            println!("   │ {line}");
        }
    }
    println!("   The owner takes `shipping` off tag_ticket_topic's list and backtests it first:");
    println!("   $ leash audit --policy {} --action tag_ticket_topic", tight_path.display());
    for a in &report.actions {
        println!(
            "   {}: {} changes judged — {} would apply, {} would go to a person, {} would be refused",
            a.name, a.checked, a.would_apply, a.would_review, a.would_refuse
        );
    }
    for r in report.refused.iter().take(LISTED_MAX) {
        println!("   ✘ {} ticket {}: {}", r.change_id, r.record_key, r.code);
    }
    if report.refused.len() > LISTED_MAX {
        println!("   … and {} more", report.refused.len() - LISTED_MAX);
    }
    if let Some(plan) = &report.revert {
        println!(
            "   $ leash audit --policy tight.toml --action tag_ticket_topic --revert-refused --dry-run   → would revert {}, {} conflict(s)",
            plan.reverted.len(),
            plan.conflicts.len()
        );
    }
    Ok(())
}

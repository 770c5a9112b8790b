//! `leash bench --audit`: one backtest over a journal of 100,000 changes.
//! The journal is pre-filled with sealed chains in bulk (what the write path
//! would have written, without paying for 100,000 calls), then audited once
//! under the bench policy with every condition and field rule in play.

use std::time::Instant;

use leash_engine::{AuditRequest, Caller};
use serde::Serialize;

use crate::journal::{insert_sealed, status_change};
use crate::{bar, round, setup, BenchError, Options, Result};

/// Journaled changes the audit figure judges.
pub const AUDIT_CHANGES: usize = 100_000;
/// Changes per record in the pre-filled journal.
const CHANGES_PER_RECORD: usize = 10;
/// Journal rows per pre-fill transaction.
const FILL_ROWS: usize = 2_000;

#[derive(Debug, Clone, Serialize)]
pub struct AuditFigures {
    pub store: &'static str,
    pub audit_changes: usize,
    pub audit_100k_ms: f64,
    /// The audit's own count, to show every change was judged.
    pub checked: u64,
    pub fill_ms: f64,
}

pub async fn run(opts: &Options) -> Result<AuditFigures> {
    let records = AUDIT_CHANGES / CHANGES_PER_RECORD;
    let db = setup::Database::create(opts.store, opts.db.as_deref(), records).await?;
    let engine = db.engine().await?;
    let ops = Caller::local("bench");
    engine.approve_policy(&ops, Some("bench")).await?;
    let hash = engine.policy().action("bench_update").map(|a| a.hash.clone()).unwrap_or_default();

    let pb = bar(opts.progress, "journal pre-fill", AUDIT_CHANGES);
    let start = Instant::now();
    let statuses = ["open", "pending", "needs_reply", "solved"];
    let mut heads: Vec<Option<String>> = vec![None; records + 1];
    let mut seq = 0usize;
    for round_no in 0..CHANGES_PER_RECORD {
        for chunk in (1..=records).collect::<Vec<_>>().chunks(FILL_ROWS) {
            let mut changes = Vec::with_capacity(chunk.len());
            for &key in chunk {
                seq += 1;
                let (old, new) = (statuses[round_no % 4], statuses[(round_no + 1) % 4]);
                let at = format!("2026-11-{:02}T{:02}:00:00.000000Z", 1 + round_no, key % 24);
                let run = format!("fill-{round_no}");
                let mut c = status_change(&hash, format!("{:026}", seq), &at, &key.to_string(), &run, (old, new));
                c.seal(heads[key].take());
                heads[key] = Some(c.hash.clone());
                changes.push(c);
            }
            insert_sealed(&db.raw, &changes).await?;
            pb.inc(chunk.len() as u64);
        }
    }
    pb.finish_and_clear();
    let fill = start.elapsed();

    let start = Instant::now();
    let report = engine.audit(&ops, None, &AuditRequest::default()).await?;
    let audit = start.elapsed();
    if report.checked as usize != AUDIT_CHANGES {
        return Err(BenchError::Other(format!("the audit judged {} of {AUDIT_CHANGES} changes", report.checked)));
    }
    drop(engine);
    db.drop().await;
    Ok(AuditFigures {
        store: opts.store.name(),
        audit_changes: AUDIT_CHANGES,
        audit_100k_ms: round(audit.as_secs_f64() * 1000.0),
        checked: report.checked,
        fill_ms: round(fill.as_secs_f64() * 1000.0),
    })
}

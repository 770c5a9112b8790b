//! `leash bench --journal-sizes`: the figures a user feels, measured as the
//! journal grows. A database of its own is pre-filled with valid hash chains
//! (multi-row inserts, as fast as the store takes them) and a decided
//! proposal per ten journal rows, then at each size:
//! one client's call latency, the first page of the log, reverting a fresh
//! 1,000-change run, a full `verify`, the 30-day report and the peak RSS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use leash_core::call::FieldChange;
use leash_core::codes::Outcome;
use leash_core::journal::{Change, Op, Proposal, ProposalStatus};
use leash_core::value::Value;
use leash_engine::{Caller, ChangeQuery, Engine, RevertRequest, Role, Selector};
use leash_store::Store;
use serde::Serialize;

use crate::setup::Database;
use crate::{bar, percentile, round, round2, set_call, BenchError, Options, Result};

/// Records whose chains the pre-fill extends (a year of a small team's fixes
/// touches thousands of records, each many times).
pub const FILL_RECORDS: usize = 10_000;
/// Further records the measurements write, so the pre-fill never races them.
const MEASURE_RECORDS: usize = CALLS + REVERT_RUN;
/// Sequential calls per size for the latency figures.
pub const CALLS: usize = 500;
/// The run reverted at each size.
pub const REVERT_RUN: usize = 1_000;
/// One proposal per this many pre-filled pairs of changes (one per ten
/// journal rows): a year of review mode leaves decided proposals behind.
const PAIRS_PER_PROPOSAL: usize = 5;
/// Journal rows per pre-fill transaction.
const FILL_BATCH: usize = 5_000;
/// Largest size a run accepts: ten million rows take hours to fill.
pub const JOURNAL_SIZE_MAX: usize = 5_000_000;
const LOG_PAGE: u32 = 50;

#[derive(Debug, Clone, Serialize)]
pub struct JournalFigures {
    /// Journal rows when this size was measured: the size asked for, or more
    /// when the previous size's own writes (2,500) already passed it.
    pub rows: usize,
    /// Decided proposals pre-filled beside them.
    pub proposals: usize,
    pub call_p50_ms: f64,
    pub call_p99_ms: f64,
    pub log_page_ms: f64,
    pub revert_run_1000_ms: f64,
    pub verify_s: f64,
    pub report_ms: f64,
    pub rss_mb: f64,
}

/// Sizes from `10000,100000`: ascending, each at least 1, at most the cap.
pub fn parse_sizes(text: &str) -> std::result::Result<Vec<usize>, String> {
    let mut sizes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n: usize = part.replace('_', "").parse().map_err(|_| format!("`{part}` is not a number of rows"))?;
        if n == 0 || n > JOURNAL_SIZE_MAX {
            return Err(format!("{n} rows: give sizes from 1 to {JOURNAL_SIZE_MAX}"));
        }
        if sizes.last().is_some_and(|&last| n <= last) {
            return Err("give the sizes in ascending order, e.g. 10000,100000,1000000".into());
        }
        sizes.push(n);
    }
    if sizes.is_empty() {
        return Err("give at least one size, e.g. --journal-sizes 10000,100000".into());
    }
    Ok(sizes)
}

pub async fn run(opts: &Options, sizes: &[usize]) -> Result<Vec<JournalFigures>> {
    let db = Database::create(opts.store, opts.db.as_deref(), FILL_RECORDS + MEASURE_RECORDS).await?;
    let engine = db.engine().await?;
    let ops = Caller::local("bench");
    engine.approve_policy(&ops, Some("bench")).await?;
    engine.create_token(&ops, "bench-agent", Role::Agent, vec!["bench_update".into()]).await?;
    let agent = engine.caller_named("bench-agent").await?;
    let mut filler = Filler::new(&engine)?;
    let mut out = Vec::with_capacity(sizes.len());
    for (i, &size) in sizes.iter().enumerate() {
        filler.fill_to(&db.raw, size, opts.progress).await?;
        out.push(measure(&engine, &ops, &agent, i, (filler.rows, filler.proposals)).await?);
        filler.rows += CALLS + 2 * REVERT_RUN;
    }
    drop(engine);
    db.drop().await;
    Ok(out)
}

/// One size's figures. Every write sets a value the record does not hold
/// (the value alternates with the size's index), so each is a real change.
async fn measure(
    engine: &Engine,
    ops: &Caller,
    agent: &Caller,
    i: usize,
    (rows, proposals): (usize, usize),
) -> Result<JournalFigures> {
    let status = ["pending", "solved"][i % 2];
    let first = FILL_RECORDS + 1;
    let mut latencies = Vec::with_capacity(CALLS);
    for key in first..first + CALLS {
        let start = Instant::now();
        let r = engine.call(agent, "bench_update", set_call(key, status, None)).await?;
        latencies.push(ms(start.elapsed()));
        applied(&r.outcome, key, &r.message)?;
    }
    let log_page_ms = median_of(5, || async {
        let q = ChangeQuery { action: Some("bench_update".into()), limit: LOG_PAGE, ..ChangeQuery::default() };
        engine.changes(ops, &q).await.map(|_| ())
    })
    .await?;
    let run = format!("journal-{i}");
    for key in first + CALLS..first + CALLS + REVERT_RUN {
        let r = engine.call(agent, "bench_update", set_call(key, status, Some(&run))).await?;
        applied(&r.outcome, key, &r.message)?;
    }
    let req = RevertRequest {
        selector: Selector::run(&run)?,
        dry_run: false,
        force: false,
        batch_max: leash_engine::REVERT_BATCH_MAX,
    };
    let start = Instant::now();
    let report = engine.revert(ops, &req, |_, _| {}).await?;
    let revert_run_1000_ms = ms(start.elapsed());
    if report.reverted.len() != REVERT_RUN || !report.conflicts.is_empty() {
        return Err(BenchError::Other(format!("the run's revert undid {} of {REVERT_RUN}", report.reverted.len())));
    }
    let start = Instant::now();
    let verified = engine.verify().await?;
    let verify_s = start.elapsed().as_secs_f64();
    if !verified.ok {
        return Err(BenchError::Other(format!(
            "verify found {} chain breaks and {} drifts in the bench's own journal",
            verified.chain_breaks.len(),
            verified.drift.len()
        )));
    }
    let since = leash_engine::parse_time("30d", jiff::Timestamp::now()).map_err(BenchError::Other)?;
    let report_ms = median_of(3, || async { engine.report(ops, Some(since.clone()), None).await.map(|_| ()) }).await?;
    Ok(JournalFigures {
        rows,
        proposals,
        call_p50_ms: round2(percentile(&mut latencies.clone(), 0.5)),
        call_p99_ms: round2(percentile(&mut latencies, 0.99)),
        log_page_ms: round2(log_page_ms),
        revert_run_1000_ms: round(revert_run_1000_ms),
        verify_s: round2(verify_s),
        report_ms: round(report_ms),
        rss_mb: round(peak_rss_mb()),
    })
}

fn applied(outcome: &Outcome, key: usize, message: &str) -> Result<()> {
    match outcome {
        Outcome::Applied => Ok(()),
        other => Err(BenchError::Other(format!("the write to record {key} was {other}: {message}"))),
    }
}

async fn median_of<F, Fut>(rounds: usize, mut f: F) -> Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = leash_engine::Result<()>>,
{
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        f().await?;
        samples.push(ms(start.elapsed()));
    }
    Ok(percentile(&mut samples, 0.5))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The process's peak resident set (Linux; 0 where it cannot be read).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Writes journal rows as the engine would have: pairs of changes per record
/// (open → needs_reply → open), so every chain is valid and every record
/// still holds what its last change says (`verify` stays clean).
struct Filler {
    policy_hash: String,
    heads: HashMap<String, String>,
    pairs: usize,
    rows: usize,
    proposals: usize,
    year_ago: jiff::Timestamp,
}

impl Filler {
    fn new(engine: &Engine) -> Result<Filler> {
        let action =
            engine.policy().action("bench_update").ok_or_else(|| BenchError::Other("no bench action".into()))?;
        let now = jiff::Timestamp::now();
        let year_ago = now.checked_sub(jiff::SignedDuration::from_hours(24 * 365)).unwrap_or(now);
        Ok(Filler {
            policy_hash: action.hash.clone(),
            heads: HashMap::new(),
            pairs: 0,
            rows: 0,
            proposals: 0,
            year_ago,
        })
    }

    async fn fill_to(&mut self, store: &dyn Store, size: usize, progress: bool) -> Result<()> {
        if self.rows >= size {
            return Ok(());
        }
        let pb = bar(progress, &format!("journal to {size} rows"), size - self.rows);
        while self.rows < size {
            let want = (size - self.rows).div_ceil(2).min(FILL_BATCH / 2);
            let mut batch = Vec::with_capacity(2 * want);
            let mut proposals = Vec::with_capacity(want / PAIRS_PER_PROPOSAL + 1);
            for _ in 0..want {
                let (a, b) = self.pair();
                if self.pairs.is_multiple_of(PAIRS_PER_PROPOSAL) {
                    proposals.push(self.proposal(&a));
                }
                batch.push(a);
                batch.push(b);
            }
            let mut tx = store.begin().await?;
            tx.insert_changes(&batch).await?;
            for p in &proposals {
                tx.insert_proposal(p).await?;
            }
            tx.commit().await?;
            self.proposals += proposals.len();
            self.rows += batch.len();
            pb.inc(batch.len() as u64);
        }
        pb.finish_and_clear();
        // A journal grows a little each day and a server's statistics follow
        // (SQLite keeps none unless asked); a bulk fill outruns them, so
        // refresh them as autovacuum would.
        let dialect = store.dialect();
        if dialect.refreshes_statistics_itself() {
            store.execute_script(&[dialect.analyze_journal()]).await?;
        }
        Ok(())
    }

    fn pair(&mut self) -> (Change, Change) {
        let j = self.pairs;
        self.pairs += 1;
        let key = (j % FILL_RECORDS + 1).to_string();
        // Spread over the past year, in no particular order (as clocks and
        // many gateways write it).
        let offset_s = (j as i64).wrapping_mul(7_919).rem_euclid(365 * 86_400);
        let at = self.year_ago.checked_add(jiff::SignedDuration::from_secs(offset_s)).unwrap_or(self.year_ago);
        let at = leash_engine::stamp(at);
        let run = format!("fill-{}", j / 1_000);
        let prev = self.heads.get(&key).cloned();
        let mut a = self.change(&key, &at, &run, "open", "needs_reply");
        a.seal(prev);
        let mut b = self.change(&key, &at, &run, "needs_reply", "open");
        b.seal(Some(a.hash.clone()));
        self.heads.insert(key, b.hash.clone());
        (a, b)
    }

    /// A decided proposal beside a change, as a team in review mode leaves
    /// them: most accepted (some edited), some rejected, a few expired.
    fn proposal(&self, c: &Change) -> Proposal {
        let n = self.proposals + 1;
        let status = match n % 20 {
            0 | 1 => ProposalStatus::Rejected,
            2 => ProposalStatus::Expired,
            _ => ProposalStatus::Accepted,
        };
        let edited = (status == ProposalStatus::Accepted && n % 10 == 3)
            .then(|| [("status".to_string(), Value::String("needs_reply".into()))].into_iter().collect());
        Proposal {
            id: ulid::Ulid::new().to_string(),
            created_at: c.at.clone(),
            action: c.action.clone(),
            table_name: c.table_name.clone(),
            record_key: Some(c.record_key.clone()),
            fields: c.fields.clone(),
            reasons: Vec::new(),
            notes: Vec::new(),
            status,
            actor: c.actor.clone(),
            reason: c.reason.clone(),
            evidence: None,
            confidence: c.confidence,
            run_id: c.run_id.clone(),
            reviewer: Some("bench-lead".into()),
            decided_at: Some(c.at.clone()),
            review_note: None,
            edited,
            change_id: (status == ProposalStatus::Accepted).then(|| c.id.clone()),
            group: None,
            expires_at: None,
            on_expire: None,
            escalated_at: None,
        }
    }

    fn change(&self, key: &str, at: &str, run: &str, old: &str, new: &str) -> Change {
        status_change(&self.policy_hash, ulid::Ulid::new().to_string(), at, key, run, (old, new))
    }
}

/// A journal row as the engine writes a `bench_update` of `status`, not yet
/// sealed: the pre-fills of the journal curve and of the audit bench.
pub(crate) fn status_change(
    policy_hash: &str,
    id: String,
    at: &str,
    key: &str,
    run: &str,
    (old, new): (&str, &str),
) -> Change {
    Change {
        id,
        at: at.to_string(),
        action: "bench_update".into(),
        policy_hash: policy_hash.to_string(),
        table_name: "bench_items".into(),
        record_key: key.to_string(),
        op: Op::Update,
        fields: vec![FieldChange {
            field: "status".into(),
            old: Value::String(old.into()),
            new: Value::String(new.into()),
        }],
        actor: "bench-agent".into(),
        approver: None,
        reason: Some("bench".into()),
        evidence: None,
        confidence: Some(0.99),
        run_id: Some(run.to_string()),
        proposal_id: None,
        reverts: None,
        reverted_by: None,
        watch: false,
        prev_hash: None,
        hash: String::new(),
    }
}

/// Writes sealed journal rows in one transaction (multi-row inserts).
pub(crate) async fn insert_sealed(store: &dyn Store, changes: &[Change]) -> Result<()> {
    let mut tx = store.begin().await?;
    tx.insert_changes(changes).await?;
    tx.commit().await?;
    Ok(())
}

/// Ratios of the largest size's figures to the smallest's, against the
/// scale work's compass (the journal must not slow calls as it grows);
/// absolute bounds at the largest size.
pub fn targets(curve: &[JournalFigures], targets: &mut std::collections::BTreeMap<&'static str, bool>) {
    let (Some(first), Some(last)) = (curve.first(), curve.last()) else { return };
    if curve.len() > 1 {
        targets.insert(
            "journal: call p50 at the largest size <= 1.3x the smallest",
            last.call_p50_ms <= 1.3 * first.call_p50_ms,
        );
        targets.insert(
            "journal: revert of a 1,000-change run <= 1.5x",
            last.revert_run_1000_ms <= 1.5 * first.revert_run_1000_ms,
        );
        targets.insert("journal: peak RSS <= 1.5x", last.rss_mb <= 1.5 * first.rss_mb);
    }
    targets.insert("journal: log page < 50 ms at the largest size", last.log_page_ms < 50.0);
    targets.insert("journal: report < 1 s at the largest size", last.report_ms < 1_000.0);
    targets.insert(
        "journal: verify >= 50,000 rows/s at the largest size",
        last.rows as f64 / last.verify_s.max(1e-9) >= 50_000.0,
    );
}

//! `leash bench`: what the guard costs. Every figure is measured in one run,
//! on one database, through one driver, against the hand-rolled equivalent a
//! careful team would write (lock, update, audit row in one transaction).

mod audit;
pub mod chart;
pub mod journal;
mod setup;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use leash_core::call::Call;
use leash_core::codes::Outcome;
use leash_core::decide::{decide, Inputs};
use leash_core::value::Value;
use leash_engine::{Caller, Engine, RevertRequest, Role, Selector};
use leash_store::Store;
use serde::Serialize;

pub use audit::{run as run_audit, AuditFigures, AUDIT_CHANGES};
/// The store a run measures, by the store's own name for it.
pub use leash_store::Dialect;

/// Callers in the concurrent and HTTP figures.
pub const CONCURRENT_CALLERS: usize = 8;
pub const REVERT_CHANGES: usize = 10_000;
pub const POLICY_EVAL_ROUNDS: usize = 20_000;
pub const HTTP_CALLS: usize = 5_000;
/// Sequential calls of the single-client HTTP figures.
pub const HTTP_CALLS_ONE_CLIENT: usize = 2_000;
pub const RESTORE_BATCH_ROWS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Engine(#[from] leash_engine::EngineError),
    #[error(transparent)]
    Store(#[from] leash_store::StoreError),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, BenchError>;

pub struct Options {
    pub store: Dialect,
    /// A server URL for PostgreSQL/MySQL; the bench makes its own schema there.
    pub db: Option<String>,
    pub records: usize,
    pub progress: bool,
    /// Journal sizes for the growth curve (`--journal-sizes`); empty: none.
    pub journal_sizes: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub store: &'static str,
    pub records: usize,
    pub guarded_writes_per_s: f64,
    pub baseline_writes_per_s: f64,
    pub overhead_ratio: f64,
    /// The hand-rolled write again, its audit row indexed as leash's journal
    /// is (id, record, run, action and time, actor).
    pub baseline_indexed_writes_per_s: f64,
    /// baseline_indexed / guarded: what leash costs beyond keeping an equally
    /// searchable audit trail.
    pub overhead_vs_indexed_ratio: f64,
    pub concurrent_guarded_writes_per_s: f64,
    pub revert_changes: usize,
    pub revert_10k_ms: f64,
    pub baseline_restore_10k_ms: f64,
    pub revert_vs_restore_ratio: f64,
    pub policy_eval_ns: f64,
    pub http_call_p50_ms: f64,
    pub http_call_p99_ms: f64,
    /// One client calling sequentially: the per-call cost without queueing.
    pub http_call_p50_1client_ms: f64,
    pub http_call_p99_1client_ms: f64,
    /// The same figures a user feels, at each journal size, on a database
    /// of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<Vec<journal::JournalFigures>>,
    pub targets: BTreeMap<&'static str, bool>,
}

fn bar(progress: bool, label: &str, len: usize) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} {per_sec}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_string());
    bar
}

fn set_call(key: usize, status: &str, run: Option<&str>) -> Call {
    Call {
        key: Some(Value::from(key as i64)),
        set: [("status".to_string(), Value::String(status.into()))].into_iter().collect(),
        reason: Some("bench".into()),
        confidence: Some(0.99),
        run_id: run.map(str::to_string),
        ..Call::default()
    }
}

async fn guarded_sequential(
    engine: &Engine,
    agent: &Caller,
    n: usize,
    status: &str,
    run: &str,
    progress: bool,
) -> Result<Duration> {
    let pb = bar(progress, "guarded writes", n);
    let start = Instant::now();
    for key in 1..=n {
        let r = engine.call(agent, "bench_update", set_call(key, status, Some(run))).await?;
        if r.outcome != Outcome::Applied {
            return Err(BenchError::Other(format!("guarded write {key} was {}: {}", r.outcome, r.message)));
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(start.elapsed())
}

async fn guarded_concurrent(
    engine: Arc<Engine>,
    agent: &Caller,
    n: usize,
    status: &'static str,
    progress: bool,
) -> Result<Duration> {
    let pb = bar(progress, "concurrent guarded writes", n);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONCURRENT_CALLERS {
        let (engine, agent, pb) = (engine.clone(), agent.clone(), pb.clone());
        tasks.push(tokio::spawn(async move {
            let mut key = 1 + c;
            while key <= n {
                let r = engine.call(&agent, "bench_update", set_call(key, status, None)).await?;
                if r.outcome != Outcome::Applied {
                    return Err(BenchError::Other(format!("concurrent write {key} was {}: {}", r.outcome, r.message)));
                }
                pb.inc(1);
                key += CONCURRENT_CALLERS;
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| BenchError::Other(e.to_string()))??;
    }
    pb.finish_and_clear();
    Ok(start.elapsed())
}

/// Median cost of one decision in the pure core, no I/O.
fn policy_eval_ns(engine: &Engine) -> f64 {
    let Some(action) = engine.policy().action("bench_update") else { return f64::NAN };
    let record: leash_core::value::Record = serde_json::from_value(setup::sample_record()).unwrap_or_default();
    let call = set_call(1, "pending", None);
    let dups = BTreeMap::new();
    let inputs = Inputs { record: Some(&record), duplicates: &dups, watch_active: false, approved: false };
    let mut samples = Vec::with_capacity(POLICY_EVAL_ROUNDS / 100);
    for _ in 0..POLICY_EVAL_ROUNDS / 100 {
        let start = Instant::now();
        for _ in 0..100 {
            std::hint::black_box(decide(action, std::hint::black_box(&call), &inputs));
        }
        samples.push(start.elapsed().as_nanos() as f64 / 100.0);
    }
    median(&mut samples)
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// `clients` clients, each calling in turn; the latency of every call.
async fn http_clients(
    base: &str,
    token: &str,
    (clients, n): (usize, usize),
    status: &'static str,
    pb: ProgressBar,
) -> Result<Vec<f64>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .map_err(|e| BenchError::Other(e.to_string()))?;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (base, token) = (base.to_string(), token.to_string());
        let (client, pb) = (client.clone(), pb.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut key = 1 + c;
            let mut i = 0;
            while i * clients + c < n {
                let body = serde_json::json!({"key": key, "set": {"status": status}, "reason": "bench"});
                let start = Instant::now();
                let resp = client
                    .post(format!("{base}/api/v1/actions/bench_update"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                let outcome = match resp {
                    Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                    _ => None,
                };
                lat.push(start.elapsed().as_secs_f64() * 1000.0);
                let outcome = outcome.as_ref().and_then(|v| v["outcome"].as_str()).unwrap_or("no answer");
                if outcome != Outcome::Applied.as_str() {
                    return Err(BenchError::Other(format!("HTTP call for {key} was {outcome}, not applied")));
                }
                pb.inc(1);
                key += clients;
                i += 1;
            }
            Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| BenchError::Other(e.to_string()))??);
    }
    Ok(all)
}

/// Latencies of calls against `leash serve` on loopback: p50 and p99 from
/// `CONCURRENT_CALLERS` clients, then p50 and p99 of one client calling
/// sequentially (the per-call cost without queueing). Every call sets
/// `status` on a record that holds another value, so every call is a write.
async fn http_latency(engine: Arc<Engine>, token: &str, n: usize, progress: bool) -> Result<HttpFigures> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| BenchError::Other(e.to_string()))?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| BenchError::Other(e.to_string()))?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(leash_server::serve_on(engine, listener, async {
        let _ = stop_rx.await;
    }));
    let pb = bar(progress, "HTTP calls", n);
    let many = http_clients(&base, token, (CONCURRENT_CALLERS, n), "open", pb.clone()).await;
    pb.finish_and_clear();
    // The records the concurrent phase set to `open` go to `pending`.
    let alone = HTTP_CALLS_ONE_CLIENT.min(n);
    let pb = bar(progress, "HTTP calls, one client", alone);
    let one = match &many {
        Ok(_) => http_clients(&base, token, (1, alone), "pending", pb.clone()).await,
        Err(_) => Ok(Vec::new()),
    };
    pb.finish_and_clear();
    let _ = stop_tx.send(());
    let _ = server.await;
    // The server stops whichever phase failed.
    let (mut many, mut one) = (many?, one?);
    Ok(HttpFigures {
        p50: percentile(&mut many.clone(), 0.5),
        p99: percentile(&mut many, 0.99),
        one_p50: percentile(&mut one.clone(), 0.5),
        one_p99: percentile(&mut one, 0.99),
    })
}

struct HttpFigures {
    p50: f64,
    p99: f64,
    one_p50: f64,
    one_p99: f64,
}

/// The timings one run measures, before they become figures.
struct Timings {
    guarded: Duration,
    revert: Duration,
    restore: Duration,
    baseline: Duration,
    baseline_indexed: Duration,
    concurrent: Duration,
    eval_ns: f64,
    http: HttpFigures,
}

pub async fn run(opts: &Options) -> Result<Figures> {
    let n = opts.records.max(CONCURRENT_CALLERS);
    let db = setup::Database::create(opts.store, opts.db.as_deref(), n).await?;
    let engine = Arc::new(db.engine().await?);
    let ops = Caller::local("bench");
    engine.approve_policy(&ops, Some("bench")).await?;
    let token = engine.create_token(&ops, "bench-agent", Role::Agent, vec!["bench_update".into()]).await?;
    let agent = engine.caller_named("bench-agent").await?;

    // 1. Guarded sequential writes: one 10k-change run to revert afterwards.
    let guarded = guarded_sequential(&engine, &agent, n, "pending", "bench-run", opts.progress).await?;
    // 2. Revert that run in one command.
    let revert = revert_run(&engine, &ops, n, opts.progress).await?;
    // 3. The same restore by hand: set the rows, then batched UPDATEs back.
    db.raw.execute_script(&["UPDATE bench_items SET status = 'pending'"]).await?;
    let old: Vec<(i64, String)> = (1..=n as i64).map(|k| (k, "open".to_string())).collect();
    let start = Instant::now();
    db.raw.baseline_restore("bench_items", "status", &old, RESTORE_BATCH_ROWS).await?;
    let restore = start.elapsed();
    // 4. Hand-rolled audited writes on the same rows, same driver.
    let (baseline, baseline_indexed) = baseline_writes(&db, n, opts.progress).await?;
    // 5. Concurrent guarded writes on distinct records.
    let concurrent = guarded_concurrent(engine.clone(), &agent, n, "needs_reply", opts.progress).await?;
    let eval_ns = policy_eval_ns(&engine);
    let http = http_latency(engine.clone(), &token, HTTP_CALLS.min(n), opts.progress).await?;
    drop(engine);
    db.drop().await;
    let t = Timings { guarded, revert, restore, baseline, baseline_indexed, concurrent, eval_ns, http };
    let mut f = figures(opts, n, &t);
    targets(&mut f, !opts.store.is_server());
    if !opts.journal_sizes.is_empty() {
        let curve = journal::run(opts, &opts.journal_sizes).await?;
        journal::targets(&curve, &mut f.targets);
        f.journal = Some(curve);
    }
    Ok(f)
}

/// Reverts the run of `n` changes in one command; its time.
async fn revert_run(engine: &Engine, ops: &Caller, n: usize, progress: bool) -> Result<Duration> {
    let pb = bar(progress, "batch revert", n);
    let start = Instant::now();
    let req = RevertRequest {
        selector: Selector::run("bench-run")?,
        dry_run: false,
        force: false,
        batch_max: leash_engine::REVERT_BATCH_MAX,
    };
    let report = engine
        .revert(ops, &req, |done, _| {
            pb.set_position(done as u64);
        })
        .await?;
    let revert = start.elapsed();
    pb.finish_and_clear();
    if report.reverted.len() != n || !report.conflicts.is_empty() {
        return Err(BenchError::Other(format!(
            "revert undid {} of {n}, {} conflicts",
            report.reverted.len(),
            report.conflicts.len()
        )));
    }
    Ok(revert)
}

/// Hand-rolled audited writes, with a bare audit table and then with one
/// indexed like leash's journal.
async fn baseline_writes(db: &setup::Database, n: usize, progress: bool) -> Result<(Duration, Duration)> {
    let pb = bar(progress, "baseline writes", n);
    let start = Instant::now();
    for key in 1..=n {
        db.raw
            .baseline_write("bench_items", "bench_audit", key as i64, "status", &Value::String("solved".into()), &[])
            .await?;
        pb.inc(1);
    }
    let baseline = start.elapsed();
    pb.finish_and_clear();
    let pb = bar(progress, "baseline writes, indexed audit", n);
    let start = Instant::now();
    for key in 1..=n {
        let extra = [
            ("change_id", ulid::Ulid::new().to_string()),
            ("at", jiff::Timestamp::now().to_string()),
            ("action", "bench_update".to_string()),
            ("actor", "bench-agent".to_string()),
            ("run_id", "bench-indexed".to_string()),
        ];
        let new = Value::String("pending".into());
        db.raw.baseline_write("bench_items", "bench_audit_indexed", key as i64, "status", &new, &extra).await?;
        pb.inc(1);
    }
    let indexed = start.elapsed();
    pb.finish_and_clear();
    Ok((baseline, indexed))
}

fn figures(opts: &Options, n: usize, t: &Timings) -> Figures {
    let per_s = |d: Duration| n as f64 / d.as_secs_f64();
    let (g, b) = (per_s(t.guarded), per_s(t.baseline));
    let revert_ms = t.revert.as_secs_f64() * 1000.0;
    let restore_ms = t.restore.as_secs_f64() * 1000.0;
    Figures {
        store: opts.store.name(),
        records: n,
        guarded_writes_per_s: round(g),
        baseline_writes_per_s: round(b),
        overhead_ratio: round2(b / g),
        baseline_indexed_writes_per_s: round(per_s(t.baseline_indexed)),
        overhead_vs_indexed_ratio: round2(per_s(t.baseline_indexed) / g),
        concurrent_guarded_writes_per_s: round(per_s(t.concurrent)),
        revert_changes: n,
        revert_10k_ms: round(revert_ms),
        baseline_restore_10k_ms: round(restore_ms),
        revert_vs_restore_ratio: round2(revert_ms / restore_ms.max(0.001)),
        policy_eval_ns: round(t.eval_ns),
        http_call_p50_ms: round2(t.http.p50),
        http_call_p99_ms: round2(t.http.p99),
        http_call_p50_1client_ms: round2(t.http.one_p50),
        http_call_p99_1client_ms: round2(t.http.one_p99),
        journal: None,
        targets: BTreeMap::new(),
    }
}

/// Each target and whether this run met it. Two hold for the local file
/// only: a server adds a round trip per statement.
fn targets(f: &mut Figures, local: bool) {
    f.targets.insert("overhead_ratio <= 1.5", f.overhead_ratio <= 1.5);
    f.targets.insert("revert_10k_ms < 1000 (sqlite)", !local || f.revert_10k_ms < 1000.0);
    f.targets.insert("revert within 2x of baseline restore", f.revert_vs_restore_ratio <= 2.0);
    f.targets.insert("policy_eval_ns < 10000", f.policy_eval_ns < 10_000.0);
    f.targets.insert("http_call_p99_ms < 5", f.http_call_p99_ms < 5.0);
    // The tighter compass the journal's scale work set itself.
    f.targets.insert("overhead_ratio <= 1.2", f.overhead_ratio <= 1.2);
    f.targets.insert("revert within 1.2x of baseline restore", f.revert_vs_restore_ratio <= 1.2);
    f.targets.insert("policy_eval_ns < 1500", f.policy_eval_ns < 1_500.0);
    f.targets.insert("http_call_p99_1client_ms < 1 (sqlite)", !local || f.http_call_p99_1client_ms < 1.0);
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

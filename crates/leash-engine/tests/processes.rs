//! Several OS processes on one database: caps hold across processes, and a
//! process killed mid-batch or mid-revert leaves nothing half-written.
//!
//! The parent test re-runs this test binary as child processes
//! (`LEASH_TEST_CHILD` set); the `child_*` tests do nothing otherwise.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use leash_core::codes::{Code, Outcome};
use leash_core::policy::parse_policy;
use leash_engine::{Engine, RevertRequest, Selector};
use leash_store::ChangeFilter;

const CHILD: &str = "LEASH_TEST_CHILD";

fn spawn_child(test: &str, url: &str, extra: &[(&str, String)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("LEASH_TEST_URL", url)
        .envs(extra.iter().map(|(k, v)| (*k, v.clone())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the test binary re-runs itself")
}

async fn child_engine() -> Option<Engine> {
    child_engine_with(POLICY).await
}

async fn child_engine_with(policy: &str) -> Option<Engine> {
    std::env::var(CHILD).ok()?;
    let url = std::env::var("LEASH_TEST_URL").unwrap();
    let store: Arc<dyn leash_store::Store> = Arc::from(leash_store::open(&url).await.unwrap());
    Some(Engine::open(parse_policy("test.toml", policy).unwrap(), store).await.unwrap())
}

/// The test policy with a breaker on `set_status`: 5 identical changes in 10m.
fn breaker_policy() -> String {
    POLICY.replacen(
        "  [actions.limits]\n  per_run = 100\n",
        "  [actions.limits]\n  per_run = 100\n  [actions.breaker]\n  same_change = 5\n  within = \"10m\"\n",
        1,
    )
}

fn env_num(name: &str) -> i64 {
    std::env::var(name).unwrap().parse().unwrap()
}

/// Child: 8 tasks, each calling set_status on its own keys in run "multi".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_run_worker() {
    let Some(engine) = child_engine().await else { return };
    let engine = Arc::new(engine);
    let first = env_num("LEASH_TEST_FIRST_KEY");
    let mut tasks = Vec::new();
    for t in 0..8 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let (mut applied, mut capped) = (0, 0);
            for i in 0..5 {
                let mut c = call(Some(&(first + t * 5 + i).to_string()), &[("status", "solved")]);
                c.run_id = Some("multi".into());
                let r = engine.call(&agent(), "set_status", c).await.unwrap();
                match (r.outcome, r.code) {
                    (Outcome::Applied, _) => applied += 1,
                    (Outcome::Rejected, Some(Code::LimitRun)) => capped += 1,
                    other => panic!("unexpected {other:?}: {}", r.message),
                }
            }
            (applied, capped)
        }));
    }
    let (mut applied, mut capped) = (0, 0);
    for t in tasks {
        let (a, c) = t.await.unwrap();
        applied += a;
        capped += c;
    }
    println!("RESULT applied={applied} capped={capped}");
}

async fn four_processes_share_one_run_cap(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let children: Vec<Child> = (0..4)
        .map(|c| spawn_child("child_run_worker", &f.url, &[("LEASH_TEST_FIRST_KEY", (100 + c * 40).to_string())]))
        .collect();
    let (applied, capped) = sum_results(children);
    assert_eq!((applied, capped), (100, 60), "4 processes × 8 tasks × 5 calls against per_run = 100");
    let journal = f.store.changes(&ChangeFilter { run_id: Some("multi".into()), ..Default::default() }).await.unwrap();
    assert_eq!(journal.len(), 100);
}

/// Child: 6 identical status changes on its own keys, with the breaker policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_breaker_worker() {
    let Some(engine) = child_engine_with(&breaker_policy()).await else { return };
    let first = env_num("LEASH_TEST_FIRST_KEY");
    let (mut applied, mut tripped) = (0, 0);
    for key in first..first + 6 {
        let r =
            engine.call(&agent(), "set_status", call(Some(&key.to_string()), &[("status", "solved")])).await.unwrap();
        match (r.outcome, r.code) {
            (Outcome::Applied, _) => applied += 1,
            (Outcome::Rejected, Some(Code::BreakerTripped)) => tripped += 1,
            other => panic!("unexpected {other:?}: {}", r.message),
        }
    }
    println!("RESULT applied={applied} capped={tripped}");
}

async fn breaker_trips_on_the_nth_change_across_two_processes(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let policy = parse_policy("test.toml", &breaker_policy()).unwrap();
    assert!(policy.action("set_status").unwrap().breaker.is_some(), "the test policy has its breaker");
    let engine = Engine::open(policy, f.store.clone()).await.unwrap();
    engine.approve_policy(&leash_engine::Caller::local("ops"), None).await.unwrap();
    let children: Vec<Child> = (0..2)
        .map(|c| spawn_child("child_breaker_worker", &f.url, &[("LEASH_TEST_FIRST_KEY", (100 + c * 50).to_string())]))
        .collect();
    let (applied, tripped) = sum_results(children);
    assert_eq!((applied, tripped), (5, 7), "exactly the 5th identical change trips, in whichever process it falls");
}

/// Sums the `RESULT applied=… capped=…` lines of finished children.
fn sum_results(children: Vec<Child>) -> (usize, usize) {
    let (mut applied, mut capped) = (0, 0);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "child failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let at = text.find("RESULT ").unwrap_or_else(|| panic!("no result in {text}"));
        let line = text[at..].lines().next().unwrap_or_default();
        let nums: Vec<usize> = line.split(['=', ' ']).filter_map(|p| p.parse().ok()).collect();
        applied += nums[0];
        capped += nums[1];
    }
    (applied, capped)
}

const CRASH_FIRST: i64 = 1000;
const CRASH_RECORDS: i64 = 1000;

/// Child: a 1,000-record batch, slowed so the parent can kill it midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_batch_worker() {
    let Some(engine) = child_engine().await else { return };
    for key in CRASH_FIRST..CRASH_FIRST + CRASH_RECORDS {
        let mut c = call(Some(&key.to_string()), &[("status", "solved")]);
        c.run_id = Some("crash".into());
        engine.call(&agent(), "set_status", c).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Child: the batch revert, slowed the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_revert_worker() {
    let Some(engine) = child_engine().await else { return };
    // Small batches, slowed, so the kill lands in the middle of the revert.
    let req = RevertRequest { selector: Selector::run("crash").unwrap(), dry_run: false, force: false, batch_max: 5 };
    engine.revert(&reviewer(), &req, |_, _| std::thread::sleep(Duration::from_millis(10))).await.unwrap();
}

async fn wait_then_kill(mut child: Child, f: &Fixture, enough: impl Fn(usize) -> bool, filter: ChangeFilter) -> usize {
    let start = Instant::now();
    loop {
        let n = f.store.changes(&filter).await.unwrap().len();
        if enough(n) {
            child.kill().unwrap(); // SIGKILL: no destructor, no rollback handler runs
            child.wait().unwrap();
            return f.store.changes(&filter).await.unwrap().len();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "child made no progress");
        assert!(child.try_wait().unwrap().is_none(), "child finished before it could be killed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn solved_keys(f: &Fixture) -> usize {
    let schema = f.store.table_schema("tickets").await.unwrap().unwrap();
    let mut n = 0;
    for key in CRASH_FIRST..CRASH_FIRST + CRASH_RECORDS {
        let rec = f
            .store
            .read_record(&schema, &leash_core::policy::Key::single("id"), &key.to_string())
            .await
            .unwrap()
            .unwrap();
        n += (rec["status"] == "solved") as usize;
    }
    n
}

async fn killed_batch_and_killed_revert_leave_journal_and_records_consistent(kind: Kind) {
    let Some(f) = fixture(kind).await else { return };
    let rows: Vec<String> =
        (CRASH_FIRST..CRASH_FIRST + CRASH_RECORDS).map(|i| format!("({i}, 'open', FALSE)")).collect();
    f.store
        .execute_script(&[&format!("INSERT INTO tickets (id, status, locked) VALUES {}", rows.join(", "))])
        .await
        .unwrap();

    let batch = ChangeFilter { run_id: Some("crash".into()), ..Default::default() };
    let child = spawn_child("child_batch_worker", &f.url, &[]);
    let written = wait_then_kill(child, &f, |n| n >= 100, batch.clone()).await;
    assert!(written < CRASH_RECORDS as usize, "killed midway");
    assert_eq!(solved_keys(&f).await, written, "every changed record has its journal row, and no other changed");
    let v = f.engine.verify().await.unwrap();
    assert!(v.ok, "{v:?}");

    let reverts = ChangeFilter { actor: Some("lead".into()), ..Default::default() };
    let child = spawn_child("child_revert_worker", &f.url, &[]);
    let undone = wait_then_kill(child, &f, |n| n >= 20, reverts).await;
    assert!(undone < written, "killed midway through the revert");
    assert_eq!(solved_keys(&f).await, written - undone);
    let v = f.engine.verify().await.unwrap();
    assert!(v.ok, "{v:?}");

    let req = RevertRequest {
        selector: Selector::run("crash").unwrap(),
        dry_run: false,
        force: false,
        batch_max: leash_engine::REVERT_BATCH_MAX,
    };
    let rest = f.engine.revert(&reviewer(), &req, |_, _| {}).await.unwrap();
    assert_eq!(rest.reverted.len() + undone, written, "re-running the revert finishes the job");
    assert!(rest.conflicts.is_empty());
    assert_eq!(solved_keys(&f).await, 0);
    assert!(f.engine.verify().await.unwrap().ok);
}

conformance!(
    four_processes_share_one_run_cap,
    killed_batch_and_killed_revert_leave_journal_and_records_consistent,
    breaker_trips_on_the_nth_change_across_two_processes,
);

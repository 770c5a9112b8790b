//! `leash demo` (README.md): a small shop on embedded SQLite and a simulated
//! agent working through the gateway, stage by stage. No network.

use std::path::PathBuf;
use std::time::Duration;

use crate::output::bar;
use anyhow::{Context, Result};
use leash_core::call::{Call, CallResult};
use leash_core::codes::Outcome;
use leash_core::policy::parse_policy;
use leash_core::value::Value;
use leash_engine::{Caller, ChangeQuery, Engine, RevertRequest, Role, Selector, CHANGES_PAGE_MAX};

use crate::starter::{demo_fixtures, DEMO_POLICY};
use crate::EXIT_DECIDED;

/// The starter's review deadline for invoices, and the demo's: a review
/// nobody answers is escalated after a second instead of a day, so that
/// the demo's "day" passes while it runs (stage 4). The demo's leash.toml
/// says so; `leash init --demo` writes the starter's day.
const DEMO_DAY: (&str, &str) =
    ("expire = \"24h\"", "expire = \"1s\"   # the demo's day: `leash init --demo` writes 24h");
/// The longest the demo waits for its day to pass.
const DEMO_DAY_WAIT_MS: i128 = 2_000;

/// The starter's demo policy with the demo's short day.
fn demo_policy() -> Result<String> {
    let text = DEMO_POLICY.replacen(DEMO_DAY.0, DEMO_DAY.1, 1);
    anyhow::ensure!(text != DEMO_POLICY, "the demo policy has no `{}` to shorten", DEMO_DAY.0);
    Ok(text)
}

struct Tally {
    applied: usize,
    review: usize,
    rejected: usize,
    unchanged: usize,
}

struct Demo {
    engine: Engine,
    agent: Caller,
    tally: Tally,
    quiet: bool,
}

fn set(pairs: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), if v.is_empty() { Value::Null } else { Value::String(v.to_string()) }))
        .collect()
}

impl Demo {
    async fn call(
        &mut self,
        action: &str,
        key: Option<&str>,
        fields: &[(&str, &str)],
        reason: &str,
        run: Option<&str>,
    ) -> Result<CallResult> {
        let call = Call {
            key: key.map(|k| Value::String(k.into())),
            set: set(fields),
            reason: Some(reason.into()),
            confidence: Some(0.95),
            run_id: run.map(str::to_string),
            ..Call::default()
        };
        let r = self.engine.call(&self.agent, action, call).await?;
        match r.outcome {
            Outcome::Applied => self.tally.applied += 1,
            Outcome::PendingReview | Outcome::Suggested => self.tally.review += 1,
            Outcome::Rejected => self.tally.rejected += 1,
            Outcome::Unchanged => self.tally.unchanged += 1,
        }
        if !self.quiet {
            self.print(action, key, &r);
        }
        Ok(r)
    }

    fn print(&self, action: &str, key: Option<&str>, r: &CallResult) {
        let target = format!("{action} {}", key.map(|k| format!("#{k}")).unwrap_or_else(|| "(new row)".into()));
        match r.outcome {
            Outcome::Applied => println!("   ✔ applied         {target}  {}", crate::output::fields_line(&r.fields)),
            Outcome::PendingReview | Outcome::Suggested => {
                let reasons: Vec<&str> = r.reasons.iter().map(|r| r.as_str()).collect();
                println!(
                    "   ⏸ {:<15} {target}  {}  [{}]",
                    r.outcome.as_str(),
                    crate::output::fields_line(&r.fields),
                    reasons.join(", ")
                );
                if let Some(n) = r.notes.last() {
                    println!("       note for the reviewer: {n}");
                }
            }
            Outcome::Rejected => {
                println!("   ✘ rejected        {target}  {}", r.code.map(|c| c.as_str()).unwrap_or("?"));
                println!("       told the agent: {}", r.message);
            }
            Outcome::Unchanged => println!("   = unchanged       {target}"),
        }
    }
}

fn stage(n: u32, title: &str) {
    println!("\n{n}. {title}");
}

/// Where the demo's files are.
struct Place {
    dir: PathBuf,
    db: PathBuf,
    config: PathBuf,
    url: String,
}

pub async fn run(dir: Option<PathBuf>, json: bool) -> Result<u8> {
    let (place, mut d, admin) = set_up(dir, json).await?;
    if !json {
        println!("leash demo — a simulated agent, \"assistant\", works on a small shop database through leash.");
        println!("   database: {}\n   policy:   {}", place.db.display(), place.config.display());
        println!("   ops-lead approved the policy: $ leash approve-policy --by ops-lead");
    }
    clean_fixes(&mut d, json).await?;
    let (money, dropped) = sent_to_review(&mut d, json).await?;
    refused_calls(&mut d, json).await?;
    let reviewer = Caller { name: "support-lead".into(), role: Role::Reviewer, actions: Vec::new() };
    review_queue(&mut d, &reviewer, &money, &dropped, json).await?;
    reviewers_day(&mut d, &place.url, &reviewer, json).await?;
    rollout(&mut d, &place.config, &place.url, &admin, &reviewer, json).await?;
    let (batch, reverted, tripped) = bad_batch(&mut d, &admin, json).await?;
    if !json {
        stage(7, "The policy on one page, and a backtest of a tightened rule");
    }
    crate::demo_backtest::explain_and_audit(&d.engine, &place.config, &reviewer, json).await?;
    let verify = d.engine.verify().await?;
    let queue = d.engine.queue(&admin).await?;
    if json {
        let Place { dir, db, config, .. } = &place;
        println!(
            "{}",
            serde_json::json!({
                "dir": dir, "database": db, "policy": config,
                "applied": d.tally.applied, "pending_review": d.tally.review, "rejected": d.tally.rejected,
                "unchanged": d.tally.unchanged, "batch": batch, "reverted": reverted,
                "breaker_tripped": tripped,
                "queue": queue.len(), "verify_ok": verify.ok,
            })
        );
        return Ok(if verify.ok { EXIT_DECIDED } else { crate::EXIT_ERROR });
    }
    stage(8, "Check the journal");
    println!("   $ leash verify\n   {}", crate::output::verify(&verify).replace('\n', "\n   "));
    println!(
        "\nDone. {} applied, {} sent to review ({} still queued), {} refused, {} reverted in one step.",
        d.tally.applied,
        d.tally.review,
        queue.len(),
        d.tally.rejected,
        reverted
    );
    println!("Look around:");
    for cmd in ["log", "queue", "show <id>"] {
        println!("   leash --config {} {cmd}", place.config.display());
    }
    Ok(if verify.ok { EXIT_DECIDED } else { crate::EXIT_ERROR })
}

/// A new folder with the shop database and the demo policy, approved, and
/// the agent's token.
async fn set_up(dir: Option<PathBuf>, json: bool) -> Result<(Place, Demo, Caller)> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("leash-demo-{}", ulid::Ulid::new().to_string().to_lowercase())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join("shop.db");
    if db.exists() {
        anyhow::bail!("{} exists; pass --dir with a new folder", db.display());
    }
    let config = dir.join("leash.toml");
    let policy_text = demo_policy()?;
    std::fs::write(&config, &policy_text)?;
    let url = format!("sqlite://{}", db.display());
    let fixtures = demo_fixtures();
    leash_engine::run_script(&url, &fixtures.iter().map(String::as_str).collect::<Vec<_>>()).await?;

    let policy =
        parse_policy(&config.display().to_string(), &policy_text).map_err(|e| anyhow::anyhow!("demo policy: {e:?}"))?;
    let engine = Engine::connect(policy, &url).await?;
    let admin = Caller::local("ops-lead");
    engine.approve_policy(&admin, Some("demo policy reviewed")).await?;
    engine.create_token(&admin, "assistant", Role::Agent, Vec::new()).await?;
    let agent = engine.caller_named("assistant").await?;
    let d = Demo { engine, agent, tally: Tally { applied: 0, review: 0, rejected: 0, unchanged: 0 }, quiet: json };

    Ok((Place { dir, db, config, url }, d, admin))
}

/// Stage 1.
async fn clean_fixes(d: &mut Demo, json: bool) -> Result<()> {
    if !json {
        stage(1, "Clean, mechanical fixes land directly, each with its old value journaled");
    }
    d.call("fix_contact_format", Some("1"), &[("email", "Ann.Lee@example.com")], "domain in lower case", None).await?;
    d.call("fix_contact_format", Some("1"), &[("phone", "+14155550134")], "phone in E.164", None).await?;
    d.call("fix_contact_format", Some("1"), &[("name", "Ann Lee")], "name in proper case", None).await?;
    d.call("fix_contact_format", Some("2"), &[("name", "Bob Stone")], "double space", None).await?;
    d.call("set_ticket_status", Some("1"), &[("status", "needs_reply")], "no reply for 26 h", None).await?;
    d.call("fill_ticket_priority", Some("1"), &[("priority", "normal")], "routine order question", None).await?;
    d.call(
        "add_ticket_note",
        None,
        &[("ticket_id", "1"), ("body", "Customer asked twice; order 1182 is in transit.")],
        "context for the next agent",
        None,
    )
    .await?;
    let fields = [("address", "125 Main St, Apt 4B"), ("city", "Brooklyn")];
    d.call("fix_address_format", Some("1"), &fields, "standard form; `brookln` is a typo", None).await?;

    Ok(())
}

/// Stage 2: the money change and the dropped apartment, for stage 4.
async fn sent_to_review(d: &mut Demo, json: bool) -> Result<(CallResult, CallResult)> {
    if !json {
        stage(2, "Anything a person should see waits in the review queue, with a note");
    }
    d.call("fix_contact_format", Some("4"), &[("email", "DANA@wu.test")], "domain in lower case", None).await?;
    d.call("fix_contact_format", Some("5"), &[("name", "John Smith")], "looks like a typo", None).await?;
    let money =
        d.call("adjust_invoice", Some("3"), &[("amount", "99.00")], "customer says the price was 99", None).await?;
    d.call("fix_address_format", Some("2"), &[("address", "18 Market St")], "standard form", None).await?;
    let dropped = d.call("fix_address_format", Some("5"), &[("address", "77 Sunset Blvd")], "shorter", None).await?;

    Ok((money, dropped))
}

/// Stage 3.
async fn refused_calls(d: &mut Demo, json: bool) -> Result<()> {
    if !json {
        stage(3, "Bad calls are refused with a stable code and what to do instead");
    }
    d.call("set_ticket_status", Some("2"), &[("status", "urgent!!")], "customer is angry", None).await?;
    d.call("set_ticket_status", Some("2"), &[("status", "'; DROP TABLE customers; --")], "injection attempt", None)
        .await?;
    d.call("set_ticket_status", Some("3"), &[("status", "open")], "reopen", None).await?;
    d.call("fix_contact_format", Some("3"), &[("email", "carla@diaz.test ")], "trailing space", None).await?;
    d.call("fix_contact_format", Some("6"), &[("email", "jsmith@old.test")], "old record", None).await?;
    d.call("fill_ticket_priority", Some("2"), &[("priority", "low")], "guessing", None).await?;
    d.call("fix_contact_format", Some("2"), &[("email", "")], "no longer valid", None).await?;
    d.call("fix_contact_format", Some("2"), &[("vip", "true")], "seems important", None).await?;
    d.call("set_ticket_status", Some("999"), &[("status", "solved")], "cleanup", None).await?;

    Ok(())
}

/// Stage 4: one approval with an edit, one rejection.
async fn review_queue(
    d: &mut Demo,
    reviewer: &Caller,
    money: &CallResult,
    dropped: &CallResult,
    json: bool,
) -> Result<()> {
    if !json {
        stage(4, "A reviewer works the queue");
    }
    if let Some(id) = &dropped.proposal_id {
        let mut edits = serde_json::Map::new();
        edits.insert("address".into(), Value::String("77 Sunset Blvd, Apt 3".into()));
        let r = d.engine.approve(reviewer, id, edits, Some("kept the apartment")).await?;
        if !json {
            let change = crate::output::fields_line(&r.fields);
            println!("   ✔ support-lead approved the address with the apartment put back: {change}");
        }
    }
    if let Some(id) = &money.proposal_id {
        d.engine.reject(reviewer, id, "the price was 129; the customer misremembered").await?;
        if !json {
            println!("   ✘ support-lead rejected the invoice amount change: the price was 129");
        }
    }
    Ok(())
}

/// Stage 6: the same wrong change 50 times, the breaker, and the batch
/// reverted in one step. Gives (changes landed, reverted, breaker tripped).
async fn bad_batch(d: &mut Demo, admin: &Caller, json: bool) -> Result<(usize, usize, bool)> {
    if !json {
        stage(6, "A bad batch: run nightly-17 tries to move 50 due dates by +30 days, all the same mistake");
    }
    let calls_bar = (!json).then(|| bar("agent calls"));
    if let Some(b) = &calls_bar {
        b.set_length(50);
    }
    d.quiet = true;
    for i in 1..=50 {
        let due = jiff::civil::date(2026, 12, 1 + (i % 28) as i8)
            .checked_add(jiff::Span::new().days(30))
            .map(|d| d.to_string())
            .unwrap_or_default();
        d.call("adjust_invoice", Some(&i.to_string()), &[("due_date", &due)], "net-60 terms", Some("nightly-17"))
            .await?;
        if let Some(b) = &calls_bar {
            b.inc(1);
        }
    }
    d.quiet = json;
    if let Some(b) = calls_bar {
        b.finish_and_clear();
    }
    let nightly = ChangeQuery { run_id: Some("nightly-17".into()), limit: CHANGES_PAGE_MAX, ..ChangeQuery::default() };
    let batch = d.engine.changes(admin, &nightly).await?;
    let breaker = d.engine.pauses().await?.into_iter().find(|p| p.kind == leash_engine::PauseKind::Breaker);
    if !json {
        println!("   {} changes landed before the breaker tripped on the 20th identical shift;", batch.len());
        println!(
            "   the other {} calls were refused with breaker_tripped, and the action is paused.",
            50 - batch.len()
        );
        if let Some(p) = &breaker {
            println!("   breaker: {}", crate::output::clip(&p.reason, 160));
        }
        println!("   $ leash revert --run nightly-17 --dry-run");
    }
    let admin_revert = Caller { name: "support-lead".into(), role: Role::Reviewer, actions: Vec::new() };
    let plan = RevertRequest {
        selector: Selector::run("nightly-17")?,
        dry_run: true,
        force: false,
        batch_max: leash_engine::REVERT_BATCH_MAX,
    };
    let dry = d.engine.revert(&admin_revert, &plan, |_, _| {}).await?;
    if !json {
        println!("   would revert {} change(s), {} conflict(s)", dry.reverted.len(), dry.conflicts.len());
        println!("   $ leash revert --run nightly-17");
    }
    let revert_bar = (!json).then(|| bar("reverting"));
    let done = d
        .engine
        .revert(&admin_revert, &RevertRequest { dry_run: false, ..plan }, |i, n| {
            if let Some(b) = &revert_bar {
                b.set_length(n as u64);
                b.set_position(i as u64);
            }
        })
        .await?;
    if let Some(b) = revert_bar {
        b.finish_and_clear();
    }
    if !json {
        println!(
            "   reverted {} change(s) in one step; each revert is itself journaled (run {}).",
            done.reverted.len(),
            done.revert_run_id.as_deref().unwrap_or("?")
        );
    }

    d.engine.resume(admin, Some("adjust_invoice"), "bad batch reverted").await?;
    if !json {
        println!("   $ leash resume adjust_invoice   (the person who checked the batch lets it run again)");
    }

    Ok((batch.len(), done.reverted.len(), breaker.is_some()))
}

/// Stage 4, continued: three proposals of the same change are one group,
/// decided at once (each re-checked: one record moved on, so it is not
/// written); and a proposal nobody answered escalates a day later.
async fn reviewers_day(d: &mut Demo, url: &str, reviewer: &Caller, json: bool) -> Result<()> {
    // Invoices 21–23 are 187, 194 and 201: each gets the same 10.00 fee,
    // "the same change" by the breaker's definition.
    d.quiet = true;
    let mut last = None;
    for (key, amount) in [("21", "197.00"), ("22", "204.00"), ("23", "211.00")] {
        last =
            Some(d.call("adjust_invoice", Some(key), &[("amount", amount)], "add the 10.00 shipping fee", None).await?);
    }
    // Meanwhile someone in finance corrects invoice 22 by hand: a write
    // around leash on purpose, as people make them, which the approval
    // below must notice (the record moved since it was proposed).
    leash_engine::run_script(url, &["UPDATE invoices SET amount = 0 WHERE id = 22"]).await?;
    let group = match last.and_then(|r| r.proposal_id) {
        Some(id) => d.engine.proposal(reviewer, &id).await?.proposal.group,
        None => None,
    };
    if let Some(group) = group {
        let ids = d.engine.group_members(reviewer, &group).await?;
        let results = d.engine.approve_many(reviewer, &ids, Some("the fee applies to all three")).await?;
        let approved = results.iter().filter(|r| r.status == "accepted").count();
        if !json {
            println!(
                "   ✔ three proposals add the same 10.00 fee — one group of {}; $ leash approve --group {group}: {approved} approved, {} not (invoice 22 changed since it was proposed)",
                ids.len(),
                results.len() - approved
            );
        }
    }
    // A day passes — the demo's day is a second (`DEMO_DAY`): the next
    // look at the queue escalates what nobody answered.
    let waiting =
        d.call("adjust_invoice", Some("24"), &[("amount", "1.00")], "customer asked for a refund", None).await?;
    d.quiet = json;
    if let Some(id) = &waiting.proposal_id {
        let deadline = d.engine.proposal(reviewer, id).await?.proposal.expires_at;
        wait_past(deadline.as_deref()).await;
        d.engine.queue(reviewer).await?;
        let p = d.engine.proposal(reviewer, id).await?.proposal;
        if !json {
            println!(
                "   ⏰ nobody answered the refund within a day: it is escalated ({}) and finance-lead is told (proposal.escalated)",
                if p.escalated_at.is_some() { "still open" } else { "?" }
            );
        }
    }
    Ok(())
}

/// Sleeps until just past `deadline`, a stamp on the database's clock (for
/// the demo's SQLite file, this machine's), for at most `DEMO_DAY_WAIT_MS`.
async fn wait_past(deadline: Option<&str>) {
    let Some(at) = deadline.and_then(|s| s.parse::<jiff::Timestamp>().ok()) else { return };
    let left_ms = at.duration_since(jiff::Timestamp::now()).as_millis().clamp(0, DEMO_DAY_WAIT_MS);
    tokio::time::sleep(Duration::from_millis(left_ms as u64 + 10)).await;
}

/// Stage 5: an action earns its way from suggest to review to direct, one
/// approved policy change at a time, and is watched after it goes direct.
async fn rollout(
    d: &mut Demo,
    config: &std::path::Path,
    url: &str,
    admin: &Caller,
    reviewer: &Caller,
    json: bool,
) -> Result<()> {
    if !json {
        stage(5, "Earning trust: tag_ticket_topic goes suggest → review → direct");
    }
    let topics = ["shipping", "billing", "returns", "product", "other"];
    let mut key = 10;
    for (mode, next) in [("suggest", "review"), ("review", "direct")] {
        d.quiet = true;
        let mut ids = Vec::new();
        for _ in 0..22 {
            let topic = topics[key % topics.len()];
            let r = d
                .call("tag_ticket_topic", Some(&key.to_string()), &[("topic", topic)], "from the subject line", None)
                .await?;
            ids.extend(r.proposal_id);
            key += 1;
        }
        d.quiet = json;
        let (mut accepted, mut rejected) = (0, 0);
        for (i, id) in ids.iter().enumerate() {
            if mode == "suggest" && i == 7 {
                d.engine.reject(reviewer, id, "this one is about billing, not shipping").await?;
                rejected += 1;
            } else {
                d.engine.approve(reviewer, id, Default::default(), None).await?;
                accepted += 1;
            }
        }
        let report = d.engine.report(&Caller::local("demo"), None, None).await?;
        let row = report.actions.iter().find(|a| a.name == "tag_ticket_topic");
        if !json {
            println!(
                "   in {mode} mode: {} proposals, support-lead accepted {accepted} and rejected {rejected}",
                ids.len()
            );
            if let Some(row) = row {
                println!("   $ leash report   → earned_next_stage: {} — {}", row.earned_next_stage, row.why);
            }
        }
        let text = std::fs::read_to_string(config)?.replacen(
            &format!("mode = \"{mode}\"   # the stage"),
            &format!("mode = \"{next}\"   # the stage"),
            1,
        );
        std::fs::write(config, &text)?;
        let policy =
            parse_policy(&config.display().to_string(), &text).map_err(|e| anyhow::anyhow!("demo policy: {e:?}"))?;
        d.engine = Engine::connect(policy, url).await?;
        let refused =
            d.call("tag_ticket_topic", Some(&key.to_string()), &[("topic", "other")], "before approval", None).await?;
        d.engine.approve_policy(admin, Some(&format!("tag_ticket_topic earned {next}"))).await?;
        if !json {
            println!(
                "   the owner sets mode = \"{next}\"; until ops-lead approves the new definition calls get {} — then: $ leash approve-policy --by ops-lead",
                refused.code.map(|c| c.as_str()).unwrap_or("?")
            );
        }
    }
    d.quiet = true;
    let mut landed = 0;
    for _ in 0..5 {
        let r = d
            .call("tag_ticket_topic", Some(&key.to_string()), &[("topic", "shipping")], "from the subject line", None)
            .await?;
        landed += (r.outcome == leash_core::codes::Outcome::Applied) as usize;
        key += 1;
    }
    d.quiet = json;
    let mut unsure = Call {
        key: Some(Value::String(key.to_string())),
        set: set(&[("topic", "product")]),
        confidence: Some(0.55),
        ..Call::default()
    };
    unsure.reason = Some("maybe a product question".into());
    let watched = d.engine.call(&d.agent, "tag_ticket_topic", unsure).await?;
    d.tally.review += 1;
    if !json {
        println!("   direct and watched for 1h: {landed} changes landed, each flagged `watch` in the journal;");
        let reasons: Vec<&str> = watched.reasons.iter().map(|r| r.as_str()).collect();
        println!(
            "   an unsure call (55%) still went to a person: {} [{}]",
            watched.outcome.as_str(),
            reasons.join(", ")
        );
    }
    Ok(())
}

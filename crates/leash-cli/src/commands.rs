//! One function per command; each opens what it needs and prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use leash_core::call::Call;
use leash_core::codes::Outcome;
use leash_core::policy::{parse_policy, Policy};
use leash_core::value::Value;
use leash_engine::{check_schema, parse_time, Caller, Engine, RevertRequest, Role, Selector};
use leash_store::ChangeFilter;
use serde::Serialize;

use crate::cli::{CallArgs, Cli, Command, LogArgs, RevertArgs, TokenCommand};
use crate::{output, EXIT_DECIDED, EXIT_REJECTED};

pub async fn run(cli: Cli) -> Result<u8> {
    match &cli.command {
        Command::Init { demo, force } => crate::starter::init(&cli.config, *demo, *force, cli.json).await,
        Command::Demo { dir } => crate::demo::run(dir.clone(), cli.json).await,
        Command::Bench { store, records } => bench(&cli, store, *records).await,
        Command::Check => check(&cli).await,
        Command::Mcp { token, as_agent } => {
            let engine = Arc::new(open_engine(&cli).await?);
            let caller = match (token, as_agent) {
                (Some(t), _) => {
                    engine.caller_for_token(t).await?.ok_or_else(|| anyhow!("the token is unknown or revoked"))?
                }
                (None, Some(name)) => engine.caller_named(name).await?,
                (None, None) => bail!("name the agent: --token, LEASH_TOKEN, or --as NAME"),
            };
            leash_server::mcp::serve_stdio(engine, caller).await.map_err(|e| anyhow!("mcp: {e}"))?;
            Ok(EXIT_DECIDED)
        }
        Command::Serve { listen } => {
            let engine = Arc::new(open_engine(&cli).await?);
            eprintln!("leash serve: http://{listen} — API under /api/v1, OpenAPI at /openapi.json; Ctrl-C stops");
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            leash_server::serve(engine, *listen, stop).await.with_context(|| format!("cannot serve on {listen}"))?;
            Ok(EXIT_DECIDED)
        }
        Command::Normalize { format, value, old, new, date_order } => crate::normalize::run(
            &cli,
            format,
            value.as_deref(),
            old.as_deref().zip(new.as_deref()),
            date_order.as_deref(),
        ),
        Command::Call(args) => call(&cli, args).await,
        Command::Queue => {
            let engine = open_engine(&cli).await?;
            let list = engine.queue(&Caller::local(&who(None))).await?;
            emit(&cli, &serde_json::json!({"proposals": list}), || output::proposals(&list))
        }
        Command::Approve { id, set, note, by } => {
            let engine = open_engine(&cli).await?;
            let edits = pairs(set)?;
            let result = engine.approve(&Caller::local(&who(by.as_deref())), id, edits, note.as_deref()).await?;
            emit(&cli, &result, || output::call_result(&result))?;
            Ok(exit_for(result.outcome))
        }
        Command::Reject { id, note, by } => {
            let engine = open_engine(&cli).await?;
            let p = engine.reject(&Caller::local(&who(by.as_deref())), id, note).await?;
            emit(&cli, &p, || format!("rejected proposal {} ({}): {note}", p.id, p.action))
        }
        Command::Log(args) => log(&cli, args).await,
        Command::Show { id } => show(&cli, id).await,
        Command::Revert(args) => revert(&cli, args).await,
        Command::Pause { action, all, reason, by } => {
            let engine = open_engine(&cli).await?;
            let scope = scope(action.as_deref(), *all)?;
            let p = engine.pause(&Caller::local(&who(by.as_deref())), scope, reason).await?;
            emit(&cli, &p, || {
                format!(
                    "paused {} — every gateway stops it on its next call. Undo: leash resume {}",
                    target(scope),
                    scope.unwrap_or("--all")
                )
            })
        }
        Command::Resume { action, all, reason, by } => {
            let engine = open_engine(&cli).await?;
            let scope = scope(action.as_deref(), *all)?;
            let cleared = engine.resume(&Caller::local(&who(by.as_deref())), scope, reason).await?;
            let text = if cleared {
                format!("resumed {}", target(scope))
            } else {
                format!("{} was not paused", target(scope))
            };
            emit(&cli, &serde_json::json!({"resumed": cleared}), || text)
        }
        Command::Verify => {
            let engine = open_engine(&cli).await?;
            let report = engine.verify().await?;
            emit(&cli, &report, || verify_text(&report))?;
            Ok(if report.ok { EXIT_DECIDED } else { crate::EXIT_ERROR })
        }
        Command::Token(cmd) => token(&cli, cmd).await,
        Command::ApprovePolicy { by, note } => {
            let engine = open_engine(&cli).await?;
            let approved = engine.approve_policy(&Caller::local(by), note.as_deref()).await?;
            emit(&cli, &serde_json::json!({"approved": approved}), || {
                approved
                    .iter()
                    .map(|a| {
                        let what = if a.newly_approved { "approved" } else { "already approved" };
                        format!("{what}: {} ({})", a.action, &a.action_hash[..12])
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Actions => {
            let engine = open_engine(&cli).await?;
            let sheet = engine.actions_sheet().await?;
            emit(&cli, &serde_json::json!({"actions": sheet}), || output::sheet(&sheet))
        }
        Command::Report { since, until } => {
            let engine = open_engine(&cli).await?;
            let now = engine.clock().now();
            let time =
                |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now).map_err(|e| anyhow!(e))).transpose();
            let report = engine.report(time(since)?, time(until)?).await?;
            emit(&cli, &report, || output::report(&report))
        }
        Command::Test { file } => crate::policy_test::run(&cli, file.as_deref()).await,
    }
}

fn target(scope: Option<&str>) -> String {
    scope.map(|s| format!("action {s}")).unwrap_or_else(|| "all actions".into())
}

fn scope(action: Option<&str>, all: bool) -> Result<Option<&str>> {
    match (action, all) {
        (Some(a), false) => Ok(Some(a)),
        (None, true) => Ok(None),
        _ => bail!("name an ACTION or pass --all"),
    }
}

/// Prints `value` as JSON with `--json`, otherwise the text.
pub fn emit<T: Serialize>(cli: &Cli, value: &T, text: impl FnOnce() -> String) -> Result<u8> {
    if cli.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text());
    }
    Ok(EXIT_DECIDED)
}

fn exit_for(outcome: Outcome) -> u8 {
    if outcome == Outcome::Rejected {
        EXIT_REJECTED
    } else {
        EXIT_DECIDED
    }
}

pub fn who(by: Option<&str>) -> String {
    by.map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// `field=value` pairs; values stay text and are converted to the column type later.
pub fn pairs(items: &[String]) -> Result<serde_json::Map<String, Value>> {
    let mut map = serde_json::Map::new();
    for item in items {
        let (k, v) = item.split_once('=').ok_or_else(|| anyhow!("`{item}` is not FIELD=VALUE"))?;
        let v = if v.is_empty() { Value::Null } else { Value::String(v.to_string()) };
        map.insert(k.trim().to_string(), v);
    }
    Ok(map)
}

pub fn load_policy(path: &Path) -> Result<Policy> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("cannot read the policy {}; run `leash init` to write a starter one", path.display())
    })?;
    parse_policy(&path.display().to_string(), &text).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow!("{} error(s) in the policy:\n{}", errors.len(), lines.join("\n"))
    })
}

/// `--db`, then LEASH_DATABASE_URL, then the policy's url; a relative SQLite
/// path in the policy is relative to the policy file.
pub fn database_url(cli: &Cli, policy: &Policy) -> Result<String> {
    if let Some(url) = &cli.db {
        return Ok(url.clone());
    }
    if let Ok(url) = std::env::var("LEASH_DATABASE_URL") {
        if !url.is_empty() {
            return Ok(url);
        }
    }
    let url = policy
        .database_url
        .clone()
        .ok_or_else(|| anyhow!("no database: set [database] url, LEASH_DATABASE_URL or --db"))?;
    Ok(relative_sqlite(&url, cli.config.parent().unwrap_or(Path::new("."))))
}

fn relative_sqlite(url: &str, base: &Path) -> String {
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.starts_with('/') && !path.starts_with(':') && !base.as_os_str().is_empty() => {
            format!("sqlite://{}", PathBuf::from(base).join(path).display())
        }
        _ => url.to_string(),
    }
}

pub async fn open_engine(cli: &Cli) -> Result<Engine> {
    let policy = load_policy(&cli.config)?;
    let url = database_url(cli, &policy)?;
    let store = leash_store::open(&url).await.with_context(|| format!("cannot open {url}"))?;
    let engine = Engine::open(policy, Arc::from(store)).await?;
    Ok(if cli.allow_unapproved { engine.allow_unapproved() } else { engine })
}

async fn check(cli: &Cli) -> Result<u8> {
    let policy = load_policy(&cli.config)?;
    let url = database_url(cli, &policy)?;
    let store = leash_store::open(&url).await.with_context(|| format!("cannot open {url}"))?;
    let issues = check_schema(&policy, store.as_ref()).await?;
    let file = cli.config.display().to_string();
    let (warnings, errors): (Vec<_>, Vec<_>) = issues.iter().partition(|i| i.warning);
    let listed = |list: &[&leash_engine::SchemaIssue]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|i| serde_json::json!({"file": file, "line": i.line, "key": i.key, "message": i.message}))
            .collect()
    };
    if cli.json {
        println!(
            "{}",
            serde_json::json!({"ok": errors.is_empty(), "actions": policy.actions.len(),
                "errors": listed(&errors), "warnings": listed(&warnings)})
        );
    } else {
        for i in errors.iter().chain(&warnings) {
            let what = if i.warning { "warning: " } else { "" };
            println!("{file}:{}: {}: {what}{}", i.line, i.key, i.message);
        }
        if errors.is_empty() {
            println!("{file}: ok — {} action(s), every table and column found", policy.actions.len());
        } else {
            println!("{} error(s)", errors.len());
        }
    }
    Ok(if errors.is_empty() { EXIT_DECIDED } else { crate::EXIT_ERROR })
}

async fn call(cli: &Cli, args: &CallArgs) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let caller = match &args.as_agent {
        Some(name) => match engine.caller_named(name).await {
            Ok(c) => c,
            Err(leash_engine::EngineError::Forbidden(why)) => {
                let result = leash_core::call::CallResult::rejected(leash_core::codes::Code::NotPermitted, why);
                emit(cli, &result, || output::call_result(&result))?;
                return Ok(EXIT_REJECTED);
            }
            Err(e) => return Err(e.into()),
        },
        None => Caller::local(&who(None)),
    };
    let call = Call {
        key: args.key.clone().map(Value::String),
        set: pairs(&args.set)?,
        reason: args.reason.clone(),
        evidence: args.evidence.clone(),
        confidence: args.confidence,
        expect: if args.expect.is_empty() { None } else { Some(pairs(&args.expect)?) },
        run_id: args.run_id.clone(),
        idempotency_key: args.idempotency_key.clone(),
    };
    let result = engine.call(&caller, &args.action, call).await?;
    emit(cli, &result, || output::call_result(&result))?;
    Ok(exit_for(result.outcome))
}

fn change_filter(engine: &Engine, args: &LogArgs) -> Result<ChangeFilter> {
    let now = engine.clock().now();
    let time = |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now).map_err(|e| anyhow!(e))).transpose();
    Ok(ChangeFilter {
        action: args.action.clone(),
        run_id: args.run_id.clone(),
        actor: args.actor.clone(),
        record_key: args.key.clone(),
        since: time(&args.since)?,
        until: time(&args.until)?,
        newest: Some(args.limit),
        ..ChangeFilter::default()
    })
}

async fn log(cli: &Cli, args: &LogArgs) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let mut changes = engine.store().changes(&change_filter(&engine, args)?).await?;
    if cli.json {
        changes.reverse();
        let rows: Vec<_> = changes
            .iter()
            .map(|c| {
                serde_json::json!({"id": c.id, "at": c.at, "action": c.action, "record_key": c.record_key,
                    "fields": c.fields, "actor": c.actor, "approver": c.approver, "reason": c.reason,
                    "run_id": c.run_id, "reverts": c.reverts, "reverted_by": c.reverted_by, "watch": c.watch,
                    "proposal_id": c.proposal_id, "op": c.op})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"changes": rows}))?);
        return Ok(EXIT_DECIDED);
    }
    println!("{}", output::changes(&changes));
    Ok(EXIT_DECIDED)
}

async fn show(cli: &Cli, id: &str) -> Result<u8> {
    let engine = open_engine(cli).await?;
    if let Some(c) = engine.store().change(id).await? {
        return emit(cli, &c, || {
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
        });
    }
    if let Some(p) = engine.store().proposal(id).await? {
        return emit(cli, &p, || {
            let mut t = format!(
                "proposal {} ({})\n  action:    {} on {} {}\n  by:        {}\n  reason:    {}\n  evidence:  {}\n  created:   {}",
                p.id, p.status.as_str(), p.action, p.table_name, p.record_key.as_deref().unwrap_or("(new row)"), p.actor,
                p.reason.as_deref().unwrap_or("-"), p.evidence.as_deref().unwrap_or("-"), p.created_at,
            );
            t.push_str(&format!("\n  change:    {}", output::fields_line(&p.fields)));
            for n in &p.notes {
                t.push_str(&format!("\n  note:      {n}"));
            }
            if let Some(r) = &p.reviewer {
                t.push_str(&format!("\n  decided:   by {r} at {}", p.decided_at.as_deref().unwrap_or("?")));
            }
            if let Some(n) = &p.review_note {
                t.push_str(&format!("\n  review:    {n}"));
            }
            if p.status.is_open() {
                t.push_str(&format!(
                    "\n  approve: leash approve {} [--set field=value]   reject: leash reject {} --note …",
                    p.id, p.id
                ));
            }
            t
        });
    }
    bail!("no change or proposal has id {id}")
}

async fn revert(cli: &Cli, args: &RevertArgs) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let now = engine.clock().now();
    let selectors = [
        !args.ids.is_empty(),
        args.run_id.is_some(),
        args.action.is_some(),
        args.actor.is_some(),
        args.proposal.is_some(),
    ];
    if selectors.iter().filter(|s| **s).count() != 1 {
        bail!("say what to revert with exactly one of: change ids, --run, --action --since, --actor, --proposal");
    }
    let selector = if !args.ids.is_empty() {
        Selector::Ids(args.ids.clone())
    } else if let Some(run) = &args.run_id {
        Selector::Run(run.clone())
    } else if let Some(action) = &args.action {
        let since = args.since.as_deref().ok_or_else(|| anyhow!("--action needs --since"))?;
        Selector::Action {
            action: action.clone(),
            since: parse_time(since, now).map_err(|e| anyhow!(e))?,
            until: args.until.as_deref().map(|u| parse_time(u, now)).transpose().map_err(|e| anyhow!(e))?,
        }
    } else if let Some(actor) = &args.actor {
        Selector::Actor(actor.clone())
    } else {
        Selector::Proposal(args.proposal.clone().unwrap_or_default())
    };
    let req =
        RevertRequest { selector, dry_run: args.dry_run, force: args.force, batch_max: leash_engine::REVERT_BATCH_MAX };
    let bar = (!cli.json && !args.dry_run).then(|| output::bar("reverting"));
    let report = engine
        .revert(&Caller::local(&who(args.by.as_deref())), &req, |done, total| {
            if let Some(bar) = &bar {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
        })
        .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    emit(cli, &report, || revert_text(&report))
}

pub fn revert_text(r: &leash_engine::RevertReport) -> String {
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

pub fn verify_text(r: &leash_engine::VerifyReport) -> String {
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
    t
}

async fn token(cli: &Cli, cmd: &TokenCommand) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let admin = Caller::local(&who(None));
    match cmd {
        TokenCommand::Create { name, role, actions } => {
            let role = Role::parse(role).ok_or_else(|| anyhow!("role must be agent, reviewer or admin"))?;
            let token = engine.create_token(&admin, name, role, actions.clone()).await?;
            emit(cli, &serde_json::json!({"name": name, "role": role, "actions": actions, "token": token}), || {
                format!("token for {name} ({}): {token}\nit is shown once; leash stores only its hash", role.as_str())
            })
        }
        TokenCommand::List => {
            let tokens = engine.store().tokens().await?;
            emit(cli, &serde_json::json!({"tokens": tokens}), || {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        let actions = if t.actions.is_empty() { "(all)".to_string() } else { t.actions.join(",") };
                        vec![
                            t.name.clone(),
                            t.role.clone(),
                            actions,
                            t.created_at.clone(),
                            t.revoked_at.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                output::table(&["NAME", "ROLE", "ACTIONS", "CREATED", "REVOKED"], &rows)
            })
        }
        TokenCommand::Revoke { name } => {
            engine.revoke_token(&admin, name).await?;
            emit(cli, &serde_json::json!({"revoked": name}), || format!("revoked {name}"))
        }
    }
}

async fn bench(cli: &Cli, store: &str, records: usize) -> Result<u8> {
    let kind =
        leash_bench::StoreKind::parse(store).ok_or_else(|| anyhow!("--store must be sqlite, postgres or mysql"))?;
    let opts = leash_bench::Options { store: kind, db: cli.db.clone(), records, progress: !cli.json };
    if !cli.json {
        eprintln!("leash bench on {} with {records} records per figure…", kind.name());
    }
    let f = leash_bench::run(&opts).await.map_err(|e| anyhow!("bench: {e}"))?;
    emit(cli, &f, || {
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
            vec![
                "baseline_restore_10k_ms".into(),
                f.baseline_restore_10k_ms.to_string(),
                "plain batched UPDATEs".into(),
            ],
            vec!["policy_eval_ns".into(), f.policy_eval_ns.to_string(), "one decision in the pure core, median".into()],
            vec!["http_call_p50_ms".into(), f.http_call_p50_ms.to_string(), "8 HTTP clients on loopback".into()],
            vec!["http_call_p99_ms".into(), f.http_call_p99_ms.to_string(), String::new()],
        ];
        let mut t = output::table(&["FIGURE", "VALUE", "WHAT"], &rows);
        for (target, met) in &f.targets {
            t.push_str(&format!("\n{} {target}", if *met { "met    " } else { "MISSED " }));
        }
        t
    })
}

//! One function per command; each opens what it needs and prints.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use leash_core::call::Call;
use leash_core::codes::Outcome;
use leash_core::value::Value;
use leash_engine::{
    check_database, parse_time, Caller, ChangeQuery, Engine, EngineError, RevertRequest, Role, Selector, SelectorFields,
};
use serde::Serialize;

use crate::cli::{AuditArgs, CallArgs, Cli, Command, LogArgs, RevertArgs, TokenCommand};
use crate::config::{
    database_url, database_url_line, load_policy, open_engine, parse_policy_text, policy_errors, read_policy_text,
};
use crate::{output, EXIT_DECIDED, EXIT_REJECTED};

pub async fn run(cli: Cli) -> Result<u8> {
    match &cli.command {
        Command::Init { demo, force } => {
            crate::starter::init(&cli.config, *demo, *force, cli.db.as_deref(), cli.json).await
        }
        Command::Demo { dir } => crate::demo::run(dir.clone(), cli.json).await,
        Command::Bench { store, records, journal_sizes, chart, audit } => {
            bench(&cli, store, *records, journal_sizes.as_deref(), chart.as_deref(), *audit).await
        }
        Command::Check => check(&cli).await,
        Command::Mcp { token, as_agent } => mcp(&cli, token.as_deref(), as_agent.as_deref()).await,
        Command::Serve { listen } => serve(&cli, *listen).await,
        Command::Normalize { format, value, old, new, date_order, region } => crate::normalize::run(
            &cli,
            format,
            value.as_deref(),
            old.as_deref().zip(new.as_deref()),
            (date_order.as_deref(), region.as_deref()),
        ),
        Command::Call(args) => call(&cli, args).await,
        Command::Queue => queue(&cli).await,
        Command::Approve { id, group, set, note, by } => {
            approve(&cli, id.as_deref(), group.as_deref(), set, note.as_deref(), by.as_deref()).await
        }
        Command::Reject { id, group, note, by } => {
            reject(&cli, id.as_deref(), group.as_deref(), note, by.as_deref()).await
        }
        Command::Log(args) => log(&cli, args).await,
        Command::Show { id } => show(&cli, id).await,
        Command::Revert(args) => revert(&cli, args).await,
        Command::Pause { action, all, reason, by } => pause(&cli, action.as_deref(), *all, reason, by.as_deref()).await,
        Command::Resume { action, all, reason, by } => {
            resume(&cli, action.as_deref(), *all, reason, by.as_deref()).await
        }
        Command::Verify { table, record, since } => verify(&cli, table, record, since.as_deref()).await,
        Command::Outbox => outbox(&cli).await,
        Command::Token(cmd) => token(&cli, cmd).await,
        Command::ApprovePolicy { by, note } => approve_policy(&cli, by, note.as_deref()).await,
        Command::Explain { action } => explain(&cli, action.as_deref()).await,
        Command::Audit(args) => audit(&cli, args).await,
        Command::Actions => actions(&cli).await,
        Command::Report { since, until } => report(&cli, since.as_deref(), until.as_deref()).await,
        Command::Test { file } => crate::test_cases::run(&cli, file.as_deref()).await,
    }
}

async fn mcp(cli: &Cli, token: Option<&str>, as_agent: Option<&str>) -> Result<u8> {
    let engine = Arc::new(open_engine(cli).await?);
    // Checked once here for a clear start-up error; the server looks
    // the caller up again on every call, so a revocation takes effect.
    let identity = match (token, as_agent) {
        (Some(t), _) => {
            engine.caller_for_token(t).await?.ok_or_else(|| anyhow!("the token is unknown or revoked"))?;
            leash_server::mcp::Identity::Token(t.to_string())
        }
        (None, Some(name)) => {
            engine.caller_named(name).await?;
            leash_server::mcp::Identity::Named(name.to_string())
        }
        (None, None) => bail!("name the agent: --token, LEASH_TOKEN, or --as NAME"),
    };
    leash_server::mcp::serve_stdio(engine, identity).await.map_err(|e| anyhow!("mcp: {e}"))?;
    Ok(EXIT_DECIDED)
}

async fn serve(cli: &Cli, listen: std::net::SocketAddr) -> Result<u8> {
    let engine = Arc::new(open_engine(cli).await?);
    eprintln!("leash serve: http://{listen} — API under /api/v1, OpenAPI at /openapi.json; Ctrl-C stops");
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    leash_server::serve(engine, listen, stop).await.with_context(|| format!("cannot serve on {listen}"))?;
    Ok(EXIT_DECIDED)
}

async fn queue(cli: &Cli) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let list = engine.queue(&Caller::local(&who(None))).await?;
    emit(cli, &serde_json::json!({"proposals": list}), || output::proposals(&list))
}

async fn approve(
    cli: &Cli,
    id: Option<&str>,
    group: Option<&str>,
    set: &[String],
    note: Option<&str>,
    by: Option<&str>,
) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let reviewer = Caller::local(&who(by));
    if let Some(group) = group {
        if !set.is_empty() {
            bail!("--set edits one proposal; approve a group as proposed, or its members one by one");
        }
        let ids = engine.group_members(&reviewer, group).await?;
        let results = engine.approve_many(&reviewer, &ids, note).await?;
        emit(cli, &serde_json::json!({"results": results}), || output::group_outcomes(&results))?;
        let all_landed = results.iter().all(|r| r.result.as_ref().is_some_and(|r| r.code.is_none()));
        return Ok(if all_landed { EXIT_DECIDED } else { EXIT_REJECTED });
    }
    let edits = pairs(set)?;
    let result = engine.approve(&reviewer, id.unwrap_or_default(), edits, note).await?;
    emit(cli, &result, || output::call_result(&result))?;
    Ok(exit_for(result.outcome))
}

async fn reject(cli: &Cli, id: Option<&str>, group: Option<&str>, note: &str, by: Option<&str>) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let reviewer = Caller::local(&who(by));
    if let Some(group) = group {
        let ids = engine.group_members(&reviewer, group).await?;
        let results = engine.reject_many(&reviewer, &ids, note).await?;
        return emit(cli, &serde_json::json!({"results": results}), || output::group_outcomes(&results));
    }
    let p = engine.reject(&reviewer, id.unwrap_or_default(), note).await?;
    emit(cli, &p, || format!("rejected proposal {} ({}): {note}", p.id, p.action))
}

async fn pause(cli: &Cli, action: Option<&str>, all: bool, reason: &str, by: Option<&str>) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let scope = scope(action, all)?;
    let p = engine.pause(&Caller::local(&who(by)), scope, reason).await?;
    emit(cli, &p, || {
        format!(
            "paused {} — every gateway stops it on its next call. Undo: leash resume {}",
            target(scope),
            scope.unwrap_or("--all")
        )
    })
}

async fn resume(cli: &Cli, action: Option<&str>, all: bool, reason: &str, by: Option<&str>) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let scope = scope(action, all)?;
    let cleared = engine.resume(&Caller::local(&who(by)), scope, reason).await?;
    let text = if cleared { format!("resumed {}", target(scope)) } else { format!("{} was not paused", target(scope)) };
    emit(cli, &serde_json::json!({"resumed": cleared}), || text)
}

async fn verify(cli: &Cli, table: &Option<String>, record: &Option<String>, since: Option<&str>) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let since = since.map(|t| parse_time(t, engine.clock().now()).map_err(|e| anyhow!(e))).transpose()?;
    let scope = leash_engine::VerifyScope { table: table.clone(), record: record.clone(), since };
    let report = engine.verify_scoped(&scope).await?;
    emit(cli, &report, || output::verify(&report))?;
    Ok(if report.ok { EXIT_DECIDED } else { crate::EXIT_ERROR })
}

async fn outbox(cli: &Cli) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let (waiting, waiting_total) = engine.undelivered(false).await?;
    let (parked, parked_total) = engine.undelivered(true).await?;
    let answer = serde_json::json!({"waiting": waiting, "waiting_total": waiting_total,
        "parked": parked, "parked_total": parked_total});
    emit(cli, &answer, || output::outbox(&waiting, waiting_total, &parked, parked_total))
}

async fn approve_policy(cli: &Cli, by: &str, note: Option<&str>) -> Result<u8> {
    let engine = open_engine(cli).await?;
    if !cli.json {
        // What changed is shown before the approval is recorded.
        for c in engine.policy_changes().await?.iter().filter(|c| !c.changes.is_empty()) {
            println!("{} — what changed since its last approval:", c.action);
            for line in &c.changes {
                println!("  - {line}");
            }
        }
    }
    let approved = engine.approve_policy(&Caller::local(by), note).await?;
    emit(cli, &serde_json::json!({"approved": approved}), || {
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

async fn actions(cli: &Cli) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let sheet = engine.actions_sheet(&Caller::local(&who(None))).await?;
    emit(cli, &serde_json::json!({"actions": sheet}), || output::sheet(&sheet))
}

async fn report(cli: &Cli, since: Option<&str>, until: Option<&str>) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let now = engine.clock().now();
    let time = |t: Option<&str>| t.map(|t| parse_time(t, now).map_err(|e| anyhow!(e))).transpose();
    let report = engine.report(&Caller::local(&who(None)), time(since)?, time(until)?).await?;
    emit(cli, &report, || output::report(&report))
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
/// `--set a=1 --set b=2` as a map; a field given twice is refused (the
/// `invalid_input` of a call), never "the last one wins".
pub fn pairs(items: &[String]) -> Result<serde_json::Map<String, Value>> {
    let mut map = serde_json::Map::new();
    for item in items {
        let (k, v) = item.split_once('=').ok_or_else(|| anyhow!("`{item}` is not FIELD=VALUE"))?;
        let v = if v.is_empty() { Value::Null } else { Value::String(v.to_string()) };
        if map.insert(k.trim().to_string(), v).is_some() {
            bail!("field `{}` is given twice; pass each field once", k.trim());
        }
    }
    Ok(map)
}

/// `leash check`: every error in the policy, then every mismatch with the
/// live schema. With `--json`, any failure — a file that cannot be read, a
/// policy that does not load, a database that cannot be reached — is the
/// documented list of errors, never another shape.
async fn check(cli: &Cli) -> Result<u8> {
    let file = cli.config.display().to_string();
    let failed = |actions: usize, line: usize, key: &str, e: anyhow::Error| -> Result<u8> {
        if !cli.json {
            return Err(e);
        }
        check_failed(actions, vec![finding(&file, line, key, &format!("{e:#}"))])
    };
    let text = match read_policy_text(&cli.config) {
        Ok(text) => text,
        Err(e) => return failed(0, 0, "(file)", e),
    };
    let policy = match parse_policy_text(&cli.config, &text) {
        Ok(policy) => policy,
        Err(errors) if cli.json => {
            return check_failed(0, errors.iter().map(|e| finding(&e.file, e.line, &e.key, &e.message)).collect())
        }
        Err(errors) => return Err(policy_errors(&errors)),
    };
    let line = database_url_line(cli, &text);
    let url = match database_url(cli, &policy) {
        Ok(url) => url,
        Err(e) => return failed(policy.actions.len(), line, "database.url", e),
    };
    let issues = match check_database(&policy, &url).await {
        Ok(issues) => issues,
        Err(e) => {
            let e =
                anyhow::Error::from(e).context(format!("cannot check against {}", leash_core::url::redact_url(&url)));
            return failed(policy.actions.len(), line, "database.url", e);
        }
    };
    let errors = issues.iter().filter(|i| !i.warning).count();
    if cli.json {
        let listed = |warning: bool| -> Vec<serde_json::Value> {
            issues
                .iter()
                .filter(|i| i.warning == warning)
                .map(|i| serde_json::json!({"file": file, "line": i.line, "key": i.key, "message": i.message}))
                .collect()
        };
        let answer = serde_json::json!({"ok": errors == 0, "actions": policy.actions.len(),
            "errors": listed(false), "warnings": listed(true)});
        println!("{answer}");
    } else {
        println!("{}", output::check(&file, &issues, policy.actions.len()));
    }
    Ok(if errors == 0 { EXIT_DECIDED } else { crate::EXIT_ERROR })
}

fn finding(file: &str, line: usize, key: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"file": file, "line": line, "key": key, "message": message})
}

/// `leash check --json` when the check could not finish: the same shape as
/// its answer, with what stopped it as the errors.
fn check_failed(actions: usize, errors: Vec<serde_json::Value>) -> Result<u8> {
    let answer = serde_json::json!({"ok": false, "actions": actions, "errors": errors, "warnings": []});
    println!("{answer}");
    Ok(crate::EXIT_ERROR)
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
    let (set, expect) = match (pairs(&args.set), pairs(&args.expect)) {
        (Ok(set), Ok(expect)) => (set, expect),
        (Err(e), _) | (_, Err(e)) => {
            let result = leash_core::call::CallResult::rejected(leash_core::codes::Code::InvalidInput, e.to_string());
            emit(cli, &result, || output::call_result(&result))?;
            return Ok(EXIT_REJECTED);
        }
    };
    let call = Call {
        key: args.key.clone().map(Value::String),
        set,
        reason: args.reason.clone(),
        evidence: args.evidence.clone(),
        confidence: args.confidence,
        expect: if args.expect.is_empty() { None } else { Some(expect) },
        run_id: args.run_id.clone(),
        idempotency_key: args.idempotency_key.clone(),
    };
    let result = engine.call(&caller, &args.action, call).await?;
    emit(cli, &result, || output::call_result(&result))?;
    Ok(exit_for(result.outcome))
}

fn change_query(engine: &Engine, args: &LogArgs) -> Result<ChangeQuery> {
    let limit = args.limit.to_string();
    let fields = [
        ("action", args.action.as_deref()),
        ("run_id", args.run_id.as_deref()),
        ("actor", args.actor.as_deref()),
        ("record_key", args.key.as_deref()),
        ("since", args.since.as_deref()),
        ("until", args.until.as_deref()),
        ("limit", Some(limit.as_str())),
    ];
    let fields = fields.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)));
    Ok(ChangeQuery::from_fields(fields, engine.clock().now())?)
}

async fn log(cli: &Cli, args: &LogArgs) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let mut changes = engine.changes(&Caller::local(&who(None)), &change_query(&engine, args)?).await?;
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
    let admin = Caller::local(&who(None));
    match engine.change(&admin, id).await {
        Ok(c) => return emit(cli, &c, || output::change(&c)),
        Err(EngineError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    match engine.proposal(&admin, id).await {
        Ok(p) => emit(cli, &p, || output::proposal(&p)),
        Err(EngineError::NotFound(_)) => bail!("no change or proposal has id {id}"),
        Err(e) => Err(e.into()),
    }
}

async fn revert(cli: &Cli, args: &RevertArgs) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let fields = SelectorFields {
        change_ids: (!args.ids.is_empty()).then(|| args.ids.clone()),
        run_id: args.run_id.clone(),
        action: args.action.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        actor: args.actor.clone(),
        proposal_id: args.proposal.clone(),
    };
    let selector = Selector::from_fields(fields, engine.clock().now())?;
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
    emit(cli, &report, || output::revert(&report))
}

async fn explain(cli: &Cli, action: Option<&str>) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let pages = match engine.explain(action).await {
        Ok(pages) => pages,
        Err(e @ EngineError::NotFound(_)) => {
            let a = e.answer();
            if cli.json {
                println!("{}", serde_json::json!({"code": a.code, "message": a.message}));
            }
            eprintln!("{}: {}", a.code, a.message);
            return Ok(EXIT_REJECTED);
        }
        Err(e) => return Err(e.into()),
    };
    emit(cli, &serde_json::json!({"actions": pages}), || {
        pages.iter().map(leash_core::explain::render_text).collect::<Vec<_>>().join("\n\n")
    })
}

async fn audit(cli: &Cli, args: &AuditArgs) -> Result<u8> {
    let engine = open_engine(cli).await?;
    let policy = args.policy.as_deref().map(load_policy).transpose()?;
    let now = engine.clock().now();
    let time = |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now).map_err(|e| anyhow!(e))).transpose();
    let req = leash_engine::AuditRequest {
        since: time(&args.since)?,
        until: time(&args.until)?,
        action: args.action.clone(),
        revert_refused: args.revert_refused,
        dry_run: args.dry_run,
    };
    let report = engine.audit(&Caller::local(&who(args.by.as_deref())), policy.as_ref(), &req).await?;
    emit(cli, &report, || output::audit(&report))
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
            let tokens = engine.tokens(&admin).await?;
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

async fn bench(
    cli: &Cli,
    store: &str,
    records: usize,
    journal_sizes: Option<&str>,
    chart: Option<&std::path::Path>,
    audit: bool,
) -> Result<u8> {
    let kind =
        leash_bench::Dialect::from_name(store).ok_or_else(|| anyhow!("--store must be sqlite, postgres or mysql"))?;
    let journal_sizes = match journal_sizes {
        Some(text) => leash_bench::journal::parse_sizes(text).map_err(|e| anyhow!("--journal-sizes: {e}"))?,
        None => Vec::new(),
    };
    let opts = leash_bench::Options { store: kind, db: cli.db.clone(), records, progress: !cli.json, journal_sizes };
    if audit {
        if !cli.json {
            eprintln!(
                "leash bench --audit on {}: {} journaled changes, one audit…",
                kind.name(),
                leash_bench::AUDIT_CHANGES
            );
        }
        let f = leash_bench::run_audit(&opts).await.map_err(|e| anyhow!("bench: {e}"))?;
        return emit(cli, &f, || {
            let met = if f.audit_100k_ms < 10_000.0 { "met    " } else { "MISSED " };
            format!(
                "audit_100k_ms {}  (one audit of {} changes; pre-fill took {} ms)\n{met} audit_100k_ms < 10000",
                f.audit_100k_ms, f.checked, f.fill_ms
            )
        });
    }
    if !cli.json {
        eprintln!("leash bench on {} with {records} records per figure…", kind.name());
    }
    let f = leash_bench::run(&opts).await.map_err(|e| anyhow!("bench: {e}"))?;
    if let (Some(path), Some(curve)) = (chart, &f.journal) {
        let title = format!("leash bench --journal-sizes on {}", kind.name());
        std::fs::write(path, leash_bench::chart::svg(&title, curve))
            .with_context(|| format!("cannot write the chart to {}", path.display()))?;
    }
    emit(cli, &f, || output::bench(&f))
}

//! `leash audit` (docs/operations.md): a backtest. Every applied change in a
//! range is judged again, by the core's own `decide`, under a policy's
//! definition of its action — the current one (a compliance check) or one
//! being considered — and the refused ones can be reverted in one run.
//!
//! The record a change is judged on is the record now with the change's
//! journaled old values laid over it: exact for the fields it changed, read
//! from now for the rest (such changes are listed as `approximate` when a
//! condition reads one of those). Limits and the breaker are replayed in
//! journal order over the changes judged; the window is checked at each
//! change's time. `exists_in` is checked against its table as it is now;
//! `unique` is not re-checked against other records.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use leash_core::breaker;
use leash_core::call::{Call, Refusal};
use leash_core::codes::{Code, ReviewReason};
use leash_core::decide::{decide, Decision, Inputs};
use leash_core::journal::{Change, Op};
use leash_core::policy::{Action, Key, Policy};
use leash_core::value::{display, Record, Value};
use leash_store::{ChangeFilter, TableSchema};
use serde::Serialize;

use crate::revert::{RevertReport, RevertRequest, Selector, REVERT_BATCH_MAX};
use crate::values::{typed, typed_call, typed_fields};
use crate::{check, Caller, Engine, EngineError, Result, Role};

/// Journal rows read per page: the audit never holds the whole journal.
pub const AUDIT_PAGE_ROWS: u32 = 2_000;

/// What to audit and what to do with the refused changes.
#[derive(Debug, Clone, Default)]
pub struct AuditRequest {
    /// RFC 3339 stamps, already parsed (`parse_time`); `[since, until)`.
    pub since: Option<String>,
    pub until: Option<String>,
    pub action: Option<String>,
    /// Revert exactly the refused changes, through the normal revert.
    pub revert_refused: bool,
    /// Plan the revert only; nothing is written.
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    pub policy_hash: String,
    /// Changes judged (reverts and already-reverted changes are not).
    pub checked: u64,
    pub actions: Vec<ActionTally>,
    pub refused: Vec<RefusedChange>,
    pub reviewed: Vec<ReviewedChange>,
    /// Changes judged with fields read from the record as it is now.
    pub approximate: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revert: Option<RevertReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ActionTally {
    pub name: String,
    pub checked: u64,
    pub would_apply: u64,
    pub would_review: u64,
    pub would_refuse: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefusedChange {
    pub change_id: String,
    pub action: String,
    pub record_key: String,
    pub code: Code,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewedChange {
    pub change_id: String,
    pub reasons: Vec<ReviewReason>,
}

enum Verdict {
    Apply,
    Review(Vec<ReviewReason>),
    Refuse(Refusal),
}

/// An audit as it goes: the report so far, the tallies per action, and
/// the limits and breaker replayed up to here.
#[derive(Default)]
struct AuditRun {
    report: AuditReport,
    tallies: BTreeMap<String, ActionTally>,
    replay: Replay,
}

impl AuditRun {
    fn count(&mut self, c: &Change, verdict: Verdict, approximate: bool) {
        let report = &mut self.report;
        report.checked += 1;
        if approximate {
            report.approximate.push(c.id.clone());
        }
        let tally = self
            .tallies
            .entry(c.action.clone())
            .or_insert_with(|| ActionTally { name: c.action.clone(), ..ActionTally::default() });
        tally.checked += 1;
        match verdict {
            Verdict::Apply => tally.would_apply += 1,
            Verdict::Review(reasons) => {
                tally.would_review += 1;
                report.reviewed.push(ReviewedChange { change_id: c.id.clone(), reasons });
            }
            Verdict::Refuse(r) => {
                tally.would_refuse += 1;
                report.refused.push(RefusedChange {
                    change_id: c.id.clone(),
                    action: c.action.clone(),
                    record_key: c.record_key.clone(),
                    code: r.code,
                    message: r.message,
                });
            }
        }
    }
}

/// Limits and breaker counts, replayed in journal order.
#[derive(Default)]
struct Replay {
    /// (action, actor, run): a run is its token's own.
    runs: HashMap<(String, String, String), u32>,
    hours: HashMap<(String, i64), u32>,
    breaker: HashMap<(String, String), VecDeque<jiff::Timestamp>>,
}

impl Engine {
    /// The backtest. `policy`: the definitions to judge by (already loaded
    /// and validated like the real policy); `None`: the current policy.
    pub async fn audit(&self, who: &Caller, policy: Option<&Policy>, req: &AuditRequest) -> Result<AuditReport> {
        who.require(Role::Reviewer, "auditing the journal")?;
        if let Some(action) = &req.action {
            crate::Named::new("action", action)?;
        }
        let loaded;
        let (policy, schemas) = match policy {
            None => (self.policy(), &self.schemas),
            Some(p) => {
                loaded = self.candidate_schemas(p).await?;
                (p, &loaded)
            }
        };
        let mut run = AuditRun {
            report: AuditReport { policy_hash: policy.hash.clone(), ..AuditReport::default() },
            ..AuditRun::default()
        };
        let mut after: Option<String> = None;
        loop {
            let filter = ChangeFilter {
                action: req.action.clone(),
                since: req.since.clone(),
                until: req.until.clone(),
                oldest: Some(AUDIT_PAGE_ROWS),
                after: after.clone(),
                ..ChangeFilter::default()
            };
            let page = self.store().changes(&filter).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            self.audit_page(policy, schemas, &page, &mut run).await?;
            if (page.len() as u32) < AUDIT_PAGE_ROWS {
                break;
            }
        }
        let mut report = run.report;
        report.actions = run.tallies.into_values().collect();
        if req.revert_refused {
            report.revert = Some(self.revert_refused(who, &report, req.dry_run).await?);
        }
        tracing::info!(by = %who.name, checked = report.checked, refused = report.refused.len(), "audit");
        Ok(report)
    }

    /// A candidate policy's tables, if it reads nothing the live policy
    /// hides and fits the database.
    async fn candidate_schemas(&self, candidate: &Policy) -> Result<HashMap<String, TableSchema>> {
        // Fit first: a column that does not exist is a mistake to name as one.
        let loaded = check::load_schemas(candidate, self.store()).await?;
        let issues: Vec<_> = check::issues(candidate, &loaded).into_iter().filter(|i| !i.warning).collect();
        if !issues.is_empty() {
            return Err(EngineError::Schema(issues));
        }
        let beyond = self.policy().reads_beyond(candidate);
        if !beyond.is_empty() {
            return Err(EngineError::Forbidden(format!(
                "a backtest reads only what the live policy's actions may read; this candidate would read more:\n  {}",
                beyond.join("\n  ")
            )));
        }
        Ok(loaded)
    }

    /// One page of the journal, judged in order.
    async fn audit_page(
        &self,
        policy: &Policy,
        schemas: &HashMap<String, TableSchema>,
        page: &[Change],
        run: &mut AuditRun,
    ) -> Result<()> {
        let judged: Vec<&Change> =
            page.iter().filter(|c| c.reverts.is_none() && c.reverted_by.is_none() && c.op != Op::Delete).collect();
        let now = self.records_now(policy, schemas, &judged).await?;
        let sets = self.sets_now(policy, schemas, &judged).await?;
        for c in judged {
            let action = policy.action(&c.action);
            let table = action.and_then(|a| schemas.get(&a.table));
            let current = action.and_then(|a| now.get(&(a.table.clone(), c.record_key.clone())));
            let (verdict, approximate) = match (action, table) {
                (Some(a), Some(t)) => match outside_set(a, c, &sets) {
                    Some(r) => (Verdict::Refuse(r), false),
                    None => judge(a, t, c, current, &mut run.replay),
                },
                _ => (Verdict::Refuse(no_action(policy, c)), false),
            };
            run.count(c, verdict, approximate);
        }
        Ok(())
    }

    /// Reverts exactly the refused changes, through the normal revert.
    async fn revert_refused(&self, who: &Caller, report: &AuditReport, dry_run: bool) -> Result<RevertReport> {
        if report.refused.is_empty() {
            // Nothing refused: nothing to revert (`Selector` has no empty form).
            return Ok(RevertReport { dry_run, ..RevertReport::default() });
        }
        let ids = report.refused.iter().map(|r| r.change_id.as_str());
        let revert =
            RevertRequest { selector: Selector::ids(ids)?, dry_run, force: false, batch_max: REVERT_BATCH_MAX };
        self.revert(who, &revert, |_, _| {}).await
    }

    /// The records these updates touched, as they are now, per (table, key):
    /// one read per table per page.
    async fn records_now(
        &self,
        policy: &Policy,
        schemas: &HashMap<String, TableSchema>,
        changes: &[&Change],
    ) -> Result<HashMap<(String, String), Record>> {
        let mut keys: HashMap<(&str, &leash_core::policy::Key), HashSet<String>> = HashMap::new();
        for c in changes.iter().filter(|c| c.op == Op::Update) {
            if let Some(a) = policy.action(&c.action) {
                keys.entry((a.table.as_str(), &a.key)).or_default().insert(c.record_key.clone());
            }
        }
        let mut out = HashMap::new();
        for ((table, key_col), keys) in keys {
            let Some(schema) = schemas.get(table) else { continue };
            let keys: Vec<String> = keys.into_iter().collect();
            for (k, record) in self.store().read_records(schema, key_col, &keys).await? {
                out.insert((table.to_string(), k), record);
            }
        }
        Ok(out)
    }
}

/// The values each `exists_in` set holds now, of those these changes wrote:
/// (table, column) → values, as `display` spells them.
type Sets = HashMap<(String, String), HashSet<String>>;

impl Engine {
    /// One read per set per page.
    async fn sets_now(
        &self,
        policy: &Policy,
        schemas: &HashMap<String, TableSchema>,
        changes: &[&Change],
    ) -> Result<Sets> {
        let mut wanted: HashMap<(String, String), HashSet<String>> = HashMap::new();
        for c in changes {
            let Some(a) = policy.action(&c.action) else { continue };
            for f in c.fields.iter().filter(|f| !f.new.is_null()) {
                if let Some(set) = a.field(&f.field).and_then(|r| r.exists_in.as_ref()) {
                    wanted.entry((set.table.clone(), set.column.clone())).or_default().insert(display(&f.new));
                }
            }
        }
        let mut out = Sets::new();
        for ((table, column), values) in wanted {
            let Some(schema) = schemas.get(&table) else { continue };
            let values: Vec<String> = values.into_iter().collect();
            let found = self.store().read_records(schema, &Key::single(&column), &values).await?;
            out.insert((table, column), found.into_keys().collect());
        }
        Ok(out)
    }
}

/// `exists_in`, as the write path checks it before deciding.
fn outside_set(action: &Action, c: &Change, sets: &Sets) -> Option<Refusal> {
    c.fields.iter().filter(|f| !f.new.is_null()).find_map(|f| {
        let set = action.field(&f.field)?.exists_in.as_ref()?;
        let held = sets.get(&(set.table.clone(), set.column.clone()));
        (!held.is_some_and(|h| h.contains(&display(&f.new)))).then(|| set.refusal(&f.field, &f.new))
    })
}

fn no_action(policy: &Policy, c: &Change) -> Refusal {
    let names: Vec<&str> = policy.actions.iter().map(|a| a.name.as_str()).collect();
    Refusal::new(
        Code::UnknownAction,
        format!(
            "this policy has no action `{}` (it has: {}); nothing may make this change",
            c.action,
            names.join(", ")
        ),
    )
}

/// One change under `action`: the core's decision on the record as it was
/// just before, then the window, limits and breaker. Also whether a
/// condition read a field the change did not journal.
fn judge(
    action: &Action,
    table: &TableSchema,
    c: &Change,
    now: Option<&Record>,
    replay: &mut Replay,
) -> (Verdict, bool) {
    if action.table != c.table_name {
        let r = Refusal::new(
            Code::UnknownAction,
            format!("{} now writes table {}, not {}", action.name, action.table, c.table_name),
        );
        return (Verdict::Refuse(r), false);
    }
    let set: Record = c.fields.iter().map(|f| (f.field.clone(), f.new.clone())).collect();
    let (before, key) = match c.op {
        Op::Update => {
            let mut before = now.cloned().unwrap_or_default();
            // The key's columns, from the journal's spelling of it.
            let parts = crate::values::key_parts(&action.key, &c.record_key).unwrap_or_default();
            for (col, part) in action.key.columns().iter().zip(parts) {
                before.entry(col.clone()).or_insert_with(|| Value::String(part));
            }
            for f in &c.fields {
                before.insert(f.field.clone(), f.old.clone());
            }
            (before, Some(Value::String(c.record_key.clone())))
        }
        _ => (set.clone(), None),
    };
    let approximate = c.op == Op::Update && reads_unjournaled(action, c);
    let call = Call {
        key,
        set: set.clone(),
        reason: c.reason.clone(),
        evidence: c.evidence.clone(),
        confidence: c.confidence,
        run_id: c.run_id.clone(),
        ..Call::default()
    };
    let at: Option<jiff::Timestamp> = c.at.parse().ok();
    if let (Some(window), Some(at)) = (&action.limits.window, at) {
        if !window.contains(at) {
            let r = Refusal::new(
                Code::OutsideWindow,
                format!("{} may only write during {}; this change was made at {}", action.name, window.source, c.at),
            );
            return (Verdict::Refuse(r), approximate);
        }
    }
    let record = typed(table, &before);
    let no_duplicates = BTreeMap::new();
    let inputs = Inputs { record: Some(&record), duplicates: &no_duplicates, watch_active: false, approved: false };
    let verdict = match decide(action, &typed_call(table, &call, &set), &inputs) {
        Decision::Reject(r) => Verdict::Refuse(r),
        Decision::Unchanged => Verdict::Apply,
        Decision::Apply { .. } => match replay.limits(action, c, at).or_else(|| replay.breaker(action, table, c, at)) {
            Some(r) => Verdict::Refuse(r),
            None => Verdict::Apply,
        },
        Decision::Review { reasons, .. } => match replay.limits(action, c, at) {
            Some(r) => Verdict::Refuse(r),
            None => Verdict::Review(reasons),
        },
    };
    (verdict, approximate)
}

/// Whether a condition of the action reads a column other than the key and
/// the fields this change journaled (or the whole record).
fn reads_unjournaled(action: &Action, c: &Change) -> bool {
    let journaled = |col: &str| action.key.contains(col) || c.fields.iter().any(|f| f.field == col);
    let froms =
        action.fields.iter().filter(|f| c.fields.iter().any(|x| x.field == f.name)).filter_map(|f| f.from.as_ref());
    [&action.when, &action.locked_if, &action.review_if].into_iter().flatten().chain(froms).any(|cond| {
        match cond.columns() {
            Some(cols) => cols.iter().any(|col| !journaled(col)),
            None => true,
        }
    })
}

impl Replay {
    /// `per_run` and `per_hour` as the write path counts them: a change
    /// past a cap is refused and not counted.
    fn limits(&mut self, action: &Action, c: &Change, at: Option<jiff::Timestamp>) -> Option<Refusal> {
        if let (Some(max), Some(run)) = (action.limits.per_run_max, &c.run_id) {
            let n = self.runs.entry((action.name.clone(), c.actor.clone(), run.clone())).or_default();
            if *n >= max {
                return Some(Refusal::new(
                    Code::LimitRun,
                    format!("run {run} had already made {max} changes with {}, its cap", action.name),
                ));
            }
            *n += 1;
        }
        if let (Some(max), Some(at)) = (action.limits.per_hour_max, at) {
            let hour = at.as_second().div_euclid(3600) * 3600;
            let n = self.hours.entry((action.name.clone(), hour)).or_default();
            if *n >= max {
                return Some(Refusal::new(
                    Code::LimitHour,
                    format!("{} had already made {max} changes in that hour, its cap", action.name),
                ));
            }
            *n += 1;
        }
        None
    }

    /// The breaker: a change after `same_change_max` identical ones within
    /// its window comes after the trip, and is refused.
    fn breaker(
        &mut self,
        action: &Action,
        table: &TableSchema,
        c: &Change,
        at: Option<jiff::Timestamp>,
    ) -> Option<Refusal> {
        let (Some(b), Some(at)) = (&action.breaker, at) else { return None };
        let description = breaker::describe(&typed_fields(table, &c.fields));
        let seen = self.breaker.entry((action.name.clone(), breaker::key(&description))).or_default();
        let since = at.checked_sub(jiff::SignedDuration::from_secs(b.within_s as i64)).unwrap_or(at);
        while seen.front().is_some_and(|t| *t < since) {
            seen.pop_front();
        }
        if seen.len() as u32 >= b.same_change_max {
            return Some(Refusal::new(
                Code::BreakerTripped,
                format!(
                    "the breaker would have stopped {} after {} identical changes ({description}) before this one",
                    action.name, b.same_change_max
                ),
            ));
        }
        seen.push_back(at);
        None
    }
}

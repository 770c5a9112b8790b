//! `leash verify`: the hash chain of every record, and records whose current
//! value is not what leash last wrote (drift: someone wrote around leash).

use std::collections::{BTreeMap, HashMap, VecDeque};

use leash_core::journal::{Change, Op};
use leash_core::value::{same_stored, Value};
use leash_store::{ChangeFilter, JournalRecord, UndeliveredRow};
use serde::Serialize;

use crate::{Engine, EngineError, Result};

#[derive(Debug, Clone, Serialize)]
pub struct ChainBreak {
    pub change_id: String,
    pub table_name: String,
    pub record_key: String,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub table_name: String,
    pub record_key: String,
    pub field: String,
    /// What leash last wrote.
    pub journal: Value,
    pub current: Value,
    pub change_id: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub checked: usize,
    pub chain_breaks: Vec<ChainBreak>,
    pub drift: Vec<Drift>,
    /// Webhook deliveries that will never be sent (their webhook left the
    /// policy, or they failed for too long); they do not make `ok` false.
    pub parked: Vec<UndeliveredRow>,
    pub parked_total: u64,
}

/// What one `verify` looks at: everything, one table, one record of a
/// table, or the records changed since a time (their whole chains).
#[derive(Debug, Clone, Default)]
pub struct VerifyScope {
    pub table: Option<String>,
    /// A record key; needs `table`.
    pub record: Option<String>,
    /// An RFC 3339 time: records with a change at or after it.
    pub since: Option<String>,
}

/// Records asked for per page when `verify` walks the journal.
pub const VERIFY_RECORDS_PER_PAGE: u32 = 500;
/// Journal rows held at once: a page of records ends before it would pass
/// this (a single longer chain is read alone), so memory stays flat however
/// long the journal and its chains grow.
pub const VERIFY_ROWS_PER_PAGE: u64 = 5_000;

impl Engine {
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.verify_scoped(&VerifyScope::default()).await
    }

    pub async fn verify_scoped(&self, scope: &VerifyScope) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut pages = Pages::new(scope)?;
        // The next page loads while this one is checked: the database works
        // on one while leash hashes the other.
        let mut loading = match pages.next(self).await? {
            Some(page) => Some(self.load_page(page).await?),
            None => None,
        };
        while let Some(page) = loading.take() {
            let (next, checked) = tokio::join!(
                async {
                    match pages.next(self).await? {
                        Some(next) => self.load_page(next).await.map(Some),
                        None => Ok(None),
                    }
                },
                self.check_page(page, &mut report)
            );
            checked?;
            loading = next?;
        }
        report.ok = report.chain_breaks.is_empty() && report.drift.is_empty();
        (report.parked, report.parked_total) = self.undelivered(true).await?;
        Ok(report)
    }

    async fn load_page(&self, (table, keys): (String, Vec<String>)) -> Result<(String, Vec<Change>)> {
        let filter = ChangeFilter { table_name: Some(table.clone()), records: keys, ..ChangeFilter::default() };
        Ok((table, self.store().changes(&filter).await?))
    }

    /// Checks the chains of some records of one table, then their current
    /// values against what leash last wrote, reading the records in batches.
    async fn check_page(&self, (table, changes): (String, Vec<Change>), report: &mut VerifyReport) -> Result<()> {
        let table = table.as_str();
        report.checked += changes.len();
        let mut records: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for c in changes {
            records.entry(c.record_key.clone()).or_default().push(c);
        }
        let mut intact: Vec<(&str, Vec<&Change>)> = Vec::with_capacity(records.len());
        for (key, chain) in &records {
            if let Some(ordered) = check_chain(chain, &mut report.chain_breaks) {
                intact.push((key, ordered));
            }
        }
        let Ok(schema) = self.schema(table) else { return Ok(()) };
        // Each record by the key column of the action that wrote it last; one
        // batch read per key column (normally one per table).
        let keyed: Vec<(&str, &leash_core::policy::Key, &[&Change])> = intact
            .iter()
            .filter_map(|(key, chain)| {
                let action = self.key_column(&chain.last()?.action, table).ok()?;
                Some((*key, &action.key, chain.as_slice()))
            })
            .collect();
        let mut by_key_col: HashMap<&leash_core::policy::Key, Vec<String>> = HashMap::new();
        for (key, key_col, _) in &keyed {
            by_key_col.entry(key_col).or_default().push(key.to_string());
        }
        let mut current: HashMap<String, leash_core::value::Record> = HashMap::new();
        for (key_col, keys) in &by_key_col {
            current.extend(self.store().read_records(schema, key_col, keys).await?);
        }
        for (key, key_col, chain) in keyed {
            check_drift((table, schema), key, key_col, chain, current.get(key), &mut report.drift);
        }
        Ok(())
    }
}

/// Compares what leash last wrote to a record with the record now.
fn check_drift(
    (table, schema): (&str, &leash_store::TableSchema),
    key: &str,
    key_col: &leash_core::policy::Key,
    chain: &[&Change],
    current: Option<&leash_core::value::Record>,
    drift: &mut Vec<Drift>,
) {
    let Some(last) = chain.last() else { return };
    let mut expected: HashMap<&str, (&Value, &str)> = HashMap::new();
    let mut exists = false;
    for c in chain {
        match c.op {
            Op::Delete => {
                exists = false;
                expected.clear();
            }
            Op::Insert | Op::Update => {
                exists = true;
                for f in &c.fields {
                    expected.insert(&f.field, (&f.new, &c.id));
                }
            }
        }
    }
    let gone = Value::String("(no row)".into());
    match (exists, current) {
        (false, None) => {}
        (false, Some(_)) => drift.push(Drift {
            table_name: table.into(),
            record_key: key.into(),
            field: key_col.to_string(),
            journal: gone,
            current: Value::String(key.into()),
            change_id: last.id.clone(),
        }),
        (true, None) => drift.push(Drift {
            table_name: table.into(),
            record_key: key.into(),
            field: key_col.to_string(),
            journal: Value::String(key.into()),
            current: gone,
            change_id: last.id.clone(),
        }),
        (true, Some(rec)) => {
            let mut fields: Vec<_> = expected.into_iter().collect();
            fields.sort_by_key(|(f, _)| *f);
            for (field, (value, id)) in fields {
                let now = rec.get(field).cloned().unwrap_or(Value::Null);
                if !same_stored(&now, value, crate::values::column_type(schema, field)) {
                    drift.push(Drift {
                        table_name: table.into(),
                        record_key: key.into(),
                        field: field.into(),
                        journal: value.clone(),
                        current: now,
                        change_id: id.into(),
                    });
                }
            }
        }
    }
}

/// Walks one record's chain from its first row; returns it in chain order,
/// or `None` after recording why it is broken.
fn check_chain<'a>(rows: &'a [Change], breaks: &mut Vec<ChainBreak>) -> Option<Vec<&'a Change>> {
    let broken = |c: &Change, problem: String| ChainBreak {
        change_id: c.id.clone(),
        table_name: c.table_name.clone(),
        record_key: c.record_key.clone(),
        problem,
    };
    let before = breaks.len();
    for c in rows {
        if c.compute_hash() != c.hash {
            breaks.push(broken(
                c,
                "the row's content does not match its hash: it was altered after it was written".into(),
            ));
        }
    }
    let mut next: HashMap<Option<&str>, &Change> = HashMap::new();
    for c in rows {
        if let Some(other) = next.insert(c.prev_hash.as_deref(), c) {
            breaks.push(broken(c, format!("two rows follow the same link (also {})", other.id)));
        }
    }
    let mut ordered = Vec::with_capacity(rows.len());
    let mut link: Option<&str> = None;
    while let Some(c) = next.get(&link) {
        ordered.push(*c);
        link = Some(c.hash.as_str());
        if ordered.len() > rows.len() {
            break;
        }
    }
    if ordered.len() != rows.len() {
        for c in rows.iter().filter(|c| !ordered.iter().any(|o| o.id == c.id)) {
            breaks.push(broken(
                c,
                "the row is not reachable from the record's first change: a row before it is missing or altered".into(),
            ));
        }
    }
    (breaks.len() == before).then_some(ordered)
}

/// The pages of records one `verify` reads, in (table, key) order.
struct Pages {
    scope: VerifyScope,
    ready: VecDeque<(String, Vec<String>)>,
    /// Where the walk of the journal's records stands; `None` once done.
    after: Option<Option<(String, String)>>,
}

impl Pages {
    fn new(scope: &VerifyScope) -> Result<Pages> {
        let mut pages = Pages { scope: scope.clone(), ready: VecDeque::new(), after: Some(None) };
        if let Some(key) = &scope.record {
            let Some(table) = &scope.table else {
                return Err(EngineError::Invalid("a record is named with its table: give --table too".into()));
            };
            pages.ready.push_back((table.clone(), vec![key.clone()]));
            pages.after = None;
        }
        Ok(pages)
    }

    async fn next(&mut self, engine: &Engine) -> Result<Option<(String, Vec<String>)>> {
        while self.ready.is_empty() {
            let Some(after) = self.after.take() else { return Ok(None) };
            let table = self.scope.table.as_deref();
            let records = if let Some(since) = &self.scope.since {
                let mut records = engine.store().records_changed_since(since).await?;
                records.retain(|r| table.is_none() || table == Some(r.table_name.as_str()));
                records
            } else {
                let records = engine.store().journal_records(table, after.as_ref(), VERIFY_RECORDS_PER_PAGE).await?;
                if let Some(last) = records.last() {
                    self.after = Some(Some((last.table_name.clone(), last.record_key.clone())));
                }
                records
            };
            self.ready.extend(pages(records));
        }
        Ok(self.ready.pop_front())
    }
}

/// Consecutive records of one table, at most `VERIFY_ROWS_PER_PAGE` journal
/// rows and `VERIFY_RECORDS_PER_PAGE` records a page (a longer chain makes a
/// page of its own; `--since` hands in every record it found at once).
fn pages(records: Vec<JournalRecord>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>, u64)> = Vec::new();
    for r in records {
        match out.last_mut() {
            Some((table, keys, rows))
                if *table == r.table_name
                    && *rows + r.rows <= VERIFY_ROWS_PER_PAGE
                    && keys.len() < VERIFY_RECORDS_PER_PAGE as usize =>
            {
                keys.push(r.record_key);
                *rows += r.rows;
            }
            _ => out.push((r.table_name, vec![r.record_key], r.rows)),
        }
    }
    out.into_iter().map(|(table, keys, _)| (table, keys)).collect()
}

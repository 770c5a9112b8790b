//! `leash verify`: the hash chain of every record, and records whose current
//! value is not what leash last wrote (drift: someone wrote around leash).

use std::collections::{BTreeMap, HashMap};

use leash_core::journal::{Change, Op};
use leash_core::value::{same_stored, Value};
use leash_store::{ChangeFilter, UndeliveredRow};
use serde::Serialize;

use crate::{Engine, Result};

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

/// Records per page when `verify` walks the journal: memory stays bounded
/// by one page of chains however long the journal grows.
pub const VERIFY_RECORDS_PER_PAGE: u32 = 200;

impl Engine {
    pub async fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = self.store().journal_records(after.as_ref(), VERIFY_RECORDS_PER_PAGE).await?;
            let Some(last) = page.last().cloned() else { break };
            let mut by_table: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (table, key) in page {
                by_table.entry(table).or_default().push(key);
            }
            for (table, keys) in by_table {
                self.verify_records(&table, keys, &mut report).await?;
            }
            after = Some(last);
        }
        report.ok = report.chain_breaks.is_empty() && report.drift.is_empty();
        (report.parked, report.parked_total) = self.undelivered(true).await?;
        Ok(report)
    }

    /// Checks the chains of some records of one table, then their current
    /// values against what leash last wrote, reading the records in batches.
    async fn verify_records(&self, table: &str, keys: Vec<String>, report: &mut VerifyReport) -> Result<()> {
        let filter = ChangeFilter { table_name: Some(table.to_string()), records: keys, ..ChangeFilter::default() };
        let changes = self.store().changes(&filter).await?;
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
        let keyed: Vec<(&str, &str, &[&Change])> = intact
            .iter()
            .filter_map(|(key, chain)| {
                let action = self.key_column(&chain.last()?.action, table).ok()?;
                Some((*key, action.key.as_str(), chain.as_slice()))
            })
            .collect();
        let mut by_key_col: BTreeMap<&str, Vec<String>> = BTreeMap::new();
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
    key_col: &str,
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

//! The database's plan (its `EXPLAIN`) of every read the journal serves,
//! with the steps that read it whole, for the test that holds each read to
//! an index (`leash-engine/tests/journal_plans.rs`): one read that scans the
//! whole journal is what makes a log page or a revert slow at a million rows.

use sqlx::Row;

use super::connect::SqlStore;
use super::query::Query;
use super::revert::{chain_heads_query, marks_query};
use super::write::chain_head_query;
use crate::rows::{packed_change_columns, packed_undoable_columns};
use crate::*;

impl SqlStore {
    pub(super) async fn plans(&self) -> Result<Vec<JournalPlan>> {
        let d = self.dialect();
        let text = |s: &str| Some(s.to_string());
        let packed = packed_change_columns(d);
        let log = |f: ChangeFilter| self.change_query(&packed, &f);
        let undoable = packed_undoable_columns(d);
        let revert = |f: ChangeFilter| self.change_query(&undoable, &f);
        let page = Some(50);
        // A cursor that exists (MySQL reads a missing one as "impossible
        // WHERE" and shows no plan): the journal's oldest change.
        let first = Query::new(d, "SELECT id FROM leash_changes ORDER BY seq LIMIT 1");
        let cursor = match self.fetch_optional(first).await? {
            Some(row) => leash_core::value::display(&crate::rows::value_at(&row, 0)?),
            None => "none".to_string(),
        };
        let keys = vec!["1".to_string(), "2".to_string()];
        // Names and a time a selective read would ask for (the test's rare
        // values).
        let since = "2026-12-01T00:00:00Z";
        let reads: Vec<(&'static str, Query)> = vec![
            ("log by action", log(ChangeFilter { action: text("a1"), newest: page, ..ChangeFilter::default() })),
            (
                "log by action, next page",
                log(ChangeFilter { action: text("a1"), after: Some(cursor), newest: page, ..ChangeFilter::default() }),
            ),
            (
                "log by action since",
                log(ChangeFilter { action: text("a1"), since: text(since), newest: page, ..ChangeFilter::default() }),
            ),
            ("log by run", log(ChangeFilter { run_id: text("r1"), newest: page, ..ChangeFilter::default() })),
            ("log by actor", log(ChangeFilter { actor: text("bot1"), newest: page, ..ChangeFilter::default() })),
            (
                "a record's history",
                log(ChangeFilter {
                    table_name: text("t"),
                    record_key: text("1"),
                    newest: page,
                    ..ChangeFilter::default()
                }),
            ),
            ("one change", log(ChangeFilter { ids: vec!["c1".into()], ..ChangeFilter::default() })),
            ("revert a run", revert(ChangeFilter { run_id: text("r1"), ..ChangeFilter::default() })),
            (
                "revert an action since",
                revert(ChangeFilter { action: text("a1"), since: text(since), ..ChangeFilter::default() }),
            ),
            ("revert an actor", revert(ChangeFilter { actor: text("bot1"), ..ChangeFilter::default() })),
            ("revert by ids", revert(ChangeFilter { ids: vec!["c1".into(), "c2".into()], ..ChangeFilter::default() })),
            ("revert: chain heads", chain_heads_query(d, "t", &keys)),
            ("revert: marks", marks_query(d, &keys)),
            ("write: chain head", chain_head_query(d, "t", "1")),
            ("report", self.tallies_query(&["a1".to_string(), "a2".to_string()], Some(since), None)),
            ("report: proposals", self.proposal_tallies_query(Some(since), None)),
            ("verify: records", self.journal_records_query(None, Some(&("t".into(), "1".into())), 500)),
            (
                "verify: a page of chains",
                log(ChangeFilter { table_name: text("t"), records: keys.clone(), ..ChangeFilter::default() }),
            ),
        ];
        let mut tx = self.write_tx().await?;
        for statement in d.plan_setup() {
            tx.exec(Query::new(d, statement)).await?;
        }
        let mut out = Vec::with_capacity(reads.len());
        for (read, mut q) in reads {
            let sql = q.sql.clone();
            q.sql.insert_str(0, d.plan_prefix());
            let rows = tx.all(q).await?;
            let lines = rows.iter().map(|row| plan_line(d, row)).collect::<Result<Vec<_>>>()?;
            let plan = lines.join("\n");
            let full_scans = d.journal_full_scans(&plan);
            out.push(JournalPlan { read, sql, plan, full_scans });
        }
        for statement in d.plan_teardown() {
            tx.exec(Query::new(d, statement)).await?;
        }
        Ok(out)
    }
}

/// One row of a plan as text: its one column, or `name=value` pairs.
fn plan_line(d: Dialect, row: &sqlx::any::AnyRow) -> Result<String> {
    let text = |name: &str| -> Result<String> {
        let v: Option<String> = row.try_get(name).map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(v.unwrap_or_else(|| "NULL".into()))
    };
    match d.plan_columns() {
        [one] => text(one),
        many => Ok(many.iter().map(|c| Ok(format!("{c}={}", text(c)?))).collect::<Result<Vec<_>>>()?.join(" ")),
    }
}

//! `Store` for `SqlStore`: reads on the pool, and the doors into write
//! transactions. The journal, proposals, tokens and the outbox are read
//! here; a table's shape in `schema.rs`.

use async_trait::async_trait;
use leash_core::journal::{Change, Proposal, ProposalStatus};
use leash_core::value::{display, Record, Value};
use sqlx::Executor;

use super::connect::{SqlStore, WriteConn};
use super::query::Query;
use super::revert::BULK_ROWS_MAX;
use super::tx::SqlTx;
use super::write::{column, key_in, key_match, key_of};
use crate::rows::*;
use crate::*;
use std::collections::HashMap;

const TOKEN_COLUMNS: &str = "name, role, actions, created_at, revoked_at";

impl SqlStore {
    /// The chain index's prefix: an index-only walk in (table, key) order.
    pub(super) fn journal_records_query(
        &self,
        table: Option<&str>,
        after: Option<&(String, String)>,
        limit: u32,
    ) -> Query {
        let mut q = self.q("SELECT table_name, record_key, COUNT(*) FROM leash_changes WHERE 1 = 1");
        if let Some(t) = table {
            q.push(" AND table_name = ").text(t);
        }
        if let Some((t, key)) = after {
            if self.dialect().seeks_row_comparisons() {
                q.push(" AND (table_name, record_key) > (").text(t).push(", ").text(key).push(")");
            } else {
                q.push(" AND (table_name > ").text(t).push(" OR (table_name = ").text(t);
                q.push(" AND record_key > ").text(key).push("))");
            }
        }
        q.push(&format!(" GROUP BY table_name, record_key ORDER BY table_name, record_key LIMIT {limit}"));
        q
    }

    /// Per action and day: changes, those later reverted, and reverts.
    pub(super) fn tallies_query(&self, actions: &[String], since: Option<&str>, until: Option<&str>) -> Query {
        // `at` is an RFC 3339 stamp in UTC: its first ten characters are the day.
        let mut q = self.q("SELECT action, SUBSTR(at, 1, 10), COUNT(CASE WHEN reverts IS NULL THEN 1 END), \
             COUNT(CASE WHEN reverts IS NULL AND reverted_by IS NOT NULL THEN 1 END), \
             COUNT(CASE WHEN reverts IS NOT NULL THEN 1 END) FROM ");
        q.push(JOURNAL).push(" WHERE action IN (");
        // Naming the actions lets every store range-scan (action, at).
        q.list(actions).push(")");
        if let Some(t) = since {
            q.push(" AND at >= ").text(t);
        }
        if let Some(t) = until {
            q.push(" AND at < ").text(t);
        }
        q.push(" GROUP BY action, SUBSTR(at, 1, 10)");
        q
    }

    /// Naming every status lets each store range-scan (status, created_at).
    pub(super) fn proposal_tallies_query(&self, since: Option<&str>, until: Option<&str>) -> Query {
        let mut q =
            self.q("SELECT action, SUBSTR(created_at, 1, 10), status, CASE WHEN edited IS NULL THEN 0 ELSE 1 END, \
             CASE WHEN status = 'rejected' THEN SUBSTR(decided_at, 1, 10) END, COUNT(*) \
             FROM leash_proposals WHERE status IN (");
        let statuses: Vec<String> = ProposalStatus::ALL.iter().map(|s| s.as_str().to_string()).collect();
        q.list(&statuses).push(")");
        if let Some(t) = since {
            q.push(" AND created_at >= ").text(t);
        }
        if let Some(t) = until {
            q.push(" AND created_at < ").text(t);
        }
        q.push(
            " GROUP BY action, SUBSTR(created_at, 1, 10), status, CASE WHEN edited IS NULL THEN 0 ELSE 1 END, \
             CASE WHEN status = 'rejected' THEN SUBSTR(decided_at, 1, 10) END",
        );
        q
    }

    /// `SELECT columns FROM leash_changes` narrowed by the filter.
    pub(super) fn change_query(&self, columns: &str, f: &ChangeFilter) -> Query {
        let mut q = self.q(&format!("SELECT {columns} FROM {JOURNAL} WHERE 1 = 1"));
        if !f.ids.is_empty() {
            q.push(" AND id IN (").list(&f.ids).push(")");
        }
        let eq = [
            ("action", &f.action),
            ("run_id", &f.run_id),
            ("actor", &f.actor),
            ("record_key", &f.record_key),
            ("proposal_id", &f.proposal_id),
        ];
        for (col, value) in eq {
            if let Some(v) = value {
                q.push(&format!(" AND {col} = ")).text(v);
            }
        }
        if let Some(t) = &f.table_name {
            q.push(" AND table_name = ").text(t);
        }
        if !f.records.is_empty() {
            q.push(" AND record_key IN (").list(&f.records).push(")");
        }
        if let Some(since) = &f.since {
            q.push(" AND at >= ").text(since);
        }
        if let Some(until) = &f.until {
            q.push(" AND at < ").text(until);
        }
        if let Some(after) = &f.after {
            q.push(" AND seq > (SELECT seq FROM leash_changes WHERE id = ").text(after).push(")");
        }
        match (f.newest, f.oldest) {
            (Some(n), _) => q.push(&format!(" ORDER BY seq DESC LIMIT {n}")),
            (None, Some(n)) => q.push(&format!(" ORDER BY seq ASC LIMIT {n}")),
            (None, None) => q.push(" ORDER BY seq ASC"),
        };
        q
    }
}

#[async_trait]
impl Store for SqlStore {
    fn dialect(&self) -> Dialect {
        SqlStore::dialect(self)
    }

    async fn migrate(&self) -> Result<()> {
        self.migrate_all().await
    }

    async fn table_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        self.read_table_schema(table).await
    }

    async fn user_tables(&self) -> Result<Vec<UserTable>> {
        self.read_user_tables().await
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>> {
        Ok(Box::new(self.write_tx().await?))
    }

    async fn begin_grouped(&self) -> Result<Box<dyn StoreTx>> {
        let Some(writer) = &self.writer else { return self.begin().await };
        let (guard, role) = writer.lock_for_group().await?;
        Ok(Box::new(SqlTx::new(WriteConn::Writer(guard), self.dialect(), Some((writer.clone(), role)))))
    }

    async fn read_record(&self, table: &TableSchema, key_cols: &Key, key: &str) -> Result<Option<Record>> {
        let d = self.dialect();
        let cols: Vec<String> = table.columns.iter().map(|c| d.read_expr(c)).collect();
        let mut q = self.q(&format!("SELECT {} FROM ", cols.join(", ")));
        q.table(&table.name).push(" WHERE ");
        key_match(&mut q, table, key_cols, key, None)?;
        self.fetch_optional(q).await?.map(|row| record_from_row(&row, table)).transpose()
    }

    async fn distinct_values(&self, table: &TableSchema, col: &str, limit: u32) -> Result<Vec<Value>> {
        let d = self.dialect();
        let expr = d.read_expr(column(table, col)?);
        let mut q = self.q(&format!("SELECT DISTINCT {expr} FROM "));
        q.table(&table.name).push(&format!(" WHERE {} IS NOT NULL ORDER BY 1 LIMIT {limit}", d.quote(col)));
        self.fetch_all(q).await?.iter().map(|row| value_at(row, 0)).collect()
    }

    async fn read_records(
        &self,
        table: &TableSchema,
        key_cols: &Key,
        keys: &[String],
    ) -> Result<HashMap<String, Record>> {
        let d = self.dialect();
        let cols: Vec<String> = table.columns.iter().map(|c| d.read_expr(c)).collect();
        let mut out = HashMap::new();
        for chunk in keys.chunks(BULK_ROWS_MAX) {
            let mut q = self.q(&format!("SELECT {} FROM ", cols.join(", ")));
            q.table(&table.name).push(" WHERE ");
            key_in(&mut q, table, key_cols, chunk)?;
            for row in self.fetch_all(q).await? {
                let rec = record_from_row(&row, table)?;
                if let Some(key) = key_of(&rec, key_cols) {
                    out.insert(key, rec);
                }
            }
        }
        Ok(out)
    }

    async fn fits(&self, col: &Column, value: &Value) -> Result<Option<bool>> {
        if !self.dialect().predicts_stored_text() {
            return Ok(None);
        }
        let mut q = self.q("SELECT ");
        q.predicted(value, col);
        match self.fetch_all(q).await {
            Ok(_) => Ok(Some(true)),
            Err(StoreError::Rejected(_)) => Ok(Some(false)),
            Err(e) => Err(e),
        }
    }

    fn can_test_values(&self) -> bool {
        self.dialect().predicts_stored_text()
    }

    async fn changes(&self, f: &ChangeFilter) -> Result<Vec<Change>> {
        let q = self.change_query(&packed_change_columns(self.dialect()), f);
        self.fetch_all(q).await?.iter().map(change_from_packed).collect()
    }

    async fn undoables(&self, f: &ChangeFilter) -> Result<Vec<Undoable>> {
        let q = self.change_query(&packed_undoable_columns(self.dialect()), f);
        self.fetch_all(q).await?.iter().map(undoable_from_packed).collect()
    }

    async fn journal_records(
        &self,
        table: Option<&str>,
        after: Option<&(String, String)>,
        limit: u32,
    ) -> Result<Vec<JournalRecord>> {
        let q = self.journal_records_query(table, after, limit);
        self.fetch_all(q).await?.iter().map(journal_record).collect()
    }

    async fn proposal_tallies(&self, since: Option<&str>, until: Option<&str>) -> Result<Vec<ProposalTally>> {
        let q = self.proposal_tallies_query(since, until);
        let mut out = Vec::new();
        for row in self.fetch_all(q).await? {
            let status = display(&value_at(&row, 2)?);
            out.push(ProposalTally {
                action: display(&value_at(&row, 0)?),
                day: display(&value_at(&row, 1)?),
                status: ProposalStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                edited: value_at(&row, 3)?.as_i64() == Some(1),
                decided_day: match value_at(&row, 4)? {
                    Value::Null => None,
                    v => Some(display(&v)),
                },
                count: value_at(&row, 5)?.as_u64().unwrap_or(0),
            });
        }
        Ok(out)
    }

    async fn journal_plans(&self) -> Result<Vec<JournalPlan>> {
        self.plans().await
    }

    async fn records_changed_since(&self, since: &str) -> Result<Vec<JournalRecord>> {
        let mut q = self
            .q("SELECT table_name, record_key, COUNT(*) FROM leash_changes WHERE (table_name, record_key) IN \
             (SELECT table_name, record_key FROM leash_changes WHERE at >= ");
        q.text(since).push(") GROUP BY table_name, record_key ORDER BY table_name, record_key");
        self.fetch_all(q).await?.iter().map(journal_record).collect()
    }

    async fn change_tallies(
        &self,
        actions: &[String],
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<ChangeTally>> {
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let q = self.tallies_query(actions, since, until);
        let count = |row: &sqlx::any::AnyRow, i| -> Result<u64> { Ok(value_at(row, i)?.as_u64().unwrap_or(0)) };
        let mut out = Vec::new();
        for row in self.fetch_all(q).await? {
            out.push(ChangeTally {
                action: display(&value_at(&row, 0)?),
                day: display(&value_at(&row, 1)?),
                applied: count(&row, 2)?,
                reverted: count(&row, 3)?,
                reverts: count(&row, 4)?,
            });
        }
        Ok(out)
    }

    async fn change(&self, id: &str) -> Result<Option<Change>> {
        let cols = packed_change_columns(self.dialect());
        let mut q = self.q(&format!("SELECT {cols} FROM {JOURNAL} WHERE id = "));
        q.text(id);
        self.fetch_optional(q).await?.as_ref().map(change_from_packed).transpose()
    }

    async fn proposals(&self, f: &ProposalFilter) -> Result<Vec<Proposal>> {
        let mut q = self.q(&format!("SELECT {PROPOSAL_COLUMNS} FROM leash_proposals WHERE 1 = 1"));
        if !f.statuses.is_empty() {
            let statuses: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_string()).collect();
            q.push(" AND status IN (").list(&statuses).push(")");
        }
        if !f.ids.is_empty() {
            q.push(" AND id IN (").list(&f.ids).push(")");
        }
        if let Some(g) = &f.group {
            q.push(" AND group_key = ").text(g);
        }
        if let Some(a) = &f.action {
            q.push(" AND action = ").text(a);
        }
        if let Some(a) = &f.actor {
            q.push(" AND actor = ").text(a);
        }
        if let Some(t) = &f.since {
            q.push(" AND created_at >= ").text(t);
        }
        if let Some(t) = &f.until {
            q.push(" AND created_at < ").text(t);
        }
        q.push(" ORDER BY created_at ASC, id ASC");
        if let Some(n) = f.limit {
            q.push(&format!(" LIMIT {n}"));
        }
        self.fetch_all(q).await?.iter().map(proposal_from_row).collect()
    }

    async fn proposal(&self, id: &str) -> Result<Option<Proposal>> {
        let mut q = self.q(&format!("SELECT {PROPOSAL_COLUMNS} FROM leash_proposals WHERE id = "));
        q.text(id);
        self.fetch_optional(q).await?.as_ref().map(proposal_from_row).transpose()
    }

    async fn has_due_proposals(&self) -> Result<bool> {
        let mut q = self.q("SELECT 1 FROM leash_proposals WHERE status IN (");
        q.text(ProposalStatus::Pending.as_str()).push(", ").text(ProposalStatus::Suggested.as_str());
        q.push(&format!(") AND expires_at <= {} AND escalated_at IS NULL LIMIT 1", self.dialect().now_stamp()));
        Ok(!self.fetch_all(q).await?.is_empty())
    }

    async fn pauses(&self) -> Result<Vec<Pause>> {
        let q = self.q(&format!("SELECT {PAUSE_COLUMNS} FROM leash_state ORDER BY scope"));
        self.fetch_all(q).await?.iter().map(pause_from_row).collect()
    }

    async fn token(&self, name: &str) -> Result<Option<TokenRow>> {
        let mut q = self.q(&format!("SELECT {TOKEN_COLUMNS} FROM leash_tokens WHERE name = "));
        q.text(name);
        self.fetch_optional(q).await?.as_ref().map(token_from_row).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>> {
        let q = self.q(&format!("SELECT {TOKEN_COLUMNS} FROM leash_tokens ORDER BY name"));
        self.fetch_all(q).await?.iter().map(token_from_row).collect()
    }

    async fn approvals(&self) -> Result<Vec<Approval>> {
        let q = self.q(&format!("SELECT {APPROVAL_COLUMNS} FROM leash_policy_approvals ORDER BY seq"));
        self.fetch_all(q).await?.iter().map(approval_from_row).collect()
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>> {
        let mut q = self.q(&format!("SELECT {TOKEN_COLUMNS} FROM leash_tokens WHERE hash = "));
        q.text(hash);
        self.fetch_optional(q).await?.as_ref().map(token_from_row).transpose()
    }

    async fn claim_outbox(&self, now: &str, lease_until: &str, limit: u32) -> Result<Vec<OutboxRow>> {
        let mut q = self
            .q("SELECT id, event, payload, target, attempts, next_attempt_at, created_at FROM leash_outbox \
             WHERE delivered_at IS NULL AND parked_at IS NULL AND next_attempt_at <= ");
        q.text(now).push(&format!(" ORDER BY seq LIMIT {limit}"));
        let mut claimed = Vec::new();
        for row in self.fetch_all(q).await? {
            let text = |i| value_at(&row, i).map(|v| display(&v));
            let (id, due) = (text(0)?, text(5)?);
            let mut claim = self.q("UPDATE leash_outbox SET next_attempt_at = ");
            claim.text(lease_until).push(" WHERE id = ").text(&id).push(" AND next_attempt_at = ").text(&due);
            if self.execute_write(claim).await? == 1 {
                claimed.push(OutboxRow {
                    id,
                    event: text(1)?,
                    payload: text(2)?,
                    target: text(3)?,
                    attempts: value_at(&row, 4)?.as_u64().unwrap_or(0) as u32,
                    created_at: text(6)?,
                });
            }
        }
        Ok(claimed)
    }

    async fn finish_outbox(
        &self,
        id: &str,
        delivered_at: Option<&str>,
        attempts: u32,
        next_attempt_at: &str,
        error: Option<&str>,
    ) -> Result<()> {
        let mut q = self.q("UPDATE leash_outbox SET delivered_at = ");
        q.opt_text(delivered_at).push(", attempts = ").int(attempts as i64);
        q.push(", next_attempt_at = ").text(next_attempt_at);
        q.push(", last_error = ").opt_text(error).push(" WHERE id = ").text(id);
        self.execute_write(q).await?;
        Ok(())
    }

    async fn park_outbox(&self, id: &str, at: &str, reason: &str) -> Result<()> {
        let mut q = self.q("UPDATE leash_outbox SET parked_at = ");
        q.text(at).push(", last_error = ").text(reason).push(" WHERE id = ").text(id);
        q.push(" AND delivered_at IS NULL");
        self.execute_write(q).await?;
        Ok(())
    }

    async fn undelivered_outbox(&self, parked: bool, limit: u32) -> Result<(Vec<UndeliveredRow>, u64)> {
        let which = if parked { "IS NOT NULL" } else { "IS NULL" };
        let filter = format!("WHERE delivered_at IS NULL AND parked_at {which}");
        let q = self.q(&format!(
            "SELECT id, event, target, attempts, created_at, parked_at, last_error FROM leash_outbox \
             {filter} ORDER BY seq DESC LIMIT {limit}"
        ));
        let mut rows = Vec::new();
        for row in self.fetch_all(q).await? {
            let text = |i| value_at(&row, i).map(|v| display(&v));
            let maybe = |i| value_at(&row, i).map(|v| if v.is_null() { None } else { Some(display(&v)) });
            rows.push(UndeliveredRow {
                id: text(0)?,
                event: text(1)?,
                target: text(2)?,
                attempts: value_at(&row, 3)?.as_u64().unwrap_or(0) as u32,
                created_at: text(4)?,
                parked_at: maybe(5)?,
                last_error: maybe(6)?,
            });
        }
        let count = self.q(&format!("SELECT COUNT(*) FROM leash_outbox {filter}"));
        let total = match self.fetch_optional(count).await? {
            Some(row) => value_at(&row, 0)?.as_u64().unwrap_or(0),
            None => 0,
        };
        Ok((rows, total))
    }

    async fn execute_script(&self, statements: &[&str]) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for s in statements {
            tx.conn().execute(*s).await?;
        }
        Box::new(tx).commit().await
    }
}

fn journal_record(row: &sqlx::any::AnyRow) -> Result<JournalRecord> {
    Ok(JournalRecord {
        table_name: display(&value_at(row, 0)?),
        record_key: display(&value_at(row, 1)?),
        rows: value_at(row, 2)?.as_u64().unwrap_or(0),
    })
}

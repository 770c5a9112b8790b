//! `SqlTx`: one write transaction, how its statements run (a grouped
//! SQLite transaction's `BEGIN` rides in front of its first statement, see
//! `writer.rs`), how it commits or rolls back, and the `StoreTx` door whose
//! work lives in `write.rs` (records and their journal rows), `revert.rs`
//! (set-wise undo) and `state.rs` (everything else leash keeps).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use leash_core::call::FieldChange;
use leash_core::journal::{Change, Proposal};
use leash_core::policy::Key;
use leash_core::value::{Record, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, TransactionManager};

use super::connect::{SqlStore, WriteConn};
use super::errors::undoes_only_its_statement;
use super::query::Query;
use super::{revert, state, write};
use crate::dialect::Dialect;
use crate::writer::{GroupRole, Writer};
use crate::*;

pub struct SqlTx {
    conn: WriteConn,
    /// Begun and not yet committed: dropping it rolls back.
    open: bool,
    dialect: Dialect,
    /// SQLite's writer and this transaction's place in a commit group.
    group: Option<(Arc<Writer>, GroupRole)>,
    /// A grouped transaction's `BEGIN IMMEDIATE` or `SAVEPOINT`, until it
    /// goes in front of the first statement (see `writer.rs`).
    pending_begin: Option<&'static str>,
    /// A statement failed: this transaction only rolls back.
    failed: bool,
    /// A statement failed in a way that may have rolled back the whole
    /// transaction: SQLite's writer connection is replaced.
    broken: bool,
}

impl Drop for SqlTx {
    fn drop(&mut self) {
        if let (WriteConn::Writer(state), true) = (&mut self.conn, self.broken) {
            state.poison();
        }
        if !self.open {
            return;
        }
        match (&mut self.conn, &self.group) {
            (WriteConn::Writer(state), Some((writer, role))) => {
                // Left for whoever takes the connection next; in a group it
                // undoes this call's savepoint only.
                if self.pending_begin.is_none() {
                    state.leave_undo(*role);
                }
                if state.group_open() {
                    writer.finish_later();
                }
            }
            // Queued on the connection; runs before its next statement.
            (conn, _) => <Any as sqlx::Database>::TransactionManager::start_rollback(conn),
        }
    }
}

impl SqlStore {
    /// A write transaction as the concrete type, for this crate's own
    /// statements (scripts, the bench's baseline); dropping it rolls back.
    pub(crate) async fn write_tx(&self) -> Result<SqlTx> {
        Ok(SqlTx::new(self.write_conn(self.dialect().begin_write()).await?, self.dialect(), None))
    }
}

impl SqlTx {
    /// A grouped transaction (`group`) begins with its first statement.
    pub(crate) fn new(conn: WriteConn, dialect: Dialect, group: Option<(Arc<Writer>, GroupRole)>) -> SqlTx {
        let pending_begin = group.as_ref().map(|(_, role)| role.begin());
        SqlTx { conn, open: true, dialect, group, pending_begin, failed: false, broken: false }
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    pub(super) fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(super) fn q(&self, sql: &str) -> Query {
        Query::new(self.dialect, sql)
    }

    /// Notes a failed statement, so the transaction is never committed, and
    /// whether the failure may have ended the transaction under us (always
    /// when the statement carried the group's `BEGIN`/`SAVEPOINT`: it is
    /// unknown whether that ran).
    fn check<T>(&mut self, r: std::result::Result<T, sqlx::Error>, began_here: bool) -> Result<T> {
        if let Err(e) = &r {
            self.failed = true;
            self.broken |= began_here || !undoes_only_its_statement(e);
        }
        Ok(r?)
    }

    /// The grouped transaction's pending begin, taken: its work is in the
    /// group from here.
    fn take_begin(&mut self) -> Option<&'static str> {
        let begin = self.pending_begin.take()?;
        if let (WriteConn::Writer(state), Some((_, role))) = (&mut self.conn, &self.group) {
            state.begun(*role);
        }
        Some(begin)
    }

    /// The statement's SQL, with the group's begin in front if nothing ran yet.
    fn with_begin(&mut self, sql: String) -> (String, bool) {
        match self.take_begin() {
            Some(begin) => (format!("{begin}{sql}"), true),
            None => (sql, false),
        }
    }

    pub(super) async fn exec(&mut self, q: Query) -> Result<u64> {
        // Alone, not in front: SQLite reports the rows a BEGIN "changed" as
        // those of the connection's last write, which would skew the count.
        if let Some(begin) = self.take_begin() {
            let r = self.conn.execute(begin.trim_end_matches("; ")).await;
            self.check(r, true)?;
        }
        let (sql, args) = q.build();
        let r = sqlx::query_with(&sql, args).execute(&mut *self.conn).await;
        self.check(r, false).map(|done| done.rows_affected())
    }

    pub(super) async fn one(&mut self, q: Query) -> Result<Option<AnyRow>> {
        let (sql, args) = q.build();
        let (sql, began_here) = self.with_begin(sql);
        let r = if began_here {
            // sqlx's fetch_optional stops at the first result, which would
            // be the BEGIN's (no row); these statements return one row.
            sqlx::query_with(&sql, args).fetch_all(&mut *self.conn).await.map(|rows| rows.into_iter().next())
        } else {
            sqlx::query_with(&sql, args).fetch_optional(&mut *self.conn).await
        };
        self.check(r, began_here)
    }

    pub(super) async fn all(&mut self, q: Query) -> Result<Vec<AnyRow>> {
        let (sql, args) = q.build();
        let (sql, began_here) = self.with_begin(sql);
        let r = sqlx::query_with(&sql, args).fetch_all(&mut *self.conn).await;
        self.check(r, began_here)
    }

    async fn commit_inner(mut self) -> Result<()> {
        if self.failed {
            return Err(StoreError::Database("a statement of this transaction failed; it was rolled back".into()));
        }
        let Some((writer, _)) = self.group.clone() else {
            let r = <Any as sqlx::Database>::TransactionManager::commit(&mut self.conn).await;
            self.check(r, false)?;
            self.open = false;
            return Ok(());
        };
        // The work stays in the group's transaction (a member's savepoint is
        // never released); only the group's COMMIT ends it.
        self.open = false;
        let WriteConn::Writer(state) = &mut self.conn else {
            return Err(StoreError::Database("a grouped transaction off SQLite's writer".into()));
        };
        match writer.defer(state) {
            Some(answer) => {
                drop(self);
                writer.await_group(answer).await
            }
            None => writer.finish(state).await,
        }
    }
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn find_other(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        except_key: Option<&str>,
        column: &str,
        value: &Value,
    ) -> Result<Option<String>> {
        write::find_other(self, table, key_cols, except_key, column, value).await
    }

    async fn insert_record(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        key: Option<&str>,
        row: &[FieldChange],
    ) -> Result<(String, Vec<Value>)> {
        write::insert_record(self, table, key_cols, key, row).await
    }

    async fn delete_record(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        key: &str,
        fields: &[FieldChange],
    ) -> Result<bool> {
        write::delete_record(self, table, key_cols, key, fields).await
    }

    async fn chain_head(&mut self, table: &str, key: &str) -> Result<Option<String>> {
        write::chain_head(self, table, key).await
    }

    async fn lock_records(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        keys: &[String],
    ) -> Result<HashMap<String, Record>> {
        revert::lock_records(self, table, key_cols, keys).await
    }

    async fn open_changes(&mut self, ids: &[String]) -> Result<Vec<String>> {
        revert::open_changes(self, ids).await
    }

    async fn update_records(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        rows: &[(String, Vec<FieldChange>)],
    ) -> Result<Vec<Option<Vec<Value>>>> {
        revert::update_records(self, table, key_cols, rows).await
    }

    async fn chain_heads(&mut self, table: &str, keys: &[String]) -> Result<HashMap<String, String>> {
        revert::chain_heads(self, table, keys).await
    }

    async fn insert_changes(&mut self, changes: &[Change]) -> Result<()> {
        revert::insert_changes(self, changes).await
    }

    async fn mark_reverted_many(&mut self, pairs: &[(String, String)]) -> Result<u64> {
        revert::mark_reverted_many(self, pairs).await
    }

    async fn insert_change(&mut self, change: &Change) -> Result<()> {
        write::insert_change(self, change).await
    }

    async fn update_with_change(&mut self, table: &TableSchema, key_cols: &Key, change: &Change) -> Result<Written> {
        write::update_with_change(self, table, key_cols, change).await
    }

    async fn insert_proposal(&mut self, proposal: &Proposal) -> Result<()> {
        state::insert_proposal(self, proposal).await
    }

    async fn db_now(&mut self) -> Result<String> {
        state::db_now(self).await
    }

    async fn due_proposals(&mut self, limit: u32) -> Result<(String, Vec<Proposal>)> {
        state::due_proposals(self, limit).await
    }

    async fn lock_proposal(&mut self, id: &str) -> Result<Option<Proposal>> {
        state::lock_proposal(self, id).await
    }

    async fn update_proposal(&mut self, proposal: &Proposal) -> Result<()> {
        state::update_proposal(self, proposal).await
    }

    async fn pauses_for(&mut self, action: &str) -> Result<Vec<Pause>> {
        state::pauses_for(self, action).await
    }

    async fn call_context(
        &mut self,
        action: &str,
        table: &str,
        key: Option<&str>,
    ) -> Result<(Vec<Pause>, Option<String>)> {
        state::call_context(self, action, table, key).await
    }

    async fn lock_for_write(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        key: &str,
        action: &str,
        new: &[(&str, &Value)],
    ) -> Result<Locked> {
        write::lock_for_write(self, table, key_cols, key, action, new).await
    }

    async fn set_pause(&mut self, pause: &Pause) -> Result<()> {
        state::set_pause(self, pause).await
    }

    async fn clear_pause(&mut self, scope: &str, by: &str, at: &str, reason: &str) -> Result<bool> {
        state::clear_pause(self, scope, by, at, reason).await
    }

    async fn bump_counter(&mut self, name: &str, window_start: i64, max: u32) -> Result<bool> {
        state::bump_counter(self, name, window_start, max).await
    }

    async fn idempotent_result(&mut self, action: &str, actor: &str, key: &str) -> Result<Option<String>> {
        state::idempotent_result(self, action, actor, key).await
    }

    async fn save_idempotent(&mut self, action: &str, actor: &str, key: &str, result: &str, at: &str) -> Result<()> {
        state::save_idempotent(self, action, actor, key, result, at).await
    }

    async fn touch_run(&mut self, run_id: &str, actor: &str, action: &str, at: &str) -> Result<()> {
        state::touch_run(self, run_id, actor, action, at).await
    }

    async fn insert_outbox(&mut self, id: &str, event: &str, payload: &str, at: &str, target: &str) -> Result<()> {
        state::insert_outbox(self, id, event, payload, at, target).await
    }

    async fn save_token(&mut self, token: &TokenRow, hash: &str) -> Result<()> {
        state::save_token(self, token, hash).await
    }

    async fn insert_approval(&mut self, approval: &Approval) -> Result<()> {
        state::insert_approval(self, approval).await
    }

    async fn approval_for(&mut self, action: &str, action_hash: &str) -> Result<Option<Approval>> {
        state::approval_for(self, action, action_hash).await
    }

    async fn breaker_event(
        &mut self,
        action: &str,
        signature: &str,
        change_id: &str,
        at: &str,
        since: &str,
    ) -> Result<Vec<String>> {
        state::breaker_event(self, action, signature, change_id, at, since).await
    }

    async fn clear_breaker(&mut self, action: &str, signature: &str) -> Result<()> {
        state::clear_breaker(self, action, signature).await
    }

    async fn revoke_token(&mut self, name: &str, at: &str) -> Result<bool> {
        state::revoke_token(self, name, at).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        (*self).commit_inner().await
    }
}

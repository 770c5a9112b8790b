//! `SqlStore`: the `Store` for SQLite, PostgreSQL and MySQL through sqlx's
//! generic driver, with the differences kept in `Dialect`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use leash_core::call::FieldChange;
use leash_core::journal::{Change, Proposal};
use leash_core::value::{ColumnType, Record, Value};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Arguments, Connection, Executor, Row, TransactionManager};

use crate::dialect::column_type;
use crate::rows::*;
use crate::writer::{Role, Writer, WriterGuard};
use crate::*;

pub const POOL_CONNECTIONS_MAX: u32 = 8;
pub const BUSY_TIMEOUT_MS: u64 = 10_000;
/// The writer's own WAL checkpoint, after this many pages (40 MB at 4 KB
/// pages): a backstop, for when the background checkpoints below fall
/// behind.
pub const SQLITE_WAL_CHECKPOINT_PAGES: u32 = 10_000;
/// SQLite: after this many write transactions a background task checkpoints
/// the WAL from a pooled connection, so the writer never stops to copy pages
/// into the database file itself (a 40 MB checkpoint held every queued write
/// for ~30 ms). The writer's own `wal_autocheckpoint` stays as a backstop.
pub const SQLITE_CHECKPOINT_AFTER_WRITES: u64 = 100;
pub const SQLITE_CHECKPOINT_POLL_MS: u64 = 20;
/// A server connection idle this long is pinged before it is handed out; one
/// in steady use is not (a ping is a round trip per transaction). A write
/// that finds its connection dead before anything ran retries on another.
pub const POOL_PING_AFTER_IDLE_MS: u64 = 1_000;

/// A statement under construction with its bound values; the only way SQL
/// with values is built, so every value is a parameter.
pub(crate) struct Query {
    dialect: Dialect,
    pub sql: String,
    args: AnyArguments<'static>,
    n: usize,
}

impl Query {
    pub fn new(dialect: Dialect, sql: &str) -> Query {
        Query { dialect, sql: sql.to_string(), args: AnyArguments::default(), n: 0 }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn ident(&mut self, ident: &str) -> &mut Self {
        self.sql.push_str(&self.dialect.quote(ident));
        self
    }

    fn add<T>(&mut self, value: T, ty: Option<ColumnType>) -> &mut Self
    where
        T: 'static + Send + sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        self.n += 1;
        let p = match ty {
            Some(ty) => self.dialect.typed_param(self.n, ty),
            None => self.dialect.param(self.n),
        };
        self.sql.push_str(&p);
        // Adding to an in-memory argument buffer only fails on encode errors
        // for types we never pass; keep going rather than panic.
        let _ = self.args.add(value);
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.add(s.to_string(), None)
    }

    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        self.add(s.map(str::to_string), None)
    }

    pub fn int(&mut self, i: i64) -> &mut Self {
        self.add(i, None)
    }

    pub fn opt_float(&mut self, f: Option<f64>) -> &mut Self {
        self.add(f, None)
    }

    /// A record value, converted for its column.
    pub fn value(&mut self, v: &Value, ty: ColumnType) -> &mut Self {
        let pg = self.dialect == Dialect::Postgres;
        match v {
            Value::Null => self.add(None::<String>, Some(ty)),
            Value::Bool(b) if ty == ColumnType::Boolean && !pg => self.add(*b as i64, None),
            Value::Bool(b) if !pg => self.add(*b, None),
            Value::Number(n) if !pg => match n.as_i64() {
                Some(i) => self.add(i, None),
                None => self.add(n.as_f64().unwrap_or(0.0), None),
            },
            Value::String(s) if !pg => self.add(s.clone(), None),
            // PostgreSQL: send text and cast, so one path serves every column type.
            Value::String(s) => self.add(s.clone(), Some(ty)),
            other if ty == ColumnType::Json => self.add(other.to_string(), Some(ty)),
            other => self.add(leash_core::value::display(other), Some(ty)),
        }
    }

    pub fn build(self) -> (String, AnyArguments<'static>) {
        (self.sql, self.args)
    }
}

pub struct SqlStore {
    /// Reads outside a transaction, and writes on PostgreSQL and MySQL.
    pool: AnyPool,
    /// SQLite's one write connection in this process (see `writer.rs`).
    writer: Option<Arc<Writer>>,
    dialect: Dialect,
}

/// Checkpoints SQLite's WAL off the write path; ends once its store is gone.
fn spawn_checkpointer(pool: AnyPool, writes: Weak<AtomicU64>) {
    tokio::spawn(async move {
        let mut done = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(SQLITE_CHECKPOINT_POLL_MS)).await;
            let Some(n) = writes.upgrade().map(|w| w.load(Ordering::Relaxed)) else { return };
            if n.saturating_sub(done) < SQLITE_CHECKPOINT_AFTER_WRITES {
                continue;
            }
            done = n;
            // PASSIVE: copies what no reader still needs; never waits for
            // or blocks the writer.
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_all(&pool).await {
                tracing::warn!(error = %e, "background WAL checkpoint failed; the writer's autocheckpoint remains");
            }
        }
    });
}

/// A connection a write transaction runs on.
pub(crate) enum WriteConn {
    Pooled(PoolConnection<Any>),
    Writer(WriterGuard),
}

impl std::ops::Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConn::Pooled(c) => c,
            WriteConn::Writer(g) => &g.conn,
        }
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConn::Pooled(c) => c,
            WriteConn::Writer(g) => &mut g.conn,
        }
    }
}

pub(crate) async fn prepare_connection(
    conn: &mut AnyConnection,
    dialect: Dialect,
) -> std::result::Result<(), sqlx::Error> {
    match dialect {
        Dialect::Sqlite => {
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.execute("PRAGMA synchronous = NORMAL").await?;
            conn.execute(format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}").as_str()).await?;
            conn.execute(format!("PRAGMA wal_autocheckpoint = {SQLITE_WAL_CHECKPOINT_PAGES}").as_str()).await?;
        }
        // Each statement sees the latest commit, as on PostgreSQL;
        // REPEATABLE READ would read a stale chain head after
        // waiting for a record lock.
        Dialect::Mysql => {
            conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").await?;
        }
        Dialect::Postgres => {}
    }
    Ok(())
}

fn normalize_url(url: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        }
        Dialect::Mysql if url.starts_with("mariadb:") => format!("mysql:{}", &url["mariadb:".len()..]),
        _ => url.to_string(),
    }
}

impl SqlStore {
    async fn apply_migrations(&self, conn: &mut AnyConnection) -> Result<()> {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS leash_migrations (version BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at VARCHAR(32) NOT NULL)",
        )
        .await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM leash_migrations").fetch_one(&mut *conn).await?;
        let current = current.unwrap_or(0);
        for m in migrations::for_dialect(self.dialect).iter().filter(|m| m.version > current) {
            for statement in m.statements {
                conn.execute(*statement)
                    .await
                    .map_err(|e| StoreError::Database(format!("migration {}: {e}", m.version)))?;
            }
            let mut q = self.q("INSERT INTO leash_migrations (version, name, applied_at) VALUES (");
            q.int(m.version).push(", ").text(m.name).push(", ").text(&jiff::Timestamp::now().to_string()).push(")");
            let (sql, args) = q.build();
            sqlx::query_with(&sql, args).execute(&mut *conn).await?;
        }
        Ok(())
    }

    pub async fn connect(url: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
        let url = normalize_url(url, dialect);
        let pool = AnyPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(Duration::from_millis(BUSY_TIMEOUT_MS * 3))
            // A local file cannot drop the connection; a server can.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if dialect != Dialect::Sqlite && meta.idle_for >= Duration::from_millis(POOL_PING_AFTER_IDLE_MS) {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| Box::pin(async move { prepare_connection(conn, dialect).await }))
            .connect(&url)
            .await?;
        let writer = match dialect {
            Dialect::Sqlite => {
                let writer = Arc::new(Writer::open(&url).await?);
                spawn_checkpointer(pool.clone(), Arc::downgrade(&writer.writes));
                Some(writer)
            }
            _ => None,
        };
        Ok(SqlStore { pool, writer, dialect })
    }

    /// The connection writes go through: SQLite's one writer, or one from the pool.
    async fn writable(&self) -> Result<WriteConn> {
        Ok(match &self.writer {
            Some(w) => WriteConn::Writer(w.lock().await?),
            None => WriteConn::Pooled(self.pool.acquire().await?),
        })
    }

    /// A connection for writing, in a transaction begun with `statement`.
    pub(crate) async fn write_conn(&self, statement: &'static str) -> Result<WriteConn> {
        // A pooled server connection may have died since its last use (it is
        // pinged only after sitting idle); nothing ran on it, so the
        // transaction is begun on another, up to a pool's worth of times.
        let mut attempts = 0;
        loop {
            let mut conn = self.writable().await?;
            match <Any as sqlx::Database>::TransactionManager::begin(&mut conn, Some(statement.into())).await {
                Ok(()) => return Ok(conn),
                Err(e) if connection_lost(&e) && attempts < POOL_CONNECTIONS_MAX => {
                    tracing::info!(error = %e, "a pooled connection was lost; beginning on another");
                    if let WriteConn::Pooled(c) = &mut conn {
                        c.close_on_drop();
                    }
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `SELECT columns FROM leash_changes` narrowed by the filter.
    fn change_query(&self, columns: &str, f: &ChangeFilter) -> Query {
        let mut q = self.q(&format!("SELECT {columns} FROM leash_changes WHERE 1 = 1"));
        if !f.ids.is_empty() {
            q.push(" AND id IN (");
            push_list(&mut q, &f.ids);
            q.push(")");
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
        if let Some(since) = &f.since {
            q.push(" AND at >= ").text(since);
        }
        if let Some(until) = &f.until {
            q.push(" AND at < ").text(until);
        }
        match f.newest {
            Some(n) => q.push(&format!(" ORDER BY seq DESC LIMIT {n}")),
            None => q.push(" ORDER BY seq ASC"),
        };
        q
    }

    /// A write transaction as the concrete type, for this crate's own
    /// statements (scripts, the bench's baseline); dropping it rolls back.
    pub(crate) async fn write_tx(&self) -> Result<SqlTx> {
        Ok(SqlTx::new(self.write_conn(self.dialect.begin_write()).await?, self.dialect, None))
    }

    /// One statement that writes, outside a transaction.
    async fn execute_write(&self, q: Query) -> Result<u64> {
        let (sql, args) = q.build();
        let mut conn = self.writable().await?;
        Ok(sqlx::query_with(&sql, args).execute(&mut *conn).await?.rows_affected())
    }

    /// A read on the pool. A connection the server dropped while it sat in
    /// the pool fails the read before anything ran (sqlx then closes it);
    /// reads change nothing, so it is run again on another.
    async fn fetch_all(&self, q: Query) -> Result<Vec<AnyRow>> {
        let (sql, args) = q.build();
        let mut attempts = 0;
        loop {
            match sqlx::query_with(&sql, copy_args(&args)).fetch_all(&self.pool).await {
                Err(e) if connection_lost(&e) && attempts < POOL_CONNECTIONS_MAX => attempts += 1,
                r => return Ok(r?),
            }
        }
    }

    /// Only for look-ups by a unique key: it reads every matching row.
    async fn fetch_optional(&self, q: Query) -> Result<Option<AnyRow>> {
        Ok(self.fetch_all(q).await?.into_iter().next())
    }

    fn q(&self, sql: &str) -> Query {
        Query::new(self.dialect, sql)
    }

    /// Columns and single-column unique keys from the server's catalogue;
    /// the two stores differ only in the queries, which end where the table
    /// name is bound (`unique_tail` follows it).
    async fn catalog_schema(
        &self,
        table: &str,
        columns_sql: &str,
        order: &str,
        unique_sql: &str,
        unique_tail: &str,
    ) -> Result<Option<TableSchema>> {
        let mut q = self.q(columns_sql);
        q.text(table).push(order);
        let columns = self.schema_columns(q).await?;
        if columns.is_empty() {
            return Ok(None);
        }
        let mut q = self.q(unique_sql);
        q.text(table).push(unique_tail);
        let unique_columns = self.fetch_all(q).await?.iter().map(|r| text_at(r, 0)).collect::<Result<_>>()?;
        Ok(Some(TableSchema { name: table.to_string(), columns, unique_columns }))
    }

    async fn postgres_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        self.catalog_schema(
            table,
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), CAST(is_nullable AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ",
            " ORDER BY ordinal_position",
            "SELECT CAST(a.attname AS TEXT) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indisunique AND i.indnatts = 1 AND c.relname = ",
            "",
        )
        .await
    }

    async fn mysql_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        self.catalog_schema(
            table,
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ",
            " ORDER BY ORDINAL_POSITION",
            "SELECT CAST(MIN(COLUMN_NAME) AS CHAR) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 AND TABLE_NAME = ",
            " GROUP BY INDEX_NAME HAVING COUNT(*) = 1",
        )
        .await
    }

    /// Rows of (name, declared type, "YES"/"NO" nullable).
    async fn schema_columns(&self, q: Query) -> Result<Vec<Column>> {
        let mut columns = Vec::new();
        for row in self.fetch_all(q).await? {
            let (name, declared) = (text_at(&row, 0)?, text_at(&row, 1)?);
            let nullable = text_at(&row, 2)? == "YES";
            columns.push(Column { ty: column_type(&declared), name, declared, nullable });
        }
        Ok(columns)
    }

    async fn sqlite_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        let mut q = self.q("SELECT name, type, \"notnull\", pk FROM pragma_table_info(");
        q.text(table).push(")");
        let rows = self.fetch_all(q).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut columns = Vec::new();
        let mut pk = Vec::new();
        for row in &rows {
            let name: String = row.try_get("name")?;
            let declared: String = row.try_get("type")?;
            let notnull: i64 = row.try_get("notnull")?;
            if row.try_get::<i64, _>("pk")? > 0 {
                pk.push(name.clone());
            }
            columns.push(Column { ty: column_type(&declared), name, declared, nullable: notnull == 0 });
        }
        let mut unique_columns = if pk.len() == 1 { pk } else { Vec::new() };
        let mut q = self.q("SELECT il.name AS idx FROM pragma_index_list(");
        q.text(table).push(") il WHERE il.\"unique\" = 1");
        for row in self.fetch_all(q).await? {
            let idx: String = row.try_get("idx")?;
            let mut q = self.q("SELECT name FROM pragma_index_info(");
            q.text(&idx).push(")");
            let cols = self.fetch_all(q).await?;
            if let [only] = cols.as_slice() {
                unique_columns.push(only.try_get::<String, _>("name")?);
            }
        }
        Ok(Some(TableSchema { name: table.to_string(), columns, unique_columns }))
    }
}

fn text_at(row: &AnyRow, idx: usize) -> Result<String> {
    Ok(leash_core::value::display(&value_at(row, idx)?))
}

fn select_record(dialect: Dialect, table: &TableSchema, key_col: &str) -> Query {
    let cols: Vec<String> = table.columns.iter().map(|c| dialect.select_column(&c.name, c.ty)).collect();
    let mut q = Query::new(dialect, &format!("SELECT {} FROM ", cols.join(", ")));
    q.ident(&table.name).push(" WHERE ").ident(key_col).push(" = ");
    q
}

fn key_type(table: &TableSchema, key_col: &str) -> ColumnType {
    table.column(key_col).map(|c| c.ty).unwrap_or(ColumnType::Text)
}

fn bind_key(q: &mut Query, table: &TableSchema, key_col: &str, key: &str) {
    let ty = key_type(table, key_col);
    let v = leash_core::value::coerce(&Value::String(key.to_string()), ty).unwrap_or(Value::String(key.to_string()));
    q.value(&v, ty);
}

fn col_type(table: &TableSchema, col: &str) -> ColumnType {
    table.column(col).map(|c| c.ty).unwrap_or(ColumnType::Text)
}

#[async_trait]
impl Store for SqlStore {
    fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn migrate(&self) -> Result<()> {
        // One migrator at a time across processes: SQLite's write lock, an
        // advisory lock on PostgreSQL, a named lock on MySQL (whose DDL
        // commits implicitly, so a transaction would not hold it).
        let mut conn = self.writable().await?;
        match self.dialect {
            Dialect::Sqlite => conn.execute("BEGIN IMMEDIATE").await.map(drop)?,
            Dialect::Postgres => {
                conn.execute("BEGIN").await?;
                conn.execute("SELECT pg_advisory_xact_lock(7418265)").await.map(drop)?
            }
            Dialect::Mysql => conn.execute("DO GET_LOCK('leash_migrate', 60)").await.map(drop)?,
        }
        let result = self.apply_migrations(&mut conn).await;
        let end = match (self.dialect, &result) {
            (Dialect::Mysql, _) => "DO RELEASE_LOCK('leash_migrate')",
            (_, Ok(())) => "COMMIT",
            (_, Err(_)) => "ROLLBACK",
        };
        conn.execute(end).await?;
        result
    }

    async fn table_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        match self.dialect {
            Dialect::Sqlite => self.sqlite_schema(table).await,
            Dialect::Postgres => self.postgres_schema(table).await,
            Dialect::Mysql => self.mysql_schema(table).await,
        }
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>> {
        Ok(Box::new(self.write_tx().await?))
    }

    async fn begin_grouped(&self) -> Result<Box<dyn StoreTx>> {
        let Some(writer) = &self.writer else { return self.begin().await };
        let (guard, role) = writer.lock_for_group().await?;
        Ok(Box::new(SqlTx::new(WriteConn::Writer(guard), self.dialect, Some((writer.clone(), role)))))
    }

    async fn read_record(&self, table: &TableSchema, key_col: &str, key: &str) -> Result<Option<Record>> {
        let mut q = select_record(self.dialect, table, key_col);
        bind_key(&mut q, table, key_col, key);
        self.fetch_optional(q).await?.map(|row| record_from_row(&row, table)).transpose()
    }

    async fn changes(&self, f: &ChangeFilter) -> Result<Vec<Change>> {
        let q = self.change_query(CHANGE_COLUMNS, f);
        self.fetch_all(q).await?.iter().map(change_from_row).collect()
    }

    async fn undoables(&self, f: &ChangeFilter) -> Result<Vec<Undoable>> {
        let q = self.change_query(UNDOABLE_COLUMNS, f);
        self.fetch_all(q).await?.iter().map(undoable_from_row).collect()
    }

    async fn change(&self, id: &str) -> Result<Option<Change>> {
        let mut q = self.q(&format!("SELECT {CHANGE_COLUMNS} FROM leash_changes WHERE id = "));
        q.text(id);
        self.fetch_optional(q).await?.as_ref().map(change_from_row).transpose()
    }

    async fn proposals(&self, f: &ProposalFilter) -> Result<Vec<Proposal>> {
        let mut q = self.q(&format!("SELECT {PROPOSAL_COLUMNS} FROM leash_proposals WHERE 1 = 1"));
        if !f.statuses.is_empty() {
            q.push(" AND status IN (");
            for (i, s) in f.statuses.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.text(s.as_str());
            }
            q.push(")");
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

    async fn pauses(&self) -> Result<Vec<Pause>> {
        let q = self.q("SELECT scope, kind, reason, by_name, at FROM leash_state ORDER BY scope");
        self.fetch_all(q).await?.iter().map(pause_from_row).collect()
    }

    async fn token(&self, name: &str) -> Result<Option<TokenRow>> {
        let mut q = self.q("SELECT name, role, actions, created_at, revoked_at FROM leash_tokens WHERE name = ");
        q.text(name);
        self.fetch_optional(q).await?.as_ref().map(token_from_row).transpose()
    }

    async fn approvals(&self) -> Result<Vec<Approval>> {
        let q = self.q(&format!("SELECT {APPROVAL_COLUMNS} FROM leash_policy_approvals ORDER BY seq"));
        self.fetch_all(q).await?.iter().map(approval_from_row).collect()
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>> {
        let mut q = self.q("SELECT name, role, actions, created_at, revoked_at FROM leash_tokens WHERE hash = ");
        q.text(hash);
        self.fetch_optional(q).await?.as_ref().map(token_from_row).transpose()
    }

    async fn claim_outbox(&self, now: &str, lease_until: &str, limit: u32) -> Result<Vec<OutboxRow>> {
        let mut q = self.q("SELECT id, event, payload, target, attempts, next_attempt_at FROM leash_outbox WHERE delivered_at IS NULL AND next_attempt_at <= ");
        q.text(now).push(&format!(" ORDER BY seq LIMIT {limit}"));
        let mut claimed = Vec::new();
        for row in self.fetch_all(q).await? {
            let id = text_at(&row, 0)?;
            let due = text_at(&row, 5)?;
            let mut claim = self.q("UPDATE leash_outbox SET next_attempt_at = ");
            claim.text(lease_until).push(" WHERE id = ").text(&id).push(" AND next_attempt_at = ").text(&due);
            if self.execute_write(claim).await? == 1 {
                claimed.push(OutboxRow {
                    id,
                    event: text_at(&row, 1)?,
                    payload: text_at(&row, 2)?,
                    target: text_at(&row, 3)?,
                    attempts: value_at(&row, 4)?.as_u64().unwrap_or(0) as u32,
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
        q.opt_text(delivered_at)
            .push(", attempts = ")
            .int(attempts as i64)
            .push(", next_attempt_at = ")
            .text(next_attempt_at);
        q.push(", last_error = ").opt_text(error).push(" WHERE id = ").text(id);
        self.execute_write(q).await?;
        Ok(())
    }

    async fn execute_script(&self, statements: &[&str]) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for s in statements {
            tx.conn().execute(*s).await?;
        }
        Box::new(tx).commit().await
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>> {
        let q = self.q("SELECT name, role, actions, created_at, revoked_at FROM leash_tokens ORDER BY name");
        self.fetch_all(q).await?.iter().map(token_from_row).collect()
    }
}

pub struct SqlTx {
    conn: WriteConn,
    /// Begun and not yet committed: dropping it rolls back.
    open: bool,
    dialect: Dialect,
    /// SQLite's writer and this transaction's place in a commit group.
    group: Option<(Arc<Writer>, Role)>,
    /// A grouped transaction's `BEGIN IMMEDIATE` or `SAVEPOINT`, until it
    /// goes in front of the first statement (see `writer.rs`).
    pending_begin: Option<&'static str>,
    /// A statement failed: this transaction only rolls back.
    failed: bool,
    /// A statement failed in a way that may have rolled back the whole
    /// transaction: SQLite's writer connection is replaced.
    broken: bool,
}

/// A constraint failure (SQLite's default `ABORT`) undoes its statement and
/// leaves the transaction open; other errors (I/O, a full disk) may end it.
fn undoes_only_its_statement(e: &sqlx::Error) -> bool {
    const SQLITE_CONSTRAINT: i64 = 19;
    match e {
        sqlx::Error::Database(d) => {
            d.code().and_then(|c| c.parse::<i64>().ok()).is_some_and(|c| c & 0xff == SQLITE_CONSTRAINT)
        }
        _ => false,
    }
}

/// `AnyArguments` is not `Clone`; its values are.
fn copy_args(args: &AnyArguments<'static>) -> AnyArguments<'static> {
    let mut copy = AnyArguments::default();
    copy.values.0.clone_from(&args.values.0);
    copy
}

/// The server dropped the connection (restart, idle kill, an admin's
/// terminate): the statement did not run.
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now;
        // MariaDB: connection killed, communication link failure.
        sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("57P01" | "57P02" | "57P03" | "70100" | "08S01"))
        }
        _ => false,
    }
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

impl SqlTx {
    /// A grouped transaction (`group`) begins with its first statement.
    fn new(conn: WriteConn, dialect: Dialect, group: Option<(Arc<Writer>, Role)>) -> SqlTx {
        let pending_begin = group.as_ref().map(|(_, role)| role.begin());
        SqlTx { conn, open: true, dialect, group, pending_begin, failed: false, broken: false }
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    fn q(&self, sql: &str) -> Query {
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

    async fn exec(&mut self, q: Query) -> Result<u64> {
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

    async fn one(&mut self, q: Query) -> Result<Option<AnyRow>> {
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

    async fn all(&mut self, q: Query) -> Result<Vec<AnyRow>> {
        let (sql, args) = q.build();
        let (sql, began_here) = self.with_begin(sql);
        let r = sqlx::query_with(&sql, args).fetch_all(&mut *self.conn).await;
        self.check(r, began_here)
    }

    /// `UPDATE … SET new … WHERE key AND every field still holds old`.
    fn cas_update(&self, table: &TableSchema, key_col: &str, key: &str, fields: &[FieldChange]) -> Query {
        let mut q = self.q("");
        self.push_cas_update(&mut q, table, key_col, key, fields);
        q
    }

    fn push_cas_update(&self, q: &mut Query, table: &TableSchema, key_col: &str, key: &str, fields: &[FieldChange]) {
        debug_assert!(!fields.is_empty(), "an update with no fields");
        q.push("UPDATE ").ident(&table.name).push(" SET ");
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.ident(&f.field).push(" = ");
            q.value(&f.new, col_type(table, &f.field));
        }
        q.push(" WHERE ").ident(key_col).push(" = ");
        bind_key(q, table, key_col, key);
        self.push_compare(q, table, fields);
    }

    /// `AND col = old` for every field: the compare in compare-and-set.
    fn push_compare(&self, q: &mut Query, table: &TableSchema, fields: &[FieldChange]) {
        for f in fields {
            let ty = col_type(table, &f.field);
            let col = self.dialect.quote(&f.field);
            q.push(" AND ");
            if f.old.is_null() {
                q.push(&format!("{col} IS NULL"));
            } else {
                q.push(&format!("{col} = "));
                q.value(&f.old, ty);
            }
        }
    }
}

/// Rows per set-based statement, well under every store's parameter limit.
pub const BULK_ROWS_MAX: usize = 500;
/// Journal rows per multi-row INSERT (20 parameters each).
pub const CHANGES_PER_INSERT_MAX: usize = 100;

fn push_list(q: &mut Query, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.text(item);
    }
}

fn push_change_values(q: &mut Query, c: &Change) {
    q.push("(");
    push_change_list(q, c);
    q.push(")");
}

/// The values of `CHANGE_COLUMNS`, comma-separated.
fn push_change_list(q: &mut Query, c: &Change) {
    q.text(&c.id).push(", ").text(&c.at).push(", ").text(&c.action).push(", ").text(&c.policy_hash).push(", ");
    q.text(&c.table_name).push(", ").text(&c.record_key).push(", ").text(c.op.as_str()).push(", ");
    q.text(&json_text(&c.fields)).push(", ").text(&c.actor).push(", ").opt_text(c.approver.as_deref()).push(", ");
    q.opt_text(c.reason.as_deref())
        .push(", ")
        .opt_text(c.evidence.as_deref())
        .push(", ")
        .opt_float(c.confidence)
        .push(", ");
    q.opt_text(c.run_id.as_deref()).push(", ").opt_text(c.proposal_id.as_deref()).push(", ");
    q.opt_text(c.reverts.as_deref()).push(", ").opt_text(c.reverted_by.as_deref()).push(", ");
    q.int(c.watch as i64).push(", ").text(c.prev_hash.as_deref().unwrap_or("")).push(", ").text(&c.hash);
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn lock_record(&mut self, table: &TableSchema, key_col: &str, key: &str) -> Result<Option<Record>> {
        let mut q = select_record(self.dialect, table, key_col);
        bind_key(&mut q, table, key_col, key);
        q.push(self.dialect.for_update());
        self.one(q).await?.map(|row| record_from_row(&row, table)).transpose()
    }

    async fn find_other(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        except_key: Option<&str>,
        column: &str,
        value: &Value,
    ) -> Result<Option<String>> {
        let key_expr = self.dialect.select_column(key_col, ColumnType::Text);
        let mut q = self.q(&format!("SELECT {key_expr} FROM "));
        q.ident(&table.name).push(" WHERE ").ident(column).push(" = ");
        q.value(value, col_type(table, column));
        if let Some(k) = except_key {
            q.push(" AND ").ident(key_col).push(" <> ");
            bind_key(&mut q, table, key_col, k);
        }
        q.push(" LIMIT 1");
        self.one(q).await?.map(|row| text_at(&row, 0)).transpose()
    }

    async fn update_record(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        key: &str,
        fields: &[FieldChange],
    ) -> Result<bool> {
        let q = self.cas_update(table, key_col, key, fields);
        let n = self.exec(q).await?;
        debug_assert!(n <= 1, "a key matched {n} rows");
        Ok(n == 1)
    }

    async fn update_with_change(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        key: &str,
        change: &Change,
    ) -> Result<bool> {
        debug_assert_eq!(change.hash, change.compute_hash(), "a change must be sealed before it is written");
        // One round trip where the store allows it; the journal row is
        // inserted only if the update matched.
        let expect = match self.dialect {
            // MySQL has neither data-modifying CTEs nor multi-statement
            // prepared queries: two round trips.
            Dialect::Mysql => {
                if !self.update_record(table, key_col, key, &change.fields).await? {
                    return Ok(false);
                }
                self.insert_change(change).await?;
                return Ok(true);
            }
            // The INSERT selects from the UPDATE's returned row: none, no row.
            // The UPDATE also matches only if the change extends the chain's
            // current head (`lock_for_write` may have read an older one).
            Dialect::Postgres => {
                let mut q = self.q("WITH cas AS (");
                self.push_cas_update(&mut q, table, key_col, key, &change.fields);
                q.push(" AND (SELECT hash FROM leash_changes WHERE table_name = ").text(&table.name);
                q.push(" AND record_key = ").text(key).push(" ORDER BY seq DESC LIMIT 1) IS NOT DISTINCT FROM ");
                match &change.prev_hash {
                    Some(prev) => q.text(prev),
                    None => q.push("NULL"),
                };
                q.push(&format!(" RETURNING 1) INSERT INTO leash_changes ({CHANGE_COLUMNS}) SELECT "));
                push_change_list(&mut q, change);
                q.push(" FROM cas");
                (self.exec(q).await?, 1)
            }
            // Two statements in one call; `changes()` is the UPDATE's row count.
            Dialect::Sqlite => {
                let mut q = self.cas_update(table, key_col, key, &change.fields);
                q.push(&format!("; INSERT INTO leash_changes ({CHANGE_COLUMNS}) SELECT "));
                push_change_list(&mut q, change);
                q.push(" WHERE changes() = 1");
                (self.exec(q).await?, 2)
            }
        };
        match expect {
            (0, _) => Ok(false),
            (n, want) if n == want => Ok(true),
            (n, want) => Err(StoreError::Database(format!("update and journal touched {n} rows, expected {want}"))),
        }
    }

    async fn insert_record(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        key: Option<&str>,
        row: &[FieldChange],
    ) -> Result<String> {
        let mut q = self.q("INSERT INTO ");
        q.ident(&table.name).push(" (");
        let mut cols: Vec<&str> = row.iter().map(|f| f.field.as_str()).filter(|c| *c != key_col).collect();
        if key.is_some() {
            cols.insert(0, key_col);
        }
        for (i, c) in cols.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.ident(c);
        }
        q.push(") VALUES (");
        let mut first = true;
        if let Some(k) = key {
            bind_key(&mut q, table, key_col, k);
            first = false;
        }
        for f in row.iter().filter(|f| f.field != key_col) {
            if !first {
                q.push(", ");
            }
            first = false;
            q.value(&f.new, col_type(table, &f.field));
        }
        q.push(")");
        if self.dialect == Dialect::Mysql {
            self.exec(q).await?;
            if let Some(k) = key {
                return Ok(k.to_string());
            }
            let row = self.one(Query::new(self.dialect, "SELECT CAST(LAST_INSERT_ID() AS SIGNED)")).await?;
            let row = row.ok_or_else(|| StoreError::Database("insert returned no key".into()))?;
            return text_at(&row, 0);
        }
        let key_expr = self.dialect.select_column(key_col, key_type(table, key_col));
        q.push(&format!(" RETURNING {key_expr}"));
        let row = self.one(q).await?.ok_or_else(|| StoreError::Database("insert returned no key".into()))?;
        text_at(&row, 0)
    }

    async fn delete_record(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        key: &str,
        fields: &[FieldChange],
    ) -> Result<bool> {
        let mut q = self.q("DELETE FROM ");
        q.ident(&table.name).push(" WHERE ").ident(key_col).push(" = ");
        bind_key(&mut q, table, key_col, key);
        let expected: Vec<FieldChange> = fields
            .iter()
            .filter(|f| f.field != key_col)
            .map(|f| FieldChange { field: f.field.clone(), old: f.new.clone(), new: Value::Null })
            .collect();
        self.push_compare(&mut q, table, &expected);
        Ok(self.exec(q).await? == 1)
    }

    async fn chain_head(&mut self, table: &str, key: &str) -> Result<Option<String>> {
        let mut q = self.q("SELECT hash FROM leash_changes WHERE table_name = ");
        q.text(table).push(" AND record_key = ").text(key).push(" ORDER BY seq DESC LIMIT 1");
        self.one(q).await?.map(|row| text_at(&row, 0)).transpose()
    }

    async fn lock_records(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        keys: &[String],
    ) -> Result<HashMap<String, Record>> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(BULK_ROWS_MAX) {
            let cols: Vec<String> = table.columns.iter().map(|c| self.dialect.select_column(&c.name, c.ty)).collect();
            let mut q = self.q(&format!("SELECT {} FROM ", cols.join(", ")));
            q.ident(&table.name).push(" WHERE ").ident(key_col).push(" IN (");
            for (i, k) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                bind_key(&mut q, table, key_col, k);
            }
            q.push(")").push(self.dialect.for_update());
            for row in self.all(q).await? {
                let rec = record_from_row(&row, table)?;
                let key = rec.get(key_col).map(leash_core::value::display).unwrap_or_default();
                out.insert(key, rec);
            }
        }
        Ok(out)
    }

    async fn open_changes(&mut self, ids: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(BULK_ROWS_MAX) {
            let mut q = self.q("SELECT id FROM leash_changes WHERE reverted_by IS NULL AND id IN (");
            push_list(&mut q, chunk);
            q.push(")").push(self.dialect.for_update());
            for row in self.all(q).await? {
                out.push(text_at(&row, 0)?);
            }
        }
        Ok(out)
    }

    async fn update_records(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        rows: &[(String, Vec<FieldChange>)],
    ) -> Result<u64> {
        let mut updated = 0;
        if self.dialect != Dialect::Mysql {
            // One join per set of fields (a revert batch has one, as a rule);
            // a CASE per field would compare every row with every key.
            let mut groups: Vec<(Vec<&str>, Vec<&(String, Vec<FieldChange>)>)> = Vec::new();
            for row in rows {
                let fields: Vec<&str> = row.1.iter().map(|f| f.field.as_str()).collect();
                match groups.iter_mut().find(|(f, _)| *f == fields) {
                    Some((_, members)) => members.push(row),
                    None => groups.push((fields, vec![row])),
                }
            }
            for (fields, members) in groups {
                for chunk in members.chunks(BULK_ROWS_MAX) {
                    let names: Vec<String> = (0..fields.len()).map(|i| format!("v{i}")).collect();
                    let mut q = self.q(&format!("WITH undo (k, {}) AS (VALUES ", names.join(", ")));
                    for (r, (key, changes)) in chunk.iter().enumerate() {
                        q.push(if r > 0 { ", (" } else { "(" });
                        bind_key(&mut q, table, key_col, key);
                        for f in changes {
                            q.push(", ").value(&f.new, col_type(table, &f.field));
                        }
                        q.push(")");
                    }
                    q.push(") UPDATE ").ident(&table.name).push(" SET ");
                    for (i, field) in fields.iter().enumerate() {
                        q.push(if i > 0 { ", " } else { "" }).ident(field).push(&format!(" = undo.{}", names[i]));
                    }
                    q.push(" FROM undo WHERE ").ident(&table.name).push(".").ident(key_col).push(" = undo.k");
                    updated += self.exec(q).await?;
                }
            }
            return Ok(updated);
        }
        for chunk in rows.chunks(BULK_ROWS_MAX) {
            let mut fields: Vec<&str> = chunk.iter().flat_map(|(_, f)| f.iter().map(|c| c.field.as_str())).collect();
            fields.sort_unstable();
            fields.dedup();
            let mut q = self.q("UPDATE ");
            q.ident(&table.name).push(" SET ");
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.ident(field).push(" = CASE");
                for (key, changes) in chunk {
                    if let Some(c) = changes.iter().find(|c| c.field == *field) {
                        q.push(" WHEN ").ident(key_col).push(" = ");
                        bind_key(&mut q, table, key_col, key);
                        q.push(" THEN ");
                        q.value(&c.new, col_type(table, field));
                    }
                }
                q.push(" ELSE ").ident(field).push(" END");
            }
            q.push(" WHERE ").ident(key_col).push(" IN (");
            for (i, (key, _)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                bind_key(&mut q, table, key_col, key);
            }
            q.push(")");
            updated += self.exec(q).await?;
        }
        Ok(updated)
    }

    async fn chain_heads(&mut self, table: &str, keys: &[String]) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(BULK_ROWS_MAX) {
            // The head is the row no other row of the record points back to;
            // the chain's unique index answers that directly.
            let mut q = self.q("SELECT c.record_key, c.hash FROM leash_changes c WHERE c.table_name = ");
            q.text(table).push(" AND c.record_key IN (");
            push_list(&mut q, chunk);
            q.push(") AND NOT EXISTS (SELECT 1 FROM leash_changes d WHERE d.table_name = c.table_name AND d.record_key = c.record_key AND d.prev_hash = c.hash)");
            for row in self.all(q).await? {
                out.insert(text_at(&row, 0)?, text_at(&row, 1)?);
            }
        }
        Ok(out)
    }

    async fn insert_changes(&mut self, changes: &[Change]) -> Result<()> {
        for chunk in changes.chunks(CHANGES_PER_INSERT_MAX) {
            let mut q = self.q(&format!("INSERT INTO leash_changes ({CHANGE_COLUMNS}) VALUES "));
            for (i, c) in chunk.iter().enumerate() {
                debug_assert_eq!(c.hash, c.compute_hash(), "a change must be sealed before it is written");
                if i > 0 {
                    q.push(", ");
                }
                push_change_values(&mut q, c);
            }
            self.exec(q).await?;
        }
        Ok(())
    }

    async fn mark_reverted_many(&mut self, pairs: &[(String, String)]) -> Result<u64> {
        let mut marked = 0;
        for chunk in pairs.chunks(BULK_ROWS_MAX) {
            if self.dialect != Dialect::Mysql {
                // A join on the id index; a CASE would compare every row
                // with every pair.
                let mut q = self.q("WITH marks (change_id, undo_id) AS (VALUES ");
                for (i, (id, by)) in chunk.iter().enumerate() {
                    q.push(if i > 0 { ", (" } else { "(" }).text(id).push(", ").text(by).push(")");
                }
                q.push(") UPDATE leash_changes SET reverted_by = marks.undo_id FROM marks");
                q.push(" WHERE leash_changes.id = marks.change_id AND leash_changes.reverted_by IS NULL");
                marked += self.exec(q).await?;
                continue;
            }
            let mut q = self.q("UPDATE leash_changes SET reverted_by = CASE id");
            for (id, by) in chunk {
                q.push(" WHEN ").text(id).push(" THEN ").text(by);
            }
            q.push(" END WHERE reverted_by IS NULL AND id IN (");
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
            push_list(&mut q, &ids);
            q.push(")");
            marked += self.exec(q).await?;
        }
        Ok(marked)
    }

    async fn insert_change(&mut self, c: &Change) -> Result<()> {
        debug_assert_eq!(c.hash, c.compute_hash(), "a change must be sealed before it is written");
        let mut q = self.q(&format!("INSERT INTO leash_changes ({CHANGE_COLUMNS}) VALUES "));
        push_change_values(&mut q, c);
        self.exec(q).await?;
        Ok(())
    }

    async fn insert_proposal(&mut self, p: &Proposal) -> Result<()> {
        let mut q = self.q(&format!("INSERT INTO leash_proposals ({PROPOSAL_COLUMNS}) VALUES ("));
        q.text(&p.id)
            .push(", ")
            .text(&p.created_at)
            .push(", ")
            .text(&p.action)
            .push(", ")
            .text(&p.table_name)
            .push(", ");
        q.opt_text(p.record_key.as_deref()).push(", ").text(&json_text(&p.fields)).push(", ");
        q.text(&json_text(&p.reasons))
            .push(", ")
            .text(&json_text(&p.notes))
            .push(", ")
            .text(p.status.as_str())
            .push(", ");
        q.text(&p.actor).push(", ").opt_text(p.reason.as_deref()).push(", ").opt_text(p.evidence.as_deref()).push(", ");
        q.opt_float(p.confidence)
            .push(", ")
            .opt_text(p.run_id.as_deref())
            .push(", ")
            .opt_text(p.reviewer.as_deref())
            .push(", ");
        q.opt_text(p.decided_at.as_deref()).push(", ").opt_text(p.review_note.as_deref()).push(", ");
        q.opt_text(p.edited.as_ref().map(json_text).as_deref()).push(", ").opt_text(p.change_id.as_deref()).push(")");
        self.exec(q).await?;
        Ok(())
    }

    async fn lock_proposal(&mut self, id: &str) -> Result<Option<Proposal>> {
        let mut q = self.q(&format!("SELECT {PROPOSAL_COLUMNS} FROM leash_proposals WHERE id = "));
        q.text(id).push(self.dialect.for_update());
        self.one(q).await?.as_ref().map(proposal_from_row).transpose()
    }

    async fn update_proposal(&mut self, p: &Proposal) -> Result<()> {
        let mut q = self.q("UPDATE leash_proposals SET status = ");
        q.text(p.status.as_str()).push(", reviewer = ").opt_text(p.reviewer.as_deref());
        q.push(", decided_at = ")
            .opt_text(p.decided_at.as_deref())
            .push(", review_note = ")
            .opt_text(p.review_note.as_deref());
        q.push(", edited = ").opt_text(p.edited.as_ref().map(json_text).as_deref());
        q.push(", change_id = ").opt_text(p.change_id.as_deref()).push(" WHERE id = ").text(&p.id);
        self.exec(q).await?;
        Ok(())
    }

    async fn pauses_for(&mut self, action: &str) -> Result<Vec<Pause>> {
        let mut q = self.q("SELECT scope, kind, reason, by_name, at FROM leash_state WHERE scope IN (");
        q.text(ALL_SCOPE).push(", ").text(action).push(")");
        self.all(q).await?.iter().map(pause_from_row).collect()
    }

    async fn call_context(
        &mut self,
        action: &str,
        table: &str,
        key: Option<&str>,
    ) -> Result<(Vec<Pause>, Option<String>)> {
        let Some(key) = key else {
            return Ok((self.pauses_for(action).await?, None));
        };
        let mut q = self.q("SELECT scope, kind, reason, by_name, at, NULL AS hash FROM leash_state WHERE scope IN (");
        q.text(ALL_SCOPE)
            .push(", ")
            .text(action)
            .push(") UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, h.hash FROM (");
        q.push("SELECT hash FROM leash_changes WHERE table_name = ").text(table).push(" AND record_key = ").text(key);
        q.push(" ORDER BY seq DESC LIMIT 1) h");
        let (mut pauses, mut head) = (Vec::new(), None);
        for row in self.all(q).await? {
            match value_at(&row, 5)? {
                Value::Null => pauses.push(Pause {
                    scope: text_at(&row, 0)?,
                    kind: text_at(&row, 1)?,
                    reason: text_at(&row, 2)?,
                    by: text_at(&row, 3)?,
                    at: text_at(&row, 4)?,
                }),
                hash => head = Some(leash_core::value::display(&hash)),
            }
        }
        Ok((pauses, head))
    }

    async fn lock_for_write(
        &mut self,
        table: &TableSchema,
        key_col: &str,
        key: &str,
        action: &str,
    ) -> Result<(Option<Record>, Vec<Pause>, Option<String>)> {
        if self.dialect == Dialect::Mysql {
            // Two statements: what a subquery of a locking read sees after a
            // lock wait is not pinned down on MySQL.
            let record = self.lock_record(table, key_col, key).await?;
            let (pauses, head) = self.call_context(action, &table.name, Some(key)).await?;
            return Ok((record, pauses, head));
        }
        // One statement reads the record, its chain head and whether anything
        // is paused. SQLite's write lock is already held (BEGIN IMMEDIATE).
        // On PostgreSQL the row comes back as it is after any lock wait, but
        // the subqueries read the snapshot taken before it: the head may be
        // stale, so `update_with_change` checks it again under the lock.
        let cols: Vec<String> = table.columns.iter().map(|c| self.dialect.select_column(&c.name, c.ty)).collect();
        let mut q = self.q(&format!("SELECT {}, (SELECT hash FROM leash_changes WHERE table_name = ", cols.join(", ")));
        q.text(&table.name).push(" AND record_key = ").text(key);
        q.push(" ORDER BY seq DESC LIMIT 1), EXISTS (SELECT 1 FROM leash_state WHERE scope IN (");
        q.text(ALL_SCOPE).push(", ").text(action).push(")) FROM ");
        q.ident(&table.name).push(" WHERE ").ident(key_col).push(" = ");
        bind_key(&mut q, table, key_col, key);
        if self.dialect == Dialect::Postgres {
            q.push(" FOR UPDATE OF ").ident(&table.name);
        }
        let Some(row) = self.one(q).await? else {
            let (pauses, head) = self.call_context(action, &table.name, Some(key)).await?;
            return Ok((None, pauses, head));
        };
        let n = table.columns.len();
        let record = record_from_row(&row, table)?;
        let head = match value_at(&row, n)? {
            Value::Null => None,
            hash => Some(leash_core::value::display(&hash)),
        };
        // An integer on SQLite, a boolean on PostgreSQL.
        let paused = match value_at(&row, n + 1)? {
            Value::Bool(b) => b,
            v => v.as_i64().unwrap_or(0) != 0,
        };
        let pauses = if paused { self.pauses_for(action).await? } else { Vec::new() };
        Ok((Some(record), pauses, head))
    }

    async fn set_pause(&mut self, p: &Pause) -> Result<()> {
        let mut q = self.q("DELETE FROM leash_state WHERE scope = ");
        q.text(&p.scope);
        self.exec(q).await?;
        // The current state, and its history with who and why.
        for table in ["leash_state", "leash_state_log"] {
            let mut q = self.q(&format!(
                "INSERT INTO {table} (scope, {}, reason, by_name, at) VALUES (",
                if table == "leash_state" { "kind" } else { "event" }
            ));
            q.text(&p.scope)
                .push(", ")
                .text(&p.kind)
                .push(", ")
                .text(&p.reason)
                .push(", ")
                .text(&p.by)
                .push(", ")
                .text(&p.at)
                .push(")");
            self.exec(q).await?;
        }
        Ok(())
    }

    async fn clear_pause(&mut self, scope: &str, by: &str, at: &str, reason: &str) -> Result<bool> {
        let mut q = self.q("DELETE FROM leash_state WHERE scope = ");
        q.text(scope);
        let cleared = self.exec(q).await? > 0;
        let mut q = self.q("INSERT INTO leash_state_log (scope, event, reason, by_name, at) VALUES (");
        q.text(scope).push(", 'resume', ").text(reason).push(", ").text(by).push(", ").text(at).push(")");
        self.exec(q).await?;
        Ok(cleared)
    }

    async fn bump_counter(&mut self, name: &str, window_start: i64, max: u32) -> Result<bool> {
        let mut q = self.q("INSERT INTO leash_limits (name, window_start, count) VALUES (");
        q.text(name).push(", ").int(window_start).push(", 0)");
        // MySQL: take the row's exclusive lock now; a shared lock from
        // INSERT IGNORE would deadlock two writers upgrading it.
        q.push(match self.dialect {
            Dialect::Mysql => " ON DUPLICATE KEY UPDATE count = count",
            _ => " ON CONFLICT (name, window_start) DO NOTHING",
        });
        self.exec(q).await?;
        // The row lock taken here is held to commit, and the WHERE is
        // re-checked against the latest committed count, so N processes
        // together never pass the cap.
        let mut q = self.q("UPDATE leash_limits SET count = count + 1 WHERE name = ");
        q.text(name).push(" AND window_start = ").int(window_start).push(" AND count < ").int(max as i64);
        Ok(self.exec(q).await? == 1)
    }

    async fn idempotent_result(&mut self, action: &str, actor: &str, key: &str) -> Result<Option<String>> {
        let mut q = self.q("SELECT result FROM leash_idempotency WHERE action = ");
        q.text(action).push(" AND actor = ").text(actor).push(" AND idem_key = ").text(key);
        self.one(q).await?.map(|row| text_at(&row, 0)).transpose()
    }

    async fn save_idempotent(&mut self, action: &str, actor: &str, key: &str, result: &str, at: &str) -> Result<()> {
        let mut q = self.q("INSERT INTO leash_idempotency (action, actor, idem_key, result, at) VALUES (");
        q.text(action)
            .push(", ")
            .text(actor)
            .push(", ")
            .text(key)
            .push(", ")
            .text(result)
            .push(", ")
            .text(at)
            .push(")");
        self.exec(q).await?;
        Ok(())
    }

    async fn touch_run(&mut self, run_id: &str, actor: &str, action: &str, at: &str) -> Result<()> {
        let mut q = self.q("INSERT INTO leash_runs (run_id, actor, action, started_at, last_at) VALUES (");
        q.text(run_id).push(", ").text(actor).push(", ").text(action).push(", ").text(at).push(", ").text(at);
        match self.dialect {
            Dialect::Mysql => q.push(") ON DUPLICATE KEY UPDATE last_at = ").text(at).push(", calls = calls + 1"),
            _ => q
                .push(") ON CONFLICT (run_id) DO UPDATE SET last_at = ")
                .text(at)
                .push(", calls = leash_runs.calls + 1"),
        };
        self.exec(q).await?;
        Ok(())
    }

    async fn insert_outbox(&mut self, id: &str, event: &str, payload: &str, at: &str, target: &str) -> Result<()> {
        let mut q =
            self.q("INSERT INTO leash_outbox (id, event, payload, created_at, next_attempt_at, target) VALUES (");
        q.text(id).push(", ").text(event).push(", ").text(payload).push(", ").text(at).push(", ").text(at);
        q.push(", ").text(target).push(")");
        self.exec(q).await?;
        Ok(())
    }

    async fn save_token(&mut self, t: &TokenRow, hash: &str) -> Result<()> {
        let mut q = self.q("INSERT INTO leash_tokens (name, role, actions, hash, created_at) VALUES (");
        q.text(&t.name).push(", ").text(&t.role).push(", ").text(&json_text(&t.actions)).push(", ").text(hash);
        q.push(", ").text(&t.created_at).push(")");
        self.exec(q).await?;
        Ok(())
    }

    async fn insert_approval(&mut self, a: &Approval) -> Result<()> {
        let mut q = self.q(&format!("INSERT INTO leash_policy_approvals ({APPROVAL_COLUMNS}) VALUES ("));
        q.text(&a.action).push(", ").text(&a.action_hash).push(", ").text(&a.policy_hash).push(", ");
        q.text(&a.approved_by).push(", ").opt_text(a.note.as_deref()).push(", ").text(&a.at).push(")");
        self.exec(q).await?;
        Ok(())
    }

    async fn approval_for(&mut self, action: &str, action_hash: &str) -> Result<Option<Approval>> {
        let mut q = self.q(&format!("SELECT {APPROVAL_COLUMNS} FROM leash_policy_approvals WHERE action = "));
        q.text(action).push(" AND action_hash = ").text(action_hash).push(" ORDER BY seq DESC LIMIT 1");
        self.one(q).await?.as_ref().map(approval_from_row).transpose()
    }

    async fn breaker_event(
        &mut self,
        action: &str,
        signature: &str,
        change_id: &str,
        at: &str,
        since: &str,
    ) -> Result<Vec<String>> {
        let mut q = self.q("INSERT INTO leash_breaker_events (action, signature, change_id, at) VALUES (");
        q.text(action).push(", ").text(signature).push(", ").text(change_id).push(", ").text(at).push(")");
        self.exec(q).await?;
        let mut q = self.q("SELECT change_id FROM leash_breaker_events WHERE action = ");
        q.text(action).push(" AND signature = ").text(signature).push(" AND at >= ").text(since).push(" ORDER BY seq");
        self.all(q).await?.iter().map(|r| text_at(r, 0)).collect()
    }

    async fn clear_breaker(&mut self, action: &str, signature: &str) -> Result<()> {
        let mut q = self.q("DELETE FROM leash_breaker_events WHERE action = ");
        q.text(action).push(" AND signature = ").text(signature);
        self.exec(q).await?;
        Ok(())
    }

    async fn revoke_token(&mut self, name: &str, at: &str) -> Result<bool> {
        let mut q = self.q("UPDATE leash_tokens SET revoked_at = ");
        q.text(at).push(" WHERE name = ").text(name).push(" AND revoked_at IS NULL");
        Ok(self.exec(q).await? == 1)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let mut this = self;
        if this.failed {
            return Err(StoreError::Database("a statement of this transaction failed; it was rolled back".into()));
        }
        let Some((writer, _)) = this.group.clone() else {
            let r = <Any as sqlx::Database>::TransactionManager::commit(&mut this.conn).await;
            this.check(r, false)?;
            this.open = false;
            return Ok(());
        };
        // The work stays in the group's transaction (a member's savepoint is
        // never released); only the group's COMMIT ends it.
        this.open = false;
        let WriteConn::Writer(state) = &mut this.conn else {
            return Err(StoreError::Database("a grouped transaction off SQLite's writer".into()));
        };
        match writer.defer(state) {
            Some(answer) => {
                drop(this);
                writer.await_group(answer).await
            }
            None => writer.finish(state).await,
        }
    }
}

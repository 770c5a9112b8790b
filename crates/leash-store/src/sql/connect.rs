//! Connections: the pool, SQLite's one writer, what each new connection
//! sets, reads that survive a dropped connection, and migrations.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, TransactionManager};

use super::errors::connection_lost;
use super::query::Query;
use crate::dialect::Dialect;
use crate::session::*;
use crate::writer::{Writer, WriterGuard};
use crate::{Result, StoreError};

pub struct SqlStore {
    /// Reads outside a transaction, and writes on PostgreSQL and MySQL.
    pool: AnyPool,
    /// SQLite's one write connection in this process (see `writer.rs`).
    pub(super) writer: Option<Arc<Writer>>,
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

/// `AnyArguments` is not `Clone`; its values are.
fn copy_args(args: &AnyArguments<'static>) -> AnyArguments<'static> {
    let mut copy = AnyArguments::default();
    copy.values.0.clone_from(&args.values.0);
    copy
}

impl SqlStore {
    pub async fn connect(url: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_string()))?;
        let url = dialect.driver_url(url);
        let pool = AnyPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(Duration::from_millis(BUSY_TIMEOUT_MS * 3))
            // A local file cannot drop the connection; a server can.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if dialect.is_server() && meta.idle_for >= Duration::from_millis(POOL_PING_AFTER_IDLE_MS) {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| Box::pin(async move { prepare_connection(conn, dialect).await }))
            .connect(&url)
            .await?;
        let writer = if dialect.has_single_writer() {
            let writer = Arc::new(Writer::open(&url, dialect).await?);
            spawn_checkpointer(pool.clone(), Arc::downgrade(&writer.writes));
            Some(writer)
        } else {
            None
        };
        Ok(SqlStore { pool, writer, dialect })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    #[cfg(feature = "scaffolding")]
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(super) fn q(&self, sql: &str) -> Query {
        Query::new(self.dialect, sql)
    }

    /// The connection writes go through: SQLite's one writer, or one from the pool.
    pub(super) async fn writable(&self) -> Result<WriteConn> {
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

    /// One statement that writes, outside a transaction.
    pub(super) async fn execute_write(&self, q: Query) -> Result<u64> {
        let (sql, args) = q.build();
        let mut conn = self.writable().await?;
        Ok(sqlx::query_with(&sql, args).execute(&mut *conn).await?.rows_affected())
    }

    /// A read on the pool. A connection the server dropped while it sat in
    /// the pool fails the read before anything ran (sqlx then closes it);
    /// reads change nothing, so it is run again on another.
    pub(super) async fn fetch_all(&self, q: Query) -> Result<Vec<AnyRow>> {
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
    pub(super) async fn fetch_optional(&self, q: Query) -> Result<Option<AnyRow>> {
        Ok(self.fetch_all(q).await?.into_iter().next())
    }

    /// Creates or upgrades every `leash_*` table, one migrator at a time
    /// across processes.
    pub(super) async fn migrate_all(&self) -> Result<()> {
        self.migrate_up_to(i64::MAX).await
    }

    /// Applies the migrations up to `version`: a test builds the database an
    /// older release left, then upgrades it.
    pub async fn migrate_up_to(&self, version: i64) -> Result<()> {
        let mut conn = self.writable().await?;
        for statement in self.dialect.migration_lock() {
            conn.execute(*statement).await?;
        }
        let result = self.apply_migrations(&mut conn, version).await;
        conn.execute(self.dialect.migration_unlock(result.is_ok())).await?;
        result
    }

    async fn apply_migrations(&self, conn: &mut AnyConnection, up_to: i64) -> Result<()> {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS leash_migrations (version BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at VARCHAR(32) NOT NULL)",
        )
        .await?;
        // Every version not yet recorded, in order: a branch's migration that
        // lands after a later one is still applied.
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM leash_migrations").fetch_all(&mut *conn).await?;
        let mut todo: Vec<_> = self
            .dialect()
            .migrations()
            .iter()
            .filter(|m| m.version <= up_to && !applied.contains(&m.version))
            .collect();
        todo.sort_by_key(|m| m.version);
        for m in todo {
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
}

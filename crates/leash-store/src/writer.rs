//! SQLite's one write connection per process, and group commit on it.
//!
//! SQLite has one writer per database, so writers queue for this connection
//! (fairly) instead of sleeping in SQLite's busy handler, and its page cache
//! stays valid from one write to the next. Other processes still meet the
//! busy timeout.
//!
//! Group commit: a call's transaction (`lock_for_group`) that finishes while
//! others queue does not commit. It leaves its work in the open transaction
//! and waits; the next call runs inside a savepoint of that transaction, and
//! the last call of the group (nobody queued, or `SQLITE_GROUP_CALLS_MAX`
//! reached) commits for all. Every call of the group is answered with that
//! one commit's result, so a caller never hears "committed" for work that
//! was not. A statement error anywhere poisons the group: the connection is
//! replaced (closing it rolls back) and every deferred call gets an error.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, AnyConnection, Connection, TransactionManager};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use crate::dialect::Dialect;
use crate::sql::{prepare_connection, BUSY_TIMEOUT_MS};
use crate::{Result, StoreError};

/// Calls sharing one commit at most; bounds how long the first waits.
pub const SQLITE_GROUP_CALLS_MAX: usize = 16;
/// A deferred call finishes the group itself after this long without an
/// answer (the call that should have finished it went away).
pub const SQLITE_GROUP_WAIT_MS: u64 = 100;

type GroupResult = std::result::Result<(), String>;

pub(crate) struct Writer {
    state: Arc<Mutex<WriterState>>,
    /// Tasks waiting for `state`: a finishing call joins them to its group.
    waiting: AtomicUsize,
    /// Write transactions begun; the background checkpointer's cue.
    pub(crate) writes: Arc<AtomicU64>,
    url: String,
}

pub(crate) struct WriterState {
    pub(crate) conn: AnyConnection,
    /// Calls whose work sits in the open transaction, waiting for its commit.
    deferred: Vec<oneshot::Sender<GroupResult>>,
    /// A statement failed in the open transaction: it must not commit.
    poisoned: bool,
}

pub(crate) type WriterGuard = OwnedMutexGuard<WriterState>;

/// Where a transaction stands in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Began the transaction (`BEGIN IMMEDIATE`).
    Leader,
    /// Runs in a savepoint of a transaction earlier calls left open.
    Member,
}

async fn connect(url: &str) -> Result<AnyConnection> {
    let mut conn = AnyConnection::connect(url).await?;
    prepare_connection(&mut conn, Dialect::Sqlite).await?;
    Ok(conn)
}

impl Writer {
    pub(crate) async fn open(url: &str) -> Result<Writer> {
        let state = WriterState { conn: connect(url).await?, deferred: Vec::new(), poisoned: false };
        Ok(Writer {
            state: Arc::new(Mutex::new(state)),
            waiting: AtomicUsize::new(0),
            writes: Arc::new(AtomicU64::new(0)),
            url: url.to_string(),
        })
    }

    /// The connection, bounded like the pool's acquire: a writer stuck
    /// behind a transaction that never ends gets an error, not a hang.
    async fn acquire(&self) -> Result<WriterGuard> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(&self.waiting);
        let guard = tokio::time::timeout(Duration::from_millis(BUSY_TIMEOUT_MS * 3), self.state.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Database("timed out waiting for this process's SQLite writer; retry".into()))?;
        drop(waiting);
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(guard)
    }

    /// For work that commits on its own: an open group is finished first.
    pub(crate) async fn lock(&self) -> Result<WriterGuard> {
        let mut guard = self.acquire().await?;
        if guard.group_open() {
            // The group's own calls hear how it ended; this one starts afresh.
            let _ = guard.finish(&self.url).await;
        }
        Ok(guard)
    }

    /// For a call that may share the open group's commit: its transaction
    /// is begun (or a savepoint taken) before it is returned.
    pub(crate) async fn lock_for_group(&self) -> Result<(WriterGuard, Role)> {
        let mut guard = self.acquire().await?;
        if guard.poisoned {
            let _ = guard.finish(&self.url).await;
        }
        let role = if guard.deferred.is_empty() { Role::Leader } else { Role::Member };
        let begin = match role {
            Role::Leader => Some(Dialect::Sqlite.begin_write().into()),
            // sqlx takes a savepoint when a transaction is open.
            Role::Member => None,
        };
        if let Err(e) = <Any as sqlx::Database>::TransactionManager::begin(&mut guard.conn, begin).await {
            guard.poisoned = true;
            return Err(e.into());
        }
        Ok((guard, role))
    }

    /// Leaves a committed call's work to its group when others queue (the
    /// caller then drops the guard and awaits the answer); `None`: nobody
    /// queues, and the caller must finish the group itself.
    pub(crate) fn defer(&self, guard: &mut WriterGuard) -> Option<oneshot::Receiver<GroupResult>> {
        if self.waiting.load(Ordering::SeqCst) == 0 || guard.deferred.len() + 1 >= SQLITE_GROUP_CALLS_MAX {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        guard.deferred.push(tx);
        Some(rx)
    }

    /// Waits for the group's commit; finishes it here if nobody else does.
    pub(crate) async fn await_group(&self, mut rx: oneshot::Receiver<GroupResult>) -> Result<()> {
        let answer = match tokio::time::timeout(Duration::from_millis(SQLITE_GROUP_WAIT_MS), &mut rx).await {
            Ok(answer) => answer.ok(),
            Err(_) => {
                let mut guard = self.acquire().await?;
                match rx.try_recv() {
                    Ok(answer) => Some(answer),
                    Err(_) => {
                        let _ = guard.finish(&self.url).await;
                        rx.try_recv().ok()
                    }
                }
            }
        };
        match answer {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(StoreError::Database(format!("the shared commit failed, nothing was written: {e}"))),
            None => Err(StoreError::Database("this write's group was abandoned; nothing was written".into())),
        }
    }

    /// Commits the group the caller ends (its own work included).
    pub(crate) async fn finish(&self, guard: &mut WriterGuard) -> Result<()> {
        guard.finish(&self.url).await
    }

    /// A call of a group went away without committing: make sure the group
    /// is finished even if nobody queues behind it.
    pub(crate) fn finish_later(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let writer = self.clone();
        rt.spawn(async move {
            if let Ok(mut guard) = writer.acquire().await {
                if guard.group_open() {
                    let _ = guard.finish(&writer.url).await;
                }
            }
        });
    }
}

impl WriterState {
    pub(crate) fn group_open(&self) -> bool {
        !self.deferred.is_empty() || self.poisoned
    }

    /// Commits the open transaction (or, poisoned, throws it away with the
    /// connection) and answers every deferred call with the result.
    async fn finish(&mut self, url: &str) -> Result<()> {
        let result: GroupResult = if self.poisoned {
            // Whatever state the failed statement left, a new connection
            // starts clean; closing the old one rolls its transaction back.
            match connect(url).await {
                Ok(conn) => {
                    self.conn = conn;
                    self.poisoned = false;
                }
                Err(e) => tracing::error!(error = %e, "cannot reopen the SQLite writer"),
            }
            Err("a statement in the shared transaction failed".into())
        } else {
            let committed =
                <Any as sqlx::Database>::TransactionManager::commit(&mut self.conn).await.map_err(|e| e.to_string());
            // A failed COMMIT may leave the transaction open: start clean.
            self.poisoned = committed.is_err();
            committed
        };
        if result.is_err() && !self.deferred.is_empty() {
            tracing::warn!(calls = self.deferred.len(), error = ?result, "a group of SQLite writes did not commit");
        }
        for tx in self.deferred.drain(..) {
            let _ = tx.send(result.clone());
        }
        result.map_err(StoreError::Database)
    }

    pub(crate) fn poison(&mut self) {
        self.poisoned = true;
    }
}

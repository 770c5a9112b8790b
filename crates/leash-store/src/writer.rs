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
//! was not. A statement error that may have ended the transaction poisons
//! the group: the connection is replaced (closing it rolls back) and every
//! deferred call gets an error.
//!
//! Each hand-off to sqlx's SQLite worker thread costs two thread wake-ups,
//! the largest CPU cost of a write on a small VM, so a grouped transaction is
//! begun without one: `BEGIN IMMEDIATE` (or the member's `SAVEPOINT`) goes in
//! front of the call's first statement, a member never releases its
//! savepoint (the group's COMMIT ends them all), and a call that goes away
//! leaves its undo for whoever takes the connection next. These statements
//! bypass sqlx's transaction manager, which therefore sees no transaction;
//! transactions begun through it (`lock`) never overlap a group's.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyConnection, Connection, Executor};
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use crate::dialect::Dialect;
use crate::session::{prepare_connection, BUSY_TIMEOUT_MS};
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
    /// What a replaced connection opens.
    target: Target,
}

/// The database the writer's connection opens, and its dialect's session.
struct Target {
    url: String,
    dialect: Dialect,
}

pub(crate) struct WriterState {
    pub(crate) conn: AnyConnection,
    /// Calls whose work sits in the open transaction, waiting for its commit.
    deferred: Vec<oneshot::Sender<GroupResult>>,
    /// A statement failed in the open transaction: it must not commit.
    poisoned: bool,
    /// A group's transaction is open on `conn`.
    in_group: bool,
    /// What a call that went away left undone; runs before anything else.
    undo: Option<&'static str>,
}

pub(crate) type WriterGuard = OwnedMutexGuard<WriterState>;

/// Where a transaction stands in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupRole {
    /// Began the transaction (`BEGIN IMMEDIATE`).
    Leader,
    /// Runs in a savepoint of a transaction earlier calls left open.
    Member,
}

impl GroupRole {
    /// Goes in front of the call's first statement.
    pub(crate) fn begin(self) -> &'static str {
        match self {
            GroupRole::Leader => "BEGIN IMMEDIATE; ",
            GroupRole::Member => "SAVEPOINT leash_call; ",
        }
    }

    /// Undoes the call's work, and only its work: a member's savepoint is
    /// the newest of that name, because members run one after another.
    fn undo(self) -> &'static str {
        match self {
            GroupRole::Leader => "ROLLBACK",
            GroupRole::Member => "ROLLBACK TO leash_call",
        }
    }
}

async fn connect(target: &Target) -> Result<AnyConnection> {
    let mut conn = AnyConnection::connect(&target.url).await?;
    prepare_connection(&mut conn, target.dialect).await?;
    Ok(conn)
}

impl Writer {
    /// The writer of the store at `url` (SQLite's, whose dialect has a
    /// single writer).
    pub(crate) async fn open(url: &str, dialect: Dialect) -> Result<Writer> {
        let target = Target { url: url.to_string(), dialect };
        let state = WriterState {
            conn: connect(&target).await?,
            deferred: Vec::new(),
            poisoned: false,
            in_group: false,
            undo: None,
        };
        Ok(Writer {
            state: Arc::new(Mutex::new(state)),
            waiting: AtomicUsize::new(0),
            writes: Arc::new(AtomicU64::new(0)),
            target,
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
        let mut guard = guard;
        if let Some(undo) = guard.undo.take() {
            if let Err(e) = guard.conn.execute(undo).await {
                tracing::warn!(error = %e, "undoing a call that went away failed; the group is abandoned");
                guard.poisoned = true;
            }
        }
        Ok(guard)
    }

    /// For work that commits on its own: an open group is finished first.
    pub(crate) async fn lock(&self) -> Result<WriterGuard> {
        let mut guard = self.acquire().await?;
        if guard.group_open() {
            // The group's own calls hear how it ended; this one starts afresh.
            let _ = guard.finish(&self.target).await;
        }
        Ok(guard)
    }

    /// For a call that may share the open group's commit. Nothing runs
    /// yet: the transaction (or savepoint) begins with the call's first
    /// statement (`GroupRole::begin`).
    pub(crate) async fn lock_for_group(&self) -> Result<(WriterGuard, GroupRole)> {
        let mut guard = self.acquire().await?;
        if guard.poisoned {
            let _ = guard.finish(&self.target).await;
        }
        let role = if guard.in_group { GroupRole::Member } else { GroupRole::Leader };
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
                        let _ = guard.finish(&self.target).await;
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
        guard.finish(&self.target).await
    }

    /// A call of a group went away without committing: make sure the group
    /// is finished even if nobody queues behind it.
    pub(crate) fn finish_later(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let writer = self.clone();
        rt.spawn(async move {
            if let Ok(mut guard) = writer.acquire().await {
                if guard.group_open() {
                    let _ = guard.finish(&writer.target).await;
                }
            }
        });
    }
}

impl WriterState {
    pub(crate) fn group_open(&self) -> bool {
        self.in_group || self.poisoned || self.undo.is_some() || !self.deferred.is_empty()
    }

    /// The call's first statement (with `role.begin()` in front) is about to
    /// run: from here its work is in the group's transaction.
    pub(crate) fn begun(&mut self, role: GroupRole) {
        // The role was read from `in_group` under this same lock.
        debug_assert_eq!(self.in_group, role == GroupRole::Member, "{role:?} began with in_group = {}", self.in_group);
        if role == GroupRole::Leader {
            self.in_group = true;
        }
    }

    /// A call that began went away without committing.
    pub(crate) fn leave_undo(&mut self, role: GroupRole) {
        self.undo = Some(role.undo());
        if role == GroupRole::Leader {
            self.in_group = false;
        }
    }

    /// Commits the open transaction (or, poisoned, throws it away with the
    /// connection) and answers every deferred call with the result.
    async fn finish(&mut self, target: &Target) -> Result<()> {
        if let Some(undo) = self.undo.take() {
            self.poisoned |= self.conn.execute(undo).await.is_err();
        }
        let result: GroupResult = if self.poisoned {
            // Whatever state the failed statement left, a new connection
            // starts clean; closing the old one rolls its transaction back.
            match connect(target).await {
                Ok(conn) => {
                    self.conn = conn;
                    self.poisoned = false;
                    self.in_group = false;
                }
                Err(e) => tracing::error!(error = %e, "cannot reopen the SQLite writer"),
            }
            Err("a statement in the shared transaction failed".into())
        } else if self.in_group {
            let committed = self.conn.execute("COMMIT").await.map(drop).map_err(|e| e.to_string());
            self.in_group = false;
            // A failed COMMIT may leave the transaction open: start clean.
            self.poisoned = committed.is_err();
            committed
        } else {
            Ok(())
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

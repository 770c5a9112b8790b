//! What every connection of a store shares: its limits and what a new
//! connection sets before first use. SQLite's writer (`writer.rs`) and the
//! pool (`sql/connect.rs`) both open connections this way.

use sqlx::{AnyConnection, Executor};

use crate::dialect::Dialect;

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

pub(crate) async fn prepare_connection(
    conn: &mut AnyConnection,
    dialect: Dialect,
) -> std::result::Result<(), sqlx::Error> {
    for statement in dialect.session_setup(BUSY_TIMEOUT_MS, SQLITE_WAL_CHECKPOINT_PAGES) {
        conn.execute(statement.as_str()).await?;
    }
    Ok(())
}

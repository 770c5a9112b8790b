//! A database of its own for a test or a benchmark run: a temporary SQLite
//! file, a fresh PostgreSQL schema, or a fresh MySQL database on a given
//! server, dropped when the value is.

use crate::{Dialect, Result, StoreError};

pub struct ScratchDb {
    pub dialect: Dialect,
    /// The URL to open: it points into the fresh schema or database.
    pub url: String,
    cleanup: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl ScratchDb {
    /// `server` is ignored for SQLite; for PostgreSQL and MySQL it is the
    /// server (and database) in which the scratch schema or database is made.
    pub async fn create(dialect: Dialect, server: &str, prefix: &str) -> Result<ScratchDb> {
        let name = format!("{prefix}_{}", ulid_like());
        let Some(space) = dialect.scratch_space(server, &name) else {
            let dir = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
            let url = format!("sqlite://{}", dir.join("scratch.db").display());
            return Ok(ScratchDb { dialect, url, cleanup: None, dir: Some(dir) });
        };
        crate::open(server).await?.execute_script(&[&space.create]).await?;
        Ok(ScratchDb { dialect, url: space.url, cleanup: Some((server.to_string(), space.drop)), dir: None })
    }
}

/// Unique enough for names made within one machine: time and a counter.
fn ulid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}{:x}{:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let Some((server, statement)) = self.cleanup.take() else { return };
        // Drop may run inside a runtime; clean up from a thread of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(admin) = crate::open(&server).await {
                    let _ = admin.execute_script(&[statement.as_str()]).await;
                }
            });
        })
        .join();
    }
}

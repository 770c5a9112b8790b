//! Test support shared by every crate's tests: a database of its own for one
//! test (a SQLite file, a PostgreSQL schema, a MySQL database), dropped with
//! the test, and the macro that runs a test on every store.
//!
//! A store whose URL is not set is skipped with a message, except under
//! `CI=true`, where it is a failure: CI must test every store.

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    Mysql,
}

/// The server URL for a store, or `None` (a skip) when it is not configured.
pub fn server_url(kind: Kind) -> Option<String> {
    let var = match kind {
        Kind::Sqlite => return Some(String::new()),
        Kind::Postgres => "LEASH_TEST_POSTGRES_URL",
        Kind::Mysql => "LEASH_TEST_MYSQL_URL",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("{var} is not set; CI must run every store"),
        _ => {
            eprintln!("skipped: {var} is not set, so the {kind:?} store is not tested here");
            None
        }
    }
}

/// A fresh, empty database; dropping it drops the schema or database.
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, statement)) = self.cleanup.take() else { return };
        // Drop runs inside the test's runtime; clean up from a thread of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(admin) = leash_store::open(&admin_url).await {
                    let _ = admin.execute_script(&[statement.as_str()]).await;
                }
            });
        })
        .join();
    }
}

pub async fn fresh_database(kind: Kind) -> Option<TestDb> {
    let admin_url = server_url(kind)?;
    let name = format!("leash_t_{}", ulid::Ulid::new().to_string().to_lowercase());
    let admin = |url: String| async move {
        match leash_store::open(&url).await {
            Ok(a) => a,
            Err(e) => panic!("{kind:?} test server at {url} unreachable: {e}"),
        }
    };
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            Some(TestDb { kind, url, cleanup: None, _dir: Some(dir) })
        }
        Kind::Postgres => {
            admin(admin_url.clone())
                .await
                .execute_script(&[&format!("CREATE SCHEMA {name}")])
                .await
                .expect("create schema");
            let sep = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{sep}options=-c%20search_path%3D{name}");
            Some(TestDb { kind, url, cleanup: Some((admin_url, format!("DROP SCHEMA {name} CASCADE"))), _dir: None })
        }
        Kind::Mysql => {
            admin(admin_url.clone())
                .await
                .execute_script(&[&format!("CREATE DATABASE {name}")])
                .await
                .expect("create database");
            let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or_else(|| admin_url.clone());
            let url = format!("{base}/{name}");
            Some(TestDb { kind, url, cleanup: Some((admin_url, format!("DROP DATABASE {name}"))), _dir: None })
        }
    }
}

/// `INTEGER PRIMARY KEY` that the database fills in, per store.
pub fn serial(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Kind::Postgres => "BIGSERIAL PRIMARY KEY",
        Kind::Mysql => "BIGINT AUTO_INCREMENT PRIMARY KEY",
    }
}

/// Runs each named `async fn(Kind)` test on SQLite, PostgreSQL and MySQL.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { super::$name($crate::Kind::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { super::$name($crate::Kind::Postgres).await } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { super::$name($crate::Kind::Mysql).await } )*
        }
    };
}

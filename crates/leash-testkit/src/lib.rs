//! Test support shared by every crate's tests: a database of its own for one
//! test (a SQLite file, a PostgreSQL schema, a MySQL database), dropped with
//! the test, and the macro that runs a test on every store.
//!
//! A store whose URL is not set is skipped with a message, except under
//! `CI=true`, where it is a failure: CI must test every store.

pub mod secrets;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    Mysql,
}

/// Where a store's test server is looked for when its variable is unset:
/// the local servers this project's machines and CI run.
pub const POSTGRES_DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const MYSQL_DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// How long to wait for a local default server to accept a connection.
const PROBE_TIMEOUT_MS: u64 = 300;

/// The server URL for a store, or `None` (a skip) when it is not
/// configured and no local server answers at its default address.
pub fn server_url(kind: Kind) -> Option<String> {
    let (var, default, port) = match kind {
        Kind::Sqlite => return Some(String::new()),
        Kind::Postgres => ("LEASH_TEST_POSTGRES_URL", POSTGRES_DEFAULT_URL, 5432),
        Kind::Mysql => ("LEASH_TEST_MYSQL_URL", MYSQL_DEFAULT_URL, 3306),
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if local_server_answers(port) => Some(default.to_string()),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{var} is not set and nothing answers at {default}; CI must run every store")
        }
        _ => {
            eprintln!(
                "skipped: {var} is not set and nothing answers at {default}, so the {kind:?} store is not tested here"
            );
            None
        }
    }
}

/// Whether something accepts connections on this loopback port (asked once
/// per port per test process).
fn local_server_answers(port: u16) -> bool {
    static SEEN: std::sync::Mutex<Vec<(u16, bool)>> = std::sync::Mutex::new(Vec::new());
    let mut seen = match SEEN.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some((_, up)) = seen.iter().find(|(p, _)| *p == port) {
        return *up;
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let up = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(PROBE_TIMEOUT_MS)).is_ok();
    seen.push((port, up));
    up
}

/// A fresh, empty database; dropping it drops the schema or database.
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    _scratch: leash_store::scratch::ScratchDb,
}

pub async fn fresh_database(kind: Kind) -> Option<TestDb> {
    let server = server_url(kind)?;
    let dialect = match kind {
        Kind::Sqlite => leash_store::Dialect::Sqlite,
        Kind::Postgres => leash_store::Dialect::Postgres,
        Kind::Mysql => leash_store::Dialect::Mysql,
    };
    match leash_store::scratch::ScratchDb::create(dialect, &server, "leash_t").await {
        Ok(scratch) => Some(TestDb { kind, url: scratch.url.clone(), _scratch: scratch }),
        Err(e) => panic!("{kind:?} test server at {server} unreachable: {e}"),
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

//! Test support shared by every crate's tests: a database of its own for one
//! test (a SQLite file, a PostgreSQL schema, a MySQL database), dropped with
//! the test; the macro that runs a test on every store; and the fixtures the
//! suites share — the small shop (`shop`), the shop whose rows hold secrets
//! (`secrets`), and the Python interpreter of the cross-checks (`python`).
//!
//! A store whose URL is not set is skipped with a message, except under
//! `CI=true`, where it is a failure: CI must test every store.

pub mod chinook;
pub mod python;
pub mod secrets;
pub mod shop;

/// Which store a test runs on: the store's own `Dialect`, named for
/// what a test does with it (picks one).
pub use leash_store::Dialect as Kind;

/// How long to wait for a local default server to accept a connection.
const PROBE_TIMEOUT_MS: u64 = 300;

/// The server URL for a store: `LEASH_TEST_POSTGRES_URL` or
/// `LEASH_TEST_MYSQL_URL`, else the local server this project's machines
/// and CI run (`Dialect::local_server`) when it answers, else `None` (a
/// skip). SQLite needs no server: the empty string.
pub fn server_url(kind: Kind) -> Option<String> {
    let Some(local) = kind.local_server() else { return Some(String::new()) };
    let var = format!("LEASH_TEST_{}_URL", kind.name().to_ascii_uppercase());
    let default = local.url;
    match std::env::var(&var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if local_server_answers(local.port) => Some(default.to_string()),
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
    match leash_store::scratch::ScratchDb::create(kind, &server, "leash_t").await {
        Ok(scratch) => Some(TestDb { kind, url: scratch.url.clone(), _scratch: scratch }),
        Err(e) => panic!("{kind:?} test server at {server} unreachable: {e}"),
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

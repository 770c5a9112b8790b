//! The SQL differences between stores, in one place: every `Dialect::`
//! match lives in this file, each behind a method named for what it does
//! (`tests/dialect_home.rs` fails on a variant named anywhere else).

use leash_core::value::{ColumnType, Value};

use crate::migrations::{self, Migration};
use crate::Column;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

/// How the compare-and-set UPDATE and its journal INSERT reach the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteShape {
    /// One statement: `WITH cas AS (UPDATE … RETURNING) INSERT … SELECT FROM cas`
    /// (PostgreSQL).
    Cte,
    /// Two statements in one call, the INSERT guarded by `changes() = 1` (SQLite).
    Pair,
    /// Separate statements (MySQL has neither data-modifying CTEs nor
    /// multi-statement prepared queries).
    Separate,
}

/// Where a store describes its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Catalogue {
    /// SQLite's `pragma_table_xinfo` and friends.
    Pragmas,
    /// PostgreSQL's `pg_attribute`, `pg_type`, `pg_enum`, `pg_index`.
    PgCatalog,
    /// MySQL's and MariaDB's `information_schema`.
    InformationSchema,
}

/// How a bound value travels to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// As text; the database parses it into the column's type.
    Text,
    /// As the native SQLite value (integer, real, text).
    Native,
}

/// A database of its own made inside a server for a test or a benchmark
/// run (`scratch.rs`): the statement that makes it, the URL that opens it,
/// and the statement that drops it with everything in it.
#[cfg(feature = "scaffolding")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScratchSpace {
    pub create: String,
    pub url: String,
    pub drop: String,
}

/// Where a store's server listens on this project's machines and in CI
/// (tests and the bench use it when no URL is given).
#[cfg(feature = "scaffolding")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalServer {
    pub url: &'static str,
    pub port: u16,
}

impl Dialect {
    /// The store of `leash test`'s throw-away copies (`copy.rs`): a SQLite
    /// file per case, whatever store the policy's database is.
    pub(crate) const COPIES: Dialect = Dialect::Sqlite;

    pub fn from_url(url: &str) -> Option<Dialect> {
        Dialect::from_name(url.split_once(':')?.0)
    }

    /// A store by the name a URL's scheme or `--store` gives it.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Some(match name {
            "sqlite" => Dialect::Sqlite,
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::Mysql,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// The DDL of an integer primary key the database fills in, for a
    /// table's `id` column (`CREATE TABLE notes (id {serial_key}, …)`).
    /// SQLite's is its rowid, which a row deleted at the end may give out
    /// again: AUTOINCREMENT would rule that out at the cost of a write to
    /// `sqlite_sequence` per insert (see the journal's migration v4).
    pub fn serial_key(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INTEGER PRIMARY KEY",
            Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
            Dialect::Mysql => "BIGINT AUTO_INCREMENT PRIMARY KEY",
        }
    }

    /// Every migration of the `leash_*` tables on this store, in version order.
    pub(crate) fn migrations(self) -> &'static [Migration] {
        match self {
            Dialect::Sqlite => migrations::SQLITE,
            Dialect::Postgres => migrations::POSTGRES,
            Dialect::Mysql => migrations::MYSQL,
        }
    }

    /// The version the migration called `name` has on this store (each
    /// store numbers its own), for a test that builds the database an older
    /// release left (`SqlStore::migrate_up_to`).
    #[cfg(feature = "scaffolding")]
    pub fn migration_version(self, name: &str) -> Option<i64> {
        self.migrations().iter().find(|m| m.name == name).map(|m| m.version)
    }

    /// Quotes an identifier. Identifiers come only from a checked policy
    /// (`[A-Za-z_][A-Za-z0-9_]*`), so quoting is belt and braces; it also
    /// keeps mixed case as written.
    pub fn quote(self, ident: &str) -> String {
        debug_assert!(leash_core::policy::is_identifier(ident), "unchecked identifier {ident:?}");
        match self {
            Dialect::Mysql => format!("`{ident}`"),
            _ => format!("\"{ident}\""),
        }
    }

    /// A table name, schema-qualified or not (`crm.customers`), quoted part by part.
    pub fn quote_table(self, table: &str) -> String {
        table.split('.').map(|part| self.quote(part)).collect::<Vec<_>>().join(".")
    }

    /// The n-th (1-based) bound parameter.
    pub fn param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    }

    pub(crate) fn binding(self) -> Binding {
        match self {
            Dialect::Sqlite => Binding::Native,
            _ => Binding::Text,
        }
    }

    pub(crate) fn write_shape(self) -> WriteShape {
        match self {
            Dialect::Postgres => WriteShape::Cte,
            Dialect::Sqlite => WriteShape::Pair,
            Dialect::Mysql => WriteShape::Separate,
        }
    }

    /// `UPDATE … FROM (VALUES …)` (MySQL has none: it uses a CASE per field).
    pub(crate) fn updates_from_values(self) -> bool {
        self != Dialect::Mysql
    }

    /// Whether an UPDATE's or INSERT's RETURNING shows the row as triggers
    /// left it (PostgreSQL's BEFORE triggers rewrite the row itself;
    /// SQLite's triggers run other statements afterwards).
    pub(crate) fn returning_sees_triggers(self) -> bool {
        self == Dialect::Postgres
    }

    /// Whether a store's locking read can also read the chain head and the
    /// pause flag in the same statement (MySQL: what a subquery of a
    /// locking read sees after a lock wait is not pinned down).
    pub(crate) fn locks_and_reads_in_one(self) -> bool {
        self != Dialect::Mysql
    }

    /// The n-th parameter as a value for `col`: PostgreSQL casts the text to
    /// the column's type (one path for enums, domains, uuid, json, arrays…);
    /// MySQL converts on assignment; SQLite stores what it is given.
    pub(crate) fn value_param(self, n: usize, col: &Column) -> String {
        let p = self.param(n);
        match (self, &col.cast_as) {
            (Dialect::Postgres, Some(ty)) => format!("CAST({p} AS {ty})"),
            _ => p,
        }
    }

    /// Whether the database can say, before writing, what it would store
    /// for a value (PostgreSQL: cast to the declared type and print).
    /// Elsewhere the value is as given until it is written and read back.
    pub(crate) fn predicts_stored_text(self) -> bool {
        self == Dialect::Postgres
    }

    /// What the database would store for parameter n in `col`, as text.
    pub(crate) fn predicted_text(self, n: usize, col: &Column) -> String {
        format!("CAST(CAST({} AS {}) AS TEXT)", self.value_param(n, col), col.declared)
    }

    /// A value as a store that cannot predict will store it, as far as leash
    /// knows (MySQL: an ISO time with a zone, in UTC).
    pub(crate) fn predicted_locally(self, value: &Value, col: &Column) -> Value {
        match (self, value) {
            (Dialect::Mysql, Value::String(s)) if col.ty == ColumnType::Timestamp => {
                mysql_datetime(s).map(Value::String).unwrap_or_else(|| value.clone())
            }
            _ => value.clone(),
        }
    }

    /// A column as a SELECT expression: the database's own text of the
    /// value (PostgreSQL, MySQL), or SQLite's stored value as it is.
    pub(crate) fn read_expr(self, col: &Column) -> String {
        let q = self.quote(&col.name);
        format!("{} AS {q}", self.text_of(&q, col))
    }

    /// The text of a column's value, for reads and comparisons. Binary
    /// values are read as hex: they are shown, never written.
    pub(crate) fn text_of(self, quoted: &str, col: &Column) -> String {
        match self {
            Dialect::Postgres => format!("CAST({quoted} AS TEXT)"),
            Dialect::Mysql if col.binary => format!("HEX({quoted})"),
            Dialect::Mysql => format!("CAST({quoted} AS CHAR)"),
            // Unary plus keeps the stored value but drops the declared type
            // (BOOLEAN, DATE, …) that the generic driver cannot map.
            Dialect::Sqlite => format!("+{quoted}"),
        }
    }

    /// `column still holds the value bound at n`, NULL equal to NULL,
    /// compared as exactly the text that was read (byte for byte on MySQL,
    /// whose default collations fold case).
    pub(crate) fn still_holds(self, quoted: &str, col: &Column, n: usize) -> String {
        let p = self.param(n);
        match self {
            Dialect::Postgres => format!("CAST({quoted} AS TEXT) IS NOT DISTINCT FROM {p}"),
            Dialect::Mysql => {
                format!("CAST({} AS BINARY) <=> CAST({p} AS BINARY)", self.text_of(quoted, col))
            }
            Dialect::Sqlite => format!("{quoted} IS {p}"),
        }
    }

    /// `a` equals `b`, with NULL equal to NULL.
    pub fn null_safe_eq(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{a} IS {b}"),
            Dialect::Postgres => format!("{a} IS NOT DISTINCT FROM {b}"),
            Dialect::Mysql => format!("{a} <=> {b}"),
        }
    }

    /// How a write transaction starts. SQLite takes the write lock up front so
    /// two writers never deadlock on upgrade.
    pub fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Dialect::Mysql => "BEGIN",
        }
    }

    /// The locking clause of a SELECT that reads rows it will write.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            _ => " FOR UPDATE",
        }
    }

    /// The locking clause when the SELECT also reads other tables: only the
    /// record's row is locked. PostgreSQL names the table unqualified.
    pub(crate) fn for_update_of(self, table: &str) -> String {
        let name = table.rsplit('.').next().unwrap_or(table);
        match self {
            Dialect::Postgres => format!(" FOR UPDATE OF {}", self.quote(name)),
            _ => self.for_update().to_string(),
        }
    }

    /// Columns packed by the database into one JSON array, as text: the
    /// generic driver's cost is per column of every row.
    pub(crate) fn json_array_text(self, columns: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_array({columns})"),
            Dialect::Postgres => format!("json_build_array({columns})::text"),
            Dialect::Mysql => format!("CAST(JSON_ARRAY({columns}) AS CHAR)"),
        }
    }

    /// How a list of keys becomes the derived table `k(k)`: what opens the
    /// list, goes between two keys, and closes it. PostgreSQL plans a
    /// 500-way UNION ALL in ~75 ms (a VALUES list in 1); MariaDB cannot name
    /// a VALUES list's column.
    pub(crate) fn keys_table(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Dialect::Postgres => ("(VALUES (", "), (", ")) AS k (k)"),
            Dialect::Sqlite => ("(SELECT column1 AS k FROM (VALUES (", "), (", "))) AS k"),
            Dialect::Mysql => ("(SELECT ", " AS k UNION ALL SELECT ", " AS k) AS k"),
        }
    }

    /// Whether `(a, b) > (x, y)` starts an index scan at the cursor. MySQL's
    /// range optimizer does that for the `a > x OR (a = x AND b > y)` form
    /// instead; PostgreSQL would filter that form row by row.
    pub(crate) fn seeks_row_comparisons(self) -> bool {
        self != Dialect::Mysql
    }

    /// How `Store::journal_plans` asks for a plan (`sql/plans.rs`): the
    /// prefix; the statements that ask whether an index *can* serve a read
    /// whatever the table's size (PostgreSQL and MySQL prefer a scan of a
    /// small table), and those that undo them on a pooled connection; and
    /// one plan row as text.
    pub(crate) fn plan_prefix(self) -> &'static str {
        match self {
            Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
            _ => "EXPLAIN ",
        }
    }

    pub(crate) fn plan_setup(self) -> &'static [&'static str] {
        match self {
            Dialect::Postgres => &["SET LOCAL enable_seqscan = off"],
            Dialect::Mysql => &["SET SESSION max_seeks_for_key = 1"],
            Dialect::Sqlite => &[],
        }
    }

    pub(crate) fn plan_teardown(self) -> &'static [&'static str] {
        match self {
            Dialect::Mysql => &["SET SESSION max_seeks_for_key = DEFAULT"],
            _ => &[],
        }
    }

    /// The plan row's columns to show, MySQL's as `table=… type=… key=…`.
    pub(crate) fn plan_columns(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => &["detail"],
            Dialect::Postgres => &["QUERY PLAN"],
            Dialect::Mysql => &["table", "type", "key"],
        }
    }

    /// The lines of a journal read's plan (as `plan_columns` prints them)
    /// that read `leash_changes` whole: a SQLite `SCAN` without an index, a
    /// MySQL full table or index scan, a PostgreSQL node without an index
    /// condition. One such read is what makes a log page or a revert slow
    /// at a million rows.
    pub(crate) fn journal_full_scans(self, plan: &str) -> Vec<String> {
        // The journal by name or by the aliases the reads give it.
        let journal = |name: &str| matches!(name, "leash_changes" | "c" | "d");
        let lines = plan.lines().map(str::to_string);
        match self {
            Dialect::Sqlite => lines
                .filter(|line| {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    words.first() == Some(&"SCAN")
                        && words.get(1).is_some_and(|t| journal(t))
                        && !line.contains("INDEX")
                })
                .collect(),
            Dialect::Mysql => lines
                .filter(|line| {
                    let table = line.split_whitespace().find_map(|w| w.strip_prefix("table=")).unwrap_or("");
                    journal(table) && (line.contains("type=ALL") || line.contains("type=index "))
                })
                .collect(),
            Dialect::Postgres => postgres_full_scans(plan),
        }
    }

    /// The statement that brings the planner's statistics of the journal up
    /// to date.
    pub fn analyze_journal(self) -> &'static str {
        match self {
            Dialect::Mysql => "ANALYZE TABLE leash_changes",
            _ => "ANALYZE leash_changes",
        }
    }

    /// Whether the database refreshes a growing table's planner statistics
    /// on its own (PostgreSQL's autovacuum, InnoDB's persistent statistics);
    /// SQLite keeps none until `ANALYZE` runs.
    pub fn refreshes_statistics_itself(self) -> bool {
        self != Dialect::Sqlite
    }

    /// Inserts a row unless its key exists. MySQL takes the row's exclusive
    /// lock at once: a shared lock from INSERT IGNORE would deadlock two
    /// writers upgrading it.
    pub(crate) fn insert_or_keep(self, key: &str, any_column: &str) -> String {
        match self {
            Dialect::Mysql => format!(" ON DUPLICATE KEY UPDATE {any_column} = {any_column}"),
            _ => format!(" ON CONFLICT ({key}) DO NOTHING"),
        }
    }

    /// The start of an upsert's update part: what follows is `col = …` pairs.
    pub(crate) fn on_conflict_update(self, key: &str) -> String {
        match self {
            Dialect::Mysql => " ON DUPLICATE KEY UPDATE ".to_string(),
            _ => format!(" ON CONFLICT ({key}) DO UPDATE SET "),
        }
    }

    /// How an upsert's update part names the row already there.
    pub(crate) fn existing_row(self, table: &str) -> String {
        match self {
            Dialect::Mysql => String::new(),
            _ => format!("{table}."),
        }
    }

    /// Statements that make one migrator run at a time across processes, and
    /// the statement that ends it (`ok`: commit). SQLite's write lock, an
    /// advisory lock on PostgreSQL, a named lock on MySQL (whose DDL commits
    /// implicitly, so a transaction would not hold it).
    pub(crate) fn migration_lock(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => &["BEGIN IMMEDIATE"],
            Dialect::Postgres => &["BEGIN", "SELECT pg_advisory_xact_lock(7418265)"],
            Dialect::Mysql => &["DO GET_LOCK('leash_migrate', 60)"],
        }
    }

    pub(crate) fn migration_unlock(self, ok: bool) -> &'static str {
        match (self, ok) {
            (Dialect::Mysql, _) => "DO RELEASE_LOCK('leash_migrate')",
            (_, true) => "COMMIT",
            (_, false) => "ROLLBACK",
        }
    }

    /// What every new connection sets so that the text leash reads is the
    /// same in every process: ISO dates and UTC times, and on MySQL strict
    /// assignment (a value the column cannot hold is an error, not a
    /// silently truncated or zeroed value) and READ COMMITTED (under
    /// REPEATABLE READ a plain SELECT after a lock wait reads the snapshot
    /// from before the wait: a stale chain head).
    /// SQLite: WAL with NORMAL sync, a busy timeout, and the writer's own
    /// WAL checkpoint as a backstop (see `sql/connect.rs`).
    pub(crate) fn session_setup(self, busy_timeout_ms: u64, wal_checkpoint_pages: u32) -> Vec<String> {
        match self {
            Dialect::Sqlite => vec![
                "PRAGMA journal_mode = WAL".into(),
                "PRAGMA synchronous = NORMAL".into(),
                format!("PRAGMA busy_timeout = {busy_timeout_ms}"),
                format!("PRAGMA wal_autocheckpoint = {wal_checkpoint_pages}"),
            ],
            Dialect::Postgres => {
                vec!["SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'".into()]
            }
            Dialect::Mysql => vec![
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".into(),
                "SET time_zone = '+00:00', sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE'))".into(),
            ],
        }
    }

    /// A database server, reached over a connection that can drop and that
    /// costs a round trip per statement; not a local file.
    pub fn is_server(self) -> bool {
        self != Dialect::Sqlite
    }

    /// Every write in a process goes through one connection (SQLite: one
    /// writer at a time anyway; see `writer.rs`).
    pub(crate) fn has_single_writer(self) -> bool {
        self == Dialect::Sqlite
    }

    /// The URL sqlx opens: SQLite creates a missing file; `mariadb://` is MySQL's driver.
    pub(crate) fn driver_url(self, url: &str) -> String {
        match self {
            Dialect::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            Dialect::Mysql if url.starts_with("mariadb:") => format!("mysql:{}", &url["mariadb:".len()..]),
            _ => url.to_string(),
        }
    }

    /// Where a table's shape is read from.
    pub(crate) fn catalogue(self) -> Catalogue {
        match self {
            Dialect::Sqlite => Catalogue::Pragmas,
            Dialect::Postgres => Catalogue::PgCatalog,
            Dialect::Mysql => Catalogue::InformationSchema,
        }
    }

    /// The database's clock as a SQL expression, in leash's fixed-width UTC
    /// stamp (`2026-11-25T12:00:00.123456Z`), so stamps compare as text.
    pub(crate) fn now_stamp(self) -> &'static str {
        match self {
            Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'",
            Dialect::Postgres => "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            Dialect::Mysql => "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')",
        }
    }

    /// The id of the row an INSERT just made, where the store has no RETURNING.
    pub(crate) fn last_insert_id(self) -> Option<&'static str> {
        match self {
            Dialect::Mysql => Some("SELECT CAST(LAST_INSERT_ID() AS SIGNED)"),
            _ => None,
        }
    }

    /// A database of its own named `name` on `server` (a schema on
    /// PostgreSQL, a database on MySQL); `None` for SQLite, whose scratch
    /// database is a file of its own.
    #[cfg(feature = "scaffolding")]
    pub(crate) fn scratch_space(self, server: &str, name: &str) -> Option<ScratchSpace> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => {
                let sep = if server.contains('?') { '&' } else { '?' };
                Some(ScratchSpace {
                    create: format!("CREATE SCHEMA {name}"),
                    // The application name lets a test find (and kill) its connections.
                    url: format!("{server}{sep}options=-c%20search_path%3D{name}&application_name={name}"),
                    drop: format!("DROP SCHEMA {name} CASCADE"),
                })
            }
            Dialect::Mysql => {
                let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
                Some(ScratchSpace {
                    create: format!("CREATE DATABASE {name}"),
                    url: format!("{base}/{name}"),
                    drop: format!("DROP DATABASE {name}"),
                })
            }
        }
    }

    /// Where this store's server listens on the project's machines and in
    /// CI; `None` for SQLite, which needs none.
    #[cfg(feature = "scaffolding")]
    pub fn local_server(self) -> Option<LocalServer> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(LocalServer { url: "postgres://postgres@127.0.0.1:5432/test", port: 5432 }),
            Dialect::Mysql => Some(LocalServer { url: "mysql://root@127.0.0.1:3306/test", port: 3306 }),
        }
    }

    /// A value as the text bound for it: what the database parses into the
    /// column's type. `None` is SQL NULL.
    pub(crate) fn text_for(self, value: &Value, col: &Column) -> Option<String> {
        match value {
            Value::Null => None,
            Value::String(s) if self == Dialect::Mysql && col.ty == ColumnType::Timestamp => {
                Some(mysql_datetime(s).unwrap_or_else(|| s.clone()))
            }
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(match self {
                Dialect::Postgres => b.to_string(),
                _ => (*b as i64).to_string(),
            }),
            other => Some(other.to_string()),
        }
    }
}

/// PostgreSQL plan nodes that read `leash_changes` without an index
/// condition: a sequential scan, or an index walked whole (say the primary
/// key newest first, filtering every row) because no index fits the filter.
fn postgres_full_scans(plan: &str) -> Vec<String> {
    let lines: Vec<&str> = plan.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((node, rest)) = line.split_once(" on ") else { continue };
        if rest.split_whitespace().next() != Some("leash_changes") {
            continue;
        }
        let block = lines[i + 1..].iter().take_while(|l| !l.contains("->"));
        let bounded = block.clone().any(|l| l.contains("Index Cond") || l.contains("Recheck Cond"));
        if node.contains("Seq Scan") || !bounded {
            out.push(line.trim().to_string());
        }
    }
    out
}

/// MySQL's DATETIME and TIMESTAMP take no zone: an ISO-8601 time with `Z`
/// or an offset is converted to UTC, the session's time zone.
fn mysql_datetime(s: &str) -> Option<String> {
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    let civil = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    Some(if civil.subsec_nanosecond() == 0 {
        civil.strftime("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        civil.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string()
    })
}

/// Maps a declared column type to what the rules compare.
pub fn column_type(declared: &str) -> ColumnType {
    let t = declared.to_ascii_lowercase();
    let t = t.trim();
    // Arrays, ranges, intervals and other composite text forms are text to
    // the rules, whatever their element type.
    if t.ends_with("[]") || t.contains("range") || t.starts_with("interval") || t.contains("point") {
        return ColumnType::Text;
    }
    let base = t.split(['(', ' ']).next().unwrap_or(t);
    if t.contains("bool") || t.starts_with("tinyint(1)") || t == "bit(1)" {
        ColumnType::Boolean
    } else if t.starts_with("timestamp") || t.starts_with("datetime") {
        ColumnType::Timestamp
    } else if base == "date" {
        ColumnType::Date
    } else if base == "json" || base == "jsonb" {
        ColumnType::Json
    } else if t.contains("int") || base == "serial" || base == "bigserial" || base == "smallserial" {
        ColumnType::Integer
    } else if ["real", "float", "double", "numeric", "decimal", "money"].iter().any(|n| base.starts_with(n)) {
        ColumnType::Numeric
    } else {
        ColumnType::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_map_as_the_rules_compare_them() {
        for (declared, ty) in [
            ("integer", ColumnType::Integer),
            ("bigint", ColumnType::Integer),
            ("int(11) unsigned", ColumnType::Integer),
            ("tinyint(1)", ColumnType::Boolean),
            ("boolean", ColumnType::Boolean),
            ("numeric(10,2)", ColumnType::Numeric),
            ("double precision", ColumnType::Numeric),
            ("timestamp(3) with time zone", ColumnType::Timestamp),
            ("datetime(6)", ColumnType::Timestamp),
            ("date", ColumnType::Date),
            ("jsonb", ColumnType::Json),
            ("interval", ColumnType::Text),
            ("integer[]", ColumnType::Text),
            ("point", ColumnType::Text),
            ("int4range", ColumnType::Text),
            ("uuid", ColumnType::Text),
            ("character varying(40)", ColumnType::Text),
        ] {
            assert_eq!(column_type(declared), ty, "{declared}");
        }
    }

    #[test]
    fn store_names_are_read_as_urls_spell_them() {
        for (name, dialect) in [
            ("sqlite", Some(Dialect::Sqlite)),
            ("postgresql", Some(Dialect::Postgres)),
            ("mariadb", Some(Dialect::Mysql)),
            ("oracle", None),
        ] {
            assert_eq!(Dialect::from_name(name), dialect, "{name}");
            assert_eq!(Dialect::from_url(&format!("{name}://h/db")), dialect, "{name}");
        }
        assert_eq!(Dialect::from_url("sqlite"), None, "a URL has a scheme");
    }

    #[test]
    fn full_scans_of_the_journal_are_found_in_each_stores_plan() {
        let sqlite = "SEARCH c USING INDEX leash_changes_action (action=?)\nSCAN c\nSCAN leash_tokens";
        assert_eq!(Dialect::Sqlite.journal_full_scans(sqlite), ["SCAN c"]);
        assert!(Dialect::Sqlite.journal_full_scans("SCAN c USING INDEX leash_changes_seq").is_empty());
        let mysql = "table=c type=ALL key=NULL\ntable=leash_reverts type=eq_ref key=PRIMARY\ntable=d type=ref key=x";
        assert_eq!(Dialect::Mysql.journal_full_scans(mysql), ["table=c type=ALL key=NULL"]);
        let postgres = "Limit  (cost=0.29..8.31 rows=1 width=8)\n  ->  Index Scan Backward using leash_changes_pkey on leash_changes c\n        Filter: (action = 'a1'::text)\n  ->  Index Scan using leash_changes_action on leash_changes d\n        Index Cond: (action = 'a1'::text)";
        assert_eq!(
            Dialect::Postgres.journal_full_scans(postgres),
            ["->  Index Scan Backward using leash_changes_pkey on leash_changes c"]
        );
    }

    #[test]
    fn mysql_times_lose_their_zone_to_utc() {
        assert_eq!(mysql_datetime("2026-02-01T11:30:15Z").as_deref(), Some("2026-02-01 11:30:15"));
        assert_eq!(mysql_datetime("2026-02-01T13:30:15.5+02:00").as_deref(), Some("2026-02-01 11:30:15.500000"));
        assert_eq!(mysql_datetime("2026-02-01 11:30:15"), None);
    }
}

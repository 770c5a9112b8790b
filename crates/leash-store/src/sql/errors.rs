//! Reading database errors: which ones refuse a value or a row (so a caller
//! gets a refusal, never the database's text), which ones undo only their
//! statement, and which ones mean the connection is gone.

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::mysql::MySqlDatabaseError;
use sqlx::postgres::PgDatabaseError;

use crate::{Rejection, RejectionKind};

/// The refusal inside a database error, if it is one.
pub(crate) fn rejection(e: &sqlx::Error) -> Option<Rejection> {
    let sqlx::Error::Database(d) = e else { return None };
    let kind = match d.kind() {
        ErrorKind::UniqueViolation => RejectionKind::Unique,
        ErrorKind::ForeignKeyViolation => RejectionKind::ForeignKey,
        ErrorKind::NotNullViolation => RejectionKind::NotNull,
        ErrorKind::CheckViolation => RejectionKind::Check,
        _ => other_kind(d.as_ref())?,
    };
    let message = d.message().to_string();
    let constraint = d.constraint().map(str::to_string).or_else(|| backquoted_after(&message, "CONSTRAINT "));
    let column = match d.try_downcast_ref::<PgDatabaseError>() {
        Some(pg) => pg.column().map(str::to_string).or_else(|| pg.detail().and_then(pg_key_column)),
        None if kind == RejectionKind::ForeignKey => mysql_key_column(&message),
        None => column_in_message(&message).or_else(|| {
            // MariaDB names a column's own CHECK (JSON columns have one)
            // `table.column`.
            constraint.as_deref().and_then(|c| c.rsplit_once('.')).map(|(_, col)| col.to_string())
        }),
    };
    Some(Rejection { kind, column, constraint, detail: message })
}

/// Errors sqlx does not classify: data exceptions, and the MySQL and SQLite
/// numbers for values a column cannot hold.
fn other_kind(d: &dyn DatabaseError) -> Option<RejectionKind> {
    if let Some(pg) = d.try_downcast_ref::<PgDatabaseError>() {
        // Class 22: data exception (invalid text for the type, out of range,
        // too long, bad JSON…); 23502 is handled by `kind()`.
        return pg.code().starts_with("22").then_some(RejectionKind::Value);
    }
    if let Some(my) = d.try_downcast_ref::<MySqlDatabaseError>() {
        return match my.number() {
            // Truncated, bad datetime, bad number, out of range, too long,
            // bad JSON, bad date value, division by zero.
            1265 | 1292 | 1366 | 1264 | 1406 | 3140 | 1411 | 1367 | 1365 => Some(RejectionKind::Value),
            // No value and no default for a NOT NULL column.
            1364 => Some(RejectionKind::NotNull),
            // MariaDB's CHECK constraint (a JSON column's json_valid too).
            4025 => Some(RejectionKind::Check),
            _ => None,
        };
    }
    // SQLite STRICT tables: a value of the wrong type (SQLITE_CONSTRAINT_DATATYPE).
    (d.code().as_deref() == Some("3091")).then_some(RejectionKind::Value)
}

/// MySQL and SQLite name the column in the message: `for column 'c'`,
/// ``for column `db`.`t`.`c` ``, `Column 'c' cannot be null`,
/// `Field 'c' doesn't have a default value`, `NOT NULL constraint failed: t.c`,
/// `cannot store TEXT value in INTEGER column t.c`.
fn column_in_message(message: &str) -> Option<String> {
    for marker in ["for column ", "Column ", "Field "] {
        if let Some(i) = message.find(marker) {
            let rest = &message[i + marker.len()..];
            let token = rest.split_whitespace().next()?;
            let last = token.rsplit('.').next()?;
            let name = last.trim_matches(|c| c == '\'' || c == '`' || c == '"' || c == ',');
            if !name.is_empty() {
                return Some(name.to_string());
            }
        }
    }
    for marker in ["constraint failed: ", " column "] {
        if let Some(i) = message.rfind(marker) {
            let token = message[i + marker.len()..].split_whitespace().next()?;
            return token.rsplit('.').next().map(str::to_string);
        }
    }
    None
}

/// The written table's column a PostgreSQL foreign-key error names, from
/// its detail: `Key (GenreId)=(999) is not present in table "Genre".` (a
/// value the table lacks) or `… is still referenced from table "Track".`
/// (a value other rows point at); `None` for a key of several columns.
fn pg_key_column(detail: &str) -> Option<String> {
    let rest = &detail[detail.find("Key (")? + "Key (".len()..];
    let columns = &rest[..rest.find(")=(")?];
    (!columns.contains(", ")).then(|| columns.trim_matches('"').to_string())
}

/// The written table's column a MySQL foreign-key error names: the child's
/// `FOREIGN KEY (`c`)` when a row points at nothing, the parent's
/// `REFERENCES `t` (`c`)` when rows still point at the one changed;
/// `None` for a key of several columns.
fn mysql_key_column(message: &str) -> Option<String> {
    let from = if message.contains("a parent row") {
        let rest = &message[message.find(" REFERENCES ")? + " REFERENCES ".len()..];
        &rest[rest.find(" (")? + 1..]
    } else {
        &message[message.find("FOREIGN KEY ")? + "FOREIGN KEY ".len()..]
    };
    let columns = &from[..from.find(')')?];
    if columns.contains(',') {
        return None;
    }
    backquoted_after(columns, "(")
}

fn backquoted_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// A constraint failure (SQLite's default `ABORT`) undoes its statement and
/// leaves the transaction open; other errors (I/O, a full disk) may end it.
pub(crate) fn undoes_only_its_statement(e: &sqlx::Error) -> bool {
    const SQLITE_CONSTRAINT: i64 = 19;
    match e {
        sqlx::Error::Database(d) => {
            d.code().and_then(|c| c.parse::<i64>().ok()).is_some_and(|c| c & 0xff == SQLITE_CONSTRAINT)
        }
        _ => false,
    }
}

/// The server dropped the connection (restart, idle kill, an admin's
/// terminate): the statement did not run.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_in_mysql_and_sqlite_messages() {
        for (message, column) in [
            ("Incorrect integer value: 'x' for column `db`.`t`.`n` at row 1", "n"),
            ("Data truncated for column 'e' at row 1", "e"),
            ("Column 'body' cannot be null", "body"),
            ("Field 'body' doesn't have a default value", "body"),
            ("NOT NULL constraint failed: notes.body", "body"),
            ("cannot store TEXT value in INTEGER column t.n", "n"),
        ] {
            assert_eq!(column_in_message(message).as_deref(), Some(column), "{message}");
        }
        assert_eq!(backquoted_after("CONSTRAINT `t.j` failed for `db`.`t`", "CONSTRAINT ").as_deref(), Some("t.j"));
    }

    #[test]
    fn foreign_key_errors_name_the_written_tables_column() {
        let child = "Cannot add or update a child row: a foreign key constraint fails (`db`.`Track`, \
            CONSTRAINT `fk_genre` FOREIGN KEY (`GenreId`) REFERENCES `Genre` (`Id`))";
        assert_eq!(mysql_key_column(child).as_deref(), Some("GenreId"));
        let parent = "Cannot delete or update a parent row: a foreign key constraint fails (`db`.`Track`, \
            CONSTRAINT `fk_genre` FOREIGN KEY (`GenreId`) REFERENCES `Genre` (`Id`))";
        assert_eq!(mysql_key_column(parent).as_deref(), Some("Id"));
        let both = "Cannot add or update a child row: a foreign key constraint fails (`db`.`t`, \
            CONSTRAINT `fk` FOREIGN KEY (`a`, `b`) REFERENCES `p` (`a`, `b`))";
        assert_eq!(mysql_key_column(both), None);
        assert_eq!(pg_key_column("Key (GenreId)=(999) is not present in table \"Genre\".").as_deref(), Some("GenreId"));
        assert_eq!(pg_key_column("Key (\"Genre Id\")=(1) is still referenced").as_deref(), Some("Genre Id"));
        assert_eq!(pg_key_column("Key (a, b)=(1, 2) is not present in table \"p\"."), None);
    }
}

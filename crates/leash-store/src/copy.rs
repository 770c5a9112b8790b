//! Throw-away SQLite copies of a table's shape, for `leash test`: each
//! policy test case runs on its own copy, never on the real database.

use leash_core::policy::Key;
use leash_core::value::ColumnType;

use crate::Dialect;

fn sqlite_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text | ColumnType::Json => "TEXT",
        ColumnType::Integer => "INTEGER",
        ColumnType::Numeric => "NUMERIC",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Timestamp => "TIMESTAMP",
    }
}

/// `CREATE TABLE` for a SQLite copy with these columns; `key` is the primary
/// key, filled in by SQLite when `key_assigned` and it is an integer.
pub fn sqlite_copy_ddl(table: &str, columns: &[(String, ColumnType)], key: &Key, key_assigned: bool) -> String {
    let d = Dialect::COPIES;
    let q = |ident: &str| d.quote(ident);
    let single = key.as_single();
    let mut defs: Vec<String> = columns
        .iter()
        .map(|(name, ty)| match (single == Some(name.as_str()), ty) {
            (true, ColumnType::Integer) if key_assigned => format!("{} {}", q(name), d.serial_key()),
            (true, ty) => format!("{} {} PRIMARY KEY", q(name), sqlite_type(*ty)),
            (false, ty) => format!("{} {}", q(name), sqlite_type(*ty)),
        })
        .collect();
    if key.is_composite() {
        let cols: Vec<String> = key.columns().iter().map(|c| q(c)).collect();
        defs.push(format!("PRIMARY KEY ({})", cols.join(", ")));
    }
    format!("CREATE TABLE {} ({})", q(table), defs.join(", "))
}

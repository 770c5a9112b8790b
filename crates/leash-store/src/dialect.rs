//! The SQL differences between stores, in one place.

use leash_core::value::ColumnType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Dialect> {
        let scheme = url.split_once(':')?.0;
        Some(match scheme {
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

    /// Quotes an identifier. Identifiers come only from a checked policy
    /// (`[A-Za-z_][A-Za-z0-9_]*`), so quoting is belt and braces.
    pub fn quote(self, ident: &str) -> String {
        debug_assert!(leash_core::policy::is_identifier(ident), "unchecked identifier {ident:?}");
        match self {
            Dialect::Mysql => format!("`{ident}`"),
            _ => format!("\"{ident}\""),
        }
    }

    /// The n-th (1-based) bound parameter.
    pub fn param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    }

    /// A parameter cast to a column's type, where the driver sends text.
    pub fn typed_param(self, n: usize, ty: ColumnType) -> String {
        let p = self.param(n);
        match (self, ty) {
            (Dialect::Postgres, ColumnType::Integer) => format!("CAST({p} AS BIGINT)"),
            (Dialect::Postgres, ColumnType::Numeric) => format!("CAST({p} AS NUMERIC)"),
            (Dialect::Postgres, ColumnType::Boolean) => format!("CAST({p} AS BOOLEAN)"),
            (Dialect::Postgres, ColumnType::Date) => format!("CAST({p} AS DATE)"),
            (Dialect::Postgres, ColumnType::Timestamp) => format!("CAST({p} AS TIMESTAMPTZ)"),
            (Dialect::Postgres, ColumnType::Json) => format!("CAST({p} AS JSONB)"),
            (Dialect::Postgres, ColumnType::Text) => format!("CAST({p} AS TEXT)"),
            _ => p,
        }
    }

    /// A column as a SELECT expression the generic driver can decode.
    pub fn select_column(self, col: &str, ty: ColumnType) -> String {
        let q = self.quote(col);
        match (self, ty) {
            (
                Dialect::Postgres,
                ColumnType::Numeric | ColumnType::Date | ColumnType::Timestamp | ColumnType::Json | ColumnType::Text,
            ) => {
                format!("CAST({q} AS TEXT) AS {q}")
            }
            // MySQL reports TINYINT, MEDIUMINT and TEXT in forms the generic
            // driver cannot map; cast to ones it can.
            (Dialect::Mysql, ColumnType::Integer | ColumnType::Boolean) => format!("CAST({q} AS SIGNED) AS {q}"),
            (Dialect::Mysql, _) => format!("CAST({q} AS CHAR) AS {q}"),
            // Unary plus keeps the stored value but drops the declared type
            // (BOOLEAN, DATE, …) that the generic driver cannot map.
            (Dialect::Sqlite, _) => format!("+{q} AS {q}"),
            _ => q,
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

    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            _ => " FOR UPDATE",
        }
    }
}

/// Maps a declared column type to what the rules compare.
pub fn column_type(declared: &str) -> ColumnType {
    let t = declared.to_ascii_lowercase();
    if t.contains("bool") || t == "tinyint(1)" {
        ColumnType::Boolean
    } else if t.contains("timestamp") || t.contains("datetime") {
        ColumnType::Timestamp
    } else if t == "date" {
        ColumnType::Date
    } else if t.contains("json") {
        ColumnType::Json
    } else if t.contains("int") || t == "serial" || t == "bigserial" {
        ColumnType::Integer
    } else if ["real", "floa", "doub", "numeric", "decimal"].iter().any(|n| t.contains(n)) {
        ColumnType::Numeric
    } else {
        ColumnType::Text
    }
}

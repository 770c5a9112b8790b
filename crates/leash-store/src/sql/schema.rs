//! Reading a table's shape from the live database: columns, their declared
//! types and what leash may do with them, single-column unique keys and
//! foreign keys, and whether triggers run on writes; and the list of the
//! database's tables with their primary keys.

use leash_core::value::{ColumnType, Value};
use sqlx::any::AnyRow;

use super::connect::SqlStore;
use crate::dialect::{column_type, Catalogue};
use crate::rows::value_at;
use crate::{Column, Reference, Result, TableSchema, UserTable};

fn text(row: &AnyRow, idx: usize) -> Result<String> {
    Ok(leash_core::value::display(&value_at(row, idx)?))
}

fn opt_text(row: &AnyRow, idx: usize) -> Result<Option<String>> {
    Ok(match value_at(row, idx)? {
        Value::Null => None,
        v => Some(leash_core::value::display(&v)),
    })
}

/// A boolean the driver may report as a bool, a number or text.
fn flag(row: &AnyRow, idx: usize) -> Result<bool> {
    Ok(match value_at(row, idx)? {
        Value::Bool(b) => b,
        Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        Value::String(s) => matches!(s.as_str(), "t" | "true" | "1" | "YES"),
        _ => false,
    })
}

/// `schema.table` → (Some(schema), table).
fn split_table(table: &str) -> (Option<&str>, &str) {
    match table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    }
}

/// MySQL's `enum('a','it''s')` → `["a", "it's"]`.
fn mysql_enum_labels(column_type: &str) -> Vec<String> {
    let Some(inner) = column_type.strip_prefix("enum(").and_then(|s| s.strip_suffix(')')) else {
        return Vec::new();
    };
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => label.extend(chars.next()),
                c => label.push(c),
            }
        }
        labels.push(label);
    }
    labels
}

impl SqlStore {
    pub(super) async fn read_table_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        match self.dialect().catalogue() {
            Catalogue::Pragmas => self.sqlite_schema(table).await,
            Catalogue::PgCatalog => self.postgres_schema(table).await,
            Catalogue::InformationSchema => self.mysql_schema(table).await,
        }
    }

    async fn postgres_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        let regclass = self.dialect().quote_table(table);
        // Domains are read through to their base type; strings are cast to
        // `text` and bit strings to `bit varying` so the assignment, not
        // the cast, checks their length.
        let mut q = self.q(
            "SELECT CAST(a.attname AS TEXT), format_type(a.atttypid, a.atttypmod), \
             CAST(CASE WHEN bt.typcategory = 'S' THEN 'text' WHEN bt.typname = 'bit' THEN 'bit varying' \
                  ELSE format_type(a.atttypid, NULL) END AS TEXT), \
             format_type(bt.oid, NULL), NOT a.attnotnull, (a.atthasdef OR a.attidentity <> ''), \
             CAST((SELECT string_agg(e.enumlabel, E'\\n' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid) AS TEXT), \
             CASE WHEN bt.typname IN ('varchar', 'bpchar') AND COALESCE(NULLIF(a.atttypmod, -1), t.typtypmod) > 4 \
                  THEN COALESCE(NULLIF(a.atttypmod, -1), t.typtypmod) - 4 END, \
             bt.typname = 'bytea', (a.attgenerated <> '' OR a.attidentity = 'a') \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
             WHERE a.attrelid = to_regclass(",
        );
        q.text(&regclass).push(") AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
        let mut columns = Vec::new();
        for row in self.fetch_all(q).await? {
            let base = text(&row, 3)?;
            columns.push(Column {
                name: text(&row, 0)?,
                ty: column_type(&base),
                declared: text(&row, 1)?,
                cast_as: Some(text(&row, 2)?),
                nullable: flag(&row, 4)?,
                has_default: flag(&row, 5)?,
                labels: opt_text(&row, 6)?.map(|l| l.split('\n').map(str::to_string).collect()).unwrap_or_default(),
                max_chars: value_at(&row, 7)?.as_u64().map(|n| n as u32),
                binary: flag(&row, 8)?,
                generated: flag(&row, 9)?,
                references: None,
            });
        }
        if columns.is_empty() {
            return Ok(None);
        }
        let mut q = self.q("SELECT CAST(a.attname AS TEXT) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL AND i.indrelid = to_regclass(");
        q.text(&regclass).push(")");
        let unique_columns = self.fetch_all(q).await?.iter().map(|r| text(r, 0)).collect::<Result<_>>()?;
        let mut q = self.q("SELECT CAST(string_agg(a.attname, ',' ORDER BY k.n) AS TEXT) FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indisunique AND i.indnatts > 1 AND i.indpred IS NULL AND i.indrelid = to_regclass(");
        q.text(&regclass).push(") GROUP BY i.indexrelid");
        let unique_keys = split_keys(self.fetch_all(q).await?)?;
        let mut q = self.q("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = to_regclass(");
        q.text(&regclass).push("))");
        let has_triggers = match self.fetch_optional(q).await? {
            Some(row) => flag(&row, 0)?,
            None => false,
        };
        self.attach_references(table, &mut columns).await;
        Ok(Some(TableSchema { name: table.to_string(), columns, unique_columns, unique_keys, has_triggers }))
    }

    /// The schema condition for MySQL's catalogue: the named database, or the current one.
    fn mysql_schema_filter(&self, q: &mut super::query::Query, column: &str, schema: Option<&str>) {
        q.push(&format!(" {column} = "));
        match schema {
            Some(s) => q.text(s),
            None => q.push("DATABASE()"),
        };
    }

    async fn mysql_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        let (schema, name) = split_table(table);
        let mut q = self.q("SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(DATA_TYPE AS CHAR), \
             CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_DEFAULT AS CHAR), CAST(EXTRA AS CHAR), \
             CAST(CHARACTER_MAXIMUM_LENGTH AS SIGNED) FROM information_schema.COLUMNS WHERE");
        self.mysql_schema_filter(&mut q, "TABLE_SCHEMA", schema);
        q.push(" AND TABLE_NAME = ").text(name).push(" ORDER BY ORDINAL_POSITION");
        let rows = self.fetch_all(q).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        // MariaDB's JSON is LONGTEXT with a CHECK (json_valid(`c`)); MySQL
        // reports `json` itself, and has no TABLE_NAME in this view (the
        // query fails there, and nothing is lost).
        let mut q = self.q("SELECT CAST(CHECK_CLAUSE AS CHAR) FROM information_schema.CHECK_CONSTRAINTS WHERE");
        self.mysql_schema_filter(&mut q, "CONSTRAINT_SCHEMA", schema);
        q.push(" AND TABLE_NAME = ").text(name);
        let checks: Vec<String> = match self.fetch_all(q).await {
            Ok(rows) => rows.iter().map(|r| text(r, 0)).collect::<Result<_>>()?,
            Err(_) => Vec::new(),
        };
        let mut columns = Vec::new();
        for row in &rows {
            let col = text(row, 0)?;
            let column_type_text = text(row, 1)?;
            let data_type = text(row, 2)?.to_ascii_lowercase();
            let extra = opt_text(row, 5)?.unwrap_or_default().to_ascii_uppercase();
            let json = data_type == "json" || checks.iter().any(|c| c.contains(&format!("json_valid(`{col}`)")));
            let binary = data_type.contains("blob") || data_type.contains("binary") || data_type == "bit";
            let generated = extra.contains("VIRTUAL") || extra.contains("STORED");
            columns.push(Column {
                ty: if json { ColumnType::Json } else { column_type(&column_type_text) },
                nullable: text(row, 3)? == "YES",
                has_default: opt_text(row, 4)?.is_some() || extra.contains("AUTO_INCREMENT") || generated,
                labels: if data_type == "enum" { mysql_enum_labels(&column_type_text) } else { Vec::new() },
                max_chars: match data_type.as_str() {
                    "char" | "varchar" => value_at(row, 6)?.as_u64().map(|n| n as u32),
                    _ => None,
                },
                declared: column_type_text,
                cast_as: None,
                binary,
                generated,
                references: None,
                name: col,
            });
        }
        let mut q = self.q("SELECT CAST(MIN(COLUMN_NAME) AS CHAR) FROM information_schema.STATISTICS WHERE");
        self.mysql_schema_filter(&mut q, "TABLE_SCHEMA", schema);
        q.push(" AND NON_UNIQUE = 0 AND TABLE_NAME = ").text(name).push(" GROUP BY INDEX_NAME HAVING COUNT(*) = 1");
        let unique_columns = self.fetch_all(q).await?.iter().map(|r| text(r, 0)).collect::<Result<_>>()?;
        let mut q = self.q("SELECT CAST(GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS CHAR) \
             FROM information_schema.STATISTICS WHERE");
        self.mysql_schema_filter(&mut q, "TABLE_SCHEMA", schema);
        q.push(" AND NON_UNIQUE = 0 AND TABLE_NAME = ").text(name).push(" GROUP BY INDEX_NAME HAVING COUNT(*) > 1");
        let unique_keys = split_keys(self.fetch_all(q).await?)?;
        let mut q = self.q("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE");
        self.mysql_schema_filter(&mut q, "EVENT_OBJECT_SCHEMA", schema);
        q.push(" AND EVENT_OBJECT_TABLE = ").text(name);
        let has_triggers = match self.fetch_optional(q).await? {
            Some(row) => flag(&row, 0)?,
            None => false,
        };
        self.attach_references(table, &mut columns).await;
        Ok(Some(TableSchema { name: table.to_string(), columns, unique_columns, unique_keys, has_triggers }))
    }

    async fn sqlite_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        let (schema, name) = split_table(table);
        let schema = schema.unwrap_or("main");
        let mut q = self.q("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(");
        q.text(name).push(", ").text(schema).push(")");
        let rows = self.fetch_all(q).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut columns = Vec::new();
        let mut pk = Vec::new();
        for row in &rows {
            let col = text(row, 0)?;
            let declared = text(row, 1)?;
            let is_pk = value_at(row, 4)?.as_i64().unwrap_or(0) > 0;
            if is_pk {
                pk.push((col.clone(), declared.to_ascii_uppercase()));
            }
            // hidden: 2 and 3 are generated columns (virtual, stored).
            let generated = value_at(row, 5)?.as_i64().unwrap_or(0) >= 2;
            columns.push(Column {
                ty: column_type(&declared),
                nullable: !flag(row, 2)?,
                has_default: opt_text(row, 3)?.is_some() || generated,
                binary: declared.to_ascii_uppercase().contains("BLOB"),
                generated,
                declared,
                name: col,
                ..Column::default()
            });
        }
        // An INTEGER PRIMARY KEY is the rowid: SQLite fills it in.
        if let [(only, declared)] = pk.as_slice() {
            if declared == "INTEGER" {
                if let Some(c) = columns.iter_mut().find(|c| &c.name == only) {
                    c.has_default = true;
                }
            }
        }
        let pk: Vec<String> = pk.into_iter().map(|(c, _)| c).collect();
        let (mut unique_columns, mut unique_keys): (Vec<String>, Vec<Vec<String>>) = match pk.len() {
            0 => (Vec::new(), Vec::new()),
            1 => (pk, Vec::new()),
            _ => (Vec::new(), vec![pk]),
        };
        let mut q = self.q("SELECT il.name FROM pragma_index_list(");
        q.text(name).push(", ").text(schema).push(") il WHERE il.\"unique\" = 1 AND il.partial = 0");
        for row in self.fetch_all(q).await? {
            let idx = text(&row, 0)?;
            let mut q = self.q("SELECT name FROM pragma_index_info(");
            q.text(&idx).push(", ").text(schema).push(")");
            let cols = self.fetch_all(q).await?;
            match cols.as_slice() {
                [only] => unique_columns.extend(opt_text(only, 0)?),
                [] => {}
                many => unique_keys
                    .push(many.iter().map(|r| opt_text(r, 0)).collect::<Result<Option<Vec<_>>>>()?.unwrap_or_default()),
            }
        }
        let mut q = self.q("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ");
        q.text(name);
        let has_triggers = match self.fetch_optional(q).await? {
            Some(row) => flag(&row, 0)?,
            None => false,
        };
        self.attach_references(table, &mut columns).await;
        Ok(Some(TableSchema { name: table.to_string(), columns, unique_columns, unique_keys, has_triggers }))
    }
}

/// Foreign keys on one column: (column, group, referenced table, referenced
/// column); a key over several columns has several rows in one group.
type ForeignKeyRow = (String, String, String, Option<String>);

impl SqlStore {
    pub(super) async fn read_user_tables(&self) -> Result<Vec<UserTable>> {
        let q = self.q(match self.dialect().catalogue() {
            Catalogue::Pragmas => "SELECT name FROM sqlite_master WHERE type = 'table'",
            // The schema unqualified names resolve to; partitions are
            // written through their parent.
            Catalogue::PgCatalog => {
                "SELECT CAST(relname AS TEXT) FROM pg_class \
                 WHERE relnamespace = CAST(current_schema() AS regnamespace) \
                 AND relkind IN ('r', 'p') AND NOT relispartition"
            }
            Catalogue::InformationSchema => {
                "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
            }
        });
        let mut names: Vec<String> = self.fetch_all(q).await?.iter().map(|r| text(r, 0)).collect::<Result<_>>()?;
        names.retain(|n| !n.starts_with("leash_") && !n.starts_with("sqlite_"));
        names.sort();
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let primary_key = self.primary_key(&name).await?;
            tables.push(UserTable { name, primary_key });
        }
        Ok(tables)
    }

    /// The primary key's columns in key order.
    async fn primary_key(&self, table: &str) -> Result<Vec<String>> {
        let (schema, name) = split_table(table);
        let q = match self.dialect().catalogue() {
            Catalogue::Pragmas => {
                let mut q = self.q("SELECT name FROM pragma_table_info(");
                q.text(name).push(", ").text(schema.unwrap_or("main")).push(") WHERE pk > 0 ORDER BY pk");
                q
            }
            Catalogue::PgCatalog => {
                let mut q = self.q("SELECT CAST(a.attname AS TEXT) FROM pg_index i \
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indisprimary AND i.indrelid = to_regclass(");
                q.text(&self.dialect().quote_table(table));
                q.push(") ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)");
                q
            }
            Catalogue::InformationSchema => {
                let mut q = self.q("SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.STATISTICS WHERE");
                self.mysql_schema_filter(&mut q, "TABLE_SCHEMA", schema);
                q.push(" AND INDEX_NAME = 'PRIMARY' AND TABLE_NAME = ").text(name).push(" ORDER BY SEQ_IN_INDEX");
                q
            }
        };
        self.fetch_all(q).await?.iter().map(|r| text(r, 0)).collect()
    }

    /// Marks each column that alone holds a foreign key with the column it
    /// points at. Only messages use it (a refused write names the table
    /// its value must match), so a catalogue leash may not read costs the
    /// hint, not the start.
    async fn attach_references(&self, table: &str, columns: &mut [Column]) {
        let rows = match self.foreign_keys(table).await {
            Ok(rows) => rows,
            Err(_) => return,
        };
        let single = |group: &str| rows.iter().filter(|r| r.1 == group).count() == 1;
        for (column, _, target, target_column) in rows.iter().filter(|r| single(&r.1)) {
            // SQLite leaves the column out when the key names the other table's primary key.
            let target_column = match target_column {
                Some(c) => c.clone(),
                None => match self.primary_key(target).await.ok().as_deref() {
                    Some([only]) => only.clone(),
                    _ => continue,
                },
            };
            if let Some(c) = columns.iter_mut().find(|c| &c.name == column) {
                c.references.get_or_insert(Reference { table: target.clone(), column: target_column });
            }
        }
    }

    async fn foreign_keys(&self, table: &str) -> Result<Vec<ForeignKeyRow>> {
        let (schema, name) = split_table(table);
        let q = match self.dialect().catalogue() {
            Catalogue::Pragmas => {
                let mut q =
                    self.q("SELECT \"from\", CAST(id AS TEXT), \"table\", \"to\" FROM pragma_foreign_key_list(");
                q.text(name).push(", ").text(schema.unwrap_or("main")).push(")");
                q
            }
            Catalogue::PgCatalog => {
                let mut q =
                    self.q("SELECT CAST(a.attname AS TEXT), CAST(c.conname AS TEXT), CAST(t.relname AS TEXT), \
                     CAST(ta.attname AS TEXT) FROM pg_constraint c \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) \
                     JOIN pg_class t ON t.oid = c.confrelid \
                     JOIN pg_attribute ta ON ta.attrelid = c.confrelid AND ta.attnum = c.confkey[1] \
                     WHERE c.contype = 'f' AND c.conrelid = to_regclass(");
                q.text(&self.dialect().quote_table(table)).push(")");
                q
            }
            Catalogue::InformationSchema => {
                let mut q = self.q("SELECT CAST(COLUMN_NAME AS CHAR), CAST(CONSTRAINT_NAME AS CHAR), \
                     CAST(REFERENCED_TABLE_NAME AS CHAR), CAST(REFERENCED_COLUMN_NAME AS CHAR) \
                     FROM information_schema.KEY_COLUMN_USAGE WHERE");
                self.mysql_schema_filter(&mut q, "TABLE_SCHEMA", schema);
                q.push(" AND TABLE_NAME = ").text(name).push(" AND REFERENCED_TABLE_NAME IS NOT NULL");
                q
            }
        };
        let mut rows = Vec::new();
        for row in self.fetch_all(q).await? {
            rows.push((text(&row, 0)?, text(&row, 1)?, text(&row, 2)?, opt_text(&row, 3)?));
        }
        Ok(rows)
    }
}

/// Rows of one comma-joined column list each: composite unique keys.
fn split_keys(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<Vec<String>>> {
    rows.iter().map(|r| Ok(text(r, 0)?.split(',').map(str::to_string).collect())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_enum_labels_are_read_with_their_quotes() {
        assert_eq!(mysql_enum_labels("enum('sad','ok','it''s')"), ["sad", "ok", "it's"]);
        assert!(mysql_enum_labels("varchar(4)").is_empty());
    }
}

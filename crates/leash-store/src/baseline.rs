//! The hand-rolled write a careful team would write without leash, for
//! `leash bench` to compare against on the same database and driver: lock
//! the row, update it, insert an audit row with old and new values.

use leash_core::value::{display, Value};
use sqlx::Row;

use crate::dialect::Dialect;
use crate::sql::{Query, SqlStore};
use crate::{Result, StoreError, StoreTx};

impl SqlStore {
    /// One audited update in one transaction; `extra` adds columns to the
    /// audit row (the bench's indexed audit table).
    pub async fn baseline_write(
        &self,
        table: &str,
        audit: &str,
        key: i64,
        field: &str,
        new: &Value,
        extra: &[(&str, String)],
    ) -> Result<()> {
        let d = self.dialect();
        let mut tx = self.write_tx().await?;
        let mut q = Query::new(d, &format!("SELECT {} FROM ", d.quote(field)));
        q.ident(table).push(" WHERE id = ").int(key).push(d.for_update());
        let (sql, args) = q.build();
        let row = sqlx::query_with(&sql, args).fetch_optional(tx.conn()).await?;
        let old = match row {
            Some(r) => crate::rows::value_at(&r, 0)?,
            None => return Err(StoreError::Invalid(format!("no row {key}"))),
        };
        let mut q = Query::new(d, "UPDATE ");
        q.ident(table).push(" SET ").ident(field).push(" = ").text(&display(new)).push(" WHERE id = ").int(key);
        let (sql, args) = q.build();
        sqlx::query_with(&sql, args).execute(tx.conn()).await?;
        let mut q = Query::new(d, "INSERT INTO ");
        q.ident(audit).push(" (record_id, field, old_value, new_value");
        for (col, _) in extra {
            q.push(", ").ident(col);
        }
        q.push(") VALUES (").int(key).push(", ").text(field);
        q.push(", ").text(&display(&old)).push(", ").text(&display(new));
        for (_, value) in extra {
            q.push(", ").text(value);
        }
        q.push(")");
        let (sql, args) = q.build();
        sqlx::query_with(&sql, args).execute(tx.conn()).await?;
        Box::new(tx).commit().await
    }

    /// Puts old values back the way a script would: one plain UPDATE per
    /// row, committed in batches of `batch` rows.
    pub async fn baseline_restore(&self, table: &str, field: &str, rows: &[(i64, String)], batch: usize) -> Result<()> {
        let d = self.dialect();
        for chunk in rows.chunks(batch.max(1)) {
            let mut tx = self.write_tx().await?;
            for (id, old) in chunk {
                let mut q = Query::new(d, "UPDATE ");
                q.ident(table).push(" SET ").ident(field).push(" = ").text(old).push(" WHERE id = ").int(*id);
                let (sql, args) = q.build();
                sqlx::query_with(&sql, args).execute(tx.conn()).await?;
            }
            Box::new(tx).commit().await?;
        }
        Ok(())
    }

    /// Counts rows of a table, for checks in the benchmark.
    pub async fn count_rows(&self, table: &str) -> Result<i64> {
        let d: Dialect = self.dialect();
        let q = Query::new(d, &format!("SELECT COUNT(*) FROM {}", d.quote(table)));
        let (sql, args) = q.build();
        let row = sqlx::query_with(&sql, args).fetch_one(self.pool()).await?;
        Ok(row.try_get::<i64, _>(0)?)
    }
}

//! `Query`: a statement under construction with its bound values; the only
//! way SQL with values is built, so every value is a parameter.

use leash_core::value::{ColumnType, Value};
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments};

use crate::dialect::{Binding, Dialect};
use crate::Column;

pub(crate) struct Query {
    dialect: Dialect,
    pub sql: String,
    args: AnyArguments<'static>,
    n: usize,
}

impl Query {
    pub fn new(dialect: Dialect, sql: &str) -> Query {
        Query { dialect, sql: sql.to_string(), args: AnyArguments::default(), n: 0 }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn ident(&mut self, ident: &str) -> &mut Self {
        self.sql.push_str(&self.dialect.quote(ident));
        self
    }

    /// A table name from the policy, schema-qualified or not.
    pub fn table(&mut self, table: &str) -> &mut Self {
        self.sql.push_str(&self.dialect.quote_table(table));
        self
    }

    /// Binds a value and returns the number of its parameter (for SQL
    /// that wraps the parameter itself).
    fn bind<T>(&mut self, value: T) -> usize
    where
        T: 'static + Send + sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        self.n += 1;
        // Adding to an in-memory argument buffer only fails on encode errors
        // for types we never pass; keep going rather than panic.
        let _ = self.args.add(value);
        self.n
    }

    fn add<T>(&mut self, value: T) -> &mut Self
    where
        T: 'static + Send + sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        let n = self.bind(value);
        let p = self.dialect.param(n);
        self.sql.push_str(&p);
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.add(s.to_string())
    }

    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        self.add(s.map(str::to_string))
    }

    pub fn int(&mut self, i: i64) -> &mut Self {
        self.add(i)
    }

    pub fn opt_float(&mut self, f: Option<f64>) -> &mut Self {
        self.add(f)
    }

    /// Binds a stored value for `col` without writing SQL; returns the
    /// parameter's number.
    pub fn bind_value(&mut self, v: &Value, col: &Column) -> usize {
        match self.dialect.binding() {
            Binding::Text => {
                let text = self.dialect.text_for(v, col);
                self.bind(text)
            }
            Binding::Native => match v {
                Value::Null => self.bind(None::<String>),
                Value::Bool(b) => self.bind(*b as i64),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => self.bind(i),
                    None => self.bind(n.as_f64().unwrap_or(0.0)),
                },
                Value::String(s) => self.bind(s.clone()),
                other => self.bind(other.to_string()),
            },
        }
    }

    /// A value for `col`, cast to its type where the store needs that.
    pub fn value(&mut self, v: &Value, col: &Column) -> &mut Self {
        let n = self.bind_value(v, col);
        let p = self.dialect.value_param(n, col);
        self.sql.push_str(&p);
        self
    }

    /// A record key for the key column `col`. The engine has already brought
    /// an integer key into its one spelling; other keys go as text and the
    /// database parses them.
    pub fn key(&mut self, key: &str, col: &Column) -> &mut Self {
        let v = match (col.ty, key.parse::<i64>()) {
            (ColumnType::Integer, Ok(i)) => Value::from(i),
            _ => Value::String(key.to_string()),
        };
        self.value(&v, col)
    }

    /// `column still holds v` (see `Dialect::still_holds`).
    pub fn still_holds(&mut self, v: &Value, col: &Column) -> &mut Self {
        let quoted = self.dialect.quote(&col.name);
        let n = self.bind_value(v, col);
        let sql = self.dialect.still_holds(&quoted, col, n);
        self.sql.push_str(&sql);
        self
    }

    /// What the database would store for `v` in `col`, as text; only where
    /// `Dialect::predicts_stored_text`.
    pub fn predicted(&mut self, v: &Value, col: &Column) -> &mut Self {
        debug_assert!(self.dialect.predicts_stored_text(), "no prediction on {:?}", self.dialect);
        let n = self.bind_value(v, col);
        let sql = self.dialect.predicted_text(n, col);
        self.sql.push_str(&sql);
        self
    }

    /// Comma-separated text parameters.
    pub fn list(&mut self, items: &[String]) -> &mut Self {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(item);
        }
        self
    }

    pub fn build(self) -> (String, AnyArguments<'static>) {
        (self.sql, self.args)
    }
}

pub(crate) fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

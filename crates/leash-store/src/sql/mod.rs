//! `SqlStore`: the `Store` for SQLite, PostgreSQL and MySQL through sqlx's
//! generic driver, with the differences kept in `Dialect`. One file per job:
//! `query` builds statements, `connect` holds the pool and migrations,
//! `schema` reads a table's shape, `reads` answers `Store`, `tx` is one
//! write transaction, whose work is in `write` (a record and its journal
//! row), `revert` (set-wise undo) and `state` (everything else), `plans`
//! asks the database for its plans of the journal's reads, and `errors`
//! reads the database's errors.

mod connect;
mod errors;
mod plans;
mod query;
mod reads;
mod revert;
mod schema;
mod state;
mod tx;
mod write;

pub use connect::SqlStore;
pub(crate) use errors::rejection;
#[cfg(feature = "scaffolding")]
pub(crate) use query::Query;
pub use revert::{BULK_ROWS_MAX, CHANGES_PER_INSERT_MAX};

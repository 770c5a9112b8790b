//! The store layer: one `Store` trait for everything leash keeps in, and
//! reads from, the team's database. The engine sees only these traits; SQL
//! dialects stay in this crate (`dialect.rs`).

#[cfg(feature = "scaffolding")]
mod baseline;
mod copy;
mod dialect;
mod migrations;
mod rows;
#[cfg(feature = "scaffolding")]
pub mod scratch;
mod session;
mod sql;
mod writer;

use std::collections::HashMap;

use async_trait::async_trait;
use leash_core::call::FieldChange;
use leash_core::journal::{Change, Op, Proposal, ProposalStatus};
pub use leash_core::policy::Key;
use leash_core::report::{ChangeTally, ProposalTally};
use leash_core::value::{ColumnType, Record, Value};
use serde::Serialize;

pub use copy::sqlite_copy_ddl;
pub use dialect::Dialect;
#[cfg(feature = "scaffolding")]
pub use dialect::LocalServer;
pub use session::{BUSY_TIMEOUT_MS, POOL_CONNECTIONS_MAX, POOL_PING_AFTER_IDLE_MS, SQLITE_WAL_CHECKPOINT_PAGES};
pub use sql::{SqlStore, BULK_ROWS_MAX, CHANGES_PER_INSERT_MAX};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("unsupported database URL `{0}`: use sqlite://, postgres://, mysql:// or mariadb://")]
    UnsupportedUrl(String),
    #[error("the journal holds a row leash cannot read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Invalid(String),
    /// The database refused a value or a row (a type it cannot parse, a
    /// constraint). Its own text stays in `detail`, for the log only.
    #[error("the database refused the write ({}): {}", .0.kind.as_str(), .0.detail)]
    Rejected(Rejection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// A value the column's type cannot hold.
    Value,
    /// NULL in a NOT NULL column.
    NotNull,
    Unique,
    Check,
    ForeignKey,
}

impl RejectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionKind::Value => "value",
            RejectionKind::NotNull => "not null",
            RejectionKind::Unique => "unique",
            RejectionKind::Check => "check",
            RejectionKind::ForeignKey => "foreign key",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rejection {
    pub kind: RejectionKind,
    /// The column, when the database names it.
    pub column: Option<String>,
    pub constraint: Option<String>,
    /// The database's message: for the server log, never for a caller.
    pub detail: String,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match sql::rejection(&e) {
            Some(r) => StoreError::Rejected(r),
            None => StoreError::Database(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A column as the live database describes it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Column {
    pub name: String,
    /// What the rules compare (`numeric(10,2)` → numeric).
    pub ty: ColumnType,
    /// The type as the database prints it: `numeric(10,2)`, `mood`,
    /// `timestamp(0) with time zone`, `enum('a','b')`.
    pub declared: String,
    /// PostgreSQL: the type a bound text is cast to before it is assigned,
    /// without length or precision so that the assignment checks them
    /// (strings are cast to `text`: an explicit cast to `varchar(4)` would
    /// silently cut a longer value).
    pub cast_as: Option<String>,
    pub nullable: bool,
    /// The database fills it in when an INSERT leaves it out.
    pub has_default: bool,
    /// An enum's labels, in order; empty for other types.
    pub labels: Vec<String>,
    /// `varchar(n)` / `char(n)`: the most characters it holds.
    pub max_chars: Option<u32>,
    /// Bytes, not text (bytea, BLOB, BINARY): read as hex, never written.
    pub binary: bool,
    /// Computed by the database (GENERATED … STORED, identity ALWAYS).
    pub generated: bool,
    /// A foreign key on this column alone: the record of another table its
    /// value must name.
    pub references: Option<Reference>,
}

/// The column of another table a foreign key points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub table: String,
    pub column: String,
}

/// A table of the database as `Store::user_tables` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserTable {
    pub name: String,
    /// The primary key's columns in key order; empty when it has none.
    pub primary_key: Vec<String>,
}

impl Column {
    /// Why leash may not write this column, if it may not.
    pub fn unwritable(&self) -> Option<&'static str> {
        if self.binary {
            Some("it holds bytes, which leash does not write")
        } else if self.generated {
            Some("the database computes it")
        } else {
            None
        }
    }
}

/// A table as the live database describes it.
#[derive(Debug, Clone, Serialize)]
pub struct TableSchema {
    /// As the policy names it, schema-qualified or not (`crm.customers`).
    pub name: String,
    pub columns: Vec<Column>,
    /// Columns that alone identify a row (primary key or a unique index).
    pub unique_columns: Vec<String>,
    /// Sets of several columns that together identify a row (a composite
    /// primary key or unique index), each in the index's column order.
    pub unique_keys: Vec<Vec<String>>,
    /// Triggers run on writes to it: what is stored may differ from what
    /// was written, so it is read back (SQLite, MySQL; PostgreSQL always
    /// reads it back through RETURNING).
    pub has_triggers: bool,
}

impl TableSchema {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether these columns together name one row: a primary key or a
    /// unique index on exactly them (in any order).
    pub fn is_unique_key(&self, key: &Key) -> bool {
        match key.as_single() {
            Some(col) => self.unique_columns.iter().any(|c| c == col),
            None => {
                self.unique_keys.iter().any(|k| k.len() == key.columns().len() && k.iter().all(|c| key.contains(c)))
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    pub ids: Vec<String>,
    pub action: Option<String>,
    pub run_id: Option<String>,
    pub actor: Option<String>,
    pub record_key: Option<String>,
    pub proposal_id: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Newest first and at most this many; `None`: all, oldest first.
    pub newest: Option<u32>,
    /// One table's records, these keys (with `records`: `verify`'s pages).
    pub table_name: Option<String>,
    pub records: Vec<String>,
    /// Oldest first, at most this many (ignored with `newest`): a page of
    /// the journal for a reader that walks all of it.
    pub oldest: Option<u32>,
    /// Only changes journaled after this change id (the previous page's last).
    pub after: Option<String>,
}

impl ChangeFilter {
    /// Whether it names anything: an empty filter reads the whole journal,
    /// which a revert must never take for its selection.
    pub fn selects_something(&self) -> bool {
        let named = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        self.ids.iter().any(|i| !i.trim().is_empty())
            || [&self.action, &self.run_id, &self.actor, &self.record_key, &self.proposal_id, &self.table_name]
                .into_iter()
                .any(named)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProposalFilter {
    pub statuses: Vec<ProposalStatus>,
    pub ids: Vec<String>,
    pub group: Option<String>,
    /// On `created_at`.
    pub since: Option<String>,
    pub until: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub limit: Option<u32>,
}

/// A pause or a tripped breaker, for one action or for all (`scope = "*"`).
#[derive(Debug, Clone, Serialize)]
pub struct Pause {
    pub scope: String,
    pub kind: PauseKind,
    pub reason: String,
    pub by: String,
    pub at: String,
    /// A breaker's changes: the ones to review and perhaps undo.
    pub change_ids: Vec<String>,
}

/// Who stopped an action: a person (`leash pause`) or the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseKind {
    Pause,
    Breaker,
}

impl PauseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseKind::Pause => "pause",
            PauseKind::Breaker => "breaker",
        }
    }

    pub fn parse(text: &str) -> Option<PauseKind> {
        match text {
            "pause" => Some(PauseKind::Pause),
            "breaker" => Some(PauseKind::Breaker),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub name: String,
    pub role: String,
    pub actions: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// How the database would run one read of the journal.
#[derive(Debug, Clone)]
pub struct JournalPlan {
    pub read: &'static str,
    pub sql: String,
    pub plan: String,
    /// The plan's steps that read `leash_changes` whole (none, when every
    /// step is bounded by an index).
    pub full_scans: Vec<String>,
}

/// A record the journal names and how many journal rows its chain has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    pub table_name: String,
    pub record_key: String,
    pub rows: u64,
}

/// What a revert needs of a journal row, and no more: reading 10 columns
/// instead of 20 is a third of a large revert's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Undoable {
    pub id: String,
    pub action: String,
    pub policy_hash: String,
    pub table_name: String,
    pub record_key: String,
    pub op: Op,
    pub fields: Vec<FieldChange>,
    pub actor: String,
    pub reverts: Option<String>,
    pub reverted_by: Option<String>,
}

/// One approval of one action's definition (`leash approve-policy`).
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub action: String,
    pub action_hash: String,
    pub policy_hash: String,
    pub approved_by: String,
    pub note: Option<String>,
    pub at: String,
    /// The action's explain page as JSON when it was approved, so the next
    /// approval can say what changed; `None` for approvals before it was kept.
    #[serde(skip)]
    pub page: Option<String>,
}

/// A webhook delivery waiting in `leash_outbox`.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: String,
    pub event: String,
    pub payload: String,
    pub target: String,
    pub attempts: u32,
    pub created_at: String,
}

/// A delivery not (yet) made: waiting for a retry, or parked — never to be
/// sent because its webhook left the policy or it failed for too long.
#[derive(Debug, Clone, Serialize)]
pub struct UndeliveredRow {
    pub id: String,
    pub event: String,
    /// The target URL as stored; print it only through `leash_core::url::redact_url`.
    pub target: String,
    pub attempts: u32,
    pub created_at: String,
    pub parked_at: Option<String>,
    /// The last error met; for a parked row, why it was parked.
    pub last_error: Option<String>,
}

pub const ALL_SCOPE: &str = "*";

/// What a call reads before it decides (`StoreTx::lock_for_write`).
#[derive(Debug, Clone, Default)]
pub struct Locked {
    /// The record, locked; `None` when no record has the key.
    pub record: Option<Record>,
    /// The record's key as the database prints it (`"01"` → `"1"`): the
    /// one spelling its journal rows use.
    pub key: Option<String>,
    pub pauses: Vec<Pause>,
    /// The chain head of the record's journal.
    pub head: Option<String>,
    /// The new values as the database would store them, in the order given
    /// (PostgreSQL parses and prints them; elsewhere they are as given).
    pub new: Vec<Value>,
}

/// What a compare-and-set write did (`StoreTx::update_with_change`).
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The record and its journal row are written.
    Journaled,
    /// The record no longer held the old values (or the chain moved on):
    /// nothing was written.
    Stale,
    /// The record is written, but the database stored other values than the
    /// change says (a trigger rewrote them, or the type reformatted them):
    /// here they are, in the change's field order. No journal row was
    /// written; the caller journals these.
    Stored(Vec<Value>),
}

/// Read access and the door into a transaction.
#[async_trait]
pub trait Store: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// Creates or upgrades every `leash_*` table; safe to run from many processes.
    async fn migrate(&self) -> Result<()>;
    async fn table_schema(&self, table: &str) -> Result<Option<TableSchema>>;
    /// The tables of the current schema (PostgreSQL), database (MySQL) or
    /// file (SQLite), by name, leash's own `leash_*` left out: what
    /// `leash init --db` writes a starter policy from, and where `leash
    /// check` finds the name a policy misspelled.
    async fn user_tables(&self) -> Result<Vec<UserTable>>;
    /// A write transaction; the store takes whatever lock makes it serialisable
    /// for the records it touches.
    async fn begin(&self) -> Result<Box<dyn StoreTx>>;
    /// A write transaction for one short call, which may share its commit
    /// with calls queued behind it (SQLite group commit). Its `commit`
    /// returns once the shared commit has succeeded, or fails with it.
    async fn begin_grouped(&self) -> Result<Box<dyn StoreTx>>;

    async fn read_record(&self, table: &TableSchema, key_cols: &Key, key: &str) -> Result<Option<Record>>;
    /// The distinct values of one column, at most `limit`, as the database
    /// prints them (an `exists_in` set small enough to list as an enum).
    async fn distinct_values(&self, table: &TableSchema, column: &str, limit: u32) -> Result<Vec<Value>>;

    /// Several records of one table by key, in as few statements as the
    /// store's parameter limit allows; keyed by the record's own key.
    async fn read_records(
        &self,
        table: &TableSchema,
        key_cols: &Key,
        keys: &[String],
    ) -> Result<HashMap<String, Record>>;
    /// Whether the column's type can hold this value (PostgreSQL asks the
    /// database; elsewhere `None`: unknown). Used only to name the value a
    /// refused write stumbled on.
    async fn fits(&self, column: &Column, value: &Value) -> Result<Option<bool>>;
    /// Whether `fits` can answer at all.
    fn can_test_values(&self) -> bool;
    async fn changes(&self, filter: &ChangeFilter) -> Result<Vec<Change>>;
    /// The same selection as `changes`, only what a revert reads.
    async fn undoables(&self, filter: &ChangeFilter) -> Result<Vec<Undoable>>;
    /// The records the journal names (of one table, if given), in (table,
    /// key) order after `after`, at most `limit`, with their chain lengths:
    /// `verify` walks the journal a page of records at a time.
    async fn journal_records(
        &self,
        table: Option<&str>,
        after: Option<&(String, String)>,
        limit: u32,
    ) -> Result<Vec<JournalRecord>>;
    /// Proposals made in `[since, until)`, counted per action, day, status,
    /// edit and (rejected) decision day: the report never loads the rows.
    async fn proposal_tallies(&self, since: Option<&str>, until: Option<&str>) -> Result<Vec<ProposalTally>>;
    /// The records with a change at or after `since`, in (table, key) order,
    /// with their whole chains' lengths.
    async fn records_changed_since(&self, since: &str) -> Result<Vec<JournalRecord>>;
    /// The database's plan for each read the log, revert, report and verify
    /// make of the journal (a diagnostic; a test holds each to an index).
    async fn journal_plans(&self) -> Result<Vec<JournalPlan>>;
    /// The journal of these actions counted per action and day, for reports
    /// (no rows loaded).
    async fn change_tallies(
        &self,
        actions: &[String],
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<ChangeTally>>;
    async fn change(&self, id: &str) -> Result<Option<Change>>;
    async fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<Proposal>>;
    async fn proposal(&self, id: &str) -> Result<Option<Proposal>>;
    /// Whether any open proposal is past `expires_at` by the database's
    /// clock and not yet dealt with: a cheap look before a write transaction.
    async fn has_due_proposals(&self) -> Result<bool>;
    async fn pauses(&self) -> Result<Vec<Pause>>;
    async fn token(&self, name: &str) -> Result<Option<TokenRow>>;
    async fn tokens(&self) -> Result<Vec<TokenRow>>;
    /// Every approval, oldest first.
    async fn approvals(&self) -> Result<Vec<Approval>>;
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>>;
    /// Claims up to `limit` due deliveries until `lease_until`, so that two
    /// processes never send the same row at once.
    async fn claim_outbox(&self, now: &str, lease_until: &str, limit: u32) -> Result<Vec<OutboxRow>>;
    /// Marks a delivery done, or schedules its retry.
    async fn finish_outbox(
        &self,
        id: &str,
        delivered_at: Option<&str>,
        attempts: u32,
        next_attempt_at: &str,
        error: Option<&str>,
    ) -> Result<()>;
    /// Parks a delivery: it is never claimed again.
    async fn park_outbox(&self, id: &str, at: &str, reason: &str) -> Result<()>;
    /// Undelivered rows, parked ones or those still retried, newest first, at
    /// most `limit`, and how many there are.
    async fn undelivered_outbox(&self, parked: bool, limit: u32) -> Result<(Vec<UndeliveredRow>, u64)>;
    /// Runs trusted SQL statements (the demo's and tests' fixtures); never
    /// reachable from a call.
    async fn execute_script(&self, statements: &[&str]) -> Result<()>;
}

/// Everything the write path does inside one transaction. Dropping it
/// without `commit` rolls back.
#[async_trait]
pub trait StoreTx: Send {
    /// The key of a record other than `except_key` whose `column` equals `value`.
    async fn find_other(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        except_key: Option<&str>,
        column: &str,
        value: &Value,
    ) -> Result<Option<String>>;
    /// Inserts a row and returns its key and the values it stored for the
    /// row's fields, in order, as the database prints them. `key` given:
    /// insert with that key.
    async fn insert_record(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        key: Option<&str>,
        row: &[FieldChange],
    ) -> Result<(String, Vec<Value>)>;
    /// Deletes the row only if every field still holds `old`.
    async fn delete_record(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        key: &str,
        fields: &[FieldChange],
    ) -> Result<bool>;

    async fn chain_head(&mut self, table: &str, key: &str) -> Result<Option<String>>;

    // Set-based forms for batch revert: one statement for many records.
    /// Loads and locks several records of one table by key.
    async fn lock_records(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        keys: &[String],
    ) -> Result<HashMap<String, Record>>;
    /// Of these change ids, the ones no revert has undone yet; call it with
    /// their records locked (`lock_records`).
    async fn open_changes(&mut self, ids: &[String]) -> Result<Vec<String>>;
    /// Writes each row's `new` values; the rows must be locked and compared
    /// already. Returns, per row in order, the values as stored (which a
    /// trigger may have rewritten); a row that was not found has none.
    async fn update_records(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        rows: &[(String, Vec<FieldChange>)],
    ) -> Result<Vec<Option<Vec<Value>>>>;
    /// The chain head (latest hash) of each of these records that has one.
    async fn chain_heads(&mut self, table: &str, keys: &[String]) -> Result<HashMap<String, String>>;
    async fn insert_changes(&mut self, changes: &[Change]) -> Result<()>;
    /// Marks each (change, reverted by) pair in `leash_reverts`; returns how
    /// many were still open (fewer: roll back, a concurrent revert won).
    async fn mark_reverted_many(&mut self, pairs: &[(String, String)]) -> Result<u64>;
    async fn insert_change(&mut self, change: &Change) -> Result<()>;
    /// Compare-and-set update of the change's record plus its journal row, in
    /// one round trip where the store can. `Stale`: the record no longer
    /// holds the fields' `old` values or (on a store whose `lock_for_write`
    /// may read a stale head) `prev_hash` is no longer the record's chain
    /// head; then neither the row nor the journal changed.
    async fn update_with_change(&mut self, table: &TableSchema, key_cols: &Key, change: &Change) -> Result<Written>;

    async fn insert_proposal(&mut self, proposal: &Proposal) -> Result<()>;
    /// The database's clock, in leash's stamp form.
    async fn db_now(&mut self) -> Result<String>;
    /// Open proposals past `expires_at` by the database's clock and not yet
    /// escalated, locked, at most `limit`; and that clock's reading.
    async fn due_proposals(&mut self, limit: u32) -> Result<(String, Vec<Proposal>)>;
    async fn lock_proposal(&mut self, id: &str) -> Result<Option<Proposal>>;
    async fn update_proposal(&mut self, proposal: &Proposal) -> Result<()>;

    /// Pauses in force for this action or for all actions.
    async fn pauses_for(&mut self, action: &str) -> Result<Vec<Pause>>;
    /// What the write path reads after locking a record, in one round trip
    /// where the store can: the pauses in force and the record's chain head.
    async fn call_context(
        &mut self,
        action: &str,
        table: &str,
        key: Option<&str>,
    ) -> Result<(Vec<Pause>, Option<String>)> {
        let pauses = self.pauses_for(action).await?;
        let head = match key {
            Some(k) => self.chain_head(table, k).await?,
            None => None,
        };
        Ok((pauses, head))
    }
    /// Everything a call reads before it decides, in as few round trips as
    /// the store allows: the record (locked), its key as stored, the pauses
    /// in force, the record's chain head, and the new values as the
    /// database would store them. The head is read after the lock is held,
    /// so it cannot move before this transaction writes.
    async fn lock_for_write(
        &mut self,
        table: &TableSchema,
        key_cols: &Key,
        key: &str,
        action: &str,
        new: &[(&str, &Value)],
    ) -> Result<Locked>;
    async fn set_pause(&mut self, pause: &Pause) -> Result<()>;
    /// Clears a pause or breaker; returns whether one was set.
    async fn clear_pause(&mut self, scope: &str, by: &str, at: &str, reason: &str) -> Result<bool>;

    /// Adds one to a counter unless it has reached `max`; false at the cap.
    /// Atomic across processes.
    async fn bump_counter(&mut self, name: &str, window_start: i64, max: u32) -> Result<bool>;
    async fn idempotent_result(&mut self, action: &str, actor: &str, key: &str) -> Result<Option<String>>;
    async fn save_idempotent(&mut self, action: &str, actor: &str, key: &str, result: &str, at: &str) -> Result<()>;
    /// Records a run when a process first sees it write (`calls` counts those
    /// processes; a run's changes are counted from the journal).
    async fn touch_run(&mut self, run_id: &str, actor: &str, action: &str, at: &str) -> Result<()>;
    async fn insert_outbox(&mut self, id: &str, event: &str, payload: &str, at: &str, target: &str) -> Result<()>;

    async fn save_token(&mut self, token: &TokenRow, hash: &str) -> Result<()>;

    async fn insert_approval(&mut self, approval: &Approval) -> Result<()>;
    /// The latest approval of exactly this definition of an action.
    async fn approval_for(&mut self, action: &str, action_hash: &str) -> Result<Option<Approval>>;
    /// Records a change's breaker signature and returns the ids of the changes
    /// with that signature at or after `since`, this one included.
    async fn breaker_event(
        &mut self,
        action: &str,
        signature: &str,
        change_id: &str,
        at: &str,
        since: &str,
    ) -> Result<Vec<String>>;
    /// Forgets a signature's events once the breaker has tripped on them, so
    /// counting starts afresh after a person resumes the action.
    async fn clear_breaker(&mut self, action: &str, signature: &str) -> Result<()>;
    async fn revoke_token(&mut self, name: &str, at: &str) -> Result<bool>;

    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Opens the store a URL names: `sqlite://`, `postgres://`, `mysql://`, `mariadb://`.
pub async fn open(url: &str) -> Result<Box<dyn Store>> {
    Ok(Box::new(SqlStore::connect(url).await?))
}

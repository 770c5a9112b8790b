//! The engine runs the write path (ARCHITECTURE.md) and everything that follows a
//! change: the review queue, revert, verify. It loads through the `Store`
//! traits, asks `leash_core::decide`, and writes what the decision says.

mod audit;
mod check;
mod clock;
mod expiry;
mod explain;
mod groups;
mod journal;
mod outbox;
mod queries;
mod reads;
mod revert;
mod review;
mod rollout;
mod stage;
mod state;
mod test_cases;
mod tokens;
mod values;
mod verify;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use leash_core::codes::{Code, ErrorCode};
use leash_core::policy::{Action, Policy};
use leash_store::{Store, StoreError, TableSchema};

pub use audit::{ActionTally, AuditReport, AuditRequest, RefusedChange, ReviewedChange, AUDIT_PAGE_ROWS};
pub use check::{check_schema, outline_database, ColumnOutline, SchemaIssue, TableOutline};
pub use clock::{parse_time, stamp, Clock};
pub use expiry::EXPIRE_BATCH_MAX;
pub use explain::PolicyChange;
pub use groups::MemberOutcome;
/// Plain data the engine answers with, defined where it is stored.
pub use leash_store::{OutboxRow, Pause, PauseKind, TokenRow, UndeliveredRow, ALL_SCOPE};
pub use outbox::{Target, OUTBOX_MAX_AGE_S, PARKED_SHOWN_MAX};
pub use queries::{
    ChangeQuery, ProposalQuery, SelectorFields, CHANGES_PAGE_DEFAULT, CHANGES_PAGE_MAX, PROPOSALS_PAGE_DEFAULT,
    PROPOSALS_PAGE_MAX,
};
pub use reads::{ProposalSeen, ProposalStatusView, ProposalView, SignIn};
pub use revert::{ChangeIds, Conflict, Named, RevertReport, RevertRequest, Selector, REVERT_BATCH_MAX};
pub use rollout::{ActionSheet, ActionsOverview, PolicyApproval};
pub use test_cases::{run_test_cases, CaseResult};
pub use tokens::{token_hash, Caller, Role, TOKEN_CACHE_TTL_MS};
pub use verify::{ChainBreak, Drift, VerifyReport, VerifyScope};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the policy does not match the database:\n{}", .0.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
    Schema(Vec<SchemaIssue>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// What kind of failure an engine error is, for the interface to answer
/// with its own status (HTTP status, MCP tool error, UI banner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Invalid,
    Forbidden,
    NotFound,
    /// The database is unreachable or failed: worth retrying later.
    Unavailable,
    Internal,
}

/// An engine error as every interface answers it: one mapping, here.
#[derive(Debug, Clone)]
pub struct ErrorAnswer {
    pub failure: Failure,
    pub code: &'static str,
    pub message: String,
}

impl EngineError {
    /// The answer for a caller. The cause of a database or internal
    /// failure goes to the server log, never to the caller.
    pub fn answer(&self) -> ErrorAnswer {
        let (failure, code, message) = match self {
            EngineError::NotFound(what) => {
                (Failure::NotFound, ErrorCode::NotFound.as_str(), format!("{what} not found"))
            }
            EngineError::Forbidden(why) => (Failure::Forbidden, Code::NotPermitted.as_str(), why.clone()),
            EngineError::Invalid(why) => (Failure::Invalid, Code::InvalidInput.as_str(), why.clone()),
            EngineError::Store(StoreError::Rejected(_)) => (
                Failure::Invalid,
                Code::InvalidInput.as_str(),
                "the database refused a value; check each value against its column's type".to_string(),
            ),
            EngineError::Store(StoreError::Database(_) | StoreError::Corrupt(_)) => (
                Failure::Unavailable,
                ErrorCode::Internal.as_str(),
                "the database could not complete this; try again shortly (the server log has the cause)".to_string(),
            ),
            _ => (
                Failure::Internal,
                ErrorCode::Internal.as_str(),
                "leash could not complete this; the server log has the cause".to_string(),
            ),
        };
        if matches!(failure, Failure::Unavailable | Failure::Internal) {
            tracing::error!(error = %self, "request failed");
        }
        ErrorAnswer { failure, code, message }
    }
}

pub struct Engine {
    policy: Arc<Policy>,
    store: Arc<dyn Store>,
    schemas: HashMap<String, TableSchema>,
    clock: Clock,
    /// Refuse actions whose current definition nobody approved (`policy_unapproved`).
    require_approval: bool,
    /// Approvals of current definitions already seen. Approvals are never
    /// withdrawn (a changed definition has a new hash), so a hit stays true.
    approved: std::sync::Mutex<HashMap<String, leash_store::Approval>>,
    /// Runs (token, run id) already recorded in `leash_runs` by this process.
    runs_seen: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// (action, field) → the values of its `exists_in` column, when there
    /// are at most `CLOSED_SET_ENUM_MAX` (read at start, for the schemas).
    closed_sets: HashMap<(String, String), Vec<serde_json::Value>>,
    /// Token hash → caller and when it was read (see `caller_for_token`).
    token_cache: std::sync::Mutex<HashMap<String, (Caller, std::time::Instant)>>,
}

impl Engine {
    /// Migrates the `leash_*` tables, reads the schema of every table the policy
    /// names once, and refuses to start if the policy does not fit it.
    pub async fn open(policy: Policy, store: Arc<dyn Store>) -> Result<Engine> {
        store.migrate().await?;
        let schemas = check::load_schemas(&policy, store.as_ref()).await?;
        let issues: Vec<SchemaIssue> = check::issues(&policy, &schemas).into_iter().filter(|i| !i.warning).collect();
        if !issues.is_empty() {
            return Err(EngineError::Schema(issues));
        }
        let closed_sets = check::closed_sets(&policy, &schemas, store.as_ref()).await?;
        Ok(Engine {
            closed_sets,
            policy: Arc::new(policy),
            store,
            schemas,
            clock: Clock::system(),
            require_approval: true,
            approved: Default::default(),
            runs_seen: Default::default(),
            token_cache: Default::default(),
        })
    }

    /// Opens the database a URL names (`sqlite://`, `postgres://`,
    /// `mysql://`) and the engine over it.
    pub async fn connect(policy: Policy, url: &str) -> Result<Engine> {
        Engine::open(policy, Arc::from(leash_store::open(url).await?)).await
    }

    /// For tests and the demo: a clock that is not the wall clock.
    pub fn with_clock(mut self, clock: Clock) -> Engine {
        self.clock = clock;
        self
    }

    /// Development only: run actions nobody approved, with a warning per call.
    pub fn allow_unapproved(mut self) -> Engine {
        self.require_approval = false;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// An action's call schema (MCP, OpenAPI), its `exists_in` sets listed
    /// as enums where they are small.
    pub fn call_schema(&self, action: &Action) -> serde_json::Value {
        let sets: leash_core::schema::ClosedSets = action
            .fields
            .iter()
            .filter_map(|f| {
                Some((f.name.clone(), self.closed_sets.get(&(action.name.clone(), f.name.clone()))?.clone()))
            })
            .collect();
        leash_core::schema::call_schema_with(action, &sets)
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn schema(&self, table: &str) -> Result<&TableSchema> {
        self.schemas.get(table).ok_or_else(|| EngineError::Invalid(format!("table {table} is not named by the policy")))
    }

    /// The key column of a journaled change's table, from its action or
    /// another action on the same table.
    fn key_column(&self, action: &str, table: &str) -> Result<&Action> {
        self.policy
            .action(action)
            .filter(|a| a.table == table)
            .or_else(|| self.policy.actions.iter().find(|a| a.table == table))
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "no action in the policy names table {table}; add it back to revert or verify its changes"
                ))
            })
    }
}

/// The policy against the database a URL names, without starting an engine
/// (`leash check`): every mismatch, errors and warnings.
pub async fn check_database(policy: &Policy, url: &str) -> Result<Vec<SchemaIssue>> {
    let store = leash_store::open(url).await?;
    check_schema(policy, store.as_ref()).await
}

/// Runs trusted SQL on the database a URL names: the demo's and policy
/// tests' fixtures. Never reachable from a call.
pub async fn run_script(url: &str, statements: &[&str]) -> Result<()> {
    Ok(leash_store::open(url).await?.execute_script(statements).await?)
}

/// A poisoned lock only means another thread panicked mid-update of a cache;
/// the data is still usable.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

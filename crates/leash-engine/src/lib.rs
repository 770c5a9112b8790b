//! The engine runs the write path (DESIGN §3) and everything that follows a
//! change: the review queue, revert, verify. It loads through the `Store`
//! traits, asks `leash_core::decide`, and writes what the decision says.

mod check;
mod clock;
mod policy_tests;
mod reads;
mod revert;
mod review;
mod rollout;
mod state;
mod tokens;
mod values;
mod verify;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use leash_core::policy::{Action, Policy};
use leash_store::{Store, StoreError, TableSchema};

pub use check::{check_schema, SchemaIssue};
pub use clock::{parse_time, stamp, Clock};
pub use policy_tests::{run_policy_tests, CaseResult};
pub use reads::ProposalStatusView;
pub use revert::{Conflict, RevertReport, RevertRequest, Selector, REVERT_BATCH_MAX};
pub use rollout::{ActionSheet, PolicyApproval};
pub use tokens::{Caller, Role};
pub use verify::{ChainBreak, Drift, VerifyReport};

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
    /// Runs already recorded in `leash_runs` by this process.
    runs_seen: std::sync::Mutex<std::collections::HashSet<String>>,
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
        Ok(Engine {
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

    pub fn store(&self) -> &dyn Store {
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

/// A poisoned lock only means another thread panicked mid-update of a cache;
/// the data is still usable.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

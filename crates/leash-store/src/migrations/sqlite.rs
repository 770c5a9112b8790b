//! SQLite's migrations.

use super::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "journal, proposals, runs, state, approvals, tokens, outbox, limits, idempotency",
        statements: &[
            "CREATE TABLE leash_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            policy_hash TEXT NOT NULL,
            table_name TEXT NOT NULL,
            record_key TEXT NOT NULL,
            op TEXT NOT NULL,
            fields TEXT NOT NULL,
            actor TEXT NOT NULL,
            approver TEXT,
            reason TEXT,
            evidence TEXT,
            confidence REAL,
            run_id TEXT,
            proposal_id TEXT,
            reverts TEXT,
            reverted_by TEXT,
            watch INTEGER NOT NULL DEFAULT 0,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )",
            // One successor per chain link: two writers that read the same head
            // cannot both commit.
            "CREATE UNIQUE INDEX leash_changes_chain ON leash_changes (table_name, record_key, prev_hash)",
            "CREATE INDEX leash_changes_run ON leash_changes (run_id)",
            "CREATE INDEX leash_changes_action_at ON leash_changes (action, at)",
            "CREATE INDEX leash_changes_actor ON leash_changes (actor)",
            "CREATE TRIGGER leash_changes_no_delete BEFORE DELETE ON leash_changes
            BEGIN SELECT RAISE(ABORT, 'leash_changes is append-only'); END",
            "CREATE TRIGGER leash_changes_no_rewrite BEFORE UPDATE OF
            id, at, action, policy_hash, table_name, record_key, op, fields, actor, approver,
            reason, evidence, confidence, run_id, proposal_id, reverts, watch, prev_hash, hash
            ON leash_changes
            BEGIN SELECT RAISE(ABORT, 'leash_changes rows are never rewritten'); END",
            "CREATE TABLE leash_proposals (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            action TEXT NOT NULL,
            table_name TEXT NOT NULL,
            record_key TEXT,
            fields TEXT NOT NULL,
            reasons TEXT NOT NULL,
            notes TEXT NOT NULL,
            status TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT,
            evidence TEXT,
            confidence REAL,
            run_id TEXT,
            reviewer TEXT,
            decided_at TEXT,
            review_note TEXT,
            edited TEXT,
            change_id TEXT
        )",
            "CREATE INDEX leash_proposals_status ON leash_proposals (status, created_at)",
            "CREATE TABLE leash_runs (
            run_id TEXT PRIMARY KEY,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            started_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            calls INTEGER NOT NULL DEFAULT 1
        )",
            "CREATE TABLE leash_state (
            scope TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            by_name TEXT NOT NULL,
            at TEXT NOT NULL
        )",
            "CREATE TABLE leash_state_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            scope TEXT NOT NULL,
            event TEXT NOT NULL,
            reason TEXT NOT NULL,
            by_name TEXT NOT NULL,
            at TEXT NOT NULL
        )",
            "CREATE TABLE leash_policy_approvals (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            action TEXT NOT NULL,
            action_hash TEXT NOT NULL,
            policy_hash TEXT NOT NULL,
            approved_by TEXT NOT NULL,
            note TEXT,
            at TEXT NOT NULL
        )",
            "CREATE TABLE leash_tokens (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            actions TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )",
            "CREATE TABLE leash_outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            delivered_at TEXT,
            last_error TEXT
        )",
            "CREATE TABLE leash_limits (
            name TEXT NOT NULL,
            window_start INTEGER NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (name, window_start)
        )",
            "CREATE TABLE leash_idempotency (
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            idem_key TEXT NOT NULL,
            result TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (action, actor, idem_key)
        )",
        ],
    },
    Migration {
        version: 2,
        name: "breaker events; approvals by action",
        statements: &[
            "CREATE TABLE leash_breaker_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            action TEXT NOT NULL,
            signature TEXT NOT NULL,
            change_id TEXT NOT NULL,
            at TEXT NOT NULL
        )",
            "CREATE INDEX leash_breaker_events_sig ON leash_breaker_events (action, signature, at)",
            "CREATE INDEX leash_policy_approvals_action ON leash_policy_approvals (action, action_hash)",
        ],
    },
    Migration {
        version: 3,
        name: "one outbox row per webhook",
        statements: &["ALTER TABLE leash_outbox ADD COLUMN target TEXT"],
    },
    // AUTOINCREMENT rewrote a row of sqlite_sequence on every journal insert:
    // one more page per write, ~25 % of a guarded write's commit. Journal rows
    // are never deleted, so a plain rowid already never reuses a number.
    Migration {
        version: 4,
        name: "journal without AUTOINCREMENT",
        statements: &[
            "CREATE TABLE leash_changes_v4 (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            policy_hash TEXT NOT NULL,
            table_name TEXT NOT NULL,
            record_key TEXT NOT NULL,
            op TEXT NOT NULL,
            fields TEXT NOT NULL,
            actor TEXT NOT NULL,
            approver TEXT,
            reason TEXT,
            evidence TEXT,
            confidence REAL,
            run_id TEXT,
            proposal_id TEXT,
            reverts TEXT,
            reverted_by TEXT,
            watch INTEGER NOT NULL DEFAULT 0,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )",
            "INSERT INTO leash_changes_v4 (seq, id, at, action, policy_hash, table_name, record_key, op, fields, actor,
            approver, reason, evidence, confidence, run_id, proposal_id, reverts, reverted_by, watch, prev_hash, hash)
            SELECT seq, id, at, action, policy_hash, table_name, record_key, op, fields, actor,
            approver, reason, evidence, confidence, run_id, proposal_id, reverts, reverted_by, watch, prev_hash, hash
            FROM leash_changes",
            // Dropping a table fires no DELETE trigger; its indexes and triggers go with it.
            "DROP TABLE leash_changes",
            "ALTER TABLE leash_changes_v4 RENAME TO leash_changes",
            "CREATE UNIQUE INDEX leash_changes_chain ON leash_changes (table_name, record_key, prev_hash)",
            "CREATE INDEX leash_changes_run ON leash_changes (run_id)",
            "CREATE INDEX leash_changes_action_at ON leash_changes (action, at)",
            "CREATE INDEX leash_changes_actor ON leash_changes (actor)",
            "CREATE TRIGGER leash_changes_no_delete BEFORE DELETE ON leash_changes
            BEGIN SELECT RAISE(ABORT, 'leash_changes is append-only'); END",
            "CREATE TRIGGER leash_changes_no_rewrite BEFORE UPDATE OF
            id, at, action, policy_hash, table_name, record_key, op, fields, actor, approver,
            reason, evidence, confidence, run_id, proposal_id, reverts, watch, prev_hash, hash
            ON leash_changes
            BEGIN SELECT RAISE(ABORT, 'leash_changes rows are never rewritten'); END",
        ],
    },
    // Breaker pauses keep the ids of the changes that tripped them as data.
    Migration {
        version: 5,
        name: "pause change ids",
        statements: &["ALTER TABLE leash_state ADD COLUMN change_ids TEXT"],
    },
    // Proposals expire or escalate, and share a group with "the same change".
    Migration {
        version: 9,
        name: "proposal expiry, escalation and groups",
        statements: &[
            "ALTER TABLE leash_proposals ADD COLUMN group_key TEXT",
            "ALTER TABLE leash_proposals ADD COLUMN expires_at TEXT",
            "ALTER TABLE leash_proposals ADD COLUMN on_expire TEXT",
            "ALTER TABLE leash_proposals ADD COLUMN escalated_at TEXT",
            "CREATE INDEX leash_proposals_expiry ON leash_proposals (status, expires_at)",
            "CREATE INDEX leash_proposals_group ON leash_proposals (action, group_key, status)",
        ],
    },
    // Each approval keeps the page it approved, so the next one can say what changed.
    Migration {
        version: 6,
        name: "approved pages",
        statements: &["ALTER TABLE leash_policy_approvals ADD COLUMN page TEXT"],
    },
    // Deliveries whose webhook left the policy, or that failed for too long,
    // are parked: kept for a person to see, never sent.
    Migration {
        version: 7,
        name: "parked outbox rows",
        statements: &[
            "ALTER TABLE leash_outbox ADD COLUMN parked_at TEXT",
            "CREATE INDEX leash_outbox_due ON leash_outbox (delivered_at, parked_at, next_attempt_at)",
        ],
    },
    // The log's filters read newest first by (filter, seq): a page is an
    // index range, not a sort of every matching row. Each index costs every
    // write (a B-tree more per commit), so reports use (action, at) and a
    // record's history the chain index.
    Migration {
        version: 10,
        name: "journal indexes in the log's order",
        statements: &[
            "DROP INDEX leash_changes_run",
            "DROP INDEX leash_changes_actor",
            "CREATE INDEX leash_changes_run_seq ON leash_changes (run_id, seq)",
            "CREATE INDEX leash_changes_actor_seq ON leash_changes (actor, seq)",
            "CREATE INDEX leash_changes_action_seq ON leash_changes (action, seq)",
        ],
    },
    // A revert marks what it undid in a narrow table of its own: setting
    // `reverted_by` on the wide journal row rewrote the row (and on
    // PostgreSQL each of its index entries) and fired the guard trigger, the
    // largest part of a batch revert's cost. The journal becomes wholly
    // immutable, and so are the marks; the primary key keeps a change from
    // being reverted twice.
    Migration {
        version: 11,
        name: "revert marks in leash_reverts",
        statements: &[
            "CREATE TABLE leash_reverts (
            change_id TEXT PRIMARY KEY NOT NULL,
            reverted_by TEXT NOT NULL
        )",
            "INSERT INTO leash_reverts (change_id, reverted_by)
            SELECT id, reverted_by FROM leash_changes WHERE reverted_by IS NOT NULL",
            "DROP TRIGGER leash_changes_no_rewrite",
            "ALTER TABLE leash_changes DROP COLUMN reverted_by",
            "CREATE TRIGGER leash_changes_no_rewrite BEFORE UPDATE ON leash_changes
            BEGIN SELECT RAISE(ABORT, 'leash_changes rows are never rewritten'); END",
            "CREATE TRIGGER leash_reverts_no_delete BEFORE DELETE ON leash_reverts
            BEGIN SELECT RAISE(ABORT, 'leash_reverts is append-only'); END",
            "CREATE TRIGGER leash_reverts_no_rewrite BEFORE UPDATE ON leash_reverts
            BEGIN SELECT RAISE(ABORT, 'leash_reverts rows are never rewritten'); END",
        ],
    },
    // A run id is its token's own: two tokens that use the same text make
    // two runs, each with its own row (and its own `per_run` counter).
    Migration {
        version: 12,
        name: "runs keyed by token and run id",
        statements: &[
            "CREATE TABLE leash_runs_by_token (
            run_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            started_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            calls INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (run_id, actor)
        )",
            "INSERT INTO leash_runs_by_token (run_id, actor, action, started_at, last_at, calls)
            SELECT run_id, actor, action, started_at, last_at, calls FROM leash_runs",
            "DROP TABLE leash_runs",
            "ALTER TABLE leash_runs_by_token RENAME TO leash_runs",
        ],
    },
];

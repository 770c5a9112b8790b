//! Versioned migrations for every `leash_*` table. A migration is never edited
//! once released; a change is a new version.

use crate::Dialect;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
}

const SQLITE: &[Migration] = &[Migration {
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
            key TEXT NOT NULL,
            result TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (action, actor, key)
        )",
    ],
}];

pub fn for_dialect(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres | Dialect::Mysql => &[],
    }
}

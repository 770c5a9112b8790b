//! PostgreSQL's migrations.

use super::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "journal, proposals, runs, state, approvals, tokens, outbox, limits, idempotency",
        statements: &[
            "CREATE TABLE leash_changes (
            seq BIGSERIAL PRIMARY KEY,
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
            confidence DOUBLE PRECISION,
            run_id TEXT,
            proposal_id TEXT,
            reverts TEXT,
            reverted_by TEXT,
            watch BIGINT NOT NULL DEFAULT 0,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )",
            "CREATE UNIQUE INDEX leash_changes_chain ON leash_changes (table_name, record_key, prev_hash)",
            "CREATE INDEX leash_changes_record ON leash_changes (table_name, record_key, seq)",
            "CREATE INDEX leash_changes_run ON leash_changes (run_id)",
            "CREATE INDEX leash_changes_action_at ON leash_changes (action, at)",
            "CREATE INDEX leash_changes_actor ON leash_changes (actor)",
            "CREATE FUNCTION leash_changes_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'leash_changes is append-only';
            END IF;
            IF (NEW.seq, NEW.id, NEW.at, NEW.action, NEW.policy_hash, NEW.table_name, NEW.record_key, NEW.op,
                NEW.fields, NEW.actor, NEW.approver, NEW.reason, NEW.evidence, NEW.confidence, NEW.run_id,
                NEW.proposal_id, NEW.reverts, NEW.watch, NEW.prev_hash, NEW.hash)
               IS DISTINCT FROM
               (OLD.seq, OLD.id, OLD.at, OLD.action, OLD.policy_hash, OLD.table_name, OLD.record_key, OLD.op,
                OLD.fields, OLD.actor, OLD.approver, OLD.reason, OLD.evidence, OLD.confidence, OLD.run_id,
                OLD.proposal_id, OLD.reverts, OLD.watch, OLD.prev_hash, OLD.hash) THEN
                RAISE EXCEPTION 'leash_changes rows are never rewritten';
            END IF;
            RETURN NEW;
        END $$",
            "CREATE TRIGGER leash_changes_guard BEFORE UPDATE OR DELETE ON leash_changes
            FOR EACH ROW EXECUTE FUNCTION leash_changes_guard()",
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
            confidence DOUBLE PRECISION,
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
            calls BIGINT NOT NULL DEFAULT 1
        )",
            "CREATE TABLE leash_state (
            scope TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            by_name TEXT NOT NULL,
            at TEXT NOT NULL
        )",
            "CREATE TABLE leash_state_log (
            seq BIGSERIAL PRIMARY KEY,
            scope TEXT NOT NULL,
            event TEXT NOT NULL,
            reason TEXT NOT NULL,
            by_name TEXT NOT NULL,
            at TEXT NOT NULL
        )",
            "CREATE TABLE leash_policy_approvals (
            seq BIGSERIAL PRIMARY KEY,
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
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            delivered_at TEXT,
            last_error TEXT
        )",
            "CREATE TABLE leash_limits (
            name TEXT NOT NULL,
            window_start BIGINT NOT NULL,
            count BIGINT NOT NULL,
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
            seq BIGSERIAL PRIMARY KEY,
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
    // Breaker pauses keep the ids of the changes that tripped them as data.
    Migration {
        version: 4,
        name: "pause change ids",
        statements: &["ALTER TABLE leash_state ADD COLUMN change_ids TEXT"],
    },
    // Proposals expire or escalate, and share a group with "the same change".
    Migration {
        version: 8,
        name: "proposal expiry, escalation and groups",
        statements: &[
            "ALTER TABLE leash_proposals ADD COLUMN group_key TEXT, ADD COLUMN expires_at TEXT, \
             ADD COLUMN on_expire TEXT, ADD COLUMN escalated_at TEXT",
            "CREATE INDEX leash_proposals_expiry ON leash_proposals (status, expires_at)",
            "CREATE INDEX leash_proposals_group ON leash_proposals (action, group_key, status)",
        ],
    },
    // Each approval keeps the page it approved, so the next one can say what changed.
    Migration {
        version: 5,
        name: "approved pages",
        statements: &["ALTER TABLE leash_policy_approvals ADD COLUMN page TEXT"],
    },
    // Deliveries whose webhook left the policy, or that failed for too long,
    // are parked: kept for a person to see, never sent.
    Migration {
        version: 6,
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
        version: 9,
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
        version: 10,
        name: "revert marks in leash_reverts",
        statements: &[
            "CREATE TABLE leash_reverts (
            change_id TEXT PRIMARY KEY,
            reverted_by TEXT NOT NULL
        )",
            "INSERT INTO leash_reverts (change_id, reverted_by)
            SELECT id, reverted_by FROM leash_changes WHERE reverted_by IS NOT NULL",
            "ALTER TABLE leash_changes DROP COLUMN reverted_by",
            "CREATE OR REPLACE FUNCTION leash_changes_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
            END IF;
            RAISE EXCEPTION '% rows are never rewritten', TG_TABLE_NAME;
        END $$",
            "CREATE TRIGGER leash_reverts_guard BEFORE UPDATE OR DELETE ON leash_reverts
            FOR EACH ROW EXECUTE FUNCTION leash_changes_guard()",
        ],
    },
    // A run id is its token's own: two tokens that use the same text make
    // two runs, each with its own row (and its own `per_run` counter).
    Migration {
        version: 11,
        name: "runs keyed by token and run id",
        statements: &["ALTER TABLE leash_runs DROP CONSTRAINT leash_runs_pkey, ADD PRIMARY KEY (run_id, actor)"],
    },
];

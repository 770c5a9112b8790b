//! MySQL's and MariaDB's migrations.

use super::Migration;

// MySQL/MariaDB: indexed text is VARCHAR (an index needs a length); each
// table is InnoDB so row locks and transactions hold.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "journal, proposals, runs, state, approvals, tokens, outbox, limits, idempotency",
    statements: &[
        "CREATE TABLE leash_changes (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            id VARCHAR(32) NOT NULL UNIQUE,
            at VARCHAR(32) NOT NULL,
            action VARCHAR(64) NOT NULL,
            policy_hash VARCHAR(64) NOT NULL,
            table_name VARCHAR(64) NOT NULL,
            record_key VARCHAR(191) NOT NULL,
            op VARCHAR(8) NOT NULL,
            fields LONGTEXT NOT NULL,
            actor VARCHAR(191) NOT NULL,
            approver VARCHAR(191),
            reason TEXT,
            evidence TEXT,
            confidence DOUBLE,
            run_id VARCHAR(191),
            proposal_id VARCHAR(32),
            reverts VARCHAR(32),
            reverted_by VARCHAR(32),
            watch BIGINT NOT NULL DEFAULT 0,
            prev_hash VARCHAR(64) NOT NULL,
            hash VARCHAR(64) NOT NULL,
            UNIQUE KEY leash_changes_chain (table_name, record_key, prev_hash),
            KEY leash_changes_run (run_id),
            KEY leash_changes_action_at (action, at),
            KEY leash_changes_actor (actor)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TRIGGER leash_changes_no_delete BEFORE DELETE ON leash_changes FOR EACH ROW
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'leash_changes is append-only'",
        "CREATE TRIGGER leash_changes_no_rewrite BEFORE UPDATE ON leash_changes FOR EACH ROW
            BEGIN
                IF NOT (NEW.seq <=> OLD.seq AND NEW.id <=> OLD.id AND NEW.at <=> OLD.at AND NEW.action <=> OLD.action
                    AND NEW.policy_hash <=> OLD.policy_hash AND NEW.table_name <=> OLD.table_name
                    AND NEW.record_key <=> OLD.record_key AND NEW.op <=> OLD.op AND NEW.fields <=> OLD.fields
                    AND NEW.actor <=> OLD.actor AND NEW.approver <=> OLD.approver AND NEW.reason <=> OLD.reason
                    AND NEW.evidence <=> OLD.evidence AND NEW.confidence <=> OLD.confidence AND NEW.run_id <=> OLD.run_id
                    AND NEW.proposal_id <=> OLD.proposal_id AND NEW.reverts <=> OLD.reverts AND NEW.watch <=> OLD.watch
                    AND NEW.prev_hash <=> OLD.prev_hash AND NEW.hash <=> OLD.hash) THEN
                    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'leash_changes rows are never rewritten';
                END IF;
            END",
        "CREATE TABLE leash_proposals (
            id VARCHAR(32) PRIMARY KEY,
            created_at VARCHAR(32) NOT NULL,
            action VARCHAR(64) NOT NULL,
            table_name VARCHAR(64) NOT NULL,
            record_key VARCHAR(191),
            fields LONGTEXT NOT NULL,
            reasons TEXT NOT NULL,
            notes TEXT NOT NULL,
            status VARCHAR(16) NOT NULL,
            actor VARCHAR(191) NOT NULL,
            reason TEXT,
            evidence TEXT,
            confidence DOUBLE,
            run_id VARCHAR(191),
            reviewer VARCHAR(191),
            decided_at VARCHAR(32),
            review_note TEXT,
            edited LONGTEXT,
            change_id VARCHAR(32),
            KEY leash_proposals_status (status, created_at)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_runs (
            run_id VARCHAR(191) PRIMARY KEY,
            actor VARCHAR(191) NOT NULL,
            action VARCHAR(64) NOT NULL,
            started_at VARCHAR(32) NOT NULL,
            last_at VARCHAR(32) NOT NULL,
            calls BIGINT NOT NULL DEFAULT 1
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_state (
            scope VARCHAR(64) PRIMARY KEY,
            kind VARCHAR(16) NOT NULL,
            reason TEXT NOT NULL,
            by_name VARCHAR(191) NOT NULL,
            at VARCHAR(32) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_state_log (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            scope VARCHAR(64) NOT NULL,
            event VARCHAR(16) NOT NULL,
            reason TEXT NOT NULL,
            by_name VARCHAR(191) NOT NULL,
            at VARCHAR(32) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_policy_approvals (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            action VARCHAR(64) NOT NULL,
            action_hash VARCHAR(64) NOT NULL,
            policy_hash VARCHAR(64) NOT NULL,
            approved_by VARCHAR(191) NOT NULL,
            note TEXT,
            at VARCHAR(32) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_tokens (
            name VARCHAR(191) PRIMARY KEY,
            role VARCHAR(16) NOT NULL,
            actions TEXT NOT NULL,
            hash VARCHAR(64) NOT NULL UNIQUE,
            created_at VARCHAR(32) NOT NULL,
            revoked_at VARCHAR(32)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_outbox (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            id VARCHAR(32) NOT NULL UNIQUE,
            event VARCHAR(32) NOT NULL,
            payload LONGTEXT NOT NULL,
            created_at VARCHAR(32) NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            next_attempt_at VARCHAR(32),
            delivered_at VARCHAR(32),
            last_error TEXT
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_limits (
            name VARCHAR(191) NOT NULL,
            window_start BIGINT NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (name, window_start)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE leash_idempotency (
            action VARCHAR(64) NOT NULL,
            actor VARCHAR(191) NOT NULL,
            idem_key VARCHAR(128) NOT NULL,
            result LONGTEXT NOT NULL,
            at VARCHAR(32) NOT NULL,
            PRIMARY KEY (action, actor, idem_key)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    ],
}, Migration {
    version: 2,
    name: "breaker events; approvals by action",
    statements: &[
        "CREATE TABLE leash_breaker_events (
            seq BIGINT AUTO_INCREMENT PRIMARY KEY,
            action VARCHAR(64) NOT NULL,
            signature VARCHAR(64) NOT NULL,
            change_id VARCHAR(32) NOT NULL,
            at VARCHAR(32) NOT NULL,
            KEY leash_breaker_events_sig (action, signature, at)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE INDEX leash_policy_approvals_action ON leash_policy_approvals (action, action_hash)",
    ],
}, Migration {
    version: 3,
    name: "one outbox row per webhook",
    statements: &["ALTER TABLE leash_outbox ADD COLUMN target VARCHAR(1000)"],
},
    // Breaker pauses keep the ids of the changes that tripped them as data.
    Migration { version: 4, name: "pause change ids", statements: &["ALTER TABLE leash_state ADD COLUMN change_ids TEXT"] },
    // Proposals expire or escalate, and share a group with "the same change".
    Migration {
        version: 8,
        name: "proposal expiry, escalation and groups",
        statements: &[
            "ALTER TABLE leash_proposals ADD COLUMN group_key VARCHAR(32), ADD COLUMN expires_at VARCHAR(32), \
             ADD COLUMN on_expire VARCHAR(16), ADD COLUMN escalated_at VARCHAR(32), \
             ADD KEY leash_proposals_expiry (status, expires_at), ADD KEY leash_proposals_group (action, group_key, status)",
        ],
    },
    // Each approval keeps the page it approved, so the next one can say what changed.
    Migration {
        version: 5,
        name: "approved pages",
        statements: &["ALTER TABLE leash_policy_approvals ADD COLUMN page MEDIUMTEXT"],
    },
    // Deliveries whose webhook left the policy, or that failed for too long,
    // are parked: kept for a person to see, never sent.
    Migration {
        version: 6,
        name: "parked outbox rows",
        statements: &["ALTER TABLE leash_outbox ADD COLUMN parked_at VARCHAR(32), ADD KEY leash_outbox_parked (parked_at)"],
    },
    // The log's filters read newest first by (filter, seq): a page is an
    // index range, not a sort of every matching row. Each index costs every
    // write (a B-tree more per commit), so reports use (action, at) and a
    // record's history the chain index.
    Migration {
        version: 9,
        name: "journal indexes in the log's order",
        statements: &["ALTER TABLE leash_changes DROP KEY leash_changes_run, DROP KEY leash_changes_actor, \
             ADD KEY leash_changes_run_seq (run_id, seq), ADD KEY leash_changes_actor_seq (actor, seq), \
             ADD KEY leash_changes_action_seq (action, seq)"],
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
            change_id VARCHAR(32) PRIMARY KEY,
            reverted_by VARCHAR(32) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "INSERT INTO leash_reverts (change_id, reverted_by)
            SELECT id, reverted_by FROM leash_changes WHERE reverted_by IS NOT NULL",
            "DROP TRIGGER leash_changes_no_rewrite",
            "ALTER TABLE leash_changes DROP COLUMN reverted_by",
            "CREATE TRIGGER leash_changes_no_rewrite BEFORE UPDATE ON leash_changes FOR EACH ROW
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'leash_changes rows are never rewritten'",
            "CREATE TRIGGER leash_reverts_no_delete BEFORE DELETE ON leash_reverts FOR EACH ROW
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'leash_reverts is append-only'",
            "CREATE TRIGGER leash_reverts_no_rewrite BEFORE UPDATE ON leash_reverts FOR EACH ROW
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'leash_reverts rows are never rewritten'",
        ],
    },
    // A run id is its token's own: two tokens that use the same text make
    // two runs, each with its own row (and its own `per_run` counter).
    Migration {
        version: 11,
        name: "runs keyed by token and run id",
        statements: &[
            "ALTER TABLE leash_runs DROP PRIMARY KEY, ADD PRIMARY KEY (run_id, actor)",
        ],
    },
    // Names that select (runs, actors, idempotency keys, counters) compare
    // exactly, as on the other stores: under the default collation `Night`
    // and `níght` were one run to a filter and two to a cap, and `K` and `k`
    // one idempotency key.
    Migration {
        version: 12,
        name: "exact comparison for runs, actors, idempotency keys and counters",
        statements: &[
            "ALTER TABLE leash_changes MODIFY actor VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
             MODIFY run_id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL",
            "ALTER TABLE leash_proposals MODIFY actor VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
             MODIFY run_id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL",
            "ALTER TABLE leash_runs MODIFY run_id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
             MODIFY actor VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
            "ALTER TABLE leash_idempotency MODIFY actor VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
             MODIFY idem_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
            "ALTER TABLE leash_limits MODIFY name VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
        ],
    },
];

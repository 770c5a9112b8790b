//! Versioned migrations for every `leash_*` table. A migration is never edited
//! once released; a change is a new version.

use crate::Dialect;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
}

const SQLITE: &[Migration] = &[
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
];

const POSTGRES: &[Migration] = &[
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
];

// MySQL/MariaDB: indexed text is VARCHAR (an index needs a length); each
// table is InnoDB so row locks and transactions hold.
const MYSQL: &[Migration] = &[Migration {
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
}];

pub fn for_dialect(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::Mysql => MYSQL,
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Executor, Row, SqliteConnection};

    use super::*;

    async fn apply(conn: &mut SqliteConnection, migrations: &[Migration]) {
        for m in migrations {
            for s in m.statements {
                conn.execute(*s).await.unwrap_or_else(|e| panic!("migration {}: {e}", m.version));
            }
        }
    }

    /// A journal written before v4 comes through the rebuild whole, still
    /// append-only, and the next row continues its numbering.
    #[tokio::test]
    async fn sqlite_v4_keeps_the_journal_and_its_guards() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let (old, new) = SQLITE.split_at(3);
        apply(&mut conn, old).await;
        for i in 1..=3 {
            conn.execute(
                format!(
                    "INSERT INTO leash_changes (id, at, action, policy_hash, table_name, record_key, op, fields, actor,
                     run_id, reverted_by, prev_hash, hash) VALUES ('c{i}', 'at', 'a', 'p', 't', '{i}', 'update', '[]',
                     'bot', 'run-1', NULL, '', 'h{i}')"
                )
                .as_str(),
            )
            .await
            .unwrap();
        }
        conn.execute("UPDATE leash_changes SET reverted_by = 'c9' WHERE id = 'c2'").await.unwrap();
        apply(&mut conn, new).await;

        let rows = sqlx::query("SELECT seq, id, reverted_by, hash FROM leash_changes ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let got: Vec<(i64, String, Option<String>, String)> =
            rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
        assert_eq!(
            got,
            vec![
                (1, "c1".into(), None, "h1".into()),
                (2, "c2".into(), Some("c9".into()), "h2".into()),
                (3, "c3".into(), None, "h3".into())
            ]
        );
        assert!(conn.execute("DELETE FROM leash_changes WHERE id = 'c1'").await.is_err(), "still append-only");
        assert!(conn.execute("UPDATE leash_changes SET hash = 'x' WHERE id = 'c1'").await.is_err(), "never rewritten");
        conn.execute("UPDATE leash_changes SET reverted_by = 'c8' WHERE id = 'c1'").await.unwrap();
        let dup = "INSERT INTO leash_changes (id, at, action, policy_hash, table_name, record_key, op, fields, actor,
            prev_hash, hash) VALUES ('c4', 'at', 'a', 'p', 't', '1', 'update', '[]', 'bot', '', 'h4')";
        assert!(conn.execute(dup).await.is_err(), "one successor per chain link");
        conn.execute(dup.replace("'', 'h4'", "'h1', 'h4'").as_str()).await.unwrap();
        let seq: i64 =
            sqlx::query_scalar("SELECT seq FROM leash_changes WHERE id = 'c4'").fetch_one(&mut conn).await.unwrap();
        assert_eq!(seq, 4);
        let autoinc: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%' AND name = 'leash_changes'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(autoinc, 0);
    }
}

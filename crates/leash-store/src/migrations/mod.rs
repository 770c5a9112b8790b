//! Versioned migrations for every `leash_*` table, one file per store
//! (`Dialect::migrations` picks the file). A migration is never edited once
//! released; a change is a new version.

mod mysql;
mod postgres;
mod sqlite;

pub(crate) use mysql::MIGRATIONS as MYSQL;
pub(crate) use postgres::MIGRATIONS as POSTGRES;
pub(crate) use sqlite::MIGRATIONS as SQLITE;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
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
    /// append-only, and the next row continues its numbering; a revert mark
    /// made before v11 is in leash_reverts after it.
    #[tokio::test]
    async fn sqlite_v4_keeps_the_journal_and_its_guards() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let (old, new) = sqlite::MIGRATIONS.split_at(3);
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

        let rows = sqlx::query(
            "SELECT seq, id, reverted_by, hash FROM leash_changes \
             LEFT JOIN leash_reverts ON leash_reverts.change_id = leash_changes.id ORDER BY seq",
        )
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
        // v11: the revert mark moved to leash_reverts; journal rows never change.
        assert!(conn.execute("UPDATE leash_changes SET watch = 1 WHERE id = 'c1'").await.is_err(), "never updated");
        conn.execute("INSERT INTO leash_reverts (change_id, reverted_by) VALUES ('c1', 'c8')").await.unwrap();
        let again = "INSERT INTO leash_reverts (change_id, reverted_by) VALUES ('c1', 'c7')";
        assert!(conn.execute(again).await.is_err(), "a change is reverted once");
        assert!(conn.execute("DELETE FROM leash_reverts").await.is_err(), "marks are never removed");
        assert!(conn.execute("UPDATE leash_reverts SET reverted_by = 'x'").await.is_err(), "nor rewritten");
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

//! A new user's first minutes on their own schema, on every store, with a
//! schema shaped like Chinook (quoted mixed-case names, a composite key, a
//! foreign key): `leash init --db` writes a starter nobody can write
//! through, `leash check` names the closest real name, a foreign-key
//! refusal names the table the value must match, and `check --json` answers
//! in one shape whatever fails.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Output;

use leash_testkit::{chinook, conformance, fresh_database, Kind, TestDb};
use serde_json::Value;
use support::{json, leash};

async fn chinook_database(kind: Kind) -> Option<TestDb> {
    let db = fresh_database(kind).await?;
    let statements = chinook::statements(kind);
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    leash_engine::run_script(&db.url, &statements).await.unwrap();
    Some(db)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    leash(dir, args)
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The block of the starter that begins with `# name = "<name>"`'s
/// `# [[actions]]` line, uncommented; everything else as written.
fn uncomment(starter: &str, name: &str) -> String {
    let lines: Vec<&str> = starter.lines().collect();
    let named = lines.iter().position(|l| *l == format!("# name = \"{name}\"")).unwrap();
    let start = named - 1;
    assert_eq!(lines[start], "# [[actions]]");
    let end = lines[start..].iter().position(|l| l.is_empty()).map(|n| start + n).unwrap_or(lines.len());
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    for line in &mut out[start..end] {
        *line = line.strip_prefix("# ").unwrap().to_string();
    }
    out.join("\n")
}

/// The Track record as the database holds it now.
async fn track(db: &TestDb, id: &str) -> serde_json::Map<String, Value> {
    let store = leash_store::open(&db.url).await.unwrap();
    let schema = store.table_schema("Track").await.unwrap().unwrap();
    store.read_record(&schema, &leash_core::policy::Key::single("TrackId"), id).await.unwrap().unwrap()
}

async fn init_writes_a_starter_nobody_can_write_through(kind: Kind) {
    let Some(db) = chinook_database(kind).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["init", "--db", &db.url, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let tables = json(&out)["tables"].clone();
    assert_eq!(tables, serde_json::json!(["Customer", "Genre", "Playlist", "PlaylistTrack", "Track"]), "{kind:?}");
    let starter = std::fs::read_to_string(dir.path().join("leash.toml")).unwrap();
    // The database's own spelling, a composite key as a list, guessed formats.
    for line in [
        "# table = \"Track\"",
        "# key = \"TrackId\"",
        "# key = [\"PlaylistId\", \"TrackId\"]",
        "#   [actions.fields.Composer]",
        "#   [actions.fields.Email]",
        "#   format = \"email\"    # guessed from the column's name",
        "#   format = \"phone\"    # guessed from the column's name",
        "#   format = \"us_address\"    # guessed from the column's name",
        "# mode = \"suggest\"",
    ] {
        assert!(starter.lines().any(|l| l == line), "{kind:?}: no line {line:?} in\n{starter}");
    }
    assert!(starter.contains(", names Genre.GenreId)"), "{starter}");
    assert!(starter.contains("LEASH_DATABASE_URL"), "{starter}");
    assert!(!starter.lines().any(|l| l.starts_with("[[actions]]")), "every action is commented out:\n{starter}");
    assert!(!starter.contains("# ── leash_"), "leash's own tables are left out:\n{starter}");

    // As written it is a valid policy with no action: `check` accepts it and
    // warns that nothing can be called yet.
    let out = run(dir.path(), &["check", "--json"]);
    let r = json(&out);
    assert_eq!((r["ok"].as_bool(), r["actions"].as_u64()), (Some(true), Some(0)), "{kind:?}: {r}");
    let warned = r["warnings"].as_array().unwrap().iter().any(|w| w.to_string().contains("no [[actions]]"));
    assert!(warned, "{kind:?}: {r}");
    // Nothing can write: the call is refused and the record unchanged.
    let before = track(&db, "1").await;
    let out =
        run(dir.path(), &["call", "edit_track", "--key", "1", "--set", "Name=Changed", "--reason", "r", "--json"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(track(&db, "1").await, before);

    // Each action, uncommented as written, fits the live schema.
    let both = uncomment(&uncomment(&starter, "edit_track"), "edit_customer");
    std::fs::write(dir.path().join("leash.toml"), &both).unwrap();
    let out = run(dir.path(), &["check", "--json"]);
    let r = json(&out);
    assert_eq!((r["ok"].as_bool(), r["actions"].as_u64()), (Some(true), Some(2)), "{kind:?}: {r}\n{both}");
    assert_eq!(out.status.code(), Some(0));
}

async fn check_suggests_the_closest_table_and_column(kind: Kind) {
    let Some(db) = chinook_database(kind).await else { return };
    let dir = tempfile::tempdir().unwrap();
    // SQLite finds `track` as Track (its names ignore case); elsewhere it is missing.
    let wrong = if kind == Kind::Sqlite { "tracks" } else { "track" };
    let policy = format!(
        "[[actions]]\nname = \"rename_track\"\nsummary = \"s\"\ntable = \"{wrong}\"\nkey = \"TrackId\"\n  [actions.fields.Name]\n\n\
         [[actions]]\nname = \"set_genre\"\nsummary = \"s\"\ntable = \"Track\"\nkey = \"TrackId\"\n  [actions.fields.genreid]\n"
    );
    std::fs::write(dir.path().join("leash.toml"), policy).unwrap();
    let out = run(dir.path(), &["check", "--json", "--db", &db.url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = json(&out);
    let message = |key: &str| -> String {
        let errors = r["errors"].as_array().unwrap();
        let e = errors.iter().find(|e| e["key"] == key).unwrap_or_else(|| panic!("{kind:?}: no error at {key}: {r}"));
        e["message"].as_str().unwrap().to_string()
    };
    assert_eq!(
        message("actions.rename_track.table"),
        format!("the database has no table `{wrong}`; did you mean `Track`?")
    );
    assert_eq!(
        message("actions.set_genre.fields.genreid"),
        "table Track has no column `genreid`; did you mean `GenreId`?"
    );
    // The same in the text a person reads.
    let out = run(dir.path(), &["check", "--db", &db.url]);
    assert!(text(&out).contains("did you mean `Track`?"), "{}", text(&out));
}

async fn a_foreign_key_refusal_names_the_column_and_its_table(kind: Kind) {
    let Some(db) = chinook_database(kind).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let policy =
        "[[actions]]\nname = \"set_track_genre\"\nsummary = \"File a track under a genre.\"\ntable = \"Track\"\n\
                  key = \"TrackId\"\nmode = \"direct\"\n  [actions.fields.GenreId]\n";
    std::fs::write(dir.path().join("leash.toml"), policy).unwrap();
    let out = run(dir.path(), &["approve-policy", "--by", "lead", "--db", &db.url]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        dir.path(),
        &["call", "set_track_genre", "--key", "1", "--set", "GenreId=999", "--reason", "r", "--json", "--db", &db.url],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["code"], "invalid_input", "{kind:?}: {r}");
    assert_eq!(r["message"], "GenreId must name a record of Genre (GenreId); 999 is not one", "{kind:?}: {r}");
    // What a person sees on stderr: a warning without the database's own
    // words, and no colour codes in a pipe.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the database refused a write"), "{stderr}");
    for words in ["FOREIGN KEY", "foreign key constraint", "violates", "Cannot add", "Genre_", "fkey", "ibfk"] {
        assert!(!stderr.contains(words), "{kind:?}: the database's text on stderr: {stderr}");
    }
    assert!(!stderr.contains('\u{1b}'), "no ANSI codes when stderr is not a terminal: {stderr:?}");
    // A genre that exists lands.
    let out = run(
        dir.path(),
        &["call", "set_track_genre", "--key", "1", "--set", "GenreId=7", "--reason", "r", "--json", "--db", &db.url],
    );
    assert_eq!(json(&out)["outcome"], "applied", "{}", text(&out));
}

conformance!(
    init_writes_a_starter_nobody_can_write_through,
    check_suggests_the_closest_table_and_column,
    a_foreign_key_refusal_names_the_column_and_its_table,
);

/// The documented shape: `{"ok", "actions", "errors": [{"file", "line",
/// "key", "message"}], "warnings"}`, exit 1.
fn assert_check_shape(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let r = json(out);
    assert_eq!(r["ok"], false, "{r}");
    assert!(r["actions"].is_u64() && r["warnings"].is_array(), "{r}");
    let errors = r["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{r}");
    for e in errors {
        assert!(e["file"].is_string() && e["line"].is_u64() && e["key"].is_string() && e["message"].is_string(), "{r}");
    }
    assert!(r.get("error").is_none() && r.get("code").is_none(), "{r}");
    r
}

#[test]
fn check_json_answers_in_the_documented_shape_whatever_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leash.toml");
    // No file at all.
    let r = assert_check_shape(&run(dir.path(), &["check", "--json"]));
    assert_eq!(r["errors"][0]["key"], "(file)", "{r}");
    // A value of the wrong type: every error with its line and key.
    let db = dir.path().join("shop.db");
    let action = "[[actions]]\nname = \"x\"\nsummary = \"s\"\ntable = \"t\"\nkey = \"id\"\n  [actions.fields.a]\n";
    std::fs::write(&path, format!("[database]\nurl = \"sqlite://{}\"\n{action}  max_len = \"long\"\n", db.display()))
        .unwrap();
    let r = assert_check_shape(&run(dir.path(), &["check", "--json"]));
    assert_eq!(r["errors"][0]["key"], "actions.x.fields.a.max_len", "{r}");
    assert_eq!(r["errors"][0]["line"], 9, "{r}");
    // A table the database lacks.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("sqlite://{}", db.display());
    rt.block_on(leash_engine::run_script(&url, &["CREATE TABLE tickets (id INTEGER PRIMARY KEY, a TEXT)"])).unwrap();
    std::fs::write(&path, format!("[database]\nurl = \"{url}\"\n{action}")).unwrap();
    let r = assert_check_shape(&run(dir.path(), &["check", "--json"]));
    assert_eq!(r["errors"][0]["key"], "actions.x.table", "{r}");
    assert_eq!(r["actions"], 1, "{r}");
    // A database that cannot be opened: the url's line in the file.
    let nowhere = dir.path().join("no such folder").join("x.db");
    std::fs::write(&path, format!("[database]\nurl = \"sqlite://{}\"\n{action}", nowhere.display())).unwrap();
    let r = assert_check_shape(&run(dir.path(), &["check", "--json"]));
    assert_eq!((&r["errors"][0]["key"], &r["errors"][0]["line"]), (&"database.url".into(), &2.into()), "{r}");
    // No database named anywhere.
    std::fs::write(&path, action).unwrap();
    let r = assert_check_shape(&run(dir.path(), &["check", "--json"]));
    assert_eq!((&r["errors"][0]["key"], &r["errors"][0]["line"]), (&"database.url".into(), &0.into()), "{r}");
}

#[test]
fn init_from_a_missing_sqlite_file_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["init", "--db", "sqlite://nowhere.db"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no SQLite database at nowhere.db"), "{}", text(&out));
    assert!(!dir.path().join("nowhere.db").exists() && !dir.path().join("leash.toml").exists());
}

#[test]
fn log_help_says_which_order_each_view_uses() {
    let out = run(Path::new("."), &["log", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("newest first") && help.contains("oldest first with --json"), "{help}");
}

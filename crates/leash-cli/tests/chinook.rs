//! `leash call --key PlaylistId=1,TrackId=3` on a table keyed on two
//! columns, then `leash revert` and `leash verify`, as a user runs them.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use leash_testkit::{chinook, Kind};
use support::{json, leash};

#[test]
fn a_composite_key_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chinook.db").display());
    let statements = chinook::statements(Kind::Sqlite);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(leash_engine::run_script(
        &format!("{url}?mode=rwc"),
        &statements.iter().map(String::as_str).collect::<Vec<_>>(),
    ))
    .unwrap();
    let policy = format!(
        "[database]\nurl = \"{url}\"\n\n[[actions]]\nname = \"move_in_playlist\"\nsummary = \"Set a track's position.\"\n\
         table = \"PlaylistTrack\"\nkey = [\"PlaylistId\", \"TrackId\"]\nmode = \"direct\"\n  [actions.fields.Position]\n"
    );
    std::fs::write(dir.path().join("leash.toml"), policy).unwrap();
    assert!(leash(dir.path(), &["check"]).status.success());
    assert!(leash(dir.path(), &["approve-policy", "--by", "lead"]).status.success());
    let args = ["call", "move_in_playlist", "--key", "PlaylistId=1,TrackId=3", "--set", "Position=7", "--json"];
    let r = json(&leash(dir.path(), &args));
    assert_eq!(r["outcome"], "applied", "{r}");
    let id = r["change_id"].as_str().unwrap().to_string();
    // The log finds it by the journal's spelling and by the call's, in any order.
    for key in [r#"["1","3"]"#, "PlaylistId=1,TrackId=3", "TrackId=03, PlaylistId=1"] {
        let log = json(&leash(dir.path(), &["log", "--key", key, "--json"]));
        assert_eq!(log["changes"][0]["record_key"], r#"["1","3"]"#, "{key}: {log}");
    }
    let out = leash(dir.path(), &["log", "--key", "PlaylistId=1"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("names no action's key"), "{out:?}");
    let undone = json(&leash(dir.path(), &["revert", &id, "--json"]));
    assert_eq!(undone["reverted"], serde_json::json!([id]), "{undone}");
    let verify = json(&leash(dir.path(), &["verify", "--json"]));
    assert_eq!(verify["ok"], true, "{verify}");
}

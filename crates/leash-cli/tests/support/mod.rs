//! The `leash` binary as a test runs it: in a folder of its own, never
//! reading the caller's `LEASH_DATABASE_URL`, as the user `tester`.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

pub fn leash<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leash"))
        .current_dir(dir)
        .env_remove("LEASH_DATABASE_URL")
        .env("USER", "tester")
        .args(args)
        .output()
        .expect("the leash binary runs")
}

/// Standard output as the one JSON document it must be.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A folder with the demo database and its policy, approved.
pub fn demo_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = leash(dir.path(), &["init", "--demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = leash(dir.path(), &["approve-policy", "--by", "lead"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

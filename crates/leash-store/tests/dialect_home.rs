//! Every SQL difference between the stores lives in
//! `crates/leash-store/src/dialect.rs`, behind a `Dialect` method named for
//! what it does. This test holds the workspace to it.
//!
//! The rule: outside `dialect.rs`, no `.rs` file under `crates/` names a
//! dialect's variant through the `Dialect::` path (`Dialect::` followed by
//! `Sqlite`, `Postgres` or `Mysql`, or a glob or braced import of them
//! from that path) — not in a `match` arm, not in a comparison, not to
//! build one. Code gets its dialect from a URL (`Dialect::from_url`,
//! `Dialect::from_name`) or from a store (`store.dialect()`) and asks it
//! by method, so a new store is new arms in `dialect.rs` and nowhere else.
//!
//! Tests pick the store they run on through the testkit's `Kind` (the same
//! type under the name for that job: `conformance!`, `Kind::Sqlite`), which
//! this test does not look for. A test may also branch on `Kind` to write
//! SQL that is its own data — a user's schema in each store's types, a
//! fault it injects — but anything leash itself says to a database is a
//! `Dialect` method.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

const VARIANTS: [&str; 3] = ["Sqlite", "Postgres", "Mysql"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Whether `line` names a variant through the `Dialect::` path.
fn names_a_variant(line: &str) -> bool {
    line.match_indices("Dialect::").any(|(at, needle)| {
        let rest = &line[at + needle.len()..];
        rest.starts_with('*')
            || rest.starts_with('{')
            || VARIANTS.iter().any(|v| {
                rest.strip_prefix(v).is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
            })
    })
}

#[test]
fn only_dialect_rs_names_a_dialect_variant() {
    let root = crates_dir();
    let home = root.join("leash-store").join("src").join("dialect.rs");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 50, "the walk found the workspace's sources: {} files under {}", files.len(), root.display());
    let mut offenders = Vec::new();
    for file in files.iter().filter(|f| **f != home) {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for (n, line) in text.lines().enumerate() {
            if names_a_variant(line) {
                let shown = file.strip_prefix(&root).unwrap_or(file).display().to_string();
                offenders.push(format!("crates/{shown}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "a store's SQL difference outside crates/leash-store/src/dialect.rs; put it behind a `Dialect` method \
         named for what it does:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_rule_sees_matches_and_comparisons_but_not_constructors() {
    let arm = ["Dialect", "::", "Mysql => 1,"].concat();
    let compare = ["if d == leash_store::Dialect", "::", "Postgres {"].concat();
    let glob = ["use Dialect", "::", "*;"].concat();
    assert!(names_a_variant(&arm) && names_a_variant(&compare) && names_a_variant(&glob));
    for fine in
        ["Dialect::from_url(url)", "Dialect::from_name(s)", "d.serial_key()", "Kind::Sqlite", "Dialect::SqliteLike"]
    {
        assert!(!names_a_variant(fine), "{fine}");
    }
}

//! The user reference in `docs/` against the code it describes: every
//! policy key the loader accepts, every refusal code, interface code and
//! review reason has its row, and no row names one that does not exist.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use leash_core::codes::{Code, ErrorCode, ReviewReason};
use leash_core::policy::POLICY_KEYS;

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first column of every table row in the part of the document that
/// starts at `heading` and ends at the next heading of the same level.
fn first_column(text: &str, heading: &str) -> Vec<Vec<String>> {
    let start = text.find(heading).unwrap_or_else(|| panic!("no heading {heading:?}"));
    let level = heading.chars().take_while(|c| *c == '#').count();
    let rest = &text[start + heading.len()..];
    let end = rest
        .lines()
        .scan(0usize, |at, line| {
            let here = *at;
            *at += line.len() + 1;
            Some((here, line))
        })
        .find(|(_, l)| l.starts_with('#') && l.chars().take_while(|c| *c == '#').count() <= level)
        .map(|(at, _)| at)
        .unwrap_or(rest.len());
    // Tables are separated by a line that is not a row.
    let mut tables = vec![Vec::new()];
    for line in rest[..end].lines() {
        match line.strip_prefix("| `").and_then(|l| l.split_once("` |")) {
            Some((cell, _)) => tables.last_mut().unwrap().push(cell.to_string()),
            None if !line.starts_with('|') && !tables.last().unwrap().is_empty() => tables.push(Vec::new()),
            None => {}
        }
    }
    tables.retain(|t| !t.is_empty());
    tables
}

fn set<I: IntoIterator<Item = S>, S: ToString>(items: I) -> BTreeSet<String> {
    items.into_iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_policy_reference_lists_exactly_the_keys_the_loader_accepts() {
    let text = doc("policy.md");
    let documented = set(first_column(&text, "## Every key").concat());
    let accepted: BTreeSet<String> = POLICY_KEYS
        .iter()
        .flat_map(|(table, keys)| {
            keys.iter().map(move |k| if table.is_empty() { k.to_string() } else { format!("{table}.{k}") })
        })
        .collect();
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(missing.is_empty(), "keys the loader accepts but docs/policy.md does not list: {missing:?}");
    assert!(unknown.is_empty(), "docs/policy.md lists keys the loader refuses: {unknown:?}");
}

#[test]
fn the_policy_reference_lists_every_code_and_review_reason() {
    let text = doc("policy.md");
    let tables = first_column(&text, "## Outcomes, refusal codes and review reasons");
    assert_eq!(tables.len(), 3, "three tables: refusal codes, interface codes, review reasons");
    assert_eq!(set(&tables[0]), set(Code::ALL.iter().map(|c| c.as_str())), "refusal codes");
    assert_eq!(set(&tables[1]), set(ErrorCode::ALL.iter().map(|c| c.as_str())), "interface codes");
    assert_eq!(set(&tables[2]), set(ReviewReason::ALL.iter().map(|c| c.as_str())), "review reasons");
}

#[test]
fn nothing_in_the_repository_cites_a_file_outside_it() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut offenders = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    stack.push(path);
                }
                continue;
            }
            if !(name.ends_with(".rs") || name.ends_with(".md") || name.ends_with(".toml")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Citing the contract by its section ("DESIGN §3") or by its file
            // outside the repository sends a reader where a clone has nothing.
            let cites = text.contains("DESIGN §") || text.contains("DESIGN.md") || text.contains("shared/");
            if cites && !path.ends_with("tests/docs.rs") {
                offenders.push(path.strip_prefix(&root).unwrap_or(&path).display().to_string());
            }
        }
    }
    offenders.sort();
    assert!(offenders.is_empty(), "files citing a document outside the repository: {offenders:?}");
}

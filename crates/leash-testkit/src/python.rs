//! The Python interpreter that the cross-checks and the Python MCP client
//! run: `LEASH_TEST_PYTHON` (set by `.ci/run` to the venv in target/py-mcp),
//! else that venv itself. Missing, or without the packages a check needs: a
//! skip on a newcomer's machine, a failure under `CI=true`.
//!
//! leash-core's tests compile this file by path (`#[path]`) rather than
//! depend on the testkit: the core is tested without the store's crates.
//! So it uses the standard library only.

use std::process::Command;

/// An interpreter that imports every one of `modules`, for the test named
/// by `check` (it is named in the skip or failure message).
pub fn python_with(modules: &[&str], check: &str) -> Option<String> {
    let candidates = [
        std::env::var("LEASH_TEST_PYTHON").ok(),
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/py-mcp/bin/python").to_string()),
    ];
    let import = format!("import {}", modules.join(", "));
    for p in candidates.into_iter().flatten() {
        let ok = Command::new(&p).args(["-c", &import]).output().is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    let packages = modules.join(", ");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{check}: no Python with {packages}; .ci/run installs them into target/py-mcp");
    }
    eprintln!("skipped {check}: no Python with {packages} (set LEASH_TEST_PYTHON or run .ci/run)");
    None
}

//! The Python interpreter that the address cross-checks run: `LEASH_TEST_PYTHON`
//! (set by `.ci/run` to the venv in target/py-mcp), else that venv itself.
//! Missing, or without the packages a check needs: a skip on a newcomer's
//! machine, a failure under `CI=true`.

use std::process::Command;

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

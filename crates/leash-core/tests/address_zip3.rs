//! The shipped ZIP-prefix table is exactly what `scripts/gen_zip3.py` makes
//! from the published `zipcodes` package named in its header.

// A test reports a failure by panicking: unwrap and expect are how it says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The testkit's Python finder, compiled here by path: the core's tests do
/// not depend on the testkit.
#[path = "../../leash-testkit/src/python.rs"]
mod python;

use std::process::Command;

#[test]
fn shipped_zip3_table_is_what_the_generator_makes_from_published_data() {
    let Some(python) = python::python_with(&["zipcodes"], "the ZIP3 table check") else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/gen_zip3.py");
    let out = Command::new(python).arg(script).arg("--stdout").output().expect("the generator runs");
    assert!(out.status.success(), "gen_zip3.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let generated = String::from_utf8_lossy(&out.stdout);
    let shipped = include_str!("../src/format/data/zip3.txt");
    assert!(
        generated == shipped,
        "crates/leash-core/src/format/data/zip3.txt differs from what scripts/gen_zip3.py makes now \
         (another zipcodes version?); run `python scripts/gen_zip3.py` and review the diff.\n--- generated\n{generated}"
    );
}

//! `leash test`: the policy's test cases (`leash.test.toml`) on throw-away
//! copies of its tables.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use leash_core::policy::test_cases::parse_test_cases;
use leash_engine::run_test_cases;

use crate::cli::Cli;
use crate::config::{database_url, load_policy};
use crate::{EXIT_DECIDED, EXIT_ERROR};

pub const TEST_FILE: &str = "leash.test.toml";

pub async fn run(cli: &Cli, file: Option<&Path>) -> Result<u8> {
    let policy = load_policy(&cli.config)?;
    let path = match file {
        Some(f) => f.to_path_buf(),
        None => cli.config.parent().unwrap_or(Path::new(".")).join(TEST_FILE),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let cases = parse_test_cases(&path.display().to_string(), &text).map_err(|errors| {
        anyhow!(
            "{} error(s) in the test file:\n{}",
            errors.len(),
            errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        )
    })?;
    // The real tables' columns, when the database is there to ask; a SQLite
    // file that does not exist yet is not created just to look.
    let live = match database_url(cli, &policy) {
        Ok(url) if url.starts_with("sqlite://") && !Path::new(url.trim_start_matches("sqlite://")).exists() => None,
        Ok(url) => Some(url),
        Err(_) => None,
    };
    let results = run_test_cases(&policy, &cases, live.as_deref()).await?;
    let failed = results.iter().filter(|r| !r.passed).count();
    let passed = results.len() - failed;
    if cli.json {
        println!("{}", serde_json::json!({"passed": passed, "failed": failed, "cases": results}));
    } else {
        for r in &results {
            match &r.problem {
                None => println!("ok    {}", r.name),
                Some(p) => println!("FAIL  {} ({}:{}): {p}", r.name, path.display(), r.line),
            }
        }
        println!("{passed} passed, {failed} failed");
    }
    Ok(if failed == 0 { EXIT_DECIDED } else { EXIT_ERROR })
}

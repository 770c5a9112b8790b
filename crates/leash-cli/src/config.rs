//! Where the policy and the database are: `--config`, `--db`,
//! `LEASH_DATABASE_URL`, and opening the engine over them.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use leash_core::policy::{parse_policy_in, Policy, PolicyError};
use leash_engine::Engine;

use crate::cli::Cli;

pub fn load_policy(path: &Path) -> Result<Policy> {
    let text = read_policy_text(path)?;
    parse_policy_text(path, &text).map_err(|errors| policy_errors(&errors))
}

/// The policy's errors as one error, a line each.
pub fn policy_errors(errors: &[PolicyError]) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    anyhow!("{} error(s) in the policy:\n{}", errors.len(), lines.join("\n"))
}

pub fn read_policy_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy {}; run `leash init` to write a starter one", path.display()))
}

/// The policy, or every error in it with file, line and key.
/// The policy in the environment `LEASH_ENV` names, or the file's own
/// `[database] environment`.
pub fn parse_policy_text(path: &Path, text: &str) -> std::result::Result<Policy, Vec<PolicyError>> {
    let environment = std::env::var("LEASH_ENV").ok().filter(|e| !e.trim().is_empty());
    parse_policy_in(&path.display().to_string(), text, environment.as_deref())
}

/// `--db`, then LEASH_DATABASE_URL, then the policy's url; a relative SQLite
/// path in the policy is relative to the policy file.
pub fn database_url(cli: &Cli, policy: &Policy) -> Result<String> {
    if let Some(url) = &cli.db {
        return Ok(url.clone());
    }
    if let Ok(url) = std::env::var("LEASH_DATABASE_URL") {
        if !url.is_empty() {
            return Ok(url);
        }
    }
    let url = policy
        .database_url
        .clone()
        .ok_or_else(|| anyhow!("no database: set [database] url, LEASH_DATABASE_URL or --db"))?;
    Ok(relative_sqlite(&url, cli.config.parent().unwrap_or(Path::new("."))))
}

/// The line of `[database] url` in the policy's text when the URL in use
/// is that one (not `--db` or LEASH_DATABASE_URL); otherwise 0, no line.
pub fn database_url_line(cli: &Cli, text: &str) -> usize {
    let from_env = std::env::var("LEASH_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    if cli.db.is_some() || from_env {
        return 0;
    }
    let mut in_database = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_database = line.trim_start_matches('[').trim_end_matches(']').trim() == "database";
        } else if in_database && line.strip_prefix("url").is_some_and(|rest| rest.trim_start().starts_with('=')) {
            return i + 1;
        }
    }
    0
}

fn relative_sqlite(url: &str, base: &Path) -> String {
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.starts_with('/') && !path.starts_with(':') && !base.as_os_str().is_empty() => {
            format!("sqlite://{}", PathBuf::from(base).join(path).display())
        }
        _ => url.to_string(),
    }
}

pub async fn open_engine(cli: &Cli) -> Result<Engine> {
    let policy = load_policy(&cli.config)?;
    let url = database_url(cli, &policy)?;
    let engine = Engine::connect(policy, &url).await.with_context(|| format!("cannot open {url}"))?;
    Ok(if cli.allow_unapproved { engine.allow_unapproved() } else { engine })
}

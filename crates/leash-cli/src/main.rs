//! `leash`: a thin shell over the engine. Parses flags, opens the policy and
//! the store, calls one engine function, prints a table or one JSON document.

mod cli;
mod commands;
mod config;
mod demo;
mod demo_backtest;
mod normalize;
mod output;
mod starter;
mod starter_schema;
mod test_cases;

use std::process::ExitCode;

use clap::Parser;

/// Exit statuses (docs/api.md).
pub const EXIT_DECIDED: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_REJECTED: u8 = 2;

/// The CEL parser panics on some malformed expressions; leash catches that
/// and reports a policy error, so the panic's own message is only noise.
fn quiet_parser_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let from_parser =
            info.location().is_some_and(|l| l.file().contains("antlr4rust") || l.file().contains("cel-parser"));
        if !from_parser {
            default(info);
        }
    }));
}

fn main() -> ExitCode {
    quiet_parser_panics();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_DECIDED });
        }
    };
    // The demo tells its own story on stdout; its log lines would only repeat it.
    let quiet_default = if matches!(cli.command, cli::Command::Demo { .. }) { "off" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEASH_LOG").unwrap_or_else(|_| quiet_default.into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let json = cli.json;
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A refusal of what was asked (not allowed, not found, not valid)
            // exits like a refused call; anything else is an error.
            let refusal = e.downcast_ref::<leash_engine::EngineError>().map(|e| e.answer()).filter(|a| {
                use leash_engine::Failure::*;
                matches!(a.failure, Invalid | Forbidden | NotFound)
            });
            if json {
                let code = refusal.as_ref().map(|a| a.code);
                println!("{}", serde_json::json!({"error": format!("{e:#}"), "code": code}));
            }
            eprintln!("error: {e:#}");
            ExitCode::from(if refusal.is_some() { EXIT_REJECTED } else { EXIT_ERROR })
        }
    }
}

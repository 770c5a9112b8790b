//! The command line, as docs/api.md names it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "leash", version, about = "A write gateway between AI agents and your database.")]
pub struct Cli {
    /// The policy file.
    #[arg(long, global = true, default_value = "leash.toml")]
    pub config: PathBuf,
    /// Database URL; overrides the policy's [database] url and LEASH_DATABASE_URL.
    #[arg(long, global = true)]
    pub db: Option<String>,
    /// Print exactly one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Development only: run actions whose definition nobody approved (logged on every call).
    #[arg(long, global = true)]
    pub allow_unapproved: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a starter leash.toml: with --db URL, one commented-out action per
    /// table of that database; with --demo, the demo shop and a database to try it on.
    Init {
        #[arg(long)]
        demo: bool,
        /// Overwrite an existing policy file.
        #[arg(long)]
        force: bool,
    },
    /// Check the policy file and that it fits the live database; prints every error.
    Check,
    /// Serve MCP over stdin/stdout for one agent.
    Mcp {
        /// The agent's token (or LEASH_TOKEN).
        #[arg(long, env = "LEASH_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// For local use: act as the named token without its secret.
        #[arg(long = "as", conflicts_with = "token")]
        as_agent: Option<String>,
    },
    /// Serve the HTTP API (and deliver webhooks) until Ctrl-C.
    Serve {
        /// Address to bind; anything but loopback needs TLS in front.
        #[arg(long, default_value = "127.0.0.1:7777")]
        listen: std::net::SocketAddr,
    },
    /// Make one call as an agent would.
    Call(CallArgs),
    /// List proposals waiting for a person.
    Queue,
    /// Approve a proposal, optionally editing values first; or every open
    /// proposal of a group (`--group G`), each re-checked alone.
    Approve {
        #[arg(required_unless_present = "group", conflicts_with = "group")]
        id: Option<String>,
        /// A group from `leash queue`: the same change on many records.
        #[arg(long)]
        group: Option<String>,
        /// Edit a value before applying: field=value (repeatable).
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        note: Option<String>,
        /// Who approves (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Reject a proposal with a note; or every open proposal of a group.
    Reject {
        #[arg(required_unless_present = "group", conflicts_with = "group")]
        id: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        note: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// The journal of changes: the newest --limit, newest first in the table,
    /// oldest first with --json.
    Log(LogArgs),
    /// One change or proposal in full.
    Show { id: String },
    /// Undo changes: by id, run, action and time range, actor or proposal.
    Revert(RevertArgs),
    /// Stop an action (or all) on every gateway process's next call.
    Pause {
        action: Option<String>,
        #[arg(long, conflicts_with = "action")]
        all: bool,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// Undo a pause or a tripped breaker.
    Resume {
        action: Option<String>,
        #[arg(long, conflicts_with = "action")]
        all: bool,
        #[arg(long, default_value = "resumed")]
        reason: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// Record who approved the current definition of every action.
    ApprovePolicy {
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// The planning sheet: every action, its limits, owner, mode and approval.
    Actions,
    /// Each action's policy on one page, in plain words (or one action's).
    Explain { action: Option<String> },
    /// Judge applied changes again under a policy (default: the current one);
    /// list what it would refuse or send to a person, and optionally undo the refused.
    Audit(AuditArgs),
    /// What each action did and whether it has earned its next stage.
    Report {
        /// 2026-11-01, an RFC 3339 time, or a span ago like 7d (adds a day-by-day table).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
    },
    /// Run the policy's test cases (default: leash.test.toml beside the policy).
    Test { file: Option<PathBuf> },
    /// Check the journal's hash chains and find records changed around leash
    /// (all of it, or one table, one record, or the records changed since a time).
    Verify {
        /// Only records of this table.
        #[arg(long)]
        table: Option<String>,
        /// Only this record of --table (its key as the journal shows it).
        #[arg(long, requires = "table")]
        record: Option<String>,
        /// Only records changed since: 2026-11-01, an RFC 3339 time, or a span ago like 1d (whole chains are checked).
        #[arg(long, conflicts_with = "record")]
        since: Option<String>,
    },
    /// Webhook deliveries not made yet: those still retried, and those parked (never sent).
    Outbox,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show a value's canonical form, or whether a rewrite is merely mechanical.
    Normalize {
        /// us_address, date, phone, email, name or text.
        #[arg(long)]
        format: String,
        /// The value to canonicalize.
        #[arg(conflicts_with_all = ["old", "new"], required_unless_present = "old")]
        value: Option<String>,
        /// The current value, to compare with --new.
        #[arg(long, requires = "new")]
        old: Option<String>,
        #[arg(long, requires = "old")]
        new: Option<String>,
        /// For dates like 03/04/2025: mdy or dmy.
        #[arg(long)]
        date_order: Option<String>,
        /// For phones written without a country code: the country, e.g. DE (default US).
        #[arg(long)]
        region: Option<String>,
    },
    /// Measure what the guard costs against a hand-rolled baseline, in one run.
    Bench {
        /// sqlite (a temporary file), postgres or mysql (a schema of its own on --db's server).
        #[arg(long, default_value = "sqlite")]
        store: String,
        /// Records written per figure; the revert figure undoes this many changes.
        #[arg(long, default_value_t = 10_000)]
        records: usize,
        /// Also measure as the journal grows, e.g. 10000,100000,1000000 (a database of its own).
        #[arg(long)]
        journal_sizes: Option<String>,
        /// Draw the journal curve as an SVG at this path.
        #[arg(long, requires = "journal_sizes")]
        chart: Option<PathBuf>,
        /// Instead: one `leash audit` over 100,000 journaled changes (pre-filled in bulk).
        #[arg(long)]
        audit: bool,
    },
    /// Build a small shop database and run a simulated agent through leash.
    Demo {
        /// Where to put the demo's files (default: a new temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct CallArgs {
    pub action: String,
    /// The record's key (omit for append actions).
    #[arg(long)]
    pub key: Option<String>,
    /// field=value (repeatable). An empty value blanks the field.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// field=value you read; the call is refused if the record moved on.
    #[arg(long = "expect", value_name = "FIELD=VALUE")]
    pub expect: Vec<String>,
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub evidence: Option<String>,
    #[arg(long)]
    pub confidence: Option<f64>,
    #[arg(long = "run")]
    pub run_id: Option<String>,
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Call as this agent token's name (default: the local user, with every right).
    #[arg(long = "as")]
    pub as_agent: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct LogArgs {
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long = "run")]
    pub run_id: Option<String>,
    #[arg(long)]
    pub actor: Option<String>,
    /// A record's key; a composite one as PlaylistId=1,TrackId=3 or as the journal spells it.
    #[arg(long)]
    pub key: Option<String>,
    /// 2026-11-25, an RFC 3339 time, or a span ago like 2h or 7d.
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    /// How many of the newest changes to show (newest first; oldest first with --json).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Args, Debug)]
pub struct RevertArgs {
    /// Change ids to undo.
    pub ids: Vec<String>,
    #[arg(long = "run")]
    pub run_id: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long, requires = "action")]
    pub since: Option<String>,
    #[arg(long, requires = "since")]
    pub until: Option<String>,
    #[arg(long)]
    pub actor: Option<String>,
    #[arg(long)]
    pub proposal: Option<String>,
    /// List what would change and any conflicts; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite fields that changed since leash wrote them.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub by: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct AuditArgs {
    /// The policy to judge by (default: the current one, --config).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// 2026-11-25, an RFC 3339 time, or a span ago like 2h or 7d.
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    /// Revert exactly the changes the policy would refuse, in one run.
    #[arg(long)]
    pub revert_refused: bool,
    /// With --revert-refused: plan the revert, write nothing.
    #[arg(long, requires = "revert_refused")]
    pub dry_run: bool,
    #[arg(long)]
    pub by: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        name: String,
        #[arg(long)]
        role: String,
        /// Agent tokens only: comma-separated actions the token may use (default: all).
        #[arg(long, value_delimiter = ',')]
        actions: Vec<String>,
    },
    List,
    Revoke {
        name: String,
    },
}

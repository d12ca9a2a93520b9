//! The `lemmings` command: runs the coding workflow on a workspace with a live view of what
//! each model is doing, resumes and forks runs from their checkpoints, inspects threads, checks
//! the configured model servers, and draws the workflow's graph.
//!
//! Exit codes: 0 success, 1 the run failed (or a required model server is down), 2 usage and
//! configuration errors, 130 interrupted (Ctrl-C).

#[macro_use]
mod out;

mod check;
mod demo;
mod exit;
mod inspect;
mod run;
mod settings;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::Exit;

const AFTER_HELP: &str = "\
Examples:
  lemmings run \"add a --verbose flag to the CLI\"     the coding agent on the current directory
  lemmings resume <THREAD_ID>                        continue after Ctrl-C or a crash
  lemmings threads                                   what ran here
  lemmings demo                                      the whole workflow on scripted models (no server)
  lemmings models check                              are the model servers up?

Exit codes: 0 success, 1 the run failed, 2 usage or configuration error, 130 interrupted.

Configuration: --config, else $LEMMINGS_CONFIG, else ./config.toml, else the built-in default.
Database: --db, else $LEMMINGS_DB, else <workspace>/.lemmings/lemmings.db.
Logs: RUST_LOG (e.g. RUST_LOG=lemmings_models=debug) writes tracing to stderr.";

#[derive(Parser, Debug)]
#[command(
    name = "lemmings",
    version,
    about = "A LangGraph-style agent runtime and multi-model coding agent",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Print less: only the result, notices and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more: every checkpoint and task, and warnings from the logs.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the coding workflow on a task in a workspace.
    #[command(after_help = "\
Examples:
  lemmings run \"add a --verbose flag to the CLI\"
  lemmings run --workspace ../myproject --config lemmings.toml \"fix the failing test\"
  lemmings run --json \"write a README\" > events.jsonl

The thread id is printed first: `lemmings resume <THREAD_ID>` continues an interrupted run.
Exit codes: 0 complete, 1 failed or incomplete, 2 usage or configuration error, 130 Ctrl-C.")]
    Run {
        /// What to do, in plain words.
        task: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        place: Place,
        /// The thread to run on (a UUID; default: a new one).
        #[arg(long, value_name = "ID")]
        thread: Option<String>,
        /// Write one JSON event per line instead of the live view.
        #[arg(long)]
        json: bool,
    },
    /// Continue a thread from its latest checkpoint, or fork it from an earlier one.
    #[command(after_help = "\
Examples:
  lemmings resume 0193a6c4-7d2e-7c41-9b7e-2f4f0a1c3b5d
  lemmings resume 0193a6c4-... --from 0193a6c5-...     (fork from a checkpoint: see `lemmings history`)
  lemmings resume 0193a6c4-... --answer \"yes\"          (answer a pending question)")]
    Resume {
        /// The thread (from `lemmings threads`).
        thread: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        place: Place,
        /// Continue from this checkpoint instead of the latest (a fork: the later history stays).
        #[arg(long, value_name = "CHECKPOINT_ID")]
        from: Option<String>,
        /// The answer to the thread's pending interrupt.
        #[arg(long, value_name = "TEXT")]
        answer: Option<String>,
        /// Write one JSON event per line instead of the live view.
        #[arg(long)]
        json: bool,
    },
    /// List the threads in the database: id, status, steps, last update, task.
    #[command(after_help = "Examples:\n  lemmings threads\n  lemmings threads --db postgres://lemmings@db/lemmings")]
    Threads {
        #[command(flatten)]
        place: Place,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// List a thread's checkpoints, newest first: id, step, what wrote it, the node(s), time.
    #[command(after_help = "Examples:\n  lemmings history 0193a6c4-7d2e-7c41-9b7e-2f4f0a1c3b5d")]
    History {
        /// The thread (from `lemmings threads`).
        thread: String,
        #[command(flatten)]
        place: Place,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show a thread's state: milestones, tasks, status lines and report.
    #[command(after_help = "\
Examples:
  lemmings show 0193a6c4-7d2e-7c41-9b7e-2f4f0a1c3b5d
  lemmings show 0193a6c4-... --checkpoint 0193a6c5-... --json | jq .values.tasks")]
    Show {
        /// The thread (from `lemmings threads`).
        thread: String,
        /// The checkpoint to show (default: the latest).
        #[arg(long, value_name = "ID")]
        checkpoint: Option<String>,
        #[command(flatten)]
        place: Place,
        /// The whole state as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the coding workflow's graph as Mermaid (default) or Graphviz DOT.
    #[command(after_help = "Examples:\n  lemmings graph\n  lemmings graph --format dot | dot -Tsvg > graph.svg")]
    Graph {
        /// The output format.
        #[arg(long, value_enum, default_value_t = Format::Mermaid)]
        format: Format,
    },
    /// Check the model servers of every configured role.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Show the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Delete old checkpoints (every thread keeps its latest, so it still resumes).
    #[command(after_help = "\
Examples:
  lemmings prune                       (keep the 100 latest checkpoints of every thread)
  lemmings prune --keep 10 --older-than 30
  lemmings prune --thread 0193a6c4-... --keep 1")]
    Prune {
        #[command(flatten)]
        place: Place,
        /// Keep this many checkpoints per thread, newest first (at least 1).
        #[arg(long, value_name = "N", default_value_t = 100)]
        keep: usize,
        /// Also delete checkpoints older than this many days (the latest is always kept).
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u64>,
        /// Only this thread.
        #[arg(long, value_name = "ID")]
        thread: Option<String>,
    },
    /// Run the whole workflow on a scratch workspace against built-in scripted models (no model
    /// server needed): the live view, checkpoints, an interruption and the resume.
    #[command(after_help = "\
Examples:
  lemmings demo
  lemmings demo --workspace /tmp/demo     (keep the workspace and its database to inspect)
  lemmings demo --json

The models are scripted: they play each agent for a fixed task. Nothing is sent anywhere.")]
    Demo {
        /// Where to run (default: a new temporary directory, removed afterwards).
        #[arg(long, value_name = "DIR")]
        workspace: Option<PathBuf>,
        /// Milliseconds between the scripted models' streamed pieces.
        #[arg(long, value_name = "MS", default_value_t = 30)]
        pace: u64,
        /// Write one JSON event per line instead of the live view.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// Probe every configured role's server and model: one line per role with its latency.
    #[command(after_help = "\
Examples:
  lemmings models check
  lemmings models check --config lemmings.toml --timeout 2

Exits 1 naming the role when a required role (one that is not optional and has no fallback)
is down.")]
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// Seconds to wait for each server.
        #[arg(long, value_name = "SECS", default_value_t = 5)]
        timeout: u64,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the resolved configuration (every default filled in, secrets redacted).
    #[command(after_help = "Examples:\n  lemmings config show\n  LEMMINGS_CONFIG=lemmings.toml lemmings config show")]
    Show {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Where the configuration comes from.
#[derive(Args, Debug, Clone, Default)]
struct ConfigArg {
    /// The configuration file (default: $LEMMINGS_CONFIG, ./config.toml, the built-in default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The workspace and the database.
#[derive(Args, Debug, Clone, Default)]
struct Place {
    /// The project directory the agents work in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// The database: a SQLite path or a postgres:// URL (default: $LEMMINGS_DB, else
    /// <workspace>/.lemmings/lemmings.db).
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Mermaid flowchart text.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// How much the live view prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with exit 0; usage errors to stderr with exit 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    init_tracing(verbosity);
    let result = dispatch(cli.command, verbosity);
    let exit = match result {
        Ok(exit) => exit,
        Err(error) => {
            let exit = exit::classify(&error);
            eprintln!("error: {}", exit::one_line(&error));
            exit
        }
    };
    exit.code()
}

/// Tracing to stderr, filtered by RUST_LOG; without it, nothing (or warnings with `-v`).
fn init_tracing(verbosity: Verbosity) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(value).unwrap_or_else(|error| {
            eprintln!("warning: RUST_LOG is not a valid filter ({error}); logging warnings only");
            EnvFilter::new("warn")
        }),
        _ if verbosity == Verbosity::Verbose => EnvFilter::new("warn"),
        _ => return,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn dispatch(command: Command, verbosity: Verbosity) -> anyhow::Result<Exit> {
    match command {
        Command::Graph { format } => {
            draw_workflow(format)?;
            Ok(Exit::Success)
        }
        Command::Run {
            task,
            config,
            place,
            thread,
            json,
        } => runtime()?.block_on(run::run(run::Request {
            start: run::Start::New { task, thread },
            config: config.config,
            workspace: place.workspace,
            db: place.db,
            output: view::Output::pick(json, verbosity),
        })),
        Command::Resume {
            thread,
            config,
            place,
            from,
            answer,
            json,
        } => runtime()?.block_on(run::run(run::Request {
            start: run::Start::Resume { thread, from, answer },
            config: config.config,
            workspace: place.workspace,
            db: place.db,
            output: view::Output::pick(json, verbosity),
        })),
        Command::Threads { place, json } => runtime()?.block_on(inspect::threads(&place.into(), json)),
        Command::History { thread, place, json } => runtime()?.block_on(inspect::history(&place.into(), &thread, json)),
        Command::Show {
            thread,
            checkpoint,
            place,
            json,
        } => runtime()?.block_on(inspect::show(&place.into(), &thread, checkpoint.as_deref(), json)),
        Command::Prune {
            place,
            keep,
            older_than,
            thread,
        } => runtime()?.block_on(inspect::prune(&place.into(), keep, older_than, thread.as_deref())),
        Command::Models {
            command: ModelsCommand::Check { config, timeout },
        } => runtime()?.block_on(check::models(config.config, timeout)),
        Command::Config {
            command: ConfigCommand::Show { config },
        } => check::show_config(config.config),
        Command::Demo { workspace, pace, json } => runtime()?.block_on(run::demo(
            workspace,
            std::time::Duration::from_millis(pace),
            view::Output::pick(json, verbosity),
        )),
    }
}

impl From<Place> for settings::PlaceArgs {
    fn from(place: Place) -> Self {
        settings::PlaceArgs {
            workspace: place.workspace,
            db: place.db,
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Prints the coding workflow's graph (every role on, nothing connected).
fn draw_workflow(format: Format) -> anyhow::Result<()> {
    let root = std::env::temp_dir();
    let workflow = lemmings_agents::workflow::graph::drawing(&root)
        .map_err(|error| anyhow::anyhow!("cannot build the workflow to draw it: {error}"))?;
    let graph = workflow.graph();
    out_print!(
        "{}",
        match format {
            Format::Mermaid => graph.draw_mermaid(),
            Format::Dot => graph.draw_dot(),
        }
    );
    Ok(())
}

//! `cargo xtask bench`: runs Lemmings' benchmark (with `--vs-peers` also LangGraph's and
//! adk-graph's, interleaved in one sitting), then the multi-model benchmark, keeps the raw JSON
//! Lines under `bench/results/`, and writes BENCHMARKS.md: medians, ratios, and whether each
//! target is met. `--table DIR` only rewrites BENCHMARKS.md from an existing results directory.
//!
//! The modules: [`results`] reads the rows, [`variant`] matches them across systems, [`table`]
//! renders the file, [`multimodel`] reads and renders the multi-model benchmark, [`targets`]
//! judges the targets, [`runner`] builds and runs the benchmarks, [`machine`] describes the host.

mod machine;
mod multimodel;
mod results;
mod runner;
mod table;
mod targets;
#[cfg(test)]
mod tests;
mod variant;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::tidy::workspace_root;

/// The flags and their help; `usage()` is generated from this table.
const FLAGS: &[(&str, &str)] = &[
    (
        "--quick",
        "reduced counts, 1 run unless --runs says otherwise (a smoke test, not a measurement)",
    ),
    (
        "--runs N",
        "runs of each benchmark (default 3); every cell is the median over them",
    ),
    (
        "--vs-peers",
        "also run LangGraph and adk-graph, interleaved: LangGraph i, adk-graph i, Lemmings i",
    ),
    (
        "--no-multimodel",
        "skip the multi-model benchmark (lemmings-multimodel --runs N after the other runs, ~40 s a run)",
    ),
    (
        "--peers DIR",
        "the peers' benchmarks (default ../shared/bench beside the repository)",
    ),
    (
        "--out DIR",
        "where the timestamped results directory is created (default bench/results)",
    ),
    (
        "--table DIR",
        "run nothing: rewrite BENCHMARKS.md from the results in DIR",
    ),
];

const DEFAULT_RUNS: usize = 3;

#[derive(Debug, Default, PartialEq)]
struct Options {
    quick: bool,
    runs: Option<usize>,
    vs_peers: bool,
    no_multimodel: bool,
    peers: Option<PathBuf>,
    out: Option<PathBuf>,
    table: Option<PathBuf>,
    help: bool,
}

/// `cargo xtask bench <args>`; exit codes as the other commands: 0, 1 failed, 2 bad usage.
pub(crate) fn main(args: &[&str]) -> ExitCode {
    let options = match parse_args(args) {
        Ok(options) => options,
        Err(message) => {
            eprint!("error: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    if options.help {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    let mut text = String::from(
        "usage: cargo xtask bench [--quick] [--runs N] [--vs-peers] [--no-multimodel] [--peers DIR] [--out DIR]\n       \
         cargo xtask bench --table DIR\n\nRaw JSON Lines go to <out>/<UTC date-time>/; BENCHMARKS.md is \
         rewritten at the repository root, keeping its notes section.\n\nflags:\n",
    );
    for (flag, help) in FLAGS {
        text.push_str(&format!("  {flag:<17}{help}\n"));
    }
    text
}

fn parse_args(args: &[&str]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter().copied();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .map(str::to_owned)
                .or_else(|| args.next().map(str::to_owned))
                .ok_or_else(|| format!("`{flag}` needs a value ({name})"))
        };
        match flag {
            "--quick" if inline.is_none() => options.quick = true,
            "--vs-peers" if inline.is_none() => options.vs_peers = true,
            "--no-multimodel" if inline.is_none() => options.no_multimodel = true,
            "--help" | "-h" if inline.is_none() => options.help = true,
            "--runs" => {
                let n = value("N")?;
                match n.parse::<usize>() {
                    Ok(n) if n >= 1 => options.runs = Some(n),
                    _ => return Err(format!("`--runs` needs a whole number of at least 1, not `{n}`")),
                }
            }
            "--peers" => options.peers = Some(PathBuf::from(value("DIR")?)),
            "--out" => options.out = Some(PathBuf::from(value("DIR")?)),
            "--table" => options.table = Some(PathBuf::from(value("DIR")?)),
            _ => return Err(format!("unknown argument `{arg}`")),
        }
    }
    let runs_something = options.quick
        || options.runs.is_some()
        || options.vs_peers
        || options.no_multimodel
        || options.peers.is_some()
        || options.out.is_some();
    if options.table.is_some() && runs_something {
        return Err("`--table` runs nothing: it takes no other flag".to_owned());
    }
    if options.peers.is_some() && !options.vs_peers {
        return Err("`--peers` only matters with `--vs-peers`".to_owned());
    }
    Ok(options)
}

fn run(options: &Options) -> Result<()> {
    let root = workspace_root();
    let (dir, multimodel_failure) = match &options.table {
        Some(dir) => (dir.clone(), None),
        None => {
            let plan = runner::Plan {
                quick: options.quick,
                runs: options.runs.unwrap_or(if options.quick { 1 } else { DEFAULT_RUNS }),
                vs_peers: options.vs_peers,
                multimodel: !options.no_multimodel,
                peers: options.peers.clone().unwrap_or_else(|| {
                    root.parent()
                        .map_or_else(|| root.join("../shared/bench"), |p| p.join("shared/bench"))
                }),
                out: options.out.clone().unwrap_or_else(|| root.join("bench/results")),
            };
            let sitting = runner::execute(&root, &plan)?;
            (sitting.dir, sitting.multimodel_failure)
        }
    };
    let path = root.join("BENCHMARKS.md");
    let tally = write_benchmarks(&root, &dir, &path)?;
    println!("bench: wrote {} from {}", path.display(), dir.display());
    println!("bench: targets: {tally}");
    // The other runs took minutes: their table is written before the failure is reported.
    match multimodel_failure {
        Some(err) => Err(err.context("the multi-model benchmark failed; BENCHMARKS.md was written without it")),
        None => Ok(()),
    }
}

/// Renders BENCHMARKS.md at `path` from the results in `dir`, keeping the notes section of the
/// file it replaces; returns the targets' tally.
fn write_benchmarks(root: &Path, dir: &Path, path: &Path) -> Result<String> {
    let results = results::Results::load(dir)?;
    let source = table::Source {
        dir: display_dir(root, dir),
        machine_recorded: results.machine.is_some(),
        machine: results.machine.clone().unwrap_or_else(machine::Machine::current),
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let text = table::merge_notes(&table::render(&results, &source), existing.as_deref());
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(targets::tally(&targets::evaluate(&results)))
}

/// `dir` relative to the repository when it is inside it, else as given.
fn display_dir(root: &Path, dir: &Path) -> String {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (root, full) = (canonical(root), canonical(dir));
    match full.strip_prefix(&root) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => dir.to_string_lossy().into_owned(),
    }
}

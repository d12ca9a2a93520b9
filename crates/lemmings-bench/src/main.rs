//! `lemmings-bench`: the graph-runtime overhead scenarios of `bench/langgraph/SCENARIOS.md` on
//! lemmings-graph and lemmings-store, printed as JSON Lines with the field names of LangGraph's
//! `bench.py`, so the two can be compared row by row.
//!
//! ```text
//! lemmings-bench --all [--quick] [--only a,b] [--no-startup]   one fresh child process per variant
//! lemmings-bench --child '<json spec>'                         one variant in this process
//! lemmings-bench --noop                                        exits at once (startup_bare)
//! lemmings-bench --build-invoke                                builds and runs the 10-node chain (startup_build_invoke)
//! lemmings-bench --list [--quick]                              prints the variants' specs
//! ```
//!
//! Exit codes: 0 success, 1 a variant failed (its row has an `error` field), 2 usage.
//! `LEMMINGS_BENCH_KEEP_FILES=1` keeps each variant's databases (the path is printed on stderr).

mod driver;
mod graphs;
mod row;
mod scenarios;
mod spec;
mod store;
mod sys;

/// Errors of the benchmark: any error, reported in the row's `error` field.
pub(crate) type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const USAGE: &str = "usage: lemmings-bench --all [--quick] [--only a,b] [--no-startup]
       lemmings-bench --child '<json spec>'
       lemmings-bench --noop | --build-invoke | --list [--quick]

Runs the scenarios of bench/langgraph/SCENARIOS.md on lemmings-graph and lemmings-store, one
fresh child process per variant, and prints one JSON object per variant (JSON Lines). --only
takes scenario names (sqlite_commit_floor, chain_nocp, chain_sqlite, fanout, state_size, resume,
history, parallel_branches, startup). Build with --release before measuring.";

fn usage(problem: &str) -> i32 {
    eprintln!("lemmings-bench: {problem}\n{USAGE}");
    2
}

fn build_invoke() -> i32 {
    let result = scenarios::runtime().and_then(|rt| rt.block_on(graphs::build_and_invoke()));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lemmings-bench: startup_build_invoke: {e}");
            1
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("--noop") => 0,
        Some("--build-invoke") => build_invoke(),
        Some("--child") => match args.get(1) {
            Some(spec) if args.len() == 2 => scenarios::child(spec),
            _ => usage("--child takes one JSON spec"),
        },
        Some("--help" | "-h") => {
            println!("{USAGE}");
            0
        }
        Some("--all" | "--list") => match parse_options(&args[1..]) {
            Ok(options) if args[0] == "--all" => driver::all(&options),
            Ok(options) => {
                for spec in spec::variants(options.quick) {
                    println!("{}", serde_json::to_string(&spec).unwrap_or_default());
                }
                0
            }
            Err(problem) => usage(&problem),
        },
        Some(other) => usage(&format!("unknown argument `{other}`")),
        None => usage("nothing to do"),
    };
    std::process::exit(code);
}

fn parse_options(args: &[String]) -> Result<driver::Options, String> {
    let mut options = driver::Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--no-startup" => options.no_startup = true,
            "--only" => {
                let list = args.next().ok_or("--only takes a comma-separated list of scenarios")?;
                options
                    .only
                    .extend(list.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

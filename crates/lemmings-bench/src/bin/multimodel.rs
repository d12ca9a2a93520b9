//! `lemmings-multimodel`: the multi-model benchmark (see `multimodel/mod.rs`), printed as one
//! JSON line per layout (`all_on_primary`, `summarizer_offloaded`, `offloaded_with_supervisor`).
//!
//! ```text
//! lemmings-multimodel [--runs N] [--tasks N] [--primary-ms MS] [--summarizer-ms MS] [--supervisor-ms MS]
//! ```
//!
//! The layouts' runs are interleaved (1, 2, 3, 1, 2, 3, …) after one untimed warm-up run, so a
//! drift of the machine spreads over all three. Exit codes: 0 success, 1 a run failed (the
//! error on stderr), 2 usage.

#[path = "../multimodel/mod.rs"]
mod multimodel;

use std::time::Duration;

use multimodel::{Fallible, Latencies, Layout, RunFacts, rows, run_once};

const USAGE: &str =
    "usage: lemmings-multimodel [--runs N] [--tasks N] [--primary-ms MS] [--summarizer-ms MS] [--supervisor-ms MS]

Runs the whole coding workflow over HTTP against loopback fake LLM servers (the primary serial,
the summarizer and the supervisor each on its own server) in three layouts: everything on the
primary, the summarizer offloaded, offloaded plus a supervisor after every task. Prints one JSON
object per layout: medians of wall time, the primary's busy time, the share of it spent on
summarization, and (on the supervised layout) the supervisor's wall-time cost in percent.

  --runs N            runs per layout, interleaved (default 3)
  --tasks N           tasks the planner plans, 1 to 10 (default 5)
  --primary-ms MS     the primary's time per request (default 200)
  --summarizer-ms MS  the summarizer's time per request (default 150)
  --supervisor-ms MS  the supervisor's time per request (default 300)

Build with --release before measuring.";

/// The command line.
#[derive(Clone, Copy, Debug)]
struct Options {
    runs: usize,
    tasks: usize,
    latencies: Latencies,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        runs: 3,
        tasks: 5,
        latencies: Latencies {
            primary: Duration::from_millis(200),
            summarizer: Duration::from_millis(150),
            supervisor: Duration::from_millis(300),
        },
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{flag} takes a number from 1 to {max}, not `{value}`"))
        };
        match flag.as_str() {
            "--runs" => options.runs = number(100)? as usize,
            "--tasks" => options.tasks = number(10)? as usize,
            "--primary-ms" => options.latencies.primary = Duration::from_millis(number(60_000)?),
            "--summarizer-ms" => options.latencies.summarizer = Duration::from_millis(number(60_000)?),
            "--supervisor-ms" => options.latencies.supervisor = Duration::from_millis(number(60_000)?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

async fn measure(options: Options) -> Fallible<Vec<(Layout, Vec<RunFacts>)>> {
    // Warms up the process (code paths, the allocator, SQLite) on the quickest layout.
    let tiny = Duration::from_millis(1);
    let warm_up = Latencies {
        primary: tiny,
        summarizer: tiny,
        supervisor: tiny,
    };
    run_once(Layout::OffloadedWithSupervisor, options.tasks, warm_up).await?;
    let mut runs: Vec<(Layout, Vec<RunFacts>)> = Layout::ALL.iter().map(|layout| (*layout, Vec::new())).collect();
    for round in 1..=options.runs {
        for (layout, facts) in &mut runs {
            let run = run_once(*layout, options.tasks, options.latencies).await?;
            eprintln!(
                "lemmings-multimodel: run {round}/{} {layout}: {:.3} s, primary {} requests ({} summarizer work)",
                options.runs,
                run.wall.as_secs_f64(),
                run.primary_requests,
                run.primary_summarization_requests
            );
            facts.push(run);
        }
    }
    Ok(runs)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(problem) => {
            eprintln!("lemmings-multimodel: {problem}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    let result = runtime
        .map_err(Into::into)
        .and_then(|runtime| runtime.block_on(measure(options)));
    match result {
        Ok(runs) => {
            for row in rows(&runs, options.latencies, options.tasks) {
                println!(
                    "{}",
                    serde_json::to_string(&row).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
                );
            }
        }
        Err(error) => {
            eprintln!("lemmings-multimodel: {error}");
            std::process::exit(1);
        }
    }
}

//! `cargo xtask <command>`: project automation written in Rust rather than scattered shell scripts.
//!
//! The `.cargo/config.toml` alias runs this binary, so every command works on any machine that
//! can build the workspace. Exit codes: 0 success, 1 the command found problems or failed,
//! 2 bad usage.

mod bench;
mod tidy;

use std::process::ExitCode;

/// Every subcommand and its one-line help; `usage()` is generated from this table so the two
/// cannot drift apart.
const COMMANDS: &[(&str, &str)] = &[
    (
        "tidy",
        "check dependency direction, manifests, file headers and stubs (also run by `cargo test`)",
    ),
    (
        "bench",
        "run the benchmarks (--vs-peers: against LangGraph and adk-graph) and write BENCHMARKS.md; \
         `bench --help` lists the flags",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["tidy"] => run_tidy(),
        ["bench", rest @ ..] => bench::main(rest),
        ["help" | "--help" | "-h"] => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        [] => {
            eprint!("error: no command given\n\n{}", usage());
            ExitCode::from(2)
        }
        _ => {
            eprint!(
                "error: unknown command or extra arguments: `{}`\n\n{}",
                args.join(" "),
                usage()
            );
            ExitCode::from(2)
        }
    }
}

fn run_tidy() -> ExitCode {
    match tidy::run(&tidy::workspace_root()) {
        Ok(problems) if problems.is_empty() => {
            println!("tidy: no problems");
            ExitCode::SUCCESS
        }
        Ok(problems) => {
            for problem in &problems {
                println!("{problem}");
            }
            println!("tidy: {} problem(s)", problems.len());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("tidy: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    let mut text = String::from("usage: cargo xtask <command>\n\ncommands:\n");
    for (name, help) in COMMANDS {
        text.push_str(&format!("  {name:<8}{help}\n"));
    }
    text
}

//! `--help` of every command, the workflow's graph as Mermaid and DOT, and clap's usage errors.

use expect_test::expect;

use crate::common::Scratch;

/// The commands a help text lists under `Commands:` (`help` aside).
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command's `--help` exits 0, and every command that does something (not a group such as
/// `models`, which only holds `check`) shows examples. The commands are read from the help
/// itself, so a new one is checked too.
#[test]
fn every_command_has_help_with_examples() {
    let scratch = Scratch::new();
    let top = scratch.lemmings(["--help"]).output();
    top.expect_code(0);
    let mut pending: Vec<Vec<String>> = commands(&top.stdout).into_iter().map(|name| vec![name]).collect();
    let mut leaves = Vec::new();
    while let Some(command) = pending.pop() {
        let out = scratch
            .lemmings(command.iter().map(String::as_str).chain(["--help"]))
            .output();
        out.expect_code(0);
        assert_eq!(out.stderr, "", "{command:?}");
        let subcommands = commands(&out.stdout);
        if subcommands.is_empty() {
            assert!(
                out.stdout.contains("\nExamples:\n  lemmings "),
                "`lemmings {}` has no examples: {out}",
                command.join(" ")
            );
            leaves.push(command.join(" "));
        }
        for name in subcommands {
            pending.push([command.clone(), vec![name]].concat());
        }
    }
    leaves.sort();
    let expected = [
        "config show",
        "demo",
        "graph",
        "history",
        "models check",
        "prune",
        "resume",
        "run",
        "show",
        "threads",
    ];
    assert_eq!(leaves, expected);
}

#[test]
fn top_level_help_lists_the_commands_and_exit_codes() {
    let out = Scratch::new().lemmings(["--help"]).output();
    out.expect_code(0);
    expect![[r#"
        A LangGraph-style agent runtime and multi-model coding agent

        Usage: lemmings [OPTIONS] <COMMAND>

        Commands:
          run      Run the coding workflow on a task in a workspace
          resume   Continue a thread from its latest checkpoint, or fork it from an earlier one
          threads  List the threads in the database: id, status, steps, last update, task
          history  List a thread's checkpoints, newest first: id, step, what wrote it, the node(s), time
          show     Show a thread's state: milestones, tasks, status lines and report
          graph    Print the coding workflow's graph as Mermaid (default) or Graphviz DOT
          models   Check the model servers of every configured role
          config   Show the configuration
          prune    Delete old checkpoints (every thread keeps its latest, so it still resumes)
          demo     Run the whole workflow on a scratch workspace against built-in scripted models (no model server needed): the live view, checkpoints, an interruption and the resume
          help     Print this message or the help of the given subcommand(s)

        Options:
          -q, --quiet    Print less: only the result, notices and errors
          -v, --verbose  Print more: every checkpoint and task, and warnings from the logs
          -h, --help     Print help
          -V, --version  Print version

        Examples:
          lemmings run "add a --verbose flag to the CLI"     the coding agent on the current directory
          lemmings resume <THREAD_ID>                        continue after Ctrl-C or a crash
          lemmings threads                                   what ran here
          lemmings demo                                      the whole workflow on scripted models (no server)
          lemmings models check                              are the model servers up?

        Exit codes: 0 success, 1 the run failed, 2 usage or configuration error, 130 interrupted.

        Configuration: --config, else $LEMMINGS_CONFIG, else ./config.toml, else the built-in default.
        Database: --db, else $LEMMINGS_DB, else <workspace>/.lemmings/lemmings.db.
        Logs: RUST_LOG (e.g. RUST_LOG=lemmings_models=debug) writes tracing to stderr.
    "#]]
    .assert_eq(&out.stdout);
}

#[test]
fn top_level_help_shows_examples() {
    let out = Scratch::new().lemmings(["--help"]).output();
    out.expect_code(0);
    assert!(
        out.stdout.contains("Examples:") && out.stdout.contains("lemmings run \""),
        "the top-level help shows no example of a run: {out}"
    );
}

#[test]
fn run_help_shows_examples() {
    let out = Scratch::new().lemmings(["run", "--help"]).output();
    out.expect_code(0);
    expect![[r#"
        Run the coding workflow on a task in a workspace

        Usage: lemmings run [OPTIONS] <TASK>

        Arguments:
          <TASK>  What to do, in plain words

        Options:
              --config <FILE>    The configuration file (default: $LEMMINGS_CONFIG, ./config.toml, the built-in default)
          -q, --quiet            Print less: only the result, notices and errors
          -v, --verbose          Print more: every checkpoint and task, and warnings from the logs
              --workspace <DIR>  The project directory the agents work in (default: the current directory)
              --db <PATH|URL>    The database: a SQLite path or a postgres:// URL (default: $LEMMINGS_DB, else <workspace>/.lemmings/lemmings.db)
              --thread <ID>      The thread to run on (a UUID; default: a new one)
              --json             Write one JSON event per line instead of the live view
          -h, --help             Print help

        Examples:
          lemmings run "add a --verbose flag to the CLI"
          lemmings run --workspace ../myproject --config lemmings.toml "fix the failing test"
          lemmings run --json "write a README" > events.jsonl

        The thread id is printed first: `lemmings resume <THREAD_ID>` continues an interrupted run.
        Exit codes: 0 complete, 1 failed or incomplete, 2 usage or configuration error, 130 Ctrl-C.
    "#]]
    .assert_eq(&out.stdout);
}

#[test]
fn graph_prints_mermaid() {
    let out = Scratch::new().lemmings(["graph"]).output();
    out.expect_code(0);
    assert_eq!(out.stderr, "");
    expect![[r#"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	scope__initial("scope_initial")
        	scope__review("scope_review")
        	start__milestone("start_milestone")
        	apply__guidance("apply_guidance")
        	task__planner("task_planner")
        	record__skip("record_skip")
        	implementor(implementor)
        	verify(verify)
        	qa(qa)
        	retry(retry)
        	mark__complete("mark_complete")
        	mark__failed("mark_failed")
        	assessor(assessor)
        	advance__milestone("advance_milestone")
        	report(report)
        	status__line("status_line (background)")
        	supervisor("supervisor (background)")
        	__end__([<p>__end__</p>]):::last
        	__start__ --> scope__initial;
        	start__milestone --> apply__guidance;
        	verify --> qa;
        	scope__initial -.-> start__milestone;
        	scope__initial -.-> report;
        	scope__initial -.-> status__line;
        	scope__review -.-> start__milestone;
        	scope__review -.-> report;
        	scope__review -.-> status__line;
        	apply__guidance -.-> task__planner;
        	apply__guidance -.-> assessor;
        	apply__guidance -.-> report;
        	task__planner -.-> implementor;
        	task__planner -.-> record__skip;
        	task__planner -.-> mark__failed;
        	task__planner -.-> assessor;
        	task__planner -.-> report;
        	task__planner -.-> status__line;
        	task__planner -.-> supervisor;
        	record__skip -.-> apply__guidance;
        	record__skip -.-> assessor;
        	record__skip -.-> report;
        	implementor -.-> verify;
        	implementor -.-> status__line;
        	qa -.-> mark__complete;
        	qa -.-> retry;
        	qa -.-> mark__failed;
        	qa -.-> assessor;
        	qa -.-> report;
        	qa -.-> status__line;
        	retry -.-> implementor;
        	retry -.-> apply__guidance;
        	retry -.-> report;
        	retry -.-> supervisor;
        	mark__complete -.-> assessor;
        	mark__complete -.-> apply__guidance;
        	mark__complete -.-> report;
        	mark__complete -.-> supervisor;
        	mark__failed -.-> assessor;
        	mark__failed -.-> report;
        	mark__failed -.-> supervisor;
        	assessor -.-> report;
        	assessor -.-> scope__review;
        	assessor -.-> advance__milestone;
        	assessor -.-> apply__guidance;
        	assessor -.-> status__line;
        	assessor -.-> supervisor;
        	advance__milestone -.-> start__milestone;
        	advance__milestone -.-> report;
        	report -.-> __end__;
        	status__line --> __end__;
        	supervisor --> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "#]]
    .assert_eq(&out.stdout);
}

#[test]
fn graph_prints_dot() {
    let out = Scratch::new().lemmings(["graph", "--format", "dot"]).output();
    out.expect_code(0);
    assert_eq!(out.stderr, "");
    expect![[r##"
        digraph "lemmings" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"scope_initial" [shape=box];
        	"scope_review" [shape=box];
        	"start_milestone" [shape=box];
        	"apply_guidance" [shape=box];
        	"task_planner" [shape=box];
        	"record_skip" [shape=box];
        	"implementor" [shape=box];
        	"verify" [shape=box];
        	"qa" [shape=box];
        	"retry" [shape=box];
        	"mark_complete" [shape=box];
        	"mark_failed" [shape=box];
        	"assessor" [shape=box];
        	"advance_milestone" [shape=box];
        	"report" [shape=box];
        	"status_line" [shape=box, style=dashed, xlabel="background"];
        	"supervisor" [shape=box, style=dashed, xlabel="background"];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "scope_initial";
        	"start_milestone" -> "apply_guidance";
        	"verify" -> "qa";
        	"scope_initial" -> "start_milestone" [style=dotted];
        	"scope_initial" -> "report" [style=dotted];
        	"scope_initial" -> "status_line" [style=dotted];
        	"scope_review" -> "start_milestone" [style=dotted];
        	"scope_review" -> "report" [style=dotted];
        	"scope_review" -> "status_line" [style=dotted];
        	"apply_guidance" -> "task_planner" [style=dotted];
        	"apply_guidance" -> "assessor" [style=dotted];
        	"apply_guidance" -> "report" [style=dotted];
        	"task_planner" -> "implementor" [style=dotted];
        	"task_planner" -> "record_skip" [style=dotted];
        	"task_planner" -> "mark_failed" [style=dotted];
        	"task_planner" -> "assessor" [style=dotted];
        	"task_planner" -> "report" [style=dotted];
        	"task_planner" -> "status_line" [style=dotted];
        	"task_planner" -> "supervisor" [style=dotted];
        	"record_skip" -> "apply_guidance" [style=dotted];
        	"record_skip" -> "assessor" [style=dotted];
        	"record_skip" -> "report" [style=dotted];
        	"implementor" -> "verify" [style=dotted];
        	"implementor" -> "status_line" [style=dotted];
        	"qa" -> "mark_complete" [style=dotted];
        	"qa" -> "retry" [style=dotted];
        	"qa" -> "mark_failed" [style=dotted];
        	"qa" -> "assessor" [style=dotted];
        	"qa" -> "report" [style=dotted];
        	"qa" -> "status_line" [style=dotted];
        	"retry" -> "implementor" [style=dotted];
        	"retry" -> "apply_guidance" [style=dotted];
        	"retry" -> "report" [style=dotted];
        	"retry" -> "supervisor" [style=dotted];
        	"mark_complete" -> "assessor" [style=dotted];
        	"mark_complete" -> "apply_guidance" [style=dotted];
        	"mark_complete" -> "report" [style=dotted];
        	"mark_complete" -> "supervisor" [style=dotted];
        	"mark_failed" -> "assessor" [style=dotted];
        	"mark_failed" -> "report" [style=dotted];
        	"mark_failed" -> "supervisor" [style=dotted];
        	"assessor" -> "report" [style=dotted];
        	"assessor" -> "scope_review" [style=dotted];
        	"assessor" -> "advance_milestone" [style=dotted];
        	"assessor" -> "apply_guidance" [style=dotted];
        	"assessor" -> "status_line" [style=dotted];
        	"assessor" -> "supervisor" [style=dotted];
        	"advance_milestone" -> "start_milestone" [style=dotted];
        	"advance_milestone" -> "report" [style=dotted];
        	"report" -> "__end__" [style=dotted];
        	"status_line" -> "__end__";
        	"supervisor" -> "__end__";
        }
    "##]]
    .assert_eq(&out.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let scratch = Scratch::new();
    let out = scratch.lemmings(["graph", "--format", "png"]).output();
    out.expect_code(2);
    assert!(out.stderr.contains("invalid value 'png'"), "{out}");
    let out = scratch.lemmings(["frobnicate"]).output();
    out.expect_code(2);
    assert!(out.stderr.contains("unrecognized subcommand 'frobnicate'"), "{out}");
    let out = scratch.lemmings(["run"]).output();
    out.expect_code(2);
    assert!(out.stderr.contains("<TASK>"), "{out}");
}

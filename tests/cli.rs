//! End-to-end tests of the `lemmings` binary: real processes, snapshot of their output.

use std::process::Command;

use expect_test::expect;

fn lemmings(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lemmings"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn graph_prints_mermaid() {
    let (code, stdout, stderr) = lemmings(&["graph"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
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
        	report -.-> status__line;
        	status__line --> __end__;
        	supervisor --> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "#]]
    .assert_eq(&stdout);
}

#[test]
fn graph_prints_dot() {
    let (code, stdout, stderr) = lemmings(&["graph", "--format", "dot"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
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
        	"report" -> "status_line" [style=dotted];
        	"status_line" -> "__end__";
        	"supervisor" -> "__end__";
        }
    "##]]
    .assert_eq(&stdout);
}

#[test]
fn demo_runs_to_the_end() {
    let (code, stdout, stderr) = lemmings(&["demo", "bridges"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let lines: Vec<&str> = stdout.lines().collect();
    // Every task's update is printed: each main-path node once per round, the reviewer once.
    let wrote = |node: &str| {
        let needle = format!(": {node} wrote ");
        lines.iter().filter(|l| l.contains(&needle)).count()
    };
    assert_eq!(
        ["plan", "draft", "merge", "review", "reviewer"].map(wrote),
        [2, 6, 2, 2, 1],
        "{stdout}"
    );
    // The background reviewer's write lands at whichever barrier follows it, and it is listed in
    // `next` until then, so only the deterministic parts are compared: the main path's schedule
    // (with the reviewer taken out) and the result.
    let main_path: Vec<String> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("checkpoint") || l.starts_with("done") || l.starts_with("rounds"))
        .map(|l| l.replace(", reviewer", ""))
        .collect();
    expect![[r#"
        step -1: checkpoint (input), next: [__start__]
        step 0: checkpoint (loop), next: [plan]
        step 1: checkpoint (loop), next: [draft, draft, draft]
        step 2: checkpoint (loop), next: [merge]
        step 3: checkpoint (loop), next: [review]
        step 4: checkpoint (loop), next: [plan]
        step 5: checkpoint (loop), next: [draft, draft, draft]
        step 6: checkpoint (loop), next: [merge]
        step 7: checkpoint (loop), next: [review]
        step 8: checkpoint (loop), next: []
        done: bridges part 1 (round 2); bridges part 2 (round 2); bridges part 3 (round 2)
        rounds: 2, background notes: 1"#]]
    .assert_eq(&main_path.join("\n"));
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, stderr) = lemmings(&["graph", "--format", "png"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'png'"), "{stderr}");
    let (code, _, stderr) = lemmings(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unrecognized subcommand 'frobnicate'"), "{stderr}");
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let (code, stdout, _) = lemmings(&["--help"]);
    assert_eq!(code, 0);
    expect![[r#"
        A LangGraph-style agent runtime and multi-model coding agent

        Usage: lemmings <COMMAND>

        Commands:
          graph  Print the coding workflow's graph as Mermaid (default) or Graphviz DOT
          demo   Run the demo graph on a topic and print each superstep
          help   Print this message or the help of the given subcommand(s)

        Options:
          -h, --help     Print help
          -V, --version  Print version

        Exit codes: 0 success, 1 the run failed, 2 usage error.
    "#]]
    .assert_eq(&stdout);
}

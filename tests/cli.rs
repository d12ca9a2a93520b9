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
        	plan(plan)
        	draft(draft)
        	merge("merge (deferred)")
        	review(review)
        	reviewer("reviewer (background)")
        	__end__([<p>__end__</p>]):::last
        	__start__ --> plan;
        	__start__ --> reviewer;
        	draft --> merge;
        	merge --> review;
        	plan -.-> draft;
        	review -. &nbsp;revise&nbsp; .-> plan;
        	review -. &nbsp;approve&nbsp; .-> __end__;
        	reviewer --> __end__;
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
        digraph "demo" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"plan" [shape=box];
        	"draft" [shape=box];
        	"merge" [shape=box, style=dashed, xlabel="deferred"];
        	"review" [shape=box];
        	"reviewer" [shape=box, style=dashed, xlabel="background"];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "plan";
        	"__start__" -> "reviewer";
        	"draft" -> "merge";
        	"merge" -> "review";
        	"plan" -> "draft" [style=dotted];
        	"review" -> "plan" [style=dotted, label="revise"];
        	"review" -> "__end__" [style=dotted, label="approve"];
        	"reviewer" -> "__end__";
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
          graph  Print the graph as Mermaid (default) or Graphviz DOT
          demo   Run the demo graph on a topic and print each superstep
          help   Print this message or the help of the given subcommand(s)

        Options:
          -h, --help     Print help
          -V, --version  Print version

        Exit codes: 0 success, 1 the run failed, 2 usage error.
    "#]]
    .assert_eq(&stdout);
}

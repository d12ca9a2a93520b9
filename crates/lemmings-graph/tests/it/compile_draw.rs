//! `compile()` problems (typed, all listed together) and the Mermaid / DOT diagrams.

use std::collections::BTreeSet;
use std::sync::Arc;

use expect_test::expect;
use lemmings_graph::*;

use crate::common::*;

/// A node body that is never run: these tests only compile and draw.
fn noop(_state: Arc<Log>, _ctx: Ctx) -> std::future::Ready<Result<LogUpdate, NodeError>> {
    std::future::ready(Ok(LogUpdate::default()))
}

fn graph(nodes: &[&str]) -> StateGraph<Log> {
    let mut g = StateGraph::<Log>::named("g");
    for n in nodes {
        g.add_node(*n, noop);
    }
    g
}

fn compile_error(g: StateGraph<Log>) -> CompileError {
    compile_error_with(g, CompileOptions::default())
}

fn compile_error_with(g: StateGraph<Log>, options: CompileOptions) -> CompileError {
    match g.compile_with(options) {
        Ok(_) => panic!("the graph compiled, but it should not"),
        Err(e) => e,
    }
}

fn unknown(name: &str, referenced_by: &str) -> Problem {
    Problem::UnknownNode {
        name: name.into(),
        referenced_by: referenced_by.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Compile errors
// ---------------------------------------------------------------------------------------------

#[test]
fn no_entry_point() {
    let mut g = graph(&["a"]);
    g.add_edge("a", END);
    let err = compile_error(g);
    assert_eq!(err.graph, "g");
    assert_eq!(err.problems, [Problem::NoEntryPoint]);
    expect![[r##"
        graph `g` does not compile:
          - no entry point: add an edge or a conditional edge from START"##]]
    .assert_eq(&err.to_string());
}

#[test]
fn conditional_edge_from_start_is_an_entry_point() {
    let mut g = graph(&["a"]);
    g.add_conditional_edges(START, |_s: &Log| "a").targets(["a"]);
    assert!(g.compile().is_ok());
}

#[test]
fn unknown_nodes_everywhere_are_listed_together() {
    let mut g = graph(&["a", "b"]);
    g.add_node("c", noop).destinations(["ghost_dest"]);
    g.add_edge(START, "a")
        .add_edge("a", "ghost_edge")
        .add_edge("nowhere", "b")
        .add_join(["a", "ghost_join_src"], "ghost_join_dst");
    g.add_conditional_edges("b", |_s: &Log| "x")
        .path_map([("x", "ghost_path"), ("y", "c"), ("z", END)]);
    g.add_conditional_edges("ghost_router", |_s: &Log| "a");
    let options = CompileOptions {
        interrupt_before: vec!["ghost_before".into(), "*".into()],
        interrupt_after: vec!["ghost_after".into()],
        ..CompileOptions::default()
    };
    let err = compile_error_with(g, options);
    assert_eq!(
        err.problems,
        [
            unknown("ghost_edge", "the edge a -> ghost_edge"),
            unknown("nowhere", "the edge nowhere -> b"),
            unknown("ghost_join_src", "the join [a, ghost_join_src] -> ghost_join_dst"),
            unknown("ghost_join_dst", "the join [a, ghost_join_src] -> ghost_join_dst"),
            unknown("ghost_path", "the path map of b (key \"x\")"),
            unknown("ghost_router", "the conditional edge from ghost_router"),
            unknown("ghost_dest", "the destinations of c"),
            unknown("ghost_before", "a breakpoint"),
            unknown("ghost_after", "a breakpoint"),
        ]
    );
    expect![[r##"
        graph `g` does not compile:
          - the edge a -> ghost_edge names `ghost_edge`, which is not a node; add it with add_node first
          - the edge nowhere -> b names `nowhere`, which is not a node; add it with add_node first
          - the join [a, ghost_join_src] -> ghost_join_dst names `ghost_join_src`, which is not a node; add it with add_node first
          - the join [a, ghost_join_src] -> ghost_join_dst names `ghost_join_dst`, which is not a node; add it with add_node first
          - the path map of b (key "x") names `ghost_path`, which is not a node; add it with add_node first
          - the conditional edge from ghost_router names `ghost_router`, which is not a node; add it with add_node first
          - the destinations of c names `ghost_dest`, which is not a node; add it with add_node first
          - a breakpoint names `ghost_before`, which is not a node; add it with add_node first
          - a breakpoint names `ghost_after`, which is not a node; add it with add_node first"##]]
    .assert_eq(&err.to_string());
}

#[test]
fn unknown_node_and_missing_entry_point_are_reported_together() {
    let mut g = graph(&["a"]);
    g.add_edge("a", "b");
    let err = compile_error(g);
    assert_eq!(err.problems, [unknown("b", "the edge a -> b"), Problem::NoEntryPoint]);
}

#[test]
fn unreachable_nodes() {
    let mut g = graph(&["a", "island", "after_island"]);
    g.add_edge(START, "a").add_edge("island", "after_island");
    let err = compile_error(g);
    assert_eq!(
        err.problems,
        [
            Problem::Unreachable { node: "island".into() },
            Problem::Unreachable {
                node: "after_island".into()
            },
        ]
    );
    expect![[r##"
        graph `g` does not compile:
          - node `island` cannot be reached from START; connect it with an edge, a path map or declared destinations
          - node `after_island` cannot be reached from START; connect it with an edge, a path map or declared destinations"##]]
    .assert_eq(&err.to_string());
}

#[test]
fn nodes_reached_through_path_maps_destinations_joins_and_open_routers_are_reachable() {
    let mut g = graph(&["a", "mapped", "joined"]);
    g.add_node("cmd", noop).destinations(["declared"]);
    g.add_node("declared", noop);
    g.add_node("anything", noop);
    g.add_node("open", noop);
    g.add_edge(START, "a");
    g.add_conditional_edges("a", |_s: &Log| "m")
        .path_map([("m", "mapped"), ("c", "cmd")]);
    g.add_join(["mapped", "cmd"], "joined");
    g.add_edge("joined", "open");
    // A router without a path map may return any node.
    g.add_conditional_edges("open", |_s: &Log| Route::end());
    assert!(g.compile().is_ok());
}

#[test]
fn reserved_and_invalid_names() {
    let mut g = StateGraph::<Log>::named("g");
    for name in [START, END, "a|b", "a:b", "", "tab\there", "ok"] {
        g.add_node(name, noop);
    }
    g.add_edge(START, "ok");
    let err = compile_error(g);
    let invalid = |name: &str, reason: &'static str| Problem::InvalidName {
        name: name.into(),
        reason,
    };
    assert_eq!(
        err.problems,
        [
            invalid(START, "START and END are reserved"),
            invalid(END, "START and END are reserved"),
            invalid("a|b", "`|` and `:` separate checkpoint namespaces"),
            invalid("a:b", "`|` and `:` separate checkpoint namespaces"),
            invalid("", "it is empty"),
            invalid("tab\there", "it contains control characters"),
        ]
    );
    expect![[r##"
        graph `g` does not compile:
          - node name "__start__" is not allowed: START and END are reserved
          - node name "__end__" is not allowed: START and END are reserved
          - node name "a|b" is not allowed: `|` and `:` separate checkpoint namespaces
          - node name "a:b" is not allowed: `|` and `:` separate checkpoint namespaces
          - node name "" is not allowed: it is empty
          - node name "tab\there" is not allowed: it contains control characters"##]]
    .assert_eq(&err.to_string());
}

#[test]
fn duplicate_node() {
    let mut g = graph(&["a", "b", "a", "a"]);
    g.add_edge(START, "a").add_edge("a", "b");
    let err = compile_error(g);
    assert_eq!(
        err.problems,
        [
            Problem::DuplicateNode { name: "a".into() },
            Problem::DuplicateNode { name: "a".into() },
        ]
    );
    expect![[r##"
        graph `g` does not compile:
          - node `a` is added twice; node names must be unique
          - node `a` is added twice; node names must be unique"##]]
    .assert_eq(&err.to_string());
}

#[test]
fn edges_into_a_packet_only_node() {
    let mut g = graph(&["a", "b"]);
    g.add_node_with_input("worker", |i: i64, _ctx: Ctx| async move {
        Ok::<_, NodeError>(log(&[&i.to_string()]))
    });
    g.add_edge(START, "a")
        .add_edge("a", "worker")
        .add_edge("a", "b")
        .add_join(["a", "b"], "worker");
    let err = compile_error(g);
    assert_eq!(
        err.problems,
        [
            Problem::NeedsPacket {
                node: "worker".into(),
                referenced_by: "the edge a -> worker".into()
            },
            Problem::NeedsPacket {
                node: "worker".into(),
                referenced_by: "the join [a, b] -> worker".into()
            },
        ]
    );
    expect![[r##"
        graph `g` does not compile:
          - the edge a -> worker starts `worker`, which takes a private input; start it with SendTo or add it with add_node_mapped
          - the join [a, b] -> worker starts `worker`, which takes a private input; start it with SendTo or add it with add_node_mapped"##]]
    .assert_eq(&err.to_string());
}

#[test]
fn an_edge_into_a_mapped_node_is_fine() {
    let mut g = graph(&["a"]);
    g.add_node_mapped(
        "mapped",
        |s: &Log| s.x,
        |x: i64, _ctx: Ctx| async move { Ok::<_, NodeError>(LogUpdate::default().x(x + 1)) },
    );
    g.add_edge(START, "a").add_edge("a", "mapped");
    assert!(g.compile().is_ok());
}

#[test]
fn defer_and_background_together() {
    let mut g = graph(&["a"]);
    g.add_node("both", noop).defer().background();
    g.add_edge(START, "a").add_edge("a", "both");
    let err = compile_error(g);
    assert_eq!(
        err.problems,
        [Problem::InvalidOptions {
            node: "both".into(),
            reason: "a node cannot be both deferred and background"
        }]
    );
    expect![[r##"
        graph `g` does not compile:
          - node `both`: a node cannot be both deferred and background"##]]
    .assert_eq(&err.to_string());
}

#[test]
fn every_kind_of_problem_in_one_error() {
    let mut g = StateGraph::<Log>::named("messy");
    g.add_node("a", noop);
    g.add_node("a", noop);
    g.add_node("x:y", noop).defer().background();
    g.add_edge("a", "missing");
    let err = compile_error(g);
    expect![[r##"
        graph `messy` does not compile:
          - node `a` is added twice; node names must be unique
          - node name "x:y" is not allowed: `|` and `:` separate checkpoint namespaces
          - node `x:y`: a node cannot be both deferred and background
          - the edge a -> missing names `missing`, which is not a node; add it with add_node first
          - no entry point: add an edge or a conditional edge from START"##]]
    .assert_eq(&err.to_string());
    assert_eq!(err.problems.len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Diagrams
// ---------------------------------------------------------------------------------------------

#[test]
fn draw_chain() {
    let mut g = graph(&["a", "b", "c"]);
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c")
        .add_edge("c", END);
    let g = g.compile().unwrap();
    expect![[r##"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	a(a)
        	b(b)
        	c(c)
        	__end__([<p>__end__</p>]):::last
        	__start__ --> a;
        	a --> b;
        	b --> c;
        	c --> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "##]]
    .assert_eq(&g.draw_mermaid());
    expect![[r##"
        digraph "g" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"a" [shape=box];
        	"b" [shape=box];
        	"c" [shape=box];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "a";
        	"a" -> "b";
        	"b" -> "c";
        	"c" -> "__end__";
        }
    "##]]
    .assert_eq(&g.draw_dot());
}

#[test]
fn draw_conditional_edge_with_path_map() {
    let mut g = graph(&["agent", "tools"]);
    g.add_edge(START, "agent").add_edge("tools", "agent");
    g.add_conditional_edges("agent", |_s: &Log| "continue")
        .path_map([("continue", "tools"), ("stop", END)]);
    let g = g.compile().unwrap();
    expect![[r##"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	agent(agent)
        	tools(tools)
        	__end__([<p>__end__</p>]):::last
        	__start__ --> agent;
        	tools --> agent;
        	agent -. &nbsp;continue&nbsp; .-> tools;
        	agent -. &nbsp;stop&nbsp; .-> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "##]]
    .assert_eq(&g.draw_mermaid());
    expect![[r##"
        digraph "g" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"agent" [shape=box];
        	"tools" [shape=box];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "agent";
        	"tools" -> "agent";
        	"agent" -> "tools" [style=dotted, label="continue"];
        	"agent" -> "__end__" [style=dotted, label="stop"];
        }
    "##]]
    .assert_eq(&g.draw_dot());
}

#[test]
fn draw_conditional_edge_with_targets_is_unlabelled() {
    let mut g = graph(&["a", "b", "c"]);
    g.add_edge(START, "a");
    g.add_conditional_edges("a", |_s: &Log| "b").targets(["b", "c"]);
    let g = g.compile().unwrap();
    expect![[r##"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	a(a)
        	b(b)
        	c(c)
        	__end__([<p>__end__</p>]):::last
        	__start__ --> a;
        	a -.-> b;
        	a -.-> c;
        	b --> __end__;
        	c --> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "##]]
    .assert_eq(&g.draw_mermaid());
}

#[test]
fn draw_conditional_edge_without_path_map() {
    let mut g = graph(&["a", "b", "c"]);
    g.add_edge(START, "a").add_edge("b", END).add_edge("c", END);
    g.add_conditional_edges("a", |_s: &Log| "b");
    let g = g.compile().unwrap();
    // Dotted to every node and to END. (LangGraph leaves out the source itself, `a -.-> a`.)
    expect![[r#"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	a(a)
        	b(b)
        	c(c)
        	__end__([<p>__end__</p>]):::last
        	__start__ --> a;
        	b --> __end__;
        	c --> __end__;
        	a -.-> b;
        	a -.-> c;
        	a -.-> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "#]]
    .assert_eq(&g.draw_mermaid());
    expect![[r##"
        digraph "g" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"a" [shape=box];
        	"b" [shape=box];
        	"c" [shape=box];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "a";
        	"b" -> "__end__";
        	"c" -> "__end__";
        	"a" -> "b" [style=dotted];
        	"a" -> "c" [style=dotted];
        	"a" -> "__end__" [style=dotted];
        }
    "##]]
    .assert_eq(&g.draw_dot());
}

#[test]
fn draw_join() {
    let mut g = graph(&["a", "b", "c", "d"]);
    g.add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("a", "c")
        .add_join(["b", "c"], "d")
        .add_edge("d", END);
    let g = g.compile().unwrap();
    expect![[r##"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	a(a)
        	b(b)
        	c(c)
        	d(d)
        	__end__([<p>__end__</p>]):::last
        	__start__ --> a;
        	a --> b;
        	a --> c;
        	d --> __end__;
        	b ==> d;
        	c ==> d;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "##]]
    .assert_eq(&g.draw_mermaid());
    expect![[r##"
        digraph "g" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"a" [shape=box];
        	"b" [shape=box];
        	"c" [shape=box];
        	"d" [shape=box];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "a";
        	"a" -> "b";
        	"a" -> "c";
        	"d" -> "__end__";
        	"b" -> "d" [style=bold];
        	"c" -> "d" [style=bold];
        }
    "##]]
    .assert_eq(&g.draw_dot());
}

#[test]
fn draw_deferred_and_background_nodes() {
    let mut g = graph(&["a", "b"]);
    g.add_node("agg", noop).defer();
    g.add_node("bg", noop).background();
    g.add_edge(START, "a")
        .add_edge(START, "bg")
        .add_edge("a", "b")
        .add_edge("a", "agg")
        .add_edge("b", "agg")
        .add_edge("agg", END)
        .add_edge("bg", END);
    let g = g.compile().unwrap();
    expect![[r##"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	a(a)
        	b(b)
        	agg("agg (deferred)")
        	bg("bg (background)")
        	__end__([<p>__end__</p>]):::last
        	__start__ --> a;
        	__start__ --> bg;
        	a --> b;
        	a --> agg;
        	b --> agg;
        	agg --> __end__;
        	bg --> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "##]]
    .assert_eq(&g.draw_mermaid());
    expect![[r##"
        digraph "g" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"a" [shape=box];
        	"b" [shape=box];
        	"agg" [shape=box, style=dashed, xlabel="deferred"];
        	"bg" [shape=box, style=dashed, xlabel="background"];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "a";
        	"__start__" -> "bg";
        	"a" -> "b";
        	"a" -> "agg";
        	"b" -> "agg";
        	"agg" -> "__end__";
        	"bg" -> "__end__";
        }
    "##]]
    .assert_eq(&g.draw_dot());
}

#[test]
fn draw_implicit_edge_to_end() {
    // `b` has no way out: it ends its branch, drawn as an edge to END.
    let mut g = graph(&["a", "b"]);
    g.add_edge(START, "a").add_edge("a", "b");
    let g = g.compile().unwrap();
    expect![[r##"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	a(a)
        	b(b)
        	__end__([<p>__end__</p>]):::last
        	__start__ --> a;
        	a --> b;
        	b --> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "##]]
    .assert_eq(&g.draw_mermaid());
    expect![[r##"
        digraph "g" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"a" [shape=box];
        	"b" [shape=box];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "a";
        	"a" -> "b";
        	"b" -> "__end__";
        }
    "##]]
    .assert_eq(&g.draw_dot());
}

#[test]
fn draw_destinations_and_quoted_names() {
    let mut g = StateGraph::<Log>::named("say \"hi\"");
    g.add_node("my node", noop).destinations(["b-2", END]);
    g.add_node("b-2", noop);
    g.add_edge(START, "my node").add_edge("b-2", END);
    let g = g.compile().unwrap();
    expect![[r#"
        ---
        config:
          flowchart:
            curve: linear
        ---
        graph TD;
        	__start__([<p>__start__</p>]):::first
        	my_x20_node("my node")
        	b-2(b-2)
        	__end__([<p>__end__</p>]):::last
        	__start__ --> my_x20_node;
        	b-2 --> __end__;
        	my_x20_node -.-> b-2;
        	my_x20_node -.-> __end__;
        	classDef default fill:#f2f0ff,line-height:1.2
        	classDef first fill-opacity:0
        	classDef last fill:#bfb6fc
    "#]]
    .assert_eq(&g.draw_mermaid());
    expect![[r##"
        digraph "say \"hi\"" {
        	rankdir=TB;
        	"__start__" [shape=oval, style=dashed];
        	"my node" [shape=box];
        	"b-2" [shape=box];
        	"__end__" [shape=oval, style=filled, fillcolor="#bfb6fc"];
        	"__start__" -> "my node";
        	"b-2" -> "__end__";
        	"my node" -> "b-2" [style=dotted];
        	"my node" -> "__end__" [style=dotted];
        }
    "##]]
    .assert_eq(&g.draw_dot());
}

/// Node names that differ only in characters Mermaid ids cannot hold must still be distinct
/// nodes in the diagram.
#[test]
fn mermaid_ids_of_distinct_nodes_are_distinct() {
    let mut g = graph(&["a b", "a_b", "a.b"]);
    g.add_edge(START, "a b").add_edge(START, "a_b").add_edge(START, "a.b");
    let g = g.compile().unwrap();
    let mermaid = g.draw_mermaid();
    let declared: Vec<&str> = mermaid
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("a") && l.ends_with(')'))
        .map(|l| &l[..l.find('(').unwrap()])
        .collect();
    let distinct: BTreeSet<&str> = declared.iter().copied().collect();
    assert_eq!(declared.len(), 3, "{mermaid}");
    assert_eq!(distinct.len(), 3, "two nodes share a Mermaid id:\n{mermaid}");
}

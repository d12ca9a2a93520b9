//! The demo graph: a small drafting workflow that exercises the engine's main features (fan-out
//! with `SendTo`, a deferred join, a conditional loop, a background branch, checkpoints).
//!
//! It stands in for the agents' workflow graph until that exists; `lemmings graph` draws it and
//! `lemmings demo` runs it.

use std::sync::Arc;

use lemmings_graph::{CompiledGraph, Ctx, END, NodeError, Route, START, SendTo, State, StateGraph};
use serde::{Deserialize, Serialize};

/// The demo's state.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Draft {
    /// The topic to write about.
    pub(crate) topic: String,
    /// Sections drafted in parallel, in send order.
    #[reducer(append)]
    pub(crate) sections: Vec<String>,
    /// How many review rounds ran.
    #[reducer(add)]
    pub(crate) rounds: u32,
    /// Notes from the background reviewer.
    #[reducer(append)]
    pub(crate) notes: Vec<String>,
    /// The merged text.
    pub(crate) text: String,
}

/// The private input of one `draft` task.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Section {
    topic: String,
    part: u32,
    round: u32,
}

fn ok<T>(value: T) -> Result<T, NodeError> {
    Ok(value)
}

/// Builds the demo graph.
pub(crate) fn graph() -> CompiledGraph<Draft> {
    let mut graph = StateGraph::<Draft>::named("demo");
    graph.add_node("plan", |state: Arc<Draft>, _ctx: Ctx| async move {
        ok(DraftUpdate::default()
            .rounds(1_u32)
            .overwrite_sections(Vec::new())
            .text(format!("outline of {}", state.topic)))
    });
    graph.add_node_with_input("draft", |section: Section, _ctx: Ctx| async move {
        ok(DraftUpdate::default().sections(vec![format!(
            "{} part {} (round {})",
            section.topic, section.part, section.round
        )]))
    });
    graph
        .add_node("merge", |state: Arc<Draft>, _ctx: Ctx| async move {
            ok(DraftUpdate::default().text(state.sections.join("; ")))
        })
        .defer();
    graph.add_node("review", |_state: Arc<Draft>, _ctx: Ctx| async move {
        ok(DraftUpdate::default())
    });
    graph
        .add_node("reviewer", |state: Arc<Draft>, _ctx: Ctx| async move {
            ok(DraftUpdate::default().notes(vec![format!("background note on {}", state.topic)]))
        })
        .background();
    graph.add_edge(START, "plan").add_edge(START, "reviewer");
    graph
        .add_conditional_edges("plan", |state: &Draft| {
            (1..=3)
                .map(|part| {
                    SendTo::new(
                        "draft",
                        Section {
                            topic: state.topic.clone(),
                            part,
                            round: state.rounds,
                        },
                    )
                })
                .collect::<Route>()
        })
        .targets(["draft"]);
    graph.add_edge("draft", "merge").add_edge("merge", "review");
    graph
        .add_conditional_edges(
            "review",
            |state: &Draft| if state.rounds < 2 { "revise" } else { "approve" },
        )
        .path_map([("revise", "plan"), ("approve", END)]);
    // The demo graph is fixed; a failure to compile it is a bug in this file.
    match graph.compile() {
        Ok(graph) => graph,
        Err(error) => unreachable!("the demo graph compiles: {error}"),
    }
}

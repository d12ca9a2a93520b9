//! The `lemmings` command: today it draws the coding workflow's graph and runs the demo graph;
//! agent runs (`lemmings run`) come with the CLI issue.
//!
//! Exit codes: 0 success, 1 the run failed, 2 usage error.

mod demo;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use lemmings_graph::{EventData, InMemorySaver, RunConfig, RunInput, StreamMode};

#[derive(Parser, Debug)]
#[command(
    name = "lemmings",
    version,
    about = "A LangGraph-style agent runtime and multi-model coding agent"
)]
#[command(after_help = "Exit codes: 0 success, 1 the run failed, 2 usage error.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the coding workflow's graph as Mermaid (default) or Graphviz DOT.
    #[command(after_help = "Examples:\n  lemmings graph\n  lemmings graph --format dot | dot -Tsvg > graph.svg")]
    Graph {
        /// The output format.
        #[arg(long, value_enum, default_value_t = Format::Mermaid)]
        format: Format,
    },
    /// Run the demo graph on a topic and print each superstep.
    #[command(after_help = "Examples:\n  lemmings demo\n  lemmings demo \"bridges\"")]
    Demo {
        /// What the demo drafts.
        #[arg(default_value = "graph runtimes")]
        topic: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Mermaid flowchart text.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Prints the coding workflow's graph (every role on, nothing connected).
fn draw_workflow(format: Format) -> anyhow::Result<()> {
    let root = std::env::temp_dir();
    let workflow = lemmings_agents::workflow::graph::drawing(&root)
        .map_err(|error| anyhow::anyhow!("cannot build the workflow to draw it: {error}"))?;
    let graph = workflow.graph();
    print!(
        "{}",
        match format {
            Format::Mermaid => graph.draw_mermaid(),
            Format::Dot => graph.draw_dot(),
        }
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Graph { format } => draw_workflow(format),
        Command::Demo { topic } => run_demo(topic),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo(topic: String) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let graph = demo::graph().with_checkpointer(Arc::new(InMemorySaver::new()));
        let config = RunConfig::thread("demo");
        let input = demo::DraftUpdate::default().topic(topic);
        let mut events = graph.stream(
            RunInput::New(input),
            &config,
            [StreamMode::Updates, StreamMode::Checkpoints],
        );
        while let Some(event) = events.next().await {
            match event.data {
                EventData::Update { node, update, .. } => {
                    println!("step {}: {node} wrote {}", event.step, update.to_json())
                }
                EventData::Checkpoint(checkpoint) => {
                    println!(
                        "step {}: checkpoint ({}), next: [{}]",
                        event.step,
                        checkpoint.source,
                        checkpoint.next.join(", ")
                    )
                }
                _ => {}
            }
        }
        let output = events.finish().await.context("the demo run failed")?;
        println!("done: {}", output.value.text);
        println!(
            "rounds: {}, background notes: {}",
            output.value.rounds,
            output.value.notes.len()
        );
        Ok(())
    })
}

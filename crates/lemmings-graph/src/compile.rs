//! `compile()`: validates a [`StateGraph`] with petgraph and freezes it into a [`CompiledGraph`].

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use petgraph::graphmap::DiGraphMap;
use petgraph::visit::{Bfs, Walker};

use crate::builder::{Router, StateGraph};
use crate::cache::Cache;
use crate::checkpoint::Checkpointer;
use crate::command::{END, START};
use crate::draw::{DrawEdge, Drawing};
use crate::node::NodeDef;
use crate::state::State;

/// One thing wrong with a graph, found by `compile`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Nothing leaves START.
    NoEntryPoint,
    /// Two nodes share a name.
    DuplicateNode {
        /// The name.
        name: String,
    },
    /// A node uses a reserved name or character.
    InvalidName {
        /// The name.
        name: String,
        /// Why it is not allowed.
        reason: &'static str,
    },
    /// An edge, join, path map, breakpoint or destination names a node that does not exist.
    UnknownNode {
        /// The missing name.
        name: String,
        /// Where it was named.
        referenced_by: String,
    },
    /// No path from START reaches the node.
    Unreachable {
        /// The node.
        node: String,
    },
    /// An edge or join targets a node that only `SendTo` packets can start.
    NeedsPacket {
        /// The node.
        node: String,
        /// The edge or join.
        referenced_by: String,
    },
    /// A node option combination that cannot work.
    InvalidOptions {
        /// The node.
        node: String,
        /// Why.
        reason: &'static str,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoEntryPoint => {
                write!(f, "no entry point: add an edge or a conditional edge from START")
            }
            Problem::DuplicateNode { name } => write!(f, "node `{name}` is added twice; node names must be unique"),
            Problem::InvalidName { name, reason } => write!(f, "node name {name:?} is not allowed: {reason}"),
            Problem::UnknownNode { name, referenced_by } => {
                write!(
                    f,
                    "{referenced_by} names `{name}`, which is not a node; add it with add_node first"
                )
            }
            Problem::Unreachable { node } => write!(
                f,
                "node `{node}` cannot be reached from START; connect it with an edge, a path map or declared destinations"
            ),
            Problem::NeedsPacket { node, referenced_by } => write!(
                f,
                "{referenced_by} starts `{node}`, which takes a private input; start it with SendTo or add it with add_node_mapped"
            ),
            Problem::InvalidOptions { node, reason } => write!(f, "node `{node}`: {reason}"),
        }
    }
}

/// `compile` found problems; all of them are listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CompileError {
    /// The graph's name.
    pub graph: String,
    /// What is wrong.
    pub problems: Vec<Problem>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "graph `{}` does not compile:", self.graph)?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// What `compile_with` attaches to a graph.
#[derive(Clone, Default)]
pub struct CompileOptions {
    /// Where checkpoints go; required for interrupts, resume and the state API.
    pub checkpointer: Option<Arc<dyn Checkpointer>>,
    /// The node cache for nodes with a [`CachePolicy`](crate::CachePolicy).
    pub cache: Option<Arc<dyn Cache>>,
    /// Pause before these nodes (`"*"`: every node).
    pub interrupt_before: Vec<String>,
    /// Pause after these nodes (`"*"`: every node).
    pub interrupt_after: Vec<String>,
}

impl fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompileOptions")
            .field("checkpointer", &self.checkpointer)
            .field("cache", &self.cache)
            .field("interrupt_before", &self.interrupt_before)
            .field("interrupt_after", &self.interrupt_after)
            .finish()
    }
}

/// Where an edge goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Node(usize),
    End,
}

pub(crate) struct Branch<S> {
    pub(crate) router: Router<S>,
    pub(crate) path_map: Option<HashMap<String, Target>>,
}

/// What fires after a node (or START) runs.
pub(crate) struct Outs<S> {
    pub(crate) edges: Vec<usize>,
    pub(crate) branches: Vec<Branch<S>>,
    /// Joins this node is a source of.
    pub(crate) joins: Vec<usize>,
}

impl<S> Default for Outs<S> {
    fn default() -> Self {
        Outs {
            edges: Vec::new(),
            branches: Vec::new(),
            joins: Vec::new(),
        }
    }
}

pub(crate) struct Join {
    pub(crate) name: String,
    pub(crate) sources: Vec<usize>,
    pub(crate) target: usize,
}

/// A validated graph: nodes sorted by name (so node index order is task-path order).
pub(crate) struct Topology<S: State> {
    pub(crate) name: String,
    pub(crate) nodes: Vec<NodeDef<S>>,
    pub(crate) index: HashMap<Arc<str>, usize>,
    pub(crate) start: Outs<S>,
    pub(crate) outs: Vec<Outs<S>>,
    pub(crate) joins: Vec<Join>,
    pub(crate) channel_index: HashMap<&'static str, usize>,
    pub(crate) drawing: Drawing,
}

impl<S: State> Topology<S> {
    pub(crate) fn node_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub(crate) fn name_of(&self, node: usize) -> &str {
        &self.nodes[node].name
    }
}

/// A topology plus what is attached at compile time.
pub(crate) struct Engine<S: State> {
    pub(crate) topology: Arc<Topology<S>>,
    pub(crate) checkpointer: Option<Arc<dyn Checkpointer>>,
    pub(crate) cache: Option<Arc<dyn Cache>>,
    pub(crate) interrupt_before: Vec<String>,
    pub(crate) interrupt_after: Vec<String>,
}

/// A compiled graph: cheap to clone, safe to run concurrently on different threads.
pub struct CompiledGraph<S: State, I = <S as State>::Update, O = S> {
    pub(crate) engine: Arc<Engine<S>>,
    _io: PhantomData<fn(I) -> O>,
}

impl<S: State, I, O> Clone for CompiledGraph<S, I, O> {
    fn clone(&self) -> Self {
        CompiledGraph {
            engine: Arc::clone(&self.engine),
            _io: PhantomData,
        }
    }
}

impl<S: State, I, O> fmt::Debug for CompiledGraph<S, I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledGraph")
            .field("name", &self.engine.topology.name)
            .field(
                "nodes",
                &self.engine.topology.nodes.iter().map(|n| &*n.name).collect::<Vec<_>>(),
            )
            .field("checkpointer", &self.engine.checkpointer)
            .finish()
    }
}

impl<S: State, I, O> CompiledGraph<S, I, O> {
    /// The same graph saving checkpoints to `checkpointer`.
    pub fn with_checkpointer(&self, checkpointer: Arc<dyn Checkpointer>) -> Self {
        let engine = Engine {
            topology: Arc::clone(&self.engine.topology),
            checkpointer: Some(checkpointer),
            cache: self.engine.cache.clone(),
            interrupt_before: self.engine.interrupt_before.clone(),
            interrupt_after: self.engine.interrupt_after.clone(),
        };
        CompiledGraph {
            engine: Arc::new(engine),
            _io: PhantomData,
        }
    }

    /// The graph's name.
    pub fn name(&self) -> &str {
        &self.engine.topology.name
    }

    /// The graph as Mermaid flowchart text (conditional edges dotted and labelled).
    pub fn draw_mermaid(&self) -> String {
        crate::draw::mermaid(&self.engine.topology.drawing)
    }

    /// The graph as Graphviz DOT (conditional edges dotted and labelled).
    pub fn draw_dot(&self) -> String {
        crate::draw::dot(&self.engine.topology.drawing)
    }

    /// Forgets cached writes of these nodes, or of all nodes.
    pub async fn clear_cache(&self, nodes: Option<&[&str]>) {
        if let Some(cache) = &self.engine.cache {
            let name = &self.engine.topology.name;
            let keys: Option<Vec<String>> = nodes.map(|nodes| nodes.iter().map(|n| format!("{name}:{n}")).collect());
            cache.clear(keys.as_deref()).await;
        }
    }
}

fn check_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == START || name == END {
        Some("START and END are reserved")
    } else if name.contains('|') || name.contains(':') {
        Some("`|` and `:` separate checkpoint namespaces")
    } else if name.chars().any(char::is_control) {
        Some("it contains control characters")
    } else {
        None
    }
}

impl<S: State, I, O> StateGraph<S, I, O> {
    /// Validates the graph and freezes it.
    pub fn compile(self) -> Result<CompiledGraph<S, I, O>, CompileError> {
        self.compile_with(CompileOptions::default())
    }

    /// Validates the graph and freezes it with a checkpointer, a cache or breakpoints.
    pub fn compile_with(self, options: CompileOptions) -> Result<CompiledGraph<S, I, O>, CompileError> {
        let mut problems = self.problems;
        for node in &self.nodes {
            if let Some(reason) = check_name(&node.name) {
                problems.push(Problem::InvalidName {
                    name: node.name.to_string(),
                    reason,
                });
            }
            if node.options.defer && node.options.background {
                problems.push(Problem::InvalidOptions {
                    node: node.name.to_string(),
                    reason: "a node cannot be both deferred and background",
                });
            }
        }
        let known: BTreeSet<&str> = self.nodes.iter().map(|n| &*n.name).collect();
        let mut unknown = |name: &str, referenced_by: String, allow: &[&str]| {
            if !known.contains(name) && !allow.contains(&name) {
                problems.push(Problem::UnknownNode {
                    name: name.to_owned(),
                    referenced_by,
                });
            }
        };
        for (from, to) in &self.edges {
            unknown(from, format!("the edge {from} -> {to}"), &[START]);
            unknown(to, format!("the edge {from} -> {to}"), &[END]);
        }
        for (sources, to) in &self.joins {
            let label = format!("the join [{}] -> {to}", sources.join(", "));
            for source in sources {
                unknown(source, label.clone(), &[]);
            }
            unknown(to, label, &[]);
        }
        for branch in &self.branches {
            unknown(
                &branch.source,
                format!("the conditional edge from {}", branch.source),
                &[START],
            );
            for (key, target) in branch.path_map.iter().flatten() {
                unknown(
                    target,
                    format!("the path map of {} (key {key:?})", branch.source),
                    &[END],
                );
            }
        }
        for node in &self.nodes {
            for target in &node.options.destinations {
                unknown(target, format!("the destinations of {}", node.name), &[END]);
            }
        }
        for name in options.interrupt_before.iter().chain(&options.interrupt_after) {
            unknown(name, "a breakpoint".to_owned(), &["*"]);
        }
        let has_entry =
            self.edges.iter().any(|(from, _)| from == START) || self.branches.iter().any(|b| b.source == START);
        if !has_entry {
            problems.push(Problem::NoEntryPoint);
        }
        let takes_state: HashMap<&str, bool> = self.nodes.iter().map(|n| (&*n.name, n.body.takes_state())).collect();
        for (from, to) in &self.edges {
            if takes_state.get(to.as_str()) == Some(&false) {
                problems.push(Problem::NeedsPacket {
                    node: to.clone(),
                    referenced_by: format!("the edge {from} -> {to}"),
                });
            }
        }
        for (sources, to) in &self.joins {
            if takes_state.get(to.as_str()) == Some(&false) {
                problems.push(Problem::NeedsPacket {
                    node: to.clone(),
                    referenced_by: format!("the join [{}] -> {to}", sources.join(", ")),
                });
            }
        }

        let drawing = Drawing::from_builder(&self.name, &self.nodes, &self.edges, &self.joins, &self.branches);
        if problems.is_empty() {
            for node in unreachable(&drawing) {
                problems.push(Problem::Unreachable { node });
            }
        }
        if !problems.is_empty() {
            return Err(CompileError {
                graph: self.name,
                problems,
            });
        }

        let mut nodes = self.nodes;
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let index: HashMap<Arc<str>, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (Arc::clone(&n.name), i))
            .collect();
        let target = |name: &str| {
            if name == END {
                Target::End
            } else {
                Target::Node(index[name])
            }
        };
        let mut start = Outs::default();
        let mut outs: Vec<Outs<S>> = (0..nodes.len()).map(|_| Outs::default()).collect();
        for (from, to) in &self.edges {
            if let Target::Node(to) = target(to) {
                let outs = if from == START {
                    &mut start
                } else {
                    &mut outs[index[from.as_str()]]
                };
                if !outs.edges.contains(&to) {
                    outs.edges.push(to);
                }
            }
        }
        for branch in self.branches {
            let path_map = branch
                .path_map
                .map(|map| map.iter().map(|(k, v)| (k.clone(), target(v))).collect());
            let outs = if branch.source == START {
                &mut start
            } else {
                &mut outs[index[branch.source.as_str()]]
            };
            outs.branches.push(Branch {
                router: branch.router,
                path_map,
            });
        }
        let mut joins = Vec::new();
        for (sources, to) in &self.joins {
            let id = joins.len();
            let mut source_ids: Vec<usize> = sources.iter().map(|s| index[s.as_str()]).collect();
            source_ids.sort_unstable();
            source_ids.dedup();
            for source in &source_ids {
                outs[*source].joins.push(id);
            }
            joins.push(Join {
                name: format!("join:{}:{to}", sources.join("+")),
                sources: source_ids,
                target: index[to.as_str()],
            });
        }
        let channel_index = S::channels()
            .iter()
            .enumerate()
            .map(|(i, spec)| (spec.name, i))
            .collect();
        let topology = Topology {
            name: self.name,
            nodes,
            index,
            start,
            outs,
            joins,
            channel_index,
            drawing,
        };
        let engine = Engine {
            topology: Arc::new(topology),
            checkpointer: options.checkpointer,
            cache: options.cache,
            interrupt_before: options.interrupt_before,
            interrupt_after: options.interrupt_after,
        };
        Ok(CompiledGraph {
            engine: Arc::new(engine),
            _io: PhantomData,
        })
    }
}

/// Nodes no path from START reaches, following every kind of edge in the drawing.
fn unreachable(drawing: &Drawing) -> Vec<String> {
    let mut graph: DiGraphMap<&str, ()> = DiGraphMap::new();
    graph.add_node(START);
    for node in &drawing.nodes {
        graph.add_node(node);
    }
    for DrawEdge { from, to, .. } in &drawing.edges {
        graph.add_edge(from, to, ());
    }
    let reached: BTreeSet<&str> = Bfs::new(&graph, START).iter(&graph).collect();
    drawing
        .nodes
        .iter()
        .filter(|n| !reached.contains(n.as_str()))
        .cloned()
        .collect()
}

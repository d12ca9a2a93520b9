//! [`StateGraph`]: the builder. Nodes, edges, joins, conditional edges; checked by `compile`.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::CompiledGraph;
use crate::cache::CachePolicy;
use crate::command::{Command, Route};
use crate::compile::Problem;
use crate::context::Ctx;
use crate::error::NodeError;
use crate::node::{InputNode, NodeDef, NodeFn, NodeOptions, StateNode};
use crate::retry::RetryPolicy;
use crate::state::{FromState, State};
use crate::subgraph::{MappedSubgraph, SharedSubgraph};

pub(crate) type Router<S> = Arc<dyn Fn(&S) -> Route + Send + Sync>;

pub(crate) struct BranchDef<S> {
    pub(crate) source: String,
    pub(crate) router: Router<S>,
    pub(crate) path_map: Option<Vec<(String, String)>>,
}

/// Builds a graph over the state `S`. `I` is what a run takes as input (by default the state's
/// update type), `O` what it returns (by default the whole state).
///
/// Mistakes (a duplicate node, an edge to a missing node) are collected and reported together
/// by [`compile`](StateGraph::compile); the builder itself never panics.
pub struct StateGraph<S: State, I = <S as State>::Update, O = S> {
    pub(crate) name: String,
    pub(crate) nodes: Vec<NodeDef<S>>,
    pub(crate) edges: Vec<(String, String)>,
    pub(crate) joins: Vec<(Vec<String>, String)>,
    pub(crate) branches: Vec<BranchDef<S>>,
    pub(crate) problems: Vec<Problem>,
    _io: PhantomData<fn(I) -> O>,
}

impl<S: State> StateGraph<S> {
    /// An empty graph named `graph`.
    pub fn new() -> Self {
        StateGraph::named("graph")
    }

    /// An empty graph with a name (shown in errors, diagrams and cache keys).
    pub fn named(name: impl Into<String>) -> Self {
        StateGraph {
            name: name.into(),
            nodes: Vec::new(),
            edges: Vec::new(),
            joins: Vec::new(),
            branches: Vec::new(),
            problems: Vec::new(),
            _io: PhantomData,
        }
    }
}

impl<S: State> Default for StateGraph<S> {
    fn default() -> Self {
        StateGraph::new()
    }
}

impl<S: State, I, O> StateGraph<S, I, O> {
    /// Runs take `I2` as input; it converts into the state's update (LangGraph's `input_schema`:
    /// the input writes only the fields it has).
    pub fn with_input<I2: Into<S::Update>>(self) -> StateGraph<S, I2, O> {
        self.retype()
    }

    /// Runs return `O2`, built from the final state (LangGraph's `output_schema`).
    pub fn with_output<O2: FromState<S>>(self) -> StateGraph<S, I, O2> {
        self.retype()
    }

    fn retype<I2, O2>(self) -> StateGraph<S, I2, O2> {
        StateGraph {
            name: self.name,
            nodes: self.nodes,
            edges: self.edges,
            joins: self.joins,
            branches: self.branches,
            problems: self.problems,
            _io: PhantomData,
        }
    }

    fn push(&mut self, name: String, body: Arc<dyn NodeFn<S>>) -> NodeBuilder<'_, S> {
        if self.nodes.iter().any(|n| *n.name == *name) {
            self.problems.push(Problem::DuplicateNode { name: name.clone() });
        }
        self.nodes.push(NodeDef {
            name: name.into(),
            body,
            options: NodeOptions::default(),
        });
        let index = self.nodes.len() - 1;
        NodeBuilder {
            options: &mut self.nodes[index].options,
        }
    }

    /// Adds a node that takes the state: `|state: Arc<S>, ctx| async move { ... }`. It returns
    /// the state's update type, a [`Command`], or `()`.
    pub fn add_node<F, Fut, R>(&mut self, name: impl Into<String>, body: F) -> NodeBuilder<'_, S>
    where
        F: Fn(Arc<S>, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
        R: Into<Command<S>> + 'static,
    {
        self.push(name.into(), Arc::new(StateNode(body)))
    }

    /// Adds a node with a private input, started only by [`SendTo`](crate::SendTo) packets of
    /// type `In` (map-reduce workers).
    pub fn add_node_with_input<In, F, Fut, R>(&mut self, name: impl Into<String>, body: F) -> NodeBuilder<'_, S>
    where
        In: DeserializeOwned + Clone + Send + Sync + 'static,
        F: Fn(In, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
        R: Into<Command<S>> + 'static,
    {
        self.push(name.into(), Arc::new(InputNode { body, project: None }))
    }

    /// Adds a node that sees only part of the state (LangGraph's node input schema): edges start
    /// it with `project(&state)`, packets of type `In` start it directly.
    pub fn add_node_mapped<In, P, F, Fut, R>(
        &mut self,
        name: impl Into<String>,
        project: P,
        body: F,
    ) -> NodeBuilder<'_, S>
    where
        In: DeserializeOwned + Clone + Send + Sync + 'static,
        P: Fn(&S) -> In + Send + Sync + 'static,
        F: Fn(In, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
        R: Into<Command<S>> + 'static,
    {
        self.push(
            name.into(),
            Arc::new(InputNode {
                body,
                project: Some(Arc::new(project)),
            }),
        )
    }

    /// Adds a compiled graph over the same state as a node. It starts from this graph's state, and
    /// its net change per channel is written back (so appends are not counted twice, unlike
    /// LangGraph). Its checkpoints live under the namespace `name:<task id>`; its interrupts pause
    /// this graph, and on resume it continues from its own checkpoint.
    pub fn add_subgraph<CI, CO>(
        &mut self,
        name: impl Into<String>,
        subgraph: CompiledGraph<S, CI, CO>,
    ) -> NodeBuilder<'_, S>
    where
        CI: 'static,
        CO: 'static,
    {
        self.push(name.into(), Arc::new(SharedSubgraph { child: subgraph.engine }))
    }

    /// Adds a compiled graph over another state `C` as a node: `into_child` builds its input from
    /// this graph's state, `from_child` turns its output into this graph's update.
    pub fn add_subgraph_mapped<C, CI, CO, In, Out>(
        &mut self,
        name: impl Into<String>,
        subgraph: CompiledGraph<C, CI, CO>,
        into_child: In,
        from_child: Out,
    ) -> NodeBuilder<'_, S>
    where
        C: State,
        CI: Into<C::Update> + 'static,
        CO: FromState<C>,
        In: Fn(&S) -> CI + Send + Sync + 'static,
        Out: Fn(CO) -> S::Update + Send + Sync + 'static,
    {
        self.add_subgraph_with(
            name,
            subgraph,
            move |state: &S| Ok(into_child(state)),
            move |_: &S, output: CO| Ok(from_child(output)),
        )
    }

    /// Like [`add_subgraph_mapped`](Self::add_subgraph_mapped), with mappings that may fail
    /// (the node fails with their error) and a `from_child` that also sees the state the node
    /// started from (the parent's state, or the packet that started it), so that the child's
    /// result can be judged against it.
    pub fn add_subgraph_with<C, CI, CO, In, Out>(
        &mut self,
        name: impl Into<String>,
        subgraph: CompiledGraph<C, CI, CO>,
        into_child: In,
        from_child: Out,
    ) -> NodeBuilder<'_, S>
    where
        C: State,
        CI: Into<C::Update> + 'static,
        CO: FromState<C>,
        In: Fn(&S) -> Result<CI, NodeError> + Send + Sync + 'static,
        Out: Fn(&S, CO) -> Result<S::Update, NodeError> + Send + Sync + 'static,
    {
        let node = MappedSubgraph::<S, C, CI, CO> {
            child: subgraph.engine,
            into_child: Arc::new(into_child),
            from_child: Arc::new(from_child),
        };
        self.push(name.into(), Arc::new(node))
    }

    /// Adds an edge: `to` runs in the superstep after `from`. `from` may be [`START`](crate::START),
    /// `to` may be [`END`](crate::END).
    pub fn add_edge(&mut self, from: impl Into<String>, to: impl Into<String>) -> &mut Self {
        self.edges.push((from.into(), to.into()));
        self
    }

    /// Adds a join: `to` runs once, after every node of `from` has run (LangGraph's
    /// `add_edge([a, b], c)`). The sources may finish in different supersteps.
    pub fn add_join<T: Into<String>>(&mut self, from: impl IntoIterator<Item = T>, to: impl Into<String>) -> &mut Self {
        self.joins.push((from.into_iter().map(Into::into).collect(), to.into()));
        self
    }

    /// Adds a conditional edge: after `from` runs, `router` reads the state (with `from`'s own
    /// writes but not its siblings') and returns node names, path-map keys or
    /// [`SendTo`](crate::SendTo) packets.
    pub fn add_conditional_edges<R, F>(&mut self, from: impl Into<String>, router: F) -> BranchBuilder<'_, S>
    where
        R: Into<Route>,
        F: Fn(&S) -> R + Send + Sync + 'static,
    {
        self.branches.push(BranchDef {
            source: from.into(),
            router: Arc::new(move |state: &S| router(state).into()),
            path_map: None,
        });
        let index = self.branches.len() - 1;
        BranchBuilder {
            branch: &mut self.branches[index],
        }
    }
}

/// Sets a node's options; returned by the `add_node*` methods.
pub struct NodeBuilder<'g, S: State> {
    options: &'g mut NodeOptions<S>,
}

impl<S: State> NodeBuilder<'_, S> {
    /// Retries the node when it fails.
    pub fn retry(self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// Caches the node's writes by its input (needs a cache, see
    /// [`CompileOptions::cache`](crate::CompileOptions)).
    pub fn cache(self, policy: CachePolicy) -> Self {
        self.options.cache = Some(policy);
        self
    }

    /// Fails an attempt that runs longer than `limit` (retryable).
    pub fn timeout(self, limit: Duration) -> Self {
        self.options.timeout = Some(limit);
        self
    }

    /// Runs the node only when nothing else is scheduled (LangGraph's `defer=True`), e.g. to
    /// aggregate branches of different lengths once.
    pub fn defer(self) -> Self {
        self.options.defer = true;
        self
    }

    /// Runs the node outside the superstep barrier: the main path does not wait for it, and its
    /// writes apply at the first superstep boundary after it finishes.
    pub fn background(self) -> Self {
        self.options.background = true;
        self
    }

    /// Handles the node's failure (after its retries): the handler's update or command applies
    /// instead, and the node's own edges do not fire.
    pub fn error_handler<F, Fut, R>(self, handler: F) -> Self
    where
        F: Fn(Arc<S>, NodeError) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, NodeError>> + Send + 'static,
        R: Into<Command<S>> + 'static,
    {
        self.options.error_handler = Some(Arc::new(move |state, error| {
            let future = handler(state, error);
            Box::pin(async move { future.await.map(Into::into) })
        }));
        self
    }

    /// Declares where the node's commands may go, for validation and drawing.
    pub fn destinations<T: Into<String>>(self, nodes: impl IntoIterator<Item = T>) -> Self {
        self.options.destinations.extend(nodes.into_iter().map(Into::into));
        self
    }
}

/// Sets a conditional edge's path map; returned by
/// [`add_conditional_edges`](StateGraph::add_conditional_edges).
pub struct BranchBuilder<'g, S> {
    branch: &'g mut BranchDef<S>,
}

impl<S> BranchBuilder<'_, S> {
    /// Maps the router's return values to nodes (or [`END`](crate::END)); the keys label the
    /// edges in diagrams. Without a path map, the router returns node names.
    pub fn path_map<K: Into<String>, V: Into<String>>(self, map: impl IntoIterator<Item = (K, V)>) -> Self {
        self.branch.path_map = Some(map.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }

    /// Declares the nodes the router may return (a path map from each name to itself).
    pub fn targets<T: Into<String>>(self, nodes: impl IntoIterator<Item = T>) -> Self {
        self.branch.path_map = Some(
            nodes
                .into_iter()
                .map(|n| {
                    let n = n.into();
                    (n.clone(), n)
                })
                .collect(),
        );
        self
    }
}

impl<S: State, I, O> std::fmt::Debug for StateGraph<S, I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateGraph")
            .field("name", &self.name)
            .field("nodes", &self.nodes.iter().map(|n| &*n.name).collect::<Vec<_>>())
            .field("edges", &self.edges)
            .field("joins", &self.joins)
            .field("branches", &self.branches.iter().map(|b| &b.source).collect::<Vec<_>>())
            .finish()
    }
}

impl<S: State> std::fmt::Debug for NodeBuilder<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBuilder").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for BranchBuilder<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchBuilder")
            .field("source", &self.branch.source)
            .finish_non_exhaustive()
    }
}

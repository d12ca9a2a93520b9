//! The superstep barrier: apply the tasks' writes in task-path order, then decide what runs next
//! from static edges, joins, routers, commands and sends.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::Loop;
use super::control::insert_sorted;
use super::tasks::Finished;
use crate::command::{END, Goto, ParentCommand};
use crate::compile::{Outs, Target};
use crate::error::GraphError;
use crate::state::{Changes, State, TaskUpdate, Update};

impl<S: State> Loop<S> {
    fn outs(&self, node: Option<usize>) -> &Outs<S> {
        match node {
            Some(node) => &self.topo.outs[node],
            None => &self.topo.start,
        }
    }

    /// The name a task writes under: its node's, or START's for the input.
    pub(super) fn writer_name(&self, node: Option<usize>) -> String {
        node.map_or_else(|| crate::START.to_owned(), |n| self.topo.name_of(n).to_owned())
    }

    fn routing_error(&self, node: Option<usize>, message: String) -> GraphError {
        GraphError::Routing {
            node: self.writer_name(node),
            step: self.step,
            message,
        }
    }

    /// Evaluates the routers after `node` against `view`, mapping path-map keys to nodes.
    fn route(&self, node: Option<usize>, view: &S) -> Result<Vec<Goto>, GraphError> {
        let mut gotos = Vec::new();
        for branch in &self.outs(node).branches {
            for goto in (branch.router)(view).0 {
                match (goto, &branch.path_map) {
                    (Goto::Node(key), Some(map)) => match map.get(key.as_ref()) {
                        Some(Target::Node(index)) => {
                            gotos.push(Goto::Node(self.topo.name_of(*index).to_owned().into()))
                        }
                        Some(Target::End) => {}
                        None => {
                            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
                            keys.sort_unstable();
                            return Err(self.routing_error(
                                node,
                                format!(
                                    "the router returned {key:?}, which its path map does not have (keys: {})",
                                    keys.join(", ")
                                ),
                            ));
                        }
                    },
                    (goto, _) => gotos.push(goto),
                }
            }
        }
        Ok(gotos)
    }

    /// Schedules a node for the next superstep (or for when nothing else is scheduled, if it is
    /// deferred).
    fn trigger(&mut self, node: usize) {
        if self.topo.nodes[node].options.defer {
            insert_sorted(&mut self.control.deferred, node);
        } else {
            insert_sorted(&mut self.control.triggers, node);
        }
    }

    /// Applies gotos: node names trigger, sends queue a task with its own input, END is ignored.
    pub(super) fn route_gotos(&mut self, from: Option<usize>, gotos: Vec<Goto>) -> Result<(), GraphError> {
        for goto in gotos {
            match goto {
                Goto::Node(name) if name == END => {}
                Goto::Node(name) => match self.topo.node_index(&name) {
                    Some(node) => self.trigger(node),
                    None => {
                        return Err(
                            self.routing_error(from, format!("`{name}` is not a node of graph `{}`", self.topo.name))
                        );
                    }
                },
                Goto::Send(send) => {
                    if send.node == END {
                        return Err(self.routing_error(from, "a SendTo cannot target END".to_owned()));
                    }
                    match self.topo.node_index(&send.node) {
                        Some(node) => self.control.sends.push((node, send.arg)),
                        None => {
                            return Err(self.routing_error(
                                from,
                                format!(
                                    "SendTo targets `{}`, which is not a node of graph `{}`",
                                    send.node, self.topo.name
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Gives every written channel a new version (one per superstep, as in LangGraph) and marks
    /// what the next saved checkpoint writes for it.
    pub(super) fn bump_versions(&mut self, changes: &Changes, deltas: &HashMap<usize, Bytes>) {
        if changes.written.is_empty() {
            return;
        }
        let version = self.max_version + 1;
        self.max_version = version;
        for index in changes.written.iter() {
            self.chans[index].written(version, deltas.get(&index).cloned());
        }
        for index in changes.overwritten.iter() {
            insert_sorted(&mut self.control.overwritten, index);
        }
    }

    /// A delta per written channel: the superstep's writes as one JSON array, when every task's
    /// encoded writes are at hand and nothing overwrote the channel.
    fn deltas(&self, finished: &[Finished<S>], changes: &Changes) -> HashMap<usize, Bytes> {
        let saving = self.scope.checkpointer.is_some();
        let specs = S::channels();
        let mut deltas = HashMap::new();
        if !saving {
            return deltas;
        }
        for channel in changes.written.iter() {
            if !specs[channel].delta || changes.overwritten.contains(channel) {
                continue;
            }
            let mut buffer = BytesMut::from(&b"["[..]);
            for task in finished {
                let Some(encoded) = &task.encoded else {
                    return HashMap::new();
                };
                for (index, bytes) in encoded {
                    if *index == channel {
                        if buffer.len() > 1 {
                            buffer.put_u8(b',');
                        }
                        buffer.extend_from_slice(bytes);
                    }
                }
            }
            buffer.put_u8(b']');
            deltas.insert(channel, buffer.freeze());
        }
        deltas
    }

    /// Applies a finished superstep. Returns a command for the parent graph, if a task sent one
    /// (the superstep is then abandoned, as in LangGraph).
    pub(super) fn barrier(&mut self, mut finished: Vec<Finished<S>>) -> Result<Option<ParentCommand>, GraphError> {
        if let Some(task) = finished.iter_mut().find(|f| f.done.parent.is_some()) {
            let mut parent = task.done.parent.take().unwrap_or_default();
            if let Some(error) = parent.encode_error.take() {
                return Err(self.routing_error(
                    task.node,
                    format!("the update for the parent graph does not serialize: {error}"),
                ));
            }
            return Ok(Some(parent));
        }
        // Routers see the state with their own node's writes but not their siblings': when a
        // sibling wrote, that view is built now from the pre-superstep state.
        let topo = Arc::clone(&self.topo);
        let mut early: Vec<Option<Vec<Goto>>> = (0..finished.len()).map(|_| None).collect();
        for (i, task) in finished.iter().enumerate() {
            if task.done.handled || self.outs(task.node).branches.is_empty() {
                continue;
            }
            let siblings_wrote = finished
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && !other.done.update.is_empty());
            if siblings_wrote {
                let mut view = (*self.state).clone();
                let name = self.writer_name(task.node);
                let mut own = [TaskUpdate {
                    writer: name.as_str(),
                    update: task.done.update.clone(),
                }];
                // An invalid own write is reported by the real apply below.
                let _ = view.apply(&mut own);
                early[i] = Some(self.route(task.node, &view)?);
            }
        }
        let names: Vec<String> = finished.iter().map(|f| self.writer_name(f.node)).collect();
        let mut updates: Vec<TaskUpdate<'_, S::Update>> = finished
            .iter_mut()
            .zip(&names)
            .map(|(f, name)| TaskUpdate {
                writer: name.as_str(),
                update: std::mem::take(&mut f.done.update),
            })
            .collect();
        let state = Arc::make_mut(&mut self.state);
        let changes = state.apply(&mut updates).map_err(|source| GraphError::InvalidUpdate {
            step: self.step,
            thread_id: self.scope.thread(),
            source,
        })?;
        drop(updates);
        let deltas = self.deltas(&finished, &changes);
        self.bump_versions(&changes, &deltas);

        self.control.triggers.clear();
        self.control.sends.clear();
        self.control.start = None;
        for (i, task) in finished.iter_mut().enumerate() {
            let outs = match task.node {
                Some(node) => &topo.outs[node],
                None => &topo.start,
            };
            if !task.done.handled {
                for &target in &outs.edges {
                    self.trigger(target);
                }
                for &join in &outs.joins {
                    let source = task.node.unwrap_or_default();
                    insert_sorted(&mut self.control.barriers[join], source);
                    if self.control.barriers[join] == topo.joins[join].sources {
                        self.control.barriers[join].clear();
                        self.trigger(topo.joins[join].target);
                    }
                }
            }
            let gotos = std::mem::take(&mut task.done.goto);
            self.route_gotos(task.node, gotos)?;
            if !task.done.handled && !outs.branches.is_empty() {
                let routed = match early[i].take() {
                    Some(routed) => routed,
                    None => self.route(task.node, &self.state)?,
                };
                self.route_gotos(task.node, routed)?;
            }
        }
        // Nothing else scheduled: deferred nodes run now (LangGraph's `finish()`).
        if self.control.triggers.is_empty() && self.control.sends.is_empty() && !self.control.deferred.is_empty() {
            self.control.triggers = std::mem::take(&mut self.control.deferred);
        }
        Ok(None)
    }
}

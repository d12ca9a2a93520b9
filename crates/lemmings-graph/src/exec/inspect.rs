//! The executor's side of the state API: a snapshot of a loaded checkpoint, and an update
//! applied as if a node had run.

use std::collections::BTreeMap;

use super::Loop;
use super::attempt::Done;
use super::control::insert_sorted;
use super::records::TaskRecord;
use super::tasks::{Finished, START_PATH, pull_path};
use crate::api::{StateSnapshot, TaskSnapshot};
use crate::checkpoint::{Checkpoint, CheckpointId, CheckpointPut, Source, TaskId};
use crate::error::GraphError;
use crate::interrupt::Interrupt;
use crate::state::{State, TaskUpdate, Update};

impl<S: State> Loop<S> {
    /// Answers saved for any task of the checkpoint, by interrupt id.
    fn saved_answers(&self) -> BTreeMap<String, serde_json::Value> {
        self.pending.values().flat_map(TaskRecord::answers).collect()
    }

    /// The loaded checkpoint as a snapshot, unanswered interrupts listed. With `apply_pending`
    /// (the latest checkpoint, as `get_state` shows it) finished tasks' writes are applied and
    /// those tasks leave `next`; otherwise (history, an explicit checkpoint) it is the checkpoint
    /// as saved, as in LangGraph. A conflict between saved writes is reported, not raised, so a
    /// stuck thread stays inspectable (LangGraph's `get_state` raises instead).
    pub(crate) fn snapshot(mut self, meta: Option<Checkpoint>, apply_pending: bool) -> StateSnapshot<S> {
        self.step = self.head.step + 1;
        let answers = self.saved_answers();
        let unanswered = |record: &TaskRecord| -> Vec<Interrupt> {
            record
                .interrupts()
                .into_iter()
                .filter(|i| !answers.contains_key(&i.id))
                .collect()
        };
        let mut tasks = Vec::new();
        let mut identities: Vec<(String, String, TaskId)> = Vec::new();
        if self.control.start.is_some() {
            let identity = crate::context::TaskIdentity::new(self.head.id, self.step, START_PATH.to_owned());
            identities.push((
                crate::START.to_owned(),
                START_PATH.to_owned(),
                identity.id(&self.scope.ns),
            ));
        } else {
            for (node, identity) in self.prepare_identities() {
                identities.push((
                    self.topo.name_of(node).to_owned(),
                    identity.path.clone(),
                    identity.id(&self.scope.ns),
                ));
            }
        }
        for spec in &self.control.background {
            identities.push((self.topo.name_of(spec.node).to_owned(), spec.path.clone(), spec.id));
        }
        let mut done: Vec<(String, String, S::Update)> = Vec::new();
        let mut conflict = None;
        for (name, path, id) in identities {
            let record = self.pending.get(&id);
            if let Some(record) = record.filter(|r| r.done()) {
                match record.decode::<S>(&self.topo) {
                    Ok((update, _)) => done.push((path.clone(), name.clone(), update)),
                    Err(e) => conflict = Some(format!("the saved writes of `{name}` do not decode: {e}")),
                }
            }
            tasks.push(TaskSnapshot {
                id,
                name,
                path,
                done: record.is_some_and(TaskRecord::done),
                error: record.and_then(TaskRecord::error),
                interrupts: record.map(&unanswered).unwrap_or_default(),
            });
        }
        let mut values = (*self.state).clone();
        if apply_pending && !done.is_empty() {
            done.sort_by(|a, b| a.0.cmp(&b.0));
            let mut updates: Vec<TaskUpdate<'_, S::Update>> = done
                .iter()
                .map(|(_, name, update)| TaskUpdate {
                    writer: name.as_str(),
                    update: update.clone(),
                })
                .collect();
            // A failed apply may leave the values half-updated: they are then taken again.
            if let Err(e) = values.apply(&mut updates) {
                values = (*self.state).clone();
                conflict = Some(e.to_string());
            }
        }
        let interrupts = tasks.iter().flat_map(|t| t.interrupts.iter().cloned()).collect();
        let next = self.next_names(apply_pending);
        StateSnapshot {
            values,
            next,
            checkpoint_id: meta.as_ref().map(|c| c.id),
            parent_id: meta.as_ref().and_then(|c| c.parent_id),
            step: meta.as_ref().map_or(-1, |c| c.step),
            source: meta.as_ref().map(|c| c.source),
            created_at: meta.as_ref().map(|c| c.created_at),
            metadata: meta.map(|c| c.metadata).unwrap_or_default(),
            tasks,
            interrupts,
            conflict,
        }
    }

    /// Applies `update` as if `as_node` ran: its writes go through the reducers, its scheduled
    /// task is consumed, its edges fire; other scheduled tasks stay scheduled. Returns the new
    /// checkpoint to save.
    pub(crate) fn update_as(
        &mut self,
        mut update: S::Update,
        as_node: Option<&str>,
    ) -> Result<CheckpointPut, GraphError> {
        let node = match as_node {
            Some(name) if name == crate::START => None,
            Some(name) => Some(self.topo.node_index(name).ok_or_else(|| {
                let known: Vec<&str> = self.topo.nodes.iter().map(|n| &*n.name).collect();
                GraphError::usage(format!(
                    "update_state as `{name}`: no such node (nodes: {})",
                    known.join(", ")
                ))
            })?),
            None => match self.control.last_writers.as_slice() {
                [] => None,
                [only] if only == crate::START => None,
                [only] => Some(self.topo.node_index(only).ok_or_else(|| {
                    GraphError::usage(format!(
                        "update_state: the latest writer `{only}` is not a node of this graph; pass as_node"
                    ))
                })?),
                several => {
                    return Err(GraphError::usage(format!(
                        "ambiguous update: the latest checkpoint was written by {}; pass as_node",
                        several.join(", ")
                    )));
                }
            },
        };
        self.step = self.head.step + 1;
        let keep_triggers: Vec<usize> = self
            .control
            .triggers
            .iter()
            .copied()
            .filter(|t| Some(*t) != node)
            .collect();
        let keep_sends: Vec<_> = self
            .control
            .sends
            .iter()
            .filter(|(n, _)| Some(*n) != node)
            .cloned()
            .collect();
        update.prepare();
        let path = node.map_or_else(|| START_PATH.to_owned(), |n| pull_path(self.topo.name_of(n)));
        let done = Done {
            update,
            goto: Vec::new(),
            parent: None,
            handled: false,
            cached: false,
        };
        self.pending.clear();
        self.barrier(vec![Finished {
            path,
            node,
            done,
            encoded: None,
        }])?;
        for trigger in keep_triggers {
            insert_sorted(&mut self.control.triggers, trigger);
        }
        let mut sends = keep_sends;
        sends.append(&mut self.control.sends);
        self.control.sends = sends;
        self.control.last_writers = vec![self.writer_name(node)];
        let id = CheckpointId::new_after(self.head.id);
        self.build_put(id, self.head.id, Source::Update, self.step)
    }
}

//! Answers to interrupts: resolving a `Resume` against the pending interrupts, saving the answers
//! by interrupt id, and handing each task its answers in order.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Loop;
use super::records::{TaskRecord, json_bytes, special_writes};
use crate::checkpoint::{TaskId, special};
use crate::context::interrupt_id;
use crate::error::GraphError;
use crate::interrupt::{Interrupt, Resume};
use crate::state::State;

impl<S: State> Loop<S> {
    /// A task's answers in order: the answer to its k-th interrupt is found by the k-th
    /// interrupt's id, which is derived from the task id and k.
    pub(super) fn resume_list(&self, task_id: TaskId) -> Vec<serde_json::Value> {
        (0..)
            .map_while(|k| self.scope.answers.get(&interrupt_id(task_id, k)).cloned())
            .collect()
    }

    /// A task's answers by interrupt id: its own consecutive answers, and answers to the
    /// interrupts it last raised (a subgraph's, whose ids are the subgraph's own).
    pub(super) fn answers_of(&self, task_id: TaskId) -> BTreeMap<String, serde_json::Value> {
        let mut answers: BTreeMap<String, serde_json::Value> = (0..)
            .map(|k| interrupt_id(task_id, k))
            .map_while(|id| self.scope.answers.get(&id).map(|v| (id, v.clone())))
            .collect();
        for interrupt in self
            .pending
            .get(&task_id)
            .map(TaskRecord::interrupts)
            .unwrap_or_default()
        {
            if let Some(value) = self.scope.answers.get(&interrupt.id) {
                answers.insert(interrupt.id, value.clone());
            }
        }
        answers
    }

    /// Attaches answers to the interrupts of the loaded checkpoint and saves them, so a crash
    /// after this point does not lose them. Answers saved by earlier resumes count too.
    pub(super) async fn attach_answers(&mut self, resume: Option<Resume>) -> Result<(), GraphError> {
        let mut known: BTreeMap<String, serde_json::Value> = (*self.scope.answers).clone();
        let mut ids: Vec<TaskId> = self.pending.keys().copied().collect();
        ids.sort();
        for id in &ids {
            known.extend(self.pending[id].answers());
        }
        let unanswered: Vec<(TaskId, Interrupt)> = ids
            .iter()
            .flat_map(|id| self.pending[id].interrupts().into_iter().map(move |i| (*id, i)))
            .filter(|(_, i)| !known.contains_key(&i.id))
            .collect();
        let new: BTreeMap<String, serde_json::Value> = match resume {
            None => BTreeMap::new(),
            Some(Resume::Value(value)) => match unanswered.as_slice() {
                [(_, only)] => [(only.id.clone(), value)].into(),
                [] => {
                    return Err(GraphError::usage(format!(
                        "thread {} has no pending interrupt to resume",
                        self.thread().unwrap_or_default()
                    )));
                }
                several => {
                    let ids: Vec<&str> = several.iter().map(|(_, i)| i.id.as_str()).collect();
                    return Err(GraphError::usage(format!(
                        "thread {} has {} pending interrupts ({}); answer them by id with Resume::by_id",
                        self.thread().unwrap_or_default(),
                        ids.len(),
                        ids.join(", ")
                    )));
                }
            },
            Some(Resume::ById(answers)) => {
                // Ids not pending here may be a subgraph's own; the root knows every pending
                // interrupt (subgraph ones included), so the check is made there.
                if self.scope.ns.is_empty() {
                    let pending: Vec<&str> = unanswered.iter().map(|(_, i)| i.id.as_str()).collect();
                    if let Some(unknown) = answers.keys().find(|id| !pending.contains(&id.as_str())) {
                        return Err(GraphError::usage(format!(
                            "thread {} has no pending interrupt {unknown}; pending: {}",
                            self.thread().unwrap_or_default(),
                            if pending.is_empty() {
                                "none".to_owned()
                            } else {
                                pending.join(", ")
                            }
                        )));
                    }
                }
                answers
            }
        };
        known.extend(new.clone());
        Arc::make_mut(&mut self.scope).answers = Arc::new(known);
        let mut saves = Vec::new();
        for (task_id, interrupt) in &unanswered {
            if new.contains_key(&interrupt.id) {
                let record = &self.pending[task_id];
                let answers = self.answers_of(*task_id);
                saves.push(special_writes(
                    *task_id,
                    &record.path,
                    &record.node,
                    vec![(special::RESUME, json_bytes(&answers))],
                ));
            }
        }
        saves.dedup_by_key(|w| w.task_id);
        if let (Some(store), Some(thread), Some(head), false) = (
            &self.scope.checkpointer,
            &self.scope.thread_id,
            self.head.id,
            saves.is_empty(),
        ) {
            store
                .put_writes(thread, &self.scope.ns, head, saves)
                .await
                .map_err(|source| self.store_error(source))?;
        }
        Ok(())
    }
}

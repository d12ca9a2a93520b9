//! The supervisor's way into the workflow: its directives go into the append-only mailbox
//! ([`apply_supervision`], beside the workflow), and `apply_guidance`, the gate before every
//! planner call, takes them in: de-duplicated, capped, aged out, critical ones forcing an
//! assessment.

use std::collections::BTreeSet;

use super::Transition;
use super::routing::Node;
use crate::text::{line, non_empty, normalise};
use crate::workflow::outputs::{Priority, SupervisionOutput};
use crate::workflow::state::{Directive, WorkflowState, WorkflowStateUpdate};

/// The most directives one supervisor run may add.
const MAX_NEW_DIRECTIVES: usize = 5;
/// The most directives in force.
pub const MAX_DIRECTIVES: usize = 10;
/// Tasks after which a directive ages out.
pub const DIRECTIVE_MAX_AGE: u32 = 15;
/// The supervisor urgency at which new directives force an assessment.
pub const URGENT: f64 = 0.8;

/// The supervisor's directives into the mailbox: typed, length-capped, at most five, without
/// blanks or duplicates of directives in force or waiting. It runs beside the workflow, so it
/// does not touch `last_node`; `at_task` is `tasks_total` when it looked.
pub fn apply_supervision(state: &WorkflowState, output: SupervisionOutput, at_task: u32) -> Transition {
    let unread = state.mailbox.get(state.mailbox_read..).unwrap_or_default();
    let mut seen: BTreeSet<String> = state
        .pending_directives
        .iter()
        .chain(unread)
        .map(|d| normalise(&d.description))
        .collect();
    let mut added = Vec::new();
    let mut dropped = 0;
    for spec in output.directives {
        let description = line(&spec.description, 200);
        if description.is_empty() || !seen.insert(normalise(&description)) || added.len() >= MAX_NEW_DIRECTIVES {
            dropped += 1;
            continue;
        }
        let mut files: Vec<String> = Vec::new();
        for file in spec.files.iter().filter_map(|f| non_empty(Some(f), 200)) {
            if !files.contains(&file) && files.len() < 10 {
                files.push(file);
            }
        }
        added.push(Directive {
            id: format!("directive_{:03}", state.mailbox.len() + added.len() + 1),
            kind: spec.kind,
            priority: spec.priority,
            description,
            rationale: line(&spec.rationale, 200),
            files,
            created_at_task: at_task,
        });
    }
    let critical = added.iter().filter(|d| d.priority == Priority::Critical).count();
    let what = format!("{} directive(s) ({critical} critical), {dropped} dropped", added.len());
    Transition::beside("supervisor", WorkflowStateUpdate::default().mailbox(added), what)
}

/// `apply_guidance`: takes in the directives the supervisor added since the last time (the
/// mailbox is read past a cursor, never cleared, so nothing appended concurrently is lost).
/// Directives in force are de-duplicated by their normalised description (a repeat may raise
/// the priority), aged out [`DIRECTIVE_MAX_AGE`] tasks after they were issued, and capped at
/// [`MAX_DIRECTIVES`] (the most urgent, then the newest, are kept). A new critical directive,
/// or new directives at an urgency of [`URGENT`] or more, force an assessment.
pub fn apply_guidance(state: &WorkflowState) -> Transition {
    let now = state.tasks_total;
    let fresh = |d: &&Directive| now.saturating_sub(d.created_at_task) < DIRECTIVE_MAX_AGE;
    let new = state.mailbox.get(state.mailbox_read..).unwrap_or_default();
    let mut active: Vec<Directive> = state.pending_directives.iter().filter(fresh).cloned().collect();
    let mut aged = state.pending_directives.len() - active.len();
    let (mut taken, mut duplicates, mut critical) = (0, 0, 0);
    for directive in new {
        if !fresh(&directive) {
            aged += 1;
            continue;
        }
        if directive.priority == Priority::Critical {
            critical += 1;
        }
        let key = normalise(&directive.description);
        match active.iter_mut().find(|a| normalise(&a.description) == key) {
            Some(existing) => {
                duplicates += 1;
                if rank(directive.priority) < rank(existing.priority) {
                    existing.priority = directive.priority;
                }
            }
            None => {
                taken += 1;
                active.push(directive.clone());
            }
        }
    }
    let dropped = cap(&mut active);
    let urgent = !new.is_empty() && state.supervisor_urgency >= URGENT;
    let force = state.force_assessment || critical > 0 || urgent;
    let mut what = format!("{taken} new directive(s)");
    if critical > 0 || urgent {
        what.push_str(&format!(
            " ({critical} critical, urgency {:.2}: assessment forced)",
            state.supervisor_urgency
        ));
    }
    for (count, label) in [(duplicates, "duplicate"), (aged, "aged out"), (dropped, "over the cap")] {
        if count > 0 {
            what.push_str(&format!(", {count} {label}"));
        }
    }
    what.push_str(&format!("; {} in force", active.len()));
    let update = WorkflowStateUpdate::default()
        .pending_directives(active)
        .mailbox_read(state.mailbox.len())
        .force_assessment(force);
    Transition::of(Node::ApplyGuidance, update, what)
}

fn rank(priority: Priority) -> u8 {
    match priority {
        Priority::Critical => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

/// Keeps the [`MAX_DIRECTIVES`] most urgent directives (the newest among equals), in their
/// order; returns how many were dropped.
fn cap(active: &mut Vec<Directive>) -> usize {
    if active.len() <= MAX_DIRECTIVES {
        return 0;
    }
    let mut order: Vec<usize> = (0..active.len()).collect();
    order.sort_by_key(|&i| (rank(active[i].priority), std::cmp::Reverse(i)));
    let keep: BTreeSet<usize> = order.into_iter().take(MAX_DIRECTIVES).collect();
    let before = active.len();
    let mut index = 0;
    active.retain(|_| {
        let kept = keep.contains(&index);
        index += 1;
        kept
    });
    before - active.len()
}

//! `lemmings threads`, `history`, `show` and `prune`: reading (and trimming) the database
//! without running anything.

use std::fmt::Write as _;
use std::sync::Arc;

use lemmings_agents::workflow::state::{MilestoneStatus, RunStatus, TaskStatus, WorkflowState};
use lemmings_graph::{CheckpointId, Checkpointer, CompiledGraph, ListOptions, Retention, StateSnapshot, Timestamp};
use serde_json::json;

use crate::exit::{Exit, usage};
use crate::settings::{PlaceArgs, checkpoint_id, open_place, thread_id};

/// The workflow's graph over `store`, only to decode states (its models are never called).
pub(crate) fn reader(store: Arc<dyn Checkpointer>) -> anyhow::Result<CompiledGraph<WorkflowState>> {
    let workflow = lemmings_agents::workflow::graph::drawing(&std::env::temp_dir())
        .map_err(|error| anyhow::anyhow!("cannot build the workflow to read its state: {error}"))?;
    Ok(workflow.graph().clone().with_checkpointer(store))
}

/// A thread's state at its latest checkpoint (or `checkpoint`); an unknown thread is a usage
/// error.
pub(crate) async fn state_of(
    graph: &CompiledGraph<WorkflowState>,
    thread: &str,
    checkpoint: Option<CheckpointId>,
) -> anyhow::Result<StateSnapshot<WorkflowState>> {
    let mut config = lemmings_graph::RunConfig::thread(thread);
    config.checkpoint_id = checkpoint;
    let snapshot = graph.get_state(&config).await.map_err(|error| match error {
        lemmings_graph::GraphError::CheckpointNotFound { .. } => usage(format!(
            "thread {thread} has no checkpoint {}: `lemmings history {thread}` lists them",
            checkpoint.map(|c| c.to_string()).unwrap_or_default()
        )),
        other => anyhow::Error::new(other).context(format!("cannot read thread {thread}")),
    })?;
    if snapshot.checkpoint_id.is_none() {
        return Err(usage(format!(
            "unknown thread {thread}: `lemmings threads` lists the threads in this database"
        )));
    }
    Ok(snapshot)
}

/// A thread's status in a word: `complete`, `failed`, `incomplete`, `paused` (waiting for an
/// answer), `unfinished` (stopped before its end, or running now: resumable once stopped) or
/// `stopped` (ended without a report).
pub(crate) fn status_word(snapshot: &StateSnapshot<WorkflowState>) -> &'static str {
    if !snapshot.interrupts.is_empty() {
        return "paused";
    }
    match &snapshot.values.status {
        RunStatus::Complete => "complete",
        RunStatus::Failed { .. } => "failed",
        RunStatus::Incomplete { .. } => "incomplete",
        RunStatus::Running if snapshot.next.is_empty() => "stopped",
        RunStatus::Running => "unfinished",
    }
}

fn clip(text: &str, chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(chars.saturating_sub(1)) {
        Some((at, _)) if line.chars().count() > chars => format!("{}…", &line[..at]),
        _ if line.len() < text.trim_end().len() => format!("{line}…"),
        _ => line.to_owned(),
    }
}

/// `lemmings threads`.
pub(crate) async fn threads(place: &PlaceArgs, json: bool) -> anyhow::Result<Exit> {
    let (_, db, store) = open_place(place).await?;
    let mut threads = store
        .list_threads()
        .await
        .map_err(|error| anyhow::Error::new(error).context(format!("cannot list the threads in {db}")))?;
    threads.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.thread_id.cmp(&b.thread_id))
    });
    let graph = reader(store)?;
    if threads.is_empty() && !json {
        out_line!("no threads in {db}");
        return Ok(Exit::Success);
    }
    if !json {
        out_line!(
            "{:<36}  {:<11}  {:>5}  {:<24}  TASK",
            "THREAD",
            "STATUS",
            "STEPS",
            "UPDATED"
        );
    }
    for summary in threads {
        let snapshot = state_of(&graph, &summary.thread_id, None).await?;
        let status = status_word(&snapshot);
        if json {
            out_line!(
                "{}",
                json!({
                    "thread_id": summary.thread_id,
                    "status": status,
                    "step": summary.step,
                    "checkpoints": summary.checkpoints,
                    "updated_at": summary.updated_at.to_string(),
                    "task": snapshot.values.user_request,
                })
            );
        } else {
            out_line!(
                "{:<36}  {:<11}  {:>5}  {:<24}  {}",
                summary.thread_id,
                status,
                summary.step.max(0),
                summary.updated_at.to_string(),
                clip(&snapshot.values.user_request, 60)
            );
        }
    }
    Ok(Exit::Success)
}

/// `lemmings history`.
pub(crate) async fn history(place: &PlaceArgs, thread: &str, json: bool) -> anyhow::Result<Exit> {
    let thread = thread_id(thread)?;
    let (_, _, store) = open_place(place).await?;
    let graph = reader(store)?;
    let snapshots = graph
        .get_state_history(&lemmings_graph::RunConfig::thread(&thread), &ListOptions::default())
        .await
        .map_err(|error| anyhow::Error::new(error).context(format!("cannot read the history of thread {thread}")))?;
    if snapshots.is_empty() {
        return Err(usage(format!(
            "unknown thread {thread}: `lemmings threads` lists the threads in this database"
        )));
    }
    if !json {
        out_line!(
            "{:<36}  {:>4}  {:<6}  {:<24}  NODES",
            "CHECKPOINT",
            "STEP",
            "SOURCE",
            "TIME"
        );
    }
    for (index, snapshot) in snapshots.iter().enumerate() {
        // The nodes that wrote a checkpoint are the ones its parent scheduled.
        let parent = snapshots
            .get(index + 1)
            .filter(|parent| parent.checkpoint_id.is_some() && parent.checkpoint_id == snapshot.parent_id);
        let nodes = match (snapshot.source, parent) {
            (Some(lemmings_graph::Source::Input), _) => vec!["(input)".to_owned()],
            (_, Some(parent)) => parent.next.clone(),
            _ => Vec::new(),
        };
        let id = snapshot.checkpoint_id.map(|id| id.to_string()).unwrap_or_default();
        let source = snapshot.source.map(|s| s.as_str()).unwrap_or("?");
        let time = snapshot.created_at.map(|t| t.to_string()).unwrap_or_default();
        if json {
            out_line!(
                "{}",
                json!({
                    "checkpoint_id": id,
                    "parent_id": snapshot.parent_id.map(|id| id.to_string()),
                    "step": snapshot.step,
                    "source": source,
                    "nodes": nodes,
                    "next": snapshot.next,
                    "created_at": time,
                })
            );
        } else {
            out_line!(
                "{id:<36}  {:>4}  {source:<6}  {time:<24}  {}",
                snapshot.step,
                nodes.join(", ")
            );
        }
    }
    Ok(Exit::Success)
}

/// `lemmings show`.
pub(crate) async fn show(
    place: &PlaceArgs,
    thread: &str,
    checkpoint: Option<&str>,
    json: bool,
) -> anyhow::Result<Exit> {
    let thread = thread_id(thread)?;
    let checkpoint = checkpoint.map(checkpoint_id).transpose()?;
    let (_, _, store) = open_place(place).await?;
    let graph = reader(store)?;
    let snapshot = state_of(&graph, &thread, checkpoint).await?;
    if json {
        let values = serde_json::to_value(&snapshot.values)?;
        out_line!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "thread_id": thread,
                "checkpoint_id": snapshot.checkpoint_id.map(|id| id.to_string()),
                "step": snapshot.step,
                "created_at": snapshot.created_at.map(|t| t.to_string()),
                "status": status_word(&snapshot),
                "next": snapshot.next,
                "values": values,
            }))?
        );
    } else {
        out_print!("{}", describe(&thread, &snapshot));
    }
    Ok(Exit::Success)
}

/// A state, readable.
pub(crate) fn describe(thread: &str, snapshot: &StateSnapshot<WorkflowState>) -> String {
    let state = &snapshot.values;
    let mut out = String::new();
    let at = snapshot.checkpoint_id.map(|id| id.to_string()).unwrap_or_default();
    let time = snapshot.created_at.map(|t| t.to_string()).unwrap_or_default();
    let _ = writeln!(out, "thread      {thread}");
    let _ = writeln!(out, "checkpoint  {at} (step {}, {time})", snapshot.step);
    let _ = writeln!(out, "task        {}", state.user_request);
    let _ = writeln!(out, "workspace   {}", state.workspace_root);
    let status = match &state.status {
        RunStatus::Failed { reason } | RunStatus::Incomplete { reason } => {
            format!("{}: {reason}", status_word(snapshot))
        }
        _ => status_word(snapshot).to_owned(),
    };
    let _ = writeln!(out, "status      {status}");
    if !snapshot.next.is_empty() {
        let _ = writeln!(out, "next        {}", snapshot.next.join(", "));
    }
    if let Some(conflict) = &snapshot.conflict {
        let _ = writeln!(out, "conflict    {conflict}");
    }
    if !state.remit.is_empty() {
        let _ = writeln!(out, "remit       {}", state.remit);
    }
    if !state.milestones.is_empty() {
        let _ = writeln!(out, "\nmilestones");
        for milestone in &state.milestones {
            let mark = match milestone.status {
                MilestoneStatus::Complete => "✓",
                MilestoneStatus::Active => "▸",
                MilestoneStatus::Skipped => "–",
                _ => "·",
            };
            let _ = writeln!(out, "  {mark} {} {}", milestone.id, milestone.description);
            for task in state.tasks_of(&milestone.id) {
                let mark = match task.status {
                    TaskStatus::Completed => "✓",
                    TaskStatus::Failed => "✗",
                    TaskStatus::Skipped => "–",
                    TaskStatus::InProgress => "▸",
                    TaskStatus::Planned => "·",
                };
                let attempts = match task.attempts {
                    1 => "1 attempt".to_owned(),
                    n => format!("{n} attempts"),
                };
                let summary = if task.task_summary.is_empty() {
                    &task.description
                } else {
                    &task.task_summary
                };
                let _ = writeln!(out, "      {mark} {} {} ({attempts})", task.id, clip(summary, 60));
            }
        }
    }
    if !state.mailbox.is_empty() {
        let _ = writeln!(out, "\nsupervisor directives");
        for directive in &state.mailbox {
            let _ = writeln!(out, "  {} {}", directive.id, clip(&directive.description, 70));
        }
    }
    if !state.status_lines.is_empty() {
        let _ = writeln!(out, "\nstatus lines (latest 10)");
        let skip = state.status_lines.len().saturating_sub(10);
        for line in &state.status_lines[skip..] {
            let _ = writeln!(out, "  {:<16} {}", line.node, line.text);
        }
    }
    if let Some(report) = &state.work_report {
        let _ = writeln!(out, "\nreport\n{}", indent(report));
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// `lemmings prune`.
pub(crate) async fn prune(
    place: &PlaceArgs,
    keep: usize,
    older_than: Option<u64>,
    thread: Option<&str>,
) -> anyhow::Result<Exit> {
    if keep == 0 {
        return Err(usage(
            "--keep must be at least 1: the latest checkpoint is what a thread resumes from",
        ));
    }
    let thread = thread.map(thread_id).transpose()?;
    let (_, db, store) = open_place(place).await?;
    let before = match older_than {
        Some(days) => {
            let millis = days
                .checked_mul(86_400_000)
                .ok_or_else(|| usage(format!("--older-than {days} is too large")))?;
            Some(Timestamp::from_millis(
                Timestamp::now().as_millis().saturating_sub(millis),
            ))
        }
        None => None,
    };
    let retention = Retention {
        keep_latest: Some(keep),
        before,
    };
    let threads: Vec<String> = match thread {
        Some(thread) => {
            let graph = reader(store.clone())?;
            state_of(&graph, &thread, None).await?;
            vec![thread]
        }
        None => store
            .list_threads()
            .await
            .map_err(|error| anyhow::Error::new(error).context(format!("cannot list the threads in {db}")))?
            .into_iter()
            .map(|summary| summary.thread_id)
            .collect(),
    };
    let (mut checkpoints, mut writes, mut blobs) = (0, 0, 0);
    for thread in &threads {
        let report = store
            .prune(thread, &retention)
            .await
            .map_err(|error| anyhow::Error::new(error).context(format!("cannot prune thread {thread}")))?;
        if report.checkpoints > 0 {
            out_line!(
                "{thread}: deleted {} checkpoints, {} pending writes, {} blobs",
                report.checkpoints,
                report.writes,
                report.blobs
            );
        }
        checkpoints += report.checkpoints;
        writes += report.writes;
        blobs += report.blobs;
    }
    out_line!(
        "pruned {} thread{}: {checkpoints} checkpoints, {writes} pending writes, {blobs} blobs deleted \
         (kept: the {keep} latest per thread{}; a thread's latest always stays)",
        threads.len(),
        if threads.len() == 1 { "" } else { "s" },
        match older_than {
            Some(days) => format!(", none older than {days} days"),
            None => String::new(),
        }
    );
    Ok(Exit::Success)
}

//! The live view of a run: what each node reports, the summarizer's status lines, the
//! supervisor's directives and, on a terminal, a block redrawn ten times a second with the
//! current node and one line per model call in flight (role, model, time, pieces streamed).
//! Piped, the same lines are printed plainly without the block; `--json` writes one JSON
//! object per line (the engine's events, between a `start` and an `end` object).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use lemmings_graph::{Event, EventData, Interrupt, StreamMode};
use lemmings_models::{LlmRegistry, UsageReport};
use serde_json::{Value, json};

use crate::Verbosity;
use crate::exit::Exit;

/// Where and how the run is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Output {
    mode: Mode,
    verbosity: Verbosity,
    color: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A terminal: lines plus the redrawn block.
    Live,
    /// Piped: lines only.
    Plain,
    /// One JSON object per line.
    Json,
}

impl Output {
    /// `--json`, else live on a terminal (not `TERM=dumb`), else plain.
    pub(crate) fn pick(json: bool, verbosity: Verbosity) -> Output {
        let terminal = std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |term| term != "dumb");
        let mode = match (json, terminal) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Live,
            (false, false) => Mode::Plain,
        };
        let color = mode == Mode::Live && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        Output { mode, verbosity, color }
    }
}

/// What the run's first lines say.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) thread: String,
    pub(crate) resumed: bool,
    pub(crate) workspace: String,
    pub(crate) database: String,
    pub(crate) config: String,
    /// Role → `model at server`.
    pub(crate) models: Vec<(String, String)>,
    pub(crate) notices: Vec<String>,
}

/// What the run's last lines say.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) thread: String,
    /// `--workspace`/`--db` options for the hint, when needed.
    pub(crate) place: String,
    pub(crate) exit: Exit,
    pub(crate) status: &'static str,
    pub(crate) reason: Option<String>,
    pub(crate) elapsed: Duration,
    pub(crate) completed: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    pub(crate) usage: UsageReport,
    /// Where the report was written.
    pub(crate) report: Option<String>,
    pub(crate) report_text: Option<String>,
    pub(crate) changes: Vec<String>,
    pub(crate) workspace: String,
    pub(crate) in_git: bool,
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The view's state.
#[derive(Debug)]
pub(crate) struct View {
    output: Output,
    /// Lines of the block currently on screen (live mode).
    drawn: usize,
    frame: usize,
    node: Option<String>,
    milestone: Option<String>,
    task: Option<String>,
    /// Directive ids already shown.
    directives: Vec<String>,
}

impl View {
    pub(crate) fn new(output: Output) -> View {
        View {
            output,
            drawn: 0,
            frame: 0,
            node: None,
            milestone: None,
            task: None,
            directives: Vec::new(),
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        self.output.mode == Mode::Live
    }

    /// Whether every stream mode is wanted (`--json`).
    pub(crate) fn wants_everything(&self) -> bool {
        self.output.mode == Mode::Json
    }

    fn quiet(&self) -> bool {
        self.output.verbosity == Verbosity::Quiet
    }

    fn verbose(&self) -> bool {
        self.output.verbosity == Verbosity::Verbose
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.output.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn json(&self, value: Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }

    /// A status line with its mark coloured: ✓ green, ✗ red, anything else cyan.
    fn marked(&self, text: &str) -> String {
        let Some(mark) = text.chars().next().filter(|c| !c.is_alphanumeric()) else {
            return text.to_owned();
        };
        let code = match mark {
            '✓' => "32",
            '✗' => "31",
            _ => "36",
        };
        let rest = &text[mark.len_utf8()..];
        format!("{}{rest}", self.paint(code, &mark.to_string()))
    }

    /// Prints a line above the block (redrawn after it).
    fn line(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}F\x1b[J", self.drawn);
            self.drawn = 0;
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// A one-line notice (a role switched off, a demo step, ...).
    pub(crate) fn notice(&mut self, text: &str) {
        match self.output.mode {
            Mode::Json => self.json(json!({"type": "notice", "message": text})),
            _ => {
                let line = format!("{} {text}", self.paint("33", "notice:"));
                self.line(&line);
            }
        }
    }

    /// The primary model's server is down: nothing ran.
    pub(crate) fn fail_fast(&mut self, message: &str) {
        if self.output.mode == Mode::Json {
            self.json(json!({"type": "end", "status": "not_started", "exit_code": 1, "error": message}));
        }
        eprintln!("error: {message}");
    }

    pub(crate) fn header(&mut self, header: &Header) {
        if self.output.mode == Mode::Json {
            self.json(json!({
                "type": "start",
                "thread_id": header.thread,
                "resumed": header.resumed,
                "workspace": header.workspace,
                "database": header.database,
                "config": header.config,
                "models": header.models.iter().cloned().collect::<BTreeMap<String, String>>(),
                "notices": header.notices,
            }));
            return;
        }
        // The thread id comes first, alone on its line, so scripts can read it.
        self.line(&format!("thread {}", header.thread));
        if self.quiet() {
            for notice in &header.notices {
                self.notice(notice);
            }
            return;
        }
        let verb = if header.resumed { "resuming" } else { "running" };
        self.line(&format!("  {verb} in  {}", header.workspace));
        self.line(&format!("  config      {}", header.config));
        self.line(&format!("  database    {}", header.database));
        for (role, model) in &header.models {
            self.line(&format!("  {:<11} {model}", format!("{role}:")));
        }
        for notice in &header.notices {
            self.notice(notice);
        }
    }

    /// One engine event.
    pub(crate) fn event(&mut self, event: &Event) {
        if self.output.mode == Mode::Json {
            self.json(event_json(event));
            return;
        }
        // Subgraph events (inside the agents' loops) are the model and tool calls the block
        // shows; the lines report the workflow's own nodes.
        if !event.ns.is_empty() {
            return;
        }
        match &event.data {
            EventData::TaskStart { node, .. } => self.node = Some(node.clone()),
            EventData::Update { node, update, .. } => self.update(node, &update.to_json()),
            EventData::TaskResult {
                node,
                error: Some(error),
                ..
            } => {
                let line = format!("{} {node} failed: {error}", self.paint("31", "✗"));
                self.line(&line);
            }
            EventData::Checkpoint(checkpoint) if self.verbose() => {
                let line = format!(
                    "    checkpoint {} (step {}, {}){}",
                    checkpoint.id,
                    event.step,
                    checkpoint.source.as_str(),
                    if checkpoint.next.is_empty() {
                        String::new()
                    } else {
                        format!(" next: {}", checkpoint.next.join(", "))
                    }
                );
                let line = self.paint("2", &line);
                self.line(&line);
            }
            _ => {}
        }
    }

    fn update(&mut self, node: &str, update: &Value) {
        if let Some(milestone) = update.get("active_milestone").and_then(Value::as_str) {
            self.milestone = Some(milestone.to_owned());
        }
        if let Some(task) = update.get("current_task") {
            self.task = task.as_str().map(str::to_owned);
        }
        if self.quiet() {
            return;
        }
        for line in update
            .get("status_lines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = line.get("text").and_then(Value::as_str).unwrap_or_default();
            let condensed = line.get("condensed").and_then(Value::as_bool).unwrap_or(false);
            // The node's own line starts with its mark and name; a condensed one is marked as
            // the summarizer's.
            let text = self.marked(text);
            let line = if condensed {
                format!("{} {text}", self.paint("36", "[summarizer]"))
            } else {
                text
            };
            self.line(&line);
        }
        for directive in update.get("mailbox").and_then(Value::as_array).into_iter().flatten() {
            let id = directive
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if self.directives.contains(&id) {
                continue;
            }
            let text = format!(
                "{} directive {id} ({}, {}): {}",
                self.paint("35", "[supervisor]"),
                directive.get("kind").and_then(Value::as_str).unwrap_or("?"),
                directive.get("priority").and_then(Value::as_str).unwrap_or("?"),
                directive.get("description").and_then(Value::as_str).unwrap_or_default()
            );
            self.directives.push(id);
            self.line(&text);
        }
        if self.verbose() {
            for trace in update.get("events").and_then(Value::as_array).into_iter().flatten() {
                if let Some(trace) = trace.as_str() {
                    let line = self.paint("2", &format!("    {node}: {trace}"));
                    self.line(&line);
                }
            }
        }
    }

    /// Redraws the block: the current node, milestone and task, then one line per model call
    /// in flight.
    pub(crate) fn tick(&mut self, registry: &LlmRegistry, elapsed: Duration) {
        if self.output.mode != Mode::Live {
            return;
        }
        self.frame = (self.frame + 1) % SPINNER.len();
        let mut lines = Vec::new();
        let mut head = format!(
            "{} {}",
            self.paint("36", SPINNER[self.frame]),
            self.node.as_deref().unwrap_or("starting")
        );
        if let Some(milestone) = &self.milestone {
            head.push_str(&format!(" · milestone {milestone}"));
        }
        if let Some(task) = &self.task {
            head.push_str(&format!(" · task {task}"));
        }
        head.push_str(&format!(" · {}", seconds(elapsed)));
        lines.push(head);
        for call in registry.active_calls() {
            // `model` is the called role's; once a fallback answers, name the role instead.
            let (who, model) = if call.answering == call.role {
                (call.role.clone(), clip(&call.model, 24))
            } else {
                (
                    format!("{}→{}", call.role, call.answering),
                    format!("(fallback to {})", call.answering),
                )
            };
            lines.push(format!(
                "    {who:<12} {model:<24} {:>6}  {} pieces streamed",
                seconds(call.elapsed),
                call.chunks
            ));
        }
        let mut out = std::io::stdout().lock();
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}F\x1b[J", self.drawn);
        }
        for line in &lines {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
        self.drawn = lines.len();
    }

    fn clear_block(&mut self) {
        if self.drawn > 0 {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\x1b[{}F\x1b[J", self.drawn);
            let _ = out.flush();
            self.drawn = 0;
        }
    }

    /// The run paused for an answer.
    pub(crate) fn paused(&mut self, interrupts: &[Interrupt], resume: &str) {
        self.clear_block();
        if self.output.mode == Mode::Json {
            let questions: Vec<Value> = interrupts
                .iter()
                .map(|i| json!({"id": i.id, "value": i.value}))
                .collect();
            self.json(json!({"type": "end", "status": "paused", "exit_code": 0, "interrupts": questions}));
            return;
        }
        for interrupt in interrupts {
            self.line(&format!("? waiting for an answer: {}", interrupt.value));
        }
        self.line(&format!("answer with: {resume} --answer \"...\""));
    }

    /// Ctrl-C stopped the run.
    pub(crate) fn interrupted(&mut self, step: i64, resume: &str, elapsed: Duration) {
        self.clear_block();
        if self.output.mode == Mode::Json {
            self.json(json!({
                "type": "end", "status": "interrupted", "exit_code": 130, "step": step,
                "elapsed_s": elapsed.as_secs_f64(), "resume": resume,
            }));
        }
        eprintln!(
            "interrupted at step {step} after {}: the last checkpoint is intact; continue with: {resume}",
            seconds(elapsed)
        );
    }

    /// The run stopped on an error the workflow could not turn into a report.
    pub(crate) fn crashed(&mut self, error: &str, resume: &str, elapsed: Duration) {
        self.clear_block();
        if self.output.mode == Mode::Json {
            self.json(json!({
                "type": "end", "status": "error", "exit_code": 1, "error": error,
                "elapsed_s": elapsed.as_secs_f64(), "resume": resume,
            }));
        }
        eprintln!("error: the run stopped: {error}");
        eprintln!("the last checkpoint is intact; once the cause is fixed, continue with: {resume}");
    }

    /// The final summary.
    pub(crate) fn summary(&mut self, summary: &Summary) {
        self.clear_block();
        if self.output.mode == Mode::Json {
            self.json(json!({
                "type": "end",
                "status": summary.status,
                "exit_code": summary.exit.number(),
                "reason": summary.reason,
                "elapsed_s": summary.elapsed.as_secs_f64(),
                "tasks": {"completed": summary.completed, "failed": summary.failed, "skipped": summary.skipped},
                "usage": summary.usage,
                "report": summary.report,
                "changes": summary.changes,
            }));
            return;
        }
        let mark = if summary.exit == Exit::Success {
            self.paint("32", "✓")
        } else {
            self.paint("31", "✗")
        };
        let mut head = format!(
            "{mark} {} in {}: {} completed, {} failed, {} skipped",
            summary.status,
            seconds(summary.elapsed),
            tasks(summary.completed),
            summary.failed,
            summary.skipped
        );
        if let Some(reason) = &summary.reason {
            head.push_str(&format!("\n  {reason}"));
        }
        self.line(&head);
        if !self.quiet() {
            if let Some(text) = summary.report_text.as_deref().filter(|_| summary.report.is_none()) {
                self.line(&format!("report:\n{text}"));
            }
            for (role, usage) in &summary.usage {
                if usage.calls == 0 && usage.answers == 0 {
                    continue;
                }
                let mut line = format!(
                    "  {role:<11} {:>3} calls  {:>7} tokens in  {:>6} out  {:>7} busy",
                    usage.calls,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    seconds(usage.latency)
                );
                if usage.fallbacks > 0 {
                    line.push_str(&format!("  ({} answered by a fallback)", usage.fallbacks));
                }
                if usage.cost_usd > 0.0 {
                    line.push_str(&format!("  ${:.4}", usage.cost_usd));
                }
                self.line(&line);
            }
        }
        if let Some(report) = &summary.report {
            self.line(&format!("  report      {report}"));
        }
        if !summary.changes.is_empty() {
            let review = if summary.in_git {
                format!("  (review: git -C {} diff)", summary.workspace)
            } else {
                String::new()
            };
            self.line(&format!("  changes     {}{review}", summary.changes.join(", ")));
        }
        self.line(&format!(
            "  inspect     lemmings show {}{}",
            summary.thread, summary.place
        ));
    }
}

fn tasks(n: usize) -> String {
    if n == 1 {
        "1 task".to_owned()
    } else {
        format!("{n} tasks")
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(chars.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// An engine event as one JSON object: `type`, `ns`, `step`, and the event's fields.
pub(crate) fn event_json(event: &Event) -> Value {
    let mut object = match &event.data {
        EventData::Values(state) => json!({"type": "values", "state": state.to_json()}),
        EventData::Update { node, update, cached } => {
            json!({"type": "update", "node": node, "update": update.to_json(), "cached": cached})
        }
        EventData::Interrupt(interrupts) => {
            let list: Vec<Value> = interrupts
                .iter()
                .map(|i| json!({"id": i.id, "value": i.value}))
                .collect();
            json!({"type": "interrupt", "interrupts": list})
        }
        EventData::Message { node, chunk } => json!({"type": "message", "node": node, "chunk": chunk}),
        EventData::Custom { node, value } => json!({"type": "custom", "node": node, "value": value}),
        EventData::Checkpoint(checkpoint) => json!({
            "type": "checkpoint",
            "id": checkpoint.id.to_string(),
            "parent_id": checkpoint.parent_id.map(|id| id.to_string()),
            "source": checkpoint.source.as_str(),
            "next": checkpoint.next,
        }),
        EventData::TaskStart { id, node } => json!({"type": "task_start", "id": id.to_string(), "node": node}),
        EventData::TaskResult {
            id,
            node,
            error,
            interrupts,
        } => json!({
            "type": "task_result", "id": id.to_string(), "node": node, "error": error,
            "interrupts": interrupts.len(),
        }),
        _ => json!({"type": "other"}),
    };
    if let Some(map) = object.as_object_mut() {
        map.insert("mode".to_owned(), json!(mode_name(event.mode)));
        map.insert("ns".to_owned(), json!(event.ns.as_ref()));
        map.insert("step".to_owned(), json!(event.step));
    }
    object
}

fn mode_name(mode: StreamMode) -> &'static str {
    match mode {
        StreamMode::Values => "values",
        StreamMode::Updates => "updates",
        StreamMode::Messages => "messages",
        StreamMode::Custom => "custom",
        StreamMode::Checkpoints => "checkpoints",
        StreamMode::Tasks => "tasks",
        StreamMode::Debug => "debug",
    }
}

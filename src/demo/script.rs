//! What the demo's scripted models answer each agent: one milestone of two tasks (`steps`),
//! each planned, written through the coder, verified and passed by QA, then the assessment and
//! the report; beside them, the supervisor's reviews and its one directive (`supervisor`).
//!
//! Every answer is decided from the request and the workspace's files alone (which agent is
//! asking, which task its prompt names, whether a tool result is already in its conversation,
//! which files exist), never from earlier calls: a run stopped anywhere and continued from its
//! checkpoint gets the same answers as one that never stopped.

use std::fmt;
use std::path::Path;

use lemmings_models::{ChatMessage, ChatRequest};
use serde_json::{Value, json};

use super::steps::{STEPS, Step, report};
use super::supervisor;

/// Which agent sent a request, told apart by the submit tool it is offered (the report has no
/// tools) and, for the summarizer's work, by having no system prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Agent {
    Scope,
    Planner,
    Implementor,
    Coder,
    Qa,
    Assessor,
    /// The supervisor, beside the main path.
    Supervisor,
    Report,
    /// A status line to condense, a field to shorten or a conversation to summarize.
    Summarizer,
    /// An agent the demo does not script (a helper subagent), described.
    Other(String),
}

impl Agent {
    pub(super) fn of(request: &ChatRequest) -> Agent {
        if !matches!(request.messages.first(), Some(ChatMessage::System { .. })) {
            return Agent::Summarizer;
        }
        let submit = request.tools.iter().find_map(|t| t.name.strip_prefix("submit_"));
        match submit {
            Some("scope") => Agent::Scope,
            Some("plan") => Agent::Planner,
            Some("implementation") => Agent::Implementor,
            Some("code_change") => Agent::Coder,
            Some("qa") => Agent::Qa,
            Some("assessment") => Agent::Assessor,
            Some("supervision") => Agent::Supervisor,
            Some(other) => Agent::Other(format!("the agent submitting `{other}`")),
            None if request.tools.is_empty() => Agent::Report,
            None => {
                let tools: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
                Agent::Other(format!("a helper agent with the tools {}", tools.join(", ")))
            }
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Agent::Scope => "scope",
            Agent::Planner => "task planner",
            Agent::Implementor => "implementor",
            Agent::Coder => "coder",
            Agent::Qa => "QA",
            Agent::Assessor => "assessor",
            Agent::Supervisor => "supervisor",
            Agent::Report => "report",
            Agent::Summarizer => "summarizer",
            Agent::Other(what) => what,
        };
        f.write_str(name)
    }
}

/// One answer: text (streamed first, and kept as the answer's content), then at most one tool
/// call.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) text: String,
    pub(super) call: Option<(String, Value)>,
}

impl Answer {
    fn text(text: impl Into<String>) -> Answer {
        Answer {
            text: text.into(),
            call: None,
        }
    }

    fn call(text: impl Into<String>, tool: &str, arguments: Value) -> Answer {
        Answer {
            text: text.into(),
            call: Some((tool.to_owned(), arguments)),
        }
    }
}

/// `agent`'s answer to `request` in `workspace`, or why there is none.
pub(super) fn answer(agent: &Agent, request: &ChatRequest, workspace: &Path) -> Result<Answer, String> {
    let submit = || {
        request
            .tools
            .iter()
            .find(|t| t.name.starts_with("submit_"))
            .map_or("submit", |t| t.name.as_str())
    };
    let done = |step: &Step| workspace.join(step.path).is_file();
    Ok(match agent {
        Agent::Scope => Answer::call(
            "One milestone: a greeting module, then a README that shows how to use it.",
            submit(),
            json!({
                "remit": "Give the project a greeting module, `greet` in src/greet.rs, and a README that shows \
                          how to call it.",
                "explicit_needs": ["a public greet(name) function returning \"Hello, <name>!\"", "a README with an example"],
                "implied_needs": ["a unit test of greet"],
                "milestones": [{
                    "description": "src/greet.rs defines greet with a unit test, and README.md shows how to call it",
                    "sketch": "write the module first, then the README",
                }],
            }),
        ),
        Agent::Planner => {
            let next = STEPS.iter().position(|step| !done(step));
            // The supervisor's directive is answered in the first round that shows it: by the
            // README's task, or as done by it when it came too late for that.
            let responses = supervisor::responses(request, next.is_some_and(|index| STEPS[index].path == "README.md"));
            let answering = if responses.is_empty() {
                ""
            } else {
                " It also answers the supervisor's directive on README.md."
            };
            match next {
                Some(index) => {
                    let step = &STEPS[index];
                    let later: Vec<&str> = STEPS[index + 1..].iter().map(|s| s.summary).collect();
                    Answer::call(
                        format!(
                            "{} does not exist yet, so it is next: {}.{answering}",
                            step.path, step.summary
                        ),
                        submit(),
                        json!({
                            "action": "implement",
                            "task_description": step.description,
                            "measurable_outcome": step.outcome,
                            "implementation_plan": step.plan,
                            "change_type": step.change_type,
                            "task_summary": step.summary,
                            "carry_forward": later,
                            "directive_responses": responses,
                        }),
                    )
                }
                None => Answer::call(
                    format!("Both files exist: the milestone looks done, over to the assessor.{answering}"),
                    submit(),
                    json!({"action": "milestone_done", "carry_forward": [], "directive_responses": responses}),
                ),
            }
        }
        Agent::Implementor => {
            let step = step_in(request, "TASK")?;
            if has_result(request, "coder") {
                let written = done(step);
                Answer::call(
                    format!("The coder reports {} written; submitting.", step.path),
                    submit(),
                    json!({
                        "files_modified": [step.path],
                        "result_summary": format!("created {} through the coder", step.path),
                        "issues_noticed": [],
                        "success": written,
                    }),
                )
            } else {
                Answer::call(
                    format!("Handing {} to the coder.", step.path),
                    "coder",
                    json!({"query": step.request}),
                )
            }
        }
        Agent::Coder => {
            let step = step_in(request, "CHANGE REQUEST")?;
            // The coder runs as a subagent without a thread of its own, so its side effects'
            // idempotency keys come from its loop's step alone: two coder runs writing at the
            // same step share a key, and the second write is skipped as "already applied".
            // Task 2's coder reads before it writes, which puts its write at another step.
            match step.reads {
                Some(path) if !has_result(request, "read_file") => {
                    Answer::call(format!("Reading {path} first."), "read_file", json!({"path": path}))
                }
                _ if !has_result(request, "write_file") => Answer::call(
                    format!("Writing {}.", step.path),
                    "write_file",
                    json!({"path": step.path, "content": step.content}),
                ),
                _ => Answer::call(
                    format!("{} is written.", step.path),
                    submit(),
                    json!({
                        "files_modified": [step.path],
                        "summary": format!("wrote {}", step.path),
                        "success": done(step),
                    }),
                ),
            }
        }
        Agent::Qa => {
            let step = step_in(request, "TASK")?;
            let verdict = if done(step) {
                json!({
                    "passed": true,
                    "feedback": format!("{} exists and meets the measurable outcome", step.path),
                    "failure_type": null,
                    "issues": [],
                })
            } else {
                json!({
                    "passed": false,
                    "feedback": format!("{} does not exist: write it", step.path),
                    "failure_type": "incomplete",
                    "issues": [format!("{} is missing", step.path)],
                })
            };
            let passed = verdict["passed"] == true;
            let said = if passed { "passes" } else { "fails" };
            Answer::call(format!("Checked {}: it {said}.", step.path), submit(), verdict)
        }
        Agent::Assessor => {
            let missing: Vec<String> = STEPS
                .iter()
                .filter(|s| !done(s))
                .map(|s| format!("{} is missing", s.path))
                .collect();
            let complete = missing.is_empty();
            let notes = if complete {
                "src/greet.rs defines greet with its test and README.md shows how to call it: the milestone and \
                 the remit are done"
            } else {
                "the milestone still lacks files"
            };
            Answer::call(
                format!("Assessment: {notes}."),
                submit(),
                json!({
                    "uncovered_gaps": missing,
                    "is_complete": complete,
                    "stability_check": true,
                    "milestone_complete": complete,
                    "assessment_notes": notes,
                    "correction_hint": null,
                    "escalate_to_scope": false,
                }),
            )
        }
        Agent::Supervisor => {
            let (text, review) = supervisor::review(request)?;
            Answer::call(text, submit(), review)
        }
        Agent::Report => Answer::text(report(workspace)),
        Agent::Summarizer => Answer::text(super::summarizer::answer(request)?),
        Agent::Other(_) => return Err("the demo's script has no part for it".to_owned()),
    })
}

/// The step whose path the `## <heading>` section of the agent's task message names: exactly
/// one must.
fn step_in(request: &ChatRequest, heading: &str) -> Result<&'static Step, String> {
    let task = task_message(request).ok_or("its request has no task message")?;
    let text = section(task, heading).ok_or_else(|| format!("its task message has no `## {heading}` section"))?;
    let named: Vec<&'static Step> = STEPS.iter().filter(|s| text.contains(s.path)).collect();
    match named.as_slice() {
        [step] => Ok(step),
        [] => Err(format!("its `## {heading}` section names none of the demo's files")),
        _ => Err(format!("its `## {heading}` section names several of the demo's files")),
    }
}

/// The agent's task message: the request's first user message.
pub(super) fn task_message(request: &ChatRequest) -> Option<&str> {
    request.messages.iter().find_map(|m| match m {
        ChatMessage::User { content } => Some(content.as_str()),
        _ => None,
    })
}

/// The text under the heading line `## <heading>` (or `## <heading> (...)`), up to the next
/// `## ` heading.
pub(super) fn section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let mut start = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let title = line.trim_end().strip_prefix("## ");
        match (start, title) {
            (None, Some(title)) if title == heading || title.starts_with(&format!("{heading} (")) => {
                start = Some(offset + line.len());
            }
            (Some(from), Some(_)) => return Some(&text[from..offset]),
            _ => {}
        }
        offset += line.len();
    }
    start.map(|from| &text[from..])
}

/// Whether the conversation already holds a result of the tool `name`.
fn has_result(request: &ChatRequest, name: &str) -> bool {
    request
        .messages
        .iter()
        .any(|m| matches!(m, ChatMessage::Tool { name: tool, .. } if tool == name))
}

//! What the fake servers answer, decided from each request's content alone: which agent sent
//! it (the `submit_*` tool it is offered), whether it is summarizer work (a phrase of the
//! summarizer's prompts), and where the agent stands (the done list, the plan's task number,
//! the id of the last tool call). Stateless, so the answers do not depend on the order in which
//! requests reach a server: in the "everything on the primary" layout the summarizer's
//! requests interleave with the agents' in an order that depends on timing.

use lemmings_testkit::{Completion, Recorded, Reply};
use serde_json::{Value, json};

/// A distinctive phrase of each prompt the summarizer role is sent: the status line to condense
/// (`status::condense`), the field to shorten (`normalise::rewrite_shorter`) and the
/// conversation to summarize (`summarize::prompt::summary_prompt`).
pub(crate) const SUMMARIZER_PHRASES: &[&str] = &[
    "Condense this status line to at most",
    "Rewrite the following in at most",
    "Context Extraction Assistant",
];

/// The user's request.
pub(crate) const REQUEST: &str = "Add the report modules that replace the legacy report code.";

/// The file the implementor reads over and over in its long conversation: `src/legacy_<i>.rs`
/// for `i` in `1..=LEGACY_FILES`, each [`LEGACY_LINES`] lines (read_file's default window).
pub(crate) const LEGACY_FILES: usize = 6;
const LEGACY_LINES: usize = 200;

/// Files read by the implementor of an ordinary task, and of the long task.
const READS: usize = 2;
pub(crate) const LONG_READS: usize = 12;

/// What the summarizer answers: a condensed status line, a shortened field, a summary.
const CONDENSED: &str = "planned the next report task";
const SHORTENED: &str = "feat: add a report module";
const SUMMARY: &str = "The implementor read the legacy report files src/legacy_1.rs to src/legacy_6.rs: \
    each builds rows by hand and formats them with fixed widths. Nothing was changed yet; the next step \
    is to have the coder create the new report module.";
/// Marks the supervisor's own summary, so a later supervision knows it has reviewed before.
const REVIEWED: &str = "(multimodel review)";

/// The run's shape: how many tasks the planner plans, and which one has the long implementor
/// conversation (the one the summarization middleware summarizes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Script {
    pub(crate) tasks: usize,
}

impl Script {
    /// The task whose implementor reads [`LONG_READS`] files: the middle one.
    fn long_task(self) -> usize {
        self.tasks.div_ceil(2)
    }

    /// The legacy files the workspace starts with: `(path, content)`.
    pub(crate) fn legacy_files() -> Vec<(String, String)> {
        (1..=LEGACY_FILES)
            .map(|i| {
                let lines: String = (1..=LEGACY_LINES)
                    .map(|j| format!("    row_{j}.push(format!(\"{{:>8}}\", legacy_{i}::cell({j})));\n"))
                    .collect();
                (
                    format!("src/legacy_{i}.rs"),
                    format!("//! Legacy report {i}.\n\npub fn build(rows: &mut Vec<Vec<String>>) {{\n{lines}}}\n"),
                )
            })
            .collect()
    }

    /// The primary's answer: the agent's next step, or summarizer work when the summarizer role
    /// shares the primary's server.
    pub(crate) fn primary(self, request: &Recorded) -> Reply {
        if is_summarizer_work(request) {
            return summarizer(request);
        }
        match request.agent().as_str() {
            "scope" => submit(request, "submit_scope", &scope()),
            "plan" => submit(request, "submit_plan", &self.plan(request)),
            "implementation" => self.implementor(request),
            "code_change" => coder(request),
            "qa" => submit(request, "submit_qa", &qa()),
            "assessment" => submit(request, "submit_assessment", &self.assessment(request)),
            "report" => answer(
                request,
                Completion::text("Added the report modules; QA passed each task."),
            ),
            "supervision" => supervisor(request),
            other => Reply::error(500, &format!("multimodel: no answer for a request from `{other}`")),
        }
    }

    /// The planner: the next task while fewer than `tasks` are completed, then the milestone is
    /// done; every active directive answered by id.
    fn plan(self, request: &Recorded) -> Value {
        let text = text(request);
        let done = completed(&text);
        if done >= self.tasks {
            return json!({"action": "milestone_done", "skip_reason": "every report module exists"});
        }
        let k = done + 1;
        let responses: Vec<Value> = directive_ids(&text)
            .into_iter()
            .map(|id| json!({"id": id, "response": format!("task {k} follows it in src/report_{k}.rs")}))
            .collect();
        json!({
            "action": "implement",
            // Long enough that the planner's status line is cut and sent to be condensed.
            "task_description": format!(
                "Create src/report_{k}.rs with a render function that formats the rows the way \
                 src/legacy_{k}.rs does today, and unit tests for empty and multi-row input"
            ),
            "measurable_outcome": format!("src/report_{k}.rs exists and defines render_{k}"),
            "implementation_plan": format!(
                "# Plan: task {k} of {tasks}\nOutcome: src/report_{k}.rs defines render_{k}\n## Changes\n\
                 ### Create `src/report_{k}.rs`\nWhat: `pub fn render_{k}(rows: &[u32]) -> String`, one \
                 right-aligned cell per row, as src/legacy_{k}.rs formats them\n## Check\n`cargo test report_{k}` passes",
                tasks = self.tasks
            ),
            "change_type": "feat",
            // Far over its 72 characters, so the normaliser asks the summarizer to shorten it.
            "task_summary": format!(
                "feat: add the report_{k} module with its render function, unit tests for empty and \
                 multi-row input, and the same right-aligned layout as the legacy report {k}"
            ),
            "carry_forward": [format!("report_{} after this one", k + 1)],
            "directive_responses": responses,
        })
    }

    /// The implementor: reads legacy files (many for the long task), hands the change to the
    /// coder, then submits. Where it stands comes from the id of the last tool call answered.
    fn implementor(self, request: &Recorded) -> Reply {
        let Some(k) = plan_task(&first_user(request)) else {
            return Reply::error(
                500,
                "multimodel: the implementor's task message names no `# Plan: task k`",
            );
        };
        let reads = if k == self.long_task() { LONG_READS } else { READS };
        let next = match last_tool_call_id(request) {
            None => 0,
            Some(id) if id.ends_with("-coder") => {
                let report = json!({
                    "files_modified": [format!("src/report_{k}.rs")],
                    "result_summary": format!("created src/report_{k}.rs through the coder"),
                    "issues_noticed": [],
                    "success": true,
                });
                return submit(request, "submit_implementation", &report);
            }
            Some(id) => id
                .rsplit('-')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .map_or(reads, |n| n + 1),
        };
        if next < reads {
            let path = format!("src/legacy_{}.rs", next % LEGACY_FILES + 1);
            return call(
                request,
                &format!("t{k}-read-{next}"),
                "read_file",
                &json!({ "path": path }),
            );
        }
        let query = format!("Create `src/report_{k}.rs` with `pub fn render_{k}` as the plan says.");
        call(request, &format!("t{k}-coder"), "coder", &json!({ "query": query }))
    }

    /// The assessor: the whole remit is complete once every task is.
    fn assessment(self, request: &Recorded) -> Value {
        let complete = completed(&text(request)) >= self.tasks;
        json!({
            "uncovered_gaps": [],
            "is_complete": complete,
            "stability_check": true,
            "milestone_complete": complete,
            "assessment_notes": "checked the report modules against the remit",
            "correction_hint": null,
            "escalate_to_scope": false,
        })
    }
}

/// The summarizer's answer to any of its three kinds of work.
pub(crate) fn summarizer(request: &Recorded) -> Reply {
    let text = text(request);
    let answer_text = if text.contains(SUMMARIZER_PHRASES[0]) {
        CONDENSED
    } else if text.contains(SUMMARIZER_PHRASES[1]) {
        SHORTENED
    } else {
        SUMMARY
    };
    answer(request, Completion::text(answer_text))
}

/// The supervisor: one directive at its first review, none after.
pub(crate) fn supervisor(request: &Recorded) -> Reply {
    let first = !text(request).contains(REVIEWED);
    let directives = if first {
        json!([{
            "kind": "cleanup",
            "priority": "normal",
            "description": "Share one right-align helper between the report modules instead of copying it",
            "rationale": "each legacy file repeats the same formatting code",
            "files": ["src/report_1.rs"],
        }])
    } else {
        json!([])
    };
    let summary = format!("the report modules follow the plan {REVIEWED}");
    submit(
        request,
        "submit_supervision",
        &json!({"directives": directives, "summary": summary}),
    )
}

/// The coder: writes the file its query names, then reports.
fn coder(request: &Recorded) -> Reply {
    let Some(k) = report_number(&first_user(request)) else {
        return Reply::error(500, "multimodel: the coder's query names no src/report_<k>.rs");
    };
    let path = format!("src/report_{k}.rs");
    if last_tool_call_id(request).is_some() {
        let report = json!({"files_modified": [path], "summary": "written", "success": true});
        return submit(request, "submit_code_change", &report);
    }
    let content = format!(
        "//! Report {k}.\n\npub fn render_{k}(rows: &[u32]) -> String {{\n    \
         rows.iter().map(|row| format!(\"{{row:>8}}\\n\")).collect()\n}}\n"
    );
    call(
        request,
        &format!("t{k}-write"),
        "write_file",
        &json!({"path": path, "content": content}),
    )
}

fn scope() -> Value {
    json!({
        "remit": "Replace the legacy report code with one report module per legacy file, each tested.",
        "explicit_needs": ["report modules"],
        "implied_needs": ["unit tests"],
        "milestones": [{"description": "The report modules exist and are tested", "sketch": "one module per task"}],
    })
}

fn qa() -> Value {
    json!({"passed": true, "feedback": "meets the outcome", "failure_type": null, "issues": []})
}

/// Whether `request` is summarizer work (a condensed status line, a shortened field, a summary).
pub(crate) fn is_summarizer_work(request: &Recorded) -> bool {
    let text = text(request);
    SUMMARIZER_PHRASES.iter().any(|phrase| text.contains(phrase))
}

/// A completion calling `submit`, the only tool an agent's last turn calls.
fn submit(request: &Recorded, name: &str, arguments: &Value) -> Reply {
    call(request, &format!("{name}-1"), name, arguments)
}

/// A completion calling one tool.
fn call(request: &Recorded, id: &str, name: &str, arguments: &Value) -> Reply {
    answer(
        request,
        Completion::text("").tool_call(id, name, &arguments.to_string()),
    )
}

/// `completion` with token counts that grow with the prompt (about four characters a token),
/// so the registry's usage reads like a real run's.
fn answer(request: &Recorded, completion: Completion) -> Reply {
    let prompt_tokens = request.body.to_string().len() as u64 / 4;
    Reply::completion(completion.usage(prompt_tokens, 60))
}

/// The request's messages (OpenAI and Ollama both send `messages`).
fn messages(request: &Recorded) -> &[Value] {
    request.body["messages"].as_array().map_or(&[], Vec::as_slice)
}

/// A message's text: a string, or the text parts of a list.
fn content(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Every message's text, joined.
fn text(request: &Recorded) -> String {
    messages(request).iter().map(content).collect::<Vec<_>>().join("\n")
}

/// The first user message: an agent's task message (pinned through summarization), or a
/// subagent's query.
fn first_user(request: &Recorded) -> String {
    messages(request)
        .iter()
        .find(|message| message["role"] == "user")
        .map(content)
        .unwrap_or_default()
}

/// The id of the tool call the last tool result answers (OpenAI's `tool_call_id`).
fn last_tool_call_id(request: &Recorded) -> Option<&str> {
    messages(request)
        .iter()
        .rev()
        .find(|message| message["role"] == "tool")
        .and_then(|message| message["tool_call_id"].as_str())
}

/// Completed tasks in a prompt's done list: `- [completed] task_…` lines, plus those rolled
/// into an `(earlier: N completed, …)` line.
fn completed(text: &str) -> usize {
    let listed = text.matches("- [completed] task_").count();
    let earlier: usize = text
        .match_indices("(earlier: ")
        .filter_map(|(at, found)| {
            let rest = &text[at + found.len()..];
            rest.split(' ').next()?.parse::<usize>().ok()
        })
        .sum();
    listed + earlier
}

/// The task number of the plan in an implementor's task message (`# Plan: task k of n`).
fn plan_task(text: &str) -> Option<usize> {
    let rest = &text[text.find("# Plan: task ")? + "# Plan: task ".len()..];
    rest.split(' ').next()?.parse().ok()
}

/// `k` of the first `src/report_<k>.rs` in `text`.
fn report_number(text: &str) -> Option<usize> {
    let rest = &text[text.find("src/report_")? + "src/report_".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The directive ids (`directive_001`) a prompt lists, each once, in order.
fn directive_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (at, found) in text.match_indices("directive_") {
        let digits: String = text[at + found.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let id = format!("directive_{digits}");
        if !digits.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

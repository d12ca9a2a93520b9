//! The demo's supervisor and the planner's answers to it: after the first task the supervisor
//! asks, once, that the README show the greeting `greet` returns; the planner answers that
//! directive in whichever round first shows it (the README's task, or the round after it).
//!
//! The supervisor runs beside the main path, so its directive may reach the planner before or
//! after the README's task is planned. Both are scripted, and both end the same way.

use lemmings_models::ChatRequest;
use serde_json::{Value, json};

use super::script::{section, task_message};

/// The one directive the demo's supervisor gives.
pub(super) const DIRECTIVE: &str = "Make README.md show the exact output of greet(\"Ada\"): \"Hello, Ada!\"";
/// Why it gives it.
const RATIONALE: &str = "The request asks for a README showing how to use greet; its output is the part users check";
/// The file the directive concerns, and the README task's path.
const README: &str = "README.md";

/// The supervisor's review: the directive when its prompt shows the README not done yet and
/// the directive neither given nor answered; no directive otherwise.
///
/// The decision reads the prompt alone, not the workspace's files: the supervisor reviews the
/// run as it was when it started, while the main path goes on writing files beside it, so a
/// decision from the files would depend on which of the two got there first.
pub(super) fn review(request: &ChatRequest) -> Result<(String, Value), String> {
    let task = task_message(request).ok_or("its request has no task message")?;
    let pending = section(task, "PENDING DIRECTIVES").unwrap_or_default();
    let events = section(task, "RECENT EVENTS").unwrap_or_default();
    let done = section(task, "DONE").unwrap_or_default();
    let given = pending.contains(DIRECTIVE) || events.lines().any(gives_directives);
    let readme_done = done
        .lines()
        .any(|line| line.starts_with("- [completed]") && line.contains(README));
    Ok(if given || readme_done {
        let why = if readme_done {
            "README.md is written"
        } else {
            "my directive on README.md is already given"
        };
        (
            format!("The work is on track ({why}): no directive."),
            json!({"directives": [], "summary": format!("On track; {why}.")}),
        )
    } else {
        (
            "src/greet.rs is done; the README should show what greet returns. One directive.".to_owned(),
            json!({
                "directives": [{
                    "kind": "functional",
                    "priority": "normal",
                    "description": DIRECTIVE,
                    "rationale": RATIONALE,
                    "files": [README],
                }],
                "summary": "src/greet.rs defines greet with its test; README.md is still to come and should show \
                            the exact greeting greet returns.",
            }),
        )
    })
}

/// Whether a trace line says the supervisor gave a directive or the planner answered one.
fn gives_directives(line: &str) -> bool {
    let given = line
        .strip_prefix("supervisor: ")
        .is_some_and(|rest| !rest.starts_with("0 directive") && rest.contains(" directive(s)"));
    given || line.contains("answered directive_")
}

/// The id of the demo's directive when the planner's prompt does not show it: the first in the
/// mailbox, as the supervisor gives no other.
const FIRST_ID: &str = "directive_001";

/// The planner's `directive_responses`: the demo's directive answered when its prompt shows it
/// in force, by the README's task (`readme_planned`) or as already done by it.
pub(super) fn responses(request: &ChatRequest, readme_planned: bool) -> Vec<Value> {
    let Some(active) = task_message(request).and_then(|task| section(task, "ACTIVE DIRECTIVES")) else {
        return Vec::new();
    };
    let response = if readme_planned {
        "this task writes README.md with that exact output"
    } else {
        "done: the README.md task already shows that output"
    };
    active
        .lines()
        .filter(|line| line.contains(DIRECTIVE))
        // The ACTIVE DIRECTIVES lines (`- [normal functional] description (files: …) — why`)
        // do not name the directive's id; the id is taken from the line when it names one.
        .map(|line| directive_id(line).unwrap_or(FIRST_ID))
        .map(|id| json!({"id": id, "response": response}))
        .collect()
}

/// The directive id (`directive_001`) a line names.
fn directive_id(line: &str) -> Option<&str> {
    const PREFIX: &str = "directive_";
    let at = line.find(PREFIX)?;
    let rest = &line[at..];
    let digits = rest[PREFIX.len()..].chars().take_while(char::is_ascii_digit).count();
    (digits > 0).then(|| &rest[..PREFIX.len() + digits])
}

#[cfg(test)]
mod tests {
    use lemmings_models::ChatMessage;

    use super::*;
    use crate::demo::script::Agent;

    fn ask(task: &str) -> ChatRequest {
        ChatRequest::new(vec![ChatMessage::system("You supervise."), ChatMessage::user(task)])
    }

    /// The directives the supervisor gives for `task`.
    fn given(task: &str) -> Vec<Value> {
        let (_, output) = review(&ask(task)).expect("the supervisor answers");
        output["directives"].as_array().cloned().unwrap_or_default()
    }

    #[test]
    fn the_supervisor_gives_its_directive_once_before_the_readme_is_done() {
        let first = "## DONE (latest last)\n- [completed] task_001: Create src/greet.rs → done\n\n\
                     ## RECENT EVENTS\nmark_complete: task_001\nsupervisor: 0 directive(s) (0 critical), 0 dropped\n\n\
                     ## PENDING DIRECTIVES (already given)\n(none)\n";
        let directives = given(first);
        assert_eq!(directives.len(), 1, "{directives:?}");
        assert_eq!(directives[0]["description"], DIRECTIVE);
        assert_eq!(directives[0]["files"], json!(["README.md"]));

        let pending = format!("## PENDING DIRECTIVES (already given)\n- [normal functional] {DIRECTIVE}\n");
        let issued = "## RECENT EVENTS\nsupervisor: 1 directive(s) (0 critical), 0 dropped\n";
        let answered =
            "## RECENT EVENTS\ntask_planner: milestone_done (round 3); directives: answered directive_001: done\n";
        let readme = "## DONE (latest last)\n- [completed] task_002: Write README.md → created README.md\n";
        for task in [pending.as_str(), issued, answered, readme] {
            assert_eq!(given(task), Vec::<Value>::new(), "{task}");
        }
    }

    #[test]
    fn the_planner_answers_the_directive_it_is_shown() {
        let shown = format!(
            "## ACTIVE DIRECTIVES (each MUST be addressed)\n- [normal functional] {DIRECTIVE} (files: README.md)\n\n\
             ## INSTRUCTIONS\nPlan."
        );
        let answers = responses(&ask(&shown), true);
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(answers[0]["id"], "directive_001");
        assert!(answers[0]["response"].as_str().unwrap().starts_with("this task"));
        let named = shown.replace("- [normal", "- directive_012 [normal");
        assert_eq!(responses(&ask(&named), false)[0]["id"], "directive_012");
        assert!(responses(&ask("## ACTIVE DIRECTIVES\n(none)\n"), true).is_empty());
        assert!(responses(&ask("## DONE\n(none)\n"), true).is_empty());
    }

    /// The planner's whole answer in both orders: the directive shown while the README is still
    /// to write (its task answers it) and shown only once it is written (answered as done).
    #[test]
    fn the_planner_answers_the_directive_in_either_order() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let prompt = format!(
            "## DONE (this milestone, latest last)\n- [completed] task_001: Create src/greet.rs\n\n\
             ## ACTIVE DIRECTIVES (each MUST be addressed)\n- [normal functional] {DIRECTIVE} (files: README.md)\n"
        );
        let request = ChatRequest {
            tools: vec![lemmings_models::ToolSpec {
                name: "submit_plan".to_owned(),
                description: "Submit the plan".to_owned(),
                parameters: json!({"type": "object"}),
            }],
            ..ask(&prompt)
        };
        let plan = |expected: &str| {
            let agent = Agent::of(&request);
            assert_eq!(agent, Agent::Planner);
            let answer = super::super::script::answer(&agent, &request, dir.path()).expect("the planner answers");
            let (tool, plan) = answer.call.expect("a plan");
            assert_eq!(tool, "submit_plan");
            assert_eq!(plan["action"], expected, "{plan}");
            let [response] = plan["directive_responses"].as_array().expect("responses").as_slice() else {
                panic!("one response: {plan}");
            };
            assert_eq!(response["id"], "directive_001");
            (plan["task_summary"].clone(), response["response"].clone())
        };
        std::fs::create_dir(dir.path().join("src")).expect("src");
        std::fs::write(dir.path().join("src/greet.rs"), "").expect("greet.rs");
        let (summary, response) = plan("implement");
        assert_eq!(summary, "docs: show how to call greet in README.md");
        assert_eq!(response, "this task writes README.md with that exact output");
        std::fs::write(dir.path().join("README.md"), "").expect("README.md");
        let (_, response) = plan("milestone_done");
        assert_eq!(response, "done: the README.md task already shows that output");
    }
}

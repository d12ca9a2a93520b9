//! Tests of the summarization middleware with a scripted summarizer.

use std::collections::HashSet;
use std::sync::Arc;

use expect_test::expect;
use lemmings_models::{ChatMessage, ModelErrorKind, ToolCall};
use lemmings_testkit::ScriptedModel;
use serde_json::{Value, json};

use super::*;

fn view(messages: &[AgentMessage], context_tokens: Option<u64>) -> AgentView<'_> {
    AgentView {
        agent: "implementor",
        messages,
        model_calls: 7,
        tool_calls: 6,
        context_tokens,
    }
}

fn middleware(model: &Arc<ScriptedModel>, config: SummarizationConfig) -> SummarizationMiddleware {
    SummarizationMiddleware::new(model.clone(), config)
}

fn call(id: &str, name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments,
    }
}

fn assistant(content: &str, calls: Vec<ToolCall>) -> AgentMessage {
    AgentMessage::new(ChatMessage::Assistant {
        content: content.to_owned(),
        tool_calls: calls,
    })
}

fn result(id: &str, name: &str, content: &str) -> AgentMessage {
    AgentMessage::new(ChatMessage::tool(id, name, content))
}

/// Gives every message an id, as the loop's reducer does.
fn with_ids(messages: Vec<AgentMessage>) -> Vec<AgentMessage> {
    messages
        .into_iter()
        .enumerate()
        .map(|(at, message)| message.with_id(format!("m{at}")))
        .collect()
}

/// A task, then `pairs` assistant-call / tool-result pairs alternating a file read (a long
/// output) and a file write (long arguments), as the implementor produces them.
fn implementor_conversation(pairs: usize) -> Vec<AgentMessage> {
    let mut messages = vec![AgentMessage::task(
        "Implement the plan: add a `--json` flag to the report command.",
    )];
    for at in 1..=pairs {
        let id = format!("call_{at}");
        let path = format!("src/module_{at}.rs");
        let thought = format!(
            "Step {at}: looking at {path} to see how the report is built. {}",
            "ok ".repeat(40)
        );
        if at % 2 == 1 {
            let output: String = (1..=60)
                .map(|line| format!("{line:4}| let value_{line} = compute({line});\n"))
                .collect();
            messages.push(assistant(&thought, vec![call(&id, "read_file", json!({"path": path}))]));
            messages.push(result(&id, "read_file", &output));
        } else {
            let content = "fn report() {}\n".repeat(100);
            messages.push(assistant(
                &thought,
                vec![call(&id, "write_file", json!({"path": path, "content": content}))],
            ));
            messages.push(result(&id, "write_file", &format!("wrote 100 lines to {path}")));
        }
    }
    with_ids(messages)
}

/// Every tool result answers a call issued earlier, and every call is answered.
fn assert_pairs_intact(messages: &[AgentMessage]) {
    let mut issued = HashSet::new();
    let mut answered = HashSet::new();
    for (at, message) in messages.iter().enumerate() {
        if let Some(call) = message.answers() {
            assert!(
                issued.contains(call),
                "message {at} answers `{call}`, which no earlier message issued"
            );
            answered.insert(call.to_owned());
        }
        issued.extend(message.tool_call_ids().into_iter().map(str::to_owned));
    }
    assert_eq!(issued, answered, "every call has its result");
    assert!(messages.first().and_then(AgentMessage::answers).is_none());
}

const SUMMARY: &str = "## SESSION INTENT\nAdd a --json flag.\n\n## SUMMARY\nRead and rewrote the modules.\n\n\
                       ## ARTIFACTS\nsrc/module_2.rs\n\n## NEXT STEPS\nWire the flag.";

#[tokio::test]
async fn under_the_trigger_nothing_happens() {
    let model = Arc::new(ScriptedModel::new("summarizer"));
    let messages = implementor_conversation(4);
    let tokens = estimate_tokens(&messages);
    let config = SummarizationConfig {
        trigger_tokens: Some(tokens + 1),
        ..SummarizationConfig::default()
    };
    let rewrite = middleware(&model, config)
        .before_model(view(&messages, None))
        .await
        .unwrap();
    assert_eq!(rewrite, None);
    assert_eq!(model.calls(), 0);
}

#[tokio::test]
async fn pruning_old_tool_outputs_can_be_enough() {
    let model = Arc::new(ScriptedModel::new("summarizer"));
    let output = "x = 1\n".repeat(300);
    let mut messages = vec![AgentMessage::task("read everything")];
    for at in 1..=8 {
        let id = format!("c{at}");
        let path = format!("src/f{at}.rs");
        messages.push(assistant("", vec![call(&id, "read_file", json!({ "path": path }))]));
        messages.push(result(&id, "read_file", &output));
    }
    let messages = with_ids(messages);
    let config = SummarizationConfig {
        trigger_tokens: Some(3_000),
        keep_messages: 4,
        keep_tool_outputs: 1,
        ..SummarizationConfig::default()
    };
    let rewrite = middleware(&model, config)
        .before_model(view(&messages, None))
        .await
        .unwrap()
        .unwrap();
    expect!["pruned 6 old tool outputs (3784 → 1216 tokens)"].assert_eq(&rewrite.note);
    assert_eq!(model.calls(), 0);
    assert_eq!(rewrite.messages.len(), messages.len());
    let ids = |list: &[AgentMessage]| list.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&rewrite.messages), ids(&messages));
    expect!["[output of read_file pruned to save context: 300 lines; call the tool again if you need it]"]
        .assert_eq(rewrite.messages[2].content());
    assert_eq!(rewrite.messages[13..], messages[13..], "the tail is untouched");
    assert_pairs_intact(&rewrite.messages);
}

#[tokio::test]
async fn a_long_implementor_conversation_is_summarized() {
    let model = Arc::new(ScriptedModel::new("summarizer").text(SUMMARY));
    let messages = implementor_conversation(32);
    let config = SummarizationConfig {
        trigger_tokens: Some(6_000),
        ..SummarizationConfig::default()
    };
    assert!(estimate_tokens(&messages) > 6_000);
    let rewrite = middleware(&model, config)
        .before_model(view(&messages, None))
        .await
        .unwrap()
        .unwrap();
    expect!["summarized 54 messages into 1 (65 → 12 messages, 16951 → 2672 tokens)"].assert_eq(&rewrite.note);
    let out = &rewrite.messages;
    assert_eq!(out[0], messages[0], "the task stays first, with its id");
    assert_eq!(out[1].kind, MessageKind::Summary);
    assert_eq!(out[1].id, None, "new messages get their id from the loop");
    assert_eq!(out[1].content(), format!("{SUMMARY_PREFIX}{SUMMARY}"));
    assert_eq!(
        out[2..],
        messages[messages.len() - 10..],
        "the last 10 are kept verbatim"
    );
    assert_pairs_intact(out);
    assert_eq!(model.calls(), 1);

    let prompt = model.requests()[0].messages[0].content().to_owned();
    for section in ["## SESSION INTENT", "## SUMMARY", "## ARTIFACTS", "## NEXT STEPS"] {
        assert!(prompt.contains(section), "{section}");
    }
    assert!(
        prompt.contains("Implement the plan: add a `--json` flag"),
        "the task is given for context"
    );
    assert!(
        prompt.ends_with(" more characters]\n</messages>"),
        "the last summarized message is a clipped read"
    );
    let rendered = prompt.split("<messages>\n").nth(1).unwrap_or_default();
    assert!(rendered.contains(" earlier messages left out]\n\n[…] "), "{rendered}");
    assert!(rendered.contains(r#"{"path":"src/module_26.rs","content":"fn report() {}\nfn"#));
    assert!(
        !rendered.contains(&"fn report() {}\\n".repeat(60)),
        "long arguments are clipped"
    );
    let chars = rendered.chars().count();
    assert!(
        (15_900..=16_100).contains(&chars),
        "about the last 4,000 tokens are sent: {chars} characters"
    );
}

#[tokio::test]
async fn summaries_of_summaries_include_the_earlier_summary() {
    let model = Arc::new(ScriptedModel::new("summarizer").text("second").text("third"));
    let config = SummarizationConfig {
        trigger_tokens: Some(3_000),
        keep_messages: 4,
        ..SummarizationConfig::default()
    };
    let summarizer = middleware(&model, config);
    let messages = implementor_conversation(12);
    let first = summarizer.before_model(view(&messages, None)).await.unwrap().unwrap();
    let mut grown = first.messages;
    grown.extend(implementor_conversation(12).into_iter().skip(1));
    let second = summarizer.before_model(view(&grown, None)).await.unwrap().unwrap();
    assert_eq!(second.messages[0].kind, MessageKind::Task);
    assert_eq!(second.messages[1].content(), format!("{SUMMARY_PREFIX}third"));
    let prompt = model.requests()[1].messages[0].content().to_owned();
    assert!(prompt.contains("[earlier summary] Here is a summary of the conversation to date:\n\nsecond"));
    assert_pairs_intact(&second.messages);
}

#[tokio::test]
async fn a_cutoff_on_parallel_results_keeps_the_whole_call() {
    let model = Arc::new(ScriptedModel::new("summarizer").text("summary"));
    let messages = with_ids(vec![
        AgentMessage::task("look around"),
        assistant("first I list", vec![call("c0", "list_dir", json!({"path": "."}))]),
        result("c0", "list_dir", "src/ tests/"),
        assistant(
            "",
            vec![
                call("c1", "read_file", json!({"path": "a.rs"})),
                call("c2", "read_file", json!({"path": "b.rs"})),
                call("c3", "read_file", json!({"path": "c.rs"})),
            ],
        ),
        result("c1", "read_file", "a"),
        result("c2", "read_file", "b"),
        result("c3", "read_file", "c"),
    ]);
    // keep 2: the cutoff lands on c2's result, and moves back before the assistant message.
    let config = SummarizationConfig {
        trigger_tokens: Some(1),
        keep_messages: 2,
        ..SummarizationConfig::default()
    };
    let rewrite = middleware(&model, config)
        .before_model(view(&messages, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rewrite.messages[2..], messages[3..]);
    assert_eq!(rewrite.messages.len(), 6);
    assert_pairs_intact(&rewrite.messages);
}

#[tokio::test]
async fn the_summarizer_request_holds_the_sections_and_the_rendered_messages() {
    let model = Arc::new(ScriptedModel::new("summarizer").text("summary"));
    let messages = with_ids(vec![
        AgentMessage::task("Fix the off-by-one in `count_lines`."),
        assistant(
            "Reading the file.",
            vec![call("c1", "read_file", json!({"path": "src/lib.rs"}))],
        ),
        result(
            "c1",
            "read_file",
            "1| fn count_lines(s: &str) -> usize { s.lines().count() + 1 }",
        ),
        assistant(
            "",
            vec![call(
                "c2",
                "edit_file",
                json!({"path": "src/lib.rs", "old": "count() + 1", "new": "count()"}),
            )],
        ),
        result("c2", "edit_file", "edited src/lib.rs (1 replacement)"),
        assistant(
            "Now the tests.",
            vec![call("c3", "run_command", json!({"command": "cargo test"}))],
        ),
        result("c3", "run_command", "test result: ok. 4 passed"),
    ]);
    let config = SummarizationConfig {
        trigger_tokens: Some(1),
        keep_messages: 2,
        ..SummarizationConfig::default()
    };
    middleware(&model, config)
        .before_model(view(&messages, None))
        .await
        .unwrap()
        .unwrap();
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].messages.len(), 1);
    expect![[r#"
        <role>
        Context Extraction Assistant
        </role>

        <primary_objective>
        Extract the most relevant context from the conversation history below, so that the agent can keep working on its task without it.
        </primary_objective>

        <instructions>
        The agent is nearing the limit of its context window. The messages below will be replaced by the context you extract, so keep only what matters for finishing the task and for not repeating actions already completed. The task itself stays in the conversation: do not copy it, only state the intent.

        Structure your answer in these sections. Each one is a checklist: fill it in, or write "None" when there is nothing to report.

        ## SESSION INTENT
        The overall goal of the session, in one or two sentences.

        ## SUMMARY
        The important context: what was found, what was decided and why, what was tried and rejected and why, errors met and how they were resolved.

        ## ARTIFACTS
        The files created, modified or read, each with its path and a short description of the change or of what was learnt from it.

        ## NEXT STEPS
        What remains to be done to finish the task, in order.
        </instructions>

        <task>
        Fix the off-by-one in `count_lines`.
        </task>

        <files_named_in_tool_calls>
        src/lib.rs
        </files_named_in_tool_calls>

        Respond ONLY with the extracted context: no text before or after it.

        <messages>
        [assistant] Reading the file.
        [assistant calls read_file] {"path":"src/lib.rs"}

        [read_file result] 1| fn count_lines(s: &str) -> usize { s.lines().count() + 1 }

        [assistant calls edit_file] {"path":"src/lib.rs","old":"count() + 1","new":"count()"}

        [edit_file result] edited src/lib.rs (1 replacement)
        </messages>"#]]
    .assert_eq(requests[0].messages[0].content());
}

#[tokio::test]
async fn a_failing_summarizer_degrades_to_a_notice() {
    let model = Arc::new(ScriptedModel::new("summarizer").fail(ModelErrorKind::Timeout, "no answer within 60 s"));
    let messages = implementor_conversation(32);
    let config = SummarizationConfig {
        trigger_tokens: Some(6_000),
        ..SummarizationConfig::default()
    };
    let rewrite = middleware(&model, config)
        .before_model(view(&messages, None))
        .await
        .unwrap()
        .unwrap();
    expect!["dropped 54 messages, the summarizer being unavailable (65 → 12 messages, 16951 → 2775 tokens)"]
        .assert_eq(&rewrite.note);
    let out = &rewrite.messages;
    assert_eq!(out[0], messages[0]);
    assert_eq!((out[1].kind, out[1].id.clone()), (MessageKind::Notice, None));
    expect!["54 earlier messages of this conversation were dropped to fit the context window: the summarizer was unavailable, so they could not be summarized. Files touched in them: src/module_1.rs, src/module_2.rs, src/module_3.rs, src/module_4.rs, src/module_5.rs, src/module_6.rs, src/module_7.rs, src/module_8.rs, src/module_9.rs, src/module_10.rs, src/module_11.rs, src/module_12.rs, src/module_13.rs, src/module_14.rs, src/module_15.rs, src/module_16.rs, src/module_17.rs, src/module_18.rs, src/module_19.rs, src/module_20.rs, +7 more. Read again what you need, and check the files before redoing any work."]
        .assert_eq(out[1].content());
    assert_eq!(out[2..], messages[messages.len() - 10..]);
    assert_pairs_intact(out);
}

#[tokio::test]
async fn a_failing_summarizer_keeps_earlier_summaries() {
    let model = Arc::new(ScriptedModel::new("summarizer").fail(ModelErrorKind::Server, "HTTP 503"));
    let mut messages = implementor_conversation(12);
    messages.insert(
        1,
        AgentMessage::summary(format!("{SUMMARY_PREFIX}{SUMMARY}")).with_id("s1"),
    );
    let config = SummarizationConfig {
        trigger_tokens: Some(3_000),
        keep_messages: 4,
        ..SummarizationConfig::default()
    };
    let rewrite = middleware(&model, config)
        .before_model(view(&messages, None))
        .await
        .unwrap()
        .unwrap();
    expect!["dropped 20 messages, the summarizer being unavailable (26 → 7 messages, 6412 → 1237 tokens)"]
        .assert_eq(&rewrite.note);
    let kinds: Vec<MessageKind> = rewrite.messages.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds[..3],
        [MessageKind::Task, MessageKind::Summary, MessageKind::Notice]
    );
    assert_eq!(rewrite.messages[1], messages[1]);
    assert!(rewrite.messages[2].content().starts_with("20 earlier messages"));
    assert_pairs_intact(&rewrite.messages);
}

#[tokio::test]
async fn thinking_is_stripped_from_the_summary_and_an_empty_answer_degrades() {
    let model = Arc::new(
        ScriptedModel::new("summarizer")
            .text("<think>\nWhat matters here?\n</think>\n\n## SESSION INTENT\nFix the bug.")
            .text("<think>only thoughts</think>"),
    );
    let messages = implementor_conversation(32);
    let config = SummarizationConfig {
        trigger_tokens: Some(6_000),
        ..SummarizationConfig::default()
    };
    let summarizer = middleware(&model, config);
    let rewrite = summarizer.before_model(view(&messages, None)).await.unwrap().unwrap();
    assert_eq!(
        rewrite.messages[1].content(),
        format!("{SUMMARY_PREFIX}## SESSION INTENT\nFix the bug.")
    );
    let rewrite = summarizer.before_model(view(&messages, None)).await.unwrap().unwrap();
    assert_eq!(rewrite.messages[1].kind, MessageKind::Notice);
}

#[tokio::test]
async fn the_trigger_is_a_fraction_of_the_context_window() {
    let messages = implementor_conversation(8);
    let tokens = estimate_tokens(&messages);
    // 0.75 × context: just over the trigger, then just under it.
    let over = (tokens as f64 / 0.75) as u64 - 10;
    let under = (tokens as f64 / 0.75) as u64 + 10;
    let model = Arc::new(ScriptedModel::new("summarizer").default_text("summary"));
    let summarizer = middleware(&model, SummarizationConfig::default());
    assert!(
        summarizer
            .before_model(view(&messages, Some(over)))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        summarizer.before_model(view(&messages, Some(under))).await.unwrap(),
        None
    );
}

#[test]
fn the_trigger_is_explicit_a_fraction_or_the_default() {
    let config = SummarizationConfig::default();
    assert_eq!(config.trigger(Some(40_000)), 30_000);
    assert_eq!(config.trigger(None), DEFAULT_TRIGGER_TOKENS);
    let explicit = SummarizationConfig {
        trigger_tokens: Some(12_000),
        ..SummarizationConfig::default()
    };
    assert_eq!(explicit.trigger(Some(40_000)), 12_000);
    let half = SummarizationConfig {
        trigger_fraction: 0.5,
        ..SummarizationConfig::default()
    };
    assert_eq!(half.trigger(Some(32_768)), 16_384);
    let invalid = SummarizationConfig {
        trigger_fraction: 7.0,
        ..SummarizationConfig::default()
    };
    assert_eq!(invalid.trigger(Some(40_000)), 30_000);
}

#[test]
fn a_partial_config_table_takes_the_defaults() {
    let config: SummarizationConfig = toml::from_str("keep_messages = 6").unwrap();
    assert_eq!(
        config,
        SummarizationConfig {
            keep_messages: 6,
            ..SummarizationConfig::default()
        }
    );
}

//! The summarization middleware inside a real agent loop: a long implementor conversation is
//! summarized by the summarizer role without splitting a tool call from its result, the task
//! stays first, and when the summarizer's server is down the registry's fallback hands the
//! summary to the primary.

use std::collections::BTreeSet;
use std::sync::Arc;

use lemmings_agents::agent::{Agent, AgentState, AgentStateUpdate, Stop};
use lemmings_agents::summarize::{SummarizationConfig, SummarizationMiddleware};
use lemmings_agents::{AgentMessage, MessageKind};
use lemmings_graph::RunConfig;
use lemmings_models::config::LlmConfig;
use lemmings_models::{ChatMessage, ChatModel, LlmRegistry, ModelErrorKind};
use lemmings_testkit::ScriptedModel;
use lemmings_tools::Tool;
use serde_json::json;

const CONFIG: &str = r#"
[llm.primary]
provider = "openai_compatible"
model = "big"
base_url = "http://127.0.0.1:5000/v1"
context_tokens = 2000
max_attempts = 1

[llm.summarizer]
provider = "ollama"
model = "small"
base_url = "http://127.0.0.1:11434"
max_attempts = 1
"#;

/// The implementor reads 12 files (long outputs, two of them in one turn), then answers.
/// Each turn also explains itself at length, so pruning old tool outputs is not enough.
fn implementor_script(primary: &ScriptedModel) {
    let turn = |n: usize, calls: Vec<&str>| lemmings_models::ChatResponse {
        content: format!(
            "Turn {n}: reading the next module to see how it is wired. {}",
            "why ".repeat(200)
        ),
        tool_calls: calls
            .into_iter()
            .enumerate()
            .map(|(i, path)| lemmings_models::ToolCall {
                id: format!("c{n}_{i}"),
                name: "read_file".to_owned(),
                arguments: json!({"path": path}),
            })
            .collect(),
        finish: lemmings_models::FinishReason::ToolCalls,
        ..Default::default()
    };
    let paths: Vec<String> = (0..10).map(|n| format!("src/m{n}.rs")).collect();
    for (n, path) in paths.iter().enumerate() {
        primary.push_respond(turn(n, vec![path]));
    }
    primary.push_respond(turn(10, vec!["src/a.rs", "src/b.rs"]));
    primary.push_text("Implemented.");
}

/// A read_file stand-in returning 600 characters.
fn reader() -> Arc<dyn Tool> {
    #[derive(Debug)]
    struct Reader;
    #[async_trait::async_trait]
    impl Tool for Reader {
        fn name(&self) -> &str {
            "read_file"
        }
        fn description(&self) -> String {
            "reads a file".to_owned()
        }
        fn parameters(&self) -> serde_json::Value {
            json!({"type": "object", "properties": {"path": {"type": "string"}}})
        }
        fn has_side_effects(&self) -> bool {
            false
        }
        async fn call(
            &self,
            arguments: serde_json::Value,
            _context: &lemmings_tools::CallContext,
        ) -> lemmings_tools::ToolOutput {
            let path = arguments["path"].as_str().unwrap_or("?").to_owned();
            lemmings_tools::ToolOutput::ok(format!("{path}:\n{}", "fn body() {}\n".repeat(50)))
        }
    }
    Arc::new(Reader)
}

async fn run_implementor(registry: &LlmRegistry) -> AgentState {
    let primary = registry.get("primary").expect("primary");
    let summarizer = registry.get("summarizer").expect("summarizer");
    let agent = Agent::new("implementor", primary)
        .with_context_tokens(Some(2000))
        .with_tools([reader()])
        .with_middleware(Arc::new(SummarizationMiddleware::new(
            summarizer,
            SummarizationConfig {
                keep_messages: 6,
                keep_tool_outputs: 2,
                ..SummarizationConfig::default()
            },
        )));
    let graph = agent.graph().expect("compiles");
    let input = AgentStateUpdate::default().messages(vec![AgentMessage::task("PLAN: change every module").into()]);
    graph.invoke(input, &RunConfig::default()).await.expect("runs").value
}

/// Every tool result answers a call made earlier in the conversation, and the task is first.
fn assert_well_formed(state: &AgentState) {
    assert_eq!(state.messages[0].kind, MessageKind::Task);
    assert_eq!(state.messages[0].content(), "PLAN: change every module");
    let mut issued = BTreeSet::new();
    for message in &state.messages {
        issued.extend(message.tool_call_ids().into_iter().map(str::to_owned));
        if let Some(call) = message.answers() {
            assert!(
                issued.contains(call),
                "result of {call} without its call: {:#?}",
                state.messages
            );
        }
    }
}

fn registry(primary: Arc<ScriptedModel>, summarizer: Arc<ScriptedModel>) -> LlmRegistry {
    let config = LlmConfig::parse(CONFIG, "test.toml", &|_| None).expect("config");
    LlmRegistry::with_models(&config, |role| {
        Ok(match role.name.as_str() {
            "primary" => primary.clone() as Arc<dyn ChatModel>,
            _ => summarizer.clone() as Arc<dyn ChatModel>,
        })
    })
    .expect("registry")
}

#[tokio::test]
async fn a_long_implementor_conversation_is_summarized_by_the_summarizer() {
    let primary = Arc::new(ScriptedModel::new("primary"));
    implementor_script(&primary);
    let summarizer = Arc::new(ScriptedModel::new("summarizer").fallback_to(|_| {
        Ok(lemmings_models::ChatResponse {
            content: "## SESSION INTENT\nchange every module\n## SUMMARY\nread modules".to_owned(),
            ..Default::default()
        })
    }));
    let state = run_implementor(&registry(primary.clone(), summarizer.clone())).await;

    assert_eq!(state.stop, Some(Stop::Answered));
    assert_well_formed(&state);
    assert!(summarizer.calls() >= 1, "the summarizer wrote the summary");
    assert!(
        state
            .messages
            .iter()
            .any(|m| m.kind == MessageKind::Summary && m.content().contains("read modules")),
        "the summary is in the conversation"
    );
    assert!(
        state.notes.iter().any(|note| note.starts_with("summarization: ")),
        "{:?}",
        state.notes
    );
    // What the primary was sent after a summary is smaller than what it would have been.
    let last = primary.requests().last().cloned().expect("requests");
    assert!(
        last.messages.len() < 2 + 2 * 12,
        "{} messages sent",
        last.messages.len()
    );
    assert!(matches!(&last.messages[0], ChatMessage::User { content } if content == "PLAN: change every module"));
}

#[tokio::test]
async fn with_the_summarizer_down_the_primary_writes_the_summary() {
    let primary = Arc::new(ScriptedModel::new("primary"));
    let summarizer = Arc::new(ScriptedModel::new("summarizer").fallback_to(|_| {
        Err(lemmings_models::ModelError::new(
            ModelErrorKind::Connect,
            &ScriptedModel::new("summarizer").info(),
            "connection refused",
        ))
    }));
    // The primary answers the implementor's turns from its queue, and any summary request
    // (recognised by its prompt) with a summary.
    implementor_script(&primary);
    let routed = Arc::new(RoutedPrimary {
        turns: primary.clone(),
        summaries: Arc::new(ScriptedModel::new("primary").fallback_to(|_| {
            Ok(lemmings_models::ChatResponse {
                content: "## SUMMARY\nwritten by the primary".to_owned(),
                ..Default::default()
            })
        })),
    });
    let config = LlmConfig::parse(CONFIG, "test.toml", &|_| None).expect("config");
    let registry = LlmRegistry::with_models(&config, |role| {
        Ok(match role.name.as_str() {
            "primary" => routed.clone() as Arc<dyn ChatModel>,
            _ => summarizer.clone() as Arc<dyn ChatModel>,
        })
    })
    .expect("registry");
    let state = run_implementor(&registry).await;

    assert_eq!(state.stop, Some(Stop::Answered));
    assert_well_formed(&state);
    assert!(summarizer.calls() >= 1, "the summarizer was tried");
    assert!(routed.summaries.calls() >= 1, "the primary wrote the summary");
    assert!(
        state
            .messages
            .iter()
            .any(|m| m.kind == MessageKind::Summary && m.content().contains("written by the primary")),
        "{:#?}",
        state.messages
    );
}

/// The primary's server: summary requests (the summarizer's prompt) go to one script, the
/// implementor's turns to another, so each can be asserted on.
#[derive(Debug)]
struct RoutedPrimary {
    turns: Arc<ScriptedModel>,
    summaries: Arc<ScriptedModel>,
}

#[async_trait::async_trait]
impl ChatModel for RoutedPrimary {
    async fn chat(
        &self,
        request: lemmings_models::ChatRequest,
        sink: Option<lemmings_models::TokenSink>,
    ) -> Result<lemmings_models::ChatResponse, lemmings_models::ModelError> {
        let is_summary =
            request.tools.is_empty() && request.messages.iter().any(|m| m.content().contains("SESSION INTENT"));
        if is_summary {
            self.summaries.chat(request, sink).await
        } else {
            self.turns.chat(request, sink).await
        }
    }

    fn info(&self) -> lemmings_models::ModelInfo {
        self.turns.info()
    }
}

//! A model's tokens reach the graph's message stream: a node passes the model a sink that
//! forwards each event to `Ctx::emit_message`, so a `StreamMode::Messages` consumer sees the
//! tokens as they arrive, tagged with the node and step, over real HTTP as with the scripted
//! model.

use std::sync::Arc;

use futures::StreamExt;
use lemmings_graph::{Ctx, EventData, NodeError, RunConfig, RunInput, START, State, StateGraph, StreamMode};
use lemmings_models::config::LlmConfig;
use lemmings_models::{ChatMessage, ChatModel, ChatRequest, LlmRegistry, TokenSink};
use lemmings_testkit::{Completion, FakeServer, Reply, ScriptedModel};
use serde::{Deserialize, Serialize};

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Chat {
    answer: String,
}

/// A graph whose one node asks `model` and streams its tokens.
async fn stream_through_graph(model: Arc<dyn ChatModel>) -> (Vec<String>, String) {
    let mut graph = StateGraph::<Chat>::new();
    graph.add_node("bot", move |_state: Arc<Chat>, ctx: Ctx| {
        let model = model.clone();
        async move {
            let forward = ctx.clone();
            let sink: TokenSink = Arc::new(move |event| forward.emit_message(event));
            let request = ChatRequest::new(vec![ChatMessage::user("greet")]);
            let response = model.chat(request, Some(sink)).await?;
            Ok::<_, NodeError>(ChatUpdate::default().answer(response.content))
        }
    });
    graph.add_edge(START, "bot");
    let graph = graph.compile().expect("graph");
    let mut stream = graph.stream(
        RunInput::New(ChatUpdate::default()),
        &RunConfig::default(),
        StreamMode::Messages,
    );
    let mut seen = Vec::new();
    while let Some(event) = stream.next().await {
        if let EventData::Message { node, chunk } = &event.data {
            seen.push(format!("{} {node} {chunk}", event.step));
        }
    }
    let answer = stream.finish().await.expect("run").value.answer.clone();
    (seen, answer)
}

#[tokio::test]
async fn scripted_model_tokens_reach_the_message_stream() {
    let model = Arc::new(ScriptedModel::new("primary").text("Hello big world"));
    let (seen, answer) = stream_through_graph(model).await;
    assert_eq!(answer, "Hello big world");
    expect_test::expect![[r#"
        1 bot {"type":"text","role":"primary","delta":"Hello "}
        1 bot {"type":"text","role":"primary","delta":"big "}
        1 bot {"type":"text","role":"primary","delta":"world"}"#]]
    .assert_eq(&seen.join("\n"));
}

#[tokio::test]
async fn streamed_http_tokens_reach_the_message_stream() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("<think>hi?</think>Hello big world").chunk_size(6),
    ));
    let toml = format!(
        "[llm.primary]\nprovider = \"openai_compatible\"\nmodel = \"qwen3-8b\"\nbase_url = \"{}\"\n",
        server.openai_url()
    );
    let config = LlmConfig::parse(&toml, "test.toml", &|_| None).expect("config");
    let models = LlmRegistry::from_config(&config).expect("registry");
    let (seen, answer) = stream_through_graph(models.get("primary").expect("primary")).await;
    assert_eq!(answer, "Hello big world");
    expect_test::expect![[r#"
        1 bot {"type":"reasoning","role":"primary","delta":"hi?"}
        1 bot {"type":"text","role":"primary","delta":"Hello "}
        1 bot {"type":"text","role":"primary","delta":"big wo"}
        1 bot {"type":"text","role":"primary","delta":"rld"}"#]]
    .assert_eq(&seen.join("\n"));
}

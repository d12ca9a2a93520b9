//! The bytes the fake server puts on the wire for each protocol and reply kind, snapshotted
//! (`UPDATE_EXPECT=1 cargo test -p lemmings-testkit` refreshes them).

use expect_test::{Expect, expect};
use lemmings_testkit::{Completion, FakeServer, Reply};
use serde_json::{Value, json};

use crate::client::{self, Answer};

/// Answers `request` at `path` with `reply` and checks the status, content type and body.
async fn check(reply: impl Into<Reply>, path: &str, request: Value, expected: Expect) -> Answer {
    let server = FakeServer::start().await;
    server.push(reply);
    let answer = client::post(&server.url(), path, &request).await;
    let shown = format!(
        "{} {}\n{}",
        answer.status,
        answer.header("content-type").unwrap_or("-"),
        answer.clean_body()
    );
    expected.assert_eq(&shown);
    answer
}

fn openai_request(stream: bool) -> Value {
    json!({ "model": "qwen3:8b", "messages": [{ "role": "user", "content": "hi" }], "stream": stream })
}

#[tokio::test]
async fn openai_unary_completion() {
    let completion = Completion::text("Hello there")
        .reasoning("the user greets")
        .usage(12, 3)
        .cost(0.5);
    let answer = check(completion, "/v1/chat/completions", openai_request(false), expect![[r#"
        200 application/json
        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","reasoning_content":"the user greets"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"cost":0.5}}"#]]).await;
    assert_eq!(
        answer.header("content-length"),
        Some(answer.body.len().to_string().as_str())
    );
}

#[tokio::test]
async fn openai_unary_tool_call_has_null_content_and_finish_tool_calls() {
    let completion = Completion::text("")
        .tool_call("call_7", "read_file", r#"{"path":"a.rs"}"#)
        .model("served-model");
    check(completion, "/chat/completions", openai_request(false), expect![[r#"
        200 application/json
        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"served-model","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_7","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"a.rs\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#]]).await;
}

#[tokio::test]
async fn openai_stream_with_reasoning_tool_call_and_requested_usage() {
    let completion = Completion::text("Hi there!")
        .reasoning("greet")
        .tool_call("call_1", "ls", r#"{"dir":"."}"#)
        .chunk_size(5);
    let mut request = openai_request(true);
    request["stream_options"] = json!({ "include_usage": true });
    let answer = check(completion, "/v1/chat/completions", request, expect![[r#"
        200 text/event-stream
        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"reasoning_content":"greet"},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"content":"Hi th"},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"content":"ere!"},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"ls","arguments":""}}]},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"dir"}}]},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\":\".\""}}]},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}

        data: [DONE]

    "#]]).await;
    assert_eq!(answer.header("transfer-encoding"), Some("chunked"));
}

#[tokio::test]
async fn openai_stream_sends_usage_only_when_asked_or_set() {
    let server = FakeServer::start().await;
    server.push(Completion::text("a"));
    server.push(Completion::text("a").usage(1, 2));
    server.push(Completion::text("a").no_usage());
    let mut asked = openai_request(true);
    asked["stream_options"] = json!({ "include_usage": true });
    let mut saw_usage = Vec::new();
    for request in [openai_request(true), openai_request(true), asked] {
        let answer = client::post(&server.url(), "/v1/chat/completions", &request).await;
        saw_usage.push(answer.clean_body().contains("\"usage\""));
    }
    assert_eq!(saw_usage, [false, true, false]);
}

#[tokio::test]
async fn openrouter_reasoning_field_and_finish_override() {
    let completion = Completion::text("ok")
        .reasoning("hm")
        .reasoning_field("reasoning")
        .finish("length")
        .no_usage();
    check(completion.clone(), "/v1/chat/completions", openai_request(false), expect![[r#"
        200 application/json
        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"message":{"role":"assistant","content":"ok","reasoning":"hm"},"finish_reason":"length"}]}"#]]).await;
    check(completion, "/v1/chat/completions", openai_request(true), expect![[r#"
        200 text/event-stream
        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"reasoning":"hm"},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}

        data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"qwen3:8b","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}

        data: [DONE]

    "#]]).await;
}

#[tokio::test]
async fn ollama_unary_completion_parses_arguments() {
    let completion = Completion::text("")
        .reasoning("plan")
        .tool_call("ignored", "read_file", r#"{"path":"a.rs"}"#)
        .tool_call("ignored", "broken", "{not json")
        .usage(30, 7);
    let request = json!({ "model": "qwen3:8b", "messages": [], "stream": false });
    check(completion, "/api/chat", request, expect![[r#"
        200 application/json
        {"model":"qwen3:8b","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"","thinking":"plan","tool_calls":[{"function":{"name":"read_file","arguments":{"path":"a.rs"}}},{"function":{"name":"broken","arguments":"{not json"}}]},"done":true,"done_reason":"stop","total_duration":1,"load_duration":1,"prompt_eval_count":30,"prompt_eval_duration":1,"eval_count":7,"eval_duration":1}"#]]).await;
}

#[tokio::test]
async fn ollama_streams_ndjson_when_stream_is_absent() {
    let completion = Completion::text("Hello world")
        .reasoning("hmm")
        .tool_call("x", "ls", r#"{"dir":"."}"#)
        .chunk_size(6);
    let request = json!({ "model": "llama3", "messages": [] });
    check(completion, "/api/chat", request, expect![[r#"
        200 application/x-ndjson
        {"model":"llama3","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}
        {"model":"llama3","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"Hello "},"done":false}
        {"model":"llama3","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"world"},"done":false}
        {"model":"llama3","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"ls","arguments":{"dir":"."}}}]},"done":false}
        {"model":"llama3","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":1,"load_duration":1,"prompt_eval_count":10,"prompt_eval_duration":1,"eval_count":5,"eval_duration":1}
    "#]]).await;
}

#[tokio::test]
async fn error_status_and_raw_replies() {
    let reply = Reply::error(429, "slow down").header("retry-after", "7");
    let answer = check(
        reply,
        "/v1/chat/completions",
        openai_request(false),
        expect![[r#"
        429 application/json
        {"error":{"message":"slow down","type":"rate_limit_error","code":429}}"#]],
    )
    .await;
    assert_eq!(answer.header("retry-after"), Some("7"));
    check(
        Reply::status(503, "upstream down"),
        "/v1/chat/completions",
        json!({}),
        expect![[r#"
        503 text/plain; charset=utf-8
        upstream down"#]],
    )
    .await;
    let no_choices = Reply::raw(200, "application/json", r#"{"object":"chat.completion"}"#);
    check(
        no_choices,
        "/v1/chat/completions",
        json!({}),
        expect![[r#"
        200 application/json
        {"object":"chat.completion"}"#]],
    )
    .await;
}

#[tokio::test]
async fn cut_after_stops_a_stream_after_n_events_with_an_error() {
    let server = FakeServer::start().await;
    server.push(Reply::text("abcdefgh").cut_after(2));
    let answer = client::post(&server.url(), "/v1/chat/completions", &openai_request(true)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.matches("data: ").count(), 2, "{}", answer.body);
    assert!(answer.body.ends_with("\n\n"), "whole events are sent: {}", answer.body);
    assert!(answer.error.is_some(), "the client must see the cut");
}

#[tokio::test]
async fn cut_after_stops_a_unary_body_after_n_bytes_with_an_error() {
    let server = FakeServer::start().await;
    server.push(Reply::text("abcdefgh"));
    server.push(Reply::text("abcdefgh").cut_after(10));
    let whole = client::post(&server.url(), "/v1/chat/completions", &openai_request(false)).await;
    let cut = client::post(&server.url(), "/v1/chat/completions", &openai_request(false)).await;
    assert_eq!(cut.body, whole.clean_body()[..10]);
    assert_eq!(
        cut.header("content-length"),
        whole.header("content-length"),
        "the full length is announced"
    );
    assert!(cut.error.is_some(), "the client must see the cut");
}

#[tokio::test]
async fn cut_after_stops_an_ollama_stream_after_n_lines() {
    let server = FakeServer::start().await;
    server.push(Reply::text("abcdefgh").cut_after(1));
    let answer = client::post(&server.url(), "/api/chat", &json!({ "model": "m" })).await;
    assert_eq!(answer.body.lines().count(), 1, "{}", answer.body);
    assert!(answer.error.is_some(), "the client must see the cut");
}

#[tokio::test]
async fn no_done_ends_a_stream_cleanly_without_finish_or_done() {
    let server = FakeServer::start().await;
    server.push(Reply::text("abcdef").no_done());
    server.push(Reply::text("abcdef").no_done());
    let openai = client::post(&server.url(), "/v1/chat/completions", &openai_request(true)).await;
    let body = openai.clean_body();
    assert!(
        !body.contains("[DONE]") && !body.contains("\"finish_reason\":\"stop\""),
        "{body}"
    );
    assert_eq!(
        body.matches("data: ").count(),
        3,
        "role, then two content deltas: {body}"
    );
    let ollama = client::post(&server.url(), "/api/chat", &json!({ "model": "m" })).await;
    let body = ollama.clean_body();
    assert!(!body.contains("\"done\":true"), "{body}");
    assert_eq!(body.lines().count(), 2, "{body}");
}

//! The scripted model: script order, exhaustion, fallbacks, recorded requests, streamed
//! deltas, usage and answerer, and holds.

use std::sync::{Arc, Mutex};

use lemmings_models::{
    Answerer, ChatMessage, ChatModel, ChatRequest, ChatResponse, FinishReason, ModelErrorKind, ModelInfo, OutputMode,
    StreamEvent, TokenSink, ToolCall, Usage,
};
use lemmings_testkit::{Hold, ScriptedModel};
use serde_json::json;

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user(text)])
}

/// A sink that keeps every event.
fn recording_sink() -> (TokenSink, Arc<Mutex<Vec<StreamEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink: TokenSink = {
        let events = Arc::clone(&events);
        Arc::new(move |event: &StreamEvent| events.lock().expect("the sink lock").push(event.clone()))
    };
    (sink, events)
}

#[tokio::test]
async fn answers_the_script_in_order() {
    let model = ScriptedModel::new("coder")
        .text("first")
        .tool_call("read_file", json!({ "path": "a.rs" }))
        .tool_calls(vec![("ls", json!({})), ("grep", json!({ "pattern": "x" }))])
        .respond(ChatResponse {
            content: "given".into(),
            finish: FinishReason::Length,
            ..ChatResponse::default()
        })
        .fail(ModelErrorKind::RateLimited, "too many requests");

    let first = model.chat(ask("a"), None).await.expect("first");
    assert_eq!((first.content.as_str(), first.finish), ("first", FinishReason::Stop));
    let second = model.chat(ask("b"), None).await.expect("second");
    assert_eq!(second.finish, FinishReason::ToolCalls);
    assert_eq!(
        second.tool_calls,
        [ToolCall {
            id: "call_1".into(),
            name: "read_file".into(),
            arguments: json!({ "path": "a.rs" })
        }]
    );
    let third = model.chat(ask("c"), None).await.expect("third");
    let ids: Vec<(&str, &str)> = third
        .tool_calls
        .iter()
        .map(|call| (call.id.as_str(), call.name.as_str()))
        .collect();
    assert_eq!(ids, [("call_2", "ls"), ("call_3", "grep")]);
    let fourth = model.chat(ask("d"), None).await.expect("fourth");
    assert_eq!(
        (fourth.content.as_str(), fourth.finish),
        ("given", FinishReason::Length)
    );
    let error = model.chat(ask("e"), None).await.expect_err("a scripted failure");
    assert_eq!(
        (error.kind(), error.message(), error.role()),
        (ModelErrorKind::RateLimited, "too many requests", "coder")
    );
    assert_eq!(model.remaining(), 0);
}

#[tokio::test]
async fn an_exhausted_script_fails_with_a_request_error_naming_the_call() {
    let model = ScriptedModel::new("planner").text("only");
    model.chat(ask("a"), None).await.expect("the scripted answer");
    let error = model.chat(ask("b"), None).await.expect_err("nothing left");
    assert_eq!(error.kind(), ModelErrorKind::Request);
    assert_eq!(
        error.message(),
        "scripted model for role `planner` has no reply left (call 2)"
    );
    assert_eq!(error.model(), "scripted-planner");
    assert_eq!(model.calls(), 2);
}

#[tokio::test]
async fn fallbacks_answer_once_the_queue_is_empty() {
    let model = ScriptedModel::new("r").text("queued").default_text("again");
    let answers = [
        model.chat(ask("1"), None).await,
        model.chat(ask("2"), None).await,
        model.chat(ask("3"), None).await,
    ];
    let contents: Vec<String> = answers
        .into_iter()
        .map(|answer| answer.expect("an answer").content)
        .collect();
    assert_eq!(contents, ["queued", "again", "again"]);

    let echo = ScriptedModel::new("echo").fallback_to(|request| {
        let last = request.messages.last().map(ChatMessage::content).unwrap_or_default();
        Ok(ChatResponse {
            content: format!("echo: {last}"),
            ..ChatResponse::default()
        })
    });
    assert_eq!(
        echo.chat(ask("ping"), None).await.expect("an echo").content,
        "echo: ping"
    );
}

#[tokio::test]
async fn respond_with_sees_the_request_and_may_fail() {
    let model = ScriptedModel::new("r").respond_with(|request| {
        Ok(ChatResponse {
            content: format!("{} messages", request.messages.len()),
            ..Default::default()
        })
    });
    let info = model.info();
    model.push_respond_with(move |_| Err(lemmings_models::ModelError::new(ModelErrorKind::Server, &info, "boom")));
    assert_eq!(
        model.chat(ask("a"), None).await.expect("an answer").content,
        "1 messages"
    );
    assert_eq!(
        model.chat(ask("b"), None).await.expect_err("a failure").kind(),
        ModelErrorKind::Server
    );
}

#[tokio::test]
async fn records_requests_and_fills_answerer_and_usage() {
    let model = ScriptedModel::new("coder").text("twelve chars").respond(ChatResponse {
        usage: Usage {
            prompt_tokens: Some(1),
            completion_tokens: Some(2),
            cost_usd: Some(0.1),
        },
        answered_by: Answerer {
            role: "other".into(),
            model: "m".into(),
        },
        ..ChatResponse::default()
    });
    let request = ChatRequest::new(vec![ChatMessage::system("0123456789"), ChatMessage::user("0123456789")]);
    let answer = model.chat(request.clone(), None).await.expect("an answer");
    assert_eq!(
        answer.answered_by,
        Answerer {
            role: "coder".into(),
            model: "scripted-coder".into()
        }
    );
    assert_eq!(
        answer.usage,
        Usage {
            prompt_tokens: Some(5),
            completion_tokens: Some(3),
            cost_usd: None
        }
    );
    let given = model.chat(ask(""), None).await.expect("an answer");
    assert_eq!(
        (given.usage.prompt_tokens, given.answered_by.role.as_str()),
        (Some(1), "other")
    );
    assert_eq!(model.requests(), [request, ask("")]);
    assert_eq!(model.calls(), 2);
}

#[tokio::test]
async fn an_empty_answer_still_counts_one_completion_token() {
    let model = ScriptedModel::new("r").tool_call("ls", json!({}));
    let answer = model.chat(ChatRequest::default(), None).await.expect("an answer");
    assert_eq!(
        (answer.usage.prompt_tokens, answer.usage.completion_tokens),
        (Some(0), Some(1))
    );
}

#[tokio::test]
async fn streams_reasoning_words_and_tool_calls_to_the_sink() {
    let content = "Hello,  streaming world\nbye ";
    let model = ScriptedModel::new("coder").respond(ChatResponse {
        content: content.into(),
        reasoning: Some("think".into()),
        tool_calls: vec![ToolCall {
            id: "c".into(),
            name: "ls".into(),
            arguments: json!({}),
        }],
        ..ChatResponse::default()
    });
    let (sink, events) = recording_sink();
    let answer = model.chat(ask("go"), Some(sink)).await.expect("an answer");
    let events = events.lock().expect("the sink lock").clone();
    let text: Vec<&str> = events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::Text { role, delta } if role == "coder" => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, ["Hello,  ", "streaming ", "world\n", "bye "]);
    assert_eq!(text.concat(), answer.content);
    assert_eq!(
        events[0],
        StreamEvent::Reasoning {
            role: "coder".into(),
            delta: "think".into()
        }
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::ToolCall {
            role: "coder".into(),
            call: answer.tool_calls[0].clone()
        })
    );
}

#[tokio::test]
async fn text_after_waits_for_its_hold_and_counts_in_flight() {
    let hold = Hold::new();
    let model = Arc::new(ScriptedModel::new("worker"));
    model.push_text_after(&hold, "one");
    model.push_text_after(&hold, "two");
    let mut first = model.chat(ask("a"), None);
    let mut second = model.chat(ask("b"), None);
    assert!(futures::poll!(&mut first).is_pending());
    assert!(futures::poll!(&mut second).is_pending());
    assert_eq!(model.in_flight(), 2);
    hold.release();
    assert_eq!(second.await.expect("the second answer").content, "two");
    assert_eq!(first.await.expect("the first answer").content, "one");
    assert_eq!((model.in_flight(), model.max_in_flight()), (0, 2));
}

#[tokio::test]
async fn info_defaults_and_with_info() {
    let model = ScriptedModel::new("judge");
    let info = model.info();
    assert_eq!(
        (
            info.provider.as_str(),
            info.model.as_str(),
            info.server.as_str(),
            info.output_mode
        ),
        ("scripted", "scripted-judge", "scripted", OutputMode::Tool)
    );
    let custom = ModelInfo {
        role: "fast".into(),
        model: "tiny".into(),
        ..info
    };
    let model = ScriptedModel::new("judge").with_info(custom.clone()).text("x");
    assert_eq!(model.info(), custom);
    let answer = model.chat(ask("a"), None).await.expect("an answer");
    assert_eq!(
        answer.answered_by,
        Answerer {
            role: "fast".into(),
            model: "tiny".into()
        }
    );
    let error = model.chat(ask("b"), None).await.expect_err("nothing left");
    assert_eq!(
        error.to_string(),
        "role `fast` (model tiny): scripted model for role `fast` has no reply left (call 2)"
    );
    assert!(format!("{model:?}").contains("remaining: 0"));
}

//! Each provider's wire protocol, streaming and not: what is sent (route, headers, body with
//! the sampling, thinking switch and tools) and what is read back (content with thinking
//! stripped, reasoning, tool calls, usage and cost).

use expect_test::expect;
use lemmings_models::{ChatMessage, ChatRequest, FinishReason, Thinking, ToolCall, ToolChoice, ToolSpec};
use lemmings_testkit::{Completion, FakeServer, Reply};
use serde_json::json;

use crate::common::{ask, primary, recorder, registry, streamed_text};

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

fn tool_request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system("You write files."),
            ChatMessage::user("Create a.txt"),
            ChatMessage::Assistant {
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: "write_file".into(),
                    arguments: json!({"path": "a.txt"}),
                }],
            },
            ChatMessage::tool("call_1", "write_file", "wrote a.txt"),
            ChatMessage::user("Now check it"),
        ],
        tools: vec![ToolSpec {
            name: "read_file".into(),
            description: "Read a file".into(),
            parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
        }],
        tool_choice: ToolChoice::Tool("read_file".into()),
        thinking: Some(Thinking::Off),
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn openai_compatible_sends_sampling_tools_and_the_thinking_switch() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("")
            .tool_call("call_2", "read_file", r#"{"path":"a.txt"}"#)
            .usage(120, 9),
    ));
    let models = registry(&primary(
        &server.openai_url(),
        "temperature = 0.6\ntop_p = 0.95\ntop_k = 20\nmin_p = 0.0\nmax_tokens = 512",
    ));
    let response = models.get("primary").unwrap().chat(tool_request(), None).await.unwrap();

    assert_eq!(
        response.tool_calls,
        vec![ToolCall {
            id: "call_2".into(),
            name: "read_file".into(),
            arguments: json!({"path": "a.txt"})
        }]
    );
    assert_eq!(response.finish, FinishReason::ToolCalls);
    assert_eq!(
        (response.usage.prompt_tokens, response.usage.completion_tokens),
        (Some(120), Some(9))
    );
    assert_eq!(response.answered_by.role, "primary");

    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(request.header("authorization"), Some("Bearer not-needed"));
    expect![[r#"
        {
          "model": "qwen3-8b",
          "messages": [
            {
              "role": "system",
              "content": "You write files."
            },
            {
              "role": "user",
              "content": "Create a.txt"
            },
            {
              "role": "assistant",
              "tool_calls": [
                {
                  "type": "function",
                  "id": "call_1",
                  "function": {
                    "name": "write_file",
                    "arguments": "{\"path\":\"a.txt\"}"
                  }
                }
              ]
            },
            {
              "role": "tool",
              "tool_call_id": "call_1",
              "content": "wrote a.txt"
            },
            {
              "role": "user",
              "content": "Now check it"
            }
          ],
          "tools": [
            {
              "type": "function",
              "function": {
                "name": "read_file",
                "description": "Read a file",
                "parameters": {
                  "type": "object",
                  "properties": {
                    "path": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "path"
                  ]
                }
              }
            }
          ],
          "tool_choice": {
            "type": "function",
            "function": {
              "name": "read_file"
            }
          },
          "temperature": 0.6,
          "max_tokens": 512,
          "top_p": 0.95,
          "top_k": 20,
          "min_p": 0.0,
          "enable_thinking": false,
          "chat_template_kwargs": {
            "enable_thinking": false
          }
        }"#]]
    .assert_eq(&pretty(&request.body));
}

#[tokio::test]
async fn openai_compatible_reads_reasoning_and_strips_inline_thinking() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("The answer is 4.").reasoning("2+2 is 4"),
    ));
    server.push(Reply::text("<think>\nadd them\n</think>\n\nFour."));
    let models = registry(&primary(&server.openai_url(), ""));
    let model = models.get("primary").unwrap();

    let split = model.chat(ask("2+2?"), None).await.unwrap();
    assert_eq!(
        (split.content.as_str(), split.reasoning.as_deref()),
        ("The answer is 4.", Some("2+2 is 4"))
    );

    let inline = model.chat(ask("2+2?"), None).await.unwrap();
    assert_eq!(
        (inline.content.as_str(), inline.reasoning.as_deref()),
        ("Four.", Some("add them"))
    );
    // History never holds thinking.
    assert_eq!(inline.message(), ChatMessage::assistant("Four."));
}

#[tokio::test]
async fn openai_compatible_streams_text_reasoning_and_tool_calls() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("<think>hm</think>Hello there, world").reasoning("first"),
    ));
    server.push(Reply::completion(Completion::text("").tool_call(
        "call_7",
        "read_file",
        r#"{"path":"b.rs"}"#,
    )));
    let models = registry(&primary(&server.openai_url(), ""));
    let model = models.get("primary").unwrap();

    let (sink, events) = recorder();
    let response = model.chat(ask("hi"), Some(sink)).await.unwrap();
    assert_eq!(response.content, "Hello there, world");
    assert_eq!(response.reasoning.as_deref(), Some("first\nhm"));
    assert_eq!(server.requests()[0].body["stream"], json!(true));
    let events = events.lock().unwrap().clone();
    assert_eq!(streamed_text(&events), "Hello there, world");
    let reasoning: String = events
        .iter()
        .filter_map(|e| match e {
            lemmings_models::StreamEvent::Reasoning { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasoning, "firsthm");
    assert!(events.len() > 4, "the text arrives in several deltas: {events:?}");
    assert_eq!(
        response.usage.prompt_tokens,
        Some(10),
        "usage is read from the stream's last chunk"
    );

    let (sink, events) = recorder();
    let response = model.chat(ask("read it"), Some(sink)).await.unwrap();
    let call = ToolCall {
        id: "call_7".into(),
        name: "read_file".into(),
        arguments: json!({"path": "b.rs"}),
    };
    assert_eq!(response.tool_calls, vec![call.clone()]);
    assert!(
        events
            .lock()
            .unwrap()
            .contains(&lemmings_models::StreamEvent::ToolCall {
                role: "primary".into(),
                call
            })
    );
}

#[tokio::test]
async fn arguments_that_are_not_json_reach_the_caller_as_text() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(Completion::text("").tool_call(
        "call_1",
        "read_file",
        "{path: a.txt",
    )));
    let models = registry(&primary(&server.openai_url(), ""));
    let response = models.get("primary").unwrap().chat(ask("read"), None).await.unwrap();
    assert_eq!(response.tool_calls[0].arguments, json!("{path: a.txt"));
}

#[tokio::test]
async fn an_unterminated_think_block_is_retried_without_thinking() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("<think>Let me consider every possib").finish("length"),
    ));
    server.push(Reply::text("42"));
    let models = registry(&primary(&server.openai_url(), ""));
    let response = models.get("primary").unwrap().chat(ask("answer"), None).await.unwrap();
    assert_eq!(response.content, "42");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body.get("enable_thinking"),
        None,
        "the role's default (strip) sends no switch"
    );
    assert_eq!(requests[1].body["enable_thinking"], json!(false));
    assert_eq!(
        requests[1].body["chat_template_kwargs"],
        json!({"enable_thinking": false})
    );
}

#[tokio::test]
async fn a_second_unterminated_think_block_is_a_truncated_answer() {
    let server = FakeServer::start().await;
    for _ in 0..2 {
        server.push(Reply::completion(
            Completion::text("<think>Still considering").finish("length"),
        ));
    }
    let models = registry(&primary(&server.openai_url(), "max_attempts = 1"));
    let error = models
        .get("primary")
        .unwrap()
        .chat(ask("answer"), None)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), lemmings_models::ModelErrorKind::Truncated);
    assert!(error.message().contains("with thinking switched off too"), "{error}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].body["enable_thinking"], json!(false));
}

#[tokio::test]
async fn native_structured_output_sends_a_json_schema_response_format() {
    let server = FakeServer::start().await;
    server.push(Reply::text(r#"{"ok": true}"#));
    let models = registry(&primary(&server.openai_url(), ""));
    let mut request = ask("ok?");
    request.response_format = Some(lemmings_models::ResponseFormat {
        name: "verdict".into(),
        schema: json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}),
    });
    models.get("primary").unwrap().chat(request, None).await.unwrap();
    expect![[r#"
        {
          "type": "json_schema",
          "json_schema": {
            "name": "verdict",
            "strict": true,
            "schema": {
              "type": "object",
              "properties": {
                "ok": {
                  "type": "boolean"
                }
              },
              "required": [
                "ok"
              ],
              "title": "verdict",
              "additionalProperties": false
            }
          }
        }"#]]
    .assert_eq(&pretty(&server.requests()[0].body["response_format"]));
}

fn ollama(base: &str, extra: &str) -> String {
    format!(
        "{}[llm.summarizer]\nprovider = \"ollama\"\nmodel = \"qwen2.5:0.5b\"\nbase_url = \"{base}\"\n{extra}\n",
        primary("http://127.0.0.1:9/v1", "")
    )
}

#[tokio::test]
async fn ollama_native_chat_sends_options_and_reads_thinking_tools_and_counts() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("")
            .reasoning("which file?")
            .tool_call("", "read_file", r#"{"path":"a.txt"}"#)
            .usage(33, 7),
    ));
    let models = registry(&ollama(
        &server.url(),
        "temperature = 0.2\ntop_k = 40\nmin_p = 0.05\nmax_tokens = 64\ncontext_tokens = 8192",
    ));
    let response = models
        .get("summarizer")
        .unwrap()
        .chat(tool_request(), None)
        .await
        .unwrap();
    assert_eq!(response.tool_calls.len(), 1);
    assert_eq!(
        (response.tool_calls[0].name.as_str(), &response.tool_calls[0].arguments),
        ("read_file", &json!({"path": "a.txt"}))
    );
    assert_eq!(response.reasoning.as_deref(), Some("which file?"));
    assert_eq!(
        (response.usage.prompt_tokens, response.usage.completion_tokens),
        (Some(33), Some(7))
    );
    assert_eq!(response.answered_by.role, "summarizer");

    let request = &server.requests()[0];
    assert_eq!(request.path, "/api/chat");
    assert_eq!(request.header("authorization"), None);
    expect![[r#"
        {
          "model": "qwen2.5:0.5b",
          "messages": [
            {
              "role": "system",
              "content": "You write files."
            },
            {
              "role": "user",
              "content": "Create a.txt"
            },
            {
              "role": "assistant",
              "content": "",
              "tool_calls": [
                {
                  "id": "call_1",
                  "function": {
                    "name": "write_file",
                    "arguments": {
                      "path": "a.txt"
                    }
                  }
                }
              ]
            },
            {
              "role": "tool",
              "content": "wrote a.txt",
              "tool_name": "write_file",
              "tool_call_id": "call_1"
            },
            {
              "role": "user",
              "content": "Now check it"
            }
          ],
          "tools": [
            {
              "type": "function",
              "function": {
                "name": "read_file",
                "description": "Read a file",
                "parameters": {
                  "type": "object",
                  "properties": {
                    "path": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "path"
                  ]
                }
              }
            }
          ],
          "options": {
            "temperature": 0.2,
            "num_predict": 64,
            "top_k": 40,
            "min_p": 0.05,
            "num_ctx": 8192
          },
          "stream": false,
          "think": false
        }"#]]
    .assert_eq(&pretty(&request.body));
}

#[tokio::test]
async fn ollama_native_structured_output_sends_the_schema_as_format() {
    let server = FakeServer::start().await;
    server.push(Reply::text(r#"{"ok": true}"#));
    let models = registry(&ollama(&server.url(), "structured_output = \"native\""));
    let summarizer = models.get("summarizer").unwrap();
    assert_eq!(summarizer.info().output_mode, lemmings_models::OutputMode::Native);
    let mut request = ask("ok?");
    request.response_format = Some(lemmings_models::ResponseFormat {
        name: "verdict".into(),
        schema: json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}),
    });
    summarizer.chat(request, None).await.unwrap();
    expect![[r#"
        {
          "type": "object",
          "properties": {
            "ok": {
              "type": "boolean"
            }
          },
          "required": [
            "ok"
          ],
          "title": "verdict"
        }"#]]
    .assert_eq(&pretty(&server.requests()[0].body["format"]));
}

#[tokio::test]
async fn ollama_native_chat_streams_ndjson() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("Status: all good").reasoning("checking"),
    ));
    let models = registry(&ollama(&server.url(), ""));
    let (sink, events) = recorder();
    let response = models
        .get("summarizer")
        .unwrap()
        .chat(ask("status?"), Some(sink))
        .await
        .unwrap();
    assert_eq!(response.content, "Status: all good");
    assert_eq!(response.reasoning.as_deref(), Some("checking"));
    assert_eq!(streamed_text(&events.lock().unwrap()), "Status: all good");
    assert_eq!(server.requests()[0].body["stream"], json!(true));
}

#[tokio::test]
async fn ollama_with_a_v1_base_url_uses_its_openai_compatible_route() {
    let server = FakeServer::start().await;
    server.push(Reply::text("fine"));
    let models = registry(&ollama(&server.openai_url(), ""));
    let response = models
        .get("summarizer")
        .unwrap()
        .chat(ask("status?"), None)
        .await
        .unwrap();
    assert_eq!(response.content, "fine");
    assert_eq!(server.requests()[0].path, "/v1/chat/completions");
}

#[tokio::test]
async fn openrouter_sends_the_key_and_reports_cost() {
    let server = FakeServer::start().await;
    server.push(Reply::completion(
        Completion::text("Findings.")
            .reasoning("searching")
            .reasoning_field("reasoning")
            .usage(1000, 200)
            .cost(0.0123),
    ));
    server.push(Reply::completion(Completion::text("More.").usage(10, 2).cost(0.001)));
    let toml = format!(
        "{}[llm.research]\nprovider = \"openrouter\"\nmodel = \"anthropic/claude-3.5-sonnet\"\nbase_url = \"{}/api/v1\"\napi_key = \"sk-or-test-key\"\n",
        primary("http://127.0.0.1:9/v1", ""),
        server.url()
    );
    let models = registry(&toml);
    let research = models.get("research").unwrap();
    let first = research.chat(ask("research X"), None).await.unwrap();
    assert_eq!(
        (first.content.as_str(), first.reasoning.as_deref()),
        ("Findings.", Some("searching"))
    );
    assert_eq!(first.usage.cost_usd, Some(0.0123));
    let (sink, _) = recorder();
    research.chat(ask("and Y"), Some(sink)).await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.path, "/api/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer sk-or-test-key"));
    let usage = &models.usage()["research"];
    assert_eq!(
        (usage.calls, usage.answers, usage.prompt_tokens, usage.completion_tokens),
        (2, 2, 1010, 202)
    );
    assert!((usage.cost_usd - 0.0133).abs() < 1e-9, "{usage:?}");
}

//! Renders a [`Completion`] in Ollama's native `/api/chat` protocol: one JSON object with
//! `done: true`, or an NDJSON stream of `done: false` deltas closed by a `done: true` line.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::render::{CREATED_AT, Exchange, Payload, Rendered, split_chars};
use super::reply::Completion;

/// Renders `completion` for the request in `exchange` (a stream unless it said
/// `"stream": false`, as in Ollama's API); `no_done` drops the final `done: true` line.
pub(crate) fn render(completion: &Completion, exchange: &Exchange<'_>, no_done: bool) -> Rendered {
    let model = exchange.model(completion);
    if !exchange.streams(true) {
        let mut message = message(&completion.text);
        if let Some(thinking) = &completion.reasoning {
            message.insert("thinking".to_owned(), thinking.as_str().into());
        }
        if !completion.tool_calls.is_empty() {
            message.insert("tool_calls".to_owned(), tool_calls(completion));
        }
        return Rendered::json(200, &done(completion, &model, message));
    }
    let mut lines = Vec::new();
    if let Some(thinking) = &completion.reasoning {
        for piece in split_chars(thinking, completion.chunk_size) {
            let mut message = message("");
            message.insert("thinking".to_owned(), piece.into());
            lines.push(partial(&model, message));
        }
    }
    for piece in split_chars(&completion.text, completion.chunk_size) {
        lines.push(partial(&model, message(piece)));
    }
    if !completion.tool_calls.is_empty() {
        let mut message = message("");
        message.insert("tool_calls".to_owned(), tool_calls(completion));
        lines.push(partial(&model, message));
    }
    if !no_done {
        lines.push(done(completion, &model, message("")));
    }
    Rendered {
        status: 200,
        content_type: "application/x-ndjson".to_owned(),
        payload: Payload::Events(lines.iter().map(|line| Bytes::from(format!("{line}\n"))).collect()),
    }
}

fn message(content: &str) -> Map<String, Value> {
    let mut message = Map::new();
    message.insert("role".to_owned(), "assistant".into());
    message.insert("content".to_owned(), content.into());
    message
}

/// Ollama sends arguments as an object; text that is not JSON stays a string.
fn tool_calls(completion: &Completion) -> Value {
    completion
        .tool_calls
        .iter()
        .map(|call| {
            let arguments =
                serde_json::from_str(&call.arguments).unwrap_or_else(|_| Value::String(call.arguments.clone()));
            json!({ "function": { "name": call.name, "arguments": arguments } })
        })
        .collect()
}

fn partial(model: &str, message: Map<String, Value>) -> Value {
    json!({ "model": model, "created_at": CREATED_AT, "message": message, "done": false })
}

fn done(completion: &Completion, model: &str, message: Map<String, Value>) -> Value {
    let mut body = json!({
        "model": model,
        "created_at": CREATED_AT,
        "message": message,
        "done": true,
        "done_reason": completion.finish.as_deref().unwrap_or("stop"),
        "total_duration": 1,
        "load_duration": 1,
    });
    // In Ollama's order: each count before its duration.
    if let Some((prompt, _)) = completion.usage {
        body["prompt_eval_count"] = prompt.into();
    }
    body["prompt_eval_duration"] = 1.into();
    if let Some((_, generated)) = completion.usage {
        body["eval_count"] = generated.into();
    }
    body["eval_duration"] = 1.into();
    body
}

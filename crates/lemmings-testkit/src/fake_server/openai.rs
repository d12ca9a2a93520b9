//! Renders a [`Completion`] in the OpenAI chat-completions protocol: one `chat.completion`
//! JSON body, or a server-sent-event stream of `chat.completion.chunk` objects ending with
//! `data: [DONE]`.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::render::{CREATED, Exchange, Payload, Rendered, split_chars};
use super::reply::Completion;

/// Renders `completion` for the request in `exchange`; `no_done` stops a stream before its
/// finish-reason chunk, usage chunk and `[DONE]`.
pub(crate) fn render(completion: &Completion, exchange: &Exchange<'_>, no_done: bool) -> Rendered {
    let answer = Answer {
        completion,
        id: format!("chatcmpl-{}", exchange.seq),
        model: exchange.model(completion),
        finish: completion.finish.clone().unwrap_or_else(|| {
            if completion.tool_calls.is_empty() {
                "stop".to_owned()
            } else {
                "tool_calls".to_owned()
            }
        }),
    };
    if exchange.streams(false) {
        let usage = exchange.include_usage() || completion.usage_explicit;
        Rendered {
            status: 200,
            content_type: "text/event-stream".to_owned(),
            payload: Payload::Events(answer.events(usage, no_done)),
        }
    } else {
        Rendered::json(200, &answer.whole())
    }
}

struct Answer<'a> {
    completion: &'a Completion,
    id: String,
    model: String,
    finish: String,
}

impl Answer<'_> {
    fn whole(&self) -> Value {
        let completion = self.completion;
        let content = if completion.text.is_empty() && !completion.tool_calls.is_empty() {
            Value::Null
        } else {
            Value::String(completion.text.clone())
        };
        let mut message = Map::new();
        message.insert("role".to_owned(), "assistant".into());
        message.insert("content".to_owned(), content);
        if let Some(reasoning) = &completion.reasoning {
            message.insert(completion.reasoning_field.clone(), reasoning.as_str().into());
        }
        if !completion.tool_calls.is_empty() {
            let calls = completion
                .tool_calls
                .iter()
                .map(|call| {
                    json!({
                        "id": call.id,
                        "type": "function",
                        "function": { "name": call.name, "arguments": call.arguments },
                    })
                })
                .collect();
            message.insert("tool_calls".to_owned(), Value::Array(calls));
        }
        let mut body = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": CREATED,
            "model": self.model,
            "choices": [{ "index": 0, "message": message, "finish_reason": self.finish }],
        });
        if let Some(usage) = self.usage() {
            body["usage"] = usage;
        }
        body
    }

    /// The SSE events, each `data: <json>\n\n`.
    fn events(&self, with_usage: bool, no_done: bool) -> Vec<Bytes> {
        let completion = self.completion;
        let size = completion.chunk_size;
        let mut chunks = vec![self.chunk(json!({ "role": "assistant" }), None)];
        if let Some(reasoning) = &completion.reasoning {
            for piece in split_chars(reasoning, size) {
                chunks.push(self.chunk(json!({ completion.reasoning_field.as_str(): piece }), None));
            }
        }
        for piece in split_chars(&completion.text, size) {
            chunks.push(self.chunk(json!({ "content": piece }), None));
        }
        for (index, call) in completion.tool_calls.iter().enumerate() {
            let first = json!({
                "index": index,
                "id": call.id,
                "type": "function",
                "function": { "name": call.name, "arguments": "" },
            });
            chunks.push(self.chunk(json!({ "tool_calls": [first] }), None));
            for piece in split_chars(&call.arguments, size) {
                let delta = json!({ "index": index, "function": { "arguments": piece } });
                chunks.push(self.chunk(json!({ "tool_calls": [delta] }), None));
            }
        }
        let mut events: Vec<Bytes> = chunks.iter().map(|chunk| format!("data: {chunk}\n\n").into()).collect();
        if no_done {
            return events;
        }
        events.push(format!("data: {}\n\n", self.chunk(json!({}), Some(&self.finish))).into());
        if let Some(usage) = self.usage().filter(|_| with_usage) {
            let chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": self.model,
                "choices": [],
                "usage": usage,
            });
            events.push(format!("data: {chunk}\n\n").into());
        }
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        events
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        })
    }

    fn usage(&self) -> Option<Value> {
        let (prompt, completion) = self.completion.usage?;
        let mut usage = json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        });
        if let Some(cost) = self.completion.cost {
            usage["cost"] = cost.into();
        }
        Some(usage)
    }
}

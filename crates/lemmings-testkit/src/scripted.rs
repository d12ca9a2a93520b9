//! [`ScriptedModel`]: a [`ChatModel`] that answers from a script, for graph and agent tests
//! that need a model but no server. It records every request and streams its answers to a sink.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use lemmings_models::{
    Answerer, ChatModel, ChatRequest, ChatResponse, FinishReason, ModelError, ModelErrorKind, ModelInfo, OutputMode,
    StreamEvent, TokenSink, ToolCall, Usage,
};

use crate::sync::{Gauge, Hold};

/// A reply computed from the request.
type Responder = Arc<dyn Fn(&ChatRequest) -> Result<ChatResponse, ModelError> + Send + Sync>;

/// One scripted answer.
enum Step {
    Reply(ChatResponse),
    Fail(ModelErrorKind, String),
    With(Responder),
    Held(Hold, Box<Step>),
}

#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    fallback: Option<Responder>,
    requests: Vec<ChatRequest>,
    /// The last tool-call id handed out (`call_<n>`).
    call_ids: u64,
}

/// A chat model that answers from a queue of scripted steps, in order, one per call.
///
/// Every response gets `answered_by` = (role, model) when the step left it empty, and a
/// deterministic [`Usage`] when the step left it at its default: prompt tokens = the characters
/// of the request's messages / 4, completion tokens = the characters of the answer / 4, at
/// least 1. When the queue is empty the fallback (`fallback_to`, `default_text`) answers; without
/// one the call fails with a [`ModelErrorKind::Request`] error
/// ``scripted model for role `<role>` has no reply left (call <n>)``, `n` counting every call.
///
/// With a sink, the answer is streamed first: reasoning as [`StreamEvent::Reasoning`], the
/// content as [`StreamEvent::Text`] deltas split into words (each keeping the whitespace after
/// it, so the deltas concatenate to the content), then each tool call as
/// [`StreamEvent::ToolCall`].
///
/// Builder methods take and return `self`; each has a `push_*` twin taking `&self` for a model
/// already shared behind an `Arc`.
pub struct ScriptedModel {
    info: ModelInfo,
    script: Mutex<Script>,
    gauge: Arc<Gauge>,
}

impl ScriptedModel {
    /// A model for `role`: provider `scripted`, model `scripted-<role>`, server `scripted`,
    /// structured output through a tool call.
    pub fn new(role: &str) -> Self {
        let info = ModelInfo {
            role: role.to_owned(),
            provider: "scripted".to_owned(),
            model: format!("scripted-{role}"),
            server: "scripted".to_owned(),
            output_mode: OutputMode::Tool,
        };
        ScriptedModel {
            info,
            script: Mutex::new(Script::default()),
            gauge: Arc::default(),
        }
    }

    /// Replaces what the model says it is (role and model also name its answers and errors).
    pub fn with_info(mut self, info: ModelInfo) -> Self {
        self.info = info;
        self
    }

    /// Queues a plain answer (finish `Stop`).
    pub fn text(self, content: &str) -> Self {
        self.push_text(content);
        self
    }

    /// Queues one tool call (id `call_<n>`, counted per model; finish `ToolCalls`).
    pub fn tool_call(self, name: &str, arguments: serde_json::Value) -> Self {
        self.push_tool_call(name, arguments);
        self
    }

    /// Queues one answer calling several tools, in order.
    pub fn tool_calls<N: Into<String>>(self, calls: impl IntoIterator<Item = (N, serde_json::Value)>) -> Self {
        self.push_tool_calls(calls);
        self
    }

    /// Queues this response.
    pub fn respond(self, response: ChatResponse) -> Self {
        self.push_respond(response);
        self
    }

    /// Queues a failure of `kind` with `message`.
    pub fn fail(self, kind: ModelErrorKind, message: &str) -> Self {
        self.push_fail(kind, message);
        self
    }

    /// Queues a step computing the answer from the request.
    pub fn respond_with<F>(self, respond: F) -> Self
    where
        F: Fn(&ChatRequest) -> Result<ChatResponse, ModelError> + Send + Sync + 'static,
    {
        self.push_respond_with(respond);
        self
    }

    /// Queues a plain answer given only once `hold` is released (the call counts as in flight
    /// while it waits).
    pub fn text_after(self, hold: &Hold, content: &str) -> Self {
        self.push_text_after(hold, content);
        self
    }

    /// Answers every call made once the queue is empty.
    pub fn fallback_to<F>(self, respond: F) -> Self
    where
        F: Fn(&ChatRequest) -> Result<ChatResponse, ModelError> + Send + Sync + 'static,
    {
        self.set_fallback_to(respond);
        self
    }

    /// Answers `content` to every call made once the queue is empty.
    pub fn default_text(self, content: &str) -> Self {
        self.set_default_text(content);
        self
    }

    /// Queues a plain answer.
    pub fn push_text(&self, content: &str) {
        self.push(Step::Reply(text_response(content)));
    }

    /// Queues one tool call.
    pub fn push_tool_call(&self, name: &str, arguments: serde_json::Value) {
        self.push_tool_calls([(name, arguments)]);
    }

    /// Queues one answer calling several tools.
    pub fn push_tool_calls<N: Into<String>>(&self, calls: impl IntoIterator<Item = (N, serde_json::Value)>) {
        let mut script = self.script();
        let mut tool_calls = Vec::new();
        for (name, arguments) in calls {
            script.call_ids += 1;
            tool_calls.push(ToolCall {
                id: format!("call_{}", script.call_ids),
                name: name.into(),
                arguments,
            });
        }
        let response = ChatResponse {
            tool_calls,
            finish: FinishReason::ToolCalls,
            ..ChatResponse::default()
        };
        script.steps.push_back(Step::Reply(response));
    }

    /// Queues this response.
    pub fn push_respond(&self, response: ChatResponse) {
        self.push(Step::Reply(response));
    }

    /// Queues a failure.
    pub fn push_fail(&self, kind: ModelErrorKind, message: &str) {
        self.push(Step::Fail(kind, message.to_owned()));
    }

    /// Queues a step computing the answer from the request.
    pub fn push_respond_with<F>(&self, respond: F)
    where
        F: Fn(&ChatRequest) -> Result<ChatResponse, ModelError> + Send + Sync + 'static,
    {
        self.push(Step::With(Arc::new(respond)));
    }

    /// Queues a plain answer given only once `hold` is released.
    pub fn push_text_after(&self, hold: &Hold, content: &str) {
        self.push(Step::Held(hold.clone(), Box::new(Step::Reply(text_response(content)))));
    }

    /// Queues a response given only once `hold` is released.
    pub fn push_respond_after(&self, hold: &Hold, response: ChatResponse) {
        self.push(Step::Held(hold.clone(), Box::new(Step::Reply(response))));
    }

    /// Sets the fallback for an empty queue.
    pub fn set_fallback_to<F>(&self, respond: F)
    where
        F: Fn(&ChatRequest) -> Result<ChatResponse, ModelError> + Send + Sync + 'static,
    {
        self.script().fallback = Some(Arc::new(respond));
    }

    /// Sets a fixed answer for an empty queue.
    pub fn set_default_text(&self, content: &str) {
        let response = text_response(content);
        self.set_fallback_to(move |_| Ok(response.clone()));
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.script().requests.clone()
    }

    /// How many calls were made (failed ones included).
    pub fn calls(&self) -> usize {
        self.script().requests.len()
    }

    /// How many queued steps are left (the fallback not counted).
    pub fn remaining(&self) -> usize {
        self.script().steps.len()
    }

    /// How many calls are being answered now.
    pub fn in_flight(&self) -> usize {
        self.gauge.now()
    }

    /// The most calls that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.gauge.max()
    }

    fn push(&self, step: Step) {
        self.script().steps.push_back(step);
    }

    fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next step (or the fallback) and records the request; `None` when exhausted.
    fn next_step(&self, request: &ChatRequest) -> (Option<Step>, usize) {
        let mut script = self.script();
        script.requests.push(request.clone());
        let call = script.requests.len();
        let step = script
            .steps
            .pop_front()
            .or_else(|| script.fallback.clone().map(Step::With));
        (step, call)
    }

    fn finish(&self, mut response: ChatResponse, request: &ChatRequest) -> ChatResponse {
        if response.answered_by == Answerer::default() {
            response.answered_by = Answerer {
                role: self.info.role.clone(),
                model: self.info.model.clone(),
            };
        }
        if response.usage == Usage::default() {
            let prompt_chars: usize = request
                .messages
                .iter()
                .map(|message| message.content().chars().count())
                .sum();
            let completion_chars = response.content.chars().count();
            response.usage = Usage {
                prompt_tokens: Some((prompt_chars / 4) as u64),
                completion_tokens: Some((completion_chars / 4).max(1) as u64),
                cost_usd: None,
            };
        }
        response
    }

    fn stream(&self, response: &ChatResponse, sink: &TokenSink) {
        let role = &self.info.role;
        if let Some(reasoning) = &response.reasoning {
            for delta in word_chunks(reasoning) {
                sink(&StreamEvent::Reasoning {
                    role: role.clone(),
                    delta: delta.to_owned(),
                });
            }
        }
        for delta in word_chunks(&response.content) {
            sink(&StreamEvent::Text {
                role: role.clone(),
                delta: delta.to_owned(),
            });
        }
        for call in &response.tool_calls {
            sink(&StreamEvent::ToolCall {
                role: role.clone(),
                call: call.clone(),
            });
        }
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let _in_flight = self.gauge.enter();
        let (step, call) = self.next_step(&request);
        let Some(mut step) = step else {
            let message = format!(
                "scripted model for role `{}` has no reply left (call {call})",
                self.info.role
            );
            return Err(ModelError::new(ModelErrorKind::Request, &self.info, message));
        };
        let response = loop {
            match step {
                Step::Held(hold, inner) => {
                    hold.released().await;
                    step = *inner;
                }
                Step::Reply(response) => break response,
                Step::Fail(kind, message) => return Err(ModelError::new(kind, &self.info, message)),
                Step::With(respond) => break respond(&request)?,
            }
        };
        let response = self.finish(response, &request);
        if let Some(sink) = &sink {
            self.stream(&response, sink);
        }
        Ok(response)
    }

    fn info(&self) -> ModelInfo {
        self.info.clone()
    }
}

impl fmt::Debug for ScriptedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let script = self.script();
        f.debug_struct("ScriptedModel")
            .field("role", &self.info.role)
            .field("model", &self.info.model)
            .field("remaining", &script.steps.len())
            .field("has_fallback", &script.fallback.is_some())
            .field("calls", &script.requests.len())
            .finish()
    }
}

fn text_response(content: &str) -> ChatResponse {
    ChatResponse {
        content: content.to_owned(),
        finish: FinishReason::Stop,
        ..ChatResponse::default()
    }
}

/// Splits `text` into words, each with the whitespace after it (leading whitespace is a chunk
/// of its own), so the chunks concatenate to `text`.
pub(crate) fn word_chunks(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut after_space = false;
    for (at, c) in text.char_indices() {
        if !c.is_whitespace() && after_space && at > start {
            chunks.push(&text[start..at]);
            start = at;
        }
        after_space = c.is_whitespace();
    }
    if start < text.len() {
        chunks.push(&text[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::word_chunks;

    #[test]
    fn word_chunks_keep_whitespace_and_concatenate_to_the_text() {
        assert_eq!(word_chunks("Hello, big  world\n"), ["Hello, ", "big  ", "world\n"]);
        assert_eq!(word_chunks("  lead"), ["  ", "lead"]);
        assert_eq!(word_chunks("héllo wörld"), ["héllo ", "wörld"]);
        assert!(word_chunks("").is_empty());
    }
}

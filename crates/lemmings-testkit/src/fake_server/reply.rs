//! The fake server's script: [`Reply`] (what to answer one request with, and how to misbehave)
//! and [`Completion`] (a model answer, rendered in whichever protocol the request spoke).

use std::time::Duration;

use bytes::Bytes;

use crate::sync::Hold;

/// A model answer for [`Reply::completion`]. The request decides the protocol: `POST /api/chat`
/// gets Ollama's native format, any other path OpenAI's chat-completions format; its `stream`
/// field decides between one JSON body and a stream (Ollama streams when `stream` is absent).
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub(crate) text: String,
    pub(crate) reasoning: Option<String>,
    pub(crate) reasoning_field: String,
    pub(crate) tool_calls: Vec<ScriptedCall>,
    pub(crate) usage: Option<(u64, u64)>,
    /// Whether `.usage` or `.cost` was called: the usage chunk is then streamed unasked.
    pub(crate) usage_explicit: bool,
    pub(crate) cost: Option<f64>,
    pub(crate) finish: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) chunk_size: usize,
}

/// One tool call of a [`Completion`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScriptedCall {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The arguments as the model sends them: JSON text (or not).
    pub(crate) arguments: String,
}

impl Completion {
    /// An answer with this content. Usage defaults to 10 prompt and 5 completion tokens.
    pub fn text(text: &str) -> Self {
        Completion {
            text: text.to_owned(),
            reasoning: None,
            reasoning_field: "reasoning_content".to_owned(),
            tool_calls: Vec::new(),
            usage: Some((10, 5)),
            usage_explicit: false,
            cost: None,
            finish: None,
            model: None,
            chunk_size: 4,
        }
    }

    /// Adds reasoning: OpenAI `message.reasoning_content` (streamed as `delta.reasoning_content`
    /// before the content), or the field named by [`Completion::reasoning_field`]; Ollama
    /// `message.thinking`.
    pub fn reasoning(mut self, reasoning: &str) -> Self {
        self.reasoning = Some(reasoning.to_owned());
        self
    }

    /// Names the OpenAI reasoning field (`"reasoning"` for OpenRouter; default
    /// `"reasoning_content"`, as vLLM, DeepSeek and llama.cpp send it).
    pub fn reasoning_field(mut self, field: &str) -> Self {
        self.reasoning_field = field.to_owned();
        self
    }

    /// Adds a tool call. OpenAI: `tool_calls[{id, type: "function", function: {name,
    /// arguments}}]` with `arguments` as this text (streamed as a first delta with index, id,
    /// type, name and empty arguments, then the arguments in chunks). Ollama:
    /// `message.tool_calls[{function: {name, arguments}}]` with `arguments` parsed into an object
    /// (kept as a string when it is not JSON).
    pub fn tool_call(mut self, id: &str, name: &str, arguments: &str) -> Self {
        self.tool_calls.push(ScriptedCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments: arguments.to_owned(),
        });
        self
    }

    /// Sets the token counts: OpenAI `usage.prompt_tokens` / `completion_tokens` (and
    /// `total_tokens`), Ollama `prompt_eval_count` / `eval_count`. Once set explicitly, a
    /// streamed OpenAI answer carries the usage chunk even if the request did not ask for it
    /// with `stream_options.include_usage` (as OpenRouter and Mistral do).
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.usage = Some((prompt_tokens, completion_tokens));
        self.usage_explicit = true;
        self
    }

    /// Sets OpenRouter's `usage.cost` (US dollars); like [`Completion::usage`], it makes the
    /// usage chunk streamed unasked. Ollama has no cost field.
    pub fn cost(mut self, cost: f64) -> Self {
        self.cost = Some(cost);
        self.usage_explicit = true;
        if self.usage.is_none() {
            self.usage = Some((10, 5));
        }
        self
    }

    /// Leaves usage out: no `usage` object (nor usage chunk) for OpenAI, no
    /// `prompt_eval_count` / `eval_count` for Ollama.
    pub fn no_usage(mut self) -> Self {
        self.usage = None;
        self.usage_explicit = false;
        self.cost = None;
        self
    }

    /// Sets `finish_reason` (OpenAI) and `done_reason` (Ollama) verbatim. Default: `"stop"`, or
    /// `"tool_calls"` for an OpenAI answer with tool calls (Ollama says `"stop"` then too).
    pub fn finish(mut self, reason: &str) -> Self {
        self.finish = Some(reason.to_owned());
        self
    }

    /// Sets the `model` field. Default: the request's `model`, else `"fake-model"`.
    pub fn model(mut self, model: &str) -> Self {
        self.model = Some(model.to_owned());
        self
    }

    /// Sets how many characters each streamed content, reasoning and arguments delta holds
    /// (default 4; split on char boundaries; 0 counts as 1).
    pub fn chunk_size(mut self, chars: usize) -> Self {
        self.chunk_size = chars.max(1);
        self
    }
}

/// What a reply does before any answer.
#[derive(Clone, Debug)]
pub(crate) enum ReplyKind {
    Completion(Completion),
    Fixed {
        status: u16,
        content_type: String,
        body: Bytes,
    },
    Hang,
    Close,
}

/// The fake server's answer to one request. Build one with a constructor, adjust it with the
/// chained methods, and queue it with [`FakeServer::push`](crate::FakeServer::push) (or
/// [`set_default`](crate::FakeServer::set_default)).
#[derive(Clone, Debug)]
pub struct Reply {
    pub(crate) kind: ReplyKind,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) hold: Option<Hold>,
    pub(crate) delay: Option<Duration>,
    pub(crate) cut_after: Option<usize>,
    pub(crate) no_done: bool,
}

impl Reply {
    fn new(kind: ReplyKind) -> Self {
        Reply {
            kind,
            headers: Vec::new(),
            hold: None,
            delay: None,
            cut_after: None,
            no_done: false,
        }
    }

    /// A 200 with a model answer, in the request's protocol (see [`Completion`]).
    pub fn completion(completion: Completion) -> Self {
        Reply::new(ReplyKind::Completion(completion))
    }

    /// Shorthand for `Reply::completion(Completion::text(text))`.
    pub fn text(text: &str) -> Self {
        Reply::completion(Completion::text(text))
    }

    /// This status with a `text/plain` body (add headers such as `Retry-After` with
    /// [`Reply::header`]).
    pub fn status(status: u16, body: &str) -> Self {
        Reply::raw(status, "text/plain; charset=utf-8", body)
    }

    /// This status with an OpenAI-style JSON error body:
    /// `{"error":{"message":..,"type":..,"code":<status>}}`, where `type` follows the status
    /// (`invalid_request_error`, `authentication_error`, `permission_error`, `not_found_error`,
    /// `rate_limit_error`, `server_error`).
    pub fn error(status: u16, message: &str) -> Self {
        let kind = match status {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            500.. => "server_error",
            _ => "invalid_request_error",
        };
        let body = serde_json::json!({ "error": { "message": message, "type": kind, "code": status } });
        Reply::raw(status, "application/json", body.to_string())
    }

    /// This status, content type and body, verbatim (e.g. a 200 whose body is not JSON, or
    /// JSON without `choices`).
    pub fn raw(status: u16, content_type: &str, body: impl AsRef<[u8]>) -> Self {
        let body = Bytes::copy_from_slice(body.as_ref());
        Reply::new(ReplyKind::Fixed {
            status,
            content_type: content_type.to_owned(),
            body,
        })
    }

    /// Reads the request and never answers: the connection stays open until the client gives up
    /// or the server is dropped. The request counts as in flight meanwhile.
    pub fn hang() -> Self {
        Reply::new(ReplyKind::Hang)
    }

    /// Reads the request and closes the connection without any response.
    pub fn close() -> Self {
        Reply::new(ReplyKind::Close)
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends only the first `n` units of the body, then aborts the connection, so the client
    /// sees an error rather than a clean end. The unit is an event for a streamed answer (one
    /// SSE `data:` event, one NDJSON line) and a byte otherwise; the headers (a full
    /// `content-length` included) are sent as usual. The connection is aborted even when the
    /// body has no more than `n` units. Ignored by [`Reply::hang`] and [`Reply::close`].
    pub fn cut_after(mut self, n: usize) -> Self {
        self.cut_after = Some(n);
        self
    }

    /// For a streamed answer, ends the body cleanly right after the content and tool-call
    /// deltas: no finish-reason chunk, no usage chunk and no `data: [DONE]` (OpenAI), no
    /// `done: true` line (Ollama).
    pub fn no_done(mut self) -> Self {
        self.no_done = true;
        self
    }

    /// Answers only once `hold` is released (before any [`Reply::delay`]); the request counts
    /// as in flight while held.
    pub fn held(mut self, hold: &Hold) -> Self {
        self.hold = Some(hold.clone());
        self
    }

    /// Waits `delay` (`tokio::time::sleep`, so paused test time skips it) before the headers.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

impl From<Completion> for Reply {
    fn from(completion: Completion) -> Self {
        Reply::completion(completion)
    }
}

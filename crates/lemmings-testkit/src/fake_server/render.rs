//! Turns a scripted reply into bytes: what the request asked for (`Exchange`), the rendered
//! response (`Rendered`), the model listings, and the body that can be cut mid-way (`ReplyBody`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use serde_json::{Value, json};

use super::reply::{Completion, Reply, ReplyKind};
use super::{InFlight, ollama, openai};

/// The `created` timestamp of every OpenAI object (fixed so bodies can be snapshotted).
pub(crate) const CREATED: u64 = 1_700_000_000;
/// The `created_at` / `modified_at` of every Ollama object.
pub(crate) const CREATED_AT: &str = "2026-01-01T00:00:00Z";

/// The request being answered, as far as rendering cares.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    pub(crate) path: &'a str,
    pub(crate) body: &'a Value,
    /// The request's number on this server, from 1 (names OpenAI completions `chatcmpl-<seq>`).
    pub(crate) seq: usize,
}

impl Exchange<'_> {
    /// The model named by the request, else `fake-model`.
    pub(crate) fn model(&self, completion: &Completion) -> String {
        completion
            .model
            .clone()
            .or_else(|| self.body.get("model").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| "fake-model".to_owned())
    }

    /// Whether the request asked for a stream; `default` when it did not say.
    pub(crate) fn streams(&self, default: bool) -> bool {
        self.body.get("stream").and_then(Value::as_bool).unwrap_or(default)
    }

    /// Whether the request asked for the usage chunk (`stream_options.include_usage`).
    pub(crate) fn include_usage(&self) -> bool {
        self.body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn is_ollama(&self) -> bool {
        self.path.ends_with("/api/chat")
    }
}

/// A response before it goes on the wire.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) payload: Payload,
}

/// A body: one piece (sent with a `content-length`) or a stream of events (sent chunked).
#[derive(Debug)]
pub(crate) enum Payload {
    Whole(Bytes),
    Events(Vec<Bytes>),
}

impl Rendered {
    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Rendered {
            status,
            content_type: "application/json".to_owned(),
            payload: Payload::Whole(body.to_string().into()),
        }
    }

    pub(crate) fn text(status: u16, body: String) -> Self {
        Rendered {
            status,
            content_type: "text/plain; charset=utf-8".to_owned(),
            payload: Payload::Whole(body.into()),
        }
    }

    /// Renders a reply that answers (not `hang` or `close`, which yield `None`).
    pub(crate) fn of(reply: &Reply, exchange: &Exchange<'_>) -> Option<Self> {
        match &reply.kind {
            ReplyKind::Completion(completion) if exchange.is_ollama() => {
                Some(ollama::render(completion, exchange, reply.no_done))
            }
            ReplyKind::Completion(completion) => Some(openai::render(completion, exchange, reply.no_done)),
            ReplyKind::Fixed {
                status,
                content_type,
                body,
            } => Some(Rendered {
                status: *status,
                content_type: content_type.clone(),
                payload: Payload::Whole(body.clone()),
            }),
            ReplyKind::Hang | ReplyKind::Close => None,
        }
    }

    /// `GET .../models` in OpenAI's list format.
    pub(crate) fn openai_models(models: &[String]) -> Self {
        let data: Vec<Value> = models
            .iter()
            .map(|id| json!({ "id": id, "object": "model", "created": CREATED, "owned_by": "fake-server" }))
            .collect();
        Rendered::json(200, &json!({ "object": "list", "data": data }))
    }

    /// `GET /api/tags` in Ollama's format.
    pub(crate) fn ollama_tags(models: &[String]) -> Self {
        let models: Vec<Value> = models
            .iter()
            .map(|name| {
                json!({
                    "name": name,
                    "model": name,
                    "modified_at": CREATED_AT,
                    "size": 1,
                    "digest": "0000000000000000000000000000000000000000000000000000000000000000",
                    "details": { "format": "gguf", "family": "fake", "parameter_size": "1B", "quantization_level": "Q4_K_M" },
                })
            })
            .collect();
        Rendered::json(200, &json!({ "models": models }))
    }
}

/// Splits `text` into pieces of `size` chars (on char boundaries).
pub(crate) fn split_chars(text: &str, size: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.char_indices().nth(size.max(1)).map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// A response body that sends its frames, then ends cleanly or, when cut, aborts the
/// connection. It stops counting its request as in flight before the last bytes leave, so a
/// client that has read the whole answer sees the server idle.
#[derive(Debug)]
pub(crate) struct ReplyBody {
    frames: VecDeque<Bytes>,
    length: Option<u64>,
    cut: Cut,
    in_flight: Option<InFlight>,
}

#[derive(Debug, PartialEq)]
enum Cut {
    No,
    /// Aborts once the frames are sent, after one pending poll so hyper flushes them first.
    Pending,
    Flushed,
}

impl ReplyBody {
    /// The body of `payload`, keeping only the first `cut_after` units (bytes of a whole body,
    /// events of a stream) and then aborting.
    pub(crate) fn new(payload: Payload, cut_after: Option<usize>, in_flight: InFlight) -> Self {
        let (mut frames, length): (VecDeque<Bytes>, _) = match payload {
            Payload::Whole(bytes) => {
                let length = bytes.len() as u64;
                let bytes = match cut_after {
                    Some(n) => bytes.slice(..n.min(bytes.len())),
                    None => bytes,
                };
                (VecDeque::from([bytes]), Some(length))
            }
            Payload::Events(events) => {
                let kept = cut_after.unwrap_or(events.len());
                (events.into_iter().take(kept).collect(), None)
            }
        };
        frames.retain(|frame| !frame.is_empty());
        let cut = if cut_after.is_some() { Cut::Pending } else { Cut::No };
        let in_flight = (!frames.is_empty() || cut != Cut::No).then_some(in_flight);
        ReplyBody {
            frames,
            length,
            cut,
            in_flight,
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(frame) = this.frames.pop_front() {
            if this.frames.is_empty() && this.cut == Cut::No {
                this.in_flight = None;
            }
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        match this.cut {
            Cut::No => Poll::Ready(None),
            Cut::Pending => {
                this.cut = Cut::Flushed;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Cut::Flushed => {
                this.in_flight = None;
                Poll::Ready(Some(Err(std::io::Error::other("fake server: body cut by the script"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.cut == Cut::No
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(length) => SizeHint::with_exact(length),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_chars;

    #[test]
    fn split_chars_respects_char_boundaries() {
        assert_eq!(split_chars("héllo wörld", 4), ["héll", "o wö", "rld"]);
        assert_eq!(split_chars("abc", 0), ["a", "b", "c"]);
        assert!(split_chars("", 4).is_empty());
    }
}

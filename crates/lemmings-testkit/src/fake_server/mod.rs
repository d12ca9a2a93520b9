//! [`FakeServer`]: a loopback HTTP/1.1 server that answers LLM requests from a script, for tests
//! of the provider code over real HTTP. It runs on the test's tokio runtime (paused time
//! included) and uses no timer except the delays a [`Reply`] asks for.
//!
//! [`FakeServer::refuse_concurrent`] makes it a server that answers one request at a time, so a
//! test can prove a client never sends two at once. [`FakeServer::respond_with`] answers by
//! request content, for clients whose requests arrive in an order that depends on timing.

mod ollama;
mod openai;
mod render;
mod reply;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use self::render::{Exchange, Payload, Rendered, ReplyBody};
pub use self::reply::{Completion, Reply};
use crate::sync::{Gauge, GaugeGuard};

/// One request the server received.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The method (`POST`, `GET`).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body: JSON, `Null` when empty, or `Value::String` of the raw text when not JSON.
    pub body: Value,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Which of the coding workflow's agents sent this chat request, by the structured output
    /// it may submit: `submit_plan` offered → `plan`; no tools at all → `report`; tools but no
    /// submit tool → `tools [..]` listing them.
    pub fn agent(&self) -> String {
        let tools: Vec<&str> = self.body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| tool.pointer("/function/name").and_then(Value::as_str))
            .collect();
        match tools.iter().find_map(|name| name.strip_prefix("submit_")) {
            Some(output) => output.to_owned(),
            None if tools.is_empty() => "report".to_owned(),
            None => format!("tools {tools:?}"),
        }
    }
}

/// A scripted LLM server on `127.0.0.1`. Each request takes the next queued [`Reply`] (else the
/// responder's answer, else the default); `GET .../models` and `GET /api/tags` answer from
/// [`FakeServer::set_models`] without consuming the queue once models are set. Clones share the
/// server; dropping the last one stops it, closing every connection. With [`FakeServer::refuse_concurrent`], a request
/// that arrives while another is being answered gets a 503 instead.
#[derive(Clone)]
pub struct FakeServer {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The accept task owns the connection tasks (a `JoinSet`), so they go with it.
        self.accept.abort();
    }
}

struct Shared {
    state: Mutex<State>,
    /// How many requests have arrived.
    arrived: watch::Sender<usize>,
    gauge: Arc<Gauge>,
}

/// Answers a request from its content (see [`FakeServer::respond_with`]).
type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Default)]
struct State {
    queue: VecDeque<Reply>,
    responder: Option<Responder>,
    default: Option<Reply>,
    models: Option<Vec<String>>,
    requests: Vec<Recorded>,
    /// Whether a request arriving while another is being answered is refused with a 503.
    refuse_concurrent: bool,
    /// How many requests are being answered (arrived and not refused, answer not yet sent).
    serving: usize,
    /// How many requests were refused for arriving while another was being answered.
    refused: usize,
}

/// What keeps a request counted while it is answered: in flight (every request) and, unless
/// it was refused, serving. Dropped when the answer's last bytes are handed over (or the
/// connection is dropped), like the in-flight count.
pub(crate) struct InFlight {
    gauge: GaugeGuard,
    serving: Option<Serving>,
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("gauge", &self.gauge)
            .field("serving", &self.serving.is_some())
            .finish()
    }
}

/// One request being answered, counted in `State::serving` until dropped.
struct Serving {
    shared: Arc<Shared>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.shared.state().serving -= 1;
    }
}

/// What to answer a request with, decided when it arrives.
enum Answer {
    Scripted(Box<Reply>),
    /// The responder's answer to this request, asked for once the server's lock is released.
    Respond(Responder, Box<Recorded>),
    Ready(Rendered),
}

impl FakeServer {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake server: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fake server: the listener has no local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            arrived: watch::Sender::new(0),
            gauge: Arc::default(),
        });
        let accept = tokio::spawn(accept(listener, Arc::clone(&shared))).abort_handle();
        FakeServer {
            inner: Arc::new(Inner { addr, shared, accept }),
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The OpenAI base URL: [`FakeServer::url`] + `/v1`.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Queues a reply; each request takes the oldest one.
    pub fn push(&self, reply: impl Into<Reply>) {
        self.state().queue.push_back(reply.into());
    }

    /// Answers each request the queue does not with `responder(request)`, so a client whose
    /// requests arrive in an order that depends on timing can be answered by what each one asks
    /// (the agent that sent it, say). The queue still comes first; the default is then never
    /// used. The responder runs on the request's connection task, without the server's lock;
    /// its reply's holds and delays apply as usual. (A responder holding a clone of the server
    /// would keep it alive: record what it needs elsewhere.)
    pub fn respond_with(&self, responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        self.state().responder = Some(Arc::new(responder));
    }

    /// Answers with (a clone of) `reply` when the queue is empty and there is no responder.
    /// Without either, an unscripted request gets a 500 `fake server: no scripted reply for
    /// <METHOD> <path>`.
    pub fn set_default(&self, reply: impl Into<Reply>) {
        self.state().default = Some(reply.into());
    }

    /// Lists these models at `GET .../models` (OpenAI) and `GET /api/tags` (Ollama).
    pub fn set_models(&self, models: Vec<String>) {
        self.state().models = Some(models);
    }

    /// Every request received, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// How many queued replies are left.
    pub fn remaining(&self) -> usize {
        self.state().queue.len()
    }

    /// Resolves once at least `n` requests have arrived (bodies read and recorded).
    pub async fn wait_for_requests(&self, n: usize) {
        let mut arrived = self.inner.shared.arrived.subscribe();
        // The sender lives as long as `self`, so the channel cannot close while we wait.
        let _ = arrived.wait_for(|arrived| *arrived >= n).await;
    }

    /// How many requests are being answered now (held, delayed, hanging or mid-body).
    pub fn in_flight(&self) -> usize {
        self.inner.shared.gauge.now()
    }

    /// The most requests that were being answered at once (refused ones included, while their
    /// 503 is sent).
    pub fn max_in_flight(&self) -> usize {
        self.inner.shared.gauge.max()
    }

    /// Answers one request at a time: a request that arrives (is read and recorded) while
    /// another is being answered (from its arrival until its answer's last bytes are handed
    /// over, holds, delays and hangs included) gets a 503 with an OpenAI-style error body
    /// (`{"error":{"message":..,"type":"server_error","code":503}}`), as a server without a
    /// free slot would. It is recorded, counted by [`FakeServer::refused`], and takes nothing
    /// from the queue. Applies to every request, model listings included.
    pub fn refuse_concurrent(&self) {
        self.state().refuse_concurrent = true;
    }

    /// How many requests [`FakeServer::refuse_concurrent`] refused.
    pub fn refused(&self) -> usize {
        self.state().refused
    }

    /// `http://127.0.0.1:<port>` of a port where nothing listens (bound, read, released).
    pub fn refused_url() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("fake server: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fake server: the listener has no local address");
        format!("http://{addr}")
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.state()
    }
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("FakeServer")
            .field("addr", &self.inner.addr)
            .field("queued", &state.queue.len())
            .field("requests", &state.requests.len())
            .finish()
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the request and picks its answer; returns its number (from 1), and its serving
    /// slot unless it was refused.
    fn arrive(self: &Arc<Self>, recorded: Recorded) -> (Answer, usize, Option<Serving>) {
        let mut state = self.state();
        if state.refuse_concurrent && state.serving > 0 {
            state.refused += 1;
            let message = format!(
                "fake server: refused {} {}: another request is being answered",
                recorded.method, recorded.path
            );
            state.requests.push(recorded);
            let seq = state.requests.len();
            drop(state);
            self.arrived.send_replace(seq);
            return (Answer::Scripted(Box::new(Reply::error(503, &message))), seq, None);
        }
        state.serving += 1;
        let listing = recorded.method == "GET" && (recorded.path.ends_with("/models") || recorded.path == "/api/tags");
        let answer = match &state.models {
            Some(models) if listing && recorded.path == "/api/tags" => Answer::Ready(Rendered::ollama_tags(models)),
            Some(models) if listing => Answer::Ready(Rendered::openai_models(models)),
            _ => match (state.queue.pop_front(), &state.responder, &state.default) {
                (Some(reply), _, _) => Answer::Scripted(Box::new(reply)),
                (None, Some(responder), _) => Answer::Respond(Arc::clone(responder), Box::new(recorded.clone())),
                (None, None, Some(default)) => Answer::Scripted(Box::new(default.clone())),
                (None, None, None) => {
                    let message = format!(
                        "fake server: no scripted reply for {} {}",
                        recorded.method, recorded.path
                    );
                    Answer::Ready(Rendered::text(500, message))
                }
            },
        };
        state.requests.push(recorded);
        let seq = state.requests.len();
        drop(state);
        // Made with the lock released: its drop takes the lock.
        let serving = Serving {
            shared: Arc::clone(self),
        };
        self.arrived.send_replace(seq);
        (answer, seq, Some(serving))
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // A failed accept (e.g. out of descriptors) affects one client; keep serving.
            tokio::task::yield_now().await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        // As real servers do: without it, Nagle's algorithm holds a response's last small write
        // until the client acknowledges the first, which costs ~40 ms per answer.
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |request| respond(Arc::clone(&shared), request));
            // Connection errors (scripted closes and cuts included) are the client's to see.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<ReplyBody>, std::io::Error> {
    let gauge = shared.gauge.enter();
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers,
        body,
    };
    let (path, body) = (recorded.path.clone(), recorded.body.clone());
    let (answer, seq, serving) = shared.arrive(recorded);
    let in_flight = InFlight { gauge, serving };
    let reply = match answer {
        Answer::Ready(rendered) => return Ok(build(rendered, &[], None, in_flight)),
        Answer::Scripted(reply) => *reply,
        Answer::Respond(responder, request) => responder(&request),
    };
    if let Some(hold) = &reply.hold {
        hold.released().await;
    }
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let exchange = Exchange {
        path: &path,
        body: &body,
        seq,
    };
    match Rendered::of(&reply, &exchange) {
        Some(rendered) => Ok(build(rendered, &reply.headers, reply.cut_after, in_flight)),
        None if matches!(reply.kind, reply::ReplyKind::Hang) => {
            let _in_flight = in_flight;
            let never = std::future::pending::<Infallible>().await;
            match never {}
        }
        // Failing the service makes hyper drop the connection without writing a response.
        None => Err(std::io::Error::other("fake server: connection closed by the script")),
    }
}

/// The response for `rendered`; scripted headers that hyper rejects become a 500 saying so.
fn build(
    rendered: Rendered,
    headers: &[(String, String)],
    cut_after: Option<usize>,
    in_flight: InFlight,
) -> Response<ReplyBody> {
    let mut builder = Response::builder()
        .status(rendered.status)
        .header("content-type", &rendered.content_type);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    match builder.body(()) {
        Ok(response) => response.map(|()| ReplyBody::new(rendered.payload, cut_after, in_flight)),
        Err(error) => {
            let message = format!("fake server: invalid scripted status or header: {error}");
            let mut response = Response::new(ReplyBody::new(Payload::Whole(message.into()), None, in_flight));
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            let content_type = http::HeaderValue::from_static("text/plain; charset=utf-8");
            response.headers_mut().insert(http::header::CONTENT_TYPE, content_type);
            response
        }
    }
}

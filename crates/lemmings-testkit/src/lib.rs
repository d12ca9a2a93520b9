//! Test doubles for Lemmings: a scripted `ChatModel` for graph and agent tests, and a loopback
//! fake LLM server that speaks the OpenAI chat-completions protocol and Ollama's `/api/chat`.
//!
//! - [`ScriptedModel`] answers from a queue of steps (text, tool calls, failures, closures),
//!   records every request and streams its answers to a token sink. No I/O.
//! - [`FakeServer`] is a real HTTP/1.1 server on `127.0.0.1` for the provider adapters: queue
//!   [`Reply`]s (a [`Completion`] rendered in the request's protocol, error statuses, raw bodies,
//!   hangs, closed connections, bodies cut mid-stream) or answer each request by its content
//!   (`FakeServer::respond_with`), then read back each [`Recorded`] request.
//! - [`Hold`] gates replies of either, so concurrency tests observe requests in flight without
//!   sleeping.
//!
//! Everything runs on the test's tokio runtime and works under paused time
//! (`#[tokio::test(start_paused = true)]`): the only timers are the delays a test scripts.
//! This crate is for tests (as a dev-dependency) and for the multi-model benchmark in
//! lemmings-bench; nothing the product ships depends on it.

mod fake_server;
mod scripted;
mod sync;

pub use fake_server::{Completion, FakeServer, Recorded, Reply};
pub use scripted::ScriptedModel;
pub use sync::Hold;

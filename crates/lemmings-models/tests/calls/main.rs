//! Model calls over real HTTP against the loopback fake LLM server (lemmings-testkit): every
//! provider's protocol, the faults of the reliability plan's T4 under paused time, the layers
//! (gate, fallback, breaker, retry budget). The secrecy of API keys is
//! tested in its own binary (`secrets.rs`), which owns the process's tracing subscriber.

mod common;
mod faults;
mod layers;
mod probes;
mod protocols;

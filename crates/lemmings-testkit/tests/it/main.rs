//! Integration tests of the testkit: the fake server over real loopback TCP (protocol bytes,
//! misbehaviour, bookkeeping), the scripted model, and model tokens reaching a graph's message
//! stream.

mod client;
mod fake_server_behaviour;
mod fake_server_protocols;
mod graph_stream;
mod scripted;

//! Integration tests of lemmings-graph: one binary, one module per concern.

mod common;
mod smoke;

//! Integration tests of lemmings-graph: one binary, one module per concern.

mod common;
mod compile_draw;
mod context;
mod engine;
mod group_commit;
mod property;
mod scenarios_a;
mod scenarios_b;
mod smoke;
mod subgraphs;

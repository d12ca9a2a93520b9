//! End-to-end tests of the `lemmings` binary: real processes with a clean environment in temp
//! directories, real HTTP to loopback fake LLM servers, snapshots of their normalised output.
//!
//! - `help`: `--help` of every command, the graph drawings, clap's usage errors.
//! - `workflow`: a whole run over HTTP, then `threads`, `history`, `show`, `prune`, `resume`;
//!   the `--json` event stream.
//! - `crash`: kill -9 and Ctrl-C in the middle of a model call, then `resume` finishes the job.
//! - `servers`: a primary that is down, and `models check`.
//! - `errors`: every bad input is one `error:` line and exit 2, never a panic.
//! - `config`: `config show`, secrets redacted.
//! - `demo`: `lemmings demo` with its built-in scripted models.

mod common;
mod config;
mod crash;
mod demo;
mod errors;
mod help;
mod servers;
mod workflow;

//! The coding workflow's deterministic core: the state ([`state`]), the agents' structured
//! outputs ([`outputs`]), every control decision ([`control`]: the deterministic nodes, the
//! routers, the honest outcome and the agents' prompt sections), the verify step ([`verify`])
//! and what `[run]` of `config.toml` sets ([`settings`]). The graph wiring builds on these;
//! nothing here calls a model.

pub mod control;
pub mod graph;
pub mod outputs;
pub mod settings;
pub mod state;
pub mod verify;

//! The conformance suite every [`Checkpointer`](crate::Checkpointer) must pass (being written).

//! The checkpointer conformance suite on a real SQLite file per check.

use std::sync::Arc;

use lemmings_graph::Checkpointer;
use lemmings_store::{SqliteOptions, SqliteStore};

lemmings_graph::checkpointer_conformance!(async {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("lemmings.db"), SqliteOptions::create())
        .await
        .expect("the store opens");
    (Arc::new(store) as Arc<dyn Checkpointer>, dir)
});

//! The node cache (LangGraph's `CachePolicy`): a node whose input was seen before is skipped and
//! its saved writes are replayed.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::Instant;

/// Caches a node's writes by a hash of its input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long an entry lives; `None`: until cleared.
    pub ttl: Option<Duration>,
}

impl CachePolicy {
    /// Entries that never expire.
    pub fn new() -> Self {
        CachePolicy::default()
    }

    /// Entries that expire after `ttl`.
    pub fn ttl(ttl: Duration) -> Self {
        CachePolicy { ttl: Some(ttl) }
    }
}

/// Identifies a cached result: the graph and node, and the hash of the input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The graph's name and the node's name, `graph:node`.
    pub node: String,
    /// The input's hash.
    pub input: String,
}

/// Where cached writes live. [`InMemoryCache`] keeps them in the process.
#[async_trait]
pub trait Cache: Send + Sync + fmt::Debug + 'static {
    /// The writes saved under `key`, if any and not expired.
    async fn get(&self, key: &CacheKey) -> Option<Vec<(String, Bytes)>>;
    /// Saves writes under `key`.
    async fn set(&self, key: CacheKey, writes: Vec<(String, Bytes)>, ttl: Option<Duration>);
    /// Forgets the entries of these nodes (`graph:node`), or all entries.
    async fn clear(&self, nodes: Option<&[String]>);
}

type Entries = HashMap<CacheKey, (Vec<(String, Bytes)>, Option<Instant>)>;

/// A cache in a mutex-guarded map; expiry follows tokio's clock (so paused-time tests work).
#[derive(Debug, Default)]
pub struct InMemoryCache {
    entries: Mutex<Entries>,
}

impl InMemoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        InMemoryCache::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Cache for InMemoryCache {
    async fn get(&self, key: &CacheKey) -> Option<Vec<(String, Bytes)>> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((_, Some(expires))) if *expires <= Instant::now() => {
                entries.remove(key);
                None
            }
            Some((writes, _)) => Some(writes.clone()),
            None => None,
        }
    }

    async fn set(&self, key: CacheKey, writes: Vec<(String, Bytes)>, ttl: Option<Duration>) {
        let expires = ttl.map(|ttl| Instant::now() + ttl);
        self.lock().insert(key, (writes, expires));
    }

    async fn clear(&self, nodes: Option<&[String]>) {
        match nodes {
            Some(nodes) => self.lock().retain(|key, _| !nodes.contains(&key.node)),
            None => self.lock().clear(),
        }
    }
}

//! What one child process runs: a scenario name and its parameters ([`Spec`], passed as JSON
//! after `--child`), and the list of variants of a whole run, full or `--quick`, with the counts
//! of SCENARIOS.md.

use lemmings_graph::Durability;
use serde::{Deserialize, Serialize};

use crate::Fallible;

/// A scenario variant: what `--child` takes and what every output row starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) params: Params,
}

/// The parameters of every scenario; each uses some. Serialised in declaration order, which
/// keeps each scenario's parameters in `bench.py`'s order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Params {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) commits: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) blob_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nodes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) n: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) branches: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) depth: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) steps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_messages: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) msg_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fail_at: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) invokes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) history_reps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) get_state_reps: Option<usize>,
    /// `none` or `sqlite`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) checkpointer: Option<String>,
    /// `async`, `sync` or `exit`; always given with a store (Lemmings' own default is `sync`,
    /// LangGraph's `async`, and "default durability" in SCENARIOS.md means LangGraph's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) durability: Option<String>,
    /// `start` or `end`, for the commit floor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) when: Option<String>,
}

/// A required parameter.
pub(crate) fn need(value: Option<usize>, name: &str) -> Fallible<usize> {
    value.ok_or_else(|| format!("missing parameter `{name}`").into())
}

impl Params {
    /// Whether the variant uses the SQLite store.
    pub(crate) fn sqlite(&self) -> Fallible<bool> {
        match self.checkpointer.as_deref().unwrap_or("none") {
            "none" => Ok(false),
            "sqlite" => Ok(true),
            other => Err(format!("unknown checkpointer `{other}` (none, sqlite)").into()),
        }
    }

    /// The durability mode (`async` when not given: LangGraph's default).
    pub(crate) fn durability(&self) -> Fallible<Durability> {
        match self.durability.as_deref().unwrap_or("async") {
            "async" => Ok(Durability::Async),
            "sync" => Ok(Durability::Sync),
            "exit" => Ok(Durability::Exit),
            other => Err(format!("unknown durability `{other}` (async, sync, exit)").into()),
        }
    }
}

/// The bytes of one `state_size` message.
pub(crate) const MSG_BYTES: usize = 1024;

fn spec(name: &str, params: Params) -> Spec {
    Spec {
        name: name.to_owned(),
        params,
    }
}

fn sqlite(durability: &str) -> (Option<String>, Option<String>) {
    (Some("sqlite".into()), Some(durability.into()))
}

fn none() -> (Option<String>, Option<String>) {
    (Some("none".into()), None)
}

/// Every variant of a run, in `bench.py`'s order (the startup rows are timed by the driver).
pub(crate) fn variants(quick: bool) -> Vec<Spec> {
    let q = |full: usize, quick_count: usize| Some(if quick { quick_count } else { full });
    let floor = |when: &str| {
        spec(
            "sqlite_commit_floor",
            Params {
                commits: q(1000, 200),
                blob_bytes: Some(4096),
                checkpointer: Some("none".into()),
                when: Some(when.into()),
                ..Params::default()
            },
        )
    };
    let mut v = vec![floor("start")];
    let chain = |(checkpointer, durability)| Params {
        nodes: Some(100),
        invokes: q(20, 3),
        checkpointer,
        durability,
        ..Params::default()
    };
    v.push(spec("chain_nocp", chain(none())));
    for durability in ["async", "sync", "exit"] {
        v.push(spec("chain_sqlite", chain(sqlite(durability))));
    }
    let fanout: &[(usize, usize)] = if quick {
        &[(100, 2), (1000, 1)]
    } else {
        &[(100, 10), (1000, 3), (10_000, 1)]
    };
    for &(n, invokes) in fanout {
        for (checkpointer, durability) in [none(), sqlite("async")] {
            let params = Params {
                n: Some(n),
                invokes: Some(invokes),
                checkpointer,
                durability,
                ..Params::default()
            };
            v.push(spec("fanout", params));
        }
    }
    for (checkpointer, durability) in [none(), sqlite("async"), sqlite("sync")] {
        let params = Params {
            nodes: Some(20),
            max_messages: q(2000, 200),
            msg_bytes: Some(MSG_BYTES),
            checkpointer,
            durability,
            ..Params::default()
        };
        v.push(spec("state_size", params));
    }
    let (checkpointer, durability) = sqlite("async");
    v.push(spec(
        "resume",
        Params {
            nodes: Some(50),
            fail_at: Some(40),
            reps: q(10, 2),
            checkpointer: checkpointer.clone(),
            durability: durability.clone(),
            ..Params::default()
        },
    ));
    v.push(spec(
        "history",
        Params {
            steps: q(1000, 100),
            history_reps: q(3, 1),
            get_state_reps: q(50, 5),
            checkpointer,
            durability,
            ..Params::default()
        },
    ));
    for (checkpointer, durability) in [none(), sqlite("async")] {
        let params = Params {
            branches: Some(8),
            depth: Some(10),
            invokes: q(20, 3),
            checkpointer,
            durability,
            ..Params::default()
        };
        v.push(spec("parallel_branches", params));
    }
    v.push(floor("end"));
    v
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::{Spec, variants};

    fn render(quick: bool) -> String {
        variants(quick)
            .iter()
            .map(|s| format!("{} {}\n", s.name, serde_json::to_string(&s.params).unwrap()))
            .collect()
    }

    #[test]
    fn full_counts_are_those_of_scenarios_md() {
        expect![[r#"
            sqlite_commit_floor {"commits":1000,"blob_bytes":4096,"checkpointer":"none","when":"start"}
            chain_nocp {"nodes":100,"invokes":20,"checkpointer":"none"}
            chain_sqlite {"nodes":100,"invokes":20,"checkpointer":"sqlite","durability":"async"}
            chain_sqlite {"nodes":100,"invokes":20,"checkpointer":"sqlite","durability":"sync"}
            chain_sqlite {"nodes":100,"invokes":20,"checkpointer":"sqlite","durability":"exit"}
            fanout {"n":100,"invokes":10,"checkpointer":"none"}
            fanout {"n":100,"invokes":10,"checkpointer":"sqlite","durability":"async"}
            fanout {"n":1000,"invokes":3,"checkpointer":"none"}
            fanout {"n":1000,"invokes":3,"checkpointer":"sqlite","durability":"async"}
            fanout {"n":10000,"invokes":1,"checkpointer":"none"}
            fanout {"n":10000,"invokes":1,"checkpointer":"sqlite","durability":"async"}
            state_size {"nodes":20,"max_messages":2000,"msg_bytes":1024,"checkpointer":"none"}
            state_size {"nodes":20,"max_messages":2000,"msg_bytes":1024,"checkpointer":"sqlite","durability":"async"}
            state_size {"nodes":20,"max_messages":2000,"msg_bytes":1024,"checkpointer":"sqlite","durability":"sync"}
            resume {"nodes":50,"fail_at":40,"reps":10,"checkpointer":"sqlite","durability":"async"}
            history {"steps":1000,"history_reps":3,"get_state_reps":50,"checkpointer":"sqlite","durability":"async"}
            parallel_branches {"branches":8,"depth":10,"invokes":20,"checkpointer":"none"}
            parallel_branches {"branches":8,"depth":10,"invokes":20,"checkpointer":"sqlite","durability":"async"}
            sqlite_commit_floor {"commits":1000,"blob_bytes":4096,"checkpointer":"none","when":"end"}
        "#]]
        .assert_eq(&render(false));
    }

    #[test]
    fn quick_counts_are_those_of_bench_py() {
        expect![[r#"
            sqlite_commit_floor {"commits":200,"blob_bytes":4096,"checkpointer":"none","when":"start"}
            chain_nocp {"nodes":100,"invokes":3,"checkpointer":"none"}
            chain_sqlite {"nodes":100,"invokes":3,"checkpointer":"sqlite","durability":"async"}
            chain_sqlite {"nodes":100,"invokes":3,"checkpointer":"sqlite","durability":"sync"}
            chain_sqlite {"nodes":100,"invokes":3,"checkpointer":"sqlite","durability":"exit"}
            fanout {"n":100,"invokes":2,"checkpointer":"none"}
            fanout {"n":100,"invokes":2,"checkpointer":"sqlite","durability":"async"}
            fanout {"n":1000,"invokes":1,"checkpointer":"none"}
            fanout {"n":1000,"invokes":1,"checkpointer":"sqlite","durability":"async"}
            state_size {"nodes":20,"max_messages":200,"msg_bytes":1024,"checkpointer":"none"}
            state_size {"nodes":20,"max_messages":200,"msg_bytes":1024,"checkpointer":"sqlite","durability":"async"}
            state_size {"nodes":20,"max_messages":200,"msg_bytes":1024,"checkpointer":"sqlite","durability":"sync"}
            resume {"nodes":50,"fail_at":40,"reps":2,"checkpointer":"sqlite","durability":"async"}
            history {"steps":100,"history_reps":1,"get_state_reps":5,"checkpointer":"sqlite","durability":"async"}
            parallel_branches {"branches":8,"depth":10,"invokes":3,"checkpointer":"none"}
            parallel_branches {"branches":8,"depth":10,"invokes":3,"checkpointer":"sqlite","durability":"async"}
            sqlite_commit_floor {"commits":200,"blob_bytes":4096,"checkpointer":"none","when":"end"}
        "#]]
        .assert_eq(&render(true));
    }

    #[test]
    fn a_spec_round_trips_and_unknown_parameters_are_refused() {
        for spec in variants(false) {
            let text = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<Spec>(&text).unwrap(), spec);
        }
        let error = serde_json::from_str::<Spec>(r#"{"name": "chain_nocp", "params": {"nodez": 3}}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `nodez`"), "{error}");
    }
}

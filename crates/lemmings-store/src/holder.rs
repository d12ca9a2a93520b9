//! Who holds a lease, and whether that holder is still alive: a process on this host that is
//! gone (or a zombie, or a different process reusing its pid) is dead at once; a holder on
//! another host is dead when its heartbeat is older than the lease's time to live. Also the
//! refusals both backends give when a lease stands in the way.

use std::time::Duration;

use lemmings_graph::Timestamp;

use crate::error::StoreError;

/// This process, as a lease holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Holder {
    pub(crate) host: String,
    pub(crate) pid: u32,
    /// The process start time in clock ticks since boot (`/proc/<pid>/stat` field 22), which
    /// tells a pid reused by a new process apart; 0 when unknown.
    pub(crate) started: i64,
}

impl Holder {
    pub(crate) fn current() -> Holder {
        let pid = std::process::id();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".to_owned());
        Holder {
            host,
            pid,
            started: process_start(pid).unwrap_or(0),
        }
    }

    /// How the holder is named in messages.
    pub(crate) fn describe(&self) -> String {
        format!("pid {} on host {}", self.pid, self.host)
    }
}

/// The start time and state of a process, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, i64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: parse after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the whole line is the start time; after "pid (comm)" it is index 19.
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

fn process_start(pid: u32) -> Option<i64> {
    stat(pid).map(|(_, started)| started)
}

/// A lease row as the liveness check needs it.
#[derive(Clone, Debug)]
pub(crate) struct LeaseRow {
    pub(crate) epoch: u64,
    pub(crate) holder: String,
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) started: i64,
    pub(crate) heartbeat_at: u64,
    pub(crate) released: bool,
}

impl LeaseRow {
    /// Whether the lease still binds: not released, and its holder alive.
    pub(crate) fn is_live(&self, me: &Holder, ttl: Duration, now: Timestamp) -> bool {
        if self.released {
            return false;
        }
        if self.host == me.host {
            // On this host, ask the kernel: gone, a zombie, or another process under the same
            // pid all mean the holder died.
            return match stat(self.pid) {
                Some((state, started)) => state != 'Z' && (self.started == 0 || started == self.started),
                None => false,
            };
        }
        let age = now.as_millis().saturating_sub(self.heartbeat_at);
        u128::from(age) < ttl.as_millis()
    }

    /// The refusal of a write or a lease while this live holder runs the thread.
    pub(crate) fn locked(self, thread: &str) -> StoreError {
        StoreError::Locked {
            thread_id: thread.to_owned(),
            holder: self.holder,
            epoch: self.epoch,
        }
    }
}

/// The refusal of a write whose lease was taken over, naming the lease as it is now (`None`:
/// its row was deleted).
pub(crate) fn fenced(thread: &str, now: Option<LeaseRow>) -> StoreError {
    match now {
        Some(row) => StoreError::Fenced {
            thread_id: thread.to_owned(),
            holder: row.holder,
            epoch: row.epoch,
        },
        None => StoreError::Fenced {
            thread_id: thread.to_owned(),
            holder: "nobody (the lease was deleted)".to_owned(),
            epoch: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(me: &Holder) -> LeaseRow {
        LeaseRow {
            epoch: 1,
            holder: me.describe(),
            host: me.host.clone(),
            pid: me.pid,
            started: me.started,
            heartbeat_at: 0,
            released: false,
        }
    }

    #[test]
    fn this_process_is_alive_and_released_leases_are_not() {
        let me = Holder::current();
        assert!(me.started > 0, "the start time is read from /proc");
        let ttl = Duration::from_secs(30);
        assert!(row(&me).is_live(&me, ttl, Timestamp::now()));
        assert!(
            !LeaseRow {
                released: true,
                ..row(&me)
            }
            .is_live(&me, ttl, Timestamp::now())
        );
    }

    #[test]
    fn a_reused_pid_or_a_missing_process_is_dead() {
        let me = Holder::current();
        let ttl = Duration::from_secs(30);
        assert!(
            !LeaseRow {
                started: me.started + 1,
                ..row(&me)
            }
            .is_live(&me, ttl, Timestamp::now())
        );
        assert!(
            !LeaseRow {
                pid: u32::MAX - 7,
                ..row(&me)
            }
            .is_live(&me, ttl, Timestamp::now())
        );
    }

    #[test]
    fn other_hosts_live_while_their_heartbeat_is_fresh() {
        let me = Holder::current();
        let ttl = Duration::from_secs(30);
        let remote = LeaseRow {
            host: "elsewhere".into(),
            heartbeat_at: 100_000,
            ..row(&me)
        };
        assert!(remote.is_live(&me, ttl, Timestamp::from_millis(129_999)));
        assert!(!remote.is_live(&me, ttl, Timestamp::from_millis(130_000)));
    }
}

//! The process group of one command: its leader (the spawned child, which leads a new group),
//! signals to the whole group, the live members found in `/proc`, and the guard that kills the
//! group when the call is dropped.
//!
//! Invariant: the leader is reaped only after the group is dead. A zombie leader keeps its
//! pid, and so the group id, from being reused, so every signal sent to the group reaches this
//! command's processes and nothing else.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use tokio::process::Child;
use tokio::time::{Instant, sleep, sleep_until};

/// How often the leader's exit is checked at first; the interval doubles up to [`POLL_MAX`].
const POLL_MIN: Duration = Duration::from_millis(1);
/// How often the leader's exit and the group's members are checked at most.
const POLL_MAX: Duration = Duration::from_millis(20);

/// A spawned command's process group. Dropping it SIGKILLs the group, so a cancelled call
/// leaves nothing running.
#[derive(Debug)]
pub(super) struct Group {
    child: Child,
    pgid: Pid,
    armed: bool,
}

impl Group {
    /// The group led by `child`, spawned with `process_group(0)`; `None` when it has no pid.
    pub(super) fn new(child: Child) -> Option<Self> {
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw)?;
        Some(Group {
            child,
            pgid,
            armed: true,
        })
    }

    /// The group id (the leader's pid).
    pub(super) fn pgid(&self) -> i32 {
        self.pgid.as_raw_pid()
    }

    /// The spawned child, for its pipes.
    pub(super) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Resolves when the leader has exited, without reaping it.
    pub(super) async fn leader_exit(&self) {
        let mut interval = POLL_MIN;
        loop {
            match rustix::process::waitid(
                WaitId::Pid(self.pgid),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG,
            ) {
                Ok(None) => {}
                Err(error) if error == rustix::io::Errno::INTR => {}
                // Exited, or no longer our child to wait for: either way it is not running.
                Ok(Some(_)) | Err(_) => return,
            }
            sleep(interval).await;
            interval = (interval * 2).min(POLL_MAX);
        }
    }

    /// Sends `signal` to every process of the group.
    pub(super) fn signal(&self, signal: Signal) {
        if let Err(error) = rustix::process::kill_process_group(self.pgid, signal) {
            tracing::debug!(pgid = self.pgid(), ?signal, %error, "signalling the process group failed");
        }
    }

    /// How many processes of the group are alive (zombies do not count).
    pub(super) fn live_members(&self) -> usize {
        live_members(self.pgid.as_raw_pid())
    }

    /// Resolves when no process of the group is alive.
    pub(super) async fn until_dead(&self) {
        while self.live_members() > 0 {
            sleep(POLL_MAX).await;
        }
    }

    /// SIGKILLs the group until no member is alive, for at most `bound`; returns how many
    /// members survived (normally none: only a process stuck in the kernel outlives SIGKILL).
    pub(super) async fn kill_remaining(&self, bound: Duration) -> usize {
        let deadline = Instant::now() + bound;
        loop {
            let live = self.live_members();
            if live == 0 {
                return 0;
            }
            if Instant::now() >= deadline {
                tracing::warn!(pgid = self.pgid(), live, "processes of a command survived SIGKILL");
                return live;
            }
            self.signal(Signal::KILL);
            sleep_until((Instant::now() + POLL_MAX).min(deadline)).await;
        }
    }

    /// Reaps the leader, which has exited; the group is dead or given up on, so the guard is
    /// disarmed first (after reaping, the group id may be reused).
    pub(super) async fn reap(mut self) -> io::Result<ExitStatus> {
        self.armed = false;
        match self.child.try_wait()? {
            Some(status) => Ok(status),
            None => self.child.wait().await,
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            // The call was dropped (or failed) before the group was dead; the leader is not
            // reaped yet, so the group id is still this command's.
            let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
        }
    }
}

/// The live (not zombie) processes whose process group is `pgid`, from `/proc/*/stat`. When
/// `/proc` cannot be read, whether the group exists at all (zombies included).
pub(super) fn live_members(pgid: i32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return match Pid::from_raw(pgid) {
            Some(pid) => usize::from(rustix::process::test_kill_process_group(pid).is_ok()),
            None => 0,
        };
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            parse_stat(stat).is_some_and(|(state, group)| group == pgid && !matches!(state, 'Z' | 'X' | 'x'))
        })
        .count()
}

/// The state and the process group of a `/proc/<pid>/stat` line: `pid (comm) state ppid pgrp ...`,
/// where `comm` may hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        assert_eq!(parse_stat("123 (sleep) S 1 123 123 0 -1"), Some(('S', 123)));
        assert_eq!(parse_stat("7 (a) b) (c) Z 1 42 42"), Some(('Z', 42)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn finds_this_process_group() {
        let own = rustix::process::getpgrp().as_raw_pid();
        assert!(live_members(own) >= 1);
    }
}

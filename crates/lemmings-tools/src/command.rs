//! Running allowed commands in the workspace with a time limit, an output cap and a scrubbed environment.
//!
//! [`run`] starts one program (never a shell) in a new process group, reads its output into
//! a bounded start-and-end capture, and makes sure that no process of the group outlives the
//! call, whether the command finished, timed out or the call was dropped:
//!
//! 1. wait for the leader to exit, or for the time limit;
//! 2. if any process of the group is alive (all of them on a timeout, background leftovers
//!    otherwise), SIGTERM the group and give it the policy's grace;
//! 3. SIGKILL whatever is left until `/proc` shows no live member;
//! 4. read what is left in the pipes, but not forever: a process that escaped the group
//!    (`setsid`) may hold them open;
//! 5. reap the leader, only now (see the invariant in `group`).
//!
//! [`RunCommand`] is the `run_command` tool on top: it parses the model's command string with
//! [`CommandPolicy::parse`] and returns [`CommandOutcome::render`] as text.
//!
//! Limitation: a process that leaves the group (`setsid`, `setpgid`) is out of reach; a cgroup
//! would catch it, but needs privileges the agent does not have.

mod capture;
mod group;
mod outcome;
mod policy;
mod tool;

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::Signal;
use tokio::time::{Instant, sleep, sleep_until};

use capture::{Capture, pump};
use group::Group;
pub(crate) use outcome::format_bytes;
pub use outcome::{CommandOutcome, Exit, StreamOutput};
pub use policy::{CommandPolicy, REDACTED};
pub use tool::{RunCommand, RunCommandArgs};

/// How long SIGKILL gets to take effect before the survivors are reported.
const KILL_BOUND: Duration = Duration::from_secs(1);
/// How long the pipes are read once the group is dead.
const DRAIN_BOUND: Duration = Duration::from_millis(500);

/// Why a command did not run. Messages say what to do; none is retryable as such (the same
/// command would fail the same way), except a spawn failure for lack of resources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The command string was empty.
    #[error(
        "the command is empty; send one program and its arguments ({})",
        allowed_list(allowed)
    )]
    Empty {
        /// The allowed commands.
        allowed: Vec<String>,
    },
    /// The command string could not be split into words.
    #[error(
        "cannot parse `{}`: {reason}; quote arguments with matching ' or \" quotes",
        one_line(command)
    )]
    Parse {
        /// The command string.
        command: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The command string uses shell syntax, and no shell runs it.
    #[error(
        "`{}` uses {}, but run_command runs one program without a shell (no pipes, redirections, `&&`, \
         `;` or substitutions); run the commands one per call",
        one_line(command),
        describe_operator(operator)
    )]
    NeedsShell {
        /// The command string.
        command: String,
        /// The first shell operator in it.
        operator: String,
    },
    /// The command is not on the allow-list.
    #[error("`{command}` is not allowed; {}", allowed_list(allowed))]
    NotAllowed {
        /// The command, as words joined.
        command: String,
        /// The allowed commands.
        allowed: Vec<String>,
    },
    /// The working directory is unusable.
    #[error("cannot run commands in `{}`: {source}", path.display())]
    Workspace {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The program could not be started.
    #[error("cannot start `{program}`: {}", describe_spawn_error(source))]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// The program's exit status could not be read.
    #[error("cannot read the exit status of `{program}`: {source}")]
    Wait {
        /// The program.
        program: String,
        /// Why.
        source: io::Error,
    },
}

impl CommandError {
    /// Whether the same call may succeed later (the system was out of processes or memory).
    pub fn is_retryable(&self) -> bool {
        match self {
            CommandError::Spawn { source, .. } => {
                matches!(
                    source.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::OutOfMemory | io::ErrorKind::Interrupted
                )
            }
            _ => false,
        }
    }
}

fn allowed_list(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "no commands are allowed in this configuration".to_owned()
    } else {
        format!("allowed: {}", allowed.join(", "))
    }
}

/// `command` with its line breaks shown as `\n`, to keep the message on one line.
fn one_line(command: &str) -> String {
    command.replace('\n', "\\n")
}

fn describe_operator(operator: &str) -> String {
    if operator == "\n" {
        "a line break".to_owned()
    } else {
        format!("`{operator}`")
    }
}

fn describe_spawn_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such program (is it installed and on PATH?)".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied (is it an executable file?)".to_owned(),
        _ => error.to_string(),
    }
}

/// Runs `argv` in `cwd` under `policy`: allowed commands only, no shell, stdin empty, the
/// scrubbed environment, the time limit `timeout` (the policy's when `None`, and never more),
/// then SIGTERM and, after the grace, SIGKILL to the whole process group. A non-zero exit is
/// an outcome, not an error. Dropping the future kills the process group. Time is tokio's
/// clock: run it under real time (a paused test clock would end the limit at once).
pub async fn run(
    policy: &CommandPolicy,
    cwd: &Path,
    argv: &[String],
    timeout: Option<Duration>,
) -> Result<CommandOutcome, CommandError> {
    let Some(program) = argv.first() else {
        return Err(CommandError::Empty {
            allowed: policy.allowed_commands(),
        });
    };
    if !policy.allows(argv) {
        return Err(CommandError::NotAllowed {
            command: shell_words::join(argv),
            allowed: policy.allowed_commands(),
        });
    }
    match std::fs::metadata(cwd) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            let source = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
            return Err(CommandError::Workspace {
                path: cwd.to_owned(),
                source,
            });
        }
        Err(source) => {
            return Err(CommandError::Workspace {
                path: cwd.to_owned(),
                source,
            });
        }
    }
    let limit = timeout.map_or(policy.timeout, |timeout| timeout.min(policy.timeout));

    // A relative path with a slash names a file in the workspace, not wherever we are.
    let executable = if program.contains('/') {
        cwd.join(program)
    } else {
        PathBuf::from(program)
    };
    let mut command = tokio::process::Command::new(executable);
    command
        .args(&argv[1..])
        .current_dir(cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env_clear()
        .envs(policy.environment(std::env::vars_os()));

    let start = Instant::now();
    let spawn_error = |source| CommandError::Spawn {
        program: program.clone(),
        source,
    };
    let child = command.spawn().map_err(spawn_error)?;
    let mut group = Group::new(child).ok_or_else(|| spawn_error(io::Error::other("the process has no id")))?;
    let pgid = group.pgid();
    tracing::debug!(pgid, command = %shell_words::join(argv), limit = ?limit, "command started");

    let stdout_pipe = group.child_mut().stdout.take();
    let stderr_pipe = group.child_mut().stderr.take();
    let mut stdout = Capture::new(policy.max_output_bytes);
    let mut stderr = Capture::new(policy.max_output_bytes);
    let (timed_out, survivors) = {
        let reading = async {
            tokio::join!(pump(stdout_pipe, &mut stdout), pump(stderr_pipe, &mut stderr));
        };
        let mut output = Output {
            reading: std::pin::pin!(reading),
            done: false,
        };
        supervise(&group, &mut output, start + limit, policy.grace).await
    };
    let status = group.reap().await.map_err(|source| CommandError::Wait {
        program: program.clone(),
        source,
    })?;
    let duration = start.elapsed();

    let exit = match (timed_out, status.code(), status.signal()) {
        (true, _, _) => Exit::TimedOut,
        (false, Some(code), _) => Exit::Code(code),
        (false, None, Some(signal)) => Exit::Signal(signal),
        (false, None, None) => Exit::Code(-1),
    };
    let stdout = stdout.finish(|text| policy.redact(text));
    let stderr = stderr.finish(|text| policy.redact(text));
    tracing::debug!(
        pgid,
        ?exit,
        ?duration,
        stdout = stdout.bytes,
        stderr = stderr.bytes,
        "command finished"
    );
    Ok(CommandOutcome {
        argv: argv.to_vec(),
        exit,
        truncated: stdout.truncated || stderr.truncated,
        stdout,
        stderr,
        duration,
        limit,
        max_limit: policy.timeout,
        pgid,
        survivors,
    })
}

/// Steps 1 to 4 of the module docs; returns whether the limit expired and how many processes
/// survived.
async fn supervise<F: Future<Output = ()>>(
    group: &Group,
    output: &mut Output<'_, F>,
    deadline: Instant,
    grace: Duration,
) -> (bool, usize) {
    let exited = output
        .while_reading(async {
            tokio::select! {
                () = group.leader_exit() => true,
                () = sleep_until(deadline) => false,
            }
        })
        .await;
    if !exited || group.live_members() > 0 {
        group.signal(Signal::TERM);
        let grace_end = Instant::now() + grace;
        output
            .while_reading(async {
                tokio::select! {
                    () = group.until_dead() => {}
                    () = sleep_until(grace_end) => {}
                }
            })
            .await;
    }
    let survivors = output.while_reading(group.kill_remaining(KILL_BOUND)).await;
    if !output.drain(DRAIN_BOUND).await {
        tracing::warn!(
            pgid = group.pgid(),
            "a process outside the command's group holds its output open"
        );
    }
    (!exited, survivors)
}

/// The readers of both pipes, polled alongside whatever the call waits for, so a command never
/// blocks on a full pipe.
struct Output<'a, F> {
    reading: Pin<&'a mut F>,
    done: bool,
}

impl<F: Future<Output = ()>> Output<'_, F> {
    /// Waits for `until` while reading.
    async fn while_reading<T>(&mut self, until: impl Future<Output = T>) -> T {
        let mut until = std::pin::pin!(until);
        loop {
            tokio::select! {
                biased;
                value = &mut until => return value,
                () = self.reading.as_mut(), if !self.done => self.done = true,
            }
        }
    }

    /// Reads until both pipes end or `bound` passes; whether they ended.
    async fn drain(&mut self, bound: Duration) -> bool {
        if !self.done {
            tokio::select! {
                () = self.reading.as_mut() => self.done = true,
                () = sleep(bound) => {}
            }
        }
        self.done
    }
}

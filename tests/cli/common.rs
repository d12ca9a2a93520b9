//! What every test of the binary shares: a temp directory with a workspace and a config, and
//! the `lemmings` process started with a clean environment (its output captured in files, so a
//! test can signal it while it runs); the output normalised for snapshots (`normalise`); the
//! fake LLM servers, their config and the primary's script of one whole run (`llm`).

mod llm;
mod normalise;

pub(crate) use self::llm::*;
pub(crate) use self::normalise::*;

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long any one `lemmings` process may take before the test kills it and fails: a safety
/// net against a hanging binary, never a way to wait for something.
pub(crate) const WATCHDOG: Duration = Duration::from_secs(60);

/// A temp directory holding the workspace (`<tmp>/ws`), the config files and the captured
/// output; the `lemmings` processes run with it as their current directory.
#[derive(Debug)]
pub(crate) struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("a temp dir");
        // The binary prints canonical paths; so must the normaliser look for them.
        let root = dir.path().canonicalize().expect("the temp dir resolves");
        std::fs::create_dir(root.join("ws")).expect("the workspace is created");
        Scratch { _dir: dir, root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The workspace directory, empty at first.
    pub(crate) fn ws(&self) -> PathBuf {
        self.root.join("ws")
    }

    pub(crate) fn ws_arg(&self) -> String {
        self.ws().display().to_string()
    }

    /// The default database of the workspace.
    pub(crate) fn db(&self) -> PathBuf {
        self.ws().join(".lemmings").join("lemmings.db")
    }

    /// Writes `text` to `<tmp>/<name>` and returns its path as an argument.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let path = self.root.join(name);
        std::fs::write(&path, text).expect("the file is written");
        path.display().to_string()
    }

    /// `lemmings <args>` in this directory with a clean environment.
    pub(crate) fn lemmings<I, S>(&self, args: I) -> Lemmings
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Lemmings::new(&self.root).args(args)
    }

    /// Replaces this directory's paths with `<ws>` (the workspace) and `<tmp>`.
    pub(crate) fn paths(&self, text: &str) -> String {
        text.replace(&self.ws_arg(), "<ws>")
            .replace(&self.root.display().to_string(), "<tmp>")
    }
}

/// A `lemmings` command with a clean environment: no `LEMMINGS_CONFIG`, `LEMMINGS_DB`,
/// `RUST_LOG` or `OPENROUTER_API_KEY` (which switches the repository config's `research` role
/// on) from the developer's shell, `NO_COLOR=1`, no stdin, and the given current directory.
#[derive(Debug)]
pub(crate) struct Lemmings {
    command: Command,
}

impl Lemmings {
    pub(crate) fn new(dir: &Path) -> Lemmings {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lemmings"));
        command
            .current_dir(dir)
            .env_remove("LEMMINGS_CONFIG")
            .env_remove("LEMMINGS_DB")
            .env_remove("RUST_LOG")
            .env_remove("OPENROUTER_API_KEY")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        Lemmings { command }
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Lemmings
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Lemmings {
        self.command.env(key, value);
        self
    }

    pub(crate) fn env_remove(mut self, key: &str) -> Lemmings {
        self.command.env_remove(key);
        self
    }

    /// Starts the process; stdout and stderr go to anonymous files (a pipe nobody reads could
    /// block it).
    pub(crate) fn start(mut self) -> Running {
        let stdout = tempfile::tempfile().expect("a file for stdout");
        let stderr = tempfile::tempfile().expect("a file for stderr");
        let child = self
            .command
            .stdout(stdout.try_clone().expect("the stdout file clones"))
            .stderr(stderr.try_clone().expect("the stderr file clones"))
            .spawn()
            .expect("the lemmings binary starts");
        Running { child, stdout, stderr }
    }

    /// Runs the process to its end (blocking: for tests without a runtime).
    pub(crate) fn output(self) -> Output {
        self.start().wait_blocking()
    }

    /// Runs the process to its end without blocking the test's runtime.
    pub(crate) async fn run(self) -> Output {
        self.start().wait().await
    }
}

/// A started `lemmings` process.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    stdout: File,
    stderr: File,
}

impl Running {
    /// SIGKILL: the process dies at once, as in a crash or a power cut. (An error means it has
    /// already ended; its exit status tells.)
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// SIGINT, as Ctrl-C sends it.
    pub(crate) fn interrupt(&self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("the child gets SIGINT");
    }

    /// The thread id from the first line it printed (`thread <uuid>`), while it runs.
    #[track_caller]
    pub(crate) fn thread(&self) -> String {
        let so_far = Output {
            code: None,
            stdout: read_from_start(&self.stdout),
            stderr: String::new(),
        };
        so_far.thread()
    }

    /// Waits for the end in a blocking task (the fake servers keep running on the runtime).
    pub(crate) async fn wait(self) -> Output {
        tokio::task::spawn_blocking(move || self.wait_blocking())
            .await
            .expect("the waiting task panicked")
    }

    /// Waits for the end; kills the process and fails the test if it takes over a minute.
    pub(crate) fn wait_blocking(self) -> Output {
        let Running {
            mut child,
            stdout,
            stderr,
        } = self;
        let pid = rustix::process::Pid::from_child(&child);
        let (done, ended) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = done.send(());
            status
        });
        let timed_out = ended.recv_timeout(WATCHDOG).is_err();
        if timed_out {
            // Not reaped yet (the waiter has not returned), so the pid is still the child's.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let status = waiter
            .join()
            .expect("the waiter thread panicked")
            .expect("the child is waited for");
        let output = Output {
            code: status.code(),
            stdout: read_from_start(&stdout),
            stderr: read_from_start(&stderr),
        };
        assert!(
            !timed_out,
            "lemmings ran for over {WATCHDOG:?} and was killed; {output}"
        );
        output
    }
}

/// What a file of captured output holds. Read with `pread`: the child shares the file's
/// offset, and moving it could make a child that is still running write over its own output.
fn read_from_start(file: &File) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0_u8; 8192];
    loop {
        let read = file
            .read_at(&mut chunk, bytes.len() as u64)
            .expect("the output is read");
        if read == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..read]);
    }
    String::from_utf8(bytes).expect("the output is UTF-8")
}

/// How a process ended.
#[derive(Debug)]
pub(crate) struct Output {
    /// The exit code; `None` when a signal ended it.
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Asserts the exit code, showing the whole output when it differs.
    #[track_caller]
    pub(crate) fn expect_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, Some(code), "{self}");
        assert!(!self.stderr.contains("panicked"), "{self}");
        self
    }

    /// Asserts a usage error: exit 2 and one `error: ...` line on stderr, no panic; returns the
    /// line.
    #[track_caller]
    pub(crate) fn usage_error(&self) -> &str {
        self.expect_code(2);
        let line = self.stderr.strip_suffix('\n').unwrap_or(&self.stderr);
        assert!(
            line.starts_with("error: ") && !line.contains('\n'),
            "not one `error:` line: {self}"
        );
        line
    }

    /// The thread id of a run: its first stdout line is `thread <uuid>`.
    #[track_caller]
    pub(crate) fn thread(&self) -> String {
        let first = self.stdout.lines().next().unwrap_or_default();
        let id = first
            .strip_prefix("thread ")
            .unwrap_or_else(|| panic!("the first line is not `thread <id>`: {self}"));
        assert!(is_uuid(id), "not a UUID: {id:?}");
        id.to_owned()
    }
}

//! A PostgreSQL server for the tests, and a fresh database per test.
//!
//! Where the server comes from:
//! 1. `LEMMINGS_TEST_POSTGRES=postgres://user:password@host:port/db`: an existing server whose
//!    role may `CREATE DATABASE` (`.ci/run` starts one and sets this).
//! 2. Otherwise a private server, started once per test binary: `initdb` of a temporary
//!    directory and `pg_ctl start` on a free loopback port, with password authentication over
//!    TCP and its unix socket inside that directory. As root the PostgreSQL binaries refuse to
//!    run, so they run as the `postgres` user (`runuser`) on a directory chowned to it.
//! 3. Neither: every test fails, saying how to provide PostgreSQL. Never a silent skip.
//!
//! Stopping the private server: statics are never dropped, so a `Drop` guard cannot do it.
//! Instead a small watcher process (`sh`) is started first, reading a pipe whose only writer is
//! this test process. When the process ends, however it ends (normal exit, panic, SIGKILL),
//! the kernel closes the pipe, the watcher sees end of file, stops the server (`pg_ctl stop -m
//! immediate`) and deletes the directory. It ignores SIGINT/SIGTERM/SIGHUP so that a Ctrl-C of
//! the test run still gets its cleanup. No server or directory is left behind, and nothing
//! sleeps: `pg_ctl start -w` returns when the server accepts connections.

// Shared by several test binaries, each using a part.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The parts of a `postgres://` URL the helper rewrites.
#[derive(Clone, Debug)]
pub(crate) struct Url {
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    /// `host:port` as written.
    pub(crate) host_port: String,
    pub(crate) database: String,
    /// Everything from `?` on (may be empty).
    pub(crate) query: String,
}

impl Url {
    pub(crate) fn parse(url: &str) -> Url {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .unwrap_or_else(|| panic!("LEMMINGS_TEST_POSTGRES must be a postgres:// URL"));
        let (rest, query) = match rest.find('?') {
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, String::new()),
        };
        let (userinfo, rest) = match rest.rfind('@') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => ("", rest),
        };
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
            None => (userinfo.to_owned(), None),
        };
        let (host_port, database) = match rest.split_once('/') {
            Some((host, db)) => (host.to_owned(), db.to_owned()),
            None => (rest.to_owned(), String::new()),
        };
        Url {
            user,
            password,
            host_port,
            database,
            query,
        }
    }

    /// The URL of `database` on this server with `password` (`None`: no password).
    pub(crate) fn with(&self, database: &str, password: Option<&str>) -> String {
        let userinfo = match (self.user.is_empty(), password) {
            (true, None) => String::new(),
            (_, None) => format!("{}@", self.user),
            (_, Some(password)) => format!("{}:{password}@", self.user),
        };
        format!("postgres://{userinfo}{}/{database}{}", self.host_port, self.query)
    }

    /// The URL of `database` with the server's own password.
    pub(crate) fn database(&self, database: &str) -> String {
        self.with(database, self.password.as_deref())
    }

    /// The host alone, as it appears in messages.
    pub(crate) fn host(&self) -> &str {
        self.host_port
            .rsplit_once(':')
            .map_or(&self.host_port, |(host, _)| host)
    }
}

/// The server the tests use.
#[derive(Debug)]
pub(crate) struct Server {
    /// Where to connect to create databases.
    pub(crate) admin: Url,
    /// The private server's watcher, whose stdin must stay open while the process lives.
    _watcher: Option<Mutex<(Child, ChildStdin)>>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// How to give the tests a server, appended to every failure.
const HOW: &str = "the PostgreSQL tests need a server: either set LEMMINGS_TEST_POSTGRES=postgres://user:password@127.0.0.1:5432/postgres \
     (a role that may CREATE DATABASE; .ci/run does this), or install PostgreSQL (apt-get install postgresql) so that \
     the tests can start a private server from /usr/lib/postgresql/*/bin";

/// The server, started on first use; panics (failing the test) when there is none.
pub(crate) fn server() -> &'static Server {
    let server = SERVER.get_or_init(|| match std::env::var("LEMMINGS_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Ok(Server {
            admin: Url::parse(url.trim()),
            _watcher: None,
        }),
        _ => start_private(),
    });
    match server {
        Ok(server) => server,
        Err(reason) => panic!("{reason}\n{HOW}"),
    }
}

/// Tests running at once against the server: each holds a few connections, and a server's
/// `max_connections` (100 by default) must not run out on a machine with many cores.
static GATE: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(6)));

/// A fresh, empty database, dropped when this is dropped. It also holds a slot of [`GATE`].
#[derive(Debug)]
pub(crate) struct Database {
    pub(crate) url: String,
    pub(crate) name: String,
    _permit: OwnedSemaphorePermit,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Creates a fresh database (UTF-8, byte-order collation) on the server.
pub(crate) async fn database() -> Database {
    let server = server();
    let permit = Arc::clone(&GATE)
        .acquire_owned()
        .await
        .expect("the gate is never closed");
    let name = format!(
        "lemmings_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut admin = PgConnection::connect(&server.admin.database(&server.admin.database))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to the test server {}: {e}\n{HOW}",
                server.admin.host_port
            )
        });
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    )))
    .execute(&mut admin)
    .await
    .unwrap_or_else(|e| panic!("cannot create a test database (the role needs CREATEDB): {e}\n{HOW}"));
    let _ = admin.close().await;
    Database {
        url: server.admin.database(&name),
        name,
        _permit: permit,
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Async work in a synchronous drop: on a thread of its own with its own runtime, since
        // the test's runtime may be the current-thread kind that this call blocks.
        let name = self.name.clone();
        let admin = server().admin.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect(&admin.database(&admin.database)).await.ok()?;
                // FORCE: pools of stores the test dropped may not have closed their connections yet.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut connection)
                .await
                .ok()?;
                connection.close().await.ok()
            })
        });
        let _ = dropped.join();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            Some(line.split_whitespace().nth(1)? == "0")
        })
        .unwrap_or(false)
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`, or a `PATH`
/// directory holding them.
fn find_bindir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    versions
        .into_iter()
        .rev()
        .map(|(_, bin)| bin)
        .chain(path_dirs)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// Runs a PostgreSQL program (as the `postgres` user when root), failing with its output.
fn run(root: bool, dir: &Path, program: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    // The working directory must be readable by the postgres user.
    let output = command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {} failed ({}): {}{}",
            program.display(),
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Starts the private server: see the module documentation.
fn start_private() -> Result<Server, String> {
    let bindir = find_bindir().ok_or("no LEMMINGS_TEST_POSTGRES, and no initdb/pg_ctl found")?;
    let root = is_root();
    // As root, a directory the postgres user can reach (TMPDIR may be under /root).
    let base = if root {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("lemmings-pg-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a directory in {}: {e}", base.display()))?
        .keep();
    let watcher = watch(&bindir, &dir, root)?;
    let password = uuid::Uuid::new_v4().simple().to_string();
    let pwfile = dir.join("pwfile");
    std::fs::write(&pwfile, format!("{password}\n")).map_err(|e| format!("cannot write {}: {e}", pwfile.display()))?;
    if root {
        let chown = Command::new("chown")
            .args(["-R", "postgres:"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("cannot run chown: {e}"))?;
        if !chown.success() {
            return Err(format!("chown -R postgres: {} failed ({chown})", dir.display()));
        }
    }
    let data = dir.join("data");
    let (data_arg, pwfile_arg) = (data.display().to_string(), format!("--pwfile={}", pwfile.display()));
    run(
        root,
        &dir,
        &bindir.join("initdb"),
        &[
            "-D",
            &data_arg,
            "-U",
            "postgres",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            &pwfile_arg,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ],
    )?;
    let log = dir.join("server.log").display().to_string();
    // A free port can be taken between choosing it and the server binding it: try a few.
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port();
        // Durability settings are off: this server holds throwaway test data only.
        let settings = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            dir.display()
        );
        match run(
            root,
            &dir,
            &bindir.join("pg_ctl"),
            &["-D", &data_arg, "-l", &log, "-w", "-t", "60", "-o", &settings, "start"],
        ) {
            Ok(()) => {
                return Ok(Server {
                    admin: Url::parse(&format!("postgres://postgres:{password}@127.0.0.1:{port}/postgres")),
                    _watcher: Some(Mutex::new(watcher)),
                });
            }
            Err(error) => {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                last_error = format!("{error}\nserver log:\n{tail}");
            }
        }
    }
    Err(format!("cannot start a private PostgreSQL server: {last_error}"))
}

/// The watcher that stops the private server and deletes its directory when this process ends.
fn watch(bindir: &Path, dir: &Path, root: bool) -> Result<(Child, ChildStdin), String> {
    const SCRIPT: &str = r#"
        trap '' INT TERM HUP
        cat >/dev/null
        if [ "$3" = root ]; then
            runuser -u postgres -- "$1/pg_ctl" -D "$2/data" stop -m immediate -w >/dev/null 2>&1
        else
            "$1/pg_ctl" -D "$2/data" stop -m immediate -w >/dev/null 2>&1
        fi
        rm -rf "$2"
    "#;
    let mut child = Command::new("sh")
        .args(["-c", SCRIPT, "lemmings-pg-watcher"])
        .arg(bindir)
        .arg(dir)
        .arg(if root { "root" } else { "user" })
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the watcher that stops the private server: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("the watcher has no stdin")?;
    // Nothing is ever written; this only proves the pipe is open.
    stdin.flush().map_err(|e| format!("the watcher's pipe: {e}"))?;
    Ok((child, stdin))
}

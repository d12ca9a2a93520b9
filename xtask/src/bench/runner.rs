//! Running the benchmarks: building `lemmings-bench` and `lemmings-multimodel` (and adk-graph's
//! `adk-bench`), creating LangGraph's venv, then the runs, interleaved, each run's JSON Lines into
//! its own file, and last the multi-model benchmark into `multimodel.jsonl`.
//!
//! Everything the peers' `run.sh` scripts do is done here, with the same environment variables
//! (`LG_VENV`, `PYTHON`, `ADK_BENCH_MEM_GB`, `CARGO_TARGET_DIR`), so their READMEs stay true.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::machine::{Machine, utc_stamp};
use super::multimodel;
use super::results::{Run, System};

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
    pub(crate) runs: usize,
    pub(crate) vs_peers: bool,
    /// Run `lemmings-multimodel --runs <runs>` after the interleaved runs.
    pub(crate) multimodel: bool,
    /// The folder holding `langgraph/` and `adk-graph/`.
    pub(crate) peers: PathBuf,
    /// Where the timestamped results directory is created.
    pub(crate) out: PathBuf,
}

/// Free space the full peer runs need in the temporary directory: LangGraph's state_size DB
/// (~2.1 GB) plus adk-graph's fan-out DB at n=10000 (~1 GB).
const PEER_DISK_BYTES: u64 = 3_200_000_000;

/// adk-graph's fan-out at n=10000 peaks at ~11 GiB: its `run.sh` caps the address space at 20 GiB
/// so that a regression fails the variant instead of the machine.
const ADK_DEFAULT_MEM_GIB: u64 = 20;

/// What a sitting left behind.
#[derive(Debug)]
pub(crate) struct Sitting {
    /// The results directory.
    pub(crate) dir: PathBuf,
    /// Why the multi-model benchmark failed, if it did: the other results are still good.
    pub(crate) multimodel_failure: Option<anyhow::Error>,
}

/// Runs everything `plan` asks for.
pub(crate) fn execute(root: &Path, plan: &Plan) -> Result<Sitting> {
    let quick: &[&str] = if plan.quick { &["--quick"] } else { &[] };
    let peers = if plan.vs_peers {
        Some(Peers::locate(&plan.peers)?)
    } else {
        None
    };
    // Checked before the builds, so that a missing python3 does not surface minutes later.
    if peers.is_some() {
        Peers::check_python()?;
        if !plan.quick {
            warn_if_low_disk();
        }
    }

    progress("building lemmings-bench and lemmings-multimodel (release)");
    let [lemmings, multimodel_bin] = cargo_build(
        root,
        &["-p", "lemmings-bench"],
        ["lemmings-bench", "lemmings-multimodel"],
    )?;
    let peer_bins = match &peers {
        Some(peers) => Some((peers.langgraph_python()?, peers.build_adk()?)),
        None => None,
    };

    let dir = plan.out.join(utc_stamp(SystemTime::now()));
    std::fs::create_dir_all(&plan.out).with_context(|| format!("creating {}", plan.out.display()))?;
    std::fs::create_dir(&dir).with_context(|| format!("creating results directory {}", dir.display()))?;
    let machine = Machine::current();
    std::fs::write(dir.join("machine.json"), machine.to_json())?;
    progress(&format!(
        "{} run(s){}{}{}; results in {}",
        plan.runs,
        if plan.quick { ", quick" } else { "" },
        if plan.vs_peers {
            ", interleaved with LangGraph and adk-graph"
        } else {
            ""
        },
        if plan.multimodel {
            ", then the multi-model benchmark"
        } else {
            ""
        },
        dir.display()
    ));

    for i in 1..=plan.runs {
        let file = |system: System| dir.join(format!("{}-run-{i}.jsonl", system.file_prefix()));
        let tag = |system: System| format!("run {i}/{}: {}", plan.runs, system.label());
        if let (Some(peers), Some((python, adk))) = (&peers, &peer_bins) {
            let mut lg = Command::new(python);
            lg.arg(peers.langgraph.join("bench.py")).args(quick);
            run_to_file(&tag(System::LangGraph), lg, &file(System::LangGraph))?;
            let mut adk = capped(adk);
            adk.arg("--all").args(quick).current_dir(&peers.adk);
            run_to_file(&tag(System::Adk), adk, &file(System::Adk))?;
        }
        let mut ours = Command::new(&lemmings);
        ours.arg("--all").args(quick).current_dir(root);
        run_to_file(&tag(System::Lemmings), ours, &file(System::Lemmings))?;
    }

    let mut multimodel_failure = None;
    if plan.multimodel {
        let mut cmd = Command::new(&multimodel_bin);
        cmd.args(["--runs", &plan.runs.to_string()]).current_dir(root);
        let what = format!("multi-model benchmark ({} run(s) of 3 configurations)", plan.runs);
        if let Err(err) = run_to_file(&what, cmd, &dir.join(multimodel::FILE)) {
            progress(&format!("warning: {err:#}"));
            multimodel_failure = Some(err);
        }
    }
    Ok(Sitting {
        dir,
        multimodel_failure,
    })
}

fn progress(message: &str) {
    eprintln!("bench: {message}");
}

/// The peers' benchmark folders (`../shared/bench` unless `--peers` says otherwise).
struct Peers {
    langgraph: PathBuf,
    adk: PathBuf,
}

impl Peers {
    fn locate(dir: &Path) -> Result<Peers> {
        let peers = Peers {
            langgraph: dir.join("langgraph"),
            adk: dir.join("adk-graph"),
        };
        let needed = [
            peers.langgraph.join("bench.py"),
            peers.langgraph.join("requirements.txt"),
            peers.adk.join("Cargo.toml"),
        ];
        if let Some(missing) = needed.iter().find(|p| !p.is_file()) {
            bail!(
                "the peers' benchmarks are not in {} ({} is missing): --vs-peers needs LangGraph's \
                 langgraph/bench.py and adk-graph's adk-graph/Cargo.toml there; pass --peers DIR",
                dir.display(),
                missing.display()
            );
        }
        Ok(peers)
    }

    fn venv() -> PathBuf {
        std::env::var_os("LG_VENV").map_or_else(|| PathBuf::from("/tmp/lg-venv"), PathBuf::from)
    }

    /// The interpreter that creates the venv, needed only when the venv does not exist yet.
    fn check_python() -> Result<()> {
        if Peers::venv().join("bin/python").exists() {
            return Ok(());
        }
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        match Command::new(&python).arg("--version").output() {
            Ok(out) if out.status.success() => Ok(()),
            _ => bail!(
                "`{python}` was not found or does not run: it is needed to create LangGraph's venv at {} \
                 (set LG_VENV to an existing one, or PYTHON to a Python 3 interpreter)",
                Peers::venv().display()
            ),
        }
    }

    /// `$LG_VENV/bin/python`, creating the venv from `requirements.txt` (PyPI) if it is missing.
    fn langgraph_python(&self) -> Result<PathBuf> {
        let venv = Peers::venv();
        let python = venv.join("bin/python");
        if python.exists() {
            return Ok(python);
        }
        let requirements = self.langgraph.join("requirements.txt");
        progress(&format!(
            "creating LangGraph's venv at {} from {} (downloads from PyPI, about a minute)",
            venv.display(),
            requirements.display()
        ));
        let interpreter = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let pip = venv.join("bin/pip");
        let existed = venv.exists();
        let created = run_checked(Command::new(&interpreter).arg("-m").arg("venv").arg(&venv))
            .and_then(|()| run_checked(Command::new(&pip).args(["install", "--quiet", "--upgrade", "pip"])))
            .and_then(|()| run_checked(Command::new(&pip).args(["install", "--quiet", "-r"]).arg(&requirements)));
        if let Err(err) = created {
            // A half-made venv has `bin/python` and would be taken as ready next time; a folder
            // that was there before is not ours to delete.
            if !existed {
                let _ = std::fs::remove_dir_all(&venv);
            }
            return Err(err.context(format!("creating LangGraph's venv at {}", venv.display())));
        }
        Ok(python)
    }

    fn build_adk(&self) -> Result<PathBuf> {
        progress("building adk-graph's adk-bench (release; the first build takes about 2 minutes)");
        let [adk] = cargo_build(&self.adk, &["--manifest-path", "Cargo.toml"], ["adk-bench"])?;
        Ok(adk)
    }
}

/// `cargo build --release <args>` in `dir`, returning the paths of the executables `bins`.
/// Compiler messages go to the terminal; the JSON messages on stdout name the executables, so
/// `CARGO_TARGET_DIR` and the workspace layout need no guessing.
fn cargo_build<const N: usize>(dir: &Path, args: &[&str], bins: [&str; N]) -> Result<[PathBuf; N]> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(&cargo)
        .args(["build", "--release", "--message-format=json-render-diagnostics"])
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {cargo}"))?;
    if !output.status.success() {
        bail!(
            "building {} failed: `cargo build --release {}` in {}",
            bins.join(" and "),
            args.join(" "),
            dir.display()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let messages: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact")
        .collect();
    let executable = |bin: &str| {
        messages
            .iter()
            .filter(|msg| msg["target"]["name"] == bin)
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .with_context(|| format!("`cargo build` in {} produced no `{bin}` executable", dir.display()))
    };
    let mut paths = Vec::with_capacity(N);
    for bin in bins {
        paths.push(executable(bin)?);
    }
    Ok(paths.try_into().expect("one path per executable"))
}

fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// `prlimit --as=<cap> <bin>` when prlimit exists and the cap is not 0.
fn capped(bin: &Path) -> Command {
    let gib = std::env::var("ADK_BENCH_MEM_GB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(ADK_DEFAULT_MEM_GIB);
    let prlimit = Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if gib > 0 && prlimit {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--as={}", gib << 30)).arg(bin);
        return cmd;
    }
    if gib > 0 {
        progress("warning: prlimit not found; adk-graph runs without an address-space cap");
    }
    Command::new(bin)
}

/// Runs one benchmark with its stdout in `path`. A run that fails after printing rows is kept
/// (its `error` rows show as ERROR in the table); one that prints nothing stops the sitting.
fn run_to_file(what: &str, mut cmd: Command, path: &Path) -> Result<()> {
    progress(&format!("{what} ..."));
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let start = Instant::now();
    let status = cmd
        .stdout(file)
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("starting {what}: {cmd:?}"))?;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let rows = Run::parse(&text).map(|run| run.rows().count()).unwrap_or(0);
    let secs = start.elapsed().as_secs();
    progress(&format!("{what} done in {}m{:02}s, {rows} rows", secs / 60, secs % 60));
    if !status.success() {
        if rows == 0 {
            bail!("{what} failed ({status}) and printed no results: {cmd:?}");
        }
        progress(&format!(
            "warning: {what} exited with {status}; its failed variants show as ERROR"
        ));
    }
    Ok(())
}

/// Warns when the temporary directory has less room than the peers' full runs need.
fn warn_if_low_disk() {
    let tmp = std::env::temp_dir();
    let Ok(output) = Command::new("df").arg("-Pk").arg(&tmp).output() else {
        return;
    };
    if !output.status.success() {
        return;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let available_kib = text
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(kib) = available_kib.filter(|kib| kib * 1024 < PEER_DISK_BYTES) {
        progress(&format!(
            "warning: {:.1} GB free in {}; the full peer runs need ~3.2 GB there (LangGraph's state_size \
             ~2.1 GB, adk-graph's fan-out ~1 GB)",
            (kib * 1024) as f64 / 1e9,
            tmp.display()
        ));
    }
}

//! Tidy checks: the architecture rules of ARCHITECTURE.md and the repository's conventions,
//! enforced mechanically.
//!
//! Each check is a plain function from data (parsed `cargo metadata`, or one file's text) to a
//! list of [`Problem`]s, so unit tests can feed it synthetic input. [`run`] gathers the real
//! inputs; `cargo xtask tidy` prints the result and the `tidy` test in `tests.rs` fails on it, so
//! `cargo test --workspace` enforces the rules without anyone remembering to run them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Which workspace crates a crate may depend on (normal, build and dev dependencies alike).
///
/// This is the layering of ARCHITECTURE.md: an edge that is not listed is forbidden, and a
/// workspace crate that is not listed at all is a problem, so a new crate forces a decision
/// here. Any crate may additionally dev-depend on [`TESTKIT`]. Not formatted by rustfmt so
/// that each crate stays on one row.
#[rustfmt::skip]
const DEPENDENCY_TABLE: &[(&str, Allowed)] = &[
    ("lemmings-graph-macros", Allowed::Only(&[])),
    ("lemmings-graph",        Allowed::Only(&["lemmings-graph-macros"])),
    ("lemmings-store",        Allowed::Only(&["lemmings-graph"])),
    ("lemmings-models",       Allowed::Only(&[])),
    ("lemmings-tools",        Allowed::Only(&[])),
    ("lemmings-agents",       Allowed::Only(&["lemmings-graph", "lemmings-models", "lemmings-tools"])),
    ("lemmings-testkit",      Allowed::Only(&["lemmings-graph", "lemmings-models", "lemmings-tools"])),
    ("lemmings",              Allowed::Only(&["lemmings-graph", "lemmings-store", "lemmings-agents",
                                              "lemmings-models", "lemmings-tools"])),
    // The benchmarks: the runtime overhead (bench/langgraph/SCENARIOS.md) on the engine and its
    // store; the multi-model one runs the whole workflow against the testkit's fake servers.
    ("lemmings-bench",        Allowed::Only(&["lemmings-graph", "lemmings-store", "lemmings-agents",
                                              "lemmings-models", "lemmings-tools", "lemmings-testkit"])),
    // Dev tooling may look at any crate (code generation, benchmarks); nothing depends on it.
    ("xtask",                 Allowed::Any),
];

/// Fakes are for tests and benchmarks: any crate may use them as a dev-dependency; only
/// lemmings-bench (its multi-model benchmark) depends on them normally.
const TESTKIT: &str = "lemmings-testkit";

/// External crates that only one workspace crate may use directly, so that SQL, HTTP and LLM
/// types stay behind one façade each. A name ending in `-*` stands for a family of crates.
const CONFINED: &[(&str, &str)] = &[
    ("sqlx", "lemmings-store"),
    // rig-core, rig-reqwest, rig-http, ...
    ("rig-*", "lemmings-models"),
    ("reqwest", "lemmings-models"),
    // The fake LLM servers are the only HTTP servers.
    ("hyper", "lemmings-testkit"),
    ("hyper-util", "lemmings-testkit"),
];

/// I/O crates `lemmings-graph` must not depend on, beyond [`CONFINED`] (which already keeps
/// SQL, HTTP and LLM crates out of it).
const GRAPH_FORBIDDEN_DEPS: &[&str] = &["rusqlite", "cap-std", "cap-fs-ext", "rustix", "ignore"];

/// Paths that would let `lemmings-graph` touch the file system, network, processes or environment.
const GRAPH_FORBIDDEN_PATHS: &[&str] = &[
    "std::fs",
    "tokio::fs",
    "std::net",
    "tokio::net",
    "std::process",
    "tokio::process",
    "std::env::var",
];

/// Placeholders that must not be committed. Built with `concat!` so this file does not match itself.
const STUBS: &[&str] = &[
    concat!("todo", "!("),
    concat!("unimplemented", "!("),
    concat!("#[", "ignore"),
];

/// Top-level folders whose `.rs` files are checked for headers and stubs.
const SOURCE_ROOTS: &[&str] = &["crates", "src", "tests", "xtask"];

/// Folders never walked: build output, hidden folders, and test fixtures (sample projects that
/// agents edit, which may legitimately lack headers or contain stubs).
fn skip_dir(name: &str) -> bool {
    name == "target" || name == "fixtures" || name.starts_with('.')
}

#[derive(Debug, Clone, Copy)]
enum Allowed {
    Only(&'static [&'static str]),
    Any,
}

/// One violation: where it is (relative path, maybe `:line`) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    location: String,
    message: String,
}

impl Problem {
    fn new(location: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The workspace as the checks see it, parsed from `cargo metadata`.
#[derive(Debug, Default)]
struct Workspace {
    members: Vec<Member>,
}

#[derive(Debug, Default)]
struct Member {
    name: String,
    /// Folder of the manifest, relative to the workspace root ("" for the root package).
    dir: String,
    publish_false: bool,
    deps: Vec<Dep>,
    /// The text of Cargo.toml: `cargo metadata` does not report `[lints]`.
    manifest: String,
}

impl Member {
    fn manifest_path(&self) -> String {
        if self.dir.is_empty() {
            "Cargo.toml".to_owned()
        } else {
            format!("{}/Cargo.toml", self.dir)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Build,
    Dev,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Build => "build",
            Kind::Dev => "dev",
        }
    }
}

#[derive(Debug)]
struct Dep {
    name: String,
    kind: Kind,
}

/// The workspace root: xtask lives one level below it.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent folder")
        .to_path_buf()
}

/// Runs every check against the workspace at `root`.
pub(crate) fn run(root: &Path) -> Result<Vec<Problem>> {
    let mut workspace = parse_metadata(&cargo_metadata(root)?)?;
    for member in &mut workspace.members {
        let path = root.join(member.manifest_path());
        member.manifest = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    }
    let mut problems = Vec::new();
    problems.extend(check_dependency_direction(&workspace));
    problems.extend(check_external_deps(&workspace));
    problems.extend(check_manifests(&workspace));
    for path in rust_files(root)? {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        problems.extend(check_header(&rel, &text));
        problems.extend(check_stubs(&rel, &text));
        if rel.starts_with("crates/lemmings-graph/src/") {
            problems.extend(check_graph_io(&rel, &text));
        }
    }
    Ok(problems)
}

/// `--no-deps` is enough (each member lists its direct dependencies) and needs no network.
fn cargo_metadata(root: &Path) -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .with_context(|| format!("running `{cargo} metadata`"))?;
    if !output.status.success() {
        bail!(
            "`{cargo} metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).context("`cargo metadata` printed invalid UTF-8")
}

fn parse_metadata(json: &str) -> Result<Workspace> {
    let meta: Value = serde_json::from_str(json).context("parsing `cargo metadata` output")?;
    let str_of = |v: &Value, key: &str| {
        v[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no `{key}`"))
    };
    let root = str_of(&meta, "workspace_root")?;
    let member_ids: Vec<&str> = meta["workspace_members"]
        .as_array()
        .context("no `workspace_members`")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut workspace = Workspace::default();
    for package in meta["packages"].as_array().context("no `packages`")? {
        if !member_ids.contains(&package["id"].as_str().unwrap_or_default()) {
            continue;
        }
        let manifest_path = str_of(package, "manifest_path")?;
        let dir = Path::new(&manifest_path).parent().context("manifest without folder")?;
        let dir = dir
            .strip_prefix(&root)
            .unwrap_or(dir)
            .to_string_lossy()
            .replace('\\', "/");
        let mut deps = Vec::new();
        for dep in package["dependencies"].as_array().context("no `dependencies`")? {
            let kind = match dep["kind"].as_str() {
                None => Kind::Normal,
                Some("build") => Kind::Build,
                Some("dev") => Kind::Dev,
                Some(other) => bail!("unknown dependency kind `{other}`"),
            };
            deps.push(Dep {
                name: str_of(dep, "name")?,
                kind,
            });
        }
        // `publish = false` shows up as an empty list of allowed registries.
        let publish_false = package["publish"].as_array().is_some_and(Vec::is_empty);
        workspace.members.push(Member {
            name: str_of(package, "name")?,
            dir,
            publish_false,
            deps,
            manifest: String::new(),
        });
    }
    Ok(workspace)
}

/// Check 1: workspace-internal edges follow [`DEPENDENCY_TABLE`].
fn check_dependency_direction(workspace: &Workspace) -> Vec<Problem> {
    let mut problems = Vec::new();
    let is_member = |name: &str| workspace.members.iter().any(|m| m.name == name);
    for member in &workspace.members {
        let Some((_, allowed)) = DEPENDENCY_TABLE.iter().find(|(name, _)| *name == member.name) else {
            problems.push(Problem::new(
                member.manifest_path(),
                format!(
                    "crate `{}` has no entry yet: add it to the dependency table in xtask/src/tidy.rs",
                    member.name
                ),
            ));
            continue;
        };
        for dep in member
            .deps
            .iter()
            .filter(|d| is_member(&d.name) && d.name != member.name)
        {
            let ok = match allowed {
                Allowed::Any => true,
                Allowed::Only(list) => {
                    list.contains(&dep.name.as_str()) || (dep.kind == Kind::Dev && dep.name == TESTKIT)
                }
            };
            if !ok {
                problems.push(Problem::new(
                    member.manifest_path(),
                    format!(
                        "`{}` must not depend on `{}` ({} dependency): the layering in ARCHITECTURE.md \
                         forbids it; move the shared code down a layer, or change the architecture and the \
                         table in xtask/src/tidy.rs",
                        member.name,
                        dep.name,
                        dep.kind.label()
                    ),
                ));
            }
        }
    }
    problems
}

/// Check 2: SQL, HTTP and LLM crates stay confined to their façade crates.
fn check_external_deps(workspace: &Workspace) -> Vec<Problem> {
    let mut problems = Vec::new();
    for member in &workspace.members {
        for dep in member.deps.iter().filter(|d| d.kind == Kind::Normal) {
            let owner = CONFINED
                .iter()
                .find(|(pattern, _)| match pattern.strip_suffix('*') {
                    Some(family) => dep.name.starts_with(family),
                    None => *pattern == dep.name,
                })
                .map(|(_, owner)| *owner);
            let why = if let Some(owner) = owner
                && owner != member.name
            {
                format!(
                    "only `{owner}` may depend on `{}`; go through its API instead",
                    dep.name
                )
            } else if member.name == "lemmings-graph" && GRAPH_FORBIDDEN_DEPS.contains(&dep.name.as_str()) {
                format!(
                    "`lemmings-graph` does no I/O and must not depend on `{}`; put this in another crate",
                    dep.name
                )
            } else {
                continue;
            };
            problems.push(Problem::new(member.manifest_path(), why));
        }
    }
    problems
}

/// Check 3: no file system, network, process or environment access in `lemmings-graph`.
fn check_graph_io(path: &str, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for needle in GRAPH_FORBIDDEN_PATHS.iter().filter(|n| line.contains(**n)) {
            problems.push(Problem::new(
                format!("{path}:{}", i + 1),
                format!("`lemmings-graph` does no I/O but this mentions `{needle}`; pass data or a trait in instead"),
            ));
        }
    }
    problems
}

/// Check 4: every Rust file starts by saying what it is for.
fn check_header(path: &str, text: &str) -> Vec<Problem> {
    if text.starts_with("//!") {
        return Vec::new();
    }
    vec![Problem::new(
        path,
        "the file must begin with a `//!` line saying what it is for (no blank lines before it)",
    )]
}

/// Check 5: no placeholders or skipped tests.
fn check_stubs(path: &str, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for needle in STUBS.iter().filter(|n| line.contains(**n)) {
            problems.push(Problem::new(
                format!("{path}:{}", i + 1),
                format!("`{needle}` found: finish the code or the test instead of leaving a stub"),
            ));
        }
    }
    problems
}

/// Check 6: lints inherited, internal crates unpublished, folder name = package name.
fn check_manifests(workspace: &Workspace) -> Vec<Problem> {
    let mut problems = Vec::new();
    for member in &workspace.members {
        let path = member.manifest_path();
        if !has_workspace_lints(&member.manifest) {
            problems.push(Problem::new(
                &path,
                "add `[lints]` with `workspace = true` so the workspace lints apply",
            ));
        }
        let is_root = member.dir.is_empty();
        if !is_root && !member.publish_false {
            problems.push(Problem::new(
                &path,
                "add `publish = false` to [package]: internal crates are not published",
            ));
        }
        let expected = format!("crates/{}", member.name);
        if !is_root && member.name != "xtask" && member.dir != expected {
            problems.push(Problem::new(
                &path,
                format!(
                    "package `{}` must live in `{expected}` (folder name = package name)",
                    member.name
                ),
            ));
        }
    }
    problems
}

/// A line-based reading of TOML, enough for `[lints]` followed by `workspace = true`; a full
/// TOML parser would be a dependency for one key.
fn has_workspace_lints(manifest: &str) -> bool {
    let mut in_lints = false;
    for line in manifest.lines() {
        let line: String = line
            .split('#')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if line.starts_with('[') {
            in_lints = line == "[lints]";
        } else if in_lints && line == "workspace=true" {
            return true;
        }
    }
    false
}

/// Every `.rs` file under [`SOURCE_ROOTS`], sorted so the output is stable.
fn rust_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = SOURCE_ROOTS
        .iter()
        .map(|dir| root.join(dir))
        .filter(|p| p.is_dir())
        .collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if !skip_dir(&name) {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests;

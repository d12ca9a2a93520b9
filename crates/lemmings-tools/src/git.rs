//! `git_diff`: what changed in the workspace, new (untracked) files included, which the
//! original Lemmings' QA could not see. In a git repository it asks git for the tracked
//! changes and lists untracked files itself (reading them through the [`Workspace`], so an
//! untracked symlink cannot show a file outside); elsewhere it diffs the tools' own record of
//! what they changed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use similar::TextDiff;

use crate::files::{lines, looks_binary};
use crate::tool::{CallContext, ToolOutput, TypedTool};
use crate::workspace::{Workspace, WorkspaceError, display};

/// The most diff text returned.
const MAX_OUTPUT_BYTES: usize = 48 * 1024;
/// The most untracked files shown.
const MAX_UNTRACKED: usize = 200;
/// How long git may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(30);
/// git's hash of the empty tree: the base of a repository without commits.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// `git_diff`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GitDiffArgs {
    /// Only changes under this path (default: the whole workspace).
    #[serde(default)]
    pub path: Option<String>,
}

/// Shows the changes in the workspace as a unified diff, new files included.
#[derive(Debug)]
pub struct GitDiff {
    workspace: Arc<Workspace>,
}

impl GitDiff {
    /// The tool on `workspace`.
    pub fn new(workspace: Arc<Workspace>) -> Self {
        GitDiff { workspace }
    }
}

/// What changed in the workspace, as data: what the `git_diff` tool renders, for callers that
/// need the changed files themselves (the agents' verify step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// Where the changes come from (git, or the tools' own record).
    pub header: String,
    /// One entry per changed file, in diff order.
    pub files: Vec<FileDiff>,
}

impl Changes {
    /// Every workspace file the changes name (both sides of a rename), sorted.
    pub fn paths(&self) -> BTreeSet<String> {
        self.files.iter().flat_map(|file| file.paths.iter().cloned()).collect()
    }

    /// The summary line, then each file's diff until the output cap (the tool's text).
    pub fn render(&self) -> String {
        render(&self.header, &self.files)
    }
}

/// One file's part of the diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiff {
    /// The file as shown (the old name of a rename), or a note such as `(3 more untracked files)`.
    pub path: String,
    /// The workspace files this entry is about: both sides of a rename, none for a note.
    pub paths: Vec<String>,
    /// `path (what changed)`.
    pub summary: String,
    /// The unified diff.
    pub text: String,
}

impl FileDiff {
    fn new(path: &str, summary: String, text: String) -> Self {
        FileDiff {
            path: path.to_owned(),
            paths: vec![path.to_owned()],
            summary,
            text,
        }
    }
}

#[async_trait]
impl TypedTool for GitDiff {
    type Args = GitDiffArgs;
    const NAME: &'static str = "git_diff";
    const SIDE_EFFECTS: bool = false;

    fn description(&self) -> String {
        "Show what changed in the workspace as a unified diff, new files included (also without git). \
         Example: {\"path\": \"src\"}"
            .to_owned()
    }

    async fn run(&self, args: GitDiffArgs, _context: &CallContext) -> ToolOutput {
        let filter = match args.path.as_deref().map(|p| self.workspace.clean(p)) {
            Some(Ok(rel)) => match self.workspace.locate(&rel) {
                // A path that exists must not lead outside; a deleted one can still be asked for.
                Ok(_) => Some(rel),
                Err(error) => return ToolOutput::failed(format!("error: {error}")),
            },
            Some(Err(error)) => return ToolOutput::failed(format!("error: {error}")),
            None => None,
        };
        match self.changes(filter.as_deref()).await {
            Ok(changes) => ToolOutput::ok(changes.render()),
            Err(error) => ToolOutput::failed(format!("error: git diff failed: {error}")),
        }
    }
}

impl GitDiff {
    /// The changes under `filter` (a clean workspace path; `None`: everywhere): git's against
    /// HEAD with untracked files in a git repository, else the tools' own record.
    ///
    /// # Errors
    /// git's message when git fails in a repository.
    pub async fn changes(&self, filter: Option<&Path>) -> Result<Changes, String> {
        let root = self.workspace.root();
        let in_git = root.join(".git").exists() && git(root, &["rev-parse", "--is-inside-work-tree"]).await.is_ok();
        Ok(if in_git {
            Changes {
                header: "git diff against HEAD, untracked files included".to_owned(),
                files: self.git_changes(filter).await?,
            }
        } else {
            self.recorded(filter)
        })
    }

    /// The tools' own record of what they changed under `filter`, whether or not the workspace
    /// is a git repository: each file against its content before the first change.
    pub fn recorded(&self, filter: Option<&Path>) -> Changes {
        Changes {
            header: "not a git repository: the changes the tools made in this session".to_owned(),
            files: self.recorded_changes(filter),
        }
    }

    async fn git_changes(&self, filter: Option<&Path>) -> Result<Vec<FileDiff>, String> {
        let root = self.workspace.root();
        let base = if git(root, &["rev-parse", "--verify", "--quiet", "HEAD"]).await.is_ok() {
            "HEAD"
        } else {
            EMPTY_TREE
        };
        let spec = filter.map(display).unwrap_or_else(|| ".".to_owned());
        let tracked = git(
            root,
            &[
                "diff",
                base,
                "--no-color",
                "--no-ext-diff",
                "--no-textconv",
                "--find-renames",
                "--",
                &spec,
            ],
        )
        .await?;
        let mut files = split_git_diff(&tracked);
        let untracked = git(root, &["ls-files", "--others", "--exclude-standard", "-z", "--", &spec]).await?;
        let mut names: Vec<&str> = untracked.split('\0').filter(|n| !n.is_empty()).collect();
        names.sort_unstable();
        let hidden = names.len().saturating_sub(MAX_UNTRACKED);
        for name in names.into_iter().take(MAX_UNTRACKED) {
            files.push(self.new_file(name));
        }
        if hidden > 0 {
            files.push(FileDiff {
                path: format!("({hidden} more untracked files)"),
                paths: Vec::new(),
                summary: format!("{hidden} more untracked files not shown"),
                text: String::new(),
            });
        }
        Ok(files)
    }

    /// An untracked file as a new-file diff, read through the workspace.
    fn new_file(&self, name: &str) -> FileDiff {
        let rel = Path::new(name);
        match self.workspace.peek(rel) {
            Ok(content) if looks_binary(&content) => FileDiff::new(
                name,
                format!("{name} (new, binary)"),
                format!("diff --git a/{name} b/{name}\nnew file\nBinary file {name} added\n"),
            ),
            Ok(content) => {
                let text = String::from_utf8_lossy(&content);
                let diff = TextDiff::from_lines("", text.as_ref());
                FileDiff::new(
                    name,
                    format!("{name} (new, {})", lines(text.lines().count())),
                    format!(
                        "diff --git a/{name} b/{name}\nnew file\n{}",
                        diff.unified_diff()
                            .context_radius(3)
                            .header("/dev/null", &format!("b/{name}"))
                    ),
                )
            }
            Err(error) => FileDiff::new(
                name,
                format!("{name} (new, not shown)"),
                format!("diff --git a/{name} b/{name}\nnew file, not shown: {error}\n"),
            ),
        }
    }

    /// The tools' record: each changed file against its content before the first change.
    fn recorded_changes(&self, filter: Option<&Path>) -> Vec<FileDiff> {
        let mut files = Vec::new();
        for change in self.workspace.changes() {
            if filter.is_some_and(|f| !change.path.starts_with(f)) {
                continue;
            }
            let name = display(&change.path);
            let now = match self.workspace.peek(&change.path) {
                Ok(content) => Some(content),
                Err(WorkspaceError::NotFound { .. }) => None,
                Err(error) => {
                    files.push(FileDiff::new(
                        &name,
                        format!("{name} (not shown)"),
                        format!("{error}\n"),
                    ));
                    continue;
                }
            };
            let before = change
                .original
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let after = now.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            // Unchanged in the end (edited back, or created and deleted again): not a change.
            if now.as_deref() == change.original.as_deref() {
                continue;
            }
            let diff = TextDiff::from_lines(before.as_ref(), after.as_ref());
            let (added, removed) = counts(&diff);
            let (old_name, what) = match (&change.original, &now) {
                (None, _) => ("/dev/null".to_owned(), format!("new, {}", lines(after.lines().count()))),
                (Some(_), None) => (format!("a/{name}"), "deleted".to_owned()),
                (Some(_), Some(_)) => (format!("a/{name}"), format!("+{added} −{removed}")),
            };
            let new_name = if now.is_some() {
                format!("b/{name}")
            } else {
                "/dev/null".to_owned()
            };
            files.push(FileDiff::new(
                &name,
                format!("{name} ({what})"),
                format!(
                    "diff --git a/{name} b/{name}\n{}",
                    diff.unified_diff().context_radius(3).header(&old_name, &new_name)
                ),
            ));
        }
        files
    }
}

fn counts<'a>(diff: &TextDiff<'a, 'a, 'a, str>) -> (usize, usize) {
    use similar::ChangeTag;
    let mut added = 0;
    let mut removed = 0;
    for change in diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

/// git's diff split per file, with a `+a −r` summary each.
fn split_git_diff(diff: &str) -> Vec<FileDiff> {
    let mut files: Vec<FileDiff> = Vec::new();
    for line in diff.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("diff --git a/") {
            // `a/<old> b/<new>`: both sides, so a rename names both files.
            let (old, new) = rest.split_once(" b/").unwrap_or((rest, rest));
            let (old, new) = (old.trim_end().to_owned(), new.trim_end().to_owned());
            let mut paths = vec![old.clone()];
            if new != old {
                paths.push(new);
            }
            files.push(FileDiff {
                path: old,
                paths,
                summary: String::new(),
                text: String::new(),
            });
        }
        if let Some(file) = files.last_mut() {
            file.text.push_str(line);
        }
    }
    for file in &mut files {
        let (mut added, mut removed) = (0, 0);
        for line in file.text.lines() {
            if line.starts_with('+') && !line.starts_with("+++") {
                added += 1;
            } else if line.starts_with('-') && !line.starts_with("---") {
                removed += 1;
            }
        }
        let what = if file.text.contains("\nnew file mode") {
            format!("new, {}", lines(added))
        } else if file.text.contains("\ndeleted file mode") {
            "deleted".to_owned()
        } else if file.text.contains("Binary files") {
            "binary".to_owned()
        } else {
            format!("+{added} −{removed}")
        };
        file.summary = format!("{} ({what})", file.path);
    }
    files
}

/// A summary line, then each file's diff until the output cap.
fn render(header: &str, files: &[FileDiff]) -> String {
    if files.is_empty() {
        return format!("{header}: no changes");
    }
    let changed = files.iter().filter(|f| !f.text.is_empty()).count();
    let mut out = format!(
        "{header}: {changed} file{} changed: {}\n",
        if changed == 1 { "" } else { "s" },
        files.iter().map(|f| f.summary.as_str()).collect::<Vec<_>>().join(", ")
    );
    let mut omitted = Vec::new();
    for file in files {
        if out.len() + file.text.len() > MAX_OUTPUT_BYTES {
            omitted.push(file.path.as_str());
            continue;
        }
        out.push_str(&file.text);
        if !file.text.ends_with('\n') && !file.text.is_empty() {
            out.push('\n');
        }
    }
    if !omitted.is_empty() {
        out.push_str(&format!(
            "[diff cut at {} KiB; not shown: {}; call git_diff with path= for one file]\n",
            MAX_OUTPUT_BYTES / 1024,
            omitted.join(", ")
        ));
    }
    out
}

/// Runs git read-only in `root` (no optional locks, no pager, no fsmonitor, C locale) and
/// returns its standard output; `Err` holds its standard error or why it did not run.
async fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let mut command = tokio::process::Command::new("git");
    command
        .arg("-C")
        .arg(root)
        .args(["-c", "core.fsmonitor=false", "-c", "core.quotepath=false", "--no-pager"])
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(GIT_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("cannot run git: {error}")),
        Err(_) => return Err(format!("git did not finish within {}s", GIT_TIMEOUT.as_secs())),
    };
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_the_headers_even_for_files_cut_from_the_text() {
        let diff = "diff --git a/src/a b.rs b/src/a b.rs\n+x\n\
                    diff --git a/old.rs b/new.rs\n\
                    diff --git a/big.rs b/big.rs\n";
        let mut files = split_git_diff(diff);
        files.push(FileDiff {
            path: "(2 more untracked files)".to_owned(),
            paths: Vec::new(),
            summary: "2 more untracked files not shown".to_owned(),
            text: String::new(),
        });
        let changes = Changes {
            header: "git diff".to_owned(),
            files,
        };
        let paths: Vec<String> = changes.paths().into_iter().collect();
        assert_eq!(paths, ["big.rs", "new.rs", "old.rs", "src/a b.rs"]);
    }
}

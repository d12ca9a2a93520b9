//! `glob`: workspace files whose path matches a pattern, sorted, capped; when nothing matches,
//! why not (a case difference, ignored files, the search path repeated in the pattern).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::pattern::PathPattern;
use super::text::{self, plural};
use super::walk::{Kind, MAX_WALKED, Skipped, Start, Target, dot, walker};
use crate::{CallContext, ToolOutput, TypedTool, Workspace};

const MAX_RESULTS: usize = 1000;

/// Finds workspace files by path pattern (`glob`).
#[derive(Debug)]
pub struct Glob {
    workspace: Arc<Workspace>,
}

impl Glob {
    /// `glob` on this workspace.
    pub fn new(workspace: Arc<Workspace>) -> Self {
        Glob { workspace }
    }
}

/// The arguments of `glob`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct GlobArgs {
    /// The pattern, relative to `path`: `*` within one name, `**` across directories, `{a,b}`
    /// either; without a `/` it matches file names at any depth (`*.rs`).
    pub pattern: String,
    /// The directory to search, relative to the workspace root.
    #[serde(default = "dot")]
    pub path: String,
    /// The most paths to show, up to 1000.
    #[serde(default = "hundred", alias = "limit")]
    pub max_results: usize,
}

fn hundred() -> usize {
    100
}

#[async_trait]
impl TypedTool for Glob {
    type Args = GlobArgs;
    const NAME: &'static str = "glob";
    const SIDE_EFFECTS: bool = false;

    fn description(&self) -> String {
        "Find files whose path matches a glob pattern (`**` spans directories, `{a,b}` alternates, a \
         pattern without `/` matches names at any depth); .gitignored files are skipped. \
         Example: glob {\"pattern\": \"src/**/*.rs\"}"
            .to_owned()
    }

    async fn run(&self, args: GlobArgs, _context: &CallContext) -> ToolOutput {
        let workspace = Arc::clone(&self.workspace);
        tokio::task::spawn_blocking(move || glob(&workspace, &args))
            .await
            .unwrap_or_else(|e| ToolOutput::failed(format!("error: glob stopped unexpectedly: {e}")))
    }
}

fn glob(workspace: &Workspace, args: &GlobArgs) -> ToolOutput {
    let max_results = args.max_results.clamp(1, MAX_RESULTS);
    let pattern = match PathPattern::new(&args.pattern, false) {
        Ok(pattern) => pattern,
        Err(message) => return ToolOutput::failed(message),
    };
    let start = match Start::dir(workspace, &args.path) {
        Ok(start) => start,
        Err(e) => return ToolOutput::failed(format!("error: {e}")),
    };
    // Only consulted when nothing matches: a case difference is a common near miss.
    let folded = PathPattern::new(&args.pattern, true).ok();
    let mut skipped = Skipped::default();
    let mut matched: Vec<String> = Vec::new();
    let mut folded_match: Option<(usize, String)> = None;
    for (walked, entry) in walker(&start.real, None, true).build().enumerate() {
        if walked >= MAX_WALKED {
            skipped.stopped = true;
            break;
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                skipped.error(&e);
                continue;
            }
        };
        let kind = Kind::of(&entry);
        if entry.depth() == 0 || !matches!(kind, Kind::File | Kind::Link) {
            continue;
        }
        let within = start.within(entry.path());
        let rel = start.rel(entry.path());
        if pattern.matches(within) {
            let target = if kind == Kind::File {
                Target::File
            } else {
                Target::of(workspace, &rel)
            };
            match target {
                Target::File => matched.push(text::path(&rel)),
                Target::Outside => skipped.outside += 1,
                _ => {}
            }
        } else if folded.as_ref().is_some_and(|f| f.matches(within))
            && (kind == Kind::File || Target::of(workspace, &rel) == Target::File)
        {
            let (count, _) = folded_match.get_or_insert_with(|| (0, text::path(&rel)));
            *count += 1;
        }
    }
    matched.sort();

    let shown = text::path(&start.rel);
    let mut out = Vec::new();
    if matched.is_empty() {
        let mut line = format!("no files match `{}` under `{shown}`", args.pattern);
        if let Some((count, example)) = folded_match {
            line.push_str(&format!(
                "; {} ignoring case, e.g. `{example}`",
                plural(count, "file matches", "files match")
            ));
        }
        if let Some((count, example)) = ignored_matches(&start, &pattern) {
            line.push_str(&format!(
                "; {} hidden by .gitignore, e.g. `{example}`",
                plural(count, "file would match but is", "files would match but are")
            ));
        }
        let prefix = format!("{}/", shown.trim_end_matches('/'));
        if shown != "." && args.pattern.trim_start_matches("./").starts_with(&prefix) {
            line.push_str(&format!(
                "; the pattern is matched relative to `{shown}`, so leave `{prefix}` out of it"
            ));
        }
        out.push(line);
    } else {
        let total = matched.len();
        out.extend(matched.into_iter().take(max_results));
        out.push(format!("{} matched", plural(total, "file", "files")));
        if total > max_results {
            out.push(format!("[showing the first {max_results}; narrow the pattern]"));
        }
    }
    out.extend(skipped.notes());
    ToolOutput::ok(out.join("\n"))
}

/// How many ignored files match, and the first: a walk without ignore rules (every file it
/// finds matching is ignored, since the walk with them found none).
fn ignored_matches(start: &Start, pattern: &PathPattern) -> Option<(usize, String)> {
    let mut found: Option<(usize, PathBuf)> = None;
    for entry in walker(&start.real, None, false).build().take(MAX_WALKED).flatten() {
        if entry.depth() > 0 && Kind::of(&entry) == Kind::File && pattern.matches(start.within(entry.path())) {
            let (count, _) = found.get_or_insert_with(|| (0, start.rel(entry.path())));
            *count += 1;
        }
    }
    found.map(|(count, first)| (count, text::path(&first)))
}

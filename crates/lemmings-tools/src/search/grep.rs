//! `grep`: lines matching a regex in the workspace's files, `path:line: text` grouped by file,
//! with optional context lines; binary files and symlinks leading out are skipped and counted.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder};
use schemars::JsonSchema;
use serde::Deserialize;

use super::lines::{FileSink, Shown};
use super::pattern::PathPattern;
use super::text::{self, plural};
use super::walk::{Kind, MAX_WALKED, Skipped, Start, Target, dot, walker};
use crate::{CallContext, ToolOutput, TypedTool, Workspace, WorkspaceError};

const MAX_RESULTS: usize = 500;
const MAX_CONTEXT: usize = 5;
/// Matches counted before the search stops (the count is then a lower bound).
const MAX_COUNTED: usize = 10_000;

/// Searches workspace files for lines matching a regex (`grep`).
#[derive(Debug)]
pub struct Grep {
    workspace: Arc<Workspace>,
}

impl Grep {
    /// `grep` on this workspace.
    pub fn new(workspace: Arc<Workspace>) -> Self {
        Grep { workspace }
    }
}

/// The arguments of `grep`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct GrepArgs {
    /// The regex (Rust syntax, e.g. `fn \w+_test`), or the literal text when `fixed_strings` is true.
    pub pattern: String,
    /// A directory or a file to search, relative to the workspace root.
    #[serde(default = "dot")]
    pub path: String,
    /// Only search files matching this glob, e.g. `*.rs` or `src/**/*.{ts,tsx}`.
    #[serde(default, alias = "include")]
    pub glob: Option<String>,
    /// Ignore upper/lower case.
    #[serde(default, alias = "ignore_case")]
    pub case_insensitive: bool,
    /// Treat the pattern as literal text, not a regex (for text with `(`, `[`, `.`, `*`).
    #[serde(default, alias = "literal")]
    pub fixed_strings: bool,
    /// Lines shown before and after each match, up to 5.
    #[serde(default)]
    pub context: usize,
    /// The most matches to show, up to 500.
    #[serde(default = "fifty", alias = "limit")]
    pub max_results: usize,
}

fn fifty() -> usize {
    50
}

#[async_trait]
impl TypedTool for Grep {
    type Args = GrepArgs;
    const NAME: &'static str = "grep";
    const SIDE_EFFECTS: bool = false;

    fn description(&self) -> String {
        "Search file contents for a regex (Rust syntax) and show matching lines as `path:line: text`; \
         set fixed_strings for literal text. Example: grep {\"pattern\": \"fn main\", \"glob\": \"*.rs\"}"
            .to_owned()
    }

    async fn run(&self, args: GrepArgs, _context: &CallContext) -> ToolOutput {
        let workspace = Arc::clone(&self.workspace);
        tokio::task::spawn_blocking(move || grep(&workspace, &args))
            .await
            .unwrap_or_else(|e| ToolOutput::failed(format!("error: grep stopped unexpectedly: {e}")))
    }
}

fn grep(workspace: &Workspace, args: &GrepArgs) -> ToolOutput {
    let context = args.context.min(MAX_CONTEXT);
    let matcher = match RegexMatcherBuilder::new()
        .case_insensitive(args.case_insensitive)
        .fixed_strings(args.fixed_strings)
        // `^` and `$` match at line boundaries, `$` also before `\r\n`; a match never spans
        // lines; NUL cannot match (files with NUL are skipped as binary).
        .multi_line(true)
        .crlf(true)
        .line_terminator(Some(b'\n'))
        .ban_byte(Some(0))
        .build(&args.pattern)
    {
        Ok(matcher) => matcher,
        Err(e) => {
            let hint = if args.fixed_strings {
                ""
            } else {
                "; set fixed_strings=true to search for the text literally"
            };
            return ToolOutput::failed(format!(
                "error: invalid regex `{}`: {}{hint}",
                args.pattern,
                e.to_string().trim()
            ));
        }
    };
    let filter = match args.glob.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        Some(glob) => match PathPattern::new(glob, false) {
            Ok(pattern) => Some(pattern),
            Err(message) => return ToolOutput::failed(message),
        },
        None => None,
    };
    let rel = match workspace.clean(&args.path) {
        Ok(rel) => rel,
        Err(e) => return ToolOutput::failed(format!("error: {e}")),
    };
    let searcher = SearcherBuilder::new()
        .line_number(true)
        .binary_detection(BinaryDetection::quit(0))
        .before_context(context)
        .after_context(context)
        .build();
    let mut search = Search {
        workspace,
        matcher: &matcher,
        searcher,
        max_results: args.max_results.clamp(1, MAX_RESULTS),
        files: Vec::new(),
        matches: 0,
        shown: 0,
        searched: 0,
        binary: 0,
        skipped: Skipped::default(),
        stopped: false,
    };

    match workspace.real_dir(&rel) {
        Ok(real) => {
            let start = Start { rel: rel.clone(), real };
            search.walk(&start, filter.as_ref());
        }
        // A file: searched whatever the glob and the ignore files say, since it was named.
        Err(WorkspaceError::NotADirectory { .. }) => search.file(&rel),
        Err(e) => return ToolOutput::failed(format!("error: {e}")),
    }
    ToolOutput::ok(search.report(args, &text::path(&rel), context))
}

/// A grep in progress: what it found so far.
struct Search<'a> {
    workspace: &'a Workspace,
    matcher: &'a RegexMatcher,
    searcher: Searcher,
    max_results: usize,
    /// Files with matches: path as shown, lines shown.
    files: Vec<(String, Vec<Shown>)>,
    matches: usize,
    shown: usize,
    searched: usize,
    binary: usize,
    skipped: Skipped,
    /// Whether the search stopped at [`MAX_COUNTED`] matches.
    stopped: bool,
}

impl Search<'_> {
    fn walk(&mut self, start: &Start, filter: Option<&PathPattern>) {
        for (walked, entry) in walker(&start.real, None, true).build().enumerate() {
            if walked >= MAX_WALKED {
                self.skipped.stopped = true;
                break;
            }
            if self.stopped {
                break;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.skipped.error(&e);
                    continue;
                }
            };
            let kind = Kind::of(&entry);
            if entry.depth() == 0 || !matches!(kind, Kind::File | Kind::Link) {
                continue;
            }
            if filter.is_some_and(|f| !f.matches(start.within(entry.path()))) {
                continue;
            }
            let rel = start.rel(entry.path());
            if kind == Kind::Link {
                match Target::of(self.workspace, &rel) {
                    Target::File => {}
                    Target::Outside => {
                        self.skipped.outside += 1;
                        continue;
                    }
                    _ => continue,
                }
            }
            self.file(&rel);
        }
    }

    /// Searches one file, opened through the workspace (kernel-checked beneath the root).
    fn file(&mut self, rel: &Path) {
        let file = match self.workspace.open_file(rel) {
            Ok((file, _)) => file,
            Err(WorkspaceError::Escapes { .. }) => {
                self.skipped.outside += 1;
                return;
            }
            Err(_) => {
                self.skipped.unreadable += 1;
                return;
            }
        };
        self.searched += 1;
        let mut sink = FileSink::new(self.matcher, self.max_results - self.shown, MAX_COUNTED - self.matches);
        if self
            .searcher
            .search_reader(self.matcher, file.into_std(), &mut sink)
            .is_err()
        {
            self.skipped.unreadable += 1;
            return;
        }
        if sink.binary {
            self.binary += 1;
            return;
        }
        if sink.matches == 0 {
            return;
        }
        self.matches += sink.matches;
        self.shown += sink.shown;
        self.stopped = self.matches >= MAX_COUNTED;
        self.files.push((text::path(rel), sink.lines));
    }

    fn report(self, args: &GrepArgs, under: &str, context: usize) -> String {
        let mut out = Vec::new();
        let what = match args.glob.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            Some(glob) => format!("`{}` in `{glob}` files under `{under}`", args.pattern),
            None => format!("`{}` under `{under}`", args.pattern),
        };
        if self.files.is_empty() {
            out.push(format!(
                "no matches for {what} ({} searched)",
                plural(self.searched, "file", "files")
            ));
        } else {
            let with_matches = self.files.len();
            for (path, lines) in self.files {
                if context > 0 && !out.is_empty() && !lines.is_empty() {
                    out.push("--".to_owned());
                }
                for line in lines {
                    out.push(match line {
                        Shown::Match(n, text) => format!("{path}:{n}: {text}"),
                        Shown::Context(n, text) => format!("{path}-{n}- {text}"),
                        Shown::Break => "--".to_owned(),
                    });
                }
            }
            let at_least = if self.stopped { "at least " } else { "" };
            out.push(format!(
                "{at_least}{} in {}",
                plural(self.matches, "match", "matches"),
                plural(with_matches, "file", "files")
            ));
            if self.matches > self.shown {
                out.push(format!(
                    "[showing the first {} matches; narrow the pattern or the path]",
                    self.shown
                ));
            }
        }
        if self.binary > 0 {
            out.push(format!(
                "{} skipped",
                plural(self.binary, "binary file", "binary files")
            ));
        }
        out.extend(self.skipped.notes());
        out.join("\n")
    }
}

//! The file tools: `read_file` (numbered lines, a window, capped), `write_file` (create or
//! replace, parents created, atomic) and `edit_file` (exact replacement through the matching
//! ladder of `edit`), all through the [`Workspace`]. Writes honour the read-before-edit guard
//! and the run's idempotency key.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::command::format_bytes;
use crate::edit::{EditError, plan_edit};
use crate::tool::{CallContext, Outcome, ToolOutput, TypedTool};
use crate::workspace::{Workspace, WorkspaceError, WriteMode, display};

/// Lines shown by default, and at most, per read.
const DEFAULT_LINES: usize = 200;
const MAX_LINES: usize = 2000;
/// Characters of one line shown before it is cut.
const MAX_LINE_CHARS: usize = 500;
/// The most text one read returns.
const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// `read_file`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadFileArgs {
    /// The file, relative to the workspace root.
    pub path: String,
    /// The first line to show (1-based, default 1).
    #[serde(default)]
    pub offset: Option<usize>,
    /// How many lines to show (default 200, at most 2000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Reads a file as numbered lines (`  12| text`), a window at a time.
#[derive(Debug)]
pub struct ReadFile {
    workspace: Arc<Workspace>,
}

impl ReadFile {
    /// The tool on `workspace`.
    pub fn new(workspace: Arc<Workspace>) -> Self {
        ReadFile { workspace }
    }
}

#[async_trait]
impl TypedTool for ReadFile {
    type Args = ReadFileArgs;
    const NAME: &'static str = "read_file";
    const SIDE_EFFECTS: bool = false;

    fn description(&self) -> String {
        "Read a text file as numbered lines, 200 at a time by default. Example: \
         {\"path\": \"src/main.rs\", \"offset\": 200, \"limit\": 100}. The `  12| ` prefixes are not part of the file."
            .to_owned()
    }

    async fn run(&self, args: ReadFileArgs, _context: &CallContext) -> ToolOutput {
        let (rel, content) = match self.workspace.read(&args.path) {
            Ok(read) => read,
            Err(error) => return failed(error),
        };
        ToolOutput::ok(render_lines(
            &display(&rel),
            &content,
            args.offset.unwrap_or(1),
            args.limit,
        ))
    }
}

/// The numbered-lines view of `content`.
fn render_lines(path: &str, content: &[u8], offset: usize, limit: Option<usize>) -> String {
    if looks_binary(content) {
        return format!(
            "`{path}` is a binary file ({}); not shown",
            format_bytes(content.len() as u64)
        );
    }
    let text = String::from_utf8_lossy(content);
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    if total == 0 {
        return format!("`{path}` is empty");
    }
    let offset = offset.max(1);
    if offset > total {
        return format!("offset {offset} is past the end of `{path}` ({total} lines); use an offset from 1 to {total}");
    }
    let limit = limit.unwrap_or(DEFAULT_LINES).clamp(1, MAX_LINES);
    let mut out = String::new();
    let mut last = offset - 1;
    let mut body = String::new();
    for (index, line) in lines.iter().enumerate().skip(offset - 1).take(limit) {
        let shown = cut_line(line);
        let numbered = format!("{:>4}| {shown}\n", index + 1);
        if body.len() + numbered.len() > MAX_OUTPUT_BYTES {
            break;
        }
        body.push_str(&numbered);
        last = index + 1;
    }
    out.push_str(&format!("{path} (lines {offset}–{last} of {total})\n"));
    out.push_str(&body);
    if last < total {
        out.push_str(&format!(
            "[{} of {total} lines shown; continue with offset={}]",
            last - offset + 1,
            last + 1
        ));
    } else {
        out.push_str("[end of file]");
    }
    out
}

fn cut_line(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!(
            "{}…[line cut: {} more characters]",
            &line[..at],
            line[at..].chars().count()
        ),
        None => line.to_owned(),
    }
}

/// A NUL in the first 8 KiB, as git decides.
pub(crate) fn looks_binary(content: &[u8]) -> bool {
    content.iter().take(8192).any(|&b| b == 0)
}

fn failed(error: WorkspaceError) -> ToolOutput {
    ToolOutput::failed(format!("error: {error}"))
}

fn line_count(content: &[u8]) -> usize {
    String::from_utf8_lossy(content).lines().count()
}

/// `1 line`, `3 lines`.
pub(crate) fn lines(n: usize) -> String {
    if n == 1 {
        "1 line".to_owned()
    } else {
        format!("{n} lines")
    }
}

/// Returns the recorded output when this idempotency key was applied already in this process.
fn already_applied(workspace: &Workspace, context: &CallContext) -> Option<ToolOutput> {
    let key = context.idempotency_key.as_deref()?;
    let recorded = workspace.applied(key)?;
    Some(ToolOutput {
        text: format!(
            "{}\n(already applied with idempotency key {key}; not applied again)",
            recorded.text
        ),
        outcome: Outcome::AlreadyApplied,
    })
}

fn record(workspace: &Workspace, context: &CallContext, output: ToolOutput) -> ToolOutput {
    if let (Some(key), Outcome::Ok) = (context.idempotency_key.as_deref(), output.outcome) {
        workspace.record_applied(key, &output);
    }
    output
}

/// `write_file`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteFileArgs {
    /// The file, relative to the workspace root; missing directories are created.
    pub path: String,
    /// The whole new content.
    pub content: String,
}

/// Creates a file or replaces it whole.
#[derive(Debug)]
pub struct WriteFile {
    workspace: Arc<Workspace>,
}

impl WriteFile {
    /// The tool on `workspace`.
    pub fn new(workspace: Arc<Workspace>) -> Self {
        WriteFile { workspace }
    }
}

#[async_trait]
impl TypedTool for WriteFile {
    type Args = WriteFileArgs;
    const NAME: &'static str = "write_file";
    const SIDE_EFFECTS: bool = true;

    fn description(&self) -> String {
        "Create a file, or replace a whole file you have read, with `content`; missing directories are \
         created. For a change to part of a file use edit_file. Example: {\"path\": \"src/util.rs\", \
         \"content\": \"pub fn add(a: i32, b: i32) -> i32 { a + b }\\n\"}"
            .to_owned()
    }

    async fn run(&self, args: WriteFileArgs, context: &CallContext) -> ToolOutput {
        if let Some(output) = already_applied(&self.workspace, context) {
            return output;
        }
        let content = args.content.as_bytes();
        let workspace = &self.workspace;
        let ambiguous = context.ambiguous;
        let mut unchanged = false;
        let result = workspace.write_checked(&args.path, content, WriteMode::CreateOrReplace, |real, current| {
            let Some(current) = current else { return Ok(()) };
            if ambiguous && current == content {
                unchanged = true;
                return Err(String::new());
            }
            workspace
                .check_fresh(real, current)
                .map_err(|why| format!("{why}, or use edit_file; write_file replaces the whole file"))
        });
        let output = match result {
            _ if unchanged => {
                return ToolOutput {
                    text: format!(
                        "`{}` already has this content: the write was applied before (idempotency key {}); not written again",
                        args.path.trim(),
                        context.idempotency_key.as_deref().unwrap_or("-")
                    ),
                    outcome: Outcome::AlreadyApplied,
                };
            }
            Ok(written) => match &written.previous {
                None => ToolOutput::ok(format!(
                    "created {} ({})",
                    display(&written.path),
                    lines(line_count(content))
                )),
                Some(previous) => ToolOutput::ok(format!(
                    "replaced {} ({} → {})",
                    display(&written.path),
                    lines(line_count(previous)),
                    lines(line_count(content))
                )),
            },
            Err(error) => failed(error),
        };
        record(&self.workspace, context, output)
    }
}

/// `edit_file`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EditFileArgs {
    /// The file, relative to the workspace root. Read it first with read_file.
    pub path: String,
    /// The exact text to replace, with enough surrounding lines to be unique (without the
    /// `  12| ` prefixes read_file shows).
    pub old_string: String,
    /// The text to put in its place.
    pub new_string: String,
    /// Replace every occurrence instead of requiring exactly one (default false).
    #[serde(default)]
    pub replace_all: bool,
}

/// Replaces an exact piece of a file.
#[derive(Debug)]
pub struct EditFile {
    workspace: Arc<Workspace>,
}

impl EditFile {
    /// The tool on `workspace`.
    pub fn new(workspace: Arc<Workspace>) -> Self {
        EditFile { workspace }
    }
}

#[async_trait]
impl TypedTool for EditFile {
    type Args = EditFileArgs;
    const NAME: &'static str = "edit_file";
    const SIDE_EFFECTS: bool = true;

    fn description(&self) -> String {
        "Replace `old_string` with `new_string` in a file you have read. old_string must match the file \
         exactly once (include a few surrounding lines), unless replace_all is true. Example: {\"path\": \
         \"src/lib.rs\", \"old_string\": \"fn add(a: i32) {\\n    a\\n}\", \"new_string\": \"fn add(a: i32) {\\n    a + 1\\n}\"}"
            .to_owned()
    }

    async fn run(&self, args: EditFileArgs, context: &CallContext) -> ToolOutput {
        if let Some(output) = already_applied(&self.workspace, context) {
            return output;
        }
        let workspace = &self.workspace;
        let rel = match workspace.clean(&args.path) {
            Ok(rel) => rel,
            Err(error) => return failed(error),
        };
        let shown = display(&rel);
        let current = match workspace.peek(&rel) {
            Ok(content) => content,
            Err(WorkspaceError::NotFound { .. }) => {
                return ToolOutput::failed(format!("error: `{shown}` does not exist; create it with write_file"));
            }
            Err(error) => return failed(error),
        };
        let text = String::from_utf8_lossy(&current).into_owned();
        let plan = match plan_edit(&text, &args.old_string, &args.new_string, args.replace_all) {
            Ok(plan) => plan,
            Err(
                EditError::NotFound {
                    new_present: Some(_), ..
                }
                | EditError::AlreadyApplied { .. },
            ) if context.ambiguous => {
                return ToolOutput {
                    text: format!(
                        "`{shown}` already holds new_string: the edit was applied before (idempotency key {}); not applied again",
                        context.idempotency_key.as_deref().unwrap_or("-")
                    ),
                    outcome: Outcome::AlreadyApplied,
                };
            }
            Err(error) => return ToolOutput::failed(error.message(&shown)),
        };
        if !context.ambiguous
            && let Err(why) = workspace.check_fresh(&rel, &current)
        {
            return ToolOutput::failed(format!("error: {why}"));
        }
        let result = workspace.write_checked(
            &args.path,
            plan.new_content.as_bytes(),
            WriteMode::CreateOrReplace,
            |_, now| {
                if now == Some(current.as_slice()) {
                    Ok(())
                } else {
                    Err(format!(
                        "`{shown}` changed while it was being edited; read it again and retry"
                    ))
                }
            },
        );
        let output = match result {
            Ok(written) => {
                let count = plan.replacements.len();
                let how = if plan.notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", plan.notes.join("; "))
                };
                ToolOutput::ok(format!(
                    "edited {}: {count} replacement{}{how}\n{}",
                    display(&written.path),
                    if count == 1 { "" } else { "s" },
                    crate::edit::context(&plan.new_content, &plan, 5)
                ))
            }
            Err(error) => failed(error),
        };
        record(&self.workspace, context, output)
    }
}

//! The tools Lemmings' agents act with: file tools confined to the workspace by the kernel
//! (`Workspace`), reading and searching, exact-string editing with a matching ladder for small
//! models' near misses, and a command runner with an allow-list, a time limit that kills the
//! whole process group and an output cap. Every tool implements [`Tool`]: a JSON schema for the
//! model, arguments checked before the call, and text back (never a failed run).

pub mod command;
mod config;
pub mod edit;
pub mod files;
pub mod git;
mod schema;
pub mod search;
mod tool;
mod workspace;

pub use config::{ToolsConfig, ToolsConfigError};
pub use tool::{CallContext, Outcome, Tool, ToolOutput, TypedTool};
pub use workspace::{Change, Workspace, WorkspaceError, WorkspaceOptions, WriteMode, Written, display};

use std::sync::Arc;

/// The file and search tools on `workspace`: `read_file`, `write_file`, `edit_file`,
/// `list_dir`, `glob`, `grep` and `git_diff`. (`run_command` needs a [`command::CommandPolicy`]:
/// see [`command::RunCommand`].)
pub fn file_tools(workspace: Arc<Workspace>) -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(files::ReadFile::new(workspace.clone())),
        Arc::new(files::WriteFile::new(workspace.clone())),
        Arc::new(files::EditFile::new(workspace.clone())),
        Arc::new(search::ListDir::new(workspace.clone())),
        Arc::new(search::Glob::new(workspace.clone())),
        Arc::new(search::Grep::new(workspace.clone())),
        Arc::new(git::GitDiff::new(workspace)),
    ]
}

/// The tools that only look: `read_file`, `list_dir`, `glob`, `grep`, `git_diff` (for
/// subagents such as `ask` and `explain_code`).
pub fn read_only_tools(workspace: Arc<Workspace>) -> Vec<Arc<dyn Tool>> {
    file_tools(workspace)
        .into_iter()
        .filter(|tool| !tool.has_side_effects())
        .collect()
}

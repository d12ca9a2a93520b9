//! Reading and searching the workspace: [`ListDir`] (a tree with line counts), [`Glob`] (files
//! by name pattern) and [`Grep`] (lines by regex).
//!
//! All three walk the workspace with `ignore`'s walker from the real path of the start
//! directory (checked to be inside the root): dotfiles shown, `.git` always skipped,
//! `.gitignore`, `.ignore` and `.git/info/exclude` honoured even without git, the user's global
//! gitignore not (so results do not depend on the machine). Symlinks are never followed by the
//! walk; file content is read only through [`Workspace::open_file`](crate::Workspace::open_file),
//! which the kernel confines beneath the root, so a symlink leading outside is reported and
//! skipped, never read. An in-tree symlink to a file is read like the file (grep may then show
//! the same lines under both names); an in-tree symlink to a directory is not descended into.
//! Paths are shown relative to the workspace root, `/`-separated, starting with the path as the
//! model wrote it (so a start reached through an in-tree symlink keeps the link's name).

mod glob;
mod grep;
mod lines;
mod list;
mod pattern;
mod text;
mod walk;

pub use glob::{Glob, GlobArgs};
pub use grep::{Grep, GrepArgs};
pub use list::{ListDir, ListDirArgs};

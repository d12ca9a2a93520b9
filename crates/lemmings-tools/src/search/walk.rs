//! The walk the search tools share: where it starts, which ignore rules it honours, what each
//! entry is, and where a symlink leads (asked of the kernel beneath the root, never by reading).

use std::path::{Path, PathBuf};

use ignore::{DirEntry, WalkBuilder};

use super::text::plural;
use crate::{Workspace, WorkspaceError};

/// The most entries one call walks, so a huge tree cannot stall a call.
pub(super) const MAX_WALKED: usize = 100_000;

/// The default search path: the workspace root.
pub(super) fn dot() -> String {
    ".".to_owned()
}

/// Where a walk starts.
#[derive(Debug)]
pub(super) struct Start {
    /// The start as the model named it, relative to the root (empty for the root).
    pub(super) rel: PathBuf,
    /// Its real absolute path, inside the root.
    pub(super) real: PathBuf,
}

impl Start {
    /// The directory `input` names, or why it cannot be walked (escapes, missing, a file).
    pub(super) fn dir(workspace: &Workspace, input: &str) -> Result<Start, WorkspaceError> {
        let rel = workspace.clean(input)?;
        let real = workspace.real_dir(&rel)?;
        Ok(Start { rel, real })
    }

    /// A walked path relative to the start (what patterns match against).
    pub(super) fn within<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.real).unwrap_or(path)
    }

    /// A walked path relative to the root, as shown: the start as named, then the rest.
    pub(super) fn rel(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.real) {
            Ok(rest) => self.rel.join(rest),
            Err(_) => self.rel.join(path.file_name().unwrap_or_default()),
        }
    }
}

/// A walker from `real` (an absolute path inside the root): symlinks not followed, dotfiles
/// shown, `.git` skipped, names sorted; the ignore files honoured or not. Without a git
/// repository too (`require_git(false)`), and never the user's global gitignore.
pub(super) fn walker(real: &Path, max_depth: Option<usize>, honour_ignores: bool) -> WalkBuilder {
    let mut builder = WalkBuilder::new(real);
    builder
        .follow_links(false)
        .hidden(false)
        .git_ignore(honour_ignores)
        .git_exclude(honour_ignores)
        .ignore(honour_ignores)
        .parents(honour_ignores)
        .git_global(false)
        .require_git(false)
        .max_depth(max_depth)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(not_git);
    builder
}

/// Whether an entry is not a `.git` directory (or gitlink file) below the start.
pub(super) fn not_git(entry: &DirEntry) -> bool {
    entry.depth() == 0 || entry.file_name() != ".git"
}

/// What a walked entry is (symlinks not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Link,
    /// A FIFO, socket or device: never opened (opening a FIFO would block).
    Special,
}

impl Kind {
    pub(super) fn of(entry: &DirEntry) -> Kind {
        match entry.file_type() {
            Some(t) if t.is_symlink() => Kind::Link,
            Some(t) if t.is_dir() => Kind::Dir,
            Some(t) if t.is_file() => Kind::File,
            _ => Kind::Special,
        }
    }
}

/// Where a symlink leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    File,
    Dir,
    Outside,
    Broken,
    Special,
}

impl Target {
    /// Where the link at `rel` (relative to the root) leads, by a metadata query resolved
    /// beneath the root, so the answer for a link out is "outside", never its target.
    pub(super) fn of(workspace: &Workspace, rel: &Path) -> Target {
        match workspace.metadata(rel) {
            Ok(meta) if meta.is_file() => Target::File,
            Ok(meta) if meta.is_dir() => Target::Dir,
            Ok(_) => Target::Special,
            Err(WorkspaceError::Escapes { .. }) => Target::Outside,
            Err(_) => Target::Broken,
        }
    }
}

/// What a walk left out, for the closing notes.
#[derive(Debug, Default)]
pub(super) struct Skipped {
    /// Symlinks leading outside the workspace.
    pub(super) outside: usize,
    /// Entries the file system would not let us read.
    pub(super) unreadable: usize,
    /// Whether the walk stopped at [`MAX_WALKED`].
    pub(super) stopped: bool,
}

impl Skipped {
    /// Counts a walk error. Only I/O errors count: the others are about ignore files, whose
    /// text is never shown (an ignore file may be a symlink to a file outside).
    pub(super) fn error(&mut self, error: &ignore::Error) {
        if error.io_error().is_some() {
            self.unreadable += 1;
        }
    }

    /// One line per kind of skip, e.g. `1 symlink leading outside the workspace skipped`.
    pub(super) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.outside > 0 {
            notes.push(format!(
                "{} leading outside the workspace skipped",
                plural(self.outside, "symlink", "symlinks")
            ));
        }
        if self.unreadable > 0 {
            notes.push(format!(
                "{} could not be read (permission denied or gone)",
                plural(self.unreadable, "entry", "entries")
            ));
        }
        if self.stopped {
            notes.push(format!(
                "[stopped after walking {MAX_WALKED} entries; use a narrower path]"
            ));
        }
        notes
    }
}

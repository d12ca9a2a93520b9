//! Lexical path checks, before the kernel's: what a model may write as a path, and how paths
//! are shown back to it.

use std::io;
use std::path::{Component, Path, PathBuf};

use super::WorkspaceError;

/// The longest path accepted, in bytes (Linux's `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;

/// `input` as a path relative to `root` with only normal components (empty for the root
/// itself). Backslashes are separators (models write Windows paths); `./` and trailing `/` are
/// dropped; an absolute path inside `root` is made relative. Leaving the root by `..`, an
/// absolute path elsewhere, a `~` home path and a NUL byte are escapes.
pub(crate) fn clean(input: &str, root: &Path) -> Result<PathBuf, WorkspaceError> {
    let escapes = || WorkspaceError::Escapes { path: shorten(input) };
    if input.contains('\0') {
        return Err(escapes());
    }
    let trimmed = input.trim();
    let normalised = trimmed.replace('\\', "/");
    if normalised.starts_with('~') {
        return Err(escapes());
    }
    let path = Path::new(&normalised);
    let relative = if path.is_absolute() {
        match path.strip_prefix(root) {
            Ok(inside) => inside.to_path_buf(),
            Err(_) => return Err(escapes()),
        }
    } else {
        path.to_path_buf()
    };
    let mut clean = PathBuf::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    return Err(escapes());
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(escapes()),
        }
    }
    // Checked after the escape checks, so a long way out is still reported as an escape.
    if trimmed.len() > MAX_PATH_BYTES {
        return Err(WorkspaceError::Invalid {
            path: shorten(input),
            why: format!("it is {} bytes long; the limit is {MAX_PATH_BYTES}", trimmed.len()),
        });
    }
    Ok(clean)
}

/// A relative path as the tools show it: `/`-separated, `.` for the root.
pub fn display(rel: &Path) -> String {
    let shown = rel.to_string_lossy();
    if shown.is_empty() {
        ".".to_owned()
    } else {
        shown.into_owned()
    }
}

/// Whether an I/O error says a path led outside the directory it was resolved in: cap-std's
/// own check, or the kernel's `EXDEV` for `RESOLVE_BENEATH`.
pub(crate) fn is_escape(error: &io::Error) -> bool {
    error.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error())
        || (error.kind() == io::ErrorKind::PermissionDenied && error.to_string().contains("outside of the filesystem"))
}

/// At most 120 characters of a path, for messages.
pub(crate) fn shorten(path: &str) -> String {
    let printable: String = path.chars().map(|c| if c == '\0' { '␀' } else { c }).collect();
    match printable.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &printable[..at]),
        None => printable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str) -> String {
        match clean(input, Path::new("/work/ws")) {
            Ok(path) => display(&path),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn paths_are_made_relative_or_refused() {
        assert_eq!(check("src/lib.rs"), "src/lib.rs");
        assert_eq!(check("./src//lib.rs/"), "src/lib.rs");
        assert_eq!(check("src\\main.rs"), "src/main.rs");
        assert_eq!(check("a/b/../c"), "a/c");
        assert_eq!(check("."), ".");
        assert_eq!(check("/work/ws/src/x.rs"), "src/x.rs");
        for escape in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "~/.ssh/id_rsa",
            "..\\x",
            "a\0b",
            "/work/wsx/y",
            "/work",
        ] {
            assert!(
                check(escape).starts_with("path escapes workspace"),
                "{escape:?}: {}",
                check(escape)
            );
        }
        assert!(check(&"a/".repeat(3000)).starts_with("invalid path"));
    }
}

//! Exact-string editing with a matching ladder for near misses: the pure planning behind the
//! `edit_file` tool (no I/O; the tool reads the file, calls [`plan_edit`], writes the result and
//! echoes [`context`]).
//!
//! Small models copy `old_string` nearly but not quite: with the wrong indentation, spaces for
//! tabs, LF for CRLF, trailing whitespace dropped, a blank line missed, `read_file`'s `  12| `
//! prefixes included. [`plan_edit`] tries the rungs of [`Rung`] in order and stops at the first
//! that finds anything:
//!
//! 1. [`Rung::Exact`]: as written.
//! 2. [`Rung::LineNumbersStripped`]: without copied line-number prefixes (then the rungs below
//!    run on the stripped text, and again on the text as written).
//! 3. [`Rung::LineEndings`]: CRLF vs LF, trailing whitespace, a final newline the file lacks.
//! 4. [`Rung::Indentation`]: a uniform leading-whitespace offset, applied to `new_string` too.
//! 5. [`Rung::Tabs`]: the same counting a tab as 4, 8 or 2 columns.
//! 6. [`Rung::TrimmedLines`]: every line trimmed; `new_string` re-indented line by line.
//! 7. [`Rung::BlankLines`]: blank lines ignored as well.
//! 8. [`Rung::Spacing`]: all whitespace inside lines ignored as well.
//! 9. [`Rung::Typography`]: typographic quotes, dashes and ellipses as ASCII as well.
//!
//! **Invariants:** a match is never a guess: without `replace_all`, more than one match on the
//! deciding rung is [`EditError::Ambiguous`], and nothing looser than whole, normalised lines is
//! ever matched. The file keeps its line endings and its final-newline state, and lines the
//! model copied unchanged keep the file's exact text. No input panics.

mod apply;
mod closest;
mod context;
mod error;
mod ladder;
mod lines;
mod plan;
mod prefix;
#[cfg(test)]
mod tests;

use std::ops::Range;

pub use context::context;
pub use error::{Closest, EditError};
pub use ladder::Rung;

/// A planned edit: the file's new text and where the replacements sit in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditPlan {
    /// The whole file after the edit.
    pub new_content: String,
    /// Where each replacement's text sits in `new_content`, in order.
    pub replacements: Vec<Span>,
    /// The rung of the ladder that found `old_string`.
    pub rung: Rung,
    /// What had to be relaxed or converted, for the model to read (e.g. "matched ignoring
    /// indentation (the file indents by 4 more spaces); new_string was re-indented the same way").
    pub notes: Vec<String>,
}

/// Where one replacement's text sits in the new content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Its bytes in the new content (empty for a deletion).
    pub bytes: Range<usize>,
    /// The 1-based line it starts on.
    pub first_line: usize,
    /// The 1-based line it ends on (inclusive; `first_line` for a deletion).
    pub last_line: usize,
}

/// Plans replacing `old` with `new` in `content`. Without `replace_all`, `old` must match exactly
/// once on the first rung of the ladder that matches it at all; with it, every match of that rung
/// is replaced.
///
/// # Errors
///
/// [`EditError`] when `old` is empty or equals `new`, the file is empty, `old` is not found
/// (with the closest lines, and whether `new` is there already), is found more than once
/// without `replace_all`, or the edit would change nothing.
pub fn plan_edit(content: &str, old: &str, new: &str, replace_all: bool) -> Result<EditPlan, EditError> {
    plan::plan(content, old, new, replace_all)
}

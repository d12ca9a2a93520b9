//! Why an edit could not be planned, and the actionable message the model reads for it. Every
//! error is the model's to fix by calling again with different arguments; none is retryable
//! as is.

use std::fmt::Write as _;

use super::context::push_numbered;
use super::ladder::Rung;

/// Lines of a closest window shown in a message; beyond this the model is sent to read them.
const MAX_SHOWN_LINES: usize = 40;
/// Characters of one line shown in a message.
const MAX_LINE_CHARS: usize = 300;
/// Line numbers listed for an ambiguous match.
const MAX_LISTED_LINES: usize = 10;

/// The lines of the file most similar to an `old_string` that was not found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closest {
    /// The window's first line, 1-based.
    pub first_line: usize,
    /// The window's last line, 1-based and inclusive.
    pub last_line: usize,
    /// The window's lines as they are in the file, without line terminators.
    pub lines: Vec<String>,
    /// The first line (1-based) where the window and `old_string`, compared line by line without
    /// indentation, differ.
    pub first_difference: Option<usize>,
}

/// Why [`plan_edit`](super::plan_edit) could not plan an edit. [`EditError::message`] says what
/// to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// `old_string` is empty.
    #[error("old_string is empty")]
    EmptyOld,
    /// `old_string` and `new_string` are the same (after line-ending and line-number
    /// normalisation).
    #[error("old_string and new_string are the same")]
    Identical,
    /// The file is empty, so nothing can match.
    #[error("the file is empty")]
    EmptyFile,
    /// No rung of the ladder found `old_string`.
    #[error("old_string not found")]
    NotFound {
        /// The most similar lines of the file, when any are similar enough.
        closest: Option<Closest>,
        /// Where `new_string` occurs in the file, when it occurs exactly once (1-based first and
        /// last line): the edit was probably made already.
        new_present: Option<(usize, usize)>,
    },
    /// The first rung that found `old_string` found it more than once, and `replace_all` was not
    /// set.
    #[error("old_string found {count} times")]
    Ambiguous {
        /// How many matches.
        count: usize,
        /// The 1-based first line of each match.
        lines: Vec<usize>,
        /// The rung that found them.
        rung: Rung,
    },
    /// `new_string` contains `old_string` and already stands in the file around its only match:
    /// the edit was made before (a replayed call), and making it again would repeat the addition.
    #[error("new_string is already there")]
    AlreadyApplied {
        /// Where `new_string` stands, 1-based first line.
        first_line: usize,
        /// Where `new_string` stands, 1-based last line.
        last_line: usize,
    },
    /// `old_string` matched, but only by ignoring what is the only difference from `new_string`,
    /// so the file would not change.
    #[error("the edit would not change the file")]
    NoChange {
        /// The rung that found `old_string`.
        rung: Rung,
    },
}

impl EditError {
    /// The message for the model, naming the file at `path`: lowercase, saying what went wrong
    /// and what to do next.
    pub fn message(&self, path: &str) -> String {
        match self {
            EditError::EmptyOld => "error: old_string is empty; to insert text, put a neighbouring line in old_string \
                 and repeat it in new_string with your addition; to fill an empty file, write the whole file instead"
                .to_owned(),
            EditError::Identical => "error: old_string and new_string are the same, so there is nothing to change; \
                 put the changed text in new_string"
                .to_owned(),
            EditError::EmptyFile => {
                format!("error: {path} is empty, so old_string cannot be found in it; write the whole file instead")
            }
            EditError::NotFound {
                new_present: Some((first, last)),
                ..
            } => format!(
                "error: old_string not found in {path}, but new_string is already there ({}): the edit seems to be \
                 made already; read those lines to check",
                lines_label(*first, *last)
            ),
            EditError::NotFound {
                closest: Some(closest), ..
            } => closest_message(path, closest),
            EditError::NotFound { .. } => format!(
                "error: old_string not found in {path}, and no lines are close to it; read the file again and copy \
                 the lines to change exactly"
            ),
            EditError::Ambiguous { count, lines, rung } => {
                let mut shown: Vec<usize> = lines.clone();
                shown.dedup();
                let more = shown.len().saturating_sub(MAX_LISTED_LINES);
                shown.truncate(MAX_LISTED_LINES);
                let list = shown.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
                let list = match (shown.len(), more) {
                    (1, _) => format!("line {list}"),
                    (_, 0) => format!("lines {list}"),
                    (_, more) => format!("lines {list} and {more} more"),
                };
                format!(
                    "error: old_string found {count} times in {path} ({list}){}; add surrounding lines to make it \
                     unique, or set replace_all",
                    qualifier(*rung)
                )
            }
            EditError::AlreadyApplied { first_line, last_line } => format!(
                "error: new_string is already in {path} ({}), around the only match of old_string: the edit seems \
                 to be made already; read those lines to check, and to add the text once more, use the current \
                 text as old_string",
                lines_label(*first_line, *last_line)
            ),
            EditError::NoChange { rung } => format!(
                "error: the edit would not change {path}: old_string matched only {}, and new_string differs from it \
                 only there; put the change you want in new_string",
                ignoring(*rung)
            ),
        }
    }
}

fn closest_message(path: &str, closest: &Closest) -> String {
    let mut out = format!(
        "error: old_string not found in {path}; the closest lines are {}",
        closest_range(closest.first_line, closest.last_line)
    );
    if let Some(line) = closest.first_difference {
        let _ = write!(out, " (the first difference is on line {line})");
    }
    out.push_str(":\n");
    for (i, line) in closest.lines.iter().take(MAX_SHOWN_LINES).enumerate() {
        push_numbered(&mut out, closest.first_line + i, line, MAX_LINE_CHARS);
    }
    if closest.lines.len() > MAX_SHOWN_LINES {
        let _ = writeln!(
            out,
            "... ({} more lines; read lines {}–{})",
            closest.lines.len() - MAX_SHOWN_LINES,
            closest.first_line + MAX_SHOWN_LINES,
            closest.last_line
        );
    }
    out.push_str("copy them exactly (without the line-number prefix) or read the file again");
    out
}

/// `"line 4"` or `"lines 4–9"`.
fn lines_label(first: usize, last: usize) -> String {
    if first == last {
        format!("line {first}")
    } else {
        format!("lines {first}–{last}")
    }
}

/// `"4"` or `"4–9"`, after "the closest lines are".
fn closest_range(first: usize, last: usize) -> String {
    if first == last {
        format!("{first}")
    } else {
        format!("{first}–{last}")
    }
}

/// What the rung ignored, appended to "found N times".
fn qualifier(rung: Rung) -> &'static str {
    match rung {
        Rung::Exact => "",
        Rung::LineNumbersStripped => " once line-number prefixes are removed",
        Rung::LineEndings => " when ignoring line endings and trailing whitespace",
        Rung::Indentation => " when ignoring indentation",
        Rung::Tabs => " when counting tabs as spaces",
        Rung::TrimmedLines => " when comparing trimmed lines",
        Rung::BlankLines => " when ignoring blank lines",
        Rung::Spacing => " when ignoring spaces",
        Rung::Typography => " when ignoring typographic quotes and dashes",
    }
}

/// "old_string matched only …".
fn ignoring(rung: Rung) -> &'static str {
    match rung {
        Rung::Exact | Rung::LineNumbersStripped => "as written",
        Rung::LineEndings => "when ignoring line endings and trailing whitespace",
        Rung::Indentation | Rung::Tabs | Rung::TrimmedLines => "when ignoring indentation",
        Rung::BlankLines => "when ignoring blank lines",
        Rung::Spacing => "when ignoring spaces",
        Rung::Typography => "when ignoring typographic quotes and dashes",
    }
}

//! The numbered lines echoed after an edit, in `read_file`'s `{n:>4}| ` format, so the model
//! sees what it changed without reading the file again.

use std::fmt::Write as _;

use super::EditPlan;
use super::lines;

/// Replacements shown; the rest are only counted.
const MAX_HUNKS: usize = 10;
/// Lines shown at each end of a replacement taller than twice this.
const EDGE_LINES: usize = 8;
/// Characters of one line shown.
const MAX_LINE_CHARS: usize = 500;

/// The lines of `new_content` around each replacement of `plan` (`around` lines before and after
/// it), numbered like `read_file` (`  38| ...`), with `...` between separate hunks. A tall
/// replacement shows only its first and last lines, and only the first few replacements are
/// shown.
pub fn context(new_content: &str, plan: &EditPlan, around: usize) -> String {
    let lines = lines::split_lines(new_content);
    let n = lines.len();
    if n == 0 {
        return "(the file is now empty)".to_owned();
    }
    // 1-based inclusive ranges to show.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for span in plan.replacements.iter().take(MAX_HUNKS) {
        let first = span.first_line.clamp(1, n);
        let last = span.last_line.clamp(first, n);
        let before = first.saturating_sub(around).max(1);
        let after = last.saturating_add(around).min(n);
        if last - first >= 2 * EDGE_LINES {
            ranges.push((before, first + EDGE_LINES - 1));
            ranges.push((last + 1 - EDGE_LINES, after));
        } else {
            ranges.push((before, after));
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            Some((_, end)) if first <= end.saturating_add(1) => *end = (*end).max(last),
            _ => merged.push((first, last)),
        }
    }
    let mut out = String::new();
    for (hunk, &(first, last)) in merged.iter().enumerate() {
        if hunk > 0 {
            out.push_str("...\n");
        }
        for number in first..=last {
            let line = lines[number - 1];
            push_numbered(
                &mut out,
                number,
                &new_content[line.start..line.content_end],
                MAX_LINE_CHARS,
            );
        }
    }
    let hidden = plan.replacements.len().saturating_sub(MAX_HUNKS);
    if hidden > 0 {
        let _ = writeln!(out, "... and {hidden} more replacements");
    }
    out
}

/// Appends `{number:>4}| {line}\n`, the line cut at `max_chars` characters.
pub(super) fn push_numbered(out: &mut String, number: usize, line: &str, max_chars: usize) {
    match line.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            let _ = writeln!(
                out,
                "{number:>4}| {}… ({} more characters)",
                &line[..cut],
                line[cut..].chars().count()
            );
        }
        None => {
            let _ = writeln!(out, "{number:>4}| {line}");
        }
    }
}

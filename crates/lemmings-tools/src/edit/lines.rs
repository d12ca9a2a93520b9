//! Text as lines with byte offsets, line endings, indentation, and the per-line keys the ladder
//! compares. Offsets always sit on char boundaries: lines split only at ASCII `\n` (and `\r\n`).

use std::borrow::Cow;

/// A UTF-8 byte-order mark; it belongs to no line, so edits at line 1 keep it.
pub(super) const BOM: char = '\u{feff}';

/// One line of a text: `start..content_end` is its text, `content_end..end` its terminator
/// (`\n`, `\r\n`, or nothing on a last line without one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Line {
    pub(super) start: usize,
    pub(super) content_end: usize,
    pub(super) end: usize,
}

impl Line {
    pub(super) fn has_terminator(self) -> bool {
        self.end > self.content_end
    }
}

/// The lines of `text`; an empty text has none, and a final terminator does not start a line.
pub(super) fn split_lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = if text.starts_with(BOM) { BOM.len_utf8() } else { 0 };
    while start < text.len() {
        let line = match memchr_newline(text.as_bytes(), start) {
            Some(nl) => {
                let content_end = if nl > start && text.as_bytes()[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                Line {
                    start,
                    content_end,
                    end: nl + 1,
                }
            }
            None => Line {
                start,
                content_end: text.len(),
                end: text.len(),
            },
        };
        lines.push(line);
        start = line.end;
    }
    lines
}

fn memchr_newline(bytes: &[u8], from: usize) -> Option<usize> {
    bytes.get(from..)?.iter().position(|&b| b == b'\n').map(|i| from + i)
}

/// The text's dominant line ending: `"\r\n"` when at least half its lines end so, else `"\n"`.
pub(super) fn detect_eol(text: &str) -> &'static str {
    let lf = text.bytes().filter(|&b| b == b'\n').count();
    let crlf = text.matches("\r\n").count();
    if crlf > 0 && crlf * 2 >= lf { "\r\n" } else { "\n" }
}

/// `text` with every `\r\n` turned into `\n`.
pub(super) fn to_lf(text: &str) -> Cow<'_, str> {
    if text.contains("\r\n") {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// `text` with every line ending turned into `eol`.
pub(super) fn with_eol<'a>(text: &'a str, eol: &str) -> Cow<'a, str> {
    let lf = to_lf(text);
    if eol == "\n" || !lf.contains('\n') {
        lf
    } else {
        Cow::Owned(lf.replace('\n', eol))
    }
}

/// A model-written string (`\n` endings only) as lines, remembering whether it ended with one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Block<'a> {
    pub(super) lines: Vec<&'a str>,
    pub(super) trailing_newline: bool,
}

impl<'a> Block<'a> {
    pub(super) fn parse(text: &'a str) -> Self {
        if text.is_empty() {
            return Block {
                lines: Vec::new(),
                trailing_newline: false,
            };
        }
        let body = text.strip_suffix('\n');
        Block {
            lines: body.unwrap_or(text).split('\n').collect(),
            trailing_newline: body.is_some(),
        }
    }
}

/// Bytes of leading indentation (spaces and tabs).
pub(super) fn indent_len(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Columns of leading indentation, counting a tab as `tab` columns.
pub(super) fn indent_width(line: &str, tab: usize) -> usize {
    line.bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .map(|b| if b == b'\t' { tab } else { 1 })
        .sum()
}

pub(super) fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The index of the first non-blank line and one past the last (both `len` when all blank).
pub(super) fn blank_edges(lines: &[&str]) -> (usize, usize) {
    let lo = lines.iter().position(|l| !is_blank(l)).unwrap_or(lines.len());
    let hi = lines.iter().rposition(|l| !is_blank(l)).map_or(lo, |i| i + 1);
    (lo, hi)
}

/// Which differences a line comparison ignores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// Trailing whitespace (and a stray `\r`).
    TrimEnd,
    /// Leading and trailing whitespace.
    Trim,
    /// All whitespace.
    NoSpace,
    /// All whitespace, and typographic quotes, dashes and ellipses against their ASCII forms.
    Typographic,
}

/// What of `line` a comparison of this kind looks at; blank lines give `""`.
pub(super) fn key(kind: KeyKind, line: &str) -> Cow<'_, str> {
    match kind {
        KeyKind::TrimEnd => Cow::Borrowed(line.trim_end()),
        KeyKind::Trim => Cow::Borrowed(line.trim()),
        KeyKind::NoSpace if !line.contains(char::is_whitespace) => Cow::Borrowed(line),
        KeyKind::NoSpace => Cow::Owned(line.chars().filter(|c| !c.is_whitespace()).collect()),
        KeyKind::Typographic => {
            let mut out = String::with_capacity(line.len());
            for c in line.chars().filter(|c| !c.is_whitespace()) {
                match ascii_equivalent(c) {
                    Some(ascii) => out.push_str(ascii),
                    None => out.push(c),
                }
            }
            Cow::Owned(out)
        }
    }
}

/// The ASCII a model tends to write for a typographic character (or the reverse), and `""` for
/// invisible characters.
fn ascii_equivalent(c: char) -> Option<&'static str> {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => Some("'"),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => Some("\""),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some("-"),
        '\u{2026}' => Some("..."),
        '\u{200B}'..='\u{200D}' | '\u{2060}' | BOM => Some(""),
        _ => None,
    }
}

/// Whether `text` holds any character the typographic comparison maps to ASCII.
pub(super) fn has_typographic(text: &str) -> bool {
    !text.is_ascii() && text.chars().any(|c| ascii_equivalent(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        split_lines(text)
            .iter()
            .map(|l| &text[l.start..l.content_end])
            .collect()
    }

    #[test]
    fn splits_lines_with_any_ending() {
        assert_eq!(texts(""), Vec::<&str>::new());
        assert_eq!(texts("a"), ["a"]);
        assert_eq!(texts("a\n"), ["a"]);
        assert_eq!(texts("a\r\nb\n\nc"), ["a", "b", "", "c"]);
        assert_eq!(texts("\u{feff}x\n"), ["x"]);
        assert_eq!(texts("\r\n"), [""]);
        assert!(!split_lines("a\nb").last().is_some_and(|l| l.has_terminator()));
    }

    #[test]
    fn detects_the_dominant_line_ending() {
        assert_eq!(detect_eol("a\r\nb\r\n"), "\r\n");
        assert_eq!(detect_eol("a\nb\n"), "\n");
        assert_eq!(detect_eol("a\nb\nc\r\n"), "\n");
        assert_eq!(detect_eol(""), "\n");
        assert_eq!(with_eol("a\nb\r\nc", "\r\n"), "a\r\nb\r\nc");
        assert_eq!(with_eol("a\r\nb", "\n"), "a\nb");
    }

    #[test]
    fn blocks_remember_the_final_newline() {
        assert_eq!(
            Block::parse("a\nb\n"),
            Block {
                lines: vec!["a", "b"],
                trailing_newline: true
            }
        );
        assert_eq!(
            Block::parse("a"),
            Block {
                lines: vec!["a"],
                trailing_newline: false
            }
        );
        assert_eq!(
            Block::parse("\n"),
            Block {
                lines: vec![""],
                trailing_newline: true
            }
        );
        assert_eq!(
            Block::parse(""),
            Block {
                lines: vec![],
                trailing_newline: false
            }
        );
    }

    #[test]
    fn keys_ignore_what_they_say() {
        assert_eq!(indent_width("\t  x", 4), 6);
        assert_eq!(indent_len("\t  x"), 3);
        assert_eq!(key(KeyKind::TrimEnd, "  a b \r"), "  a b");
        assert_eq!(key(KeyKind::Trim, "  a b \r"), "a b");
        assert_eq!(key(KeyKind::NoSpace, "  a  b "), "ab");
        assert_eq!(key(KeyKind::Typographic, "“it’s — ok…”"), "\"it's-ok...\"");
        assert!(has_typographic("a ’ b"));
        assert!(!has_typographic("plain é"));
    }
}

//! The rungs of the matching ladder and the search that walks them: exact, then ever looser
//! whole-line comparisons, stopping at the first rung that finds anything.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use super::lines::{self, Block, KeyKind, Line};

/// How far the ladder had to relax the comparison before `old_string` matched. The rungs are
/// tried in this order and the first one that finds anything decides; every rung below
/// [`Rung::LineNumbersStripped`] compares whole lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rung {
    /// `old_string` occurs in the file as written.
    Exact,
    /// It occurs as written once copied line-number prefixes (`  12| `, `12\t`, `L12:`, `12:`)
    /// are removed (from `new_string` too when all its lines carry them).
    LineNumbersStripped,
    /// It matches with the file's line endings (CRLF vs LF), ignoring trailing whitespace, or
    /// with a final newline the file lacks at its end.
    LineEndings,
    /// Whole lines match once a uniform leading-whitespace offset is allowed; `new_string` is
    /// shifted by the same offset.
    Indentation,
    /// Like [`Rung::Indentation`] counting a tab as 4 (then 8, then 2) columns, for a model that
    /// indents with spaces a file indented with tabs, or the reverse; `new_string` is re-indented
    /// in the file's style.
    Tabs,
    /// Each line matches once trimmed, the indentation differing unevenly; `new_string` is
    /// re-indented line by line against the file lines it keeps.
    TrimmedLines,
    /// Trimmed lines match once blank lines are ignored; the file's blank lines are kept where
    /// `new_string` leaves them alone.
    BlankLines,
    /// Lines match once all whitespace inside them is ignored as well.
    Spacing,
    /// Lines match once typographic quotes, dashes and ellipses count as their ASCII forms as
    /// well.
    Typography,
}

impl Rung {
    /// The rung's name, in kebab case (`"trimmed-lines"`).
    pub fn name(self) -> &'static str {
        match self {
            Rung::Exact => "exact",
            Rung::LineNumbersStripped => "line-numbers-stripped",
            Rung::LineEndings => "line-endings",
            Rung::Indentation => "indentation",
            Rung::Tabs => "tabs",
            Rung::TrimmedLines => "trimmed-lines",
            Rung::BlankLines => "blank-lines",
            Rung::Spacing => "spacing",
            Rung::Typography => "typography",
        }
    }
}

impl fmt::Display for Rung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The file being edited, split once.
#[derive(Debug)]
pub(super) struct Haystack<'a> {
    pub(super) content: &'a str,
    pub(super) lines: Vec<Line>,
    pub(super) eol: &'static str,
    has_tab: bool,
    has_typographic: bool,
}

impl<'a> Haystack<'a> {
    pub(super) fn new(content: &'a str) -> Self {
        Haystack {
            content,
            lines: lines::split_lines(content),
            eol: lines::detect_eol(content),
            has_tab: content.contains('\t'),
            has_typographic: lines::has_typographic(content),
        }
    }

    /// The text of line `index` (0-based), without its terminator.
    pub(super) fn text(&self, index: usize) -> &'a str {
        self.lines
            .get(index)
            .map_or("", |l| &self.content[l.start..l.content_end])
    }

    /// The 1-based line holding byte `offset`.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.content.len());
        1 + self.content.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count()
    }
}

/// How a line-wise rung treats indentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IndentRule {
    /// The compared key includes the indentation: it must be equal.
    Kept,
    /// One whitespace string added to or removed from the start of every non-blank line.
    Offset,
    /// One column offset on every non-blank line, a tab counting as this many columns.
    Width(usize),
    /// Anything.
    Free,
}

/// How a line-wise rung compares lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Mode {
    pub(super) key: KeyKind,
    pub(super) indent: IndentRule,
    pub(super) skip_blanks: bool,
}

impl Mode {
    /// The columns a tab counts for when re-indenting.
    pub(super) fn tab(self) -> usize {
        match self.indent {
            IndentRule::Width(tab) => tab,
            _ => 4,
        }
    }
}

/// A whole-line match: file lines `first..=last` (0-based), and for each line of `old_string`
/// the file line it matched (`None` for blank lines a blank-skipping rung ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LineMatch {
    pub(super) first: usize,
    pub(super) last: usize,
    pub(super) map: Vec<Option<usize>>,
}

/// Everything one rung found, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Matches {
    Bytes(Vec<Range<usize>>),
    Lines(Mode, Vec<LineMatch>),
}

impl Matches {
    pub(super) fn len(&self) -> usize {
        match self {
            Matches::Bytes(found) => found.len(),
            Matches::Lines(_, found) => found.len(),
        }
    }

    /// The 1-based first and last line of match `index`.
    pub(super) fn line_range(&self, hay: &Haystack<'_>, index: usize) -> Option<(usize, usize)> {
        match self {
            Matches::Bytes(found) => {
                let r = found.get(index)?;
                Some((hay.line_of(r.start), hay.line_of(r.end.saturating_sub(1).max(r.start))))
            }
            Matches::Lines(_, found) => found.get(index).map(|m| (m.first + 1, m.last + 1)),
        }
    }

    /// The 1-based first line of every match.
    pub(super) fn start_lines(&self, hay: &Haystack<'_>) -> Vec<usize> {
        match self {
            Matches::Bytes(found) => {
                let bytes = hay.content.as_bytes();
                let (mut line, mut at) = (1, 0);
                found
                    .iter()
                    .map(|r| {
                        line += bytes[at..r.start.max(at)].iter().filter(|&&b| b == b'\n').count();
                        at = r.start.max(at);
                        line
                    })
                    .collect()
            }
            Matches::Lines(_, found) => found.iter().map(|m| m.first + 1).collect(),
        }
    }

    /// The matches `replace_all` replaces: the earliest of any that overlap.
    pub(super) fn non_overlapping(self) -> Self {
        match self {
            Matches::Bytes(found) => {
                let mut end = 0;
                Matches::Bytes(
                    found
                        .into_iter()
                        .filter(|r| {
                            let keep = r.start >= end;
                            end = if keep { r.end } else { end };
                            keep
                        })
                        .collect(),
                )
            }
            Matches::Lines(mode, found) => {
                let mut next = 0;
                let found = found
                    .into_iter()
                    .filter(|m| {
                        let keep = m.first >= next;
                        next = if keep { m.last + 1 } else { next };
                        keep
                    })
                    .collect();
                Matches::Lines(mode, found)
            }
        }
    }
}

/// The rung that found `old_string` and what it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Hit {
    pub(super) rung: Rung,
    pub(super) matches: Matches,
}

/// Every occurrence of `needle`: all non-overlapping ones, plus one overlapping the only match
/// if there is such, so that uniqueness means unique.
pub(super) fn exact(content: &str, needle: &str) -> Vec<Range<usize>> {
    if needle.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<Range<usize>> = content
        .match_indices(needle)
        .map(|(i, _)| i..i + needle.len())
        .collect();
    if let [only] = found.as_slice() {
        let next = only.start + content[only.start..].chars().next().map_or(1, char::len_utf8);
        if let Some(i) = content.get(next..).and_then(|rest| rest.find(needle)) {
            found.push(next + i..next + i + needle.len());
        }
    }
    found
}

const LINE_RUNGS: [(Rung, Mode); 6] = [
    (
        Rung::LineEndings,
        Mode {
            key: KeyKind::TrimEnd,
            indent: IndentRule::Kept,
            skip_blanks: false,
        },
    ),
    (
        Rung::Indentation,
        Mode {
            key: KeyKind::Trim,
            indent: IndentRule::Offset,
            skip_blanks: false,
        },
    ),
    (
        Rung::TrimmedLines,
        Mode {
            key: KeyKind::Trim,
            indent: IndentRule::Free,
            skip_blanks: false,
        },
    ),
    (
        Rung::BlankLines,
        Mode {
            key: KeyKind::Trim,
            indent: IndentRule::Free,
            skip_blanks: true,
        },
    ),
    (
        Rung::Spacing,
        Mode {
            key: KeyKind::NoSpace,
            indent: IndentRule::Free,
            skip_blanks: true,
        },
    ),
    (
        Rung::Typography,
        Mode {
            key: KeyKind::Typographic,
            indent: IndentRule::Free,
            skip_blanks: true,
        },
    ),
];

/// Walks the ladder for `old` (with `\n` line endings) from [`Rung::Exact`], or from
/// [`Rung::LineEndings`] when the caller already tried `old` exactly.
pub(super) fn search(hay: &Haystack<'_>, old: &str, include_exact: bool) -> Option<Hit> {
    if include_exact {
        let found = exact(hay.content, old);
        if !found.is_empty() {
            return Some(Hit {
                rung: Rung::Exact,
                matches: Matches::Bytes(found),
            });
        }
    }
    let converted = lines::with_eol(old, hay.eol);
    if converted != old || !include_exact {
        let found = exact(hay.content, &converted);
        if !found.is_empty() {
            return Some(Hit {
                rung: Rung::LineEndings,
                matches: Matches::Bytes(found),
            });
        }
    }
    // A whitespace-only old_string would match any run of blank lines once lines are compared.
    if lines::is_blank(old) {
        return None;
    }
    let block = Block::parse(old);
    let tabs = hay.has_tab || old.contains('\t');
    let typographic = hay.has_typographic || lines::has_typographic(old);
    for (rung, mode) in LINE_RUNGS {
        if rung == Rung::Typography && !typographic {
            continue;
        }
        let found = find_lines(hay, &block, mode);
        if !found.is_empty() {
            return Some(Hit {
                rung,
                matches: Matches::Lines(mode, found),
            });
        }
        // Tabs sits between Indentation and TrimmedLines, once per tab width.
        if rung == Rung::Indentation && tabs {
            for tab in [4, 8, 2] {
                let mode = Mode {
                    indent: IndentRule::Width(tab),
                    ..mode
                };
                let found = find_lines(hay, &block, mode);
                if !found.is_empty() {
                    return Some(Hit {
                        rung: Rung::Tabs,
                        matches: Matches::Lines(mode, found),
                    });
                }
            }
        }
    }
    None
}

/// Every window of the file whose lines match `old`'s under `mode`.
fn find_lines(hay: &Haystack<'_>, old: &Block<'_>, mode: Mode) -> Vec<LineMatch> {
    let file_keys: Vec<Cow<'_, str>> = (0..hay.lines.len())
        .map(|i| lines::key(mode.key, hay.text(i)))
        .collect();
    let old_keys: Vec<Cow<'_, str>> = old.lines.iter().map(|l| lines::key(mode.key, l)).collect();
    // The indentation all non-blank old lines share; the Offset rule swaps it for the file's.
    let common = old
        .lines
        .iter()
        .zip(&old_keys)
        .filter(|(_, k)| !k.is_empty())
        .map(|(l, _)| &l[..lines::indent_len(l)])
        .reduce(|a, b| &a[..a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()])
        .map_or(0, str::len);
    // Whether the indentation of (old line, file line) pairs whose keys match fits the rule.
    let check = |pairs: &mut dyn Iterator<Item = (usize, usize)>| -> bool {
        let mut offset: Option<&str> = None;
        let mut delta: Option<i64> = None;
        for (o, f) in pairs {
            if old_keys[o].is_empty() {
                continue;
            }
            let (old_line, file_line) = (old.lines[o], hay.text(f));
            let fits = match mode.indent {
                IndentRule::Kept | IndentRule::Free => true,
                IndentRule::Offset => {
                    let rest = &old_line[common..lines::indent_len(old_line)];
                    let file_indent = &file_line[..lines::indent_len(file_line)];
                    file_indent
                        .strip_suffix(rest)
                        .is_some_and(|p| *offset.get_or_insert(p) == p)
                }
                IndentRule::Width(tab) => {
                    let d = width(file_line, tab) - width(old_line, tab);
                    *delta.get_or_insert(d) == d
                }
            };
            if !fits {
                return false;
            }
        }
        true
    };
    // Rows compared in order: every line, or only the non-blank ones.
    let rows = |keys: &[Cow<'_, str>]| -> Vec<usize> {
        (0..keys.len())
            .filter(|&i| !mode.skip_blanks || !keys[i].is_empty())
            .collect()
    };
    let (old_rows, file_rows) = (rows(&old_keys), rows(&file_keys));
    let m = old_rows.len();
    let pattern: Vec<&Cow<'_, str>> = old_rows.iter().map(|&i| &old_keys[i]).collect();
    let text: Vec<&Cow<'_, str>> = file_rows.iter().map(|&i| &file_keys[i]).collect();
    let verify = matches!(mode.indent, IndentRule::Offset | IndentRule::Width(_));
    let mut budget = VERIFY_BUDGET;
    let mut found = Vec::new();
    for j in occurrences(&text, &pattern) {
        let window = &file_rows[j..j + m];
        if verify {
            // Keys already match; only the indentation is left to check, within a budget so
            // that thousands of identical lines cannot make the search quadratic.
            if budget < m {
                break;
            }
            budget -= m;
            if !check(&mut old_rows.iter().copied().zip(window.iter().copied())) {
                continue;
            }
        }
        let mut map = vec![None; old.lines.len()];
        for (&o, &f) in old_rows.iter().zip(window) {
            map[o] = Some(f);
        }
        found.push(LineMatch {
            first: window[0],
            last: window[m - 1],
            map,
        });
    }
    found
}

/// Line checks spent verifying indentation in one search.
const VERIFY_BUDGET: usize = 4_000_000;

/// Where `pattern` occurs in `text`, overlapping occurrences included (Knuth–Morris–Pratt, so
/// linear however repetitive the lines).
fn occurrences<T: PartialEq>(text: &[T], pattern: &[T]) -> Vec<usize> {
    let m = pattern.len();
    if m == 0 || m > text.len() {
        return Vec::new();
    }
    let mut fail = vec![0; m];
    let mut k = 0;
    for (i, p) in pattern.iter().enumerate().skip(1) {
        while k > 0 && *p != pattern[k] {
            k = fail[k - 1];
        }
        if *p == pattern[k] {
            k += 1;
        }
        fail[i] = k;
    }
    let mut out = Vec::new();
    k = 0;
    for (i, t) in text.iter().enumerate() {
        while k > 0 && *t != pattern[k] {
            k = fail[k - 1];
        }
        if *t == pattern[k] {
            k += 1;
        }
        if k == m {
            out.push(i + 1 - m);
            k = fail[m - 1];
        }
    }
    out
}

fn width(line: &str, tab: usize) -> i64 {
    i64::try_from(lines::indent_width(line, tab)).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_counts_overlapping_occurrences_of_a_single_match() {
        assert_eq!(exact("aaa", "aa"), [0..2, 1..3]);
        assert_eq!(exact("abab", "ab"), [0..2, 2..4]);
        assert_eq!(exact("é€é", "€").first(), Some(&(2..5)));
        assert!(exact("x", "").is_empty());
        assert_eq!(
            Matches::Bytes(exact("aaaa", "aa")).non_overlapping(),
            Matches::Bytes(vec![0..2, 2..4])
        );
    }

    #[test]
    fn occurrences_overlap_and_stay_linear() {
        assert_eq!(occurrences(&[1, 1, 1, 2, 1, 1], &[1, 1]), [0, 1, 4]);
        assert_eq!(occurrences(&[1, 2, 1, 2, 1], &[1, 2, 1]), [0, 2]);
        assert_eq!(occurrences(&[1], &[1, 1]), Vec::<usize>::new());
        let many = vec![0u8; 100_000];
        assert_eq!(occurrences(&many, &many[..5_000]).len(), 95_001);
    }

    #[test]
    fn the_first_rung_that_finds_anything_decides() {
        let hay = Haystack::new("fn a() {\n    x();\n}\n");
        let rung = |old: &str| search(&hay, old, true).map(|h| h.rung);
        assert_eq!(rung("x();"), Some(Rung::Exact));
        assert_eq!(rung("fn a() {  \n    x();"), Some(Rung::LineEndings));
        assert_eq!(rung("  fn a() {\n      x();"), Some(Rung::Indentation));
        assert_eq!(rung("fn a() {\nx();\n}"), Some(Rung::TrimmedLines));
        assert_eq!(rung("fn a() {\n\n    x();"), Some(Rung::BlankLines));
        assert_eq!(rung("fn a(){\n    x ( );"), Some(Rung::Spacing));
        assert_eq!(rung("fn b() {\n    x();"), None);
        assert_eq!(rung("\n"), Some(Rung::Exact));
        assert_eq!(rung("  \n  "), None);
    }

    #[test]
    fn tabs_rung_tries_several_tab_widths() {
        let hay = Haystack::new("if x {\n\tif y {\n\t\tz();\n\t}\n}\n");
        let hit = search(&hay, "    if y {\n        z();", true);
        assert_eq!(hit.as_ref().map(|h| h.rung), Some(Rung::Tabs));
        let hit = search(&hay, "  if y {\n    z();", true);
        let Some(Hit {
            matches: Matches::Lines(mode, _),
            ..
        }) = hit
        else {
            panic!("no line match")
        };
        assert_eq!(mode.indent, IndentRule::Width(2));
    }
}

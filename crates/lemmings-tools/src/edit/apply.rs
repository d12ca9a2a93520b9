//! Building the new text: splicing `new_string` over every chosen match, re-indented to the
//! file's indentation, in the file's line endings, keeping its blank lines and its final-newline
//! state where `new_string` does not change them.

use std::borrow::Cow;
use std::ops::Range;

use similar::{Algorithm, DiffOp, capture_diff_slices};

use super::Span;
use super::ladder::{Haystack, IndentRule, LineMatch, Matches, Mode};
use super::lines::{self, Block};

/// Pairing `old_string`'s lines with `new_string`'s by diff costs up to old × new steps; above
/// this only equal leading and trailing lines are paired.
const MAX_DIFF_CELLS: usize = 4_000_000;
/// Line pairs compared by similarity within one replaced run.
const MAX_SIMILARITY_PAIRS: usize = 400;
/// How alike a modified line must be to the old line it modifies (0–1).
const MIN_LINE_SIMILARITY: f32 = 0.5;

/// The new text with `new` spliced over `matches` (non-overlapping, in file order), and where
/// each replacement sits in it. `old` and `new` have `\n` line endings.
pub(super) fn apply(hay: &Haystack<'_>, matches: &Matches, old: &str, new: &str) -> (String, Vec<Span>) {
    let content = hay.content;
    let mut out = String::with_capacity(content.len() + new.len());
    let mut ranges = Vec::with_capacity(matches.len());
    let mut cursor = 0;
    let mut splice = |out: &mut String, range: Range<usize>, text: &str, cursor: &mut usize| {
        if range.start < *cursor || range.end < range.start {
            return;
        }
        out.push_str(&content[*cursor..range.start]);
        let start = out.len();
        out.push_str(text);
        ranges.push(start..out.len());
        *cursor = range.end;
    };
    match matches {
        Matches::Bytes(found) => {
            let text = lines::with_eol(new, hay.eol);
            for range in found {
                splice(&mut out, range.clone(), &text, &mut cursor);
            }
        }
        Matches::Lines(mode, found) => {
            let (old, new) = (Block::parse(old), Block::parse(new));
            for m in found {
                let (range, text) = line_replacement(hay, *mode, m, &old, &new, cursor);
                splice(&mut out, range, &text, &mut cursor);
            }
        }
    }
    out.push_str(&content[cursor..]);
    let spans = spans(&out, ranges);
    (out, spans)
}

/// 1-based line numbers for byte ranges of `text`, in order.
fn spans(text: &str, ranges: Vec<Range<usize>>) -> Vec<Span> {
    let bytes = text.as_bytes();
    let newlines = |r: Range<usize>| bytes[r].iter().filter(|&&b| b == b'\n').count();
    let (mut line, mut at) = (1, 0);
    ranges
        .into_iter()
        .map(|bytes| {
            line += newlines(at..bytes.start);
            at = bytes.start;
            let last_line = if bytes.is_empty() {
                line
            } else {
                line + newlines(bytes.start..bytes.end - 1)
            };
            Span {
                first_line: line,
                last_line,
                bytes,
            }
        })
        .collect()
}

/// The byte range a line match replaces and the text replacing it.
fn line_replacement(
    hay: &Haystack<'_>,
    mode: Mode,
    m: &LineMatch,
    old: &Block<'_>,
    new: &Block<'_>,
    cursor: usize,
) -> (Range<usize>, String) {
    // A blank-skipping rung ignored old_string's leading and trailing blank lines; drop as many
    // from new_string, which the model wrote around the same ones.
    let (o_lo, o_hi) = if mode.skip_blanks {
        lines::blank_edges(&old.lines)
    } else {
        (0, old.lines.len())
    };
    let (n_lo, n_hi) = if mode.skip_blanks {
        let (lead, trail) = lines::blank_edges(&new.lines);
        let lo = lead.min(o_lo);
        (
            lo,
            (new.lines.len() - (new.lines.len() - trail).min(old.lines.len() - o_hi)).max(lo),
        )
    } else {
        (0, new.lines.len())
    };
    let old_trailing = old.trailing_newline || o_hi < old.lines.len();
    let new_trailing = new.trailing_newline || n_hi < new.lines.len();
    let emitted = emit(
        hay,
        mode,
        m,
        &old.lines[o_lo..o_hi],
        &m.map[o_lo..o_hi],
        &new.lines[n_lo..n_hi],
    );

    let (first, last) = (hay.lines[m.first], hay.lines[m.last]);
    let mut start = first.start;
    let end = if old_trailing { last.end } else { last.content_end };
    let mut text = emitted.join(hay.eol);
    // old_string ended with a newline the file's last line lacks: keep it lacking.
    let keep_missing_newline = old_trailing && !last.has_terminator();
    if new_trailing && !keep_missing_newline {
        text.push_str(hay.eol);
    }
    if text.is_empty() && keep_missing_newline && m.first > 0 {
        // Deleting the last lines: the newline before them becomes the end of the file.
        let previous = hay.lines[m.first - 1];
        if previous.content_end >= cursor {
            start = previous.content_end;
        }
    }
    (start..end, text)
}

/// `new`'s lines as they go into the file. Lines the model kept from `old` are copied from the
/// file (its indentation, spacing and characters); other lines are indented relative to the
/// nearest kept line, in the file's style; blank runs between kept lines that the model left
/// alone take the file's blank lines.
fn emit<'a>(
    hay: &Haystack<'a>,
    mode: Mode,
    m: &LineMatch,
    old: &[&'a str],
    map: &[Option<usize>],
    new: &[&'a str],
) -> Vec<Cow<'a, str>> {
    let tab = mode.tab();
    let reindent = mode.indent != IndentRule::Kept;
    let style = if reindent { style(hay, m) } else { Style::Spaces };
    let old_keys: Vec<Cow<'_, str>> = old.iter().map(|l| lines::key(mode.key, l)).collect();
    let new_keys: Vec<Cow<'_, str>> = new.iter().map(|l| lines::key(mode.key, l)).collect();
    let pairs = pair(&old_keys, &new_keys);
    // For each non-blank new line kept from old_string: (old line, file line).
    let anchors: Vec<Option<(usize, usize)>> = (0..new.len())
        .map(|k| {
            let i = pairs[k].filter(|&i| !new_keys[k].is_empty() && !old_keys[i].is_empty())?;
            Some((i, map[i]?))
        })
        .collect();
    let mut next_anchor = vec![None; new.len()];
    let mut following = None;
    for k in (0..new.len()).rev() {
        following = anchors[k].or(following);
        next_anchor[k] = following;
    }
    let fallback = (0..old.len()).find_map(|i| map[i].filter(|_| !old_keys[i].is_empty()).map(|f| (i, f)));
    let unchanged = |i: usize, line: &str| {
        if reindent {
            old[i].trim() == line.trim() && lines::indent_width(old[i], tab) == lines::indent_width(line, tab)
        } else {
            old[i].trim_end() == line.trim_end()
        }
    };
    let scale = if mode.indent == IndentRule::Free {
        fit_scale(hay, old, map, tab)
    } else {
        None
    };
    // The file's indentation for a new line: by the model's indentation unit scaled to the
    // file's when one fits all matched lines, else from an anchor: the file line's width plus how
    // much further the model indented this line than the anchor's old line.
    let indented = |(i, f): (usize, usize), line: &str, body: &'a str| -> Cow<'a, str> {
        let width = |text: &str| i64::try_from(lines::indent_width(text, tab)).unwrap_or(0);
        let target = match scale {
            Some(Scale { times, per, plus }) => width(line) * times / per + plus,
            None => width(hay.text(f)) + width(line) - width(old[i]),
        };
        let target = usize::try_from(target).unwrap_or(0);
        Cow::Owned(format!("{}{body}", render(target, style, tab)))
    };

    let mut out: Vec<Cow<'a, str>> = Vec::with_capacity(new.len());
    let mut previous: Option<(usize, usize, usize)> = None; // (new line, old line, file line)
    let mut last_nonblank: Option<usize> = None;
    let mut pending = 0;
    for (k, &line) in new.iter().enumerate() {
        if new_keys[k].is_empty() {
            pending += 1;
            continue;
        }
        let gap = match (previous, anchors[k]) {
            (Some((kp, ip, fp)), Some((i, f)))
                if last_nonblank == Some(kp)
                    && ip < i
                    && fp < f
                    && i - ip - 1 == pending
                    && old_keys[ip + 1..i].iter().all(|key| key.is_empty())
                    && (fp + 1..f).all(|g| lines::is_blank(hay.text(g))) =>
            {
                Some(fp + 1..f)
            }
            _ => None,
        };
        match gap {
            Some(gap) => out.extend(gap.map(|g| Cow::Borrowed(hay.text(g)))),
            None => out.extend((0..pending).map(|_| Cow::Borrowed(""))),
        }
        pending = 0;
        let text = match anchors[k] {
            Some((i, f)) if unchanged(i, line) => Cow::Borrowed(hay.text(f)),
            Some((i, f)) if reindent && old[i].trim() == line.trim() => {
                let file_line = hay.text(f);
                indented((i, f), line, &file_line[lines::indent_len(file_line)..])
            }
            _ if !reindent => Cow::Borrowed(line),
            anchor => match anchor
                .or(previous.map(|(_, i, f)| (i, f)))
                .or(next_anchor[k])
                .or(fallback)
            {
                Some(anchor) => indented(anchor, line, &line[lines::indent_len(line)..]),
                None => Cow::Borrowed(line),
            },
        };
        out.push(text);
        if let Some((i, f)) = anchors[k] {
            previous = Some((k, i, f));
        }
        last_nonblank = Some(k);
    }
    out.extend((0..pending).map(|_| Cow::Borrowed("")));
    out
}

/// For each new line, the old line it keeps or modifies (compared after the rung's
/// normalisation): equal lines by diff; within a replaced run, lines one for one when the run
/// keeps its length, else each new line with the most similar old line after the last paired.
fn pair(old: &[Cow<'_, str>], new: &[Cow<'_, str>]) -> Vec<Option<usize>> {
    let mut out = vec![None; new.len()];
    if old.len().saturating_mul(new.len()) <= MAX_DIFF_CELLS {
        for op in capture_diff_slices(Algorithm::Myers, old, new) {
            let (olds, news) = (op.old_range(), op.new_range());
            match op {
                DiffOp::Equal { .. } | DiffOp::Replace { .. } if olds.len() == news.len() => {
                    for (k, i) in news.zip(olds) {
                        out[k] = Some(i);
                    }
                }
                DiffOp::Replace { .. } if olds.len().saturating_mul(news.len()) <= MAX_SIMILARITY_PAIRS => {
                    let mut next = olds.start;
                    for k in news {
                        let best = (next..olds.end)
                            .map(|i| (similarity(&old[i], &new[k]), i))
                            .filter(|&(ratio, _)| ratio >= MIN_LINE_SIMILARITY)
                            .fold(None, |best: Option<(f32, usize)>, (ratio, i)| match best {
                                Some((r, _)) if r >= ratio => best,
                                _ => Some((ratio, i)),
                            });
                        if let Some((_, i)) = best {
                            out[k] = Some(i);
                            next = i + 1;
                        }
                    }
                }
                _ => {}
            }
        }
        return out;
    }
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = suffix.min(old.len() - prefix).min(new.len() - prefix);
    for (j, slot) in out.iter_mut().enumerate().take(prefix) {
        *slot = Some(j);
    }
    for j in 0..suffix {
        out[new.len() - 1 - j] = Some(old.len() - 1 - j);
    }
    out
}

fn similarity(a: &str, b: &str) -> f32 {
    if a.len() + b.len() > 2_000 {
        0.0
    } else {
        similar::TextDiff::from_chars(a, b).ratio()
    }
}

/// File width = model width × `times` / `per` + `plus`, for a model that indents by another unit
/// than the file (2 spaces against 4, or 4 against 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Scale {
    pub(super) times: i64,
    pub(super) per: i64,
    pub(super) plus: i64,
}

/// The scale every matched non-blank line fits, when the model's indentation unit is half or
/// twice the file's; at least two different depths are needed to tell.
pub(super) fn fit_scale(hay: &Haystack<'_>, old: &[&str], map: &[Option<usize>], tab: usize) -> Option<Scale> {
    let width = |text: &str| i64::try_from(lines::indent_width(text, tab)).unwrap_or(0);
    let pairs: Vec<(i64, i64)> = old
        .iter()
        .zip(map)
        .filter(|(o, _)| !lines::is_blank(o))
        .filter_map(|(o, f)| f.map(|f| (width(o), width(hay.text(f)))))
        .collect();
    let &(o0, f0) = pairs.first()?;
    if pairs.iter().all(|&(o, _)| o == o0) {
        return None;
    }
    [(2, 1), (1, 2)].into_iter().find_map(|(times, per)| {
        let plus = f0 - o0 * times / per;
        let fits = pairs
            .iter()
            .all(|&(o, f)| (o * times) % per == 0 && f == o * times / per + plus);
        fits.then_some(Scale { times, per, plus })
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Spaces,
    Tabs,
}

/// Whether the matched lines (else the whole file) indent with tabs.
pub(super) fn uses_tabs(hay: &Haystack<'_>, m: &LineMatch) -> bool {
    style(hay, m) == Style::Tabs
}

/// Whether the matched lines (else the whole file) indent with tabs or spaces.
fn style(hay: &Haystack<'_>, m: &LineMatch) -> Style {
    let count = |rows: Range<usize>| {
        rows.fold((0usize, 0usize), |(tabs, spaces), i| {
            let text = hay.text(i);
            match text.as_bytes().first() {
                Some(b'\t') if !lines::is_blank(text) => (tabs + 1, spaces),
                Some(b' ') if !lines::is_blank(text) => (tabs, spaces + 1),
                _ => (tabs, spaces),
            }
        })
    };
    let (tabs, spaces) = match count(m.first..m.last + 1) {
        (0, 0) => count(0..hay.lines.len()),
        window => window,
    };
    if tabs > spaces { Style::Tabs } else { Style::Spaces }
}

fn render(width: usize, style: Style, tab: usize) -> String {
    match style {
        Style::Tabs => "\t".repeat(width / tab) + &" ".repeat(width % tab),
        Style::Spaces => " ".repeat(width),
    }
}

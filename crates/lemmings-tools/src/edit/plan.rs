//! The planner: normalise `old_string` and `new_string`, walk the ladder, refuse ambiguity,
//! splice, and say in notes what had to be relaxed.

use super::ladder::{self, Haystack, Hit, IndentRule, Matches, Rung};
use super::lines::{self, Block};
use super::prefix::{self, Carried, Stripped};
use super::{EditError, EditPlan, apply, closest};

pub(super) fn plan(content: &str, old: &str, new: &str, replace_all: bool) -> Result<EditPlan, EditError> {
    if old.is_empty() {
        return Err(EditError::EmptyOld);
    }
    let old_lf = lines::to_lf(old);
    let new_lf = lines::to_lf(new);
    let stripped = prefix::strip(&old_lf);
    let new_stripped = stripped.as_ref().and_then(|s| prefix::strip_new(&new_lf, s.format));
    let old_eff: &str = stripped.as_ref().map_or(&old_lf, |s| &s.text);
    let new_eff: &str = new_stripped.as_ref().map_or(&new_lf, |(text, _)| text);
    if old_lf == new_lf || old_eff == new_eff {
        return Err(EditError::Identical);
    }
    if content.trim_start_matches(lines::BOM).is_empty() {
        return Err(EditError::EmptyFile);
    }
    let hay = Haystack::new(content);

    // Exact as written first; then the whole ladder without line-number prefixes; then the rest
    // of the ladder with them, in case they were real text after all.
    let found = ladder::exact(content, old);
    let (hit, old_used, new_used, strip_used) = if !found.is_empty() {
        (
            Hit {
                rung: Rung::Exact,
                matches: Matches::Bytes(found),
            },
            &*old_lf,
            &*new_lf,
            false,
        )
    } else if let Some(hit) = stripped.as_ref().and_then(|s| ladder::search(&hay, &s.text, true)) {
        let rung = if hit.rung == Rung::Exact {
            Rung::LineNumbersStripped
        } else {
            hit.rung
        };
        (Hit { rung, ..hit }, old_eff, new_eff, true)
    } else if let Some(hit) = ladder::search(&hay, &old_lf, false) {
        (hit, &*old_lf, &*new_lf, false)
    } else {
        return Err(not_found(&hay, old_eff, new, new_eff));
    };

    let count = hit.matches.len();
    if count > 1 && !replace_all {
        return Err(EditError::Ambiguous {
            count,
            lines: hit.matches.start_lines(&hay),
            rung: hit.rung,
        });
    }
    if let (false, Matches::Bytes(found)) = (replace_all, &hit.matches)
        && let Some((first_line, last_line)) = found.first().and_then(|r| already_applied(&hay, r, new_used))
    {
        return Err(EditError::AlreadyApplied { first_line, last_line });
    }
    let matches = hit.matches.non_overlapping();
    let (new_content, replacements) = apply::apply(&hay, &matches, old_used, new_used);
    if new_content == content {
        return Err(EditError::NoChange { rung: hit.rung });
    }
    let mut notes = Vec::new();
    if strip_used {
        strip_notes(
            &mut notes,
            stripped.as_ref(),
            new_stripped.as_ref().map(|(_, c)| *c),
            &new_lf,
        );
    }
    rung_notes(&mut notes, &hay, hit.rung, &matches, old_used);
    if replacements.len() > 1 {
        notes.push(format!("replaced {} occurrences", replacements.len()));
    }
    if new_used.contains('\n') && (hay.eol == "\r\n" || new.contains("\r\n")) {
        let name = if hay.eol == "\r\n" { "CRLF" } else { "LF" };
        notes.push(format!("wrote new_string with the file's {name} line endings"));
    }
    Ok(EditPlan {
        new_content,
        replacements,
        rung: hit.rung,
        notes,
    })
}

/// The error for an `old_string` no rung found: the closest lines, and whether `new_string` is
/// there already.
fn not_found(hay: &Haystack<'_>, old: &str, new_raw: &str, new: &str) -> EditError {
    let closest = closest::find(hay, old);
    let new_present = if lines::is_blank(new) {
        None
    } else {
        let found = ladder::exact(hay.content, new_raw);
        let matches = if found.is_empty() {
            ladder::search(hay, new, true).map(|h| h.matches)
        } else {
            Some(Matches::Bytes(found))
        };
        matches.filter(|m| m.len() == 1).and_then(|m| m.line_range(hay, 0))
    };
    EditError::NotFound { closest, new_present }
}

/// Where `new_string` already stands around the only match of an `old_string` it contains: the
/// edit was made before (a replayed call), and making it again would duplicate the addition.
fn already_applied(hay: &Haystack<'_>, found: &std::ops::Range<usize>, new: &str) -> Option<(usize, usize)> {
    let matched = hay.content.get(found.clone())?;
    let new = lines::with_eol(new, hay.eol);
    if new.len() <= matched.len() {
        return None;
    }
    new.match_indices(matched).find_map(|(d, _)| {
        let start = found.start.checked_sub(d)?;
        let here = hay.content.get(start..)?.starts_with(&*new);
        here.then(|| (hay.line_of(start), hay.line_of(start + new.len() - 1)))
    })
}

fn strip_notes(notes: &mut Vec<String>, stripped: Option<&Stripped>, new_stripped: Option<Carried>, new: &str) {
    let Some(stripped) = stripped else { return };
    let example = &stripped.example;
    notes.push(match new_stripped {
        Some(Carried::All) => format!("stripped line-number prefixes like `{example}` from old_string and new_string"),
        Some(Carried::Some) => format!(
            "stripped line-number prefixes like `{example}` from old_string and from the new_string lines that \
             carry them"
        ),
        None => format!("stripped line-number prefixes like `{example}` from old_string"),
    });
    if new_stripped.is_none() && prefix::some_carry(new, stripped.format) {
        notes.push("new_string was used as written: only some of its lines carry line-number prefixes".to_owned());
    }
}

/// What the rung relaxed, described from the first match.
fn rung_notes(notes: &mut Vec<String>, hay: &Haystack<'_>, rung: Rung, matches: &Matches, old: &str) {
    let Matches::Lines(mode, found) = matches else {
        if rung == Rung::LineEndings {
            let name = if hay.eol == "\r\n" { "CRLF" } else { "LF" };
            notes.push(format!(
                "matched after converting old_string's line endings to the file's {name}"
            ));
        }
        return;
    };
    let Some(m) = found.first() else { return };
    let block = Block::parse(old);
    let pairs: Vec<(&str, &str)> = block
        .lines
        .iter()
        .zip(&m.map)
        .filter_map(|(o, f)| f.map(|f| (*o, hay.text(f))))
        .collect();
    let nonblank = pairs.iter().find(|(o, _)| !lines::is_blank(o));
    match rung {
        Rung::LineEndings => {
            let before = notes.len();
            if pairs.iter().any(|(o, f)| o != f) {
                notes.push("matched ignoring trailing whitespace".to_owned());
            }
            if block.trailing_newline && !hay.lines[m.last].has_terminator() {
                notes.push(
                    "old_string ends with a newline the file lacks at its end; the file still ends without one"
                        .to_owned(),
                );
            }
            if notes.len() == before {
                notes.push("matched ignoring line endings".to_owned());
            }
        }
        Rung::Indentation | Rung::Tabs => {
            let tab = mode.tab();
            let (o, f) = nonblank.copied().unwrap_or(("", ""));
            let (ow, fw) = (lines::indent_width(o, tab), lines::indent_width(f, tab));
            let file_tabs = apply::uses_tabs(hay, m);
            let amount = |columns: usize, more: &str| {
                if file_tabs && columns.is_multiple_of(tab) {
                    counted(columns / tab, more, "tab")
                } else {
                    counted(columns, more, "space")
                }
            };
            let shift = match fw.cmp(&ow) {
                std::cmp::Ordering::Greater => Some(format!("the file indents by {}", amount(fw - ow, "more"))),
                std::cmp::Ordering::Less => Some(format!("the file indents by {}", amount(ow - fw, "fewer"))),
                std::cmp::Ordering::Equal => None,
            };
            if let IndentRule::Width(tab) = mode.indent {
                let (file, model) = if file_tabs {
                    ("tabs", "spaces")
                } else {
                    ("spaces", "tabs")
                };
                let shift = shift.map_or(String::new(), |s| format!("; {s}"));
                notes.push(format!(
                    "matched counting a tab as {tab} columns (the file indents with {file}, old_string with \
                     {model}{shift}); new_string was re-indented with {file}"
                ));
            } else {
                let shift = shift.unwrap_or_else(|| "the same depth".to_owned());
                notes.push(format!(
                    "matched ignoring indentation ({shift}); new_string was re-indented the same way"
                ));
            }
        }
        Rung::TrimmedLines => {
            let why = match apply::fit_scale(hay, &block.lines, &m.map, mode.tab()) {
                Some(scale) if scale.times > scale.per => "old_string indents half as deep per level as the file",
                Some(_) => "old_string indents twice as deep per level as the file",
                None => "the indentation differs unevenly",
            };
            notes.push(format!(
                "matched comparing trimmed lines ({why}); new_string was re-indented to the file's indentation"
            ));
        }
        Rung::BlankLines => {
            let inner = |lines: &[&str]| {
                let (lo, hi) = lines::blank_edges(lines);
                lines[lo..hi].iter().filter(|l| lines::is_blank(l)).count()
            };
            let file: Vec<&str> = (m.first..=m.last).map(|i| hay.text(i)).collect();
            let (file, model) = (inner(&file), inner(&block.lines));
            let difference = match file.cmp(&model) {
                std::cmp::Ordering::Greater => {
                    format!("the file has {} there", counted(file - model, "more", "blank line"))
                }
                std::cmp::Ordering::Less => format!("old_string has {}", counted(model - file, "more", "blank line")),
                std::cmp::Ordering::Equal => "the blank lines are in other places".to_owned(),
            };
            notes.push(format!(
                "matched ignoring blank lines ({difference}); the file's blank lines were kept where new_string \
                 leaves them alone"
            ));
        }
        Rung::Spacing => notes.push(
            "matched ignoring spaces inside lines; lines new_string leaves alone keep the file's spacing".to_owned(),
        ),
        Rung::Typography => notes.push(
            "matched treating typographic quotes, dashes and ellipses as ASCII; lines new_string leaves alone keep \
             the file's characters"
                .to_owned(),
        ),
        Rung::Exact | Rung::LineNumbersStripped => {}
    }
}

/// `"1 more tab"`, `"4 fewer spaces"`.
fn counted(n: usize, more: &str, word: &str) -> String {
    if n == 1 {
        format!("1 {more} {word}")
    } else {
        format!("{n} {more} {word}s")
    }
}

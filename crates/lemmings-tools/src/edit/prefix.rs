//! Stripping the line-number prefixes models copy from tool output into `old_string` and
//! `new_string`: `read_file`'s `  12| `, `cat -n`'s `12\t`, `L12:` and `grep -n`'s `12:`.
//!
//! A prefix is only stripped when every non-blank line carries it with increasing numbers, so
//! real text such as a YAML `42: value` line is left alone; the bare `12:` form, the easiest to
//! confuse with real text, also needs at least two lines numbered consecutively.

/// The shape of a copied line-number prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// `read_file`: `{n:>4}| {line}`.
    Pipe,
    /// `cat -n`: `{n:>6}\t{line}`.
    Tab,
    /// `L{n}: {line}`.
    LColon,
    /// `grep -n`: `{n}:{line}`.
    Colon,
}

/// `old_string` without its prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stripped {
    pub(super) text: String,
    pub(super) format: Format,
    /// The first prefix as the model wrote it, for the notes.
    pub(super) example: String,
}

/// Parses one prefixed line into its number and the text after the separator.
fn parse(line: &str, format: Format) -> Option<(u64, &str)> {
    let s = line.trim_start_matches(' ');
    let s = if format == Format::LColon {
        s.strip_prefix('L')?
    } else {
        s
    };
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let number = s[..digits].parse().ok()?;
    let rest = &s[digits..];
    let rest = match format {
        Format::Pipe => rest.strip_prefix('|')?,
        Format::Tab => rest.strip_prefix('\t')?,
        Format::LColon | Format::Colon => rest.strip_prefix(':')?,
    };
    Some((number, rest))
}

/// Strips the prefixes from `text` (with `\n` line endings) when every non-blank line has one.
pub(super) fn strip(text: &str) -> Option<Stripped> {
    let first = text.split('\n').find(|l| !l.trim().is_empty())?;
    [Format::Pipe, Format::Tab, Format::LColon, Format::Colon]
        .into_iter()
        .find_map(|format| {
            parse(first, format)?;
            let (text, example) = strip_all(text, format, Check::Numbered)?;
            Some(Stripped { text, format, example })
        })
}

/// How much of `new_string` carried prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Carried {
    /// Every non-blank line.
    All,
    /// Some lines, typically the ones copied from the file, and not lines the model added.
    Some,
}

/// Strips prefixes of `format` from `new_string` (the model may renumber or repeat numbers
/// there, so they are not checked) when every non-blank line has one; for formats no real code
/// starts with (all but `12:`), also from just the lines that have one, since writing them into
/// the file is never what the model meant.
pub(super) fn strip_new(text: &str, format: Format) -> Option<(String, Carried)> {
    if let Some((text, _)) = strip_all(text, format, Check::EveryLine) {
        return Some((text, Carried::All));
    }
    if format == Format::Colon {
        return None;
    }
    strip_all(text, format, Check::SomeLines).map(|(text, _)| (text, Carried::Some))
}

/// Whether some line of `text` starts with a prefix of `format` (for a note when not all do).
pub(super) fn some_carry(text: &str, format: Format) -> bool {
    text.split('\n')
        .any(|l| !l.trim().is_empty() && parse(l, format).is_some())
}

/// Which lines must carry a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// Every non-blank line, numbered increasingly (consecutively for `12:`).
    Numbered,
    /// Every non-blank line.
    EveryLine,
    /// Any; lines without one are kept.
    SomeLines,
}

fn strip_all(text: &str, format: Format, check: Check) -> Option<(String, String)> {
    let strict = check == Check::Numbered;
    let mut rests: Vec<Option<&str>> = Vec::new();
    let mut first: Option<(usize, u64)> = None;
    let mut previous: Option<u64> = None;
    let mut example = "";
    for (index, line) in text.split('\n').enumerate() {
        if line.trim().is_empty() {
            rests.push(None);
            continue;
        }
        let parsed = parse(line, format);
        let (number, rest) = match parsed {
            Some(parsed) => parsed,
            None if check == Check::SomeLines => {
                rests.push(None);
                continue;
            }
            None => return None,
        };
        if strict {
            if previous.is_some_and(|p| number <= p) {
                return None;
            }
            // A grep-style block is contiguous: line i of it is the first number plus i.
            if format == Format::Colon
                && first.is_some_and(|(i, n)| number.checked_sub(n) != u64::try_from(index - i).ok())
            {
                return None;
            }
        }
        if first.is_none() {
            first = Some((index, number));
            example = &line[..line.len() - rest.len()];
        }
        previous = Some(number);
        rests.push(Some(rest));
    }
    let prefixed = rests.iter().flatten().count();
    if prefixed == 0 || (strict && format == Format::Colon && prefixed < 2) {
        return None;
    }
    // `read_file` puts one space after the separator; others may not. Strip it only when every
    // line has it (a blank line's space may have been trimmed away by the model).
    let space = format != Format::Tab
        && rests
            .iter()
            .flatten()
            .filter(|r| !r.is_empty())
            .all(|r| r.starts_with(' '));
    let lines: Vec<&str> = text.split('\n').collect();
    let out: Vec<&str> = lines
        .iter()
        .zip(&rests)
        .map(|(line, rest)| match rest {
            Some(rest) if space => rest.strip_prefix(' ').unwrap_or(rest),
            Some(rest) => rest,
            None => line,
        })
        .collect();
    let out = out.join("\n");
    if out.trim().is_empty() {
        return None;
    }
    let example = if space {
        format!("{example} ")
    } else {
        example.to_owned()
    };
    Some((out, example))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(text: &str) -> Option<String> {
        strip(text).map(|s| s.text)
    }

    #[test]
    fn strips_read_file_prefixes_keeping_indentation() {
        let text = "  12| fn main() {\n  13|     run();\n  14| }\n";
        assert_eq!(stripped(text).as_deref(), Some("fn main() {\n    run();\n}\n"));
        assert_eq!(strip(text).map(|s| s.example).as_deref(), Some("  12| "));
        // Blank lines may keep or lose their prefix.
        assert_eq!(stripped("  1| a\n  2|\n\n  4| b").as_deref(), Some("a\n\n\nb"));
        assert_eq!(stripped("10000| wide").as_deref(), Some("wide"));
    }

    #[test]
    fn strips_other_prefix_styles() {
        assert_eq!(
            stripped("     7\tlet a;\n     8\t\tlet b;").as_deref(),
            Some("let a;\n\tlet b;")
        );
        assert_eq!(stripped("L3: a\nL4:   b").as_deref(), Some("a\n  b"));
        assert_eq!(stripped("3:a\n4:b").as_deref(), Some("a\nb"));
    }

    #[test]
    fn leaves_real_text_alone() {
        // A single `n:` line, numbers that do not increase, and gaps in a grep-style block.
        assert_eq!(stripped("42: value"), None);
        assert_eq!(stripped("  5| a\n  5| b"), None);
        assert_eq!(stripped("200: ok\n404: not found"), None);
        assert_eq!(stripped("  5| a\nplain"), None);
        assert_eq!(stripped("fn main() {}"), None);
        assert_eq!(stripped("  3| "), None);
    }

    #[test]
    fn strips_new_string_lines_that_carry_a_prefix() {
        let strip = |text: &str, format| strip_new(text, format);
        assert_eq!(
            strip("  12| a\n  12| b\n", Format::Pipe),
            Some(("a\nb\n".into(), Carried::All))
        );
        assert_eq!(
            strip("  12| a\n    b", Format::Pipe),
            Some(("a\n    b".into(), Carried::Some))
        );
        // `12:` could be real text: all lines or none.
        assert_eq!(strip("3:a\nb: 4", Format::Colon), None);
        assert!(some_carry("3:a\nb", Format::Colon));
        assert_eq!(strip("", Format::Pipe), None);
    }
}

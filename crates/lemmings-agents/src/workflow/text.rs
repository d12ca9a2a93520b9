//! Text helpers for the workflow: character-safe clipping (start or end), one-line forms and
//! the normalisation directives are de-duplicated by.

/// `text` cut to at most `max` characters, ending with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `text` on one line (runs of whitespace become one space), cut to `max` characters.
pub(crate) fn line(text: &str, max: usize) -> String {
    clip(&text.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

/// The last `max` characters of `text`, starting with `…` when cut.
pub(crate) fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let skip = count - max.saturating_sub(1);
    let mut out = String::from("…");
    out.extend(text.chars().skip(skip));
    out
}

/// `text` clipped, or `None` when it is blank.
pub(crate) fn non_empty(text: Option<&str>, max: usize) -> Option<String> {
    text.map(str::trim).filter(|t| !t.is_empty()).map(|t| clip(t, max))
}

/// The form two directives are compared by: lowercase words of letters and digits.
pub(crate) fn normalise(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_characters_not_bytes() {
        assert_eq!(clip("  short  ", 10), "short");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("ab cd", 4), "ab…");
        assert_eq!(tail("abcdef", 4), "…def");
        assert_eq!(tail("abc", 4), "abc");
        assert_eq!(line("a\n  b\tc", 10), "a b c");
        assert_eq!(non_empty(Some("  "), 5), None);
        assert_eq!(normalise("Add tests, for X!"), "add tests for x");
    }
}

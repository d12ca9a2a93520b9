//! Character-safe text helpers shared by the crate: clipping (start or end), one-line forms,
//! and the form directives are de-duplicated by. They count and cut characters, never bytes.

use crate::status::truncate;

/// `text` on one line: every run of whitespace (newlines included) made one space.
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` trimmed, then cut to at most `max` characters, ending with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    truncate(text.trim(), max)
}

/// `text` on one line (runs of whitespace become one space), cut to `max` characters.
pub(crate) fn line(text: &str, max: usize) -> String {
    clip(&collapse(text), max)
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

/// The non-blank `items`, each clipped to `max_chars`, at most `max_items` of them.
pub(crate) fn items(items: &[String], max_chars: usize, max_items: usize) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| non_empty(Some(item), max_chars))
        .take(max_items)
        .collect()
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
        assert_eq!(
            items(
                &[" a ".to_owned(), "  ".to_owned(), "bcdef".to_owned(), "g".to_owned()],
                3,
                2
            ),
            ["a", "bc…"]
        );
        assert_eq!(normalise("Add tests, for X!"), "add tests for x");
    }
}

//! Small text helpers for the search tools' output: counts with their noun, human sizes, lines
//! cut to a width.

/// `1 file`, `2 files`.
pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A size for people: `512 B`, `2.1 KiB`, `3.0 MiB`.
pub(super) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `text` cut to `width` characters, `…` marking the cut.
pub(super) fn cut(text: &str, width: usize) -> String {
    match text.char_indices().nth(width) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// At most `width` characters of `text` around the byte offset `end` (where a match ends), `…`
/// marking each cut: the first `width` characters when the match ends among them, otherwise a
/// window ending a quarter of the width after the match.
pub(super) fn around(text: &str, end: usize, width: usize) -> String {
    let end_char = text.char_indices().take_while(|(at, _)| *at < end).count();
    let total = text.chars().count();
    if total <= width || end_char <= width {
        return cut(text, width);
    }
    let last = (end_char + width / 4).min(total);
    let first = last.saturating_sub(width);
    let window: String = text.chars().skip(first).take(last - first).collect();
    let head = if first > 0 { "…" } else { "" };
    let tail = if last < total { "…" } else { "" };
    format!("{head}{window}{tail}")
}

/// A line of a file as shown: its terminator dropped, invalid UTF-8 replaced, control
/// characters other than tab escaped (so a line stays one line and no terminal escape passes).
pub(super) fn line(bytes: &[u8]) -> String {
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    printable(&String::from_utf8_lossy(trimmed), true)
}

/// A file name or path as shown: lossy UTF-8, control characters escaped (a name may hold a
/// newline, which would otherwise forge an output line).
pub(super) fn name(text: &std::ffi::OsStr) -> String {
    printable(&text.to_string_lossy(), false)
}

/// A path relative to the root as shown: `.` for the root itself, names made printable.
pub(super) fn path(rel: &std::path::Path) -> String {
    if rel.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        name(rel.as_os_str())
    }
}

fn printable(text: &str, keep_tab: bool) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && !(keep_tab && c == '\t') {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_counts_and_cuts() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(2150), "2.1 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(plural(0, "file", "files"), "0 files");
        assert_eq!(cut("héllo", 3), "hél…");
        assert_eq!(cut("héllo", 5), "héllo");
        assert_eq!(line(b"a\r\n"), "a");
        assert_eq!(line(b"\xffa\n"), "\u{fffd}a");
        assert_eq!(line(b"a\tb\x1b[0m\rc\n"), "a\tb\\u{1b}[0m\\rc");
        assert_eq!(name(std::ffi::OsStr::new("a\nb")), "a\\nb");
        let long = format!("{}needle{}", "é".repeat(300), "x".repeat(300));
        let end = long.find("needle").unwrap_or(0) + "needle".len();
        let shown = around(&long, end, 40);
        assert!(
            shown.starts_with('…') && shown.ends_with('…') && shown.contains("needle"),
            "{shown}"
        );
        assert_eq!(shown.chars().count(), 42);
        assert_eq!(around("abc needle", 10, 40), "abc needle");
    }
}

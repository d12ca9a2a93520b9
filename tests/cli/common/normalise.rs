//! Normalising the binary's output for snapshots: what varies between runs (ids, times,
//! durations, latencies) becomes a placeholder, and the summarizer's line, written whenever its
//! background branch ends, is taken out.

use super::CONDENSED;

/// Whether `text` is a hyphenated UUID.
pub(crate) fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(at, c)| match at {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Replaces every match of `matcher` (how many bytes match at a position, if any) with
/// `with`; with `at_word_start`, only where no letter, digit, `.` or `_` comes before.
fn replace(text: &str, with: &str, at_word_start: bool, matcher: impl Fn(&str) -> Option<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let inside = previous.is_some_and(|p| p.is_alphanumeric() || p == '.' || p == '_');
        match matcher(rest).filter(|_| !(at_word_start && inside)) {
            Some(len) => {
                out.push_str(with);
                previous = rest[..len].chars().last();
                rest = &rest[len..];
            }
            None => {
                out.push(c);
                previous = Some(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

fn digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

/// `2025-01-31T12:34:56.789Z`.
fn timestamp(text: &str) -> Option<usize> {
    let shape = "0000-00-00T00:00:00.000Z";
    let candidate = text.get(..shape.len())?;
    let fits = candidate.bytes().zip(shape.bytes()).all(|(c, s)| match s {
        b'0' => c.is_ascii_digit(),
        _ => c == s,
    });
    fits.then_some(shape.len())
}

/// `0.3s` or `12.0s` (not followed by a letter or digit).
fn seconds(text: &str) -> Option<usize> {
    let whole = digits(text);
    let rest = text[whole..].strip_prefix('.')?;
    let fraction = digits(rest);
    let after = rest[fraction..].strip_prefix('s')?;
    let ends = !after.starts_with(|c: char| c.is_alphanumeric());
    (whole > 0 && fraction > 0 && ends).then_some(whole + 1 + fraction + 1)
}

/// `12 ms`.
fn millis(text: &str) -> Option<usize> {
    let whole = digits(text);
    (whole > 0 && text[whole..].starts_with(" ms")).then_some(whole + 3)
}

/// Normalises what varies between runs: UUIDs (`<uuid>`, or `<thread>` for `thread`),
/// timestamps (`<time>`), durations (`<t>`) and latencies (`<ms>`). Durations and latencies
/// match only at the start of a word, so numbers inside names (`qwen2.5:0.5b`) are kept.
pub(crate) fn normalise(text: &str, thread: Option<&str>) -> String {
    let text = match thread {
        Some(thread) => text.replace(thread, "<thread>"),
        None => text.to_owned(),
    };
    let text = replace(&text, "<uuid>", false, |rest| is_uuid(rest.get(..36)?).then_some(36));
    let text = replace(&text, "<time>", false, timestamp);
    let text = replace(&text, "<t>", true, seconds);
    replace(&text, "<ms>", true, millis)
}

/// Removes the summarizer's condensed status line (`[summarizer] ...` in the live view, the
/// planner's `✓ planned ...` in `show`): a background branch writes it at whichever superstep
/// boundary follows its answer, so its place varies. Returns the rest and how many were removed.
pub(crate) fn without_condensed(text: &str) -> (String, usize) {
    let mut removed = 0;
    let mut rest = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.contains(CONDENSED) {
            removed += 1;
        } else {
            rest.push_str(line);
        }
    }
    (rest, removed)
}

#[test]
fn the_normaliser_replaces_what_varies_and_keeps_the_rest() {
    let text = "thread 01a21003-68d6-77fc-a262-4d4c7a1d4bbc at 2025-01-31T12:34:56.789Z, \
                checkpoint 01a21003-68d6-77fc-a262-4d4c7a1d4bbd\n\
                complete in 0.3s, busy 12.0s, up, 12 ms; qwen2.5:0.5b v1.5s task_001 1.5";
    assert_eq!(
        normalise(text, Some("01a21003-68d6-77fc-a262-4d4c7a1d4bbc")),
        "thread <thread> at <time>, checkpoint <uuid>\n\
         complete in <t>, busy <t>, up, <ms>; qwen2.5:0.5b v1.5s task_001 1.5",
    );
}

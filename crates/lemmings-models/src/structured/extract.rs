//! Finding the JSON in a model's reply text: a ```` ```json ```` fence, then any fence holding
//! an object, then the first balanced `{…}` (or `[…]`). The scan is string- and escape-aware, so
//! braces inside strings do not count, and a document cut off by `max_tokens` is returned up to
//! the end of the text for [`lenient_parse`] to close.

use super::lenient::lenient_parse;

/// JSON found in a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extracted {
    /// The JSON text (possibly still needing a lenient parse).
    pub json: String,
    /// Where it was found, for the repair log (e.g. "a ```json fence").
    pub how: &'static str,
}

/// What kind of JSON document to look for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    /// A `{…}` object (the usual case).
    #[default]
    Object,
    /// A `[…]` array (when the schema's root type is an array).
    Array,
}

impl Shape {
    fn open(self) -> char {
        match self {
            Shape::Object => '{',
            Shape::Array => '[',
        }
    }
}

/// Finds the JSON object in `text`: [`extract_json_as`] with [`Shape::Object`].
pub fn extract_json(text: &str) -> Option<Extracted> {
    extract_json_as(text, Shape::Object)
}

/// Finds the JSON document of `shape` in `text`: the first ```` ```json ```` fence containing
/// one, else the first fence of any language containing one, else the first balanced one in the
/// text (skipping brace pairs in prose that do not parse). An unterminated fence or document
/// runs to the end of the text. `None` when the text holds no opening bracket of the shape.
pub fn extract_json_as(text: &str, shape: Shape) -> Option<Extracted> {
    let open = shape.open();
    let fences = fences(text);
    let is_json = |lang: &str| matches!(lang.to_ascii_lowercase().as_str(), "json" | "jsonc" | "json5");
    let fenced = fences
        .iter()
        .find(|f| is_json(f.lang) && f.body.contains(open))
        .map(|f| (f.body, "a ```json fence"))
        .or_else(|| {
            fences
                .iter()
                .find(|f| f.body.contains(open))
                .map(|f| (f.body, "a ``` fence"))
        });
    if let Some((body, how)) = fenced {
        let json = first_document(body, open).map_or(body.trim(), |(span, _)| span);
        return Some(Extracted {
            json: json.to_owned(),
            how,
        });
    }
    let (span, complete) = first_document(text, open)?;
    let how = match (shape, complete) {
        (Shape::Object, true) => "the first balanced object",
        (Shape::Array, true) => "the first balanced array",
        (Shape::Object, false) => "an unclosed object (truncated reply)",
        (Shape::Array, false) => "an unclosed array (truncated reply)",
    };
    Some(Extracted {
        json: span.to_owned(),
        how,
    })
}

struct Fence<'a> {
    lang: &'a str,
    body: &'a str,
}

/// The fenced blocks of `text`, in order; an unterminated last fence runs to the end.
fn fences(text: &str) -> Vec<Fence<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("```") {
        let after = &rest[at + 3..];
        let (info, body_start) = match after.find('\n') {
            Some(nl) => (&after[..nl], &after[nl + 1..]),
            None => (after, ""),
        };
        // An info string is one word; anything else means the body started on the fence line.
        let (lang, body_start) = if info.trim().contains(char::is_whitespace) || info.contains('{') {
            ("", after)
        } else {
            (info.trim(), body_start)
        };
        match body_start.find("```") {
            Some(end) => {
                out.push(Fence {
                    lang,
                    body: &body_start[..end],
                });
                rest = &body_start[end + 3..];
            }
            None => {
                out.push(Fence { lang, body: body_start });
                break;
            }
        }
    }
    out
}

/// The most starting points tried, so that prose full of braces stays linear-ish.
const MAX_STARTS: usize = 32;

/// The first span starting at `open` that parses (leniently), else the first span at all;
/// `true` when the span is balanced, `false` when it runs to the end of the text.
fn first_document(text: &str, open: char) -> Option<(&str, bool)> {
    let mut first = None;
    let mut from = 0;
    for _ in 0..MAX_STARTS {
        let Some(offset) = text.get(from..).and_then(|rest| rest.find(open)) else {
            break;
        };
        let start = from + offset;
        let (span, complete) = match balanced_end(text, start) {
            Some(end) => (&text[start..end], true),
            None => (text[start..].trim_end(), false),
        };
        if lenient_parse(span).is_ok() {
            return Some((span, complete));
        }
        first.get_or_insert((span, complete));
        from = start + open.len_utf8();
    }
    first
}

/// The end (exclusive) of the bracketed document opening at `start`, or `None` when it is not
/// closed before the end of the text. Strings in double quotes, and in single quotes where a
/// value or key can start, are skipped with their escapes.
fn balanced_end(text: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    // The last significant character outside strings, to tell a quote from an apostrophe.
    let mut last = ' ';
    for (i, c) in text[start..].char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
                last = c;
            }
            continue;
        }
        match c {
            '"' => quote = Some('"'),
            '\'' if matches!(last, '{' | '[' | ',' | ':') => quote = Some('\''),
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(start + i + c.len_utf8());
                }
            }
            _ => {}
        }
        if !c.is_whitespace() {
            last = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check(text: &str, expect: Expect) {
        let actual = match extract_json(text) {
            Some(e) => format!("{} <- {}", e.json, e.how),
            None => "none".to_owned(),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn fences_win_json_first() {
        check(
            "Here:\n```json\n{\"a\": 1}\n```\nDone.",
            expect![[r#"{"a": 1} <- a ```json fence"#]],
        );
        check(
            "```\nnot json\n```\n```JSON\n{\"b\": 2}\n```",
            expect![[r#"{"b": 2} <- a ```json fence"#]],
        );
        check("```python\nx = {'a': 1}\n```", expect!["{'a': 1} <- a ``` fence"]);
        check("```\n{\"c\": 3}\n```", expect![[r#"{"c": 3} <- a ``` fence"#]]);
        check("``` {\"d\": 4} ```", expect![[r#"{"d": 4} <- a ``` fence"#]]);
        check("```json\n{\"e\": [1,", expect![[r#"{"e": [1, <- a ```json fence"#]]);
        check("```json\n```", expect!["none"]);
    }

    #[test]
    fn the_first_balanced_object_in_prose() {
        check(
            "Sure! {\"a\": {\"b\": [1, 2]}} hope that helps {\"c\": 1}",
            expect![[r#"{"a": {"b": [1, 2]}} <- the first balanced object"#]],
        );
        check(
            r#"{"s": "a } brace", "t": "q\"}"} tail"#,
            expect![[r#"{"s": "a } brace", "t": "q\"}"} <- the first balanced object"#]],
        );
        check(
            "{'s': 'it } is'} x",
            expect!["{'s': 'it } is'} <- the first balanced object"],
        );
        check(
            "I'd use {braces} here. {\"a\": 1}",
            expect![[r#"{"a": 1} <- the first balanced object"#]],
        );
        check("no json here", expect!["none"]);
        check("", expect!["none"]);
    }

    #[test]
    fn a_truncated_document_runs_to_the_end() {
        check(
            "Result: {\"a\": {\"b\": \"unfinished",
            expect![[r#"{"a": {"b": "unfinished <- an unclosed object (truncated reply)"#]],
        );
        check(
            "only { an opening",
            expect!["{ an opening <- an unclosed object (truncated reply)"],
        );
    }

    #[test]
    fn arrays_when_asked() {
        let e = extract_json_as("The list: [1, [2, 3], \"]\"] ok", Shape::Array);
        assert_eq!(e.map(|e| e.json), Some("[1, [2, 3], \"]\"]".to_owned()));
    }

    #[test]
    fn nasty_inputs_do_not_panic() {
        let deep = "{".repeat(10_000);
        for text in [
            "```",
            "``````",
            "```json",
            "{\"",
            "\"{",
            "{'",
            "é{ü\"}",
            "}{",
            "\\{\"\\",
            &deep,
            "🦀```🦀{🦀",
        ] {
            let _ = extract_json(text);
            let _ = extract_json_as(text, Shape::Array);
        }
    }
}

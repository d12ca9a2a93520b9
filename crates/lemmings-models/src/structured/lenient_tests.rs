//! Tests of the lenient JSON parser: one `check` per repair, then hostile inputs.

use expect_test::{Expect, expect};

use super::lenient_parse;

fn check(text: &str, expect: Expect) {
    let actual = match lenient_parse(text) {
        Ok((value, repairs)) if repairs.is_empty() => value.to_string(),
        Ok((value, repairs)) => format!("{value} ({})", repairs.join("; ")),
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn strict_json_is_untouched() {
    check(
        r#"{"a": [1, 2.5, "x"], "b": null}"#,
        expect![[r#"{"a":[1,2.5,"x"],"b":null}"#]],
    );
}

#[test]
fn trailing_commas_and_comments() {
    check(
        "{\"a\": [1, 2,], \"b\": 3,}",
        expect![[r#"{"a":[1,2],"b":3} (removed trailing commas)"#]],
    );
    check(
        "{\n  // the count\n  \"a\": 1, /* inline */ \"b\": 2 # python\n}",
        expect![[r#"{"a":1,"b":2} (removed comments)"#]],
    );
    check("[,1,,2]", expect!["[1,2] (removed trailing commas)"]);
}

#[test]
fn quotes() {
    check(
        "{“a”: “say “hi” now”}",
        expect![[r#"{"a":"say “hi” now"} (replaced smart quotes; escaped stray quotes inside strings)"#]],
    );
    check(
        "{'a': 'it\\'s', 'b': 'don't'}",
        expect![[r#"{"a":"it's","b":"don't"} (converted single-quoted strings; escaped stray quotes inside strings)"#]],
    );
    check("{‘a’: ‘b’}", expect![[r#"{"a":"b"} (replaced smart quotes)"#]]);
    check(
        r#"{"summary": "added "foo" option", "n": 1}"#,
        expect![[r#"{"summary":"added \"foo\" option","n":1} (escaped stray quotes inside strings)"#]],
    );
}

#[test]
fn keys_words_and_literals() {
    check(
        "{files: [\"a\"], kind: incomplete, ok: True, x: None, y: False}",
        expect![[
            r#"{"files":["a"],"kind":"incomplete","ok":true,"x":null,"y":false} (quoted unquoted keys; quoted bare words; converted Python literals)"#
        ]],
    );
    check(
        "{\"a\": 1\n \"b\": 2}",
        expect![[r#"{"a":1,"b":2} (inserted missing commas)"#]],
    );
    check(
        "{\"a\": +1, \"b\": .5, \"c\": 007, \"d\": 3.}",
        expect![[r#"{"a":1,"b":0.5,"c":7,"d":3} (fixed malformed numbers)"#]],
    );
}

#[test]
fn strings_with_raw_control_characters_and_escapes() {
    check(
        "{\"a\": \"line one\nline two\"}",
        expect![[r#"{"a":"line one\nline two"} (escaped control characters in strings)"#]],
    );
    check(
        r#"{"a": "\ud83e\udd80 \u00e9 \ud800 \uZZ \q"}"#,
        expect![[r#"{"a":"🦀 é � \\uZZ q"}"#]],
    );
}

#[test]
fn truncated_documents_are_closed() {
    check(
        "{\"files\": [\"a.rs\", \"b.r",
        expect![[r#"{"files":["a.rs","b.r"]} (closed a truncated document)"#]],
    );
    check(
        "{\"a\": 1, \"b\":",
        expect![[r#"{"a":1} (closed a truncated document)"#]],
    );
    check(
        "{\"a\": 1, \"b\"",
        expect![[r#"{"a":1} (closed a truncated document)"#]],
    );
    check(
        "{\"a\": {\"b\": [1, {\"c\": \"x\\",
        expect![[r#"{"a":{"b":[1,{"c":"x"}]}} (closed a truncated document)"#]],
    );
    check(
        "{\"a\": [1, 2}",
        expect![[r#"{"a":[1,2]} (closed mismatched brackets)"#]],
    );
}

#[test]
fn failures_say_where() {
    check("", expect!["error: the text is empty"]);
    check("{\"a\" 1}", expect!["error: expected `:` at line 1, found `1`"]);
    check("{\"a\": -}", expect!["error: expected a value at line 1, found `-`"]);
    check("{\"a\": 1 @}", expect!["error: expected `,` at line 1, found `@`"]);
    check(
        "{\"a\": 1} and more",
        expect![[r#"{"a":1} (ignored text after the JSON)"#]],
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    assert!(lenient_parse(&deep).unwrap_err().contains("nested deeper"));
    let deep_objects = "{\"a\":".repeat(200);
    assert!(lenient_parse(&deep_objects).is_err());
    let inputs = [
        "\"",
        "'",
        "“",
        "{",
        "[",
        "{\"",
        "{'",
        "{\"a",
        "{\"a\":",
        "{\"a\": \"\\",
        "{\"a\": \"\\u12",
        "\\",
        "/*",
        "//",
        "#",
        "{/*",
        "-",
        "+",
        ".",
        "e",
        "1e",
        "1e+",
        "--1",
        "\u{feff}{}",
        "{é: ü}",
        "🦀",
        "{\"🦀\": \"🦀\"}",
        "{,}",
        "[,]",
        "}",
        "]",
        ":",
        ",",
        "{:}",
        "{\"a\"::1}",
        "\0",
        "{\"a\": \"\0\"}",
        "[1 2 3]",
        "{'a': \"b'}",
        "[\"a\" \"b\"]",
    ];
    for text in inputs {
        let _ = lenient_parse(text);
    }
}

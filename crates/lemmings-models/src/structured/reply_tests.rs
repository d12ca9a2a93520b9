//! Tests of the whole ladder on one reply: text and arguments in, a value and its repairs (or
//! the remaining errors) out.

use expect_test::{Expect, expect};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::*;

#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
struct Report {
    files: Vec<String>,
    count: u32,
    kind: Kind,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Feat,
    Fix,
}

fn render(result: Result<(impl std::fmt::Debug, Vec<String>), Vec<String>>) -> String {
    match result {
        Ok((value, repairs)) => {
            let mut out = format!("{value:?}");
            for repair in repairs {
                out.push_str(&format!("\nrepair: {repair}"));
            }
            out
        }
        Err(errors) => errors
            .iter()
            .map(|e| format!("error: {e}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn check(text: &str, expect: Expect) {
    let schema = OutputSchema::of::<Report>(None);
    expect.assert_eq(&render(parse_reply::<Report>(
        Reply::Text {
            content: text,
            reasoning: None,
        },
        &schema,
    )));
}

#[test]
fn clean_json_needs_nothing() {
    check(
        r#"{"files": ["a"], "count": 1, "kind": "fix"}"#,
        expect![[r#"Report { files: ["a"], count: 1, kind: Fix }"#]],
    );
}

#[test]
fn thinking_prose_fences_and_repairs() {
    check(
        "<think>\nThe user wants {a report}.\n</think>\nHere you go:\n```json\n{files: 'a.rs, b.rs', count: '2', kind: 'Fix',}\n```",
        expect![[r#"
            Report { files: ["a.rs", "b.rs"], count: 2, kind: Fix }
            repair: stripped the thinking from the reply
            repair: extracted the JSON from a ```json fence
            repair: quoted unquoted keys
            repair: converted single-quoted strings
            repair: removed trailing commas
            repair: /files: "a.rs, b.rs" → ["a.rs","b.rs"]
            repair: /count: "2" → 2
            repair: /kind: "Fix" matched to the allowed value "fix""#]],
    );
}

#[test]
fn envelopes_are_unwrapped() {
    check(
        r#"<tool_call>{"name": "submit_report", "arguments": "{\"files\": [], \"count\": 0, \"kind\": \"feat\"}"}</tool_call>"#,
        expect![[r#"
            Report { files: [], count: 0, kind: Feat }
            repair: extracted the JSON from the first balanced object
            repair: unwrapped a `submit_report` call written as text"#]],
    );
    check(
        r#"{"Report": {"files": [], "count": 0, "kind": "feat"}}"#,
        expect![[r#"
            Report { files: [], count: 0, kind: Feat }
            repair: unwrapped the value under `Report`"#]],
    );
}

#[test]
fn truncated_and_missing_answers() {
    check(
        "{\"files\": [\"a\"], \"kind\": \"feat\", \"count\": 1, \"note\": \"cut o",
        expect![[r#"
            Report { files: ["a"], count: 1, kind: Feat }
            repair: closed a truncated document"#]],
    );
    check(
        "<think>I will write {\"files\": [], \"count\"",
        expect![[r#"
        error: (root): "count" is a required property
        error: (root): "kind" is a required property"#]],
    );
    check("", expect!["error: the reply was empty"]);
    check("I could not do it.", expect!["error: the reply holds no JSON object"]);
    check(
        "{\"files\": [\"a\"] @@}",
        expect!["error: the reply is not valid JSON: expected `,` at line 1, found `@`"],
    );
    check(
        "{\"files\": [], \"count\": -1}",
        expect![[r#"
        error: (root): "kind" is a required property
        error: /count: -1 is less than the minimum of 0"#]],
    );
}

#[test]
fn reasoning_is_a_last_resort() {
    let schema = OutputSchema::of::<Report>(None);
    let reply = Reply::Text {
        content: "",
        reasoning: Some(r#"Answer: {"files": [], "count": 1, "kind": "fix"}"#),
    };
    expect![[r#"
        Report { files: [], count: 1, kind: Fix }
        repair: extracted the JSON from the first balanced object
        repair: took the JSON from the model's reasoning (the answer was empty)"#]]
    .assert_eq(&render(parse_reply::<Report>(reply, &schema)));
}

#[test]
fn arguments_objects_strings_and_wrapped_values() {
    let schema = OutputSchema::of::<Report>(None);
    let args = json!({"files": "x", "count": 1, "kind": "fix"});
    expect![[r#"
        Report { files: ["x"], count: 1, kind: Fix }
        repair: /files: "x" → ["x"]"#]]
    .assert_eq(&render(parse_reply::<Report>(Reply::Arguments(&args), &schema)));
    let text = json!("```json\n{\"files\": [], \"count\": 1, \"kind\": \"fix\"}\n```");
    expect![[r#"
        Report { files: [], count: 1, kind: Fix }
        repair: the submit call's arguments were text: parsed them as a reply
        repair: extracted the JSON from a ```json fence"#]]
    .assert_eq(&render(parse_reply::<Report>(Reply::Arguments(&text), &schema)));
    let kind = OutputSchema::of::<Kind>(None);
    assert_eq!(kind.name(), "kind");
    expect!["Fix"].assert_eq(&render(parse_reply::<Kind>(
        Reply::Arguments(&json!({"value": "fix"})),
        &kind,
    )));
    expect![[r#"
        Feat
        repair: (root): "FEAT" matched to the allowed value "feat""#]]
    .assert_eq(&render(parse_reply::<Kind>(
        Reply::Text {
            content: "FEAT",
            reasoning: None,
        },
        &kind,
    )));
    let list = OutputSchema::of::<Vec<u8>>(None);
    expect![[r#"
        [1, 2]
        repair: extracted the JSON from the first balanced array"#]]
    .assert_eq(&render(parse_reply::<Vec<u8>>(
        Reply::Text {
            content: "{\"value\": [1, 2]}",
            reasoning: None,
        },
        &list,
    )));
}

#[test]
fn untyped_schemas_parse_to_values() {
    let schema = OutputSchema::from_schema(
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
        None,
    );
    let (value, repairs) = parse_reply::<Value>(
        Reply::Text {
            content: "{n: 2}",
            reasoning: None,
        },
        &schema,
    )
    .unwrap();
    assert_eq!(
        (value, repairs),
        (json!({"n": 2}), vec!["quoted unquoted keys".to_owned()])
    );
}

#[test]
fn hostile_replies_do_not_panic() {
    let schema = OutputSchema::of::<Report>(None);
    let deep = "[{\"files\": ".repeat(300);
    let texts = [
        "<think>",
        "</think>",
        "```json\n{",
        "{\"files\": \"",
        "“",
        "{'",
        "🦀{🦀:🦀}",
        &deep,
        "\u{0}{\u{0}}",
        "{{{{}}}}",
    ];
    for text in texts {
        let _ = parse_reply::<Report>(
            Reply::Text {
                content: text,
                reasoning: Some(text),
            },
            &schema,
        );
        let _ = parse_reply::<Report>(Reply::Arguments(&json!(text)), &schema);
    }
}

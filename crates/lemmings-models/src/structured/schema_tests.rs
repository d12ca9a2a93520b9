//! Tests of schema cleaning, `$ref` inlining, naming and the derived tool and prompt.

use expect_test::{Expect, expect};
use schemars::JsonSchema;
use serde::Deserialize;

use super::*;

/// What a task produced.
#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
struct QAOutput {
    passed: bool,
    /// At most 500 characters.
    #[schemars(length(max = 500))]
    feedback: String,
    failure_type: Option<FailureType>,
    count: u32,
    #[serde(default)]
    issues: Vec<String>,
}

#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum FailureType {
    Incomplete,
    WrongApproach,
}

/// A tree: recursive, so its `$ref`s stay.
#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
struct Tree {
    label: String,
    children: Vec<Tree>,
}

fn check(schema: &Value, expect: Expect) {
    expect.assert_eq(&serde_json::to_string_pretty(schema).unwrap());
}

#[test]
fn cleaned_and_inlined() {
    let schema = OutputSchema::of::<QAOutput>(None);
    assert_eq!(
        (schema.name(), schema.tool_name().as_str(), schema.is_wrapped()),
        ("qa_output", "submit_qa_output", false)
    );
    check(
        schema.schema(),
        expect![[r#"
            {
              "type": "object",
              "properties": {
                "passed": {
                  "type": "boolean"
                },
                "feedback": {
                  "type": "string",
                  "description": "At most 500 characters.",
                  "maxLength": 500
                },
                "failure_type": {
                  "anyOf": [
                    {
                      "type": "string",
                      "enum": [
                        "incomplete",
                        "wrong_approach"
                      ]
                    },
                    {
                      "type": "null"
                    }
                  ]
                },
                "count": {
                  "type": "integer",
                  "minimum": 0
                },
                "issues": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  },
                  "default": []
                }
              },
              "required": [
                "passed",
                "feedback",
                "count"
              ],
              "description": "What a task produced."
            }"#]],
    );
    assert_eq!(
        schema.tool_spec().description,
        "Submit the final qa_output: What a task produced. Call it once, at the end."
    );
}

#[test]
fn recursive_schemas_keep_their_refs() {
    let schema = OutputSchema::of::<Tree>(Some("Tree"));
    assert_eq!(schema.name(), "tree");
    // schemars refers to the root type as `#`.
    assert_eq!(schema.schema()["properties"]["children"]["items"]["$ref"], "#");
    assert!(schema.schema().get("title").is_none());
    assert!(jsonschema::validator_for(schema.schema()).is_ok());
    // Nested under the submit tool's `value`, `#` moves with it.
    let list = OutputSchema::from_schema(serde_json::json!({"type": "array", "items": {"$ref": "#"}}), None);
    assert_eq!(
        list.tool_spec().parameters["properties"]["value"]["items"]["$ref"],
        "#/properties/value"
    );
}

#[test]
fn non_objects_are_wrapped_for_the_tool() {
    let schema = OutputSchema::of::<Vec<Tree>>(None);
    assert_eq!(schema.name(), "array_of_tree");
    assert!(schema.is_wrapped() && schema.is_array());
    let parameters = schema.tool_spec().parameters;
    assert_eq!(parameters["properties"]["value"]["type"], "array");
    assert_eq!(parameters["$defs"]["Tree"]["type"], "object");
    assert!(jsonschema::validator_for(&parameters).is_ok());
}

#[test]
fn names_in_snake_case() {
    for (title, name) in [
        ("ImplementorOutput", "implementor_output"),
        ("QAOutput", "qa_output"),
        ("Array_of_Inner", "array_of_inner"),
        ("scope review!", "scope_review"),
        ("HTTP2Server", "http2_server"),
        ("Ünïcode", "n_code"),
        ("", ""),
    ] {
        assert_eq!(snake_case(title), name);
    }
    assert_eq!(
        OutputSchema::from_schema(serde_json::json!({"type": "object"}), None).name(),
        "output"
    );
}

#[test]
fn the_prompt_section_per_mode() {
    let schema = OutputSchema::from_schema(
        serde_json::json!({"title": "Pick", "type": "string", "enum": ["a", "b"]}),
        None,
    );
    expect![[r###"
        ## OUTPUT FORMAT
        Reply by calling `submit_pick` with arguments matching this JSON schema:
        ```json
        {
          "type": "object",
          "properties": {
            "value": {
              "type": "string",
              "enum": [
                "a",
                "b"
              ]
            }
          },
          "required": [
            "value"
          ]
        }
        ```"###]]
    .assert_eq(&schema.prompt_section(OutputMode::Tool));
    let prompt = schema.prompt_section(OutputMode::Prompt);
    assert!(prompt.contains(
        "Reply with only a JSON value matching this JSON schema, and nothing else:\n```json\n{\n  \"type\": \"string\""
    ));
}

#[test]
fn refs_with_own_keywords_and_cycles_through_lists() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A", "description": "own"}, "b": {"$ref": "#/$defs/Missing"}},
        "$defs": {"A": {"type": "string", "description": "def", "format": "uint64"}},
    });
    // A dangling `$ref` stops the inlining: the schema is kept as it was (cleaned).
    let kept = OutputSchema::from_schema(schema.clone(), None);
    assert!(kept.schema().get("$defs").is_some());
    let mut fixed = schema;
    fixed["properties"].as_object_mut().unwrap().remove("b");
    let inlined = OutputSchema::from_schema(fixed, None);
    check(
        &inlined.schema()["properties"]["a"],
        expect![[r#"
            {
              "type": "string",
              "description": "own"
            }"#]],
    );
    let cyclic = serde_json::json!({"$ref": "#/$defs/A", "$defs": {"A": {"anyOf": [{"$ref": "#/$defs/B"}]}, "B": {"$ref": "#/$defs/A"}}});
    assert!(OutputSchema::from_schema(cyclic, None).schema().get("$defs").is_some());
}

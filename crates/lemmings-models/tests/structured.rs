//! End-to-end tests of structured output against a scripted model: what is sent in each output
//! mode, what is accepted and repaired, how invalid replies are re-prompted, and how it fails.

use expect_test::{Expect, expect};
use lemmings_models::structured::{Structured, StructuredOptions, structured};
use lemmings_models::{
    ChatMessage, ChatRequest, ChatResponse, ModelError, ModelErrorKind, ModelInfo, OutputMode, Sampling, Thinking,
    ToolCall, ToolChoice, ToolSpec,
};
use lemmings_testkit::ScriptedModel;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the implementor did.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
struct ImplementorOutput {
    files_modified: Vec<String>,
    /// One or two sentences.
    #[schemars(length(max = 80))]
    result_summary: String,
    change_type: ChangeType,
    lines_changed: u32,
    success: bool,
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ChangeType {
    Feat,
    Fix,
    Refactor,
}

const SUBMIT: &str = "submit_implementor_output";

/// A scripted model whose role asks for structured output in `mode`.
fn scripted(mode: OutputMode, replies: impl IntoIterator<Item = ChatResponse>) -> ScriptedModel {
    let info = ModelInfo {
        role: "primary".into(),
        provider: "scripted".into(),
        model: "qwen3-8b".into(),
        server: "memory".into(),
        output_mode: mode,
    };
    replies
        .into_iter()
        .fold(ScriptedModel::new("primary").with_info(info), ScriptedModel::respond)
}

fn text(content: &str) -> ChatResponse {
    ChatResponse {
        content: content.into(),
        ..ChatResponse::default()
    }
}

fn submit(arguments: Value) -> ChatResponse {
    let call = ToolCall {
        id: "call_1".into(),
        name: SUBMIT.into(),
        arguments,
    };
    ChatResponse {
        tool_calls: vec![call],
        ..ChatResponse::default()
    }
}

fn valid() -> Value {
    json!({"files_modified": ["src/lib.rs"], "result_summary": "Added it.", "change_type": "feat", "lines_changed": 12, "success": true})
}

fn expected() -> ImplementorOutput {
    ImplementorOutput {
        files_modified: vec!["src/lib.rs".into()],
        result_summary: "Added it.".into(),
        change_type: ChangeType::Feat,
        lines_changed: 12,
        success: true,
    }
}

fn request() -> ChatRequest {
    let mut request = ChatRequest::new(vec![
        ChatMessage::system("## ROLE\nYou implement."),
        ChatMessage::user("Add it."),
    ]);
    request.tools.push(ToolSpec {
        name: "read_file".into(),
        description: "Reads a file.".into(),
        parameters: json!({"type": "object"}),
    });
    request.sampling = Sampling {
        temperature: Some(0.6),
        ..Sampling::default()
    };
    request
}

async fn run(model: &ScriptedModel) -> Result<Structured<ImplementorOutput>, ModelError> {
    structured::<ImplementorOutput>(model, request(), &StructuredOptions::default(), None).await
}

/// The messages a re-prompt appended after the original two, one per line.
fn check_appended(request: &ChatRequest, expect: Expect) {
    let lines: Vec<String> = request.messages[2..]
        .iter()
        .map(|m| match m {
            ChatMessage::Assistant { content, tool_calls } => {
                let calls: Vec<String> = tool_calls
                    .iter()
                    .map(|c| format!(" [{}({})]", c.name, c.arguments))
                    .collect();
                format!("assistant: {content}{}", calls.concat())
            }
            ChatMessage::Tool { call_id, name, content } => format!("tool {name} {call_id}: {content}"),
            other => format!(
                "{}: {}",
                serde_json::to_value(other).unwrap()["role"].as_str().unwrap(),
                other.content()
            ),
        })
        .collect();
    expect.assert_eq(&lines.join("\n"));
}

#[tokio::test]
async fn a_submit_call_is_accepted_in_tool_mode() {
    let model = scripted(OutputMode::Tool, [submit(valid())]);
    let out = run(&model).await.unwrap();
    assert_eq!(
        (out.value, out.repairs.len(), out.reprompts, out.needs_review),
        (expected(), 0, 0, false)
    );
    let [sent] = model.requests().try_into().unwrap();
    let tools: Vec<&str> = sent.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tools, ["read_file", SUBMIT]);
    assert_eq!(sent.tool_choice, ToolChoice::Tool(SUBMIT.into()));
    assert_eq!(
        sent.tools[1].parameters["properties"]["change_type"]["enum"],
        json!(["feat", "fix", "refactor"])
    );
    assert_eq!((sent.response_format, sent.thinking), (None, None));
}

#[tokio::test]
async fn the_schema_is_in_the_system_prompt_in_every_mode() {
    for (mode, instruction) in [
        (
            OutputMode::Tool,
            "Reply by calling `submit_implementor_output` with arguments matching this JSON schema:",
        ),
        (
            OutputMode::Native,
            "Reply with only a JSON object matching this JSON schema, and nothing else:",
        ),
        (
            OutputMode::Prompt,
            "Reply with only a JSON object matching this JSON schema, and nothing else:",
        ),
    ] {
        let reply = if mode == OutputMode::Tool {
            submit(valid())
        } else {
            text(&valid().to_string())
        };
        let model = scripted(mode, [reply]);
        assert_eq!(run(&model).await.unwrap().value, expected());
        let sent = &model.requests()[0];
        let system = sent.messages[0].content();
        assert!(
            system.starts_with("## ROLE\nYou implement.\n\n## OUTPUT FORMAT\n"),
            "{mode:?}: {system}"
        );
        assert!(
            system.contains(instruction) && system.contains("\"maxLength\": 80"),
            "{mode:?}: {system}"
        );
        assert_eq!(
            sent.response_format.as_ref().map(|f| f.name.as_str()),
            (mode == OutputMode::Native).then_some("implementor_output")
        );
        assert_eq!(sent.tools.len(), if mode == OutputMode::Tool { 2 } else { 1 });
    }
}

#[tokio::test]
async fn a_system_message_is_added_when_there_is_none() {
    let model = scripted(OutputMode::Tool, [text("<think>Easy.</think>REFACTOR")]);
    let options = StructuredOptions {
        mode: Some(OutputMode::Prompt),
        name: Some("change".into()),
        ..StructuredOptions::default()
    };
    let request = ChatRequest::new(vec![ChatMessage::user("Add it.")]);
    let out = structured::<ChangeType>(&model, request, &options, None).await.unwrap();
    assert_eq!(out.value, ChangeType::Refactor);
    let sent = &model.requests()[0];
    expect![[r#"
        ## OUTPUT FORMAT
        Reply with only a JSON value matching this JSON schema, and nothing else:
        ```json
        {
          "type": "string",
          "enum": [
            "feat",
            "fix",
            "refactor"
          ]
        }
        ```"#]]
    .assert_eq(sent.messages[0].content());
    assert_eq!(sent.messages.len(), 2);
}

#[tokio::test]
async fn a_fenced_text_reply_with_thinking_is_accepted_in_tool_mode() {
    let reply = format!(
        "<think>\nThe plan is {{done}}.\n</think>\n\nDone:\n```json\n{}\n```\n",
        valid()
    );
    let model = scripted(OutputMode::Tool, [text(&reply)]);
    let out = run(&model).await.unwrap();
    assert_eq!(out.value, expected());
    expect![[r#"
        stripped the thinking from the reply
        extracted the JSON from a ```json fence"#]]
    .assert_eq(&out.repairs.join("\n"));
}

#[tokio::test]
async fn coercions_are_listed_and_many_repairs_need_review() {
    let reply = "```json\n{\"files_modified\": \"a.rs, b.rs\", \"result_summary\": \"Done\", \"change_type\": \"Fix\", \"lines_changed\": \"3 lines\", \"success\": \"yes\"}\n```";
    let model = scripted(OutputMode::Prompt, [text(reply)]);
    let out = run(&model).await.unwrap();
    assert_eq!(out.value.files_modified, ["a.rs", "b.rs"]);
    assert_eq!(
        (out.value.change_type, out.value.lines_changed, out.value.success),
        (ChangeType::Fix, 3, true)
    );
    expect![[r#"
        extracted the JSON from a ```json fence
        /files_modified: "a.rs, b.rs" → ["a.rs","b.rs"]
        /change_type: "Fix" matched to the allowed value "fix"
        /lines_changed: "3 lines" → 3
        /success: "yes" → true"#]]
    .assert_eq(&out.repairs.join("\n"));
    assert!(out.needs_review);
}

#[tokio::test]
async fn an_invalid_submit_call_is_re_prompted_without_thinking_and_cooler() {
    let bad = json!({"files_modified": ["a.rs"], "result_summary": "Done", "change_type": "rewrite"});
    let model = scripted(OutputMode::Tool, [submit(bad), submit(valid())]);
    let out = run(&model).await.unwrap();
    assert_eq!((out.value, out.reprompts), (expected(), 1));
    let [first, second] = model.requests().try_into().unwrap();
    assert_eq!((first.thinking, first.sampling.temperature), (None, Some(0.6)));
    assert_eq!(
        (second.thinking, second.sampling.temperature),
        (Some(Thinking::Off), Some(0.3))
    );
    check_appended(
        &second,
        expect![[r#"
            assistant:  [submit_implementor_output({"files_modified":["a.rs"],"result_summary":"Done","change_type":"rewrite"})]
            tool submit_implementor_output call_1: Rejected: the arguments do not match the schema.
            user: Your reply could not be used:
            - (root): "lines_changed" is a required property
            - (root): "success" is a required property
            - /change_type: "rewrite" is not one of "feat", "fix" or "refactor"
            Reply with only a call to `submit_implementor_output` matching the schema."#]],
    );
}

#[tokio::test]
async fn an_invalid_text_reply_is_re_prompted_in_prompt_mode() {
    let model = scripted(
        OutputMode::Prompt,
        [text("<think>hmm</think>I changed a.rs."), text(&valid().to_string())],
    );
    let out = run(&model).await.unwrap();
    assert_eq!(out.reprompts, 1);
    check_appended(
        &model.requests()[1],
        expect![[r#"
            assistant: I changed a.rs.
            user: Your reply could not be used:
            - the reply holds no JSON object
            Reply with only a JSON object matching the schema."#]],
    );
}

#[tokio::test]
async fn always_invalid_fails_with_the_raw_reply() {
    let replies = [
        "not json",
        "still {not json",
        "<think>x</think>{\"success\": \"perhaps\"}",
    ];
    let model = scripted(OutputMode::Prompt, replies.map(text));
    let error = run(&model).await.unwrap_err();
    assert_eq!(error.kind(), ModelErrorKind::InvalidOutput);
    assert_eq!((error.raw(), error.attempts()), (Some(replies[2]), 3));
    expect![[r#"role `primary` (model qwen3-8b): no valid `implementor_output` in the reply: (root): "files_modified" is a required property; (root): "result_summary" is a required property; (root): "change_type" is a required property; (root): "lines_changed" is a required property; /success: "perhaps" is not of type "boolean" after 3 attempts"#]]
    .assert_eq(&error.to_string());
    assert_eq!(model.requests().len(), 3);

    let model = scripted(OutputMode::Tool, [submit(json!("{oops"))]);
    let options = StructuredOptions {
        max_reprompts: 0,
        ..StructuredOptions::default()
    };
    let error = structured::<ImplementorOutput>(&model, request(), &options, None)
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.raw(), error.attempts()),
        (ModelErrorKind::InvalidOutput, Some("{oops"), 1)
    );
}

#[tokio::test]
async fn model_errors_pass_through() {
    let model = scripted(OutputMode::Tool, []);
    model.push_fail(ModelErrorKind::Server, "the server failed");
    let error = run(&model).await.unwrap_err();
    assert_eq!(
        (error.kind(), error.message()),
        (ModelErrorKind::Server, "the server failed")
    );
    // Also after a re-prompt.
    let model = scripted(OutputMode::Tool, [text("no")]);
    model.push_fail(ModelErrorKind::Timeout, "too slow");
    let error = run(&model).await.unwrap_err();
    assert_eq!((error.kind(), error.message()), (ModelErrorKind::Timeout, "too slow"));
}

mod properties {
    //! The repair ladder parses untrusted model output: it must never panic, and must leave
    //! valid JSON as it is.

    use lemmings_models::structured::{OutputSchema, Reply, coerce, extract_json, lenient_parse, parse_reply};
    use proptest::prelude::*;
    use serde_json::Value;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z0-9 _.,:{}\\[\\]\"'\\\\é✓\n-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Text that looks like a small model's attempt at JSON: fragments of JSON syntax, prose,
    /// fences and think tags in any order.
    fn messy_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("\"".to_owned()),
            Just("'".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("```json\n".to_owned()),
            Just("```".to_owned()),
            Just("<think>".to_owned()),
            Just("</think>".to_owned()),
            Just("//".to_owned()),
            Just("/*".to_owned()),
            Just("\\".to_owned()),
            Just("True".to_owned()),
            Just("None".to_owned()),
            "[a-z_ ]{1,8}",
            "[0-9.eE+-]{1,5}",
            "\\PC{1,3}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn schema() -> OutputSchema {
        OutputSchema::of::<super::ImplementorOutput>(None)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_ladder_never_panics(text in messy_text()) {
            let _ = extract_json(&text);
            if let Ok((value, _)) = lenient_parse(&text) {
                let _ = coerce(value, schema().schema());
            }
            let _ = parse_reply::<Value>(Reply::Text { content: &text, reasoning: None }, &schema());
        }

        #[test]
        fn valid_json_parses_as_itself_without_repairs(value in json_value()) {
            let text = serde_json::to_string(&value).unwrap();
            let (parsed, repairs) = lenient_parse(&text).unwrap();
            prop_assert_eq!(&parsed, &value);
            prop_assert!(repairs.is_empty(), "repairs on valid JSON: {:?}", repairs);
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            prop_assert_eq!(lenient_parse(&pretty).unwrap().0, value);
        }

        #[test]
        fn a_valid_object_in_prose_is_found(value in json_value(), before in "[a-zA-Z .]{0,30}", after in "[a-zA-Z .]{0,30}") {
            prop_assume!(value.is_object());
            let text = format!("{before}{}{after}", serde_json::to_string(&value).unwrap());
            let found = extract_json(&text).expect("an object is in the text");
            prop_assert_eq!(serde_json::from_str::<Value>(&found.json).unwrap(), value);
        }
    }
}

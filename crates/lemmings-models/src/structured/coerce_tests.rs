//! Tests of the coercions (one `check` per kind, on a schema with nested `$defs`) and of the
//! validation messages.

use expect_test::{Expect, expect};
use serde_json::json;

use super::*;

/// An implementor's report, as schemars writes it: nested structs and enums behind `$ref`s.
fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "files_modified": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "summary": {"type": "string", "maxLength": 5},
            "count": {"type": "integer", "format": "uint32", "minimum": 0},
            "ratio": {"type": "number"},
            "success": {"type": "boolean"},
            "kind": {"$ref": "#/$defs/Kind"},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
            "note": {"type": ["string", "null"]},
            "retries": {"type": "integer", "default": 1},
            "detail": {"anyOf": [{"$ref": "#/$defs/Step"}, {"type": "null"}]}
        },
        "required": ["files_modified", "summary", "count", "kind"],
        "$defs": {
            "Kind": {"type": "string", "enum": ["wrong_approach", "incomplete", "plan_issue"]},
            "Step": {
                "type": "object",
                "properties": {"kind": {"$ref": "#/$defs/Kind"}, "tags": {"type": "array", "items": {"type": "string"}}},
                "required": ["kind"],
                "additionalProperties": false
            }
        }
    })
}

fn check(value: Value, expect: Expect) {
    let schema = schema();
    let (value, repairs) = coerce(value, &schema);
    let errors = validate(&value, &schema);
    let mut out = format!("{value}\n");
    for line in repairs
        .iter()
        .map(|r| format!("repair {r}"))
        .chain(errors.iter().map(|e| format!("error {e}")))
    {
        out.push_str(&line);
        out.push('\n');
    }
    expect.assert_eq(&out);
}

#[test]
fn a_valid_value_only_gains_its_optional_fields() {
    check(
        json!({"files_modified": ["a"], "summary": "ok", "count": 1, "kind": "incomplete"}),
        expect![[r#"
            {"files_modified":["a"],"summary":"ok","count":1,"kind":"incomplete","note":null,"retries":1,"detail":null}
        "#]],
    );
}

#[test]
fn lists_from_strings_and_scalars() {
    check(
        json!({"files_modified": "- a.rs\n- b.rs", "summary": "ok", "count": 1, "kind": "incomplete",
               "steps": [{"kind": "incomplete", "tags": "x; y"}, {"kind": "plan_issue", "tags": 7}]}),
        expect![[r#"
            {"files_modified":["a.rs","b.rs"],"summary":"ok","count":1,"kind":"incomplete","steps":[{"kind":"incomplete","tags":["x","y"]},{"kind":"plan_issue","tags":["7"]}],"note":null,"retries":1,"detail":null}
            repair /files_modified: "- a.rs\n- b.rs" → ["a.rs","b.rs"]
            repair /steps/0/tags: "x; y" → ["x","y"]
            repair /steps/1/tags: 7 → [7]
            repair /steps/1/tags/0: 7 → "7"
        "#]],
    );
}

#[test]
fn strings_numbers_and_booleans_from_the_wrong_type() {
    check(
        json!({"files_modified": "[\"a\", \"b\"]", "summary": ["x", "y"], "count": "3 files", "ratio": "0.5",
               "success": "Yes", "kind": ["Incomplete"], "note": {"k": 1}}),
        expect![[r#"
            {"files_modified":["a","b"],"summary":"x, y","count":3,"ratio":0.5,"success":true,"kind":"incomplete","note":"{\"k\":1}","retries":1,"detail":null}
            repair /files_modified: "[\"a\", \"b\"]" → ["a","b"]
            repair /summary: ["x","y"] → "x, y"
            repair /count: "3 files" → 3
            repair /ratio: "0.5" → 0.5
            repair /success: "Yes" → true
            repair /kind: ["Incomplete"] → "Incomplete"
            repair /kind: "Incomplete" matched to the allowed value "incomplete"
            repair /note: {"k":1} → "{\"k\":1}"
        "#]],
    );
}

#[test]
fn enums_through_refs_in_nested_structs() {
    check(
        json!({"files_modified": [], "summary": "", "count": 0, "kind": "Wrong Approach",
               "steps": [{"kind": "PLAN-ISSUE", "extra": 1}], "detail": {"kind": "wrong-approach"}}),
        expect![[r#"
            {"files_modified":[],"summary":"","count":0,"kind":"wrong_approach","steps":[{"kind":"plan_issue"}],"note":null,"retries":1,"detail":{"kind":"wrong_approach"}}
            repair /kind: "Wrong Approach" matched to the allowed value "wrong_approach"
            repair /steps/0/kind: "PLAN-ISSUE" matched to the allowed value "plan_issue"
            repair /steps/0/extra: unknown property dropped
            repair /detail/kind: "wrong-approach" matched to the allowed value "wrong_approach"
        "#]],
    );
}

#[test]
fn lengths_are_cut_on_character_boundaries() {
    check(
        json!({"files_modified": ["a", "b", "c", "d"], "summary": "héllo wörld 🦀", "count": 3.0, "kind": "incomplete"}),
        expect![[r#"
            {"files_modified":["a","b","c"],"summary":"héllo","count":3,"kind":"incomplete","note":null,"retries":1,"detail":null}
            repair /files_modified: kept the first 3 of 4 items
            repair /summary: truncated from 13 to 5 characters
            repair /count: 3.0 → 3
        "#]],
    );
    let (value, _) = coerce(json!("🦀🦀🦀"), &json!({"type": "string", "maxLength": 2}));
    assert_eq!(value, json!("🦀🦀"));
}

#[test]
fn defaults_nulls_and_key_spellings() {
    check(
        json!({"filesModified": ["a"], "Summary": "ok", "count": 1, "kind": "incomplete", "retries": null, "Other": 1}),
        expect![[r#"
            {"files_modified":["a"],"summary":"ok","count":1,"kind":"incomplete","note":null,"retries":1,"detail":null,"Other":1}
            repair (root): renamed `filesModified` to `files_modified`
            repair (root): renamed `Summary` to `summary`
            repair /retries: null replaced by the default 1
        "#]],
    );
    let required = json!({"type": "object", "properties": {"a": {"type": ["string", "null"]}, "b": {"type": "integer", "default": 2}}, "required": ["a", "b"]});
    let (value, repairs) = coerce(json!({}), &required);
    assert_eq!(
        (value, repairs),
        (
            json!({"a": null, "b": 2}),
            vec![
                "/a: missing, set to null".to_owned(),
                "/b: missing, set to 2".to_owned()
            ]
        )
    );
}

#[test]
fn what_cannot_be_coerced_is_reported() {
    check(
        json!({"files_modified": {"a": 1}, "summary": "ok", "count": "many", "kind": "unknown"}),
        expect![[r#"
            {"files_modified":["{\"a\":1}"],"summary":"ok","count":"many","kind":"unknown","note":null,"retries":1,"detail":null}
            repair /files_modified: {"a":1} → [{"a":1}]
            repair /files_modified/0: {"a":1} → "{\"a\":1}"
            error /count: "many" is not of type "integer"
            error /kind: "unknown" is not one of "wrong_approach", "incomplete" or "plan_issue"
        "#]],
    );
    check(
        json!([1]),
        expect![[r#"
        [1]
        error (root): [1] is not of type "object"
    "#]],
    );
}

#[test]
fn validation_messages_are_bounded() {
    let schema = json!({"type": "array", "items": {"type": "string"}});
    let errors = validate(&json!((0..20).collect::<Vec<_>>()), &schema);
    assert_eq!((errors.len(), errors[8].as_str()), (9, "and 12 more errors"));
    let long = json!({"type": "string"});
    let errors = validate(&json!([("é".repeat(400))]), &long);
    assert!(errors[0].ends_with('…') && errors[0].chars().count() == 301);
    assert_eq!(validate(&json!(1), &json!({"type": 12})).len(), 1);
}

#[test]
fn hostile_schemas_and_values_do_not_hang_or_panic() {
    let cyclic = json!({"$ref": "#/$defs/A", "$defs": {"A": {"anyOf": [{"$ref": "#/$defs/B"}]}, "B": {"allOf": [{"$ref": "#/$defs/A"}]}}});
    let _ = coerce(json!({"a": [1, "x"]}), &cyclic);
    let selfish = json!({"$ref": "#"});
    let _ = coerce(json!([[[["x"]]]]), &selfish);
    let mut deep = json!("leaf");
    for _ in 0..500 {
        deep = json!([deep]);
    }
    let _ = coerce(deep, &json!({"type": "integer"}));
    let _ = coerce(
        json!({"a/b~c": "1"}),
        &json!({"properties": {"a/b~c": {"type": "integer"}}}),
    );
}

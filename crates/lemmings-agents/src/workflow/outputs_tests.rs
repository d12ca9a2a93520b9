//! Tests of the structured outputs: schemas, lenient enums, and replies through the repair ladder.

use expect_test::expect;
use lemmings_models::structured::{Reply, parse_reply};
use serde_json::{Value, json};

use super::*;

fn description<'a>(schema: &'a Value, pointer: &str) -> &'a str {
    schema
        .pointer(pointer)
        .and_then(|p| p.get("description"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no description at {pointer}"))
}

#[test]
fn every_named_output_has_a_schema() {
    for name in OUTPUT_NAMES {
        let schema = output_schema(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(schema.name(), name);
        assert_eq!(schema.schema()["type"], "object", "{name}");
    }
    assert!(output_schema("planner").is_none());
}

#[test]
fn lenient_fields_name_every_allowed_value() {
    let plan = output_schema("plan").unwrap();
    let qa = output_schema("qa").unwrap();
    let supervision = output_schema("supervision").unwrap();
    let checks: Vec<(&str, Vec<&str>)> = vec![
        (
            description(plan.schema(), "/properties/action"),
            PlanAction::ALL.iter().map(|a| a.as_str()).collect(),
        ),
        (
            description(plan.schema(), "/properties/change_type"),
            ChangeType::ALL.iter().map(|a| a.as_str()).collect(),
        ),
        (
            description(qa.schema(), "/properties/failure_type"),
            FailureType::ALL.iter().map(|a| a.as_str()).collect(),
        ),
        (
            description(supervision.schema(), "/properties/directives/items/properties/kind"),
            DirectiveKind::ALL.iter().map(|a| a.as_str()).collect(),
        ),
        (
            description(supervision.schema(), "/properties/directives/items/properties/priority"),
            Priority::ALL.iter().map(|a| a.as_str()).collect(),
        ),
    ];
    for (text, values) in checks {
        for value in values {
            assert!(text.contains(&format!("`{value}`")), "{text:?} lacks {value}");
        }
    }
}

#[test]
fn the_plan_schema_is_flat_and_states_its_limits() {
    let plan = output_schema("plan").unwrap();
    let properties = plan.schema()["properties"].as_object().unwrap();
    let table: String = properties
        .iter()
        .map(|(name, p)| {
            let kind = p["type"].to_string();
            let max = p
                .get("maxLength")
                .or(p.get("maxItems"))
                .map_or(String::new(), |m| format!(" max {m}"));
            format!("{name}: {kind}{max}\n")
        })
        .collect();
    expect![[r#"
        action: "string"
        task_description: "string" max 300
        measurable_outcome: "string" max 300
        implementation_plan: "string" max 6000
        change_type: "string"
        task_summary: "string" max 72
        carry_forward: "array" max 5
        escalation_context: ["string","null"] max 300
        skip_reason: ["string","null"] max 200
        directive_responses: "array" max 10
    "#]]
    .assert_eq(&table);
    assert_eq!(plan.schema()["required"], json!(["action"]));
}

#[test]
fn enums_read_near_misses_aliases_and_unknowns() {
    let read = |text: &str| serde_json::from_value::<PlanAction>(json!(text)).unwrap();
    assert_eq!(read("Implement"), PlanAction::Implement);
    assert_eq!(read("milestone-done"), PlanAction::MilestoneDone);
    assert_eq!(read("DONE"), PlanAction::MilestoneDone);
    assert_eq!(read("skipped"), PlanAction::Skip);
    assert_eq!(
        read("something else"),
        PlanAction::MilestoneDone,
        "unknown: the assessor decides"
    );
    assert_eq!(
        serde_json::from_value::<ChangeType>(json!("feature")).unwrap(),
        ChangeType::Feat
    );
    assert_eq!(
        serde_json::from_value::<ChangeType>(json!(7)).unwrap(),
        ChangeType::Chore
    );
    assert_eq!(
        serde_json::to_value(PlanAction::MilestoneDone).unwrap(),
        json!("milestone_done")
    );
    assert_eq!(PlanAction::parse_strict("nonsense"), None);

    let qa = |failure: Value| {
        serde_json::from_value::<QaOutput>(json!({"passed": false, "failure_type": failure}))
            .unwrap()
            .failure_type
    };
    assert_eq!(qa(json!(null)), None);
    assert_eq!(qa(json!("None")), None);
    assert_eq!(qa(json!("n/a")), None);
    assert_eq!(qa(json!("Partial")), Some(FailureType::Incomplete));
    assert_eq!(qa(json!("plan-issue")), Some(FailureType::PlanIssue));
    assert_eq!(qa(json!("odd")), Some(FailureType::WrongApproach), "unknown: re-plan");
}

#[test]
fn a_sloppy_reply_survives_the_repair_ladder() {
    let schema = output_schema("plan").unwrap();
    let reply = format!(
        "<think>let me plan</think>Here it is:\n```json\n{{\"Action\": \"Implement\", \"task_description\": \"Add a parser\", \
         \"implementation_plan\": \"{}\", \"change_type\": \"feature\", \"task_summary\": \"{}\", \
         \"carry_forward\": \"remember the lexer\"}}\n```",
        "step ".repeat(30),
        "x".repeat(100),
    );
    let (plan, repairs) = parse_reply::<PlanOutput>(
        Reply::Text {
            content: &reply,
            reasoning: None,
        },
        &schema,
    )
    .unwrap();
    assert_eq!(plan.action, PlanAction::Implement);
    assert_eq!(plan.change_type, ChangeType::Feat);
    assert_eq!(plan.task_summary.chars().count(), 72);
    assert_eq!(plan.carry_forward, ["remember the lexer"]);
    assert!(repairs.iter().any(|r| r.contains("renamed `Action`")), "{repairs:?}");
}

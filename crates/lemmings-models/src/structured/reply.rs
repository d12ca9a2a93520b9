//! The repair ladder for one reply, as [`parse_reply`]: from a submit call's arguments or the
//! reply text (thinking stripped, JSON extracted, leniently parsed) through the coercions to a
//! validated, deserialised value, logging each repair; or the validation errors to re-prompt
//! with.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::think::split_thinking;

use super::coerce::coerce;
use super::extract::{Shape, extract_json_as};
use super::lenient::lenient_parse;
use super::schema::OutputSchema;

/// What a model replied with, for [`parse_reply`].
#[derive(Clone, Copy, Debug)]
pub enum Reply<'a> {
    /// Reply text (which may hold `<think>` blocks, prose and fences), with the reasoning the
    /// server returned separately, tried when the answer holds no JSON.
    Text {
        /// The answer text.
        content: &'a str,
        /// The separate reasoning, if any.
        reasoning: Option<&'a str>,
    },
    /// The arguments of a `submit_<name>` call (a string is parsed as reply text).
    Arguments(&'a Value),
}

/// Turns a reply into a `T` following `schema`, repairing what it can: returns the value and
/// the repairs applied (human-readable, one per line), or the errors that remain (for a
/// re-prompt). For a schema given as JSON, use `T = serde_json::Value`.
pub fn parse_reply<T: DeserializeOwned>(
    reply: Reply<'_>,
    schema: &OutputSchema,
) -> Result<(T, Vec<String>), Vec<String>> {
    let mut repairs = Vec::new();
    let candidate = match reply {
        Reply::Arguments(Value::String(text)) => {
            repairs.push("the submit call's arguments were text: parsed them as a reply".to_owned());
            text_candidate(text, None, schema, &mut repairs)?
        }
        Reply::Arguments(arguments) => arguments.clone(),
        Reply::Text { content, reasoning } => text_candidate(content, reasoning, schema, &mut repairs)?,
    };
    let candidate = unwrap_envelopes(candidate, schema, &mut repairs);
    let (value, coercions) = coerce(candidate, schema.schema());
    repairs.extend(coercions);
    let errors = schema.validate(&value);
    if !errors.is_empty() {
        return Err(errors);
    }
    match serde_json::from_value::<T>(value) {
        Ok(value) => Ok((value, repairs)),
        Err(error) => Err(vec![format!("(root): {error}")]),
    }
}

/// The JSON value in a reply text: thinking stripped, then extracted and leniently parsed from
/// the answer, else (when the answer is empty) from the reasoning.
fn text_candidate(
    content: &str,
    reasoning: Option<&str>,
    schema: &OutputSchema,
    repairs: &mut Vec<String>,
) -> Result<Value, Vec<String>> {
    let split = split_thinking(content);
    if split.reasoning.is_some() {
        repairs.push("stripped the thinking from the reply".to_owned());
    }
    let shape = if schema.is_array() { Shape::Array } else { Shape::Object };
    if let Some(value) = json_in(&split.answer, shape, repairs)? {
        return Ok(value);
    }
    if split.answer.is_empty() {
        for thought in [split.reasoning.as_deref(), reasoning].into_iter().flatten() {
            if let Some(value) = json_in(thought, shape, repairs)? {
                repairs.push("took the JSON from the model's reasoning (the answer was empty)".to_owned());
                return Ok(value);
            }
        }
    }
    let scalar = !matches!(
        schema.schema().get("type").and_then(Value::as_str),
        Some("object" | "array")
    );
    if scalar && !split.answer.is_empty() {
        // A bare enum value or number in prose: the coercions take it from here.
        return Ok(Value::String(split.answer));
    }
    let error = if split.unterminated {
        "the reply ended inside its thinking, with no answer".to_owned()
    } else if split.answer.is_empty() {
        "the reply was empty".to_owned()
    } else {
        format!(
            "the reply holds no JSON {}",
            if shape == Shape::Array { "array" } else { "object" }
        )
    };
    Err(vec![error])
}

/// The JSON in `text`, if it holds any; an error when it holds something that is not JSON even
/// leniently.
fn json_in(text: &str, shape: Shape, repairs: &mut Vec<String>) -> Result<Option<Value>, Vec<String>> {
    let Some(extracted) = extract_json_as(text, shape) else {
        return Ok(None);
    };
    if extracted.json != text.trim() {
        repairs.push(format!("extracted the JSON from {}", extracted.how));
    }
    match lenient_parse(&extracted.json) {
        Ok((value, fixes)) => {
            repairs.extend(fixes);
            Ok(Some(value))
        }
        Err(error) => Err(vec![format!("the reply is not valid JSON: {error}")]),
    }
}

/// Unwraps what models put around the value: a submit call written as text (hermes-style
/// `{"name": "submit_x", "arguments": {…}}`), the submit tool's `{"value": …}` wrapper, or a
/// single key naming the output (`{"implementor_output": {…}}`).
fn unwrap_envelopes(value: Value, schema: &OutputSchema, repairs: &mut Vec<String>) -> Value {
    let tool = schema.tool_name();
    let Value::Object(mut map) = value else { return value };
    let properties = schema.schema().get("properties").and_then(Value::as_object);
    let is_property = |key: &str| properties.is_some_and(|p| p.contains_key(key));
    if map.get("name").and_then(Value::as_str) == Some(tool.as_str()) && !is_property("name") {
        let arguments = map.remove("arguments").or_else(|| map.remove("parameters"));
        if let Some(arguments) = arguments {
            repairs.push(format!("unwrapped a `{tool}` call written as text"));
            let arguments = match arguments {
                Value::String(text) => lenient_parse(&text).map_or(Value::String(text), |(v, _)| v),
                other => other,
            };
            return unwrap_envelopes(arguments, schema, repairs);
        }
    }
    if map.len() == 1
        && let Some((key, inner)) = map.iter().next()
        && !is_property(key)
    {
        let named = *key == tool || key == schema.name() || normalise_key(key) == normalise_key(schema.name());
        let wrapper = schema.is_wrapped() && key == "value";
        let holds_properties = inner.as_object().is_some_and(|o| o.keys().any(|k| is_property(k)));
        if named || wrapper || holds_properties {
            if !wrapper {
                repairs.push(format!("unwrapped the value under `{key}`"));
            }
            let (_, inner) = map.into_iter().next().unwrap_or_default();
            return inner;
        }
    }
    Value::Object(map)
}

fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;

//! [`OutputSchema`]: the JSON schema of a structured output, cleaned for strict local servers,
//! with what is derived from it: the `submit_<name>` tool, the native `response_format`, the
//! prompt's OUTPUT FORMAT section, and the compiled validator.
//!
//! Cleaning drops `$schema`, `title` and the non-standard numeric `format`s schemars emits
//! (`int64`, `uint32`, `double`, …; `minimum`/`maximum` stay), which strict servers reject.
//! `$ref`s are inlined when the definitions are not recursive (small models read a flat schema
//! better, and some grammar converters lack `$ref`); recursive schemas keep `$ref`/`$defs`.

use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use crate::chat::{OutputMode, ResponseFormat, ToolSpec};

use super::coerce::{resolve_ref, validate_with};

/// The schema of a structured output and what is derived from it.
#[derive(Clone, Debug)]
pub struct OutputSchema {
    name: String,
    schema: Value,
    /// The tool's parameters: the schema when it is an object, else `{"value": schema}`
    /// (tool arguments must be objects).
    parameters: Value,
    wrapped: bool,
    /// The validator of `schema`, compiled at the first validation and shared by clones (an
    /// agent validates every reply against the same schema); `Err` says why the schema is
    /// unusable.
    validator: Arc<OnceLock<Result<jsonschema::Validator, String>>>,
}

impl OutputSchema {
    /// The schema of `T` (`schemars::schema_for!`), named `name` or, by default, after the
    /// schema's title in snake case (`ImplementorOutput` → `implementor_output`), else `output`.
    pub fn of<T: JsonSchema>(name: Option<&str>) -> Self {
        Self::from_schema(schemars::schema_for!(T).to_value(), name)
    }

    /// A schema given as JSON (e.g. from an agent's data file), named as in [`OutputSchema::of`].
    pub fn from_schema(schema: Value, name: Option<&str>) -> Self {
        let title = schema.get("title").and_then(Value::as_str).unwrap_or_default();
        let name = Some(snake_case(name.unwrap_or(title)))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "output".to_owned());
        let schema = inline_refs(clean(schema));
        let wrapped = schema.get("type").and_then(Value::as_str) != Some("object");
        let parameters = if wrapped {
            let mut inner = schema.clone();
            let defs = inner.as_object_mut().and_then(|o| take(o, "$defs"));
            rebase_refs(&mut inner, 0);
            let mut wrapper = json!({"type": "object", "properties": {"value": inner}, "required": ["value"]});
            if let (Some(defs), Some(o)) = (defs, wrapper.as_object_mut()) {
                o.insert("$defs".to_owned(), defs);
            }
            wrapper
        } else {
            schema.clone()
        };
        OutputSchema {
            name,
            schema,
            parameters,
            wrapped,
            validator: Arc::default(),
        }
    }

    /// The name (`implementor_output`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cleaned schema: for the prompt, `response_format` and validation.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// The submit tool's name, `submit_<name>`.
    pub fn tool_name(&self) -> String {
        format!("submit_{}", self.name)
    }

    /// Whether the submit tool wraps the value as `{"value": …}` (the schema is not an object).
    pub fn is_wrapped(&self) -> bool {
        self.wrapped
    }

    /// The submit tool: its parameters are the schema.
    pub fn tool_spec(&self) -> ToolSpec {
        let what = self
            .schema
            .get("description")
            .and_then(Value::as_str)
            .map(|d| format!(": {}", d.trim().trim_end_matches('.')));
        ToolSpec {
            name: self.tool_name(),
            description: format!(
                "Submit the final {}{}. Call it once, at the end.",
                self.name,
                what.unwrap_or_default()
            ),
            parameters: self.parameters.clone(),
        }
    }

    /// The native structured-output request.
    pub fn response_format(&self) -> ResponseFormat {
        ResponseFormat {
            name: self.name.clone(),
            schema: self.schema.clone(),
        }
    }

    /// [`validate`](super::validate) against the cleaned schema, with the compiled validator.
    pub(crate) fn validate(&self, value: &Value) -> Vec<String> {
        let validator = self
            .validator
            .get_or_init(|| jsonschema::validator_for(&self.schema).map_err(|error| error.to_string()));
        match validator {
            Ok(validator) => validate_with(validator, value),
            Err(error) => vec![format!("the schema is invalid: {error}")],
        }
    }

    /// Whether replies are `[…]` documents rather than `{…}` ones.
    pub(crate) fn is_array(&self) -> bool {
        self.schema.get("type").and_then(Value::as_str) == Some("array")
    }

    /// The OUTPUT FORMAT section for the system prompt (Markdown, starting with its heading).
    pub fn prompt_section(&self, mode: OutputMode) -> String {
        let (instruction, schema) = match mode {
            OutputMode::Tool => (
                format!(
                    "Reply by calling `{}` with arguments matching this JSON schema:",
                    self.tool_name()
                ),
                &self.parameters,
            ),
            OutputMode::Native | OutputMode::Prompt => {
                let what = match self.schema.get("type").and_then(Value::as_str) {
                    Some("object") => "a JSON object",
                    Some("array") => "a JSON array",
                    _ => "a JSON value",
                };
                (
                    format!("Reply with only {what} matching this JSON schema, and nothing else:"),
                    &self.schema,
                )
            }
        };
        let pretty = serde_json::to_string_pretty(schema).unwrap_or_else(|_| schema.to_string());
        format!("## OUTPUT FORMAT\n{instruction}\n```json\n{pretty}\n```")
    }
}

/// `text` in snake case, keeping only ASCII letters, digits and underscores.
fn snake_case(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied().unwrap_or('_');
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut collapsed = String::new();
    for c in out.chars() {
        if !(c == '_' && collapsed.ends_with('_')) {
            collapsed.push(c);
        }
    }
    collapsed.trim_matches('_').to_owned()
}

/// Removes `key` from `map` keeping the order of the others (`Map::remove` may not).
fn take(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let value = map.get(key).cloned()?;
    map.retain(|k, _| k != key);
    Some(value)
}

/// Points the `$ref`s of a schema about to be nested under the tool's `value` property at
/// their new place (`#` is now `#/properties/value`; `$defs` move up to the wrapper).
fn rebase_refs(schema: &mut Value, depth: usize) {
    let Some(map) = schema.as_object_mut() else { return };
    if let Some(Value::String(reference)) = map.get_mut("$ref")
        && let Some(rest) = reference.strip_prefix('#')
        && !rest.starts_with("/$defs/")
        && !rest.starts_with("/definitions/")
    {
        *reference = format!("#/properties/value{rest}");
    }
    if depth < 64 {
        for_each_child(map, &mut |child| rebase_refs(child, depth + 1));
    }
}

/// Formats strict servers reject; validators ignore them anyway.
const NUMERIC_FORMATS: &[&str] = &[
    "int", "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32", "uint64", "uint128",
    "float", "double",
];
/// Keywords holding one subschema, a list of them, or a map of them.
const ONE: &[&str] = &[
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];
const LIST: &[&str] = &["prefixItems", "allOf", "anyOf", "oneOf", "items"];
const MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// Applies `f` to every subschema of `schema` (not to `schema` itself).
fn for_each_child(schema: &mut Map<String, Value>, f: &mut dyn FnMut(&mut Value)) {
    for (key, child) in schema.iter_mut() {
        let key = key.as_str();
        match child {
            Value::Object(_) if ONE.contains(&key) => f(child),
            Value::Array(list) if LIST.contains(&key) => list.iter_mut().for_each(&mut *f),
            Value::Object(map) if MAP.contains(&key) => map.values_mut().for_each(&mut *f),
            _ => {}
        }
    }
}

/// Drops `$schema`, `title` and numeric `format`s, at every level.
fn clean(mut schema: Value) -> Value {
    fn walk(schema: &mut Value, depth: usize) {
        let Some(map) = schema.as_object_mut() else { return };
        map.retain(|key, value| match key.as_str() {
            "$schema" | "title" => false,
            "format" => !value.as_str().is_some_and(|f| NUMERIC_FORMATS.contains(&f)),
            _ => true,
        });
        if depth < 64 {
            for_each_child(map, &mut |child| walk(child, depth + 1));
        }
    }
    walk(&mut schema, 0);
    schema
}

/// The most schema nodes an inlined schema may have: past it, `$ref`s are kept.
const MAX_INLINED_NODES: usize = 2_000;

/// Replaces every local `$ref` by its definition and drops `$defs`, unless a definition refers
/// to itself (directly or not) or inlining would blow the schema up; then returns it unchanged.
fn inline_refs(schema: Value) -> Value {
    fn walk(node: &mut Value, root: &Value, stack: &mut Vec<String>, budget: &mut usize, depth: usize) -> bool {
        *budget = match budget.checked_sub(1) {
            Some(left) if depth < 64 => left,
            _ => return false,
        };
        let Some(map) = node.as_object_mut() else { return true };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str).map(str::to_owned) {
            let Some(target) = resolve_ref(root, &reference) else {
                return false;
            };
            if stack.contains(&reference) {
                return false;
            }
            let mut target = target.clone();
            stack.push(reference);
            let ok = walk(&mut target, root, stack, budget, depth + 1);
            stack.pop();
            if !ok {
                return false;
            }
            take(map, "$ref");
            let mut merged = target.as_object().cloned().unwrap_or_default();
            for (key, value) in std::mem::take(map) {
                // The reference's own keywords (usually a description or default) win.
                merged.insert(key, value);
            }
            *map = merged;
        }
        let mut ok = true;
        for_each_child(map, &mut |child| ok = ok && walk(child, root, stack, budget, depth + 1));
        ok
    }
    let mut inlined = schema.clone();
    if let Some(map) = inlined.as_object_mut() {
        map.retain(|key, _| key != "$defs" && key != "definitions");
    }
    let mut budget = MAX_INLINED_NODES;
    if walk(&mut inlined, &schema, &mut Vec::new(), &mut budget, 0) {
        inlined
    } else {
        schema
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;

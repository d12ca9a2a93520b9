//! Tool argument schemas (schemars, cleaned for strict local servers) and the check that turns
//! a bad call into a message the model can act on.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The JSON schema of `A` as tool parameters: an object schema without `$schema`, `title` or
/// integer `format`s, which strict grammar-based servers reject. Keys come out sorted, whether or
/// not serde_json's `preserve_order` is on in the build, so a tool's prompt text is the same
/// byte for byte in every binary (and a server's prompt cache keeps hitting).
pub(crate) fn parameters<A: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(A)).unwrap_or_else(|_| Value::Object(Map::new()));
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    // After the removals: with `preserve_order`, `remove` swaps the last key into the gap.
    clean(&mut schema);
    schema
}

fn clean(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if matches!(object.get("format").and_then(Value::as_str), Some(f) if is_numeric_format(f)) {
                object.remove("format");
            }
            for child in object.values_mut() {
                clean(child);
            }
            let mut entries: Vec<(String, Value)> = std::mem::take(object).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            object.extend(entries);
        }
        Value::Array(items) => items.iter_mut().for_each(clean),
        _ => {}
    }
}

fn is_numeric_format(format: &str) -> bool {
    matches!(
        format,
        "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32" | "uint64" | "float" | "double"
    )
}

/// `arguments` as `A`, or a message naming every problem and the expected shape.
pub(crate) fn check<A: DeserializeOwned + JsonSchema>(tool: &str, arguments: Value) -> Result<A, String> {
    let arguments = match arguments {
        // Some servers hand arguments over as a JSON string.
        Value::String(text) => match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(_) => {
                return Err(format!(
                    "error: the arguments of `{tool}` are not JSON: {}; send an object like {}",
                    excerpt(&text),
                    shape::<A>()
                ));
            }
        },
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    let schema = parameters::<A>();
    let mut problems = Vec::new();
    if let Ok(validator) = jsonschema::validator_for(&schema) {
        for error in validator.iter_errors(&arguments).take(6) {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() {
                String::new()
            } else {
                format!("{at}: ")
            };
            problems.push(format!("{at}{error}"));
        }
    }
    if problems.is_empty() {
        match serde_json::from_value::<A>(arguments) {
            Ok(args) => return Ok(args),
            Err(error) => problems.push(error.to_string()),
        }
    }
    Err(format!(
        "error: invalid arguments for `{tool}`: {}; expected {}",
        problems.join("; "),
        shape::<A>()
    ))
}

/// A compact description of the expected object: `{"path": string, "limit"?: integer}`.
pub(crate) fn shape<A: JsonSchema>() -> String {
    let schema = parameters::<A>();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return "an object".to_owned();
    };
    let fields: Vec<String> = properties
        .iter()
        .map(|(name, property)| {
            let optional = if required.contains(&name.as_str()) { "" } else { "?" };
            format!("\"{name}\"{optional}: {}", type_name(property))
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}

fn type_name(property: &Value) -> String {
    match property.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .filter(|k| *k != "null")
            .collect::<Vec<_>>()
            .join(" | "),
        _ if property.get("enum").is_some() => "one of the listed values".to_owned(),
        _ => "value".to_owned(),
    }
}

fn excerpt(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

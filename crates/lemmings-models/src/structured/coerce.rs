//! The Normaliser's coercions: bending a parsed value towards its JSON schema (string↔list,
//! numbers and booleans out of strings, enum spellings, lengths, defaults, key spellings) before
//! it is validated, and validation with readable, path-prefixed errors. `$ref`s are resolved
//! against the root schema's `$defs`. Every change is logged as `<path>: <what>`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::convert::convert_to;

/// How deep the coercion walks (schema and value levels together); deeper parts are left as
/// they are for the validator to judge. Bounds the walk on recursive or cyclic schemas.
const MAX_DEPTH: usize = 96;
/// The longest `$ref` chain followed.
const MAX_HOPS: usize = 16;

/// Coerces `value` towards `schema` (a root schema: `$ref`s point into it). Returns the value
/// and one line per change, `<json pointer>: <what>`. Never fails: what cannot be coerced is
/// left for [`validate`] to report.
pub fn coerce(value: Value, schema: &Value) -> (Value, Vec<String>) {
    let mut cx = Cx {
        root: schema,
        repairs: Vec::new(),
    };
    let value = cx.node(value, schema, "", 0);
    (value, cx.repairs)
}

/// Validates `value` against `schema`; returns readable errors (`/files/0: "x" is not of type
/// "integer"`), none when it is valid. An unusable schema is reported as one error.
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    match jsonschema::validator_for(schema) {
        Ok(validator) => validate_with(&validator, value),
        Err(error) => vec![format!("the schema is invalid: {error}")],
    }
}

/// At most this many errors are reported, each at most this many characters long.
const MAX_ERRORS: usize = 8;
const MAX_ERROR_CHARS: usize = 300;

/// [`validate`] with a compiled validator.
pub(crate) fn validate_with(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    let mut errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{}: {}", display_path(e.instance_path().as_str()), e))
        .collect();
    let extra = errors.len().saturating_sub(MAX_ERRORS);
    errors.truncate(MAX_ERRORS);
    for error in &mut errors {
        if let Some((cut, _)) = error.char_indices().nth(MAX_ERROR_CHARS) {
            error.truncate(cut);
            error.push('…');
        }
    }
    if extra > 0 {
        errors.push(format!("and {extra} more errors"));
    }
    errors
}

/// A JSON pointer for messages: `(root)` for the empty pointer.
pub(crate) fn display_path(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

/// Follows a local `$ref` (`#/$defs/Name`, any `#/…` pointer) within `root`.
pub(crate) fn resolve_ref<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

/// The schema `node` stands for: its `$ref` target (chains followed) with its own other
/// keywords laid over it; `node` itself, uncopied, when it has no `$ref` (inlined schemas).
fn resolved<'a>(root: &Value, node: &'a Value) -> Cow<'a, Value> {
    if node.get("$ref").is_none() {
        return Cow::Borrowed(node);
    }
    let mut node = node.clone();
    for _ in 0..MAX_HOPS {
        let Some(target) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| resolve_ref(root, r))
        else {
            break;
        };
        let mut merged = target.as_object().cloned().unwrap_or_default();
        if let Some(own) = node.as_object() {
            merged.extend(
                own.iter()
                    .filter(|(k, _)| *k != "$ref")
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        node = Value::Object(merged);
    }
    Cow::Owned(node)
}

/// The types a schema allows (`type`, else inferred from `enum`/`const`/`properties`/`items`);
/// empty when any.
fn types(node: &Value) -> Vec<&str> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if node.get("properties").is_some() => vec!["object"],
        _ if node.get("items").is_some() || node.get("prefixItems").is_some() => vec!["array"],
        _ => match node
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().all(Value::is_string))
        {
            Some(true) => vec!["string"],
            _ => Vec::new(),
        },
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, types: &[&str]) -> bool {
    let t = type_of(value);
    types.is_empty() || types.contains(&t) || (t == "integer" && types.contains(&"number"))
}

/// Whether `node` accepts null (`Option` fields).
fn allows_null(root: &Value, node: &Value) -> bool {
    let node = resolved(root, node);
    types(&node).contains(&"null")
        || ["anyOf", "oneOf"].iter().any(|k| {
            node.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|bs| bs.iter().any(|b| types(&resolved(root, b)) == ["null"]))
        })
}

/// The canonical spelling for loose comparisons: lowercase, spaces, hyphens and camel-case
/// humps as single underscores.
fn normalise(text: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in text.trim().chars() {
        if c.is_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        if c == ' ' || c == '-' || c == '_' {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.trim_matches('_').to_owned()
}

struct Cx<'a> {
    root: &'a Value,
    repairs: Vec<String>,
}

impl Cx<'_> {
    fn log(&mut self, path: &str, what: String) {
        self.repairs.push(format!("{}: {what}", display_path(path)));
    }

    fn node(&mut self, value: Value, node: &Value, path: &str, depth: usize) -> Value {
        if depth > MAX_DEPTH || !node.is_object() {
            return value;
        }
        let node = resolved(self.root, node);
        let mut value = value;
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = node.get(key).and_then(Value::as_array) {
                value = self.branch(value, branches, path, depth);
            }
        }
        if let Some(all) = node.get("allOf").and_then(Value::as_array) {
            for part in all {
                value = self.node(value, part, path, depth + 1);
            }
        }
        let types = types(&node);
        if value.is_null()
            && !has_type(&value, &types)
            && let Some(default) = node.get("default")
        {
            self.log(path, format!("null replaced by the default {default}"));
            return default.clone();
        }
        if !has_type(&value, &types) {
            value = self.convert(value, &types, path);
        }
        if let Some(allowed) = node.get("enum").and_then(Value::as_array) {
            value = self.enum_value(value, allowed, path);
        }
        if let Some(constant) = node.get("const") {
            value = self.enum_value(value, std::slice::from_ref(constant), path);
        }
        match value {
            Value::Object(map) => self.object(map, &node, path, depth),
            Value::Array(items) => self.array(items, &node, path, depth),
            Value::String(text) => Value::String(self.string(text, &node, path)),
            other => other,
        }
    }

    /// `anyOf`/`oneOf`: keep null when a branch allows it, else coerce towards the first branch
    /// the value already has the type of, else the first non-null branch.
    fn branch(&mut self, value: Value, branches: &[Value], path: &str, depth: usize) -> Value {
        let resolved: Vec<Cow<'_, Value>> = branches.iter().map(|b| resolved(self.root, b)).collect();
        let fits = |b: &Value| {
            let ts = types(b);
            has_type(&value, &ts)
                && b.get("enum")
                    .and_then(Value::as_array)
                    .is_none_or(|e| e.contains(&value))
                && b.get("const").is_none_or(|c| *c == value)
        };
        if let Some(i) = resolved.iter().position(|b| fits(b)) {
            return self.node(value, &branches[i], path, depth + 1);
        }
        match resolved.iter().position(|b| types(b) != ["null"]) {
            Some(i) => self.node(value, &branches[i], path, depth + 1),
            None => value,
        }
    }

    fn convert(&mut self, value: Value, types: &[&str], path: &str) -> Value {
        let before = short(&value);
        let converted = types.iter().find_map(|t| convert_to(&value, t));
        match converted {
            Some(new) => {
                self.log(path, format!("{before} → {}", short(&new)));
                new
            }
            None => value,
        }
    }

    fn enum_value(&mut self, value: Value, allowed: &[Value], path: &str) -> Value {
        let Value::String(text) = &value else { return value };
        if allowed.contains(&value) {
            return value;
        }
        let wanted = normalise(text);
        let mut matches = allowed
            .iter()
            .filter(|a| a.as_str().is_some_and(|a| normalise(a) == wanted));
        match (matches.next(), matches.next()) {
            (Some(found), None) => {
                self.log(path, format!("{value} matched to the allowed value {found}"));
                found.clone()
            }
            _ => value,
        }
    }

    fn object(&mut self, map: Map<String, Value>, node: &Value, path: &str, depth: usize) -> Value {
        let empty = Map::new();
        let properties = node.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let required: Vec<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // A list, so that taking members out keeps the others in their order.
        let mut entries: Vec<(String, Value)> = map.into_iter().collect();
        // Keys spelt differently (`filesModified`, `Files Modified`) for missing properties.
        for i in 0..entries.len() {
            let key = &entries[i].0;
            if properties.contains_key(key) {
                continue;
            }
            let wanted = normalise(key);
            if let Some(name) = properties
                .keys()
                .find(|p| normalise(p) == wanted && entries.iter().all(|(k, _)| k != *p))
            {
                self.log(path, format!("renamed `{key}` to `{name}`"));
                entries[i].0.clone_from(name);
            }
        }
        let mut out = Map::new();
        for (name, schema) in properties {
            let here = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
            match entries.iter().position(|(k, _)| k == name) {
                Some(at) => {
                    let (_, v) = entries.remove(at);
                    let v = self.node(v, schema, &here, depth + 1);
                    out.insert(name.clone(), v);
                }
                None => {
                    let schema = resolved(self.root, schema);
                    let fill = schema
                        .get("default")
                        .cloned()
                        .or_else(|| allows_null(self.root, &schema).then_some(Value::Null));
                    if let Some(fill) = fill {
                        // Filling an optional property is what deserialising does anyway: not a repair.
                        if required.contains(&name.as_str()) {
                            self.log(&here, format!("missing, set to {fill}"));
                        }
                        out.insert(name.clone(), fill);
                    }
                }
            }
        }
        let additional = node.get("additionalProperties");
        for (name, v) in entries {
            let here = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
            match additional {
                Some(Value::Bool(false)) => self.log(&here, "unknown property dropped".to_owned()),
                Some(schema @ Value::Object(_)) => {
                    let v = self.node(v, schema, &here, depth + 1);
                    out.insert(name, v);
                }
                _ => {
                    out.insert(name, v);
                }
            }
        }
        Value::Object(out)
    }

    fn array(&mut self, mut items: Vec<Value>, node: &Value, path: &str, depth: usize) -> Value {
        if let Some(max) = node
            .get("maxItems")
            .and_then(Value::as_u64)
            .and_then(|m| usize::try_from(m).ok())
            && items.len() > max
        {
            self.log(path, format!("kept the first {max} of {} items", items.len()));
            items.truncate(max);
        }
        let prefix = node.get("prefixItems").and_then(Value::as_array);
        let rest = node.get("items");
        let items = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match prefix.and_then(|p| p.get(i)).or(rest) {
                Some(schema) => self.node(item, schema, &format!("{path}/{i}"), depth + 1),
                None => item,
            });
        Value::Array(items.collect())
    }

    fn string(&mut self, mut text: String, node: &Value, path: &str) -> String {
        if let Some(max) = node
            .get("maxLength")
            .and_then(Value::as_u64)
            .and_then(|m| usize::try_from(m).ok())
            && let Some((cut, _)) = text.char_indices().nth(max)
        {
            self.log(
                path,
                format!("truncated from {} to {max} characters", text.chars().count()),
            );
            text.truncate(cut);
        }
        text
    }
}

/// `value` as JSON text for messages, shortened.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
#[path = "coerce_tests.rs"]
mod tests;

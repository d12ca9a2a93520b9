//! The Normaliser (the original Lemmings `normaliser.py`, which nothing called; here it is to
//! run in the workflow's agent nodes once the graph wires them): the last repairs of a small
//! model's structured output once it is valid JSON. Over-long string fields are cut
//! at a word boundary, or rewritten shorter by the summarizer role when far too long
//! ([`Normaliser::compress`]); enum strings are mapped to their canonical value
//! ([`normalise_enum`]). Every change is reported as one line, so callers can count repairs.

use std::sync::Arc;

use lemmings_models::structured::OutputSchema;
use lemmings_models::think::split_thinking;
use lemmings_models::{ChatMessage, ChatModel, ChatRequest};
use serde_json::Value;

/// A string over its limit by more than this factor is rewritten by the model rather than cut.
pub const COMPRESS_RATIO: f64 = 1.5;

/// A length limit on string fields of a JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldLimit {
    /// A JSON pointer (`/result_summary`); a `*` segment matches every item of an array (and
    /// every value of an object): `/milestones/*/description`. When it points at an array of
    /// strings, the limit applies to each string.
    pub pointer: String,
    /// The most characters (not bytes) the string may have.
    pub max_chars: usize,
}

impl FieldLimit {
    /// A limit of `max_chars` characters on the strings at `pointer`.
    pub fn new(pointer: impl Into<String>, max_chars: usize) -> Self {
        FieldLimit {
            pointer: pointer.into(),
            max_chars,
        }
    }
}

/// Shortens over-long string fields: see [`Normaliser::compress`].
#[derive(Clone, Debug, Default)]
pub struct Normaliser {
    model: Option<Arc<dyn ChatModel>>,
}

impl Normaliser {
    /// A normaliser compressing with `model` (the summarizer role); without one, over-long
    /// fields are always truncated.
    pub fn new(model: Option<Arc<dyn ChatModel>>) -> Self {
        Normaliser { model }
    }

    /// Brings every string at each limit's pointer within its limit, and returns one line per
    /// change (`/result_summary: truncated from 612 to 500 characters`). A string at most
    /// [`COMPRESS_RATIO`] × its limit is cut at a word boundary with `…`; a longer one is
    /// rewritten by the model, and cut when there is no model, the model fails, or its answer
    /// is still too long. Missing fields and values that are not strings are left alone.
    pub async fn compress(&self, value: &mut Value, limits: &[FieldLimit]) -> Vec<String> {
        let mut repairs = Vec::new();
        for limit in limits {
            for pointer in string_pointers(value, &limit.pointer) {
                let Some(text) = value.pointer(&pointer).and_then(Value::as_str) else {
                    continue;
                };
                let length = text.chars().count();
                if length <= limit.max_chars {
                    continue;
                }
                let text = text.to_owned();
                let (short, how) = self.shorten(&text, limit.max_chars).await;
                let new_length = short.chars().count();
                let repair = match how {
                    Shortened::Truncated(None) => {
                        format!(
                            "{pointer}: truncated from {length} to {new_length} characters (limit {})",
                            limit.max_chars
                        )
                    }
                    Shortened::Truncated(Some(reason)) => format!(
                        "{pointer}: truncated from {length} to {new_length} characters (limit {}; {reason})",
                        limit.max_chars
                    ),
                    Shortened::Compressed => format!(
                        "{pointer}: compressed by the model from {length} to {new_length} characters (limit {})",
                        limit.max_chars
                    ),
                };
                if let Some(slot) = value.pointer_mut(&pointer) {
                    *slot = Value::String(short);
                    repairs.push(repair);
                }
            }
        }
        repairs
    }

    /// A submitted output's arguments (an object, or a JSON string of one) with every string
    /// over its schema's `maxLength` shortened ([`Normaliser::compress`] with
    /// [`limits_of`]`(output.schema())`), and the repair lines.
    pub async fn compress_output(&self, arguments: &Value, output: &OutputSchema) -> (Value, Vec<String>) {
        let mut value = match arguments {
            Value::String(text) => match serde_json::from_str::<Value>(text) {
                Ok(parsed @ Value::Object(_)) => parsed,
                _ => return (arguments.clone(), Vec::new()),
            },
            other => other.clone(),
        };
        let limits = limits_of(output.schema());
        let repairs = self.compress(&mut value, &limits).await;
        (value, repairs)
    }

    /// `text` (over `max_chars`) within `max_chars`, and how it was done.
    async fn shorten(&self, text: &str, max_chars: usize) -> (String, Shortened) {
        let length = text.chars().count() as f64;
        if length <= max_chars as f64 * COMPRESS_RATIO {
            return (truncate_at_word(text, max_chars), Shortened::Truncated(None));
        }
        let Some(model) = &self.model else {
            let reason = "no model to compress it".to_owned();
            return (truncate_at_word(text, max_chars), Shortened::Truncated(Some(reason)));
        };
        match rewrite_shorter(model.as_ref(), text, max_chars).await {
            Ok(short) => (short, Shortened::Compressed),
            Err(reason) => {
                tracing::debug!(%reason, "field not compressed; truncating it");
                (truncate_at_word(text, max_chars), Shortened::Truncated(Some(reason)))
            }
        }
    }
}

/// How a string was shortened.
enum Shortened {
    /// Cut at a word boundary; why the model did not rewrite it, when it was asked or could
    /// have been.
    Truncated(Option<String>),
    /// Rewritten by the model.
    Compressed,
}

/// Asks `model` to rewrite `text` in at most `max_chars` characters; the answer without its
/// thinking, or why it cannot be used.
async fn rewrite_shorter(model: &dyn ChatModel, text: &str, max_chars: usize) -> Result<String, String> {
    let prompt = format!(
        "Rewrite the following in at most {max_chars} characters, keeping every fact (names, paths, \
         numbers, decisions, errors) and dropping filler words. Reply with the rewritten text only.\n\n{text}"
    );
    let response = model
        .chat(ChatRequest::new(vec![ChatMessage::user(prompt)]), None)
        .await
        .map_err(|error| format!("the model failed: {error}"))?;
    let answer = split_thinking(&response.content).answer;
    match answer.chars().count() {
        0 => Err("the model answered nothing".to_owned()),
        n if n > max_chars => Err(format!("the model's answer was still {n} characters")),
        _ => Ok(answer),
    }
}

/// The string length limits of a JSON schema, as [`FieldLimit`]s: every `maxLength` of a
/// string property (`/result_summary`), of array items (`/issues/*`) and of nested objects
/// (`/milestones/*/description`), with `$ref`s into `$defs` followed (at most 8 levels).
pub fn limits_of(schema: &Value) -> Vec<FieldLimit> {
    let mut out = Vec::new();
    limits_at(schema, schema, String::new(), 0, &mut out);
    out
}

fn limits_at(root: &Value, node: &Value, at: String, depth: usize, out: &mut Vec<FieldLimit>) {
    if depth > 8 {
        return;
    }
    let node = resolve(root, node);
    if let Some(max) = node.get("maxLength").and_then(Value::as_u64) {
        out.push(FieldLimit::new(at.clone(), max as usize));
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for option in node.get(key).and_then(Value::as_array).into_iter().flatten() {
            limits_at(root, option, at.clone(), depth + 1, out);
        }
    }
    if let Some(items) = node.get("items") {
        limits_at(root, items, format!("{at}/*"), depth + 1, out);
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let name = name.replace('~', "~0").replace('/', "~1");
            limits_at(root, property, format!("{at}/{name}"), depth + 1, out);
        }
    }
}

/// `node` with a `$ref` (`#/$defs/Name`) followed once.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
        .unwrap_or(node)
}

/// `text` cut to at most `max_chars` characters, ending with `…` when cut: at the last word
/// boundary when one lies in the second half of the room, else mid-word. Never splits a
/// UTF-8 character.
pub fn truncate_at_word(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let room = max_chars - 1;
    let end = text.char_indices().nth(room).map_or(text.len(), |(at, _)| at);
    let prefix = &text[..end];
    let at_word = text[end..].starts_with(char::is_whitespace);
    let cut = match prefix.rfind(char::is_whitespace) {
        _ if at_word => prefix,
        Some(at) if prefix[..at].chars().count() >= room / 2 => &prefix[..at],
        _ => prefix,
    };
    let cut = cut.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-'));
    format!("{cut}…")
}

/// The concrete JSON pointers of the strings `pattern` designates in `value` (`*` expanded;
/// an array of strings contributes each item).
fn string_pointers(value: &Value, pattern: &str) -> Vec<String> {
    let tokens: Vec<String> = match pattern {
        "" => Vec::new(),
        _ => pattern
            .strip_prefix('/')
            .unwrap_or(pattern)
            .split('/')
            .map(|token| token.replace("~1", "/").replace("~0", "~"))
            .collect(),
    };
    let mut out = Vec::new();
    walk(value, &tokens, String::new(), &mut out);
    out
}

fn walk(value: &Value, tokens: &[String], at: String, out: &mut Vec<String>) {
    let child = |key: &str| format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
    let Some((token, rest)) = tokens.split_first() else {
        match value {
            Value::String(_) => out.push(at),
            Value::Array(items) => out.extend(
                (0..items.len())
                    .filter(|&index| items[index].is_string())
                    .map(|index| child(&index.to_string())),
            ),
            _ => {}
        }
        return;
    };
    match (value, token.as_str()) {
        (Value::Array(items), "*") => {
            for (index, item) in items.iter().enumerate() {
                walk(item, rest, child(&index.to_string()), out);
            }
        }
        (Value::Object(fields), "*") => {
            for (key, field) in fields {
                walk(field, rest, child(key), out);
            }
        }
        (Value::Object(fields), key) => {
            if let Some(field) = fields.get(key) {
                walk(field, rest, child(key), out);
            }
        }
        (Value::Array(items), index) => {
            if let Some(item) = index.parse::<usize>().ok().and_then(|index| items.get(index)) {
                walk(item, rest, child(index), out);
            }
        }
        _ => {}
    }
}

/// `value` as an enum key: trimmed of whitespace and quotes, lowercase, `-` and whitespace
/// runs as `_`.
fn enum_key(value: &str) -> String {
    let value = value.trim().trim_matches(['"', '\'', '`']).trim().to_lowercase();
    value.split_whitespace().collect::<Vec<_>>().join("_").replace('-', "_")
}

/// The canonical value of an enum string from a model: compared as a key (trimmed, lowercase,
/// `-` and spaces as `_`), it is looked up in `canonical`, then in `synonyms`
/// (`(synonym, canonical)` pairs), then matched by a unique prefix either way (`impl` →
/// `implement`, `implemented` → `implement`; at least 3 characters), else it is `default`.
/// The second element is a repair line when the result differs from `value`.
pub fn normalise_enum(
    value: &str,
    canonical: &[&str],
    synonyms: &[(&str, &str)],
    default: &str,
) -> (String, Option<String>) {
    let key = enum_key(value);
    let result = |to: &str, how: &str| {
        let repair = (to != value).then(|| format!("`{value}` → `{to}` ({how})"));
        (to.to_owned(), repair)
    };
    if let Some(found) = canonical.iter().find(|option| enum_key(option) == key) {
        return result(found, "normalised");
    }
    if let Some((_, found)) = synonyms.iter().find(|(synonym, _)| enum_key(synonym) == key) {
        return result(found, "synonym");
    }
    let prefixed: Vec<&&str> = canonical
        .iter()
        .filter(|option| {
            let option = enum_key(option);
            key.len() >= 3 && (option.starts_with(&key) || key.starts_with(&option))
        })
        .collect();
    if let [found] = prefixed[..] {
        return result(found, "prefix");
    }
    let repair = if key.is_empty() {
        format!("an empty value → `{default}` (default)")
    } else {
        format!(
            "`{value}` is not one of {} → `{default}` (default)",
            canonical.join(", ")
        )
    };
    (default.to_owned(), Some(repair))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use lemmings_models::ModelErrorKind;
    use lemmings_testkit::ScriptedModel;
    use serde_json::json;

    use super::*;

    const SENTENCE: &str = "Added the json flag to the report command and covered it with two tests";

    fn normaliser(model: &Arc<ScriptedModel>) -> Normaliser {
        Normaliser::new(Some(model.clone()))
    }

    #[test]
    fn truncation_cuts_at_a_word_boundary() {
        assert_eq!(truncate_at_word(SENTENCE, 40), "Added the json flag to the report…");
        assert_eq!(truncate_at_word(SENTENCE, 100), SENTENCE);
        assert_eq!(truncate_at_word("a, b, c, d", 6), "a, b…");
        assert_eq!(truncate_at_word("abcdefghijklmnop", 8), "abcdefg…");
        assert_eq!(truncate_at_word("ééééé ééééé", 9), "ééééé…");
        assert_eq!(truncate_at_word("🦀🦀🦀🦀", 3), "🦀🦀…");
        assert_eq!(truncate_at_word("anything", 0), "");
    }

    #[tokio::test]
    async fn a_field_a_little_too_long_is_truncated_without_the_model() {
        let model = Arc::new(ScriptedModel::new("summarizer"));
        let mut value = json!({"result_summary": SENTENCE, "success": true});
        let repairs = normaliser(&model)
            .compress(&mut value, &[FieldLimit::new("/result_summary", 60)])
            .await;
        assert_eq!(
            value["result_summary"],
            "Added the json flag to the report command and covered it…"
        );
        expect![[r#"["/result_summary: truncated from 71 to 57 characters (limit 60)"]"#]]
            .assert_eq(&format!("{repairs:?}"));
        assert_eq!(model.calls(), 0);
    }

    #[tokio::test]
    async fn a_field_far_too_long_is_compressed_by_the_model() {
        let model = Arc::new(ScriptedModel::new("summarizer").text("<think>hmm</think>Added --json flag; 2 tests"));
        let mut value = json!({"result_summary": SENTENCE});
        let repairs = normaliser(&model)
            .compress(&mut value, &[FieldLimit::new("/result_summary", 30)])
            .await;
        assert_eq!(value["result_summary"], "Added --json flag; 2 tests");
        expect![[r#"["/result_summary: compressed by the model from 71 to 26 characters (limit 30)"]"#]]
            .assert_eq(&format!("{repairs:?}"));
        expect![[r#"
            Rewrite the following in at most 30 characters, keeping every fact (names, paths, numbers, decisions, errors) and dropping filler words. Reply with the rewritten text only.

            Added the json flag to the report command and covered it with two tests"#]]
        .assert_eq(model.requests()[0].messages[0].content());
    }

    #[tokio::test]
    async fn without_a_usable_model_answer_the_field_is_truncated() {
        let model = Arc::new(
            ScriptedModel::new("summarizer")
                .fail(ModelErrorKind::Timeout, "no answer within 30 s")
                .text("this answer is still much longer than thirty characters"),
        );
        let limits = [FieldLimit::new("/feedback", 30)];
        let mut repairs = Vec::new();
        for normaliser in [normaliser(&model), normaliser(&model), Normaliser::new(None)] {
            let mut value = json!({"feedback": SENTENCE});
            repairs.extend(normaliser.compress(&mut value, &limits).await);
            assert_eq!(value["feedback"], "Added the json flag to the…");
        }
        expect![[r#"
            /feedback: truncated from 71 to 27 characters (limit 30; the model failed: role `summarizer` (model scripted-summarizer): no answer within 30 s)
            /feedback: truncated from 71 to 27 characters (limit 30; the model's answer was still 55 characters)
            /feedback: truncated from 71 to 27 characters (limit 30; no model to compress it)"#]]
        .assert_eq(&repairs.join("\n"));
    }

    #[tokio::test]
    async fn wildcards_and_string_arrays_reach_every_item() {
        let mut value = json!({
            "milestones": [
                {"description": "short", "sketch": "x"},
                {"description": "a description that is a bit too long", "sketch": "y"},
                {"sketch": "no description"},
            ],
            "issues": ["fine", "this issue is described at some length", 42],
            "a/b": {"c~d": "escaped keys are fine too"},
        });
        let limits = [
            FieldLimit::new("/milestones/*/description", 30),
            FieldLimit::new("/issues", 30),
            FieldLimit::new("/a~1b/c~0d", 20),
            FieldLimit::new("/missing/*/field", 1),
        ];
        let repairs = Normaliser::default().compress(&mut value, &limits).await;
        expect![[r#"
            /milestones/1/description: truncated from 36 to 28 characters (limit 30)
            /issues/1: truncated from 38 to 27 characters (limit 30)
            /a~1b/c~0d: truncated from 25 to 17 characters (limit 20)"#]]
        .assert_eq(&repairs.join("\n"));
        assert_eq!(value["milestones"][0]["description"], "short");
        assert_eq!(value["milestones"][1]["description"], "a description that is a bit…");
        assert_eq!(value["issues"], json!(["fine", "this issue is described at…", 42]));
        assert_eq!(value["a/b"]["c~d"], "escaped keys are…");
    }

    #[test]
    fn enum_values_are_normalised() {
        let actions = ["implement", "skip", "abort", "milestone_done"];
        let synonyms = [
            ("done", "milestone_done"),
            ("complete", "milestone_done"),
            ("pass", "skip"),
            ("give up", "abort"),
        ];
        let inputs = [
            "implement",
            "Implement",
            " IMPLEMENT ",
            "\"skip\"",
            "milestone-done",
            "Milestone Done",
            "done",
            "Give-Up",
            "impl",
            "implemented",
            "mile",
            "ab",
            "frobnicate",
            "",
        ];
        let table: Vec<String> = inputs
            .iter()
            .map(|input| {
                let (value, repair) = normalise_enum(input, &actions, &synonyms, "skip");
                format!("{input:?} → {value} | {}", repair.unwrap_or_else(|| "-".to_owned()))
            })
            .collect();
        expect![[r#"
            "implement" → implement | -
            "Implement" → implement | `Implement` → `implement` (normalised)
            " IMPLEMENT " → implement | ` IMPLEMENT ` → `implement` (normalised)
            "\"skip\"" → skip | `"skip"` → `skip` (normalised)
            "milestone-done" → milestone_done | `milestone-done` → `milestone_done` (normalised)
            "Milestone Done" → milestone_done | `Milestone Done` → `milestone_done` (normalised)
            "done" → milestone_done | `done` → `milestone_done` (synonym)
            "Give-Up" → abort | `Give-Up` → `abort` (synonym)
            "impl" → implement | `impl` → `implement` (prefix)
            "implemented" → implement | `implemented` → `implement` (prefix)
            "mile" → milestone_done | `mile` → `milestone_done` (prefix)
            "ab" → skip | `ab` is not one of implement, skip, abort, milestone_done → `skip` (default)
            "frobnicate" → skip | `frobnicate` is not one of implement, skip, abort, milestone_done → `skip` (default)
            "" → skip | an empty value → `skip` (default)"#]]
        .assert_eq(&table.join("\n"));
    }
}

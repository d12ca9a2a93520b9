//! Converting a JSON value of the wrong type to the type a schema wants, the way a small model
//! usually meant it: a list written as a string or a single item, a number written as text
//! ("3 files"), a yes/no, a one-element list around a scalar, a list or object where text was
//! wanted. Used by [`coerce()`](super::coerce()); `None` means "no sensible conversion".

use serde_json::{Number, Value};

use super::lenient::lenient_parse;

/// `value` converted to the JSON-schema type `target`, or `None`.
pub(crate) fn convert_to(value: &Value, target: &str) -> Option<Value> {
    // A one-element list around what was wanted (`["incomplete"]` for an enum, `[3]`).
    let mut value = value;
    if target != "array" {
        while let Value::Array(items) = value
            && items.len() == 1
        {
            value = &items[0];
        }
    }
    match (target, value) {
        ("array", Value::String(text)) => Some(Value::Array(split_list(text))),
        ("array", Value::Null) => Some(Value::Array(Vec::new())),
        ("array", other) => Some(Value::Array(vec![other.clone()])),
        ("string", Value::Array(items)) => {
            Some(Value::String(items.iter().map(text_of).collect::<Vec<_>>().join(", ")))
        }
        ("string", Value::Object(_)) => Some(Value::String(value.to_string())),
        ("string", Value::Number(n)) => Some(Value::String(n.to_string())),
        ("string", Value::Bool(b)) => Some(Value::String(b.to_string())),
        ("string", Value::String(text)) => Some(Value::String(text.clone())),
        ("integer", Value::Number(n)) => integral(n.as_f64()?),
        ("integer", Value::String(text)) => {
            let number = number_in(text)?;
            if number.is_f64() {
                integral(number.as_f64()?)
            } else {
                Some(Value::Number(number))
            }
        }
        ("number", Value::Number(n)) => Some(Value::Number(n.clone())),
        ("number", Value::String(text)) => number_in(text).map(Value::Number),
        ("boolean", Value::String(text)) => boolean(text).map(Value::Bool),
        ("boolean", Value::Number(n)) => match n.as_f64() {
            Some(0.0) => Some(Value::Bool(false)),
            Some(1.0) => Some(Value::Bool(true)),
            _ => None,
        },
        ("boolean", Value::Bool(b)) => Some(Value::Bool(*b)),
        ("object", Value::String(text)) => match lenient_parse(text) {
            Ok((object @ Value::Object(_), _)) => Some(object),
            _ => None,
        },
        ("object", Value::Object(_)) => Some(value.clone()),
        ("null", Value::String(text)) => {
            matches!(text.trim().to_ascii_lowercase().as_str(), "" | "null" | "none" | "n/a").then_some(Value::Null)
        }
        _ => None,
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A float that is a whole number, as an integer.
fn integral(number: f64) -> Option<Value> {
    // i64::MIN as f64 is exact; values at or past 2^63 do not fit.
    let fits = number.fract() == 0.0 && number >= i64::MIN as f64 && number < -(i64::MIN as f64);
    fits.then(|| Value::Number(Number::from(number as i64)))
}

/// The items of a list written as text: a JSON array inside the string, else lines, else
/// `;`-separated, else `,`-separated parts, with bullets (`- `, `* `, `1. `) trimmed.
fn split_list(text: &str) -> Vec<Value> {
    let trimmed = text.trim();
    if trimmed.starts_with('[')
        && let Ok((Value::Array(items), _)) = lenient_parse(trimmed)
    {
        return items;
    }
    let separator = ['\n', ';', ','].into_iter().find(|&c| trimmed.contains(c));
    let parts: Vec<&str> = match separator {
        Some(c) => trimmed.split(c).collect(),
        None => vec![trimmed],
    };
    parts
        .into_iter()
        .map(strip_bullet)
        .filter(|p| !p.is_empty())
        .map(|p| Value::String(p.to_owned()))
        .collect()
}

fn strip_bullet(item: &str) -> &str {
    let item = item.trim();
    for bullet in ["- ", "* ", "• ", "+ "] {
        if let Some(rest) = item.strip_prefix(bullet) {
            return rest.trim();
        }
    }
    let digits = item.len() - item.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0
        && let Some(rest) = item[digits..]
            .strip_prefix(". ")
            .or_else(|| item[digits..].strip_prefix(") "))
    {
        return rest.trim();
    }
    item
}

/// The number a string holds: all of it ("3", "-2.5e1"), else a leading number ("3 files"),
/// else the only number in it ("about 3").
fn number_in(text: &str) -> Option<Number> {
    let text = text.trim();
    if let Ok(number) = serde_json::from_str::<Number>(text) {
        return Some(number);
    }
    let tokens = number_tokens(text);
    let chosen = match tokens.as_slice() {
        [(0, token), ..] | [(_, token)] => token,
        _ => return None,
    };
    serde_json::from_str::<Number>(chosen).ok()
}

/// The number-like tokens of `text` (`-?digits(.digits)?`), with their byte offsets.
fn number_tokens(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if matches!(bytes[i], b'-' | b'+') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if !bytes[i].is_ascii_digit() {
            i = start + 1;
            continue;
        }
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
        // Leading zeros ("007") are not JSON; neither is a digit run glued to letters ("v2").
        let glued = start > 0 && bytes[start - 1].is_ascii_alphabetic();
        if !glued {
            let token = &text[start..i];
            let digits = token.trim_start_matches(['-', '+']);
            let sign = if token.starts_with('-') { "-" } else { "" };
            let digits = match digits.trim_start_matches('0') {
                "" => "0",
                rest if rest.starts_with('.') => &digits[digits.len() - rest.len() - 1..],
                rest => rest,
            };
            out.push((start, format!("{sign}{digits}")));
        }
    }
    out
}

fn boolean(text: &str) -> Option<bool> {
    match text.trim().trim_end_matches(['.', '!']).to_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn conversions() {
        let cases = [
            (json!("- a.rs\n- b.rs\n\n"), "array", Some(json!(["a.rs", "b.rs"]))),
            (json!("1. first; 2) second"), "array", Some(json!(["first", "second"]))),
            (json!("a, b"), "array", Some(json!(["a", "b"]))),
            (json!("[\"x\", 'y',]"), "array", Some(json!(["x", "y"]))),
            (json!(""), "array", Some(json!([]))),
            (json!(3), "array", Some(json!([3]))),
            (
                json!(["a", 1, {"k": "v"}]),
                "string",
                Some(json!("a, 1, {\"k\":\"v\"}")),
            ),
            (json!({"k": 1}), "string", Some(json!("{\"k\":1}"))),
            (json!("3"), "integer", Some(json!(3))),
            (json!("3 files"), "integer", Some(json!(3))),
            (json!("about 3 files"), "integer", Some(json!(3))),
            (json!("3 of 5"), "integer", Some(json!(3))),
            (json!("between 3 and 5"), "integer", None),
            (json!("007"), "integer", Some(json!(7))),
            (json!("v2"), "integer", None),
            (json!("2.5"), "integer", None),
            (json!(3.0), "integer", Some(json!(3))),
            (json!(1e300), "integer", None),
            (json!(["7"]), "integer", Some(json!(7))),
            (json!("-2.5 points"), "number", Some(json!(-2.5))),
            (json!("Yes."), "boolean", Some(json!(true))),
            (json!("no"), "boolean", Some(json!(false))),
            (json!("maybe"), "boolean", None),
            (json!(0), "boolean", Some(json!(false))),
            (json!("{'a': 1}"), "object", Some(json!({"a": 1}))),
            (json!("None"), "null", Some(json!(null))),
        ];
        for (value, target, expected) in cases {
            assert_eq!(convert_to(&value, target), expected, "{value} to {target}");
        }
    }

    #[test]
    fn odd_text_does_not_panic() {
        for text in [
            "-",
            "+",
            "-.",
            "1.",
            ".5",
            "é1",
            "1é",
            "🦀-3🦀",
            "--1",
            "0",
            "00",
            "-0",
            "99999999999999999999999",
        ] {
            for target in ["integer", "number", "array", "boolean"] {
                let _ = convert_to(&json!(text), target);
            }
        }
    }
}

//! Reading TOML tables key by key with their spans, so that every refusal names the file, the
//! line and the dotted key (toml's serde errors know the span but not always the key).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::SpecError;

/// A parsed document: its top-level table, or the first syntax error (with its line).
pub(crate) fn parse_document<'i>(text: &'i str, file: &str) -> Result<DeTable<'i>, SpecError> {
    DeTable::parse(text).map(Spanned::into_inner).map_err(|error| {
        let line = error.span().map(|span| line_of(text, span.start));
        // toml's messages describe the token, never quote the text, so no secret leaks here.
        SpecError::invalid(
            file,
            line,
            None,
            format!("invalid TOML: {}", error.message().trim_end()),
        )
    })
}

/// One table of a document being read: its keys are checked against a list, and each value is
/// read with its type and range checked.
pub(crate) struct Table<'a, 'i> {
    pub(crate) text: &'a str,
    pub(crate) file: &'a str,
    /// The dotted path of the table with a trailing dot (`limits.`), or empty at the top.
    pub(crate) prefix: String,
    pub(crate) table: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// The dotted key of `key` in this table.
    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// An error about `key` at `offset`.
    pub(crate) fn error(&self, offset: usize, key: &str, message: impl Into<String>) -> SpecError {
        SpecError::invalid(
            self.file,
            Some(line_of(self.text, offset)),
            Some(&self.key(key)),
            message,
        )
    }

    /// The 1-based line of a byte offset of the text.
    pub(crate) fn line(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    /// Refuses a key not in `known` (`what_to_do` ends the message).
    pub(crate) fn only(&self, known: &[&str], what_to_do: &str) -> Result<(), SpecError> {
        for (key, _) in self.table.iter() {
            if !known.contains(&key.get_ref().as_ref()) {
                let message = format!("unknown key; the keys are {}; {what_to_do}", known.join(", "));
                return Err(self.error(key.span().start, key.get_ref(), message));
            }
        }
        Ok(())
    }

    /// The value of `key`, if present.
    pub(crate) fn value(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// A sub-table, if present.
    pub(crate) fn table(&self, key: &str) -> Result<Option<Table<'a, 'i>>, SpecError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        match value.get_ref() {
            DeValue::Table(table) => Ok(Some(Table {
                text: self.text,
                file: self.file,
                prefix: format!("{}{key}.", self.prefix),
                table,
            })),
            other => Err(self.wrong_type(value, key, &format!("a table ([{}{key}])", self.prefix), other)),
        }
    }

    /// A string, with the offset of its value.
    pub(crate) fn string(&self, key: &str) -> Result<Option<(String, usize)>, SpecError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        match value.get_ref() {
            DeValue::String(text) => Ok(Some((text.to_string(), value.span().start))),
            other => Err(self.wrong_type(value, key, "a string", other)),
        }
    }

    /// An array of strings, each with its offset.
    pub(crate) fn strings(&self, key: &str) -> Result<Option<Vec<(String, usize)>>, SpecError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(value, key, "an array of strings", value.get_ref()));
        };
        let mut strings = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(text) => strings.push((text.to_string(), item.span().start)),
                other => return Err(self.wrong_type(item, key, "an array of strings", other)),
            }
        }
        Ok(Some(strings))
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, SpecError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        let DeValue::Integer(integer) = value.get_ref() else {
            return Err(self.wrong_type(value, key, "an integer", value.get_ref()));
        };
        match i64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(number) if (min..=max).contains(&number) => Ok(Some(number)),
            _ => Err(self.error(value.span().start, key, format!("expected {min} to {max}"))),
        }
    }

    /// A number (a float, or an integer) in `(min_exclusive, max]`.
    pub(crate) fn fraction(&self, key: &str, min_exclusive: f64, max: f64) -> Result<Option<f64>, SpecError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        let number = match value.get_ref() {
            DeValue::Float(float) => float.as_str().parse::<f64>().ok(),
            DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
                .ok()
                .map(|n| n as f64),
            other => return Err(self.wrong_type(value, key, "a number", other)),
        };
        match number {
            Some(number) if number > min_exclusive && number <= max => Ok(Some(number)),
            _ => Err(self.error(
                value.span().start,
                key,
                format!("expected more than {min_exclusive} and at most {max}"),
            )),
        }
    }

    /// A boolean.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, SpecError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        match value.get_ref() {
            DeValue::Boolean(flag) => Ok(Some(*flag)),
            other => Err(self.wrong_type(value, key, "true or false", other)),
        }
    }

    fn wrong_type(&self, value: &Spanned<DeValue<'_>>, key: &str, expected: &str, found: &DeValue<'_>) -> SpecError {
        let found = match found.type_str() {
            article @ ("integer" | "array") => format!("an {article}"),
            other => format!("a {other}"),
        };
        self.error(value.span().start, key, format!("expected {expected}, found {found}"))
    }
}

/// Whether `name` is a name for an agent, a prompt, a tool, an output or a variable: lowercase
/// ASCII letters, digits and `_`, starting with a letter.
pub(crate) fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `name` is a model role's name (as lemmings-models accepts: lowercase ASCII
/// letters, digits, `_` and `-`).
pub(crate) fn is_role_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&byte| byte == b'\n').count() + 1
}

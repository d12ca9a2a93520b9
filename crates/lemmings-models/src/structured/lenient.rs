//! A forgiving JSON parser for small models' output: trailing and missing commas, `//`, `/* */`
//! and `#` comments, smart and single quotes, unquoted keys and bare words, Python literals,
//! raw control characters and stray quotes inside strings, and a document cut off by
//! `max_tokens` (open strings, arrays and objects are closed). Strict JSON goes through
//! `serde_json` untouched. Never panics; nesting is limited so hostile input cannot overflow
//! the stack.

mod strings;

use serde_json::{Map, Number, Value};

use self::strings::is_quote;

/// Nesting deeper than this is refused (`serde_json`'s own limit).
const MAX_DEPTH: usize = 128;

/// Parses `text` as JSON, repairing what small models get wrong. Returns the value and one
/// human-readable line per kind of repair applied (none for strict JSON), or why it failed.
pub fn lenient_parse(text: &str) -> Result<(Value, Vec<String>), String> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok((value, Vec::new()));
    }
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
        repairs: Vec::new(),
    };
    parser.skip_blank();
    if parser.peek().is_none() {
        return Err("the text is empty".to_owned());
    }
    let value = parser.value()?;
    parser.skip_blank();
    if parser.peek().is_some() {
        parser.repair("ignored text after the JSON");
    }
    Ok((value, parser.repairs.into_iter().map(str::to_owned).collect()))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    repairs: Vec<&'static str>,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn repair(&mut self, what: &'static str) {
        if !self.repairs.contains(&what) {
            self.repairs.push(what);
        }
    }

    fn error(&self, what: &str) -> String {
        let line = 1 + self.chars[..self.pos.min(self.chars.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count();
        match self.peek() {
            Some(c) => format!("{what} at line {line}, found `{c}`"),
            None => format!("{what} at the end"),
        }
    }

    /// Skips whitespace and comments.
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '\u{feff}' {
                self.pos += 1;
            } else if c == '#' || (c == '/' && self.peek_at(1) == Some('/')) {
                self.repair("removed comments");
                while self.peek().is_some_and(|c| c != '\n') {
                    self.pos += 1;
                }
            } else if c == '/' && self.peek_at(1) == Some('*') {
                self.repair("removed comments");
                self.pos += 2;
                while self.peek().is_some() && !(self.peek() == Some('*') && self.peek_at(1) == Some('/')) {
                    self.pos += 1;
                }
                self.pos = (self.pos + 2).min(self.chars.len());
            } else {
                break;
            }
        }
    }

    fn truncated(&mut self) {
        self.repair("closed a truncated document");
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_blank();
        match self.peek() {
            None => Err(self.error("expected a value")),
            Some('{') => self.nested(Self::object),
            Some('[') => self.nested(Self::array),
            Some(c) if is_quote(c) => self.string().map(Value::String),
            Some(c) if c == '-' || c == '+' || c == '.' || c.is_ascii_digit() => self.number(),
            Some(c) if is_word_start(c) => Ok(self.bare_value()),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Value, String>) -> Result<Value, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("the JSON is nested deeper than {MAX_DEPTH} levels"));
        }
        self.depth += 1;
        self.pos += 1;
        let value = parse(self);
        self.depth -= 1;
        value
    }

    /// After `{`.
    fn object(&mut self) -> Result<Value, String> {
        let mut map = Map::new();
        let mut after_comma = false;
        loop {
            self.skip_blank();
            let key = match self.peek() {
                None => {
                    self.truncated();
                    return Ok(Value::Object(map));
                }
                Some('}') => {
                    self.pos += 1;
                    if after_comma {
                        self.repair("removed trailing commas");
                    }
                    return Ok(Value::Object(map));
                }
                Some(']') => {
                    self.repair("closed mismatched brackets");
                    return Ok(Value::Object(map));
                }
                Some(',') => {
                    self.pos += 1;
                    self.repair("removed trailing commas");
                    continue;
                }
                Some(c) if is_quote(c) => self.string()?,
                Some(c) if is_word_start(c) => {
                    self.repair("quoted unquoted keys");
                    self.word(is_word_char)
                }
                Some(_) => return Err(self.error("expected a key")),
            };
            self.skip_blank();
            match self.peek() {
                None => {
                    self.truncated();
                    return Ok(Value::Object(map));
                }
                Some(':' | '=') => self.pos += 1,
                Some(_) => return Err(self.error("expected `:`")),
            }
            self.skip_blank();
            if self.peek().is_none() {
                self.truncated();
                return Ok(Value::Object(map));
            }
            let value = self.value()?;
            map.insert(key, value);
            after_comma = self.separator()?;
        }
    }

    /// After `[`.
    fn array(&mut self) -> Result<Value, String> {
        let mut items = Vec::new();
        let mut after_comma = false;
        loop {
            self.skip_blank();
            match self.peek() {
                None => {
                    self.truncated();
                    return Ok(Value::Array(items));
                }
                Some(']') => {
                    self.pos += 1;
                    if after_comma {
                        self.repair("removed trailing commas");
                    }
                    return Ok(Value::Array(items));
                }
                Some('}') => {
                    self.repair("closed mismatched brackets");
                    return Ok(Value::Array(items));
                }
                Some(',') => {
                    self.pos += 1;
                    self.repair("removed trailing commas");
                    continue;
                }
                Some(_) => {}
            }
            items.push(self.value()?);
            after_comma = self.separator()?;
        }
    }

    /// After a member or element: consumes a comma (returning `true`), or accepts a closing
    /// bracket, the end, or (repaired) the start of the next member without a comma.
    fn separator(&mut self) -> Result<bool, String> {
        self.skip_blank();
        match self.peek() {
            Some(',') => {
                self.pos += 1;
                Ok(true)
            }
            None | Some('}' | ']') => Ok(false),
            Some(c) if is_quote(c) || is_word_start(c) || matches!(c, '{' | '[') || c.is_ascii_digit() => {
                self.repair("inserted missing commas");
                Ok(false)
            }
            Some(_) => Err(self.error("expected `,`")),
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.pos += 1;
        }
        let raw: String = self.chars[start..self.pos].iter().collect();
        if !raw.contains(|c: char| c.is_ascii_digit()) {
            self.pos = start;
            return Err(self.error("expected a value"));
        }
        let mut text = raw.trim_start_matches('+').to_owned();
        let negative = text.starts_with('-');
        let digits = text.trim_start_matches('-').trim_start_matches('0');
        let digits = if digits.is_empty() || digits.starts_with(['.', 'e', 'E']) {
            format!("0{digits}")
        } else {
            digits.to_owned()
        };
        text = format!(
            "{}{}",
            if negative { "-" } else { "" },
            digits.trim_end_matches(['.', 'e', 'E', '+', '-'])
        );
        match serde_json::from_str::<Number>(&text) {
            Ok(number) => {
                if text != raw {
                    self.repair("fixed malformed numbers");
                }
                Ok(Value::Number(number))
            }
            Err(_) => {
                self.pos = start;
                Err(self.error("expected a number"))
            }
        }
    }

    /// A word in value position: a literal (JSON or Python), else text up to the next
    /// separator, as a string.
    fn bare_value(&mut self) -> Value {
        let word = self.word(|c| !matches!(c, ',' | '}' | ']' | '\n'));
        let word = word.trim_end();
        match word {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "True" | "False" | "None" => {
                self.repair("converted Python literals");
                match word {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            _ => {
                self.repair("quoted bare words");
                Value::String(word.to_owned())
            }
        }
    }

    fn word(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '-' | '.')
}

#[cfg(test)]
#[path = "lenient_tests.rs"]
mod tests;

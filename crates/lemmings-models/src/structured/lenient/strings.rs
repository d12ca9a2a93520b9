//! Strings for the lenient parser: any quote style (straight, single, smart), escapes
//! (surrogate pairs, invalid ones kept), raw control characters, and quotes left unescaped
//! inside the text, told apart from closing quotes by what follows them.

use super::Parser;

impl Parser {
    /// At an opening quote.
    pub(super) fn string(&mut self) -> Result<String, String> {
        let open = self.peek().unwrap_or('"');
        self.pos += 1;
        match open {
            '"' => {}
            '\'' => self.repair("converted single-quoted strings"),
            _ => self.repair("replaced smart quotes"),
        }
        let mut out = String::new();
        // Where the first quote taken as part of the text was: if the string then runs to the
        // end, that guess was wrong and the string ends there.
        let mut first_stray: Option<(usize, usize)> = None;
        loop {
            let Some(c) = self.peek() else {
                if let Some((pos, len)) = first_stray {
                    self.pos = pos;
                    out.truncate(len);
                } else {
                    self.truncated();
                }
                return Ok(out);
            };
            self.pos += 1;
            if c == '\\' {
                self.escape(&mut out);
            } else if closes(open, c) {
                if self.ends_string() {
                    if first_stray.is_some() {
                        self.repair("escaped stray quotes inside strings");
                    }
                    return Ok(out);
                }
                first_stray.get_or_insert((self.pos, out.len()));
                out.push(c);
            } else {
                if c.is_control() {
                    self.repair("escaped control characters in strings");
                }
                out.push(c);
            }
        }
    }

    /// Whether a closing quote just consumed ends the string: what follows it is the end, a
    /// separator, a bracket, a comment, or the next line.
    fn ends_string(&self) -> bool {
        let mut at = self.pos;
        while let Some(&c) = self.chars.get(at) {
            if c == '\n' {
                return true;
            }
            if !c.is_whitespace() {
                return matches!(c, ',' | ':' | '}' | ']' | '/' | '#');
            }
            at += 1;
        }
        true
    }

    /// After a backslash inside a string.
    fn escape(&mut self, out: &mut String) {
        let Some(c) = self.peek() else {
            self.truncated();
            return;
        };
        self.pos += 1;
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let Some(high) = self.hex4() else {
                    out.push_str("\\u");
                    return;
                };
                if (0xD800..0xDC00).contains(&high) && self.peek() == Some('\\') && self.peek_at(1) == Some('u') {
                    let save = self.pos;
                    self.pos += 2;
                    match self.hex4() {
                        Some(low) if (0xDC00..0xE000).contains(&low) => {
                            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            return;
                        }
                        _ => self.pos = save,
                    }
                }
                out.push(char::from_u32(high).unwrap_or('\u{fffd}'));
            }
            // `\"`, `\\`, `\/`, and invalid escapes such as `\'`: the character itself.
            other => out.push(other),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits: String = self.chars.get(self.pos..self.pos + 4)?.iter().collect();
        let code = u32::from_str_radix(&digits, 16).ok()?;
        self.pos += 4;
        Some(code)
    }
}

pub(super) fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’')
}

/// Whether `c` can close a string opened by `open` (smart quotes close with either curl or a
/// straight quote of the same kind).
fn closes(open: char, c: char) -> bool {
    match open {
        '"' => c == '"',
        '\'' => c == '\'',
        '“' | '”' => matches!(c, '”' | '“' | '"'),
        _ => matches!(c, '’' | '‘' | '\''),
    }
}

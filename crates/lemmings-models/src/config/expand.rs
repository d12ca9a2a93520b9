//! `${VAR}` expansion of the string values of `[llm]`, so secrets and per-machine addresses stay
//! out of the file: `${NAME}`, `${NAME:-default}` (the default when NAME is unset or empty) and
//! `$$` for a literal `$`. Any other `$` is kept as it is. A default is the text up to the first
//! `}` and is not itself expanded.

/// The result of expanding one string.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Expansion {
    /// The expanded text; an unset variable without a default expands to nothing.
    pub(super) value: String,
    /// The first variable that is unset and has no default: the value cannot be used.
    pub(super) unset: Option<String>,
    /// Every variable named, in order (to say which one was empty).
    pub(super) vars: Vec<String>,
    /// How messages quote it: the expanded text when no variable was involved, else the text as
    /// written in the file, since a value from the environment may be a secret.
    pub(super) shown: String,
}

/// A `${` that does not form a variable reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Malformed {
    /// `${` without a closing `}`.
    Unclosed,
    /// `${}` or a name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    BadName,
}

impl Malformed {
    /// What to tell the user. Never quotes the text: it may be a secret.
    pub(super) fn message(self) -> &'static str {
        match self {
            Malformed::Unclosed => "unclosed `${`; write `${NAME}`, or `$$` for a literal `$`",
            Malformed::BadName => {
                "invalid variable name in `${...}`; a name is a letter or `_` followed by letters, digits or `_` \
                 (write `$$` for a literal `$`)"
            }
        }
    }
}

/// Expands `raw`, looking variables up with `env`.
pub(super) fn expand(raw: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Expansion, Malformed> {
    let mut value = String::with_capacity(raw.len());
    let mut unset = None;
    let mut vars = Vec::new();
    let mut rest = raw;
    while let Some(dollar) = rest.find('$') {
        value.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            value.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail.find('}').ok_or(Malformed::Unclosed)?;
            let (name, default) = match tail[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&tail[..end], None),
            };
            if !is_name(name) {
                return Err(Malformed::BadName);
            }
            vars.push(name.to_owned());
            match (env(name), default) {
                (Some(found), Some(default)) if found.is_empty() => value.push_str(default),
                (Some(found), _) => value.push_str(&found),
                (None, Some(default)) => value.push_str(default),
                (None, None) => {
                    unset.get_or_insert_with(|| name.to_owned());
                }
            }
            rest = &tail[end + 1..];
        } else {
            value.push('$');
            rest = after;
        }
    }
    value.push_str(rest);
    let shown = if vars.is_empty() {
        format!("{value:?}")
    } else {
        format!("{raw:?} (from the environment)")
    };
    Ok(Expansion {
        value,
        unset,
        vars,
        shown,
    })
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: &str) {
        let env = |name: &str| match name {
            "HOST" => Some("gpu-box".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let actual = match expand(raw, &env) {
            Ok(Expansion {
                value,
                unset: None,
                vars,
                ..
            }) => format!("{value:?} vars={vars:?}"),
            Ok(Expansion {
                value,
                unset: Some(name),
                ..
            }) => format!("{value:?} unset={name}"),
            Err(malformed) => format!("{malformed:?}"),
        };
        assert_eq!(actual, expected, "expanding {raw:?}");
    }

    #[test]
    fn expands_variables_defaults_and_dollars() {
        check("http://${HOST}:5000", r#""http://gpu-box:5000" vars=["HOST"]"#);
        check(
            "${MISSING:-local}/${EMPTY:-x}/${EMPTY}",
            r#""local/x/" vars=["MISSING", "EMPTY", "EMPTY"]"#,
        );
        check("a${MISSING}b${OTHER}", r#""ab" unset=MISSING"#);
        check("$$5 costs $5 and $", r#""$5 costs $5 and $" vars=[]"#);
        check("$${HOST}", r#""${HOST}" vars=[]"#);
        check("${HOST", "Unclosed");
        check("${}", "BadName");
        check("${9LIVES}", "BadName");
        check("${A-B}", "BadName");
        check("${_ok9:-}", r#""" vars=["_ok9"]"#);
    }
}

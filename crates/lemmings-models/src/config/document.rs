//! The walk over a config file's `[llm]` table: syntax errors, the section and its roles, the
//! required `primary`, then each role (see `role`) and the fallbacks to switched-off roles.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::LlmConfig;
use super::error::{ConfigError, ConfigErrorKind};
use super::role::{self, Outcome};
use super::value::type_name;

/// The text being parsed, with what messages need to point into it.
pub(super) struct Doc<'a> {
    /// The whole file.
    pub(super) text: &'a str,
    /// Its name in messages.
    pub(super) source: &'a str,
    /// The environment, for `${VAR}`.
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl Doc<'_> {
    /// The 1-based line of a byte offset.
    pub(super) fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count()
            + 1
    }

    /// An error at the line where `span` starts.
    pub(super) fn error(
        &self,
        kind: ConfigErrorKind,
        span: &Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::new(
            kind,
            self.source,
            Some(self.line(span.start)),
            Some(key.into()),
            message,
        )
    }
}

/// Parses the `[llm]` section of `doc`.
pub(super) fn parse(doc: &Doc<'_>) -> Result<LlmConfig, ConfigError> {
    let root = DeTable::parse(doc.text).map_err(|error| {
        let line = error.span().map(|span| doc.line(span.start));
        // toml's messages describe the token, never quote the text, so no secret can leak here.
        ConfigError::new(
            ConfigErrorKind::Syntax,
            doc.source,
            line,
            None,
            format!("invalid TOML: {}", error.message()),
        )
    })?;
    let Some((_, llm)) = root.get_ref().iter().find(|(key, _)| key.get_ref() == "llm") else {
        let message = "no [llm] section; add [llm.primary] with the provider, model and base_url of the main model";
        return Err(ConfigError::new(
            ConfigErrorKind::MissingRole,
            doc.source,
            None,
            Some("llm".to_owned()),
            message,
        ));
    };
    let DeValue::Table(table) = llm.get_ref() else {
        let message = format!(
            "expected a table of roles ([llm.<role>]), found {}",
            type_name(llm.get_ref())
        );
        return Err(doc.error(ConfigErrorKind::InvalidValue, &llm.span(), "llm", message));
    };

    // In file order, so the first error reported is the first one in the file.
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    if entries.is_empty() {
        let message = "no roles; add [llm.primary] with the provider, model and base_url of the main model";
        return Err(doc.error(ConfigErrorKind::MissingRole, &llm.span(), "llm", message));
    }
    let names: Vec<&str> = entries.iter().map(|(key, _)| key.get_ref().as_ref()).collect();
    if !names.contains(&"primary") {
        let message = "required role is missing; add [llm.primary] (the main graph's agents run on it)";
        return Err(doc.error(ConfigErrorKind::MissingRole, &llm.span(), "llm.primary", message));
    }

    let mut config = LlmConfig {
        source: doc.source.to_owned(),
        roles: BTreeMap::new(),
        disabled: BTreeMap::new(),
    };
    for (key, value) in entries {
        let name = key.get_ref().as_ref();
        if !is_role_name(name) {
            let message = format!("invalid role name {name:?}; use lowercase letters, digits, `_` and `-`");
            return Err(doc.error(
                ConfigErrorKind::InvalidValue,
                &key.span(),
                format!("llm.{name:?}"),
                message,
            ));
        }
        let DeValue::Table(role_table) = value.get_ref() else {
            let found = type_name(value.get_ref());
            let message = format!("expected a table ([llm.{name}] followed by its keys), found {found}");
            return Err(doc.error(
                ConfigErrorKind::InvalidValue,
                &key.span(),
                format!("llm.{name}"),
                message,
            ));
        };
        match role::parse(doc, name, &value.span(), role_table, &names)? {
            Outcome::Enabled(role) => {
                config.roles.insert(name.to_owned(), *role);
            }
            Outcome::Disabled(role) => {
                config.disabled.insert(name.to_owned(), role);
            }
        }
    }

    // A fallback that is switched off is no fallback: dropping it here saves every caller the check.
    for role in config.roles.values_mut() {
        role.fallback.retain(|name| !config.disabled.contains_key(name));
    }
    Ok(config)
}

/// Role names are used as identifiers by agents and tools, and in messages.
fn is_role_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

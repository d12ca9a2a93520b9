//! One `[llm.<role>]` table: every key read and checked in file order, then the provider's
//! defaults and requirements. The result is an enabled role or, for an optional role that cannot
//! work here (a variable unset, no OpenRouter key), a switched-off one.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::document::Doc;
use super::error::{ConfigError, ConfigErrorKind};
use super::expand::Expansion;
use super::{DisabledRole, ProviderKind, ROLE_KEYS, RoleConfig, default_optional};
use crate::chat::{OutputMode, Thinking};
use crate::secret::Secret;

/// What became of a role.
#[derive(Debug)]
pub(super) enum Outcome {
    Enabled(Box<RoleConfig>),
    Disabled(DisabledRole),
}

/// The role being read (the typed readers in `value` are methods of it).
pub(super) struct Role<'a> {
    pub(super) doc: &'a Doc<'a>,
    pub(super) name: &'a str,
    /// Whether an unset variable switches the role off rather than failing.
    pub(super) optional: bool,
    /// The first unset variable met, in an optional role.
    pub(super) unset: Option<String>,
}

/// Reads the role `name` from its table; `header` is where the table starts (missing keys point
/// there) and `roles` are all the role names, for `fallback`.
pub(super) fn parse(
    doc: &Doc<'_>,
    name: &str,
    header: &Range<usize>,
    table: &DeTable<'_>,
    roles: &[&str],
) -> Result<Outcome, ConfigError> {
    let mut role = Role {
        doc,
        name,
        optional: default_optional(name),
        unset: None,
    };
    // `optional` first, wherever it is: it decides whether an unset variable is an error.
    if let Some((_, value)) = table.iter().find(|(key, _)| key.get_ref() == "optional") {
        role.optional = role.boolean("optional", value)?;
        if name == "primary" && role.optional {
            let message = "`primary` cannot be optional (the main graph's agents run on it); remove this line";
            return Err(role.error(ConfigErrorKind::InvalidValue, &value.span(), "optional", message));
        }
    }

    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    let mut config = RoleConfig::new(name, ProviderKind::OpenaiCompatible, "");
    let mut seen: BTreeMap<&'static str, Range<usize>> = BTreeMap::new();
    let (mut provider, mut model, mut base_url, mut api_key, mut max_concurrency) = (None, None, None, None, None);
    for (key, value) in entries {
        let Some(&known) = ROLE_KEYS.iter().find(|known| **known == key.get_ref()) else {
            return Err(role.unknown_key(key));
        };
        seen.insert(known, value.span());
        let sampling = &mut config.sampling;
        match known {
            "provider" => provider = role.provider(value)?,
            "model" => model = role.non_empty("model", value)?,
            "base_url" => base_url = role.base_url(value)?,
            "api_key" => api_key = role.string("api_key", value)?,
            "optional" => {}
            "fallback" => config.fallback = role.fallback(value, roles)?,
            "timeout_s" => config.timeout = role.seconds(known, value, false)?,
            "connect_timeout_s" => config.connect_timeout = role.seconds(known, value, false)?,
            "max_concurrency" => max_concurrency = Some(role.count(known, value, 1, u32::MAX)?),
            "temperature" => sampling.temperature = Some(role.number_in(known, value, (0.0, false), Some(2.0))?),
            "top_p" => sampling.top_p = Some(role.number_in(known, value, (0.0, true), Some(1.0))?),
            "top_k" => sampling.top_k = Some(role.count(known, value, 0, u32::MAX)?),
            "min_p" => sampling.min_p = Some(role.number_in(known, value, (0.0, false), Some(1.0))?),
            "max_tokens" => sampling.max_tokens = Some(role.count(known, value, 1, u32::MAX)?),
            "thinking" => {
                let options = [("on", Thinking::On), ("off", Thinking::Off), ("strip", Thinking::Strip)];
                config.thinking = role.choice(known, value, &options)?.unwrap_or(config.thinking);
            }
            "context_tokens" => config.context_tokens = Some(role.count(known, value, 1, u32::MAX)?),
            "structured_output" => {
                let options = [
                    ("tool", OutputMode::Tool),
                    ("native", OutputMode::Native),
                    ("prompt", OutputMode::Prompt),
                ];
                config.structured_output = role.choice(known, value, &options)?.unwrap_or(config.structured_output);
            }
            "max_attempts" => config.retry.max_attempts = role.count(known, value, 1, 20)?,
            "backoff_s" => config.retry.backoff = role.seconds(known, value, true)?,
            "max_backoff_s" => config.retry.max_backoff = role.seconds(known, value, true)?,
            "retry_budget" => config.retry.budget_ratio = role.number_in(known, value, (0.0, false), Some(1.0))?,
            "breaker_failures" => config.breaker.failures = role.count(known, value, 1, u32::MAX)?,
            "breaker_cooldown_s" => config.breaker.cooldown = role.seconds(known, value, false)?,
            other => unreachable!("ROLE_KEYS has `{other}` but the parser does not read it"),
        }
    }

    let missing = |key: &str, message: &str| role.error(ConfigErrorKind::MissingField, header, key, message);
    if !seen.contains_key("provider") {
        return Err(missing(
            "provider",
            "required key is missing; add provider = \"openai_compatible\", \"ollama\" or \"openrouter\"",
        ));
    }
    if !seen.contains_key("model") {
        return Err(missing(
            "model",
            "required key is missing; add model = \"<the model's name on its server>\"",
        ));
    }
    if let Some(variable) = &role.unset {
        return Ok(role.disabled(format!("environment variable {variable} is not set")));
    }
    // Both keys were seen and no variable was unset, so both were read.
    let (Some(provider), Some(model)) = (provider, model) else {
        return Err(missing("provider", "required key is missing"));
    };
    config.provider = provider;
    config.model = model;
    config.max_concurrency = max_concurrency.map_or(provider.default_max_concurrency(), |n| n as usize);
    config.base_url = match (base_url, provider.default_base_url()) {
        (Some(url), _) => url,
        (None, Some(default)) => default.to_owned(),
        (None, None) => {
            let message = "required key is missing for provider openai_compatible; add the server's URL, e.g. \
                           base_url = \"http://127.0.0.1:5000/v1\"";
            return Err(missing("base_url", message));
        }
    };
    config.api_key = api_key
        .as_ref()
        .filter(|key| !key.value.is_empty())
        .map(|key| Secret::new(key.value.as_str()));
    if provider == ProviderKind::Openrouter && config.api_key.is_none() {
        return role.without_key(api_key.as_ref(), seen.get("api_key"), header);
    }
    let (backoff, max_backoff) = (config.retry.backoff, config.retry.max_backoff);
    if max_backoff < backoff {
        let (key, message) = if seen.contains_key("max_backoff_s") {
            let message = format!("must be at least backoff_s ({backoff:?}), not {max_backoff:?}");
            ("max_backoff_s", message)
        } else {
            let message =
                format!("is more than max_backoff_s (default {max_backoff:?}); lower it or raise max_backoff_s");
            ("backoff_s", message)
        };
        let at = seen.get(key).unwrap_or(header);
        return Err(role.error(ConfigErrorKind::InvalidValue, at, key, message));
    }
    Ok(Outcome::Enabled(Box::new(config)))
}

impl Role<'_> {
    fn disabled(&self, reason: String) -> Outcome {
        Outcome::Disabled(DisabledRole {
            name: self.name.to_owned(),
            reason,
        })
    }

    fn unknown_key(&self, key: &Spanned<std::borrow::Cow<'_, str>>) -> ConfigError {
        let typed = key.get_ref().as_ref();
        let nearest = ROLE_KEYS
            .iter()
            .map(|known| (edit_distance(typed, known), *known))
            .min_by_key(|(d, _)| *d);
        let message = match nearest {
            Some((distance, known)) if distance <= 2 => format!("unknown key; did you mean `{known}`?"),
            _ => format!("unknown key; expected one of {}", ROLE_KEYS.join(", ")),
        };
        self.error(ConfigErrorKind::UnknownKey, &key.span(), typed, message)
    }

    fn provider(&mut self, value: &Spanned<DeValue<'_>>) -> Result<Option<ProviderKind>, ConfigError> {
        let Some(expansion) = self.string("provider", value)? else {
            return Ok(None);
        };
        if let Some(kind) = ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == expansion.value)
        {
            return Ok(Some(kind));
        }
        let names: Vec<&str> = ProviderKind::ALL.iter().map(|kind| kind.as_str()).collect();
        let message = format!(
            "unknown provider {}; expected one of {}",
            expansion.shown,
            names.join(", ")
        );
        Err(self.error(ConfigErrorKind::UnknownProvider, &value.span(), "provider", message))
    }

    fn non_empty(&mut self, key: &str, value: &Spanned<DeValue<'_>>) -> Result<Option<String>, ConfigError> {
        let Some(expansion) = self.string(key, value)? else {
            return Ok(None);
        };
        if expansion.value.trim().is_empty() {
            return Err(self.error(ConfigErrorKind::InvalidValue, &value.span(), key, "is empty"));
        }
        Ok(Some(expansion.value))
    }

    /// An http(s) URL with a host, without its trailing slashes. Never quoted in messages: after
    /// expansion it may hold credentials.
    fn base_url(&mut self, value: &Spanned<DeValue<'_>>) -> Result<Option<String>, ConfigError> {
        let Some(expansion) = self.string("base_url", value)? else {
            return Ok(None);
        };
        let text = expansion.value.trim();
        let invalid = |message: String| self.error(ConfigErrorKind::InvalidValue, &value.span(), "base_url", message);
        let example = "e.g. http://127.0.0.1:5000/v1";
        let url = url::Url::parse(text)
            .map_err(|error| invalid(format!("is not a valid URL ({error}); expected {example}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "must be an http:// or https:// URL, not {}:; expected {example}",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(format!("has no host; expected {example}")));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "must not have a query or fragment (paths are appended to it)".to_owned(),
            ));
        }
        Ok(Some(text.trim_end_matches('/').to_owned()))
    }

    fn fallback(&mut self, value: &Spanned<DeValue<'_>>, roles: &[&str]) -> Result<Vec<String>, ConfigError> {
        let DeValue::Array(items) = value.get_ref() else {
            let message = format!(
                "expected an array of role names, e.g. [\"primary\"], found {}",
                super::value::type_name(value.get_ref())
            );
            return Err(self.error(ConfigErrorKind::InvalidValue, &value.span(), "fallback", message));
        };
        let mut fallback: Vec<String> = Vec::new();
        for item in items.iter() {
            let Some(Expansion {
                value: target, shown, ..
            }) = self.string("fallback", item)?
            else {
                continue;
            };
            let (kind, message) = if target == self.name {
                (
                    ConfigErrorKind::InvalidValue,
                    format!("role `{target}` cannot fall back to itself"),
                )
            } else if !roles.contains(&target.as_str()) {
                (
                    ConfigErrorKind::UnknownFallback,
                    format!("unknown role {shown}; the roles are {}", roles.join(", ")),
                )
            } else if fallback.contains(&target) {
                (
                    ConfigErrorKind::InvalidValue,
                    format!("role `{target}` is listed twice"),
                )
            } else {
                fallback.push(target);
                continue;
            };
            return Err(self.error(kind, &item.span(), "fallback", message));
        }
        Ok(fallback)
    }

    /// An `openrouter` role without a usable key: switched off if optional, else an error.
    fn without_key(
        &self,
        key: Option<&Expansion>,
        at: Option<&Range<usize>>,
        header: &Range<usize>,
    ) -> Result<Outcome, ConfigError> {
        let empty_variable = key.and_then(|key| key.vars.first());
        if self.optional {
            let reason = match (key, empty_variable) {
                (None, _) => "`api_key` is not set and openrouter needs one".to_owned(),
                (Some(_), Some(variable)) => {
                    format!("environment variable {variable} is empty and openrouter needs a key")
                }
                (Some(_), None) => "`api_key` is empty and openrouter needs one".to_owned(),
            };
            return Ok(self.disabled(reason));
        }
        let optional_hint = if self.name == "primary" {
            ""
        } else {
            ", or make the role optional (optional = true)"
        };
        match (at, empty_variable) {
            (Some(at), Some(variable)) => {
                let message = format!(
                    "is empty (environment variable {variable} is empty) but openrouter needs a key; set it{optional_hint}"
                );
                Err(self.error(ConfigErrorKind::InvalidValue, at, "api_key", message))
            }
            (Some(at), None) => {
                let message = format!(
                    "is empty but openrouter needs a key; write api_key = \"${{OPENROUTER_API_KEY}}\" and set that \
                     variable{optional_hint}"
                );
                Err(self.error(ConfigErrorKind::InvalidValue, at, "api_key", message))
            }
            (None, _) => {
                let message = format!(
                    "required key is missing for provider openrouter; add api_key = \"${{OPENROUTER_API_KEY}}\" and set \
                     that variable{optional_hint}"
                );
                Err(self.error(ConfigErrorKind::MissingField, header, "api_key", message))
            }
        }
    }
}

/// Levenshtein distance, for "did you mean" (keys are short, so the quadratic table is fine).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

//! Typed readers for one role's values: each checks the TOML type, then the range, and reports
//! the key and line of the value (of the element, inside an array) when either is wrong.

use std::fmt::Display;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use super::error::{ConfigError, ConfigErrorKind};
use super::expand::{self, Expansion};
use super::role::Role;

/// A value's TOML type, with its article, for "expected X, found Y".
pub(super) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Role<'_> {
    /// The dotted key of one of this role's keys.
    pub(super) fn key(&self, key: &str) -> String {
        format!("llm.{}.{key}", self.name)
    }

    /// An error about `key`, at the line where `span` starts.
    pub(super) fn error(
        &self,
        kind: ConfigErrorKind,
        span: &Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        self.doc.error(kind, span, self.key(key), message)
    }

    fn wrong_type(&self, key: &str, value: &Value<'_>, expected: &str) -> ConfigError {
        let message = format!("expected {expected}, found {}", type_name(value.get_ref()));
        self.error(ConfigErrorKind::InvalidValue, &value.span(), key, message)
    }

    /// A string, `${VAR}` expanded. `None` when it names an unset variable and the role is
    /// optional: the role is then switched off (the first such variable is remembered).
    pub(super) fn string(&mut self, key: &str, value: &Value<'_>) -> Result<Option<Expansion>, ConfigError> {
        let DeValue::String(raw) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "a string"));
        };
        let expansion = expand::expand(raw, self.doc.env)
            .map_err(|malformed| self.error(ConfigErrorKind::InvalidValue, &value.span(), key, malformed.message()))?;
        let Some(variable) = &expansion.unset else {
            return Ok(Some(expansion));
        };
        if self.optional {
            self.unset.get_or_insert_with(|| variable.clone());
            return Ok(None);
        }
        let mut message = format!(
            "environment variable {variable} is not set and role `{}` needs it; set it, or write ${{{variable}:-default}}",
            self.name
        );
        if self.name != "primary" {
            message.push_str(", or make the role optional (optional = true)");
        }
        Err(self.error(ConfigErrorKind::MissingVariable, &value.span(), key, message))
    }

    /// A string that must be one of `options`; `None` as for [`Role::string`].
    pub(super) fn choice<T: Copy>(
        &mut self,
        key: &str,
        value: &Value<'_>,
        options: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        let Some(expansion) = self.string(key, value)? else {
            return Ok(None);
        };
        if let Some((_, choice)) = options.iter().find(|(name, _)| *name == expansion.value) {
            return Ok(Some(*choice));
        }
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        let message = format!(
            "invalid value {}; expected one of {}",
            expansion.shown,
            names.join(", ")
        );
        Err(self.error(ConfigErrorKind::InvalidValue, &value.span(), key, message))
    }

    /// A boolean.
    pub(super) fn boolean(&self, key: &str, value: &Value<'_>) -> Result<bool, ConfigError> {
        match value.get_ref() {
            DeValue::Boolean(flag) => Ok(*flag),
            _ => Err(self.wrong_type(key, value, "a boolean (true or false)")),
        }
    }

    /// A finite number; integers are accepted.
    pub(super) fn number(&self, key: &str, value: &Value<'_>) -> Result<f64, ConfigError> {
        let number = match value.get_ref() {
            DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(float) => float.as_str().parse::<f64>().ok(),
            _ => return Err(self.wrong_type(key, value, "a number")),
        };
        match number {
            Some(number) if number.is_finite() => Ok(number),
            _ => Err(self.error(
                ConfigErrorKind::InvalidValue,
                &value.span(),
                key,
                "must be a finite number",
            )),
        }
    }

    /// A number within `min..=max` (`min` excluded when `min_excluded`).
    pub(super) fn number_in(
        &self,
        key: &str,
        value: &Value<'_>,
        (min, min_excluded): (f64, bool),
        max: Option<f64>,
    ) -> Result<f64, ConfigError> {
        let number = self.number(key, value)?;
        let above_min = if min_excluded { number > min } else { number >= min };
        if above_min && max.is_none_or(|max| number <= max) {
            return Ok(number);
        }
        let requirement = match (max, min_excluded) {
            (None, true) => format!("more than {min}"),
            (None, false) => format!("{min} or more"),
            (Some(max), true) => format!("more than {min} and at most {max}"),
            (Some(max), false) => format!("between {min} and {max}"),
        };
        Err(self.out_of_range(key, value, &requirement, number))
    }

    /// A duration in seconds: more than zero, or zero or more when `zero_ok`.
    pub(super) fn seconds(&self, key: &str, value: &Value<'_>, zero_ok: bool) -> Result<Duration, ConfigError> {
        let seconds = self.number_in(key, value, (0.0, !zero_ok), None)?;
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| self.error(ConfigErrorKind::InvalidValue, &value.span(), key, "is too large"))
    }

    /// An integer within `min..=max`.
    pub(super) fn count(&self, key: &str, value: &Value<'_>, min: u32, max: u32) -> Result<u32, ConfigError> {
        let DeValue::Integer(integer) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "an integer"));
        };
        // Out of i64 means far out of range: say so with the bound rather than the digits.
        let too_far = if integer.as_str().starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        };
        let number = i64::from_str_radix(integer.as_str(), integer.radix()).unwrap_or(too_far);
        match u32::try_from(number) {
            Ok(count) if (min..=max).contains(&count) => Ok(count),
            _ => {
                let requirement = if max == u32::MAX {
                    if number < i64::from(min) {
                        format!("{min} or more")
                    } else {
                        format!("at most {max}")
                    }
                } else {
                    format!("an integer from {min} to {max}")
                };
                Err(self.out_of_range(key, value, &requirement, integer))
            }
        }
    }

    fn out_of_range(&self, key: &str, value: &Value<'_>, requirement: &str, got: impl Display) -> ConfigError {
        self.error(
            ConfigErrorKind::InvalidValue,
            &value.span(),
            key,
            format!("must be {requirement}, not {got}"),
        )
    }
}

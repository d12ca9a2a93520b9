//! Lenient string enums for model outputs: each value is matched ignoring case, spaces,
//! dashes and underscores, known aliases are accepted, and anything else becomes a safe
//! default instead of failing the reply.
//!
//! Their JSON schema is a plain string (the allowed values are listed in each field's doc
//! comment, which becomes its description): with an `enum` keyword the structured-output
//! validator would reject a near miss and spend a re-prompt on it, while the mapping here
//! turns it into something the workflow can act on.

/// `text` lowercased with everything but letters and digits removed: `Milestone-Done`,
/// `milestone_done` and `MilestoneDone` all give `milestonedone`.
pub(crate) fn fold(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Declares a lenient enum: the type, its canonical spellings (`as_str`, `Display`,
/// `Serialize`), a forgiving `Deserialize` (`null` and unknown values give the default) and a
/// string `JsonSchema`.
macro_rules! lenient_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident (default $default:ident) {
            $( $(#[$vmeta:meta])* $variant:ident = $canonical:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $canonical),+
                }
            }

            /// The value `text` names (ignoring case and separators, aliases included), or the
            /// default when it names none.
            pub fn parse_lenient(text: &str) -> Self {
                Self::parse_strict(text).unwrap_or($name::$default)
            }

            /// The value `text` names (ignoring case and separators, aliases included).
            pub fn parse_strict(text: &str) -> Option<Self> {
                let key = $crate::workflow::outputs::lenient::fold(text);
                $(
                    if key == $crate::workflow::outputs::lenient::fold($canonical)
                        $(|| key == $crate::workflow::outputs::lenient::fold($alias))*
                    {
                        return Some($name::$variant);
                    }
                )+
                None
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                Ok(match value {
                    serde_json::Value::String(text) => $name::parse_lenient(&text),
                    _ => $name::$default,
                })
            }
        }

        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string" })
            }
        }
    };
}

pub(crate) use lenient_enum;

/// For `Option<lenient enum>` fields: `null`, an empty string, `"none"`, `"null"` and
/// `"n/a"` are `None`; any other string is the enum's lenient reading.
pub(crate) fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
    let none = match &value {
        serde_json::Value::Null => true,
        serde_json::Value::String(text) => matches!(fold(text).as_str(), "" | "none" | "null" | "na" | "nil"),
        _ => false,
    };
    if none {
        return Ok(None);
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_ignores_case_and_separators() {
        assert_eq!(fold("Milestone-Done"), "milestonedone");
        assert_eq!(fold(" milestone_done "), "milestonedone");
        assert_eq!(fold("MilestoneDone"), "milestonedone");
        assert_eq!(fold("n/a"), "na");
    }
}

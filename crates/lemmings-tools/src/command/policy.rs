//! What a command may be and what it sees: the allow-list of argv prefixes, the parse of the
//! model's command string (one program, no shell), the scrubbed environment and the redaction
//! of secret values in output.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use super::CommandError;

/// Parts of variable names that mark a secret, matched case-insensitively anywhere in the name.
const SECRET_NAME_PARTS: &[&str] = &[
    "API_KEY",
    "APIKEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "ACCESS_KEY",
];

/// Secret values shorter than this are ignored: redacting `abc` everywhere would garble output.
const MIN_SECRET_LEN: usize = 4;

/// What replaces a secret value in output.
pub const REDACTED: &str = "[redacted]";

/// Which commands may run and under which limits. Each allowed entry is an argv prefix:
/// `["cargo", "test"]` allows `cargo test` with any further arguments, `["cargo"]` any cargo
/// command, so allow only commands that are safe to repeat (checks and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandPolicy {
    /// The allowed argv prefixes; programs are matched exactly as written (no path lookup).
    pub allowed: Vec<Vec<String>>,
    /// The default and the maximum time limit of one call.
    pub timeout: Duration,
    /// How long the process group has between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// The most output kept per stream, as its start and its end.
    pub max_output_bytes: usize,
    /// More variable names to remove from the environment (case-insensitive).
    pub scrub_env: Vec<String>,
    /// Secret values: a variable holding one is removed, and output shows them as `[redacted]`.
    pub secrets: Vec<String>,
    /// Variables set for every command, over the inherited ones; scrubbed like them, so a
    /// secret cannot be passed on here by mistake.
    pub set_env: Vec<(String, String)>,
}

impl CommandPolicy {
    /// The default time limit of one call, which is also its maximum.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
    /// The default time between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
    /// The default output kept per stream.
    pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 32 * 1024;

    /// A policy allowing these commands (`"cargo test"`, `"./check.sh --fast"`; each is split
    /// like a shell word list) with the default limits.
    pub fn new<I>(allowed: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let allowed = allowed
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref();
                shell_words::split(entry)
                    .unwrap_or_else(|_| entry.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            })
            .filter(|prefix| !prefix.is_empty())
            .collect();
        CommandPolicy {
            allowed,
            timeout: Self::DEFAULT_TIMEOUT,
            grace: Self::DEFAULT_GRACE,
            max_output_bytes: Self::DEFAULT_MAX_OUTPUT_BYTES,
            scrub_env: Vec::new(),
            secrets: Vec::new(),
            set_env: Vec::new(),
        }
    }

    /// With this default and maximum time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With this time between SIGTERM and SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Keeping at most this much output per stream.
    pub fn with_max_output_bytes(mut self, max_output_bytes: usize) -> Self {
        self.max_output_bytes = max_output_bytes;
        self
    }

    /// Also removing these variables from the environment.
    pub fn with_scrub_env<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.scrub_env.extend(names.into_iter().map(Into::into));
        self
    }

    /// Treating these values as secrets.
    pub fn with_secrets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, secrets: I) -> Self {
        self.secrets.extend(secrets.into_iter().map(Into::into));
        self
    }

    /// Setting this variable for every command.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_env.push((name.into(), value.into()));
        self
    }

    /// Whether `argv` starts with one of the allowed prefixes.
    pub fn allows(&self, argv: &[String]) -> bool {
        self.allowed
            .iter()
            .any(|prefix| !prefix.is_empty() && argv.starts_with(prefix))
    }

    /// The allowed commands as the model writes them (`cargo check`).
    pub fn allowed_commands(&self) -> Vec<String> {
        self.allowed.iter().map(shell_words::join).collect()
    }

    /// The model's command string as argv: split like shell words, refused when it needs a
    /// shell (pipes, redirections, `&&`, `;`, substitutions) or is not allowed.
    pub fn parse(&self, command: &str) -> Result<Vec<String>, CommandError> {
        let command = command.trim();
        let argv = shell_words::split(command).map_err(|error| CommandError::Parse {
            command: command.to_owned(),
            reason: error.to_string(),
        })?;
        if let Some(operator) = shell_operator(command) {
            return Err(CommandError::NeedsShell {
                command: command.to_owned(),
                operator,
            });
        }
        if argv.is_empty() {
            return Err(CommandError::Empty {
                allowed: self.allowed_commands(),
            });
        }
        if !self.allows(&argv) {
            return Err(CommandError::NotAllowed {
                command: shell_words::join(&argv),
                allowed: self.allowed_commands(),
            });
        }
        Ok(argv)
    }

    /// The environment of a command: `inherited` with [`CommandPolicy::set_env`] over it,
    /// minus every variable whose name looks secret (`API_KEY`, `TOKEN`, `SECRET`, `PASSWORD`,
    /// `PASSWD`, `CREDENTIAL`, `PRIVATE_KEY`, `ACCESS_KEY`, case-insensitive), is listed in
    /// [`CommandPolicy::scrub_env`], or whose value holds one of the [`CommandPolicy::secrets`].
    pub fn environment<I>(&self, inherited: I) -> Vec<(OsString, OsString)>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut variables: BTreeMap<OsString, OsString> = inherited.into_iter().collect();
        for (name, value) in &self.set_env {
            variables.insert(name.into(), value.into());
        }
        let secrets: Vec<&[u8]> = self.usable_secrets().map(str::as_bytes).collect();
        variables
            .into_iter()
            .filter(|(name, value)| {
                let upper = name.to_string_lossy().to_uppercase();
                let secret_name = SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
                    || self
                        .scrub_env
                        .iter()
                        .any(|scrubbed| scrubbed.eq_ignore_ascii_case(&upper));
                let value = value.as_encoded_bytes();
                let secret_value = secrets.iter().any(|secret| contains(value, secret));
                !secret_name && !secret_value
            })
            .collect()
    }

    /// `text` with every secret value replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<&str> = self.usable_secrets().collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets
            .into_iter()
            .fold(text.to_owned(), |text, secret| text.replace(secret, REDACTED))
    }

    fn usable_secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets
            .iter()
            .map(String::as_str)
            .filter(|secret| secret.len() >= MIN_SECRET_LEN)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// The first shell operator outside quotes (`&&`, `|`, `;`, `>`, `2>&1`, a line break), or a
/// substitution (`$(`, a backtick) outside single quotes: things only a shell would act on.
fn shell_operator(command: &str) -> Option<String> {
    let chars: Vec<char> = command.chars().collect();
    let mut quote = None;
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        match (quote, c) {
            (Some('\''), '\'') => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => at += 1,
            (Some(_), '"') => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (_, '`') => return Some("`".to_owned()),
            (_, '$') if chars.get(at + 1) == Some(&'(') => return Some("$(".to_owned()),
            (None, '\n') => return Some("\n".to_owned()),
            (None, ';' | '|' | '&' | '<' | '>') => return Some(operator_at(&chars, at)),
            _ => {}
        }
        at += 1;
    }
    None
}

/// The operator starting at `at`, with a file descriptor around a redirection (`2>&1`).
fn operator_at(chars: &[char], at: usize) -> String {
    let end = chars[at..]
        .iter()
        .position(|c| !matches!(c, ';' | '|' | '&' | '<' | '>'))
        .map_or(chars.len(), |n| at + n);
    let mut start = at;
    if matches!(chars[at], '<' | '>')
        && at > 0
        && chars[at - 1].is_ascii_digit()
        && (at == 1 || chars[at - 2].is_whitespace())
    {
        start -= 1;
    }
    let mut end = end;
    if matches!(chars[at], '<' | '>') && chars[end - 1] == '&' {
        while end < chars.len() && (chars[end].is_ascii_digit() || chars[end] == '-') {
            end += 1;
        }
    }
    chars[start..end].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value)))
            .collect()
    }

    #[test]
    fn finds_shell_operators_outside_quotes() {
        let cases = [
            ("cargo check && cargo test", Some("&&")),
            ("cargo test | tail", Some("|")),
            ("cargo test; ls", Some(";")),
            ("cargo test > out.txt", Some(">")),
            ("cargo test 2>&1", Some("2>&1")),
            ("cargo test >>log", Some(">>")),
            ("sleep 1 &", Some("&")),
            ("echo $(whoami)", Some("$(")),
            ("echo \"$(whoami)\"", Some("$(")),
            ("echo `whoami`", Some("`")),
            ("cargo check\ncargo test", Some("\n")),
            ("cargo test 'a|b' \"x;y\" a\\&b", None),
            ("echo '$(not run)'", None),
            ("cargo test -p foo -- --nocapture", None),
        ];
        for (command, expected) in cases {
            assert_eq!(shell_operator(command).as_deref(), expected, "{command}");
        }
    }

    #[test]
    fn allows_prefixes_only() {
        let policy = CommandPolicy::new(["cargo test", "cargo check", "./check.sh"]);
        let argv = |s: &str| shell_words::split(s).unwrap_or_default();
        assert!(policy.allows(&argv("cargo test -p foo")));
        assert!(policy.allows(&argv("cargo check")));
        assert!(policy.allows(&argv("./check.sh --fast")));
        assert!(!policy.allows(&argv("cargo")));
        assert!(!policy.allows(&argv("cargo build")));
        assert!(!policy.allows(&argv("/usr/bin/cargo test")));
        assert!(!policy.allows(&[]));
        assert_eq!(policy.allowed_commands(), ["cargo test", "cargo check", "./check.sh"]);
    }

    #[test]
    fn scrubs_secret_names_values_and_listed_names() {
        let policy = CommandPolicy::new(["env"])
            .with_scrub_env(["internal_url"])
            .with_secrets(["s3cr3t-value", "abc"])
            .with_env("ADDED", "yes")
            .with_env("GITHUB_TOKEN", "x");
        let inherited = os(&[
            ("PATH", "/usr/bin"),
            ("OPENAI_API_KEY", "sk-1"),
            ("my_apikey", "k"),
            ("AWS_SECRET_ACCESS_KEY", "a"),
            ("PGPASSWORD", "p"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/c.json"),
            ("SSH_PRIVATE_KEY", "k"),
            ("INNOCENT", "prefix-s3cr3t-value-suffix"),
            ("SHORT", "abc"),
            ("INTERNAL_URL", "http://x"),
        ]);
        let kept: Vec<String> = policy
            .environment(inherited)
            .into_iter()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["ADDED", "PATH", "SHORT"]);
    }

    #[test]
    fn redacts_longest_secret_first() {
        let policy = CommandPolicy::new(["echo"]).with_secrets(["hunter2", "hunter2-extended", "ab"]);
        assert_eq!(
            policy.redact("x hunter2-extended y hunter2 ab"),
            "x [redacted] y [redacted] ab"
        );
    }
}

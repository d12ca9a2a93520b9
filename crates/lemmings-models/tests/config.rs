//! The `[llm.*]` role configuration: the repository's `config.toml`, every documented default,
//! and one error per bad input, through one `check(toml, env, expect)` helper whose snapshot is
//! either a compact rendering of the parsed roles or the error as the user sees it.

use std::fmt::Write as _;

use expect_test::{Expect, expect};
use lemmings_models::config::{ConfigErrorKind, LlmConfig, ProviderKind, ROLE_KEYS, RoleConfig};

const REPO_CONFIG: &str = include_str!("../../../config.toml");
const CANARY: &str = "sk-or-canary-7f3a9c";

/// A minimal valid primary role, for inputs that are about another role or key.
const PRIMARY: &str =
    "[llm.primary]\nprovider = \"openai_compatible\"\nmodel = \"qwen\"\nbase_url = \"http://gpu:5000/v1\"\n";

fn parse(toml: &str, env: &[(&str, &str)]) -> Result<LlmConfig, lemmings_models::config::ConfigError> {
    let lookup = |name: &str| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    LlmConfig::parse(toml, "config.toml", &lookup)
}

fn check(toml: &str, env: &[(&str, &str)], expect: Expect) {
    expect.assert_eq(&outcome(toml, env));
}

/// Each of `lines` appended to a valid primary role: one outcome per line.
fn check_each(lines: &[&str], expect: Expect) {
    check_each_after(PRIMARY, lines, expect);
}

/// Each of `lines` appended to `prefix`: one outcome per line.
fn check_each_after(prefix: &str, lines: &[&str], expect: Expect) {
    let outcomes: Vec<String> = lines
        .iter()
        .map(|line| format!("{line}\n  => {}", outcome(&format!("{prefix}{line}\n"), &[]).trim_end()))
        .collect();
    expect.assert_eq(&outcomes.join("\n"));
}

fn outcome(toml: &str, env: &[(&str, &str)]) -> String {
    match parse(toml, env) {
        Ok(config) => render(&config),
        Err(error) => {
            assert!(!error.is_retryable(), "config errors are terminal");
            assert_eq!(error.file(), "config.toml");
            format!("{:?}: {error}", error.kind())
        }
    }
}

/// Each enabled role in three lines (a fourth when any sampling or the context is set), then the
/// switched-off roles and the notices. The API key shows only as `[redacted]`.
fn render(config: &LlmConfig) -> String {
    let mut out = String::new();
    for role in config.roles.values() {
        let key = if role.api_key.is_some() { " key=[redacted]" } else { "" };
        let provider = role.provider.as_str();
        writeln!(
            out,
            "{}: {provider} {} at {}{key}",
            role.name, role.model, role.base_url
        )
        .unwrap();
        let s = role.sampling;
        let retry = role.retry;
        let fallback = role.fallback.join(",");
        writeln!(
            out,
            "  timeout={:?} connect={:?} concurrency={} optional={} fallback=[{fallback}] thinking={:?} output={:?}",
            role.timeout,
            role.connect_timeout,
            role.max_concurrency,
            role.optional,
            role.thinking,
            role.structured_output,
        )
        .unwrap();
        writeln!(
            out,
            "  retry: {} attempts, {:?}..{:?}, budget {}; breaker: {} failures, {:?}",
            retry.max_attempts,
            retry.backoff,
            retry.max_backoff,
            retry.budget_ratio,
            role.breaker.failures,
            role.breaker.cooldown,
        )
        .unwrap();
        if s != Default::default() || role.context_tokens.is_some() {
            writeln!(
                out,
                "  sampling: temperature={:?} top_p={:?} top_k={:?} min_p={:?} max_tokens={:?} context={:?}",
                s.temperature, s.top_p, s.top_k, s.min_p, s.max_tokens, role.context_tokens,
            )
            .unwrap();
        }
    }
    for role in config.disabled.values() {
        writeln!(out, "{}: switched off: {}", role.name, role.reason).unwrap();
    }
    for notice in config.notices() {
        writeln!(out, "notice: {notice}").unwrap();
    }
    out
}

// ---- the repository's config.toml ---------------------------------------------------------

#[test]
fn repo_config_without_the_openrouter_key_switches_research_off() {
    check(
        REPO_CONFIG,
        &[],
        expect![[r#"
            primary: openai_compatible Qwen3-8B-exl2-6_0 at http://127.0.0.1:5000/v1 key=[redacted]
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            summarizer: ollama qwen2.5:0.5b at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[primary] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            supervisor: ollama phi3:mini at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=true fallback=[primary] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            research: switched off: environment variable OPENROUTER_API_KEY is not set
            notice: role `research` is switched off: environment variable OPENROUTER_API_KEY is not set (set it to enable it)
        "#]],
    );
    let config = parse(REPO_CONFIG, &[]).unwrap();
    assert!(config.role("research").is_none());
    assert_eq!(config.role("primary").unwrap().model, "Qwen3-8B-exl2-6_0");
}

#[test]
fn repo_config_with_the_openrouter_key_never_shows_it() {
    let env = [("OPENROUTER_API_KEY", CANARY)];
    let config = parse(REPO_CONFIG, &env).unwrap();
    let research = config.role("research").unwrap();
    assert_eq!(research.api_key.as_ref().unwrap().expose(), CANARY);
    assert_eq!(research.max_concurrency, 8);
    assert!(config.notices().is_empty());

    let debug = format!("{config:?}");
    assert!(!debug.contains(CANARY) && debug.contains("[redacted]"), "{debug}");
    let json = serde_json::to_string(&config).unwrap();
    assert!(
        !json.contains(CANARY) && json.contains(r#""api_key":"[redacted]""#),
        "{json}"
    );

    // Bad configs whose research key is the canary: the errors never show it.
    let research = "[llm.research]\nprovider = \"openrouter\"\nmodel = \"m\"\n";
    let bad = [
        format!(
            "{REPO_CONFIG}\n[llm.extra]\nprovider = \"openrouter\"\nmodel = \"m\"\napi_key = \"${{OPENROUTER_API_KEY}}\"\ntemprature = 1\n"
        ),
        format!("{PRIMARY}{research}api_key = \"${{OPENROUTER_API_KEY}}\"\nbase_url = \"${{OPENROUTER_API_KEY}}\"\n"),
        format!("{PRIMARY}{research}api_key = \"${{OPENROUTER_API_KEY}}\"\nfallback = [\"${{OPENROUTER_API_KEY}}\"]\n"),
        format!("{PRIMARY}{research}api_key = \"${{OPENROUTER_API_KEY}}\"\nthinking = \"${{OPENROUTER_API_KEY}}\"\n"),
        format!("{PRIMARY}{research}api_key = \"${{OPENROUTER_API_KEY}}\"\nprovider = \"x\"\n"),
        format!("{PRIMARY}{research}api_key = \"${{OPENROUTER_API_KEY}}${{\"\n"),
        format!("{PRIMARY}{research}api_key = 7\n"),
    ];
    for toml in &bad {
        let error = parse(toml, &env).expect_err(toml);
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(CANARY), "{shown}");
    }
}

#[test]
fn documented_example_block_is_every_key_at_its_default() {
    let block: String = REPO_CONFIG
        .lines()
        .skip_while(|line| *line != "# [llm.example]")
        .take_while(|line| line.starts_with("# ") || line.starts_with("#  "))
        .map(|line| format!("{}\n", &line[2..]))
        .collect();
    for key in ROLE_KEYS {
        let documented = block
            .lines()
            .any(|line| line.starts_with(&format!("{key} =")) || line.starts_with(&format!("# {key} =")));
        assert!(documented, "config.toml does not document `{key}`");
    }
    let config = parse(&format!("{PRIMARY}{block}"), &[]).unwrap();
    assert_eq!(
        config.role("example"),
        Some(&RoleConfig::new("example", ProviderKind::Ollama, "qwen2.5:0.5b"))
    );
}

// ---- defaults ------------------------------------------------------------------------------

#[test]
fn defaults_depend_on_the_provider_and_the_role_name() {
    check(
        r#"
[llm.primary]
provider = "ollama"
model = "qwen3:8b"

[llm.summarizer]
provider = "openai_compatible"
model = "small"
base_url = "http://cpu:8080/v1/"

[llm.research]
provider = "openrouter"
model = "anthropic/claude"
api_key = "${KEY}"

[llm.supervisor]
provider = "ollama"
model = "phi3"
base_url = "http://box:11434/v1"

[llm.coder]
provider = "openrouter"
model = "qwen/coder"
api_key = "${KEY}"
"#,
        &[("KEY", "k")],
        expect![[r#"
            coder: openrouter qwen/coder at https://openrouter.ai/api/v1 key=[redacted]
              timeout=300s connect=10s concurrency=8 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            primary: ollama qwen3:8b at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            research: openrouter anthropic/claude at https://openrouter.ai/api/v1 key=[redacted]
              timeout=300s connect=10s concurrency=8 optional=true fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            summarizer: openai_compatible small at http://cpu:8080/v1
              timeout=300s connect=10s concurrency=1 optional=false fallback=[primary] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            supervisor: ollama phi3 at http://box:11434/v1
              timeout=300s connect=10s concurrency=1 optional=true fallback=[primary] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
        "#]],
    );
}

#[test]
fn every_key_set() {
    check(
        r#"
[llm.primary]
provider = "openai_compatible"
model = "qwen"
base_url = "https://gpu.lan:5000/v1"
api_key = "${PRIMARY_KEY:-none}"
timeout_s = 90.5
connect_timeout_s = 2
max_concurrency = 2
temperature = 0.6
top_p = 0.95
top_k = 20
min_p = 0
max_tokens = 8192
thinking = "on"
context_tokens = 32768
fallback = ["helper"]
optional = false
structured_output = "native"
max_attempts = 6
backoff_s = 0.5
max_backoff_s = 20
retry_budget = 0.5
breaker_failures = 3
breaker_cooldown_s = 12

[llm.helper]
provider = "ollama"
model = "small"
thinking = "off"
structured_output = "prompt"
backoff_s = 0
fallback = []
"#,
        &[],
        expect![[r#"
            helper: ollama small at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Off output=Prompt
              retry: 4 attempts, 0ns..60s, budget 0.2; breaker: 1 failures, 30s
            primary: openai_compatible qwen at https://gpu.lan:5000/v1 key=[redacted]
              timeout=90.5s connect=2s concurrency=2 optional=false fallback=[helper] thinking=On output=Native
              retry: 6 attempts, 500ms..20s, budget 0.5; breaker: 3 failures, 12s
              sampling: temperature=Some(0.6) top_p=Some(0.95) top_k=Some(20) min_p=Some(0.0) max_tokens=Some(8192) context=Some(32768)
        "#]],
    );
}

#[test]
fn inline_and_dotted_tables_are_roles_too() {
    check(
        "[llm]\nprimary = { provider = \"ollama\", model = \"a\" }\nhelper.provider = \"ollama\"\nhelper.model = \"b\"\n",
        &[],
        expect![[r#"
            helper: ollama b at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            primary: ollama a at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
        "#]],
    );
}

// ---- the document and the roles -----------------------------------------------------------

#[test]
fn syntax_errors_anywhere() {
    check(
        &format!("{PRIMARY}model2 = \n"),
        &[],
        expect![[r#"Syntax: config.toml:5: invalid TOML: string values must be quoted, expected literal string"#]],
    );
    check(
        &format!("{PRIMARY}\n[run]\nrecursion_limit = 10\nrecursion_limit = 11\n"),
        &[],
        expect![[r#"Syntax: config.toml:8: invalid TOML: duplicate key"#]],
    );
}

#[test]
fn missing_llm_section_roles_and_primary() {
    check(
        "[run]\nrecursion_limit = 10\n",
        &[],
        expect![[
            r#"MissingRole: config.toml: llm: no [llm] section; add [llm.primary] with the provider, model and base_url of the main model"#
        ]],
    );
    check(
        "\n[llm]\n",
        &[],
        expect![[
            r#"MissingRole: config.toml:2: llm: no roles; add [llm.primary] with the provider, model and base_url of the main model"#
        ]],
    );
    check(
        "llm = 1\n",
        &[],
        expect![[r#"InvalidValue: config.toml:1: llm: expected a table of roles ([llm.<role>]), found an integer"#]],
    );
    check(
        "# roles\n\n[llm.summarizer]\nprovider = \"ollama\"\nmodel = \"a\"\n",
        &[],
        expect![[
            r#"MissingRole: config.toml:3: llm.primary: required role is missing; add [llm.primary] (the main graph's agents run on it)"#
        ]],
    );
}

#[test]
fn bad_roles() {
    check_each(
        &[
            "[llm.Research]\nprovider = \"ollama\"\nmodel = \"a\"",
            "[llm.\"my role\"]\nprovider = \"ollama\"\nmodel = \"a\"",
            "[llm]\nhelper = \"ollama\"",
            "[[llm.helper]]\nprovider = \"ollama\"",
            "optional = true",
            "optional = false",
            "optional = \"yes\"",
        ],
        expect![[r#"
            [llm.Research]
            provider = "ollama"
            model = "a"
              => InvalidValue: config.toml:5: llm."Research": invalid role name "Research"; use lowercase letters, digits, `_` and `-`
            [llm."my role"]
            provider = "ollama"
            model = "a"
              => InvalidValue: config.toml:5: llm."my role": invalid role name "my role"; use lowercase letters, digits, `_` and `-`
            [llm]
            helper = "ollama"
              => InvalidValue: config.toml:6: llm.helper: expected a table ([llm.helper] followed by its keys), found a string
            [[llm.helper]]
            provider = "ollama"
              => InvalidValue: config.toml:5: llm.helper: expected a table ([llm.helper] followed by its keys), found an array
            optional = true
              => InvalidValue: config.toml:5: llm.primary.optional: `primary` cannot be optional (the main graph's agents run on it); remove this line
            optional = false
              => primary: openai_compatible qwen at http://gpu:5000/v1
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            optional = "yes"
              => InvalidValue: config.toml:5: llm.primary.optional: expected a boolean (true or false), found a string"#]],
    );
}

#[test]
fn missing_and_unknown_provider_and_model() {
    check(
        "\n[llm.primary]\nmodel = \"a\"\n",
        &[],
        expect![[
            r#"MissingField: config.toml:2: llm.primary.provider: required key is missing; add provider = "openai_compatible", "ollama" or "openrouter""#
        ]],
    );
    check(
        "[llm.primary]\nprovider = \"ollama\"\nmodel = \"a\"\n\n[llm.research]\nmodel = \"b\"\nprovider = \"foo\"\n",
        &[],
        expect![[
            r#"UnknownProvider: config.toml:7: llm.research.provider: unknown provider "foo"; expected one of openai_compatible, ollama, openrouter"#
        ]],
    );
    check(
        "[llm.primary]\nprovider = \"OLLAMA\"\n",
        &[],
        expect![[
            r#"UnknownProvider: config.toml:2: llm.primary.provider: unknown provider "OLLAMA"; expected one of openai_compatible, ollama, openrouter"#
        ]],
    );
    check(
        "[llm.primary]\nprovider = \"ollama\"\n",
        &[],
        expect![[
            r#"MissingField: config.toml:1: llm.primary.model: required key is missing; add model = "<the model's name on its server>""#
        ]],
    );
    check(
        "[llm.primary]\nprovider = \"ollama\"\nmodel = \" \"\n",
        &[],
        expect![[r#"InvalidValue: config.toml:3: llm.primary.model: is empty"#]],
    );
}

#[test]
fn base_urls() {
    check(
        "[llm.primary]\nprovider = \"openai_compatible\"\nmodel = \"a\"\n",
        &[],
        expect![[
            r#"MissingField: config.toml:1: llm.primary.base_url: required key is missing for provider openai_compatible; add the server's URL, e.g. base_url = "http://127.0.0.1:5000/v1""#
        ]],
    );
    check_each_after(
        "[llm.primary]\nprovider = \"ollama\"\nmodel = \"m\"\n",
        &[
            "base_url = \"127.0.0.1:5000\"",
            "base_url = \"gpu:5000/v1\"",
            "base_url = \"ftp://gpu/v1\"",
            "base_url = \"http://\"",
            "base_url = \"http://gpu/v1?key=1\"",
            "base_url = \"\"",
            "base_url = \"  https://gpu:5000//  \"",
        ],
        expect![[r#"
            base_url = "127.0.0.1:5000"
              => InvalidValue: config.toml:4: llm.primary.base_url: is not a valid URL (relative URL without a base); expected e.g. http://127.0.0.1:5000/v1
            base_url = "gpu:5000/v1"
              => InvalidValue: config.toml:4: llm.primary.base_url: must be an http:// or https:// URL, not gpu:; expected e.g. http://127.0.0.1:5000/v1
            base_url = "ftp://gpu/v1"
              => InvalidValue: config.toml:4: llm.primary.base_url: must be an http:// or https:// URL, not ftp:; expected e.g. http://127.0.0.1:5000/v1
            base_url = "http://"
              => InvalidValue: config.toml:4: llm.primary.base_url: is not a valid URL (empty host); expected e.g. http://127.0.0.1:5000/v1
            base_url = "http://gpu/v1?key=1"
              => InvalidValue: config.toml:4: llm.primary.base_url: must not have a query or fragment (paths are appended to it)
            base_url = ""
              => InvalidValue: config.toml:4: llm.primary.base_url: is not a valid URL (relative URL without a base); expected e.g. http://127.0.0.1:5000/v1
            base_url = "  https://gpu:5000//  "
              => primary: ollama m at https://gpu:5000
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s"#]],
    );
}

// ---- keys and values -----------------------------------------------------------------------

#[test]
fn unknown_keys_suggest_the_nearest() {
    check_each(
        &[
            "temprature = 0.7",
            "max_token = 10",
            "api-key = \"x\"",
            "colour = \"blue\"",
            "[llm.primary.extra]\na = 1",
        ],
        expect![[r#"
            temprature = 0.7
              => UnknownKey: config.toml:5: llm.primary.temprature: unknown key; did you mean `temperature`?
            max_token = 10
              => UnknownKey: config.toml:5: llm.primary.max_token: unknown key; did you mean `max_tokens`?
            api-key = "x"
              => UnknownKey: config.toml:5: llm.primary.api-key: unknown key; did you mean `api_key`?
            colour = "blue"
              => UnknownKey: config.toml:5: llm.primary.colour: unknown key; expected one of provider, model, base_url, api_key, optional, fallback, timeout_s, connect_timeout_s, max_concurrency, temperature, top_p, top_k, min_p, max_tokens, thinking, context_tokens, structured_output, max_attempts, backoff_s, max_backoff_s, retry_budget, breaker_failures, breaker_cooldown_s
            [llm.primary.extra]
            a = 1
              => UnknownKey: config.toml:5: llm.primary.extra: unknown key; expected one of provider, model, base_url, api_key, optional, fallback, timeout_s, connect_timeout_s, max_concurrency, temperature, top_p, top_k, min_p, max_tokens, thinking, context_tokens, structured_output, max_attempts, backoff_s, max_backoff_s, retry_budget, breaker_failures, breaker_cooldown_s"#]],
    );
}

#[test]
fn wrong_types() {
    check_each(
        &[
            "timeout_s = \"300\"",
            "max_tokens = 100.0",
            "max_concurrency = true",
            "temperature = [0.5]",
            "thinking = true",
            "fallback = \"summarizer\"",
            "fallback = [1]",
            "api_key = 7",
            "context_tokens = 1979-05-27",
        ],
        expect![[r#"
            timeout_s = "300"
              => InvalidValue: config.toml:5: llm.primary.timeout_s: expected a number, found a string
            max_tokens = 100.0
              => InvalidValue: config.toml:5: llm.primary.max_tokens: expected an integer, found a float
            max_concurrency = true
              => InvalidValue: config.toml:5: llm.primary.max_concurrency: expected an integer, found a boolean
            temperature = [0.5]
              => InvalidValue: config.toml:5: llm.primary.temperature: expected a number, found an array
            thinking = true
              => InvalidValue: config.toml:5: llm.primary.thinking: expected a string, found a boolean
            fallback = "summarizer"
              => InvalidValue: config.toml:5: llm.primary.fallback: expected an array of role names, e.g. ["primary"], found a string
            fallback = [1]
              => InvalidValue: config.toml:5: llm.primary.fallback: expected a string, found an integer
            api_key = 7
              => InvalidValue: config.toml:5: llm.primary.api_key: expected a string, found an integer
            context_tokens = 1979-05-27
              => InvalidValue: config.toml:5: llm.primary.context_tokens: expected an integer, found a datetime"#]],
    );
}

#[test]
fn numbers_out_of_range() {
    check_each(
        &[
            "timeout_s = 0",
            "timeout_s = 1e300",
            "timeout_s = nan",
            "connect_timeout_s = -1",
            "max_concurrency = 0",
            "max_concurrency = 99999999999",
            "temperature = 2.5",
            "temperature = -0.1",
            "top_p = 0",
            "top_p = 1.5",
            "top_k = -1",
            "min_p = 1.5",
            "max_tokens = 0",
            "context_tokens = 0",
            "max_attempts = 0",
            "max_attempts = 21",
            "backoff_s = -1",
            "backoff_s = 2\nmax_backoff_s = 1",
            "backoff_s = 90",
            "retry_budget = 1.5",
            "breaker_failures = 0",
            "breaker_cooldown_s = 0",
            "max_tokens = -99999999999999999999",
        ],
        expect![[r#"
            timeout_s = 0
              => InvalidValue: config.toml:5: llm.primary.timeout_s: must be more than 0, not 0
            timeout_s = 1e300
              => InvalidValue: config.toml:5: llm.primary.timeout_s: is too large
            timeout_s = nan
              => InvalidValue: config.toml:5: llm.primary.timeout_s: must be a finite number
            connect_timeout_s = -1
              => InvalidValue: config.toml:5: llm.primary.connect_timeout_s: must be more than 0, not -1
            max_concurrency = 0
              => InvalidValue: config.toml:5: llm.primary.max_concurrency: must be 1 or more, not 0
            max_concurrency = 99999999999
              => InvalidValue: config.toml:5: llm.primary.max_concurrency: must be at most 4294967295, not 99999999999
            temperature = 2.5
              => InvalidValue: config.toml:5: llm.primary.temperature: must be between 0 and 2, not 2.5
            temperature = -0.1
              => InvalidValue: config.toml:5: llm.primary.temperature: must be between 0 and 2, not -0.1
            top_p = 0
              => InvalidValue: config.toml:5: llm.primary.top_p: must be more than 0 and at most 1, not 0
            top_p = 1.5
              => InvalidValue: config.toml:5: llm.primary.top_p: must be more than 0 and at most 1, not 1.5
            top_k = -1
              => InvalidValue: config.toml:5: llm.primary.top_k: must be 0 or more, not -1
            min_p = 1.5
              => InvalidValue: config.toml:5: llm.primary.min_p: must be between 0 and 1, not 1.5
            max_tokens = 0
              => InvalidValue: config.toml:5: llm.primary.max_tokens: must be 1 or more, not 0
            context_tokens = 0
              => InvalidValue: config.toml:5: llm.primary.context_tokens: must be 1 or more, not 0
            max_attempts = 0
              => InvalidValue: config.toml:5: llm.primary.max_attempts: must be an integer from 1 to 20, not 0
            max_attempts = 21
              => InvalidValue: config.toml:5: llm.primary.max_attempts: must be an integer from 1 to 20, not 21
            backoff_s = -1
              => InvalidValue: config.toml:5: llm.primary.backoff_s: must be 0 or more, not -1
            backoff_s = 2
            max_backoff_s = 1
              => InvalidValue: config.toml:6: llm.primary.max_backoff_s: must be at least backoff_s (2s), not 1s
            backoff_s = 90
              => InvalidValue: config.toml:5: llm.primary.backoff_s: is more than max_backoff_s (default 60s); lower it or raise max_backoff_s
            retry_budget = 1.5
              => InvalidValue: config.toml:5: llm.primary.retry_budget: must be between 0 and 1, not 1.5
            breaker_failures = 0
              => InvalidValue: config.toml:5: llm.primary.breaker_failures: must be 1 or more, not 0
            breaker_cooldown_s = 0
              => InvalidValue: config.toml:5: llm.primary.breaker_cooldown_s: must be more than 0, not 0
            max_tokens = -99999999999999999999
              => InvalidValue: config.toml:5: llm.primary.max_tokens: must be 1 or more, not -99999999999999999999"#]],
    );
}

#[test]
fn bad_enum_values() {
    check_each(
        &[
            "thinking = \"maybe\"",
            "thinking = \"On\"",
            "structured_output = \"json\"",
        ],
        expect![[r#"
            thinking = "maybe"
              => InvalidValue: config.toml:5: llm.primary.thinking: invalid value "maybe"; expected one of on, off, strip
            thinking = "On"
              => InvalidValue: config.toml:5: llm.primary.thinking: invalid value "On"; expected one of on, off, strip
            structured_output = "json"
              => InvalidValue: config.toml:5: llm.primary.structured_output: invalid value "json"; expected one of tool, native, prompt"#]],
    );
}

#[test]
fn fallbacks() {
    check_each(
        &[
            "fallback = [\"primary\"]",
            "fallback = [\"nobody\"]",
            "fallback = [\"helper\", \"helper\"]\n[llm.helper]\nprovider = \"ollama\"\nmodel = \"m\"",
            "fallback = [\n  \"helper\",\n  \"gone\",\n]\n[llm.helper]\nprovider = \"ollama\"\nmodel = \"m\"",
        ],
        expect![[r#"
            fallback = ["primary"]
              => InvalidValue: config.toml:5: llm.primary.fallback: role `primary` cannot fall back to itself
            fallback = ["nobody"]
              => UnknownFallback: config.toml:5: llm.primary.fallback: unknown role "nobody"; the roles are primary
            fallback = ["helper", "helper"]
            [llm.helper]
            provider = "ollama"
            model = "m"
              => InvalidValue: config.toml:5: llm.primary.fallback: role `helper` is listed twice
            fallback = [
              "helper",
              "gone",
            ]
            [llm.helper]
            provider = "ollama"
            model = "m"
              => UnknownFallback: config.toml:7: llm.primary.fallback: unknown role "gone"; the roles are primary, helper"#]],
    );
    // A fallback to an optional role that is switched off is dropped, silently (its notice says it).
    check(
        &format!(
            "{PRIMARY}fallback = [\"research\", \"helper\"]\n[llm.helper]\nprovider = \"ollama\"\nmodel = \"m\"\nfallback = [\"research\"]\n\
             [llm.research]\nprovider = \"openrouter\"\nmodel = \"r\"\napi_key = \"${{OPENROUTER_API_KEY}}\"\n"
        ),
        &[],
        expect![[r#"
            helper: ollama m at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            primary: openai_compatible qwen at http://gpu:5000/v1
              timeout=300s connect=10s concurrency=1 optional=false fallback=[helper] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            research: switched off: environment variable OPENROUTER_API_KEY is not set
            notice: role `research` is switched off: environment variable OPENROUTER_API_KEY is not set (set it to enable it)
        "#]],
    );
}

// ---- variables and keys --------------------------------------------------------------------

#[test]
fn variables_expand_with_defaults_and_dollars() {
    check(
        "[llm.primary]\nprovider = \"${PROVIDER:-ollama}\"\nmodel = \"price$$5-$x-${EMPTY:-fallback}\"\nbase_url = \"http://${HOST}:11434\"\nfallback = [\"${HELPER}\"]\n\
         [llm.helper]\nprovider = \"ollama\"\nmodel = \"m\"\n",
        &[("HOST", "box"), ("EMPTY", ""), ("HELPER", "helper")],
        expect![[r#"
            helper: ollama m at http://127.0.0.1:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            primary: ollama price$5-$x-fallback at http://box:11434
              timeout=300s connect=10s concurrency=1 optional=false fallback=[helper] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
        "#]],
    );
}

#[test]
fn malformed_variables() {
    check_each(
        &["api_key = \"${KEY\"", "api_key = \"${}\"", "api_key = \"${1KEY}\""],
        expect![[r#"
            api_key = "${KEY"
              => InvalidValue: config.toml:5: llm.primary.api_key: unclosed `${`; write `${NAME}`, or `$$` for a literal `$`
            api_key = "${}"
              => InvalidValue: config.toml:5: llm.primary.api_key: invalid variable name in `${...}`; a name is a letter or `_` followed by letters, digits or `_` (write `$$` for a literal `$`)
            api_key = "${1KEY}"
              => InvalidValue: config.toml:5: llm.primary.api_key: invalid variable name in `${...}`; a name is a letter or `_` followed by letters, digits or `_` (write `$$` for a literal `$`)"#]],
    );
}

#[test]
fn unset_variables_fail_required_roles_and_switch_optional_ones_off() {
    check(
        "[llm.primary]\nprovider = \"openai_compatible\"\nmodel = \"a\"\nbase_url = \"http://${GPU_HOST}:5000/v1\"\n",
        &[],
        expect![[
            r#"MissingVariable: config.toml:4: llm.primary.base_url: environment variable GPU_HOST is not set and role `primary` needs it; set it, or write ${GPU_HOST:-default}"#
        ]],
    );
    check(
        &format!("{PRIMARY}fallback = [\n  \"${{WHO}}\",\n]\n"),
        &[],
        expect![
            "MissingVariable: config.toml:6: llm.primary.fallback: environment variable WHO is not set and role `primary` needs it; set it, or write ${WHO:-default}"
        ],
    );
    check(
        &format!("{PRIMARY}[llm.summarizer]\nprovider = \"ollama\"\nmodel = \"${{SMALL_MODEL}}\"\n"),
        &[],
        expect![[
            r#"MissingVariable: config.toml:7: llm.summarizer.model: environment variable SMALL_MODEL is not set and role `summarizer` needs it; set it, or write ${SMALL_MODEL:-default}, or make the role optional (optional = true)"#
        ]],
    );
    // `optional` after the variable still counts; the role's other keys are still checked.
    check(
        &format!("{PRIMARY}[llm.helper]\nprovider = \"ollama\"\nmodel = \"${{SMALL_MODEL}}\"\noptional = true\n"),
        &[],
        expect![[r#"
            primary: openai_compatible qwen at http://gpu:5000/v1
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            helper: switched off: environment variable SMALL_MODEL is not set
            notice: role `helper` is switched off: environment variable SMALL_MODEL is not set (set it to enable it)
        "#]],
    );
    check(
        &format!("{PRIMARY}[llm.supervisor]\nprovider = \"ollama\"\nmodel = \"${{SMALL_MODEL}}\"\ntop_p = 2\n"),
        &[],
        expect![[r#"InvalidValue: config.toml:8: llm.supervisor.top_p: must be more than 0 and at most 1, not 2"#]],
    );
    check(
        &format!("{PRIMARY}[llm.supervisor]\nmodel = \"${{SMALL_MODEL}}\"\n"),
        &[],
        expect![[
            r#"MissingField: config.toml:5: llm.supervisor.provider: required key is missing; add provider = "openai_compatible", "ollama" or "openrouter""#
        ]],
    );
}

#[test]
fn openrouter_needs_an_api_key() {
    let research = "[llm.research]\nprovider = \"openrouter\"\nmodel = \"m\"\n";
    let coder = "[llm.coder]\nprovider = \"openrouter\"\nmodel = \"m\"\n";
    check(
        &format!("{PRIMARY}{coder}"),
        &[],
        expect![[
            r#"MissingField: config.toml:5: llm.coder.api_key: required key is missing for provider openrouter; add api_key = "${OPENROUTER_API_KEY}" and set that variable, or make the role optional (optional = true)"#
        ]],
    );
    check(
        &format!("{PRIMARY}{coder}api_key = \"${{KEY}}\"\n"),
        &[("KEY", "")],
        expect![
            "InvalidValue: config.toml:8: llm.coder.api_key: is empty (environment variable KEY is empty) but openrouter needs a key; set it, or make the role optional (optional = true)"
        ],
    );
    check(
        "[llm.primary]\nprovider = \"openrouter\"\nmodel = \"m\"\napi_key = \"\"\n",
        &[],
        expect![[
            r#"InvalidValue: config.toml:4: llm.primary.api_key: is empty but openrouter needs a key; write api_key = "${OPENROUTER_API_KEY}" and set that variable"#
        ]],
    );
    check(
        &format!("{PRIMARY}{research}"),
        &[],
        expect![[r#"
            primary: openai_compatible qwen at http://gpu:5000/v1
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            research: switched off: `api_key` is not set and openrouter needs one
            notice: role `research` is switched off: `api_key` is not set and openrouter needs one (set it to enable it)
        "#]],
    );
    check(
        &format!("{PRIMARY}{research}api_key = \"${{KEY}}\"\n"),
        &[("KEY", "")],
        expect![[r#"
            primary: openai_compatible qwen at http://gpu:5000/v1
              timeout=300s connect=10s concurrency=1 optional=false fallback=[] thinking=Strip output=Tool
              retry: 4 attempts, 1s..60s, budget 0.2; breaker: 1 failures, 30s
            research: switched off: environment variable KEY is empty and openrouter needs a key
            notice: role `research` is switched off: environment variable KEY is empty and openrouter needs a key (set it to enable it)
        "#]],
    );
}

#[test]
fn errors_expose_source_line_key_and_kind() {
    let error = LlmConfig::parse(
        "[llm.primary]\nprovider = \"foo\"\n",
        "/etc/lemmings/config.toml",
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::UnknownProvider);
    assert_eq!(error.file(), "/etc/lemmings/config.toml");
    assert_eq!(error.line(), Some(2));
    assert_eq!(error.key(), Some("llm.primary.provider"));
    assert_eq!(
        error.to_string(),
        r#"/etc/lemmings/config.toml:2: llm.primary.provider: unknown provider "foo"; expected one of openai_compatible, ollama, openrouter"#
    );
    let error = LlmConfig::parse("[run]\n", "built-in default", &|_| None).unwrap_err();
    assert_eq!(
        (error.kind(), error.line(), error.key()),
        (ConfigErrorKind::MissingRole, None, Some("llm"))
    );
}

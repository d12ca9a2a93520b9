//! `lemmings models check` (probe every role's server) and `lemmings config show` (the resolved
//! configuration, secrets redacted).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use lemmings_models::{LlmRegistry, Probe, RoleConfig};

use crate::exit::{Exit, usage};
use crate::settings::Config;

/// Whether a role's failure stops runs: not optional and nothing to fall back to.
pub(crate) fn required(role: &RoleConfig) -> bool {
    !role.optional && role.fallback.is_empty()
}

/// One probe as a line: `role  provider  model at server  up  12 ms` or `down  why`.
pub(crate) fn probe_line(probe: &Probe, role: Option<&RoleConfig>) -> String {
    let info = &probe.info;
    let what = format!("{} at {}", info.model, info.server);
    match &probe.outcome {
        Ok(latency) => format!(
            "{:<11} {:<17} {what}  up, {} ms",
            info.role,
            info.provider,
            latency.as_millis()
        ),
        Err(error) => {
            let after = match role {
                Some(role) if !role.fallback.is_empty() => {
                    format!(" (its calls fall back to {})", role.fallback.join(", "))
                }
                Some(role) if role.optional => " (optional: runs switch it off)".to_owned(),
                _ => String::new(),
            };
            format!(
                "{:<11} {:<17} {what}  DOWN: {}{after}",
                info.role,
                info.provider,
                error.message()
            )
        }
    }
}

/// `lemmings models check`.
pub(crate) async fn models(config: Option<PathBuf>, timeout: u64) -> anyhow::Result<Exit> {
    if timeout == 0 {
        return Err(usage("--timeout must be at least 1 second"));
    }
    let config = Config::load(config)?;
    let registry = LlmRegistry::from_config(&config.llm).map_err(|error| usage(error.to_string()))?;
    out_line!("models of {}", config.describe());
    let probes = registry.probe_all(Duration::from_secs(timeout)).await;
    let mut failing = Vec::new();
    for probe in &probes {
        let role = config.llm.role(&probe.info.role);
        out_line!("{}", probe_line(probe, role));
        if let (Err(error), Some(role)) = (&probe.outcome, role)
            && required(role)
        {
            failing.push(format!("`{}` ({})", role.name, error.message()));
        }
    }
    for disabled in config.llm.disabled.values() {
        out_line!("{:<11} off: {}", disabled.name, disabled.reason);
    }
    if failing.is_empty() {
        return Ok(Exit::Success);
    }
    eprintln!(
        "error: required role{} down: {}; start the server or change [llm.*] in {}",
        if failing.len() == 1 { " is" } else { "s are" },
        failing.join(", "),
        config.source
    );
    Ok(Exit::Failed)
}

/// `lemmings config show`.
pub(crate) fn show_config(config: Option<PathBuf>) -> anyhow::Result<Exit> {
    let config = Config::load(config)?;
    out_print!("{}", render(&config));
    Ok(Exit::Success)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

fn list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|item| quoted(item.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{}", duration.as_secs())
    } else {
        format!("{secs}")
    }
}

fn snake<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => quoted(&text),
        Ok(other) => other.to_string(),
        Err(_) => "\"?\"".to_owned(),
    }
}

/// The resolved configuration as TOML: every key with its value (defaults filled in), API keys
/// as `[redacted]`.
pub(crate) fn render(config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# the resolved configuration of {}", config.describe());
    let _ = writeln!(out, "# defaults filled in; API keys are shown as [redacted]");
    for role in config.llm.roles.values() {
        let _ = writeln!(out, "\n[llm.{}]", role.name);
        let _ = writeln!(out, "provider = {}", quoted(role.provider.as_str()));
        let _ = writeln!(out, "model = {}", quoted(&role.model));
        let _ = writeln!(out, "base_url = {}", quoted(&role.base_url));
        if role.api_key.is_some() {
            let _ = writeln!(out, "api_key = \"[redacted]\"");
        }
        let _ = writeln!(out, "optional = {}", role.optional);
        let _ = writeln!(out, "fallback = {}", list(&role.fallback));
        let _ = writeln!(out, "timeout_s = {}", seconds(role.timeout));
        let _ = writeln!(out, "connect_timeout_s = {}", seconds(role.connect_timeout));
        let _ = writeln!(out, "max_concurrency = {}", role.max_concurrency);
        let sampling = &role.sampling;
        for (key, value) in [
            ("temperature", sampling.temperature.map(|v| v.to_string())),
            ("top_p", sampling.top_p.map(|v| v.to_string())),
            ("top_k", sampling.top_k.map(|v| v.to_string())),
            ("min_p", sampling.min_p.map(|v| v.to_string())),
            ("max_tokens", sampling.max_tokens.map(|v| v.to_string())),
            ("context_tokens", role.context_tokens.map(|v| v.to_string())),
        ] {
            if let Some(value) = value {
                let _ = writeln!(out, "{key} = {value}");
            }
        }
        let _ = writeln!(out, "thinking = {}", snake(&role.thinking));
        let _ = writeln!(out, "structured_output = {}", snake(&role.structured_output));
        let _ = writeln!(out, "max_attempts = {}", role.retry.max_attempts);
        let _ = writeln!(out, "backoff_s = {}", seconds(role.retry.backoff));
        let _ = writeln!(out, "max_backoff_s = {}", seconds(role.retry.max_backoff));
        let _ = writeln!(out, "retry_budget = {}", role.retry.budget_ratio);
        let _ = writeln!(out, "breaker_failures = {}", role.breaker.failures);
        let _ = writeln!(out, "breaker_cooldown_s = {}", seconds(role.breaker.cooldown));
    }
    for disabled in config.llm.disabled.values() {
        let _ = writeln!(out, "\n# [llm.{}] is switched off: {}", disabled.name, disabled.reason);
    }

    let tools = &config.tools;
    let _ = writeln!(out, "\n[tools]");
    let _ = writeln!(out, "allowed_commands = {}", list(&tools.allowed_commands));
    let _ = writeln!(out, "command_timeout_s = {}", seconds(tools.command_timeout));
    let _ = writeln!(out, "command_grace_s = {}", seconds(tools.command_grace));
    let _ = writeln!(out, "command_output_kib = {}", tools.command_output_bytes / 1024);
    let _ = writeln!(out, "scrub_env = {}", list(&tools.scrub_env));
    let protected: Vec<String> = tools.protected.iter().map(|p| p.display().to_string()).collect();
    let _ = writeln!(out, "protected = {}", list(&protected));
    let _ = writeln!(out, "max_file_mib = {}", tools.max_file_bytes / (1024 * 1024));

    let _ = writeln!(out, "\n[agents]");
    if let Some(dir) = &config.agents.dir {
        let _ = writeln!(out, "dir = {}", quoted(&dir.display().to_string()));
    }
    for spec in config.specs.iter() {
        let _ = writeln!(out, "\n[agents.{}]                # {}", spec.name, spec.source);
        let _ = writeln!(out, "model = {}", quoted(&spec.role));
        let _ = writeln!(out, "model_calls = {}", spec.limits.model_calls);
        let _ = writeln!(out, "tool_calls = {}", spec.limits.tool_calls);
    }

    let run = &config.run;
    let limits = &run.limits;
    let _ = writeln!(out, "\n[run]");
    let _ = writeln!(out, "recursion_limit = {}", run.recursion_limit);
    let _ = writeln!(out, "durability = {}", snake(&durability(run.durability)));
    if let Some(command) = &run.check_command {
        let _ = writeln!(out, "check_command = {}", quoted(command));
    }
    for (key, value) in [
        ("max_attempts", limits.max_attempts),
        ("review_interval", limits.review_interval),
        ("max_replans", limits.max_replans),
        ("max_tasks", limits.max_tasks),
        ("max_planner_rounds", limits.max_planner_rounds),
        ("max_consecutive_skips", limits.max_consecutive_skips),
        ("max_consecutive_failures", limits.max_consecutive_failures),
        ("done_detail", limits.done_detail),
        ("supervise_every", limits.supervise_every),
    ] {
        let _ = writeln!(out, "{key} = {value}");
    }
    out
}

fn durability(durability: lemmings_graph::Durability) -> &'static str {
    match durability {
        lemmings_graph::Durability::Sync => "sync",
        lemmings_graph::Durability::Async => "async",
        lemmings_graph::Durability::Exit => "exit",
    }
}

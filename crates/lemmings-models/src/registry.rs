//! [`LlmRegistry`]: the configured roles, each a model behind the layers (`layers`), built once
//! per run and handed to nodes at construction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::chat::{ChatModel, ModelInfo, OutputMode};
use crate::config::{DisabledRole, LlmConfig, RoleConfig};
use crate::error::{ModelError, ModelErrorKind};
use crate::layers::{Breaker, Fallback, Gate, Gated, Redactor, Retry, RetryBudget, Timeout, Traced};
use crate::probe::Probe;
use crate::provider::{RigModel, model_info, server_key};
use crate::usage::{ActiveCall, UsageLedger, UsageReport};

/// The models of every configured role. Cloning is cheap and shares the gates, breakers, retry
/// budgets and usage counters.
#[derive(Clone, Debug)]
pub struct LlmRegistry {
    source: String,
    roles: BTreeMap<String, Role>,
    disabled: BTreeMap<String, DisabledRole>,
    gates: BTreeMap<String, Arc<Gate>>,
    ledger: Arc<UsageLedger>,
}

#[derive(Clone, Debug)]
struct Role {
    config: RoleConfig,
    model: Arc<dyn ChatModel>,
    gate: Arc<Gate>,
}

impl LlmRegistry {
    /// The registry for `config`, on rig-core's HTTP providers. Nothing is sent until a model
    /// is called.
    pub fn from_config(config: &LlmConfig) -> Result<LlmRegistry, ModelError> {
        Self::with_models(config, |role| Ok(Arc::new(RigModel::new(role)?) as Arc<dyn ChatModel>))
    }

    /// The registry for `config` with the same layers over other base models (scripted models
    /// in tests): `base` is called once per enabled role.
    pub fn with_models(
        config: &LlmConfig,
        mut base: impl FnMut(&RoleConfig) -> Result<Arc<dyn ChatModel>, ModelError>,
    ) -> Result<LlmRegistry, ModelError> {
        let ledger = Arc::new(UsageLedger::default());
        let redactor = Redactor::new(
            config
                .roles
                .values()
                .filter_map(|role| role.api_key.as_ref())
                .map(|key| key.expose().to_owned()),
        );

        // One gate per server, as narrow as the narrowest role on it.
        let mut limits: BTreeMap<String, usize> = BTreeMap::new();
        for role in config.roles.values() {
            let limit = limits.entry(server_key(&role.base_url)).or_insert(role.max_concurrency);
            *limit = (*limit).min(role.max_concurrency);
        }
        let gates: BTreeMap<String, Arc<Gate>> = limits
            .into_iter()
            .map(|(server, limit)| (server.clone(), Gate::new(server, limit)))
            .collect();

        // Each role's own stack: [breaker](retry(gate(timeout(model)))), shared by the roles
        // that fall back to it. Only a role with somewhere to fall back to gets a breaker: for
        // the others it would only turn one failure into failures of the calls after it.
        let mut stacks: BTreeMap<String, (Arc<dyn ChatModel>, Arc<Gate>)> = BTreeMap::new();
        for role in config.roles.values() {
            // Every role's server got a gate above.
            let gate = Arc::clone(&gates[&server_key(&role.base_url)]);
            let model = base(role)?;
            let timed = Timeout::new(model, role.timeout);
            let gated = Gated::new(timed, gate.clone());
            let retried = Retry::new(
                gated,
                role.retry,
                RetryBudget::new(role.retry.budget_ratio),
                ledger.clone(),
            );
            let guarded: Arc<dyn ChatModel> = if role.fallback.is_empty() {
                Arc::new(retried)
            } else {
                Arc::new(Breaker::new(retried, role.breaker))
            };
            stacks.insert(role.name.clone(), (guarded, gate));
        }

        let mut roles = BTreeMap::new();
        for role in config.roles.values() {
            let (own, gate) = stacks[&role.name].clone();
            let fallbacks: Vec<Arc<dyn ChatModel>> = role
                .fallback
                .iter()
                .filter_map(|name| stacks.get(name).map(|(stack, _)| stack.clone()))
                .collect();
            let model: Arc<dyn ChatModel> = Arc::new(Traced::new(
                Fallback::new(own, fallbacks),
                ledger.clone(),
                redactor.clone(),
            ));
            roles.insert(
                role.name.clone(),
                Role {
                    config: role.clone(),
                    model,
                    gate,
                },
            );
        }
        Ok(LlmRegistry {
            source: config.source.clone(),
            roles,
            disabled: config.disabled.clone(),
            gates,
            ledger,
        })
    }

    /// The model for `role`: an error when the role is switched off (saying why) or unknown
    /// (listing the configured roles).
    pub fn get(&self, role: &str) -> Result<Arc<dyn ChatModel>, ModelError> {
        if let Some(found) = self.roles.get(role) {
            return Ok(found.model.clone());
        }
        let info = ModelInfo {
            role: role.to_owned(),
            provider: "none".to_owned(),
            model: "none".to_owned(),
            server: "none".to_owned(),
            output_mode: OutputMode::Tool,
        };
        Err(match self.disabled.get(role) {
            Some(disabled) => ModelError::new(
                ModelErrorKind::Unavailable,
                &info,
                format!("the role is switched off: {}", disabled.reason),
            ),
            None => ModelError::new(
                ModelErrorKind::Config,
                &info,
                format!(
                    "no such role in {}; configured roles: {}; add an [llm.{role}] section",
                    self.source,
                    self.roles.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                ),
            ),
        })
    }

    /// The model for an optional role, `None` when it is switched off or not configured (the
    /// feature that needs it is then off).
    pub fn optional(&self, role: &str) -> Option<Arc<dyn ChatModel>> {
        self.roles.get(role).map(|found| found.model.clone())
    }

    /// The enabled roles' names.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }

    /// The roles that are configured but switched off (an optional role without its key), with
    /// why.
    pub fn disabled_roles(&self) -> impl Iterator<Item = &DisabledRole> {
        self.disabled.values()
    }

    /// What the role's model is.
    pub fn info(&self, role: &str) -> Option<ModelInfo> {
        self.roles.get(role).map(|found| model_info(&found.config))
    }

    /// The role's configuration (context size, sampling, ...).
    pub fn config(&self, role: &str) -> Option<&RoleConfig> {
        self.roles.get(role).map(|found| &found.config)
    }

    /// The concurrency gate in front of the role's server.
    pub fn gate(&self, role: &str) -> Option<Arc<Gate>> {
        self.roles.get(role).map(|found| found.gate.clone())
    }

    /// Every server's gate.
    pub fn gates(&self) -> impl Iterator<Item = &Arc<Gate>> {
        self.gates.values()
    }

    /// One line per optional role that is switched off.
    pub fn notices(&self) -> Vec<String> {
        self.disabled.values().map(notice).collect()
    }

    /// Probes `role`'s server (see [`Probe`]); `None` for a role that is not enabled.
    pub async fn probe(&self, role: &str, limit: Duration) -> Option<Probe> {
        let config = &self.roles.get(role)?.config;
        Some(crate::probe::probe(config, limit).await)
    }

    /// Probes every enabled role's server, concurrently, in role order.
    pub async fn probe_all(&self, limit: Duration) -> Vec<Probe> {
        futures::future::join_all(self.roles.values().map(|role| crate::probe::probe(&role.config, limit))).await
    }

    /// Probes the optional roles and switches off those whose server is down or does not serve
    /// their model, so the features that need them are off; returns one notice per role
    /// switched off. Required roles are left alone (their calls report the failure, and the
    /// fallback layer covers roles that have one).
    pub async fn switch_off_unreachable(&mut self, limit: Duration) -> Vec<String> {
        let optional: Vec<&RoleConfig> = self.roles.values().map(|r| &r.config).filter(|c| c.optional).collect();
        let probes = futures::future::join_all(optional.into_iter().map(|c| crate::probe::probe(c, limit))).await;
        let mut notices = Vec::new();
        for probe in probes {
            if let Err(error) = probe.outcome {
                let name = probe.info.role.clone();
                let reason = format!("its server is not usable: {}", error.message());
                self.roles.remove(&name);
                let disabled = DisabledRole {
                    name: name.clone(),
                    reason,
                };
                notices.push(notice(&disabled));
                self.disabled.insert(name, disabled);
            }
        }
        notices
    }

    /// Usage so far, per role.
    pub fn usage(&self) -> UsageReport {
        self.ledger.report()
    }

    /// The calls in flight, oldest first: role, model, time so far and pieces streamed.
    pub fn active_calls(&self) -> Vec<ActiveCall> {
        self.ledger.active()
    }
}

/// The one-line notice for a switched-off role.
fn notice(role: &DisabledRole) -> String {
    format!("role `{}` is switched off: {}", role.name, role.reason)
}

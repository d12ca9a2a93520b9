//! The rig-core adapter: one [`ChatModel`] per configured role, speaking the role's wire
//! protocol through rig-core 0.44 (the OpenAI chat-completions route for `openai_compatible`,
//! `openrouter` and Ollama's `/v1`, Ollama's native `/api/chat` otherwise). This module and
//! `provider/` are the only places that name rig types; everything else sees the project's own
//! chat types. It does one attempt per call: timeouts, retries, fallback and the concurrency
//! gate are layers (`layers`) around it.

mod convert;
mod errors;

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use rig_core::DynModel;
use rig_core::completion::CompletionResponse;
use rig_core::operation::Completion;
use rig_core::providers::ollama::OllamaConfig;
use rig_core::providers::openai::OpenAIConfig;
use rig_core::providers::openai::wire::{Auth, BodyRewrite, Dialect, OPENROUTER, Quirks};
use rig_core::streaming::Item;
use rig_reqwest::ReqwestClient;

use crate::chat::{ChatModel, ChatRequest, ChatResponse, ModelInfo, StreamEvent, Thinking, TokenSink, ToolCall};
use crate::config::{ProviderKind, RoleConfig};
use crate::error::{ModelError, ModelErrorKind};
use crate::layers::Redactor;
use crate::think::{Piece, ThinkFilter, ThinkSplit, split_thinking};

/// text-generation-webui, llama.cpp's server, vLLM and other OpenAI-compatible local servers:
/// the chat-completions route, no `Authorization` header when the key is empty, and text
/// content sent as plain strings (rig's default is an array of text parts, which older local
/// servers reject for system messages).
const OPENAI_COMPATIBLE: Dialect = Dialect::gateway("openai_compatible", "http://127.0.0.1:5000/v1", "LEMMINGS_UNUSED")
    .with_quirks(openai_compatible_quirks());

const fn openai_compatible_quirks() -> Quirks {
    let mut quirks = Quirks::openai();
    quirks.auth = Auth::OptionalBearer;
    quirks.rewrite = BodyRewrite::Perplexity;
    quirks
}

/// Which request dialect the role speaks, for the options only some servers take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// OpenAI chat completions on a local server (text-generation-webui, llama.cpp, vLLM).
    OpenaiCompatible,
    /// Ollama's native `/api/chat`.
    OllamaNative,
    /// Ollama's OpenAI-compatible `/v1`.
    OllamaV1,
    /// OpenRouter's chat completions.
    Openrouter,
}

/// One role's model on its server: a single attempt per call.
#[derive(Clone)]
pub(crate) struct RigModel {
    info: ModelInfo,
    flavour: Flavour,
    model: DynModel<Completion>,
    role: Arc<RoleConfig>,
    /// Scrubs the API key from anything a server echoes back (the layers above log errors
    /// before the outermost one redacts them).
    redactor: Redactor,
}

impl std::fmt::Debug for RigModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RigModel")
            .field("info", &self.info)
            .field("flavour", &self.flavour)
            .finish_non_exhaustive()
    }
}

impl RigModel {
    /// The model for `role`. Fails only when the HTTP client cannot be built.
    pub(crate) fn new(role: &RoleConfig) -> Result<RigModel, ModelError> {
        let info = model_info(role);
        let http = rig_reqwest::reqwest::Client::builder()
            .connect_timeout(role.connect_timeout)
            .build()
            .map_err(|e| {
                ModelError::new(
                    ModelErrorKind::Config,
                    &info,
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        let http = ReqwestClient::from(http);
        let key = role.api_key.as_ref().map(|k| k.expose().to_owned()).unwrap_or_default();
        let base = role.base_url.trim_end_matches('/').to_owned();
        let (flavour, model): (Flavour, DynModel<Completion>) = match role.provider {
            ProviderKind::OpenaiCompatible => (
                Flavour::OpenaiCompatible,
                OpenAIConfig::with_key(&OPENAI_COMPATIBLE, key.clone())
                    .with_base_url(base)
                    .connect(http)
                    .chat(role.model.clone())
                    .into(),
            ),
            ProviderKind::Openrouter => (
                Flavour::Openrouter,
                OpenAIConfig::with_key(&OPENROUTER, key.clone())
                    .with_base_url(base)
                    .connect(http)
                    .chat(role.model.clone())
                    .into(),
            ),
            ProviderKind::Ollama => {
                if let Some(root) = base.strip_suffix("/v1") {
                    // Ollama's OpenAI-compatible API.
                    let client = ollama_config(root, &key).connect(http);
                    (Flavour::OllamaV1, client.completion(role.model.clone()).into())
                } else {
                    let client = ollama_config(&base, &key).connect(http);
                    (
                        Flavour::OllamaNative,
                        client.native_completion(role.model.clone()).into(),
                    )
                }
            }
        };
        Ok(RigModel {
            info,
            flavour,
            model,
            role: Arc::new(role.clone()),
            redactor: Redactor::new([key]),
        })
    }

    /// An error whose message has the API key removed (some servers echo the request).
    fn error(&self, kind: ModelErrorKind, message: impl Into<String>) -> ModelError {
        ModelError::new(kind, &self.info, self.redactor.scrub(&message.into()))
    }

    async fn attempt(&self, request: &ChatRequest, sink: Option<&TokenSink>) -> Result<Reply, ModelError> {
        let thinking = request.thinking.unwrap_or(self.role.thinking);
        let rig_request = convert::request(request, &self.role, self.flavour, thinking)
            .map_err(|message| self.error(ModelErrorKind::Request, message))?;
        match sink {
            None => {
                let response = self
                    .model
                    .call(rig_request)
                    .await
                    .map_err(|e| errors::classify(self, &e))?;
                Ok(Reply::from_response(&response, None))
            }
            Some(sink) => self.stream(rig_request, sink).await,
        }
    }

    async fn stream(
        &self,
        request: rig_core::completion::CompletionRequest,
        sink: &TokenSink,
    ) -> Result<Reply, ModelError> {
        use rig_core::streaming::StreamEvent as Rig;
        let role = self.info.role.clone();
        let mut stream = self.model.stream(request).map_err(|e| errors::classify(self, &e))?;
        let mut filter = ThinkFilter::default();
        let forward = |pieces: Vec<Piece>| {
            for piece in pieces {
                let event = match piece {
                    Piece::Answer(delta) => StreamEvent::Text {
                        role: role.clone(),
                        delta,
                    },
                    Piece::Reasoning(delta) => StreamEvent::Reasoning {
                        role: role.clone(),
                        delta,
                    },
                };
                sink(&event);
            }
        };
        let mut streamed_calls = Vec::new();
        while let Some(item) = stream.next().await {
            match item.map_err(|e| errors::classify(self, &e))? {
                Item::Event(Rig::Text { text, .. }) => forward(filter.push(&text)),
                Item::Event(Rig::Reasoning { text, .. }) => sink(&StreamEvent::Reasoning {
                    role: role.clone(),
                    delta: text,
                }),
                Item::Event(Rig::End {
                    content: rig_core::message::AssistantContent::ToolCall(call),
                    ..
                }) => {
                    let call = convert::tool_call(&call);
                    sink(&StreamEvent::ToolCall {
                        role: role.clone(),
                        call: call.clone(),
                    });
                    streamed_calls.push(call);
                }
                _ => {}
            }
        }
        forward(filter.finish());
        let response = stream.finish().await.map_err(|e| errors::classify(self, &e))?;
        Ok(Reply::from_response(&response, Some(streamed_calls)))
    }
}

/// What one attempt produced, before thinking is split off.
struct Reply {
    text: String,
    reasoning: Option<String>,
    tool_calls: Vec<ToolCall>,
    finish: crate::chat::FinishReason,
    usage: crate::chat::Usage,
}

impl Reply {
    /// Whether the model used its whole answer thinking: a think block never closed, and
    /// neither an answer nor a tool call.
    fn stuck_thinking(&self, split: &ThinkSplit) -> bool {
        split.unterminated && split.answer.is_empty() && self.tool_calls.is_empty()
    }

    fn from_response(response: &CompletionResponse, streamed_calls: Option<Vec<ToolCall>>) -> Reply {
        let reasoning = response.reasoning();
        let tool_calls = match streamed_calls {
            Some(calls) if !calls.is_empty() => calls,
            _ => response.tool_calls().map(convert::tool_call).collect(),
        };
        Reply {
            text: response.text(),
            reasoning: (!reasoning.trim().is_empty()).then_some(reasoning),
            finish: convert::finish(response.finish_reason().as_ref(), !tool_calls.is_empty()),
            tool_calls,
            usage: convert::usage(&response.usage),
        }
    }
}

#[async_trait]
impl ChatModel for RigModel {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let mut reply = self.attempt(&request, sink.as_ref()).await?;
        let mut split = split_thinking(&reply.text);
        if reply.stuck_thinking(&split) {
            // The model spent its budget thinking: ask again without thinking.
            tracing::debug!(role = %self.info.role, "unterminated think block; retrying without thinking");
            let retry = ChatRequest {
                thinking: Some(Thinking::Off),
                ..request
            };
            reply = self.attempt(&retry, sink.as_ref()).await?;
            split = split_thinking(&reply.text);
            if reply.stuck_thinking(&split) {
                return Err(self.error(
                    ModelErrorKind::Truncated,
                    "the answer ended inside a think block, with thinking switched off too; raise max_tokens",
                ));
            }
        }
        self.finish(reply, split)
    }

    fn info(&self) -> ModelInfo {
        self.info.clone()
    }
}

impl RigModel {
    /// The response for `reply`, its thinking split off as `split`.
    fn finish(&self, reply: Reply, split: ThinkSplit) -> Result<ChatResponse, ModelError> {
        if split.answer.is_empty() && reply.tool_calls.is_empty() {
            let why = match reply.finish {
                crate::chat::FinishReason::Length => "the model produced no answer before max_tokens; raise max_tokens",
                _ => "the model returned an empty completion",
            };
            return Err(self.error(ModelErrorKind::Empty, why));
        }
        let reasoning = match (reply.reasoning, split.reasoning) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.or(b),
        };
        Ok(ChatResponse {
            content: split.answer,
            reasoning,
            tool_calls: reply.tool_calls,
            finish: reply.finish,
            usage: reply.usage,
            answered_by: crate::chat::Answerer {
                role: self.info.role.clone(),
                model: self.info.model.clone(),
            },
        })
    }
}

fn ollama_config(root: &str, key: &str) -> OllamaConfig {
    let config = OllamaConfig::new().with_base_url(root);
    if key.is_empty() {
        config
    } else {
        config.with_api_key(key.to_owned())
    }
}

/// What a role's model is, for messages (no credentials: the URL's user info is dropped).
pub(crate) fn model_info(role: &RoleConfig) -> ModelInfo {
    ModelInfo {
        role: role.name.clone(),
        provider: role.provider.as_str().to_owned(),
        model: role.model.clone(),
        server: display_url(&role.base_url),
        output_mode: role.structured_output,
    }
}

/// A URL for messages: scheme, host, port and path, without user info or query.
pub(crate) fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let mut shown = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
            if let Some(port) = parsed.port() {
                shown.push_str(&format!(":{port}"));
            }
            shown.push_str(parsed.path().trim_end_matches('/'));
            shown
        }
        Err(_) => "<invalid url>".to_owned(),
    }
}

/// The server a URL names (`scheme://host:port`), the key of the concurrency gates: two roles
/// on one server share a gate whatever their paths.
pub(crate) fn server_key(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or("").to_ascii_lowercase(),
            parsed.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_owned(),
    }
}

//! [`DemoModel`]: the demo's scripted chat model. It answers from [`script`](super::script),
//! streams its text to the caller's sink a word at a time with a pause between words (so the
//! live view shows tokens arriving), then its tool call, and reports estimated token counts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use lemmings_models::{
    Answerer, ChatMessage, ChatModel, ChatRequest, ChatResponse, FinishReason, ModelError, ModelErrorKind, ModelInfo,
    RoleConfig, StreamEvent, TokenSink, ToolCall, Usage,
};

use super::script::{self, Agent};

/// The agents a registry's demo models answered, in order (read by the tests).
pub(super) type Served = Arc<Mutex<Vec<String>>>;

/// One role's scripted model: the primary answers every agent and the summarizer's work (as
/// the fallback of the other roles); the summarizer answers only the summarizer's work, and the
/// supervisor only the supervisor.
#[derive(Debug)]
pub(super) struct DemoModel {
    info: ModelInfo,
    workspace: PathBuf,
    pace: Duration,
    served: Served,
}

impl DemoModel {
    /// The model of `role`, reading `workspace`'s files, pausing `pace` between streamed words.
    pub(super) fn new(role: &RoleConfig, workspace: &Path, pace: Duration, served: Served) -> DemoModel {
        DemoModel {
            info: ModelInfo {
                role: role.name.clone(),
                provider: "scripted".to_owned(),
                model: role.model.clone(),
                server: "built-in".to_owned(),
                output_mode: role.structured_output,
            },
            workspace: workspace.to_owned(),
            pace,
            served,
        }
    }

    fn refuse(&self, agent: &Agent, why: &str) -> ModelError {
        ModelError::new(
            ModelErrorKind::Request,
            &self.info,
            format!("the scripted demo model has no answer for the {agent}: {why}"),
        )
    }

    /// Sends `text` to `sink` a word at a time (each with the whitespace after it, so the
    /// pieces add up to the text), pausing between words.
    async fn stream(&self, sink: &TokenSink, text: &str) {
        for (index, word) in words(text).enumerate() {
            if index > 0 && !self.pace.is_zero() {
                tokio::time::sleep(self.pace).await;
            }
            sink(&StreamEvent::Text {
                role: self.info.role.clone(),
                delta: word.to_owned(),
            });
        }
    }
}

#[async_trait]
impl ChatModel for DemoModel {
    async fn chat(&self, request: ChatRequest, sink: Option<TokenSink>) -> Result<ChatResponse, ModelError> {
        let agent = Agent::of(&request);
        match self.info.role.as_str() {
            "primary" => {}
            "supervisor" if agent != Agent::Supervisor => {
                return Err(self.refuse(&agent, "this role only supervises"));
            }
            "supervisor" => {}
            _ if agent != Agent::Summarizer => {
                return Err(self.refuse(&agent, "this role only condenses and summarizes"));
            }
            _ => {}
        }
        let answer = script::answer(&agent, &request, &self.workspace).map_err(|why| self.refuse(&agent, &why))?;
        self.served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(agent.to_string());

        let calls: Vec<ToolCall> = answer
            .call
            .into_iter()
            .map(|(name, arguments)| ToolCall {
                id: call_id(&request),
                name,
                arguments,
            })
            .collect();
        if let Some(sink) = &sink {
            self.stream(sink, &answer.text).await;
            for call in &calls {
                if !self.pace.is_zero() {
                    tokio::time::sleep(self.pace).await;
                }
                sink(&StreamEvent::ToolCall {
                    role: self.info.role.clone(),
                    call: call.clone(),
                });
            }
        }
        let generated = answer.text.chars().count()
            + calls
                .iter()
                .map(|c| c.name.len() + c.arguments.to_string().chars().count())
                .sum::<usize>();
        Ok(ChatResponse {
            content: answer.text,
            reasoning: None,
            finish: if calls.is_empty() {
                FinishReason::Stop
            } else {
                FinishReason::ToolCalls
            },
            tool_calls: calls,
            usage: Usage {
                prompt_tokens: Some(tokens(prompt_chars(&request))),
                completion_tokens: Some(tokens(generated)),
                cost_usd: None,
            },
            answered_by: Answerer {
                role: self.info.role.clone(),
                model: self.info.model.clone(),
            },
        })
    }

    fn info(&self) -> ModelInfo {
        self.info.clone()
    }
}

/// A tool call's id, unique to the conversation so far (as a server's random ids are) yet the
/// same for the same request: an FNV-1a hash of its messages.
fn call_id(request: &ChatRequest) -> String {
    let text = serde_json::to_string(&request.messages).unwrap_or_default();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("call_{hash:016x}")
}

/// The words of `text`, each with the whitespace after it.
fn words(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let end = rest[word_end..]
            .find(|c: char| !c.is_whitespace())
            .map_or(rest.len(), |gap| word_end + gap);
        let (word, after) = rest.split_at(end);
        rest = after;
        Some(word)
    })
}

/// What a server would count as the prompt, in characters: the messages, the tool calls in
/// them and the tools' schemas.
fn prompt_chars(request: &ChatRequest) -> usize {
    let messages: usize = request
        .messages
        .iter()
        .map(|m| match m {
            ChatMessage::Assistant { content, tool_calls } => {
                content.chars().count()
                    + tool_calls
                        .iter()
                        .map(|c| c.arguments.to_string().chars().count())
                        .sum::<usize>()
            }
            other => other.content().chars().count(),
        })
        .sum();
    let tools: usize = request
        .tools
        .iter()
        .map(|t| t.name.len() + t.description.chars().count() + t.parameters.to_string().chars().count())
        .sum();
    messages + tools
}

/// An estimate of the tokens in `chars` characters: about four characters a token, at least 1.
fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_words_add_up_to_the_text() {
        let text = "Hello,  brave\nnew world ";
        let pieces: Vec<&str> = words(text).collect();
        assert_eq!(pieces, ["Hello,  ", "brave\n", "new ", "world "]);
        assert_eq!(pieces.concat(), text);
        assert_eq!(words("").count(), 0);
    }
}

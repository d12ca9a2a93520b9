//! [`SummarizationMiddleware`]: keeps an agent's conversation inside its context window
//! (LangChain v1's `ContextEditingMiddleware` and `SummarizationMiddleware`, in that order).
//! Before a model call over the trigger, old tool outputs are pruned first; when that is not
//! enough, the older messages are summarized by the summarizer role, with the task message
//! pinned and no tool call ever separated from its results. When the summarizer fails, the
//! older messages are dropped with a notice instead of failing the run.
//!
//! ```text
//! [task, m1 … mk, mk+1 … mn]  →  [task, summary(m1 … mk), mk+1 … mn]   (the last 10 kept)
//! ```

mod cut;
mod prompt;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use lemmings_models::think::split_thinking;
use lemmings_models::{ChatMessage, ChatModel, ChatRequest, ModelError};
use serde::{Deserialize, Serialize};

pub use self::cut::{estimate_tokens, files_touched, prune_tool_outputs, safe_cutoff};
pub use self::prompt::render_for_summary;
use crate::agent::middleware::{AgentView, Middleware, MiddlewareError, Rewrite};
use crate::message::{AgentMessage, MessageKind};

/// The trigger when none is set and the role has no context size (the original Lemmings Coder's
/// 30,000 tokens, for a 40k context).
pub const DEFAULT_TRIGGER_TOKENS: u64 = 30_000;

/// What starts the summary message (LangChain's wording).
pub const SUMMARY_PREFIX: &str = "Here is a summary of the conversation to date:\n\n";

/// The most file names a degraded notice lists.
const NOTICE_FILES: usize = 20;

/// When and how much to summarize. Every field has a default. (An agent file's
/// `[summarization]` table is read as a `spec::SummarizationSpec`, whose defaults are these.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SummarizationConfig {
    /// Act when the conversation reaches this many (estimated) tokens; overrides the fraction.
    pub trigger_tokens: Option<u64>,
    /// Else act at this fraction of the role's context window (0.75); a value outside (0, 1]
    /// counts as the default.
    pub trigger_fraction: f64,
    /// The last messages kept verbatim (10), moved back when needed to keep a tool call with
    /// its results.
    pub keep_messages: usize,
    /// Pruning keeps the last this-many tool outputs whole (3).
    pub keep_tool_outputs: usize,
    /// The summarized part is trimmed to its last this-many tokens before it is sent (4,000).
    pub max_summary_input_tokens: usize,
}

impl Default for SummarizationConfig {
    fn default() -> Self {
        SummarizationConfig {
            trigger_tokens: None,
            trigger_fraction: 0.75,
            keep_messages: 10,
            keep_tool_outputs: 3,
            max_summary_input_tokens: 4_000,
        }
    }
}

impl SummarizationConfig {
    /// The token count at which the middleware acts, for a role with `context_tokens`:
    /// `trigger_tokens` when set, else `trigger_fraction` × `context_tokens`, else
    /// [`DEFAULT_TRIGGER_TOKENS`].
    pub fn trigger(&self, context_tokens: Option<u64>) -> u64 {
        if let Some(tokens) = self.trigger_tokens {
            return tokens;
        }
        let Some(context) = context_tokens else {
            return DEFAULT_TRIGGER_TOKENS;
        };
        let fraction = if self.trigger_fraction > 0.0 && self.trigger_fraction <= 1.0 {
            self.trigger_fraction
        } else {
            SummarizationConfig::default().trigger_fraction
        };
        (context as f64 * fraction) as u64
    }
}

/// The summarization middleware: acts in `before_model` only. See the module documentation.
#[derive(Clone, Debug)]
pub struct SummarizationMiddleware {
    model: Arc<dyn ChatModel>,
    config: SummarizationConfig,
}

/// Why no summary could be written.
#[derive(Debug, thiserror::Error)]
enum SummaryFailure {
    #[error("the summarizer failed: {0}")]
    Model(#[from] ModelError),
    #[error("the summarizer's answer was empty once its thinking was removed")]
    Empty,
}

impl SummarizationMiddleware {
    /// A middleware summarizing with `model` (the summarizer role, which falls back to the
    /// primary inside the models crate) as `config` says.
    pub fn new(model: Arc<dyn ChatModel>, config: SummarizationConfig) -> Self {
        SummarizationMiddleware { model, config }
    }

    /// The configuration.
    pub fn config(&self) -> &SummarizationConfig {
        &self.config
    }

    /// The rewrite of `messages` for a role with `context_tokens`, or `None` when they are
    /// under the trigger or nothing can be made smaller.
    async fn rewrite(&self, messages: &[AgentMessage], context_tokens: Option<u64>) -> Option<Rewrite> {
        let trigger = self.config.trigger(context_tokens);
        let before = estimate_tokens(messages);
        if before < trigger {
            return None;
        }
        let tail_start = safe_cutoff(messages, messages.len().saturating_sub(self.config.keep_messages));
        let (pruned, count) = prune_tool_outputs(messages, self.config.keep_tool_outputs, tail_start);
        let after_pruning = estimate_tokens(&pruned);
        let pruning = (count > 0).then(|| Rewrite {
            messages: pruned,
            note: format!("pruned {count} old tool outputs ({before} → {after_pruning} tokens)"),
        });
        if after_pruning < trigger {
            return pruning;
        }

        let (pinned, head): (Vec<&AgentMessage>, Vec<&AgentMessage>) = messages[..tail_start]
            .iter()
            .partition(|message| message.kind == MessageKind::Task);
        if head.iter().all(|message| message.kind == MessageKind::Summary) {
            tracing::debug!(
                tokens = before,
                trigger,
                "conversation over the summarization trigger, but only the kept messages are left"
            );
            return pruning;
        }
        let pinned: Vec<AgentMessage> = pinned.into_iter().cloned().collect();
        let head: Vec<AgentMessage> = head.into_iter().cloned().collect();
        let tail = &messages[tail_start..];

        let (middle, what) = match self.summarize(&pinned, &head).await {
            Ok(summary) => (
                vec![AgentMessage::summary(format!("{SUMMARY_PREFIX}{summary}"))],
                format!("summarized {} messages into 1", head.len()),
            ),
            Err(failure) => {
                // Earlier summaries are small and hold everything before them: keep them.
                let (mut kept, dropped): (Vec<AgentMessage>, Vec<AgentMessage>) = head
                    .into_iter()
                    .partition(|message| message.kind == MessageKind::Summary);
                tracing::warn!(
                    error = %failure,
                    dropped = dropped.len(),
                    "summarization failed; dropping the older messages with a notice"
                );
                kept.push(dropped_notice(&dropped));
                (
                    kept,
                    format!("dropped {} messages, the summarizer being unavailable", dropped.len()),
                )
            }
        };
        let mut rewritten = pinned;
        rewritten.extend(middle);
        rewritten.extend_from_slice(tail);
        let rewritten = cut::drop_orphan_results(rewritten);
        let after = estimate_tokens(&rewritten);
        let note = format!(
            "{what} ({} → {} messages, {before} → {after} tokens)",
            messages.len(),
            rewritten.len()
        );
        Some(Rewrite {
            messages: rewritten,
            note,
        })
    }

    /// Asks the summarizer for a summary of `head`; the answer without its thinking.
    async fn summarize(&self, pinned: &[AgentMessage], head: &[AgentMessage]) -> Result<String, SummaryFailure> {
        let task: Vec<&str> = pinned.iter().map(AgentMessage::content).collect();
        let rendered = render_for_summary(head, self.config.max_summary_input_tokens);
        let prompt = prompt::summary_prompt(&task.join("\n\n"), &files_touched(head), &rendered);
        let request = ChatRequest::new(vec![ChatMessage::user(prompt)]);
        let response = self.model.chat(request, None).await?;
        let summary = split_thinking(&response.content).answer;
        if summary.is_empty() {
            return Err(SummaryFailure::Empty);
        }
        Ok(summary)
    }
}

/// The notice that takes the place of `head` when it could not be summarized.
fn dropped_notice(head: &[AgentMessage]) -> AgentMessage {
    let count = head.len();
    let mut text = format!(
        "{count} earlier messages of this conversation were dropped to fit the context window: the \
         summarizer was unavailable, so they could not be summarized."
    );
    let files = files_touched(head);
    if !files.is_empty() {
        text.push_str(&format!(
            " Files touched in them: {}.",
            prompt::list(&files, NOTICE_FILES)
        ));
    }
    text.push_str(" Read again what you need, and check the files before redoing any work.");
    AgentMessage::notice(text)
}

#[async_trait]
impl Middleware for SummarizationMiddleware {
    fn name(&self) -> &str {
        "summarization"
    }

    /// Prunes or summarizes the conversation when it is over the trigger. Never fails: a
    /// summarizer failure degrades to dropping the older messages with a notice.
    async fn before_model(&self, view: AgentView<'_>) -> Result<Option<Rewrite>, MiddlewareError> {
        Ok(self.rewrite(view.messages, view.context_tokens).await)
    }
}

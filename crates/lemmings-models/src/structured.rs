//! Structured output: a typed value from a chat model, with the repair ladder.
//!
//! [`structured`] asks for a `T: JsonSchema + DeserializeOwned` in the model's [`OutputMode`]:
//! a forced `submit_<name>` tool call (the default), the server's native `response_format`, or
//! only the prompt. The schema goes into the system prompt's OUTPUT FORMAT section in every
//! mode, because small models follow what they read better than what the server enforces, and
//! servers such as text-generation-webui ignore `tool_choice`. A reply that does not fit goes
//! down the ladder ([`parse_reply`]): strip thinking → extract the JSON ([`extract_json`]) →
//! lenient parse ([`lenient_parse`]) → the Normaliser's coercions ([`coerce()`]) → validation
//! ([`validate`]) and deserialisation. What is still invalid is sent back to the model with
//! the errors, without thinking and cooler, up to [`StructuredOptions::max_reprompts`] times;
//! then the call fails with [`ModelErrorKind::InvalidOutput`], keeping the raw reply.
//!
//! The ladder's steps are public functions so that the Normaliser can reuse them on replies
//! it already holds.

mod coerce;
mod convert;
mod extract;
mod lenient;
mod reply;
mod schema;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

pub use self::coerce::{coerce, validate};
pub use self::extract::{Extracted, Shape, extract_json, extract_json_as};
pub use self::lenient::lenient_parse;
pub use self::reply::{Reply, parse_reply};
pub use self::schema::OutputSchema;
use crate::chat::{ChatMessage, ChatModel, ChatRequest, ChatResponse, OutputMode, Thinking, TokenSink, ToolChoice};
use crate::error::{ModelError, ModelErrorKind};
use crate::think::split_thinking;

/// How to ask for structured output.
#[derive(Clone, Debug)]
pub struct StructuredOptions {
    /// How to request it; `None` uses the model's own (`ModelInfo::output_mode`).
    pub mode: Option<OutputMode>,
    /// How many times an invalid reply is sent back with its errors before giving up.
    pub max_reprompts: u32,
    /// The output's name (`submit_<name>`); by default the schema's title in snake case, else
    /// `output`.
    pub name: Option<String>,
}

impl Default for StructuredOptions {
    fn default() -> Self {
        StructuredOptions {
            mode: None,
            max_reprompts: 2,
            name: None,
        }
    }
}

/// A structured value and how it was obtained.
#[derive(Clone, Debug)]
pub struct Structured<T> {
    /// The value.
    pub value: T,
    /// The model's last response (the one the value came from).
    pub response: ChatResponse,
    /// Each repair applied to that response, human-readable (`/count: "3 files" → 3`).
    pub repairs: Vec<String>,
    /// How many times the model was asked again.
    pub reprompts: u32,
    /// More than [`REVIEW_THRESHOLD`] repairs: the value may not be what the model meant.
    pub needs_review: bool,
}

/// Repairs beyond this many flag a value for review (as the original Normaliser did).
pub const REVIEW_THRESHOLD: usize = 3;

/// Asks `model` for a `T`, repairing and re-prompting as described in the module docs. Errors
/// from the model pass through unchanged; a reply still invalid after the last re-prompt is an
/// [`ModelErrorKind::InvalidOutput`] error holding that raw reply and the number of calls.
pub async fn structured<T: JsonSchema + DeserializeOwned>(
    model: &dyn ChatModel,
    request: ChatRequest,
    options: &StructuredOptions,
    sink: Option<TokenSink>,
) -> Result<Structured<T>, ModelError> {
    let schema = OutputSchema::of::<T>(options.name.as_deref());
    let mode = options.mode.unwrap_or_else(|| model.info().output_mode);
    let mut request = prepare(request, &schema, mode);
    let mut calls = 0;
    loop {
        let response = model.chat(request.clone(), sink.clone()).await?;
        calls += 1;
        let errors = match parse_reply::<T>(reply_of(&response, &schema), &schema) {
            Ok((value, repairs)) => {
                if !repairs.is_empty() {
                    tracing::debug!(output = schema.name(), ?repairs, "structured output repaired");
                }
                let needs_review = repairs.len() > REVIEW_THRESHOLD;
                return Ok(Structured {
                    value,
                    response,
                    repairs,
                    reprompts: calls - 1,
                    needs_review,
                });
            }
            Err(errors) => errors,
        };
        if calls > options.max_reprompts {
            let message = format!("no valid `{}` in the reply: {}", schema.name(), errors.join("; "));
            return Err(ModelError::new(ModelErrorKind::InvalidOutput, &model.info(), message)
                .with_raw(raw_of(&response, &schema))
                .with_attempts(calls));
        }
        tracing::warn!(
            output = schema.name(),
            attempt = calls,
            ?errors,
            "structured output invalid, re-prompting"
        );
        reprompt(&mut request, &response, &errors, &schema, mode);
    }
}

/// The request with the OUTPUT FORMAT section, and the submit tool or `response_format`.
fn prepare(mut request: ChatRequest, schema: &OutputSchema, mode: OutputMode) -> ChatRequest {
    let section = schema.prompt_section(mode);
    let system = request.messages.iter_mut().find_map(|m| match m {
        ChatMessage::System { content } => Some(content),
        _ => None,
    });
    match system {
        Some(content) => {
            if !content.is_empty() {
                content.push_str("\n\n");
            }
            content.push_str(&section);
        }
        None => request.messages.insert(0, ChatMessage::system(section)),
    }
    match mode {
        OutputMode::Tool => {
            let tool = schema.tool_spec();
            request.tools.retain(|t| t.name != tool.name);
            request.tool_choice = ToolChoice::Tool(tool.name.clone());
            request.tools.push(tool);
        }
        OutputMode::Native => request.response_format = Some(schema.response_format()),
        OutputMode::Prompt => {}
    }
    request
}

/// The submit call's arguments when the response has one, else its text.
fn reply_of<'a>(response: &'a ChatResponse, schema: &OutputSchema) -> Reply<'a> {
    let tool = schema.tool_name();
    match response.tool_calls.iter().find(|c| c.name == tool) {
        Some(call) => Reply::Arguments(&call.arguments),
        None => Reply::Text {
            content: &response.content,
            reasoning: response.reasoning.as_deref(),
        },
    }
}

/// The reply as received: the submit call's arguments, else the text.
fn raw_of(response: &ChatResponse, schema: &OutputSchema) -> String {
    let tool = schema.tool_name();
    match response
        .tool_calls
        .iter()
        .find(|c| c.name == tool)
        .map(|c| &c.arguments)
    {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(arguments) => arguments.to_string(),
        None => response.content.clone(),
    }
}

/// Appends the bad reply (thinking stripped; its tool calls answered, as the protocol needs)
/// and the errors, and asks again without thinking at a lower temperature.
fn reprompt(
    request: &mut ChatRequest,
    response: &ChatResponse,
    errors: &[String],
    schema: &OutputSchema,
    mode: OutputMode,
) {
    let tool = schema.tool_name();
    let answer = split_thinking(&response.content).answer;
    let content = if answer.is_empty() && response.tool_calls.is_empty() {
        "(no answer)".to_owned()
    } else {
        answer
    };
    request.messages.push(ChatMessage::Assistant {
        content,
        tool_calls: response.tool_calls.clone(),
    });
    for call in &response.tool_calls {
        let result = if call.name == tool {
            "Rejected: the arguments do not match the schema.".to_owned()
        } else {
            format!("Not run: reply by calling `{tool}`.")
        };
        request.messages.push(ChatMessage::tool(&call.id, &call.name, result));
    }
    let wanted = match mode {
        OutputMode::Tool => format!("a call to `{tool}`"),
        OutputMode::Native | OutputMode::Prompt if schema.is_array() => "a JSON array".to_owned(),
        OutputMode::Native | OutputMode::Prompt => "a JSON object".to_owned(),
    };
    let list: Vec<String> = errors.iter().map(|e| format!("- {e}")).collect();
    request.messages.push(ChatMessage::user(format!(
        "Your reply could not be used:\n{}\nReply with only {wanted} matching the schema.",
        list.join("\n")
    )));
    request.thinking = Some(Thinking::Off);
    request.sampling.temperature = Some(request.sampling.temperature.unwrap_or(0.7).min(0.3));
}

//! Conversions between the project's chat types and rig-core's: the request (messages, tools,
//! sampling, thinking switches, native schema) and the pieces of a response.

use rig_core::completion::{CompletionRequest, ToolDefinition};
use rig_core::message::{AssistantContent, AssistantMessage, CallId, Message, ToolChoice as RigChoice, ToolName};
use serde_json::{Map, Value, json};

use super::Flavour;
use crate::chat::{ChatMessage, ChatRequest, FinishReason, Thinking, ToolCall, ToolChoice, Usage};
use crate::config::RoleConfig;

/// The rig request for `request` on `role`'s server; `Err` names what cannot be sent.
pub(super) fn request(
    request: &ChatRequest,
    role: &RoleConfig,
    flavour: Flavour,
    thinking: Thinking,
) -> Result<CompletionRequest, String> {
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        messages.push(message_to_rig(message)?);
    }
    let Some(last) = messages.pop() else {
        return Err("the request has no messages".to_owned());
    };
    let mut out = CompletionRequest::new(last).messages(messages);

    if !request.tools.is_empty() {
        let mut tools = Vec::with_capacity(request.tools.len());
        for tool in &request.tools {
            tools.push(ToolDefinition::new(
                tool_name(&tool.name)?,
                tool.description.clone(),
                tool.parameters.clone(),
            ));
        }
        out = out.tools(tools);
        let choice = match &request.tool_choice {
            ToolChoice::Auto => None,
            ToolChoice::None => Some(RigChoice::None),
            ToolChoice::Required => Some(RigChoice::Required),
            ToolChoice::Tool(name) => Some(RigChoice::Specific {
                function_names: vec![tool_name(name)?],
            }),
        };
        if let Some(choice) = choice {
            out = out.tool_choice(choice);
        }
    }

    let sampling = request.sampling.or(role.sampling);
    out = out
        .temperature(sampling.temperature)
        .max_tokens(sampling.max_tokens.map(u64::from));

    // Options rig has no typed field for (or checks against its model catalogue) travel as
    // additional parameters: top level on the chat-completions wire, `options` on Ollama's
    // native wire (rig moves every key but `think`/`format`/`keep_alive` there).
    let mut extra = Map::new();
    if let Some(top_p) = sampling.top_p {
        extra.insert("top_p".into(), json!(top_p));
    }
    if let Some(top_k) = sampling.top_k {
        extra.insert("top_k".into(), json!(top_k));
    }
    if let Some(min_p) = sampling.min_p {
        extra.insert("min_p".into(), json!(min_p));
    }
    if let (Flavour::OllamaNative, Some(context)) = (flavour, role.context_tokens) {
        extra.insert("num_ctx".into(), json!(context));
    }
    thinking_switch(&mut extra, flavour, thinking);
    if !extra.is_empty() {
        out = out.additional_params(Value::Object(extra));
    }

    if let Some(format) = &request.response_format {
        // rig names the schema after its title.
        let mut titled = format.schema.clone();
        if let Some(object) = titled.as_object_mut() {
            object.insert("title".into(), Value::String(format.name.clone()));
        }
        let schema = rig_core::schemars::Schema::try_from(titled)
            .map_err(|_| format!("the response format `{}` is not a JSON schema object", format.name))?;
        out = out.output_schema(schema);
    }
    Ok(out)
}

/// How each server is told to think or not. Qwen3 on text-generation-webui reads
/// `enable_thinking`; vLLM, SGLang and llama.cpp read `chat_template_kwargs`; Ollama reads
/// `think`; OpenRouter reads `reasoning`. `Strip` leaves the model's default.
fn thinking_switch(extra: &mut Map<String, Value>, flavour: Flavour, thinking: Thinking) {
    let on = match thinking {
        Thinking::On => true,
        Thinking::Off => false,
        Thinking::Strip => return,
    };
    match flavour {
        Flavour::OpenaiCompatible => {
            extra.insert("enable_thinking".into(), json!(on));
            extra.insert("chat_template_kwargs".into(), json!({ "enable_thinking": on }));
        }
        Flavour::OllamaNative | Flavour::OllamaV1 => {
            extra.insert("think".into(), json!(on));
        }
        Flavour::Openrouter => {
            extra.insert("reasoning".into(), json!({ "enabled": on }));
        }
    }
}

fn tool_name(name: &str) -> Result<ToolName, String> {
    ToolName::new(name).map_err(|_| "a tool name is empty".to_owned())
}

fn message_to_rig(message: &ChatMessage) -> Result<Message, String> {
    Ok(match message {
        ChatMessage::System { content } => Message::system(content.clone()),
        ChatMessage::User { content } => Message::user(content.clone()),
        ChatMessage::Assistant { content, tool_calls } => {
            let mut blocks = Vec::with_capacity(1 + tool_calls.len());
            if !content.is_empty() || tool_calls.is_empty() {
                blocks.push(AssistantContent::text(content.clone()));
            }
            for call in tool_calls {
                blocks.push(AssistantContent::tool_call(
                    call.id.clone(),
                    tool_name(&call.name)?,
                    call.arguments.clone(),
                ));
            }
            Message::Assistant(AssistantMessage::new(blocks))
        }
        ChatMessage::Tool { call_id, name, content } => {
            Message::tool_result(CallId::from_wire(call_id.clone()), tool_name(name)?, content.clone())
        }
    })
}

/// A rig tool call as ours: arguments that were not a JSON object stay as the text the model
/// sent, so the tool can tell the model what was wrong.
pub(super) fn tool_call(call: &rig_core::message::ToolCall) -> ToolCall {
    let arguments = match &call.function.invalid_arguments {
        Some(raw) => Value::String(raw.clone()),
        None => Value::Object(call.function.arguments.clone()),
    };
    ToolCall {
        id: call.id.wire().into_owned(),
        name: call.function.name.as_str().to_owned(),
        arguments,
    }
}

pub(super) fn finish(reason: Option<&rig_core::completion::FinishReason>, has_calls: bool) -> FinishReason {
    use rig_core::completion::FinishReason as Rig;
    match reason {
        _ if has_calls => FinishReason::ToolCalls,
        Some(Rig::Stop) | None => FinishReason::Stop,
        Some(Rig::Length) => FinishReason::Length,
        Some(Rig::ToolCalls) => FinishReason::ToolCalls,
        Some(_) => FinishReason::Other,
    }
}

pub(super) fn usage(usage: &rig_core::completion::Usage) -> Usage {
    Usage {
        prompt_tokens: usage.input_tokens,
        completion_tokens: usage.output_tokens,
        cost_usd: usage.cost.as_ref().map(|cost| cost.total),
    }
}

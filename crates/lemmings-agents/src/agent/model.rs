//! The `model` node: middleware's stop check and conversation rewrite, one model call through
//! the middleware chain, then the answer: tool calls to run, a submitted (or written) structured
//! output checked by the repair ladder, a re-prompt, or the end.

use std::collections::HashSet;
use std::sync::Arc;

use lemmings_graph::{Ctx, MessageUpdate, NodeError};
use lemmings_models::structured::{Reply, parse_reply};
use lemmings_models::{
    ChatMessage, ChatRequest, OutputMode, ResponseFormat, Thinking, TokenSink, ToolCall, ToolChoice,
};

use super::Agent;
use super::middleware::{AgentView, ModelNext};
use super::state::{AgentState, AgentStateUpdate, Stop};
use crate::message::AgentMessage;

/// One turn of the loop.
pub(super) async fn run(agent: &Agent, state: &AgentState, ctx: &Ctx) -> Result<AgentStateUpdate, NodeError> {
    let mut update = AgentStateUpdate::default();
    let view = view_of(agent, state, &state.messages);
    if let Some(stop) = agent.middleware.iter().find_map(|m| m.should_stop(view)) {
        return Ok(update.stop(Some(stop)));
    }

    // Middleware may rewrite the conversation (summarization); the rewrite is saved with this
    // step, so a resume starts from it. Without one, the state's messages are used as they are.
    let mut rewritten: Option<Vec<AgentMessage>> = None;
    for middleware in &agent.middleware {
        let current = view_of(agent, state, rewritten.as_deref().unwrap_or(&state.messages));
        let rewrite = middleware.before_model(current).await.map_err(|error| {
            if error.retryable {
                NodeError::retryable(error)
            } else {
                NodeError::terminal(error)
            }
        })?;
        if let Some(rewrite) = rewrite {
            rewritten = Some(rewrite.messages);
            update = update.notes(vec![format!("{}: {}", middleware.name(), rewrite.note)]);
        }
    }

    let messages = rewritten.as_deref().unwrap_or(&state.messages);
    let mut request = request(agent, state.system.as_deref(), messages);
    if state.reprompts > 0 {
        // A model that got its output wrong: try again cooler and without thinking.
        request = calmer(request);
    }
    let forward = ctx.clone();
    let sink: TokenSink = Arc::new(move |event| forward.emit_message(event));
    let next = ModelNext {
        middleware: &agent.middleware,
        view: view_of(agent, state, messages),
        model: &*agent.model,
        sink: Some(&sink),
    };
    let response = next.run(request).await;
    update = update.model_calls(1_u32);

    let mut new_messages: Vec<AgentMessage> = Vec::new();
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(agent = %agent.name, %error, "agent's model call failed");
            let update = with_messages(update, rewritten, new_messages);
            return Ok(update.stop(Some(Stop::ModelFailed {
                message: error.to_string(),
            })));
        }
    };
    let calls = unique_ids(&response.tool_calls, messages, ctx);
    new_messages.push(AgentMessage::new(ChatMessage::Assistant {
        content: response.content.clone(),
        tool_calls: calls.clone(),
    }));

    let submit = agent.output.as_ref().map(|output| output.tool_name());
    let (submits, others): (Vec<&ToolCall>, Vec<&ToolCall>) =
        calls.iter().partition(|call| Some(&call.name) == submit.as_ref());

    let outcome = match (&agent.output, submits.first()) {
        (Some(output), Some(first)) => {
            // The submit call ends the turn: other calls beside it are answered, not run.
            for call in &others {
                new_messages.push(tool_reply(call, "not run: you submitted your result in the same turn"));
            }
            for extra in submits.iter().skip(1) {
                new_messages.push(tool_reply(
                    extra,
                    "not used: only the first submit call of a turn counts",
                ));
            }
            let (arguments, compressed) = match &agent.normaliser {
                Some(normaliser) => normaliser.compress_output(&first.arguments, output).await,
                None => (first.arguments.clone(), Vec::new()),
            };
            match parse_reply::<serde_json::Value>(Reply::Arguments(&arguments), output) {
                Ok((value, mut repairs)) => {
                    repairs.splice(0..0, compressed);
                    new_messages.push(tool_reply(first, "Returning structured response."));
                    Turn::Submitted(value, repairs)
                }
                Err(errors) => {
                    new_messages.push(tool_reply(first, &invalid(&errors, output.tool_name())));
                    Turn::Invalid(errors)
                }
            }
        }
        (_, None) if !others.is_empty() => Turn::Tools,
        (Some(output), None) => {
            let reply = Reply::Text {
                content: &response.content,
                reasoning: response.reasoning.as_deref(),
            };
            match parse_reply::<serde_json::Value>(reply, output) {
                Ok((value, repairs)) => Turn::Submitted(value, repairs),
                Err(errors) => {
                    new_messages.push(AgentMessage::notice(invalid(&errors, output.tool_name())));
                    Turn::Invalid(errors)
                }
            }
        }
        (None, None) => Turn::Answered,
        (None, Some(_)) => Turn::Tools,
    };

    update = with_messages(update, rewritten, new_messages);
    Ok(match outcome {
        Turn::Tools => update,
        Turn::Answered => update.stop(Some(Stop::Answered)),
        Turn::Submitted(value, repairs) => update.output(Some(value)).repairs(repairs).stop(Some(Stop::Submitted)),
        Turn::Invalid(errors) if state.reprompts >= agent.max_reprompts => {
            update.stop(Some(Stop::InvalidOutput { errors }))
        }
        Turn::Invalid(_) => update.reprompts(1_u32),
    })
}

/// What the model's answer means for the loop.
enum Turn {
    Tools,
    Answered,
    Submitted(serde_json::Value, Vec<String>),
    Invalid(Vec<String>),
}

fn view_of<'a>(agent: &'a Agent, state: &AgentState, messages: &'a [AgentMessage]) -> AgentView<'a> {
    AgentView {
        agent: &agent.name,
        messages,
        model_calls: state.model_calls,
        tool_calls: state.tool_calls,
        context_tokens: agent.context_tokens,
    }
}

/// The request: the system prompt (with the OUTPUT FORMAT section), the conversation, the
/// tools (and the submit tool) in name order.
fn request(agent: &Agent, system: Option<&str>, messages: &[AgentMessage]) -> ChatRequest {
    let mut system = system.unwrap_or(&agent.system_prompt).trim_end().to_owned();
    let mut tools: Vec<_> = agent
        .tools
        .values()
        .map(|tool| lemmings_models::ToolSpec {
            name: tool.name().to_owned(),
            description: tool.description(),
            parameters: tool.parameters(),
        })
        .collect();
    let mut response_format: Option<ResponseFormat> = None;
    if let Some(output) = &agent.output {
        // With tools, the result is always a submit call (a native schema would forbid the
        // other tools); without, the model's own mode applies.
        let mode = match agent.model.info().output_mode {
            OutputMode::Native if tools.is_empty() => OutputMode::Native,
            OutputMode::Prompt if tools.is_empty() => OutputMode::Prompt,
            _ => OutputMode::Tool,
        };
        match mode {
            OutputMode::Tool => tools.push(output.tool_spec()),
            OutputMode::Native => response_format = Some(output.response_format()),
            OutputMode::Prompt => {}
        }
        if !system.is_empty() {
            system.push_str("\n\n");
        }
        system.push_str(&output.prompt_section(mode));
    }
    let mut chat: Vec<ChatMessage> = Vec::with_capacity(messages.len() + 1);
    if !system.is_empty() {
        chat.push(ChatMessage::system(system));
    }
    chat.extend(messages.iter().map(|message| message.message.clone()));
    let mut request = ChatRequest::new(chat);
    request.tool_choice = if tools.is_empty() {
        ToolChoice::None
    } else {
        ToolChoice::Auto
    };
    request.tools = tools;
    request.response_format = response_format;
    request.sampling = agent.sampling;
    request.thinking = agent.thinking;
    request
}

/// A re-prompt's request: temperature at most 0.2 and thinking off, which is what most often
/// gets a small model's structured output right on the next try.
fn calmer(mut request: ChatRequest) -> ChatRequest {
    request.sampling.temperature = Some(request.sampling.temperature.map_or(0.2, |t| t.min(0.2)));
    request.thinking = Some(Thinking::Off);
    request
}

/// Tool calls with usable ids: small models send empty or repeated ids, and a result must
/// answer exactly one call.
fn unique_ids(calls: &[ToolCall], messages: &[AgentMessage], ctx: &Ctx) -> Vec<ToolCall> {
    let mut seen: HashSet<String> = messages
        .iter()
        .flat_map(|message| message.tool_call_ids().into_iter().map(str::to_owned))
        .collect();
    calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let mut call = call.clone();
            if call.id.trim().is_empty() || seen.contains(&call.id) {
                call.id = format!("call_{}_{}", ctx.step(), index);
            }
            seen.insert(call.id.clone());
            call
        })
        .collect()
}

fn tool_reply(call: &ToolCall, text: &str) -> AgentMessage {
    AgentMessage::new(ChatMessage::tool(call.id.clone(), call.name.clone(), text))
}

fn invalid(errors: &[String], tool: String) -> String {
    format!(
        "Error: the result does not match the schema:\n- {}\nPlease fix your mistakes and call `{tool}` again with the whole corrected result.",
        errors.join("\n- ")
    )
}

/// Writes the turn's messages: the new ones appended, or, after a rewrite, the whole
/// conversation replaced by the rewritten one and the new ones.
fn with_messages(
    update: AgentStateUpdate,
    rewritten: Option<Vec<AgentMessage>>,
    new: Vec<AgentMessage>,
) -> AgentStateUpdate {
    match rewritten {
        Some(mut all) => {
            all.extend(new);
            let ops: Vec<MessageUpdate<AgentMessage>> = std::iter::once(MessageUpdate::RemoveAll)
                .chain(all.into_iter().map(MessageUpdate::Upsert))
                .collect();
            update.messages(ops)
        }
        None if new.is_empty() => update,
        None => update.messages(new.into_iter().map(MessageUpdate::Upsert).collect::<Vec<_>>()),
    }
}

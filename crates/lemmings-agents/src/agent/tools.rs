//! The `tools` node: one tool call per task, through the middleware chain. A side-effecting
//! call runs as an effect of its task (the run's idempotency key, recorded in the effects
//! ledger), so a resumed step reports the recorded result instead of applying it again.

use lemmings_graph::{Ctx, MessageUpdate, NodeError};
use lemmings_models::ChatMessage;
use lemmings_tools::{CallContext, Tool, ToolOutput};
use serde::{Deserialize, Serialize};

use super::Agent;
use super::middleware::{AgentView, ToolNext};
use super::state::{AgentStateUpdate, ToolTask};
use crate::message::AgentMessage;

/// Runs one tool call and writes its result as a tool message.
pub(super) async fn run(agent: &Agent, task: ToolTask, ctx: &Ctx) -> Result<AgentStateUpdate, NodeError> {
    let call = &task.call;
    let view = AgentView {
        agent: &agent.name,
        messages: &[],
        model_calls: 0,
        tool_calls: task.calls_before,
        context_tokens: agent.context_tokens,
    };
    let output = match agent.tools.get(&call.name) {
        None => ToolOutput::failed(format!(
            "unknown tool `{}`; the tools are: {}",
            call.name,
            agent.tool_names().join(", ")
        )),
        Some(tool) if tool.has_side_effects() => {
            let description = format!("{} by agent `{}`", call.name, agent.name);
            let recorded: Recorded = ctx
                .effect(0, &description, |attempt| {
                    let task = &task;
                    async move {
                        let context = CallContext {
                            idempotency_key: Some(attempt.key),
                            ambiguous: attempt.ambiguous,
                        };
                        Ok(Recorded::from(call_through(agent, view, task, &**tool, &context).await))
                    }
                })
                .await?;
            recorded.into_output()
        }
        Some(tool) => call_through(agent, view, &task, &**tool, &CallContext::default()).await,
    };
    let message = AgentMessage::new(ChatMessage::tool(call.id.clone(), call.name.clone(), output.text));
    Ok(AgentStateUpdate::default()
        .tool_calls(1_u32)
        .messages(vec![MessageUpdate::Upsert(message)]))
}

async fn call_through(
    agent: &Agent,
    view: AgentView<'_>,
    task: &ToolTask,
    tool: &dyn Tool,
    context: &CallContext,
) -> ToolOutput {
    let next = ToolNext {
        middleware: &agent.middleware,
        view,
        call: &task.call,
        tool,
        context,
    };
    next.run(task.call.arguments.clone()).await
}

/// A side-effecting call's output as the effects ledger keeps it.
#[derive(Serialize, Deserialize)]
struct Recorded {
    text: String,
    failed: bool,
}

impl From<ToolOutput> for Recorded {
    fn from(output: ToolOutput) -> Self {
        Recorded {
            failed: output.is_error(),
            text: output.text,
        }
    }
}

impl Recorded {
    fn into_output(self) -> ToolOutput {
        if self.failed {
            ToolOutput::failed(self.text)
        } else {
            ToolOutput::ok(self.text)
        }
    }
}

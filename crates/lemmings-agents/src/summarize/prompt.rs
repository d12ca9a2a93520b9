//! What the summarizer reads: the summarized messages rendered as role-tagged text, trimmed to a
//! token budget from the end, inside a prompt modelled on LangChain's `DEFAULT_SUMMARY_PROMPT`
//! (sections SESSION INTENT, SUMMARY, ARTIFACTS, NEXT STEPS; the messages last).

use lemmings_models::ChatMessage;

use crate::message::{AgentMessage, MessageKind};

/// The most characters of one tool output shown to the summarizer: a whole file read would
/// otherwise crowd every other message out of the budget.
const TOOL_OUTPUT_CHARS: usize = 1_200;
/// The most characters of one tool call's arguments shown to the summarizer (a written file's
/// content is as long as a read one).
const TOOL_ARGUMENTS_CHARS: usize = 600;
/// The most characters of the pinned task shown to the summarizer (for its SESSION INTENT).
const TASK_CHARS: usize = 1_500;
/// The most file names listed in the prompt.
const MAX_FILES: usize = 30;
/// A partly shown message is included only when at least this many tokens of it fit.
const MIN_PARTIAL_TOKENS: usize = 32;

/// `messages` as readable text for the summarizer, one block per message separated by blank
/// lines: `[user]`, `[assistant]`, `[assistant calls <tool>] <arguments as JSON>` (clipped to
/// 600 characters), `[<tool> result]` (clipped to 1,200), `[earlier summary]`, `[notice]`,
/// `[task]`. Only about `max_tokens` tokens (≈4 characters each) are kept: earlier summaries
/// first (they hold everything before them; each clipped to half the budget), then whole
/// messages from the end, then the end of the message that does not fit, after a line saying
/// how many earlier messages were left out.
pub fn render_for_summary(messages: &[AgentMessage], max_tokens: usize) -> String {
    let budget = max_tokens.saturating_mul(4);
    let summaries: Vec<String> = messages
        .iter()
        .filter(|message| message.kind == MessageKind::Summary)
        .map(|message| clip(&render_message(message), budget / 2))
        .collect();
    let mut used: usize = summaries.iter().map(|block| block.chars().count() + 2).sum();
    let rest: Vec<&AgentMessage> = messages
        .iter()
        .filter(|message| message.kind != MessageKind::Summary)
        .collect();
    let mut recent = Vec::new();
    for message in rest.iter().rev() {
        let block = render_message(message);
        let chars = block.chars().count();
        if used + chars <= budget {
            used += chars + 2;
            recent.push(block);
            continue;
        }
        let room = budget.saturating_sub(used + 4);
        if room >= MIN_PARTIAL_TOKENS * 4 {
            recent.push(format!("[…] {}", last_chars(&block, room)));
        }
        break;
    }
    let omitted = rest.len() - recent.len();
    let mut blocks = summaries;
    if omitted > 0 {
        let unit = if omitted == 1 { "message" } else { "messages" };
        blocks.push(format!("[{omitted} earlier {unit} left out]"));
    }
    blocks.extend(recent.into_iter().rev());
    blocks.join("\n\n")
}

fn render_message(message: &AgentMessage) -> String {
    match (&message.message, message.kind) {
        (ChatMessage::System { content }, _) => format!("[system] {content}"),
        (ChatMessage::User { content }, MessageKind::Task) => format!("[task] {content}"),
        (ChatMessage::User { content }, MessageKind::Summary) => format!("[earlier summary] {content}"),
        (ChatMessage::User { content }, MessageKind::Notice) => format!("[notice] {content}"),
        (ChatMessage::User { content }, MessageKind::Normal) => format!("[user] {content}"),
        (ChatMessage::Assistant { content, tool_calls }, _) => {
            let mut lines = Vec::new();
            if !content.trim().is_empty() || tool_calls.is_empty() {
                lines.push(format!("[assistant] {content}"));
            }
            for call in tool_calls {
                let arguments = clip(&call.arguments.to_string(), TOOL_ARGUMENTS_CHARS);
                lines.push(format!("[assistant calls {}] {arguments}", call.name));
            }
            lines.join("\n")
        }
        (ChatMessage::Tool { name, content, .. }, _) => format!("[{name} result] {}", clip(content, TOOL_OUTPUT_CHARS)),
    }
}

/// The first `max` characters of `text`, with a note of how much was cut.
fn clip(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head} […{} more characters]", total - max)
}

/// The last `max` characters of `text`.
fn last_chars(text: &str, max: usize) -> &str {
    let total = text.chars().count();
    match text.char_indices().nth(total.saturating_sub(max)) {
        Some((at, _)) => &text[at..],
        None => text,
    }
}

/// The first `max` of `names` joined with commas, and how many more there are.
pub(super) fn list(names: &[String], max: usize) -> String {
    let mut listed = names[..names.len().min(max)].join(", ");
    if names.len() > max {
        listed.push_str(&format!(", +{} more", names.len() - max));
    }
    listed
}

/// The summarizer's prompt: instructions, the pinned task (clipped; it stays in the
/// conversation), the files named in tool calls, then the rendered messages.
pub(crate) fn summary_prompt(task: &str, files: &[String], rendered: &str) -> String {
    let task = if task.trim().is_empty() {
        "(none)".to_owned()
    } else {
        clip(task.trim(), TASK_CHARS)
    };
    let files = if files.is_empty() {
        "(none found in tool calls)".to_owned()
    } else {
        list(files, MAX_FILES)
    };
    format!(
        "<role>
Context Extraction Assistant
</role>

<primary_objective>
Extract the most relevant context from the conversation history below, so that the agent can \
keep working on its task without it.
</primary_objective>

<instructions>
The agent is nearing the limit of its context window. The messages below will be replaced by \
the context you extract, so keep only what matters for finishing the task and for not \
repeating actions already completed. The task itself stays in the conversation: do not copy \
it, only state the intent.

Structure your answer in these sections. Each one is a checklist: fill it in, or write \
\"None\" when there is nothing to report.

## SESSION INTENT
The overall goal of the session, in one or two sentences.

## SUMMARY
The important context: what was found, what was decided and why, what was tried and \
rejected and why, errors met and how they were resolved.

## ARTIFACTS
The files created, modified or read, each with its path and a short description of the \
change or of what was learnt from it.

## NEXT STEPS
What remains to be done to finish the task, in order.
</instructions>

<task>
{task}
</task>

<files_named_in_tool_calls>
{files}
</files_named_in_tool_calls>

Respond ONLY with the extracted context: no text before or after it.

<messages>
{rendered}
</messages>"
    )
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use lemmings_models::ToolCall;
    use serde_json::json;

    use super::*;

    fn messages() -> Vec<AgentMessage> {
        vec![
            AgentMessage::summary("Here is a summary of the conversation to date:\n\nread the parser"),
            AgentMessage::new(ChatMessage::Assistant {
                content: "Let me look at the lexer.".to_owned(),
                tool_calls: vec![ToolCall {
                    id: "c1".to_owned(),
                    name: "read_file".to_owned(),
                    arguments: json!({"path": "src/lexer.rs"}),
                }],
            }),
            AgentMessage::new(ChatMessage::tool("c1", "read_file", "fn lex() {}")),
            AgentMessage::notice("You have 3 tool calls left."),
            AgentMessage::new(ChatMessage::assistant("Done.")),
        ]
    }

    #[test]
    fn messages_render_role_tagged_with_tool_calls() {
        expect![[r#"
            [earlier summary] Here is a summary of the conversation to date:

            read the parser

            [assistant] Let me look at the lexer.
            [assistant calls read_file] {"path":"src/lexer.rs"}

            [read_file result] fn lex() {}

            [notice] You have 3 tool calls left.

            [assistant] Done."#]]
        .assert_eq(&render_for_summary(&messages(), 4_000));
    }

    #[test]
    fn rendering_keeps_earlier_summaries_and_the_last_tokens() {
        let mut messages = messages();
        messages.push(AgentMessage::new(ChatMessage::assistant(format!(
            "{}END",
            "x".repeat(200)
        ))));
        let rendered = render_for_summary(&messages, 60);
        assert!(rendered.starts_with("[earlier summary] Here is"), "{rendered}");
        assert!(
            rendered.contains("\n\n[4 earlier messages left out]\n\n[…] "),
            "{rendered}"
        );
        assert!(rendered.ends_with("xEND"));
        assert!(rendered.chars().count() <= 60 * 4 + 40);
        let rendered = render_for_summary(&messages[1..], 10);
        assert_eq!(rendered, "[5 earlier messages left out]");
    }

    #[test]
    fn long_tool_outputs_are_clipped() {
        let output = "é".repeat(TOOL_OUTPUT_CHARS + 10);
        let message = AgentMessage::new(ChatMessage::tool("c1", "grep", output));
        let rendered = render_for_summary(&[message], 4_000);
        assert!(rendered.ends_with("é […10 more characters]"), "{rendered}");
    }
}

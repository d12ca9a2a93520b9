//! The deterministic steps of summarization: the token estimate, the safe cut point that never
//! separates a tool call from its results, pruning of old tool outputs (LangChain's
//! `ClearToolUsesEdit`), the files named in tool calls, and the final pairing check.

use std::collections::HashSet;

use lemmings_models::ChatMessage;

use crate::message::AgentMessage;

/// Characters per token of the estimate (LangChain's `count_tokens_approximately`).
const CHARS_PER_TOKEN: usize = 4;
/// Tokens added per message for the role and the chat template's framing.
const MESSAGE_OVERHEAD_TOKENS: u64 = 4;
/// Characters added per tool call for its id and the framing around name and arguments.
const CALL_OVERHEAD_CHARS: usize = 12;

/// An estimate of the tokens `messages` take in a prompt: about 4 characters per token, plus a
/// few tokens per message; a tool call's name and arguments count, as does a tool result's
/// tool name. Deterministic (no tokenizer), so the same conversation always gives the same
/// number.
pub fn estimate_tokens(messages: &[AgentMessage]) -> u64 {
    messages.iter().map(message_tokens).sum()
}

fn message_tokens(message: &AgentMessage) -> u64 {
    let mut chars = message.content().chars().count();
    match &message.message {
        ChatMessage::Assistant { tool_calls, .. } => {
            for call in tool_calls {
                chars += CALL_OVERHEAD_CHARS + call.name.chars().count() + call.arguments.to_string().chars().count();
            }
        }
        ChatMessage::Tool { name, .. } => chars += name.chars().count(),
        ChatMessage::System { .. } | ChatMessage::User { .. } => {}
    }
    chars.div_ceil(CHARS_PER_TOKEN) as u64 + MESSAGE_OVERHEAD_TOKENS
}

/// Moves `cutoff` (the index of the first message kept) to a point that does not separate an
/// assistant message's tool calls from the results answering them, as LangChain's
/// `_find_safe_cutoff_point` does: when the message at the cutoff is a tool result, the cut
/// moves back to just before the assistant message that issued the calls of that run of
/// results (so the pair is kept); when no message issued them, it moves past the results (they
/// go with the summarized part). A cutoff past the end is clamped to the length.
pub fn safe_cutoff(messages: &[AgentMessage], cutoff: usize) -> usize {
    let cutoff = cutoff.min(messages.len());
    let answered: Vec<&str> = messages[cutoff..].iter().map_while(AgentMessage::answers).collect();
    if answered.is_empty() {
        return cutoff;
    }
    let issuer = messages[..cutoff]
        .iter()
        .rposition(|message| message.tool_call_ids().iter().any(|id| answered.contains(id)));
    issuer.unwrap_or(cutoff + answered.len())
}

/// What a pruned output says after the tool's name.
const PRUNED_MARK: &str = " pruned to save context: ";

/// The text that replaces a pruned tool output.
fn placeholder(tool: &str, content: &str) -> String {
    let lines = content.lines().count();
    let unit = if lines == 1 { "line" } else { "lines" };
    format!("[output of {tool}{PRUNED_MARK}{lines} {unit}; call the tool again if you need it]")
}

/// Whether `content` is already a placeholder.
fn is_placeholder(content: &str) -> bool {
    content.starts_with("[output of ") && content.contains(PRUNED_MARK) && !content.contains('\n')
}

/// `messages` with the content of old tool results replaced by a short placeholder naming the
/// tool and the size of what was removed, and how many were replaced. Kept whole: the last
/// `keep_tool_outputs` tool results, every message from `tail_start` on, placeholders, and
/// outputs shorter than their placeholder (so pruning twice changes nothing). Messages are never
/// removed, so every tool call keeps its result.
pub fn prune_tool_outputs(
    messages: &[AgentMessage],
    keep_tool_outputs: usize,
    tail_start: usize,
) -> (Vec<AgentMessage>, usize) {
    let mut out = messages.to_vec();
    let results: Vec<usize> = (0..out.len()).filter(|&at| out[at].answers().is_some()).collect();
    let prunable = results.len().saturating_sub(keep_tool_outputs);
    let mut pruned = 0;
    for &at in results[..prunable].iter().filter(|&&at| at < tail_start) {
        if let ChatMessage::Tool { name, content, .. } = &mut out[at].message
            && !is_placeholder(content)
        {
            let replacement = placeholder(name, content);
            if replacement.chars().count() < content.chars().count() {
                *content = replacement;
                pruned += 1;
            }
        }
    }
    (out, pruned)
}

/// The files named in `messages`' tool calls (a string argument `path`), first mention first,
/// each once.
pub fn files_touched(messages: &[AgentMessage]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for message in messages {
        let ChatMessage::Assistant { tool_calls, .. } = &message.message else {
            continue;
        };
        for call in tool_calls {
            if let Some(path) = call.arguments.get("path").and_then(serde_json::Value::as_str)
                && seen.insert(path.to_owned())
            {
                files.push(path.to_owned());
            }
        }
    }
    files
}

/// `messages` without tool results whose call no earlier message issued: a conversation sent
/// to a model must never hold one (providers reject it).
pub(crate) fn drop_orphan_results(messages: Vec<AgentMessage>) -> Vec<AgentMessage> {
    let mut issued: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        if let Some(call) = message.answers()
            && !issued.contains(call)
        {
            tracing::debug!(
                call,
                "dropped a tool result whose call is no longer in the conversation"
            );
            continue;
        }
        issued.extend(message.tool_call_ids().into_iter().map(str::to_owned));
        out.push(message);
    }
    out
}

#[cfg(test)]
mod tests {
    use lemmings_models::ToolCall;
    use serde_json::json;

    use super::*;

    fn calls(ids: &[&str]) -> AgentMessage {
        let tool_calls = ids
            .iter()
            .map(|id| ToolCall {
                id: (*id).to_owned(),
                name: "read_file".to_owned(),
                arguments: json!({"path": format!("src/{id}.rs")}),
            })
            .collect();
        AgentMessage::new(ChatMessage::Assistant {
            content: String::new(),
            tool_calls,
        })
    }

    fn result(id: &str, content: &str) -> AgentMessage {
        AgentMessage::new(ChatMessage::tool(id, "read_file", content))
    }

    /// task, a1(c1), r1, a2(c2, c3, c4), r2, r3, r4, text, a3(c5), r5
    fn conversation() -> Vec<AgentMessage> {
        vec![
            AgentMessage::task("fix it"),
            calls(&["c1"]),
            result("c1", "one"),
            calls(&["c2", "c3", "c4"]),
            result("c2", "two"),
            result("c3", "three"),
            result("c4", "four"),
            AgentMessage::new(ChatMessage::assistant("thinking aloud")),
            calls(&["c5"]),
            result("c5", "five"),
        ]
    }

    #[test]
    fn the_estimate_is_about_four_characters_per_token_and_counts_tool_calls() {
        let text = AgentMessage::new(ChatMessage::user("x".repeat(400)));
        assert_eq!(estimate_tokens(std::slice::from_ref(&text)), 104);
        let call = calls(&["c1"]);
        // `{"path":"src/c1.rs"}` (20) + `read_file` (9) + 12 of overhead = 41 characters.
        assert_eq!(estimate_tokens(std::slice::from_ref(&call)), 11 + 4);
        assert_eq!(estimate_tokens(&[text.clone(), call.clone()]), 104 + 15);
        assert_eq!(estimate_tokens(&[]), 0);
    }

    #[test]
    fn a_cutoff_on_a_tool_result_moves_back_before_its_call() {
        let messages = conversation();
        assert_eq!(safe_cutoff(&messages, 2), 1);
        assert_eq!(safe_cutoff(&messages, 9), 8);
    }

    #[test]
    fn parallel_results_stay_with_their_call() {
        let messages = conversation();
        for cutoff in 4..=6 {
            assert_eq!(safe_cutoff(&messages, cutoff), 3, "cutoff {cutoff}");
        }
    }

    #[test]
    fn safe_points_stay_and_out_of_range_cutoffs_are_clamped() {
        let messages = conversation();
        for cutoff in [0, 1, 3, 7, 8, 10] {
            assert_eq!(safe_cutoff(&messages, cutoff), cutoff);
        }
        assert_eq!(safe_cutoff(&messages, 99), 10);
    }

    #[test]
    fn results_without_their_call_are_moved_past() {
        let messages = vec![
            result("gone1", "a"),
            result("gone2", "b"),
            calls(&["c1"]),
            result("c1", "c"),
        ];
        assert_eq!(safe_cutoff(&messages, 0), 2);
        assert_eq!(safe_cutoff(&messages, 1), 2);
    }

    #[test]
    fn pruning_keeps_the_last_outputs_the_tail_and_every_message() {
        let long = "line\n".repeat(50);
        let messages = vec![
            AgentMessage::task("fix it"),
            calls(&["c1"]),
            result("c1", &long),
            calls(&["c2"]),
            result("c2", "short"),
            calls(&["c3"]),
            result("c3", &long),
            calls(&["c4"]),
            result("c4", &long),
            calls(&["c5"]),
            result("c5", &long),
        ];
        let (pruned, count) = prune_tool_outputs(&messages, 1, 7);
        assert_eq!(
            count, 2,
            "c1 and c3; c2 is shorter than a placeholder, c4 is in the tail, c5 is kept"
        );
        assert_eq!(pruned.len(), messages.len());
        assert_eq!(
            pruned[2].content(),
            "[output of read_file pruned to save context: 50 lines; call the tool again if you need it]"
        );
        assert_eq!(pruned[4].content(), "short");
        assert_eq!(pruned[6].content(), pruned[2].content());
        assert_eq!(pruned[8..], messages[8..]);
        let (again, count) = prune_tool_outputs(&pruned, 1, 7);
        assert_eq!((again, count), (pruned, 0));
    }

    #[test]
    fn files_are_found_in_path_arguments_once_each() {
        let mut messages = conversation();
        messages.push(calls(&["c1"]));
        assert_eq!(
            files_touched(&messages),
            ["src/c1.rs", "src/c2.rs", "src/c3.rs", "src/c4.rs", "src/c5.rs"]
        );
    }

    #[test]
    fn orphan_results_are_dropped() {
        let messages = vec![
            result("gone", "a"),
            calls(&["c1"]),
            result("c1", "b"),
            result("c9", "c"),
        ];
        let kept = drop_orphan_results(messages.clone());
        assert_eq!(kept, messages[1..3]);
    }
}

//! What the demo's summarizer answers: a status line condensed, a field shortened, or a
//! conversation summarized, each told apart by its prompt's wording (`status::condense`,
//! `normalise::rewrite_shorter` and `summarize::prompt` in lemmings-agents) and answered from
//! the prompt alone.

use lemmings_models::{ChatMessage, ChatRequest};

/// The answer to a summarizer request, or why the demo has none.
pub(super) fn answer(request: &ChatRequest) -> Result<String, String> {
    let prompt = request
        .messages
        .iter()
        .find_map(|m| match m {
            ChatMessage::User { content } => Some(content.as_str()),
            _ => None,
        })
        .ok_or("the request has no prompt")?;
    let body = prompt.split_once("\n\n").map_or("", |(_, body)| body.trim());
    if let Some(max) = limit(prompt, "Condense this status line to at most ") {
        return Ok(condense(body, max));
    }
    if let Some(max) = limit(prompt, "Rewrite the following in at most ") {
        return Ok(words_within(body, max));
    }
    if prompt.contains("Context Extraction Assistant") {
        return Ok(SUMMARY.to_owned());
    }
    Err(format!(
        "the prompt is none the demo knows (a status line, a field to shorten, a conversation): {}",
        words_within(prompt, 80)
    ))
}

/// The conversation summary (the demo's conversations never grow long enough to need one).
const SUMMARY: &str = "## SESSION INTENT\nWrite the greeting module and its README.\n\n\
                       ## SUMMARY\nThe task's plan is being carried out through the coder.\n\n\
                       ## ARTIFACTS\nsrc/greet.rs, README.md\n\n\
                       ## NEXT STEPS\nSubmit the result.";

/// The number after `prefix` in `prompt` when the prompt starts with it.
fn limit(prompt: &str, prefix: &str) -> Option<usize> {
    let rest = prompt.strip_prefix(prefix)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A status line in at most `max` characters: its lead (the short `node: what` parts before
/// the prose, `task_planner: implement task_001`), the paths it names and its closing
/// parenthesis (`(round 1)`); its first words when that is too long.
fn condense(line: &str, max: usize) -> String {
    let lead: Vec<&str> = line
        .split(": ")
        .take_while(|part| part.split_whitespace().count() <= 3)
        .collect();
    let lead = lead.join(": ");
    let mut paths: Vec<&str> = Vec::new();
    for word in line.split_whitespace() {
        let word = word
            .trim_matches(|c: char| !c.is_alphanumeric() && !"/._".contains(c))
            .trim_end_matches('.');
        if word.contains('.') && word.chars().any(char::is_alphabetic) && !paths.contains(&word) {
            paths.push(word);
        }
    }
    let tail = line
        .trim_end()
        .strip_suffix(')')
        .and_then(|rest| rest.rfind('(').map(|at| line[at..].trim_end()))
        .filter(|tail| tail.len() <= 20 && !lead.contains(tail));
    if lead.is_empty() || lead.len() == line.len() {
        return words_within(line, max);
    }
    let mut short = lead;
    if !paths.is_empty() {
        short = format!("{short}: {}", paths.join(", "));
    }
    if let Some(tail) = tail {
        short = format!("{short} {tail}");
    }
    words_within(&short, max)
}

/// `text` on one line, cut after the last whole word that fits in `max` characters.
fn words_within(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        let grown = if out.is_empty() {
            word.chars().count()
        } else {
            out.chars().count() + 1 + word.chars().count()
        };
        if grown > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(prompt: &str) -> Result<String, String> {
        answer(&ChatRequest::new(vec![ChatMessage::user(prompt)]))
    }

    #[test]
    fn status_lines_are_condensed_to_their_lead_paths_and_round() {
        let prompt = "Condense this status line to at most 78 characters. Keep the outcome, names and numbers; \
                      drop filler words. Reply with the line only: no quotes, no explanation.\n\n\
                      task_planner: implement task_001: Create src/greet.rs with a public greet function that \
                      returns a… (round 1)";
        assert_eq!(
            ask(prompt).unwrap(),
            "task_planner: implement task_001: src/greet.rs (round 1)"
        );
        let failed = "Condense this status line to at most 78 characters.\n\n\
                      qa: task_002 attempt 1: failed (incomplete): README.md does not exist: write it";
        assert_eq!(
            ask(failed).unwrap(),
            "qa: task_002 attempt 1: failed (incomplete): README.md"
        );
        let plain = "Condense this status line to at most 20 characters.\n\nall of these words are far too many";
        assert_eq!(ask(plain).unwrap(), "all of these words");
    }

    #[test]
    fn fields_are_shortened_and_conversations_summarized() {
        let prompt = "Rewrite the following in at most 12 characters, keeping every fact.\n\nwrote the greeting module";
        assert_eq!(ask(prompt).unwrap(), "wrote the");
        assert!(
            ask("<role>\nContext Extraction Assistant\n</role>")
                .unwrap()
                .contains("## NEXT STEPS")
        );
    }

    #[test]
    fn an_unknown_prompt_gets_no_answer() {
        let error = ask("Write a poem").unwrap_err();
        assert!(error.contains("Write a poem"), "{error}");
    }
}

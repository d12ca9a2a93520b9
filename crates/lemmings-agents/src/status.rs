//! Status lines of at most [`STATUS_WIDTH`] characters for the live display (the original
//! Lemmings `Summarizer`): built deterministically (`✓ Modified 3 files (a.rs, b.rs, +1 more)`),
//! condensed by the summarizer role only when too long, and truncated when that fails.

use std::fmt;

use lemmings_models::think::split_thinking;
use lemmings_models::{ChatMessage, ChatModel, ChatRequest, Thinking};

use crate::text::collapse;

/// The most characters of a status line, mark included.
pub const STATUS_WIDTH: usize = 80;

/// What a status line reports, shown as its first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mark {
    /// Something started: `▶`.
    Start,
    /// Something finished well: `✓`.
    Done,
    /// Something failed: `✗`.
    Failed,
    /// A remark: `·`.
    Info,
}

impl Mark {
    /// The mark's symbol.
    pub fn symbol(self) -> char {
        match self {
            Mark::Start => '▶',
            Mark::Done => '✓',
            Mark::Failed => '✗',
            Mark::Info => '·',
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.symbol())
    }
}

/// The status line `<mark> <text>`, on one line with whitespace collapsed (not shortened: see
/// [`fit`]).
pub fn line(mark: Mark, text: &str) -> String {
    let text = collapse(text);
    if text.is_empty() {
        return mark.symbol().to_string();
    }
    format!("{mark} {text}")
}

/// `text` cut to at most `max_chars` characters, ending with `…` when it was cut. Counts and
/// cuts characters, never bytes, so a UTF-8 character is never split.
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let kept: String = text.chars().take(max_chars - 1).collect();
    format!("{}…", kept.trim_end())
}

/// A phrase for files acted on that fits a status line after its mark, e.g.
/// `Modified 3 files (src/a.rs, src/b.rs, +1 more)`: whole paths when they all fit, else base
/// names, as many as fit, and how many more there are.
pub fn files_phrase(verb: &str, files: &[String]) -> String {
    let width = STATUS_WIDTH - 2;
    let verb = collapse(verb);
    let count = match files.len() {
        0 => return truncate(&format!("{verb} no files"), width),
        1 => format!("{verb} 1 file"),
        n => format!("{verb} {n} files"),
    };
    let listed = |names: &[&str], shown: usize| {
        let mut list = names[..shown].join(", ");
        if shown < names.len() {
            list.push_str(&format!(", +{} more", names.len() - shown));
        }
        format!("{count} ({list})")
    };
    let paths: Vec<&str> = files.iter().map(String::as_str).collect();
    let whole = listed(&paths, paths.len());
    if whole.chars().count() <= width {
        return whole;
    }
    let bases: Vec<&str> = paths.iter().map(|path| base_name(path)).collect();
    (1..=bases.len())
        .rev()
        .map(|shown| listed(&bases, shown))
        .find(|phrase| phrase.chars().count() <= width)
        .unwrap_or_else(|| truncate(&count, width))
}

/// The last component of a `/`- or `\`-separated path.
fn base_name(path: &str) -> &str {
    let path = path.trim_end_matches(['/', '\\']);
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The status line `<mark> <text>` in at most [`STATUS_WIDTH`] characters: as it is when it
/// fits; else condensed by `model` (the summarizer role) when one is given and it answers
/// with a line short enough; else truncated with `…`.
pub async fn fit(mark: Mark, text: &str, model: Option<&dyn ChatModel>) -> String {
    let full = line(mark, text);
    if full.chars().count() <= STATUS_WIDTH {
        return full;
    }
    if let Some(model) = model
        && let Some(short) = condense(model, &collapse(text), STATUS_WIDTH - 2).await
    {
        return line(mark, &short);
    }
    truncate(&full, STATUS_WIDTH)
}

/// `text` rewritten by `model` in at most `max_chars` characters, or `None` when the model
/// fails or its answer is empty or still too long.
async fn condense(model: &dyn ChatModel, text: &str, max_chars: usize) -> Option<String> {
    let prompt = format!(
        "Condense this status line to at most {max_chars} characters. Keep the outcome, names and \
         numbers; drop filler words. Reply with the line only: no quotes, no explanation.\n\n{text}"
    );
    let request = ChatRequest {
        thinking: Some(Thinking::Off),
        ..ChatRequest::new(vec![ChatMessage::user(prompt)])
    };
    let response = match model.chat(request, None).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%error, "status line not condensed; truncating it");
            return None;
        }
    };
    let answer = collapse(&split_thinking(&response.content).answer);
    let answer = answer.trim_matches(['"', '\'', '`']).trim();
    let length = answer.chars().count();
    (length > 0 && length <= max_chars).then(|| answer.to_owned())
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use lemmings_models::ModelErrorKind;
    use lemmings_testkit::ScriptedModel;

    use super::*;

    const LONG: &str = "Implemented the --json flag of the report command in src/report.rs and src/cli.rs, \
                        with tests for empty and nested reports";

    #[test]
    fn lines_are_one_line_with_their_mark() {
        assert_eq!(line(Mark::Done, "QA   passed:\n all checks"), "✓ QA passed: all checks");
        assert_eq!(line(Mark::Start, "implementor"), "▶ implementor");
        assert_eq!(line(Mark::Failed, "QA failed: incomplete"), "✗ QA failed: incomplete");
        assert_eq!(line(Mark::Info, "  "), "·");
    }

    #[tokio::test]
    async fn short_lines_are_untouched_and_cost_no_model_call() {
        let model = ScriptedModel::new("summarizer");
        let text = "Modified 3 files (a.rs, b.rs, c.rs)";
        assert_eq!(fit(Mark::Done, text, Some(&model)).await, format!("✓ {text}"));
        let exact = "x".repeat(STATUS_WIDTH - 2);
        assert_eq!(
            fit(Mark::Info, &exact, Some(&model)).await.chars().count(),
            STATUS_WIDTH
        );
        assert_eq!(model.calls(), 0);
    }

    #[tokio::test]
    async fn long_lines_are_condensed_by_the_model() {
        let model =
            ScriptedModel::new("summarizer").text("<think>short!</think>\n\"Added --json to report, with tests\"");
        let fitted = fit(Mark::Done, LONG, Some(&model)).await;
        assert_eq!(fitted, "✓ Added --json to report, with tests");
        let request = &model.requests()[0];
        assert_eq!(request.thinking, Some(Thinking::Off));
        expect![[r#"
            Condense this status line to at most 78 characters. Keep the outcome, names and numbers; drop filler words. Reply with the line only: no quotes, no explanation.

            Implemented the --json flag of the report command in src/report.rs and src/cli.rs, with tests for empty and nested reports"#]]
        .assert_eq(request.messages[0].content());
    }

    #[tokio::test]
    async fn a_failing_or_verbose_model_means_truncation() {
        let model = ScriptedModel::new("summarizer")
            .fail(ModelErrorKind::Connect, "connection refused")
            .text(&"still far too long ".repeat(10));
        let expected = "✓ Implemented the --json flag of the report command in src/report.rs and src/cl…";
        assert_eq!(fit(Mark::Done, LONG, Some(&model)).await, expected);
        assert_eq!(fit(Mark::Done, LONG, Some(&model)).await, expected);
        assert_eq!(fit(Mark::Done, LONG, None).await, expected);
        assert_eq!(expected.chars().count(), STATUS_WIDTH);
        assert_eq!(model.calls(), 2);
    }

    #[tokio::test]
    async fn truncation_never_splits_a_character() {
        let text = "Überprüfe die Änderungen in 日本語のファイル and 🦀🦀🦀 ".repeat(5);
        let fitted = fit(Mark::Failed, &text, None).await;
        assert_eq!(fitted.chars().count(), STATUS_WIDTH);
        assert!(fitted.starts_with("✗ Überprüfe") && fitted.ends_with('…'));
        assert_eq!(truncate("🦀🦀🦀", 2), "🦀…");
        assert_eq!(truncate("🦀🦀", 2), "🦀🦀");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn file_phrases_fit_the_line() {
        let files = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        let long: Vec<String> = (1..=9)
            .map(|n| format!("crates/lemmings-agents/src/workflow/node_{n}.rs"))
            .collect();
        let cases = [
            files_phrase("Modified", &[]),
            files_phrase("Modified", &files(&["src/lib.rs"])),
            files_phrase("Modified", &files(&["a.rs", "b.rs", "c.rs"])),
            files_phrase("Created", &long[..2]),
            files_phrase("Modified", &long),
            files_phrase("Read", &files(&[&"x".repeat(100)])),
        ];
        for case in &cases {
            assert!(case.chars().count() <= STATUS_WIDTH - 2, "{case}");
        }
        expect![[r#"
            Modified no files
            Modified 1 file (src/lib.rs)
            Modified 3 files (a.rs, b.rs, c.rs)
            Created 2 files (node_1.rs, node_2.rs)
            Modified 9 files (node_1.rs, node_2.rs, node_3.rs, node_4.rs, +5 more)
            Read 1 file"#]]
        .assert_eq(&cases.join("\n"));
    }
}

//! Splitting a model's thinking (`<think>…</think>`) from its answer. Qwen3 and other reasoning
//! models put their reasoning inline when the server does not move it to `reasoning_content`;
//! the answer stored in history must never include it. Handles several blocks, a missing
//! opening tag (chat templates that pre-fill `<think>` in the prompt, so the reply starts with
//! reasoning and then `</think>`), and an unterminated block (the model hit `max_tokens` while
//! thinking), which callers retry without thinking. [`ThinkFilter`] does the same split on a
//! stream, for tags cut across chunks.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// A reply split into answer and reasoning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThinkSplit {
    /// The answer, outside any think block, trimmed.
    pub answer: String,
    /// The reasoning, blocks joined by newlines, trimmed; `None` when there was none.
    pub reasoning: Option<String>,
    /// A think block was opened and never closed: the answer is missing.
    pub unterminated: bool,
}

/// Splits `text` into answer and reasoning.
pub fn split_thinking(text: &str) -> ThinkSplit {
    let mut filter = ThinkFilter::default();
    let mut answer = String::new();
    let mut reasoning = String::new();
    for piece in filter.push(text).into_iter().chain(filter.finish()) {
        match piece {
            Piece::Answer(text) => answer.push_str(&text),
            Piece::Reasoning(text) => {
                if !reasoning.is_empty() && !reasoning.ends_with('\n') && !text.starts_with('\n') {
                    reasoning.push('\n');
                }
                reasoning.push_str(&text);
            }
        }
    }
    let unterminated = filter.inside;
    // A reply that closes a block it never opened: everything before the close was reasoning.
    if !filter.seen_open
        && let Some(at) = text.find(CLOSE)
    {
        return ThinkSplit {
            answer: text[at + CLOSE.len()..].trim().to_owned(),
            reasoning: non_empty(text[..at].trim()),
            unterminated: false,
        };
    }
    ThinkSplit {
        answer: answer.trim().to_owned(),
        reasoning: non_empty(reasoning.trim()),
        unterminated,
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// A piece of a stream, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Answer text.
    Answer(String),
    /// Reasoning text.
    Reasoning(String),
}

/// Splits streamed text into answer and reasoning pieces as it arrives; a tag cut across two
/// chunks is held back until it is complete. (A close tag with no open tag is only recognised
/// by [`split_thinking`] on the whole text: on a stream, that text has already gone out as
/// answer.)
#[derive(Clone, Debug, Default)]
pub struct ThinkFilter {
    inside: bool,
    seen_open: bool,
    held: String,
}

impl ThinkFilter {
    /// Feeds a chunk; returns the pieces it completes.
    pub fn push(&mut self, chunk: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        self.held.push_str(chunk);
        loop {
            let tag = if self.inside { CLOSE } else { OPEN };
            if let Some(at) = self.held.find(tag) {
                let before: String = self.held.drain(..at).collect();
                self.held.drain(..tag.len());
                self.emit(&mut out, before);
                self.inside = !self.inside;
                self.seen_open |= self.inside;
                continue;
            }
            // Hold back a suffix that could be the start of the tag.
            let keep = (1..tag.len())
                .rev()
                .find(|&n| self.held.ends_with(&tag[..n]))
                .unwrap_or(0);
            let cut = self.held.len() - keep;
            let ready: String = self.held.drain(..cut).collect();
            self.emit(&mut out, ready);
            return out;
        }
    }

    /// Ends the stream; returns what was held back.
    pub fn finish(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.held);
        self.emit(&mut out, rest);
        out
    }

    /// Whether the stream is inside an open think block.
    pub fn inside(&self) -> bool {
        self.inside
    }

    fn emit(&self, out: &mut Vec<Piece>, text: String) {
        if text.is_empty() {
            return;
        }
        out.push(if self.inside {
            Piece::Reasoning(text)
        } else {
            Piece::Answer(text)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (String, Option<String>, bool) {
        let s = split_thinking(text);
        (s.answer, s.reasoning, s.unterminated)
    }

    #[test]
    fn plain_text_is_all_answer() {
        assert_eq!(split("  hello "), ("hello".into(), None, false));
    }

    #[test]
    fn inline_blocks_are_reasoning() {
        assert_eq!(
            split("<think>\nplan it\n</think>\n\nThe answer."),
            ("The answer.".into(), Some("plan it".into()), false)
        );
        assert_eq!(
            split("<think>a</think>x<think>b</think>y"),
            ("xy".into(), Some("a\nb".into()), false)
        );
        // Thinking switched off: Qwen3's template still emits an empty block.
        assert_eq!(
            split("<think>\n\n</think>\n\n{\"ok\": true}"),
            ("{\"ok\": true}".into(), None, false)
        );
    }

    #[test]
    fn a_missing_open_tag_means_the_reply_started_in_thought() {
        assert_eq!(
            split("let me see\n</think>\nDone."),
            ("Done.".into(), Some("let me see".into()), false)
        );
    }

    #[test]
    fn an_unterminated_block_leaves_no_answer() {
        assert_eq!(
            split("<think>I will now think for a very long"),
            (String::new(), Some("I will now think for a very long".into()), true)
        );
        assert_eq!(split("Sure. <think>hmm"), ("Sure.".into(), Some("hmm".into()), true));
    }

    #[test]
    fn the_stream_filter_holds_tags_cut_across_chunks() {
        let mut filter = ThinkFilter::default();
        let mut pieces = Vec::new();
        for chunk in ["<th", "ink>rea", "son</th", "in", "k>ans", "wer <", "b>"] {
            pieces.extend(filter.push(chunk));
        }
        pieces.extend(filter.finish());
        let reasoning: String = pieces
            .iter()
            .filter_map(|p| {
                if let Piece::Reasoning(t) = p {
                    Some(t.as_str())
                } else {
                    None
                }
            })
            .collect();
        let answer: String = pieces
            .iter()
            .filter_map(|p| {
                if let Piece::Answer(t) = p {
                    Some(t.as_str())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!((reasoning.as_str(), answer.as_str()), ("reason", "answer <b>"));
        assert!(!filter.inside());
    }
}

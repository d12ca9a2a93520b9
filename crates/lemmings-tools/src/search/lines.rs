//! One file's matches for `grep`: a [`Sink`] that keeps the first matches with their context
//! lines, counts the rest, and drops everything when the file turns out to be binary; long lines
//! are shown around their match.

use grep_regex::RegexMatcher;
use grep_searcher::{Searcher, Sink, SinkContext, SinkContextKind, SinkMatch, sinks};

use super::text;

/// Characters of a line shown; longer lines are cut around the match.
const LINE_WIDTH: usize = 200;
/// How far into a long line the match is looked for, to show the part around it.
const LOCATE_BYTES: usize = 64 << 10;

/// One line of output for a file.
#[derive(Debug)]
pub(super) enum Shown {
    Match(u64, String),
    Context(u64, String),
    Break,
}

/// Collects one file's matches: at most `budget` shown with their context, all counted (up to
/// `allowance`); everything is dropped if the file turns out to be binary.
pub(super) struct FileSink<'m> {
    matcher: &'m RegexMatcher,
    budget: usize,
    allowance: usize,
    pub(super) lines: Vec<Shown>,
    /// A break and before-context lines, shown only if the match they precede is.
    pending: Vec<Shown>,
    pub(super) matches: usize,
    pub(super) shown: usize,
    /// Whether the latest match was shown (so its after-context is too).
    last_shown: bool,
    pub(super) binary: bool,
}

impl<'m> FileSink<'m> {
    /// A sink showing at most `budget` matches and stopping after `allowance`.
    pub(super) fn new(matcher: &'m RegexMatcher, budget: usize, allowance: usize) -> Self {
        FileSink {
            matcher,
            budget,
            allowance,
            lines: Vec::new(),
            pending: Vec::new(),
            matches: 0,
            shown: 0,
            last_shown: false,
            binary: false,
        }
    }
}

impl Sink for FileSink<'_> {
    type Error = std::io::Error;

    fn matched(&mut self, _searcher: &Searcher, found: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        self.matches += 1;
        self.last_shown = self.shown < self.budget;
        if self.last_shown {
            let pending = std::mem::take(&mut self.pending);
            let leading_break = self.lines.is_empty();
            self.lines.extend(
                pending
                    .into_iter()
                    .filter(|l| !(leading_break && matches!(l, Shown::Break))),
            );
            let text = shown_match(self.matcher, found.bytes());
            self.lines.push(Shown::Match(found.line_number().unwrap_or(0), text));
            self.shown += 1;
        } else {
            self.pending.clear();
        }
        Ok(self.matches < self.allowance)
    }

    fn context(&mut self, _searcher: &Searcher, context: &SinkContext<'_>) -> Result<bool, Self::Error> {
        let line = || {
            Shown::Context(
                context.line_number().unwrap_or(0),
                text::cut(&text::line(context.bytes()), LINE_WIDTH),
            )
        };
        match context.kind() {
            SinkContextKind::After if self.last_shown => self.lines.push(line()),
            SinkContextKind::Before if self.shown < self.budget => self.pending.push(line()),
            _ => {}
        }
        Ok(true)
    }

    fn context_break(&mut self, _searcher: &Searcher) -> Result<bool, Self::Error> {
        self.pending.clear();
        self.pending.push(Shown::Break);
        Ok(true)
    }

    fn binary_data(&mut self, _searcher: &Searcher, _offset: u64) -> Result<bool, Self::Error> {
        self.binary = true;
        Ok(false)
    }
}

/// A matching line as shown: whole when short, otherwise the part around the first match.
fn shown_match(matcher: &RegexMatcher, bytes: &[u8]) -> String {
    let line = text::line(bytes);
    if line.chars().count() <= LINE_WIDTH {
        return line;
    }
    match match_end(matcher, line.as_bytes()) {
        Some(end) => text::around(&line, end, LINE_WIDTH),
        None => text::cut(&line, LINE_WIDTH),
    }
}

/// Where the first match in `line` ends (within its first [`LOCATE_BYTES`]): the shortest
/// prefix that matches, by bisection.
fn match_end(matcher: &RegexMatcher, line: &[u8]) -> Option<usize> {
    let matches = |len: usize| {
        let mut hit = false;
        let found = sinks::Bytes(|_, _| {
            hit = true;
            Ok(false)
        });
        let _ = Searcher::new().search_slice(matcher, &line[..len], found);
        hit
    };
    let mut high = line.len().min(LOCATE_BYTES);
    if !matches(high) {
        return None;
    }
    let mut low = 0;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if matches(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

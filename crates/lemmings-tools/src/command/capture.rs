//! Bounded capture of one output stream: its first and last bytes and a count of everything,
//! so memory stays bounded however much a command prints.

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::outcome::StreamOutput;

/// How much one read takes from a pipe.
const READ_CHUNK: usize = 64 * 1024;

/// The first half of the cap as read, the last half as a ring buffer, and the total.
#[derive(Debug)]
pub(super) struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_limit: usize,
    tail_limit: usize,
    total: u64,
}

impl Capture {
    /// Keeping at most `limit` bytes.
    pub(super) fn new(limit: usize) -> Self {
        let tail_limit = limit / 2;
        let head_limit = limit - tail_limit;
        Capture {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_limit,
            tail_limit,
            total: 0,
        }
    }

    /// Takes the next bytes of the stream.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len() as u64);
        let into_head = self.head_limit.saturating_sub(self.head.len()).min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        let rest = &bytes[into_head..];
        if rest.len() >= self.tail_limit {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - self.tail_limit..]);
        } else {
            let excess = (self.tail.len() + rest.len()).saturating_sub(self.tail_limit);
            self.tail.drain(..excess);
            self.tail.extend(rest);
        }
    }

    /// The stream as text (UTF-8, lossily), with `redact` applied and, when bytes were
    /// dropped, `[... N bytes omitted ...]` between the start and the end, cut at line
    /// boundaries when that keeps at least half of each part.
    pub(super) fn finish(self, redact: impl Fn(&str) -> String) -> StreamOutput {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let tail: Vec<u8> = self.tail.into();
        if self.total <= kept {
            let mut bytes = self.head;
            bytes.extend_from_slice(&tail);
            let text = redact(&String::from_utf8_lossy(&bytes));
            return StreamOutput {
                text,
                bytes: self.total,
                truncated: false,
            };
        }
        let head = &self.head;
        let head_end = match head.iter().rposition(|&b| b == b'\n') {
            Some(at) if at + 1 >= head.len() / 2 => at + 1,
            _ => head.len(),
        };
        let tail_start = match tail.iter().position(|&b| b == b'\n') {
            Some(at) if at < tail.len() / 2 => at + 1,
            _ => 0,
        };
        let shown = (head_end + tail.len() - tail_start) as u64;
        let mut text = String::from_utf8_lossy(&head[..head_end]).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("[... {} bytes omitted ...]\n", self.total - shown));
        text.push_str(&String::from_utf8_lossy(&tail[tail_start..]));
        StreamOutput {
            text: redact(&text),
            bytes: self.total,
            truncated: true,
        }
    }
}

/// Reads `pipe` into `capture` until its end or an error.
pub(super) async fn pump(pipe: Option<impl AsyncRead + Unpin>, capture: &mut Capture) {
    let Some(mut pipe) = pipe else { return };
    let mut buffer = vec![0; READ_CHUNK];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) => return,
            Ok(read) => capture.push(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                tracing::debug!(%error, "reading command output failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(limit: usize, chunks: &[&[u8]]) -> StreamOutput {
        let mut capture = Capture::new(limit);
        for chunk in chunks {
            capture.push(chunk);
        }
        capture.finish(str::to_owned)
    }

    #[test]
    fn keeps_everything_under_the_cap() {
        let output = text(10, &[b"abc", b"defgh", b"ij"]);
        assert_eq!(
            (output.text.as_str(), output.bytes, output.truncated),
            ("abcdefghij", 10, false)
        );
    }

    #[test]
    fn keeps_head_and_tail_of_a_flood() {
        let output = text(8, &[b"0123", b"456789", b"abcdef"]);
        assert_eq!(output.text, "0123\n[... 8 bytes omitted ...]\ncdef");
        assert_eq!((output.bytes, output.truncated), (16, true));
        let output = text(8, &[&[b'x'; 100_000], b"end!"]);
        assert_eq!(output.text, "xxxx\n[... 99996 bytes omitted ...]\nend!");
    }

    #[test]
    fn cuts_at_line_boundaries_when_cheap() {
        let lines: String = (0..100).map(|n| format!("line {n:02}\n")).collect();
        let output = text(40, &[lines.as_bytes()]);
        assert_eq!(
            output.text,
            "line 00\nline 01\n[... 768 bytes omitted ...]\nline 98\nline 99\n"
        );
    }

    #[test]
    fn zero_cap_counts_only() {
        let output = text(0, &[b"abc"]);
        assert_eq!(
            (output.text.as_str(), output.bytes, output.truncated),
            ("[... 3 bytes omitted ...]\n", 3, true)
        );
    }

    #[test]
    fn redacts_and_decodes_lossily() {
        let mut capture = Capture::new(64);
        capture.push(b"key=s3cret \xff\n");
        let output = capture.finish(|text| text.replace("s3cret", "[redacted]"));
        assert_eq!(output.text, "key=[redacted] \u{fffd}\n");
    }
}

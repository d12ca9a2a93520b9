//! Finding the file lines most like an `old_string` that was not found, for the error message.
//!
//! A sliding window as tall as `old_string` is scored by the words it shares with it (linear in
//! the file, however large); the best few windows are then compared character by character, and
//! the best is reported only if it is similar enough to be what the model meant.

use std::collections::HashMap;

use similar::TextDiff;

use super::error::Closest;
use super::ladder::Haystack;
use super::lines::{self, Block};

/// Windows compared character by character after the word-overlap pass.
const CANDIDATES: usize = 5;
/// Above this many characters the comparison is by line instead (character diffs grow
/// quadratically with the difference).
const MAX_CHAR_DIFF: usize = 3_000;
/// The least similarity (0–1) worth showing.
const MIN_SIMILARITY: f32 = 0.6;

/// The window of the file most similar to `old` (with `\n` endings), if any is similar enough.
pub(super) fn find(hay: &Haystack<'_>, old: &str) -> Option<Closest> {
    let block = Block::parse(old);
    let (lo, hi) = lines::blank_edges(&block.lines);
    let old_lines = &block.lines[lo..hi];
    let n = hay.lines.len();
    let height = old_lines.len().min(n);
    if height == 0 {
        return None;
    }

    let mut wanted: HashMap<&str, u32> = HashMap::new();
    for token in old_lines.iter().flat_map(|l| words(l)) {
        *wanted.entry(token).or_default() += 1;
    }
    let wanted_total: u32 = wanted.values().sum();
    if wanted_total == 0 {
        return None;
    }
    let mut window = Window {
        wanted: &wanted,
        have: HashMap::new(),
        shared: 0,
        total: 0,
    };
    for i in 0..height {
        window.add(hay.text(i));
    }
    // Best windows by shared words, earliest first among equals.
    let mut best: Vec<(u64, usize)> = Vec::with_capacity(CANDIDATES + 1);
    for start in 0..=n - height {
        if window.shared > 0 {
            // Dice coefficient, scaled to an integer so ties compare exactly.
            let score = 2_000_000 * u64::from(window.shared) / u64::from(wanted_total + window.total);
            if best.len() < CANDIDATES || best.last().is_some_and(|&(s, _)| score > s) {
                let at = best.partition_point(|&(s, _)| s >= score);
                best.insert(at, (score, start));
                best.truncate(CANDIDATES);
            }
        }
        if start + height < n {
            window.remove(hay.text(start));
            window.add(hay.text(start + height));
        }
    }

    let old_text = old_lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n");
    let (ratio, start) = best
        .iter()
        .map(|&(_, start)| {
            let text = (start..start + height)
                .map(|i| hay.text(i).trim())
                .collect::<Vec<_>>()
                .join("\n");
            (similarity(&old_text, &text), start)
        })
        .fold(None, |acc: Option<(f32, usize)>, (r, s)| match acc {
            Some((best, at)) if best > r || (best == r && at < s) => Some((best, at)),
            _ => Some((r, s)),
        })?;
    if ratio < MIN_SIMILARITY {
        return None;
    }
    let first_difference = (0..height)
        .find(|&i| old_lines.get(i).map(|l| l.trim()) != Some(hay.text(start + i).trim()))
        .map(|i| start + i + 1);
    Some(Closest {
        first_line: start + 1,
        last_line: start + height,
        lines: (start..start + height).map(|i| hay.text(i).to_owned()).collect(),
        first_difference,
    })
}

/// The words (identifiers and numbers) of a line.
fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// 0–1 similarity of two texts: by character when small enough, else by line.
fn similarity(a: &str, b: &str) -> f32 {
    if a.len() + b.len() <= MAX_CHAR_DIFF {
        TextDiff::from_chars(a, b).ratio()
    } else {
        TextDiff::from_lines(a, b).ratio()
    }
}

/// The words of the current window that `old_string` also has, counted with multiplicity.
struct Window<'w, 'a> {
    wanted: &'w HashMap<&'a str, u32>,
    have: HashMap<&'a str, u32>,
    shared: u32,
    total: u32,
}

impl<'a> Window<'_, 'a> {
    fn add(&mut self, line: &'a str) {
        for word in words(line) {
            self.total += 1;
            if let Some(&want) = self.wanted.get(word) {
                let have = self.have.entry(word).or_default();
                if *have < want {
                    self.shared += 1;
                }
                *have += 1;
            }
        }
    }

    fn remove(&mut self, line: &'a str) {
        for word in words(line) {
            self.total = self.total.saturating_sub(1);
            if let (Some(&want), Some(have)) = (self.wanted.get(word), self.have.get_mut(word)) {
                *have = have.saturating_sub(1);
                if *have < want {
                    self.shared = self.shared.saturating_sub(1);
                }
            }
        }
    }
}

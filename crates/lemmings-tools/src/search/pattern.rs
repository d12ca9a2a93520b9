//! File patterns (globset syntax) as models write them: `**` crosses directories, `*` does not,
//! `{a,b}` alternates, and a pattern without `/` matches file names at any depth (`*.rs`).

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};

/// Examples given with every pattern error.
const EXAMPLES: &str = "examples: `*.rs`, `src/**/*.rs`, `**/{Cargo.toml,*.md}`";

/// A compiled file pattern.
#[derive(Clone, Debug)]
pub(super) struct PathPattern {
    matcher: GlobMatcher,
    /// No `/` in the pattern: matched against the file name alone.
    by_name: bool,
}

impl PathPattern {
    /// Compiles `pattern` (a leading `./` or `/` is dropped: patterns are relative to the
    /// search path), or an error message naming the problem, with examples.
    pub(super) fn new(pattern: &str, case_insensitive: bool) -> Result<PathPattern, String> {
        let mut text = pattern.trim();
        while let Some(rest) = text.strip_prefix("./") {
            text = rest;
        }
        let text = text.trim_start_matches('/');
        if text.is_empty() {
            return Err(format!("error: empty glob pattern `{pattern}`; {EXAMPLES}"));
        }
        let glob = GlobBuilder::new(text)
            .literal_separator(true)
            .backslash_escape(true)
            .case_insensitive(case_insensitive)
            .build()
            .map_err(|e| format!("error: invalid glob `{pattern}`: {}; {EXAMPLES}", e.kind()))?;
        Ok(PathPattern {
            matcher: glob.compile_matcher(),
            by_name: !text.contains('/'),
        })
    }

    /// Whether `within` (a path relative to the search path) matches.
    pub(super) fn matches(&self, within: &Path) -> bool {
        if self.by_name {
            within.file_name().is_some_and(|name| self.matcher.is_match(name))
        } else {
            self.matcher.is_match(within)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, path: &str) -> bool {
        PathPattern::new(pattern, false)
            .map(|p| p.matches(Path::new(path)))
            .unwrap_or(false)
    }

    #[test]
    fn names_match_at_any_depth_and_paths_from_the_start() {
        assert!(check("*.rs", "a/b/c.rs"));
        assert!(check("./*.rs", "c.rs"));
        assert!(!check("src/*.rs", "src/a/c.rs"));
        assert!(check("src/**/*.rs", "src/a/c.rs"));
        assert!(check("src/**/*.rs", "src/c.rs"));
        assert!(check("**/{Cargo.toml,*.md}", "x/README.md"));
        assert!(check("/src/*.rs", "src/c.rs"));
        assert!(!check("*.RS", "c.rs"));
        assert!(
            PathPattern::new("*.RS", true)
                .map(|p| p.matches(Path::new("c.rs")))
                .unwrap_or(false)
        );
        let error = PathPattern::new("{a", false).err().unwrap_or_default();
        assert!(
            error.starts_with("error: invalid glob `{a`: unclosed alternate group"),
            "{error}"
        );
        assert!(PathPattern::new(" ", false).is_err());
    }
}

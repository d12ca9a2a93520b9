//! The demo's content: the two tasks of its one milestone (what the planner plans, what the
//! coder writes) and the closing report.

use std::path::Path;

/// One task of the demo's milestone: the file it writes, and what the planner, the implementor
/// and the coder say about it.
#[derive(Debug)]
pub(super) struct Step {
    /// The file the task creates, relative to the workspace root. It names the task: the prompts
    /// of the task's implementor, coder and QA mention it, and no other task's path.
    pub(super) path: &'static str,
    /// What the coder writes there.
    pub(super) content: &'static str,
    /// A file the coder reads before writing, if any.
    pub(super) reads: Option<&'static str>,
    /// The planner's task description (long enough that its status line is condensed by the
    /// summarizer role).
    pub(super) description: &'static str,
    /// The planner's measurable outcome.
    pub(super) outcome: &'static str,
    /// The planner's implementation plan (at least 100 characters).
    pub(super) plan: &'static str,
    /// The change type.
    pub(super) change_type: &'static str,
    /// The one-line summary (at most 72 characters, and the carry-forward entry).
    pub(super) summary: &'static str,
    /// The implementor's request to the coder.
    pub(super) request: &'static str,
}

/// The greeting module of task 1.
pub(super) const GREET_RS: &str = r#"//! Greetings.

/// A friendly greeting for `name`.
pub fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

#[cfg(test)]
mod tests {
    use super::greet;

    #[test]
    fn greets_by_name() {
        assert_eq!(greet("Ada"), "Hello, Ada!");
    }
}
"#;

/// The README of task 2.
pub(super) const README_MD: &str = r#"# Greetings

`greet` returns a friendly greeting for a name:

```rust
assert_eq!(greet("Ada"), "Hello, Ada!");
```

It lives in `src/greet.rs`, with a unit test.
"#;

/// The milestone's tasks, in order.
pub(super) const STEPS: [Step; 2] = [
    Step {
        path: "src/greet.rs",
        content: GREET_RS,
        reads: None,
        description: "Create src/greet.rs with a public greet function that returns a friendly greeting for a name",
        outcome: "src/greet.rs defines `pub fn greet(name: &str) -> String` returning \"Hello, <name>!\", with a \
                  unit test",
        plan: "# Plan: add the greet function\n\
               Outcome: src/greet.rs defines greet, with a unit test\n\
               ## Changes\n\
               ### Create `src/greet.rs`\n\
               What: a module doc line; `pub fn greet(name: &str) -> String` returning \
               `format!(\"Hello, {name}!\")`; a test module checking that `greet(\"Ada\")` is \"Hello, Ada!\"\n\
               ## Check\n\
               src/greet.rs exists and holds the function and its test",
        change_type: "feat",
        summary: "feat: add greet(name), a friendly greeting",
        request: "Create src/greet.rs: a module doc line, `pub fn greet(name: &str) -> String` returning \
                  `format!(\"Hello, {name}!\")`, and a unit test that greet(\"Ada\") is \"Hello, Ada!\".",
    },
    Step {
        path: "README.md",
        content: README_MD,
        // The README documents the function: the coder reads it first. (This also keeps the
        // two coder runs' writes at different steps of their loops; see `answer`.)
        reads: Some("src/greet.rs"),
        description: "Write README.md explaining what the greet function does, with an example of calling it",
        outcome: "README.md shows a call of greet and the greeting it returns",
        plan: "# Plan: document greet\n\
               Outcome: README.md explains greet with an example\n\
               ## Changes\n\
               ### Create `README.md`\n\
               What: a `# Greetings` heading; one sentence on what greet returns; a Rust example \
               `assert_eq!(greet(\"Ada\"), \"Hello, Ada!\");`; where the function lives (src/greet.rs)\n\
               ## Check\n\
               README.md exists and shows the example",
        change_type: "docs",
        summary: "docs: show how to call greet in README.md",
        request: "Create README.md: a `# Greetings` heading, one sentence saying that greet returns a friendly \
                  greeting for a name, and a Rust example asserting that greet(\"Ada\") is \"Hello, Ada!\".",
    },
];

/// The report's paragraph, from the files in the workspace.
pub(super) fn report(workspace: &Path) -> String {
    const ASKED: &str = "You asked for a small Rust greeting module and a README showing how to use it.";
    const LABEL: &str = "(Every answer in this run came from Lemmings' built-in scripted demo models; no model \
                         server was contacted.)";
    let missing: Vec<&str> = STEPS
        .iter()
        .filter(|s| !workspace.join(s.path).is_file())
        .map(|s| s.path)
        .collect();
    if !missing.is_empty() {
        return format!(
            "{ASKED} The run did not finish: {} not written. Outcome: partial. {LABEL}",
            missing.join(" and ")
        );
    }
    format!(
        "{ASKED} The run had one milestone in two tasks: src/greet.rs now defines \
         `pub fn greet(name: &str) -> String`, which returns \"Hello, <name>!\" and has a unit test, and \
         README.md explains the function with an example. Both tasks passed verification and QA, and the \
         assessor found the milestone and the whole remit complete; nothing failed. Outcome: success. {LABEL}"
    )
}

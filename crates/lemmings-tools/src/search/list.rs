//! `list_dir`: a directory as an indented tree, directories first, files with their line count,
//! symlinks with their target, ignored entries summarised per directory, capped breadth-first so
//! a big subtree cannot crowd out its siblings.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::text::{self, plural};
use super::walk::{Kind, MAX_WALKED, Skipped, Start, Target, dot, not_git, walker};
use crate::{CallContext, ToolOutput, TypedTool, Workspace};

const MAX_DEPTH: usize = 5;
const MAX_ITEMS: usize = 1000;
/// Files up to this size get a line count; bigger ones their size.
const COUNT_LINES_BELOW: u64 = 1 << 20;
/// How much of a bigger file is read to tell text from binary.
const SNIFF_BYTES: u64 = 8 << 10;
/// Ignored names shown per directory before `N more`.
const HIDDEN_NAMES: usize = 3;

/// Lists a workspace directory as a tree (`list_dir`).
#[derive(Debug)]
pub struct ListDir {
    workspace: Arc<Workspace>,
}

impl ListDir {
    /// `list_dir` on this workspace.
    pub fn new(workspace: Arc<Workspace>) -> Self {
        ListDir { workspace }
    }
}

/// The arguments of `list_dir`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct ListDirArgs {
    /// The directory to list, relative to the workspace root.
    #[serde(default = "dot")]
    pub path: String,
    /// How many levels to show, 1 to 5; deeper directories show their entry count.
    #[serde(default = "two", alias = "max_depth")]
    pub depth: usize,
    /// The most entries to show, up to 1000; the top levels are shown first.
    #[serde(default = "two_hundred", alias = "limit")]
    pub max_items: usize,
}

fn two() -> usize {
    2
}

fn two_hundred() -> usize {
    200
}

#[async_trait]
impl TypedTool for ListDir {
    type Args = ListDirArgs;
    const NAME: &'static str = "list_dir";
    const SIDE_EFFECTS: bool = false;

    fn description(&self) -> String {
        "List a directory as a tree: directories end with `/`, files show their line count, \
         .gitignored entries are summarised. Example: list_dir {\"path\": \"src\", \"depth\": 2}"
            .to_owned()
    }

    async fn run(&self, args: ListDirArgs, _context: &CallContext) -> ToolOutput {
        let workspace = Arc::clone(&self.workspace);
        tokio::task::spawn_blocking(move || list(&workspace, &args))
            .await
            .unwrap_or_else(|e| ToolOutput::failed(format!("error: list_dir stopped unexpectedly: {e}")))
    }
}

/// One listed entry (index 0 is the start directory).
#[derive(Debug)]
struct Node {
    name: String,
    path: PathBuf,
    depth: usize,
    kind: Kind,
    children: Vec<usize>,
    /// Visible children, including those of a directory at the depth limit (counted, not kept).
    count: usize,
    /// Names of ignored children (directories with `/`).
    hidden: Vec<String>,
}

fn list(workspace: &Workspace, args: &ListDirArgs) -> ToolOutput {
    let depth = args.depth.clamp(1, MAX_DEPTH);
    let max_items = args.max_items.clamp(1, MAX_ITEMS);
    let start = match Start::dir(workspace, &args.path) {
        Ok(start) => start,
        Err(e) => return ToolOutput::failed(format!("error: {e}")),
    };
    let mut skipped = Skipped::default();
    let mut nodes = walk(&start, depth, &mut skipped);
    if !skipped.stopped {
        find_hidden(&start, depth, &mut nodes);
    }
    for i in 0..nodes.len() {
        let mut children = std::mem::take(&mut nodes[i].children);
        children.sort_by(|&a, &b| {
            (nodes[a].kind != Kind::Dir, &nodes[a].name).cmp(&(nodes[b].kind != Kind::Dir, &nodes[b].name))
        });
        nodes[i].children = children;
    }

    // Breadth-first: the first `max_items` entries level by level, so a big subtree cannot
    // hide its siblings.
    let mut shown = vec![false; nodes.len()];
    let mut budget = max_items;
    let mut queue: VecDeque<usize> = nodes[0].children.iter().copied().collect();
    while let Some(i) = queue.pop_front() {
        if budget == 0 {
            break;
        }
        shown[i] = true;
        budget -= 1;
        queue.extend(nodes[i].children.iter().copied());
    }

    let total = nodes.len() - 1;
    let header = text::path(&start.rel);
    let mut out = vec![if total == 0 && nodes[0].hidden.is_empty() {
        format!("{header}/ (empty)")
    } else {
        format!("{header}/ ({})", plural(total, "entry", "entries"))
    }];
    let render = Render {
        workspace,
        start: &start,
        nodes: &nodes,
        shown: &shown,
        depth,
    };
    render.children(0, 1, &mut out);

    let not_shown = total - shown.iter().filter(|s| **s).count();
    if not_shown > 0 {
        out.push(format!(
            "[{not_shown} more {} not shown; raise max_items or list a subdirectory]",
            if not_shown == 1 { "entry" } else { "entries" }
        ));
    }
    if args.depth > MAX_DEPTH {
        out.push(format!(
            "[depth is at most {MAX_DEPTH}; list a subdirectory to see deeper]"
        ));
    }
    out.extend(skipped.notes());
    ToolOutput::ok(out.join("\n"))
}

/// Walks `depth + 1` levels (the last only counted, for the entry counts of directories at the
/// limit) into a tree of nodes.
fn walk(start: &Start, depth: usize, skipped: &mut Skipped) -> Vec<Node> {
    let mut nodes = vec![Node {
        name: String::new(),
        path: start.real.clone(),
        depth: 0,
        kind: Kind::Dir,
        children: Vec::new(),
        count: 0,
        hidden: Vec::new(),
    }];
    let mut dirs: HashMap<PathBuf, usize> = HashMap::from([(start.real.clone(), 0)]);
    for (walked, entry) in walker(&start.real, Some(depth + 1), true).build().enumerate() {
        if walked >= MAX_WALKED {
            skipped.stopped = true;
            break;
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                skipped.error(&e);
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let Some(&parent) = entry.path().parent().and_then(|p| dirs.get(p)) else {
            continue;
        };
        nodes[parent].count += 1;
        if entry.depth() > depth {
            continue;
        }
        let kind = Kind::of(&entry);
        let index = nodes.len();
        if kind == Kind::Dir {
            dirs.insert(entry.path().to_path_buf(), index);
        }
        nodes[parent].children.push(index);
        nodes.push(Node {
            name: text::name(entry.file_name()),
            depth: entry.depth(),
            path: entry.into_path(),
            kind,
            children: Vec::new(),
            count: 0,
            hidden: Vec::new(),
        });
    }
    nodes
}

/// Walks again without ignore rules, not descending into what the first walk did not show:
/// whatever that yields beside the shown entries is ignored; it is named under its directory.
fn find_hidden(start: &Start, depth: usize, nodes: &mut [Node]) {
    let expanded: HashMap<PathBuf, usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == Kind::Dir && n.depth < depth)
        .map(|(i, n)| (n.path.clone(), i))
        .collect();
    let visible: HashSet<PathBuf> = nodes.iter().map(|n| n.path.clone()).collect();
    let parents: Arc<HashSet<PathBuf>> = Arc::new(expanded.keys().cloned().collect());
    let mut builder = walker(&start.real, Some(depth), false);
    builder.filter_entry(move |entry| {
        not_git(entry) && (entry.depth() == 0 || entry.path().parent().is_some_and(|p| parents.contains(p)))
    });
    for entry in builder.build().take(MAX_WALKED).flatten() {
        if entry.depth() == 0 || visible.contains(entry.path()) {
            continue;
        }
        let Some(&parent) = entry.path().parent().and_then(|p| expanded.get(p)) else {
            continue;
        };
        let slash = if Kind::of(&entry) == Kind::Dir { "/" } else { "" };
        nodes[parent]
            .hidden
            .push(format!("{}{slash}", text::name(entry.file_name())));
    }
}

/// Renders the shown part of the tree.
struct Render<'a> {
    workspace: &'a Workspace,
    start: &'a Start,
    nodes: &'a [Node],
    shown: &'a [bool],
    depth: usize,
}

impl Render<'_> {
    fn children(&self, parent: usize, level: usize, out: &mut Vec<String>) {
        let indent = "  ".repeat(level);
        let node = &self.nodes[parent];
        for &child in node.children.iter().filter(|&&c| self.shown[c]) {
            out.push(format!("{indent}{}", self.label(child)));
            if self.nodes[child].kind == Kind::Dir {
                self.children(child, level + 1, out);
            }
        }
        if !node.hidden.is_empty() {
            let mut names = node
                .hidden
                .iter()
                .take(HIDDEN_NAMES)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if node.hidden.len() > HIDDEN_NAMES {
                names.push_str(&format!(", {} more", node.hidden.len() - HIDDEN_NAMES));
            }
            out.push(format!("{indent}(hidden by .gitignore: {names})"));
        }
    }

    fn label(&self, i: usize) -> String {
        let node = &self.nodes[i];
        let rel = self.start.rel(&node.path);
        match node.kind {
            Kind::Dir => {
                let all_shown = node.children.iter().all(|&c| self.shown[c]);
                if node.count == 0 && node.hidden.is_empty() {
                    format!("{}/ (empty)", node.name)
                } else if node.depth >= self.depth || !all_shown {
                    format!("{}/ ({})", node.name, plural(node.count, "entry", "entries"))
                } else {
                    format!("{}/", node.name)
                }
            }
            Kind::File => format!("{} ({})", node.name, describe_file(self.workspace, &rel)),
            Kind::Link => {
                let target = std::fs::read_link(&node.path)
                    .map(|t| text::name(t.as_os_str()))
                    .unwrap_or_default();
                match Target::of(self.workspace, &rel) {
                    Target::File => format!("{} -> {target}", node.name),
                    Target::Dir => format!("{} -> {target}/", node.name),
                    Target::Outside => format!("{} -> {target} (outside the workspace)", node.name),
                    Target::Broken => format!("{} -> {target} (broken)", node.name),
                    Target::Special => format!("{} -> {target} (special file)", node.name),
                }
            }
            Kind::Special => format!("{} (special file)", node.name),
        }
    }
}

/// `120 lines`, `binary, 2.1 MiB` or `3.4 MiB`, read through the workspace.
fn describe_file(workspace: &Workspace, rel: &Path) -> String {
    let Ok((file, meta)) = workspace.open_file(rel) else {
        return "unreadable".to_owned();
    };
    let len = meta.len();
    let limit = if len <= COUNT_LINES_BELOW {
        COUNT_LINES_BELOW
    } else {
        SNIFF_BYTES
    };
    let mut content = Vec::new();
    if file.into_std().take(limit).read_to_end(&mut content).is_err() {
        return "unreadable".to_owned();
    }
    if content.contains(&0) {
        return format!("binary, {}", text::size(len));
    }
    if len > COUNT_LINES_BELOW {
        return text::size(len);
    }
    let newlines = content.iter().filter(|&&b| b == b'\n').count();
    let lines = newlines + usize::from(content.last().is_some_and(|&b| b != b'\n'));
    plural(lines, "line", "lines")
}

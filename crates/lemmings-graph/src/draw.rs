//! Diagrams of a compiled graph: Mermaid (LangGraph's `draw_mermaid` layout) and Graphviz DOT.

use std::fmt::Write as _;

use std::collections::BTreeSet;

use crate::builder::BranchDef;
use crate::command::{END, START};
use crate::node::NodeDef;
use crate::state::State;

/// What kind of line an edge is drawn with.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EdgeKind {
    Static,
    Join,
    /// Dotted, labelled with the path-map key when it differs from the target.
    Conditional(Option<String>),
}

#[derive(Clone, Debug)]
pub(crate) struct DrawEdge {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) kind: EdgeKind,
}

/// A graph's shape, kept from the builder (nodes in the order they were added).
#[derive(Clone, Debug)]
pub(crate) struct Drawing {
    pub(crate) name: String,
    pub(crate) nodes: Vec<String>,
    pub(crate) deferred: Vec<String>,
    pub(crate) background: Vec<String>,
    pub(crate) edges: Vec<DrawEdge>,
}

impl Drawing {
    /// The edges, plus an implicit edge to END from every node with no way out (as LangGraph
    /// draws it: such a node ends its branch).
    fn edges_with_implicit_end(&self) -> Vec<DrawEdge> {
        let mut edges = self.edges.clone();
        for node in &self.nodes {
            if !self.edges.iter().any(|e| e.from == *node) {
                edges.push(DrawEdge {
                    from: node.clone(),
                    to: END.to_owned(),
                    kind: EdgeKind::Static,
                });
            }
        }
        edges
    }

    fn uses_end(&self, edges: &[DrawEdge]) -> bool {
        edges.iter().any(|e| e.to == END)
    }
}

/// A Mermaid id for a node name: ASCII letters, digits and `-` stay, `_` doubles, anything else
/// becomes `_xHEX_`, so distinct names never share an id; `end` (a Mermaid keyword) is renamed.
fn mermaid_id(name: &str) -> String {
    if name == START || name == END {
        return name.to_owned();
    }
    let mut id = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' => id.push(c),
            '_' => id.push_str("__"),
            other => {
                let _ = write!(id, "_x{:x}_", u32::from(other));
            }
        }
    }
    if id.eq_ignore_ascii_case("end") {
        format!("_{id}")
    } else {
        id
    }
}

/// A node label inside Mermaid's `("...")`: quotes become the `#quot;` entity.
fn mermaid_label(name: &str) -> String {
    name.replace('"', "#quot;")
}

pub(crate) fn mermaid(drawing: &Drawing) -> String {
    let edges = drawing.edges_with_implicit_end();
    let mut out = String::from("---\nconfig:\n  flowchart:\n    curve: linear\n---\ngraph TD;\n");
    let _ = writeln!(out, "\t{START}([<p>{START}</p>]):::first");
    for node in &drawing.nodes {
        let id = mermaid_id(node);
        let note = if drawing.deferred.contains(node) {
            " (deferred)"
        } else if drawing.background.contains(node) {
            " (background)"
        } else {
            ""
        };
        if id == *node && note.is_empty() {
            let _ = writeln!(out, "\t{id}({node})");
        } else {
            let _ = writeln!(out, "\t{id}(\"{}{note}\")", mermaid_label(node));
        }
    }
    if drawing.uses_end(&edges) {
        let _ = writeln!(out, "\t{END}([<p>{END}</p>]):::last");
    }
    for edge in &edges {
        let (from, to) = (mermaid_id(&edge.from), mermaid_id(&edge.to));
        let _ = match &edge.kind {
            EdgeKind::Static => writeln!(out, "\t{from} --> {to};"),
            EdgeKind::Join => writeln!(out, "\t{from} ==> {to};"),
            EdgeKind::Conditional(None) => writeln!(out, "\t{from} -.-> {to};"),
            EdgeKind::Conditional(Some(label)) => writeln!(out, "\t{from} -. &nbsp;{label}&nbsp; .-> {to};"),
        };
    }
    out.push_str("\tclassDef default fill:#f2f0ff,line-height:1.2\n");
    out.push_str("\tclassDef first fill-opacity:0\n");
    out.push_str("\tclassDef last fill:#bfb6fc\n");
    out
}

fn dot_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

pub(crate) fn dot(drawing: &Drawing) -> String {
    let edges = drawing.edges_with_implicit_end();
    let mut out = format!("digraph {} {{\n\trankdir=TB;\n", dot_quote(&drawing.name));
    let _ = writeln!(out, "\t{} [shape=oval, style=dashed];", dot_quote(START));
    for node in &drawing.nodes {
        let style = if drawing.deferred.contains(node) {
            ", style=dashed, xlabel=\"deferred\""
        } else if drawing.background.contains(node) {
            ", style=dashed, xlabel=\"background\""
        } else {
            ""
        };
        let _ = writeln!(out, "\t{} [shape=box{style}];", dot_quote(node));
    }
    if drawing.uses_end(&edges) {
        let _ = writeln!(
            out,
            "\t{} [shape=oval, style=filled, fillcolor=\"#bfb6fc\"];",
            dot_quote(END)
        );
    }
    for edge in &edges {
        let attributes = match &edge.kind {
            EdgeKind::Static => String::new(),
            EdgeKind::Join => " [style=bold]".to_owned(),
            EdgeKind::Conditional(None) => " [style=dotted]".to_owned(),
            EdgeKind::Conditional(Some(label)) => format!(" [style=dotted, label={}]", dot_quote(label)),
        };
        let _ = writeln!(
            out,
            "\t{} -> {}{attributes};",
            dot_quote(&edge.from),
            dot_quote(&edge.to)
        );
    }
    out.push_str("}\n");
    out
}

impl Drawing {
    /// The drawing of a graph as built: every kind of edge, in the order added.
    pub(crate) fn from_builder<S: State>(
        name: &str,
        nodes: &[NodeDef<S>],
        edges: &[(String, String)],
        joins: &[(Vec<String>, String)],
        branches: &[BranchDef<S>],
    ) -> Drawing {
        let mut draw_edges = Vec::new();
        for (from, to) in edges {
            draw_edges.push(DrawEdge {
                from: from.clone(),
                to: to.clone(),
                kind: EdgeKind::Static,
            });
        }
        for (sources, to) in joins {
            for from in sources {
                draw_edges.push(DrawEdge {
                    from: from.clone(),
                    to: to.clone(),
                    kind: EdgeKind::Join,
                });
            }
        }
        for branch in branches {
            match &branch.path_map {
                Some(map) => {
                    for (key, to) in map {
                        let label = (key != to).then(|| key.clone());
                        draw_edges.push(DrawEdge {
                            from: branch.source.clone(),
                            to: to.clone(),
                            kind: EdgeKind::Conditional(label),
                        });
                    }
                }
                // Without a path map the router may return any other node or END (LangGraph
                // draws the same, leaving out the source itself).
                None => {
                    for node in nodes.iter().filter(|n| *n.name != *branch.source) {
                        draw_edges.push(DrawEdge {
                            from: branch.source.clone(),
                            to: node.name.to_string(),
                            kind: EdgeKind::Conditional(None),
                        });
                    }
                    draw_edges.push(DrawEdge {
                        from: branch.source.clone(),
                        to: END.to_owned(),
                        kind: EdgeKind::Conditional(None),
                    });
                }
            }
        }
        for node in nodes {
            for to in &node.options.destinations {
                draw_edges.push(DrawEdge {
                    from: node.name.to_string(),
                    to: to.clone(),
                    kind: EdgeKind::Conditional(None),
                });
            }
        }
        let mut seen = BTreeSet::new();
        draw_edges.retain(|e| seen.insert((e.from.clone(), e.to.clone(), e.kind.clone())));
        Drawing {
            name: name.to_owned(),
            nodes: nodes.iter().map(|n| n.name.to_string()).collect(),
            deferred: nodes
                .iter()
                .filter(|n| n.options.defer)
                .map(|n| n.name.to_string())
                .collect(),
            background: nodes
                .iter()
                .filter(|n| n.options.background)
                .map(|n| n.name.to_string())
                .collect(),
            edges: draw_edges,
        }
    }
}

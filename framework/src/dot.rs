//! Graphviz rendering of a checked graph (`sluice dot`).

use crate::check::Plan;
use crate::ports::PortKind;
use std::fmt::Write;

/// The graph in Graphviz `dot` syntax: one box per element (`name :: Class`), one edge per
/// connection labelled with its ports; pull connections are dashed.
pub fn to_dot(plan: &Plan) -> String {
    let mut s = String::from("digraph sluice {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
    for (i, e) in plan.graph.elements.iter().enumerate() {
        let _ = writeln!(s, "  n{i} [label=\"{} :: {}\"];", escape(&e.name), escape(&e.class));
    }
    for (from, ports) in plan.out_edges.iter().enumerate() {
        for (fp, targets) in ports.iter().enumerate() {
            for &(to, tp) in targets {
                let style = if plan.outputs[from][fp] == PortKind::Pull { ", style=dashed" } else { "" };
                let _ = writeln!(s, "  n{from} -> n{to} [taillabel=\"{fp}\", headlabel=\"{tp}\"{style}];");
            }
        }
    }
    s.push_str("}\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

//! From configuration text to a checked [`Plan`]: parse, then check against a registry.

use crate::check::{check, Plan};
use crate::error::GraphErrors;
use crate::lang;
use crate::registry::Registry;
use std::path::Path;

/// Parse and check the graph file at `path` with command-line `defines`.
pub fn plan_file(path: &Path, defines: &[(String, String)], registry: &Registry) -> Result<Plan, GraphErrors> {
    let graph = lang::parse_file(path, defines)?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    finish(graph, registry, base)
}

/// Parse and check configuration `text` (named `file` in messages); relative file names in
/// configurations resolve against `base_dir`.
pub fn plan_str(
    file: &str,
    text: &str,
    defines: &[(String, String)],
    registry: &Registry,
    base_dir: &Path,
) -> Result<Plan, GraphErrors> {
    let graph = lang::parse_str(file, text, defines)?;
    finish(graph, registry, base_dir)
}

fn finish(graph: crate::graph::Graph, registry: &Registry, base: &Path) -> Result<Plan, GraphErrors> {
    let mut errs = GraphErrors::default();
    for r in &graph.requirements {
        errs.push(r.loc.clone(), requirement_message(&r.args));
    }
    if !errs.is_empty() {
        return Err(errs.into_result(()).unwrap_err());
    }
    check(graph, registry, base)
}

/// Sluice has no packages or libraries to load yet: say so rather than ignore a requirement.
fn requirement_message(args: &[String]) -> String {
    match args.first().map(String::as_str) {
        Some("library") => format!(
            "cannot load library '{}': plugin libraries are not supported yet",
            args.get(1).map(String::as_str).unwrap_or("")
        ),
        Some("package") => format!("unknown package '{}'", args.get(1).map(String::as_str).unwrap_or("")),
        _ => format!("unknown requirement '{}'", args.join(" ")),
    }
}

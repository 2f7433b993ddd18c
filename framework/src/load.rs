//! From configuration text to a checked [`Plan`]: parse, then check against a registry.

use crate::check::{check, Plan};
use crate::error::GraphErrors;
use crate::lang;
use crate::registry::Registry;
use std::path::{Path, PathBuf};

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
        if let Err(msg) = require(&r.args, registry, base) {
            errs.push(r.loc.clone(), msg);
        }
    }
    if !errs.is_empty() {
        return Err(errs.into_result(()).unwrap_err());
    }
    check(graph, registry, base)
}

/// Meet one `require(...)`: `library PATH` loads a plugin library (relative paths from the
/// graph's directory); Sluice has no packages, so anything else is refused by name.
fn require(args: &[String], registry: &Registry, base: &Path) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("library") => {
            let Some(p) = args.get(1) else { return Err("require(library PATH) needs a path".into()) };
            let path = if Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
            crate::plugin::load(&path, &|name| registry.is_builtin(name)).map(|_| ())
        }
        Some("package") => Err(format!("unknown package '{}'", args.get(1).map(String::as_str).unwrap_or(""))),
        _ => Err(format!("unknown requirement '{}'", args.join(" "))),
    }
}

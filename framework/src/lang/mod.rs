//! The Click configuration language: text in, flat [`Graph`] out.
//!
//! This module reads the graph language of the Click modular router (click(5)): element
//! declarations (`name :: Class(config)`, `a, b :: Class`), connection chains with ports
//! (`a [1] -> [0] b -> c`), anonymous elements (`Class(config)` or a bare class name,
//! named `Class@N` after their 1-based position in the final element list), compound
//! element classes (`elementclass Name { $formal, KEYWORD $kw | input -> ... -> output }`,
//! with overloads `||`, synonyms `elementclass A B;`, inline `{ ... }` classes and lexical
//! scoping), `define($VAR value)` with `$VAR`/`${VAR}` substitution in configuration strings,
//! and `require(...)`. It works in stages, one module each: `lexer` (tokens with
//! locations), `parser` (statements to the `ast`), `scope` (names and classes
//! resolved into templates), `expand` (compounds instantiated, variables substituted,
//! connections traced through compound ports), with `config` handling configuration text.
//!
//! Contract: on success the [`Graph`] has every compound expanded (internal elements named
//! `outer/inner`), every variable substituted, every element with a unique name and a
//! location, and exactly the connections between primitive elements that the source
//! implies. It does not know which element classes exist, their port counts or push/pull
//! kinds: a bare word that is not a declared element becomes an anonymous element of that
//! class (Click's rule), and the checker judges it later. On failure every problem found is
//! returned as a [`GraphError`] (file:line:column, one sentence),
//! sorted by position; parsing goes on after errors where it can, and never panics.

mod ast;
mod config;
mod expand;
mod lexer;
mod parser;
mod scope;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use crate::error::{GraphError, GraphErrors, Loc};
use crate::graph::Graph;

/// Parse a configuration text. `file` is the name used in locations (`graphs/x.graph`, or `<expr>` for `-e`).
/// `defines` are command-line NAME=value assignments (override `define($NAME ...)` defaults; also usable as $NAME even without a define).
pub fn parse_str(file: &str, text: &str, defines: &[(String, String)]) -> Result<Graph, GraphErrors> {
    let file: Arc<str> = Arc::from(file);
    let mut errors = Vec::new();
    let tokens = lexer::tokenize(&file, text, &mut errors);
    let stmts = parser::parse(tokens, &mut errors);
    let (top, requirements) = scope::resolve(&stmts, Loc::new(file, 1, 1), &mut errors);
    let mut graph = expand::flatten(&top, defines, &mut errors);
    graph.requirements = requirements;
    GraphErrors(errors).into_result(graph)
}

/// Read and parse a configuration file; locations use the path as given.
/// An unreadable file is one error at `<path>:0:0` naming the file and the OS error.
pub fn parse_file(path: &Path, defines: &[(String, String)]) -> Result<Graph, GraphErrors> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&name, &text, defines),
        Err(e) => {
            let msg = format!("cannot read graph file '{name}': {e}");
            Err(GraphError::new(Loc::new(name.as_str(), 0, 0), msg).into())
        }
    }
}

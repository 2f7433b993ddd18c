//! The flat graph: what the parser produces and the checker and router consume.
//!
//! Compound elements (`elementclass`) are already expanded, `$VARIABLES` already
//! substituted. Every element has a unique name (compound internals are named
//! `outer/inner`, anonymous elements `Class@N` as in Click) and a location.

use crate::error::Loc;

/// One element declaration after expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementDecl {
    /// Unique name, e.g. `c`, `Counter@3`, `router/lookup`.
    pub name: String,
    /// Primitive class name, e.g. `Counter`.
    pub class: String,
    /// Configuration string with variables substituted, as written between the parentheses
    /// (comments removed, otherwise untouched: quotes and escapes are kept for the argument reader).
    pub config: String,
    /// Where the element was declared (for anonymous elements: where the class name is).
    pub loc: Loc,
    /// Where its configuration string starts (for argument errors).
    pub config_loc: Loc,
    /// True for elements that had no name in the source.
    pub anonymous: bool,
}

/// `from [from_port] -> [to_port] to`, indices into [`Graph::elements`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub from: usize,
    pub from_port: usize,
    pub to: usize,
    pub to_port: usize,
    /// Location of the `->` arrow.
    pub loc: Loc,
}

/// A `require(...)` statement: its words, e.g. `["package", "foo"]` or `["library", "x.so"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub args: Vec<String>,
    pub loc: Loc,
}

/// A whole parsed configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub elements: Vec<ElementDecl>,
    pub connections: Vec<Connection>,
    pub requirements: Vec<Requirement>,
}

impl Graph {
    pub fn find(&self, name: &str) -> Option<usize> {
        self.elements.iter().position(|e| e.name == name)
    }
}

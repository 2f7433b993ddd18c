//! Errors that point at a place in a graph file.
//!
//! Every problem found in a `.graph` configuration is a [`GraphError`]: a location
//! (file, line, column) and one sentence. A check collects all errors it can find into
//! [`GraphErrors`] so the user sees them together; a graph with any error never runs.

use std::fmt;
use std::sync::Arc;

/// A position in a configuration source: file name (or `<expr>` for `-e`), 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn new(file: impl Into<Arc<str>>, line: u32, col: u32) -> Self {
        Loc { file: file.into(), line, col }
    }

    /// A location for things that come from no file (command line, built-in).
    pub fn none() -> Self {
        Loc { file: Arc::from("<unknown>"), line: 0, col: 0 }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One problem in a graph, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphError {
    pub loc: Loc,
    pub message: String,
}

impl GraphError {
    pub fn new(loc: Loc, message: impl Into<String>) -> Self {
        GraphError { loc, message: message.into() }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)
    }
}

impl std::error::Error for GraphError {}

/// All the problems found in one graph, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphErrors(pub Vec<GraphError>);

impl GraphErrors {
    pub fn push(&mut self, loc: Loc, message: impl Into<String>) {
        self.0.push(GraphError::new(loc, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = &GraphError> {
        self.0.iter()
    }
    /// `Ok(v)` when nothing was reported, else the errors sorted by position.
    pub fn into_result<T>(mut self, v: T) -> Result<T, GraphErrors> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            self.0.sort_by(|a, b| (&*a.loc.file, a.loc.line, a.loc.col).cmp(&(&*b.loc.file, b.loc.line, b.loc.col)));
            self.0.dedup();
            Err(self)
        }
    }
}

impl From<GraphError> for GraphErrors {
    fn from(e: GraphError) -> Self {
        GraphErrors(vec![e])
    }
}

impl fmt::Display for GraphErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GraphErrors {}

/// "did you mean 'X'?" for a misspelt name, when one candidate is close enough.
pub fn suggest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&wrong.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if score >= 0.82 && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["Counter", "Discard", "Queue"];
        assert_eq!(suggest("Countr", names), Some("Counter"));
        assert_eq!(suggest("Queu", names), Some("Queue"));
        assert_eq!(suggest("Zebra", names), None);
    }

    #[test]
    fn errors_sort_by_position() {
        let mut e = GraphErrors::default();
        e.push(Loc::new("a.graph", 3, 1), "later");
        e.push(Loc::new("a.graph", 1, 5), "earlier");
        let err = e.into_result(()).unwrap_err();
        assert_eq!(err.to_string(), "a.graph:1:5: earlier\na.graph:3:1: later");
    }
}

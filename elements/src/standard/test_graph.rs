//! Test helper for this group: build a small graph by hand (no parser needed) with the
//! group's classes plus the framework's `Inject`/`Collect` test elements, and run it.

use sluice::error::{GraphErrors, Loc};
use sluice::graph::{Connection, ElementDecl, Graph};
use sluice::runtime::{Router, RunOptions, Running};
use sluice::testing;

/// A graph under construction.
#[derive(Default)]
pub struct TestGraph {
    g: Graph,
}

impl TestGraph {
    pub fn new() -> Self {
        TestGraph::default()
    }

    /// Add element `name :: class(config)`; returns its index.
    pub fn add(&mut self, name: &str, class: &str, config: &str) -> usize {
        self.g.elements.push(ElementDecl {
            name: name.into(),
            class: class.into(),
            config: config.into(),
            loc: Loc::new("<test>", 1, 1),
            config_loc: Loc::new("<test>", 1, 1),
            anonymous: false,
        });
        self.g.elements.len() - 1
    }

    /// `from [from_port] -> [to_port] to`.
    pub fn connect(&mut self, from: usize, from_port: usize, to: usize, to_port: usize) -> &mut Self {
        self.g.connections.push(Connection { from, from_port, to, to_port, loc: Loc::new("<test>", 1, 1) });
        self
    }

    /// Elements connected in a line, port 0 to port 0: `[(name, class, config), ...]`.
    pub fn chain(elements: &[(&str, &str, &str)]) -> Self {
        let mut t = TestGraph::new();
        let mut prev = None;
        for (name, class, config) in elements {
            let i = t.add(name, class, config);
            if let Some(p) = prev {
                t.connect(p, 0, i, 0);
            }
            prev = Some(i);
        }
        t
    }

    /// Check the graph against this group's classes and build it on one worker.
    pub fn router(self) -> Result<Router, GraphErrors> {
        let plan = testing::plan(self.g, super::CLASSES)?;
        Router::new(plan, 1)
    }

    /// Build, run until the graph stops by itself, and return the stopped router.
    pub fn run(self) -> Router {
        self.router().unwrap_or_else(|e| panic!("graph refused: {e:?}")).run(&RunOptions::default())
    }

    /// Build and start, keeping the workers running until [`Running::stop`].
    pub fn start(self) -> Running {
        self.router()
            .unwrap_or_else(|e| panic!("graph refused: {e:?}"))
            .start(&RunOptions { workers: 1, keep_running: true })
    }
}

/// Poll `cond` every millisecond for up to five seconds.
pub fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    cond()
}

//! `PushNull` and `PullNull`: Null restricted to push or to pull.

use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// PushNull
    ///
    /// Passes packets unchanged.
    ///
    /// Responds to each pushed packet by pushing it unchanged out its first output. Like
    /// Null, but push only.
    ///
    /// Ports: 1 input, 1 output, push.
    ///
    /// # Keywords
    /// None: the configuration must be empty.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// src -> PushNull -> Discard;
    /// ```
    pub const PUSH_NULL = "PushNull" { ports: "1/1", processing: "h/h", handlers: NO_HANDLERS, build: build }
}

sluice::element_class! {
    /// PullNull
    ///
    /// Passes packets unchanged.
    ///
    /// Responds to each pull request by pulling packets from its input and returning them
    /// unchanged. Like Null, but pull only.
    ///
    /// Ports: 1 input, 1 output, pull.
    ///
    /// # Keywords
    /// None: the configuration must be empty.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// src -> Queue -> PullNull -> Unqueue -> Discard;
    /// ```
    pub const PULL_NULL = "PullNull" { ports: "1/1", processing: "l/l", handlers: NO_HANDLERS, build: build }
}

const NO_HANDLERS: &[HandlerSpec] = &[];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    sluice::args::Args::new(config).finish()?;
    Ok(Box::new(PassThrough))
}

/// The element: no state.
pub struct PassThrough;

impl Element for PassThrough {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        ctx.pull(0, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, inject, new_id, run_element};
    use sluice::Packet;

    #[test]
    fn push_null_passes_in_order() {
        let ps: Vec<Packet> = (0..100u8).map(|i| Packet::from_slice(&[i])).collect();
        let (out, _) = run_element(&PUSH_NULL, "", 1, ps).unwrap();
        assert_eq!(out[0].iter().map(|p| p.data()[0]).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
        assert!(build_elem(&PUSH_NULL, "x", 1, 1).is_err());
    }

    #[test]
    fn pull_null_passes_in_order_and_is_pull_only() {
        let (src, sink) = (new_id(), new_id());
        inject(src, (0..100u8).map(|i| Packet::from_slice(&[i])));
        TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", ""),
            ("n", "PullNull", ""),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        assert_eq!(collected(sink).iter().map(|p| p.data()[0]).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
        // Pushing into PullNull is refused when the graph is checked.
        let e = TestGraph::chain(&[("src", "Inject", "ID 1"), ("n", "PullNull", ""), ("out", "Collect", "ID 2")])
            .router()
            .err()
            .unwrap();
        assert!(format!("{e:?}").contains("pull"), "{e:?}");
    }
}

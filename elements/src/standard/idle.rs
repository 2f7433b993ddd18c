//! `Idle`: never emits a packet; discards what it is given.

use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// Idle
    ///
    /// Discards packets; never emits any.
    ///
    /// Idle never pushes a packet to any output or pulls a packet from any input. Any
    /// packet it does receive by push is discarded (and counted). A pull on any of its
    /// outputs returns nothing. Idle is often used to avoid "input not connected" errors,
    /// or to feed elements that must have an input.
    ///
    /// Click's Idle also tells downstream pullers that it is dormant; Sluice's pullers
    /// simply find nothing and report themselves idle.
    ///
    /// Ports: any number of inputs and outputs, agnostic.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — packets pushed into Idle.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// Idle -> [1]ARPQuerier(10.0.0.1, 00:01:02:03:04:05);
    /// ```
    pub const IDLE = "Idle" { ports: "-/-", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets pushed into Idle"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["pushed into Idle"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(Idle { drops: DropCounts::new(REASONS) }))
}

/// The element: only a drop counter.
pub struct Idle {
    drops: DropCounts,
}

impl Element for Idle {
    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        self.drops.count(0, batch.len() as u64);
    }

    fn pull(&mut self, _port: usize, _max: usize, _ctx: Ctx<'_>) -> Batch {
        Batch::new()
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, collected, new_id, run_config, run_element};
    use sluice::Packet;

    #[test]
    fn discards_pushed_packets() {
        let (_, router) = run_element(&IDLE, "", 0, vec![Packet::from_slice(b"a"), Packet::from_slice(b"b")]).unwrap();
        assert_eq!(router.read_handler("e", "drops").unwrap(), "2");
        assert!(build_elem(&IDLE, "1", 0, 0).is_err());
    }

    #[test]
    fn feeds_nothing_to_pushers_or_pullers() {
        let sink = new_id();
        let config = format!(
            "Idle -> q :: Queue -> Unqueue -> Collect(ID {sink}); \
             i :: Idle; i[0] -> Discard; i[1] -> Collect(ID {sink});"
        );
        run_config(&config, &crate::classes()).unwrap();
        assert!(collected(sink).is_empty());
    }
}

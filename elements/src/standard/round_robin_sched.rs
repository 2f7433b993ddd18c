//! `RoundRobinSched`: pulls from its inputs in turn.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// RoundRobinSched
    ///
    /// Pulls from round-robin inputs.
    ///
    /// Each time a pull comes in the output, pulls from its inputs in turn until one
    /// produces a packet. When the next pull comes in, it starts from the input after the
    /// one that last produced a packet. This amounts to a round robin scheduler.
    ///
    /// A pull for a batch of up to N packets makes the same choices as N pulls in a row
    /// in Click: it takes one packet at a time, each from the next input in turn that has
    /// one, so packets leave in exactly Click's order; it stops early once every input
    /// came back empty.
    ///
    /// The inputs usually come from Queues or other pull schedulers.
    ///
    /// Ports: any number of inputs, 1 output, pull.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// q0 :: Queue; q1 :: Queue;
    /// rr :: RoundRobinSched;
    /// q0 -> [0]rr; q1 -> [1]rr;
    /// rr -> Unqueue -> ToDevice(eth0);
    /// ```
    pub const ROUND_ROBIN_SCHED = "RoundRobinSched" { ports: "-/1", processing: "l/l", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(RoundRobinSched { next: 0 }))
}

/// The element: the input to try first on the next pull.
pub struct RoundRobinSched {
    next: usize,
}

impl Element for RoundRobinSched {
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let n = ctx.ninputs();
        let mut out = Batch::new();
        if n == 0 {
            return out;
        }
        let mut i = self.next % n;
        // Inputs tried in a row without a packet; a whole round of them ends the pull.
        let mut misses = 0;
        while out.len() < max && !out.is_full() && misses < n {
            let mut b = ctx.pull(i, 1);
            i = if i + 1 == n { 0 } else { i + 1 };
            match b.pop() {
                Some(p) => {
                    let _ = out.push(p);
                    misses = 0;
                    self.next = i;
                }
                None => misses += 1,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, collected, inject, new_id, run_config};
    use sluice::Packet;

    fn tagged(tag: u8, n: u8) -> Vec<Packet> {
        (0..n).map(|i| Packet::from_slice(&[tag, i])).collect()
    }

    #[test]
    fn alternates_between_inputs_like_click() {
        let (a, b, c, sink) = (new_id(), new_id(), new_id(), new_id());
        inject(a, tagged(0, 5));
        inject(b, tagged(1, 2));
        inject(c, tagged(2, 3));
        // The sources run first (the queues fill), then Unqueue pulls.
        let config = format!(
            "Inject(ID {a}) -> q0 :: Queue; Inject(ID {b}) -> q1 :: Queue; Inject(ID {c}) -> q2 :: Queue; \
             rr :: RoundRobinSched; q0 -> [0]rr; q1 -> [1]rr; q2 -> [2]rr; \
             rr -> Unqueue(BURST 64) -> Collect(ID {sink});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let got: Vec<[u8; 2]> = collected(sink).iter().map(|p| [p.data()[0], p.data()[1]]).collect();
        let want = [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1], [0, 2], [2, 2], [0, 3], [0, 4]];
        assert_eq!(got, want);
        assert!(build_elem(&ROUND_ROBIN_SCHED, "1", 1, 1).is_err());
    }
}

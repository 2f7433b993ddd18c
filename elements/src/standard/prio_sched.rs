//! `PrioSched`: pulls from its inputs in strict priority order.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// PrioSched
    ///
    /// Pulls from priority-scheduled inputs.
    ///
    /// Each time a pull comes in the output, PrioSched pulls from each of the inputs
    /// starting from input 0. The packet from the first successful pull is returned. This
    /// amounts to a strict priority scheduler.
    ///
    /// A pull for a batch of up to N packets takes as many packets as input 0 has (up to
    /// N), then fills up from input 1, and so on: the same packets, in the same order, as
    /// N pulls in a row in Click.
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
    /// high :: Queue; low :: Queue;
    /// ps :: PrioSched;
    /// high -> [0]ps; low -> [1]ps;
    /// ps -> Unqueue -> ToDevice(eth0);
    /// ```
    pub const PRIO_SCHED = "PrioSched" { ports: "-/1", processing: "l/l", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(PrioSched))
}

/// The element: no state.
pub struct PrioSched;

impl Element for PrioSched {
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut out = Batch::new();
        for i in 0..ctx.ninputs() {
            while out.len() < max && !out.is_full() {
                let b = ctx.pull(i, max - out.len());
                if b.is_empty() {
                    break;
                }
                if out.is_empty() {
                    out = b;
                } else {
                    for p in b {
                        // `max - out.len()` packets at most were asked for: they fit.
                        let _ = out.push(p);
                    }
                }
            }
            if out.len() >= max || out.is_full() {
                break;
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

    #[test]
    fn serves_input_0_first() {
        let (hi, lo, sink) = (new_id(), new_id(), new_id());
        inject(lo, (0..3u8).map(|i| Packet::from_slice(&[1, i])));
        inject(hi, (0..100u8).map(|i| Packet::from_slice(&[0, i])));
        let config = format!(
            "Inject(ID {hi}) -> h :: Queue; Inject(ID {lo}) -> l :: Queue; \
             ps :: PrioSched; h -> [0]ps; l -> [1]ps; ps -> Unqueue(BURST 40) -> Collect(ID {sink});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let got: Vec<[u8; 2]> = collected(sink).iter().map(|p| [p.data()[0], p.data()[1]]).collect();
        let mut want: Vec<[u8; 2]> = (0..100u8).map(|i| [0, i]).collect();
        want.extend((0..3u8).map(|i| [1, i]));
        assert_eq!(got, want);
        assert!(build_elem(&PRIO_SCHED, "x", 1, 1).is_err());
    }
}

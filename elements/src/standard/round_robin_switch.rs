//! `RoundRobinSwitch`: sends packets to its outputs in turn.

use super::split::Outputs;
use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// RoundRobinSwitch([MAX, KEYWORDS])
    ///
    /// Sends packets to round-robin outputs.
    ///
    /// Pushes each arriving packet to one of the N outputs. The next packet will be pushed
    /// to the following output in round-robin order. The packets of one batch leave as one
    /// batch per output, outputs in port order; each packet goes to the output Click would
    /// send it to.
    ///
    /// MAX and SPLITBATCH are FastClick's additions; a Click configuration (no arguments)
    /// uses every output.
    ///
    /// Ports: 1 input, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `MAX` — integer, positional. Use only outputs 0..MAX-1. Default (or negative):
    ///   all outputs.
    /// - `SPLITBATCH` — boolean. If false, a whole batch goes to one output and the next
    ///   batch to the next output. Default true.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// src -> rr :: RoundRobinSwitch;
    /// rr[0] -> Queue -> ToDevice(eth0);
    /// rr[1] -> Queue -> ToDevice(eth1);
    /// ```
    pub const ROUND_ROBIN_SWITCH = "RoundRobinSwitch" { ports: "1/1-", processing: "h/h", handlers: &[], build: build }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let max = args.read_p::<i64>("MAX")?.unwrap_or(-1);
    let split_batch = args.read_kw::<bool>("SPLITBATCH")?.unwrap_or(true);
    args.finish()?;
    let max = if max < 0 { ctx.noutputs } else { max as usize };
    if max == 0 || max > ctx.noutputs {
        return Err(ConfigError(format!("MAX must be between 1 and the number of outputs ({})", ctx.noutputs)));
    }
    Ok(Box::new(RoundRobinSwitch { next: 0, max, split_batch, outs: Outputs::new(ctx.noutputs) }))
}

/// The element: the next output, and one batch per output.
pub struct RoundRobinSwitch {
    next: usize,
    max: usize,
    split_batch: bool,
    outs: Outputs,
}

impl RoundRobinSwitch {
    #[inline]
    fn advance(&mut self) -> usize {
        let i = self.next;
        self.next = if i + 1 >= self.max { 0 } else { i + 1 };
        i
    }
}

impl Element for RoundRobinSwitch {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        if !self.split_batch {
            let i = self.advance();
            ctx.push(i, batch);
            return;
        }
        let (mut next, max) = (self.next, self.max);
        self.outs.route(batch, &mut ctx, |_| {
            let i = next;
            next = if i + 1 >= max { 0 } else { i + 1 };
            Some(i)
        });
        self.next = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    fn ids(v: &[Packet]) -> Vec<u8> {
        v.iter().map(|p| p.data()[0]).collect()
    }

    #[test]
    fn round_robin_across_batches() {
        let input: Vec<Packet> = (0..130u8).map(|i| Packet::from_slice(&[i])).collect();
        let (out, _) = run_element(&ROUND_ROBIN_SWITCH, "", 3, input).unwrap();
        for (port, ps) in out.iter().enumerate() {
            assert_eq!(ids(ps), (0..130u8).filter(|i| *i as usize % 3 == port).collect::<Vec<_>>());
        }
    }

    #[test]
    fn max_and_splitbatch() {
        let input: Vec<Packet> = (0..6u8).map(|i| Packet::from_slice(&[i])).collect();
        let (out, _) = run_element(&ROUND_ROBIN_SWITCH, "2", 3, input).unwrap();
        assert_eq!((ids(&out[0]), ids(&out[1]), out[2].len()), (vec![0, 2, 4], vec![1, 3, 5], 0));
        let input: Vec<Packet> = (0..6u8).map(|i| Packet::from_slice(&[i])).collect();
        let (out, _) = run_element(&ROUND_ROBIN_SWITCH, "SPLITBATCH false", 2, input).unwrap();
        assert_eq!(out[0].len() + out[1].len(), 6);
        assert!(out[0].len() == 6 || out[1].len() == 6, "one batch, one output");
        assert!(build_elem(&ROUND_ROBIN_SWITCH, "4", 1, 3).is_err());
        assert!(build_elem(&ROUND_ROBIN_SWITCH, "0", 1, 3).is_err());
    }
}

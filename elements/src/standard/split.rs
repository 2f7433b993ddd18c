//! Sending the packets of one batch to several outputs, for the switch elements.
//!
//! Click's switches push packet by packet. Sluice's pass a batch on as one batch per
//! output: each output receives its packets in their original order, outputs are served
//! in port order, and no packet is copied.

use sluice::{Batch, Ctx, Packet};

/// One reusable batch per output (the arrays come from the batch pool and go back to it
/// when pushed, so routing allocates nothing).
pub struct Outputs {
    outs: Vec<Batch>,
}

impl Outputs {
    pub fn new(n: usize) -> Self {
        Outputs { outs: (0..n).map(|_| Batch::new()).collect() }
    }

    pub fn len(&self) -> usize {
        self.outs.len()
    }

    /// Route every packet of `batch` to the output `route` picks, then push the outputs
    /// in port order. Packets routed to no existing output (`None` or a port past the
    /// last) are dropped; returns how many.
    #[inline]
    pub fn route(&mut self, batch: Batch, ctx: &mut Ctx<'_>, mut route: impl FnMut(&Packet) -> Option<usize>) -> u64 {
        let mut dropped = 0;
        for p in batch {
            match route(&p).and_then(|i| self.outs.get_mut(i)) {
                // A batch never holds more than MAX_BATCH packets, so no output overflows.
                Some(out) => {
                    let _ = out.push(p);
                }
                None => dropped += 1,
            }
        }
        self.flush(ctx);
        dropped
    }

    /// Add one packet to output `i`'s batch (the caller checked `i`), pushing that batch
    /// first if it is full.
    #[inline]
    pub fn add(&mut self, i: usize, p: Packet, ctx: &mut Ctx<'_>) {
        let out = &mut self.outs[i];
        if out.is_full() {
            ctx.push(i, std::mem::take(out));
        }
        let _ = out.push(p);
    }

    /// Push every non-empty output batch, in port order.
    #[inline]
    pub fn flush(&mut self, ctx: &mut Ctx<'_>) {
        for (i, out) in self.outs.iter_mut().enumerate() {
            if !out.is_empty() {
                ctx.push(i, std::mem::take(out));
            }
        }
    }
}

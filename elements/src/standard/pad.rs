//! `Pad`: extends packets to a minimum length.

use crate::io::{extra_length_anno, set_extra_length_anno};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// Pad([LENGTH, KEYWORDS])
    ///
    /// Extends packet length.
    ///
    /// Extends packets to at least LENGTH bytes, adding bytes at the end. If LENGTH is
    /// omitted (or 0), packets are extended by their extra length annotation instead (the
    /// bytes a capture did not keep, see FromDump and Truncate). Output packets always
    /// have extra length annotation zero.
    ///
    /// Packets are never made longer than 1 MiB: a packet whose extra length annotation
    /// asks for more (a damaged or hostile capture) is dropped and counted.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `LENGTH` — unsigned, positional. Minimum length. Default 0: use the extra length
    ///   annotation.
    /// - `ZERO` — boolean. If true, the added bytes are zero; if false, they are whatever
    ///   the packet buffer held (as in Click, possibly old data). Default true.
    ///
    /// # Handlers
    /// - `drops` (read) — packets dropped because they would exceed 1 MiB.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// // minimum Ethernet frame size without the CRC
    /// ... -> Pad(60) -> ToDevice(eth0);
    /// ```
    pub const PAD = "Pad" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets dropped because they would exceed 1 MiB"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["extra length annotation would make the packet longer than 1 MiB"];

/// Longest packet Pad makes.
pub const MAX_LENGTH: usize = 1 << 20;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let length = args.read_p::<u32>("LENGTH")?.unwrap_or(0) as usize;
    let zero = args.read_kw::<bool>("ZERO")?.unwrap_or(true);
    args.finish()?;
    if length > MAX_LENGTH {
        return Err(ConfigError(format!("LENGTH {length} is too large (at most {MAX_LENGTH})")));
    }
    Ok(Box::new(Pad { length, zero, drops: DropCounts::new(REASONS) }))
}

/// The element: the minimum length and whether to zero the new bytes.
pub struct Pad {
    length: usize,
    zero: bool,
    drops: DropCounts,
}

impl Pad {
    /// Extend one packet; false if it must be dropped.
    #[inline]
    fn pad(&self, p: &mut Packet) -> bool {
        let len = p.len();
        let nput = if self.length > 0 {
            self.length.saturating_sub(len)
        } else {
            let extra = extra_length_anno(p) as usize;
            if len.saturating_add(extra) > MAX_LENGTH {
                return false;
            }
            extra
        };
        if nput > 0 {
            p.put(nput);
            if self.zero {
                p.data_mut()[len..].fill(0);
            }
        }
        set_extra_length_anno(p, 0);
        true
    }

    #[inline]
    fn pad_batch(&mut self, batch: &mut Batch) {
        let mut dropped = 0;
        batch.retain_or(|p| self.pad(p), |_| dropped += 1);
        if dropped > 0 {
            self.drops.count(0, dropped);
        }
    }
}

impl Element for Pad {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.pad_batch(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.pad_batch(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, collected, new_id, run_config, run_element};

    #[test]
    fn pads_to_length_with_zeros() {
        let mut long = Packet::from_slice(&[7; 80]);
        set_extra_length_anno(&mut long, 5);
        let input = vec![Packet::from_slice(&[1; 10]), long];
        let (out, _) = run_element(&PAD, "60", 1, input).unwrap();
        assert_eq!(&out[0][0].data()[..10], &[1; 10]);
        assert_eq!(&out[0][0].data()[10..], &[0; 50]);
        assert_eq!(out[0][1].data(), &[7; 80]);
        assert_eq!(extra_length_anno(&out[0][1]), 0);
    }

    #[test]
    fn pads_by_extra_length_and_refuses_huge_ones() {
        let mut a = Packet::from_slice(&[1; 4]);
        set_extra_length_anno(&mut a, 6);
        let mut huge = Packet::from_slice(&[1; 4]);
        set_extra_length_anno(&mut huge, u32::MAX);
        let (out, router) = run_element(&PAD, "", 1, vec![a, huge]).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].data(), &[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "1");
        assert!(build_elem(&PAD, "LENGTH 2000000", 1, 1).is_err());
        assert!(build_elem(&PAD, "60, ZERO false", 1, 1).is_ok());
    }

    #[test]
    fn truncate_then_pad_restores_lengths_of_a_capture() {
        let (orig, back) = (new_id(), new_id());
        let path = format!("{}/snabb__v4-tcp-udp.pcap", crate::wire::PCAPS);
        let config = format!(
            "t :: Tee; FromDump(\"{path}\", STOP true) -> t; t[0] -> Collect(ID {orig}); \
             t[1] -> Truncate(40) -> Pad -> Collect(ID {back});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let (orig, back) = (collected(orig), collected(back));
        assert!(!orig.is_empty());
        for (o, b) in orig.iter().zip(&back) {
            let want = o.len() + extra_length_anno(o) as usize;
            assert_eq!(b.len(), want);
            let keep = o.len().min(40);
            assert_eq!(&b.data()[..keep], &o.data()[..keep]);
            assert!(b.data()[keep..o.len().max(keep)].iter().all(|&x| x == 0));
        }
    }
}

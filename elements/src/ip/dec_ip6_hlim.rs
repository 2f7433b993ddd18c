//! `DecIP6HLIM`: decrements the IPv6 hop limit.

use super::common::nh_offset;
use crate::wire::ipv6;
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::cell::Cell;

sluice::element_class! {
    /// DecIP6HLIM()
    ///
    /// Decrements IP6 hop limit, drops dead packets.
    ///
    /// Expects IP6 packets as input, with the network header annotation set (by
    /// CheckIP6Header). If the hop limit is 0 or 1, the packet has expired: it is sent to
    /// output 1 if that is connected (for ICMP6Error), else dropped, and counted in
    /// `drops`. Otherwise the hop limit is decremented (IPv6 has no header checksum).
    ///
    /// Packets without a network header annotation, or with fewer than 40 bytes there,
    /// are dropped and counted under their own reason (Click asserts instead).
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — expired packets (and, in Sluice, packets without an IP6 header).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> CheckIP6Header -> dh :: DecIP6HLIM -> ...;
    /// dh[1] -> ICMP6Error(...) -> ...;
    /// ```
    pub const DEC_IP6_HLIM = "DecIP6HLIM" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "expired packets"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["hop limit expired", "no IP6 header"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(DecIP6HLIM { drops: DropCounts::new(REASONS) }))
}

/// The element: its drop counters.
pub struct DecIP6HLIM {
    drops: DropCounts,
}

#[inline]
fn dec(p: &mut Packet) -> Result<(), usize> {
    let Some(off) = nh_offset(p) else { return Err(1) };
    let Some(h) = p.data_mut().get_mut(off..off + ipv6::HEADER_LEN) else { return Err(1) };
    let mut ip = ipv6::Packet::new_unchecked(h);
    if ip.hop_limit() <= 1 {
        return Err(0);
    }
    ip.set_hop_limit(ip.hop_limit() - 1);
    Ok(())
}

impl DecIP6HLIM {
    #[inline]
    fn process(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let reason = Cell::new(0);
        let mut expired = Batch::new();
        let drops = &mut self.drops;
        batch.retain_or(
            |p| dec(p).map_err(|r| reason.set(r)).is_ok(),
            |p| {
                drops.count(reason.get(), 1);
                if reason.get() == 0 {
                    let _ = expired.push(p);
                }
            },
        );
        super::common::reject(expired, ctx);
    }
}

impl Element for DecIP6HLIM {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.process(&mut batch, &mut ctx);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.process(&mut batch, &mut ctx);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use sluice::testing::run_element;

    #[test]
    fn decrements_a_capture() {
        // snabb__v6.pcap: 161 IPv6 packets; only the hop limit byte changes.
        let originals: Vec<Vec<u8>> = frames("snabb__v6.pcap").iter().map(|p| p.data().to_vec()).collect();
        let (out, r) = run_capture("snabb__v6.pcap", "CheckIP6Header(OFFSET 14) -> d :: DecIP6HLIM");
        let expired = originals.iter().filter(|o| o[21] <= 1).count() as u64;
        assert_eq!(out.len() as u64 + expired, 161);
        assert_eq!(num(&r, "d", "drops"), expired);
        let live: Vec<&Vec<u8>> = originals.iter().filter(|o| o[21] > 1).collect();
        for (p, o) in out.iter().zip(live) {
            let mut want = o[..p.len()].to_vec();
            want[21] -= 1;
            assert_eq!(p.data(), &want[..]);
        }
    }

    #[test]
    fn expired_and_unmarked() {
        let mut p = frames("snabb__v6-tcp-udp.pcap").swap_remove(0);
        p.set_network_header(14, 40);
        p.data_mut()[21] = 1;
        let (out, r) = run_element(&DEC_IP6_HLIM, "", 2, vec![p, Packet::from_slice(&[0x60; 30])]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (0, 1));
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "1 hop limit expired\n1 no IP6 header");
    }
}

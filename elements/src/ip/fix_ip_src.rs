//! `FixIPSrc`: sets the IP source address of packets marked by ICMPError.

use super::common::nh_offset;
use crate::standard::anno::AnnoByte;
use crate::wire::ipv4;
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;

sluice::element_class! {
    /// FixIPSrc(IPADDR)
    ///
    /// Sets IP source field if requested by annotation.
    ///
    /// Expects an IP packet as input. If its Fix IP Source annotation (FIX_IP_SRC, byte 19
    /// of Click's annotation area) is set, changes its IP source address field to IPADDR,
    /// clears the annotation and recomputes the header checksum. Used with ICMPError,
    /// which sets the annotation on the errors it generates, so that they leave with the
    /// address of the interface they go out on. Other packets pass unchanged.
    ///
    /// Marked packets without an IP header annotation pass unchanged (as in Click); marked
    /// packets whose header length is below 20 or beyond the packet end are dropped and
    /// counted (Click would read beyond them).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `IPADDR` — IP address, positional, mandatory.
    ///
    /// # Handlers
    /// - `drops` (read) — packets dropped (Sluice only).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> ICMPError(18.26.4.24, timeexceeded) -> ... -> FixIPSrc(18.26.4.24) -> ...
    /// ```
    pub const FIX_IP_SRC = "FixIPSrc" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["bad IP header"];

/// FIX_IP_SRC_ANNO: byte 19.
const FIX_IP_SRC_ANNO: AnnoByte = AnnoByte(19);

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let addr = args.read_mp::<Ipv4Addr>("IPADDR")?;
    args.finish()?;
    Ok(Box::new(FixIPSrc { addr, drops: DropCounts::new(REASONS) }))
}

/// The element: the address and the drop counter.
pub struct FixIPSrc {
    addr: Ipv4Addr,
    drops: DropCounts,
}

#[inline]
fn fix(addr: Ipv4Addr, p: &mut Packet) -> bool {
    if FIX_IP_SRC_ANNO.get(p) == 0 {
        return true;
    }
    let Some(nh) = nh_offset(p) else { return p.network_header_offset().is_none() };
    let Ok(mut ip) = ipv4::Packet::new_fixed(&mut p.data_mut()[nh..]) else { return false };
    let hl = ip.header_len() as usize;
    if hl < ipv4::HEADER_LEN || ip.header().len() < hl {
        return false;
    }
    ip.set_src_addr(addr);
    ip.fill_checksum();
    FIX_IP_SRC_ANNO.set(p, 0);
    true
}

impl FixIPSrc {
    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let addr = self.addr;
        let mut dropped = 0;
        batch.retain_or(|p| fix(addr, p), |_| dropped += 1);
        self.drops.count(0, dropped);
    }
}

impl Element for FixIPSrc {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.process(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.process(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{num, run_capture};

    #[test]
    fn fixes_the_errors_icmperror_marks() {
        // ICMPError marks its time exceeded messages about snabb__v4.pcap; FixIPSrc gives
        // them the outgoing interface's address with a correct checksum.
        let (out, r) = run_capture(
            "snabb__v4.pcap",
            "CheckIPHeader(14) -> ICMPError(1.1.1.1, timeexceeded) -> f :: FixIPSrc(18.26.4.24)",
        );
        assert_eq!(out.len(), 43);
        assert_eq!(num(&r, "f", "drops"), 0);
        for p in &out {
            let ip = ipv4::Packet::new_checked(p.data()).unwrap();
            assert_eq!(ip.src_addr(), Ipv4Addr::new(18, 26, 4, 24));
            assert!(ip.verify_checksum());
            assert_eq!(FIX_IP_SRC_ANNO.get(p), 0);
        }
        // Unmarked packets pass unchanged.
        let (orig, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14)");
        let (out, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> FixIPSrc(18.26.4.24)");
        assert!(out.iter().zip(&orig).all(|(a, b)| a.data() == b.data()));
    }
}

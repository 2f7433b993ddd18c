//! `CheckIP6Header`: checks IPv6 headers.

use super::common::filter;
use crate::wire::ipv6;
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv6Addr;

sluice::element_class! {
    /// CheckIP6Header([BADADDRS, OFFSET])
    ///
    /// Checks IP6 header.
    ///
    /// Input packets should have IP6 headers starting OFFSET bytes in (default 0). Checks
    /// that the packet holds the 40-byte header, that the version is 6, that the payload
    /// length does not exceed the bytes after the header, and that the source address is
    /// not one of BADADDRS (ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff is always bad).
    /// Shortens packets to the payload length (link padding), and sets the network header
    /// annotation to the IP6 header (transport header 40 bytes after it). As in Click, the
    /// destination IP annotation is left alone.
    ///
    /// Invalid packets are pushed out on output 1 if it is connected, else dropped; either
    /// way they count in `drops` (Click has one reason; Sluice tells them apart).
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `BADADDRS` — space-separated IPv6 addresses, positional. Bad source addresses, in
    ///   addition to the all-ones address. Default none.
    /// - `OFFSET` — unsigned, positional. Where the IP6 header starts. Default 0.
    ///
    /// # Handlers
    /// - `drops` (read) — packets that failed a check.
    /// - `drop_details` (read) — failed packets by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Strip(14) -> CheckIP6Header -> ...
    /// ```
    pub const CHECK_IP6_HEADER = "CheckIP6Header" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets that failed a check"),
    HandlerSpec::read("drop_details", Combine::Sum, "failed packets by reason"),
];

const REASONS: &[&str] = &["tiny packet", "bad IP6 version", "bad IP6 payload length", "bad source address"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let bad = args.read_p::<String>("BADADDRS")?;
    let offset = args.read_p::<u32>("OFFSET")?.unwrap_or(0) as usize;
    args.finish()?;
    let mut bad_src = vec![Ipv6Addr::from([0xff; 16])];
    for w in bad.as_deref().unwrap_or("").split_whitespace() {
        let a = Ipv6Addr::from_arg(w).map_err(|e| ConfigError(format!("BADADDRS: {e}")))?;
        if !bad_src.contains(&a) {
            bad_src.push(a);
        }
    }
    Ok(Box::new(CheckIP6Header { checks: Checks { offset, bad_src }, drops: DropCounts::new(REASONS) }))
}

/// The element: what to check and the counters.
pub struct CheckIP6Header {
    checks: Checks,
    drops: DropCounts,
}

struct Checks {
    offset: usize,
    bad_src: Vec<Ipv6Addr>,
}

impl Checks {
    /// Click's `CheckIP6Header::simple_action`.
    #[inline]
    fn check(&self, p: &mut Packet) -> Result<(), usize> {
        let data = p.data().get(self.offset..).unwrap_or(&[]);
        let plen = data.len();
        if plen < ipv6::HEADER_LEN {
            return Err(0);
        }
        let ip = ipv6::Packet::new_unchecked(data);
        if ip.version() != 6 {
            return Err(1);
        }
        let payload = ip.payload_len() as usize;
        if payload > plen - ipv6::HEADER_LEN {
            return Err(2);
        }
        if self.bad_src.contains(&ip.src_addr()) {
            return Err(3);
        }
        p.set_network_header(self.offset, ipv6::HEADER_LEN);
        p.take(plen - ipv6::HEADER_LEN - payload);
        Ok(())
    }
}

impl Element for CheckIP6Header {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        let c = &self.checks;
        filter(&mut batch, &mut ctx, &mut self.drops, |p| c.check(p));
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        let c = &self.checks;
        filter(&mut batch, &mut ctx, &mut self.drops, |p| c.check(p));
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
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn checks_a_capture() {
        // snabb__v6.pcap: 161 IPv6 frames; all valid.
        let (out, r) = run_capture("snabb__v6.pcap", "c :: CheckIP6Header(OFFSET 14)");
        assert_eq!(out.len(), 161);
        assert_eq!(num(&r, "c", "drops"), 0);
        for p in &out {
            let plen = u16::from_be_bytes([p.data()[18], p.data()[19]]) as usize;
            assert_eq!(p.len(), 14 + 40 + plen, "trimmed to the payload length");
            assert_eq!(p.network_header_offset(), Some(14));
            assert_eq!(p.transport_header_offset(), Some(54));
        }
        // snabb__ipv4_and_ipv6_stick_imix.pcap: 9 IPv4 and 9 IPv6 frames.
        let (out, r) = run_capture("snabb__ipv4_and_ipv6_stick_imix.pcap", "c :: CheckIP6Header(OFFSET 14)");
        assert_eq!(out.len(), 9);
        assert_eq!(
            r.read_handler("c", "drop_details").unwrap(),
            "0 tiny packet\n9 bad IP6 version\n0 bad IP6 payload length\n0 bad source address"
        );
    }

    #[test]
    fn reasons() {
        let base = frames("snabb__v6-tcp-udp.pcap").swap_remove(0);
        let src: Ipv6Addr = "3ffe:501:410:0:2c0:dfff:fe47:33e".parse().unwrap();
        let mut long = base.clone_packet();
        long.data_mut()[18] = 0x01; // payload length 256 + 40
        let mut tiny = base.clone_packet();
        tiny.take(tiny.len() - 53);
        let (out, r) = run_element(&CHECK_IP6_HEADER, &format!("{src}, 14"), 2, vec![base, long, tiny]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (0, 3));
        assert_eq!(
            r.read_handler("e", "drop_details").unwrap(),
            "1 tiny packet\n0 bad IP6 version\n1 bad IP6 payload length\n1 bad source address"
        );
        assert!(build_elem(&CHECK_IP6_HEADER, "1.2.3.4", 1, 1).is_err());
    }
}

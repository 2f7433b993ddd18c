//! `CheckUDPHeader`: checks UDP headers and checksums.

use super::common::{filter, ip_fixed, nh_offset, th_offset};
use crate::wire::{checksum, ipv4};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// CheckUDPHeader([KEYWORDS])
    ///
    /// Checks UDP header on UDP/IP packets.
    ///
    /// Expects UDP/IP packets as input, with the IP header annotation set. Checks that the
    /// UDP length field is at least 8 and that the packet holds that many bytes after the
    /// IP header, and that the UDP checksum is valid (a checksum field of 0 means no
    /// checksum and always passes). The pseudo-header uses the final destination of a
    /// source route option, as Click does.
    ///
    /// Reasons, in Click's order: no IP header or protocol not 17 (`not UDP`); UDP length
    /// below 8 or beyond the packet (`bad packet length`); checksum wrong (`bad UDP
    /// checksum`).
    ///
    /// Passes packets that pass the checks to output 0. Packets that fail go to output 1
    /// if it is connected, else they are dropped; either way they count in `drops`.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `VERBOSE` — boolean. Accepted for compatibility; Sluice never prints per packet.
    /// - `DETAILS` — boolean. Accepted for compatibility; `drop_details` always exists.
    ///
    /// # Handlers
    /// - `drops` (read) — packets that failed a check.
    /// - `drop_details` (read) — failed packets by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> CheckIPHeader -> IPClassifier(udp) -> CheckUDPHeader -> ...
    /// ```
    pub const CHECK_UDP_HEADER = "CheckUDPHeader" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets that failed a check"),
    HandlerSpec::read("drop_details", Combine::Sum, "failed packets by reason"),
];

const REASONS: &[&str] = &["not UDP", "bad packet length", "bad UDP checksum"];
const NOT_UDP: usize = 0;
const BAD_LENGTH: usize = 1;
const BAD_CHECKSUM: usize = 2;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let _ = args.read_kw::<bool>("VERBOSE")?;
    let _ = args.read_kw::<bool>("DETAILS")?;
    args.finish()?;
    Ok(Box::new(CheckUDPHeader { drops: DropCounts::new(REASONS) }))
}

/// Click's `CheckUDPHeader::simple_action` for one packet.
#[inline]
fn check(p: &Packet) -> Result<(), usize> {
    let Some(ip) = ip_fixed(p) else { return Err(NOT_UDP) };
    if ip.protocol() != ipv4::protocol::UDP {
        return Err(NOT_UDP);
    }
    let (Some(th), Some(nh)) = (th_offset(p), nh_offset(p)) else { return Err(BAD_LENGTH) };
    let udp = &p.data()[th..];
    if udp.len() < 8 {
        return Err(BAD_LENGTH);
    }
    let len = u16::from_be_bytes([udp[4], udp[5]]) as usize;
    if len < 8 || p.len() < len + ip.header_len() as usize + nh || udp.len() < len {
        return Err(BAD_LENGTH);
    }
    if udp[6..8] != [0, 0] {
        let csum = checksum::in_cksum(&udp[..len]);
        if ip.in_cksum_pseudohdr(csum, len as u32) != 0 {
            return Err(BAD_CHECKSUM);
        }
    }
    Ok(())
}

/// The element: its drop counters.
pub struct CheckUDPHeader {
    drops: DropCounts,
}

impl Element for CheckUDPHeader {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        filter(&mut batch, &mut ctx, &mut self.drops, |p| check(p));
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        filter(&mut batch, &mut ctx, &mut self.drops, |p| check(p));
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
    use sluice::testing::run_element;

    #[test]
    fn capture_datagrams_verify() {
        // tcpdump__afs.pcap: 376 unfragmented UDP datagrams with good checksums, 200 UDP
        // fragments and 25 ICMP messages. A first fragment's UDP length exceeds the packet;
        // later fragments have payload bytes where the UDP header would be, which fail
        // either the length or the checksum test.
        let (out, r) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> c :: CheckUDPHeader");
        assert_eq!(out.len(), 376);
        assert_eq!(num(&r, "c", "drops"), 225);
        let details = r.read_handler("c", "drop_details").unwrap();
        assert_eq!(details, " 25 not UDP\n184 bad packet length\n 16 bad UDP checksum");
        assert!(out.iter().all(|p| p.data()[20] & 0x3f == 0 && p.data()[21] == 0), "no fragment passes");
    }

    #[test]
    fn zero_checksum_and_reasons() {
        // snabb__ipv4_and_ipv6_stick_imix.pcap: 9 IPv4 UDP datagrams with checksum 0.
        let (out, r) = run_capture("snabb__ipv4_and_ipv6_stick_imix.pcap", "CheckIPHeader(14) -> c :: CheckUDPHeader");
        assert_eq!(out.len(), 9);
        assert_eq!(num(&r, "c", "drops"), 0);
        // A corrupted checksum and a short length field.
        let (mut good, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> CheckUDPHeader");
        assert_eq!(good.len(), 2);
        let mut a = good.remove(0);
        let mut b = good.remove(0);
        a.data_mut()[40] ^= 0x10;
        b.data_mut()[38..40].copy_from_slice(&[0, 7]);
        let (out, r) = run_element(&CHECK_UDP_HEADER, "", 1, vec![a, b, Packet::from_slice(&[1; 40])]).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "1 not UDP\n1 bad packet length\n1 bad UDP checksum");
    }
}

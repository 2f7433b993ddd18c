//! `CheckTCPHeader`: checks TCP headers and checksums.

use super::common::{filter, ip_fixed, th_offset};
use crate::wire::{checksum, ipv4};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// CheckTCPHeader([KEYWORDS])
    ///
    /// Checks TCP header on TCP/IP packets.
    ///
    /// Expects TCP/IP packets as input, with the IP header annotation set (CheckIPHeader or
    /// MarkIPHeader). Checks that the TCP header length is reasonable and that the TCP
    /// checksum is valid, with the pseudo-header built from the IP header (the final
    /// destination of a source route option, as Click's `click_in_cksum_pseudohdr`).
    /// The TCP segment is the IP total length minus the IP header length.
    ///
    /// Reasons, in Click's order: no IP header or protocol not 6 (`not TCP`); TCP header
    /// length below 20, segment shorter than the TCP header, or packet shorter than the IP
    /// total length (`bad packet length`); checksum wrong (`bad TCP checksum`).
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
    /// ... -> CheckIPHeader -> IPClassifier(tcp) -> CheckTCPHeader -> ...
    /// ```
    pub const CHECK_TCP_HEADER = "CheckTCPHeader" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets that failed a check"),
    HandlerSpec::read("drop_details", Combine::Sum, "failed packets by reason"),
];

const REASONS: &[&str] = &["not TCP", "bad packet length", "bad TCP checksum"];
const NOT_TCP: usize = 0;
const BAD_LENGTH: usize = 1;
const BAD_CHECKSUM: usize = 2;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let _ = args.read_kw::<bool>("VERBOSE")?;
    let _ = args.read_kw::<bool>("DETAILS")?;
    args.finish()?;
    Ok(Box::new(CheckTCPHeader { drops: DropCounts::new(REASONS) }))
}

/// Click's `CheckTCPHeader::simple_action` for one packet.
#[inline]
fn check(p: &Packet) -> Result<(), usize> {
    let Some(ip) = ip_fixed(p) else { return Err(NOT_TCP) };
    if ip.protocol() != ipv4::protocol::TCP {
        return Err(NOT_TCP);
    }
    let Some(th) = th_offset(p) else { return Err(BAD_LENGTH) };
    let nh = super::common::nh_offset(p).unwrap_or(0);
    let tcp = &p.data()[th..];
    let iph_len = ip.header_len() as usize;
    let len = (ip.total_len() as usize).wrapping_sub(iph_len);
    let Some(&off_byte) = tcp.get(12) else { return Err(BAD_LENGTH) };
    let tcph_len = ((off_byte >> 4) as usize) << 2;
    if tcph_len < 20 || len < tcph_len || p.len() < len.saturating_add(iph_len + nh) || tcp.len() < len {
        return Err(BAD_LENGTH);
    }
    let csum = checksum::in_cksum(&tcp[..len]);
    if ip.in_cksum_pseudohdr(csum, len as u32) != 0 {
        return Err(BAD_CHECKSUM);
    }
    Ok(())
}

/// The element: its drop counters.
pub struct CheckTCPHeader {
    drops: DropCounts,
}

impl Element for CheckTCPHeader {
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
    use crate::ip::common::test_util::{frames, num, run_capture};
    use sluice::testing::run_element;

    #[test]
    fn capture_segments_verify() {
        // snabb__v4.pcap: 41 TCP segments with correct checksums, 2 UDP datagrams.
        let (out, r) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> c :: CheckTCPHeader");
        assert_eq!(out.len(), 41);
        assert_eq!(num(&r, "c", "drops"), 2);
        assert_eq!(r.read_handler("c", "drop_details").unwrap(), "2 not TCP\n0 bad packet length\n0 bad TCP checksum");
    }

    #[test]
    fn reasons() {
        let marked = |f: &dyn Fn(&mut Packet)| {
            let mut p = frames("snabb__v4.pcap").swap_remove(0);
            p.set_network_header(14, 20);
            f(&mut p);
            p
        };
        let input = vec![
            marked(&|_| {}),
            marked(&|p| p.data_mut()[60] ^= 1),                           // checksum
            marked(&|p| p.data_mut()[46] = 0x40),                         // data offset 4
            marked(&|p| p.data_mut()[17] = p.data()[17].wrapping_add(4)), // IP length beyond
            Packet::from_slice(&[0; 60]),                                 // no IP header annotation
        ];
        let (out, r) = run_element(&CHECK_TCP_HEADER, "DETAILS true", 2, input).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (1, 4));
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "1 not TCP\n2 bad packet length\n1 bad TCP checksum");
    }
}

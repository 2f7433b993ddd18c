//! `CheckICMPHeader`: checks ICMP headers and checksums.

use super::common::{filter, ip_fixed, th_offset};
use crate::wire::icmp::msg_type;
use crate::wire::{checksum, ipv4};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// CheckICMPHeader([KEYWORDS])
    ///
    /// Checks ICMP header on ICMP packets.
    ///
    /// Expects ICMP/IP packets as input, with the IP header annotation set. Checks that
    /// the ICMP message (from the transport header to the end of the packet) is at least 8
    /// bytes long and that its checksum is valid. Error messages (unreachable, time
    /// exceeded, parameter problem, source quench, redirect) must carry at least 28 bytes
    /// of the offending datagram; timestamp and timestamp reply messages must be exactly
    /// 20 bytes; information request and reply exactly 8, as in Click.
    ///
    /// Reasons, in Click's order: no IP header or protocol not 1 (`not ICMP`); length
    /// (`bad packet length`); checksum (`bad ICMP checksum`).
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
    /// ... -> CheckIPHeader -> IPClassifier(icmp) -> CheckICMPHeader -> ...
    /// ```
    pub const CHECK_ICMP_HEADER = "CheckICMPHeader" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets that failed a check"),
    HandlerSpec::read("drop_details", Combine::Sum, "failed packets by reason"),
];

const REASONS: &[&str] = &["not ICMP", "bad packet length", "bad ICMP checksum"];
const NOT_ICMP: usize = 0;
const BAD_LENGTH: usize = 1;
const BAD_CHECKSUM: usize = 2;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let _ = args.read_kw::<bool>("VERBOSE")?;
    let _ = args.read_kw::<bool>("DETAILS")?;
    args.finish()?;
    Ok(Box::new(CheckICMPHeader { drops: DropCounts::new(REASONS) }))
}

/// Click's `CheckICMPHeader::simple_action` for one packet.
#[inline]
fn check(p: &Packet) -> Result<(), usize> {
    let Some(ip) = ip_fixed(p) else { return Err(NOT_ICMP) };
    if ip.protocol() != ipv4::protocol::ICMP {
        return Err(NOT_ICMP);
    }
    let Some(th) = th_offset(p) else { return Err(BAD_LENGTH) };
    let icmp = &p.data()[th..];
    let len = icmp.len();
    if len < 8 {
        return Err(BAD_LENGTH);
    }
    use msg_type::*;
    let ok = match icmp[0] {
        DST_UNREACHABLE | TIME_EXCEEDED | PARAM_PROBLEM | SOURCE_QUENCH | REDIRECT => len >= 8 + 28,
        TIMESTAMP | TIMESTAMP_REPLY => len == 20,
        INFO_REQUEST | INFO_REPLY => len == 8,
        _ => true,
    };
    if !ok {
        return Err(BAD_LENGTH);
    }
    if checksum::in_cksum(icmp) != 0 {
        return Err(BAD_CHECKSUM);
    }
    Ok(())
}

/// The element: its drop counters.
pub struct CheckICMPHeader {
    drops: DropCounts,
}

impl Element for CheckICMPHeader {
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
    fn capture_messages_verify() {
        // tcpdump__afs.pcap: 25 ICMP port unreachables with good checksums among 601 frames.
        let (out, r) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> c :: CheckICMPHeader");
        assert_eq!(out.len(), 25);
        assert_eq!(num(&r, "c", "drops"), 576);
        assert!(out.iter().all(|p| p.data()[34] == 3));
    }

    #[test]
    fn lengths_by_type_and_checksum() {
        let (good, _) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> CheckICMPHeader");
        let base = good[0].clone_packet();
        let mut short = base.clone_packet();
        short.take(short.len() - (34 + 8 + 27)); // unreachable with 27 bytes of datagram
        let mut bad = base.clone_packet();
        bad.data_mut()[36] ^= 1;
        let mut tstamp = base.clone_packet();
        tstamp.data_mut()[34] = msg_type::TIMESTAMP;
        let (out, r) = run_element(&CHECK_ICMP_HEADER, "", 2, vec![base, short, bad, tstamp]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (1, 3));
        assert_eq!(
            r.read_handler("e", "drop_details").unwrap(),
            "0 not ICMP\n2 bad packet length\n1 bad ICMP checksum"
        );
    }
}

//! `ICMPPingResponder`: turns ICMP echo requests into echo replies.

use super::common::{filter, ip_fixed, ip_fixed_mut, th_offset};
use crate::wire::icmp::msg_type;
use crate::wire::{checksum, ipv4};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// ICMPPingResponder()
    ///
    /// Responds to ICMP echo requests.
    ///
    /// For each ICMP echo request it receives (IP header annotation set, protocol 1, type
    /// 8, at least 8 bytes of ICMP), emits the corresponding echo reply: source and
    /// destination addresses swapped, fragment flags and offset cleared, TTL 255, ICMP type
    /// 0 and code 0, every checksum updated incrementally exactly as Click does (RFC 1624,
    /// including `click_update_zero_in_cksum`). The destination IP annotation is set to the
    /// new destination, the timestamp to now and the paint to 0. The reply reuses the
    /// request's buffer.
    ///
    /// Other packets go to output 1 if it is connected, else they are dropped, and are
    /// counted.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — packets that were not echo requests (Sluice only).
    /// - `drop_details` (read) — those packets by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> IPClassifier(icmp echo) -> ICMPPingResponder -> EtherMirror -> ...
    /// ```
    pub const ICMP_PING_RESPONDER = "ICMPPingResponder" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets that were not echo requests"),
    HandlerSpec::read("drop_details", Combine::Sum, "those packets by reason"),
];

const REASONS: &[&str] = &["not an ICMP echo request"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(ICMPPingResponder { drops: DropCounts::new(REASONS) }))
}

/// The element: its drop counter.
pub struct ICMPPingResponder {
    drops: DropCounts,
}

#[inline]
fn respond(now: u64, p: &mut Packet) -> Result<(), usize> {
    let (Some(ip), Some(th)) = (ip_fixed(p), th_offset(p)) else { return Err(0) };
    if p.len() - th < 8 || ip.protocol() != ipv4::protocol::ICMP || p.data()[th] != msg_type::ECHO_REQUEST {
        return Err(0);
    }
    let Some(mut ip) = ip_fixed_mut(p) else { return Err(0) };
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    ip.set_src_addr(dst);
    ip.set_dst_addr(src);
    let c = checksum::update(ip.checksum(), ip.flags_frag(), 0);
    ip.set_flags_frag(0);
    let old_hw = u16::from_be_bytes([ip.ttl(), ip.protocol()]);
    ip.set_ttl(255);
    let new_hw = u16::from_be_bytes([255, ip.protocol()]);
    ip.set_checksum(checksum::update(c, old_hw, new_hw));
    let icmp = &mut p.data_mut()[th..];
    let old_hw = u16::from_be_bytes([icmp[0], icmp[1]]);
    icmp[0] = msg_type::ECHO_REPLY;
    icmp[1] = 0;
    let c = checksum::update(u16::from_be_bytes([icmp[2], icmp[3]]), old_hw, 0);
    let c = checksum::update_zero(c, icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let a = p.anno_mut();
    a.dst_ip = src.octets();
    a.timestamp_ns = now;
    a.paint = 0;
    Ok(())
}

impl ICMPPingResponder {
    #[inline]
    fn process(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        filter(batch, ctx, &mut self.drops, |p| respond(now, p));
    }
}

impl Element for ICMPPingResponder {
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
    use crate::ip::common::test_util::{num, run_capture};
    use crate::wire::icmp;
    use sluice::testing::run_element;

    /// An echo request built from the first IPv4 header of snabb__v4.pcap (TTL 128) with
    /// the 32-byte Windows ping payload, DF set.
    fn echo_request() -> Packet {
        let (mut v, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14)");
        let base = v.swap_remove(0);
        let mut d = base.data()[14..34].to_vec();
        d.extend_from_slice(&[8, 0, 0, 0, 0x02, 0x00, 0x1b, 0x00]);
        d.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
        let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
        ip.set_protocol(1);
        ip.set_total_len(60);
        ip.set_flags_frag(ipv4::FLAG_DF);
        ip.fill_checksum();
        icmp::Packet::new_checked(&mut d[20..]).unwrap().fill_checksum();
        let mut p = Packet::from_slice(&d);
        p.set_network_header(0, 20);
        p.anno_mut().paint = 3;
        p
    }

    #[test]
    fn reply_is_the_request_turned_around() {
        let req = echo_request();
        let r = req.data().to_vec();
        let (out, e) = run_element(&ICMP_PING_RESPONDER, "", 1, vec![req]).unwrap();
        let q = out[0][0].data();
        assert_eq!(q.len(), r.len());
        assert_eq!(&q[12..16], &r[16..20]);
        assert_eq!(&q[16..20], &r[12..16]);
        assert_eq!((q[6], q[7], q[8]), (0, 0, 255));
        assert_eq!((q[20], q[21]), (0, 0));
        assert_eq!(&q[24..], &r[24..], "identifier, sequence and data unchanged");
        // Incremental updates equal full recomputation.
        assert!(ipv4::Packet::new_checked(q).unwrap().verify_checksum());
        assert_eq!(checksum::in_cksum(&q[20..]), 0);
        assert_eq!(out[0][0].anno().dst_ip, [r[12], r[13], r[14], r[15]]);
        assert_eq!(out[0][0].anno().paint, 0);
        assert_eq!(num(&e, "e", "drops"), 0);
    }

    #[test]
    fn other_packets_go_to_output_1() {
        // tcpdump__afs.pcap: no echo requests among 601 packets.
        let (out, r) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> p :: ICMPPingResponder");
        assert!(out.is_empty());
        assert_eq!(num(&r, "p", "drops"), 601);
        let (out, _) =
            run_element(&ICMP_PING_RESPONDER, "", 2, vec![Packet::from_slice(&[0; 10]), echo_request()]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (1, 1));
    }
}

//! Test helpers for the rewriters: real packets from the shared captures, a way to run one
//! packet through a rewriter at a chosen instant, and checksum checks from scratch.

use super::rewriter::Rewriter;
use crate::wire::checksum;
use sluice::{BuildCtx, ConfigError, Packet};
use std::time::Instant;

/// The classic HTTP capture: a client (145.254.160.237) fetching from 65.208.228.223:80
/// (source port 3372) and 216.239.59.99:80 (port 3371), plus one DNS query and answer
/// (UDP, port 3009 to 145.253.2.203:53).
pub const SNABB_V4: &str = "snabb__v4.pcap";

pub const CLIENT: [u8; 4] = [145, 254, 160, 237];
pub const SERVER: [u8; 4] = [65, 208, 228, 223];

/// The IPv4 packets of a capture in `/work/shared/data/pcaps`, Ethernet header removed,
/// network header annotation set (Click's `Strip(14) -> MarkIPHeader`).
pub fn capture(file: &str) -> Vec<Packet> {
    let (_, recs) = crate::wire::pcap_records(&format!("{}/{file}", crate::wire::PCAPS));
    recs.iter().filter(|r| r.len() >= 34 && r[12..14] == [8, 0]).map(|r| ip_packet(&r[14..])).collect()
}

/// A packet holding `bytes` with the IP header marked at offset 0.
pub fn ip_packet(bytes: &[u8]) -> Packet {
    let mut p = Packet::from_slice(bytes);
    mark(&mut p);
    p
}

/// Click's `MarkIPHeader`: network header at 0, transport header after it.
pub fn mark(p: &mut Packet) {
    let hl = ((p.data()[0] & 15) as usize * 4).min(p.len());
    p.set_network_header(0, hl);
}

/// A rewriter configured by a class's `configure` function.
pub fn rewriter(
    configure: fn(&str, &BuildCtx) -> Result<Rewriter, ConfigError>,
    config: &str,
    ninputs: usize,
    noutputs: usize,
) -> Rewriter {
    configure(config, &BuildCtx::standalone("rw", ninputs, noutputs)).unwrap_or_else(|e| panic!("{config}: {e}"))
}

/// Push one packet into `rw` on `port` at `now`: the output it goes to (`usize::MAX` for
/// dropped) and the packet as it left.
pub fn run(rw: &mut Rewriter, port: usize, mut p: Packet, now: Instant) -> (usize, Packet) {
    let out = rw.process(port, &mut p, now);
    (out, p)
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

/// The transport segment of an IP packet at offset 0 (up to the IP total length).
fn segment(ip: &[u8]) -> (usize, usize) {
    let hl = (ip[0] & 15) as usize * 4;
    (hl, (be16(ip, 2) as usize).min(ip.len()))
}

/// Recompute the IP and TCP/UDP checksums from scratch and compare with what the packet
/// holds: the IP and TCP checksums must be exactly the recomputed values; a UDP checksum
/// must verify (or be zero, "no checksum").
pub fn assert_checksums(p: &Packet) {
    let ip = p.data();
    let (hl, end) = segment(ip);
    let mut h = ip[..hl].to_vec();
    h[10..12].fill(0);
    assert_eq!(be16(ip, 10), checksum::in_cksum(&h), "IP header checksum");
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0 {
        return;
    }
    let (src, dst) = ([ip[12], ip[13], ip[14], ip[15]], [ip[16], ip[17], ip[18], ip[19]]);
    let seg = &ip[hl..end];
    let pseudo = checksum::pseudo_header_v4(src, dst, ip[9], seg.len() as u32);
    match ip[9] {
        6 => {
            let mut s = seg.to_vec();
            s[16..18].fill(0);
            let fresh = !checksum::combine(&[checksum::data(&s), pseudo]);
            assert_eq!(be16(seg, 16), fresh, "TCP checksum");
        }
        17 if be16(seg, 6) != 0 => {
            assert_eq!(checksum::combine(&[checksum::data(seg), pseudo]), 0xffff, "UDP checksum");
        }
        _ => {}
    }
}

/// Assert the packet's flow is now (saddr, sport, daddr, dport) and its checksums are right.
pub fn assert_rewritten(p: &Packet, saddr: [u8; 4], sport: u16, daddr: [u8; 4], dport: u16) {
    let ip = p.data();
    let hl = (ip[0] & 15) as usize * 4;
    assert_eq!(&ip[12..16], &saddr, "source address");
    assert_eq!(&ip[16..20], &daddr, "destination address");
    assert_eq!((be16(ip, hl), be16(ip, hl + 2)), (sport, dport), "ports");
    assert_checksums(p);
}

/// Every byte of `a` and `b` is the same except those in `changed` (offsets into the IP
/// packet), which must differ in `a` vs `b` only where the rewrite put them.
pub fn assert_same_except(a: &Packet, b: &Packet, changed: &[std::ops::Range<usize>]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.data().iter().zip(b.data()).enumerate() {
        if !changed.iter().any(|r| r.contains(&i)) {
            assert_eq!(x, y, "byte {i} changed");
        }
    }
}

/// Offsets of the fields a NAPT rewrite may change: checksums, addresses, ports.
pub fn napt_fields(p: &Packet) -> Vec<std::ops::Range<usize>> {
    let ip = p.data();
    let hl = (ip[0] & 15) as usize * 4;
    let csum = if ip[9] == 6 { hl + 16..hl + 18 } else { hl + 6..hl + 8 };
    vec![10..12, 12..20, hl..hl + 4, csum]
}

/// `p` (a server's packet to the client) as it looks on the outside of a NAT that maps the
/// client to `nat_addr:nat_port`: destination rewritten, checksums computed from scratch.
pub fn to_outside_view(p: &Packet, nat_addr: [u8; 4], nat_port: u16) -> Packet {
    let mut b = p.data().to_vec();
    let (hl, end) = segment(&b);
    b[16..20].copy_from_slice(&nat_addr);
    b[hl + 2..hl + 4].copy_from_slice(&nat_port.to_be_bytes());
    refresh_checksums(&mut b, hl, end);
    ip_packet(&b)
}

/// Recompute the IP and transport checksums of the IP packet `b` from scratch.
pub fn refresh_checksums(b: &mut [u8], hl: usize, end: usize) {
    b[10..12].fill(0);
    let c = checksum::in_cksum(&b[..hl]);
    b[10..12].copy_from_slice(&c.to_be_bytes());
    let (src, dst) = ([b[12], b[13], b[14], b[15]], [b[16], b[17], b[18], b[19]]);
    let proto = b[9];
    let at = match proto {
        6 => hl + 16,
        17 if be16(b, hl + 6) != 0 => hl + 6,
        _ => return,
    };
    if at + 2 > end.min(b.len()) {
        return;
    }
    b[at..at + 2].fill(0);
    let seg = &b[hl..end];
    let mut c =
        !checksum::combine(&[checksum::data(seg), checksum::pseudo_header_v4(src, dst, proto, seg.len() as u32)]);
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    b[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// A copy of IP packet `p` with a new source port (checksums recomputed).
pub fn with_sport(p: &Packet, sport: u16) -> Packet {
    let mut b = p.data().to_vec();
    let (hl, end) = segment(&b);
    b[hl..hl + 2].copy_from_slice(&sport.to_be_bytes());
    refresh_checksums(&mut b, hl, end);
    ip_packet(&b)
}

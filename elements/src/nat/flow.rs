//! Flow identifiers and mappings, and how a mapping rewrites a packet (Click's `IPFlowID`,
//! `IPRewriterFlow`, `TCPRewriter::TCPFlow`, `UDPRewriter::UDPFlow`, `IPAddrFlow`).
//!
//! A flow maps a flow identifier (source address and port, destination address and port)
//! to a rewritten one. It is entered in its rewriter's map twice: under the forward flow
//! identifier (direction 0) and under the reverse of the rewritten one (direction 1, the
//! reply flow). Rewriting a packet in either direction writes the addresses and ports of
//! the *other* entry, reversed, and updates the IP and TCP/UDP checksums with the
//! differences computed once when the flow was made, exactly as Click does, so the bytes
//! come out as Click's.

use crate::wire::checksum;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Instant;

/// Click's `IPFlowID`: addresses as bytes in network order, ports in host order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct FlowId {
    pub saddr: [u8; 4],
    pub sport: u16,
    pub daddr: [u8; 4],
    pub dport: u16,
}

impl FlowId {
    pub fn new(saddr: [u8; 4], sport: u16, daddr: [u8; 4], dport: u16) -> FlowId {
        FlowId { saddr, sport, daddr, dport }
    }

    /// The flow in the other direction.
    pub fn reverse(&self) -> FlowId {
        FlowId { saddr: self.daddr, sport: self.dport, daddr: self.saddr, dport: self.sport }
    }

    /// The six 16-bit words of Click's in-memory layout (saddr, daddr, sport, dport), read
    /// big-endian. One's-complement sums do not depend on byte order, so checksum
    /// differences over these words give Click's bytes.
    fn words(&self) -> [u16; 6] {
        let w = |b: [u8; 4], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        [w(self.saddr, 0), w(self.saddr, 2), w(self.daddr, 0), w(self.daddr, 2), self.sport, self.dport]
    }
}

/// Click's `IPFlowID::unparse`: `(1.0.0.1, 20, 2.0.0.2, 30)`.
impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}, {}, {})", Ipv4Addr::from(self.saddr), self.sport, Ipv4Addr::from(self.daddr), self.dport)
    }
}

/// Which of Click's flow classes a mapping is: it decides how packets are rewritten, how
/// the connection state is tracked, and which timeouts apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowKind {
    /// `TCPRewriter::TCPFlow` (IPRewriter's and TCPRewriter's TCP mappings).
    Tcp,
    /// `UDPRewriter::UDPFlow` (IPRewriter's UDP mappings, every UDPRewriter mapping).
    Udp,
    /// `IPAddrRewriter::IPAddrFlow`: addresses only.
    Addr,
}

/// TCP state bits (Click's `TCPFlow` `s_*` flags).
pub(crate) const S_FORWARD_DONE: u8 = 1;
pub(crate) const S_BOTH_DONE: u8 = 3;
pub(crate) const S_FORWARD_DATA: u8 = 4;
pub(crate) const S_BOTH_DATA: u8 = 12;

/// One mapping, both directions.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    /// `e[0]`: the forward flow identifier; `e[1]`: the reverse of the rewritten one.
    pub e: [FlowId; 2],
    /// Output port of each direction.
    pub out: [u32; 2],
    /// Which map the entries live in (IPRewriter keeps TCP and UDP apart).
    pub map: u8,
    pub kind: FlowKind,
    pub ip_delta: u16,
    pub udp_delta: u16,
    pub expiry: Instant,
    pub guaranteed: bool,
    /// Position in its heap.
    pub place: u32,
    /// Connection state: TCP flags bits, or UDP's packet/reply counter.
    pub tflags: u8,
    pub reply_anno: u8,
    /// The input whose spec made the mapping.
    pub input: u32,
    /// Creation order, for listing the table.
    pub seq: u64,
    pub live: bool,
}

impl Flow {
    /// A mapping from `flowid` to `rewritten`, with Click's checksum differences.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: FlowKind,
        map: u8,
        flowid: FlowId,
        rewritten: FlowId,
        out: [u32; 2],
        input: u32,
        guaranteed: bool,
        expiry: Instant,
    ) -> Flow {
        let (s, d) = (flowid.words(), rewritten.words());
        let mut ip_delta = 0;
        for i in 0..4 {
            ip_delta = checksum::update(ip_delta, s[i], d[i]);
        }
        let mut udp_delta = ip_delta;
        for i in 4..6 {
            udp_delta = checksum::update(udp_delta, s[i], d[i]);
        }
        Flow {
            e: [flowid, rewritten.reverse()],
            out,
            map,
            kind,
            ip_delta,
            udp_delta,
            expiry,
            guaranteed,
            place: 0,
            tflags: 0,
            reply_anno: 0,
            input,
            seq: 0,
            live: true,
        }
    }

    /// The flow identifier packets of `direction` are rewritten to.
    pub fn rewritten(&self, direction: usize) -> FlowId {
        self.e[1 - direction].reverse()
    }

    pub fn both_done(&self) -> bool {
        self.tflags & S_BOTH_DONE == S_BOTH_DONE
    }

    pub fn both_data(&self) -> bool {
        self.tflags & S_BOTH_DATA == S_BOTH_DATA
    }

    /// Click's `UDPFlow::streaming`: at least 3 packets, at least one of them a reply.
    pub fn streaming(&self) -> bool {
        self.tflags > 6
    }

    /// Rewrite `pkt` (its IP header at `nh`, transport header at `th`) travelling in
    /// `direction`. The caller checked that 20 bytes are at `nh`. Returns the address for
    /// the destination IP annotation, when this kind of flow sets it (Click's `annos & 1`);
    /// the caller sets the REPLY_ANNO byte of replies.
    pub fn apply(&mut self, pkt: &mut [u8], nh: usize, th: usize, direction: usize) -> Option<[u8; 4]> {
        match self.kind {
            FlowKind::Tcp => self.apply_tcp(pkt, nh, th, direction),
            FlowKind::Udp => self.apply_udp(pkt, nh, th, direction),
            FlowKind::Addr => self.apply_addr(pkt, nh, th, direction),
        }
    }

    /// The IP part shared by TCP and UDP flows: both addresses and the checksum.
    fn apply_ip(&self, pkt: &mut [u8], nh: usize, direction: usize) -> [u8; 4] {
        let rev = self.e[1 - direction];
        pkt[nh + 12..nh + 16].copy_from_slice(&rev.daddr);
        pkt[nh + 16..nh + 20].copy_from_slice(&rev.saddr);
        update_field(pkt, nh + 10, direction, self.ip_delta);
        rev.saddr
    }

    /// Click's `TCPRewriter::TCPFlow::apply` (with no sequence number deltas).
    fn apply_tcp(&mut self, pkt: &mut [u8], nh: usize, th: usize, direction: usize) -> Option<[u8; 4]> {
        let dst = Some(self.apply_ip(pkt, nh, direction));
        if !first_fragment(pkt, nh) || transport_len(pkt, th) < 18 {
            return dst;
        }
        let rev = self.e[1 - direction];
        pkt[th..th + 2].copy_from_slice(&rev.dport.to_be_bytes());
        pkt[th + 2..th + 4].copy_from_slice(&rev.sport.to_be_bytes());
        update_field(pkt, th + 16, direction, self.udp_delta);

        // Track the connection state.
        let ip_hl = (pkt[nh] & 0x0f) as usize;
        let th_off = (pkt[th + 12] >> 4) as usize;
        let ip_len = u16::from_be_bytes([pkt[nh + 2], pkt[nh + 3]]) as usize;
        let have_payload = ((ip_hl + th_off) << 2) < ip_len;
        let flags = pkt[th + 13];
        let bit = S_FORWARD_DONE << direction;
        if flags & TH_RST != 0 {
            self.tflags |= S_BOTH_DONE;
        } else if flags & TH_FIN != 0 {
            self.tflags |= bit;
        } else if flags & TH_SYN != 0 || have_payload {
            self.tflags &= !bit;
        }
        if have_payload {
            self.tflags |= S_FORWARD_DATA << direction;
        }
        dst
    }

    /// Click's `UDPRewriter::UDPFlow::apply`: ports at the same place for TCP and UDP.
    fn apply_udp(&mut self, pkt: &mut [u8], nh: usize, th: usize, direction: usize) -> Option<[u8; 4]> {
        let dst = Some(self.apply_ip(pkt, nh, direction));
        if !first_fragment(pkt, nh) {
            return dst;
        }
        let tlen = transport_len(pkt, th);
        if tlen >= 4 {
            // The caller guarantees 8 bytes; checked again so no write can go past the end.
            let rev = self.e[1 - direction];
            pkt[th..th + 2].copy_from_slice(&rev.dport.to_be_bytes());
            pkt[th + 2..th + 4].copy_from_slice(&rev.sport.to_be_bytes());
        }
        match pkt[nh + 9] {
            PROTO_TCP if tlen >= 18 => update_field(pkt, th + 16, direction, self.udp_delta),
            // A zero UDP checksum means "no checksum": it stays zero.
            PROTO_UDP if tlen >= 8 && pkt[th + 6..th + 8] != [0, 0] => {
                update_field(pkt, th + 6, direction, self.udp_delta)
            }
            _ => {}
        }
        if direction == 1 {
            self.tflags |= 1;
        }
        if self.tflags < 6 {
            self.tflags += 2;
        }
        dst
    }

    /// Click's `IPAddrRewriter::IPAddrFlow::apply`: the source address going out, the
    /// destination address coming back.
    fn apply_addr(&mut self, pkt: &mut [u8], nh: usize, th: usize, direction: usize) -> Option<[u8; 4]> {
        let rev = self.e[1 - direction];
        let dst = if direction == 0 {
            pkt[nh + 12..nh + 16].copy_from_slice(&rev.daddr);
            None
        } else {
            pkt[nh + 16..nh + 20].copy_from_slice(&rev.saddr);
            Some(rev.saddr)
        };
        update_field(pkt, nh + 10, direction, self.ip_delta);
        if !first_fragment(pkt, nh) {
            return dst;
        }
        let tlen = transport_len(pkt, th);
        match pkt[nh + 9] {
            PROTO_TCP if tlen >= 18 => update_field(pkt, th + 16, direction, self.udp_delta),
            PROTO_UDP if tlen >= 8 && pkt[th + 6..th + 8] != [0, 0] => {
                update_field(pkt, th + 6, direction, self.udp_delta)
            }
            _ => {}
        }
        dst
    }
}

pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_DCCP: u8 = 33;
const TH_FIN: u8 = 0x01;
const TH_SYN: u8 = 0x02;
const TH_RST: u8 = 0x04;

/// Click's `IP_FIRSTFRAG`: fragment offset zero.
#[inline]
pub(crate) fn first_fragment(pkt: &[u8], nh: usize) -> bool {
    u16::from_be_bytes([pkt[nh + 6], pkt[nh + 7]]) & 0x1fff == 0
}

/// Click's `transport_length()`: bytes from the transport header to the end (0 when the
/// transport header lies past the end).
#[inline]
pub(crate) fn transport_len(pkt: &[u8], th: usize) -> usize {
    pkt.len().saturating_sub(th)
}

/// Click's `IPRewriterFlow::update_csum` on the checksum field at `at`: add the difference
/// going forward, subtract it coming back.
#[inline]
fn update_field(pkt: &mut [u8], at: usize, direction: usize, delta: u16) {
    if delta == 0 {
        return;
    }
    let csum = u16::from_be_bytes([pkt[at], pkt[at + 1]]);
    let d = if direction == 1 { delta } else { !delta };
    pkt[at..at + 2].copy_from_slice(&checksum::update(csum, 0, d).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_ids_print_and_reverse_as_click_does() {
        let f = FlowId::new([1, 0, 0, 1], 20, [2, 0, 0, 2], 30);
        assert_eq!(f.to_string(), "(1.0.0.1, 20, 2.0.0.2, 30)");
        assert_eq!(f.reverse().to_string(), "(2.0.0.2, 30, 1.0.0.1, 20)");
        assert_eq!(f.reverse().reverse(), f);
    }

    #[test]
    fn unchanged_flows_have_no_checksum_difference() {
        let f = FlowId::new([10, 0, 0, 1], 1234, [10, 0, 0, 2], 80);
        let m = Flow::new(FlowKind::Tcp, 0, f, f, [0, 1], 0, false, Instant::now());
        assert_eq!((m.ip_delta, m.udp_delta), (0, 0));
        assert_eq!(m.rewritten(0), f);
        assert_eq!(m.rewritten(1), f.reverse());
    }
}

//! `UDPIPEncap`: puts UDP and IPv4 headers in front of each packet.

use crate::classify::ip_pattern::PORTS;
use crate::wire::{checksum, ipv4, udp};
use sluice::args::{Args, FromArg, Word};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;

sluice::element_class! {
    /// UDPIPEncap(SRC, SPORT, DST, DPORT [, CHECKSUM])
    ///
    /// Encapsulates packets in static UDP/IP headers.
    ///
    /// Encapsulates each incoming packet in a UDP/IP packet with source address SRC,
    /// source port SPORT, destination address DST, and destination port DPORT. The UDP
    /// checksum is calculated if CHECKSUM is true; it is true by default. If DST is
    /// `DST_ANNO`, each packet's destination address annotation is the destination;
    /// otherwise the annotation is set to DST.
    ///
    /// The IP header is 20 bytes: version 4, TOS 0, no fragment bits, TTL 250, protocol
    /// 17, an IP ID counting up from 0 (one counter per element; with several workers, one
    /// per worker), and its checksum. The UDP checksum is Click's
    /// `click_in_cksum_pseudohdr` as stored by Click (a computed 0 stays 0). The IP header
    /// annotation is set to the new IP header.
    ///
    /// The UDPIPEncap element adds both a UDP header and an IP header. The Strip element
    /// can be used by the receiver to get rid of the encapsulation header.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `SRC` — IPv4 address, mandatory, positional.
    /// - `SPORT` — UDP port (number or Click's port name such as `dns`), mandatory, positional.
    /// - `DST` — IPv4 address or `DST_ANNO`, mandatory, positional.
    /// - `DPORT` — UDP port, mandatory, positional.
    /// - `CHECKSUM` — boolean, positional. Compute the UDP checksum. Default true.
    ///
    /// # Handlers
    /// - `src` (read/write) — the SRC parameter.
    /// - `sport` (read/write) — the SPORT parameter.
    /// - `dst` (read/write) — the DST parameter (`0.0.0.0` when it is DST_ANNO, as in Click).
    /// - `dport` (read/write) — the DPORT parameter.
    ///
    /// # Example
    /// ```text
    /// ... -> UDPIPEncap(1.0.0.1, 1234, 2.0.0.2, 1234) -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> ...
    /// ```
    pub const UDP_IP_ENCAP = "UDPIPEncap" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("src", Combine::First, "the source address"),
    HandlerSpec::read_write("sport", Combine::First, "the source port"),
    HandlerSpec::read_write("dst", Combine::First, "the destination address"),
    HandlerSpec::read_write("dport", Combine::First, "the destination port"),
];

/// Click's `IPPortArg(IP_PROTO_UDP)`: a number 0..65535 or one of Click's port names.
pub(crate) fn parse_port(s: &str) -> Result<u16, String> {
    if let Some((_, v)) = PORTS.iter().find(|(n, _)| *n == s) {
        return Ok(*v as u16);
    }
    u16::from_arg(s)
}

fn parse_dst(s: &str) -> Result<Option<Ipv4Addr>, String> {
    if s == "DST_ANNO" {
        Ok(None)
    } else {
        Ipv4Addr::from_arg(s).map(Some).map_err(|_| "bad DST".to_string())
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let src = args.read_mp::<Ipv4Addr>("SRC")?;
    let sport = args.read_mp::<Word>("SPORT")?;
    let dst = args.read_mp::<Word>("DST")?;
    let dport = args.read_mp::<Word>("DPORT")?;
    let cksum = args.read_p::<bool>("CHECKSUM")?.unwrap_or(true);
    args.finish()?;
    let sport = parse_port(&sport.0).map_err(|e| ConfigError(format!("SPORT: {e}")))?;
    let dport = parse_port(&dport.0).map_err(|e| ConfigError(format!("DPORT: {e}")))?;
    let dst = parse_dst(&dst.0)?;
    Ok(Box::new(UDPIPEncap { src, sport, dst, dport, cksum, id: 0 }))
}

/// The element: its addresses and ports, and the IP ID counter.
pub struct UDPIPEncap {
    src: Ipv4Addr,
    sport: u16,
    /// `None`: DST_ANNO.
    dst: Option<Ipv4Addr>,
    dport: u16,
    cksum: bool,
    id: u16,
}

impl UDPIPEncap {
    #[inline]
    fn encap(&mut self, p: &mut Packet) {
        p.push(ipv4::HEADER_LEN + udp::HEADER_LEN);
        let len = p.len();
        let dst = match self.dst {
            Some(d) => {
                p.anno_mut().dst_ip = d.octets();
                d
            }
            None => Ipv4Addr::from(p.anno().dst_ip),
        };
        let repr = ipv4::Repr {
            src_addr: self.src,
            dst_addr: dst,
            protocol: 17,
            payload_len: len - ipv4::HEADER_LEN,
            ttl: 250,
            tos: 0,
            ident: self.id,
            flags_frag: 0,
        };
        self.id = self.id.wrapping_add(1);
        let d = p.data_mut();
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut d[..ipv4::HEADER_LEN]));
        // Click's `uint16_t len = p->length() - sizeof(click_ip)` (wraps for packets
        // beyond 64 KiB, as in Click; the header is written whole regardless).
        let ulen = (len - ipv4::HEADER_LEN) as u16;
        let mut u = udp::Packet::new_unchecked(&mut d[ipv4::HEADER_LEN..ipv4::HEADER_LEN + udp::HEADER_LEN]);
        u.set_src_port(self.sport);
        u.set_dst_port(self.dport);
        u.set_len(ulen);
        u.set_checksum(0);
        if self.cksum {
            // click_in_cksum_pseudohdr(click_in_cksum(udp, len), ip, len): stored as computed.
            let covered = &d[ipv4::HEADER_LEN..ipv4::HEADER_LEN + ulen as usize];
            let c = checksum::in_cksum_pseudohdr(
                checksum::in_cksum(covered),
                self.src.octets(),
                dst.octets(),
                17,
                ulen as u32,
            );
            d[ipv4::HEADER_LEN + 6..ipv4::HEADER_LEN + 8].copy_from_slice(&c.to_be_bytes());
        }
        p.set_network_header(0, ipv4::HEADER_LEN);
    }

    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        for p in batch.iter_mut() {
            self.encap(p);
        }
    }
}

impl Element for UDPIPEncap {
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
        Some(match name {
            "src" => self.src.to_string(),
            "sport" => self.sport.to_string(),
            "dst" => self.dst.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
            "dport" => self.dport.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match name {
            "src" => self.src = Ipv4Addr::from_arg(v).map_err(|e| format!("SRC: {e}"))?,
            "sport" => self.sport = parse_port(v).map_err(|e| format!("SPORT: {e}"))?,
            "dst" => self.dst = parse_dst(v)?,
            "dport" => self.dport = parse_port(v).map_err(|e| format!("DPORT: {e}"))?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    /// An independent UDP checksum: RFC 768 sum over pseudo-header and datagram, written
    /// out word by word.
    fn rfc768(ip: &[u8]) -> u16 {
        let seg = &ip[20..];
        let mut words: Vec<u32> = Vec::new();
        for c in [&ip[12..16], &ip[16..20]] {
            words.push(u32::from(c[0]) << 8 | u32::from(c[1]));
            words.push(u32::from(c[2]) << 8 | u32::from(c[3]));
        }
        words.push(17);
        words.push(seg.len() as u32);
        for (i, c) in seg.chunks(2).enumerate() {
            if i == 3 {
                continue; // the checksum field itself
            }
            words.push(u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)));
        }
        let mut s: u32 = words.iter().sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn writes_clicks_headers() {
        let (out, _) =
            run_element(&UDP_IP_ENCAP, "1.0.0.1, 1234, 2.0.0.2, 53", 1, vec![Packet::from_slice(b"hello")]).unwrap();
        let d = out[0][0].data();
        assert_eq!(&d[..10], &[0x45, 0, 0, 33, 0, 0, 0, 0, 250, 17]);
        assert_eq!(&d[12..20], &[1, 0, 0, 1, 2, 0, 0, 2]);
        assert_eq!(checksum::in_cksum(&d[..20]), 0);
        assert_eq!(&d[20..26], &[0x04, 0xd2, 0, 53, 0, 13]);
        assert_eq!(u16::from_be_bytes([d[26], d[27]]), rfc768(d));
        assert_eq!(&d[28..], b"hello");
        assert_eq!(out[0][0].anno().dst_ip, [2, 0, 0, 2]);
        assert_eq!(out[0][0].network_header_offset(), Some(0));
    }

    #[test]
    fn checksum_off_dst_anno_and_port_names() {
        let mut p = Packet::from_slice(b"abc");
        p.anno_mut().dst_ip = [9, 8, 7, 6];
        let (out, _) = run_element(&UDP_IP_ENCAP, "1.0.0.1, dns, DST_ANNO, ntp, false", 1, vec![p]).unwrap();
        let d = out[0][0].data();
        assert_eq!(&d[16..20], &[9, 8, 7, 6]);
        assert_eq!(&d[20..28], &[0, 53, 0, 123, 0, 11, 0, 0]);
    }

    #[test]
    fn every_udp_checksum_of_a_capture_verifies() {
        // Wrap each of the 601 frames of tcpdump__afs.pcap (odd and even lengths) whole.
        let originals = frames("tcpdump__afs.pcap");
        let (out, _) = run_capture("tcpdump__afs.pcap", "UDPIPEncap(192.0.2.1, 4789, 198.51.100.2, 4789)");
        assert_eq!(out.len(), originals.len());
        for (i, (p, o)) in out.iter().zip(&originals).enumerate() {
            let d = p.data();
            assert_eq!(&d[28..], o.data());
            assert_eq!(u16::from_be_bytes([d[4], d[5]]), i as u16);
            assert_eq!(u16::from_be_bytes([d[26], d[27]]), rfc768(d), "packet {i}");
            let u = udp::Packet::new_checked(&d[20..]).unwrap();
            assert!(u.verify_checksum_v4([192, 0, 2, 1], [198, 51, 100, 2]));
        }
    }

    #[test]
    fn handlers_and_bad_configurations() {
        let mut e = build_elem(&UDP_IP_ENCAP, "1.0.0.1, 1234, DST_ANNO, 80", 1, 1).unwrap();
        assert_eq!(e.read_handler("dst").unwrap(), "0.0.0.0");
        assert_eq!(e.read_handler("sport").unwrap(), "1234");
        e.write_handler("dport", "domain").unwrap();
        assert_eq!(e.read_handler("dport").unwrap(), "53");
        e.write_handler("dst", "10.0.0.1").unwrap();
        assert_eq!(e.read_handler("dst").unwrap(), "10.0.0.1");
        assert!(e.write_handler("sport", "65536").is_err());
        for bad in [
            "1.0.0.1, 1234, 2.0.0.2",
            "1.0.0.1, 70000, 2.0.0.2, 1",
            "1.0.0.1, 1, bad, 1",
            "1.0.0.1, 1, 2.0.0.2, 1, maybe",
        ] {
            assert!(build_elem(&UDP_IP_ENCAP, bad, 1, 1).is_err(), "{bad}");
        }
    }
}

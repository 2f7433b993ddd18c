//! `IPEncap`: puts a fixed IPv4 header in front of each packet.

use crate::wire::{checksum, ipv4};
use sluice::args::{Args, FromArg, Word};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;

sluice::element_class! {
    /// IPEncap(PROTO, SRC, DST, KEYWORDS)
    ///
    /// Encapsulates packets in static IP header.
    ///
    /// Encapsulates each incoming packet in an IP packet with protocol PROTO, source
    /// address SRC, and destination address DST. This is most useful for IP-in-IP
    /// encapsulation. Its destination address annotation is also set to DST. If DST is
    /// `DST_ANNO`, the destination of each header is the packet's destination address
    /// annotation instead.
    ///
    /// The header is 20 bytes without options: version 4, TTL 250 unless TTL says
    /// otherwise, total length the packet's new length, and an IP ID counting up from 0
    /// (one counter per element; with several workers, one per worker). The header
    /// checksum is computed from a template and updated incrementally, as Click does, so
    /// the bytes are Click's. The IP header annotation is set to the new header.
    ///
    /// PROTO is a number or one of Click's protocol names (`icmp`, `igmp`, `ipip`, `tcp`,
    /// `udp`, `gre`, `dccp`, `sctp`). Click at user level also looks names up in
    /// `/etc/protocols`; Sluice knows only this table.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `PROTO` — IP protocol (number or name), mandatory, positional.
    /// - `SRC` — IPv4 address, mandatory, positional. The source address.
    /// - `DST` — IPv4 address or `DST_ANNO`, mandatory, positional.
    /// - `TTL` — byte. The time-to-live field. Default 250.
    /// - `TOS` — byte. The TOS byte. Default 0. Cannot be given with DSCP, ECT or CE.
    /// - `DSCP` — number 0..62 (Click refuses 63 too). The DSCP value. Default 0.
    /// - `ECT` — boolean or `2`. True sets the ECN bits to ECT(1) (value 1); `2` sets
    ///   them to 2. Default false.
    /// - `CE` — boolean. Sets the ECN bits to 3 (Congestion Experienced). Default false.
    /// - `DF` — boolean. Sets the Don't Fragment bit. Default false.
    ///
    /// # Handlers
    /// - `src` (read/write) — the SRC parameter.
    /// - `dst` (read/write) — the DST parameter (`DST_ANNO` when so configured).
    ///
    /// # Example
    /// ```text
    /// // IP-in-IP from 18.26.4.24 to 140.247.60.147
    /// ... -> IPEncap(4, 18.26.4.24, 140.247.60.147) -> ...
    /// ... -> IPEncap(ipip, 10.0.0.1, DST_ANNO, TTL 64, DF true) -> ...
    /// ```
    pub const IP_ENCAP = "IPEncap" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("src", Combine::First, "the source address"),
    HandlerSpec::read_write("dst", Combine::First, "the destination address, or DST_ANNO"),
];

/// Click's static table of IP protocol names (`ip_protos` in ipnameinfo.cc), those below 256.
pub(crate) const IP_PROTOCOLS: &[(&str, u8)] =
    &[("dccp", 33), ("gre", 47), ("icmp", 1), ("igmp", 2), ("ipip", 4), ("sctp", 132), ("tcp", 6), ("udp", 17)];

/// Click's `NamedIntArg(NameInfo::T_IP_PROTO)` followed by IPEncap's range check.
fn parse_proto(s: &str) -> Result<u8, String> {
    if let Some((_, v)) = IP_PROTOCOLS.iter().find(|(n, _)| *n == s) {
        return Ok(*v);
    }
    match i64::from_arg(s) {
        Ok(v) if (0..=255).contains(&v) => Ok(v as u8),
        Ok(_) => Err("bad IP protocol".into()),
        Err(e) => Err(e),
    }
}

/// DST: an address or `DST_ANNO`.
fn parse_dst(s: &str) -> Result<Option<Ipv4Addr>, String> {
    if s == "DST_ANNO" {
        Ok(None)
    } else {
        Ipv4Addr::from_arg(s).map(Some).map_err(|_| "DST argument should be IP address or 'DST_ANNO'".to_string())
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let proto = args.read_mp::<Word>("PROTO")?;
    let src = args.read_mp::<Ipv4Addr>("SRC")?;
    let dst = args.read_mp::<Word>("DST")?;
    let tos = args.read_kw::<i32>("TOS")?;
    let ttl = args.read_kw::<u8>("TTL")?.unwrap_or(250);
    let dscp = args.read_kw::<i32>("DSCP")?;
    let ect = args.read_kw::<Word>("ECT")?;
    let ce = args.read_kw::<bool>("CE")?.unwrap_or(false);
    let df = args.read_kw::<bool>("DF")?.unwrap_or(false);
    args.finish()?;
    let proto = parse_proto(&proto.0).map_err(|e| ConfigError(format!("PROTO: {e}")))?;
    let dst = parse_dst(&dst.0)?;
    let ect = match ect {
        None => 0,
        Some(w) => match bool::from_arg(&w.0) {
            Ok(b) => b as u8,
            Err(_) if w.0 == "2" => 2,
            Err(_) => return Err(ConfigError(format!("bad ECT value '{}'", w.0))),
        },
    };
    if tos.is_some() && dscp.is_some() {
        return Err("cannot set both TOS and DSCP".into());
    } else if tos.is_some() && (ect != 0 || ce) {
        return Err("cannot set both TOS and ECN bits".into());
    }
    if tos.is_some_and(|t| !(0..256).contains(&t)) {
        return Err("TOS too large; max 255".into());
    } else if dscp.is_some_and(|d| !(0..63).contains(&d)) {
        // Click's check is `dscp >= 63`, so 63 itself is refused.
        return Err("DSCP too large; max 63".into());
    }
    if ect != 0 && ce {
        return Err("can set at most one ECN option".into());
    }
    let mut tos_byte = match (tos, dscp) {
        (Some(t), _) => t as u8,
        (None, Some(d)) => (d as u8) << 2,
        (None, None) => 0,
    };
    if ect != 0 {
        tos_byte |= if ect == 1 { 1 } else { 2 };
    }
    if ce {
        tos_byte |= 3;
    }
    let mut e = IPEncap { template: [0; 20], src, dst, proto, ttl, tos: tos_byte, df, id: 0 };
    e.make_template();
    Ok(Box::new(e))
}

/// The element: its header template and the IP ID counter.
pub struct IPEncap {
    /// The header with length and ID 0 (and destination 0 for DST_ANNO), checksum set.
    template: [u8; 20],
    src: Ipv4Addr,
    /// `None`: DST_ANNO.
    dst: Option<Ipv4Addr>,
    proto: u8,
    ttl: u8,
    tos: u8,
    df: bool,
    id: u16,
}

impl IPEncap {
    fn make_template(&mut self) {
        let mut h = [0u8; 20];
        let mut ip = ipv4::Packet::new_unchecked(&mut h[..]);
        ip.set_version(4);
        ip.set_header_len(20);
        ip.set_tos(self.tos);
        ip.set_flags_frag(if self.df { 0x4000 } else { 0 });
        ip.set_ttl(self.ttl);
        ip.set_protocol(self.proto);
        ip.set_src_addr(self.src);
        ip.set_dst_addr(self.dst.unwrap_or(Ipv4Addr::UNSPECIFIED));
        ip.fill_checksum();
        self.template = h;
    }

    /// Click's `simple_action`: copy the template, then fill in destination (for
    /// DST_ANNO), length and ID, updating the checksum word by word (`update_cksum`).
    #[inline]
    fn encap(&mut self, p: &mut Packet) {
        p.push(ipv4::HEADER_LEN);
        let len = p.len() as u16;
        let id = self.id;
        self.id = self.id.wrapping_add(1);
        let anno_dst = p.anno().dst_ip;
        let h = &mut p.data_mut()[..ipv4::HEADER_LEN];
        h.copy_from_slice(&self.template);
        let mut csum = u16::from_be_bytes([h[10], h[11]]);
        let word = |h: &[u8], off: usize| u16::from_be_bytes([h[off], h[off + 1]]);
        if self.dst.is_none() {
            h[16..20].copy_from_slice(&anno_dst);
            csum = checksum::update(csum, 0, word(h, 16));
            csum = checksum::update(csum, 0, word(h, 18));
        }
        h[2..4].copy_from_slice(&len.to_be_bytes());
        h[4..6].copy_from_slice(&id.to_be_bytes());
        csum = checksum::update(csum, 0, word(h, 2));
        csum = checksum::update(csum, 0, word(h, 4));
        h[10..12].copy_from_slice(&csum.to_be_bytes());
        if let Some(d) = self.dst {
            p.anno_mut().dst_ip = d.octets();
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

impl Element for IPEncap {
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
            "dst" => self.dst.map_or_else(|| "DST_ANNO".to_string(), |d| d.to_string()),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match name {
            "src" => self.src = Ipv4Addr::from_arg(v).map_err(|e| format!("SRC: {e}"))?,
            "dst" => self.dst = parse_dst(v)?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        self.make_template();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn writes_clicks_header_bytes() {
        let (out, _) = run_element(
            &IP_ENCAP,
            "4, 18.26.4.24, 140.247.60.147",
            1,
            vec![Packet::from_slice(b"abcd"), Packet::from_slice(b"xy")],
        )
        .unwrap();
        let p = &out[0][0];
        // Version/IHL, TOS, length 24, ID 0, no flags, TTL 250, proto 4, checksum, addresses.
        let mut want =
            vec![0x45, 0, 0, 24, 0, 0, 0, 0, 250, 4, 0, 0, 18, 26, 4, 24, 140, 247, 60, 147, b'a', b'b', b'c', b'd'];
        let c = checksum::in_cksum(&want[..20]);
        want[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(p.data(), &want[..]);
        assert_eq!(p.anno().dst_ip, [140, 247, 60, 147]);
        assert_eq!(p.network_header_offset(), Some(0));
        assert_eq!(p.transport_header_offset(), Some(20));
        let q = &out[0][1];
        assert_eq!(&q.data()[2..6], &[0, 22, 0, 1]);
        assert_eq!(checksum::in_cksum(&q.data()[..20]), 0);
    }

    #[test]
    fn keywords_set_tos_ttl_df_and_dst_anno() {
        let mut p = Packet::from_slice(b"z");
        p.anno_mut().dst_ip = [10, 1, 2, 3];
        let (out, _) =
            run_element(&IP_ENCAP, "ipip, 1.0.0.1, DST_ANNO, TTL 64, DSCP 46, ECT 2, DF true", 1, vec![p]).unwrap();
        let d = out[0][0].data();
        assert_eq!(d[1], (46 << 2) | 2);
        assert_eq!(&d[6..10], &[0x40, 0, 64, 4]);
        assert_eq!(&d[16..20], &[10, 1, 2, 3]);
        assert_eq!(checksum::in_cksum(&d[..20]), 0);
        let (out, _) =
            run_element(&IP_ENCAP, "gre, 1.0.0.1, 2.0.0.2, TOS 0xb8", 1, vec![Packet::from_slice(b"")]).unwrap();
        assert_eq!(out[0][0].data()[1], 0xb8);
        assert_eq!(out[0][0].data()[9], 47);
        let (out, _) =
            run_element(&IP_ENCAP, "17, 1.0.0.1, 2.0.0.2, CE true", 1, vec![Packet::from_slice(b"")]).unwrap();
        assert_eq!(out[0][0].data()[1], 3);
    }

    #[test]
    fn every_checksum_of_a_capture_verifies_and_ids_count_up() {
        // IP-in-IP over every IPv4 packet of tcpdump__afs.pcap (601 packets, various lengths).
        let n = frames("tcpdump__afs.pcap").len();
        let (out, r) = run_capture(
            "tcpdump__afs.pcap",
            "Strip(14) -> e :: IPEncap(4, 192.0.2.1, 198.51.100.7) -> CheckIPHeader -> c :: Counter",
        );
        assert_eq!(out.len(), n);
        assert_eq!(num(&r, "c", "count"), n as u64);
        for (i, p) in out.iter().enumerate() {
            let ip = ipv4::Packet::new_checked(p.data()).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(ip.ident(), i as u16);
            assert_eq!(ip.total_len() as usize, p.len());
        }
    }

    #[test]
    fn handlers_and_bad_configurations() {
        let mut e = build_elem(&IP_ENCAP, "PROTO 4, SRC 1.2.3.4, DST DST_ANNO", 1, 1).unwrap();
        assert_eq!(e.read_handler("src").unwrap(), "1.2.3.4");
        assert_eq!(e.read_handler("dst").unwrap(), "DST_ANNO");
        e.write_handler("dst", "5.6.7.8").unwrap();
        assert_eq!(e.read_handler("dst").unwrap(), "5.6.7.8");
        assert!(e.write_handler("src", "nope").is_err());
        for bad in [
            "300, 1.1.1.1, 2.2.2.2",
            "frob, 1.1.1.1, 2.2.2.2",
            "4, 1.1.1.1, nowhere",
            "4, 1.1.1.1, 2.2.2.2, TOS 1, DSCP 1",
            "4, 1.1.1.1, 2.2.2.2, TOS 1, CE true",
            "4, 1.1.1.1, 2.2.2.2, TOS 256",
            "4, 1.1.1.1, 2.2.2.2, DSCP 63",
            "4, 1.1.1.1, 2.2.2.2, ECT 3",
            "4, 1.1.1.1, 2.2.2.2, ECT true, CE true",
            "4, 1.1.1.1",
        ] {
            assert!(build_elem(&IP_ENCAP, bad, 1, 1).is_err(), "{bad}");
        }
        assert!(build_elem(&IP_ENCAP, "4, 1.1.1.1, 2.2.2.2, DSCP 62", 1, 1).is_ok());
    }
}

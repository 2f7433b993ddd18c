//! `ICMPError`: builds ICMP error messages about the packets it receives.

use super::common::{ip_fixed, nh_offset, th_offset};
use crate::standard::anno::AnnoByte;
use crate::wire::icmp::{self, msg_type};
use crate::wire::{checksum, ipv4};
use sluice::args::{Args, FromArg, Word};
use sluice::drops::DropCounts;
use sluice::packet::PacketType;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// ICMPError(SRC, TYPE [, CODE, BADADDRS, KEYWORDS])
    ///
    /// Generates ICMP error packets.
    ///
    /// Generates an ICMP error packet, with type TYPE and code CODE, in response to each
    /// incoming IP packet; the incoming packet is consumed. The output is an IP packet
    /// from SRC to the incoming packet's source, TTL 200, TOS 0, with an IP ID from a
    /// counter shared by all ICMPError elements (as Click's static counter), containing
    /// as much of the incoming packet (from its IP header on) as fits in MTU bytes. Its
    /// destination IP annotation is set to that destination, its FIX_IP_SRC annotation to
    /// 1 (see SET_FIX_ANNO) and its timestamp to now.
    ///
    /// TYPE and CODE are numbers or Click's names (`unreachable`, `timeexceeded`,
    /// `parameterproblem`, `redirect`, `sourcequench`; codes such as `port`, `needfrag`,
    /// `transit`, `erroratptr`, `host`). TYPE must be an error type. For parameter problem
    /// with code `erroratptr`, the pointer comes from the ICMP_PARAMPROB annotation (byte
    /// 17); for redirects, the gateway is the destination IP annotation; for `needfrag`,
    /// the next-hop MTU is PMTU.
    ///
    /// Following RFC 1812 4.3.2.7, no error is generated (the packet is just consumed and
    /// counted by reason) for: packets without an IP header; ICMP error messages; packets
    /// to broadcast, multicast or BADADDRS destinations; link-level broadcasts and
    /// multicasts; invalid sources (0/8, 127/8, class E, broadcast, multicast, BADADDRS);
    /// fragments other than the first; and redirects about source-routed packets. If the
    /// incoming packet has a source route option, the reply carries the reversed route
    /// (RFC 1812 4.3.2.6), except when a parameter problem concerns that option.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `SRC` — IP address, positional, mandatory. Source of the error packets.
    /// - `TYPE` — ICMP type (number or name), positional, mandatory.
    /// - `CODE` — ICMP code (number or name), positional. Default 0.
    /// - `BADADDRS` — space-separated IP addresses, positional: this router's broadcast
    ///   addresses. Default empty.
    /// - `MTU` — unsigned. Most bytes in a generated packet. Default 576.
    /// - `PMTU` — unsigned. Next-hop MTU in "fragmentation needed" errors. Default 0.
    /// - `SET_FIX_ANNO` — boolean. Set the FIX_IP_SRC annotation. Default true.
    ///
    /// # Handlers
    /// - `src` (read/write) — the SRC address.
    /// - `mtu` (read/write) — the MTU.
    /// - `pmtu` (read/write) — the PMTU.
    /// - `drops` (read) — packets that produced no error message.
    /// - `drop_details` (read) — those packets by reason.
    ///
    /// # Example
    /// ```text
    /// dt :: DecIPTTL -> ...;
    /// dt[1] -> ICMPError(18.26.4.24, timeexceeded) -> rt;
    /// ```
    pub const ICMP_ERROR = "ICMPError" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("src", Combine::First, "source address of generated packets"),
    HandlerSpec::read_write("mtu", Combine::First, "most bytes in a generated packet"),
    HandlerSpec::read_write("pmtu", Combine::First, "next-hop MTU of needfrag errors"),
    HandlerSpec::read("drops", Combine::Sum, "packets that produced no error"),
    HandlerSpec::read("drop_details", Combine::Sum, "those packets by reason"),
];

const REASONS: &[&str] = &[
    "no IP header",
    "ICMP error message",
    "broadcast or multicast destination",
    "link-level broadcast or multicast",
    "invalid source address",
    "not the first fragment",
    "redirect for a source-routed packet",
];

/// Click's `static int id = 1` in `ICMPError::simple_action`: one counter for all.
static NEXT_ID: AtomicU16 = AtomicU16::new(1);

/// ICMP_PARAMPROB_ANNO: byte 17 of Click's annotation area.
const PARAMPROB_ANNO: AnnoByte = AnnoByte(17);
/// FIX_IP_SRC_ANNO: byte 19.
const FIX_IP_SRC_ANNO: AnnoByte = AnnoByte(19);

/// A number or one of Click's names from `names`.
fn named(what: &str, s: &str, names: &[(&str, u8)]) -> Result<u8, ConfigError> {
    if let Some((_, v)) = names.iter().find(|(n, _)| *n == s) {
        return Ok(*v);
    }
    u8::from_arg(s).map_err(|_| {
        ConfigError(format!("{what}: expected ICMP {} (integer 0..255 or name), found '{s}'", what.to_lowercase()))
    })
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let src = args.read_mp::<Ipv4Addr>("SRC")?;
    let typ = args.read_mp::<Word>("TYPE")?;
    let code = args.read_p::<Word>("CODE")?;
    let bad = args.read_p::<String>("BADADDRS")?;
    let mtu = args.read_kw::<u32>("MTU")?.unwrap_or(576);
    let pmtu = args.read_kw::<u16>("PMTU")?.unwrap_or(0);
    let fix = args.read_kw::<bool>("SET_FIX_ANNO")?.unwrap_or(true);
    args.finish()?;
    let typ = named("TYPE", &typ.0, icmp::TYPE_NAMES)?;
    if !icmp::is_error(typ) {
        return Err(ConfigError(format!("ICMP type {typ} is not an error type")));
    }
    let code = match code {
        Some(c) => named("CODE", &c.0, icmp::code_names(typ))?,
        None => 0,
    };
    let bad_addrs = match bad {
        Some(s) => super::check_ip_header::parse_addrs("BADADDRS", &s)?,
        None => Vec::new(),
    };
    Ok(Box::new(ICMPError { src, typ, code, bad_addrs, mtu, pmtu, fix, drops: DropCounts::new(REASONS) }))
}

/// The element: what to generate, and the counters.
pub struct ICMPError {
    src: Ipv4Addr,
    typ: u8,
    code: u8,
    bad_addrs: Vec<Ipv4Addr>,
    mtu: u32,
    pmtu: u16,
    fix: bool,
    drops: DropCounts,
}

/// Where a usable source route option is in an IP header: Click's `valid_source_route`.
fn source_route(header: &[u8]) -> Option<usize> {
    let mut oi = ipv4::HEADER_LEN;
    while oi < header.len() {
        let t = header[oi];
        if t == ipv4::option::NOP {
            oi += 1;
            continue;
        } else if t == ipv4::option::EOL {
            return None;
        }
        let xlen = *header.get(oi + 1)? as usize;
        if xlen < 2 || oi + xlen > header.len() {
            return None;
        }
        let ptr = header.get(oi + 2).copied().unwrap_or(0) as usize;
        if (t == ipv4::option::LSRR || t == ipv4::option::SSRR) && ptr >= 4 && ptr & 3 == 0 && ptr <= xlen + 1 {
            return Some(oi);
        }
        oi += xlen;
    }
    None
}

impl ICMPError {
    /// Click's `unicast`.
    fn unicast(&self, a: Ipv4Addr) -> bool {
        !(a.is_broadcast() || a.is_multicast() || self.bad_addrs.contains(&a))
    }

    /// Click's `valid_source`.
    fn valid_source(&self, a: Ipv4Addr) -> bool {
        let net = a.octets()[0];
        self.unicast(a) && net != 0 && net != 127 && net & 0xf0 != 0xf0
    }

    /// The error message about `p`, or the reason there is none.
    fn make(&self, p: &Packet) -> Result<Packet, usize> {
        let (Some(ip), Some(nh)) = (ip_fixed(p), nh_offset(p)) else { return Err(0) };
        let header = ip.header();
        if ip.protocol() == ipv4::protocol::ICMP {
            let icmp_bytes = th_offset(p).map_or(&[][..], |t| &p.data()[t..]);
            if icmp_bytes.len() < 4 || icmp::is_error(icmp_bytes[0]) {
                return Err(1);
            }
        }
        if !self.unicast(ip.dst_addr()) {
            return Err(2);
        }
        if matches!(p.anno().packet_type(), PacketType::Broadcast | PacketType::Multicast) {
            return Err(3);
        }
        if !self.valid_source(ip.src_addr()) {
            return Err(4);
        }
        if !ip.is_first_fragment() {
            return Err(5);
        }
        let mut sr = source_route(header);
        if let Some(o) = sr {
            if self.typ == msg_type::REDIRECT {
                return Err(6);
            }
            let ptr = PARAMPROB_ANNO.get(p) as usize;
            let olen = header[o + 1] as usize;
            if self.typ == msg_type::PARAM_PROBLEM && self.code == 0 && o <= ptr && ptr < o + olen {
                sr = None;
            }
        }

        // The new IP header, with the reversed source route if any.
        let mut opts = [0u8; 40];
        let mut hl = ipv4::HEADER_LEN;
        if let Some(o) = sr {
            let ptr = header[o + 2] as usize;
            let olen = ptr - 1;
            opts[0] = header[o];
            opts[1] = olen as u8;
            opts[2] = 4;
            opts[olen] = ipv4::option::EOL;
            let mut w = 3;
            let mut r = o + ptr - 5;
            while r >= o + 3 {
                opts[w..w + 4].copy_from_slice(&header[r..r + 4]);
                w += 4;
                r -= 4;
            }
            hl = (ipv4::HEADER_LEN + olen + 3) & !3;
        }
        let network_len = p.len() - nh;
        let room = (self.mtu as usize).saturating_sub(hl + icmp::HEADER_LEN);
        let xlen = room.min(network_len);
        let total = hl + icmp::HEADER_LEN + xlen;
        let mut q = Packet::new(total);
        let d = q.data_mut();
        d[..hl].fill(0);
        d[ipv4::HEADER_LEN..hl].copy_from_slice(&opts[..hl - ipv4::HEADER_LEN]);
        {
            let mut nip = ipv4::Packet::new_unchecked(&mut d[..hl]);
            nip.set_version(4);
            nip.set_header_len(hl as u8);
            nip.set_ident(NEXT_ID.fetch_add(1, Ordering::Relaxed));
            nip.set_ttl(200);
            nip.set_protocol(ipv4::protocol::ICMP);
            nip.set_src_addr(self.src);
            nip.set_dst_addr(ip.src_addr());
            nip.set_total_len(total as u16);
        }
        let icp = &mut d[hl..];
        icp[..8].fill(0);
        icp[0] = self.typ;
        icp[1] = self.code;
        if self.typ == msg_type::PARAM_PROBLEM && self.code == 0 {
            icp[4] = PARAMPROB_ANNO.get(p);
        }
        if self.typ == msg_type::REDIRECT {
            icp[4..8].copy_from_slice(&p.anno().dst_ip);
        }
        if self.typ == msg_type::DST_UNREACHABLE && self.code == 4 {
            icp[6..8].copy_from_slice(&self.pmtu.to_be_bytes());
        }
        icp[8..8 + xlen].copy_from_slice(&p.data()[nh..nh + xlen]);
        let c = checksum::in_cksum(&icp[..8 + xlen]);
        icp[2..4].copy_from_slice(&c.to_be_bytes());
        ipv4::Packet::new_unchecked(&mut d[..hl]).fill_checksum();
        let dst = ip.src_bytes();
        q.set_network_header(0, hl);
        let a = q.anno_mut();
        a.dst_ip = dst;
        a.timestamp_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        if self.fix {
            FIX_IP_SRC_ANNO.set(&mut q, 1);
        }
        Ok(q)
    }

    fn process(&mut self, batch: Batch) -> Batch {
        let mut out = Batch::new();
        for p in batch {
            match self.make(&p) {
                // One output per input: `out` never holds more than the input batch.
                Ok(q) => {
                    let _ = out.push(q);
                }
                Err(r) => self.drops.count(r, 1),
            }
        }
        out
    }
}

impl Element for ICMPError {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let out = self.process(batch);
        ctx.push(0, out);
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        self.process(batch)
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "src" => Some(self.src.to_string()),
            "mtu" => Some(self.mtu.to_string()),
            "pmtu" => Some(self.pmtu.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match name {
            "src" => self.src = Ipv4Addr::from_arg(v).map_err(|e| format!("src: {e}"))?,
            "mtu" => self.mtu = u32::from_arg(v).map_err(|e| format!("mtu: {e}"))?,
            "pmtu" => self.pmtu = u16::from_arg(v).map_err(|e| format!("pmtu: {e}"))?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{num, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    fn checked(file: &str) -> Vec<Packet> {
        run_capture(file, "CheckIPHeader(14)").0
    }

    #[test]
    fn time_exceeded_for_a_capture() {
        // snabb__v4.pcap: 43 packets between public unicast hosts: each gets a time
        // exceeded message quoting its IP header and data, up to 576 bytes in all.
        let input = checked("snabb__v4.pcap");
        let quoted: Vec<Vec<u8>> = input.iter().map(|p| p.data()[14..].to_vec()).collect();
        let (out, r) = run_element(&ICMP_ERROR, "18.26.4.24, timeexceeded", 1, input).unwrap();
        assert_eq!(out[0].len(), 43);
        assert_eq!(num(&r, "e", "drops"), 0);
        for (q, orig) in out[0].iter().zip(&quoted) {
            let d = q.data();
            let ip = ipv4::Packet::new_checked(d).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!((ip.version(), ip.header_len(), ip.tos(), ip.ttl(), ip.protocol()), (4, 20, 0, 200, 1));
            assert_eq!(ip.flags_frag(), 0);
            assert_eq!(ip.src_addr(), Ipv4Addr::new(18, 26, 4, 24));
            assert_eq!(ip.dst_bytes(), orig[12..16]);
            let n = orig.len().min(576 - 28);
            assert_eq!(d.len(), 28 + n);
            assert_eq!(ip.total_len() as usize, d.len());
            let m = icmp::Packet::new_checked(ip.payload()).unwrap();
            assert_eq!((m.msg_type(), m.msg_code(), m.rest_of_header()), (11, 0, [0; 4]));
            assert!(m.verify_checksum());
            assert_eq!(m.data(), &orig[..n]);
            assert_eq!(q.anno().dst_ip, ip.dst_bytes());
            assert_eq!(FIX_IP_SRC_ANNO.get(q), 1);
            assert_eq!(q.network_header_offset(), Some(0));
            assert!(q.anno().timestamp_ns > 0);
        }
        // IDs come from one increasing counter.
        let ids: Vec<u16> = out[0].iter().map(|q| u16::from_be_bytes([q.data()[4], q.data()[5]])).collect();
        assert!(ids.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn no_errors_about_errors_broadcasts_or_fragments() {
        // tcpdump__afs.pcap: 25 ICMP unreachables (errors) and 200 UDP fragments, of which
        // 46 are first fragments; the other 376 + 46 packets get an error.
        let (out, r) =
            run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> e :: ICMPError(1.2.3.4, unreachable, port)");
        let details = r.read_handler("e", "drop_details").unwrap();
        assert!(details.contains("25 ICMP error message"), "{details}");
        assert_eq!(out.len() as u64 + num(&r, "e", "drops"), 601);
        // tcpdump__vrrp.pcap: VRRP to 224.0.0.18 gets no error.
        let (out, r) = run_capture("tcpdump__vrrp.pcap", "CheckIPHeader(14) -> e :: ICMPError(1.2.3.4, 3)");
        assert!(out.is_empty());
        assert!(r.read_handler("e", "drop_details").unwrap().contains("101 broadcast or multicast destination"));
    }

    #[test]
    fn needfrag_paramprob_and_source_route() {
        let base = checked("snabb__v4.pcap").swap_remove(0);
        let (out, _) =
            run_element(&ICMP_ERROR, "1.2.3.4, unreachable, needfrag, PMTU 1400, MTU 50", 1, vec![base.clone_packet()])
                .unwrap();
        let q = &out[0][0];
        assert_eq!(q.len(), 50);
        assert_eq!(&q.data()[20..22], &[3, 4]);
        assert_eq!(&q.data()[26..28], &1400u16.to_be_bytes());
        // A packet with a loose source route 7.7.7.7, 8.8.8.8 (pointer past both).
        let mut d = base.data()[14..34].to_vec();
        d.extend_from_slice(&[ipv4::option::LSRR, 11, 12, 7, 7, 7, 7, 8, 8, 8, 8, 0]);
        d.extend_from_slice(&base.data()[34..]);
        let n = d.len() as u16;
        let mut v = ipv4::Packet::new_unchecked(&mut d[..]);
        v.set_header_len(32);
        v.set_total_len(n);
        let mut v = ipv4::Packet::new_checked(&mut d[..]).unwrap();
        v.fill_checksum();
        let mut p = Packet::from_slice(&d);
        p.set_network_header(0, 32);
        PARAMPROB_ANNO.set(&mut p, 1);
        let (out, _) = run_element(&ICMP_ERROR, "1.2.3.4, parameterproblem, erroratptr", 1, vec![p]).unwrap();
        let q = out[0][0].data();
        // Reversed route: LSRR, length 11, pointer 4, 8.8.8.8, 7.7.7.7, EOL.
        assert_eq!(&q[20..32], &[131, 11, 4, 8, 8, 8, 8, 7, 7, 7, 7, 0]);
        assert_eq!(q[0], 0x48);
        assert_eq!((q[32], q[36]), (12, 1), "parameter problem with pointer 1");
        assert!(ipv4::Packet::new_checked(q).unwrap().verify_checksum());
        assert_eq!(checksum::in_cksum(&q[32..]), 0);
    }

    #[test]
    fn config() {
        assert!(build_elem(&ICMP_ERROR, "1.2.3.4, 11", 1, 1).is_ok());
        assert!(build_elem(&ICMP_ERROR, "1.2.3.4, unreachable, host, 1.2.3.255 5.6.7.255, MTU 1500", 1, 1).is_ok());
        let e = build_elem(&ICMP_ERROR, "1.2.3.4, echo", 1, 1).err().unwrap();
        assert!(e.0.contains("not an error type"), "{e}");
        assert!(build_elem(&ICMP_ERROR, "1.2.3.4, unreachable, bogus", 1, 1).is_err());
        assert!(build_elem(&ICMP_ERROR, "1.2.3.4", 1, 1).is_err());
    }
}

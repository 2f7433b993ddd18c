//! `CheckIPHeader`: checks IPv4 headers; the shared checker behind `CheckIPHeader2`.

use super::common::filter;
use crate::wire::ipv4::{self, Problem};
use sluice::args::{Args, FromArg, Ipv4Prefix};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;

sluice::element_class! {
    /// CheckIPHeader([OFFSET, KEYWORDS])
    ///
    /// Checks IP header.
    ///
    /// Input packets should have IP headers starting OFFSET bytes in. Default OFFSET is
    /// zero. Checks that the packet's length is reasonable, and that the IP version,
    /// header length, length, and checksum fields are valid. Checks that the IP source
    /// address is a legal unicast address, or that the packet is destined for one of this
    /// machine's addresses (see below). Shortens packets to the IP length, if the IP length
    /// is shorter than the nominal packet length (due to Ethernet padding, for example).
    /// Also sets the destination IP address annotation to the actual destination IP
    /// address, and the network header annotation to the IP header (transport header
    /// after it).
    ///
    /// The tests, in Click's order, and the reason each failure is counted under:
    /// fewer than 20 bytes after OFFSET (`tiny packet`); version not 4 (`bad IP version`);
    /// header length below 20 (`bad IP header length`); total length above the bytes
    /// present or below the header length (`bad IP length`); header checksum wrong (`bad
    /// IP checksum`); source address in BADSRC while the destination is not in GOODDST
    /// (`bad source address`).
    ///
    /// CheckIPHeader emits valid packets on output 0. Invalid packets are pushed out on
    /// output 1, unless output 1 was unused; if so, drops invalid packets. Either way they
    /// are counted in `drops`, as in Click.
    ///
    /// CheckIPHeader checks packets' source addresses only if one or more of the
    /// INTERFACES, BADSRC and GOODDST keyword arguments are supplied (RFC 1812 5.3.7).
    ///
    /// The old syntax `CheckIPHeader(BADSRC2 [, OFFSET])` is accepted: the positional
    /// BADSRC2 list acts like BADSRC with 0.0.0.0 and 255.255.255.255 added, as in Click.
    ///
    /// Click prints a message the first time (or, with VERBOSE, every time) a packet fails;
    /// Sluice prints nothing on the data path: read `drop_details` instead.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `OFFSET` — unsigned, positional. Byte position at which the IP header begins.
    ///   Default 0.
    /// - `CHECKSUM` — boolean. Check each packet's header checksum. Default true.
    /// - `BADSRC` — space-separated IP addresses. Drop packets whose source address is in
    ///   this list (but see GOODDST). Default empty.
    /// - `GOODDST` — space-separated IP addresses. Packets destined to these addresses
    ///   are exempt from BADSRC. Default empty.
    /// - `INTERFACES` — space-separated `ADDR/PREFIX` values, this router's interfaces:
    ///   `INTERFACES 18.26.4.9/24 18.32.9.44/28` acts like BADSRC `18.26.4.255 18.32.9.47
    ///   0.0.0.0 255.255.255.255` and GOODDST `18.26.4.9 18.32.9.44`.
    /// - `VERBOSE` — boolean. Accepted for compatibility; Sluice never prints per packet.
    /// - `DETAILS` — boolean. Accepted for compatibility; `drop_details` always exists.
    ///
    /// # Handlers
    /// - `drops` (read) — packets that failed a check.
    /// - `drop_details` (read) — failed packets by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Strip(14) -> CheckIPHeader(INTERFACES 18.26.4.9/24) -> ...
    /// ```
    pub const CHECK_IP_HEADER = "CheckIPHeader" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

pub(crate) const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets that failed a check"),
    HandlerSpec::read("drop_details", Combine::Sum, "failed packets by reason"),
];

/// Click's reason texts, in Click's order.
pub(crate) const REASONS: &[&str] = &[
    "tiny packet",
    "bad IP version",
    "bad IP header length",
    "bad IP length",
    "bad IP checksum",
    "bad source address",
];
const TINY: usize = 0;
const BAD_VERSION: usize = 1;
const BAD_HLEN: usize = 2;
const BAD_IP_LEN: usize = 3;
const BAD_CHECKSUM: usize = 4;
const BAD_SADDR: usize = 5;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(CheckIPHeader::configure(config, true)?))
}

/// Space-separated IPv4 addresses.
pub(crate) fn parse_addrs(name: &str, s: &str) -> Result<Vec<Ipv4Addr>, ConfigError> {
    s.split_whitespace().map(|w| Ipv4Addr::from_arg(w).map_err(|e| ConfigError(format!("{name}: {e}")))).collect()
}

/// The element: what to check, and the counters.
pub struct CheckIPHeader {
    cfg: Checks,
    drops: DropCounts,
}

/// What CheckIPHeader checks.
struct Checks {
    offset: usize,
    checksum: bool,
    bad_src: Vec<Ipv4Addr>,
    good_dst: Vec<Ipv4Addr>,
}

impl CheckIPHeader {
    /// Read Click's arguments; `checksum` is the CHECKSUM default (false for CheckIPHeader2).
    pub(crate) fn configure(config: &str, checksum: bool) -> Result<CheckIPHeader, ConfigError> {
        let mut args = Args::new(config);
        let mut bad_src = Vec::new();
        let mut good_dst = Vec::new();
        if let Some(ifs) = args.read_kw::<String>("INTERFACES")? {
            for w in ifs.split_whitespace() {
                let p = Ipv4Prefix::from_arg(w).map_err(|e| ConfigError(format!("INTERFACES: {e}")))?;
                let mask = u32::from(p.mask());
                bad_src.push(Ipv4Addr::from((u32::from(p.addr) & mask) | !mask));
                good_dst.push(p.addr);
            }
            bad_src.push(Ipv4Addr::UNSPECIFIED);
            bad_src.push(Ipv4Addr::BROADCAST);
        }
        if let Some(s) = args.read_kw::<String>("BADSRC")? {
            bad_src = parse_addrs("BADSRC", &s)?;
        }
        if let Some(s) = args.read_kw::<String>("GOODDST")? {
            good_dst = parse_addrs("GOODDST", &s)?;
        }
        let mut offset = args.read_kw::<u32>("OFFSET")?;
        let _verbose = args.read_kw::<bool>("VERBOSE")?;
        let _details = args.read_kw::<bool>("DETAILS")?;
        let checksum = args.read_kw::<bool>("CHECKSUM")?.unwrap_or(checksum);
        let rest = args.rest();
        args.finish()?;
        match rest.as_slice() {
            [] => {}
            [one] if u32::from_arg(one).is_ok() => offset = offset.or(u32::from_arg(one).ok()),
            [badsrc, more @ ..] if more.len() <= 1 => {
                // Click's old syntax: CheckIPHeader(BADSRC2 [, OFFSET]).
                bad_src = parse_addrs("BADSRC", &String::from_arg(badsrc).map_err(ConfigError)?)?;
                bad_src.push(Ipv4Addr::UNSPECIFIED);
                bad_src.push(Ipv4Addr::BROADCAST);
                if let Some(o) = more.first() {
                    let o = u32::from_arg(o).map_err(|e| ConfigError(format!("OFFSET: {e}")))?;
                    offset = offset.or(Some(o));
                }
            }
            _ => return Err(ConfigError(format!("too many arguments: {}", rest.join(", ")))),
        }
        Ok(CheckIPHeader {
            cfg: Checks { offset: offset.unwrap_or(0) as usize, checksum, bad_src, good_dst },
            drops: DropCounts::new(REASONS),
        })
    }

    #[inline]
    fn process(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let cfg = &self.cfg;
        filter(batch, ctx, &mut self.drops, |p| cfg.check(p));
    }
}

impl Checks {
    /// Click's `CheckIPHeader::simple_action` for one packet.
    #[inline]
    fn check(&self, p: &mut Packet) -> Result<(), usize> {
        let data = p.data().get(self.offset..).unwrap_or(&[]);
        let plen = data.len();
        let ip = ipv4::Packet::new_unchecked(data);
        ip.check_click().map_err(|e| match e {
            Problem::Tiny => TINY,
            Problem::BadVersion => BAD_VERSION,
            Problem::BadHeaderLen => BAD_HLEN,
            Problem::BadLength => BAD_IP_LEN,
        })?;
        if self.checksum && !ip.verify_checksum() {
            return Err(BAD_CHECKSUM);
        }
        if !self.bad_src.is_empty() {
            let (src, dst) = (ip.src_addr(), ip.dst_addr());
            if self.bad_src.contains(&src) && !self.good_dst.contains(&dst) {
                return Err(BAD_SADDR);
            }
        }
        let (hlen, len, dst) = (ip.header_len() as usize, ip.total_len() as usize, ip.dst_bytes());
        p.set_network_header(self.offset, hlen);
        if plen > len {
            p.take(plen - len);
        }
        p.anno_mut().dst_ip = dst;
        Ok(())
    }
}

impl Element for CheckIPHeader {
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
    use crate::ip::common::test_util::{frames, num, run, PCAPS};
    use sluice::testing::{build as build_elem, run_element};

    fn ip_packets(file: &str, strip: usize) -> Vec<Packet> {
        frames(file)
            .into_iter()
            .map(|mut p| {
                p.pull(strip);
                p
            })
            .collect()
    }

    #[test]
    fn real_packets_pass_trimmed_and_annotated() {
        // snabb__source-vlan.pcap: 102 VLAN-tagged frames, each a 20-byte IPv4 header padded
        // to 24 bytes. CheckIPHeader(18) keeps the tag and trims the 4 padding bytes.
        let input = frames("snabb__source-vlan.pcap");
        let originals: Vec<Vec<u8>> = input.iter().map(|p| p.data().to_vec()).collect();
        let (out, r) = run_element(&CHECK_IP_HEADER, "18", 1, input).unwrap();
        assert_eq!(out[0].len(), 102);
        for (p, orig) in out[0].iter().zip(&originals) {
            assert_eq!(p.data(), &orig[..38]);
            assert_eq!(p.network_header_offset(), Some(18));
            assert_eq!(p.transport_header_offset(), Some(38));
            assert_eq!(p.anno().dst_ip, [1, 2, orig[36], orig[37]]);
        }
        assert_eq!(r.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn each_reason_is_counted_and_output_1_gets_them() {
        let good = ip_packets("snabb__v4.pcap", 14);
        let base = good[0].data().to_vec();
        let variant = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut v = base.clone();
            f(&mut v);
            Packet::from_slice(&v)
        };
        let input = vec![
            Packet::from_slice(&base),
            Packet::from_slice(&base[..19]),           // tiny
            variant(&|v| v[0] = 0x65),                 // version 6
            variant(&|v| v[0] = 0x44),                 // header length 16
            variant(&|v| v[3] = v[3].wrapping_add(1)), // length beyond the data
            variant(&|v| v[10] ^= 1),                  // checksum
        ];
        let (out, r) = run_element(&CHECK_IP_HEADER, "", 2, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[1].len(), 5);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "5");
        let details = r.read_handler("e", "drop_details").unwrap();
        for reason in &REASONS[..5] {
            assert!(details.contains(&format!("1 {reason}")), "{details}");
        }
    }

    #[test]
    fn source_checks_follow_interfaces() {
        // snabb__v4.pcap: an HTTP session of 145.254.160.237 (20 packets from it, 16 of
        // them to 65.208.228.223) with 65.208.228.223 and two other hosts.
        let input = ip_packets("snabb__v4.pcap", 14);
        let n = input.len();
        assert_eq!(n, 43);
        let (out, r) = run_element(&CHECK_IP_HEADER, "BADSRC 145.254.160.237", 1, input).unwrap();
        assert_eq!(out[0].len(), 23);
        assert_eq!(num(&r, "e", "drops"), 20);
        let cfg = "BADSRC 145.254.160.237 1.1.1.1, GOODDST 9.9.9.9 65.208.228.223";
        let (out, r) = run_element(&CHECK_IP_HEADER, cfg, 1, ip_packets("snabb__v4.pcap", 14)).unwrap();
        assert_eq!(out[0].len(), 39);
        assert_eq!(r.read_handler("e", "drop_details").unwrap().lines().last().unwrap(), "4 bad source address");
        // INTERFACES makes the subnet broadcast a bad source.
        let mut bcast = ip_packets("snabb__v4.pcap", 14).swap_remove(0);
        let d = bcast.data_mut();
        d[12..16].copy_from_slice(&[18, 26, 4, 255]);
        let mut ipv = ipv4::Packet::new_checked(&mut d[..]).unwrap();
        ipv.fill_checksum();
        let (out, r) = run_element(&CHECK_IP_HEADER, "INTERFACES 18.26.4.9/24", 1, vec![bcast]).unwrap();
        assert!(out[0].is_empty());
        assert!(r.read_handler("e", "drop_details").unwrap().contains("1 bad source address"));
    }

    #[test]
    fn checksum_false_and_old_syntax() {
        let mut p = ip_packets("snabb__v4.pcap", 14).swap_remove(0);
        p.data_mut()[10] ^= 0xff;
        let (out, _) = run_element(&CHECK_IP_HEADER, "CHECKSUM false", 1, vec![p.clone_packet()]).unwrap();
        assert_eq!(out[0].len(), 1);
        // Old syntax: BADSRC2 list then OFFSET; 0.0.0.0 is bad too.
        let mut z = ip_packets("snabb__v4.pcap", 0).swap_remove(0);
        z.data_mut()[26..30].copy_from_slice(&[0, 0, 0, 0]);
        let mut ipv = ipv4::Packet::new_checked(&mut z.data_mut()[14..]).unwrap();
        ipv.fill_checksum();
        let (out, r) = run_element(&CHECK_IP_HEADER, "1.2.3.4, 14", 1, vec![z]).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(r.read_handler("e", "drops").unwrap(), "1");
    }

    #[test]
    fn config_errors() {
        assert!(build_elem(&CHECK_IP_HEADER, "", 1, 1).is_ok());
        assert!(build_elem(&CHECK_IP_HEADER, "OFFSET 14, VERBOSE true, DETAILS true", 1, 1).is_ok());
        assert!(build_elem(&CHECK_IP_HEADER, "BADSRC 1.2.3", 1, 1).err().unwrap().0.contains("BADSRC"));
        assert!(build_elem(&CHECK_IP_HEADER, "INTERFACES 1.2.3.4/40", 1, 1).is_err());
        assert!(build_elem(&CHECK_IP_HEADER, "1, 2, 3", 1, 1).is_err());
        assert!(build_elem(&CHECK_IP_HEADER, "FOO 1", 1, 1).is_err());
    }

    #[test]
    fn whole_capture_with_vlan_offset() {
        // snabb__sanitized4k.pcap: 4096 802.1Q frames, 3936 valid IPv4 packets and 160 IPv6.
        let r = run(&format!(
            "FromDump({PCAPS}/snabb__sanitized4k.pcap, STOP true) -> c :: Counter \
             -> ck :: CheckIPHeader(18) -> o :: Counter -> Discard;"
        ));
        assert_eq!(num(&r, "c", "count"), 4096);
        assert_eq!(num(&r, "o", "count"), 3936);
        assert_eq!(num(&r, "ck", "drops"), 160);
        assert!(r.read_handler("ck", "drop_details").unwrap().contains("160 bad IP version"));
    }
}

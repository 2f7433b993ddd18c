//! `IPInputCombo`: Paint, Strip(14), CheckIPHeader and GetIPAddress(16) in one element.

use super::check_ip_header::parse_addrs;
use crate::wire::{checksum, ipv4};
use sluice::args::{Args, FromArg, Ipv4Prefix};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::cell::Cell;
use std::net::Ipv4Addr;

sluice::element_class! {
    /// IPInputCombo(COLOR [, BADSRC, KEYWORDS])
    ///
    /// Input combo for IP routing.
    ///
    /// A single element encapsulating common tasks on an IP router's input path.
    /// Effectively equivalent to
    ///
    /// ```text
    /// elementclass IPInputCombo { $COLOR, $BADADDRS |
    ///   input[0] -> Paint($COLOR)
    ///         -> Strip(14)
    ///         -> CheckIPHeader($BADADDRS)
    ///         -> GetIPAddress(16)
    ///         -> [0]output;
    /// }
    /// ```
    ///
    /// Each packet's paint annotation is set to COLOR (its low byte, as Click stores an
    /// integer into the one-byte annotation), 14 bytes are stripped (fewer if the packet is
    /// shorter), and the IP header is checked as Click's IPInputCombo checks it: at least 20
    /// bytes, version 4, header length at least 20, total length between the header length
    /// and the packet length, header checksum right, and the source not one of BADSRC
    /// unless the destination is one of GOODDST. Good packets get their IP header
    /// annotation, are trimmed to the IP total length, and get the destination address
    /// annotation; bad packets are dropped and counted. (Unlike CheckIPHeader, IP options
    /// are not checked, and there is no error output.)
    ///
    /// Click prints "IP checksum failed" for the first bad packet; Sluice counts the
    /// reasons in `drop_details` instead.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `COLOR` — integer, mandatory, positional. The paint color.
    /// - `BADSRC` — positional: space-separated IPv4 addresses (Click's old syntax, which
    ///   adds 0.0.0.0 and 255.255.255.255); as a keyword, exactly the addresses given.
    /// - `INTERFACES` — space-separated `ADDR/MASK` prefixes: their broadcast addresses,
    ///   0.0.0.0 and 255.255.255.255 become BADSRC, their addresses GOODDST.
    /// - `GOODDST` — space-separated IPv4 addresses.
    ///
    /// # Handlers
    /// - `drops` (read) — packets dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> c :: Classifier(12/0800, -) -> IPInputCombo(1, INTERFACES 18.26.4.24/24) -> rt;
    /// ```
    pub const IP_INPUT_COMBO = "IPInputCombo" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &[
    "tiny packet",
    "bad IP version",
    "bad IP header length",
    "bad IP length",
    "bad IP checksum",
    "bad source address",
];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let color = args.read_mp::<i32>("COLOR")?;
    let ifs = args.read_kw::<String>("INTERFACES")?;
    let badsrc_kw = args.read_kw::<String>("BADSRC")?;
    let gooddst = args.read_kw::<String>("GOODDST")?;
    let rest = args.rest();
    args.finish()?;
    let mut bad_src = Vec::new();
    let mut good_dst = Vec::new();
    match rest.as_slice() {
        [] => {}
        [old] => {
            // Click's OldBadSrcArg.
            bad_src = parse_addrs("BADSRC", &String::from_arg(old).map_err(ConfigError)?)?;
            bad_src.push(Ipv4Addr::UNSPECIFIED);
            bad_src.push(Ipv4Addr::BROADCAST);
        }
        _ => return Err("too many arguments".into()),
    }
    if let Some(ifs) = ifs {
        bad_src.clear();
        good_dst.clear();
        for w in ifs.split_whitespace() {
            let p = Ipv4Prefix::from_arg(w).map_err(|e| ConfigError(format!("INTERFACES: {e}")))?;
            let mask = u32::from(p.mask());
            bad_src.push(Ipv4Addr::from((u32::from(p.addr) & mask) | !mask));
            good_dst.push(p.addr);
        }
        bad_src.push(Ipv4Addr::UNSPECIFIED);
        bad_src.push(Ipv4Addr::BROADCAST);
    }
    if let Some(s) = badsrc_kw {
        bad_src = parse_addrs("BADSRC", &s)?;
    }
    if let Some(s) = gooddst {
        good_dst = parse_addrs("GOODDST", &s)?;
    }
    Ok(Box::new(IPInputCombo { color: color as u8, bad_src, good_dst, drops: DropCounts::new(REASONS) }))
}

/// The element: paint color, address lists, drop counters.
pub struct IPInputCombo {
    color: u8,
    bad_src: Vec<Ipv4Addr>,
    good_dst: Vec<Ipv4Addr>,
    drops: DropCounts,
}

/// What the checks need, borrowed apart from the drop counter.
struct Checks<'a> {
    color: u8,
    bad_src: &'a [Ipv4Addr],
    good_dst: &'a [Ipv4Addr],
}

impl Checks<'_> {
    /// Click's `smaction`; `Err(reason)` for a bad packet.
    #[inline]
    fn handle(&self, p: &mut Packet) -> Result<(), usize> {
        p.anno_mut().paint = self.color;
        p.pull(14.min(p.len()));
        let plen = p.len();
        let ip = ipv4::Packet::new_fixed(p.data()).map_err(|_| 0usize)?;
        if ip.version() != 4 {
            return Err(1);
        }
        let hlen = ip.header_len() as usize;
        if hlen < ipv4::HEADER_LEN {
            return Err(2);
        }
        let len = ip.total_len() as usize;
        if len > plen || len < hlen {
            return Err(3);
        }
        if checksum::in_cksum(&p.data()[..hlen]) != 0 {
            return Err(4);
        }
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if self.bad_src.contains(&src) && !self.good_dst.contains(&dst) {
            return Err(5);
        }
        p.set_network_header(0, hlen);
        if plen > len {
            p.take(plen - len);
        }
        p.anno_mut().dst_ip = dst.octets();
        Ok(())
    }
}

impl IPInputCombo {
    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let checks = Checks { color: self.color, bad_src: &self.bad_src, good_dst: &self.good_dst };
        let reason = Cell::new(0);
        let drops = &mut self.drops;
        batch.retain_or(
            |p| match checks.handle(p) {
                Ok(()) => true,
                Err(r) => {
                    reason.set(r);
                    false
                }
            },
            |_| drops.count(reason.get(), 1),
        );
    }
}

impl Element for IPInputCombo {
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
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn equals_paint_strip_checkipheader_getipaddress_on_a_capture() {
        // snabb__v4.pcap: 43 good IPv4 frames. The combo and its expansion give the same
        // packets, annotations included.
        let (a, ra) = run_capture("snabb__v4.pcap", "c :: IPInputCombo(7)");
        let (b, _) = run_capture("snabb__v4.pcap", "Paint(7) -> Strip(14) -> CheckIPHeader -> GetIPAddress(16)");
        assert_eq!(num(&ra, "c", "drops"), 0);
        assert_eq!((a.len(), b.len()), (43, 43));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.data(), y.data());
            assert_eq!(x.anno().paint, 7);
            assert_eq!(x.anno().dst_ip, y.anno().dst_ip);
            assert_eq!(x.network_header_offset(), Some(0));
            assert_eq!(x.transport_header_offset(), y.transport_header_offset());
        }
    }

    #[test]
    fn trims_to_the_ip_length_and_drops_bad_headers() {
        let good = frames("snabb__v4.pcap").remove(0);
        let total = u16::from_be_bytes([good.data()[16], good.data()[17]]) as usize;
        let mut padded = good.data().to_vec();
        padded.extend_from_slice(&[0xee; 6]);
        let mut bad_sum = good.data().to_vec();
        bad_sum[24] ^= 1;
        let mut bad_version = good.data().to_vec();
        bad_version[14] = 0x65;
        let mut long = good.data().to_vec();
        long[16..18].copy_from_slice(&((total + 100) as u16).to_be_bytes());
        let input = [&padded[..], &bad_sum, &bad_version, &long, &good.data()[..20]]
            .iter()
            .map(|d| Packet::from_slice(d))
            .collect();
        let (out, r) = run_element(&IP_INPUT_COMBO, "1", 1, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].len(), total);
        assert_eq!(out[0][0].data(), &good.data()[14..]);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "4");
        let d = r.read_handler("e", "drop_details").unwrap();
        assert!(d.contains("1 bad IP checksum") && d.contains("1 tiny packet"), "{d}");
    }

    #[test]
    fn bad_sources_and_good_destinations() {
        // The first packet of snabb__v4.pcap goes between these two hosts.
        let p = frames("snabb__v4.pcap").remove(0);
        let (src, dst) = (
            Ipv4Addr::new(p.data()[26], p.data()[27], p.data()[28], p.data()[29]),
            Ipv4Addr::new(p.data()[30], p.data()[31], p.data()[32], p.data()[33]),
        );
        let one = || vec![Packet::from_slice(frames("snabb__v4.pcap")[0].data())];
        let (out, _) = run_element(&IP_INPUT_COMBO, &format!("0, BADSRC {src}"), 1, one()).unwrap();
        assert!(out[0].is_empty());
        let (out, _) = run_element(&IP_INPUT_COMBO, &format!("0, BADSRC {src}, GOODDST {dst}"), 1, one()).unwrap();
        assert_eq!(out[0].len(), 1);
        let (out, _) = run_element(&IP_INPUT_COMBO, &format!("0, \"1.2.3.4 {src}\""), 1, one()).unwrap();
        assert!(out[0].is_empty());
        let (out, _) = run_element(&IP_INPUT_COMBO, "0, INTERFACES 10.0.0.1/8", 1, one()).unwrap();
        assert_eq!(out[0].len(), 1);
    }

    #[test]
    fn bad_configurations() {
        for bad in ["", "red", "1, 1.2.3.4, 5", "1, INTERFACES 1.2.3.4/99", "1, BADSRC x"] {
            assert!(build_elem(&IP_INPUT_COMBO, bad, 1, 1).is_err(), "{bad}");
        }
        assert!(build_elem(&IP_INPUT_COMBO, "COLOR 2", 1, 1).is_ok());
    }
}

//! `IPOutputCombo`: DropBroadcasts, PaintTee, IPGWOptions, FixIPSrc, DecIPTTL and
//! CheckLength in one element.

use super::common::{nh_offset, th_offset};
use super::dec_ip_ttl::dec_ttl_checksum;
use crate::standard::anno::AnnoByte;
use crate::wire::{checksum, ipv4};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::packet::PacketType;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// IPOutputCombo(COLOR, IPADDR, MTU)
    ///
    /// Output combo for IP routing.
    ///
    /// A single element encapsulating common tasks on an IP router's output path.
    /// Effectively equivalent to
    ///
    /// ```text
    /// elementclass IPOutputCombo { $COLOR, $IPADDR, $MTU |
    ///   input[0] -> DropBroadcasts
    ///         -> p::PaintTee($COLOR)
    ///         -> g::IPGWOptions($IPADDR)
    ///         -> FixIPSrc($IPADDR)
    ///         -> d::DecIPTTL
    ///         -> l::CheckLength($MTU)
    ///         -> [0]output;
    ///   p[1] -> [1]output;
    ///   g[1] -> [2]output;
    ///   d[1] -> [3]output;
    ///   l[1] -> [4]output;
    /// }
    /// ```
    ///
    /// Output 0 is the path for normal packets; outputs 1 through 3 are error outputs for
    /// PaintTee, IPGWOptions, and DecIPTTL, respectively; and output 4 is for packets
    /// longer than MTU. IPOutputCombo does no fragmentation: connect an IPFragmenter to
    /// output 4.
    ///
    /// As in Click: broadcast and multicast packets (packet type annotation) are dropped;
    /// a copy of each packet painted COLOR goes to output 1; Record Route and Timestamp
    /// options are filled in with IPADDR (for pre-specified timestamps, only IPADDR counts
    /// as this router's address), and a bad option sends the packet to output 2 with the
    /// ICMP_PARAMPROB annotation (byte 17) set to its offset; a packet whose FIX_IP_SRC
    /// annotation is set gets source IPADDR; the header checksum is recomputed when either
    /// changed the header; the TTL is decremented with Click's incremental checksum update
    /// (packets with TTL 0 or 1 go to output 3, unchanged); packets longer than MTU go to
    /// output 4.
    ///
    /// Differences from Click: Click recomputes the checksum over the first header-length
    /// bytes of the packet data, which is the IP header only when the data starts there
    /// (as it does on a router's output path); Sluice always sums the IP header. Packets
    /// without an IP header annotation (Click asserts) are dropped and counted.
    ///
    /// Ports: 1 input, 5 outputs, push.
    ///
    /// # Keywords
    /// - `COLOR` — integer, mandatory, positional. The paint color that PaintTee copies.
    /// - `IPADDR` — IPv4 address, mandatory, positional. This interface's address.
    /// - `MTU` — unsigned, mandatory, positional. Longer packets go to output 4.
    ///
    /// # Handlers
    /// - `drops` (read) — broadcast/multicast packets and packets without an IP header, dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// rt[0] -> oc :: IPOutputCombo(2, 18.26.4.24, 1500) -> arpq;
    /// oc[1] -> ICMPError(18.26.4.24, redirect, host) -> rt;
    /// oc[2] -> ICMPError(18.26.4.24, parameterproblem) -> rt;
    /// oc[3] -> ICMPError(18.26.4.24, timeexceeded) -> rt;
    /// oc[4] -> IPFragmenter(1500) -> arpq;
    /// ```
    pub const IP_OUTPUT_COMBO = "IPOutputCombo" { ports: "1/5", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["broadcast or multicast packet", "no IP header"];

const PARAMPROB_ANNO: AnnoByte = AnnoByte(17);
const FIX_IP_SRC_ANNO: AnnoByte = AnnoByte(19);

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let color = args.read_mp::<i32>("COLOR")?;
    let me = args.read_mp::<Ipv4Addr>("IPADDR")?;
    let mtu = args.read_mp::<u32>("MTU")?;
    args.finish()?;
    Ok(Box::new(IPOutputCombo { color, me, mtu, drops: DropCounts::new(REASONS) }))
}

/// The element: its three arguments and the drop counter.
pub struct IPOutputCombo {
    color: i32,
    me: Ipv4Addr,
    mtu: u32,
    drops: DropCounts,
}

/// Milliseconds since midnight UT, as Click's `(now.sec() % 86400)*1000 + now.msec()`.
fn ms_since_midnight() -> u32 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    ((d.as_secs() % 86400) * 1000 + d.subsec_millis() as u64) as u32
}

/// IPOutputCombo's own copy of the IPGWOptions loop over `woa` (the header, `hlen`
/// bytes of network header): `Ok(changed)`, or `Err(problem offset)`.
fn options(woa: &mut [u8], hlen: usize, me: [u8; 4]) -> Result<bool, usize> {
    let at = |oa: &[u8], i: usize| oa.get(i).copied().unwrap_or(0);
    let mut do_cksum = false;
    let mut oi = ipv4::HEADER_LEN;
    while oi < hlen {
        let typ = woa[oi];
        if typ == ipv4::option::NOP {
            oi += 1;
            continue;
        } else if typ == ipv4::option::EOL {
            break;
        }
        let xlen = at(woa, oi + 1) as usize;
        if xlen < 2 || oi + xlen > hlen {
            return Err(oi + 1);
        } else if typ != ipv4::option::RR && typ != ipv4::option::TS {
            oi += xlen;
            continue;
        }
        let p = at(woa, oi + 2) as isize - 1;
        if typ == ipv4::option::RR {
            if p >= 3 && p as usize + 4 <= xlen {
                let p = p as usize;
                woa[oi + p..oi + p + 4].copy_from_slice(&me);
                woa[oi + 2] = woa[oi + 2].wrapping_add(4);
                do_cksum = true;
            } else if p != xlen as isize {
                return Err(oi + 2);
            }
        } else {
            let oflw = at(woa, oi + 3) >> 4;
            let flg = at(woa, oi + 3) & 0x0f;
            let mut overflowed = false;
            let ms = ms_since_midnight().to_be_bytes();
            if p < 4 {
                return Err(oi + 2);
            }
            let p = p as usize;
            if flg == 0 {
                if p + 4 <= xlen {
                    woa[oi + p..oi + p + 4].copy_from_slice(&ms);
                    woa[oi + 2] = woa[oi + 2].wrapping_add(4);
                    do_cksum = true;
                } else {
                    overflowed = true;
                }
            } else if flg == 1 {
                if p + 8 <= xlen {
                    woa[oi + p..oi + p + 4].copy_from_slice(&me);
                    woa[oi + p + 4..oi + p + 8].copy_from_slice(&ms);
                    woa[oi + 2] = woa[oi + 2].wrapping_add(8);
                    do_cksum = true;
                } else {
                    overflowed = true;
                }
            } else if flg == 3 && p + 8 <= xlen {
                if woa[oi + p..oi + p + 4] == me {
                    woa[oi + p + 4..oi + p + 8].copy_from_slice(&ms);
                    woa[oi + 2] = woa[oi + 2].wrapping_add(8);
                    do_cksum = true;
                }
            } else {
                return Err(oi + 3);
            }
            if overflowed {
                if oflw < 15 {
                    woa[oi + 3] = ((oflw + 1) << 4) | flg;
                    do_cksum = true;
                } else {
                    return Err(oi + 3);
                }
            }
        }
        oi += xlen;
    }
    Ok(do_cksum)
}

/// Where a packet goes after the checks.
enum Route {
    Out(usize),
    Drop,
}

impl IPOutputCombo {
    /// Click's `push` from IPGWOptions on, for one packet.
    fn route(&self, p: &mut Packet) -> Route {
        let Some(nh) = nh_offset(p) else { return Route::Drop };
        let th = th_offset(p);
        let fix = FIX_IP_SRC_ANNO.get(p) != 0;
        let me = self.me.octets();
        let long = p.len() as u64 > u64::from(self.mtu);
        let data = &mut p.data_mut()[nh..];
        if data.len() < ipv4::HEADER_LEN {
            return Route::Drop;
        }
        let hlen = (((data[0] & 0x0f) as usize) << 2).min(data.len());
        let mut do_cksum = false;
        if hlen > ipv4::HEADER_LEN {
            // Click walks the options up to `network_header_length()`.
            let nhl = th.filter(|&t| t >= nh).map_or(hlen, |t| t - nh).min(data.len());
            match options(data, nhl, me) {
                Ok(c) => do_cksum = c,
                Err(off) => {
                    PARAMPROB_ANNO.set(p, off as u8);
                    return Route::Out(2);
                }
            }
        }
        if fix {
            data[12..16].copy_from_slice(&me);
            do_cksum = true;
        }
        if do_cksum {
            data[10..12].fill(0);
            let c = checksum::in_cksum(&data[..hlen]);
            data[10..12].copy_from_slice(&c.to_be_bytes());
        }
        if fix {
            FIX_IP_SRC_ANNO.set(p, 0);
        }
        self.ttl_and_length(p, nh, long)
    }

    /// DecIPTTL and CheckLength.
    fn ttl_and_length(&self, p: &mut Packet, nh: usize, long: bool) -> Route {
        let mut ip = ipv4::Packet::new_unchecked(&mut p.data_mut()[nh..]);
        if ip.ttl() <= 1 {
            return Route::Out(3);
        }
        ip.set_ttl(ip.ttl() - 1);
        let c = dec_ttl_checksum(ip.checksum());
        ip.set_checksum(c);
        Route::Out(if long { 4 } else { 0 })
    }
}

impl Element for IPOutputCombo {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let mut outs: [Batch; 5] = Default::default();
        let (mut bcast, mut nohdr) = (0, 0);
        for mut p in batch {
            if matches!(p.anno().packet_type(), PacketType::Broadcast | PacketType::Multicast) {
                bcast += 1;
                continue;
            }
            if i32::from(p.anno().paint) == self.color {
                let _ = outs[1].push(p.clone_packet());
            }
            match self.route(&mut p) {
                Route::Out(i) => {
                    let _ = outs[i].push(p);
                }
                Route::Drop => nohdr += 1,
            }
        }
        self.drops.count(0, bcast);
        self.drops.count(1, nohdr);
        for (i, b) in outs.into_iter().enumerate() {
            if !b.is_empty() && i < ctx.noutputs() {
                ctx.push(i, b);
            }
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, run};
    use sluice::testing::{build as build_elem, collected, inject, new_id};

    /// Run `Inject -> oc :: IPOutputCombo(CONFIG)` with every output collected.
    fn run_combo(config: &str, input: Vec<Packet>) -> (Vec<Vec<Packet>>, sluice::runtime::Router) {
        let src = new_id();
        let sinks: Vec<u64> = (0..5).map(|_| new_id()).collect();
        inject(src, input);
        let mut g = format!("Inject(ID {src}) -> oc :: IPOutputCombo({config});");
        for (i, s) in sinks.iter().enumerate() {
            g.push_str(&format!("oc[{i}] -> Collect(ID {s});"));
        }
        let r = run(&g);
        (sinks.iter().map(|&s| collected(s)).collect(), r)
    }

    /// An IPv4 packet with the header annotation set, header checksum right.
    fn ip(ttl: u8, opts: &[u8], payload: usize) -> Packet {
        let hl = 20 + opts.len();
        let mut d = vec![0u8; hl + payload];
        d[0] = 0x40 | (hl / 4) as u8;
        d[2..4].copy_from_slice(&((hl + payload) as u16).to_be_bytes());
        d[8] = ttl;
        d[9] = 17;
        d[12..16].copy_from_slice(&[10, 0, 0, 1]);
        d[16..20].copy_from_slice(&[10, 0, 0, 2]);
        d[20..hl].copy_from_slice(opts);
        let c = checksum::in_cksum(&d[..hl]);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        let mut p = Packet::from_slice(&d);
        p.set_network_header(0, hl);
        p
    }

    #[test]
    fn routes_like_its_expansion() {
        let mut painted = ip(64, &[], 10);
        painted.anno_mut().paint = 2;
        let mut bcast = ip(64, &[], 10);
        bcast.anno_mut().set_packet_type(PacketType::Broadcast);
        let mut fix = ip(64, &[], 10);
        FIX_IP_SRC_ANNO.set(&mut fix, 1);
        let input =
            vec![ip(64, &[], 10), painted, ip(1, &[], 10), ip(64, &[], 1500), bcast, fix, Packet::from_slice(b"x")];
        let (out, r) = run_combo("2, 192.0.2.9, 1500", input);
        let lens: Vec<usize> = out.iter().map(|o| o.len()).collect();
        assert_eq!(lens, [3, 1, 0, 1, 1]);
        // TTL decremented, checksum right, on outputs 0 and 4; expired packet unchanged.
        for p in out[0].iter().chain(&out[4]) {
            assert_eq!(p.data()[8], 63);
            assert_eq!(checksum::in_cksum(&p.data()[..20]), 0);
        }
        assert_eq!(out[3][0].data(), ip(1, &[], 10).data());
        // The PaintTee copy is the packet as it arrived.
        assert_eq!(out[1][0].data(), ip(64, &[], 10).data());
        // FixIPSrc: source rewritten, annotation cleared.
        let fixed = out[0].iter().find(|p| p.data()[12..16] == [192, 0, 2, 9]).unwrap();
        assert_eq!(FIX_IP_SRC_ANNO.get(fixed), 0);
        assert_eq!(r.read_handler("oc", "drops").unwrap(), "2");
    }

    #[test]
    fn record_route_and_bad_options() {
        // Record Route with room for one address; then a bad option length.
        let rr = [7, 7, 4, 0, 0, 0, 0, 0];
        let bad = [7, 1, 0, 0];
        let (out, _) = run_combo("0, 192.0.2.9, 1500", vec![ip(64, &rr, 0), ip(64, &bad, 0)]);
        let d = out[0][0].data();
        assert_eq!(&d[20..28], &[7, 7, 8, 192, 0, 2, 9, 0]);
        assert_eq!(d[8], 63);
        assert_eq!(checksum::in_cksum(&d[..28]), 0);
        assert_eq!(out[2].len(), 1);
        assert_eq!(PARAMPROB_ANNO.get(&out[2][0]), 21);
    }

    #[test]
    fn a_capture_comes_out_with_ttl_minus_one() {
        // snabb__v4.pcap: no TTL is 0 or 1 and no frame exceeds 1500 bytes (read with Python).
        let originals = frames("snabb__v4.pcap");
        let input: Vec<Packet> = originals
            .iter()
            .map(|f| {
                let mut p = Packet::from_slice(&f.data()[14..]);
                p.set_network_header(0, 20);
                p
            })
            .collect();
        let (out, _) = run_combo("0, 192.0.2.9, 1500", input);
        assert_eq!(out[0].len(), originals.len());
        for (p, o) in out[0].iter().zip(&originals) {
            let mut want = o.data()[14..].to_vec();
            want[8] -= 1;
            want[10..12].fill(0);
            let c = checksum::in_cksum(&want[..20]);
            want[10..12].copy_from_slice(&c.to_be_bytes());
            assert_eq!(p.data(), &want[..]);
        }
    }

    #[test]
    fn bad_configurations() {
        for bad in ["", "1, 1.2.3.4", "1, x, 1500", "1, 1.2.3.4, -1", "1, 1.2.3.4, 1500, 4"] {
            assert!(build_elem(&IP_OUTPUT_COMBO, bad, 1, 5).is_err(), "{bad}");
        }
    }
}

//! `IPGWOptions`: processes the Record Route and Timestamp options of IP packets.

use super::common::{nh_offset, th_offset};
use crate::standard::anno::AnnoByte;
use crate::wire::{checksum, ipv4};
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// IPGWOptions(MYADDR [, OTHERADDRS])
    ///
    /// Processes router IP options.
    ///
    /// Processes the IP options an IP router must: Record Route (MYADDR is recorded if
    /// there is room) and Timestamp (flag 0: the time is recorded; flag 1: MYADDR and the
    /// time; flag 3: the time, if the pre-specified address is MYADDR or one of
    /// OTHERADDRS; when there is no room, the overflow counter is incremented). Times are
    /// milliseconds since midnight UT, in network order. Source route options are left to
    /// other elements. When an option changed, the header checksum is recomputed.
    ///
    /// Packets with a bad option are sent to output 1 if it is connected, else dropped,
    /// and counted; their ICMP_PARAMPROB annotation (byte 17) is set to the offset of the
    /// offending byte in the IP header, for ICMPError(..., parameterproblem). As in Click,
    /// options processed before the bad one stay changed. The header length used is the
    /// one of the IP header annotation (CheckIPHeader sets it from the header).
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `MYADDR` — IP address, positional, mandatory. The address to record.
    /// - `OTHERADDRS` — space-separated IP addresses, positional. Other addresses of this
    ///   router, for pre-specified timestamps.
    ///
    /// # Handlers
    /// - `drops` (read) — packets with bad options.
    /// - `drop_details` (read) — those by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> gw :: IPGWOptions(18.26.4.24) -> ...;
    /// gw[1] -> ICMPError(18.26.4.24, parameterproblem) -> ...;
    /// ```
    pub const IP_GW_OPTIONS = "IPGWOptions" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets with bad options"),
    HandlerSpec::read("drop_details", Combine::Sum, "those by reason"),
];

const REASONS: &[&str] = &["bad IP option", "no IP header"];

/// ICMP_PARAMPROB_ANNO: byte 17.
const PARAMPROB_ANNO: AnnoByte = AnnoByte(17);

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let me = args.read_mp::<Ipv4Addr>("MYADDR")?;
    let others = args.read_p::<String>("OTHERADDRS")?;
    args.finish()?;
    let mut addrs = match others {
        Some(s) => s
            .split_whitespace()
            .map(|w| Ipv4Addr::from_arg(w).map_err(|e| ConfigError(format!("OTHERADDRS: {e}"))))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    addrs.push(me);
    Ok(Box::new(IPGWOptions { addrs: Addrs { me, all: addrs }, drops: DropCounts::new(REASONS) }))
}

/// The element: its addresses and counters.
pub struct IPGWOptions {
    addrs: Addrs,
    drops: DropCounts,
}

/// The address to record, and every address of this router (MYADDR and OTHERADDRS).
struct Addrs {
    me: Ipv4Addr,
    all: Vec<Ipv4Addr>,
}

/// Milliseconds since midnight UT, as Click's `(now.sec() % 86400)*1000 + now.msec()`.
fn ms_since_midnight() -> u32 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    ((d.as_secs() % 86400) * 1000 + d.subsec_millis() as u64) as u32
}

impl Addrs {
    /// Click's `handle_options`: `Err(offset)` for a bad option at `offset`.
    fn handle(&self, p: &mut Packet) -> Result<(), Result<usize, ()>> {
        let (Some(nh), Some(th)) = (nh_offset(p), th_offset(p)) else { return Err(Err(())) };
        let Some(&b0) = p.data().get(nh) else { return Err(Err(())) };
        if th < nh || ((b0 & 0x0f) as usize) << 2 <= ipv4::HEADER_LEN {
            return Ok(());
        }
        let hlen = th - nh;
        let ms = ms_since_midnight().to_be_bytes();
        let me = self.me.octets();
        let oa = &mut p.data_mut()[nh..];
        // Bytes past the header (or the packet) read as Click reads them, or 0.
        let at = |oa: &[u8], i: usize| oa.get(i).copied().unwrap_or(0);
        let mut changed = false;
        let mut oi = ipv4::HEADER_LEN;
        while oi < hlen {
            let typ = oa[oi];
            if typ == ipv4::option::NOP {
                oi += 1;
                continue;
            } else if typ == ipv4::option::EOL {
                break;
            }
            let xlen = at(oa, oi + 1) as usize;
            if xlen < 2 || oi + xlen > hlen {
                return Err(Ok(oi + 1));
            } else if typ != ipv4::option::RR && typ != ipv4::option::TS {
                oi += xlen;
                continue;
            }
            changed = true;
            let ptr = at(oa, oi + 2) as isize - 1;
            if typ == ipv4::option::RR {
                if ptr >= 3 && ptr as usize + 4 <= xlen {
                    let p = ptr as usize;
                    oa[oi + p..oi + p + 4].copy_from_slice(&me);
                    oa[oi + 2] = oa[oi + 2].wrapping_add(4);
                } else if ptr != xlen as isize {
                    return Err(Ok(oi + 2));
                }
            } else {
                let oflw = at(oa, oi + 3) >> 4;
                let flg = at(oa, oi + 3) & 0x0f;
                let mut overflowed = false;
                if ptr < 4 {
                    return Err(Ok(oi + 2));
                }
                let p = ptr as usize;
                if flg == 0 {
                    if p + 4 <= xlen {
                        oa[oi + p..oi + p + 4].copy_from_slice(&ms);
                        oa[oi + 2] = oa[oi + 2].wrapping_add(4);
                    } else {
                        overflowed = true;
                    }
                } else if flg == 1 {
                    if p + 8 <= xlen {
                        oa[oi + p..oi + p + 4].copy_from_slice(&me);
                        oa[oi + p + 4..oi + p + 8].copy_from_slice(&ms);
                        oa[oi + 2] = oa[oi + 2].wrapping_add(8);
                    } else {
                        overflowed = true;
                    }
                } else if flg == 3 && p + 8 <= xlen {
                    let a = Ipv4Addr::new(oa[oi + p], oa[oi + p + 1], oa[oi + p + 2], oa[oi + p + 3]);
                    if self.all.contains(&a) {
                        oa[oi + p + 4..oi + p + 8].copy_from_slice(&ms);
                        oa[oi + 2] = oa[oi + 2].wrapping_add(8);
                    }
                } else {
                    return Err(Ok(oi + 3));
                }
                if overflowed {
                    if oflw < 15 {
                        if let Some(b) = oa.get_mut(oi + 3) {
                            *b = ((oflw + 1) << 4) | flg;
                        }
                    } else {
                        return Err(Ok(oi + 3));
                    }
                }
            }
            oi += xlen;
        }
        if changed {
            oa[10..12].fill(0);
            let c = checksum::in_cksum(&oa[..hlen.min(oa.len())]);
            oa[10..12].copy_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }
}

impl IPGWOptions {
    #[inline]
    fn process(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let addrs = &self.addrs;
        super::common::filter(batch, ctx, &mut self.drops, |p| match addrs.handle(p) {
            Ok(()) => Ok(()),
            Err(Ok(off)) => {
                PARAMPROB_ANNO.set(p, off as u8);
                Err(0)
            }
            Err(Err(())) => Err(1),
        });
    }
}

impl Element for IPGWOptions {
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
    use sluice::testing::run_element;

    /// The first IPv4 packet of snabb__v4.pcap with `opts` inserted as IP options.
    fn with_options(opts: &[u8]) -> Packet {
        let (v, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14)");
        let base = &v[0].data()[14..];
        let mut d = base[..20].to_vec();
        d.extend_from_slice(opts);
        d.extend_from_slice(&base[20..]);
        let hl = 20 + opts.len();
        let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
        ip.set_header_len(hl as u8);
        ip.set_total_len((base.len() + opts.len()) as u16);
        ip.fill_checksum();
        let mut p = Packet::from_slice(&d);
        p.set_network_header(0, hl);
        p
    }

    #[test]
    fn records_route_and_timestamps() {
        // RR with room for two addresses, then TS flag 1 with room for one pair, then EOL.
        let p = with_options(&[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 68, 12, 5, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let (out, r) = run_element(&IP_GW_OPTIONS, "18.26.4.24", 2, vec![p]).unwrap();
        assert_eq!(num(&r, "e", "drops"), 0, "{:?}", r.read_handler("e", "drop_details"));
        let d = out[0][0].data();
        assert_eq!(&d[20..31], &[7, 11, 8, 18, 26, 4, 24, 0, 0, 0, 0]);
        assert_eq!(&d[31..39], &[68, 12, 13, 0x01, 18, 26, 4, 24]);
        let ms = u32::from_be_bytes([d[39], d[40], d[41], d[42]]);
        assert!(ms < 86_400_000);
        assert!(ipv4::Packet::new_checked(d).unwrap().verify_checksum());
    }

    #[test]
    fn bad_options_and_overflow() {
        // RR whose pointer is 2 (bad): offending byte is the pointer, offset 22.
        let p = with_options(&[7, 7, 2, 0, 0, 0, 0, 0]);
        let (out, r) = run_element(&IP_GW_OPTIONS, "18.26.4.24, 1.2.3.4 5.6.7.8", 2, vec![p]).unwrap();
        assert_eq!(out[1].len(), 1);
        assert_eq!(PARAMPROB_ANNO.get(&out[1][0]), 22);
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "1 bad IP option\n0 no IP header");
        // A full timestamp option: the overflow counter goes up.
        let p = with_options(&[68, 8, 9, 0x00, 1, 2, 3, 4]);
        let (out, _) = run_element(&IP_GW_OPTIONS, "18.26.4.24", 1, vec![p]).unwrap();
        assert_eq!(out[0][0].data()[23], 0x10);
        // Packets without options pass untouched: the whole capture.
        let (orig, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14)");
        let (out, r) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> g :: IPGWOptions(1.2.3.4)");
        assert_eq!(num(&r, "g", "drops"), 0);
        assert!(out.iter().zip(&orig).all(|(a, b)| a.data() == b.data()));
    }
}

//! `StoreIPAddress`: stores an IP address (or the destination annotation) into packet data.

use super::common::{ip_fixed, nh_offset, th_offset};
use crate::wire::{checksum, ipv4};
use sluice::args::{Args, FromArg, Word};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;

sluice::element_class! {
    /// StoreIPAddress([ADDR,] OFFSET)
    ///
    /// Stores IP address in packet.
    ///
    /// The one-argument form writes the destination IP address annotation into the packet
    /// at offset OFFSET. The two-argument form writes ADDR instead. OFFSET may be `src` or
    /// `dst` (case-insensitive): then the address is stored into the IP header's source
    /// or destination field (using the IP header annotation), and the IP checksum is
    /// updated incrementally, as are the TCP checksum (first fragments with a full TCP
    /// header) and a nonzero UDP checksum (first fragments with a full UDP header), exactly
    /// as Click does.
    ///
    /// A numeric OFFSET with a zero annotation (one-argument form) or beyond the packet
    /// end sends the packet to output 1 if connected, else drops it. (Click, in that case,
    /// goes on to write into memory before the IP header; Sluice does not.) `src`/`dst`
    /// without an IP header likewise goes to output 1. Refused packets are counted.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `ADDR` — IP address, positional (two-argument form only).
    /// - `OFFSET` — unsigned, `src` or `dst`, positional, mandatory.
    ///
    /// # Handlers
    /// - `drops` (read) — packets refused (Sluice only).
    /// - `drop_details` (read) — refused packets by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> StoreIPAddress(10.0.0.1, src) -> ...
    /// ```
    pub const STORE_IP_ADDRESS = "StoreIPAddress" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets refused"),
    HandlerSpec::read("drop_details", Combine::Sum, "refused packets by reason"),
];

const REASONS: &[&str] = &["no address or OFFSET beyond packet", "no IP header"];

#[derive(Clone, Copy, Debug)]
enum Target {
    Offset(usize),
    /// Byte offset in the IP header: 12 (src) or 16 (dst).
    Ip(usize),
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let nargs = sluice::args::split_args(config).len();
    let address = if nargs > 1 { Some(args.read_mp::<Ipv4Addr>("ADDR")?) } else { None };
    let offset = args.read_mp::<Word>("OFFSET")?;
    args.finish()?;
    let target = match offset.0.to_ascii_lowercase().as_str() {
        "src" => Target::Ip(12),
        "dst" => Target::Ip(16),
        s => Target::Offset(
            u32::from_arg(s).map_err(|_| ConfigError::from("type mismatch: OFFSET requires integer"))? as usize
        ),
    };
    Ok(Box::new(StoreIPAddress { address, target, drops: DropCounts::new(REASONS) }))
}

/// The element: what to store where, and the counters.
pub struct StoreIPAddress {
    address: Option<Ipv4Addr>,
    target: Target,
    drops: DropCounts,
}

/// Fold two halfwords as Click does (`x[0] + x[1]`, carry added once).
#[inline]
fn halfword_sum(a: [u8; 4]) -> u16 {
    let s = u16::from_be_bytes([a[0], a[1]]) as u32 + u16::from_be_bytes([a[2], a[3]]) as u32;
    (s + (s >> 16)) as u16
}

#[inline]
fn store(address: Option<Ipv4Addr>, target: Target, p: &mut Packet) -> Result<(), usize> {
    let ipa = address.map_or(p.anno().dst_ip, |a| a.octets());
    match target {
        Target::Offset(o) => {
            if (ipa == [0; 4] && address.is_none()) || o + 4 > p.len() {
                return Err(0);
            }
            p.data_mut()[o..o + 4].copy_from_slice(&ipa);
            Ok(())
        }
        Target::Ip(field) => {
            let (Some(ip), Some(nh)) = (ip_fixed(p), nh_offset(p)) else { return Err(1) };
            let hl = ip.header_len() as usize;
            if hl < ipv4::HEADER_LEN {
                return Err(1);
            }
            let old: [u8; 4] = p.data()[nh + field..nh + field + 4].try_into().unwrap_or([0; 4]);
            let (old_hw, new_hw) = (halfword_sum(old), halfword_sum(ipa));
            let (proto, first) = (ip.protocol(), ip.is_first_fragment());
            let Some(mut ipm) = super::common::ip_fixed_mut(p) else { return Err(1) };
            ipm.header_mut()[field..field + 4].copy_from_slice(&ipa);
            let c = checksum::update(ipm.checksum(), old_hw, new_hw);
            ipm.set_checksum(c);
            if let Some(th) = th_offset(p) {
                let t = &mut p.data_mut()[th..];
                if proto == ipv4::protocol::TCP && first && t.len() >= 20 {
                    let c = checksum::update(u16::from_be_bytes([t[16], t[17]]), old_hw, new_hw);
                    t[16..18].copy_from_slice(&c.to_be_bytes());
                }
                if proto == ipv4::protocol::UDP && first && t.len() >= 8 && t[6..8] != [0, 0] {
                    let c = checksum::update(u16::from_be_bytes([t[6], t[7]]), old_hw, new_hw);
                    t[6..8].copy_from_slice(&c.to_be_bytes());
                }
            }
            Ok(())
        }
    }
}

impl StoreIPAddress {
    #[inline]
    fn process(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let (address, target) = (self.address, self.target);
        super::common::filter(batch, ctx, &mut self.drops, |p| store(address, target, p));
    }
}

impl Element for StoreIPAddress {
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
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn rewrites_sources_keeping_checksums_valid() {
        // Rewrite the source of every packet of snabb__v4.pcap: the IP, TCP and UDP
        // checksums are updated incrementally, so the packets still pass the checks.
        let (out, r) = run_capture(
            "snabb__v4.pcap",
            "CheckIPHeader(14) -> s :: StoreIPAddress(10.1.2.3, src) -> CheckIPHeader(14) \
             -> t :: CheckTCPHeader -> Discard; t[1] -> u :: CheckUDPHeader",
        );
        assert_eq!(out.len(), 2);
        assert_eq!(num(&r, "s", "drops"), 0);
        assert_eq!(num(&r, "u", "drops"), 0);
        assert_eq!(r.read_handler("t", "drop_details").unwrap(), "2 not TCP\n0 bad packet length\n0 bad TCP checksum");
        assert!(out.iter().all(|p| p.data()[26..30] == [10, 1, 2, 3]));
    }

    #[test]
    fn stores_the_annotation_at_an_offset() {
        // CheckIPHeader sets the annotation to the destination; store it over the source.
        let (out, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> StoreIPAddress(26)");
        assert!(out.iter().all(|p| p.data()[26..30] == p.data()[30..34]));
        let mut zero = Packet::from_slice(&[1; 40]);
        zero.anno_mut().dst_ip = [0; 4];
        let (out, r) = run_element(&STORE_IP_ADDRESS, "26", 2, vec![zero, Packet::from_slice(&[1; 29])]).unwrap();
        assert_eq!(out[1].len(), 2);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "2");
        assert!(build_elem(&STORE_IP_ADDRESS, "1.2.3.4, foo", 1, 1).is_err());
        assert!(build_elem(&STORE_IP_ADDRESS, "DST", 1, 1).is_ok());
    }
}

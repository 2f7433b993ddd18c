//! `DecIPTTL`: decrements the IP time-to-live, updating the checksum incrementally.

use super::common::ip_fixed_mut;
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// DecIPTTL([KEYWORDS])
    ///
    /// Decrements IP time-to-live, drops dead packets.
    ///
    /// Expects IP packets as input, with the IP header annotation set (by CheckIPHeader or
    /// MarkIPHeader). If the TTL is 0 or 1, the packet has expired: it is sent to output 1
    /// if that is connected (typically to an ICMPError generating "time exceeded"), else
    /// dropped, and counted in `drops`. Otherwise the TTL is decremented and the header
    /// checksum updated incrementally exactly as Click does (RFC 1624:
    /// `sum = ~old_sum + 0xFEFF`, folded once, complemented), so the output bytes are
    /// Click's.
    ///
    /// Packets without an IP header annotation, or with fewer than 20 bytes there, are
    /// dropped and counted under their own reason (Click asserts instead).
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `ACTIVE` — boolean. If false, pass packets unchanged. Default true.
    /// - `MULTICAST` — boolean. If false, pass packets to multicast destinations unchanged.
    ///   Default true.
    ///
    /// # Handlers
    /// - `drops` (read) — expired packets (and, in Sluice, packets without an IP header).
    /// - `drop_details` (read) — drops by reason.
    /// - `active` (read/write) — the ACTIVE setting.
    ///
    /// # Example
    /// ```text
    /// ... -> dt :: DecIPTTL -> ...;
    /// dt[1] -> ICMPError(18.26.4.24, timeexceeded) -> ...;
    /// ```
    pub const DEC_IP_TTL = "DecIPTTL" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "expired packets"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
    HandlerSpec::read_write("active", Combine::First, "whether TTLs are decremented"),
];

const REASONS: &[&str] = &["TTL expired", "no IP header"];
const EXPIRED: usize = 0;
const NO_HEADER: usize = 1;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let multicast = args.read_kw::<bool>("MULTICAST")?.unwrap_or(true);
    args.finish()?;
    Ok(Box::new(DecIPTTL { active, multicast, drops: DropCounts::new(REASONS) }))
}

/// Click's incremental checksum update for a TTL decrement.
#[inline]
pub fn dec_ttl_checksum(old: u16) -> u16 {
    let sum = (!old) as u32 + 0xfeff;
    !((sum + (sum >> 16)) as u16)
}

/// The element: settings and counters.
pub struct DecIPTTL {
    active: bool,
    multicast: bool,
    drops: DropCounts,
}

impl DecIPTTL {
    /// `Ok` to pass on, `Err(reason)` to refuse; `Err(NO_HEADER)` packets are dropped.
    #[inline]
    fn dec(multicast: bool, p: &mut Packet) -> Result<(), usize> {
        let Some(mut ip) = ip_fixed_mut(p) else { return Err(NO_HEADER) };
        if !multicast && ip.dst_addr().is_multicast() {
            return Ok(());
        }
        if ip.ttl() <= 1 {
            return Err(EXPIRED);
        }
        ip.set_ttl(ip.ttl() - 1);
        let c = dec_ttl_checksum(ip.checksum());
        ip.set_checksum(c);
        Ok(())
    }

    #[inline]
    fn process(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        if !self.active {
            return;
        }
        let multicast = self.multicast;
        let mut expired = Batch::new();
        let reason = std::cell::Cell::new(EXPIRED);
        let drops = &mut self.drops;
        batch.retain_or(
            |p| match Self::dec(multicast, p) {
                Ok(()) => true,
                Err(r) => {
                    reason.set(r);
                    false
                }
            },
            |p| {
                drops.count(reason.get(), 1);
                if reason.get() == EXPIRED {
                    let _ = expired.push(p);
                }
            },
        );
        super::common::reject(expired, ctx);
    }
}

impl Element for DecIPTTL {
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
        match name {
            "active" => Some(self.active.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "active" => {
                self.active = bool::from_arg(value.trim()).map_err(|e| format!("active: {e}"))?;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use crate::wire::{checksum, ipv4};
    use sluice::testing::run_element;

    #[test]
    fn decrements_a_capture_byte_exactly() {
        // Every packet of snabb__v4.pcap comes out with TTL - 1 and a checksum equal to a
        // full recomputation (RFC 1624), all other bytes unchanged.
        let originals: Vec<Vec<u8>> = frames("snabb__v4.pcap").iter().map(|p| p.data().to_vec()).collect();
        let (out, r) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> d :: DecIPTTL");
        assert_eq!(out.len(), 43);
        assert_eq!(num(&r, "d", "drops"), 0);
        for (p, orig) in out.iter().zip(&originals) {
            let mut want = orig.clone();
            want[22] -= 1;
            let mut ip = ipv4::Packet::new_checked(&mut want[14..]).unwrap();
            ip.fill_checksum();
            assert_eq!(p.data(), &want[..]);
        }
    }

    #[test]
    fn expired_packets_go_to_output_1() {
        let mut input = frames("snabb__v4.pcap");
        input.truncate(4);
        for (p, ttl) in input.iter_mut().zip([0u8, 1, 2, 255]) {
            p.pull(14);
            p.set_network_header(0, 20);
            let mut ip = ipv4::Packet::new_checked(p.data_mut()).unwrap();
            ip.set_ttl(ttl);
            ip.fill_checksum();
        }
        input.push(Packet::from_slice(&[0x45; 8])); // no annotation: dropped
        let (out, r) = run_element(&DEC_IP_TTL, "", 2, input).unwrap();
        assert_eq!(out[0].iter().map(|p| p.data()[8]).collect::<Vec<_>>(), vec![1, 254]);
        assert_eq!(out[1].iter().map(|p| p.data()[8]).collect::<Vec<_>>(), vec![0, 1]);
        assert!(out[0].iter().all(|p| checksum::in_cksum(&p.data()[..20]) == 0));
        assert_eq!(r.read_handler("e", "drops").unwrap(), "3");
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "2 TTL expired\n1 no IP header");
    }

    #[test]
    fn inactive_and_multicast() {
        // tcpdump__vrrp.pcap: VRRP to 224.0.0.18 with TTL 255.
        let (out, _) = run_capture("tcpdump__vrrp.pcap", "CheckIPHeader(14) -> DecIPTTL(MULTICAST false)");
        assert!(out.iter().filter(|p| p.data()[30] == 224).all(|p| p.data()[22] == 255));
        let (out, _) = run_capture("tcpdump__vrrp.pcap", "CheckIPHeader(14) -> DecIPTTL(ACTIVE false)");
        assert!(out.iter().filter(|p| p.data()[12..14] == [8, 0]).all(|p| p.data()[22] == 255));
        let (out, _) = run_capture("tcpdump__vrrp.pcap", "CheckIPHeader(14) -> DecIPTTL");
        assert!(out.iter().filter(|p| p.data()[12..14] == [8, 0]).all(|p| p.data()[22] == 254));
    }

    #[test]
    fn click_formula_equals_rfc1624_update() {
        for old in [0u16, 1, 0x00ff, 0x0100, 0xc6c8, 0xfeff, 0xff00, 0xfffe, 0xffff] {
            assert_eq!(dec_ttl_checksum(old), checksum::update(old, 0x4006, 0x3f06), "{old:#x}");
        }
    }
}

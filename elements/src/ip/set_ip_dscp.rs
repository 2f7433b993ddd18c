//! `SetIPDSCP` and `SetIPECN`: set the DSCP or ECN bits of the IP TOS byte, updating the
//! header checksum incrementally.

use super::common::nh_offset;
use crate::wire::{checksum, ipv4};
use sluice::args::{Args, FromArg, Word};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// SetIPDSCP(DSCP)
    ///
    /// Sets IP packets' DSCP fields.
    ///
    /// Expects IP packets as input (the IP header annotation must be set). Sets each
    /// packet's IP diffserv code point field to DSCP (the upper six bits of the TOS byte,
    /// keeping the two ECN bits) and incrementally updates the header checksum, as Click's
    /// `click_update_in_cksum` does.
    ///
    /// Click asserts that the IP header annotation is set; Sluice drops and counts packets
    /// without one (or with fewer than 20 bytes there).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `DSCP` — unsigned 0..63 (`0x3F`), mandatory, positional. The code point.
    ///
    /// # Handlers
    /// - `dscp` (read/write) — the DSCP argument (read as it was written).
    /// - `drops` (read) — packets without an IP header, dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> CheckIPHeader -> SetIPDSCP(46) -> ... // Expedited Forwarding
    /// ```
    pub const SET_IP_DSCP = "SetIPDSCP" { ports: "1/1", processing: "a/a", handlers: DSCP_HANDLERS, build: build_dscp }
}

sluice::element_class! {
    /// SetIPECN(ECN)
    ///
    /// Sets IP packets' ECN fields.
    ///
    /// Expects IP packets as input (the IP header annotation must be set). Sets each
    /// packet's IP ECN field (the low two bits of the TOS byte) to ECN and incrementally
    /// updates the header checksum. ECN is `0`, `1`, `2` or `3`, or a name: `no` or `-`
    /// (0, Not-ECT), `ect1` or `ECT(1)` (1), `ect2` or `ECT(0)` (2), `ce` or `CE` (3).
    ///
    /// Click asserts that the IP header annotation is set; Sluice drops and counts packets
    /// without one (or with fewer than 20 bytes there).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `ECN` — ECN value or name, mandatory, positional.
    ///
    /// # Handlers
    /// - `ecn` (read/write) — the ECN argument (read as it was written).
    /// - `drops` (read) — packets without an IP header, dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> CheckIPHeader -> SetIPECN(CE) -> ...
    /// ```
    pub const SET_IP_ECN = "SetIPECN" { ports: "1/1", processing: "a/a", handlers: ECN_HANDLERS, build: build_ecn }
}

const DSCP_HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("dscp", Combine::First, "the DSCP argument"),
    HandlerSpec::read("drops", Combine::Sum, "packets without an IP header"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const ECN_HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("ecn", Combine::First, "the ECN argument"),
    HandlerSpec::read("drops", Combine::Sum, "packets without an IP header"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["no IP header"];

/// SetIPDSCP's argument: `Ok(tos bits)`.
fn parse_dscp(s: &str) -> Result<u8, String> {
    let v = u32::from_arg(s).map_err(|e| format!("DSCP: {e}"))?;
    if v > 0x3f {
        return Err("diffserv code point out of range".into());
    }
    Ok((v as u8) << 2)
}

/// SetIPECN's argument, as Click's `configure` reads it.
fn parse_ecn(s: &str) -> Result<u8, String> {
    Ok(match s {
        "0" | "1" | "2" | "3" => s.as_bytes()[0] - b'0',
        "no" | "-" => 0,
        "ect1" | "ECT(1)" => 1,
        "ect2" | "ECT(0)" => 2,
        "ce" | "CE" => 3,
        _ => return Err("bad ECN argument".into()),
    })
}

fn build_dscp(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let text = args.read_mp::<Word>("DSCP")?.0;
    args.finish()?;
    let bits = parse_dscp(&text)?;
    Ok(Box::new(SetTos { keep: 0x03, bits, text, ecn: false, drops: DropCounts::new(REASONS) }))
}

fn build_ecn(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let text = args.read_mp::<Word>("ECN")?.0;
    args.finish()?;
    let bits = parse_ecn(&text)?;
    Ok(Box::new(SetTos { keep: 0xfc, bits, text, ecn: true, drops: DropCounts::new(REASONS) }))
}

/// Both elements: the TOS bits kept and set, the argument as written, the drop counter.
pub struct SetTos {
    keep: u8,
    bits: u8,
    text: String,
    ecn: bool,
    drops: DropCounts,
}

/// Click's `smaction`: new TOS, `click_update_in_cksum(&ip_sum, old_hw, new_hw)` on the
/// first 16-bit word of the header.
#[inline]
fn set(keep: u8, bits: u8, p: &mut Packet) -> bool {
    let Some(off) = nh_offset(p) else { return false };
    let Some(h) = p.data_mut().get_mut(off..) else { return false };
    let Some(&b0) = h.first() else { return false };
    let Ok(mut ip) = ipv4::Packet::new_fixed(h) else { return false };
    let old = u16::from_be_bytes([b0, ip.tos()]);
    let tos = (ip.tos() & keep) | bits;
    ip.set_tos(tos);
    let c = checksum::update(ip.checksum(), old, u16::from_be_bytes([b0, tos]));
    ip.set_checksum(c);
    true
}

impl SetTos {
    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let (keep, bits) = (self.keep, self.bits);
        let mut dropped = 0;
        batch.retain_or(|p| set(keep, bits, p), |_| dropped += 1);
        self.drops.count(0, dropped);
    }
}

impl Element for SetTos {
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
        match name {
            "dscp" if !self.ecn => Some(self.text.clone()),
            "ecn" if self.ecn => Some(self.text.clone()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = Word::from_arg(value.trim())?.0;
        match name {
            "dscp" if !self.ecn => self.bits = parse_dscp(&v)?,
            "ecn" if self.ecn => self.bits = parse_ecn(&v)?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        self.text = v;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    fn ip(tos: u8) -> Packet {
        let mut h = [0u8; 20];
        let mut v = ipv4::Packet::new_unchecked(&mut h[..]);
        v.set_version(4);
        v.set_header_len(20);
        v.set_tos(tos);
        v.set_total_len(20);
        v.set_ttl(64);
        v.set_protocol(17);
        v.set_src_addr([10, 0, 0, 1].into());
        v.set_dst_addr([10, 0, 0, 2].into());
        v.fill_checksum();
        let mut p = Packet::from_slice(&h);
        p.set_network_header(0, 20);
        p
    }

    #[test]
    fn sets_dscp_keeping_ecn_and_the_checksum_right() {
        let (out, r) =
            run_element(&SET_IP_DSCP, "46", 1, vec![ip(0x03), ip(0xff), Packet::from_slice(&[0x45; 20])]).unwrap();
        assert_eq!(out[0].len(), 2);
        assert_eq!(out[0][0].data()[1], 0xbb);
        assert_eq!(out[0][1].data()[1], 0xbb);
        for p in &out[0] {
            let mut want = p.data().to_vec();
            want[10..12].fill(0);
            let c = checksum::in_cksum(&want);
            assert_eq!(&p.data()[10..12], &c.to_be_bytes());
        }
        assert_eq!(r.read_handler("e", "drops").unwrap(), "1");
    }

    #[test]
    fn sets_ecn_by_number_and_name() {
        for (arg, tos) in [
            ("0", 0xb8),
            ("ect1", 0xb9),
            ("ECT(1)", 0xb9),
            ("ECT(0)", 0xba),
            ("ect2", 0xba),
            ("CE", 0xbb),
            ("ce", 0xbb),
            ("no", 0xb8),
            ("-", 0xb8),
            ("3", 0xbb),
        ] {
            let (out, _) = run_element(&SET_IP_ECN, arg, 1, vec![ip(0xb9)]).unwrap();
            let d = out[0][0].data();
            assert_eq!(d[1], tos, "{arg}");
            assert_eq!(checksum::in_cksum(&d[..20]), 0, "{arg}");
        }
    }

    #[test]
    fn a_whole_capture_keeps_valid_checksums() {
        // Every IPv4 header of tcpdump__afs.pcap marked EF then CE: CheckIPHeader (which
        // verifies checksums) accepts all 601.
        let n = frames("tcpdump__afs.pcap").len() as u64;
        let (out, r) = run_capture(
            "tcpdump__afs.pcap",
            "Strip(14) -> CheckIPHeader -> d :: SetIPDSCP(0x2e) -> SetIPECN(CE) -> after :: CheckIPHeader",
        );
        assert_eq!(out.len() as u64, n);
        assert_eq!(num(&r, "after", "drops"), 0);
        assert_eq!(num(&r, "d", "drops"), 0);
        assert!(out.iter().all(|p| p.data()[1] == 0xbb));
    }

    #[test]
    fn handlers_and_bad_configurations() {
        let mut e = build_elem(&SET_IP_DSCP, "0x0A", 1, 1).unwrap();
        assert_eq!(e.read_handler("dscp").unwrap(), "0x0A");
        e.write_handler("dscp", "63").unwrap();
        assert_eq!(e.read_handler("dscp").unwrap(), "63");
        assert!(e.write_handler("dscp", "64").is_err());
        assert_eq!(e.read_handler("dscp").unwrap(), "63");
        let mut e = build_elem(&SET_IP_ECN, "ECT(1)", 1, 1).unwrap();
        assert_eq!(e.read_handler("ecn").unwrap(), "ECT(1)");
        e.write_handler("ecn", "ce").unwrap();
        assert_eq!(e.read_handler("ecn").unwrap(), "ce");
        assert!(e.read_handler("dscp").is_none());
        for bad in ["", "64", "-1", "ef"] {
            assert!(build_elem(&SET_IP_DSCP, bad, 1, 1).is_err(), "{bad}");
        }
        for bad in ["", "4", "ECT", "yes", "Ce"] {
            assert!(build_elem(&SET_IP_ECN, bad, 1, 1).is_err(), "{bad}");
        }
    }
}

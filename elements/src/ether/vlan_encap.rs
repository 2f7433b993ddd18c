//! `VLANEncap`: inserts an 802.1Q tag into Ethernet frames.
//!
//! Also the VLAN arguments (`VLAN_TCI`, `VLAN_PCP`, `VLAN_ID`, `NATIVE_VLAN`) that
//! VLANEncap and EtherVLANEncap share.

use super::parse_value;
use crate::wire::ether::{ethertype, Frame, VlanTag, HEADER_LEN, VLAN_TAG_LEN};
use sluice::args::{Args, FromArg, Word};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// VLANEncap([VLAN_TCI, VLAN_PCP, KEYWORDS])
    ///
    /// Add VLAN information to Ethernet packets.
    ///
    /// Expects Ethernet-encapsulated packets as input. Adds an 802.1Q shim header: 4 bytes
    /// after the two addresses, holding ETHERTYPE (0x8100) and the TCI, so the result
    /// looks like an Ethernet packet with type 0x8100. The VLAN arguments define the VLAN
    /// ID and priority code point.
    ///
    /// VLAN_TCI is a 16-bit VLAN TCI, including both the VLAN ID and the VLAN PCP.
    /// VLAN_TCI may also be the string `ANNO`; in ANNO mode, the TCI is read from the
    /// input packet's VLAN TCI annotation. You may also set the VLAN_ID and VLAN_PCP
    /// separately via keywords. If the output VLAN ID equals NATIVE_VLAN, the packet is
    /// left untagged. If you want to add a full Ethernet 802.1Q header, use EtherVLANEncap.
    ///
    /// Packets shorter than an Ethernet header (14 bytes) that would be tagged are dropped
    /// and counted.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `VLAN_TCI` — integer 0..0xFFFF or `ANNO`, positional. The whole TCI. Exactly one
    ///   of VLAN_TCI and VLAN_ID should be set; VLAN_TCI wins (VLAN_PCP is still or-ed in).
    /// - `VLAN_PCP` — integer 0..7, positional. The priority code point. Default 0.
    /// - `VLAN_ID` — integer 0..0xFFF. The VLAN ID. Note that IDs 0 and 0xFFF are reserved
    ///   in 802.1Q.
    /// - `NATIVE_VLAN` — integer -1..0xFFF. Packets whose VLAN ID equals NATIVE_VLAN are
    ///   not tagged; -1 means no native VLAN. Default 0 (so VLAN ID 0 means untagged, as in
    ///   Click).
    /// - `ETHERTYPE` — unsigned 16-bit. The tag's EtherType. Default 0x8100 (802.1Q
    ///   customer VLANs); 0x88a8 gives 802.1ad service VLANs (QinQ), 0x9100 old
    ///   non-standard VLANs.
    ///
    /// # Handlers
    /// - `vlan_tci` (read/write) — the TCI as a number, or `ANNO`.
    /// - `vlan_id` (read/write) — the VLAN ID (of VLAN_TCI when that is set).
    /// - `vlan_pcp` (read/write) — the priority (of VLAN_TCI when that is set).
    /// - `native_vlan` (read/write) — the native VLAN.
    /// - `ethertype` (read/write) — the tag's EtherType.
    /// - `drops` (read) — packets dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// // tag with the VLAN the packet came from (see VLANDecap)
    /// ... -> VLANDecap -> ... -> VLANEncap(ANNO) -> ToDevice(eth1);
    /// // QinQ: customer tag 2001, service tag 200
    /// ... -> VLANEncap(VLAN_ID 2001) -> VLANEncap(VLAN_ID 200, ETHERTYPE 0x88a8) -> ...
    /// ```
    pub const VLAN_ENCAP = "VLANEncap" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("vlan_tci", Combine::First, "the TCI, or ANNO"),
    HandlerSpec::read_write("vlan_id", Combine::First, "the VLAN ID"),
    HandlerSpec::read_write("vlan_pcp", Combine::First, "the priority code point"),
    HandlerSpec::read_write("native_vlan", Combine::First, "the native (untagged) VLAN, -1 for none"),
    HandlerSpec::read_write("ethertype", Combine::First, "the tag's EtherType"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["shorter than an Ethernet header"];

/// The VLAN_TCI argument: a number or `ANNO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TciArg {
    Anno,
    Value(u16),
}

impl FromArg for TciArg {
    const DESCRIPTION: &'static str = "VLAN TCI (0..0xFFFF or ANNO)";
    fn from_arg(s: &str) -> Result<Self, String> {
        let w = Word::from_arg(s)?;
        if w.0 == "ANNO" {
            Ok(TciArg::Anno)
        } else {
            u16::from_arg(&w.0).map(TciArg::Value)
        }
    }
}

/// A number within bounds, for VLAN_ID, VLAN_PCP and NATIVE_VLAN.
fn bounded(name: &str, v: Option<i64>, lo: i64, hi: i64, default: i64) -> Result<i64, String> {
    match v {
        None => Ok(default),
        Some(v) if (lo..=hi).contains(&v) => Ok(v),
        Some(v) => Err(format!("{name}: {v} out of range ({lo}..={hi})")),
    }
}

/// The VLAN arguments as configured (Click recomputes the TCI from them on every change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VlanConfig {
    pub tci: Option<TciArg>,
    pub id: u16,
    pub pcp: u8,
    /// -1: no native VLAN.
    pub native: i32,
}

impl VlanConfig {
    /// Read `VLAN_TCI` and `VLAN_PCP` (positional, after whatever was read before),
    /// `VLAN_ID` and `NATIVE_VLAN`.
    pub fn read(args: &mut Args) -> Result<VlanConfig, ConfigError> {
        let tci = args.read_p::<TciArg>("VLAN_TCI")?;
        let pcp = bounded("VLAN_PCP", args.read_p::<i64>("VLAN_PCP")?, 0, 7, 0)?;
        let id = bounded("VLAN_ID", args.read_kw::<i64>("VLAN_ID")?, 0, 0xfff, 0)?;
        let native = bounded("NATIVE_VLAN", args.read_kw::<i64>("NATIVE_VLAN")?, -1, 0xfff, 0)?;
        Ok(VlanConfig { tci, id: id as u16, pcp: pcp as u8, native: native as i32 })
    }

    /// The TCI to write, or `None` in ANNO mode: `(VLAN_TCI or VLAN_ID) | VLAN_PCP << 13`.
    #[inline]
    pub fn fixed_tci(&self) -> Option<u16> {
        match self.tci {
            Some(TciArg::Anno) => None,
            Some(TciArg::Value(t)) => Some(t | u16::from(self.pcp) << 13),
            None => Some(self.id | u16::from(self.pcp) << 13),
        }
    }

    /// Whether a frame with this TCI stays untagged.
    #[inline]
    pub fn is_native(&self, tci: u16) -> bool {
        i32::from(tci & 0x0fff) == self.native
    }

    /// The TCI for packet `p`.
    #[inline]
    pub fn tci_for(&self, fixed: Option<u16>, p: &Packet) -> u16 {
        fixed.unwrap_or(p.anno().vlan_tci)
    }

    /// Read one of the VLAN handlers.
    pub fn read_handler(&self, name: &str) -> Option<String> {
        let fixed = self.fixed_tci();
        Some(match name {
            "vlan_tci" => fixed.map_or_else(|| "ANNO".to_string(), |t| t.to_string()),
            "vlan_id" => fixed.map_or(self.id, |t| t & 0x0fff).to_string(),
            "vlan_pcp" => fixed.map_or(u16::from(self.pcp), |t| t >> 13).to_string(),
            "native_vlan" => self.native.to_string(),
            _ => return None,
        })
    }

    /// Write one of the VLAN handlers; `Ok(false)` if `name` is not one of them.
    pub fn write_handler(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let int = |v: &str| parse_value::<i64>(name, v);
        match name {
            "vlan_tci" => self.tci = Some(parse_value::<TciArg>("VLAN_TCI", value)?),
            "vlan_id" => self.id = bounded("VLAN_ID", Some(int(value)?), 0, 0xfff, 0)? as u16,
            "vlan_pcp" => self.pcp = bounded("VLAN_PCP", Some(int(value)?), 0, 7, 0)? as u8,
            "native_vlan" => self.native = bounded("NATIVE_VLAN", Some(int(value)?), -1, 0xfff, 0)? as i32,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let vlan = VlanConfig::read(&mut args)?;
    let tag_type = args.read_kw::<u16>("ETHERTYPE")?.unwrap_or(ethertype::VLAN);
    args.finish()?;
    Ok(Box::new(VlanEncap { vlan, tag_type, drops: DropCounts::new(REASONS) }))
}

/// The element: the VLAN arguments and the tag's EtherType.
pub struct VlanEncap {
    vlan: VlanConfig,
    tag_type: u16,
    drops: DropCounts,
}

impl VlanEncap {
    /// Tag one packet (or leave it alone on the native VLAN); false to drop it.
    #[inline]
    fn encap(&self, fixed: Option<u16>, p: &mut Packet) -> bool {
        let tci = self.vlan.tci_for(fixed, p);
        if self.vlan.is_native(tci) {
            return true;
        }
        if p.len() < HEADER_LEN {
            return false;
        }
        p.push(VLAN_TAG_LEN);
        let d = p.data_mut();
        d.copy_within(VLAN_TAG_LEN..VLAN_TAG_LEN + 12, 0);
        let mut frame = Frame::new_unchecked(&mut *d);
        frame.set_ethertype(self.tag_type);
        VlanTag::new_unchecked(frame.payload_mut()).set_tci(tci);
        true
    }

    #[inline]
    fn encap_batch(&mut self, batch: &mut Batch) {
        let fixed = self.vlan.fixed_tci();
        let mut short = 0;
        batch.retain_or(|p| self.encap(fixed, p), |_| short += 1);
        if short > 0 {
            self.drops.count(0, short);
        }
    }
}

impl Element for VlanEncap {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.encap_batch(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.encap_batch(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "ethertype" => Some(self.tag_type.to_string()),
            _ => self.vlan.read_handler(name).or_else(|| self.drops.read_handler(name)),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        if name == "ethertype" {
            self.tag_type = parse_value("ETHERTYPE", value)?;
            return Ok(());
        }
        if self.vlan.write_handler(name, value)? {
            Ok(())
        } else {
            Err(format!("handler '{name}' is not writable"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};
    use sluice::testing::{build as build_elem, collected, new_id, run_config, run_element};

    #[test]
    fn decap_then_encap_restores_tagged_captures() {
        // VLAN 1 frames: VLANDecap takes the tag off and keeps the TCI as annotation;
        // VLANEncap(ANNO) puts the very same tag back.
        let path = format!("{PCAPS}/snabb__source-vlan.pcap");
        let (_, recs) = pcap_records(&path);
        let sink = new_id();
        let config = format!("FromDump(\"{path}\", STOP true) -> VLANDecap -> VLANEncap(ANNO) -> Collect(ID {sink});");
        run_config(&config, &crate::classes()).unwrap();
        let got = collected(sink);
        assert_eq!(got.len(), recs.len());
        for (p, r) in got.iter().zip(&recs) {
            assert_eq!(p.data(), &r[..]);
        }
    }

    #[test]
    fn qinq_tags_from_ids() {
        // The reply of tcpdump's 802.1ad sample, untagged, gets its two tags back.
        let (_, recs) = pcap_records(&format!("{PCAPS}/tcpdump__802.1ad_QinQ.pcap"));
        let tagged = &recs[1];
        let mut untagged = tagged[..12].to_vec();
        untagged.extend_from_slice(&tagged[20..]);
        let (out, _) = run_element(&VLAN_ENCAP, "VLAN_ID 2001", 1, vec![Packet::from_slice(&untagged)]).unwrap();
        let (out, _) =
            run_element(&VLAN_ENCAP, "VLAN_ID 200, ETHERTYPE 0x88a8", 1, out.into_iter().flatten().collect()).unwrap();
        assert_eq!(out[0][0].data(), &tagged[..]);
    }

    #[test]
    fn tci_pcp_native_and_short_packets() {
        let frame: Vec<u8> = (0..20u8).collect();
        let tag = |config: &str| {
            let (out, _) = run_element(&VLAN_ENCAP, config, 1, vec![Packet::from_slice(&frame)]).unwrap();
            out[0].first().map(|p| p.data().to_vec())
        };
        let t = tag("0x0123, 5").unwrap();
        assert_eq!(&t[..12], &frame[..12]);
        assert_eq!(&t[12..16], &[0x81, 0x00, 0xa1, 0x23]);
        assert_eq!(&t[16..], &frame[12..]);
        // VLAN ID 0 is the default native VLAN: untouched.
        assert_eq!(tag("VLAN_ID 0").unwrap(), frame);
        assert_eq!(tag("VLAN_ID 7, NATIVE_VLAN 7").unwrap(), frame);
        assert_eq!(&tag("VLAN_ID 0, VLAN_PCP 3, NATIVE_VLAN -1").unwrap()[12..16], &[0x81, 0x00, 0x60, 0x00]);
        let (out, router) = run_element(&VLAN_ENCAP, "VLAN_ID 5", 1, vec![Packet::from_slice(&[0; 13])]).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(router.read_handler("e", "drops").unwrap(), "1");
    }

    #[test]
    fn handlers_and_config_errors() {
        let mut e = build_elem(&VLAN_ENCAP, "VLAN_ID 100, VLAN_PCP 2", 1, 1).unwrap();
        assert_eq!(e.read_handler("vlan_tci").unwrap(), (100 | 2 << 13).to_string());
        assert_eq!(e.read_handler("vlan_id").unwrap(), "100");
        assert_eq!(e.read_handler("vlan_pcp").unwrap(), "2");
        assert_eq!(e.read_handler("native_vlan").unwrap(), "0");
        assert_eq!(e.read_handler("ethertype").unwrap(), "33024");
        e.write_handler("vlan_id", "200").unwrap();
        assert_eq!(e.read_handler("vlan_id").unwrap(), "200");
        e.write_handler("vlan_tci", "ANNO").unwrap();
        assert_eq!(e.read_handler("vlan_tci").unwrap(), "ANNO");
        assert!(e.write_handler("vlan_pcp", "8").is_err());
        assert!(e.write_handler("vlan_id", "4096").is_err());
        assert!(e.write_handler("vlan_tci", "0x10000").is_err());
        assert!(build_elem(&VLAN_ENCAP, "VLAN_ID 4096", 1, 1).is_err());
        assert!(build_elem(&VLAN_ENCAP, "NATIVE_VLAN -2", 1, 1).is_err());
        assert!(build_elem(&VLAN_ENCAP, "VLAN_TCI ANNOX", 1, 1).is_err());
    }
}

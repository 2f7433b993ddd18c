//! `StripEtherVLANHeader`: strips the Ethernet and 802.1Q headers, keeping the TCI.

use crate::wire::ether::{ethertype, HEADER_LEN, VLAN_TAG_LEN};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// StripEtherVLANHeader([NATIVE_VLAN])
    ///
    /// Strips 802.1Q VLAN Ethernet header.
    ///
    /// Strips each packet's 802.1Q header. Checks the packet's outermost Ethernet type. If
    /// that type is 0x8100 (the 802.1Q type), then sets the packet's VLAN annotation to the
    /// corresponding 802.1Q field (the whole TCI) and removes the 18-byte 802.1Q header.
    /// Otherwise, the packet is not VLAN encapsulated: the element sets the packet's VLAN
    /// annotation to the NATIVE_VLAN value and removes the 14-byte Ethernet header.
    ///
    /// If NATIVE_VLAN is negative, then non-802.1Q packets are dropped (or emitted from
    /// output 1). NATIVE_VLAN defaults to 0.
    ///
    /// Click reads the header without checking the packet's length; Sluice drops packets
    /// too short for the header it would remove, and counts them. (Click keeps the VLAN
    /// annotation in network byte order; Sluice's `vlan_tci` holds the same TCI as a
    /// number.) `StripEtherVlanHeader` is another name for this class, as in Click.
    ///
    /// Ports: 1 input, 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `NATIVE_VLAN` — integer up to 0xFFF, positional. The VLAN of untagged packets;
    ///   negative: untagged packets go to output 1 or are dropped. Default 0.
    ///
    /// # Handlers
    /// - `drops` (read) — packets dropped (Sluice only).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> s :: StripEtherVLANHeader(-1) -> CheckIPHeader -> ...
    /// s[1] -> Discard;   // untagged frames
    /// ```
    pub const STRIP_ETHER_VLAN_HEADER = "StripEtherVLANHeader" {
        ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build
    }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] =
    &["shorter than an Ethernet header", "802.1Q header cut short", "not 802.1Q (NATIVE_VLAN negative, no output 1)"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let native = args.read_p::<i64>("NATIVE_VLAN")?.unwrap_or(0);
    args.finish()?;
    if native > 0xfff {
        return Err("bad NATIVE_VLAN".into());
    }
    Ok(Box::new(StripEtherVlanHeader { native: u16::try_from(native).ok(), drops: DropCounts::new(REASONS) }))
}

/// The element: the native VLAN (`None` when negative) and the drop counter.
pub struct StripEtherVlanHeader {
    native: Option<u16>,
    drops: DropCounts,
}

/// What becomes of one packet.
enum Verdict {
    Keep,
    Output1,
    Drop(usize),
}

impl StripEtherVlanHeader {
    #[inline]
    fn strip(&self, p: &mut Packet) -> Verdict {
        let d = p.data();
        if d.len() < HEADER_LEN {
            return Verdict::Drop(0);
        }
        if u16::from_be_bytes([d[12], d[13]]) == ethertype::VLAN {
            if d.len() < HEADER_LEN + VLAN_TAG_LEN {
                return Verdict::Drop(1);
            }
            let tci = u16::from_be_bytes([d[14], d[15]]);
            p.anno_mut().vlan_tci = tci;
            p.pull(HEADER_LEN + VLAN_TAG_LEN);
            Verdict::Keep
        } else if let Some(native) = self.native {
            p.anno_mut().vlan_tci = native;
            p.pull(HEADER_LEN);
            Verdict::Keep
        } else {
            Verdict::Output1
        }
    }

    #[inline]
    fn strip_batch(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let (mut keep, mut other) = (Batch::new(), Batch::new());
        let mut bad = [0u64; 3];
        for mut p in std::mem::take(batch) {
            // Batches hold at most MAX_BATCH packets, so neither part overflows.
            match self.strip(&mut p) {
                Verdict::Keep => {
                    let _ = keep.push(p);
                }
                Verdict::Output1 => {
                    let _ = other.push(p);
                }
                Verdict::Drop(r) => bad[r] += 1,
            }
        }
        *batch = keep;
        if !other.is_empty() {
            if ctx.noutputs() > 1 {
                ctx.push(1, other);
            } else {
                bad[2] += other.len() as u64;
            }
        }
        for (r, n) in bad.into_iter().enumerate() {
            if n > 0 {
                self.drops.count(r, n);
            }
        }
    }
}

impl Element for StripEtherVlanHeader {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.strip_batch(&mut batch, &mut ctx);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.strip_batch(&mut batch, &mut ctx);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};

    fn frame(tag: Option<u16>, payload: &[u8]) -> Packet {
        let mut d = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        if let Some(tci) = tag {
            d.extend_from_slice(&[0x81, 0x00]);
            d.extend_from_slice(&tci.to_be_bytes());
        }
        d.extend_from_slice(&[0x08, 0x00]);
        d.extend_from_slice(payload);
        Packet::from_slice(&d)
    }

    #[test]
    fn strips_tagged_and_untagged_headers() {
        let input = vec![frame(Some(0x2065), b"tagged"), frame(None, b"plain")];
        let (out, router) = run_element(&STRIP_ETHER_VLAN_HEADER, "", 2, input).unwrap();
        assert_eq!(out[0].len(), 2);
        assert!(out[1].is_empty());
        assert_eq!(out[0][0].data(), b"tagged");
        assert_eq!(out[0][0].anno().vlan_tci, 0x2065);
        assert_eq!(out[0][1].data(), b"plain");
        assert_eq!(out[0][1].anno().vlan_tci, 0);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn native_vlan_sets_the_annotation_of_untagged_packets() {
        let mut p = frame(None, b"x");
        p.anno_mut().vlan_tci = 77;
        let (out, _) = run_element(&STRIP_ETHER_VLAN_HEADER, "NATIVE_VLAN 0xFFF", 1, vec![p]).unwrap();
        assert_eq!(out[0][0].anno().vlan_tci, 0xfff);
        assert_eq!(out[0][0].data(), b"x");
    }

    #[test]
    fn negative_native_vlan_sends_untagged_packets_to_output_1_or_drops_them() {
        let input = || vec![frame(None, b"a"), frame(Some(5), b"b"), frame(None, b"c")];
        let (out, router) = run_element(&STRIP_ETHER_VLAN_HEADER, "-1", 2, input()).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].data(), b"b");
        assert_eq!(out[0][0].anno().vlan_tci, 5);
        // Untagged packets leave output 1 unchanged.
        assert_eq!(out[1].len(), 2);
        assert_eq!(out[1][0].len(), 15);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "0");
        let (out, router) = run_element(&STRIP_ETHER_VLAN_HEADER, "-1", 1, input()).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "2");
    }

    #[test]
    fn short_packets_are_dropped_and_counted() {
        let input = vec![
            Packet::from_slice(&[0; 13]),
            Packet::from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 1]),
            frame(None, b""),
        ];
        let (out, router) = run_element(&STRIP_ETHER_VLAN_HEADER, "", 2, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert!(out[0][0].is_empty());
        assert!(out[1].is_empty());
        assert_eq!(router.read_handler("e", "drops").unwrap(), "2");
        let details = router.read_handler("e", "drop_details").unwrap();
        assert!(details.contains("1 shorter than an Ethernet header"), "{details}");
        assert!(details.contains("1 802.1Q header cut short"), "{details}");
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&STRIP_ETHER_VLAN_HEADER, "4095", 1, 1).is_ok());
        assert_eq!(build_elem(&STRIP_ETHER_VLAN_HEADER, "4096", 1, 1).err().unwrap().0, "bad NATIVE_VLAN");
        assert!(build_elem(&STRIP_ETHER_VLAN_HEADER, "-5", 1, 1).is_ok());
        assert!(build_elem(&STRIP_ETHER_VLAN_HEADER, "x", 1, 1).is_err());
        assert!(build_elem(&STRIP_ETHER_VLAN_HEADER, "1, 2", 1, 1).is_err());
    }
}

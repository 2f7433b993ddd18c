//! `VLANDecap`: removes the 802.1Q tag of Ethernet frames.

use super::parse_value;
use crate::wire::ether::{ethertype, Frame, VlanTag, VLAN_TAG_LEN};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// VLANDecap([ANNO, KEYWORDS])
    ///
    /// Strip VLAN information from Ethernet packets.
    ///
    /// Expects a potentially 802.1Q VLAN encapsulated packet as input. If it is
    /// encapsulated (its EtherType is ETHERTYPE), then the encapsulation is stripped,
    /// leaving a conventional Ethernet packet. Untagged packets pass unchanged.
    ///
    /// If ANNO is true (the default), the VLAN TCI annotation is set to the packet's VLAN
    /// TCI, or 0 if the packet was not VLAN-encapsulated. (Click keeps that annotation in
    /// network byte order; Sluice's `vlan_tci` annotation holds the same TCI as a number.)
    ///
    /// Packets shorter than an Ethernet header, and tagged packets cut off inside the tag,
    /// are dropped and counted (Click would read past their end).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `ANNO` — boolean, positional. Set the VLAN TCI annotation. Default true.
    /// - `ETHERTYPE` — unsigned 16-bit. The EtherType of tagged frames. Default 0x8100
    ///   (802.1Q customer VLANs); 0x88a8 for 802.1ad service VLANs (QinQ), 0x9100 for old
    ///   non-standard VLANs.
    ///
    /// # Handlers
    /// - `ethertype` (read/write) — the ETHERTYPE parameter.
    /// - `drops` (read) — packets dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// // QinQ: remove the service tag, then the customer tag
    /// FromDevice(eth0) -> VLANDecap(ETHERTYPE 0x88a8) -> VLANDecap -> ...
    /// ```
    pub const VLAN_DECAP = "VLANDecap" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("ethertype", Combine::First, "the EtherType of tagged frames"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["shorter than an Ethernet header", "VLAN tag cut short"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let anno = args.read_p::<bool>("ANNO")?.unwrap_or(true);
    let tag_type = args.read_kw::<u16>("ETHERTYPE")?.unwrap_or(ethertype::VLAN);
    args.finish()?;
    Ok(Box::new(VlanDecap { anno, tag_type, drops: DropCounts::new(REASONS) }))
}

/// The element: whether to set the annotation, and the tag's EtherType.
pub struct VlanDecap {
    anno: bool,
    tag_type: u16,
    drops: DropCounts,
}

impl VlanDecap {
    /// Untag one packet; `Err(reason)` to drop it.
    #[inline]
    fn decap(&self, p: &mut Packet) -> Result<(), usize> {
        let f = Frame::new_checked(p.data()).map_err(|_| 0usize)?;
        let mut tci = 0;
        if f.ethertype() == self.tag_type {
            tci = VlanTag::new_checked(f.payload()).map_err(|_| 1usize)?.tci();
            p.data_mut().copy_within(0..12, VLAN_TAG_LEN);
            p.pull(VLAN_TAG_LEN);
        }
        if self.anno {
            p.anno_mut().vlan_tci = tci;
        }
        Ok(())
    }

    #[inline]
    fn decap_batch(&mut self, batch: &mut Batch) {
        let mut bad = [0u64; 2];
        batch.retain_or(
            |p| match self.decap(p) {
                Ok(()) => true,
                Err(r) => {
                    bad[r] += 1;
                    false
                }
            },
            drop,
        );
        for (r, n) in bad.into_iter().enumerate() {
            if n > 0 {
                self.drops.count(r, n);
            }
        }
    }
}

impl Element for VlanDecap {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.decap_batch(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.decap_batch(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "ethertype" => Some(self.tag_type.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "ethertype" => self.tag_type = parse_value("ETHERTYPE", value)?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};
    use sluice::testing::{build as build_elem, collected, new_id, run_config, run_element};

    #[test]
    fn strips_802_1q_tags_of_a_capture() {
        let path = format!("{PCAPS}/snabb__source-vlan.pcap");
        let (_, recs) = pcap_records(&path);
        let sink = new_id();
        run_config(&format!("FromDump(\"{path}\", STOP true) -> VLANDecap -> Collect(ID {sink});"), &crate::classes())
            .unwrap();
        let got = collected(sink);
        assert_eq!(got.len(), 102);
        for (p, r) in got.iter().zip(&recs) {
            assert_eq!(&p.data()[..12], &r[..12]);
            assert_eq!(&p.data()[12..], &r[16..]);
            assert_eq!(p.anno().vlan_tci, u16::from_be_bytes([r[14], r[15]]));
            assert!((1..=2).contains(&p.anno().vlan_tci));
        }
    }

    #[test]
    fn qinq_takes_two_decaps() {
        let path = format!("{PCAPS}/tcpdump__802.1ad_QinQ.pcap");
        let (_, recs) = pcap_records(&path);
        let (outer, both) = (new_id(), new_id());
        let config = format!(
            "t :: Tee; FromDump(\"{path}\", STOP true) -> VLANDecap(ETHERTYPE 0x88a8) -> t; \
             t[0] -> Collect(ID {outer}); t[1] -> VLANDecap -> Collect(ID {both});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let (outer, both) = (collected(outer), collected(both));
        assert_eq!((outer.len(), both.len()), (2, 2));
        for ((o, b), r) in outer.iter().zip(&both).zip(&recs) {
            // The outer service tag (VLAN 200) goes first...
            assert_eq!(o.anno().vlan_tci, 200);
            assert_eq!(&o.data()[12..], &r[16..]);
            // ...then the customer tag (VLAN 2001), leaving the ARP frame.
            assert_eq!(b.anno().vlan_tci, 2001);
            assert_eq!(&b.data()[..12], &r[..12]);
            assert_eq!(&b.data()[12..14], &[0x08, 0x06]);
            assert_eq!(&b.data()[12..], &r[20..]);
        }
    }

    #[test]
    fn untagged_short_and_cut_packets() {
        let mut untagged = vec![0u8; 20];
        untagged[12] = 0x08;
        let mut p = Packet::from_slice(&untagged);
        p.anno_mut().vlan_tci = 77;
        let mut cut = vec![0u8; 16];
        cut[12] = 0x81;
        let input = vec![p, Packet::from_slice(&[0; 13]), Packet::from_slice(&cut)];
        let (out, router) = run_element(&VLAN_DECAP, "", 1, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!((out[0][0].data(), out[0][0].anno().vlan_tci), (&untagged[..], 0));
        assert_eq!(router.read_handler("e", "drops").unwrap(), "2");
        let details = router.read_handler("e", "drop_details").unwrap();
        assert!(details.contains("1 shorter than an Ethernet header") && details.contains("1 VLAN tag cut short"));

        let mut p = Packet::from_slice(&untagged);
        p.anno_mut().vlan_tci = 77;
        let (out, _) = run_element(&VLAN_DECAP, "false", 1, vec![p]).unwrap();
        assert_eq!(out[0][0].anno().vlan_tci, 77, "ANNO false leaves the annotation");
        let mut e = build_elem(&VLAN_DECAP, "ANNO true, ETHERTYPE 0x9100", 1, 1).unwrap();
        assert_eq!(e.read_handler("ethertype").unwrap(), "37120");
        e.write_handler("ethertype", "0x8100").unwrap();
        assert!(build_elem(&VLAN_DECAP, "maybe", 1, 1).is_err());
    }
}

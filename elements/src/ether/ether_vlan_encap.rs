//! `EtherVLANEncap`: puts an 802.1Q-tagged Ethernet header in front of each packet.

use super::vlan_encap::VlanConfig;
use super::{parse_value, unparse_ether};
use crate::wire::ether::{ethertype, Frame, VlanTag, HEADER_LEN, VLAN_TAG_LEN};
use sluice::args::{Args, EtherAddr};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// EtherVLANEncap(ETHERTYPE, SRC, DST, VLAN_TCI [, VLAN_PCP, KEYWORDS])
    ///
    /// Encapsulates packets in 802.1Q VLAN Ethernet header.
    ///
    /// Encapsulates each packet in the 802.1Q header specified by its arguments: DST, SRC,
    /// EtherType 0x8100, the TCI, and ETHERTYPE (in host order, such as `0x0800`) as the
    /// encapsulated type. The VLAN arguments define the VLAN ID and priority code point.
    ///
    /// VLAN_TCI is a 16-bit VLAN TCI, including both the VLAN ID and the VLAN PCP.
    /// VLAN_TCI may also be the string `ANNO`; in ANNO mode, the TCI is read from the input
    /// packet's VLAN TCI annotation. You may also set the VLAN_ID and VLAN_PCP separately
    /// via keywords. If the VLAN ID equals NATIVE_VLAN (default 0), the packet gets a
    /// conventional 14-byte Ethernet header of type ETHERTYPE instead.
    ///
    /// If you want to add a VLAN shim header to a packet that's already
    /// Ethernet-encapsulated, use VLANEncap.
    ///
    /// As in Click, `EtherVlanEncap` is another name for this class.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `ETHERTYPE` — unsigned 16-bit, mandatory, positional. The encapsulated type.
    /// - `SRC` — Ethernet address, mandatory, positional. The source address.
    /// - `DST` — Ethernet address, mandatory, positional. The destination address.
    /// - `VLAN_TCI` — integer 0..0xFFFF or `ANNO`, positional. The whole TCI. Exactly one
    ///   of VLAN_TCI and VLAN_ID should be set; VLAN_TCI wins (VLAN_PCP is still or-ed in).
    /// - `VLAN_PCP` — integer 0..7, positional. The priority code point. Default 0.
    /// - `VLAN_ID` — integer 0..0xFFF. The VLAN ID.
    /// - `NATIVE_VLAN` — integer -1..0xFFF. The VLAN sent untagged; -1 for none. Default 0.
    ///
    /// # Handlers
    /// - `src` (read/write) — the SRC parameter.
    /// - `dst` (read/write) — the DST parameter.
    /// - `ethertype` (read/write) — the ETHERTYPE parameter.
    /// - `vlan_tci` (read/write) — the TCI as a number, or `ANNO`.
    /// - `vlan_id` (read/write) — the VLAN ID.
    /// - `vlan_pcp` (read/write) — the priority code point.
    /// - `native_vlan` (read/write) — the native VLAN.
    ///
    /// # Example
    /// ```text
    /// // IPv4 in VLAN 1, from 1:1:1:1:1:1 to 2:2:2:2:2:2
    /// ... -> EtherVLANEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, 1) -> ToDevice(eth0);
    /// ```
    pub const ETHER_VLAN_ENCAP = "EtherVLANEncap" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("src", Combine::First, "the source address"),
    HandlerSpec::read_write("dst", Combine::First, "the destination address"),
    HandlerSpec::read_write("ethertype", Combine::First, "the encapsulated EtherType"),
    HandlerSpec::read_write("vlan_tci", Combine::First, "the TCI, or ANNO"),
    HandlerSpec::read_write("vlan_id", Combine::First, "the VLAN ID"),
    HandlerSpec::read_write("vlan_pcp", Combine::First, "the priority code point"),
    HandlerSpec::read_write("native_vlan", Combine::First, "the native (untagged) VLAN, -1 for none"),
];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let inner = args.read_mp::<u16>("ETHERTYPE")?;
    let src = args.read_mp::<EtherAddr>("SRC")?;
    let dst = args.read_mp::<EtherAddr>("DST")?;
    let vlan = VlanConfig::read(&mut args)?;
    args.finish()?;
    Ok(Box::new(EtherVlanEncap { src: src.0, dst: dst.0, inner, vlan }))
}

/// The element: the header fields and the VLAN arguments.
pub struct EtherVlanEncap {
    src: [u8; 6],
    dst: [u8; 6],
    inner: u16,
    vlan: VlanConfig,
}

impl EtherVlanEncap {
    #[inline]
    fn encap(&self, fixed: Option<u16>, p: &mut Packet) {
        let tci = self.vlan.tci_for(fixed, p);
        let native = self.vlan.is_native(tci);
        p.push(if native { HEADER_LEN } else { HEADER_LEN + VLAN_TAG_LEN });
        let mut f = Frame::new_unchecked(p.data_mut());
        f.set_dst_addr(self.dst);
        f.set_src_addr(self.src);
        if native {
            f.set_ethertype(self.inner);
        } else {
            f.set_ethertype(ethertype::VLAN);
            let mut tag = VlanTag::new_unchecked(f.payload_mut());
            tag.set_tci(tci);
            tag.set_ethertype(self.inner);
        }
    }

    #[inline]
    fn encap_batch(&self, batch: &mut Batch) {
        let fixed = self.vlan.fixed_tci();
        for p in batch.iter_mut() {
            self.encap(fixed, p);
        }
    }
}

impl Element for EtherVlanEncap {
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
            "src" => Some(unparse_ether(&self.src)),
            "dst" => Some(unparse_ether(&self.dst)),
            "ethertype" => Some(self.inner.to_string()),
            _ => self.vlan.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "src" => self.src = parse_value::<EtherAddr>("SRC", value)?.0,
            "dst" => self.dst = parse_value::<EtherAddr>("DST", value)?.0,
            "ethertype" => self.inner = parse_value("ETHERTYPE", value)?,
            _ if self.vlan.write_handler(name, value)? => {}
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
    fn strip_then_encap_restores_a_tagged_capture() {
        // VLANs 1 and 2: VLANDecap keeps each TCI as annotation, EtherVLANEncap(ANNO)
        // writes the whole header back.
        let path = format!("{PCAPS}/snabb__source-vlan.pcap");
        let (_, recs) = pcap_records(&path);
        let f = Frame::new_checked(&recs[0][..]).unwrap();
        let (src, dst) = (unparse_ether(&f.src_addr()), unparse_ether(&f.dst_addr()));
        let (sink, vlan1) = (new_id(), new_id());
        let config = format!(
            "t :: Tee; FromDump(\"{path}\", STOP true) -> t; \
             t[0] -> VLANDecap -> Strip(14) -> EtherVLANEncap(0x0800, {src}, {dst}, ANNO) -> Collect(ID {sink}); \
             t[1] -> Strip(18) -> EtherVLANEncap(0x0800, {src}, {dst}, VLAN_ID 1) -> Collect(ID {vlan1});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let (got, vlan1) = (collected(sink), collected(vlan1));
        assert_eq!((got.len(), vlan1.len()), (102, 102));
        for ((p, one), r) in got.iter().zip(&vlan1).zip(&recs) {
            assert_eq!(p.data(), &r[..]);
            assert_eq!(&one.data()[..14], &r[..14]);
            assert_eq!(&one.data()[14..16], &[0, 1]);
            assert_eq!(&one.data()[16..], &r[16..]);
        }
    }

    #[test]
    fn native_vlan_anno_and_pcp() {
        let enc = |config: &str, tci_anno: u16| {
            let mut p = Packet::from_slice(b"IP");
            p.anno_mut().vlan_tci = tci_anno;
            let (out, _) = run_element(&ETHER_VLAN_ENCAP, config, 1, vec![p]).unwrap();
            out[0][0].data().to_vec()
        };
        let head = [2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1];
        let tagged = enc("0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, VLAN_ID 10, VLAN_PCP 7", 0);
        assert_eq!(&tagged[..12], &head);
        assert_eq!(&tagged[12..], &[0x81, 0x00, 0xe0, 0x0a, 0x08, 0x00, b'I', b'P']);
        // VLAN 0 is the default native VLAN: a plain Ethernet header.
        let plain = enc("0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, 0", 0);
        assert_eq!(&plain[12..], &[0x08, 0x00, b'I', b'P']);
        let anno = enc("0x86dd, 1:1:1:1:1:1, 2:2:2:2:2:2, ANNO", 0x2005);
        assert_eq!(&anno[12..18], &[0x81, 0x00, 0x20, 0x05, 0x86, 0xdd]);
        let anno_native = enc("0x86dd, 1:1:1:1:1:1, 2:2:2:2:2:2, ANNO, NATIVE_VLAN 5", 0x2005);
        assert_eq!(&anno_native[12..], &[0x86, 0xdd, b'I', b'P']);
    }

    #[test]
    fn handlers() {
        let mut e = build_elem(&ETHER_VLAN_ENCAP, "0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, 0x2001", 1, 1).unwrap();
        assert_eq!(e.read_handler("vlan_tci").unwrap(), "8193");
        assert_eq!(e.read_handler("vlan_id").unwrap(), "1");
        assert_eq!(e.read_handler("vlan_pcp").unwrap(), "1");
        assert_eq!(e.read_handler("ethertype").unwrap(), "2048");
        assert_eq!(e.read_handler("src").unwrap(), "01-01-01-01-01-01");
        e.write_handler("native_vlan", "-1").unwrap();
        assert_eq!(e.read_handler("native_vlan").unwrap(), "-1");
        e.write_handler("dst", "ff:ff:ff:ff:ff:ff").unwrap();
        assert_eq!(e.read_handler("dst").unwrap(), "FF-FF-FF-FF-FF-FF");
        assert!(e.write_handler("vlan_pcp", "9").is_err());
        assert!(e.write_handler("count", "9").is_err());
        assert!(build_elem(&ETHER_VLAN_ENCAP, "0x0800, 1:1:1:1:1:1", 1, 1).is_err());
    }
}

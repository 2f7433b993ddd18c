//! `EtherEncap`: puts an Ethernet header in front of each packet.

use super::{parse_value, unparse_ether};
use crate::wire::ether::{Frame, Repr, HEADER_LEN};
use sluice::args::{Args, EtherAddr};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// EtherEncap(ETHERTYPE, SRC, DST)
    ///
    /// Encapsulates packets in Ethernet header.
    ///
    /// Encapsulates each packet in the Ethernet header specified by its arguments: 14
    /// bytes are added in front of the packet (in its headroom) holding DST, SRC and
    /// ETHERTYPE. ETHERTYPE is a number in host order, such as `0x0800`. For IP packets you
    /// probably want to use ARPQuerier instead.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `ETHERTYPE` — unsigned 16-bit, mandatory, positional. The EtherType.
    /// - `SRC` — Ethernet address, mandatory, positional. The source address.
    /// - `DST` — Ethernet address, mandatory, positional. The destination address.
    ///
    /// # Handlers
    /// - `src` (read/write) — the SRC parameter.
    /// - `dst` (read/write) — the DST parameter.
    /// - `ethertype` (read/write) — the ETHERTYPE parameter (read as a decimal number, as
    ///   in Click).
    /// - `etht` (read/write) — deprecated name of `ethertype`.
    ///
    /// # Example
    /// ```text
    /// // type ETHERTYPE_IP (0x0800), source 1:1:1:1:1:1, destination 2:2:2:2:2:2
    /// ... -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> ToDevice(eth0);
    /// ```
    pub const ETHER_ENCAP = "EtherEncap" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("src", Combine::First, "the source address"),
    HandlerSpec::read_write("dst", Combine::First, "the destination address"),
    HandlerSpec::read_write("ethertype", Combine::First, "the EtherType"),
    HandlerSpec::read_write("etht", Combine::First, "the EtherType (deprecated name)"),
];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let ethertype = args.read_mp::<u16>("ETHERTYPE")?;
    let src = args.read_mp::<EtherAddr>("SRC")?;
    let dst = args.read_mp::<EtherAddr>("DST")?;
    args.finish()?;
    Ok(Box::new(EtherEncap { header: Repr { src_addr: src.0, dst_addr: dst.0, ethertype } }))
}

/// The element: the header it writes.
pub struct EtherEncap {
    header: Repr,
}

impl EtherEncap {
    #[inline]
    fn encap(&self, batch: &mut Batch) {
        for p in batch.iter_mut() {
            p.push(HEADER_LEN);
            self.header.emit(&mut Frame::new_unchecked(&mut p.data_mut()[..HEADER_LEN]));
        }
    }
}

impl Element for EtherEncap {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.encap(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.encap(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "src" => unparse_ether(&self.header.src_addr),
            "dst" => unparse_ether(&self.header.dst_addr),
            "ethertype" | "etht" => self.header.ethertype.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "src" => self.header.src_addr = parse_value::<EtherAddr>("SRC", value)?.0,
            "dst" => self.header.dst_addr = parse_value::<EtherAddr>("DST", value)?.0,
            "ethertype" | "etht" => self.header.ethertype = parse_value("ETHERTYPE", value)?,
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
    use sluice::Packet;

    #[test]
    fn strip_then_encap_restores_captured_frames() {
        // Every frame of this capture has the same addresses and type; stripping the
        // header and putting EtherEncap's back must give the captured bytes again.
        let path = format!("{PCAPS}/snabb__regressiontest-signedntohl-frags.pcap");
        let (_, recs) = pcap_records(&path);
        let f = Frame::new_checked(&recs[0][..]).unwrap();
        let (src, dst, ty) = (unparse_ether(&f.src_addr()), unparse_ether(&f.dst_addr()), f.ethertype());
        let sink = new_id();
        let config = format!(
            "FromDump(\"{path}\", STOP true) -> Strip(14) -> EtherEncap({ty}, {src}, {dst}) -> Collect(ID {sink});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let got = collected(sink);
        let same: Vec<&Vec<u8>> = recs.iter().filter(|r| r[..14] == recs[0][..14]).collect();
        assert_eq!(same.len(), recs.len(), "the capture has one header");
        assert_eq!(got.len(), 15);
        for (p, r) in got.iter().zip(&recs) {
            assert_eq!(p.data(), &r[..]);
        }
    }

    #[test]
    fn writes_the_header_and_handlers_change_it() {
        let (out, _) = run_element(
            &ETHER_ENCAP,
            "0x0806, 00:11:22:33:44:55, ff:ff:ff:ff:ff:ff",
            1,
            vec![Packet::from_slice(b"arp")],
        )
        .unwrap();
        assert_eq!(
            out[0][0].data(),
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x06, b'a', b'r', b'p']
        );
        let mut e = build_elem(&ETHER_ENCAP, "ETHERTYPE 0x0800, SRC 1:1:1:1:1:1, DST 2:2:2:2:2:2", 1, 1).unwrap();
        assert_eq!(e.read_handler("src").unwrap(), "01-01-01-01-01-01");
        assert_eq!(e.read_handler("dst").unwrap(), "02-02-02-02-02-02");
        assert_eq!(e.read_handler("ethertype").unwrap(), "2048");
        e.write_handler("dst", "0a-0b-0c-0d-0e-0f").unwrap();
        e.write_handler("etht", "0x86dd").unwrap();
        assert_eq!(e.read_handler("dst").unwrap(), "0A-0B-0C-0D-0E-0F");
        assert_eq!(e.read_handler("ethertype").unwrap(), "34525");
        assert!(e.write_handler("src", "nope").is_err());
        assert!(e.write_handler("ethertype", "70000").is_err());
        assert!(build_elem(&ETHER_ENCAP, "0x0800, 1:1:1:1:1:1", 1, 1).is_err());
        assert!(build_elem(&ETHER_ENCAP, "0x10000, 1:1:1:1:1:1, 2:2:2:2:2:2", 1, 1).is_err());
    }
}

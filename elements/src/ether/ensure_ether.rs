//! `EnsureEther`: makes sure IP packets carry an Ethernet header.

use crate::wire::ether::{ethertype, Frame, Repr, HEADER_LEN};
use sluice::args::{Args, EtherAddr};
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element, Packet};

sluice::element_class! {
    /// EnsureEther([ETHERTYPE, SRC, DST])
    ///
    /// Ensures that IP packets are Ethernet encapsulated.
    ///
    /// Makes sure that every IP packet (one with a network header annotation) has an
    /// Ethernet header: if the network header is 14 bytes into the data and the bytes in
    /// front of it are an Ethernet header for IPv4 or IPv6 (type 0x0800 or 0x86DD), the
    /// packet passes unchanged; if the data starts at the network header and a stripped
    /// Ethernet header of such a type is still in the headroom, it is put back; otherwise
    /// everything before the network header is removed and a new Ethernet header, made
    /// from ETHERTYPE, SRC and DST, is put in front. Packets without a network header
    /// annotation, or whose network header lies before the data, pass unchanged.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `ETHERTYPE` — unsigned, positional. Type of new headers. Default 0x0800.
    /// - `SRC` — Ethernet address, positional. Default 01:01:01:01:01:01.
    /// - `DST` — Ethernet address, positional. Default 02:02:02:02:02:02.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// ... -> CheckIPHeader(14) -> EnsureEther(0x0800, 0:1:2:3:4:5, 6:7:8:9:a:b) -> ToDump(out.pcap);
    /// ```
    pub const ENSURE_ETHER = "EnsureEther" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let etht = args.read_p::<u32>("ETHERTYPE")?.unwrap_or(0x0800);
    let src = args.read_p::<EtherAddr>("SRC")?.map_or([1; 6], |a| a.0);
    let dst = args.read_p::<EtherAddr>("DST")?.map_or([2; 6], |a| a.0);
    args.finish()?;
    if etht > 0xffff {
        return Err("argument 1 (Ethernet encapsulation type) must be <= 0xFFFF".into());
    }
    Ok(Box::new(EnsureEther { header: Repr { src_addr: src, dst_addr: dst, ethertype: etht as u16 } }))
}

/// The element: the header it adds.
pub struct EnsureEther {
    header: Repr,
}

#[inline]
fn is_ip_type(hdr: &[u8]) -> bool {
    let t = u16::from_be_bytes([hdr[12], hdr[13]]);
    t == ethertype::IPV4 || t == ethertype::IPV6
}

impl EnsureEther {
    /// Click's `smaction`.
    #[inline]
    fn ensure(&self, p: &mut Packet) {
        let Some(off) = p.network_header_offset() else { return };
        if off < 0 {
            return;
        }
        let off = (off as usize).min(p.len());
        if off == HEADER_LEN {
            if is_ip_type(p.data()) {
                return;
            }
        } else if off == 0 && p.headroom() >= HEADER_LEN {
            p.push(HEADER_LEN);
            if is_ip_type(p.data()) {
                return;
            }
            p.pull(HEADER_LEN);
        }
        p.pull(off);
        p.push(HEADER_LEN);
        self.header.emit(&mut Frame::new_unchecked(&mut p.data_mut()[..HEADER_LEN]));
    }
}

impl Element for EnsureEther {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        batch.iter_mut().for_each(|p| self.ensure(p));
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        batch.iter_mut().for_each(|p| self.ensure(p));
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    const NEW: [u8; 14] = [2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0x08, 0x00];

    #[test]
    fn keeps_restores_or_adds_the_header() {
        let originals = frames("snabb__v4.pcap");
        // Header annotation 14 bytes in: the frames pass unchanged.
        let (kept, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> EnsureEther");
        // Stripped header still in the headroom: put back.
        let (restored, _) = run_capture("snabb__v4.pcap", "Strip(14) -> CheckIPHeader -> EnsureEther");
        assert_eq!((kept.len(), restored.len()), (43, 43));
        for ((k, r), o) in kept.iter().zip(&restored).zip(&originals) {
            assert_eq!(k.data(), o.data());
            assert_eq!(r.data(), o.data());
        }
    }

    #[test]
    fn adds_its_own_header_otherwise() {
        // An IP packet with 4 bytes of something before it, and one with no headroom.
        let mut a = Packet::from_slice(&[9, 9, 9, 9, 0x45, 0, 0, 20]);
        a.set_network_header(4, 4);
        let mut b = Packet::with_room(0, 4, 0);
        b.data_mut().copy_from_slice(&[0x45, 0, 0, 20]);
        b.set_network_header(0, 4);
        let (out, _) = run_element(&ENSURE_ETHER, "", 1, vec![a, b, Packet::from_slice(b"no anno")]).unwrap();
        for p in &out[0][..2] {
            assert_eq!(&p.data()[..14], &NEW);
            assert_eq!(&p.data()[14..], &[0x45, 0, 0, 20]);
            assert_eq!(p.network_header_offset(), Some(14));
        }
        assert_eq!(out[0][2].data(), b"no anno");
        let (out, _) = run_element(
            &ENSURE_ETHER,
            "0x86dd, 00:11:22:33:44:55, 66:77:88:99:aa:bb",
            1,
            vec![{
                let mut p = Packet::with_room(0, 2, 0);
                p.set_network_header(0, 2);
                p
            }],
        )
        .unwrap();
        assert_eq!(
            &out[0][0].data()[..14],
            &[0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x86, 0xdd]
        );
    }

    #[test]
    fn bad_configurations() {
        assert!(build_elem(&ENSURE_ETHER, "0x10000", 1, 1).is_err());
        assert!(build_elem(&ENSURE_ETHER, "0x0800, 1:2:3", 1, 1).is_err());
        assert!(build_elem(&ENSURE_ETHER, "0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, 4", 1, 1).is_err());
    }
}

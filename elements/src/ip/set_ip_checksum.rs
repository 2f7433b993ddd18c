//! `SetIPChecksum`: computes the IPv4 header checksum.

use super::common::nh_offset;
use crate::wire::ipv4;
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// SetIPChecksum()
    ///
    /// Sets IP packets' checksums.
    ///
    /// Expects an IP packet as input. Calculates the IP header's checksum and sets the
    /// checksum header field. Uses the packet's IP header annotation if it is set;
    /// otherwise the IP header is taken to start at the beginning of the data.
    ///
    /// Packets with fewer than 20 bytes of header, a header length below 20, or a header
    /// length beyond the packet end are dropped and counted, as in Click.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — bad input packets dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> SetIPAddress(10.0.0.1) -> SetIPChecksum -> ...
    /// ```
    pub const SET_IP_CHECKSUM = "SetIPChecksum" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "bad input packets dropped"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["bad input packet"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(SetIPChecksum { drops: DropCounts::new(REASONS) }))
}

/// The element: its drop counter.
pub struct SetIPChecksum {
    drops: DropCounts,
}

impl SetIPChecksum {
    #[inline]
    fn set(p: &mut Packet) -> bool {
        let off = if p.network_header_offset().is_some() {
            match nh_offset(p) {
                Some(o) => o,
                None => return false,
            }
        } else {
            0
        };
        let Some(buf) = p.data_mut().get_mut(off..) else { return false };
        let plen = buf.len();
        let Ok(mut ip) = ipv4::Packet::new_fixed(buf) else { return false };
        let hl = ip.header_len() as usize;
        if hl < ipv4::HEADER_LEN || hl > plen {
            return false;
        }
        ip.fill_checksum();
        true
    }

    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let mut dropped = 0;
        batch.retain_or(Self::set, |_| dropped += 1);
        self.drops.count(0, dropped);
    }
}

impl Element for SetIPChecksum {
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
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use sluice::testing::run_element;

    #[test]
    fn restores_the_checksums_of_a_capture() {
        // Zero the checksums of tcpdump__afs.pcap (601 IPv4 frames) and recompute them:
        // the original bytes come back.
        let originals: Vec<Vec<u8>> = frames("tcpdump__afs.pcap").iter().map(|p| p.data().to_vec()).collect();
        let mut input = frames("tcpdump__afs.pcap");
        for p in input.iter_mut() {
            p.data_mut()[24..26].fill(0);
            p.set_network_header(14, 20);
        }
        let (out, r) = run_element(&SET_IP_CHECKSUM, "", 1, input).unwrap();
        assert_eq!(out[0].len(), 601);
        for (p, o) in out[0].iter().zip(&originals) {
            assert_eq!(p.data(), &o[..]);
        }
        assert_eq!(r.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn header_at_data_start_without_annotation() {
        let (out, r) = run_capture("snabb__v4.pcap", "Strip(14) -> s :: SetIPChecksum");
        assert_eq!(out.len(), 43);
        assert_eq!(num(&r, "s", "drops"), 0);
    }

    #[test]
    fn bad_packets_are_dropped() {
        let input = vec![
            Packet::from_slice(&[0x45; 19]),
            Packet::from_slice(&[0x44; 20]),
            Packet::from_slice(&[0x46; 20]),
            Packet::from_slice(&[0x45; 20]),
        ];
        let (out, r) = run_element(&SET_IP_CHECKSUM, "", 1, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(crate::wire::checksum::in_cksum(out[0][0].data()), 0);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "3");
    }
}

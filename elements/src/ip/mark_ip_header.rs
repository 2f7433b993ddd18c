//! `MarkIPHeader`: sets the network header annotation.

use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// MarkIPHeader([OFFSET])
    ///
    /// Sets IP header annotation.
    ///
    /// Marks packets as IP packets by setting their IP header annotation: the IP header
    /// starts OFFSET bytes into the packet (default 0) and is as long as its header length
    /// field says; the transport header follows it. Unlike CheckIPHeader, MarkIPHeader does
    /// not check the header and does not set the destination IP annotation.
    ///
    /// Click sets the annotation even when the header lies beyond the packet's end, and
    /// later elements then read past the data. Sluice drops such packets instead (fewer
    /// than OFFSET + 1 bytes, or a header length reaching past the end) and counts them
    /// (`drops`).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `OFFSET` — unsigned, positional. Where the IP header starts. Default 0.
    ///
    /// # Handlers
    /// - `drops` (read) — packets too short for the header (Sluice only).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> MarkIPHeader(14) -> IPPrint -> Discard;
    /// ```
    pub const MARK_IP_HEADER = "MarkIPHeader" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets too short for the IP header"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["IP header beyond packet end"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let offset = args.read_p::<u32>("OFFSET")?.unwrap_or(0) as usize;
    args.finish()?;
    Ok(Box::new(MarkIPHeader { offset, drops: DropCounts::new(REASONS) }))
}

/// The element: the header offset and the drop counter.
pub struct MarkIPHeader {
    offset: usize,
    drops: DropCounts,
}

impl MarkIPHeader {
    #[inline]
    fn mark(offset: usize, p: &mut Packet) -> bool {
        let Some(&b) = p.data().get(offset) else { return false };
        let hl = ((b & 0x0f) as usize) << 2;
        if offset + hl > p.len() {
            return false;
        }
        p.set_network_header(offset, hl);
        true
    }

    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let offset = self.offset;
        let mut dropped = 0;
        batch.retain_or(|p| Self::mark(offset, p), |_| dropped += 1);
        self.drops.count(0, dropped);
    }
}

impl Element for MarkIPHeader {
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
    use crate::ip::common::test_util::{num, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn marks_headers_of_a_capture() {
        // snabb__telnet-cooked.pcap: 92 IPv4 frames with 20-byte headers.
        let (out, r) = run_capture("snabb__telnet-cooked.pcap", "m :: MarkIPHeader(14)");
        assert_eq!(out.len(), 92);
        assert_eq!(num(&r, "m", "drops"), 0);
        for p in &out {
            assert_eq!(p.network_header_offset(), Some(14));
            assert_eq!(p.transport_header_offset(), Some(34));
            assert_eq!(p.anno().dst_ip, [0; 4], "MarkIPHeader leaves the annotation alone");
        }
    }

    #[test]
    fn headers_beyond_the_end_are_dropped() {
        let input = vec![
            Packet::from_slice(&[0x45; 10]), // header length 20, only 10 bytes
            Packet::from_slice(&[]),
            Packet::from_slice(&[0x41, 0, 0, 0]), // header length 4: marked as Click does
        ];
        let (out, r) = run_element(&MARK_IP_HEADER, "", 1, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].transport_header_offset(), Some(4));
        assert_eq!(r.read_handler("e", "drops").unwrap(), "2");
        assert!(build_elem(&MARK_IP_HEADER, "14, 2", 1, 1).is_err());
    }
}

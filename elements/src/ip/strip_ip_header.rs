//! `StripIPHeader` and `UnstripIPHeader`: remove the IP header the annotation points at, and
//! put it back.

use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// StripIPHeader()
    ///
    /// Strips outermost IP header.
    ///
    /// Removes the outermost IP header from IP packets based on the IP header annotation:
    /// everything up to the transport header annotation (the end of the IP header that
    /// CheckIPHeader, MarkIPHeader or IPEncap marked) goes. The bytes stay in the buffer,
    /// so UnstripIPHeader can put them back.
    ///
    /// Click does not check the annotation (a packet without one is undefined behaviour
    /// there); Sluice drops and counts packets whose transport header annotation is unset,
    /// before the data, or beyond its end.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — packets without a usable IP header annotation, dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> StripIPHeader -> ... // the IP payload
    /// ```
    pub const STRIP_IP_HEADER = "StripIPHeader" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build_strip }
}

sluice::element_class! {
    /// UnstripIPHeader()
    ///
    /// Restores outermost IP header.
    ///
    /// Puts the outermost IP header back onto packets, based on the IP header annotation
    /// (which StripIPHeader leaves in place): if the network header starts before the
    /// data, the data is extended back to it. Packets whose data already starts at or
    /// before the network header pass unchanged.
    ///
    /// Click asserts that the annotation is set; Sluice drops and counts packets without it.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — packets without an IP header annotation, dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> CheckIPHeader -> StripIPHeader -> Print(payload) -> UnstripIPHeader -> ...
    /// ```
    pub const UNSTRIP_IP_HEADER = "UnstripIPHeader" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build_unstrip }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets without a usable IP header annotation"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["no IP header annotation"];

fn build_strip(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(StripIPHeader { unstrip: false, drops: DropCounts::new(REASONS) }))
}

fn build_unstrip(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(StripIPHeader { unstrip: true, drops: DropCounts::new(REASONS) }))
}

/// Both elements: which way, and the drop counter.
pub struct StripIPHeader {
    unstrip: bool,
    drops: DropCounts,
}

/// Click's `p->pull(p->transport_header_offset())`.
#[inline]
fn strip(p: &mut Packet) -> bool {
    match p.transport_header_offset() {
        Some(off) if off >= 0 && off as usize <= p.len() => {
            p.pull(off as usize);
            true
        }
        _ => false,
    }
}

/// Click's `if (offset < 0) p->push(-offset)` with `offset = network_header - data`.
#[inline]
fn unstrip(p: &mut Packet) -> bool {
    match p.network_header_offset() {
        Some(off) => {
            if off < 0 {
                p.push(off.unsigned_abs());
            }
            true
        }
        None => false,
    }
}

impl StripIPHeader {
    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let mut dropped = 0;
        if self.unstrip {
            batch.retain_or(unstrip, |_| dropped += 1);
        } else {
            batch.retain_or(strip, |_| dropped += 1);
        }
        self.drops.count(0, dropped);
    }
}

impl Element for StripIPHeader {
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
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn strips_to_the_transport_header_and_back() {
        // 14-byte Ethernet, 24-byte IP header with options, payload.
        let mut data = vec![0u8; 14];
        data.extend_from_slice(&[0x46; 24]);
        data.extend_from_slice(b"payload");
        let mut p = Packet::from_slice(&data);
        p.set_network_header(14, 24);
        let (out, r) = run_element(&STRIP_IP_HEADER, "", 1, vec![p, Packet::from_slice(b"no anno")]).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].data(), b"payload");
        assert_eq!(r.read_handler("e", "drops").unwrap(), "1");
        let p = out.into_iter().next().unwrap();
        let (out, r) = run_element(&UNSTRIP_IP_HEADER, "", 1, p).unwrap();
        // Back to the IP header, not to the Ethernet header.
        assert_eq!(out[0][0].data(), &data[14..]);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn unstrip_leaves_packets_with_the_header_in_the_data() {
        let mut p = Packet::from_slice(&[1, 2, 3, 4]);
        p.set_network_header(2, 2);
        let (out, _) = run_element(&UNSTRIP_IP_HEADER, "", 1, vec![p, Packet::from_slice(b"x")]).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].data(), &[1, 2, 3, 4]);
    }

    #[test]
    fn capture_round_trip_and_byte_counts() {
        // snabb__v4.pcap: 43 IPv4 packets, 25091 bytes; 43 Ethernet and 43 20-byte IP
        // headers (no options, read with Python) make 25091 - 43 * 34 = 23629 payload bytes.
        let originals = frames("snabb__v4.pcap");
        let (out, r) = run_capture(
            "snabb__v4.pcap",
            "Strip(14) -> CheckIPHeader -> StripIPHeader -> pay :: Counter -> UnstripIPHeader -> Unstrip(14)",
        );
        assert_eq!(num(&r, "pay", "byte_count"), 23629);
        assert_eq!(out.len(), 43);
        for (p, o) in out.iter().zip(&originals) {
            assert_eq!(p.data(), o.data());
        }
    }

    #[test]
    fn takes_no_arguments() {
        assert!(build_elem(&STRIP_IP_HEADER, "1", 1, 1).is_err());
        assert!(build_elem(&UNSTRIP_IP_HEADER, "X 1", 1, 1).is_err());
    }
}

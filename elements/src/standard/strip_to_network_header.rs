//! `StripToNetworkHeader`: moves the start of the data to the network header.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element, Packet};

sluice::element_class! {
    /// StripToNetworkHeader()
    ///
    /// Strips everything preceding network header.
    ///
    /// Strips any data preceding the network header from every packet: the data then
    /// starts at the network header annotation (set by CheckIPHeader, MarkIPHeader and the
    /// like). If the network header lies before the data (it was stripped), the data is
    /// extended back to it, as Click's `nonunique_push` does.
    ///
    /// Packets without a network header annotation pass unchanged (Click's behaviour for
    /// them is undefined).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> CheckIPHeader(14) -> StripToNetworkHeader -> ... // IP packets
    /// ```
    pub const STRIP_TO_NETWORK_HEADER = "StripToNetworkHeader" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(StripToNetworkHeader))
}

/// The element (stateless).
pub struct StripToNetworkHeader;

#[inline]
fn strip(p: &mut Packet) {
    match p.network_header_offset() {
        Some(off) if off >= 0 => p.pull((off as usize).min(p.len())),
        Some(off) => p.push(off.unsigned_abs()),
        None => {}
    }
}

impl Element for StripToNetworkHeader {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        batch.iter_mut().for_each(strip);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        batch.iter_mut().for_each(strip);
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn strips_to_the_network_header_both_ways() {
        let mut a = Packet::from_slice(&[1, 2, 3, 4, 5, 6]);
        a.set_network_header(4, 2);
        let mut b = Packet::from_slice(&[1, 2, 3, 4, 5, 6]);
        b.set_network_header(2, 2);
        b.pull(4); // the header is now 2 bytes before the data
        let (out, _) = run_element(&STRIP_TO_NETWORK_HEADER, "", 1, vec![a, b, Packet::from_slice(b"raw")]).unwrap();
        assert_eq!(out[0][0].data(), &[5, 6]);
        assert_eq!(out[0][1].data(), &[3, 4, 5, 6]);
        assert_eq!(out[0][2].data(), b"raw");
    }

    #[test]
    fn capture_after_check_ip_header_at_offset_14() {
        // CheckIPHeader(14) marks the header 14 bytes in; the result is the IP packet.
        let originals = frames("snabb__v4.pcap");
        let (out, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> StripToNetworkHeader");
        assert_eq!(out.len(), 43);
        for (p, o) in out.iter().zip(&originals) {
            assert_eq!(p.data(), &o.data()[14..]);
            assert_eq!(p.network_header_offset(), Some(0));
        }
    }

    #[test]
    fn takes_no_arguments() {
        assert!(build_elem(&STRIP_TO_NETWORK_HEADER, "14", 1, 1).is_err());
    }
}

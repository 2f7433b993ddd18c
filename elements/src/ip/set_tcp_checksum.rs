//! `SetTCPChecksum`: computes the TCP checksum.

use super::common::{ip_fixed, th_offset};
use crate::wire::checksum;
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// SetTCPChecksum([FIXOFF])
    ///
    /// Sets TCP packets' checksums.
    ///
    /// Input packets should be TCP in IP, with the IP header annotation set. Calculates
    /// the TCP header's checksum and sets the checksum header field, over the TCP segment
    /// as long as the IP total length minus the IP header length says, with the IPv4
    /// pseudo-header (the final destination of a source route option, as Click).
    ///
    /// Packets without IP and transport headers, with a segment shorter than 20 bytes, or
    /// with a segment longer than the bytes after the transport header are dropped (Click
    /// prints "bad lengths") and counted.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `FIXOFF` — boolean, positional. If true, also fix the TCP data offset: one below 5
    ///   words becomes 5; one beyond the segment (in an unfragmented packet) becomes the
    ///   segment length in words. Default false.
    ///
    /// # Handlers
    /// - `drops` (read) — packets dropped for bad lengths (Sluice only).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> TCPRewriter(...) -> SetTCPChecksum -> SetIPChecksum -> ...
    /// ```
    pub const SET_TCP_CHECKSUM = "SetTCPChecksum" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets dropped for bad lengths"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["bad lengths"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let fixoff = args.read_p::<bool>("FIXOFF")?.unwrap_or(false);
    args.finish()?;
    Ok(Box::new(SetTCPChecksum { fixoff, drops: DropCounts::new(REASONS) }))
}

/// The element: settings and counters.
pub struct SetTCPChecksum {
    fixoff: bool,
    drops: DropCounts,
}

/// Click's `SetTCPChecksum::simple_action`; false for a packet to drop.
#[inline]
fn set(fixoff: bool, p: &mut Packet) -> bool {
    let (Some(ip), Some(th)) = (ip_fixed(p), th_offset(p)) else { return false };
    let plen = (ip.total_len() as usize).wrapping_sub(ip.header_len() as usize);
    let is_frag = ip.is_fragment();
    let tlen = p.len() - th;
    if plen < 20 || plen > tlen {
        return false;
    }
    let seg = &mut p.data_mut()[th..th + plen];
    if fixoff {
        let off = ((seg[12] >> 4) as usize) << 2;
        if off < 20 {
            seg[12] = (seg[12] & 0x0f) | (5 << 4);
        } else if off > plen && !is_frag {
            seg[12] = (seg[12] & 0x0f) | (((plen >> 2) as u8) << 4);
        }
    }
    seg[16..18].fill(0);
    let csum = checksum::in_cksum(seg);
    let Some(ip) = ip_fixed(p) else { return false };
    let sum = ip.in_cksum_pseudohdr(csum, plen as u32);
    p.data_mut()[th + 16..th + 18].copy_from_slice(&sum.to_be_bytes());
    true
}

impl SetTCPChecksum {
    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let fixoff = self.fixoff;
        let mut dropped = 0;
        batch.retain_or(|p| set(fixoff, p), |_| dropped += 1);
        self.drops.count(0, dropped);
    }
}

impl Element for SetTCPChecksum {
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
    use crate::ip::common::test_util::{frames, run_capture};
    use sluice::testing::run_element;

    #[test]
    fn restores_the_checksums_of_a_capture() {
        // Every TCP segment of snabb__v4.pcap gets its checksum zeroed then recomputed:
        // the captured bytes come back.
        let (orig, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> CheckTCPHeader");
        assert_eq!(orig.len(), 41);
        let want: Vec<Vec<u8>> = orig.iter().map(|p| p.data().to_vec()).collect();
        let input: Vec<Packet> = orig
            .into_iter()
            .map(|mut p| {
                p.data_mut()[50..52].copy_from_slice(&[0xde, 0xad]);
                p
            })
            .collect();
        let (out, r) = run_element(&SET_TCP_CHECKSUM, "", 1, input).unwrap();
        assert_eq!(out[0].iter().map(|p| p.data().to_vec()).collect::<Vec<_>>(), want);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn fixoff_and_bad_lengths() {
        let (mut orig, _) = run_capture("snabb__v4.pcap", "CheckIPHeader(14) -> CheckTCPHeader");
        let mut p = orig.remove(0);
        let off = p.data()[46];
        p.data_mut()[46] = 0x30 | (off & 0x0f);
        let (out, _) = run_element(&SET_TCP_CHECKSUM, "true", 1, vec![p]).unwrap();
        assert_eq!(out[0][0].data()[46] >> 4, 5);
        let mut unmarked = frames("snabb__v4.pcap");
        unmarked.truncate(1);
        let (out, r) = run_element(&SET_TCP_CHECKSUM, "", 1, unmarked).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(r.read_handler("e", "drops").unwrap(), "1");
    }
}

//! `SetUDPChecksum`: computes the UDP checksum.

use super::common::{ip_fixed, th_offset};
use crate::wire::checksum;
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// SetUDPChecksum()
    ///
    /// Sets UDP packets' checksums.
    ///
    /// Input packets should be UDP in IP, with the IP header annotation set. Calculates
    /// the UDP checksum over the UDP length field's bytes with the IPv4 pseudo-header and
    /// stores it. As in Click, a computed checksum of 0 is stored as 0 (RFC 768 would
    /// send 0xFFFF; Click's bytes are kept).
    ///
    /// Fragments, and packets whose transport part is shorter than 8 bytes or than the
    /// UDP length, are sent to output 1 if it is connected, else dropped, and counted.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — packets refused (Sluice only).
    /// - `drop_details` (read) — refused packets by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> UDPIPEncap(...) -> SetUDPChecksum -> ...
    /// ```
    pub const SET_UDP_CHECKSUM = "SetUDPChecksum" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets refused"),
    HandlerSpec::read("drop_details", Combine::Sum, "refused packets by reason"),
];

const REASONS: &[&str] = &["no IP header", "fragment", "packet too short"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(SetUDPChecksum { drops: DropCounts::new(REASONS) }))
}

/// The element: its drop counters.
pub struct SetUDPChecksum {
    drops: DropCounts,
}

/// Click's `SetUDPChecksum::simple_action`.
#[inline]
fn set(p: &mut Packet) -> Result<(), usize> {
    let (Some(ip), Some(th)) = (ip_fixed(p), th_offset(p)) else { return Err(0) };
    if ip.is_fragment() {
        return Err(1);
    }
    let udp = &p.data()[th..];
    if udp.len() < 8 {
        return Err(2);
    }
    let len = u16::from_be_bytes([udp[4], udp[5]]) as usize;
    if udp.len() < len {
        return Err(2);
    }
    p.data_mut()[th + 6..th + 8].fill(0);
    let csum = checksum::in_cksum(&p.data()[th..th + len]);
    let Some(ip) = ip_fixed(p) else { return Err(0) };
    let c = ip.in_cksum_pseudohdr(csum, len as u32);
    p.data_mut()[th + 6..th + 8].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

impl Element for SetUDPChecksum {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        super::common::filter(&mut batch, &mut ctx, &mut self.drops, set);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        super::common::filter(&mut batch, &mut ctx, &mut self.drops, set);
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
    use sluice::testing::run_element;

    #[test]
    fn restores_the_checksums_of_a_capture() {
        // tcpdump__afs.pcap: the 376 unfragmented UDP datagrams have correct checksums;
        // zeroed and recomputed, they come back byte for byte.
        let (orig, _) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> CheckUDPHeader");
        let unfragmented = |p: &Packet| p.data()[20] & 0x3f == 0 && p.data()[21] == 0;
        let orig: Vec<Packet> = orig.into_iter().filter(unfragmented).collect();
        assert_eq!(orig.len(), 376);
        let want: Vec<Vec<u8>> = orig.iter().map(|p| p.data().to_vec()).collect();
        let input: Vec<Packet> = orig
            .into_iter()
            .map(|mut p| {
                p.data_mut()[40..42].fill(0);
                p
            })
            .collect();
        let (out, r) = run_element(&SET_UDP_CHECKSUM, "", 1, input).unwrap();
        assert_eq!(out[0].iter().map(|p| p.data().to_vec()).collect::<Vec<_>>(), want);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn fragments_go_to_output_1() {
        // tcpdump__afs.pcap holds 200 UDP fragments.
        let (_, r) = run_capture(
            "tcpdump__afs.pcap",
            "CheckIPHeader(14) -> s :: SetUDPChecksum -> Discard; s[1] -> f :: Counter",
        );
        assert_eq!(num(&r, "f", "count"), 200);
        assert!(r.read_handler("s", "drop_details").unwrap().contains("200 fragment"));
    }
}

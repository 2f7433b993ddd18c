//! `DropBroadcasts`: drops link-level broadcast and multicast packets.

use super::common::filter;
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::packet::PacketType;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// DropBroadcasts()
    ///
    /// Drops link-level broadcast and multicast packets.
    ///
    /// Drops packets that arrived as link-level broadcast or multicast, as told by their
    /// packet type annotation (set by FromDevice, or by HostEtherFilter and similar
    /// elements). Dropped packets go to output 1 if it is connected. Used by IP routers
    /// before ICMPError, as RFC 1812 4.3.2.7 forbids errors about such packets.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// - `drops` (read) — broadcast and multicast packets seen.
    /// - `drop_details` (read) — the same, by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> ... -> DropBroadcasts -> ICMPError(...) -> ...
    /// ```
    pub const DROP_BROADCASTS = "DropBroadcasts" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "broadcast and multicast packets"),
    HandlerSpec::read("drop_details", Combine::Sum, "the same, by reason"),
];

const REASONS: &[&str] = &["link-level broadcast", "link-level multicast"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Args::new(config).finish()?;
    Ok(Box::new(DropBroadcasts { drops: DropCounts::new(REASONS) }))
}

/// The element: its drop counters.
pub struct DropBroadcasts {
    drops: DropCounts,
}

impl Element for DropBroadcasts {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        filter(&mut batch, &mut ctx, &mut self.drops, check);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        filter(&mut batch, &mut ctx, &mut self.drops, check);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[inline]
fn check(p: &mut sluice::Packet) -> Result<(), usize> {
    match p.anno().packet_type() {
        PacketType::Broadcast => Err(0),
        PacketType::Multicast => Err(1),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::frames;
    use sluice::testing::run_element;

    #[test]
    fn drops_by_packet_type() {
        // Mark the frames of tcpdump__vrrp.pcap by their destination address, as
        // FromDevice does: VRRP (01:00:5e:...) and IPv6 multicast (33:33:...) frames are
        // multicasts; there are no broadcasts and no unicasts in this capture.
        let mut input = frames("tcpdump__vrrp.pcap");
        for p in input.iter_mut() {
            let d = p.data();
            let t = if d[..6] == [0xff; 6] {
                PacketType::Broadcast
            } else if d[0] & 1 == 1 {
                PacketType::Multicast
            } else {
                PacketType::Host
            };
            p.anno_mut().set_packet_type(t);
        }
        let mut unicast = frames("snabb__v4.pcap");
        input.append(&mut unicast);
        let mut b = frames("snabb__v4.pcap").swap_remove(0);
        b.anno_mut().set_packet_type(PacketType::Broadcast);
        input.push(b);
        let (out, r) = run_element(&DROP_BROADCASTS, "", 2, input).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (43, 166));
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "  1 link-level broadcast\n165 link-level multicast");
    }
}

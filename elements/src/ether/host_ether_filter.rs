//! `HostEtherFilter`: keeps the frames a host with a given address would receive.

use super::{parse_value, unparse_ether};
use crate::wire::ether::{is_broadcast, is_multicast, Frame};
use sluice::args::{Args, EtherAddr};
use sluice::drops::DropCounts;
use sluice::packet::PacketType;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::cell::Cell;

sluice::element_class! {
    /// HostEtherFilter(ETHER [, DROP_OWN, DROP_OTHER, KEYWORDS])
    ///
    /// Drops Ethernet packets sent to other machines.
    ///
    /// Expects Ethernet packets as input. Acts basically like Ethernet input hardware for
    /// a device with address ETHER.
    ///
    /// In particular, HostEtherFilter sets each packet's packet type annotation to HOST,
    /// BROADCAST, MULTICAST, or OTHERHOST based on its Ethernet destination address. Emits
    /// most packets on the first output. If DROP_OWN is true, drops packets whose source
    /// address is ETHER (their packet type is left alone); defaults to false. If
    /// DROP_OTHER is true, drops packets sent to hosts other than ETHER (that is, packets
    /// with unicast destination addresses not equal to ETHER); defaults to true. If the
    /// element has two outputs, filtered packets are emitted on the second output rather
    /// than dropped.
    ///
    /// Packets too short to hold an Ethernet header at OFFSET are dropped and counted
    /// (Click would read past their end).
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `ETHER` — Ethernet address, mandatory, positional. This host's address.
    /// - `DROP_OWN` — boolean, positional. Filter packets from ETHER. Default false.
    /// - `DROP_OTHER` — boolean, positional. Filter unicast packets to other hosts.
    ///   Default true.
    /// - `OFFSET` — unsigned. The Ethernet header starts OFFSET bytes into the packet.
    ///   Default 0.
    ///
    /// # Handlers
    /// - `ether` (read/write) — the ETHER parameter.
    /// - `drops` (read) — packets dropped (filtered with no output 1, or too short).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> HostEtherFilter(00:0a:95:9d:68:16) -> c :: Classifier(...);
    /// ```
    pub const HOST_ETHER_FILTER = "HostEtherFilter" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("ether", Combine::First, "this host's address"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] =
    &["shorter than an Ethernet header at OFFSET", "sent by this host (DROP_OWN)", "sent to another host (DROP_OTHER)"];
const SHORT: usize = 0;
const OWN: usize = 1;
const OTHER: usize = 2;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let ether = args.read_mp::<EtherAddr>("ETHER")?;
    let drop_own = args.read_p::<bool>("DROP_OWN")?.unwrap_or(false);
    let drop_other = args.read_p::<bool>("DROP_OTHER")?.unwrap_or(true);
    let offset = args.read_kw::<u32>("OFFSET")?.unwrap_or(0) as usize;
    args.finish()?;
    Ok(Box::new(HostEtherFilter { ether: ether.0, drop_own, drop_other, offset, drops: DropCounts::new(REASONS) }))
}

/// The element: the host's address and the filter settings.
pub struct HostEtherFilter {
    ether: [u8; 6],
    drop_own: bool,
    drop_other: bool,
    offset: usize,
    drops: DropCounts,
}

/// What happens to one packet.
enum Verdict {
    Pass,
    /// To output 1, or dropped for this reason.
    Filter(usize),
    /// Dropped whatever the outputs.
    Drop,
}

impl HostEtherFilter {
    #[inline]
    fn classify(&self, p: &mut Packet) -> Verdict {
        let Some(Ok(f)) = p.data().get(self.offset..).map(Frame::new_checked) else {
            return Verdict::Drop;
        };
        let (dst, src) = (f.dst_addr(), f.src_addr());
        if self.drop_own && src == self.ether {
            return Verdict::Filter(OWN);
        }
        let t = if dst == self.ether {
            PacketType::Host
        } else if is_broadcast(&dst) {
            PacketType::Broadcast
        } else if is_multicast(&dst) {
            PacketType::Multicast
        } else {
            PacketType::OtherHost
        };
        p.anno_mut().set_packet_type(t);
        if t == PacketType::OtherHost && self.drop_other {
            Verdict::Filter(OTHER)
        } else {
            Verdict::Pass
        }
    }

    /// Keep the packets that pass; filtered ones go to output 1 (or are dropped).
    #[inline]
    fn filter(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let mut filtered = Batch::new();
        let mut counts = [0u64; 3];
        // Set by the verdict for the reject side: drop the packet even with an output 1.
        let short = Cell::new(false);
        batch.retain_or(
            |p| {
                let v = self.classify(p);
                short.set(matches!(v, Verdict::Drop));
                match v {
                    Verdict::Pass => true,
                    Verdict::Filter(r) => {
                        counts[r] += 1;
                        false
                    }
                    Verdict::Drop => {
                        counts[SHORT] += 1;
                        false
                    }
                }
            },
            |p| {
                if !short.get() {
                    // At most MAX_BATCH packets come in, so `filtered` never overflows.
                    let _ = filtered.push(p);
                }
            },
        );
        let to_output_1 = ctx.noutputs() > 1;
        for (r, n) in counts.into_iter().enumerate() {
            if n > 0 && (r == SHORT || !to_output_1) {
                self.drops.count(r, n);
            }
        }
        if to_output_1 {
            ctx.push(1, filtered);
        }
    }
}

impl Element for HostEtherFilter {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.filter(&mut batch, &mut ctx);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.filter(&mut batch, &mut ctx);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "ether" => Some(unparse_ether(&self.ether)),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "ether" => self.ether = parse_value::<EtherAddr>("ETHER", value)?.0,
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

    const ME: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

    fn frame(dst: [u8; 6], src: [u8; 6]) -> Packet {
        let mut d = dst.to_vec();
        d.extend_from_slice(&src);
        d.extend_from_slice(&[0x08, 0x00, 0x45]);
        Packet::from_slice(&d)
    }

    #[test]
    fn classifies_like_ethernet_hardware() {
        let other = [0x02, 0, 0, 0, 0, 9];
        let input = vec![
            frame(ME, other),                       // host
            frame([0xff; 6], other),                // broadcast
            frame([0x01, 0, 0x5e, 0, 0, 1], other), // multicast
            frame(other, ME),                       // other host, from me
            frame(ME, ME),                          // to and from me
            Packet::from_slice(&[0; 10]),           // short
        ];
        let (out, router) = run_element(&HOST_ETHER_FILTER, "02:00:00:00:00:01", 2, input).unwrap();
        let types: Vec<PacketType> = out[0].iter().map(|p| p.anno().packet_type()).collect();
        assert_eq!(types, [PacketType::Host, PacketType::Broadcast, PacketType::Multicast, PacketType::Host]);
        assert_eq!(out[1].len(), 1);
        assert_eq!(out[1][0].anno().packet_type(), PacketType::OtherHost);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "1");
    }

    #[test]
    fn drop_own_drop_other_and_offset() {
        let other = [0x02, 0, 0, 0, 0, 9];
        let input = vec![frame(ME, ME), frame(other, other), frame(ME, other)];
        let (out, router) = run_element(&HOST_ETHER_FILTER, "02:00:00:00:00:01, true, false", 1, input).unwrap();
        assert_eq!(out[0].len(), 2);
        assert_eq!(out[0][0].anno().packet_type(), PacketType::OtherHost);
        let details = router.read_handler("e", "drop_details").unwrap();
        assert!(details.contains("1 sent by this host"), "{details}");

        let mut shifted = vec![0xaa, 0xbb];
        shifted.extend_from_slice(frame(other, other).data());
        let (out, router) =
            run_element(&HOST_ETHER_FILTER, "ETHER 02:00:00:00:00:01, OFFSET 2", 1, vec![Packet::from_slice(&shifted)])
                .unwrap();
        assert!(out[0].is_empty());
        assert!(router.read_handler("e", "drop_details").unwrap().contains("1 sent to another host"));
        let mut e = build_elem(&HOST_ETHER_FILTER, "02:00:00:00:00:01", 1, 1).unwrap();
        e.write_handler("ether", "00:11:22:33:44:55").unwrap();
        assert_eq!(e.read_handler("ether").unwrap(), "00-11-22-33-44-55");
    }

    #[test]
    fn vrrp_capture_is_multicast() {
        let path = format!("{PCAPS}/tcpdump__vrrp.pcap");
        let (_, recs) = pcap_records(&path);
        let (pass, other) = (new_id(), new_id());
        let config = format!(
            "h :: HostEtherFilter(02:00:00:00:00:01); FromDump(\"{path}\", STOP true) -> h; \
             h[0] -> Collect(ID {pass}); h[1] -> Collect(ID {other});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let (pass, other) = (collected(pass), collected(other));
        assert_eq!(pass.len() + other.len(), recs.len());
        for p in &pass {
            assert!(is_multicast(&Frame::new_checked(p.data()).unwrap().dst_addr()));
            assert_ne!(p.anno().packet_type(), PacketType::OtherHost);
        }
        assert!(other.iter().all(|p| p.anno().packet_type() == PacketType::OtherHost));
    }
}

//! `EtherRewrite`: rewrites the addresses of Ethernet frames.

use super::{parse_value, unparse_ether};
use crate::wire::ether::Frame;
use sluice::args::{Args, EtherAddr};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// EtherRewrite(SRC, DST)
    ///
    /// Rewrite source and destination Ethernet address.
    ///
    /// Rewrites the source and the destination address in the Ethernet header at the
    /// start of each packet. The EtherType is left untouched. This element is useful if
    /// there is only one possible next hop on a given link (such as for a network-layer
    /// transparent firewall), so that source and destination addresses are always the same
    /// for a given output.
    ///
    /// Packets shorter than an Ethernet header (14 bytes) are dropped and counted (Click
    /// would write past their end).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `SRC` — Ethernet address, mandatory, positional. The new source address.
    /// - `DST` — Ethernet address, mandatory, positional. The new destination address.
    ///
    /// # Handlers
    /// - `src` (read/write) — the SRC parameter.
    /// - `dst` (read/write) — the DST parameter.
    /// - `drops` (read) — packets dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> EtherRewrite(1:1:1:1:1:1, 2:2:2:2:2:2) -> ToDevice(eth1);
    /// ```
    pub const ETHER_REWRITE = "EtherRewrite" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("src", Combine::First, "the source address"),
    HandlerSpec::read_write("dst", Combine::First, "the destination address"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["shorter than an Ethernet header"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let src = args.read_mp::<EtherAddr>("SRC")?;
    let dst = args.read_mp::<EtherAddr>("DST")?;
    args.finish()?;
    Ok(Box::new(EtherRewrite { src: src.0, dst: dst.0, drops: DropCounts::new(REASONS) }))
}

/// The element: the addresses it writes.
pub struct EtherRewrite {
    src: [u8; 6],
    dst: [u8; 6],
    drops: DropCounts,
}

impl EtherRewrite {
    #[inline]
    fn rewrite(&mut self, batch: &mut Batch) {
        let (src, dst) = (self.src, self.dst);
        let mut short = 0;
        batch.retain_or(
            |p| match Frame::new_checked(p.data_mut()) {
                Ok(mut f) => {
                    f.set_dst_addr(dst);
                    f.set_src_addr(src);
                    true
                }
                Err(_) => false,
            },
            |_| short += 1,
        );
        if short > 0 {
            self.drops.count(0, short);
        }
    }
}

impl Element for EtherRewrite {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.rewrite(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.rewrite(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "src" => Some(unparse_ether(&self.src)),
            "dst" => Some(unparse_ether(&self.dst)),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "src" => self.src = parse_value::<EtherAddr>("SRC", value)?.0,
            "dst" => self.dst = parse_value::<EtherAddr>("DST", value)?.0,
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
    fn rewrites_addresses_of_a_capture_and_keeps_the_rest() {
        let path = format!("{PCAPS}/tcpdump__vrrp.pcap");
        let (_, recs) = pcap_records(&path);
        let sink = new_id();
        let config = format!(
            "FromDump(\"{path}\", STOP true) -> EtherRewrite(00:11:22:33:44:55, 66-77-88-99-AA-BB) -> Collect(ID {sink});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let got = collected(sink);
        assert_eq!(got.len(), recs.len());
        for (p, r) in got.iter().zip(&recs) {
            assert_eq!(&p.data()[..12], &[0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0, 0x11, 0x22, 0x33, 0x44, 0x55]);
            assert_eq!(&p.data()[12..], &r[12..]);
        }
    }

    #[test]
    fn short_packets_are_dropped_and_handlers_work() {
        let input = vec![Packet::from_slice(&[0; 13]), Packet::from_slice(&[0; 14])];
        let (out, router) = run_element(&ETHER_REWRITE, "1:2:3:4:5:6, 7:8:9:a:b:c", 1, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].data(), &[7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 0, 0]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "1");
        let mut e = build_elem(&ETHER_REWRITE, "1:2:3:4:5:6, 7:8:9:a:b:c", 1, 1).unwrap();
        e.write_handler("src", "00:00:00:00:00:01").unwrap();
        assert_eq!(e.read_handler("src").unwrap(), "00-00-00-00-00-01");
        assert_eq!(e.read_handler("dst").unwrap(), "07-08-09-0A-0B-0C");
        assert!(e.write_handler("dst", "x").is_err());
    }
}

//! `PaintSwitch`: sends each packet to the output its paint annotation names.

use super::anno::AnnoByte;
use super::split::Outputs;
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// PaintSwitch([ANNO])
    ///
    /// Sends packet stream to output chosen per-packet.
    ///
    /// PaintSwitch sends every incoming packet to one of its output ports -- specifically,
    /// output port number K, where K is the value of the incoming packet's paint
    /// annotation. If the paint annotation is set to 255, the packet is duplicated and
    /// sent to all outputs (deep copies to outputs 0..N-2, the original to output N-1).
    /// Since there are only 256 different paint annotations, including the special value
    /// of 255, PaintSwitch can have up to 255 outputs. If there is no output port K, the
    /// packet is dropped (and counted).
    ///
    /// PaintSwitch uses the PAINT annotation by default, but the ANNO argument can specify
    /// any one-byte annotation.
    ///
    /// The packets of one batch leave as one batch per output, outputs in port order.
    ///
    /// Ports: 1 input, any number of outputs, push.
    ///
    /// # Keywords
    /// - `ANNO` — annotation, positional. One-byte annotation name or offset. Default
    ///   `PAINT`.
    ///
    /// # Handlers
    /// - `drops` (read) — packets whose color names no output.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ps :: PaintSwitch;
    /// ... -> ps;
    /// ps[0] -> ToDevice(eth0);
    /// ps[1] -> ToDevice(eth1);
    /// ```
    pub const PAINT_SWITCH = "PaintSwitch" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets whose color names no output"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["no output for the packet's color"];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let anno = args.read_p::<AnnoByte>("ANNO")?.unwrap_or(AnnoByte::PAINT);
    args.finish()?;
    if ctx.noutputs > 255 {
        return Err("PaintSwitch has at most 255 outputs".into());
    }
    Ok(Box::new(PaintSwitch { anno, outs: Outputs::new(ctx.noutputs), drops: DropCounts::new(REASONS) }))
}

/// The element: which annotation to read, and one batch per output.
pub struct PaintSwitch {
    anno: AnnoByte,
    outs: Outputs,
    drops: DropCounts,
}

impl Element for PaintSwitch {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let n = self.outs.len();
        let mut dropped = 0;
        for p in batch {
            let k = self.anno.get(&p) as usize;
            if k < n {
                self.outs.add(k, p, &mut ctx);
            } else if k == 255 && n > 0 {
                for i in 0..n - 1 {
                    let q = p.clone_packet();
                    self.outs.add(i, q, &mut ctx);
                }
                self.outs.add(n - 1, p, &mut ctx);
            } else {
                dropped += 1;
            }
        }
        self.outs.flush(&mut ctx);
        if dropped > 0 {
            self.drops.count(0, dropped);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::run_element;
    use sluice::Packet;

    fn painted(colors: &[u8]) -> Vec<Packet> {
        colors
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let mut p = Packet::from_slice(&[i as u8]);
                p.anno_mut().paint = c;
                p
            })
            .collect()
    }

    fn ids(v: &[Packet]) -> Vec<u8> {
        v.iter().map(|p| p.data()[0]).collect()
    }

    #[test]
    fn routes_by_paint_duplicates_255_and_drops_missing_ports() {
        let (out, router) = run_element(&PAINT_SWITCH, "", 3, painted(&[0, 2, 1, 255, 7, 2])).unwrap();
        assert_eq!(ids(&out[0]), [0, 3]);
        assert_eq!(ids(&out[1]), [2, 3]);
        assert_eq!(ids(&out[2]), [1, 3, 5]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "1");
    }

    #[test]
    fn many_packets_to_one_output_and_other_anno() {
        let input: Vec<Packet> = (0..200u32)
            .map(|i| {
                let mut p = Packet::from_slice(&i.to_be_bytes());
                p.anno_mut().user[40] = 1;
                p
            })
            .collect();
        let (out, _) = run_element(&PAINT_SWITCH, "ANNO 40", 2, input).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (0, 200));
        let got: Vec<u32> = out[1].iter().map(|p| u32::from_be_bytes(p.data().try_into().unwrap())).collect();
        assert_eq!(got, (0..200).collect::<Vec<_>>());
    }
}

//! `PaintTee`: duplicates packets with a given paint annotation.

use super::anno::AnnoByte;
use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// PaintTee(COLOR [, ANNO])
    ///
    /// Duplicates packets with given paint annotation.
    ///
    /// PaintTee sends every packet through output 0. If the packet's paint annotation is
    /// equal to COLOR (an integer), it also sends a copy through output 1. The copy is deep
    /// (data and annotations) and, as in Click, goes out before the original.
    ///
    /// PaintTee uses the PAINT annotation by default, but the ANNO argument can specify any
    /// one-byte annotation.
    ///
    /// In pull context, a pull returns the packets pulled from the input, and the copies
    /// are pushed out output 1 during the pull.
    ///
    /// Ports: 1 input, 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `COLOR` — integer 0..255, mandatory, positional. The color to copy.
    /// - `ANNO` — annotation, positional. One-byte annotation name or offset. Default
    ///   `PAINT`.
    ///
    /// # Handlers
    /// - `color` (read/write) — the COLOR parameter.
    ///
    /// # Example
    /// Intended to produce redirects in conjunction with Paint and ICMPError:
    /// ```text
    /// FromDevice(eth7) -> Paint(7) -> ...
    /// routingtable[7] -> pt :: PaintTee(7) -> ... -> ToDevice(eth7);
    /// pt[1] -> ICMPError(18.26.4.24, 5, 1) -> [0]routingtable;
    /// ```
    pub const PAINT_TEE = "PaintTee" { ports: "1/2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] =
    &[HandlerSpec::read_write("color", Combine::First, "the color whose packets are copied")];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let color = args.read_mp::<u8>("COLOR")?;
    let anno = args.read_p::<AnnoByte>("ANNO")?.unwrap_or(AnnoByte::PAINT);
    args.finish()?;
    Ok(Box::new(PaintTee { color, anno }))
}

/// The element: the color to copy and where to look for it.
pub struct PaintTee {
    color: u8,
    anno: AnnoByte,
}

impl PaintTee {
    /// Push copies of the packets of `batch` that have the color out output 1.
    #[inline]
    fn copy_out(&self, batch: &Batch, ctx: &mut Ctx<'_>) {
        let mut copies = Batch::new();
        for p in batch.iter().filter(|p| self.anno.get(p) == self.color) {
            // A batch holds at most MAX_BATCH packets, so the copy batch never overflows.
            let _ = copies.push(p.clone_packet());
        }
        if !copies.is_empty() {
            ctx.push(1, copies);
        }
    }
}

impl Element for PaintTee {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.copy_out(&batch, &mut ctx);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        self.copy_out(&batch, &mut ctx);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "color").then(|| self.color.to_string())
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "color" => {
                self.color = u8::from_arg(value.trim()).map_err(|e| format!("color: {e}"))?;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, inject, new_id, run_element};
    use sluice::Packet;

    fn painted(colors: &[u8]) -> Vec<Packet> {
        colors
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let mut p = Packet::from_slice(&[i as u8, c]);
                p.anno_mut().paint = c;
                p
            })
            .collect()
    }

    #[test]
    fn copies_packets_of_the_color_to_output_1() {
        let colors: Vec<u8> = (0..150).map(|i| (i % 3) as u8 + 6).collect();
        let (mut out, _) = run_element(&PAINT_TEE, "7", 2, painted(&colors)).unwrap();
        assert_eq!(out[0].len(), 150);
        for (i, p) in out[0].iter().enumerate() {
            assert_eq!(p.data(), &[i as u8, colors[i]]);
        }
        assert_eq!(out[1].len(), 50);
        assert!(out[1].iter().all(|p| p.data()[1] == 7 && p.anno().paint == 7));
        let want: Vec<u8> = (0..150u8).filter(|i| i % 3 == 1).collect();
        assert_eq!(out[1].iter().map(|p| p.data()[0]).collect::<Vec<_>>(), want);
        // The copies are deep.
        out[1][0].data_mut()[1] = 99;
        assert_eq!(out[0][1].data()[1], 7);
    }

    #[test]
    fn anno_selects_another_byte() {
        let mut ps = painted(&[1, 1, 1]);
        AnnoByte(40).set(&mut ps[1], 9);
        let (out, _) = run_element(&PAINT_TEE, "9, 40", 2, ps).unwrap();
        assert_eq!(out[0].len(), 3);
        assert_eq!(out[1].len(), 1);
        assert_eq!(out[1][0].data()[0], 1);
    }

    #[test]
    fn pull_context_copies_during_the_pull() {
        let (src, main, copies) = (new_id(), new_id(), new_id());
        inject(src, painted(&[2, 5, 2, 2, 0]));
        let mut t = TestGraph::new();
        let s = t.add("src", "Inject", &format!("ID {src}"));
        let q = t.add("q", "Queue", "100");
        let pt = t.add("pt", "PaintTee", "2");
        let u = t.add("u", "Unqueue", "");
        let o = t.add("out", "Collect", &format!("ID {main}"));
        let c = t.add("copies", "Collect", &format!("ID {copies}"));
        t.connect(s, 0, q, 0).connect(q, 0, pt, 0).connect(pt, 0, u, 0).connect(u, 0, o, 0).connect(pt, 1, c, 0);
        let router = t.run();
        assert_eq!(collected(main).len(), 5);
        assert_eq!(collected(copies).iter().map(|p| p.data()[0]).collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!(router.read_handler("pt", "color").unwrap(), "2");
    }

    #[test]
    fn handlers_and_config() {
        let mut e = build_elem(&PAINT_TEE, "3", 1, 2).unwrap();
        assert_eq!(e.read_handler("color").unwrap(), "3");
        e.write_handler("color", " 200 ").unwrap();
        assert_eq!(e.read_handler("color").unwrap(), "200");
        assert!(e.write_handler("color", "256").unwrap_err().starts_with("color: "));
        assert!(build_elem(&PAINT_TEE, "COLOR 3, ANNO PAINT", 1, 2).is_ok());
        assert!(build_elem(&PAINT_TEE, "", 1, 2).is_err());
        assert!(build_elem(&PAINT_TEE, "300", 1, 2).is_err());
        assert!(build_elem(&PAINT_TEE, "1, DST_IP", 1, 2).is_err());
        assert!(build_elem(&PAINT_TEE, "1, 2, 3", 1, 2).is_err());
    }
}

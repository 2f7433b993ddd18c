//! `CheckPaint`: passes packets whose paint annotation has a given color.

use super::anno::AnnoByte;
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// CheckPaint(COLOR [, ANNO])
    ///
    /// Checks packets' paint annotation.
    ///
    /// Checks that incoming packets have paint annotation equal to COLOR. If their paints
    /// are not equal to COLOR, then they are dropped or emitted on output 1, depending on
    /// how many outputs were used. CheckPaint uses the packet's PAINT annotation by
    /// default, but the ANNO argument can specify any one-byte annotation.
    ///
    /// In pull context, a pull returns the packets that pass; the others go to output 1
    /// (or are dropped) during the pull.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `COLOR` — integer 0..255, mandatory, positional. The color packets must have.
    /// - `ANNO` — annotation, positional. One-byte annotation name or offset. Default
    ///   `PAINT`.
    ///
    /// # Handlers
    /// - `color` (read/write) — the color packets must have.
    /// - `drops` (read) — packets dropped (paint differs, no output 1).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> cp :: CheckPaint(2) -> ToDevice(eth1);
    /// cp[1] -> Discard;
    /// ```
    pub const CHECK_PAINT = "CheckPaint" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("color", Combine::First, "the color packets must have"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["paint differs from COLOR (no output 1)"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let color = args.read_mp::<u8>("COLOR")?;
    let anno = args.read_p::<AnnoByte>("ANNO")?.unwrap_or(AnnoByte::PAINT);
    args.finish()?;
    Ok(Box::new(CheckPaint { color, anno, drops: DropCounts::new(REASONS) }))
}

/// The element: the color to check, where to look, and the drop counter.
pub struct CheckPaint {
    color: u8,
    anno: AnnoByte,
    drops: DropCounts,
}

impl CheckPaint {
    /// Keep matching packets in `batch`; send the others to output 1 or drop them.
    #[inline]
    fn check(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let (color, anno) = (self.color, self.anno);
        let mut other = Batch::new();
        // A batch holds at most MAX_BATCH packets, so `other` never overflows.
        batch.retain_or(
            |p| anno.get(p) == color,
            |p| {
                let _ = other.push(p);
            },
        );
        if other.is_empty() {
            return;
        }
        if ctx.noutputs() > 1 {
            ctx.push(1, other);
        } else {
            self.drops.count(0, other.len() as u64);
        }
    }
}

impl Element for CheckPaint {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.check(&mut batch, &mut ctx);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.check(&mut batch, &mut ctx);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "color" => Some(self.color.to_string()),
            _ => self.drops.read_handler(name),
        }
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

    #[test]
    fn passes_matching_and_diverts_the_rest() {
        let (out, router) = run_element(&CHECK_PAINT, "2", 2, painted(&[2, 1, 2, 3, 2])).unwrap();
        let ids = |v: &[Packet]| v.iter().map(|p| p.data()[0]).collect::<Vec<_>>();
        assert_eq!(ids(&out[0]), [0, 2, 4]);
        assert_eq!(ids(&out[1]), [1, 3]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn drops_without_output_1_and_counts() {
        let (out, router) = run_element(&CHECK_PAINT, "COLOR 1", 1, painted(&[2, 1, 2])).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "2");
        assert!(router.read_handler("e", "drop_details").unwrap().contains("2 paint differs"));
    }

    #[test]
    fn other_annotation_byte() {
        let mut p = Packet::from_slice(b"a");
        p.anno_mut().user[30] = 5;
        let (out, _) = run_element(&CHECK_PAINT, "5, 30", 2, vec![p, Packet::from_slice(b"b")]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (1, 1));
        assert_eq!(out[0][0].data(), b"a");
    }
}

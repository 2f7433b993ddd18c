//! `Paint`: sets each packet's paint annotation.

use super::anno::AnnoByte;
use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// Paint(COLOR [, ANNO])
    ///
    /// Sets packet paint annotations.
    ///
    /// Sets each packet's paint annotation to COLOR, an integer 0..255. Paint sets the
    /// packet's PAINT annotation by default, but the ANNO argument can specify any one-byte
    /// annotation, by name or by its offset in Click's annotation area (see CheckPaint,
    /// PaintSwitch).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `COLOR` — integer 0..255, mandatory, positional. The color to paint.
    /// - `ANNO` — annotation, positional. A one-byte annotation name (`PAINT`,
    ///   `ICMP_PARAMPROB`, `FIX_IP_SRC`, `SEND_ERR`, `GRID_ROUTE_CB`) or byte offset 0..47.
    ///   Default `PAINT`.
    ///
    /// # Handlers
    /// - `color` (read/write) — the color to paint.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Paint(1) -> q :: Queue;
    /// FromDevice(eth1) -> Paint(2) -> q;
    /// q -> ... -> CheckPaint(1) -> ...
    /// ```
    pub const PAINT = "Paint" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("color", Combine::First, "the color to paint")];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let color = args.read_mp::<u8>("COLOR")?;
    let anno = args.read_p::<AnnoByte>("ANNO")?.unwrap_or(AnnoByte::PAINT);
    args.finish()?;
    Ok(Box::new(Paint { color, anno }))
}

/// The element: the color and where to put it.
pub struct Paint {
    color: u8,
    anno: AnnoByte,
}

impl Paint {
    #[inline]
    fn paint(&self, batch: &mut Batch) {
        for p in batch.iter_mut() {
            self.anno.set(p, self.color);
        }
    }
}

impl Element for Paint {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.paint(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.paint(&mut batch);
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
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn paints_the_paint_annotation_or_another_byte() {
        let input: Vec<Packet> = (0..70u8).map(|i| Packet::from_slice(&[i; 20])).collect();
        let (out, router) = run_element(&PAINT, "7", 1, input).unwrap();
        assert_eq!(out[0].len(), 70);
        assert!(out[0].iter().all(|p| p.anno().paint == 7));
        assert_eq!(out[0][69].data(), &[69; 20]);
        assert_eq!(router.read_handler("e", "color").unwrap(), "7");

        let (out, _) = run_element(&PAINT, "COLOR 9, ANNO 40", 1, vec![Packet::from_slice(b"x")]).unwrap();
        assert_eq!((out[0][0].anno().user[40], out[0][0].anno().paint), (9, 0));
        let (out, _) = run_element(&PAINT, "3, PAINT", 1, vec![Packet::from_slice(b"x")]).unwrap();
        assert_eq!(out[0][0].anno().paint, 3);
    }

    #[test]
    fn color_handler_and_config_errors() {
        let mut e = build_elem(&PAINT, "1", 1, 1).unwrap();
        e.write_handler("color", "200\n").unwrap();
        assert_eq!(e.read_handler("color").unwrap(), "200");
        assert!(e.write_handler("color", "256").is_err());
        assert!(build_elem(&PAINT, "", 1, 1).err().unwrap().0.contains("COLOR"));
        assert!(build_elem(&PAINT, "300", 1, 1).is_err());
        assert!(build_elem(&PAINT, "1, VLAN_TCI", 1, 1).err().unwrap().0.contains("2 bytes"));
        assert!(build_elem(&PAINT, "1, 2, 3", 1, 1).is_err());
    }
}

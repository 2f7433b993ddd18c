//! `Block`: splits packets by the forward-rate annotation.

use super::anno::AnnoByte;
use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// Block(THRESH)
    ///
    /// Drops packets with high rate.
    ///
    /// THRESH is an integer. Splits packets based on the forward rate annotation
    /// (`FWD_RATE_ANNO`) set by a rate monitor: if the annotation is less than or equal to
    /// THRESH, the packet is pushed on output 0, otherwise on output 1. If THRESH is 0 then
    /// all packets are pushed on output 0.
    ///
    /// The annotation is Click's: a signed 32-bit integer at bytes 20–23 of the annotation
    /// area, in host (little-endian) order. Sluice has no element that sets it yet (Click's
    /// IPRateMonitor and IPFlexMonitor do), so unannotated packets read 0 and go to output
    /// 0 unless THRESH is negative. Click's Block is agnostic but only splits pushed
    /// packets (a pull passes everything); Sluice's Block is push only.
    ///
    /// Ports: 1 input, 2 outputs, push.
    ///
    /// # Keywords
    /// - `THRESH` — integer, mandatory, positional. The highest rate passed to output 0.
    ///
    /// # Handlers
    /// - `thresh` (read/write) — the THRESH value. Writing fails with `expecting 1
    ///   integer` or `not an integer`, as in Click.
    ///
    /// # Example
    /// ```text
    /// b :: Block(500);
    /// ... -> b;
    /// b[0] -> ...;
    /// b[1] -> Discard;
    /// ```
    pub const BLOCK = "Block" { ports: "1/2", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("thresh", Combine::First, "the THRESH value")];

/// Offset of Click's `FWD_RATE_ANNO` (4 bytes, signed, host order).
pub const FWD_RATE_ANNO_OFFSET: u8 = 20;

/// Click's `FWD_RATE_ANNO(p)`.
pub fn fwd_rate_anno(p: &Packet) -> i32 {
    let b: [u8; 4] = std::array::from_fn(|i| AnnoByte(FWD_RATE_ANNO_OFFSET + i as u8).get(p));
    i32::from_le_bytes(b)
}

/// Click's `SET_FWD_RATE_ANNO(p, v)`.
pub fn set_fwd_rate_anno(p: &mut Packet, v: i32) {
    for (i, b) in v.to_le_bytes().into_iter().enumerate() {
        AnnoByte(FWD_RATE_ANNO_OFFSET + i as u8).set(p, b);
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let thresh = args.read_mp::<i32>("THRESH")?;
    args.finish()?;
    Ok(Box::new(Block { thresh }))
}

/// The element: the threshold.
pub struct Block {
    thresh: i32,
}

impl Element for Block {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let thresh = self.thresh;
        let mut outs = [Batch::new(), Batch::new()];
        batch.split_into(&mut outs, |p| usize::from(thresh != 0 && fwd_rate_anno(p) > thresh));
        let [low, high] = outs;
        if !low.is_empty() {
            ctx.push(0, low);
        }
        if !high.is_empty() {
            ctx.push(1, high);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "thresh").then(|| self.thresh.to_string())
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "thresh" => {
                let args = sluice::args::split_args(value);
                if args.len() != 1 {
                    return Err("expecting 1 integer".into());
                }
                self.thresh = i32::from_arg(args[0].trim()).map_err(|_| "not an integer")?;
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

    fn rated(rates: &[i32]) -> Vec<Packet> {
        rates
            .iter()
            .map(|&r| {
                let mut p = Packet::from_slice(&r.to_be_bytes());
                set_fwd_rate_anno(&mut p, r);
                p
            })
            .collect()
    }

    fn rates(ps: &[Packet]) -> Vec<i32> {
        ps.iter().map(fwd_rate_anno).collect()
    }

    #[test]
    fn splits_by_the_rate_annotation() {
        let (out, router) = run_element(&BLOCK, "500", 2, rated(&[0, 499, 500, 501, 10_000, -3])).unwrap();
        assert_eq!(rates(&out[0]), vec![0, 499, 500, -3]);
        assert_eq!(rates(&out[1]), vec![501, 10_000]);
        assert_eq!(router.read_handler("e", "thresh").unwrap(), "500");
        let (out, _) = run_element(&BLOCK, "0", 2, rated(&[1, 1 << 30])).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (2, 0));
        let (out, _) = run_element(&BLOCK, "-5", 2, rated(&[0, -5, -6])).unwrap();
        assert_eq!((rates(&out[0]), rates(&out[1])), (vec![-5, -6], vec![0]));
    }

    #[test]
    fn the_annotation_is_clicks_bytes_20_to_23() {
        let mut p = Packet::from_slice(&[0]);
        set_fwd_rate_anno(&mut p, 0x0102_0304);
        // Bytes 20 and 21 are the VLAN TCI annotation's, in Click as here.
        assert_eq!(p.anno().vlan_tci, 0x0403);
        assert_eq!(AnnoByte(22).get(&p), 2);
        assert_eq!(fwd_rate_anno(&p), 0x0102_0304);
    }

    #[test]
    fn handler_and_config() {
        let mut b = build_elem(&BLOCK, "THRESH 7", 1, 2).unwrap();
        b.write_handler("thresh", "9").unwrap();
        assert_eq!(b.read_handler("thresh").unwrap(), "9");
        assert_eq!(b.write_handler("thresh", "1, 2").unwrap_err(), "expecting 1 integer");
        assert_eq!(b.write_handler("thresh", "many").unwrap_err(), "not an integer");
        assert!(build_elem(&BLOCK, "", 1, 2).is_err());
        assert!(build_elem(&BLOCK, "x", 1, 2).is_err());
    }
}

//! `Align`: Click's packet-data alignment; in Sluice a checked no-op.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// Align(MODULUS, OFFSET)
    ///
    /// Aligns packet data.
    ///
    /// In Click, each input packet is aligned so that its first byte is OFFSET bytes off
    /// from a MODULUS-byte boundary, which may involve moving the data within its buffer
    /// (or a copy); the bytes and annotations do not change, only their address. MODULUS
    /// must be 2, 4, or 8, and OFFSET smaller than MODULUS. The click-align(1) tool
    /// inserts this element where a platform needs aligned IP headers.
    ///
    /// In Sluice, Align checks its arguments as Click does and passes packets unchanged:
    /// Sluice's elements read every header field through byte-wise views that do not
    /// care about alignment, so there is nothing to fix, and the packets that come out
    /// are byte for byte the ones Click's Align would emit.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `MODULUS` — 2, 4 or 8, mandatory, positional.
    /// - `OFFSET` — integer smaller than MODULUS, mandatory, positional.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Align(4, 2) -> Classifier(12/0800, -) -> ...
    /// ```
    pub const ALIGN = "Align" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let modulus = args.read_mp::<u32>("MODULUS")?;
    let offset = args.read_mp::<i32>("OFFSET")?;
    args.finish()?;
    if ![2, 4, 8].contains(&modulus) {
        return Err("MODULUS must be 2, 4, or 8".into());
    }
    if i64::from(offset) >= i64::from(modulus) {
        return Err("OFFSET must be smaller than MODULUS".into());
    }
    Ok(Box::new(Align))
}

/// The element (stateless).
pub struct Align;

impl Element for Align {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        ctx.pull(0, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn passes_packets_unchanged() {
        let (out, _) = run_element(&ALIGN, "4, 2", 1, vec![Packet::from_slice(b"abcdef"), Packet::new(0)]).unwrap();
        assert_eq!(out[0].len(), 2);
        assert_eq!(out[0][0].data(), b"abcdef");
    }

    #[test]
    fn arguments_are_checked_as_click_checks_them() {
        for good in ["2, 0", "4, 2", "8, 7", "MODULUS 4, OFFSET 0"] {
            assert!(build_elem(&ALIGN, good, 1, 1).is_ok(), "{good}");
        }
        for (bad, msg) in [("3, 0", "MODULUS must be 2, 4, or 8"), ("4, 4", "OFFSET must be smaller than MODULUS")] {
            assert_eq!(build_elem(&ALIGN, bad, 1, 1).err().unwrap().0, msg);
        }
        assert!(build_elem(&ALIGN, "4", 1, 1).is_err());
    }
}

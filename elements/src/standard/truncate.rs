//! `Truncate`: limits packet length.

use crate::io::{extra_length_anno, set_extra_length_anno};
use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// Truncate(LENGTH [, KEYWORDS])
    ///
    /// Limits packet length.
    ///
    /// Shortens packets to at most LENGTH bytes, removing bytes from the end. Shorter
    /// packets pass unchanged. By default, the number of bytes removed is added to the
    /// packet's extra length annotation, so that ToDump still records the packet's
    /// original length.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `LENGTH` — unsigned 0..65535, mandatory, positional. The largest length kept.
    /// - `EXTRA_LENGTH` — boolean. If true, add the removed bytes to the extra length
    ///   annotation. Default true.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// // keep headers only
    /// FromDevice(eth0) -> Truncate(96) -> ToDump(headers.pcap);
    /// ```
    pub const TRUNCATE = "Truncate" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let length = args.read_mp::<u16>("LENGTH")? as usize;
    let extra_length = args.read_kw::<bool>("EXTRA_LENGTH")?.unwrap_or(true);
    args.finish()?;
    Ok(Box::new(Truncate { length, extra_length }))
}

/// The element: the length to keep.
pub struct Truncate {
    length: usize,
    extra_length: bool,
}

impl Truncate {
    #[inline]
    fn truncate(&self, batch: &mut Batch) {
        for p in batch.iter_mut() {
            if p.len() > self.length {
                let n = p.len() - self.length;
                if self.extra_length {
                    let extra = extra_length_anno(p).wrapping_add(n as u32);
                    set_extra_length_anno(p, extra);
                }
                p.take(n);
            }
        }
    }
}

impl Element for Truncate {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.truncate(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.truncate(&mut batch);
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, collected, new_id, run_config, run_element};
    use sluice::Packet;

    #[test]
    fn cuts_long_packets_and_counts_extra_length() {
        let input = vec![Packet::from_slice(&[1; 100]), Packet::from_slice(&[2; 10]), Packet::from_slice(&[3; 20])];
        let (out, _) = run_element(&TRUNCATE, "20", 1, input).unwrap();
        assert_eq!(out[0][0].data(), &[1; 20]);
        assert_eq!(extra_length_anno(&out[0][0]), 80);
        assert_eq!((out[0][1].len(), extra_length_anno(&out[0][1])), (10, 0));
        assert_eq!((out[0][2].len(), extra_length_anno(&out[0][2])), (20, 0));
        let (out, _) =
            run_element(&TRUNCATE, "LENGTH 0, EXTRA_LENGTH false", 1, vec![Packet::from_slice(&[1; 9])]).unwrap();
        assert_eq!((out[0][0].len(), extra_length_anno(&out[0][0])), (0, 0));
        assert!(build_elem(&TRUNCATE, "65536", 1, 1).is_err());
        assert!(build_elem(&TRUNCATE, "", 1, 1).is_err());
    }

    #[test]
    fn truncated_capture_keeps_prefixes_and_original_lengths() {
        let (full, cut) = (new_id(), new_id());
        let path = format!("{}/snabb__v4-tcp-udp.pcap", crate::wire::PCAPS);
        let config = format!(
            "t :: Tee; FromDump(\"{path}\", STOP true) -> t; t[0] -> Collect(ID {full}); \
             t[1] -> Truncate(54) -> Collect(ID {cut});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let (full, cut) = (collected(full), collected(cut));
        assert!(!full.is_empty());
        assert_eq!(full.len(), cut.len());
        for (f, c) in full.iter().zip(&cut) {
            let keep = f.len().min(54);
            assert_eq!(c.data(), &f.data()[..keep]);
            assert_eq!(c.len() as u32 + extra_length_anno(c), f.len() as u32 + extra_length_anno(f));
        }
    }
}

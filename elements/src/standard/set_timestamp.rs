//! `SetTimestamp`: stores a time in packets' timestamp annotation.

use super::anno::set_first_timestamp_anno;
use super::infinite_source::now_ns;
use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};
use std::time::Duration;

sluice::element_class! {
    /// SetTimestamp([TIMESTAMP, KEYWORDS])
    ///
    /// Store the time in the packet's timestamp annotation.
    ///
    /// Stores the specified TIMESTAMP in the packet's timestamp annotation. If TIMESTAMP is
    /// not specified, then sets the annotation to the system time when the packet arrived
    /// at the SetTimestamp element (all packets of one batch get the same time).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `TIMESTAMP` — time since the epoch, positional (`1700000000.25`). Default: now.
    /// - `FIRST` — boolean. If true, set the packet's "first timestamp" annotation (Click's
    ///   `FIRST_TIMESTAMP_ANNO`, annotation bytes 32..40), not its timestamp annotation.
    ///   Default false.
    /// - `DELTA` — refused, as in Click (deprecated; Click suggests SetTimestampDelta).
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// InfiniteSource(LIMIT 10) -> SetTimestamp(1000000000) -> ToDump(out.pcap);
    /// ```
    pub const SET_TIMESTAMP = "SetTimestamp" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let time = args.read_p::<Duration>("TIMESTAMP")?;
    let first = args.read_kw::<bool>("FIRST")?.unwrap_or(false);
    let delta = args.read_kw::<bool>("DELTA")?.unwrap_or(false);
    args.finish()?;
    if delta {
        return Err("SetTimestamp(DELTA) is deprecated, use SetTimestampDelta(TYPE FIRST)".into());
    }
    let time = time.map(|t| u64::try_from(t.as_nanos()).map_err(|_| ConfigError::from("TIMESTAMP is too large")));
    Ok(Box::new(SetTimestamp { time: time.transpose()?, first }))
}

/// The element: a fixed time (or none: now), and which annotation to set.
pub struct SetTimestamp {
    time: Option<u64>,
    first: bool,
}

impl SetTimestamp {
    #[inline]
    fn stamp(&self, batch: &mut Batch) {
        if batch.is_empty() {
            return;
        }
        let t = self.time.unwrap_or_else(now_ns);
        for p in batch.iter_mut() {
            if self.first {
                set_first_timestamp_anno(p, t);
            } else {
                p.anno_mut().timestamp_ns = t;
            }
        }
    }
}

impl Element for SetTimestamp {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.stamp(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.stamp(&mut batch);
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::anno::first_timestamp_anno;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn fixed_time_now_and_first() {
        let (out, _) = run_element(&SET_TIMESTAMP, "1000000000.25", 1, vec![Packet::from_slice(b"a")]).unwrap();
        assert_eq!(out[0][0].anno().timestamp_ns, 1_000_000_000_250_000_000);
        let before = now_ns();
        let (out, _) = run_element(&SET_TIMESTAMP, "", 1, vec![Packet::from_slice(b"a")]).unwrap();
        let t = out[0][0].anno().timestamp_ns;
        assert!(t >= before && t <= now_ns());
        let (out, _) = run_element(&SET_TIMESTAMP, "5, FIRST true", 1, vec![Packet::from_slice(b"a")]).unwrap();
        assert_eq!(first_timestamp_anno(&out[0][0]), 5_000_000_000);
        assert_eq!(out[0][0].anno().timestamp_ns, 0);
        assert!(build_elem(&SET_TIMESTAMP, "DELTA true", 1, 1).err().unwrap().0.contains("deprecated"));
        assert!(build_elem(&SET_TIMESTAMP, "yesterday", 1, 1).is_err());
    }
}

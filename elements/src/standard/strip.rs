//! `Strip`: removes bytes from the front of packets.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// Strip(LENGTH)
    ///
    /// Strips bytes from front of packets.
    ///
    /// Deletes the first LENGTH bytes from each packet. The bytes stay in the packet's
    /// buffer as headroom, so a later `Unstrip(LENGTH)` puts the very same bytes back.
    ///
    /// A packet shorter than LENGTH is stripped to zero length and passed on, as Click's
    /// `Packet::pull` does (Click also prints a warning; Sluice does not, to keep the
    /// data path free of I/O).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `LENGTH` — unsigned, mandatory, positional. Bytes to remove.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// // get rid of the Ethernet header
    /// FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> ...
    /// ```
    pub const STRIP = "Strip" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let len = args.read_mp::<u32>("LENGTH")?;
    args.finish()?;
    Ok(Box::new(Strip { len: len as usize }))
}

/// The element: how many bytes to strip.
pub struct Strip {
    len: usize,
}

impl Strip {
    #[inline]
    fn strip(&self, batch: &mut Batch) {
        for p in batch.iter_mut() {
            let n = self.len.min(p.len());
            p.pull(n);
        }
    }
}

impl Element for Strip {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.strip(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.strip(&mut batch);
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, inject, new_id, run_element};
    use sluice::Packet;

    #[test]
    fn strips_the_front() {
        let frame: Vec<u8> = (0..60u8).collect();
        let (out, _) = run_element(&STRIP, "14", 1, vec![Packet::from_slice(&frame)]).unwrap();
        assert_eq!(out[0][0].data(), &frame[14..]);
    }

    #[test]
    fn short_packets_become_empty_like_click() {
        let input = vec![Packet::from_slice(&[1, 2, 3]), Packet::new(0), Packet::from_slice(&[0; 14])];
        let (out, _) = run_element(&STRIP, "LENGTH 14", 1, input).unwrap();
        assert_eq!(out[0].len(), 3);
        assert!(out[0].iter().all(|p| p.is_empty()));
    }

    #[test]
    fn strip_zero_is_a_no_op() {
        let (out, _) = run_element(&STRIP, "0", 1, vec![Packet::from_slice(b"abc")]).unwrap();
        assert_eq!(out[0][0].data(), b"abc");
    }

    #[test]
    fn works_in_pull_context() {
        let (src, sink) = (new_id(), new_id());
        inject(src, (0..10u8).map(|i| Packet::from_slice(&[i, 0xaa, 0xbb])));
        TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", ""),
            ("s", "Strip", "1"),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        let got = collected(sink);
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|p| p.data() == [0xaa, 0xbb]));
    }

    #[test]
    fn config_is_checked() {
        let e = build_elem(&STRIP, "", 1, 1).err().unwrap();
        assert_eq!(e.0, "missing mandatory argument LENGTH");
        let e = build_elem(&STRIP, "-1", 1, 1).err().unwrap();
        assert!(e.0.starts_with("LENGTH: "), "{e}");
        let e = build_elem(&STRIP, "fourteen", 1, 1).err().unwrap();
        assert!(e.0.contains("expected integer"), "{e}");
        assert!(build_elem(&STRIP, "14, 2", 1, 1).is_err());
    }
}

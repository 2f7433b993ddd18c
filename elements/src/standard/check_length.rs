//! `CheckLength`: sends packets longer than LENGTH to output 1.

use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// CheckLength(LENGTH)
    ///
    /// Drops large packets.
    ///
    /// CheckLength checks every packet's length against LENGTH. If the packet is no larger
    /// than LENGTH, it is sent to output 0; otherwise, it is sent to output 1 (or dropped
    /// if there is no output 1). In pull context, packets are pulled from the input and the
    /// long ones pushed out of output 1.
    ///
    /// Ports: 1 input, 1 or 2 outputs; input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `LENGTH` — unsigned 32-bit, mandatory, positional. The largest length passed.
    ///
    /// # Handlers
    /// - `length` (read/write) — the LENGTH.
    /// - `drops` (read) — long packets dropped for want of output 1 (Sluice's addition).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> cl :: CheckLength(1500) -> ToDevice(eth0);
    /// cl[1] -> IPFragmenter(1500) -> ...
    /// ```
    pub const CHECK_LENGTH = "CheckLength" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("length", Combine::First, "the largest length passed"),
    HandlerSpec::read("drops", Combine::Sum, "long packets dropped (no output 1)"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["longer than LENGTH"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let max = args.read_mp::<u32>("LENGTH")?;
    args.finish()?;
    Ok(Box::new(CheckLength { max, drops: DropCounts::new(REASONS) }))
}

/// The element: the length limit and the drop counter.
pub struct CheckLength {
    max: u32,
    drops: DropCounts,
}

impl CheckLength {
    #[inline]
    fn process(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        let max = self.max as u64;
        let mut long = Batch::new();
        batch.retain_or(
            |p| p.len() as u64 <= max,
            |p| {
                let _ = long.push(p);
            },
        );
        if long.is_empty() {
            return;
        }
        if ctx.noutputs() > 1 {
            ctx.push(1, long);
        } else {
            self.drops.count(0, long.len() as u64);
        }
    }
}

impl Element for CheckLength {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.process(&mut batch, &mut ctx);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.process(&mut batch, &mut ctx);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "length" => Some(self.max.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "length" => self.max = u32::from_arg(value.trim()).map_err(|e| format!("length: {e}"))?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, inject, new_id, run_element};
    use sluice::Packet;

    fn sized(lens: &[usize]) -> Vec<Packet> {
        lens.iter().map(|&n| Packet::from_slice(&vec![0xab; n])).collect()
    }

    #[test]
    fn long_packets_go_to_output_1() {
        let (out, r) = run_element(&CHECK_LENGTH, "100", 2, sized(&[0, 99, 100, 101, 1500])).unwrap();
        let lens = |o: &Vec<Packet>| o.iter().map(|p| p.len()).collect::<Vec<_>>();
        assert_eq!(lens(&out[0]), [0, 99, 100]);
        assert_eq!(lens(&out[1]), [101, 1500]);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn without_output_1_long_packets_are_dropped() {
        let (out, r) = run_element(&CHECK_LENGTH, "LENGTH 60", 1, sized(&[60, 61, 2000])).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "2");
    }

    #[test]
    fn pull_context() {
        let (src, sink) = (new_id(), new_id());
        inject(src, sized(&[10, 20, 30, 40]));
        TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", ""),
            ("c", "CheckLength", "25"),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        assert_eq!(collected(sink).iter().map(|p| p.len()).collect::<Vec<_>>(), [10, 20]);
    }

    #[test]
    fn handler_and_configuration() {
        let mut e = build_elem(&CHECK_LENGTH, "1500", 1, 2).unwrap();
        assert_eq!(e.read_handler("length").unwrap(), "1500");
        e.write_handler("length", "576").unwrap();
        assert_eq!(e.read_handler("length").unwrap(), "576");
        assert!(e.write_handler("length", "-1").is_err());
        for bad in ["", "-1", "big", "1, 2"] {
            assert!(build_elem(&CHECK_LENGTH, bad, 1, 1).is_err(), "{bad}");
        }
    }
}

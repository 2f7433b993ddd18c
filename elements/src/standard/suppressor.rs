//! `Suppressor`: passes packets from input i to output i, unless port i is suppressed.

use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, State};

sluice::element_class! {
    /// Suppressor
    ///
    /// Passes packets unchanged, optionally dropping some input ports.
    ///
    /// Suppressor has n inputs and n outputs. It generally passes packets from input i to
    /// output i unchanged. However, any input port can be suppressed, through a handler.
    /// Packets arriving on suppressed push input ports are dropped; pull requests arriving
    /// on suppressed pull output ports are ignored (they get no packet, and nothing is
    /// pulled from the input).
    ///
    /// Differences from Click: Click lets each input/output pair
    /// be push or pull on its own; in Sluice all of an element's agnostic ports take one
    /// kind, so a Suppressor's ports are all push or all pull. Dropped packets are counted
    /// (`drops`, a Sluice addition).
    ///
    /// Ports: any number of inputs, the same number of outputs, agnostic.
    ///
    /// # Keywords
    /// None: the configuration must be empty.
    ///
    /// # Handlers
    /// - `active0`, `active1`, ... (read/write) — whether port I is active (not suppressed).
    ///   Every port starts out active. Writing anything but a boolean fails with
    ///   `type mismatch`.
    /// - `reset` (write) — makes every port active.
    /// - `drops` (read) — packets dropped on suppressed push ports.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// s :: Suppressor;
    /// a -> [0]s[0] -> x;
    /// b -> [1]s[1] -> y;    // write s.active1 false to cut b off
    /// ```
    pub const SUPPRESSOR = "Suppressor" { ports: "-/-", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("active#", Combine::First, "whether port # passes packets (`active0`, `active1`, ...)"),
    HandlerSpec::write("reset", "make every port active"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped on suppressed ports"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["port suppressed"];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    sluice::args::Args::new(config).finish()?;
    if ctx.ninputs != ctx.noutputs {
        return Err(ConfigError(format!(
            "Suppressor needs as many outputs as inputs ({} inputs, {} outputs)",
            ctx.ninputs, ctx.noutputs
        )));
    }
    Ok(Box::new(Suppressor { suppressed: vec![false; ctx.ninputs], drops: DropCounts::new(REASONS) }))
}

/// The element: which ports are suppressed.
pub struct Suppressor {
    suppressed: Vec<bool>,
    drops: DropCounts,
}

impl Suppressor {
    fn port_of(&self, handler: &str) -> Option<usize> {
        handler.strip_prefix("active")?.parse::<usize>().ok().filter(|&p| p < self.suppressed.len())
    }
}

impl Element for Suppressor {
    fn push(&mut self, port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        if self.suppressed[port] {
            self.drops.count(0, batch.len() as u64);
        } else {
            ctx.push(port, batch);
        }
    }

    fn pull(&mut self, port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        if self.suppressed[port] {
            Batch::new()
        } else {
            ctx.pull(port, max)
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        if let Some(p) = self.port_of(name) {
            return Some((!self.suppressed[p]).to_string());
        }
        self.drops.read_handler(name)
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        if name == "reset" {
            self.suppressed.iter_mut().for_each(|s| *s = false);
            return Ok(());
        }
        if let Some(port) = name.strip_prefix("active") {
            let Some(p) = self.port_of(name) else {
                return Err(format!("no port {port} (this Suppressor has {})", self.suppressed.len()));
            };
            let active = <bool as sluice::args::FromArg>::from_arg(value.trim()).map_err(|_| "type mismatch")?;
            self.suppressed[p] = !active;
            return Ok(());
        }
        Err(format!("handler '{name}' is not writable"))
    }

    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(self.suppressed.clone()))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(s) = state.downcast::<Vec<bool>>() {
            for (mine, old) in self.suppressed.iter_mut().zip(s.iter()) {
                *mine = *old;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, collected, inject, new_id};
    use sluice::Packet;

    #[test]
    fn passes_port_to_port_and_drops_suppressed_pushes() {
        let mut e = build_elem(&SUPPRESSOR, "", 2, 2).unwrap();
        assert_eq!(e.read_handler("active0").unwrap(), "true");
        assert!(e.read_handler("active2").is_none());
        e.write_handler("active1", "false").unwrap();
        assert_eq!(e.read_handler("active1").unwrap(), "false");
        assert_eq!(e.write_handler("active0", "maybe").unwrap_err(), "type mismatch");
        assert!(e.write_handler("active5", "true").is_err());
        e.write_handler("reset", "").unwrap();
        assert_eq!(e.read_handler("active1").unwrap(), "true");
        assert!(build_elem(&SUPPRESSOR, "", 2, 1).is_err());
        assert!(build_elem(&SUPPRESSOR, "x", 1, 1).is_err());
    }

    #[test]
    fn suppression_in_a_running_graph() {
        let sink = new_id();
        let running = TestGraph::chain(&[
            ("src", "RatedSource", "RATE 2000"),
            ("s", "Suppressor", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .start();
        assert!(wait_until(|| !collected(sink).is_empty()));
        running.write_handler("s", "active0", "false").unwrap();
        // What passed before the write is out; from now on everything is dropped.
        collected(sink);
        assert!(wait_until(|| running.read_handler("s", "drops").unwrap().parse::<u64>().unwrap() >= 10));
        assert!(collected(sink).is_empty());
        running.write_handler("s", "reset", "").unwrap();
        assert!(wait_until(|| !collected(sink).is_empty()));
        running.stop();
        running.wait();
    }

    #[test]
    fn pull_ports_are_suppressed_too() {
        let (src, sink) = (new_id(), new_id());
        inject(src, (0..20u8).map(|i| Packet::from_slice(&[i])));
        let running = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "100"),
            ("s", "Suppressor", ""),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ]);
        let running = {
            let r = running.start();
            r.write_handler("s", "active0", "false").unwrap();
            r
        };
        // Packets that got through before the write may be out; the rest stay queued.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let before = collected(sink).len();
        let queued: usize = running.read_handler("q", "length").unwrap().parse().unwrap();
        assert_eq!(before + queued, 20);
        running.write_handler("s", "active0", "true").unwrap();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "0"));
        running.stop();
        running.wait();
    }

    #[test]
    fn suppressed_pushes_are_counted() {
        let mut e = Suppressor { suppressed: vec![true], drops: DropCounts::new(REASONS) };
        e.drops.count(0, 3);
        assert_eq!(e.read_handler("drops").unwrap(), "3");
        e.give_state(Box::new(vec![false, true]));
        assert_eq!(e.read_handler("active0").unwrap(), "true");
    }
}

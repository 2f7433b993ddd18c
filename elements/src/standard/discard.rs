//! `Discard`: drops all packets; in pull context it pulls them itself.

use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, State, TaskStatus, MAX_BATCH};

sluice::element_class! {
    /// Discard([KEYWORDS])
    ///
    /// Drops all packets.
    ///
    /// Discards all packets received on its single input. If used in a pull context,
    /// it runs as a task that pulls packets whenever the task is scheduled and drops them
    /// (Click listens for Queue's activity notification; Sluice's scheduler simply runs
    /// the task again, and the task reports itself idle when nothing came).
    ///
    /// Ports: 1 input (agnostic), no outputs.
    ///
    /// # Keywords
    /// - `ACTIVE` — boolean. If false, Discard does not pull packets. Default true. Only
    ///   meaningful in pull context: `ACTIVE false` on a push input is an error, as in Click.
    /// - `BURST` — unsigned. Packets to pull per task run. Default 32 (Click's default is 1;
    ///   Sluice moves packets in batches, and a burst of 1 would make every batch a single
    ///   packet). 0 means no limit, which Sluice bounds to one batch (64 packets) per run
    ///   so that an endless upstream cannot monopolise the worker. Only meaningful in pull
    ///   context.
    ///
    /// # Handlers
    /// - `count` (read) — packets discarded.
    /// - `reset_counts` (write) — resets `count` to 0.
    /// - `active` (read/write) — the ACTIVE parameter (Click has it only in pull context;
    ///   here it always exists, and writing it in push context has no effect).
    ///
    /// # Example
    /// ```text
    /// InfiniteSource -> Queue -> Discard(BURST 64);
    /// ```
    pub const DISCARD = "Discard" { ports: "1/0", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets discarded"),
    HandlerSpec::write("reset_counts", "reset count to 0"),
    HandlerSpec::read_write("active", Combine::First, "whether Discard pulls packets (pull context)"),
];

/// Packets pulled per task run when BURST is not given.
pub const DEFAULT_BURST: usize = 32;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let burst = args.read_kw::<u32>("BURST")?.map_or(DEFAULT_BURST, |b| b as usize);
    args.finish()?;
    Ok(Box::new(Discard { count: 0, burst: if burst == 0 { MAX_BATCH } else { burst }, active, pull_mode: false }))
}

/// The element: a counter, and the pull-side settings.
pub struct Discard {
    count: u64,
    /// Packets per task run (never 0).
    burst: usize,
    active: bool,
    pull_mode: bool,
}

/// What a Discard hands to a Discard replacing it: its count.
struct DiscardState(u64);

impl Element for Discard {
    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(DiscardState(self.count)))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(s) = state.downcast::<DiscardState>() {
            self.count = s.0;
        }
    }

    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.pull_mode = ctx.input_pull.first().copied().unwrap_or(false);
        if self.pull_mode {
            ctx.schedule_task();
        } else if !self.active {
            return Err("ACTIVE is meaningless in push context".into());
        }
        Ok(())
    }

    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        self.count += batch.len() as u64;
        drop(batch);
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if !self.active {
            return TaskStatus::Idle;
        }
        let mut left = self.burst;
        let mut got = 0;
        while left > 0 {
            let b = ctx.pull(0, left.min(MAX_BATCH));
            if b.is_empty() {
                break;
            }
            got += b.len();
            left = left.saturating_sub(b.len());
        }
        self.count += got as u64;
        if got > 0 {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(self.count.to_string()),
            "active" => Some(self.active.to_string()),
            _ => None,
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "reset_counts" => {
                self.count = 0;
                Ok(())
            }
            "active" => {
                self.active = bool::from_arg(value.trim()).map_err(|e| format!("active: {e}"))?;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, inject, new_id, run_element};
    use sluice::Packet;

    fn packets(n: usize) -> Vec<Packet> {
        (0..n).map(|i| Packet::from_slice(&[i as u8; 40])).collect()
    }

    #[test]
    fn push_drops_and_counts() {
        let (out, mut router) = run_element(&DISCARD, "", 0, packets(130)).unwrap();
        assert!(out.is_empty());
        assert_eq!(router.read_handler("e", "count").unwrap(), "130");
        router.write_handler("e", "reset_counts", "").unwrap();
        assert_eq!(router.read_handler("e", "count").unwrap(), "0");
    }

    #[test]
    fn pull_mode_pulls_everything_from_a_queue() {
        let id = new_id();
        inject(id, packets(500));
        let router = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {id}")),
            ("q", "Queue", ""),
            ("d", "Discard", "BURST 7"),
        ])
        .run();
        assert_eq!(router.read_handler("d", "count").unwrap(), "500");
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
    }

    #[test]
    fn pull_mode_inactive_pulls_nothing_until_activated() {
        let id = new_id();
        inject(id, packets(100));
        let running = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {id}")),
            ("q", "Queue", ""),
            ("d", "Discard", "ACTIVE false, BURST 0"),
        ])
        .start();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "100"));
        assert_eq!(running.read_handler("d", "count").unwrap(), "0");
        assert_eq!(running.read_handler("d", "active").unwrap(), "false");
        running.write_handler("d", "active", "true").unwrap();
        assert!(wait_until(|| running.read_handler("d", "count").unwrap() == "100"));
        assert!(running.write_handler("d", "active", "maybe").is_err());
        running.stop();
        running.wait();
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&DISCARD, "", 1, 0).is_ok());
        assert!(build_elem(&DISCARD, "BURST 0, ACTIVE true", 1, 0).is_ok());
        let e = build_elem(&DISCARD, "BURST -1", 1, 0).err().unwrap();
        assert!(e.0.contains("BURST"), "{e}");
        let e = build_elem(&DISCARD, "ACTIVE perhaps", 1, 0).err().unwrap();
        assert!(e.0.contains("ACTIVE"), "{e}");
        let e = build_elem(&DISCARD, "5", 1, 0).err().unwrap();
        assert!(e.0.contains("too many arguments"), "{e}");
        // ACTIVE false in push context is refused when the graph is initialized.
        let err = run_element(&DISCARD, "ACTIVE false", 0, Vec::new()).err().unwrap();
        assert!(err.to_string().contains("ACTIVE is meaningless in push context"), "{err}");
    }
}

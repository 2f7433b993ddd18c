//! `Unqueue`: pull-to-push converter; a task that pulls packets and pushes them on.

use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};

sluice::element_class! {
    /// Unqueue([BURST, KEYWORDS])
    ///
    /// Pull-to-push converter.
    ///
    /// Pulls packets whenever they are available, then pushes them out its single
    /// output. Pulls a maximum of BURST packets every time it is scheduled. If BURST is
    /// less than 0, Click pulls until nothing comes back; Sluice pulls at most one batch
    /// (64 packets) per run then, so an endless upstream cannot monopolise the worker.
    /// Packets are moved in batches of up to 64.
    ///
    /// Default BURST is 32, as in FastClick (Click's is 1: with Sluice's batches, a burst
    /// of 1 would turn every batch into a single packet). The keyword means the same in
    /// both: packets per scheduling.
    ///
    /// The task reports itself busy when it moved packets and idle otherwise (nothing
    /// upstream, inactive, or LIMIT reached), so `reset` or `active` can restart it.
    ///
    /// Ports: 1 input (pull), 1 output (push).
    ///
    /// # Keywords
    /// - `BURST` — integer, positional. Most packets pulled per scheduling; negative
    ///   means one full batch. Default 32. 0 pulls nothing.
    /// - `ACTIVE` — boolean. If false, does nothing (doesn't pull packets). Default true.
    /// - `LIMIT` — integer. If not negative, at most LIMIT packets are pulled in total
    ///   (until `reset`). Default -1: no limit.
    ///
    /// # Handlers
    /// - `count` (read) — packets that have passed through Unqueue.
    /// - `reset` (write) — resets the count to 0, which allows LIMIT more packets.
    /// - `reset_counts` (write) — same as `reset`.
    /// - `active` (read/write) — same as the ACTIVE keyword.
    /// - `burst` (read/write) — same as the BURST keyword.
    /// - `limit` (read/write) — same as the LIMIT keyword.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Queue -> Unqueue(BURST 64) -> Counter -> Discard;
    /// ```
    pub const UNQUEUE = "Unqueue" { ports: "1/1", processing: "l/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets moved since the last reset"),
    HandlerSpec::write("reset", "reset count to 0"),
    HandlerSpec::write("reset_counts", "same as reset"),
    HandlerSpec::read_write("active", Combine::First, "whether Unqueue pulls packets"),
    HandlerSpec::read_write("burst", Combine::First, "most packets pulled per scheduling"),
    HandlerSpec::read_write("limit", Combine::First, "most packets pulled in total (-1: no limit)"),
];

/// Packets pulled per scheduling when BURST is not given.
pub const DEFAULT_BURST: i32 = 32;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let burst = args.read_p::<i32>("BURST")?.unwrap_or(DEFAULT_BURST);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let limit = args.read_kw::<i64>("LIMIT")?.unwrap_or(-1);
    args.finish()?;
    Ok(Box::new(Unqueue { burst, active, limit, count: 0 }))
}

/// The element: settings as configured (Click's values), and the packet count.
pub struct Unqueue {
    burst: i32,
    active: bool,
    limit: i64,
    count: u64,
}

impl Unqueue {
    /// Packets this run may move.
    fn allowance(&self) -> usize {
        let burst = if self.burst < 0 { MAX_BATCH } else { self.burst as usize };
        if self.limit < 0 {
            burst
        } else {
            let left = (self.limit as u64).saturating_sub(self.count);
            burst.min(usize::try_from(left).unwrap_or(usize::MAX))
        }
    }
}

fn parse<T: FromArg>(handler: &str, value: &str) -> Result<T, String> {
    T::from_arg(value.trim()).map_err(|e| format!("{handler}: {e}"))
}

impl Element for Unqueue {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if !self.active {
            return TaskStatus::Idle;
        }
        let want = self.allowance();
        let mut moved = 0;
        while moved < want {
            let b: Batch = ctx.pull(0, (want - moved).min(MAX_BATCH));
            if b.is_empty() {
                break;
            }
            moved += b.len();
            ctx.push(0, b);
        }
        self.count += moved as u64;
        if moved > 0 {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "count" => self.count.to_string(),
            "active" => self.active.to_string(),
            "burst" => self.burst.to_string(),
            "limit" => self.limit.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "reset" | "reset_counts" => self.count = 0,
            "active" => self.active = parse(name, value)?,
            "burst" => self.burst = parse(name, value)?,
            "limit" => self.limit = parse(name, value)?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, collected, inject, new_id};
    use sluice::Packet;

    fn packets(n: u32) -> Vec<Packet> {
        (0..n).map(|i| Packet::from_slice(&i.to_be_bytes())).collect()
    }

    fn ids(ps: &[Packet]) -> Vec<u32> {
        ps.iter().map(|p| u32::from_be_bytes(p.data().try_into().unwrap())).collect()
    }

    fn line(n: u32, config: &str) -> (TestGraph, u64) {
        let (src, sink) = (new_id(), new_id());
        inject(src, packets(n));
        let t = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "10000"),
            ("u", "Unqueue", config),
            ("out", "Collect", &format!("ID {sink}")),
        ]);
        (t, sink)
    }

    #[test]
    fn moves_everything_in_order() {
        for config in ["", "1", "BURST 7", "-1", "200"] {
            let (t, sink) = line(777, config);
            let router = t.run();
            assert_eq!(ids(&collected(sink)), (0..777).collect::<Vec<_>>(), "BURST '{config}'");
            assert_eq!(router.read_handler("u", "count").unwrap(), "777");
        }
    }

    #[test]
    fn limit_stops_pulling_and_reset_allows_more() {
        let (t, sink) = line(100, "LIMIT 30");
        let running = t.start();
        let mut got = Vec::new();
        assert!(wait_until(|| {
            got.extend(collected(sink));
            got.len() >= 30
        }));
        std::thread::sleep(std::time::Duration::from_millis(20));
        got.extend(collected(sink));
        assert_eq!(ids(&got), (0..30).collect::<Vec<_>>());
        assert_eq!(running.read_handler("u", "count").unwrap(), "30");
        assert_eq!(running.read_handler("q", "length").unwrap(), "70");
        running.write_handler("u", "reset", "").unwrap();
        assert!(wait_until(|| running.read_handler("u", "count").unwrap() == "30"
            && running.read_handler("q", "length").unwrap() == "40"));
        running.write_handler("u", "limit", "-1").unwrap();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "0"));
        running.stop();
        running.wait();
        got.extend(collected(sink));
        assert_eq!(ids(&got), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn inactive_until_activated() {
        let (t, sink) = line(50, "ACTIVE false");
        let running = t.start();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "50"));
        assert_eq!(running.read_handler("u", "count").unwrap(), "0");
        assert_eq!(running.read_handler("u", "active").unwrap(), "false");
        running.write_handler("u", "active", "true").unwrap();
        assert!(wait_until(|| running.read_handler("u", "count").unwrap() == "50"));
        running.stop();
        running.wait();
        assert_eq!(collected(sink).len(), 50);
    }

    #[test]
    fn handlers_read_and_write() {
        let mut u = build_elem(&UNQUEUE, "5, LIMIT 9", 1, 1).unwrap();
        assert_eq!(u.read_handler("burst").unwrap(), "5");
        assert_eq!(u.read_handler("limit").unwrap(), "9");
        assert_eq!(u.read_handler("active").unwrap(), "true");
        assert_eq!(u.read_handler("count").unwrap(), "0");
        u.write_handler("burst", "-1").unwrap();
        assert_eq!(u.read_handler("burst").unwrap(), "-1");
        assert!(u.write_handler("burst", "lots").unwrap_err().starts_with("burst: "));
        assert!(u.write_handler("active", "sometimes").is_err());
        assert!(u.write_handler("limit", "1.5").is_err());
        assert!(u.write_handler("count", "1").is_err());
        u.write_handler("reset_counts", "").unwrap();
    }

    #[test]
    fn config_is_checked() {
        assert_eq!(build_elem(&UNQUEUE, "", 1, 1).unwrap().read_handler("burst").unwrap(), "32");
        assert!(build_elem(&UNQUEUE, "BURST 0", 1, 1).is_ok());
        let e = build_elem(&UNQUEUE, "ACTIVE nope", 1, 1).err().unwrap();
        assert!(e.0.starts_with("ACTIVE: "), "{e}");
        let e = build_elem(&UNQUEUE, "LIMIT ten", 1, 1).err().unwrap();
        assert!(e.0.starts_with("LIMIT: "), "{e}");
        let e = build_elem(&UNQUEUE, "1, 2", 1, 1).err().unwrap();
        assert!(e.0.contains("too many arguments"), "{e}");
        let e = build_elem(&UNQUEUE, "BRUST 3", 1, 1).err().unwrap();
        assert!(e.0.contains("did you mean 'BURST'"), "{e}");
    }
}

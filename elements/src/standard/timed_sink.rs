//! `TimedSink`: pulls and drops one packet every INTERVAL.

use super::values;
use sluice::args::{Args, FromArg};
use sluice::{BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};
use std::time::{Duration, Instant};

sluice::element_class! {
    /// TimedSink([INTERVAL])
    ///
    /// Periodically pulls and drops a packet.
    ///
    /// Pulls one packet every INTERVAL seconds from its input. Discards the packet.
    /// Default INTERVAL is 500 milliseconds.
    ///
    /// As Click's timer does, the first pull comes one INTERVAL after the router starts,
    /// and the following ones on a fixed grid of INTERVALs: a late run catches up (at most
    /// 64 pulls per run). A pull that finds no packet still uses its turn. Between pulls the
    /// task reports itself idle; it never sleeps on the worker.
    ///
    /// Ports: 1 input (pull), no outputs.
    ///
    /// # Keywords
    /// - `INTERVAL` — time, positional. Time between pulls. Default 500ms.
    ///
    /// # Handlers
    /// - `interval` (read/write) — the INTERVAL parameter. Writing a zero or malformed
    ///   interval fails with `bad interval`, as in Click. The new interval applies from
    ///   the next pull on.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> q :: Queue(100) -> TimedSink(10ms);
    /// ```
    pub const TIMED_SINK = "TimedSink" { ports: "1/0", processing: "l/l", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("interval", Combine::First, "time between pulls")];

/// INTERVAL when not given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let interval = args.read_p::<Duration>("INTERVAL")?.unwrap_or(DEFAULT_INTERVAL);
    args.finish()?;
    Ok(Box::new(TimedSink { interval, next: None }))
}

/// The element: the interval and when the next pull is due.
pub struct TimedSink {
    interval: Duration,
    /// When the next pull is due; `None` until the task first runs.
    next: Option<Instant>,
}

impl Element for TimedSink {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let now = Instant::now();
        let mut due = *self.next.get_or_insert(now + self.interval);
        if now < due {
            return TaskStatus::Idle;
        }
        let mut pulls = 0;
        while now >= due && pulls < MAX_BATCH {
            // One packet per expiry, dropped at once.
            drop(ctx.pull(0, 1));
            pulls += 1;
            due += self.interval;
            if self.interval.is_zero() {
                break;
            }
        }
        self.next = Some(due);
        TaskStatus::Busy
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "interval").then(|| values::interval(self.interval))
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "interval" => match Duration::from_arg(value.trim()) {
                Ok(d) if !d.is_zero() => {
                    self.interval = d;
                    Ok(())
                }
                _ => Err("bad interval".to_string()),
            },
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, inject, new_id};
    use sluice::Packet;

    #[test]
    fn pulls_one_packet_per_interval() {
        let src = new_id();
        inject(src, (0..100u8).map(|i| Packet::from_slice(&[i])));
        let t0 = Instant::now();
        let running = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "1000"),
            ("s", "TimedSink", "20ms"),
        ])
        .start();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "95"));
        let took = t0.elapsed();
        // Five pulls take five intervals (100 ms); two more intervals must not have passed.
        assert!(took >= Duration::from_millis(95), "{took:?}");
        std::thread::sleep(Duration::from_millis(5));
        let len: u32 = running.read_handler("q", "length").unwrap().parse().unwrap();
        assert!(len >= 94, "{len}");
        assert_eq!(running.read_handler("s", "interval").unwrap(), "20ms");
        running.write_handler("s", "interval", "1ms").unwrap();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "0"));
        running.stop();
        running.wait();
    }

    #[test]
    fn handlers_and_config() {
        let mut s = build_elem(&TIMED_SINK, "", 1, 0).unwrap();
        assert_eq!(s.read_handler("interval").unwrap(), "500ms");
        s.write_handler("interval", "1.5").unwrap();
        assert_eq!(s.read_handler("interval").unwrap(), "1.500000s");
        assert_eq!(s.write_handler("interval", "0").unwrap_err(), "bad interval");
        assert_eq!(s.write_handler("interval", "soon").unwrap_err(), "bad interval");
        let s = build_elem(&TIMED_SINK, "INTERVAL 250us", 1, 0).unwrap();
        assert_eq!(s.read_handler("interval").unwrap(), "250us");
        assert!(build_elem(&TIMED_SINK, "later", 1, 0).is_err());
        assert!(build_elem(&TIMED_SINK, "1, 2", 1, 0).is_err());
    }
}

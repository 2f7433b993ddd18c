//! `TimedUnqueue` and `Burster`: pull up to BURST packets every INTERVAL.

use super::rate_control::{millis_rounded, now_jiffies};
use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};
use std::time::Duration;

sluice::element_class! {
    /// TimedUnqueue(INTERVAL [, BURST])
    ///
    /// Pull-to-push converter.
    ///
    /// Pulls at most BURST packets per INTERVAL (seconds) from its input, pushing them out
    /// its single output. Default BURST is 1.
    ///
    /// If BURST is 1, and packets arrive upstream at a rate of less than 1 packet per
    /// INTERVAL, then in steady state TimedUnqueue will impose relatively little delay on
    /// the packet stream. In other situations, TimedUnqueue may impose an average delay of
    /// INTERVAL/2 seconds per packet, even for low input rates. This is because it checks
    /// for packets at most once every INTERVAL seconds. There is usually a Queue upstream
    /// of each TimedUnqueue element.
    ///
    /// As in Click: INTERVAL has millisecond precision; a run that pulls at least one
    /// packet starts the timer, and further runs wait for it; the next expiry is one
    /// INTERVAL after the previous one (a late run does not shift the grid); a run that
    /// finds nothing upstream stops the timer, so the next packet is pulled as soon as it
    /// arrives. While the timer runs the task reports `Waiting` (the router neither ends
    /// nor finishes draining), never sleeping on the worker; the timer is checked each
    /// time the scheduler runs the task (an idle worker naps at most 640 µs).
    ///
    /// Ports: 1 input (pull), 1 output (push).
    ///
    /// # Keywords
    /// - `INTERVAL` — time, mandatory, positional (millisecond precision).
    /// - `BURST` — integer, positional. Most packets pulled per INTERVAL; must be
    ///   positive. Default 1.
    ///
    /// # Handlers
    /// None besides the generic ones (as in Click).
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Queue -> TimedUnqueue(10ms, 4) -> ToDevice(eth1);
    /// ```
    pub const TIMED_UNQUEUE = "TimedUnqueue" { ports: "1/1", processing: "l/h", handlers: HANDLERS, build: build }
}

sluice::element_class! {
    /// Burster(INTERVAL [, BURST])
    ///
    /// Pull-to-push converter.
    ///
    /// Burster is a variant of TimedUnqueue with a default BURST of 8, rather than 1: it
    /// pulls at most BURST packets per INTERVAL from its input and pushes them out its
    /// single output. Everything else is as in TimedUnqueue.
    ///
    /// Ports: 1 input (pull), 1 output (push).
    ///
    /// # Keywords
    /// - `INTERVAL` — time, mandatory, positional (millisecond precision).
    /// - `BURST` — integer, positional. Most packets pulled per INTERVAL; must be
    ///   positive. Default 8.
    ///
    /// # Handlers
    /// None besides the generic ones (as in Click).
    ///
    /// # Example
    /// ```text
    /// src -> Queue -> Burster(100ms) -> dst;   // 8 packets every 100 ms
    /// ```
    pub const BURSTER = "Burster" { ports: "1/1", processing: "l/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let default_burst = if ctx.class == BURSTER.name { 8 } else { 1 };
    let mut args = Args::new(config);
    let interval = args.read_mp::<Duration>("INTERVAL")?;
    let burst = args.read_p::<i32>("BURST")?.unwrap_or(default_burst);
    args.finish()?;
    if burst <= 0 {
        return Err("bad BURST".into());
    }
    Ok(Box::new(TimedUnqueue { interval_ms: u64::from(millis_rounded(interval)), burst: burst as usize, expiry: None }))
}

/// The element: interval, burst, and the timer's expiry (jiffies) while it runs.
pub struct TimedUnqueue {
    interval_ms: u64,
    burst: usize,
    expiry: Option<u64>,
}

impl TimedUnqueue {
    /// One task run at jiffy `now`; `pull` gets up to n packets. Returns the packets pulled
    /// (in order, in batches) and the status.
    fn run(&mut self, now: u64, mut pull: impl FnMut(usize) -> Batch) -> (Vec<Batch>, TaskStatus) {
        if self.expiry.is_some_and(|e| now < e) {
            return (Vec::new(), TaskStatus::Waiting);
        }
        let mut out = Vec::new();
        let mut got = 0;
        while got < self.burst {
            let b = pull((self.burst - got).min(MAX_BATCH));
            if b.is_empty() {
                break;
            }
            got += b.len();
            out.push(b);
        }
        if got == 0 {
            // Click clears the timer and waits for the upstream queue to fill.
            self.expiry = None;
            return (out, TaskStatus::Idle);
        }
        self.expiry = Some(match self.expiry {
            Some(e) => e + self.interval_ms,
            None => now + self.interval_ms,
        });
        (out, TaskStatus::Busy)
    }
}

impl Element for TimedUnqueue {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let (batches, status) = self.run(now_jiffies(), |n| ctx.pull(0, n));
        for b in batches {
            ctx.push(0, b);
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, inject, new_id};
    use sluice::Packet;
    use std::time::Instant;

    fn supply(n: usize) -> impl FnMut(usize) -> Batch {
        let mut left = n;
        move |want| {
            let mut b = Batch::new();
            while b.len() < want && left > 0 {
                let _ = b.push(Packet::from_slice(&[0]));
                left -= 1;
            }
            b
        }
    }

    fn timed(interval_ms: u64, burst: usize) -> TimedUnqueue {
        TimedUnqueue { interval_ms, burst, expiry: None }
    }

    #[test]
    fn burst_per_interval_on_a_fixed_grid() {
        let mut t = timed(10, 3);
        let mut pull = supply(1000);
        let mut sent = Vec::new();
        for now in 0..100u64 {
            let (bs, _) = t.run(now, &mut pull);
            sent.push(bs.iter().map(Batch::len).sum::<usize>());
        }
        // 3 packets at 0, 10, 20, ... 90; nothing in between.
        for (now, n) in sent.iter().enumerate() {
            assert_eq!(*n, if now % 10 == 0 { 3 } else { 0 }, "at {now}");
        }
        // A late run does not shift the grid: expiry 100, run at 107, next at 110.
        let (bs, _) = t.run(107, &mut pull);
        assert_eq!(bs.iter().map(Batch::len).sum::<usize>(), 3);
        assert_eq!(t.run(109, &mut pull).1, TaskStatus::Waiting);
        assert_eq!(t.run(110, &mut pull).1, TaskStatus::Busy);
    }

    #[test]
    fn an_empty_upstream_stops_the_timer() {
        let mut t = timed(50, 1);
        assert_eq!(t.run(0, supply(1)).1, TaskStatus::Busy);
        assert_eq!(t.run(10, supply(1)).1, TaskStatus::Waiting);
        assert_eq!(t.run(50, supply(0)).1, TaskStatus::Idle);
        // The next packet goes as soon as it is there, and restarts the timer from then.
        assert_eq!(t.run(77, supply(1)).1, TaskStatus::Busy);
        assert_eq!(t.run(126, supply(1)).1, TaskStatus::Waiting);
        assert_eq!(t.run(127, supply(1)).1, TaskStatus::Busy);
    }

    #[test]
    fn large_bursts_go_in_batches() {
        let mut t = timed(1000, 150);
        let (bs, st) = t.run(0, supply(500));
        assert_eq!(st, TaskStatus::Busy);
        assert_eq!(bs.iter().map(Batch::len).collect::<Vec<_>>(), vec![64, 64, 22]);
    }

    #[test]
    fn burster_in_a_graph() {
        // 20 packets, Burster(30ms): 8 at once, 8 after 30 ms, 4 after 60 ms. The router
        // waits for the timer instead of ending with packets queued.
        let (src, sink) = (new_id(), new_id());
        inject(src, (0..20u8).map(|i| Packet::from_slice(&[i])));
        let t0 = Instant::now();
        let router = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "100"),
            ("b", "Burster", "30ms"),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        let got = collected(sink);
        assert_eq!(got.iter().map(|p| p.data()[0]).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
        assert!(t0.elapsed() >= Duration::from_millis(55), "{:?}", t0.elapsed());
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&TIMED_UNQUEUE, "10ms", 1, 1).is_ok());
        assert!(build_elem(&TIMED_UNQUEUE, "INTERVAL 1, BURST 5", 1, 1).is_ok());
        assert!(build_elem(&TIMED_UNQUEUE, "", 1, 1).is_err());
        assert_eq!(build_elem(&TIMED_UNQUEUE, "10ms, 0", 1, 1).err().unwrap().0, "bad BURST");
        assert_eq!(build_elem(&BURSTER, "10ms, -2", 1, 1).err().unwrap().0, "bad BURST");
        assert!(build_elem(&BURSTER, "soon", 1, 1).is_err());
        assert!(build_elem(&BURSTER, "1, 2, 3", 1, 1).is_err());
    }
}

//! `RatedUnqueue` and `BandwidthRatedUnqueue`: pull-to-push converters limited by a token
//! bucket.

use super::rate_control::{millis_rounded, now_jiffies, parse_bandwidth, unparse_bandwidth, TokenBucket};
use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};
use std::time::Duration;

sluice::element_class! {
    /// RatedUnqueue(RATE [, KEYWORDS])
    ///
    /// Pull-to-push converter.
    ///
    /// Pulls packets at the given RATE in packets per second, and pushes them out its
    /// single output. It is implemented with a token bucket. The capacity of this token
    /// bucket defaults to 20 milliseconds worth of tokens, but can be customized by setting
    /// BURST_DURATION or BURST_SIZE.
    ///
    /// The bucket is Click's `TokenBucket`, in its arithmetic: 32-bit fractional tokens
    /// refilled once per jiffy (1 ms); it starts full; each packet takes one token; a
    /// capacity below one jiffy's worth of tokens is raised to it; RATE 0 sends the first
    /// bucketful and then nothing. Click moves one packet per task run and sets a timer
    /// when the bucket is empty; Sluice moves, per run, every packet the bucket allows (up
    /// to 64), which is what Click moves over as many runs in the same jiffy. While the
    /// bucket is empty the task reports `Waiting` (time-dependent work: the router neither
    /// ends nor finishes draining), never sleeping on the worker; a pull that finds nothing
    /// upstream makes it `Idle`.
    ///
    /// Ports: 1 input (pull), 1 output (push).
    ///
    /// # Keywords
    /// - `RATE` — unsigned, mandatory, positional. Token bucket fill rate in packets per
    ///   second.
    /// - `BURST_DURATION` — time (millisecond precision). If specified, the capacity of the
    ///   token bucket is RATE * BURST_DURATION. Default 20ms.
    /// - `BURST_SIZE` — unsigned. If specified, the capacity of the token bucket. Only one
    ///   of BURST_DURATION and BURST_SIZE may be given.
    ///
    /// # Handlers
    /// - `rate` (read/write) — the rate, as Click's `TokenBucket::rate` computes it back
    ///   from the tick rate; its rounding adds up to 1/2000 (RATE 20000 with BURST_SIZE 50
    ///   reads `20010`, as in Click). Writing reconfigures RATE, keeping the burst setting
    ///   and the bucket's fullness fraction.
    /// - `active` (read/write) — if false, RatedUnqueue does nothing. Default true.
    /// - `calls` (read) — Click's statistics: task runs, empty runs, pushes, failed pulls.
    ///   Sluice counts a run that moves a batch as one run.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Queue -> RatedUnqueue(1000, BURST_SIZE 10) -> ToDevice(eth1);
    /// ```
    pub const RATED_UNQUEUE = "RatedUnqueue" { ports: "1/1", processing: "l/h", handlers: HANDLERS, build: build }
}

sluice::element_class! {
    /// BandwidthRatedUnqueue(RATE [, KEYWORDS])
    ///
    /// Pull-to-push converter.
    ///
    /// Pulls packets at the given RATE in bytes per second, and pushes them out its single
    /// output. It is implemented with a token bucket whose capacity defaults to 20
    /// milliseconds worth of tokens (bytes), customizable with BURST_DURATION or
    /// BURST_BYTES.
    ///
    /// As in Click, the capacity is raised by 131072 bytes, a packet is pulled whenever the
    /// bucket holds at least 131072 bytes' worth of tokens, and the packet's length is then
    /// removed (leaving the bucket empty if it held less). See RatedUnqueue for the bucket's
    /// arithmetic, batches and waiting.
    ///
    /// Ports: 1 input (pull), 1 output (push).
    ///
    /// # Keywords
    /// - `RATE` — bandwidth, mandatory, positional (`10Mbps`, `1MBps`; no unit: bytes per
    ///   second). Token bucket fill rate.
    /// - `BURST_DURATION` — time (millisecond precision). The capacity is RATE *
    ///   BURST_DURATION (plus 131072 bytes). Default 20ms.
    /// - `BURST_BYTES` — unsigned. The capacity in bytes (plus 131072). Only one of
    ///   BURST_DURATION and BURST_BYTES may be given.
    ///
    /// # Handlers
    /// - `rate` (read/write) — the rate in Click's form (`800kbps`, `10Mbps`), as the
    ///   bucket computes it back (up to 1/2000 high, as in Click: `100kBps` reads
    ///   `800.4kbps`).
    /// - `active` (read/write) — if false, does nothing. Default true.
    /// - `calls` (read) — task runs, empty runs, pushes, failed pulls.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Queue -> BandwidthRatedUnqueue(10Mbps) -> ToDevice(eth1);
    /// ```
    pub const BANDWIDTH_RATED_UNQUEUE = "BandwidthRatedUnqueue" { ports: "1/1", processing: "l/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("rate", Combine::First, "the token bucket's fill rate"),
    HandlerSpec::read_write("active", Combine::First, "whether packets are moved"),
    HandlerSpec::read("calls", Combine::First, "task runs, empty runs, pushes, failed pulls"),
];

/// Click's `RatedUnqueue::tb_bandwidth_thresh`: bytes of tokens needed to pull a packet.
pub const BANDWIDTH_THRESH: u32 = 131072;

/// How the capacity was configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Burst {
    DurationMs(u32),
    Size(u32),
}

/// Click's `RatedUnqueue::configure_helper`: the bucket's capacity for `rate`.
fn capacity(rate: u32, burst: Burst, bytes: bool) -> u32 {
    let mut tokens = match burst {
        Burst::Size(n) => n,
        Burst::DurationMs(ms) => u32::try_from(u64::from(rate) * u64::from(ms) / 1000).unwrap_or(u32::MAX),
    };
    if bytes {
        tokens = tokens.saturating_add(BANDWIDTH_THRESH);
    }
    tokens.max(1)
}

fn read_rate(bytes: bool, s: &str) -> Result<u32, String> {
    if bytes {
        parse_bandwidth(s).map(|(v, _)| v)
    } else {
        u32::from_arg(s)
    }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let bytes = ctx.class == BANDWIDTH_RATED_UNQUEUE.name;
    let mut args = Args::new(config);
    let rate = args.read_mp::<String>("RATE")?;
    let duration = args.read_kw::<Duration>("BURST_DURATION")?;
    let size = args.read_kw::<u32>(if bytes { "BURST_BYTES" } else { "BURST_SIZE" })?;
    args.finish()?;
    let rate = read_rate(bytes, rate.trim()).map_err(|e| ConfigError(format!("RATE: {e}")))?;
    let burst = match (duration, size) {
        (Some(_), Some(_)) => return Err("cannot specify both BURST_DURATION and BURST_SIZE".into()),
        (None, Some(n)) => Burst::Size(n),
        (Some(d), None) => Burst::DurationMs(millis_rounded(d)),
        (None, None) => Burst::DurationMs(20),
    };
    Ok(Box::new(RatedUnqueue::new(bytes, rate, burst)))
}

/// The element: the bucket, how its capacity is set, and Click's run statistics.
pub struct RatedUnqueue {
    bytes: bool,
    burst: Burst,
    bucket: TokenBucket,
    active: bool,
    runs: u64,
    empty_runs: u64,
    pushes: u64,
    failed_pulls: u64,
}

impl RatedUnqueue {
    fn new(bytes: bool, rate: u32, burst: Burst) -> Self {
        let mut bucket = TokenBucket::new();
        bucket.assign(rate, capacity(rate, burst, bytes));
        RatedUnqueue { bytes, burst, bucket, active: true, runs: 0, empty_runs: 0, pushes: 0, failed_pulls: 0 }
    }

    /// Tokens a pull needs: one packet, or the bandwidth threshold.
    fn threshold(&self) -> u32 {
        if self.bytes {
            BANDWIDTH_THRESH
        } else {
            1
        }
    }

    /// One task run at jiffy `now`: the packets to push, pulled one by one with
    /// `pull_one`, and the task's status.
    fn run(&mut self, now: u64, mut pull_one: impl FnMut() -> Option<sluice::Packet>) -> (Batch, TaskStatus) {
        self.runs += 1;
        let mut out = Batch::new();
        if !self.active {
            return (out, TaskStatus::Idle);
        }
        self.bucket.refill(now);
        let mut status = TaskStatus::Idle;
        while out.len() < MAX_BATCH {
            if !self.bucket.contains(self.threshold()) {
                status = TaskStatus::Waiting;
                break;
            }
            let Some(p) = pull_one() else {
                self.failed_pulls += 1;
                status = TaskStatus::Idle;
                break;
            };
            self.bucket.remove(if self.bytes { p.len() as u32 } else { 1 });
            self.pushes += 1;
            let _ = out.push(p);
        }
        if out.is_empty() {
            self.empty_runs += 1;
            (out, status)
        } else {
            (out, TaskStatus::Busy)
        }
    }
}

impl Element for RatedUnqueue {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let (out, status) = self.run(now_jiffies(), || ctx.pull(0, 1).pop());
        if !out.is_empty() {
            ctx.push(0, out);
        }
        status
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "rate" if self.bytes => unparse_bandwidth(self.bucket.rate()),
            "rate" => self.bucket.rate().to_string(),
            "active" => self.active.to_string(),
            "calls" => format!(
                "{} calls to run_task()\n{} empty runs\n{} pushes\n{} failed pulls",
                self.runs, self.empty_runs, self.pushes, self.failed_pulls
            ),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "rate" => {
                let rate = read_rate(self.bytes, value.trim()).map_err(|e| format!("RATE: {e}"))?;
                self.bucket.assign(rate, capacity(rate, self.burst, self.bytes));
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
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, inject, new_id};
    use sluice::Packet;
    use std::time::Instant;

    fn endless(len: usize) -> impl FnMut() -> Option<Packet> {
        move || Some(Packet::from_slice(&vec![7; len]))
    }

    #[test]
    fn bucket_full_at_start_then_rate_per_jiffy() {
        // RATE 1000, default burst 20 ms: 20 tokens at start, then one per jiffy.
        let mut u = RatedUnqueue::new(false, 1000, Burst::DurationMs(20));
        let (b, st) = u.run(100, endless(10));
        assert_eq!((b.len(), st), (20, TaskStatus::Busy));
        let (b, st) = u.run(100, endless(10));
        assert_eq!((b.len(), st), (0, TaskStatus::Waiting));
        let mut sent = 0;
        for j in 101..=1100 {
            sent += u.run(j, endless(10)).0.len();
        }
        assert_eq!(sent, 1000, "1000 jiffies at 1000/s");
        // Nothing upstream with tokens in the bucket: idle.
        let (b, st) = u.run(1200, || None);
        assert_eq!((b.len(), st), (0, TaskStatus::Idle));
        assert_eq!(
            u.read_handler("calls").unwrap(),
            "1003 calls to run_task()\n2 empty runs\n1020 pushes\n1 failed pulls"
        );
    }

    #[test]
    fn burst_size_and_low_rates() {
        let mut u = RatedUnqueue::new(false, 10, Burst::Size(3));
        assert_eq!(u.run(0, endless(1)).0.len(), 3);
        // 10/s: one token per 100 jiffies (a hair more in Click's fixed point: the tenth
        // token is complete just after jiffy 1000).
        let mut sent = 0;
        for j in 1..=1001 {
            sent += u.run(j, endless(1)).0.len();
        }
        assert_eq!(sent, 10);
        // RATE 0: the first bucketful, then nothing.
        let mut u = RatedUnqueue::new(false, 0, Burst::Size(5));
        assert_eq!(u.run(0, endless(1)).0.len(), 5);
        assert_eq!(u.run(100_000, endless(1)).0.len(), 0);
    }

    #[test]
    fn bandwidth_counts_bytes_with_clicks_threshold() {
        // 1 MB/s, 20 ms burst: 20000 + 131072 bytes of capacity. 1000-byte packets: the
        // first run sends until fewer than 131072 bytes of tokens are left: 21 packets.
        let mut u = RatedUnqueue::new(true, 1_000_000, Burst::DurationMs(20));
        let (b, _) = u.run(0, endless(1000));
        assert_eq!(b.len(), 21);
        let mut sent = 0;
        for j in 1..=1000 {
            sent += u.run(j, endless(1000)).0.len();
        }
        assert!((999..=1001).contains(&sent), "{sent}");
        // Click's TokenBucket::rate rounds with tokens_per_tick / 2 where it means
        // token_scale / 2: it reads 1/2000 high at this rate (1000500 B/s).
        assert_eq!(u.read_handler("rate").unwrap(), "8.004Mbps");
    }

    #[test]
    fn inactive_does_nothing() {
        let mut u = RatedUnqueue::new(false, 1000, Burst::DurationMs(20));
        u.write_handler("active", "false").unwrap();
        let (b, st) = u.run(0, endless(1));
        assert!(b.is_empty());
        assert_eq!(st, TaskStatus::Idle);
        assert_eq!(u.read_handler("active").unwrap(), "false");
        u.write_handler("active", "true").unwrap();
        assert_eq!(u.run(1, endless(1)).0.len(), 20);
    }

    #[test]
    fn rate_handler_reconfigures_keeping_the_burst() {
        let u = build_elem(&RATED_UNQUEUE, "20000, BURST_SIZE 50", 1, 1).unwrap();
        assert_eq!(u.read_handler("rate").unwrap(), "20010");
        let mut u = build_elem(&RATED_UNQUEUE, "1000, BURST_SIZE 10", 1, 1).unwrap();
        assert_eq!(u.read_handler("rate").unwrap(), "1000");
        u.write_handler("rate", "250").unwrap();
        assert_eq!(u.read_handler("rate").unwrap(), "250");
        assert!(u.write_handler("rate", "fast").unwrap_err().starts_with("RATE: "));
        assert!(u.write_handler("calls", "1").is_err());
        assert_eq!(capacity(1000, Burst::DurationMs(20), false), 20);
        assert_eq!(capacity(10, Burst::DurationMs(20), false), 1);
        assert_eq!(capacity(10, Burst::DurationMs(20), true), BANDWIDTH_THRESH);
        assert_eq!(capacity(u32::MAX, Burst::DurationMs(u32::MAX), true), u32::MAX);
    }

    #[test]
    fn moves_a_queue_at_the_rate_and_the_router_waits_for_it() {
        // 60 packets at 500/s with BURST_SIZE 10: 10 at once, 50 more take about 100 ms.
        // The router must not end while the bucket is refilling.
        let (src, sink) = (new_id(), new_id());
        inject(src, (0..60u8).map(|i| Packet::from_slice(&[i])));
        let t0 = Instant::now();
        let router = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "100"),
            ("u", "RatedUnqueue", "500, BURST_SIZE 10"),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        let took = t0.elapsed();
        let got = collected(sink);
        assert_eq!(got.iter().map(|p| p.data()[0]).collect::<Vec<_>>(), (0..60).collect::<Vec<_>>());
        assert!(took >= Duration::from_millis(90), "{took:?}");
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&RATED_UNQUEUE, "", 1, 1).is_err());
        assert!(build_elem(&RATED_UNQUEUE, "fast", 1, 1).err().unwrap().0.starts_with("RATE: "));
        let e = build_elem(&RATED_UNQUEUE, "100, BURST_DURATION 10ms, BURST_SIZE 3", 1, 1).err().unwrap();
        assert_eq!(e.0, "cannot specify both BURST_DURATION and BURST_SIZE");
        assert!(build_elem(&RATED_UNQUEUE, "100, BURST_BYTES 3", 1, 1).is_err());
        assert!(build_elem(&BANDWIDTH_RATED_UNQUEUE, "1Mbps, BURST_BYTES 3000", 1, 1).is_ok());
        assert!(build_elem(&BANDWIDTH_RATED_UNQUEUE, "1Mbps, BURST_SIZE 3", 1, 1).is_err());
        let b = build_elem(&BANDWIDTH_RATED_UNQUEUE, "RATE 100kBps", 1, 1).unwrap();
        assert_eq!(b.read_handler("rate").unwrap(), "800.4kbps");
    }
}

//! `RatedSplitter`: splits a flow of packets at a given rate.

use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};
use std::time::{Duration, Instant};

sluice::element_class! {
    /// RatedSplitter(RATE [, KEYWORDS])
    ///
    /// Splits flow of packets at specified rate.
    ///
    /// RatedSplitter has two output ports. All incoming packets up to a maximum of RATE
    /// packets per second are emitted on output port 0. Any remaining packets are emitted
    /// on output port 1 (dropped, and counted, when output 1 is not connected). Unlike
    /// Meter, RATE packets per second are emitted on output port 0 even when the input rate
    /// is greater than RATE.
    ///
    /// Like RatedUnqueue, RatedSplitter is implemented using a token bucket that defaults
    /// to a capacity of 20ms * RATE (rounded down, at least 1 token). The capacity can be
    /// changed with the BURST_DURATION and BURST_SIZE keywords. As in Click, the bucket
    /// starts full, each packet sent to output 0 takes one token, and a RATE of 0 means no
    /// limit (every packet goes to output 0). Click refills the bucket once per jiffy
    /// (1 ms); Sluice refills it continuously, which gives the same long-term rate.
    ///
    /// Ports: 1 input, 1 or 2 outputs, push.
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
    /// - `rate` (read/write) — the rate of splitting. Writing it reconfigures RATE, keeping
    ///   BURST_DURATION or BURST_SIZE; the bucket keeps the same fraction of its capacity.
    /// - `drops` (read) — packets over the rate dropped because output 1 is not connected
    ///   (Sluice only).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// rs :: RatedSplitter(2000);   // at most 2000 packets/s on output 0
    ///
    /// elementclass RatedSampler {
    ///     input -> rs :: RatedSplitter(2000);
    ///     rs[0] -> t :: Tee;
    ///     t[0] -> [0]output;
    ///     t[1] -> [1]output;
    ///     rs[1] -> [0]output;
    /// };
    /// ```
    pub const RATED_SPLITTER = "RatedSplitter" { ports: "1/1-2", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("rate", Combine::First, "packets per second sent to output 0"),
    HandlerSpec::read("drops", Combine::Sum, "packets over the rate dropped (no output 1)"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["over RATE (no output 1)"];

/// The bucket's capacity as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Burst {
    /// BURST_DURATION, in milliseconds (Click's `SecondsArg(3)`).
    DurationMs(u32),
    /// BURST_SIZE, in tokens.
    Size(u32),
}

impl Burst {
    /// Capacity in tokens for `rate` (Click's `configure_helper`: rate * ms / 1000,
    /// saturating, and at least 1).
    fn capacity(self, rate: u32) -> u32 {
        let tokens = match self {
            Burst::Size(n) => n,
            Burst::DurationMs(ms) => u32::try_from(u64::from(rate) * u64::from(ms) / 1000).unwrap_or(u32::MAX),
        };
        tokens.max(1)
    }
}

/// Click's token bucket: `rate` tokens per second up to `capacity`, starting full; a rate
/// of 0 is unlimited.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    rate: u32,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub(crate) fn new(rate: u32, capacity: u32) -> Self {
        TokenBucket { rate, capacity: f64::from(capacity), tokens: f64::from(capacity), last: None }
    }

    /// Change rate and capacity, keeping the fraction of the capacity that is full (Click's
    /// `TokenBucket::assign` keeps tokens as a fraction of the capacity).
    pub(crate) fn assign(&mut self, rate: u32, capacity: u32) {
        let fraction = if self.capacity > 0.0 { self.tokens / self.capacity } else { 1.0 };
        self.rate = rate;
        self.capacity = f64::from(capacity);
        self.tokens = fraction * self.capacity;
    }

    pub(crate) fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * f64::from(self.rate)).min(self.capacity);
        }
        self.last = Some(now);
    }

    /// Take one token if there is one.
    #[inline]
    pub(crate) fn remove_if_one(&mut self) -> bool {
        if self.rate == 0 {
            return true;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let rate = args.read_mp::<u32>("RATE")?;
    let duration = args.read_kw::<Duration>("BURST_DURATION")?;
    let size = args.read_kw::<u32>("BURST_SIZE")?;
    args.finish()?;
    let burst = match (duration, size) {
        (Some(_), Some(_)) => return Err("cannot specify both BURST_DURATION and BURST_SIZE".into()),
        (None, Some(n)) => Burst::Size(n),
        (Some(d), None) => Burst::DurationMs(u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
        (None, None) => Burst::DurationMs(20),
    };
    Ok(Box::new(RatedSplitter {
        rate,
        burst,
        bucket: TokenBucket::new(rate, burst.capacity(rate)),
        drops: DropCounts::new(REASONS),
    }))
}

/// The element: the rate, how the capacity is set, the bucket and the drop counter.
pub struct RatedSplitter {
    rate: u32,
    burst: Burst,
    bucket: TokenBucket,
    drops: DropCounts,
}

impl Element for RatedSplitter {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.bucket.refill(Instant::now());
        let mut outs = [Batch::new(), Batch::new()];
        let bucket = &mut self.bucket;
        batch.split_into(&mut outs, |_| usize::from(!bucket.remove_if_one()));
        let [under, over] = outs;
        if !over.is_empty() {
            if ctx.noutputs() > 1 {
                ctx.push(1, over);
            } else {
                self.drops.count(0, over.len() as u64);
            }
        }
        if !under.is_empty() {
            ctx.push(0, under);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "rate" => Some(self.rate.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "rate" => {
                self.rate = u32::from_arg(value.trim()).map_err(|e| format!("RATE: {e}"))?;
                self.bucket.assign(self.rate, self.burst.capacity(self.rate));
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
    use sluice::testing::{build as build_elem, collected, new_id, run_element};
    use sluice::Packet;

    fn packets(n: u32) -> Vec<Packet> {
        (0..n).map(|i| Packet::from_slice(&i.to_be_bytes())).collect()
    }

    fn ids(ps: &[Packet]) -> Vec<u32> {
        ps.iter().map(|p| u32::from_be_bytes(p.data().try_into().unwrap())).collect()
    }

    #[test]
    fn a_burst_passes_the_bucket_capacity_then_splits() {
        // RATE 1000, default 20 ms burst: the full bucket holds 20 tokens. 500 packets
        // arrive at once (far less than a millisecond): the first 20 go to output 0.
        let (out, router) = run_element(&RATED_SPLITTER, "1000", 2, packets(500)).unwrap();
        let (under, over) = (ids(&out[0]), ids(&out[1]));
        assert!((20..=22).contains(&under.len()), "{}", under.len());
        assert_eq!(under[..20], (0..20).collect::<Vec<_>>()[..]);
        assert_eq!(under.len() + over.len(), 500);
        assert_eq!(over[0], under.len() as u32);
        assert_eq!(router.read_handler("e", "rate").unwrap(), "1000");
        assert_eq!(router.read_handler("e", "drops").unwrap(), "0");
    }

    #[test]
    fn burst_size_and_no_output_1() {
        let (out, router) = run_element(&RATED_SPLITTER, "10, BURST_SIZE 3", 1, packets(100)).unwrap();
        assert_eq!(ids(&out[0]), vec![0, 1, 2]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "97");
        // A capacity below one token is one token.
        let (out, _) = run_element(&RATED_SPLITTER, "10, BURST_DURATION 1ms", 2, packets(5)).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (1, 4));
    }

    #[test]
    fn rate_zero_is_unlimited() {
        let (out, _) = run_element(&RATED_SPLITTER, "0", 2, packets(300)).unwrap();
        assert_eq!(ids(&out[0]), (0..300).collect::<Vec<_>>());
        assert!(out[1].is_empty());
    }

    #[test]
    fn the_rate_holds_over_time() {
        // 200 packets at 1000/s (about 200 ms) into RatedSplitter(250, BURST_SIZE 1): one
        // token at the start, then 250/s, so about 51 go to output 0.
        let (a, b) = (new_id(), new_id());
        let mut t = TestGraph::new();
        let s = t.add("src", "RatedSource", "RATE 1000, LIMIT 200, STOP true");
        let rs = t.add("rs", "RatedSplitter", "250, BURST_SIZE 1");
        let oa = t.add("a", "Collect", &format!("ID {a}"));
        let ob = t.add("b", "Collect", &format!("ID {b}"));
        t.connect(s, 0, rs, 0).connect(rs, 0, oa, 0).connect(rs, 1, ob, 0);
        let t0 = Instant::now();
        t.run();
        let took = t0.elapsed().as_secs_f64();
        let (under, over) = (collected(a).len(), collected(b).len());
        assert_eq!(under + over, 200);
        let want = 1.0 + 250.0 * took;
        assert!((under as f64) <= want + 2.0 && (under as f64) >= 35.0, "{under} in {took} s");
    }

    #[test]
    fn token_bucket_follows_click() {
        let t = Instant::now();
        let mut b = TokenBucket::new(100, 2);
        b.refill(t);
        assert!(b.remove_if_one() && b.remove_if_one() && !b.remove_if_one(), "starts full");
        b.refill(t + Duration::from_millis(5));
        assert!(!b.remove_if_one());
        b.refill(t + Duration::from_millis(10));
        assert!(b.remove_if_one());
        b.refill(t + Duration::from_secs(10));
        assert!(b.remove_if_one() && b.remove_if_one() && !b.remove_if_one(), "capacity caps");
        // Reassigning keeps the fraction: full stays full.
        b.refill(t + Duration::from_secs(20));
        b.assign(1000, 20);
        assert!((0..20).all(|_| b.remove_if_one()) && !b.remove_if_one());
    }

    #[test]
    fn rate_handler_reconfigures() {
        let mut e = build_elem(&RATED_SPLITTER, "RATE 500", 1, 2).unwrap();
        assert_eq!(e.read_handler("rate").unwrap(), "500");
        e.write_handler("rate", "2000").unwrap();
        assert_eq!(e.read_handler("rate").unwrap(), "2000");
        assert!(e.write_handler("rate", "-1").unwrap_err().starts_with("RATE: "));
        assert!(e.write_handler("drops", "1").is_err());
        assert_eq!(Burst::DurationMs(20).capacity(2000), 40);
        assert_eq!(Burst::DurationMs(20).capacity(10), 1);
        assert_eq!(Burst::DurationMs(u32::MAX).capacity(u32::MAX), u32::MAX);
        assert_eq!(Burst::Size(0).capacity(10), 1);
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&RATED_SPLITTER, "", 1, 2).is_err());
        assert!(build_elem(&RATED_SPLITTER, "fast", 1, 2).is_err());
        assert!(build_elem(&RATED_SPLITTER, "100, BURST_DURATION 50ms", 1, 2).is_ok());
        let e = build_elem(&RATED_SPLITTER, "100, BURST_DURATION 50ms, BURST_SIZE 4", 1, 2).err().unwrap();
        assert_eq!(e.0, "cannot specify both BURST_DURATION and BURST_SIZE");
        assert!(build_elem(&RATED_SPLITTER, "100, 5", 1, 2).is_err());
    }
}

//! `RatedSource`: generates packets at a given rate.

use super::infinite_source::{
    check_length, make_batch, now_ns, packet_contents, read_length, unparse_data, DEFAULT_DATA,
};
use sluice::args::{Args, Bytes, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};
use std::time::Instant;

sluice::element_class! {
    /// RatedSource([DATA, RATE, LIMIT, ACTIVE, KEYWORDS])
    ///
    /// Generates packets at specified rate.
    ///
    /// Creates packets consisting of DATA, emitting at most LIMIT such packets out its
    /// single output at a rate of RATE packets per second. If LIMIT is negative, sends
    /// packets forever. Will send packets only if ACTIVE is true. Default DATA is Click's
    /// 69-byte default string (see InfiniteSource). Default RATE is 10. Default LIMIT is
    /// -1 (send packets forever). Default ACTIVE is true. Packets get the current time
    /// as timestamp annotation.
    ///
    /// The rate is kept by a token bucket, as in Click: RATE tokens per second accumulate
    /// (measured with a monotonic clock) up to a capacity of 2 tokens, or RATE/100 tokens
    /// when RATE is 200 or more; the bucket starts with one token, and each packet takes
    /// one. Click sends at most one packet per scheduling; Sluice sends all the packets
    /// the bucket allows (up to 64) in one batch, which gives the same average rate and
    /// lets high rates be reached. Between packets the task reports itself idle. In pull
    /// context, each pull gets the packets the bucket allows.
    ///
    /// In push mode, once LIMIT packets are out the task is finished for good: writing
    /// `reset`, `limit` or `active` afterwards changes the handlers' values but sends no
    /// more packets (in Click it reschedules the task).
    ///
    /// Ports: no inputs, 1 output (agnostic).
    ///
    /// # Keywords
    /// - `DATA` — string, positional. The packet contents.
    /// - `RATE` — unsigned, positional. Packets per second. Default 10.
    /// - `LIMIT` — integer, positional. Total packets to send; negative means no limit.
    ///   Default -1.
    /// - `ACTIVE` — boolean, positional. Whether to send packets. Default true.
    /// - `LENGTH` — integer. If set (not negative), packets have exactly this length:
    ///   DATA is cut, or repeated to fill. `DATASIZE` is its deprecated name.
    /// - `BANDWIDTH` — bandwidth, e.g. `10Mbps`, `1.5MBps`, `800kbps` (no unit: bytes
    ///   per second). Sets RATE to BANDWIDTH divided by the packet length.
    /// - `STOP` — boolean. If true, stop the router once LIMIT packets are sent.
    ///   Default false.
    ///
    /// # Handlers
    /// - `count` (read) — packets generated so far.
    /// - `reset` (write) — resets `count` to 0 and the bucket to one token.
    /// - `data` (read/write) — the DATA parameter (see InfiniteSource for the notation).
    /// - `length` (read/write) — the LENGTH parameter (-1: DATA's own length).
    /// - `rate` (read/write) — the RATE parameter.
    /// - `limit` (read/write) — the LIMIT parameter; negative means no limit.
    /// - `active` (read/write) — makes the element active or inactive.
    ///
    /// # Example
    /// ```text
    /// RatedSource(\<0800>, 10, 1000) -> Queue -> ...
    /// RatedSource(LENGTH 1500, BANDWIDTH 100Mbps) -> Counter -> Discard;
    /// ```
    pub const RATED_SOURCE = "RatedSource" { ports: "0/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets generated so far"),
    HandlerSpec::write("reset", "reset count to 0"),
    HandlerSpec::read_write("data", Combine::First, "the packet data"),
    HandlerSpec::read_write("length", Combine::First, "the packet length (-1: length of DATA)"),
    HandlerSpec::read_write("rate", Combine::First, "packets per second"),
    HandlerSpec::read_write("limit", Combine::First, "total packets to send (-1: no limit)"),
    HandlerSpec::read_write("active", Combine::First, "whether packets are sent"),
];

/// RATE when not given.
pub const DEFAULT_RATE: u32 = 10;

/// A bandwidth in Click's notation, in bytes per second.
fn parse_bandwidth(s: &str) -> Result<f64, String> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = (s[..split].trim_end(), &s[split..]);
    let factor = match unit {
        "" | "Bps" => 1.0,
        "bps" | "baud" => 1.0 / 8.0,
        "kbps" | "Kbps" => 1e3 / 8.0,
        "kBps" | "KBps" => 1e3,
        "Mbps" => 1e6 / 8.0,
        "MBps" => 1e6,
        "Gbps" => 1e9 / 8.0,
        "GBps" => 1e9,
        _ => {
            return Err(format!(
                "unknown bandwidth unit '{unit}' (use bps, kbps, Mbps, Gbps, or Bps, kBps, MBps, GBps)"
            ))
        }
    };
    let v = f64::from_arg(num).map_err(|_| format!("expected bandwidth (e.g. 10Mbps), found '{s}'"))?;
    if v < 0.0 {
        return Err(format!("bandwidth '{s}' must not be negative"));
    }
    Ok(v * factor)
}

/// Click's token bucket: `rate` tokens per second up to `capacity`.
#[derive(Clone, Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    /// When tokens were last added; `None` until the first refill.
    last: Option<Instant>,
}

impl TokenBucket {
    fn new(rate: u32) -> Self {
        let mut b = TokenBucket { rate: 0.0, capacity: 0.0, tokens: 1.0, last: None };
        b.set_rate(rate);
        b
    }

    /// Click's burst: 2 tokens for low rates, 10 ms worth from 200 packets/s up.
    fn set_rate(&mut self, rate: u32) {
        self.rate = f64::from(rate);
        self.capacity = if rate < 200 { 2.0 } else { f64::from(rate / 100) };
        self.tokens = self.tokens.min(self.capacity);
    }

    /// Start over with one token (Click's `set(1)`).
    fn restart(&mut self) {
        self.tokens = 1.0_f64.min(self.capacity);
        self.last = None;
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        }
        self.last = Some(now);
    }

    /// Take up to `max` whole tokens; returns how many were taken.
    fn take(&mut self, max: u64) -> u64 {
        let n = (self.tokens.floor().max(0.0) as u64).min(max);
        self.tokens -= n as f64;
        n
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let data = args.read_p::<Bytes>("DATA")?.map_or_else(|| DEFAULT_DATA.to_vec(), |b| b.0);
    let mut rate = args.read_p::<u32>("RATE")?.unwrap_or(DEFAULT_RATE);
    let limit = args.read_p::<i64>("LIMIT")?.unwrap_or(-1);
    let active = args.read_p::<bool>("ACTIVE")?.unwrap_or(true);
    let length = read_length(&mut args)?;
    let stop = args.read_kw::<bool>("STOP")?.unwrap_or(false);
    let bandwidth = args.read_kw::<String>("BANDWIDTH")?;
    args.finish()?;
    let contents = packet_contents(&data, length);
    if let Some(bw) = bandwidth {
        let bytes_per_sec = parse_bandwidth(bw.trim()).map_err(|e| ConfigError(format!("BANDWIDTH: {e}")))?;
        if contents.is_empty() {
            return Err("BANDWIDTH needs packets of nonzero length".into());
        }
        rate = (bytes_per_sec / contents.len() as f64).min(f64::from(u32::MAX)) as u32;
    }
    Ok(Box::new(RatedSource {
        data,
        length,
        contents,
        limit,
        active,
        stop,
        count: 0,
        bucket: TokenBucket::new(rate),
        rate,
    }))
}

/// The element: parameters, packet contents, count and token bucket.
pub struct RatedSource {
    data: Vec<u8>,
    length: Option<usize>,
    contents: Vec<u8>,
    limit: i64,
    active: bool,
    stop: bool,
    count: u64,
    bucket: TokenBucket,
    rate: u32,
}

impl RatedSource {
    fn allowed(&self, want: u64) -> u64 {
        if self.limit < 0 {
            want
        } else {
            want.min((self.limit as u64).saturating_sub(self.count))
        }
    }

    /// Packets to send now, at most `max`; `None` when LIMIT is reached.
    fn due(&mut self, max: u64) -> Option<u64> {
        let allowed = self.allowed(max);
        if allowed == 0 {
            return None;
        }
        self.bucket.refill(Instant::now());
        Some(self.bucket.take(allowed))
    }
}

impl Element for RatedSource {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        if ctx.output_push.first().copied().unwrap_or(true) {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if !self.active {
            return TaskStatus::Idle;
        }
        match self.due(MAX_BATCH as u64) {
            None => {
                if self.stop {
                    ctx.request_stop();
                }
                TaskStatus::Done
            }
            Some(0) => TaskStatus::Idle,
            Some(n) => {
                self.count += n;
                ctx.push(0, make_batch(&self.contents, n as usize, now_ns()));
                TaskStatus::Busy
            }
        }
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        if !self.active || max == 0 {
            return Batch::new();
        }
        match self.due(max.min(MAX_BATCH) as u64) {
            None => {
                if self.stop {
                    ctx.request_stop();
                }
                Batch::new()
            }
            Some(n) => {
                self.count += n;
                make_batch(&self.contents, n as usize, now_ns())
            }
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "count" => self.count.to_string(),
            "data" => unparse_data(&self.data),
            "length" => self.length.map_or_else(|| "-1".to_string(), |n| n.to_string()),
            "rate" => self.rate.to_string(),
            "limit" => self.limit.to_string(),
            "active" => self.active.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        match name {
            "reset" => {
                self.count = 0;
                self.bucket.restart();
            }
            "data" => {
                self.data = Bytes::from_arg(value).map_err(|e| format!("data: {e}"))?.0;
                self.contents = packet_contents(&self.data, self.length);
            }
            "length" => {
                self.length = check_length(i64::from_arg(value).map_err(|e| format!("length: {e}"))?)?;
                self.contents = packet_contents(&self.data, self.length);
            }
            "rate" => {
                self.rate = u32::from_arg(value).map_err(|e| format!("rate: {e}"))?;
                self.bucket.set_rate(self.rate);
            }
            "limit" => self.limit = i64::from_arg(value).map_err(|e| format!("limit: {e}"))?,
            "active" => {
                let active = bool::from_arg(value).map_err(|e| format!("active: {e}"))?;
                if active && !self.active {
                    self.bucket.restart();
                }
                self.active = active;
            }
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, new_id};
    use std::time::Duration;

    fn timed_run(config: &str) -> (Vec<sluice::Packet>, sluice::runtime::Router, Duration) {
        let sink = new_id();
        let t0 = Instant::now();
        let router = TestGraph::chain(&[("s", "RatedSource", config), ("out", "Collect", &format!("ID {sink}"))]).run();
        (collected(sink), router, t0.elapsed())
    }

    #[test]
    fn sends_at_the_rate() {
        // One token at the start, then 1000/s: 50 packets take about 49 ms.
        let (got, router, took) = timed_run("\\<0800>, 1000, 50");
        assert_eq!(got.len(), 50);
        assert!(got.iter().all(|p| p.data() == [8, 0] && p.anno().timestamp_ns > 0));
        assert!(took >= Duration::from_millis(40), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert_eq!(router.read_handler("s", "count").unwrap(), "50");
        assert_eq!(router.read_handler("s", "rate").unwrap(), "1000");
    }

    #[test]
    fn default_rate_is_ten_per_second() {
        let (got, router, took) = timed_run("LIMIT 3");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].data(), DEFAULT_DATA);
        assert!(took >= Duration::from_millis(180), "{took:?}");
        assert_eq!(router.read_handler("s", "rate").unwrap(), "10");
    }

    #[test]
    fn high_rates_are_reached_in_batches() {
        let (got, _, took) = timed_run("RATE 200000, LIMIT 20000, LENGTH 60");
        assert_eq!(got.len(), 20000);
        assert!(got.iter().all(|p| p.len() == 60));
        assert!(took >= Duration::from_millis(80), "{took:?}");
    }

    #[test]
    fn bandwidth_sets_the_rate() {
        let s = build_elem(&RATED_SOURCE, "LENGTH 125, BANDWIDTH 1Mbps", 0, 1).unwrap();
        assert_eq!(s.read_handler("rate").unwrap(), "1000");
        let s = build_elem(&RATED_SOURCE, "LENGTH 100, BANDWIDTH 2kBps", 0, 1).unwrap();
        assert_eq!(s.read_handler("rate").unwrap(), "20");
        assert_eq!(parse_bandwidth("800").unwrap(), 800.0);
        assert_eq!(parse_bandwidth("1.5 Gbps").unwrap(), 1.5e9 / 8.0);
        assert!(parse_bandwidth("10 parsecs").unwrap_err().contains("unknown bandwidth unit"));
        assert!(parse_bandwidth("fast").is_err());
        let e = build_elem(&RATED_SOURCE, "BANDWIDTH 1Mbps, LENGTH 0", 0, 1).err().unwrap();
        assert!(e.0.contains("nonzero length"), "{e}");
    }

    #[test]
    fn pull_mode_follows_the_rate() {
        let sink = new_id();
        let t0 = Instant::now();
        let router = TestGraph::chain(&[
            ("s", "RatedSource", "RATE 500, LIMIT 20, STOP true"),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .start()
        .wait();
        assert_eq!(collected(sink).len(), 20);
        assert!(t0.elapsed() >= Duration::from_millis(30), "{:?}", t0.elapsed());
        assert_eq!(router.read_handler("s", "count").unwrap(), "20");
    }

    #[test]
    fn token_bucket_follows_click() {
        let mut b = TokenBucket::new(100);
        assert_eq!(b.capacity, 2.0);
        let t = Instant::now();
        b.refill(t);
        assert_eq!(b.take(10), 1);
        assert_eq!(b.take(10), 0);
        b.refill(t + Duration::from_millis(15));
        assert_eq!(b.take(10), 1);
        b.refill(t + Duration::from_secs(10));
        assert_eq!(b.take(10), 2, "capacity caps the burst");
        b.set_rate(100_000);
        assert_eq!(b.capacity, 1000.0);
        b.set_rate(0);
        b.restart();
        b.refill(t + Duration::from_secs(20));
        assert_eq!(b.take(10), 1);
        b.refill(t + Duration::from_secs(30));
        assert_eq!(b.take(10), 0, "rate 0 sends nothing more");
    }

    #[test]
    fn handlers_read_and_write() {
        let mut s = build_elem(&RATED_SOURCE, "", 0, 1).unwrap();
        assert_eq!(s.read_handler("rate").unwrap(), "10");
        assert_eq!(s.read_handler("limit").unwrap(), "-1");
        assert_eq!(s.read_handler("length").unwrap(), "-1");
        assert_eq!(s.read_handler("active").unwrap(), "true");
        s.write_handler("rate", "250").unwrap();
        assert_eq!(s.read_handler("rate").unwrap(), "250");
        assert!(s.write_handler("rate", "-5").unwrap_err().starts_with("rate: "));
        s.write_handler("limit", "-1").unwrap();
        s.write_handler("data", "hello").unwrap();
        assert_eq!(s.read_handler("data").unwrap(), "hello");
        s.write_handler("length", "2").unwrap();
        s.write_handler("active", "false").unwrap();
        s.write_handler("active", "true").unwrap();
        s.write_handler("reset", "").unwrap();
        assert_eq!(s.read_handler("count").unwrap(), "0");
        assert!(s.write_handler("count", "1").is_err());
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&RATED_SOURCE, r"\<0800>, 10, 1000", 0, 1).is_ok());
        let e = build_elem(&RATED_SOURCE, "RATE fast", 0, 1).err().unwrap();
        assert!(e.0.starts_with("RATE: "), "{e}");
        let e = build_elem(&RATED_SOURCE, "RATE -1", 0, 1).err().unwrap();
        assert!(e.0.starts_with("RATE: "), "{e}");
        let e = build_elem(&RATED_SOURCE, "BANDWIDTH lots", 0, 1).err().unwrap();
        assert!(e.0.starts_with("BANDWIDTH: "), "{e}");
        let e = build_elem(&RATED_SOURCE, "x, 1, 2, true, 5", 0, 1).err().unwrap();
        assert!(e.0.contains("too many arguments"), "{e}");
        let e = build_elem(&RATED_SOURCE, "BURST 5", 0, 1).err().unwrap();
        assert!(e.0.contains("unknown keyword 'BURST'"), "{e}");
    }
}

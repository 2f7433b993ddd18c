//! `Counter`: counts packets and bytes and measures their rates.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, State};
use std::time::Instant;

sluice::element_class! {
    /// Counter([KEYWORDS])
    ///
    /// Measures packet count and rate.
    ///
    /// Passes packets unchanged from its input to its output, maintaining statistics
    /// information about packet count and packet rate.
    ///
    /// Rates are measured as Click measures them: time is cut into epochs of one
    /// millisecond (Click's user-level jiffy), and at the end of each epoch the packets
    /// (or bytes) seen in it are folded into an exponentially weighted moving average
    /// with weight 1/16; epochs without packets decay the average by 15/16 each. The
    /// average per epoch times 1000 is the rate per second, so a rate follows a change
    /// of traffic with a time constant of about 16 ms and drops toward 0 once packets
    /// stop. Reading a rate handler accounts for the idle time up to the read. All
    /// packets of one batch count as arriving at the same instant.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `COUNT_CALL` — Click's `N HANDLER [VALUE]` trigger: not supported; refused with
    ///   an error (handler calls from the data path are not available in Sluice).
    /// - `BYTE_COUNT_CALL` — likewise not supported; refused with an error.
    ///
    /// # Handlers
    /// - `count` (read) — packets passed since the last reset.
    /// - `byte_count` (read) — bytes passed since the last reset.
    /// - `rate` (read) — recent arrival rate in packets per second (EWMA).
    /// - `bit_rate` (read) — recent arrival rate in bits per second (EWMA).
    /// - `byte_rate` (read) — recent arrival rate in bytes per second (EWMA).
    /// - `reset_counts` (write) — resets the counts and rates to zero.
    /// - `reset` (write) — same as `reset_counts`.
    ///
    /// # Example
    /// ```text
    /// src -> c :: Counter -> Discard;
    /// // later: read c.count, c.rate
    /// ```
    pub const COUNTER = "Counter" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets passed since the last reset"),
    HandlerSpec::read("byte_count", Combine::Sum, "bytes passed since the last reset"),
    HandlerSpec::read("rate", Combine::Sum, "recent packet rate (packets/s, EWMA)"),
    HandlerSpec::read("bit_rate", Combine::Sum, "recent bit rate (bits/s, EWMA)"),
    HandlerSpec::read("byte_rate", Combine::Sum, "recent byte rate (bytes/s, EWMA)"),
    HandlerSpec::write("reset_counts", "reset counts and rates to zero"),
    HandlerSpec::write("reset", "same as reset_counts"),
];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    for kw in ["COUNT_CALL", "BYTE_COUNT_CALL"] {
        if args.read_kw::<String>(kw)?.is_some() {
            return Err(ConfigError(format!(
                "{kw} is not supported by Sluice's Counter (no handler calls from the data path)"
            )));
        }
    }
    args.finish()?;
    Ok(Box::new(Counter::new()))
}

/// Length of one rate epoch: Click's user-level jiffy (CLICK_HZ = 1000).
const EPOCH_NS: u128 = 1_000_000;
/// Epochs per second.
const EPOCHS_PER_SEC: f64 = 1000.0;
/// Weight of the newest epoch in the average (Click's stability shift 4).
const ALPHA: f64 = 1.0 / 16.0;

/// Click's `RateEWMA`: an exponentially weighted average of events per epoch.
#[derive(Clone, Copy, Debug, Default)]
struct RateEwma {
    /// The epoch `total` belongs to.
    epoch: u64,
    /// Events counted in the current, unfinished epoch.
    total: f64,
    /// Average events per epoch over finished epochs.
    avg: f64,
}

impl RateEwma {
    /// Close the epochs before `now`: fold in the current total, decay over idle epochs.
    fn advance(&mut self, now: u64) {
        if now <= self.epoch {
            return;
        }
        self.avg += (self.total - self.avg) * ALPHA;
        let idle = now - self.epoch - 1;
        if idle > 0 {
            // After ~12000 idle epochs the factor underflows to 0, so clamp the exponent.
            self.avg *= (1.0 - ALPHA).powi(idle.min(20_000) as i32);
        }
        self.total = 0.0;
        self.epoch = now;
    }

    #[inline]
    fn update(&mut self, now: u64, delta: f64) {
        self.advance(now);
        self.total += delta;
    }

    /// Events per second as of epoch `now`, without changing the state.
    fn rate_at(&self, now: u64) -> f64 {
        let mut r = *self;
        r.advance(now);
        r.avg * EPOCHS_PER_SEC
    }
}

/// A rate as text: integral rates without a fraction, others with up to 3 decimals.
fn unparse_rate(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// The element: counts, rates, and the time origin of the rate epochs.
pub struct Counter {
    count: u64,
    byte_count: u64,
    rate: RateEwma,
    byte_rate: RateEwma,
    origin: Instant,
}

impl Counter {
    fn new() -> Self {
        Counter {
            count: 0,
            byte_count: 0,
            rate: RateEwma::default(),
            byte_rate: RateEwma::default(),
            origin: Instant::now(),
        }
    }

    fn epoch_now(&self) -> u64 {
        (self.origin.elapsed().as_nanos() / EPOCH_NS) as u64
    }

    #[inline]
    fn count_batch(&mut self, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let bytes = batch.byte_len();
        self.count += n;
        self.byte_count += bytes;
        let now = self.epoch_now();
        self.rate.update(now, n as f64);
        self.byte_rate.update(now, bytes as f64);
    }

    fn reset(&mut self) {
        self.count = 0;
        self.byte_count = 0;
        self.rate = RateEwma { epoch: self.epoch_now(), ..RateEwma::default() };
        self.byte_rate = self.rate;
    }
}

/// What a Counter hands to a Counter replacing it (swap, hot-swap): everything it counted.
struct CounterState {
    count: u64,
    byte_count: u64,
    rate: RateEwma,
    byte_rate: RateEwma,
    origin: Instant,
}

impl Element for Counter {
    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(CounterState {
            count: self.count,
            byte_count: self.byte_count,
            rate: self.rate,
            byte_rate: self.byte_rate,
            origin: self.origin,
        }))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(s) = state.downcast::<CounterState>() {
            self.count = s.count;
            self.byte_count = s.byte_count;
            self.rate = s.rate;
            self.byte_rate = s.byte_rate;
            self.origin = s.origin;
        }
    }

    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.count_batch(&batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        self.count_batch(&batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        let now = self.epoch_now();
        Some(match name {
            "count" => self.count.to_string(),
            "byte_count" => self.byte_count.to_string(),
            "rate" => unparse_rate(self.rate.rate_at(now)),
            "byte_rate" => unparse_rate(self.byte_rate.rate_at(now)),
            "bit_rate" => unparse_rate(self.byte_rate.rate_at(now) * 8.0),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "reset" | "reset_counts" => {
                self.reset();
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    fn packets(n: usize, len: usize) -> Vec<Packet> {
        (0..n).map(|i| Packet::from_slice(&vec![i as u8; len])).collect()
    }

    #[test]
    fn counts_packets_and_bytes_and_passes_them_unchanged() {
        let (out, router) = run_element(&COUNTER, "", 1, packets(150, 60)).unwrap();
        assert_eq!(out[0].len(), 150);
        for (i, p) in out[0].iter().enumerate() {
            assert_eq!(p.data(), &vec![i as u8; 60][..]);
        }
        assert_eq!(router.read_handler("e", "count").unwrap(), "150");
        assert_eq!(router.read_handler("e", "byte_count").unwrap(), "9000");
        for h in ["rate", "bit_rate", "byte_rate"] {
            let v: f64 = router.read_handler("e", h).unwrap().parse().unwrap();
            assert!(v >= 0.0, "{h} = {v}");
        }
    }

    #[test]
    fn zero_length_packets_count() {
        let (out, router) = run_element(&COUNTER, "", 1, packets(3, 0)).unwrap();
        assert_eq!(out[0].len(), 3);
        assert_eq!(router.read_handler("e", "count").unwrap(), "3");
        assert_eq!(router.read_handler("e", "byte_count").unwrap(), "0");
    }

    #[test]
    fn reset_clears_counts() {
        let (_, mut router) = run_element(&COUNTER, "", 1, packets(10, 100)).unwrap();
        assert_eq!(router.read_handler("e", "count").unwrap(), "10");
        router.write_handler("e", "reset", "").unwrap();
        assert_eq!(router.read_handler("e", "count").unwrap(), "0");
        assert_eq!(router.read_handler("e", "byte_count").unwrap(), "0");
        assert_eq!(router.read_handler("e", "rate").unwrap(), "0");
        router.write_handler("e", "reset_counts", "").unwrap();
        assert!(router.write_handler("e", "count", "5").is_err());
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&COUNTER, "", 1, 1).is_ok());
        let e = build_elem(&COUNTER, "COUNT_CALL 10 s.stop", 1, 1).err().unwrap();
        assert!(e.0.contains("COUNT_CALL") && e.0.contains("not supported"), "{e}");
        let e = build_elem(&COUNTER, "BYTE_COUNT_CALL 10 s.stop", 1, 1).err().unwrap();
        assert!(e.0.contains("BYTE_COUNT_CALL"), "{e}");
        let e = build_elem(&COUNTER, "5", 1, 1).err().unwrap();
        assert!(e.0.contains("too many arguments"), "{e}");
        let e = build_elem(&COUNTER, "LIMIT 5", 1, 1).err().unwrap();
        assert!(e.0.contains("unknown keyword 'LIMIT'"), "{e}");
    }

    #[test]
    fn ewma_converges_to_the_steady_rate_and_decays_when_idle() {
        let mut r = RateEwma::default();
        // 5 packets in every millisecond for 300 ms: 5000 packets/s.
        for epoch in 0..300 {
            r.update(epoch, 5.0);
        }
        let steady = r.rate_at(300);
        assert!((steady - 5000.0).abs() < 5.0, "{steady}");
        // The 16 idle epochs 300..=315 decay it by (15/16)^16 ~ 0.356.
        let later = r.rate_at(316);
        assert!((later / steady - (15.0f64 / 16.0).powi(16)).abs() < 1e-9, "{later}");
        // A very long idle time takes it to 0 without overflow.
        assert_eq!(r.rate_at(u64::MAX / 2), 0.0);
        // Reading does not change the state.
        assert_eq!(r.rate_at(300), steady);
    }

    #[test]
    fn ewma_tracks_a_step() {
        let mut r = RateEwma::default();
        for epoch in 0..200 {
            r.update(epoch, 1.0);
        }
        for epoch in 200..216 {
            r.update(epoch, 3.0);
        }
        // After 16 epochs at the new rate, 1 - (15/16)^16 ~ 64% of the step is reached.
        let v = r.rate_at(216);
        assert!(v > 2000.0 && v < 2500.0, "{v}");
    }

    #[test]
    fn rates_are_unparsed_compactly() {
        assert_eq!(unparse_rate(0.0), "0");
        assert_eq!(unparse_rate(1000.0), "1000");
        assert_eq!(unparse_rate(998.5), "998.5");
        assert_eq!(unparse_rate(0.0001), "0");
        assert_eq!(unparse_rate(2.125), "2.125");
    }
}

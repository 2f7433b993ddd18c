//! `AverageCounter`: counts packets and measures their average rate since the first one.

use super::rate_control::{now_jiffies, CLICK_HZ};
use sluice::args::Args;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, State};

sluice::element_class! {
    /// AverageCounter([IGNORE])
    ///
    /// Measures historical packet count and rate.
    ///
    /// Passes packets unchanged from its input to its output, maintaining statistics
    /// information about packet count and packet rate using a strict average.
    ///
    /// The rate covers only the time between the first and most recent packets. IGNORE, by
    /// default, is 0. If it is greater than 0, the first IGNORE number of seconds are
    /// ignored in the count.
    ///
    /// As in Click: times are jiffies (milliseconds); counts are 32-bit and wrap; the rate
    /// is count * 1000 / (last - first - IGNORE jiffies, at least 1), printed as C's
    /// `%.12g` prints it (`1234.5`, `0`). The packets of one batch arrive in the same
    /// jiffy. Each worker has its own instance; counts and rates add across workers.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `IGNORE` — unsigned, positional. Whole seconds at the start not counted.
    ///   Default 0.
    ///
    /// # Handlers
    /// - `count` (read) — packets passed since the last reset (after IGNORE).
    /// - `byte_count` (read) — bytes passed since the last reset (after IGNORE).
    /// - `rate` (read) — average packets per second between the first and latest packet.
    /// - `byte_rate` (read) — average bytes per second.
    /// - `reset` (write) — resets the counts and the time of the first packet.
    ///
    /// # Example
    /// ```text
    /// src -> ac :: AverageCounter -> Discard;   // read ac.rate at the end
    /// ```
    pub const AVERAGE_COUNTER = "AverageCounter" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets counted since the last reset"),
    HandlerSpec::read("byte_count", Combine::Sum, "bytes counted since the last reset"),
    HandlerSpec::read("rate", Combine::Sum, "average packets per second"),
    HandlerSpec::read("byte_rate", Combine::Sum, "average bytes per second"),
    HandlerSpec::write("reset", "reset counts and rates"),
];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let ignore = args.read_p::<u32>("IGNORE")?.unwrap_or(0);
    args.finish()?;
    Ok(Box::new(AverageCounter { ignore: ignore.wrapping_mul(CLICK_HZ), ..AverageCounter::default() }))
}

/// The element: Click's 32-bit counters and jiffy times (0: no packet yet).
#[derive(Clone, Copy, Debug, Default)]
pub struct AverageCounter {
    count: u32,
    byte_count: u32,
    first: u32,
    last: u32,
    /// IGNORE in jiffies.
    ignore: u32,
}

/// Jiffies as AverageCounter keeps them: never 0, which means "no packet yet".
fn jiffies() -> u32 {
    (now_jiffies() as u32).wrapping_add(1).max(1)
}

/// C's `printf("%.12g", x)`.
pub fn format_g12(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{x:.11e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..12).contains(&exp) {
        format!("{}e{}{:02}", strip(mantissa), if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        strip(&format!("{x:.*}", (11 - exp) as usize))
    }
}

impl AverageCounter {
    fn count_batch(&mut self, now: u32, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        if self.first == 0 {
            self.first = now;
        }
        if now.wrapping_sub(self.first) >= self.ignore {
            self.count = self.count.wrapping_add(batch.len() as u32);
            self.byte_count = self.byte_count.wrapping_add(batch.byte_len() as u32);
        }
        self.last = now;
    }

    fn rate(&self, count: u32) -> String {
        let d = self.last.wrapping_sub(self.first).wrapping_sub(self.ignore).max(1);
        format_g12(f64::from(count) * f64::from(CLICK_HZ) / f64::from(d))
    }
}

impl Element for AverageCounter {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.count_batch(jiffies(), &batch);
        ctx.push(0, batch);
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        self.count_batch(jiffies(), &batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "count" => self.count.to_string(),
            "byte_count" => self.byte_count.to_string(),
            "rate" => self.rate(self.count),
            "byte_rate" => self.rate(self.byte_count),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "reset" => {
                *self = AverageCounter { ignore: self.ignore, ..AverageCounter::default() };
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }

    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(*self))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(s) = state.downcast::<AverageCounter>() {
            *self = AverageCounter { ignore: self.ignore, ..*s };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    fn batch(n: usize, len: usize) -> Batch {
        let mut b = Batch::new();
        for _ in 0..n {
            let _ = b.push(Packet::from_slice(&vec![1; len]));
        }
        b
    }

    #[test]
    fn strict_average_between_first_and_last() {
        let mut c = AverageCounter::default();
        // 10 packets of 100 bytes every 10 jiffies from 1000 to 1990: 1000 packets in 990 ms.
        for k in 0..100u32 {
            c.count_batch(1000 + 10 * k, &batch(10, 100));
        }
        assert_eq!(c.read_handler("count").unwrap(), "1000");
        assert_eq!(c.read_handler("byte_count").unwrap(), "100000");
        assert_eq!(c.read_handler("rate").unwrap(), "1010.1010101");
        assert_eq!(c.read_handler("byte_rate").unwrap(), "101010.10101");
        // One packet only: the duration counts as one jiffy.
        let mut c = AverageCounter::default();
        c.count_batch(5, &batch(1, 1));
        assert_eq!(c.read_handler("rate").unwrap(), "1000");
    }

    #[test]
    fn ignore_skips_the_first_seconds() {
        let mut c = AverageCounter { ignore: 2 * CLICK_HZ, ..AverageCounter::default() };
        for k in 0..50u32 {
            c.count_batch(1 + 100 * k, &batch(1, 10));
        }
        // Packets at jiffies 1..4901 step 100; those at least 2000 after the first count.
        assert_eq!(c.read_handler("count").unwrap(), "30");
        // (4901 - 1 - 2000) = 2900 jiffies.
        assert_eq!(c.read_handler("rate").unwrap(), format_g12(30.0 * 1000.0 / 2900.0));
    }

    #[test]
    fn g12_formats_like_printf() {
        assert_eq!(format_g12(0.0), "0");
        assert_eq!(format_g12(1000.0), "1000");
        assert_eq!(format_g12(1.0 / 3.0), "0.333333333333");
        assert_eq!(format_g12(123456789012345.0), "1.23456789012e+14");
        assert_eq!(format_g12(0.00001234), "1.234e-05");
        assert_eq!(format_g12(2.5), "2.5");
    }

    #[test]
    fn passes_packets_and_resets() {
        let ps: Vec<Packet> = (0..70).map(|_| Packet::from_slice(&[0; 60])).collect();
        let (out, mut router) = run_element(&AVERAGE_COUNTER, "", 1, ps).unwrap();
        assert_eq!(out[0].len(), 70);
        assert_eq!(router.read_handler("e", "count").unwrap(), "70");
        assert_eq!(router.read_handler("e", "byte_count").unwrap(), "4200");
        let r: f64 = router.read_handler("e", "rate").unwrap().parse().unwrap();
        assert!(r > 0.0);
        router.write_handler("e", "reset", "").unwrap();
        assert_eq!(router.read_handler("e", "count").unwrap(), "0");
        assert_eq!(router.read_handler("e", "rate").unwrap(), "0");
        assert!(build_elem(&AVERAGE_COUNTER, "2", 1, 1).is_ok());
        assert!(build_elem(&AVERAGE_COUNTER, "-2", 1, 1).is_err());
        assert!(build_elem(&AVERAGE_COUNTER, "1.5", 1, 1).is_err());
    }
}

//! Click's rate-control arithmetic, ported exactly: `GapRate` (`include/click/gaprate.hh`,
//! used by Shaper and BandwidthShaper), `TokenBucket` (`include/click/tokenbucket.hh`, with
//! jiffy ticks, used by RatedUnqueue and BandwidthRatedUnqueue), `RateEWMA`
//! (`include/click/ewma.hh`, used by Meter and BandwidthMeter), and `BandwidthArg`'s parsing
//! and unparsing of bandwidths.
//!
//! Every decision takes the time as an argument, so tests drive the arithmetic with a clock
//! of their own and count tokens and decisions instead of sleeping. Elements read the time
//! with [`now_jiffies`] and [`now_timestamp`]: a monotonic clock (Click's user-level
//! `click_jiffies()` and `Timestamp::now()` read the wall clock; only differences matter to
//! these algorithms, and a monotonic clock does not jump).

use std::sync::OnceLock;
use std::time::Instant;

/// Click's user-level jiffies per second (`CLICK_HZ`).
pub const CLICK_HZ: u32 = 1000;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Milliseconds (Click's user-level jiffies) on a monotonic clock.
pub fn now_jiffies() -> u64 {
    origin().elapsed().as_millis() as u64
}

/// The time as Click's `Timestamp::now()` gives it to `GapRate`: seconds and microseconds,
/// on a monotonic clock.
pub fn now_timestamp() -> (u64, u32) {
    let us = origin().elapsed().as_micros() as u64;
    (us / 1_000_000, (us % 1_000_000) as u32)
}

// ---------------------------------------------------------------------------------------
// GapRate

/// Click's `GapRate`: allows `rate` events per second, spread over each second.
#[derive(Clone, Debug)]
pub struct GapRate {
    ugap: u32,
    sec_count: i32,
    tv_sec: i64,
    rate: u32,
}

impl GapRate {
    pub const UGAP_SHIFT: u32 = 12;
    /// The largest rate (`1000000 << UGAP_SHIFT`).
    pub const MAX_RATE: u32 = 1_000_000 << Self::UGAP_SHIFT;

    pub fn new(rate: u32) -> Self {
        let mut g = GapRate { ugap: 0, sec_count: 0, tv_sec: -1, rate: 0 };
        g.set_rate(rate);
        g
    }

    /// The rate, after Click's clamp to [`GapRate::MAX_RATE`].
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Set the rate and start over (Click's `set_rate`, which calls `reset`).
    pub fn set_rate(&mut self, rate: u32) {
        let rate = rate.min(Self::MAX_RATE);
        self.rate = rate;
        self.ugap = Self::MAX_RATE.checked_div(rate).unwrap_or(Self::MAX_RATE + 1);
        self.reset();
    }

    pub fn reset(&mut self) {
        self.tv_sec = -1;
    }

    /// Whether an event may happen at `sec`.`usec` (Click's `need_update`).
    pub fn need_update(&mut self, sec: u64, usec: u32) -> bool {
        let scaled = usec << Self::UGAP_SHIFT;
        let need = scaled / self.ugap;
        if self.tv_sec < 0 {
            // "often OK to send a packet after reset unless rate is 0"
            self.tv_sec = sec as i64;
            let round = scaled.wrapping_sub(need.wrapping_mul(self.ugap)) > self.ugap / 2;
            self.sec_count = need.wrapping_add(u32::from(round)) as i32;
        } else if sec as i64 > self.tv_sec {
            self.tv_sec = sec as i64;
            if self.sec_count > 0 {
                self.sec_count = self.sec_count.wrapping_sub(self.rate as i32);
            }
        }
        need as i32 >= self.sec_count
    }

    /// One event happened (Click's `update`).
    pub fn update(&mut self) {
        self.sec_count = self.sec_count.wrapping_add(1);
    }

    /// `incr` events happened (Click's `update_with`).
    pub fn update_with(&mut self, incr: i32) {
        self.sec_count = self.sec_count.wrapping_add(incr);
    }
}

// ---------------------------------------------------------------------------------------
// TokenBucket

/// Click's `TokenBucket` (`TokenBucketX<TokenBucketJiffyParameters<unsigned>>`): 32-bit
/// fractional tokens, refilled once per jiffy (1 ms).
///
/// As in Click, a new bucket is empty at time point 0, so the first [`TokenBucket::refill`]
/// finds it long idle and fills it: the bucket starts full.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    tokens_per_tick: u32,
    token_scale: u32,
    /// Ticks to fill an empty bucket; `u32::MAX` for an idle rate.
    time_until_full: u32,
    /// Fullness: `u32::MAX` is full.
    tokens: u32,
    /// The last refill, in jiffies; `None` is Click's time point 0, long ago.
    time_point: Option<u64>,
}

const MAX_TOKENS: u32 = u32::MAX;

impl TokenBucket {
    /// An idle bucket (Click's default constructor); [`TokenBucket::assign`] sets the rate.
    pub fn new() -> Self {
        TokenBucket { tokens_per_tick: 0, token_scale: 1, time_until_full: u32::MAX, tokens: 0, time_point: None }
    }

    /// Set rate (tokens per second) and capacity, keeping the fullness fraction (Click's
    /// `TokenBucketX::assign`). A capacity of 0 makes the bucket idle.
    pub fn assign(&mut self, rate: u32, capacity: u32) {
        let (mut rate, mut capacity) = (rate, capacity);
        if capacity == 0 {
            rate = 0;
            capacity = MAX_TOKENS;
        }
        let frequency = CLICK_HZ;
        if rate != 0 {
            // Constrain the capacity so tokens_per_tick fits in 32 bits.
            let min_capacity = (rate - 1) / frequency + 1;
            capacity = capacity.max(min_capacity);
        }
        self.token_scale = MAX_TOKENS / capacity;
        let l = u64::from(rate) * u64::from(self.token_scale) / u64::from(frequency);
        debug_assert!(l <= u64::from(u32::MAX));
        if rate != 0 {
            self.tokens_per_tick = if l != 0 { l as u32 } else { 1 };
            self.time_until_full = (MAX_TOKENS - 1) / self.tokens_per_tick + 1;
        } else {
            self.tokens_per_tick = 0;
            self.time_until_full = u32::MAX;
        }
    }

    /// The rate in tokens per second, as Click computes it back from the tick rate.
    pub fn rate(&self) -> u32 {
        let tpt = u64::from(self.tokens_per_tick);
        let l = (tpt / 2 + tpt * u64::from(CLICK_HZ)) / u64::from(self.token_scale);
        u32::try_from(l).unwrap_or(MAX_TOKENS)
    }

    /// The capacity in tokens.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn capacity(&self) -> u32 {
        MAX_TOKENS / self.token_scale
    }

    /// Whole tokens in the bucket (a lower bound).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn size(&self) -> u32 {
        self.tokens / self.token_scale
    }

    /// Tokens as a fraction of the capacity, `None` beyond it (Click's `TokenRateConverter`).
    fn cvt(&self, t: u32) -> Option<u32> {
        t.checked_mul(self.token_scale)
    }

    /// Whether the bucket holds at least `t` tokens.
    pub fn contains(&self, t: u32) -> bool {
        self.cvt(t).is_some_and(|f| f <= self.tokens)
    }

    /// Take `t` tokens, or all there are.
    pub fn remove(&mut self, t: u32) {
        let f = self.cvt(t).unwrap_or(MAX_TOKENS);
        self.tokens = self.tokens.saturating_sub(f);
    }

    /// Refill for the time `now`, in jiffies.
    pub fn refill(&mut self, now: u64) {
        let diff = match self.time_point {
            None => u64::MAX,
            Some(t) => now.saturating_sub(t),
        };
        if diff >= u64::from(self.time_until_full) {
            self.tokens = MAX_TOKENS;
        } else if diff > 0 {
            // diff < time_until_full, so diff * tokens_per_tick < 2^32.
            let add = (diff as u32).wrapping_mul(self.tokens_per_tick);
            self.tokens = self.tokens.checked_add(add).unwrap_or(MAX_TOKENS);
        }
        self.time_point = Some(now);
    }

    /// Jiffies until the bucket holds `t` tokens; `u32::MAX` if never.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn time_until_contains(&self, t: u32) -> u32 {
        let Some(f) = self.cvt(t) else { return u32::MAX };
        if f <= self.tokens || self.time_until_full == 0 {
            0
        } else {
            (f - self.tokens - 1).checked_div(self.tokens_per_tick).map_or(u32::MAX, |q| q + 1)
        }
    }
}

impl Default for TokenBucket {
    fn default() -> Self {
        TokenBucket::new()
    }
}

// ---------------------------------------------------------------------------------------
// RateEWMA

/// Click's `RateEWMA` (`RateEWMAX<RateEWMAXParameters<4, 10>>`): events per jiffy, averaged
/// with alpha 1/16, kept with 10 bits of fraction in 32-bit arithmetic.
#[derive(Clone, Copy, Debug)]
pub struct RateEwma {
    epoch: u64,
    current: u32,
    avg: u32,
}

impl RateEwma {
    pub const SCALE: u32 = 10;
    const STABILITY: u32 = 4;
    const COMPENSATION: u32 = 1 << (Self::STABILITY - 1);

    /// A zero average whose current epoch is `now`.
    pub fn new(now: u64) -> Self {
        RateEwma { epoch: now, current: 0, avg: 0 }
    }

    /// The average, scaled by 2^10, in events per jiffy.
    pub fn scaled_average(&self) -> u32 {
        self.avg
    }

    fn direct_update(&mut self, x: u32) {
        let x_scaled = (x << Self::SCALE).wrapping_add(Self::COMPENSATION);
        self.avg = self.avg.wrapping_add(((x_scaled.wrapping_sub(self.avg) as i32) >> Self::STABILITY) as u32);
    }

    fn update_n_zero(&mut self, n: u64) {
        if n >= 100 {
            self.avg = 0;
        } else {
            for _ in 0..n {
                self.direct_update(0);
            }
        }
    }

    /// Close the epochs before `now` (Click's `update_time`).
    pub fn update_time(&mut self, now: u64) {
        if now != self.epoch {
            let current = self.current;
            self.direct_update(current);
            if self.epoch + 1 != now {
                self.update_n_zero(now.wrapping_sub(self.epoch).wrapping_sub(1));
            }
            self.current = 0;
            self.epoch = now;
        }
    }

    /// Count `delta` events at `now` (Click's `update`).
    pub fn update(&mut self, now: u64, delta: u32) {
        self.update_time(now);
        self.current = self.current.wrapping_add(delta);
    }
}

// ---------------------------------------------------------------------------------------
// Text forms

/// Click's `cp_unparse_real2` of a 64-bit fixed-point value.
pub fn unparse_real2_u64(real: u64, frac_bits: u32) -> String {
    let frac = super::values::unparse_real2((real & ((1 << frac_bits) - 1)) as u32, frac_bits);
    format!("{}{}", real >> frac_bits, &frac[1..])
}

/// Click's `cp_unparse_real10`: `real / 10^frac_digits` without trailing zeros.
fn unparse_real10(real: u64, frac_digits: u32) -> String {
    let one = 10u64.pow(frac_digits);
    let (int, frac) = (real / one, real % one);
    if frac == 0 {
        return int.to_string();
    }
    let s = format!("{int}.{frac:0w$}", w = frac_digits as usize);
    s.trim_end_matches('0').to_string()
}

/// A bandwidth as Click's `BandwidthArg` reads it, in bytes per second (rounded), and
/// whether it had no unit (Click then assumes bytes per second and may warn).
///
/// Units: `bps`, `b/s`, `baud` (bits), `Bps`, `B/s` (bytes), with prefixes `k`/`K`
/// (10^3), `M` (10^6), `G` (10^9): `10Mbps`, `1.5 MBps`, `384kbps`, `800`.
pub fn parse_bandwidth(s: &str) -> Result<(u32, bool), String> {
    let s = s.trim();
    let bad = || sluice::args::expected("bandwidth", s);
    // (suffix, power of ten, factor) as in Click's byte_bandwidth_units.
    const UNITS: &[(&str, i32, u32)] =
        &[("baud", -3, 125), ("bps", -3, 125), ("b/s", -3, 125), ("Bps", 0, 1), ("B/s", 0, 1)];
    let mut num = s;
    let (mut power, mut factor, mut unitless) = (0i32, 1u32, true);
    if let Some(&(u, p, f)) = UNITS.iter().find(|(u, _, _)| s.ends_with(u)) {
        num = &s[..s.len() - u.len()];
        power = p;
        factor = f;
        unitless = false;
        if let Some(c) = num.chars().last() {
            let add = match c {
                'k' | 'K' => Some(3),
                'M' => Some(6),
                'G' => Some(9),
                _ => None,
            };
            if let Some(a) = add {
                power += a;
                num = &num[..num.len() - 1];
            }
        }
        num = num.trim_end();
    }
    // The number: digits, an optional fraction, an optional exponent.
    let (mantissa, exp) = match num.find(['e', 'E']) {
        Some(i) => (&num[..i], num[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (num, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits: String = int.chars().chain(frac.chars()).collect();
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Err("out of range".into());
    }
    let mut n: u128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad())? };
    n *= u128::from(factor);
    let scale = i64::from(power) + i64::from(exp) - frac.len() as i64;
    let value = if scale >= 0 {
        if scale > 12 && n != 0 {
            return Err("out of range".into());
        }
        n.checked_mul(10u128.pow(scale as u32)).ok_or("out of range")?
    } else if scale < -38 {
        0
    } else {
        let den = 10u128.pow((-scale) as u32);
        (n + den / 2) / den
    };
    let v = u32::try_from(value).map_err(|_| "out of range".to_string())?;
    Ok((v, unitless && v != 0))
}

/// Click's `BandwidthArg::unparse`: `800kbps`, `12Mbps`, `1.5Gbps`, `600MBps`.
pub fn unparse_bandwidth(x: u32) -> String {
    let x64 = u64::from(x);
    if x >= 0x2000_0000 {
        unparse_real10(x64, 6) + "MBps"
    } else if x >= 125_000_000 {
        unparse_real10(x64 * 8, 9) + "Gbps"
    } else if x >= 125_000 {
        unparse_real10(x64 * 8, 6) + "Mbps"
    } else {
        unparse_real10(x64 * 8, 3) + "kbps"
    }
}

/// A time argument in whole milliseconds, rounded, as Click's `SecondsArg(3)` reads it.
pub fn millis_rounded(d: std::time::Duration) -> u32 {
    u32::try_from((d.as_nanos() + 500_000) / 1_000_000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_rate_spreads_events_over_the_second() {
        // 1000 per second: ugap 4096000, so `need` is the number of whole milliseconds.
        let mut g = GapRate::new(1000);
        let mut sent = 0;
        // One decision per 100 us over three seconds, taking every event allowed.
        for t in 0..30_000u64 {
            let us = t * 100;
            while g.need_update(us / 1_000_000, (us % 1_000_000) as u32) {
                g.update();
                sent += 1;
            }
        }
        assert!((2990..=3002).contains(&sent), "{sent}");
        // A fresh GapRate lets one event through at once (Click's reset rule).
        let mut g = GapRate::new(10);
        assert!(g.need_update(5, 0));
        g.update();
        assert!(!g.need_update(5, 1));
        // 10/s: the next one is allowed 100 ms into the second.
        assert!(!g.need_update(5, 99_000));
        assert!(g.need_update(5, 100_000));
    }

    #[test]
    fn gap_rate_allows_a_catch_up_burst_after_idle_seconds() {
        // Click subtracts one second's worth when a new second starts, whatever the gap: a
        // sender that was slow gets to catch up within the next second.
        let mut g = GapRate::new(100);
        assert!(g.need_update(0, 0));
        g.update();
        for _ in 0..9 {
            g.update();
        }
        // sec_count 10; at second 1 it becomes -90: 90 + need events pass at once.
        let mut burst = 0;
        while g.need_update(1, 0) {
            g.update();
            burst += 1;
        }
        assert_eq!(burst, 91);
        // Rates beyond MAX_RATE are clamped.
        assert_eq!(GapRate::new(u32::MAX).rate(), GapRate::MAX_RATE);
    }

    #[test]
    fn token_bucket_matches_click_arithmetic() {
        let mut b = TokenBucket::new();
        b.assign(1000, 20);
        assert_eq!(b.capacity(), 20);
        assert_eq!(b.rate(), 1000);
        // Starts full once refilled.
        b.refill(12345);
        assert_eq!(b.size(), 20);
        for _ in 0..20 {
            assert!(b.contains(1));
            b.remove(1);
        }
        assert!(!b.contains(1));
        assert_eq!(b.time_until_contains(1), 1);
        b.refill(12345);
        assert!(!b.contains(1));
        b.refill(12346);
        assert_eq!(b.size(), 1);
        b.refill(12356);
        assert_eq!(b.size(), 11);
        b.refill(99999);
        assert_eq!(b.size(), 20, "capped at the capacity");
        // More than the capacity is never contained; removing it empties the bucket.
        assert!(!b.contains(21));
        b.remove(21);
        assert_eq!(b.size(), 0);
        // A capacity below one tick's worth is raised: rate 10000 needs at least 10.
        let mut b = TokenBucket::new();
        b.assign(10_000, 1);
        assert_eq!(b.capacity(), 10);
        // Rate 0 is idle: it never refills after the first fill.
        let mut b = TokenBucket::new();
        b.assign(0, 5);
        b.refill(1);
        assert_eq!(b.time_until_contains(u32::MAX), u32::MAX);
    }

    #[test]
    fn token_bucket_assign_keeps_the_fraction() {
        let mut b = TokenBucket::new();
        b.assign(100, 10);
        b.refill(0);
        b.remove(5);
        assert_eq!(b.size(), 5);
        b.assign(1000, 20);
        // Half full stays half full.
        assert!((9..=10).contains(&b.size()), "{}", b.size());
    }

    #[test]
    fn rate_ewma_is_click_fixed_point() {
        let mut r = RateEwma::new(0);
        for j in 0..1000 {
            r.update(j, 5);
        }
        r.update_time(1000);
        // Converges to 5 per jiffy: 5 << 10, give or take Click's compensation.
        let v = r.scaled_average();
        assert!((5 * 1024 - 16..=5 * 1024 + 16).contains(&v), "{v}");
        // 100 idle jiffies or more reset it to 0 (Click's update_n shortcut).
        r.update_time(1101);
        assert_eq!(r.scaled_average(), 0);
        // A single epoch: ((x << 10) + 8) >> 4.
        let mut r = RateEwma::new(0);
        r.update(0, 43);
        r.update_time(1);
        assert_eq!(r.scaled_average(), ((43 << 10) + 8) >> 4);
    }

    #[test]
    fn bandwidths_parse_and_unparse_as_click() {
        assert_eq!(parse_bandwidth("800"), Ok((800, true)));
        assert_eq!(parse_bandwidth("0"), Ok((0, false)));
        assert_eq!(parse_bandwidth("1Mbps"), Ok((125_000, false)));
        assert_eq!(parse_bandwidth("1.5 MBps"), Ok((1_500_000, false)));
        assert_eq!(parse_bandwidth("384kbps"), Ok((48_000, false)));
        assert_eq!(parse_bandwidth("20kBps"), Ok((20_000, false)));
        assert_eq!(parse_bandwidth("1Kbps"), Ok((125, false)));
        assert_eq!(parse_bandwidth("12bps"), Ok((2, false)), "1.5 rounds up");
        assert_eq!(parse_bandwidth("1e3Bps"), Ok((1000, false)));
        assert_eq!(parse_bandwidth("100B/s"), Ok((100, false)));
        assert_eq!(parse_bandwidth("10Gbps"), Ok((1_250_000_000, false)));
        assert!(parse_bandwidth("100GBps").unwrap_err().contains("out of range"));
        assert!(parse_bandwidth("fast").is_err());
        assert!(parse_bandwidth("-1").is_err());
        assert!(parse_bandwidth("10 parsecs").is_err());
        assert_eq!(unparse_bandwidth(125_000), "1Mbps");
        assert_eq!(unparse_bandwidth(48_000), "384kbps");
        assert_eq!(unparse_bandwidth(100), "0.8kbps");
        assert_eq!(unparse_bandwidth(1_250_000_000), "1250MBps");
        assert_eq!(unparse_bandwidth(125_000_000), "1Gbps");
        assert_eq!(unparse_bandwidth(0x2000_0000), "536.870912MBps");
        assert_eq!(unparse_real2_u64(5 << 10, 10), "5");
        assert_eq!(unparse_real2_u64(3 * 1000, 10), "2.93");
        assert_eq!(unparse_real2_u64((1 << 40) + 512, 10), "1073741824.5");
    }
}

//! Click's text forms of values that handlers read and write: timestamps, time intervals
//! and fixed-point probabilities.
//!
//! Handlers answer exactly what Click answers, so scripts that read them keep working:
//! `Timestamp::unparse` (`12.500000`), `Timestamp::unparse_interval` (`500ms`, `1.250000s`)
//! and `cp_unparse_real2` (Knuth's shortest round-tripping decimal of a binary fraction).

use std::time::Duration;

/// Click's `Timestamp::unparse` of a time in nanoseconds: seconds, a point, and six digits
/// (nine when the value is not a whole number of microseconds).
pub fn timestamp(ns: u64) -> String {
    let (sec, sub) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if sub.is_multiple_of(1000) {
        format!("{sec}.{:06}", sub / 1000)
    } else {
        format!("{sec}.{sub:09}")
    }
}

/// Click's `Timestamp::unparse_interval`: `500ms`, `250us`, `7ns` below one second, else
/// the timestamp form with an `s` (`1.500000s`).
pub fn interval(d: Duration) -> String {
    if d.as_secs() == 0 {
        let ns = d.subsec_nanos();
        if ns.is_multiple_of(1_000_000) {
            format!("{}ms", ns / 1_000_000)
        } else if ns.is_multiple_of(1000) {
            format!("{}us", ns / 1000)
        } else {
            format!("{ns}ns")
        }
    } else {
        format!("{}s", timestamp(d.as_nanos() as u64))
    }
}

/// Click's `FixedPointArg(frac_bits)`: a nonnegative decimal number (`0.25`, `1`, `.5`,
/// `1e-2`) as a fixed-point value with `frac_bits` fraction bits, rounded to nearest.
pub fn parse_real2(s: &str, frac_bits: u32) -> Result<u32, String> {
    let bad = || sluice::args::expected("real number", s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // value = digits / 10^scale, computed exactly in 128 bits (digits beyond 30 cannot
    // change a 32-bit result).
    let digits: String = int.chars().chain(frac.chars()).collect();
    let digits = digits.trim_start_matches('0');
    let scale = frac.len() as i64 - i64::from(exp);
    let too_big = || format!("value {s} out of range");
    let kept = digits.len().min(30);
    let mut num: u128 = if kept == 0 { 0 } else { digits[..kept].parse().map_err(|_| bad())? };
    let scale = scale - (digits.len() - kept) as i64;
    let mut den: u128 = 1;
    if scale >= 0 {
        if scale > 38 {
            return Ok(0);
        }
        den = 10u128.pow(scale as u32);
    } else {
        for _ in 0..(-scale) {
            num = num.checked_mul(10).ok_or_else(too_big)?;
        }
    }
    let scaled = num.checked_shl(frac_bits).filter(|v| v >> frac_bits == num).ok_or_else(too_big)?;
    let v = (scaled + den / 2) / den;
    u32::try_from(v).map_err(|_| too_big())
}

/// Click's `cp_unparse_real2`: the shortest decimal that reads back as the same fixed-point
/// value (Knuth's `print_scaled`), with Click's 32-bit wrapping arithmetic.
pub fn unparse_real2(real: u32, frac_bits: u32) -> String {
    let mut s = (real >> frac_bits).to_string();
    let one: u32 = 1 << frac_bits;
    let mut real = real & (one - 1);
    if real == 0 {
        return s;
    }
    s.push('.');
    real = real.wrapping_mul(10).wrapping_add(5);
    let mut allowable: u32 = 10;
    let mut rounder: u32 = 5;
    while rounder < (one >> 1) {
        rounder = rounder.wrapping_mul(10);
    }
    loop {
        if allowable > one {
            real = real.wrapping_add((one >> 1).wrapping_sub(rounder));
        }
        s.push(char::from(b'0' + (real >> frac_bits) as u8));
        real = (real & (one - 1)).wrapping_mul(10);
        allowable = allowable.wrapping_mul(10);
        if real <= allowable {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_intervals() {
        assert_eq!(timestamp(0), "0.000000");
        assert_eq!(timestamp(12_500_000_000), "12.500000");
        assert_eq!(timestamp(1_000_000_007), "1.000000007");
        assert_eq!(interval(Duration::from_millis(500)), "500ms");
        assert_eq!(interval(Duration::from_micros(250)), "250us");
        assert_eq!(interval(Duration::from_nanos(7)), "7ns");
        assert_eq!(interval(Duration::ZERO), "0ms");
        assert_eq!(interval(Duration::from_millis(1500)), "1.500000s");
    }

    #[test]
    fn fixed_point_round_trips() {
        const SHIFT: u32 = 28;
        let one = 1u32 << SHIFT;
        assert_eq!(parse_real2("1", SHIFT), Ok(one));
        assert_eq!(parse_real2("0.5", SHIFT), Ok(one / 2));
        assert_eq!(parse_real2(".25", SHIFT), Ok(one / 4));
        assert_eq!(parse_real2("25e-2", SHIFT), Ok(one / 4));
        assert_eq!(parse_real2("0", SHIFT), Ok(0));
        assert_eq!(parse_real2("0.1", SHIFT), Ok(26_843_546));
        assert!(parse_real2("-0.5", SHIFT).is_err());
        assert!(parse_real2("abc", SHIFT).is_err());
        assert!(parse_real2("", SHIFT).is_err());
        assert!(parse_real2("99", SHIFT).is_err());
        assert_eq!(unparse_real2(one, SHIFT), "1");
        assert_eq!(unparse_real2(one / 2, SHIFT), "0.5");
        assert_eq!(unparse_real2(one / 4, SHIFT), "0.25");
        assert_eq!(unparse_real2(0, SHIFT), "0");
        assert_eq!(unparse_real2(26_843_546, SHIFT), "0.1");
        for v in [1u32, 3, 1000, 26_843_545, 99_999_999, one - 1, one / 3, 12_345_678] {
            let text = unparse_real2(v, SHIFT);
            assert_eq!(parse_real2(&text, SHIFT), Ok(v), "{v} -> {text}");
        }
    }
}

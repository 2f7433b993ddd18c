//! [`FromArg`] for numbers, booleans, strings, bytes, words and times.

use std::fmt;
use std::time::Duration;

use super::quote::{unquote, unquote_bytes};
use super::{expected, shown, FromArg};

// ---------------------------------------------------------------- integers

/// Parses Click integer syntax: optional sign, then `0x` hex, `0b` binary,
/// leading-`0` octal or decimal digits, with single `_` allowed between digits.
/// Returns the sign and the magnitude (`None` if it does not even fit a u128).
fn parse_integer(s: &str) -> Result<(bool, Option<u128>), String> {
    let bad = || expected("integer", s);
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (base, digits, base_name) = if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, d, "hexadecimal")
    } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, d, "binary")
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..], "octal")
    } else {
        (10, body, "decimal")
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let mut magnitude = Some(0u128);
    let mut prev_digit = false;
    let mut chars = digits.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            // An underscore must sit between two digits, as in Click.
            let next_digit = chars.peek().is_some_and(|n| n.is_digit(base));
            if !prev_digit || !next_digit {
                return Err(bad());
            }
            prev_digit = false;
            continue;
        }
        let Some(d) = c.to_digit(base) else {
            // "08" is a likely mistake under Click's octal rule; say so.
            if c.is_ascii_digit() && base == 8 {
                return Err(format!("invalid digit '{c}' in octal integer {} (a leading 0 means octal)", shown(s)));
            }
            if c.is_ascii_alphanumeric() && base != 10 {
                return Err(format!("invalid digit '{c}' in {base_name} integer {}", shown(s)));
            }
            return Err(bad());
        };
        magnitude = magnitude.and_then(|m| m.checked_mul(u128::from(base))).and_then(|m| m.checked_add(u128::from(d)));
        prev_digit = true;
    }
    Ok((negative, magnitude))
}

macro_rules! int_from_arg {
    ($($t:ty),*) => {$(
        impl FromArg for $t {
            const DESCRIPTION: &'static str = "integer";
            fn from_arg(s: &str) -> Result<Self, String> {
                let (negative, magnitude) = parse_integer(s)?;
                let value = magnitude.and_then(|m| {
                    if negative {
                        i128::try_from(m).ok().and_then(|v| <$t>::try_from(-v).ok())
                    } else {
                        <$t>::try_from(m).ok()
                    }
                });
                value.ok_or_else(|| {
                    format!("value {} out of range for {} ({}..={})", shown(s), stringify!($t), <$t>::MIN, <$t>::MAX)
                })
            }
        }
    )*};
}

int_from_arg!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

// ---------------------------------------------------------------- reals, booleans

impl FromArg for f64 {
    const DESCRIPTION: &'static str = "real number";
    fn from_arg(s: &str) -> Result<Self, String> {
        // Rust's parser also takes "inf" and "NaN", which no configuration means.
        let value: f64 = s.parse().map_err(|_| expected(Self::DESCRIPTION, s))?;
        if value.is_finite() {
            Ok(value)
        } else if s.bytes().any(|b| b.is_ascii_digit()) {
            Err(format!("value {} out of range for a real number", shown(s)))
        } else {
            Err(expected(Self::DESCRIPTION, s))
        }
    }
}

/// Click's boolean words, matched case-insensitively (Click itself is case-sensitive).
impl FromArg for bool {
    const DESCRIPTION: &'static str = "boolean (true/false, yes/no, 1/0)";
    fn from_arg(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "t" | "y" => Ok(true),
            "false" | "no" | "0" | "f" | "n" => Ok(false),
            _ => Err(expected(Self::DESCRIPTION, s)),
        }
    }
    /// `STOP` alone means `STOP true`.
    fn flag() -> Option<Self> {
        Some(true)
    }
}

// ---------------------------------------------------------------- strings

/// A string with one level of Click quoting removed (see [`unquote`]).
impl FromArg for String {
    const DESCRIPTION: &'static str = "string";
    fn from_arg(s: &str) -> Result<Self, String> {
        unquote(s)
    }
}

/// Raw bytes: a string with quoting removed, e.g. `\<00 11 22>` or `"GET /\r\n"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl FromArg for Bytes {
    const DESCRIPTION: &'static str = "data";
    fn from_arg(s: &str) -> Result<Self, String> {
        unquote_bytes(s).map(Bytes)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// One word: after unquoting, printable ASCII without spaces, quotes, backslash or comma (Click's `cp_is_word`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Word(pub String);

impl FromArg for Word {
    const DESCRIPTION: &'static str = "word";
    fn from_arg(s: &str) -> Result<Self, String> {
        let text = unquote(s)?;
        let ok = !text.is_empty() && text.bytes().all(|b| (b'!'..=b'~').contains(&b) && !b"\"'\\,".contains(&b));
        if ok {
            Ok(Word(text))
        } else {
            Err(expected(Self::DESCRIPTION, s))
        }
    }
}

impl std::ops::Deref for Word {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------- time

/// Digits kept in a decimal mantissa; more only add precision below a nanosecond
/// for any time that fits in a Duration, and 30 digits times 86400 fits a u128.
const MANTISSA_DIGITS: u32 = 30;

/// A nonnegative decimal number `digits[.digits][e[+-]digits]` as mantissa × 10^exponent.
fn parse_decimal(s: &str) -> Option<(u128, i64)> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (number, exp_text) = match s.find(['e', 'E']) {
        Some(k) => (&s[..k], Some(&s[k + 1..])),
        None => (s, None),
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let (mut mantissa, mut exponent, mut kept, mut any_digit) = (0u128, 0i64, 0u32, false);
    for (part, is_fraction) in [(int_part, false), (frac_part, true)] {
        for (k, c) in part.char_indices() {
            if c == '_' {
                let between = k > 0
                    && part[..k].ends_with(|p: char| p.is_ascii_digit())
                    && part[k + 1..].starts_with(|n: char| n.is_ascii_digit());
                if !between {
                    return None;
                }
                continue;
            }
            let d = c.to_digit(10)?;
            any_digit = true;
            if kept < MANTISSA_DIGITS && (mantissa != 0 || d != 0) {
                mantissa = mantissa * 10 + u128::from(d);
                kept += 1;
                if is_fraction {
                    exponent -= 1;
                }
            } else if mantissa == 0 {
                // Leading zeros carry no digits but still shift fractional places.
                if is_fraction {
                    exponent -= 1;
                }
            } else if !is_fraction {
                // Dropped integer digit: keep its place value.
                exponent += 1;
            }
        }
    }
    if !any_digit {
        return None;
    }
    if let Some(e) = exp_text {
        let (sign, digits) = match e.as_bytes().first() {
            Some(b'-') => (-1, &e[1..]),
            Some(b'+') => (1, &e[1..]),
            _ => (1, e),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Saturate: anything this large is out of range (or zero) anyway.
        let value: i64 = digits.parse().unwrap_or(1_000_000).min(1_000_000);
        exponent += sign * value;
    }
    Some((mantissa, exponent))
}

/// Click's time units: power of ten and factor to seconds.
fn time_unit(unit: &str) -> Option<(i64, u128)> {
    Some(match unit {
        "" | "s" | "sec" => (0, 1),
        "ms" | "msec" => (-3, 1),
        "us" | "usec" => (-6, 1),
        "ns" | "nsec" => (-9, 1),
        "m" | "min" => (0, 60),
        "h" | "hr" => (0, 3600),
        "d" | "day" => (0, 86400),
        _ => return None,
    })
}

/// Times in Click syntax: a nonnegative number with an optional unit (`s`, `sec`,
/// `ms`, `msec`, `us`, `usec`, `ns`, `nsec`, `m`, `min`, `h`, `hr`, `d`, `day`);
/// no unit means seconds. Rounded to the nearest nanosecond.
impl FromArg for Duration {
    const DESCRIPTION: &'static str = "time (e.g. 1.5, 10ms, 2min)";
    fn from_arg(s: &str) -> Result<Self, String> {
        let bad = || expected(Self::DESCRIPTION, s);
        let unit_start = s.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len();
        let (number, unit) = (s[..unit_start].trim_end(), &s[unit_start..]);
        // "1e5" ends in a digit, so a trailing 'e' never steals an exponent; "5e" is just bad.
        let Some((power, factor)) = time_unit(unit) else {
            return Err(format!("unknown time unit '{unit}' in {} (use s, ms, us, ns, min, h or d)", shown(s)));
        };
        if number.starts_with('-') && parse_decimal(&number[1..]).is_some() {
            return Err(format!("time {} must not be negative", shown(s)));
        }
        let (mantissa, exponent) = parse_decimal(number).ok_or_else(bad)?;
        let nanos =
            scale(mantissa * factor, exponent + power + 9).ok_or_else(|| format!("time {} out of range", shown(s)))?;
        let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| format!("time {} out of range", shown(s)))?;
        Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
    }
}

/// `value × 10^exp`, rounding half up when `exp < 0`; `None` on overflow.
fn scale(value: u128, exp: i64) -> Option<u128> {
    if value == 0 {
        return Some(0);
    }
    if exp >= 0 {
        let exp = u32::try_from(exp).ok()?;
        return 10u128.checked_pow(exp).and_then(|p| value.checked_mul(p));
    }
    match 10u128.checked_pow(u32::try_from(-exp).ok()?) {
        Some(div) => Some(value / div + u128::from(value % div >= div.div_ceil(2))),
        // Dividing by more than 10^38 leaves nothing of a value below 2^128.
        None => Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_good() {
        assert_eq!(u32::from_arg("0"), Ok(0));
        assert_eq!(u32::from_arg("42"), Ok(42));
        assert_eq!(u32::from_arg("+42"), Ok(42));
        assert_eq!(u32::from_arg("0x1F"), Ok(31));
        assert_eq!(u32::from_arg("0Xff"), Ok(255));
        assert_eq!(u32::from_arg("0b101"), Ok(5));
        assert_eq!(u32::from_arg("017"), Ok(15));
        assert_eq!(u32::from_arg("1_000_000"), Ok(1_000_000));
        assert_eq!(u8::from_arg("255"), Ok(255));
        assert_eq!(u16::from_arg("65535"), Ok(65535));
        assert_eq!(u64::from_arg("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(usize::from_arg("0x10"), Ok(16));
        assert_eq!(i32::from_arg("-5"), Ok(-5));
        assert_eq!(i32::from_arg("-0x10"), Ok(-16));
        assert_eq!(i32::from_arg("-2147483648"), Ok(i32::MIN));
        assert_eq!(i64::from_arg("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(u8::from_arg("-0"), Ok(0));
    }

    #[test]
    fn integers_bad() {
        assert_eq!(u32::from_arg("ten").unwrap_err(), "expected integer, found 'ten'");
        assert_eq!(u8::from_arg("256").unwrap_err(), "value '256' out of range for u8 (0..=255)");
        assert_eq!(u8::from_arg("-1").unwrap_err(), "value '-1' out of range for u8 (0..=255)");
        assert!(i32::from_arg("2147483648").unwrap_err().contains("out of range for i32"));
        assert!(u64::from_arg("99999999999999999999999999999999999999999999").unwrap_err().contains("out of range"));
        assert!(u32::from_arg("08").unwrap_err().contains("octal"));
        assert!(u32::from_arg("0x1g").unwrap_err().contains("hexadecimal"));
        for s in ["", " 1", "1 ", "1.0", "0x", "0b", "-", "+", "1_", "_1", "1__0", "0x_1", "1e3", "--1", "+-1", "١"] {
            assert!(i64::from_arg(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn reals() {
        assert_eq!(f64::from_arg("0.5"), Ok(0.5));
        assert_eq!(f64::from_arg("-1e3"), Ok(-1000.0));
        assert_eq!(f64::from_arg("7"), Ok(7.0));
        assert_eq!(f64::from_arg(".25"), Ok(0.25));
        assert_eq!(f64::from_arg("x").unwrap_err(), "expected real number, found 'x'");
        assert!(f64::from_arg("1e400").unwrap_err().contains("out of range"));
        for s in ["", "inf", "NaN", "infinity", "1.0.0", " 1", "0x10"] {
            assert!(f64::from_arg(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn booleans() {
        for s in ["true", "TRUE", "True", "yes", "YES", "1", "t", "T", "y", "Y"] {
            assert_eq!(bool::from_arg(s), Ok(true), "{s}");
        }
        for s in ["false", "False", "no", "No", "0", "f", "n", "N"] {
            assert_eq!(bool::from_arg(s), Ok(false), "{s}");
        }
        for s in ["", "2", "on", "off", "yess", "tru", " true"] {
            assert!(bool::from_arg(s).is_err(), "{s:?} should fail");
        }
        assert_eq!(bool::flag(), Some(true));
        assert_eq!(u32::flag(), None);
    }

    #[test]
    fn strings_bytes_words() {
        assert_eq!(String::from_arg(r#""x y.pcap""#), Ok("x y.pcap".to_string()));
        assert_eq!(String::from_arg("plain text"), Ok("plain text".to_string()));
        assert!(String::from_arg(r#""open"#).is_err());
        assert_eq!(Bytes::from_arg(r"\<00 11 22>"), Ok(Bytes(vec![0, 0x11, 0x22])));
        assert_eq!(Bytes::from_arg(r#""ab\n""#).unwrap().0, b"ab\n");
        assert!(Bytes::from_arg(r"\<0>").is_err());
        assert_eq!(Word::from_arg("eth0"), Ok(Word("eth0".to_string())));
        assert_eq!(Word::from_arg("'eth0'").unwrap().to_string(), "eth0");
        assert_eq!(Word::from_arg("a b").unwrap_err(), "expected word, found 'a b'");
        for s in ["", "''", "\"a b\"", "a,b", "é", "'a\"b'"] {
            assert!(Word::from_arg(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn times_good() {
        let ms = Duration::from_millis;
        assert_eq!(Duration::from_arg("2"), Ok(Duration::from_secs(2)));
        assert_eq!(Duration::from_arg("0.5"), Ok(ms(500)));
        assert_eq!(Duration::from_arg("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(Duration::from_arg("1.5sec"), Ok(ms(1500)));
        assert_eq!(Duration::from_arg("10ms"), Ok(ms(10)));
        assert_eq!(Duration::from_arg("10 msec"), Ok(ms(10)));
        assert_eq!(Duration::from_arg("3us"), Ok(Duration::from_micros(3)));
        assert_eq!(Duration::from_arg("3usec"), Ok(Duration::from_micros(3)));
        assert_eq!(Duration::from_arg("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(Duration::from_arg("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(Duration::from_arg("1.5min"), Ok(Duration::from_secs(90)));
        assert_eq!(Duration::from_arg("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(Duration::from_arg("2hr"), Ok(Duration::from_secs(7200)));
        assert_eq!(Duration::from_arg("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(Duration::from_arg("1e-3"), Ok(ms(1)));
        assert_eq!(Duration::from_arg("1e3ms"), Ok(Duration::from_secs(1)));
        assert_eq!(Duration::from_arg(".25"), Ok(ms(250)));
        assert_eq!(Duration::from_arg("0.0000000004"), Ok(Duration::ZERO));
        assert_eq!(Duration::from_arg("0.0000000005"), Ok(Duration::from_nanos(1)));
        assert_eq!(Duration::from_arg("1_000ms"), Ok(Duration::from_secs(1)));
        assert_eq!(Duration::from_arg("0.1234567891234567891234567891234567"), Ok(Duration::from_nanos(123_456_789)));
        assert_eq!(Duration::from_arg("1e-1000000000000"), Ok(Duration::ZERO));
    }

    #[test]
    fn times_bad() {
        assert!(Duration::from_arg("5 parsecs").unwrap_err().contains("unknown time unit 'parsecs'"));
        assert!(Duration::from_arg("-1s").unwrap_err().contains("negative"));
        assert!(Duration::from_arg("1e30").unwrap_err().contains("out of range"));
        assert!(Duration::from_arg("99999999999999999999999999999999999999999999d")
            .unwrap_err()
            .contains("out of range"));
        for s in ["", "s", "ms", ".", "1..2", "1e", "1e+", "x", "1.2.3s", "1 2s", "0x10s", "1_s", "∞", "1é"] {
            assert!(Duration::from_arg(s).is_err(), "{s:?} should fail");
        }
    }
}

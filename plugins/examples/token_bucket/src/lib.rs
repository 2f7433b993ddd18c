//! `TokenBucket(RATE, BURST, ...)`: a per-flow token-bucket rate limiter, as a Sluice plugin
//! written in Rust with the `sluice-plugins` SDK.
//!
//! Build it with `cargo build --release -p sluice-token-bucket` (the shared object is
//! `target/release/libsluice_token_bucket.so`), then use it in a graph:
//!
//! ```text
//! require(library ../target/release/libsluice_token_bucket.so);
//! FromDevice(eth0) -> tb :: TokenBucket(RATE 1000, BURST 50) -> ToDevice(eth1);
//! ```
//!
//! or load it into a running Sluice and swap it in: `sluicectl load PATH`, then
//! `sluicectl swap x 'TokenBucket(1000, 50)'`. The buckets survive a swap to another
//! `TokenBucket`, for instance version 2 of this plugin (the `v2` feature).

pub mod flow;

use flow::{Limiter, Offset, MAX_FLOWS};
use sluice_plugins::abi::{HANDLER_READ as R, HANDLER_WRITE as W};
use sluice_plugins::{export_plugin, BuildInfo, Packet, PluginElement, VERDICT_DROP};
use std::time::Instant;

/// This build's version of the plugin.
pub const VERSION: &str = if cfg!(feature = "v2") { "2.0" } else { "1.0" };

/// The element. One instance per worker, each with its own flow table.
pub struct TokenBucket {
    limiter: Limiter,
    offset: Offset,
    /// Verdict for a packet over its rate: output 1 when connected, else drop.
    over: u16,
    /// Clock origin of this instance (saved state carries ages, not instants).
    epoch: Instant,
}

impl TokenBucket {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// The arguments of `TokenBucket(...)`.
#[derive(Debug, PartialEq)]
pub struct Config {
    pub rate: f64,
    pub burst: u32,
    pub flows: usize,
    pub offset: Offset,
}

fn parse_rate(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!("RATE: expected a number of packets per second (≥ 0), found '{v}'")),
    }
}

fn parse_burst(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(b) if b >= 1 => Ok(b),
        _ => Err(format!("BURST: expected a whole number of packets (≥ 1), found '{v}'")),
    }
}

/// Parse Click-style arguments: `RATE, BURST` positionally or as keywords, then the
/// keywords `FLOWS` and `OFFSET`.
pub fn parse_config(config: &str) -> Result<Config, String> {
    let mut c = Config { rate: -1.0, burst: 0, flows: 4096, offset: Offset::Auto };
    let mut positional = 0;
    for arg in config.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let (key, value) = match arg.split_once(char::is_whitespace) {
            Some((k, v)) if k.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') => (k, v.trim()),
            _ => {
                positional += 1;
                match positional {
                    1 => ("RATE", arg),
                    2 => ("BURST", arg),
                    _ => return Err(format!("too many arguments: '{arg}' (expected RATE, BURST, then keywords)")),
                }
            }
        };
        match key {
            "RATE" => c.rate = parse_rate(value)?,
            "BURST" => c.burst = parse_burst(value)?,
            "FLOWS" => {
                c.flows = match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_FLOWS).contains(&n) => n,
                    _ => return Err(format!("FLOWS: expected a table size from 1 to {MAX_FLOWS}, found '{value}'")),
                }
            }
            "OFFSET" => {
                c.offset = match value {
                    "auto" | "AUTO" => Offset::Auto,
                    v => Offset::At(
                        v.parse().map_err(|_| format!("OFFSET: expected a byte offset or 'auto', found '{v}'"))?,
                    ),
                }
            }
            k => return Err(format!("unknown keyword '{k}' (TokenBucket takes RATE, BURST, FLOWS, OFFSET)")),
        }
    }
    if c.rate < 0.0 || c.burst == 0 {
        return Err("missing RATE or BURST: use TokenBucket(RATE, BURST), e.g. TokenBucket(1000, 50)".into());
    }
    Ok(c)
}

impl PluginElement for TokenBucket {
    const CLASS: &'static str = "TokenBucket";
    const PORTS: &'static str = "1/1-2";
    const DOC: &'static str = "TokenBucket(RATE, BURST [, KEYWORDS])

Limits each IPv4 flow to RATE packets per second, with bursts of BURST packets.

A flow is an IPv4 5-tuple (addresses, protocol, ports) read from the packet bytes: after
an Ethernet header (with or without one 802.1Q tag) or at the start of the packet when it
is an IPv4 header (OFFSET auto), or at OFFSET. Each flow has a bucket of BURST tokens that
refills at RATE tokens per second; a packet takes a token, or is over the rate. Packets
within the rate go to output 0; packets over it go to output 1 when it is connected, else
they are dropped (and counted in `drops`). Packets that are not IPv4 pass, uncounted by
the buckets.

The flow table has FLOWS slots (rounded up to a power of two, in sets of 4), allocated
once: when a set is full, a new flow replaces the one seen longest ago. Each worker has
its own table. The buckets and counters carry over to a replacing TokenBucket in a swap
(another configuration or version of this plugin).

Keywords: RATE (packets/s, >= 0), BURST (packets, >= 1), FLOWS (default 4096), OFFSET
(byte offset of the IPv4 header, or auto: the default).

Handlers: passed, limited, non_ip, flows, evictions, capacity, version (read); rate,
burst (read/write); reset (write: forget flows, zero counters).";
    const HANDLERS: &'static [(&'static str, u32)] = &[
        ("passed", R),
        ("limited", R),
        ("non_ip", R),
        ("flows", R),
        ("evictions", R),
        ("capacity", R),
        ("version", R),
        ("rate", R | W),
        ("burst", R | W),
        ("reset", W),
    ];

    fn create(config: &str, info: &BuildInfo) -> Result<Self, String> {
        let c = parse_config(config)?;
        Ok(TokenBucket {
            limiter: Limiter::new(c.rate, c.burst, c.flows),
            offset: c.offset,
            over: if info.noutputs >= 2 { 1 } else { VERDICT_DROP },
            epoch: Instant::now(),
        })
    }

    fn push(&mut self, _port: u32, pkts: &mut [Packet], verdicts: &mut [u16]) {
        // One clock read per batch: the packets of a batch arrive together.
        let now = self.now_ns();
        for (p, v) in pkts.iter().zip(verdicts.iter_mut()) {
            if !self.limiter.decide(p.data(), self.offset, now) {
                *v = self.over;
            }
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        let c = &self.limiter.counts;
        Some(match name {
            "passed" => c.passed.to_string(),
            "limited" => c.limited.to_string(),
            "non_ip" => c.non_ip.to_string(),
            "evictions" => c.evictions.to_string(),
            "flows" => self.limiter.flows().to_string(),
            "capacity" => self.limiter.capacity().to_string(),
            "version" => VERSION.to_string(),
            "rate" => self.limiter.rate().to_string(),
            "burst" => self.limiter.burst().to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        match name {
            "rate" => self.limiter.set_rate(parse_rate(value)?),
            "burst" => self.limiter.set_burst(parse_burst(value)?),
            "reset" => self.limiter.reset(),
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }

    fn save_state(&self) -> Vec<u8> {
        self.limiter.save(self.now_ns())
    }

    fn restore_state(&mut self, state: &[u8]) {
        let now = self.now_ns();
        self.limiter.restore(state, now);
    }
}

#[cfg(not(feature = "v2"))]
export_plugin!("token_bucket", "1.0", TokenBucket);
#[cfg(feature = "v2")]
export_plugin!("token_bucket", "2.0", TokenBucket);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations() {
        let c = parse_config("1000, 50").unwrap();
        assert_eq!(c, Config { rate: 1000.0, burst: 50, flows: 4096, offset: Offset::Auto });
        let c = parse_config("RATE 0.5, BURST 3, FLOWS 100, OFFSET 14").unwrap();
        assert_eq!(c, Config { rate: 0.5, burst: 3, flows: 100, offset: Offset::At(14) });
        assert_eq!(parse_config("10, 2, OFFSET auto").unwrap().offset, Offset::Auto);
        for (bad, says) in [
            ("", "missing RATE or BURST"),
            ("10", "missing RATE or BURST"),
            ("fast, 3", "RATE: expected"),
            ("10, 0", "BURST: expected"),
            ("10, 2, 3", "too many arguments"),
            ("10, 2, COLOR 3", "unknown keyword 'COLOR'"),
            ("10, 2, FLOWS 0", "FLOWS: expected"),
            ("10, 2, OFFSET x", "OFFSET: expected"),
        ] {
            let e = parse_config(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_descriptor_names_the_class_and_version() {
        let d = unsafe { &*sluice_plugin_v1() };
        assert_eq!(d.magic, sluice_plugins::abi::MAGIC);
        let version = unsafe { std::ffi::CStr::from_ptr(d.version) }.to_str().unwrap();
        assert_eq!(version, VERSION);
        let class = unsafe { std::ffi::CStr::from_ptr((*d.classes).name) }.to_str().unwrap();
        assert_eq!(class, "TokenBucket");
    }
}

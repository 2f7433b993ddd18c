//! `Shaper` and `BandwidthShaper`: limit the rate of successful pulls.

use super::rate_control::{now_timestamp, parse_bandwidth, unparse_bandwidth, GapRate};
use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};

sluice::element_class! {
    /// Shaper(RATE)
    ///
    /// Shapes traffic to maximum rate (pkt/s).
    ///
    /// Shaper is a pull element that allows a maximum of RATE packets per second to pass
    /// through. That is, traffic is shaped to RATE packets per second. Shaper is dependent
    /// on the timing of its pull requests; if it receives only sporadic pull requests,
    /// then it will emit packets only sporadically. However, if it receives a large number
    /// of evenly-spaced pull requests, then it will emit packets at the specified RATE with
    /// low burstiness.
    ///
    /// The rate is Click's `GapRate`, in its arithmetic: within each second, the n-th
    /// packet may pass once n/RATE of the second has elapsed; when a new second starts,
    /// one second's worth is forgiven, so a stream that fell behind catches up in a burst
    /// (at most about one second's worth). A fresh Shaper (and one whose rate was just
    /// written) lets a packet through at once. Shaper cannot implement every rate smoothly:
    /// the gap is kept in 1/4096 microseconds, which only matters at very high rates.
    /// Rates above 4096000000 are lowered to it.
    ///
    /// A Sluice pull asks for up to a batch of packets: Shaper hands over as many as the
    /// rate allows at that instant, pulling them one at a time from its input, which is
    /// what Click gives to the same number of pulls in the same microsecond. Shaper never
    /// waits: a pull that comes too early gets nothing. While it is refusing pulls for the
    /// rate, Shaper tells the scheduler it has time-dependent work (`Waiting`), so the
    /// router does not end with packets still queued upstream.
    ///
    /// Ports: 1 input, 1 output, pull.
    ///
    /// # Keywords
    /// - `RATE` — unsigned, mandatory, positional. Packets per second.
    ///
    /// # Handlers
    /// - `rate` (read/write) — the RATE parameter. Writing it restarts the rate.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Queue -> Shaper(1000) -> ToDevice(eth1);
    /// ```
    pub const SHAPER = "Shaper" { ports: "1/1", processing: "l/l", handlers: HANDLERS, build: build }
}

sluice::element_class! {
    /// BandwidthShaper(RATE)
    ///
    /// Shapes traffic to maximum rate (bytes/s).
    ///
    /// BandwidthShaper is a pull element that allows a maximum of RATE bytes per second to
    /// pass through. That is, traffic is shaped to RATE bytes per second. The shaper is
    /// dependent on the timing of its pull requests; if it receives only sporadic pull
    /// requests, then it will emit packets only sporadically. However, if it receives a
    /// large number of evenly-spaced pull requests, then it will emit packets at the
    /// specified RATE with low burstiness.
    ///
    /// It is Shaper counting bytes: Click's `GapRate` in bytes, a packet may pass when the
    /// bytes sent so far this second are not ahead of the time, and its length is then
    /// counted (so one large packet may take the count ahead, and the next ones wait).
    /// See Shaper for batches, catch-up bursts and waiting.
    ///
    /// Ports: 1 input, 1 output, pull.
    ///
    /// # Keywords
    /// - `RATE` — bandwidth, mandatory, positional (`10Mbps`, `1.5MBps`; no unit: bytes
    ///   per second).
    ///
    /// # Handlers
    /// - `rate` (read/write) — the RATE parameter, in Click's form (`800kbps`, `10Mbps`).
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Queue -> BandwidthShaper(1Mbps) -> ToDevice(eth1);
    /// ```
    pub const BANDWIDTH_SHAPER = "BandwidthShaper" { ports: "1/1", processing: "l/l", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("rate", Combine::First, "the rate limit")];

fn read_rate(bytes: bool, s: &str) -> Result<u32, String> {
    if bytes {
        parse_bandwidth(s).map(|(v, _)| v)
    } else {
        u32::from_arg(s)
    }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let bytes = ctx.class == BANDWIDTH_SHAPER.name;
    let mut args = Args::new(config);
    let rate = args.read_mp::<String>("RATE")?;
    args.finish()?;
    let rate = read_rate(bytes, rate.trim()).map_err(|e| ConfigError(format!("RATE: {e}")))?;
    Ok(Box::new(Shaper::new(bytes, rate)))
}

/// The element: Click's GapRate, and whether the last pull was refused for the rate.
pub struct Shaper {
    bytes: bool,
    gap: GapRate,
    throttled: bool,
}

impl Shaper {
    fn new(bytes: bool, rate: u32) -> Self {
        Shaper { bytes, gap: GapRate::new(rate), throttled: false }
    }

    /// Packets to pass at `sec`.`usec`, pulled one by one with `pull_one` (at most `max`).
    fn shape(
        &mut self,
        sec: u64,
        usec: u32,
        max: usize,
        mut pull_one: impl FnMut() -> Option<sluice::Packet>,
    ) -> Batch {
        let mut out = Batch::new();
        self.throttled = false;
        while out.len() < max {
            if !self.gap.need_update(sec, usec) {
                self.throttled = true;
                break;
            }
            let Some(p) = pull_one() else { break };
            if self.bytes {
                self.gap.update_with(p.len() as i32);
            } else {
                self.gap.update();
            }
            let _ = out.push(p);
        }
        out
    }
}

impl Element for Shaper {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        // The task only reports whether pulls are being held back for the rate.
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, _ctx: Ctx<'_>) -> TaskStatus {
        if self.throttled {
            TaskStatus::Waiting
        } else {
            TaskStatus::Idle
        }
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let (sec, usec) = now_timestamp();
        self.shape(sec, usec, max.min(MAX_BATCH), || ctx.pull(0, 1).pop())
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "rate").then(
            || {
                if self.bytes {
                    unparse_bandwidth(self.gap.rate())
                } else {
                    self.gap.rate().to_string()
                }
            },
        )
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "rate" => {
                let rate = read_rate(self.bytes, value.trim()).map_err(|e| format!("RATE: {e}"))?;
                self.gap.set_rate(rate);
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
    use std::time::{Duration, Instant};

    /// Pull as much as allowed every `step_us` for `secs` seconds from an endless supply of
    /// `len`-byte packets; returns the packets passed per second.
    fn drive(s: &mut Shaper, len: usize, step_us: u64, secs: u64) -> Vec<usize> {
        let mut per_sec = vec![0; secs as usize];
        let mut t = 0;
        while t < secs * 1_000_000 {
            let b =
                s.shape(t / 1_000_000, (t % 1_000_000) as u32, MAX_BATCH, || Some(Packet::from_slice(&vec![0; len])));
            per_sec[(t / 1_000_000) as usize] += b.len();
            t += step_us;
        }
        per_sec
    }

    #[test]
    fn shaper_passes_rate_packets_per_second_evenly() {
        let mut s = Shaper::new(false, 1000);
        let per_sec = drive(&mut s, 60, 250, 4);
        for n in &per_sec[1..] {
            assert!((999..=1001).contains(n), "{per_sec:?}");
        }
        // Evenly: never more than one packet per pull at 4 pulls per packet interval.
        let mut s = Shaper::new(false, 1000);
        let mut t = 0u64;
        let mut most = 0;
        while t < 2_000_000 {
            let b = s.shape(t / 1_000_000, (t % 1_000_000) as u32, MAX_BATCH, || Some(Packet::from_slice(&[0])));
            most = most.max(b.len());
            t += 250;
        }
        assert!(most <= 2, "{most}");
    }

    #[test]
    fn bandwidth_shaper_counts_bytes() {
        // 100000 B/s of 1000-byte packets: 100 packets per second.
        let mut s = Shaper::new(true, 100_000);
        let per_sec = drive(&mut s, 1000, 1000, 3);
        for n in &per_sec[1..] {
            assert!((99..=101).contains(n), "{per_sec:?}");
        }
    }

    #[test]
    fn a_refused_pull_reports_waiting() {
        let mut s = Shaper::new(false, 10);
        let got = s.shape(7, 0, 64, || Some(Packet::from_slice(&[1])));
        assert_eq!(got.len(), 1, "a fresh shaper lets one through");
        assert!(s.throttled);
        let got = s.shape(7, 50_000, 64, || Some(Packet::from_slice(&[1])));
        assert!(got.is_empty() && s.throttled);
        let got = s.shape(7, 100_000, 64, || None);
        assert!(got.is_empty() && !s.throttled, "allowed, but nothing upstream: idle");
    }

    #[test]
    fn shapes_a_queue_in_a_graph_and_ends() {
        // 30 packets through Shaper(200): one at once, then 200/s: about 150 ms.
        let (src, sink) = (new_id(), new_id());
        inject(src, (0..30u8).map(|i| Packet::from_slice(&[i])));
        let t0 = Instant::now();
        let router = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "100"),
            ("s", "Shaper", "200"),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        let got = collected(sink);
        assert_eq!(got.iter().map(|p| p.data()[0]).collect::<Vec<_>>(), (0..30).collect::<Vec<_>>());
        assert!(t0.elapsed() >= Duration::from_millis(100), "{:?}", t0.elapsed());
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
    }

    #[test]
    fn handlers_and_config() {
        let mut s = build_elem(&SHAPER, "1000", 1, 1).unwrap();
        assert_eq!(s.read_handler("rate").unwrap(), "1000");
        s.write_handler("rate", "5").unwrap();
        assert_eq!(s.read_handler("rate").unwrap(), "5");
        assert!(s.write_handler("rate", "fast").unwrap_err().starts_with("RATE: "));
        let mut b = build_elem(&BANDWIDTH_SHAPER, "1Mbps", 1, 1).unwrap();
        assert_eq!(b.read_handler("rate").unwrap(), "1Mbps");
        b.write_handler("rate", "100kBps").unwrap();
        assert_eq!(b.read_handler("rate").unwrap(), "800kbps");
        assert!(build_elem(&SHAPER, "", 1, 1).is_err());
        assert!(build_elem(&SHAPER, "-1", 1, 1).is_err());
        assert!(build_elem(&SHAPER, "1, 2", 1, 1).is_err());
        assert!(build_elem(&BANDWIDTH_SHAPER, "lots", 1, 1).err().unwrap().0.starts_with("RATE: "));
    }
}

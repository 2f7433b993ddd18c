//! `Meter` and `BandwidthMeter`: classify a packet stream by its recent rate.

use super::rate_control::{now_jiffies, parse_bandwidth, unparse_real2_u64, RateEwma, CLICK_HZ};
use super::values::unparse_real2;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, State};

sluice::element_class! {
    /// Meter(RATE1, RATE2, ..., RATEn)
    ///
    /// Classifies packet stream by rate (pkt/s).
    ///
    /// Classifies packets based on the rate of packet arrival. The rate is measured in
    /// packets per second using an exponential weighted moving average. (The related
    /// BandwidthMeter element measures rates in bytes per second.)
    ///
    /// The configuration string consists of one or more rate arguments. Earlier rates in
    /// the list must be less than later rates. A Meter with n rate arguments has n+1
    /// outputs. It sends packets out the output corresponding to the current rate. If the
    /// rate is less than RATE1 packets are sent to output 0; if it is >= RATE1 but < RATE2,
    /// packets are sent to output 1; and so on. If it is >= RATEn, packets are sent to
    /// output n. The entire packet stream is sent to the output corresponding to the
    /// current rate; to split a stream at a rate, use RatedSplitter.
    ///
    /// The rate is Click's `RateEWMA`, in Click's integer arithmetic: packets are counted
    /// per jiffy (1 ms); when a jiffy ends its count is folded into the average with weight
    /// 1/16 (10 bits of fraction), each idle jiffy folds in a 0, and 100 or more idle
    /// jiffies at once reset the average to 0. Each RATE is kept as `(RATE << 10) / 1000`
    /// per jiffy, so rates are quantized to 1000/1024 packets per second (`meters` shows
    /// the values in effect). The packets of one batch arrive in the same jiffy, so they
    /// see the same average and leave by the same output, as they would in Click.
    ///
    /// As in Click (Meter shares BandwidthMeter's configuration), a RATE may be written
    /// with a bandwidth unit and is then read as that many bytes per second; without a
    /// unit it is a number of packets. Click warns about the missing unit; Sluice does not.
    ///
    /// Ports: 1 input, 2 or more outputs (one more than the rates), push.
    ///
    /// # Keywords
    /// - `RATE1`, ..., `RATEn` — unsigned, positional, at least one. Rate thresholds in
    ///   packets per second, increasing; each at most 4194303.
    ///
    /// # Handlers
    /// - `rate` (read) — the current rate estimate in packets per second (Click's text
    ///   form of a binary fraction, e.g. `2.93`). Click computes it in 32 bits and wraps
    ///   above about 4.19 million per second; Sluice does not wrap.
    /// - `meters` (read) — the thresholds in effect, one per line (Click prints several
    ///   thresholds with no separator between them).
    ///
    /// # Example
    /// ```text
    /// ... -> m :: Meter(10000) -> ...;   // above 10000 packets/s, packets go to m[1]
    /// m[1] -> Discard;
    /// ```
    pub const METER = "Meter" { ports: "1/2-", processing: "h/h", handlers: HANDLERS, build: build }
}

sluice::element_class! {
    /// BandwidthMeter(RATE1, RATE2, ..., RATEn)
    ///
    /// Classifies packet stream by arrival rate.
    ///
    /// Classifies packet stream based on the rate of packet arrival. The rate is measured
    /// in bytes per second using an exponential weighted moving average. (The related
    /// Meter element measures rates in packets per second.)
    ///
    /// The configuration string consists of one or more RATE arguments. Each RATE is a
    /// bandwidth, such as `384kbps`. Earlier rates in the list must be less than later
    /// rates. A BandwidthMeter with n rate arguments has n+1 outputs. It sends packets out
    /// the output corresponding to the current rate: below RATE1 to output 0, at least
    /// RATE1 but below RATE2 to output 1, and so on; at least RATEn to output n.
    ///
    /// The rate is Click's `RateEWMA` of bytes per jiffy (1 ms), with Click's integer
    /// arithmetic and quantization (see Meter). A RATE without a unit is read as bytes per
    /// second and, as in Click, draws a warning on standard error.
    ///
    /// Ports: 1 input, 2 or more outputs (one more than the rates), push.
    ///
    /// # Keywords
    /// - `RATE1`, ..., `RATEn` — bandwidth, positional, at least one (`20kBps`, `1Mbps`;
    ///   no unit: bytes per second). Increasing; each at most 4194303 bytes per second.
    ///
    /// # Handlers
    /// - `rate` (read) — the current rate estimate in bytes per second (Click wraps above
    ///   about 4.19 MB/s; Sluice does not).
    /// - `meters` (read) — the thresholds in effect in bytes per second, one per line.
    ///
    /// # Example
    /// ```text
    /// ... -> m :: BandwidthMeter(20kBps) -> ...;   // drop the stream above 20000 B/s
    /// m[1] -> Discard;
    /// ```
    pub const BANDWIDTH_METER = "BandwidthMeter" { ports: "1/2-", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("rate", Combine::Sum, "current rate estimate (EWMA)"),
    HandlerSpec::read("meters", Combine::First, "the rate thresholds in effect"),
];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(configure(config, ctx)?))
}

/// Click's `BandwidthMeter::configure`, shared by both classes.
fn configure(config: &str, ctx: &BuildCtx) -> Result<Meter, ConfigError> {
    let bandwidth = ctx.class == BANDWIDTH_METER.name;
    let args = sluice::args::split_args(config);
    let args: Vec<String> = args.into_iter().filter(|a| !a.trim().is_empty()).collect();
    if args.is_empty() {
        return Err(ConfigError(format!("too few arguments to {}(bandwidth, ...)", ctx.class)));
    }
    let max_value = u32::MAX >> RateEwma::SCALE;
    let mut meters = Vec::with_capacity(args.len());
    let mut prev: Option<u32> = None;
    for (i, a) in args.iter().enumerate() {
        let (v, unitless) = parse_bandwidth(a).map_err(|_| ConfigError(format!("argument {} syntax error", i + 1)))?;
        if prev.is_some_and(|p| v <= p) {
            return Err(ConfigError(format!("rate {} must be > rate {}", i + 1, i)));
        }
        if unitless && bandwidth && ctx.worker == 0 {
            eprintln!("{}: warning: no units for bandwidth argument {}, assuming Bps", ctx.name, i + 1);
        }
        prev = Some(v);
        if v > max_value {
            return Err(ConfigError(format!("rate {} too large (max {max_value})", i + 1)));
        }
        meters.push((v << RateEwma::SCALE) / CLICK_HZ);
    }
    if meters.len() + 1 != ctx.noutputs {
        return Err(ConfigError(format!(
            "need {} arguments, one less than the number of output ports",
            ctx.noutputs.saturating_sub(1)
        )));
    }
    Ok(Meter { bytes: bandwidth, meters, rate: RateEwma::new(now_jiffies()) })
}

/// The element: the thresholds (scaled, per jiffy) and the rate average.
pub struct Meter {
    /// BandwidthMeter: count bytes, not packets.
    bytes: bool,
    meters: Vec<u32>,
    rate: RateEwma,
}

impl Meter {
    /// The output for the batch arriving at jiffy `now` (all its packets count, then the
    /// average as of `now` picks the output, as per packet in Click within one jiffy).
    fn classify(&mut self, now: u64, batch: &Batch) -> usize {
        let delta = if self.bytes { batch.byte_len() as u32 } else { batch.len() as u32 };
        self.rate.update(now, delta);
        let r = self.rate.scaled_average();
        self.meters.iter().position(|&m| r < m).unwrap_or(self.meters.len())
    }
}

impl Element for Meter {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        if batch.is_empty() {
            return;
        }
        let out = self.classify(now_jiffies(), &batch);
        ctx.push(out, batch);
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "rate" => {
                let mut r = self.rate;
                r.update_time(now_jiffies());
                Some(unparse_real2_u64(u64::from(r.scaled_average()) * u64::from(CLICK_HZ), RateEwma::SCALE))
            }
            "meters" => Some(
                self.meters
                    .iter()
                    .map(|&m| unparse_real2(m * CLICK_HZ, RateEwma::SCALE))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        }
    }

    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(self.rate))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(r) = state.downcast::<RateEwma>() {
            self.rate = *r;
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
            let _ = b.push(Packet::from_slice(&vec![0; len]));
        }
        b
    }

    fn meter(class: &sluice::element::ElementClass, config: &str, outs: usize) -> Meter {
        let ctx = BuildCtx { class: class.name, ..BuildCtx::standalone("m", 1, outs) };
        configure(config, &ctx).unwrap()
    }

    #[test]
    fn classifies_by_the_ewma_of_the_packet_rate() {
        // Meter(1000): 1 packet per jiffy is the threshold, scaled (1000 << 10) / 1000 = 1024.
        let mut m = meter(&METER, "1000", 2);
        m.rate = RateEwma::new(0);
        // 2 packets per jiffy, in batches of one: the average climbs past 1024 after a few
        // jiffies; until then packets go to output 0.
        let mut outs = Vec::new();
        for j in 0..40 {
            outs.push(m.classify(j, &batch(1, 60)));
            outs.push(m.classify(j, &batch(1, 60)));
        }
        let first_high = outs.iter().position(|&o| o == 1).unwrap();
        // avg after k jiffies at 2/jiffy ~ 2048 * (1 - (15/16)^k): above 1024 from k = 11.
        assert!((18..=26).contains(&first_high), "{first_high}");
        assert!(outs[first_high..].iter().all(|&o| o == 1));
        // Half a packet per jiffy brings it back under the threshold.
        let mut j = 40;
        let mut o = 1;
        while o == 1 && j < 200 {
            o = m.classify(j, &batch(1, 60));
            j += 2;
        }
        assert_eq!(o, 0);
        assert!(j > 50, "{j}");
    }

    #[test]
    fn several_thresholds_pick_the_band() {
        let mut m = meter(&METER, "1000, 3000, 5000", 4);
        m.rate = RateEwma::new(0);
        let mut last = 0;
        for j in 0..200 {
            last = m.classify(j, &batch(4, 60));
        }
        // 4 packets per jiffy = 4000/s: between 3000 and 5000.
        assert_eq!(last, 2);
        assert_eq!(m.read_handler("meters").unwrap(), "1000\n3000\n5000");
    }

    #[test]
    fn bandwidth_meter_counts_bytes() {
        let mut m = meter(&BANDWIDTH_METER, "100kBps", 2);
        m.rate = RateEwma::new(0);
        // 60 bytes per jiffy = 60000 B/s: under; 200 bytes per jiffy = 200000 B/s: over.
        let mut last = 9;
        for j in 0..200 {
            last = m.classify(j, &batch(1, 60));
        }
        assert_eq!(last, 0);
        for j in 200..400 {
            last = m.classify(j, &batch(2, 100));
        }
        assert_eq!(last, 1);
        assert_eq!(m.read_handler("meters").unwrap(), "100000");
    }

    #[test]
    fn through_a_graph_and_handlers() {
        let packets: Vec<Packet> = (0..100).map(|_| Packet::from_slice(&[0; 64])).collect();
        let (out, router) = run_element(&METER, "3000000", 2, packets).unwrap();
        assert_eq!(out[0].len() + out[1].len(), 100);
        assert_eq!(out[0].len(), 100, "far under the threshold");
        let r: f64 = router.read_handler("e", "rate").unwrap().parse().unwrap();
        assert!(r >= 0.0);
        assert_eq!(router.read_handler("e", "meters").unwrap(), "3000000");
    }

    #[test]
    fn config_is_checked_as_click_does() {
        let e = build_elem(&METER, "", 1, 2).err().unwrap();
        assert_eq!(e.0, "too few arguments to Meter(bandwidth, ...)");
        let e = build_elem(&METER, "100, 50", 1, 3).err().unwrap();
        assert_eq!(e.0, "rate 2 must be > rate 1");
        let e = build_elem(&METER, "lots", 1, 2).err().unwrap();
        assert_eq!(e.0, "argument 1 syntax error");
        let e = build_elem(&METER, "5000000", 1, 2).err().unwrap();
        assert_eq!(e.0, "rate 1 too large (max 4194303)");
        let e = build_elem(&METER, "100, 200", 1, 2).err().unwrap();
        assert_eq!(e.0, "need 1 arguments, one less than the number of output ports");
        assert!(build_elem(&BANDWIDTH_METER, "1Mbps, 2Mbps", 1, 3).is_ok());
        let m = build_elem(&BANDWIDTH_METER, "1kbps", 1, 2).unwrap();
        assert_eq!(m.read_handler("meters").unwrap(), "125");
        let m = build_elem(&METER, "3", 1, 2).unwrap();
        assert_eq!(m.read_handler("meters").unwrap(), "2.93");
    }
}

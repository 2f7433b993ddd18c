//! `RandomSample`: passes each packet with a given probability.

use super::values::{parse_real2, unparse_real2};
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// RandomSample([P, KEYWORDS])
    ///
    /// Samples packets with some probability.
    ///
    /// Samples packets with probability P. One out of 1/P packets are sent to the first
    /// output. The remaining packets are dropped, unless the element has two outputs, in
    /// which case they are emitted on output 1. If you don't specify P, you must supply
    /// one of the SAMPLE and DROP keyword arguments.
    ///
    /// Probabilities are fixed-point numbers with 28 fraction bits, as in Click: each
    /// packet draws 28 random bits and passes when they are below P·2^28, and the handlers
    /// print probabilities the way Click does (`0.1`, `0.25`).
    ///
    /// The random numbers come from a small xorshift64* generator. With SEED, a run is
    /// reproducible (worker W of a multi-worker router uses SEED + W); without it, the
    /// generator is seeded from the clock, like Click's.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `P` — real 0..1, positional. The sampling probability.
    /// - `SAMPLE` — real 0..1. Same as P.
    /// - `DROP` — real 0..1. Drop probability; same as P = 1 − DROP. At most one of SAMPLE
    ///   and DROP may be given.
    /// - `ACTIVE` — boolean. When false, every packet goes to output 0. Default true.
    /// - `SEED` — unsigned 64-bit (Sluice's addition). Seed of the random generator.
    ///
    /// # Handlers
    /// - `sampling_prob` (read/write) — the sampling probability.
    /// - `drop_prob` (read/write) — 1 minus the sampling probability.
    /// - `active` (read/write) — whether the element samples.
    /// - `drops` (read) — packets not sampled (dropped or sent to output 1), as Click
    ///   counts them.
    /// - `drop_details` (read) — the same, by reason.
    ///
    /// # Example
    /// ```text
    /// FromDump(trace.pcap, STOP true) -> RandomSample(0.01, SEED 42) -> ToDump(sample.pcap);
    /// ```
    pub const RANDOM_SAMPLE = "RandomSample" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("sampling_prob", Combine::First, "the sampling probability"),
    HandlerSpec::read_write("drop_prob", Combine::First, "the drop probability (1 - sampling_prob)"),
    HandlerSpec::read_write("active", Combine::First, "whether the element samples"),
    HandlerSpec::read("drops", Combine::Sum, "packets not sampled"),
    HandlerSpec::read("drop_details", Combine::First, "packets not sampled, by reason"),
];

const REASONS: &[&str] = &["not sampled (dropped, or sent to output 1)"];

/// Fraction bits of the probabilities (Click's `SAMPLING_SHIFT`).
const SHIFT: u32 = 28;
const ONE: u32 = 1 << SHIFT;
const MASK: u32 = ONE - 1;

/// A probability argument: a real number 0..1 in Click's fixed point.
struct Prob(u32);

impl FromArg for Prob {
    const DESCRIPTION: &'static str = "real number between 0 and 1";
    fn from_arg(s: &str) -> Result<Self, String> {
        match parse_real2(s, SHIFT) {
            Ok(v) if v <= ONE => Ok(Prob(v)),
            _ => Err("sampling probability must be between 0 and 1".into()),
        }
    }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let p = args.read_p::<Prob>("P")?;
    let sample = args.read_kw::<Prob>("SAMPLE")?;
    let drop = args.read_kw::<Prob>("DROP")?;
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let seed = args.read_kw::<u64>("SEED")?;
    args.finish()?;
    let have_sample = sample.is_some();
    let prob = match (sample.or(p), drop) {
        (_, Some(_)) if have_sample => return Err("give at most one of SAMPLE and DROP".into()),
        (_, Some(d)) => ONE - d.0,
        (Some(s), None) => s.0,
        (None, None) => return Err("sampling probability must be between 0 and 1 (give P, SAMPLE or DROP)".into()),
    };
    let seed = seed.map_or_else(clock_seed, |s| s.wrapping_add(ctx.worker as u64));
    Ok(Box::new(RandomSample { prob, active, rng: XorShift::new(seed), drops: DropCounts::new(REASONS) }))
}

fn clock_seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    t ^ (std::process::id() as u64).rotate_left(32)
}

/// xorshift64* (Marsaglia, Vigna): small, fast, and plenty for sampling.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from any seed (mixed with splitmix64, so 0 and small seeds are fine).
    pub fn new(seed: u64) -> XorShift {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        XorShift(if z == 0 { 0x9e37_79b9_7f4a_7c15 } else { z })
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 28 random bits (the top bits of the output, which are the best).
    #[inline]
    pub fn bits28(&mut self) -> u32 {
        (self.next_u64() >> 36) as u32 & MASK
    }
}

/// The element: the probability, the generator, and the count of packets not sampled.
pub struct RandomSample {
    prob: u32,
    active: bool,
    rng: XorShift,
    drops: DropCounts,
}

impl RandomSample {
    /// Keep the sampled packets in `batch`; send the others to output 1 or drop them.
    #[inline]
    fn sample(&mut self, batch: &mut Batch, ctx: &mut Ctx<'_>) {
        if !self.active || self.prob >= ONE {
            return;
        }
        let (prob, rng) = (self.prob, &mut self.rng);
        let mut rest = Batch::new();
        batch.retain_or(
            |_| rng.bits28() < prob,
            |p| {
                // At most MAX_BATCH packets come in, so `rest` never overflows.
                let _ = rest.push(p);
            },
        );
        if rest.is_empty() {
            return;
        }
        self.drops.count(0, rest.len() as u64);
        if ctx.noutputs() > 1 {
            ctx.push(1, rest);
        }
    }
}

impl Element for RandomSample {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.sample(&mut batch, &mut ctx);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.sample(&mut batch, &mut ctx);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "sampling_prob" => unparse_real2(self.prob, SHIFT),
            "drop_prob" => unparse_real2(ONE - self.prob, SHIFT),
            "active" => self.active.to_string(),
            _ => return self.drops.read_handler(name),
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let prob =
            || Prob::from_arg(value.trim()).map(|p| p.0).map_err(|_| "Must be given a number between 0.0 and 1.0");
        match name {
            "sampling_prob" => self.prob = prob()?,
            "drop_prob" => self.prob = ONE - prob()?,
            "active" => self.active = bool::from_arg(value.trim()).map_err(|e| format!("active: {e}"))?,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    fn packets(n: u32) -> Vec<Packet> {
        (0..n).map(|i| Packet::from_slice(&i.to_be_bytes())).collect()
    }

    fn ids(v: &[Packet]) -> Vec<u32> {
        v.iter().map(|p| u32::from_be_bytes(p.data().try_into().unwrap())).collect()
    }

    #[test]
    fn samples_about_p_and_is_reproducible_with_a_seed() {
        let (a, router) = run_element(&RANDOM_SAMPLE, "0.25, SEED 7", 2, packets(4000)).unwrap();
        let (b, _) = run_element(&RANDOM_SAMPLE, "SAMPLE 0.25, SEED 7", 2, packets(4000)).unwrap();
        assert_eq!(ids(&a[0]), ids(&b[0]), "same seed, same sample");
        assert_eq!(a[0].len() + a[1].len(), 4000);
        assert!((850..1150).contains(&a[0].len()), "{}", a[0].len());
        assert_eq!(router.read_handler("e", "drops").unwrap(), a[1].len().to_string());
        // Order is kept on both outputs.
        assert!(ids(&a[0]).windows(2).all(|w| w[0] < w[1]) && ids(&a[1]).windows(2).all(|w| w[0] < w[1]));
        let (c, _) = run_element(&RANDOM_SAMPLE, "0.25, SEED 8", 1, packets(4000)).unwrap();
        assert_ne!(ids(&a[0]), ids(&c[0]), "another seed, another sample");
    }

    #[test]
    fn extremes_drop_and_inactive() {
        let (out, _) = run_element(&RANDOM_SAMPLE, "1", 1, packets(100)).unwrap();
        assert_eq!(out[0].len(), 100);
        let (out, router) = run_element(&RANDOM_SAMPLE, "0", 1, packets(100)).unwrap();
        assert_eq!(out[0].len(), 0);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "100");
        let (out, _) = run_element(&RANDOM_SAMPLE, "DROP 1", 2, packets(10)).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (0, 10));
        let (out, _) = run_element(&RANDOM_SAMPLE, "0, ACTIVE false", 1, packets(10)).unwrap();
        assert_eq!(out[0].len(), 10);
    }

    #[test]
    fn handlers_print_like_click() {
        let mut e = build_elem(&RANDOM_SAMPLE, "DROP 0.9", 1, 1).unwrap();
        assert_eq!(e.read_handler("sampling_prob").unwrap(), "0.1");
        assert_eq!(e.read_handler("drop_prob").unwrap(), "0.9");
        e.write_handler("sampling_prob", "0.25").unwrap();
        assert_eq!(e.read_handler("drop_prob").unwrap(), "0.75");
        e.write_handler("drop_prob", "1").unwrap();
        assert_eq!(e.read_handler("sampling_prob").unwrap(), "0");
        assert!(e.write_handler("sampling_prob", "1.5").is_err());
        e.write_handler("active", "false").unwrap();
        assert_eq!(e.read_handler("active").unwrap(), "false");
    }

    #[test]
    fn config_errors() {
        assert!(build_elem(&RANDOM_SAMPLE, "", 1, 1).is_err());
        assert!(build_elem(&RANDOM_SAMPLE, "1.5", 1, 1).is_err());
        assert_eq!(
            build_elem(&RANDOM_SAMPLE, "SAMPLE 0.5, DROP 0.5", 1, 1).err().unwrap().0,
            "give at most one of SAMPLE and DROP"
        );
        assert!(build_elem(&RANDOM_SAMPLE, "0.5, SEED -1", 1, 1).is_err());
    }
}

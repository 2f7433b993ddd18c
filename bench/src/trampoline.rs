//! `trampoline`: the cost of Sluice's swappable indirection. Two graphs with the same
//! source, sink and scheduler differ only in how N counting hops are dispatched:
//! (a) `BenchSource -> BenchHop x N -> Discard`, every hop through a trampoline (atomic load
//! of the target's current implementation, re-entry flag, dynamic call); (b)
//! `BenchSource -> BenchStaticChain(N) -> Discard`, one element whose N hops call each other
//! directly by name, passing the batch on, as a statically composed chain does. The hop
//! functions are kept out of line in (b) so both run the same element code and only the
//! dispatch differs (inlining the whole chain would let the compiler merge the N per-packet
//! loops into one, which measures loop fusion, not dispatch).

use crate::harness::{interleave, median, print_result, print_table, time, Settings};
use sluice::element::{BuildCtx, ConfigError, ElementClass, InitCtx, TaskStatus};
use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use sluice::{Batch, Ctx, Element, Packet, MAX_BATCH};
use std::path::Path;

/// Counts packets and bytes, like Counter; the per-packet work of every hop.
#[derive(Default)]
pub struct Hop {
    count: u64,
    bytes: u64,
}

impl Hop {
    #[inline(always)]
    fn count(&mut self, b: &Batch) {
        self.count += b.len() as u64;
        for p in b {
            self.bytes += p.len() as u64;
        }
    }
}

impl Element for Hop {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.count(&batch);
        ctx.push(0, batch);
    }
}

/// Emits `limit` 64-byte packets in full batches, then stops the router.
pub struct HopSource {
    left: u64,
}

#[inline(always)]
fn make_batch(n: usize) -> Batch {
    let mut b = Batch::new();
    for _ in 0..n {
        let _ = b.push(Packet::new(64));
    }
    b
}

impl Element for HopSource {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if self.left == 0 {
            return TaskStatus::Done;
        }
        let n = (self.left as usize).min(MAX_BATCH);
        self.left -= n as u64;
        ctx.push(0, make_batch(n));
        TaskStatus::Busy
    }
}

fn build_source(config: &str, _: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(HopSource { left: config.trim().parse().map_err(|_| ConfigError::from("LIMIT"))? }))
}

const HOP: ElementClass = ElementClass {
    name: "BenchHop",
    ports: "1/1",
    processing: "h/h",
    doc: "BenchHop\nCounts packets (benchmark element).",
    handlers: &[],
    build: |_, _| Ok(Box::new(Hop::default())),
};

const SOURCE: ElementClass = ElementClass {
    name: "BenchSource",
    ports: "0/1",
    processing: "h/h",
    doc: "BenchSource(LIMIT)\nEmits LIMIT packets (benchmark element).",
    handlers: &[],
    build: build_source,
};

fn run_graph(n: usize, packets: u64) -> f64 {
    let mut cfg = format!("BenchSource({packets})");
    for _ in 0..n {
        cfg.push_str(" -> BenchHop");
    }
    cfg.push_str(" -> Discard;");
    run_config(&cfg)
}

/// Build, then time one run of `cfg` until its source is done.
fn run_config(cfg: &str) -> f64 {
    let mut registry = sluice_elements::registry();
    registry.add_all(&[HOP, SOURCE, STATIC_CHAIN]);
    let plan = plan_str("<trampoline>", cfg, &[], &registry, Path::new(".")).expect("config checks");
    let router = Router::new(plan, 1).expect("builds");
    let opts = RunOptions::default();
    time(|| drop(router.run(&opts)))
}

/// One hop of the static chain: count, then call the next hop statically; the last hop
/// hands the batch to the element's output.
#[inline(never)]
fn direct_push(hops: &mut [Hop], batch: Batch, mut ctx: Ctx<'_>) {
    match hops.split_first_mut() {
        Some((hop, rest)) => {
            hop.count(&batch);
            direct_push(rest, batch, ctx);
        }
        None => ctx.push(0, batch),
    }
}

/// N hops inside one element, dispatched by direct calls.
pub struct StaticChain {
    hops: Vec<Hop>,
}

impl Element for StaticChain {
    fn push(&mut self, _port: usize, batch: Batch, ctx: Ctx<'_>) {
        direct_push(&mut self.hops, batch, ctx);
    }
}

const STATIC_CHAIN: ElementClass = ElementClass {
    name: "BenchStaticChain",
    ports: "1/1",
    processing: "h/h",
    doc: "BenchStaticChain(N)\nN counting hops called directly (benchmark element).",
    handlers: &[],
    build: |c, _| {
        let n: usize = c.trim().parse().map_err(|_| ConfigError::from("N"))?;
        Ok(Box::new(StaticChain { hops: (0..n).map(|_| Hop::default()).collect() }))
    },
};

/// The same hops dispatched directly inside one element.
fn run_direct(n: usize, packets: u64) -> f64 {
    run_config(&format!("BenchSource({packets}) -> BenchStaticChain({n}) -> Discard;"))
}

/// One run, untimed (for callgrind).
pub fn run_once(direct: bool, n: usize, packets: u64) {
    if direct {
        run_direct(n, packets);
    } else {
        run_graph(n, packets);
    }
}

pub fn run(s: Settings) {
    let packets = s.packets(20_000_000);
    let lengths = crate::chain::LENGTHS;
    println!("trampoline: N counting hops through trampolines vs direct static calls, same source/sink/scheduler, {packets} packets per run, {} rounds, medians", s.rounds());
    let samples = interleave(s.rounds(), lengths.len() * 2, |v| {
        let n = lengths[v / 2];
        if v % 2 == 0 {
            run_graph(n, packets)
        } else {
            run_direct(n, packets)
        }
    });
    // Graph and direct runs of one length are adjacent in every round: the median of the
    // per-round ratios is robust to the machine's load drifting between rounds.
    let mut rows = Vec::new();
    let mut overheads = Vec::new();
    for (i, n) in lengths.iter().enumerate() {
        let (gs, ds) = (&samples[2 * i], &samples[2 * i + 1]);
        let mut ratios: Vec<f64> = gs.iter().zip(ds).map(|(g, d)| g / d).collect();
        let pct = (median(&mut ratios) - 1.0) * 100.0;
        let (g, d) = (median(&mut gs.clone()), median(&mut ds.clone()));
        overheads.push(pct);
        rows.push(vec![
            n.to_string(),
            format!("{:.2}", packets as f64 / g / 1e6),
            format!("{:.2}", packets as f64 / d / 1e6),
            format!("{pct:+.1}"),
        ]);
    }
    print_table(&["elements", "graph Mpps", "direct Mpps", "overhead %"], &rows);
    // The 10-element chain is the reference figure.
    print_result("trampoline", &[("overhead_pct", format!("{:.1}", overheads[2]))]);
}

//! `trampoline`: the cost of Sluice's swappable indirection. The same chain of N counting
//! elements runs (a) as a graph, every hop through a trampoline (atomic load of the target's
//! current implementation, re-entry flag, dynamic call), and (b) as direct static calls: each
//! hop calls the next hop's push function by name, passing the batch on, as a statically
//! composed Click/FastClick chain does. The element functions are kept out of line in (b)
//! so both variants run the same element code and only the dispatch differs (inlining the
//! whole chain would let the compiler merge the N per-packet loops into one, which measures
//! loop fusion, not dispatch). Both make and free the same pooled packets in batches of 64.

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
    fn push(&mut self, _port: usize, batch: Batch, ctx: &mut Ctx<'_>) {
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

    fn run_task(&mut self, ctx: &mut Ctx<'_>) -> TaskStatus {
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
    let mut registry = sluice_elements::registry();
    registry.add_all(&[HOP, SOURCE]);
    let mut cfg = format!("BenchSource({packets})");
    for _ in 0..n {
        cfg.push_str(" -> BenchHop");
    }
    cfg.push_str(" -> Discard;");
    let plan = plan_str("<trampoline>", &cfg, &[], &registry, Path::new(".")).expect("config checks");
    let router = Router::new(plan, 1).expect("builds");
    let opts = RunOptions::default();
    time(|| drop(router.run(&opts)))
}

/// One hop of the direct chain: count, then call the next hop (or the sink) statically.
#[inline(never)]
fn direct_push(hops: &mut [Hop], batch: Batch, sink: &mut u64) {
    match hops.split_first_mut() {
        Some((hop, rest)) => {
            hop.count(&batch);
            direct_push(rest, batch, sink);
        }
        None => direct_sink(batch, sink),
    }
}

/// The direct chain's Discard.
#[inline(never)]
fn direct_sink(batch: Batch, count: &mut u64) {
    *count += batch.len() as u64;
    drop(batch);
}

/// The same work with direct calls: no graph, no trampolines, no dynamic dispatch.
fn run_direct(n: usize, packets: u64) -> f64 {
    std::thread::spawn(move || {
        sluice::packet::pool_prefill(4 * MAX_BATCH);
        let mut hops: Vec<Hop> = (0..n).map(|_| Hop::default()).collect();
        let mut sunk = 0u64;
        let secs = time(|| {
            let mut left = packets;
            while left > 0 {
                let k = (left as usize).min(MAX_BATCH);
                left -= k as u64;
                direct_push(&mut hops, make_batch(k), &mut sunk);
            }
        });
        assert_eq!(sunk, packets);
        assert_eq!(hops.iter().map(|h| h.count).sum::<u64>(), packets * n as u64);
        std::hint::black_box(&hops);
        secs
    })
    .join()
    .expect("direct run")
}

pub fn run(s: Settings) {
    let packets = s.packets(20_000_000);
    let lengths = crate::chain::LENGTHS;
    println!("trampoline: N counting elements, graph (trampolines) vs direct static calls, {packets} packets per run, {} rounds, medians", s.rounds());
    let samples = interleave(s.rounds(), lengths.len() * 2, |v| {
        let n = lengths[v / 2];
        if v % 2 == 0 {
            run_graph(n, packets)
        } else {
            run_direct(n, packets)
        }
    });
    let meds: Vec<f64> = samples.into_iter().map(|mut v| median(&mut v)).collect();
    let mut rows = Vec::new();
    let mut overheads = Vec::new();
    for (i, n) in lengths.iter().enumerate() {
        let (g, d) = (meds[2 * i], meds[2 * i + 1]);
        let pct = (g / d - 1.0) * 100.0;
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

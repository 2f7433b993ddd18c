//! `scale`: the same graph on 1 and on 2 workers, each worker pinned to its own core with
//! its own source (as RSS or PACKET_FANOUT gives each worker its own queue). Reports total
//! Mpps and the 2-worker speedup.

use crate::harness::{interleave, median, print_result, print_table, time, Settings};
use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use std::path::Path;

/// Per worker: a source of `packets` 64-byte packets, five counters, a sink.
fn config(packets: u64) -> String {
    format!(
        "InfiniteSource(LENGTH 64, LIMIT {packets}, BURST 64) -> Counter -> Counter -> Counter -> Counter -> c :: Counter -> Discard;"
    )
}

/// Run on `workers` workers, `per_worker` packets each; returns (seconds, packets seen).
fn run_on(workers: usize, per_worker: u64) -> (f64, u64) {
    let registry = sluice_elements::registry();
    let plan = plan_str("<scale>", &config(per_worker), &[], &registry, Path::new(".")).expect("config checks");
    let mut router = Router::new(plan, workers).expect("builds");
    router.pin_workers((0..workers).collect());
    let opts = RunOptions { workers, keep_running: false };
    let mut done = None;
    let secs = time(|| done = Some(router.run(&opts)));
    let seen = done.expect("ran").read_handler("c", "count").expect("count").parse().expect("number");
    (secs, seen)
}

pub fn run(s: Settings) {
    let per_worker = s.packets(20_000_000);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("scale: 5 Counters per worker, {per_worker} packets per worker, workers pinned to cores 0..N ({cores} cores here), {} rounds", s.rounds());
    let samples = interleave(s.rounds(), 2, |v| {
        let workers = v + 1;
        let (secs, seen) = run_on(workers, per_worker);
        assert_eq!(seen, per_worker * workers as u64, "every packet counted");
        secs / workers as f64 // seconds per worker-load: lower is faster per packet
    });
    let mpps: Vec<f64> = samples.iter().map(|v| per_worker as f64 / median(&mut v.clone()) / 1e6).collect();
    // Per-round speedup: packets/s with 2 workers over packets/s with 1, measured side by side.
    let mut ratios: Vec<f64> = samples[0].iter().zip(&samples[1]).map(|(one, two)| one / two).collect();
    let speedup = median(&mut ratios);
    print_table(
        &["workers", "total Mpps"],
        &[vec!["1".into(), format!("{:.2}", mpps[0])], vec!["2".into(), format!("{:.2}", mpps[1])]],
    );
    println!("speedup with 2 workers (median of per-round ratios): {speedup:.2}x");
    print_result("scale", &[("speedup_2", format!("{speedup:.2}"))]);
}

//! `chain`: InfiniteSource -> N x Counter -> Discard, through the real runtime, for
//! N = 1, 5, 10, 20. Reports Mpps per core and the cost of one element hop per packet
//! (the slope between the 1- and 20-element chains).

use crate::harness::{interleave, median, print_result, print_table, time, Settings};
use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use std::path::Path;

pub const LENGTHS: [usize; 4] = [1, 5, 10, 20];

/// The chain configuration in Click's language.
pub fn config(n: usize, packets: u64) -> String {
    let mut s = format!("InfiniteSource(LENGTH 64, LIMIT {packets}, BURST 64, STOP true)\n");
    for _ in 0..n {
        s.push_str("  -> Counter\n");
    }
    s.push_str("  -> sink :: Discard;\n");
    s
}

/// One run, untimed (for callgrind).
pub fn run_once(n: usize, packets: u64) {
    run_chain(n, packets);
}

/// Run one chain of `n` counters over `packets` packets; seconds taken.
fn run_chain(n: usize, packets: u64) -> f64 {
    let registry = sluice_elements::registry();
    let plan = plan_str("<chain>", &config(n, packets), &[], &registry, Path::new(".")).expect("chain config checks");
    let router = Router::new(plan, 1).expect("chain builds");
    let opts = RunOptions::default();
    let mut out = None;
    let secs = time(|| out = Some(router.run(&opts)));
    let router = out.expect("ran");
    let seen: u64 = router.read_handler("sink", "count").expect("Discard has count").parse().expect("a number");
    assert_eq!(seen, packets, "every packet reaches the sink");
    secs
}

pub fn run(s: Settings) {
    let packets = s.packets(20_000_000);
    println!(
        "chain: InfiniteSource -> N x Counter -> Discard, {packets} packets of 64 B per run, {} rounds, medians",
        s.rounds()
    );
    let samples = interleave(s.rounds(), LENGTHS.len(), |v| run_chain(LENGTHS[v], packets));
    let ns_per_pkt: Vec<f64> = samples.into_iter().map(|mut v| median(&mut v) * 1e9 / packets as f64).collect();
    let rows: Vec<Vec<String>> = LENGTHS
        .iter()
        .zip(&ns_per_pkt)
        .map(|(n, ns)| vec![n.to_string(), format!("{:.2}", 1e3 / ns), format!("{ns:.2}")])
        .collect();
    print_table(&["elements", "Mpps", "ns/packet"], &rows);
    let hop_ns = (ns_per_pkt[3] - ns_per_pkt[0]) / (LENGTHS[3] - LENGTHS[0]) as f64;
    let mpps_10 = 1e3 / ns_per_pkt[2];
    println!("per-hop cost (slope 1 -> 20 elements): {hop_ns:.2} ns/packet");
    print_result("chain", &[("hop_ns", format!("{hop_ns:.2}")), ("mpps_10", format!("{mpps_10:.2}"))]);
}

//! `classifier`: IPFilter's compiled decision tree against trying the rules in turn, with
//! the first 10, 100 and 1000 rules of ClassBench's `acl1` set, over the headers of the
//! `acl1` trace that those rules generated (as IPv4 packets with their network header
//! annotation set, cycled).
//!
//! The `acl1_1000` set holds 885 rules, so the largest case is the whole set (885 rules).
//!
//! Three ways to find the first matching rule are timed, interleaved, several rounds:
//! - `tree`: what IPFilter runs (the decision tree, then the few rules of its leaf);
//! - `linear`: the linear reference interpreter (each rule's expression evaluated in turn);
//! - `program`: each rule's jump program tried in turn (Click's instructions, unoptimized).
//!
//! `speedup_N` is the median per-round ratio linear/tree at N rules. The JIT the bench is
//! meant for comes later; until then `speedup_100` compares the compiled tree with the
//! linear interpreter.

use crate::harness::{interleave, median, print_result, print_table, time, Settings};
use sluice::Packet;
use sluice_elements::classify::classbench::{parse_rules, parse_trace, Header, Rule};
use sluice_elements::classify::ip_pattern::parse_pattern;
use sluice_elements::classify::program::{reference_first_match, Expr, View};
use sluice_elements::classify::tree::Tree;
use std::hint::black_box;

pub const SIZES: [usize; 3] = [10, 100, 1000];
const VARIANTS: [&str; 3] = ["tree", "linear", "program"];
/// Packets in the array the lookups cycle over (few enough to stay in cache: the figure
/// is the classifier's cost, not memory latency).
const ARRAY: usize = 512;

fn data(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/acl/").to_string() + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One rule-set size: the rules as IPFilter expressions, their tree, and the packets.
struct Case {
    n: usize,
    exprs: Vec<Expr>,
    tree: Tree,
    packets: Vec<Packet>,
    build_ms: f64,
}

fn case(rules: &[Rule], trace: &[Header], n: usize) -> Case {
    let n = n.min(rules.len());
    let exprs: Vec<Expr> = rules[..n]
        .iter()
        .map(|r| parse_pattern(&r.pattern(), &mut Vec::new()).expect("ClassBench rules parse"))
        .collect();
    let mut tree = None;
    let build_ms = time(|| tree = Some(Tree::new(&exprs))) * 1e3;
    let tree = tree.expect("built");
    let own: Vec<&Header> = trace.iter().filter(|h| h.filter < n).collect();
    assert!(!own.is_empty(), "the trace has headers for the first {n} rules");
    let packets: Vec<Packet> = own.iter().cycle().take(ARRAY).map(|h| h.packet()).collect();
    // The variants agree before they are timed.
    for p in &packets {
        let v = View::ip(p);
        let want = reference_first_match(&exprs, &v);
        assert_eq!(tree.first_match(&v), want);
        assert_eq!(tree.first_match_linear(&v), want);
    }
    Case { n, exprs, tree, packets, build_ms }
}

/// Classify `lookups` packets with variant `v`; returns a checksum of the results.
fn lookups(c: &Case, v: usize, lookups: u64) -> u64 {
    let mut sum = 0u64;
    let mut i = 0;
    for _ in 0..lookups {
        let view = View::ip(&c.packets[i]);
        let r = match v {
            0 => c.tree.first_match(&view),
            1 => reference_first_match(&c.exprs, &view),
            _ => c.tree.first_match_linear(&view),
        };
        sum = sum.wrapping_add(r.map_or(u64::MAX, |r| r as u64));
        i += 1;
        if i == c.packets.len() {
            i = 0;
        }
    }
    black_box(sum)
}

/// Lookups per timed sample: about the same time for every variant.
fn budget(s: &Settings, c: &Case, v: usize) -> u64 {
    let full = s.packets(4_000_000);
    if v == 0 {
        full
    } else {
        (full * 10 / c.n as u64).max(20_000)
    }
}

fn load() -> (Vec<Rule>, Vec<Header>) {
    let rules = parse_rules(&data("acl1_1000")).expect("acl1 rules");
    let trace = parse_trace(&data("acl1_1000_trace")).expect("acl1 trace");
    (rules, trace)
}

/// One untimed run (for callgrind): `kind` is tree, linear or program.
pub fn run_once(kind: &str, n: usize, packets: u64) {
    let (rules, trace) = load();
    let c = case(&rules, &trace, n);
    let v = VARIANTS.iter().position(|k| *k == kind).expect("kind: tree, linear or program");
    lookups(&c, v, packets);
}

pub fn run(s: Settings) {
    let (rules, trace) = load();
    let cases: Vec<Case> = SIZES.iter().map(|&n| case(&rules, &trace, n)).collect();
    println!(
        "classifier: IPFilter with the first N acl1 rules, over the acl1 trace headers of those rules \
         ({ARRAY} packets, cycled), {} rounds, medians",
        s.rounds()
    );
    let nv = VARIANTS.len();
    let samples = interleave(s.rounds(), cases.len() * nv, |k| {
        let (c, v) = (&cases[k / nv], k % nv);
        let n = budget(&s, c, v);
        time(|| {
            lookups(c, v, n);
        }) * 1e9
            / n as f64
    });
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (ci, c) in cases.iter().enumerate() {
        let ns = |v: usize| median(&mut samples[ci * nv + v].clone());
        let ratio = |v: usize| {
            let mut r: Vec<f64> =
                samples[ci * nv + v].iter().zip(&samples[ci * nv]).map(|(slow, fast)| slow / fast).collect();
            median(&mut r)
        };
        let (nodes, _, depth, widest) = c.tree.shape();
        rows.push(vec![
            c.n.to_string(),
            format!("{:.1}", ns(0)),
            format!("{:.2}", 1e3 / ns(0)),
            format!("{:.1}", ns(1)),
            format!("{:.1}", ns(2)),
            format!("{:.1}x", ratio(1)),
            format!("{:.1}x", ratio(2)),
            format!("{nodes}/{depth}/{widest}"),
            format!("{:.1}", c.build_ms),
        ]);
        results.push((c.n, ratio(1), ratio(2), 1e3 / ns(0)));
    }
    print_table(
        &[
            "rules",
            "tree ns/pkt",
            "tree Mpps",
            "linear ns/pkt",
            "program ns/pkt",
            "linear/tree",
            "program/tree",
            "nodes/depth/leaf",
            "build ms",
        ],
        &rows,
    );
    println!("linear: each rule's expression interpreted in turn; program: each rule's jump program in turn");
    println!("speedup_N = linear/tree (the JIT comparison comes later)");
    // By position: the last size is the whole acl1_1000 set (885 rules).
    let get = |i: usize| results[i];
    print_result(
        "classifier",
        &[
            ("speedup_100", format!("{:.1}", get(1).1)),
            ("speedup_1000", format!("{:.1}", get(2).1)),
            ("program_speedup_100", format!("{:.1}", get(1).2)),
            ("program_speedup_1000", format!("{:.1}", get(2).2)),
            ("tree_mpps_1000", format!("{:.2}", get(2).3)),
        ],
    );
}

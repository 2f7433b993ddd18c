//! Sluice's benchmark scenarios: `cargo run --release -p sluice-bench -- NAME [--quick]`.
//!
//! Each scenario prints a table, then as its last line `RESULT NAME key=value ...`.

mod chain;
mod classifier;
mod harness;
mod io;
mod plugin;
mod router;
mod scale;
mod swap;
mod trampoline;

use harness::Settings;

/// A scenario: name, one-line description, entry point.
type Scenario = (&'static str, &'static str, fn(Settings));

const SCENARIOS: &[Scenario] = &[
    ("chain", "1/5/10/20 Counters between an in-memory source and a sink: Mpps, ns per hop", chain::run),
    ("trampoline", "the same chains through trampolines vs direct static calls: overhead %", trampoline::run),
    (
        "classifier",
        "IPFilter with 10/100/885 ClassBench acl1 rules: decision tree vs trying rules in turn",
        classifier::run,
    ),
    (
        "router",
        "IPv4 route lookup: structures over 500/10k/full BGP tables, uniform and Zipf traffic; element path",
        router::run,
    ),
    ("scale", "the same graph on 1 and 2 pinned workers, each with its own source: speedup", scale::run),
    ("swap", "SWAP an element every 10 ms under full load over a control socket: loss, latency, effect", swap::run),
    ("plugin", "an element as a plugin (Rust and C) vs the same element built in: ns/packet overhead", plugin::run),
    ("io", "forwarding over DPDK net_null and net_ring (--features dpdk) and AF_PACKET on a veth pair: Mpps", io::run),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `once KIND N PACKETS`: one untimed run (KIND: chain, graph, direct), for counting
    // instructions under callgrind (see bench/instructions.sh).
    if args.first().map(String::as_str) == Some("once") {
        let usage = "once (chain|graph|direct) N PACKETS";
        let n: usize = args.get(2).and_then(|a| a.parse().ok()).expect(usage);
        let packets: u64 = args.get(3).and_then(|a| a.parse().ok()).expect(usage);
        match args.get(1).map(String::as_str) {
            Some("chain") => chain::run_once(n, packets),
            Some("graph") => trampoline::run_once(false, n, packets),
            Some("direct") => trampoline::run_once(true, n, packets),
            Some(k) if k.starts_with("classifier-") => classifier::run_once(&k["classifier-".len()..], n, packets),
            Some(k) if k.starts_with("plugin-") => plugin::run_once(&k["plugin-".len()..], n, packets),
            _ => panic!("{usage}"),
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let names: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if names.is_empty() {
        eprintln!("usage: sluice-bench NAME [--quick]\n\nscenarios:");
        for (n, d, _) in SCENARIOS {
            eprintln!("  {n:<12} {d}");
        }
        std::process::exit(2);
    }
    for name in names {
        match SCENARIOS.iter().find(|(n, _, _)| n == name) {
            Some((_, _, f)) => f(Settings { quick }),
            None => {
                eprintln!("unknown scenario '{name}'");
                std::process::exit(2);
            }
        }
    }
}

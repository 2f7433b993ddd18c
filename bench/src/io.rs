//! `io`: forwarding throughput of real packet I/O, one worker, 64-byte frames.
//!
//! - `dpdk net_null`: `FromDPDKDevice(net_null0) -> Counter -> ToDPDKDevice(net_null1)`.
//!   net_null makes packets as fast as they are asked for and frees what it is sent, so
//!   this is the cost of Sluice's DPDK path itself: mbufs wrapped in place, sent back in
//!   place.
//! - `dpdk net_ring`: `FromDPDKDevice(net_ring0) -> Counter -> ToDPDKDevice(net_ring0)`, a
//!   loop through a net_ring port (its TX ring is its RX ring) primed with 512 packets.
//! - `AF_PACKET veth`: `FromDevice(veth) -> Counter -> ToDevice(veth)`, mirroring what a
//!   generator (a second router, `InfiniteSource -> ToDevice`, in a network namespace at the
//!   other end of the veth pair) sends. The generator is this benchmark again, started in
//!   the namespace (`ip netns exec`) with `SLUICE_BENCH_IO_GENERATOR` set; it stops by
//!   itself after the round. The namespace and the pair are made for the run and removed
//!   after it; traffic stays on the pair and uses a local experimental EtherType. Needs
//!   root; the row says n/a otherwise.
//!
//! The DPDK rows need `--features dpdk` (and DPDK's development files); the EAL runs with
//! the default arguments (no hugepages, no PCI). Each round runs a graph, lets it warm up,
//! and counts what the Counter sees in a fixed window; rounds alternate between variants
//! and the table shows medians.

use crate::harness::{interleave, median, print_result, print_table, Settings};
use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions, Running};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Warm-up before counting.
const WARMUP: Duration = Duration::from_millis(300);

/// A variant: label, and a function measuring one round (Mpps, offered Mpps if known).
type Variant = (&'static str, fn(Duration) -> Option<(f64, Option<f64>)>);

/// Start `cfg` on one worker, pinned to `cpu` when the machine has more than one.
fn start(cfg: &str, cpu: usize) -> Running {
    let registry = sluice_elements::registry();
    let plan = plan_str("<io>", cfg, &[], &registry, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let mut router = Router::new(plan, 1).unwrap_or_else(|e| panic!("{e}"));
    if std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) > cpu {
        router.pin_workers(vec![cpu]);
    }
    router.start(&RunOptions { workers: 1, keep_running: true })
}

fn count(r: &Running, element: &str) -> u64 {
    r.read_handler(element, "count").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Mpps through element `c` of `r` over `window`, after the warm-up.
fn measure(r: &Running, c: &str, window: Duration) -> f64 {
    std::thread::sleep(WARMUP);
    let (c0, t0) = (count(r, c), Instant::now());
    std::thread::sleep(window);
    let (c1, t1) = (count(r, c), Instant::now());
    (c1 - c0) as f64 / t1.duration_since(t0).as_secs_f64() / 1e6
}

#[cfg(feature = "dpdk")]
fn dpdk_null(window: Duration) -> Option<(f64, Option<f64>)> {
    let r = start("FromDPDKDevice(net_null0, BURST 32) -> c :: Counter -> ToDPDKDevice(net_null1);", 1);
    let mpps = measure(&r, "c", window);
    r.stop();
    drop(r.wait());
    Some((mpps, None))
}

#[cfg(feature = "dpdk")]
fn dpdk_ring(window: Duration) -> Option<(f64, Option<f64>)> {
    let r = start(
        "InfiniteSource(LENGTH 64, LIMIT 512, BURST 64, TIMESTAMP false) -> ToDPDKDevice(net_ring0, BLOCKING false);
         FromDPDKDevice(net_ring0, BURST 32) -> c :: Counter -> ToDPDKDevice(net_ring0, BLOCKING false);",
        1,
    );
    let mpps = measure(&r, "c", window);
    r.stop();
    drop(r.wait());
    Some((mpps, None))
}

#[cfg(not(feature = "dpdk"))]
fn dpdk_null(_: Duration) -> Option<(f64, Option<f64>)> {
    None
}

#[cfg(not(feature = "dpdk"))]
fn dpdk_ring(_: Duration) -> Option<(f64, Option<f64>)> {
    None
}

/// A veth pair: `outer` here, `inner` in namespace `ns`. Removed on drop.
struct Veth {
    ns: String,
    outer: String,
    inner: String,
}

fn sh(args: &[&str]) -> Result<(), String> {
    let o = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!("{}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim()))
    }
}

impl Veth {
    fn new() -> Result<Veth, String> {
        let id = std::process::id() % 100_000;
        let v = Veth { ns: format!("slbio{id}"), outer: format!("slbo{id}"), inner: format!("slbi{id}") };
        let _ = Command::new("ip").args(["netns", "del", &v.ns]).output();
        sh(&["ip", "netns", "add", &v.ns])?;
        sh(&["ip", "link", "add", &v.outer, "type", "veth", "peer", "name", &v.inner, "netns", &v.ns])?;
        for (ns, dev) in [(None, &v.outer), (Some(&v.ns), &v.inner)] {
            let mut pre: Vec<&str> = Vec::new();
            if let Some(ns) = ns {
                pre.extend(["ip", "netns", "exec", ns]);
            }
            let sysctl = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
            sh(&[pre.clone(), vec!["sysctl", "-qw", &sysctl]].concat())?;
            sh(&[pre, vec!["ip", "link", "set", dev, "up"]].concat())?;
        }
        Ok(v)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.outer]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Set (to `IFACE SECONDS`) in the generator process this benchmark starts inside the
/// namespace: it then sends on IFACE for SECONDS and prints what it sent.
const GENERATOR_ENV: &str = "SLUICE_BENCH_IO_GENERATOR";

/// The generator process: `InfiniteSource -> ToDevice(IFACE)` for a bounded time.
fn generator(spec: &str) {
    let mut it = spec.split_whitespace();
    let (Some(iface), Some(secs)) = (it.next(), it.next().and_then(|s| s.parse::<f64>().ok())) else {
        panic!("{GENERATOR_ENV} must be 'IFACE SECONDS', not '{spec}'");
    };
    // 64-byte frames of EtherType 0x88B5 (local experimental) to a MAC nobody has.
    let cfg = format!(
        "g :: InfiniteSource(\\<020000000002 020000000001 88b5>, LENGTH 64, BURST 64, TIMESTAMP false) -> ToDevice({iface});"
    );
    let r = start(&cfg, 0);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let n = count(&r, "g");
    let elapsed = t.elapsed().as_secs_f64();
    r.stop();
    drop(r.wait());
    println!("GENERATED {n} {elapsed}");
}

/// The veth pair lives for the whole scenario; an error when it cannot be made (not root).
static VETH: std::sync::Mutex<Option<Result<Veth, String>>> = std::sync::Mutex::new(None);

fn afpacket(window: Duration) -> Option<(f64, Option<f64>)> {
    let mut g = VETH.lock().unwrap();
    let v = match g.get_or_insert_with(Veth::new) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("io: no veth pair for AF_PACKET: {e}");
            return None;
        }
    };
    let fwd = start(&format!("FromDevice({}, BURST 64) -> c :: Counter -> ToDevice({});", v.outer, v.outer), 1);
    // The generator runs in its own process inside the namespace, for a bounded time.
    let secs = (WARMUP + window).as_secs_f64() + 1.0;
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let child = Command::new("ip")
        .args(["netns", "exec", &v.ns])
        .arg(&exe)
        .arg("io")
        .env(GENERATOR_ENV, format!("{} {secs}", v.inner))
        .stdout(std::process::Stdio::piped())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("io: cannot start the AF_PACKET generator: {e}");
            fwd.stop();
            drop(fwd.wait());
            return None;
        }
    };
    let t = Instant::now();
    while count(&fwd, "c") == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mpps = measure(&fwd, "c", window);
    let out = child.wait_with_output().ok()?;
    fwd.stop();
    drop(fwd.wait());
    let text = String::from_utf8_lossy(&out.stdout);
    let offered = text.lines().find_map(|l| {
        let mut w = l.strip_prefix("GENERATED ")?.split_whitespace();
        let (n, s): (f64, f64) = (w.next()?.parse().ok()?, w.next()?.parse().ok()?);
        Some(n / s / 1e6)
    });
    if offered.is_none() {
        eprintln!("io: the AF_PACKET generator failed: {}", text.trim());
        return None;
    }
    Some((mpps, offered))
}

const VARIANTS: &[Variant] =
    &[("dpdk net_null", dpdk_null), ("dpdk net_ring", dpdk_ring), ("AF_PACKET veth", afpacket)];

pub fn run(s: Settings) {
    if let Ok(spec) = std::env::var(GENERATOR_ENV) {
        return generator(&spec);
    }
    let window = if s.quick { Duration::from_millis(500) } else { Duration::from_secs(2) };
    println!(
        "io: forwarding 64 B frames, FromX -> Counter -> ToX on 1 worker; {} rounds of {:.1} s, medians",
        s.rounds(),
        window.as_secs_f64()
    );
    if !cfg!(feature = "dpdk") {
        println!("(DPDK rows need `--features dpdk`)");
    }
    let mut offered: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
    let samples = interleave(s.rounds(), VARIANTS.len(), |v| match (VARIANTS[v].1)(window) {
        Some((mpps, off)) => {
            offered[v].extend(off);
            mpps
        }
        None => f64::NAN,
    });
    *VETH.lock().unwrap() = None; // remove the veth pair and the namespace
    let mut rows = Vec::new();
    let mut result = Vec::new();
    for (v, mut xs) in samples.into_iter().enumerate() {
        let key = ["null_mpps", "ring_mpps", "afpacket_mpps"][v];
        if xs.iter().any(|x| x.is_nan()) {
            rows.push(vec![VARIANTS[v].0.to_string(), "n/a".into(), "n/a".into(), "n/a".into(), "-".into()]);
            result.push((key, "n/a".to_string()));
            continue;
        }
        let med = median(&mut xs);
        let (lo, hi) = (xs[0], xs[xs.len() - 1]);
        let off = if offered[v].is_empty() { "-".to_string() } else { format!("{:.3}", median(&mut offered[v])) };
        rows.push(vec![VARIANTS[v].0.to_string(), format!("{med:.3}"), format!("{lo:.3}"), format!("{hi:.3}"), off]);
        result.push((key, format!("{med:.3}")));
    }
    print_table(&["path", "Mpps", "min", "max", "offered Mpps"], &rows);
    print_result("io", &result);
}

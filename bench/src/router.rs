//! `router`: IPv4 route lookup, structure by structure, then through the runtime.
//!
//! Part 1 measures the lookup structures alone — LinearIPLookup's list, RadixIPLookup's and
//! StaticIPLookup's poptrie, DirectIPLookup's DIR-24-8 — over three real tables: 500 routes
//! sampled from the Stanford backbone router (with its default route), 10 000 and all
//! 901 899 prefixes of a full BGP table, each with next hops assigned by hash (8 ports, 16
//! gateways). Lookups go in batches of 64, as the elements do them. Traffic is either
//! uniform random addresses or skewed: 65 536 destinations inside the table's prefixes,
//! drawn with Zipf (s = 1) popularity. Everything is seeded. Reported: ns per lookup,
//! millions of lookups per second, memory (the lookup path, update bookkeeping, the route
//! store), build time, and time per update (remove or add of a random route).
//!
//! Part 2 is the generic router path through the runtime, as Click's IP router runs it: a
//! source of 60-byte Ethernet/IPv4/UDP packets to uniformly spread destinations -> Strip(14)
//! -> CheckIPHeader -> the lookup element -> DecIPTTL -> EtherEncap -> Discard, with the 10k
//! and the full table.

use crate::harness::{interleave, median, print_result, print_table, time, Settings};
use sluice::element::{BuildCtx, ConfigError, ElementClass, InitCtx, TaskStatus};
use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use sluice::{Batch, Ctx, Element, Packet, MAX_BATCH};
use sluice_elements::ip::lookup::dir24::Dir24;
use sluice_elements::ip::lookup::linear_ip_lookup::Linear;
use sluice_elements::ip::lookup::poptrie::Poptrie;
use sluice_elements::ip::lookup::table::{mask, read_prefix_file, Lpm4, Memory, Route, RouteTable};
use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};

const ROUTES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/routes/");

/// SplitMix64, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A route table of the benchmark.
struct Table {
    name: &'static str,
    routes: Vec<Route>,
}

/// Next hops by hash of the prefix: 8 ports, 16 gateways, a quarter without gateway.
fn with_hops(prefixes: &[(u32, u8)]) -> Vec<Route> {
    prefixes
        .iter()
        .map(|&(a, l)| {
            let h = (u64::from(a) << 8 | u64::from(l)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
            let gw = if h & 3 == 0 { 0 } else { 0x0a00_0000 | (((h >> 2) as u32 & 15) + 1) };
            Route::new(a, l, gw, (h >> 8) as i32 & 7)
        })
        .collect()
}

fn load(file: &str) -> Vec<(u32, u8)> {
    read_prefix_file(Path::new(&format!("{ROUTES_DIR}{file}"))).unwrap_or_else(|e| panic!("{e}"))
}

fn tables() -> Vec<Table> {
    // 500 of the Stanford router's 2 592 prefixes (seeded sample), with its default route.
    let mut stanford = load("stanford_yozb_prefixes.txt");
    let mut rng = Rng(500);
    for i in 0..stanford.len() {
        let j = i + rng.below(stanford.len() - i);
        stanford.swap(i, j);
    }
    stanford.truncate(500);
    if !stanford.iter().any(|&(_, l)| l == 0) {
        stanford[0] = (0, 0);
    }
    vec![
        Table { name: "stanford-500", routes: with_hops(&stanford) },
        Table { name: "bgp-10k", routes: with_hops(&load("bgp_v4_10k.txt")) },
        Table { name: "bgp-full", routes: with_hops(&load("bgp_v4_full.txt")) },
    ]
}

/// Uniform random addresses.
fn uniform(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng(seed);
    (0..n).map(|_| rng.next() as u32).collect()
}

/// Skewed traffic: `flows` destinations inside random routes of the table, drawn with Zipf
/// popularity (rank k has weight 1/k).
fn zipf(routes: &[Route], n: usize, flows: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng(seed);
    let dests: Vec<u32> = (0..flows)
        .map(|_| {
            let r = routes[rng.below(routes.len())];
            r.addr | (rng.next() as u32 & !mask(r.len))
        })
        .collect();
    let mut cdf = Vec::with_capacity(flows);
    let mut total = 0.0;
    for k in 1..=flows {
        total += 1.0 / k as f64;
        cdf.push(total);
    }
    (0..n)
        .map(|_| {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
            dests[cdf.partition_point(|&c| c < u).min(flows - 1)]
        })
        .collect()
}

/// Seconds for looking up every address, 64 at a time, after an untimed pass over the first
/// 256k (so that runs measure a table in its steady cache state, not the way there).
fn run_lookups<S: Lpm4>(t: &RouteTable<S>, addrs: &[u32]) -> f64 {
    let mut out = [0u32; MAX_BATCH];
    let mut sum = 0u64;
    for chunk in addrs[..addrs.len().min(1 << 18)].chunks(MAX_BATCH) {
        t.lookup_batch(black_box(chunk), &mut out[..chunk.len()]);
        sum = sum.wrapping_add(u64::from(out[0]));
    }
    let secs = time(|| {
        for chunk in addrs.chunks(MAX_BATCH) {
            t.lookup_batch(black_box(chunk), &mut out[..chunk.len()]);
            sum = sum.wrapping_add(u64::from(out[0]) + u64::from(out[chunk.len() - 1]));
        }
    });
    black_box(sum);
    secs
}

/// A built table of some structure, type-erased for the measuring loop.
trait Measured {
    fn seconds(&self, addrs: &[u32]) -> f64;
    /// Seconds for removing each of `routes` (all in the table) and adding it back.
    fn churn(&mut self, routes: &[Route]) -> f64;
    fn memory(&self) -> Memory;
    fn structure(&self) -> &'static str;
}

impl<S: Lpm4> Measured for RouteTable<S> {
    fn seconds(&self, addrs: &[u32]) -> f64 {
        run_lookups(self, addrs)
    }
    fn churn(&mut self, routes: &[Route]) -> f64 {
        time(|| {
            for r in routes {
                self.remove(r).expect("route present");
                self.add(*r, false).expect("route absent");
            }
        })
    }
    fn memory(&self) -> Memory {
        RouteTable::memory(self)
    }
    fn structure(&self) -> &'static str {
        S::NAME
    }
}

fn build<S: Lpm4>(routes: &[Route]) -> (Box<dyn Measured>, f64) {
    let mut t = None;
    let secs = time(|| t = Some(RouteTable::<S>::from_routes(routes.iter().copied()).expect("table builds").0));
    (Box::new(t.expect("built")), secs)
}

fn mib(bytes: usize) -> String {
    format!("{:.2}", bytes as f64 / (1 << 20) as f64)
}

// ---------------------------------------------------------------- the generic path

/// Addresses the source stamps into packets, set before each run.
static ADDRESSES: Mutex<Option<Arc<Vec<u32>>>> = Mutex::new(None);

/// A 60-byte Ethernet/IPv4/UDP frame; the source writes each packet's destination address
/// and IP checksum into a copy.
const FRAME: &str = "02000000000202000000000108004500002e00010000401165bc0a0000010a00010204d20035001a0000736c756963652d616c6c6f632d7465737421";

/// The IPv4 header checksum of `h` (20 bytes, checksum field included as it is).
fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]) as u32).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Emits `limit` Ethernet/IPv4/UDP packets whose destinations cycle through `ADDRESSES`.
struct RouteSource {
    left: u64,
    addrs: Arc<Vec<u32>>,
    next: usize,
    frame: Vec<u8>,
}

impl Element for RouteSource {
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
        let mut b = Batch::new();
        for _ in 0..n {
            let mut p = Packet::from_slice(&self.frame);
            let d = p.data_mut();
            d[30..34].copy_from_slice(&self.addrs[self.next].to_be_bytes());
            d[24..26].copy_from_slice(&[0, 0]);
            let sum = ip_checksum(&d[14..34]);
            d[24..26].copy_from_slice(&sum.to_be_bytes());
            self.next = (self.next + 1) % self.addrs.len();
            let _ = b.push(p);
        }
        ctx.push(0, b);
        TaskStatus::Busy
    }
}

fn build_source(config: &str, _: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let addrs = ADDRESSES.lock().expect("not poisoned").clone().ok_or("no addresses set")?;
    let left = config.trim().parse().map_err(|_| ConfigError::from("LIMIT"))?;
    let frame = (0..FRAME.len()).step_by(2).map(|i| u8::from_str_radix(&FRAME[i..i + 2], 16).expect("hex")).collect();
    Ok(Box::new(RouteSource { left, addrs, next: 0, frame }))
}

const SOURCE: ElementClass = ElementClass {
    name: "BenchRouteSource",
    ports: "0/1",
    processing: "h/h",
    doc: "BenchRouteSource(LIMIT)\nEmits LIMIT Ethernet/IPv4/UDP packets to varied destinations (benchmark element).",
    handlers: &[],
    build: build_source,
};

/// The generic IPv4 router path, as Click's router runs it:
/// `Strip(14) -> CheckIPHeader -> lookup -> DecIPTTL -> EtherEncap`, built (untimed), then
/// one run timed.
fn run_path(class: &str, routes: &str, packets: u64) -> f64 {
    let cfg = format!(
        "BenchRouteSource({packets}) -> Strip(14) -> CheckIPHeader -> rt :: {class}({routes});\n\
         dt :: DecIPTTL -> EtherEncap(0x0800, 2:0:0:0:0:1, 2:0:0:0:0:2) -> d :: Discard;\n{}",
        (0..8).map(|p| format!("rt[{p}] -> dt;")).collect::<Vec<_>>().join(" ")
    );
    let mut registry = sluice_elements::registry();
    registry.add_all(&[SOURCE]);
    let plan = plan_str("<router>", &cfg, &[], &registry, Path::new(".")).expect("config checks");
    let router = Router::new(plan, 1).expect("builds");
    let opts = RunOptions::default();
    let mut out = None;
    let secs = time(|| out = Some(router.run(&opts)));
    let router = out.expect("ran");
    let seen: u64 = router.read_handler("d", "count").expect("Discard counts").parse().expect("a number");
    let dropped: u64 = router.read_handler("rt", "drops").expect("drops").parse().expect("a number");
    assert_eq!(seen + dropped, packets, "every packet is routed or dropped");
    secs
}

pub fn run(s: Settings) {
    let n = s.packets(4_000_000) as usize;
    let tables = tables();
    println!(
        "router part 1: lookup structures alone, {n} lookups per run in batches of 64, {} rounds, medians",
        s.rounds()
    );
    let mut rows = Vec::new();
    let mut full_ns = Vec::new();
    for table in &tables {
        let traffic = [("uniform", uniform(n, 1)), ("zipf", zipf(&table.routes, n, 1 << 16, 2))];
        let mut built: Vec<(Box<dyn Measured>, f64)> =
            vec![build::<Poptrie>(&table.routes), build::<Dir24>(&table.routes)];
        // The list is O(routes) per lookup: measure it on the small tables, on fewer lookups.
        let linear_share = match table.routes.len() {
            0..=1000 => 8,
            1001..=20_000 => 256,
            _ => 0,
        };
        if linear_share > 0 {
            built.push(build::<Linear>(&table.routes));
        }
        let memory: Vec<Memory> = built.iter().map(|(t, _)| t.memory()).collect();
        let mut table_rows = Vec::new();
        for (tname, addrs) in &traffic {
            let samples = interleave(s.rounds(), built.len(), |v| {
                let a = if built[v].0.structure() == "linear" { &addrs[..n / linear_share] } else { &addrs[..] };
                built[v].0.seconds(a) / a.len() as f64
            });
            for (((t, build_secs), mut v), m) in built.iter().zip(samples).zip(&memory) {
                let ns = median(&mut v) * 1e9;
                if table.name == "bgp-full" && *tname == "uniform" {
                    full_ns.push((t.structure(), ns));
                }
                table_rows.push(vec![
                    table.name.to_string(),
                    table.routes.len().to_string(),
                    t.structure().to_string(),
                    tname.to_string(),
                    format!("{ns:.2}"),
                    format!("{:.1}", 1e3 / ns),
                    mib(m.lookup),
                    mib(m.update),
                    mib(m.routes),
                    format!("{:.0}", build_secs * 1e3),
                ]);
            }
        }
        // Updates, after the lookups (they leave a poptrie less compact): remove routes
        // drawn at random and add them back; each counts as one update.
        let mut rng = Rng(9);
        let mut sample: Vec<Route> = (0..1000).map(|_| table.routes[rng.below(table.routes.len())]).collect();
        sample.sort_by_key(|r| (r.addr, r.len));
        sample.dedup_by_key(|r| (r.addr, r.len));
        let update_us: Vec<f64> = built
            .iter_mut()
            .map(|(t, _)| {
                let secs = if t.structure() == "linear" {
                    t.churn(&sample[..sample.len() / 10]) / (sample.len() / 10) as f64
                } else {
                    t.churn(&sample) / sample.len() as f64
                };
                secs * 1e6 / 2.0
            })
            .collect();
        for mut row in table_rows {
            let k = built.iter().position(|(t, _)| t.structure() == row[2]).expect("measured");
            row.push(format!("{:.1}", update_us[k]));
            rows.push(row);
        }
    }
    print_table(
        &[
            "table",
            "routes",
            "structure",
            "traffic",
            "ns/lookup",
            "Mlookups/s",
            "lookup MiB",
            "update MiB",
            "routes MiB",
            "build ms",
            "update us",
        ],
        &rows,
    );

    let packets = s.packets(8_000_000);
    println!(
        "\nrouter part 2: source of Ethernet/IPv4/UDP to uniform destinations, {packets} packets of 60 B \
         per run, {} rounds, medians; path: Strip -> CheckIPHeader -> lookup -> DecIPTTL -> EtherEncap",
        s.rounds()
    );
    *ADDRESSES.lock().expect("not poisoned") = Some(Arc::new(uniform(1 << 20, 3)));
    let mut rows = Vec::new();
    let mut generic = Vec::new();
    for table in tables.iter() {
        let routes: String = table.routes.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ");
        let classes = ["RadixIPLookup", "DirectIPLookup"];
        let samples = interleave(s.rounds(), classes.len(), |v| run_path(classes[v], &routes, packets));
        for (class, mut v) in classes.iter().zip(samples) {
            let mpps = packets as f64 / median(&mut v) / 1e6;
            if table.name == "bgp-10k" {
                generic.push(mpps);
            }
            rows.push(vec![
                table.name.to_string(),
                class.to_string(),
                format!("{mpps:.2}"),
                format!("{:.1}", 1e3 / mpps),
            ]);
        }
    }
    print_table(&["table", "element", "Mpps", "ns/packet"], &rows);

    let best_full = full_ns.iter().map(|&(_, ns)| ns).fold(f64::INFINITY, f64::min);
    let per: Vec<String> = full_ns.iter().map(|(name, ns)| format!("{name} {ns:.2}")).collect();
    println!("full table, uniform traffic: {} ns/lookup; generic path = 10k routes, best element", per.join(", "));
    let generic_mpps = generic.iter().copied().fold(0.0, f64::max);
    print_result(
        "router",
        &[("lookup_ns_full", format!("{best_full:.2}")), ("generic_mpps", format!("{generic_mpps:.2}"))],
    );
}

//! `plugin`: the cost of running an element as a plugin, through the C ABI, instead of built
//! in. Two graphs differ only in that element: `BenchFlowSource -> X -> Discard`, batches of
//! 64 IPv4/UDP packets over 1024 flows, where X is
//! - `TokenBucket`, the Rust example plugin (`libsluice_token_bucket.so`), vs
//!   `BenchTokenBucket`, the very same source file (`plugins/examples/token_bucket/src/flow.rs`)
//!   compiled into Sluice as a built-in element; at a rate no flow reaches, so every packet
//!   takes the common path (decided, passed on);
//! - `CPaint`, the C example plugin (`plugins/libcpaint.so`), vs `BenchPaint`, the same work
//!   (paint every packet, count them) as a built-in element.
//!
//! The overhead per packet is the difference of the run times divided by the packets, taken
//! per round (the plugin and built-in runs of one element are adjacent) and reported as the
//! median over rounds. Run time here is the process's CPU time (all threads), not wall
//! time: on a shared machine a run's wall time also counts the time other processes held
//! the CPU, which swamps differences of a few nanoseconds per packet. It covers the adapter's work: a packet view per packet, the verdict
//! array, the call through a function pointer with the panic guard, and the check of every
//! packet's new bounds.
//!
//! The plugin libraries come from cargo: the scenario runs `cargo build -p
//! sluice-token-bucket -p sluice-cpaint` in the bench's own profile and target directory
//! first (a no-op when they are up to date), and loads them from there.

use crate::harness::{median, print_result, print_table, time, Settings};
use sluice::element::{BuildCtx, ConfigError, ElementClass, InitCtx, TaskStatus};
use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use sluice::{Batch, Ctx, Element, Packet, MAX_BATCH};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The token bucket's data path, shared with the plugin crate.
#[path = "../../plugins/examples/token_bucket/src/flow.rs"]
#[allow(dead_code)]
mod flow;

use flow::{Limiter, Offset};

/// Flows the source cycles through.
const FLOWS: u16 = 1024;

/// Ethernet + IPv4 + UDP, 64 bytes; the source port (bytes 34-35) varies per flow.
fn template() -> [u8; 64] {
    let mut p = [0u8; 64];
    p[12] = 0x08;
    p[14] = 0x45;
    p[16..18].copy_from_slice(&50u16.to_be_bytes());
    p[22] = 64;
    p[23] = 17;
    p[26..30].copy_from_slice(&[10, 0, 0, 1]);
    p[30..34].copy_from_slice(&[10, 0, 0, 2]);
    p[36..38].copy_from_slice(&53u16.to_be_bytes());
    p
}

/// `BenchFlowSource(LIMIT)`: LIMIT packets in full batches, over FLOWS flows; stops after.
struct FlowSource {
    left: u64,
    next: u16,
    data: [u8; 64],
}

impl Element for FlowSource {
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
            self.next = (self.next + 1) % FLOWS;
            self.data[34..36].copy_from_slice(&(1024 + self.next).to_be_bytes());
            let _ = b.push(Packet::from_slice(&self.data));
        }
        ctx.push(0, b);
        TaskStatus::Busy
    }
}

/// The built-in twin of the TokenBucket plugin: same limiter, same decisions, and like the
/// plugin adapter it passes a batch on whole when every packet is within its rate.
struct BuiltinTokenBucket {
    limiter: Limiter,
    epoch: Instant,
}

impl Element for BuiltinTokenBucket {
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let mut pass = [true; MAX_BATCH];
        let mut all = true;
        for (p, ok) in batch.iter().zip(pass.iter_mut()) {
            *ok = self.limiter.decide(p.data(), Offset::Auto, now);
            all &= *ok;
        }
        if !all {
            let mut k = 0;
            batch.retain_or(
                |_| {
                    k += 1;
                    pass[k - 1]
                },
                drop,
            );
        }
        ctx.push(0, batch);
    }
}

/// The built-in twin of CPaint: paint every packet, count them.
struct BuiltinPaint {
    color: u8,
    count: u64,
}

impl Element for BuiltinPaint {
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        for p in batch.iter_mut() {
            p.anno_mut().paint = self.color;
        }
        self.count += batch.len() as u64;
        ctx.push(0, batch);
    }
}

fn limit(config: &str) -> Result<u64, ConfigError> {
    config.trim().parse().map_err(|_| ConfigError::from("LIMIT"))
}

const CLASSES: [ElementClass; 3] = [
    ElementClass {
        name: "BenchFlowSource",
        ports: "0/1",
        processing: "h/h",
        doc: "BenchFlowSource(LIMIT)\nEmits LIMIT IPv4/UDP packets over 1024 flows (benchmark element).",
        handlers: &[],
        build: |c, _: &BuildCtx| Ok(Box::new(FlowSource { left: limit(c)?, next: 0, data: template() })),
    },
    ElementClass {
        name: "BenchTokenBucket",
        ports: "1/1",
        processing: "h/h",
        doc: "BenchTokenBucket\nTokenBucket's limiter built in, at a rate no flow reaches (benchmark element).",
        handlers: &[],
        build: |_, _| {
            Ok(Box::new(BuiltinTokenBucket { limiter: Limiter::new(1e12, 1_000_000, 4096), epoch: Instant::now() }))
        },
    },
    ElementClass {
        name: "BenchPaint",
        ports: "1/1",
        processing: "h/h",
        doc: "BenchPaint\nCPaint's work built in (benchmark element).",
        handlers: &[],
        build: |_, _| Ok(Box::new(BuiltinPaint { color: 7, count: 0 })),
    },
];

/// The element under test in each variant: (label, plugin class, built-in class).
const ELEMENTS: [(&str, &str, &str); 2] = [
    ("TokenBucket (Rust)", "TokenBucket(RATE 1e12, BURST 1000000, FLOWS 4096)", "BenchTokenBucket"),
    ("CPaint (C)", "CPaint(7)", "BenchPaint"),
];

/// Build (or bring up to date) the plugin libraries with cargo, in this binary's profile
/// and target directory, and return their paths.
fn plugin_libraries() -> (PathBuf, PathBuf) {
    let exe = std::env::current_exe().expect("own path");
    let profile_dir = exe.parent().expect("target/<profile>").to_path_buf();
    let tb = profile_dir.join("libsluice_token_bucket.so");
    let cpaint = profile_dir.join("plugins").join("libcpaint.so");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(p) => p.to_string(),
        None => "release".to_string(),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "--profile", &profile, "-p", "sluice-token-bucket", "-p", "sluice-cpaint"])
        .arg("--target-dir")
        .arg(profile_dir.parent().expect("target directory"))
        .current_dir(workspace)
        .status();
    match built {
        Ok(s) if s.success() => {}
        other => eprintln!("plugin: could not build the plugins with cargo ({other:?}); using what is there"),
    }
    for lib in [&tb, &cpaint] {
        assert!(
            lib.is_file(),
            "{} is missing: build it with `cargo build --release -p sluice-token-bucket -p sluice-cpaint`",
            lib.display()
        );
    }
    (tb, cpaint)
}

/// CPU time used by this process so far (every thread, finished ones too), in seconds.
#[cfg(target_os = "linux")]
fn cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid clock id and a valid timespec to fill (64-bit Linux layout).
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    t.sec as f64 + t.nsec as f64 * 1e-9
}

/// Build, then measure one run of `element` between the source and the sink: (CPU
/// seconds, wall seconds).
fn run_one(element: &str, packets: u64) -> (f64, f64) {
    let mut registry = sluice_elements::registry();
    registry.add_all(&CLASSES);
    let cfg = format!("BenchFlowSource({packets}) -> x :: {element} -> Discard;");
    let plan = plan_str("<plugin>", &cfg, &[], &registry, Path::new(".")).expect("config checks");
    let router = Router::new(plan, 1).expect("builds");
    let opts = RunOptions::default();
    #[cfg(target_os = "linux")]
    let cpu0 = cpu_seconds();
    let wall = time(|| drop(router.run(&opts)));
    #[cfg(target_os = "linux")]
    let cpu = cpu_seconds() - cpu0;
    #[cfg(not(target_os = "linux"))]
    let cpu = wall;
    (cpu, wall)
}

/// One untimed run for callgrind: `which` is `plugin` or `builtin`, `element` an index
/// into [`ELEMENTS`] (0: TokenBucket, 1: CPaint).
pub fn run_once(which: &str, element: usize, packets: u64) {
    let (tb, cpaint) = plugin_libraries();
    let registry = sluice_elements::registry();
    for lib in [&tb, &cpaint] {
        sluice::plugin::load(lib, &|n| registry.is_builtin(n)).unwrap_or_else(|e| panic!("{e}"));
    }
    let (_, plugin, builtin) = ELEMENTS[element];
    run_one(if which == "plugin" { plugin } else { builtin }, packets);
}

pub fn run(s: Settings) {
    let (tb, cpaint) = plugin_libraries();
    let registry = sluice_elements::registry();
    for lib in [&tb, &cpaint] {
        let l = sluice::plugin::load(lib, &|n| registry.is_builtin(n)).unwrap_or_else(|e| panic!("{e}"));
        println!("loaded plugin {} {} from {}", l.name, l.version, lib.display());
    }
    // Many short rounds: the median of per-round differences needs them, and a short pair
    // of runs is more likely to meet the same machine (other tenants come and go).
    let packets = s.packets(2_000_000);
    let rounds = s.rounds() * 8 + 1;
    println!(
        "plugin: BenchFlowSource -> X -> Discard, X a plugin or the same element built in, {packets} packets of 64 B \
         in batches of {MAX_BATCH} per run, {rounds} rounds, medians of CPU time"
    );
    let mut walls = vec![Vec::new(); ELEMENTS.len() * 2];
    let mut samples = vec![Vec::new(); ELEMENTS.len() * 2];
    for round in 0..rounds {
        for (i, (_, plugin, builtin)) in ELEMENTS.iter().enumerate() {
            // Alternate which of the pair runs first, so a drift in machine speed cancels.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let (cpu, wall) = run_one(if k == 0 { plugin } else { builtin }, packets);
                samples[2 * i + k].push(cpu);
                walls[2 * i + k].push(wall);
            }
        }
    }
    let ns = |secs: f64| secs * 1e9 / packets as f64;
    let mut rows = Vec::new();
    let mut overheads = Vec::new();
    for (i, (label, _, _)) in ELEMENTS.iter().enumerate() {
        let (ps, bs) = (&samples[2 * i], &samples[2 * i + 1]);
        let mut diffs: Vec<f64> = ps.iter().zip(bs).map(|(p, b)| ns(p - b)).collect();
        let over = median(&mut diffs);
        let (p, b) = (median(&mut ps.clone()), median(&mut bs.clone()));
        let (pw, bw) = (median(&mut walls[2 * i].clone()), median(&mut walls[2 * i + 1].clone()));
        overheads.push(over);
        rows.push(vec![
            label.to_string(),
            format!("{:.2}", ns(p)),
            format!("{:.2}", ns(b)),
            format!("{over:+.2}"),
            format!("{:.2}/{:.2}", ns(pw), ns(bw)),
        ]);
    }
    print_table(&["element", "plugin ns/pkt", "built-in ns/pkt", "overhead ns/pkt", "wall ns/pkt (p/b)"], &rows);
    // The Rust plugin is the reference figure; the C one goes through the same adapter.
    print_result(
        "plugin",
        &[("overhead_ns", format!("{:.2}", overheads[0])), ("c_overhead_ns", format!("{:.2}", overheads[1]))],
    );
}

//! `swap`: replace an element every N ms under full load, through the control socket, and
//! measure what the data path notices.
//!
//! One process runs
//!
//! ```text
//! src :: BenchStamp -> c_in :: Counter -> x :: BenchMark(0) -> q :: Queue(4096)
//!     -> Unqueue(BURST 64) -> lat :: BenchLatency -> c_out :: Counter -> Discard;
//! ```
//!
//! on one worker through a [`RouterHost`] and a [`ControlPlane`] on a temporary Unix socket,
//! and a client sends `SWAP x BenchMark(k)` every N ms, alternating k = 1, 0, 1, ... .
//!
//! - `BenchStamp` emits 64 packets of 64 bytes every time it is scheduled (as fast as the
//!   worker goes: full load). It reads the clock once per batch and stamps every packet
//!   twice: `timestamp_ns` = now (when the packet was made), and user annotation bytes 0..8
//!   = the time of its previous run (both in ns since a process-wide `Instant`, not the
//!   Unix epoch `timestamp_ns` normally holds; only this bench reads them). The second stamp models packets arriving from a wire at
//!   the rate the worker serves them: the packets of a batch arrived since the previous poll,
//!   so the oldest of them has waited since then. Unlike the making time, it sees every
//!   pause of the worker between polls (mailbox service, a swap's hand-over, a preemption).
//! - `BenchMark(k)` passes packets on and, on its first packet, stores the time into a
//!   global slot for k: command→effect = that time − the time the SWAP line was sent.
//! - `BenchLatency` reads the clock once per batch and records (time, latency since the
//!   making stamp, latency since the arrival stamp) of the batch's first packet into a
//!   vector reserved when it is built; nothing is allocated on the data path (when the
//!   vector is full it stops recording and counts the overflow). It hands the vector to the
//!   bench in `cleanup`, when the router stops.
//!
//! Timeline: warm-up (not recorded), a steady window (recorded, no swaps), the swaps
//! (recorded), then the source is stopped with a handler write, the graph drains, and
//! lost = c_in.count − c_out.count − q.drops. Samples are "during swaps" when the sink saw
//! them within 1 ms after a SWAP was sent, "between swaps" when more than 3 ms after one.
//! The sink records every batch of the steady window and of the first 3 ms after each
//! swap, and one batch in 16 otherwise (so the buffer stays small enough to be touched in
//! full before the run). p99_ratio compares the "arrived" p99 during swaps with the one
//! between swaps, which is interleaved with it in time; the steady window is printed too.
//!
//! After the swaps, unrecorded diagnostics say where a command's time goes: the same swap
//! called in process (no socket), READ round trips with and without the worker, and how
//! soon this machine runs a woken thread.

use crate::harness::{print_result, print_table, Settings};
use sluice::control::client::Client;
use sluice::control::commands::Access;
use sluice::control::{ControlPlane, Endpoint, ListenerSpec, RouterHost};
use sluice::element::{BuildCtx, ConfigError, ElementClass, InitCtx, TaskStatus};
use sluice::load::plan_str;
use sluice::runtime::RunOptions;
use sluice::{Batch, Ctx, Element, HandlerSpec, Packet, MAX_BATCH};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Process-wide time origin of every stamp.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since [`EPOCH`] (monotonic).
#[inline]
fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Per BenchMark configuration k: when its current instance saw its first packet (0: not yet).
static FIRST: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// Whether the latency sink records (off during warm-up and drain).
static RECORDING: AtomicBool = AtomicBool::new(false);
/// Until this time (ns since EPOCH) the sink records every batch; after it, one in
/// [`SUBSAMPLE`]. The bench sets it before each swap and for the steady window.
static FULL_UNTIL: AtomicU64 = AtomicU64::new(0);
/// The sink's samples and overflow count, handed over when the router stops.
static HANDED_OVER: Mutex<Option<(Vec<Sample>, u64)>> = Mutex::new(None);

/// How often `x` is swapped.
const PERIOD: Duration = Duration::from_millis(10);
/// A latency sample is "during a swap" when the sink saw it this soon after a SWAP was sent.
const DURING: u64 = 1_000_000;
/// Batches per second the sample buffer is sized for (~1.5x the most seen here).
const MAX_BATCH_RATE: f64 = 1_200_000.0;
/// Away from swaps and outside the steady window, the sink records one batch in this many.
const SUBSAMPLE: u64 = 16;
/// How long after a swap is about to be sent the sink records every batch.
const FULL_AFTER_SWAP: u64 = 3_000_000;

/// One latency sample: sink time, latency since making, latency since arrival (ns).
#[derive(Clone, Copy)]
struct Sample {
    t: u64,
    made: u32,
    arrived: u32,
}

// ---- BenchStamp ------------------------------------------------------------------------

struct Stamp {
    prev: u64,
    stopped: bool,
}

impl Element for Stamp {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if self.stopped {
            return TaskStatus::Done;
        }
        let now = now_ns();
        let arrived = if self.prev == 0 { now } else { self.prev };
        self.prev = now;
        let mut b = Batch::new();
        for _ in 0..MAX_BATCH {
            let mut p = Packet::new(64);
            let a = p.anno_mut();
            a.timestamp_ns = now;
            a.user[..8].copy_from_slice(&arrived.to_ne_bytes());
            let _ = b.push(p);
        }
        ctx.push(0, b);
        TaskStatus::Busy
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "stop" => {
                self.stopped = true;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

const STAMP: ElementClass = ElementClass {
    name: "BenchStamp",
    ports: "0/1",
    processing: "h/h",
    doc: "BenchStamp\nEmits 64-packet batches as fast as scheduled, stamped with the time (benchmark element).",
    handlers: &[HandlerSpec::write("stop", "stop emitting (the task reports Done)")],
    build: |_, _| Ok(Box::new(Stamp { prev: 0, stopped: false })),
};

// ---- BenchMark -------------------------------------------------------------------------

struct Mark {
    k: usize,
    seen: bool,
}

impl Element for Mark {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        if !self.seen {
            self.seen = true;
            let _ = FIRST[self.k].compare_exchange(0, now_ns(), Ordering::Relaxed, Ordering::Relaxed);
        }
        ctx.push(0, batch);
    }
}

fn build_mark(config: &str, _: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    match config.trim().parse::<usize>() {
        Ok(k) if k < FIRST.len() => Ok(Box::new(Mark { k, seen: false })),
        _ => Err(ConfigError::from("K: expected 0 or 1")),
    }
}

const MARK: ElementClass = ElementClass {
    name: "BenchMark",
    ports: "1/1",
    processing: "h/h",
    doc: "BenchMark(K)\nPasses packets; records when its first packet went through (benchmark element).",
    handlers: &[],
    build: build_mark,
};

// ---- BenchLatency ----------------------------------------------------------------------

struct Latency {
    samples: Vec<Sample>,
    overflow: u64,
    seq: u64,
}

impl Element for Latency {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        if RECORDING.load(Ordering::Relaxed) {
            let now = now_ns();
            self.seq += 1;
            let record = now <= FULL_UNTIL.load(Ordering::Relaxed) || self.seq.is_multiple_of(SUBSAMPLE);
            if let (true, Some(p)) = (record, batch.as_slice().first()) {
                let a = p.anno();
                let arrived = u64::from_ne_bytes(a.user[..8].try_into().expect("8 bytes"));
                if self.samples.len() < self.samples.capacity() {
                    self.samples.push(Sample {
                        t: now,
                        made: now.saturating_sub(a.timestamp_ns).min(u32::MAX as u64) as u32,
                        arrived: now.saturating_sub(arrived).min(u32::MAX as u64) as u32,
                    });
                } else {
                    self.overflow += 1;
                }
            }
        }
        ctx.push(0, batch);
    }

    fn cleanup(&mut self) {
        let s = std::mem::take(&mut self.samples);
        *HANDED_OVER.lock().unwrap_or_else(|p| p.into_inner()) = Some((s, self.overflow));
    }
}

fn build_latency(config: &str, _: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let cap: usize = config.trim().parse().map_err(|_| ConfigError::from("CAPACITY: expected a number"))?;
    // Touch every page now, so that recording never page-faults on the data path.
    let mut samples = Vec::with_capacity(cap);
    samples.resize(cap, Sample { t: 0, made: 0, arrived: 0 });
    samples.clear();
    Ok(Box::new(Latency { samples, overflow: 0, seq: 0 }))
}

const LATENCY: ElementClass = ElementClass {
    name: "BenchLatency",
    ports: "1/1",
    processing: "h/h",
    doc: "BenchLatency(CAPACITY)\nRecords per-batch latency samples (benchmark element).",
    handlers: &[],
    build: build_latency,
};

// ---- the scenario ----------------------------------------------------------------------

/// Nearest-rank percentile of sorted values.
fn pct<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn count(c: &mut Client, handler: &str) -> u64 {
    let r = c.read(handler).expect("control socket answers");
    assert!(r.is_ok(), "{handler}: {r:?}");
    r.text().trim().parse().expect("a number")
}

fn us(ns: Option<u32>) -> String {
    ns.map_or("-".into(), |v| format!("{:.2}", v as f64 / 1e3))
}

pub fn run(s: Settings) {
    let swaps: usize = if s.quick { 100 } else { 1000 };
    let warmup = Duration::from_millis(300);
    let steady = if s.quick { Duration::from_secs(1) } else { Duration::from_secs(2) };
    // Every batch of the steady window and of FULL_AFTER_SWAP after each swap, one in
    // SUBSAMPLE of the rest of the swap phase.
    let full_s = steady.as_secs_f64() + swaps as f64 * FULL_AFTER_SWAP as f64 / 1e9;
    let rest_s = (PERIOD * swaps as u32 + Duration::from_millis(500)).as_secs_f64() / SUBSAMPLE as f64;
    let capacity = ((full_s + rest_s) * MAX_BATCH_RATE) as usize;
    now_ns();

    let cfg = format!(
        "src :: BenchStamp -> c_in :: Counter -> x :: BenchMark(0) -> q :: Queue(4096)\n  \
         -> Unqueue(BURST 64) -> lat :: BenchLatency({capacity}) -> c_out :: Counter -> Discard;"
    );
    println!(
        "swap: {cfg}\n  1 worker, SWAP x BenchMark(1|0) every {} ms over a Unix control socket, {swaps} swaps; \
         steady window {} ms before swapping; 'during' = sink saw the batch <= {} ms after a SWAP was sent; \
         'between' = more than {} ms after the last SWAP, one batch in {SUBSAMPLE} sampled",
        PERIOD.as_millis(),
        steady.as_millis(),
        DURING / 1_000_000,
        FULL_AFTER_SWAP / 1_000_000
    );

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "  machine: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let mut registry = sluice_elements::registry();
    registry.add_all(&[STAMP, MARK, LATENCY]);
    let plan = plan_str("<swap>", &cfg, &[], &registry, Path::new(".")).expect("config checks");
    let opts = RunOptions { workers: 1, keep_running: true };
    let host = Arc::new(RouterHost::start(plan, cfg.clone(), "<swap>".into(), registry, opts).expect("builds"));
    let path = std::env::temp_dir().join(format!("sluice-bench-swap-{}.sock", std::process::id()));
    let plane = ControlPlane::start(
        host.clone(),
        vec![ListenerSpec { endpoint: Endpoint::Unix(path.clone()), access: Access::default() }],
    )
    .expect("control socket opens");
    let mut c = Client::connect_unix(&path).expect("connects");

    // Warm-up, then the steady window.
    std::thread::sleep(warmup);
    FULL_UNTIL.store(u64::MAX, Ordering::Relaxed);
    RECORDING.store(true, Ordering::Relaxed);
    let steady_start = now_ns();
    std::thread::sleep(steady);
    let steady_end = now_ns();
    FULL_UNTIL.store(0, Ordering::Relaxed);

    // The swaps.
    let mut sent = Vec::with_capacity(swaps);
    let mut effect = Vec::with_capacity(swaps);
    let mut reply = Vec::with_capacity(swaps);
    let mut missed = 0usize;
    let start = Instant::now();
    for i in 0..swaps {
        let due = start + PERIOD * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let k = (i + 1) % 2;
        FIRST[k].store(0, Ordering::Relaxed);
        let spec = format!("BenchMark({k})");
        FULL_UNTIL.store(now_ns() + FULL_AFTER_SWAP, Ordering::Relaxed);
        let t0 = now_ns();
        let r = c.swap("x", &spec).expect("control socket answers");
        let t1 = now_ns();
        assert!(r.is_ok(), "swap {i}: {r:?}");
        sent.push(t0);
        reply.push(t1 - t0);
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let f = FIRST[k].load(Ordering::Relaxed);
            if f != 0 {
                effect.push(f.saturating_sub(t0));
                break;
            }
            if Instant::now() > deadline {
                missed += 1;
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    std::thread::sleep(PERIOD);
    RECORDING.store(false, Ordering::Relaxed);
    let swap_end = now_ns();

    // Diagnostics, not recorded: where the time of a command goes.
    // (a) The same swap called in process on the host, as the control actor calls it once
    //     it has the line: no socket, no actix hops.
    // (b) A READ of a counter over the socket: served by the worker at its quiescent point,
    //     whose reply wakes the waiting host actor.
    // (c) A READ of a global handler (`version`): the socket and actix path alone.
    // (d) How soon a sleeping thread runs after another thread wakes it, when the waker then
    //     sleeps (as client and control threads do when they pass a command on), and
    //     (e) when the waker keeps running for 2 ms (as the polling worker does after it
    //     answers a command).
    let (mut direct_effect, mut direct_call, mut read_rtt, mut global_rtt) = (vec![], vec![], vec![], vec![]);
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<(bool, u64)>();
    let waker = std::thread::spawn(move || {
        let (mut sleeping, mut busy) = (Vec::new(), Vec::new());
        while let Ok((spins, t)) = wake_rx.recv() {
            if spins { &mut busy } else { &mut sleeping }.push(now_ns() - t);
        }
        (sleeping, busy)
    });
    for i in 0..swaps / 5 {
        std::thread::sleep(PERIOD);
        let k = (swaps + i + 1) % 2;
        FIRST[k].store(0, Ordering::Relaxed);
        let t0 = now_ns();
        host.swap("x", &format!("BenchMark({k})")).expect("swap");
        direct_call.push(now_ns() - t0);
        let deadline = Instant::now() + Duration::from_secs(1);
        while FIRST[k].load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(50));
        }
        if let Some(f) = Some(FIRST[k].load(Ordering::Relaxed)).filter(|&f| f != 0) {
            direct_effect.push(f.saturating_sub(t0));
        }
        std::thread::sleep(PERIOD);
        let t0 = now_ns();
        count(&mut c, "c_in.count");
        read_rtt.push(now_ns() - t0);
        std::thread::sleep(PERIOD);
        let t0 = now_ns();
        let r = c.read("version").expect("control socket answers");
        global_rtt.push(now_ns() - t0);
        assert!(r.is_ok(), "{r:?}");
        std::thread::sleep(PERIOD);
        let _ = wake_tx.send((false, now_ns()));
        std::thread::sleep(PERIOD);
        let _ = wake_tx.send((true, now_ns()));
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
    }
    drop(wake_tx);
    let (mut wake_sleeping, mut wake_busy) = waker.join().expect("waker thread");

    // Stop the source, let the graph drain, count.
    let w = c.write("src.stop", "").expect("control socket answers");
    assert!(w.is_ok(), "{w:?}");
    let (mut c_in, mut c_out, mut drops);
    let t = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        c_in = count(&mut c, "c_in.count");
        c_out = count(&mut c, "c_out.count");
        drops = count(&mut c, "q.drops");
        let queued = count(&mut c, "q.length");
        if queued == 0 && count(&mut c, "c_out.count") == c_out && count(&mut c, "c_in.count") == c_in {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the graph never drained");
    }
    let lost = c_in as i64 - c_out as i64 - drops as i64;
    let _ = c.quit();
    host.stop();
    while !host.is_finished() {
        std::thread::sleep(Duration::from_millis(5));
    }
    plane.shutdown();
    let (samples, overflow) = HANDED_OVER.lock().unwrap_or_else(|p| p.into_inner()).take().expect("sink handed over");
    if overflow > 0 {
        println!(
            "WARNING: the sample buffer overflowed ({overflow} batches not recorded); the latest swaps lack samples"
        );
    }

    // Tag the samples: steady window, within DURING after a swap, between swaps.
    let (mut st, mut du, mut be) = ((vec![], vec![]), (vec![], vec![]), (vec![], vec![]));
    let mut j = 0; // index of the last swap sent at or before the sample
    for smp in &samples {
        let bucket = if smp.t >= steady_start && smp.t <= steady_end {
            &mut st
        } else if smp.t >= sent[0] && smp.t <= swap_end {
            while j + 1 < sent.len() && sent[j + 1] <= smp.t {
                j += 1;
            }
            match smp.t - sent[j] {
                dt if dt <= DURING => &mut du,
                dt if dt > FULL_AFTER_SWAP => &mut be,
                _ => continue, // recorded in full, but not part of either window
            }
        } else {
            continue;
        };
        bucket.0.push(smp.made);
        bucket.1.push(smp.arrived);
    }
    let mut rows = Vec::new();
    let mut p99s = Vec::new();
    for (name, (made, arrived)) in [("steady", &mut st), ("during swaps", &mut du), ("between swaps", &mut be)] {
        made.sort_unstable();
        arrived.sort_unstable();
        p99s.push(pct(arrived, 99.0));
        rows.push(vec![
            name.to_string(),
            made.len().to_string(),
            us(pct(made, 50.0)),
            us(pct(made, 99.0)),
            us(pct(arrived, 50.0)),
            us(pct(arrived, 99.0)),
            us(pct(arrived, 99.9)),
            us(arrived.last().copied()),
        ]);
    }
    println!("latency per batch (µs): 'made' = sink − time the packet was made; 'arrived' = sink − previous poll of the source (includes pauses of the worker)");
    println!("p99_ratio = arrived p99 during swaps / arrived p99 between swaps (interleaved in time, so machine load drifts alike)");
    print_table(
        &["window", "batches", "made p50", "made p99", "arrived p50", "arrived p99", "arrived p99.9", "arrived max"],
        &rows,
    );

    effect.sort_unstable();
    let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{:.3}", v as f64 / 1e6));
    let row = |name: &str, v: &mut Vec<u64>| {
        v.sort_unstable();
        vec![name.to_string(), v.len().to_string(), ms(pct(v, 50.0)), ms(pct(v, 99.0)), ms(v.last().copied())]
    };
    print_table(
        &["swap command", "n", "p50 ms", "p99 ms", "max ms"],
        &[
            row("SWAP command→effect", &mut effect.clone()),
            row("SWAP command→reply", &mut reply),
            row("diag: host.swap()→effect", &mut direct_effect),
            row("diag: host.swap() call", &mut direct_call),
            row("diag: READ c_in.count round trip", &mut read_rtt),
            row("diag: READ version round trip", &mut global_rtt),
            row("diag: wake-up, waker sleeps", &mut wake_sleeping),
            row("diag: wake-up, waker runs on", &mut wake_busy),
        ],
    );
    println!(
        "swaps done {}, effect not seen within 1 s: {missed}; packets in {c_in}, out {c_out}, queue drops {drops}, lost {lost}; \
         steady {:.1} Mpps; samples {} (overflow {overflow})",
        sent.len(),
        st.0.len() as f64 * 64.0 / ((steady_end - steady_start) as f64 / 1e9) / 1e6,
        samples.len()
    );
    let effect_p99 = pct(&effect, 99.0).map_or(f64::NAN, |v| v as f64 / 1e6);
    // The baseline is "between swaps", not the steady window: it is interleaved in time with
    // the swaps, so machine load that drifts over the run (this machine is shared) affects
    // both sides alike. The steady window is printed for context.
    let ratio = match (p99s[1], p99s[2]) {
        (Some(d), Some(s)) if s > 0 => d as f64 / s as f64,
        _ => f64::NAN,
    };
    print_result(
        "swap",
        &[
            ("lost", lost.to_string()),
            ("effect_p99_ms", format!("{effect_p99:.3}")),
            ("p99_ratio", format!("{ratio:.2}")),
        ],
    );
}

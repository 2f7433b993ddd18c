//! Runtime tests on hand-built graphs with small test elements: batching through ports,
//! push/pull resolution and its errors, pull paths, push cycles, stopping, handlers, swaps.

use sluice::batch::{Batch, MAX_BATCH};
use sluice::element::{Combine, ConfigError, Ctx, Element, ElementClass, HandlerSpec, InitCtx, State, TaskStatus};
use sluice::error::Loc;
use sluice::graph::{Connection, ElementDecl, Graph};
use sluice::packet::Packet;
use sluice::runtime::{ControlError, Router, RunOptions};
use sluice::testing::{collected, inject, new_id, plan, registry};
use std::sync::atomic::{AtomicU64, Ordering};

fn loc(line: u32) -> Loc {
    Loc::new("t.graph", line, 1)
}

/// Build a graph from `(name, class, config)` and `(from, fport, to, tport)` lists.
fn graph(elems: &[(&str, &str, &str)], conns: &[(usize, usize, usize, usize)]) -> Graph {
    let mut g = Graph::default();
    for (i, (n, c, cfg)) in elems.iter().enumerate() {
        g.elements.push(ElementDecl {
            name: n.to_string(),
            class: c.to_string(),
            config: cfg.to_string(),
            loc: loc(i as u32 + 1),
            config_loc: Loc::new("t.graph", i as u32 + 1, 10),
            anonymous: false,
        });
    }
    for (k, &(from, fp, to, tp)) in conns.iter().enumerate() {
        g.connections.push(Connection {
            from,
            from_port: fp,
            to,
            to_port: tp,
            loc: Loc::new("t.graph", 100 + k as u32, 3),
        });
    }
    g
}

fn packets(n: usize) -> Vec<Packet> {
    (0..n).map(|i| Packet::from_slice(&(i as u32).to_be_bytes())).collect()
}

fn seq(p: &Packet) -> u32 {
    u32::from_be_bytes(p.data()[..4].try_into().unwrap())
}

// --- test elements ---------------------------------------------------------------------

/// Counts packets and the largest batch it saw; agnostic.
#[derive(Default)]
struct Pass {
    count: u64,
    max_batch: usize,
}

impl Element for Pass {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.count += batch.len() as u64;
        self.max_batch = self.max_batch.max(batch.len());
        ctx.push(0, batch);
    }
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let b = ctx.pull(0, max);
        self.count += b.len() as u64;
        b
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(self.count.to_string()),
            "max_batch" => Some(self.max_batch.to_string()),
            _ => None,
        }
    }
    fn read_handler_with(&self, name: &str, param: &str) -> Option<Result<String, String>> {
        (name == "plus").then(|| {
            param.parse::<u64>().map(|x| (x + self.count).to_string()).map_err(|_| format!("'{param}' is not a number"))
        })
    }
    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "count" => {
                self.count = value.parse().map_err(|_| format!("'{value}' is not a number"))?;
                Ok(())
            }
            _ => Err("no".into()),
        }
    }
    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(self.count))
    }
    fn give_state(&mut self, state: State) {
        if let Ok(c) = state.downcast::<u64>() {
            self.count = *c;
        }
    }
}

const PASS_HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("count", Combine::Sum, "packets"),
    HandlerSpec::read("max_batch", Combine::First, "largest batch"),
    HandlerSpec::read("plus", Combine::First, "count plus the parameter"),
];

const PASS: ElementClass = ElementClass {
    name: "Pass",
    ports: "1/1",
    processing: "a/a",
    doc: "Pass\nCounts.",
    handlers: PASS_HANDLERS,
    build: |c, _| {
        if c.is_empty() {
            Ok(Box::new(Pass::default()))
        } else {
            Err(ConfigError::from("too many arguments"))
        }
    },
};

/// A bounded FIFO: push in, pull out.
#[derive(Default)]
struct Fifo {
    q: std::collections::VecDeque<Packet>,
}

impl Element for Fifo {
    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        self.q.extend(batch);
    }
    fn pull(&mut self, _port: usize, max: usize, _ctx: Ctx<'_>) -> Batch {
        let mut b = Batch::new();
        while b.len() < max {
            match self.q.pop_front() {
                Some(p) => {
                    let _ = b.push(p);
                }
                None => break,
            }
        }
        b
    }
    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(std::mem::take(&mut self.q)))
    }
    fn give_state(&mut self, state: State) {
        if let Ok(q) = state.downcast::<std::collections::VecDeque<Packet>>() {
            self.q = *q;
        }
    }
}

const FIFO: ElementClass = ElementClass {
    name: "Fifo",
    ports: "1/1",
    processing: "h/l",
    doc: "Fifo\nQueue.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Fifo::default())),
};

/// Pulls up to 16 packets per task run and pushes them on.
struct Puller;

impl Element for Puller {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }
    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let b = ctx.pull(0, 16);
        if b.is_empty() {
            return TaskStatus::Idle;
        }
        ctx.push(0, b);
        TaskStatus::Busy
    }
}

const PULLER: ElementClass = ElementClass {
    name: "Puller",
    ports: "1/1",
    processing: "l/h",
    doc: "Puller\nPulls.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Puller)),
};

/// Endless source: emits full batches until the router stops.
struct Endless {
    sent: &'static AtomicU64,
}

impl Element for Endless {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }
    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let mut b = Batch::new();
        for _ in 0..MAX_BATCH {
            let _ = b.push(Packet::new(60));
        }
        self.sent.fetch_add(MAX_BATCH as u64, Ordering::Relaxed);
        ctx.push(0, b);
        TaskStatus::Busy
    }
}

static ENDLESS_SENT: AtomicU64 = AtomicU64::new(0);

const ENDLESS: ElementClass = ElementClass {
    name: "Endless",
    ports: "0/1",
    processing: "h/h",
    doc: "Endless\nForever.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Endless { sent: &ENDLESS_SENT })),
};

/// Sends packets whose first byte is nonzero around a loop (output 1), decrementing it,
/// and the rest out of output 0: a push cycle through the same element.
struct Looper;

impl Element for Looper {
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        let mut again = Batch::new();
        batch.retain_or(
            |p| p.data()[0] == 0,
            |mut p| {
                p.data_mut()[0] -= 1;
                let _ = again.push(p);
            },
        );
        ctx.push(0, batch);
        ctx.push(1, again);
    }
}

const LOOPER: ElementClass = ElementClass {
    name: "Looper",
    ports: "-/2",
    processing: "h/h",
    doc: "Looper\nLoops.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Looper)),
};

/// Asks the router to stop (drain) as soon as it sees a packet.
struct Stopper;

impl Element for Stopper {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        ctx.request_stop();
        ctx.push(0, batch);
    }
}

const STOPPER: ElementClass = ElementClass {
    name: "Stopper",
    ports: "1/1",
    processing: "h/h",
    doc: "Stopper\nStops.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Stopper)),
};

/// A source that never has work and is never done (like a rate-limited source waiting).
struct Idler;

impl Element for Idler {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }
    fn run_task(&mut self, _ctx: Ctx<'_>) -> TaskStatus {
        TaskStatus::Idle
    }
}

const IDLER: ElementClass = ElementClass {
    name: "Idler",
    ports: "0/1",
    processing: "h/h",
    doc: "Idler\nWaits.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Idler)),
};

/// Emits N packets in full batches, then is done.
struct Limited {
    left: u64,
}

impl Element for Limited {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }
    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if self.left == 0 {
            return TaskStatus::Done;
        }
        let n = self.left.min(MAX_BATCH as u64) as usize;
        self.left -= n as u64;
        let mut b = Batch::new();
        for _ in 0..n {
            let _ = b.push(Packet::new(60));
        }
        ctx.push(0, b);
        TaskStatus::Busy
    }
}

const LIMITED: ElementClass = ElementClass {
    name: "Limited",
    ports: "0/1",
    processing: "h/h",
    doc: "Limited(N)\nN packets.",
    handlers: &[],
    build: |c, _| Ok(Box::new(Limited { left: c.trim().parse().map_err(|_| ConfigError::from("N"))? })),
};

/// Drops everything.
struct Drop_;

impl Element for Drop_ {}

const DROP: ElementClass = ElementClass {
    name: "Drop",
    ports: "1/0",
    processing: "h/h",
    doc: "Drop\nDrops.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Drop_)),
};

/// Hands every batch to its own "coprocessor" thread with a ticket for output 0 and
/// returns at once; the thread holds each batch for a while (every `DELAY`th batch
/// sleeps 1 ms) and resumes it, in order. Counts batches handed off.
struct Offload {
    jobs: std::sync::mpsc::Sender<(sluice::resume::Ticket, Batch)>,
    handed: u64,
}

impl Offload {
    fn new(delay_every: u64) -> Offload {
        let (jobs, rx) = std::sync::mpsc::channel::<(sluice::resume::Ticket, Batch)>();
        std::thread::spawn(move || {
            for (k, (ticket, batch)) in rx.into_iter().enumerate() {
                if delay_every > 0 && k as u64 % delay_every == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                // A graph gone is not this thread's problem: the batch is dropped with it.
                let _ = ticket.resume(batch);
            }
        });
        Offload { jobs, handed: 0 }
    }
}

impl Element for Offload {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.handed += 1;
        let ticket = ctx.ticket(0);
        self.jobs.send((ticket, batch)).expect("the coprocessor runs");
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "handed").then(|| self.handed.to_string())
    }
    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(self.handed))
    }
    fn give_state(&mut self, state: State) {
        if let Ok(c) = state.downcast::<u64>() {
            self.handed = *c;
        }
    }
}

const OFFLOAD: ElementClass = ElementClass {
    name: "Offload",
    ports: "1/1",
    processing: "h/h",
    doc: "Offload(DELAY)\nAsynchronous work on another thread.",
    handlers: &[HandlerSpec::read("handed", Combine::Sum, "batches handed off")],
    build: |c, _| Ok(Box::new(Offload::new(c.trim().parse().map_err(|_| ConfigError::from("DELAY"))?))),
};

/// Holds every packet for 30 ms, then pushes it on: a task that is Waiting while it holds
/// packets that are not due yet.
#[derive(Default)]
struct Hold {
    held: std::collections::VecDeque<(std::time::Instant, Packet)>,
}

impl Element for Hold {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }
    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        let due = std::time::Instant::now() + std::time::Duration::from_millis(30);
        self.held.extend(batch.into_iter().map(|p| (due, p)));
    }
    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let now = std::time::Instant::now();
        let mut out = Batch::new();
        while let Some((due, _)) = self.held.front() {
            if *due > now || out.is_full() {
                break;
            }
            let _ = out.push(self.held.pop_front().expect("front exists").1);
        }
        if !out.is_empty() {
            ctx.push(0, out);
            TaskStatus::Busy
        } else if self.held.is_empty() {
            TaskStatus::Idle
        } else {
            TaskStatus::Waiting
        }
    }
}

const HOLD: ElementClass = ElementClass {
    name: "Hold",
    ports: "1/1",
    processing: "h/h",
    doc: "Hold\nHolds packets for 30 ms.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Hold::default())),
};

/// A device-like element with an input: its task is a source (it would bring packets in
/// from outside); it passes pushed packets on, and its task is done after 2000 runs.
#[derive(Default)]
struct Device {
    runs: u64,
}

impl Element for Device {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_source_task();
        Ok(())
    }
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        ctx.push(0, batch);
    }
    fn run_task(&mut self, _ctx: Ctx<'_>) -> TaskStatus {
        self.runs += 1;
        if self.runs >= 2000 {
            TaskStatus::Done
        } else {
            TaskStatus::Idle
        }
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "runs").then(|| self.runs.to_string())
    }
}

const DEVICE: ElementClass = ElementClass {
    name: "Device",
    ports: "1/1",
    processing: "h/h",
    doc: "Device\nA source with an input.",
    handlers: &[HandlerSpec::read("runs", Combine::First, "task runs")],
    build: |_, _| Ok(Box::new(Device::default())),
};

fn build_classes() -> Vec<ElementClass> {
    vec![PASS, FIFO, PULLER, ENDLESS, LOOPER, STOPPER, IDLER, LIMITED, DROP, OFFLOAD, HOLD, DEVICE]
}

fn run(g: Graph) -> Router {
    let p = plan(g, &build_classes()).unwrap_or_else(|e| panic!("{e}"));
    Router::new(p, 1).unwrap().run(&RunOptions::default())
}

// --- tests -----------------------------------------------------------------------------

#[test]
fn batches_flow_in_order_and_never_exceed_max_batch() {
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(1000));
    let g = graph(
        &[("src", "Inject", &format!("ID {src}")), ("p", "Pass", ""), ("dst", "Collect", &format!("ID {dst}"))],
        &[(0, 0, 1, 0), (1, 0, 2, 0)],
    );
    let r = run(g);
    let out = collected(dst);
    assert_eq!(out.iter().map(seq).collect::<Vec<_>>(), (0..1000).collect::<Vec<_>>());
    assert_eq!(r.read_handler("p", "count").unwrap(), "1000");
    let max: usize = r.read_handler("p", "max_batch").unwrap().parse().unwrap();
    assert!(max > 1 && max <= MAX_BATCH, "batches of up to {MAX_BATCH}, saw {max}");
}

#[test]
fn pull_path_through_queue_and_agnostic_element() {
    // Inject -> Fifo (h/l) -> Pass (agnostic: becomes pull) -> Puller (l/h) -> Collect
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(500));
    let g = graph(
        &[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Fifo", ""),
            ("p", "Pass", ""),
            ("u", "Puller", ""),
            ("dst", "Collect", &format!("ID {dst}")),
        ],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0), (3, 0, 4, 0)],
    );
    let p = plan(g, &build_classes()).unwrap();
    let pull = sluice::ports::PortKind::Pull;
    assert_eq!(p.inputs[2], vec![pull], "Pass resolved to pull");
    assert_eq!(p.outputs[2], vec![pull]);
    let r = Router::new(p, 1).unwrap().run(&RunOptions::default());
    assert_eq!(collected(dst).iter().map(seq).collect::<Vec<_>>(), (0..500).collect::<Vec<_>>());
    assert_eq!(r.read_handler("p", "count").unwrap(), "500");
    assert!(r.read_handler("p", "ports").unwrap().starts_with("1 input\npull\tq[0]"));
}

#[test]
fn push_output_to_pull_input_is_refused_with_location() {
    // Inject (push) -> Puller (pull input)
    let g = graph(
        &[("src", "Inject", "ID 1"), ("u", "Puller", ""), ("d", "Collect", "ID 2")],
        &[(0, 0, 1, 0), (1, 0, 2, 0)],
    );
    let err = plan(g, &build_classes()).err().expect("refused").to_string();
    assert_eq!(
        err,
        "t.graph:100:3: push output 0 of 'src' connected to pull input 0 of 'u' (push output connected to pull input)"
    );
}

#[test]
fn agnostic_element_between_push_and_pull_is_refused() {
    // Inject (push) -> Pass (agnostic) -> Puller (pull)
    let g = graph(
        &[("src", "Inject", "ID 1"), ("p", "Pass", ""), ("u", "Puller", ""), ("d", "Collect", "ID 2")],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0)],
    );
    let err = plan(g, &build_classes()).err().expect("refused").to_string();
    assert!(err.contains("'p'") && err.contains("push") && err.contains("pull"), "{err}");
}

#[test]
fn push_output_connected_twice_and_unconnected_ports_are_refused() {
    let g = graph(
        &[("src", "Inject", "ID 1"), ("a", "Collect", "ID 2"), ("b", "Collect", "ID 3"), ("l", "Looper", "")],
        &[(0, 0, 1, 0), (0, 0, 2, 0), (3, 1, 1, 0)],
    );
    let err = plan(g, &build_classes()).err().expect("refused").to_string();
    assert!(err.contains("t.graph:101:3: push output 0 of 'src' is connected more than once"), "{err}");
    assert!(err.contains("t.graph:4:1: output 0 of 'l' is not connected"), "{err}");
}

#[test]
fn unknown_class_too_many_ports_and_bad_config_are_all_reported() {
    let g = graph(
        &[
            ("src", "Inject", "ID 1"),
            ("p", "Pas", ""),
            ("q", "Pass", "oops"),
            ("d", "Collect", "ID 2"),
            ("s", "Pass", ""),
        ],
        &[(0, 0, 1, 0), (1, 0, 3, 0), (4, 1, 3, 0)],
    );
    let err = plan(g, &build_classes()).err().expect("refused");
    let text = err.to_string();
    assert!(text.contains("t.graph:2:1: unknown element class 'Pas' — did you mean 'Pass'?"), "{text}");
    assert!(text.contains("t.graph:3:10: Pass 'q': too many arguments"), "{text}");
    assert!(text.contains("t.graph:5:1: 's' (Pass) has 1 output, but output 1 is connected"), "{text}");
}

#[test]
fn push_cycles_are_deferred_not_reentered() {
    // src -> l; l[1] -> l (a loop); l[0] -> dst. Each packet loops data[0] times.
    let (src, dst) = (new_id(), new_id());
    inject(src, (0..100u8).map(|i| Packet::from_slice(&[i % 5, i])));
    let g = graph(
        &[("src", "Inject", &format!("ID {src}")), ("l", "Looper", ""), ("dst", "Collect", &format!("ID {dst}"))],
        &[(0, 0, 1, 0), (1, 1, 1, 0), (1, 0, 2, 0)],
    );
    run(g);
    let mut out: Vec<u8> = collected(dst).iter().map(|p| p.data()[1]).collect();
    out.sort_unstable();
    assert_eq!(out, (0..100u8).collect::<Vec<_>>(), "every packet leaves exactly once");
}

#[test]
fn request_stop_drains_and_stop_interrupts_an_endless_source() {
    let g =
        graph(&[("e", "Endless", ""), ("p", "Pass", ""), ("d", "Collect", "ID 999999")], &[(0, 0, 1, 0), (1, 0, 2, 0)]);
    let p = plan(g, &build_classes()).unwrap();
    let running = Router::new(p, 1).unwrap().start(&RunOptions::default());
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!running.is_finished(), "an endless source keeps the router running");
    running.stop();
    let r = running.wait();
    let n: u64 = r.read_handler("p", "count").unwrap().parse().unwrap();
    assert!(n > 0);
    assert_eq!(collected(999999).len() as u64, n, "everything counted reached the sink");
}

#[test]
fn stop_request_from_an_element_drains_then_stops() {
    // An idle source that is never done would keep the router running; a STOP request
    // halts the sources and ends the run once everything queued has drained.
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(300));
    let g = graph(
        &[
            ("src", "Inject", &format!("ID {src}")),
            ("s", "Stopper", ""),
            ("q", "Fifo", ""),
            ("u", "Puller", ""),
            ("dst", "Collect", &format!("ID {dst}")),
            ("idle", "Idler", ""),
            ("d2", "Collect", "ID 999996"),
        ],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0), (3, 0, 4, 0), (5, 0, 6, 0)],
    );
    let p = plan(g, &build_classes()).unwrap();
    let running = Router::new(p, 1).unwrap().start(&RunOptions::default());
    let t = std::time::Instant::now();
    while !running.is_finished() {
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "STOP did not stop the router");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    running.wait();
    // The stop came with the first batch: the source made no more, and the 64 packets
    // already in the graph drained through the queue before the router ended.
    assert_eq!(collected(dst).len(), MAX_BATCH, "the queue drained before the stop");
}

#[test]
fn without_stop_an_idle_source_keeps_the_router_running() {
    let g = graph(&[("idle", "Idler", ""), ("d", "Collect", "ID 999995")], &[(0, 0, 1, 0)]);
    let p = plan(g, &build_classes()).unwrap();
    let running = Router::new(p, 1).unwrap().start(&RunOptions::default());
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!running.is_finished());
    running.stop();
    running.wait();
}

#[test]
fn handlers_read_write_and_refuse_clearly() {
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(10));
    let g = graph(
        &[("src", "Inject", &format!("ID {src}")), ("p", "Pass", ""), ("dst", "Collect", &format!("ID {dst}"))],
        &[(0, 0, 1, 0), (1, 0, 2, 0)],
    );
    let mut r = run(g);
    assert_eq!(r.read_handler("p", "class").unwrap(), "Pass");
    assert_eq!(r.read_handler("p", "name").unwrap(), "p");
    r.write_handler("p", "count", "5").unwrap();
    assert_eq!(r.read_handler("p", "count").unwrap(), "5");
    assert_eq!(
        r.read_handler("pp", "count").unwrap_err(),
        ControlError::NoSuchElement { element: "pp".into(), suggestion: Some("p".into()) }
    );
    assert_eq!(r.read_handler("p", "cuont").unwrap_err().to_string(), "element 'p' has no handler 'cuont'");
    assert_eq!(
        r.write_handler("p", "max_batch", "1").unwrap_err().to_string(),
        "handler 'p.max_batch' is not writable"
    );
    assert_eq!(r.write_handler("p", "count", "x").unwrap_err().to_string(), "p.count: 'x' is not a number");
    collected(dst);
}

#[test]
fn handlers_sum_over_workers() {
    // Two workers, each with its own Endless source: counts add up.
    let g =
        graph(&[("e", "Endless", ""), ("p", "Pass", ""), ("d", "Collect", "ID 999997")], &[(0, 0, 1, 0), (1, 0, 2, 0)]);
    let p = plan(g, &build_classes()).unwrap();
    let running = Router::new(p, 2).unwrap().start(&RunOptions { workers: 2, keep_running: false });
    std::thread::sleep(std::time::Duration::from_millis(30));
    running.stop();
    let r = running.wait();
    let total: u64 = r.read_handler("p", "count").unwrap().parse().unwrap();
    assert_eq!(collected(999997).len() as u64, total);
}

#[test]
fn swaps_under_load_lose_nothing_and_hand_over_state() {
    // Limited -> p :: Pass -> q :: Fifo -> Puller -> c :: Pass -> Drop. Swap p and q 1000
    // times in all while packets flow. Pass hands over its count and Fifo its queued
    // packets, so at the end both counters equal the number of packets sent.
    const N: u64 = 2_000_000;
    let g = graph(
        &[
            ("src", "Limited", &N.to_string()),
            ("p", "Pass", ""),
            ("q", "Fifo", ""),
            ("u", "Puller", ""),
            ("c", "Pass", ""),
            ("d", "Drop", ""),
        ],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0), (3, 0, 4, 0), (4, 0, 5, 0)],
    );
    let reg = registry(&build_classes());
    let p = plan(g, &build_classes()).unwrap();
    let running = Router::new(p, 1).unwrap().start(&RunOptions { workers: 1, keep_running: true });
    let count = |e: &str| -> u64 { running.read_handler(e, "count").unwrap().parse().unwrap() };
    let mut swaps_while_flowing = 0;
    for i in 0..1000 {
        let (target, class) = if i % 2 == 0 { ("p", "Pass") } else { ("q", "Fifo") };
        let before = count("c");
        running.swap(target, class, "", &reg).unwrap();
        if before < N && count("c") > before {
            swaps_while_flowing += 1;
        }
    }
    assert!(swaps_while_flowing >= 50, "only {swaps_while_flowing} swaps happened while packets flowed");
    // Refused swaps leave the element untouched.
    let err = running.swap("p", "Fifo", "", &reg).unwrap_err().to_string();
    assert!(err.contains("cannot swap 'p'") && err.contains("pull"), "{err}");
    let err = running.swap("p", "Pass", "junk", &reg).unwrap_err().to_string();
    assert!(err.contains("too many arguments"), "{err}");
    let t = std::time::Instant::now();
    while count("c") < N && t.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(count("p"), N, "p's count survived every swap");
    assert_eq!(count("c"), N, "packets in = packets out");
    running.stop();
    running.wait();
}

#[test]
fn stop_request_halts_sources_that_never_finish() {
    // An endless source next to a stopping branch: sources stop producing once STOP is
    // requested, the rest drains, the router ends.
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(10));
    let g = graph(
        &[
            ("e", "Endless", ""),
            ("d", "Drop", ""),
            ("src", "Inject", &format!("ID {src}")),
            ("s", "Stopper", ""),
            ("dst", "Collect", &format!("ID {dst}")),
        ],
        &[(0, 0, 1, 0), (2, 0, 3, 0), (3, 0, 4, 0)],
    );
    let p = plan(g, &build_classes()).unwrap();
    let running = Router::new(p, 1).unwrap().start(&RunOptions::default());
    let t = std::time::Instant::now();
    while !running.is_finished() {
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "STOP did not stop an endless source");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    running.wait();
    assert_eq!(collected(dst).len(), 10);
}

#[test]
fn batches_back_from_asynchronous_work_resume_where_they_left() {
    // Inject -> a :: Offload -> c :: Pass -> Collect. The source finishes long before the
    // coprocessor does; the router must not end while batches are out, and every packet
    // must come out of the Offload's output 0, in order.
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(5000));
    let g = graph(
        &[
            ("src", "Inject", &format!("ID {src}")),
            ("a", "Offload", "5"),
            ("c", "Pass", ""),
            ("out", "Collect", &format!("ID {dst}")),
        ],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0)],
    );
    let r = run(g);
    let out = collected(dst);
    assert_eq!(out.iter().map(seq).collect::<Vec<_>>(), (0..5000).collect::<Vec<_>>());
    assert_eq!(r.read_handler("c", "count").unwrap(), "5000");
    assert!(r.read_handler("a", "handed").unwrap().parse::<u64>().unwrap() >= 5000 / MAX_BATCH as u64);
}

#[test]
fn swaps_while_batches_are_out_lose_nothing() {
    // Limited -> a :: Offload -> c :: Pass -> Drop, with the Offload and the Pass after it
    // swapped again and again while batches are at the coprocessor: a continuation is a
    // port of the graph, so a batch comes back through whatever element runs there now.
    const N: u64 = 300_000;
    let g = graph(
        &[("src", "Limited", &N.to_string()), ("a", "Offload", "50"), ("c", "Pass", ""), ("d", "Drop", "")],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0)],
    );
    let reg = registry(&build_classes());
    let p = plan(g, &build_classes()).unwrap();
    let running = Router::new(p, 1).unwrap().start(&RunOptions { workers: 1, keep_running: false });
    let count = || -> u64 { running.read_handler("c", "count").map(|v| v.parse().unwrap()).unwrap_or(N) };
    let mut swaps_while_flowing = 0;
    for i in 0..200 {
        let before = count();
        let r = if i % 2 == 0 { running.swap("a", "Offload", "50", &reg) } else { running.swap("c", "Pass", "", &reg) };
        if r.is_err() {
            break; // the router finished
        }
        if before < N && count() > before {
            swaps_while_flowing += 1;
        }
    }
    assert!(swaps_while_flowing >= 10, "only {swaps_while_flowing} swaps happened while packets flowed");
    let r = running.wait();
    assert_eq!(r.read_handler("c", "count").unwrap(), N.to_string(), "every packet came back and went on");
}

#[test]
fn stop_waits_for_batches_out_at_a_coprocessor() {
    // A drain (STOP) ends only once the batches handed off have come back.
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(640));
    let g = graph(
        &[
            ("src", "Inject", &format!("ID {src}")),
            ("s", "Stopper", ""),
            ("a", "Offload", "1"),
            ("out", "Collect", &format!("ID {dst}")),
        ],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0)],
    );
    let p = plan(g, &build_classes()).unwrap();
    let r = Router::new(p, 1).unwrap().run(&RunOptions { workers: 1, keep_running: true });
    let handed: usize = r.read_handler("a", "handed").unwrap().parse().unwrap();
    assert!(handed >= 1);
    assert_eq!(collected(dst).len(), handed * MAX_BATCH, "every batch handed off came back before the stop");
}

#[test]
fn a_waiting_task_keeps_the_router_running_until_its_packets_are_due() {
    // The source is done at once; the router must not end while Hold still holds packets.
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(300));
    let g = graph(
        &[("src", "Inject", &format!("ID {src}")), ("h", "Hold", ""), ("out", "Collect", &format!("ID {dst}"))],
        &[(0, 0, 1, 0), (1, 0, 2, 0)],
    );
    let t = std::time::Instant::now();
    run(g);
    assert_eq!(collected(dst).iter().map(seq).collect::<Vec<_>>(), (0..300).collect::<Vec<_>>());
    assert!(t.elapsed() >= std::time::Duration::from_millis(30));

    // A STOP drains what is held, too.
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(100));
    let g = graph(
        &[
            ("src", "Inject", &format!("ID {src}")),
            ("s", "Stopper", ""),
            ("h", "Hold", ""),
            ("out", "Collect", &format!("ID {dst}")),
        ],
        &[(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0)],
    );
    let p = plan(g, &build_classes()).unwrap();
    Router::new(p, 1).unwrap().run(&RunOptions { workers: 1, keep_running: true });
    // The first batch asked for the stop; the source makes no more, and what Hold holds
    // comes out before the router stops.
    assert_eq!(collected(dst).len(), MAX_BATCH, "the held packets came out before the stop");
}

#[test]
fn a_source_task_with_an_input_keeps_the_graph_running_until_done() {
    // The injected packets are done at once; the Device's task is a source, so the graph
    // runs until that task is done, not until the first idle pass.
    let (src, dst) = (new_id(), new_id());
    inject(src, packets(10));
    let g = graph(
        &[("src", "Inject", &format!("ID {src}")), ("x", "Device", ""), ("out", "Collect", &format!("ID {dst}"))],
        &[(0, 0, 1, 0), (1, 0, 2, 0)],
    );
    let r = run(g);
    assert_eq!(r.read_handler("x", "runs").unwrap(), "2000");
    assert_eq!(collected(dst).len(), 10);
}

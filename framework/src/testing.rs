//! Helpers for testing elements: a packet source and a packet collector that tests control,
//! and functions that run one element or a whole configuration.
//!
//! `Collect(ID n)` keeps every packet it receives in a store the test reads with
//! [`collected`]; `Inject(ID n)` emits the packets a test put in its store with [`inject`],
//! in batches, then reports done. Both are ordinary elements, so a test exercises the same
//! trampolines, batching and scheduling as a real graph.

use crate::batch::{Batch, MAX_BATCH};
use crate::check::{check, Plan};
use crate::element::{BuildCtx, ConfigError, Ctx, Element, ElementClass, InitCtx, TaskStatus};
use crate::error::{GraphErrors, Loc};
use crate::graph::{Connection, ElementDecl, Graph};
use crate::packet::Packet;
use crate::registry::Registry;
use crate::runtime::{Router, RunOptions};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

type Store = Mutex<HashMap<u64, VecDeque<Packet>>>;

fn store() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A fresh store id, unique in this process.
pub fn new_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Queue packets for `Inject(ID id)`.
pub fn inject(id: u64, packets: impl IntoIterator<Item = Packet>) {
    store().lock().unwrap().entry(id).or_default().extend(packets);
}

/// Take what `Collect(ID id)` received so far.
pub fn collected(id: u64) -> Vec<Packet> {
    store().lock().unwrap().remove(&id).map(Vec::from).unwrap_or_default()
}

fn parse_id(config: &str) -> Result<u64, ConfigError> {
    let rest = config.trim().strip_prefix("ID").ok_or("expected 'ID n'")?;
    rest.trim().parse().map_err(|_| ConfigError::from("expected 'ID n'"))
}

struct Collect {
    id: u64,
}

impl Element for Collect {
    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        store().lock().unwrap().entry(self.id).or_default().extend(batch);
    }
}

struct Inject {
    id: u64,
}

impl Element for Inject {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let mut b = Batch::new();
        {
            let mut s = store().lock().unwrap();
            let q = s.entry(self.id).or_default();
            while b.len() < MAX_BATCH {
                match q.pop_front() {
                    Some(p) => {
                        let _ = b.push(p);
                    }
                    None => break,
                }
            }
        }
        if b.is_empty() {
            return TaskStatus::Done;
        }
        ctx.push(0, b);
        TaskStatus::Busy
    }
}

/// `Collect(ID n)`: test sink.
pub const COLLECT: ElementClass = ElementClass {
    name: "Collect",
    ports: "-/0",
    processing: "h/h",
    doc: "Collect(ID n)\nTest sink: keeps packets for the test to read.",
    handlers: &[],
    build: |c, _| Ok(Box::new(Collect { id: parse_id(c)? })),
};

/// `Inject(ID n)`: test source.
pub const INJECT: ElementClass = ElementClass {
    name: "Inject",
    ports: "0/1",
    processing: "h/h",
    doc: "Inject(ID n)\nTest source: emits the packets the test queued.",
    handlers: &[],
    build: |c, _| Ok(Box::new(Inject { id: parse_id(c)? })),
};

/// A registry with `classes` plus `Collect` and `Inject`.
pub fn registry(classes: &[ElementClass]) -> Registry {
    let mut r = Registry::new();
    r.add_all(classes);
    r.add_all(&[COLLECT, INJECT]);
    r
}

fn decl(name: &str, class: &str, config: &str) -> ElementDecl {
    ElementDecl {
        name: name.into(),
        class: class.into(),
        config: config.into(),
        loc: Loc::new("<test>", 1, 1),
        config_loc: Loc::new("<test>", 1, 1),
        anonymous: false,
    }
}

/// Run `class(config)` alone: `input` goes into input 0 (when the class has inputs), every
/// output is collected. Returns the packets from each output, and the stopped router for
/// reading handlers.
pub fn run_element(
    class: &ElementClass,
    config: &str,
    noutputs: usize,
    input: Vec<Packet>,
) -> Result<(Vec<Vec<Packet>>, Router), GraphErrors> {
    let (ins, _) = class.port_count();
    let src = new_id();
    let sinks: Vec<u64> = (0..noutputs).map(|_| new_id()).collect();
    let mut g = Graph::default();
    g.elements.push(decl("e", class.name, config));
    let loc = Loc::new("<test>", 1, 1);
    if ins.max != Some(0) {
        g.elements.push(decl("src", "Inject", &format!("ID {src}")));
        g.connections.push(Connection { from: 1, from_port: 0, to: 0, to_port: 0, loc: loc.clone() });
        inject(src, input);
    }
    for (port, id) in sinks.iter().enumerate() {
        let idx = g.elements.len();
        g.elements.push(decl(&format!("out{port}"), "Collect", &format!("ID {id}")));
        g.connections.push(Connection { from: 0, from_port: port, to: idx, to_port: 0, loc: loc.clone() });
    }
    let plan = check(g, &registry(&[*class]), Path::new("."))?;
    let router = Router::new(plan, 1)?.run(&RunOptions::default());
    Ok((sinks.into_iter().map(collected).collect(), router))
}

/// Check a hand-built graph against `classes` (plus the test classes).
pub fn plan(g: Graph, classes: &[ElementClass]) -> Result<Plan, GraphErrors> {
    check(g, &registry(classes), Path::new("."))
}

/// A test element context for building elements directly.
pub fn build(
    class: &ElementClass,
    config: &str,
    ninputs: usize,
    noutputs: usize,
) -> Result<Box<dyn Element>, ConfigError> {
    class.instantiate(config, &BuildCtx { class: class.name, ..BuildCtx::standalone("e", ninputs, noutputs) })
}

/// Parse, check and run a configuration written in Click's language with `classes` (plus
/// the test classes) until it stops by itself; returns the stopped router.
pub fn run_config(config: &str, classes: &[ElementClass]) -> Result<Router, GraphErrors> {
    let plan = crate::load::plan_str("<test>", config, &[], &registry(classes), Path::new("."))?;
    Ok(Router::new(plan, 1)?.run(&RunOptions::default()))
}

//! Running a checked graph: one [`WorkerGraph`] per worker thread, a scheduler loop on each,
//! a mailbox through which the control side reads and writes handlers and swaps elements,
//! and a clean stop.
//!
//! The worker loop runs every task once (sources, pullers), then reaches its quiescent
//! point: it bumps its QSBR epoch and serves its mailbox. Control commands therefore touch
//! elements only between batches, on the worker's own thread, so elements need no locks and
//! a swap never meets a packet half-way through an element. When idle, a worker sleeps on
//! its mailbox, so a command wakes it at once.

use crate::check::Plan;
use crate::element::{BuildCtx, Combine, ElementClass, HandlerSpec, TaskStatus};
use crate::error::{suggest, GraphErrors};
use crate::qsbr::Qsbr;
use crate::registry::Registry;
use crate::router::{Instance, Shared, WorkerGraph};
use crossbeam_channel::{bounded, unbounded, Receiver, Select, Sender, TryRecvError};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a STOP request waits for queued packets to drain before the router stops anyway.
const STOP_DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// How to run a graph.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub workers: usize,
    /// Keep running after every source is done (e.g. while a control socket is open).
    pub keep_running: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { workers: 1, keep_running: false }
    }
}

/// Handlers every element has, whatever its class.
pub const GENERIC_HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("name", Combine::First, "the element's name"),
    HandlerSpec::read("class", Combine::First, "the element's class name"),
    HandlerSpec::read("config", Combine::First, "the element's configuration string"),
    HandlerSpec::read("ports", Combine::First, "the element's ports and their processing"),
    HandlerSpec::read("handlers", Combine::First, "the element's handlers, one per line"),
];

/// Why a handler call or a swap failed. Each says what and where, in a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlError {
    NoSuchElement { element: String, suggestion: Option<String> },
    NoSuchHandler { element: String, handler: String },
    NotReadable { element: String, handler: String },
    NotWritable { element: String, handler: String },
    HandlerFailed { element: String, handler: String, message: String },
    SwapRefused { element: String, message: String },
    Stopped,
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::NoSuchElement { element, suggestion: Some(s) } => {
                write!(f, "no element named '{element}' — did you mean '{s}'?")
            }
            ControlError::NoSuchElement { element, suggestion: None } => write!(f, "no element named '{element}'"),
            ControlError::NoSuchHandler { element, handler } => {
                write!(f, "element '{element}' has no handler '{handler}'")
            }
            ControlError::NotReadable { element, handler } => {
                write!(f, "handler '{element}.{handler}' is not readable")
            }
            ControlError::NotWritable { element, handler } => {
                write!(f, "handler '{element}.{handler}' is not writable")
            }
            ControlError::HandlerFailed { element, handler, message } => write!(f, "{element}.{handler}: {message}"),
            ControlError::SwapRefused { element, message } => write!(f, "cannot swap '{element}': {message}"),
            ControlError::Stopped => write!(f, "the router has stopped"),
        }
    }
}

impl std::error::Error for ControlError {}

/// A graph built on every worker and ready to run (or stopped after running). Handlers can
/// be read and written directly.
pub struct Router {
    plan: Arc<Plan>,
    graphs: Vec<WorkerGraph>,
    /// Pin worker `i` to CPU `cpus[i % cpus.len()]`; empty: let the OS place them.
    cpus: Vec<usize>,
}

impl Router {
    /// Build and initialize the graph on `workers` workers. Errors carry element locations.
    pub fn new(plan: Plan, workers: usize) -> Result<Router, GraphErrors> {
        let workers = workers.max(1);
        let graphs = (0..workers).map(|w| WorkerGraph::build(&plan, w, workers)).collect::<Result<Vec<_>, _>>()?;
        Ok(Router { plan: Arc::new(plan), graphs, cpus: Vec::new() })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn element_index(&self, name: &str) -> Result<usize, ControlError> {
        element_index(&self.plan, name)
    }

    /// The class element `i` runs as now.
    fn class_of(&self, i: usize) -> ElementClass {
        self.graphs.first().map(|g| g.instance(i).class).unwrap_or(self.plan.classes[i])
    }

    /// Each element's name with the class and configuration it runs as now.
    pub fn implementations(&self) -> Vec<(String, &'static str, String)> {
        let g = self.graphs.first();
        self.plan
            .graph
            .elements
            .iter()
            .enumerate()
            .map(|(i, e)| match g {
                Some(g) => (e.name.clone(), g.instance(i).class.name, g.instance(i).config.clone()),
                None => (e.name.clone(), self.plan.classes[i].name, e.config.clone()),
            })
            .collect()
    }

    /// Read `element.handler`, combining the workers' answers.
    pub fn read_handler(&self, element: &str, handler: &str) -> Result<String, ControlError> {
        self.read_handler_with(element, handler, "")
    }

    /// Read `element.handler` with a parameter (empty: none).
    pub fn read_handler_with(&self, element: &str, handler: &str, param: &str) -> Result<String, ControlError> {
        let i = self.element_index(element)?;
        let spec = handler_spec(&self.plan, i, &self.class_of(i), handler)?;
        let values =
            self.graphs.iter().map(|g| read_on(&self.plan, g, i, handler, param)).collect::<Result<Vec<_>, _>>()?;
        Ok(combine(spec.combine, values))
    }

    /// Write `element.handler` on every worker.
    pub fn write_handler(&mut self, element: &str, handler: &str, value: &str) -> Result<(), ControlError> {
        let i = self.element_index(element)?;
        handler_spec(&self.plan, i, &self.class_of(i), handler)?;
        for g in &mut self.graphs {
            write_on(&self.plan, g, i, handler, value)?;
        }
        Ok(())
    }

    /// Whether `element.handler` exists and can be read (or written), without calling it.
    pub fn check_handler(&self, element: &str, handler: &str, write: bool) -> Result<(), ControlError> {
        let i = self.element_index(element)?;
        check_handler(&self.plan, i, &self.class_of(i), handler, write)
    }

    /// Pin worker `i` to CPU `cpus[i % cpus.len()]` when started (each worker then owns a
    /// core, as busy-polling workers should).
    pub fn pin_workers(&mut self, cpus: Vec<usize>) {
        self.cpus = cpus;
    }

    /// Hot-swap support: every element of this (new, not yet started) router that has an
    /// element of the same name and class in `old` receives that element's state, worker by
    /// worker (Click's hotconfig). Returns the names of the elements whose state was carried.
    pub fn carry_state_from(&mut self, old: &mut Router) -> Vec<String> {
        let mut carried = Vec::new();
        for (i, e) in self.plan.graph.elements.iter().enumerate() {
            let Some(j) = old.plan.graph.find(&e.name) else { continue };
            if old.graphs.first().map(|g| g.instance(j).class.name) != Some(self.plan.classes[i].name) {
                continue;
            }
            let mut any = false;
            for (new_g, old_g) in self.graphs.iter_mut().zip(old.graphs.iter_mut()) {
                if let Some(state) = old_g.take_state(j) {
                    new_g.instance_mut(i).element.give_state(state);
                    any = true;
                }
            }
            if any {
                carried.push(e.name.clone());
            }
        }
        carried
    }

    /// Start the worker threads.
    pub fn start(self, opts: &RunOptions) -> Running {
        let shared = Arc::new(Shared::default());
        let qsbr = Arc::new(Qsbr::new(self.graphs.len()));
        let channels: Vec<(Sender<Command>, Receiver<Command>)> = self.graphs.iter().map(|_| unbounded()).collect();
        let mailboxes: Vec<Sender<Command>> = channels.iter().map(|(tx, _)| tx.clone()).collect();
        // Scripts (Script, DriverManager) run on worker 0 and reach the other workers through
        // their mailboxes.
        let scripts = self.graphs.first().map_or(0, |g| g.scripts().len());
        shared.scripts_live.store(scripts, Ordering::Relaxed);
        shared.driver.store(self.graphs.first().is_some_and(|g| g.has_driver()), Ordering::Release);
        let mut threads = Vec::new();
        for (mut g, (_, rx)) in self.graphs.into_iter().zip(channels) {
            g.set_shared(shared.clone());
            let peers: Vec<Sender<Command>> =
                if g.worker == 0 && scripts > 0 { mailboxes[1..].to_vec() } else { Vec::new() };
            let (shared, qsbr, plan) = (shared.clone(), qsbr.clone(), self.plan.clone());
            let keep_running = opts.keep_running;
            let cpu = (!self.cpus.is_empty()).then(|| self.cpus[g.worker % self.cpus.len()]);
            let handle = std::thread::Builder::new()
                .name(format!("sluice-worker-{}", g.worker))
                .spawn(move || {
                    if let Some(cpu) = cpu {
                        pin_to(cpu);
                    }
                    worker_loop(g, &plan, &shared, &qsbr, &rx, &peers, keep_running)
                })
                .expect("spawning a worker thread");
            threads.push(handle);
        }
        let current = Mutex::new(
            self.plan.graph.elements.iter().zip(&self.plan.classes).map(|(e, c)| (*c, e.config.clone())).collect(),
        );
        Running { plan: self.plan, shared, qsbr, mailboxes, threads, current }
    }

    /// Run until the graph stops by itself (sources done, STOP) or `stop` is set.
    pub fn run(self, opts: &RunOptions) -> Router {
        self.start(opts).wait()
    }
}

/// Commands a worker serves at its quiescent point.
pub(crate) enum Command {
    Read {
        element: usize,
        handler: String,
        param: String,
        reply: Sender<Result<String, ControlError>>,
    },
    Write {
        element: usize,
        handler: String,
        value: String,
        reply: Sender<Result<(), ControlError>>,
    },
    Swap {
        element: usize,
        instance: Box<Instance>,
        hand_over: bool,
        reply: Sender<Box<Instance>>,
    },
    /// Only wakes a sleeping worker (to notice a stop).
    Wake,
}

/// A router whose workers are running.
pub struct Running {
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    qsbr: Arc<Qsbr>,
    mailboxes: Vec<Sender<Command>>,
    threads: Vec<JoinHandle<WorkerGraph>>,
    /// Class and configuration each element runs now (changed by swaps); control side only.
    current: Mutex<Vec<(ElementClass, String)>>,
}

impl Running {
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The flags that stop the router; register them with signal handlers.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Stop now (like SIGINT).
    pub fn stop(&self) {
        self.shared.stop_now.store(true, Ordering::Relaxed);
        // Wake sleeping workers so they notice.
        for m in &self.mailboxes {
            let _ = m.send(Command::Wake);
        }
    }

    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Wait for every worker to stop and give back the graphs (handlers stay readable).
    pub fn wait(self) -> Router {
        let graphs = self.threads.into_iter().map(|t| t.join().expect("worker thread panicked")).collect();
        Router { plan: self.plan, graphs, cpus: Vec::new() }
    }

    pub fn element_index(&self, name: &str) -> Result<usize, ControlError> {
        element_index(&self.plan, name)
    }

    /// Read a handler on the running router (served by each worker between batches).
    pub fn read_handler(&self, element: &str, handler: &str) -> Result<String, ControlError> {
        self.read_handler_with(element, handler, "")
    }

    /// Read a handler with a parameter (empty: none) on the running router.
    pub fn read_handler_with(&self, element: &str, handler: &str, param: &str) -> Result<String, ControlError> {
        let i = self.element_index(element)?;
        let spec = handler_spec(&self.plan, i, &self.class_of(i), handler)?;
        let mut values = Vec::new();
        for m in &self.mailboxes {
            let (tx, rx) = bounded(1);
            m.send(Command::Read { element: i, handler: handler.to_string(), param: param.to_string(), reply: tx })
                .map_err(|_| ControlError::Stopped)?;
            values.push(rx.recv().map_err(|_| ControlError::Stopped)??);
        }
        Ok(combine(spec.combine, values))
    }

    /// Write a handler on every worker.
    pub fn write_handler(&self, element: &str, handler: &str, value: &str) -> Result<(), ControlError> {
        let i = self.element_index(element)?;
        handler_spec(&self.plan, i, &self.class_of(i), handler)?;
        for m in &self.mailboxes {
            let (tx, rx) = bounded(1);
            m.send(Command::Write { element: i, handler: handler.to_string(), value: value.to_string(), reply: tx })
                .map_err(|_| ControlError::Stopped)?;
            rx.recv().map_err(|_| ControlError::Stopped)??;
        }
        Ok(())
    }

    /// Replace `element` by a new `class(config)` while packets flow. The replacements are
    /// built and initialized here, off the data path; if that fails nothing changes. Each
    /// worker then hands the old element's state to its replacement and switches its
    /// trampoline target at its next quiescent point. The old instances are freed once
    /// every worker has passed a quiescent point after the switch.
    pub fn swap(&self, element: &str, class: &str, config: &str, registry: &Registry) -> Result<(), ControlError> {
        let i = self.element_index(element)?;
        let instances = build_replacements(&self.plan, i, class, config, registry, self.mailboxes.len())?;
        let hand_over = true;
        let mut replies = Vec::new();
        for (m, inst) in self.mailboxes.iter().zip(instances) {
            let (tx, rx) = bounded(1);
            m.send(Command::Swap { element: i, instance: inst, hand_over, reply: tx })
                .map_err(|_| ControlError::Stopped)?;
            replies.push(rx);
        }
        let old: Vec<Box<Instance>> =
            replies.into_iter().map(|r| r.recv().map_err(|_| ControlError::Stopped)).collect::<Result<_, _>>()?;
        if let Some(c) = registry.get(class) {
            self.current.lock().expect("not poisoned")[i] = (c, config.to_string());
        }
        self.qsbr.synchronize();
        drop(old);
        Ok(())
    }

    /// The class element `i` runs as now.
    fn class_of(&self, i: usize) -> ElementClass {
        self.current.lock().expect("not poisoned")[i].0
    }

    /// Each element's name with the class and configuration it runs now.
    pub fn implementations(&self) -> Vec<(String, &'static str, String)> {
        let cur = self.current.lock().expect("not poisoned");
        self.plan
            .graph
            .elements
            .iter()
            .zip(cur.iter())
            .map(|(e, (c, cfg))| (e.name.clone(), c.name, cfg.clone()))
            .collect()
    }

    /// Whether `element.handler` exists and can be read (or written), without calling it.
    pub fn check_handler(&self, element: &str, handler: &str, write: bool) -> Result<(), ControlError> {
        let i = self.element_index(element)?;
        check_handler(&self.plan, i, &self.class_of(i), handler, write)
    }
}

fn check_handler(plan: &Plan, i: usize, class: &ElementClass, handler: &str, write: bool) -> Result<(), ControlError> {
    let element = plan.graph.elements[i].name.as_str();
    let spec = handler_spec(plan, i, class, handler)?;
    let (element, handler) = (element.to_string(), handler.to_string());
    match (write, spec.read, spec.write) {
        (false, false, _) => Err(ControlError::NotReadable { element, handler }),
        (true, _, false) => Err(ControlError::NotWritable { element, handler }),
        _ => Ok(()),
    }
}

/// Build and initialize one replacement per worker for element `i`, checking that the new
/// class fits the element's connected ports and their push/pull kinds. Each instance is
/// boxed on its own because it is handed to its worker and owned by a node from there.
#[allow(clippy::vec_box)]
fn build_replacements(
    plan: &Plan,
    i: usize,
    class_name: &str,
    config: &str,
    registry: &Registry,
    nworkers: usize,
) -> Result<Vec<Box<Instance>>, ControlError> {
    let name = plan.graph.elements[i].name.clone();
    let refuse = |message: String| ControlError::SwapRefused { element: name.clone(), message };
    let class = registry.get(class_name).ok_or_else(|| refuse(registry.unknown_class_message(class_name)))?;
    let (ins, outs) = class.port_count();
    let (ni, no) = (plan.inputs[i].len(), plan.outputs[i].len());
    if !ins.allows(ni) || !outs.allows(no) {
        return Err(refuse(format!(
            "{class_name} takes {} inputs and {} outputs, but '{name}' has {ni} and {no} connected",
            ins.describe(),
            outs.describe()
        )));
    }
    // Fixed ports must match the resolved kinds; agnostic ports all take one kind, as the
    // checker resolved them for a whole element.
    let proc_ = class.processing_spec();
    use crate::ports::PortKind::Agnostic;
    let mut agnostic_kind = None;
    let ports = plan.inputs[i]
        .iter()
        .enumerate()
        .map(|(p, k)| ("input", p, proc_.input(p), *k))
        .chain(plan.outputs[i].iter().enumerate().map(|(p, k)| ("output", p, proc_.output(p), *k)));
    for (side, p, wants, here) in ports {
        if wants == Agnostic {
            match agnostic_kind {
                None => agnostic_kind = Some(here),
                Some(k) if k != here => {
                    return Err(refuse(format!(
                        "{class_name} is agnostic, so its ports are all push or all pull, but '{name}' has push and pull ports"
                    )))
                }
                Some(_) => {}
            }
        } else if wants != here {
            return Err(refuse(format!("{side} {p} is {} here, but {class_name} needs {}", here.word(), wants.word())));
        }
    }
    let mut out = Vec::with_capacity(nworkers);
    for w in 0..nworkers {
        // The new class builds with its own name (one build function may serve many
        // classes, as plugin classes do).
        let ctx = BuildCtx { class: class.name, ..plan.build_ctx(i, w, nworkers) };
        let mut element = class.instantiate(config, &ctx).map_err(|e| refuse(format!("{class_name}: {e}")))?;
        let mut ictx = WorkerGraph::init_ctx(plan, i, w, nworkers);
        element.initialize(&mut ictx).map_err(|e| refuse(format!("{class_name}: {e}")))?;
        out.push(Box::new(Instance {
            class,
            config: config.to_string(),
            element,
            task: ictx.wants_task,
            source: ictx.wants_source,
        }));
    }
    Ok(out)
}

fn element_index(plan: &Plan, name: &str) -> Result<usize, ControlError> {
    plan.graph.find(name).ok_or_else(|| ControlError::NoSuchElement {
        element: name.to_string(),
        suggestion: suggest(name, plan.graph.elements.iter().map(|e| e.name.as_str())).map(str::to_string),
    })
}

/// The handler `handler` of element `i`, which now runs as `class` (its declared class, or
/// the class a swap put in its place).
pub(crate) fn handler_spec(
    plan: &Plan,
    i: usize,
    class: &ElementClass,
    handler: &str,
) -> Result<HandlerSpec, ControlError> {
    GENERIC_HANDLERS.iter().chain(class.handlers.iter()).find(|h| h.matches(handler)).copied().ok_or_else(|| {
        ControlError::NoSuchHandler { element: plan.graph.elements[i].name.clone(), handler: handler.to_string() }
    })
}

pub(crate) fn read_on(
    plan: &Plan,
    g: &WorkerGraph,
    i: usize,
    handler: &str,
    param: &str,
) -> Result<String, ControlError> {
    let decl = &plan.graph.elements[i];
    let inst = g.instance(i);
    let spec = handler_spec(plan, i, &inst.class, handler)?;
    if !spec.read {
        return Err(ControlError::NotReadable { element: decl.name.clone(), handler: handler.to_string() });
    }
    if !param.trim().is_empty() {
        let failed = |message: String| ControlError::HandlerFailed {
            element: decl.name.clone(),
            handler: handler.to_string(),
            message,
        };
        return match inst.element.read_handler_with(handler, param.trim()) {
            Some(r) => r.map_err(failed),
            None => Err(failed("this handler takes no parameter".into())),
        };
    }
    Ok(match handler {
        "name" => decl.name.clone(),
        "class" => inst.class.name.to_string(),
        "config" => inst.config.clone(),
        "ports" => describe_ports(plan, i),
        "handlers" => GENERIC_HANDLERS
            .iter()
            .chain(inst.class.handlers.iter())
            .map(|h| format!("{}\t{}{}", h.name, if h.read { "r" } else { "" }, if h.write { "w" } else { "" }))
            .collect::<Vec<_>>()
            .join("\n"),
        // The class declares this handler, so an element without an answer failed to read it
        // (or, in a numbered family, does not have that number).
        _ => inst.element.read_handler(handler).ok_or_else(|| {
            if spec.is_family() {
                ControlError::NoSuchHandler { element: decl.name.clone(), handler: handler.to_string() }
            } else {
                ControlError::HandlerFailed {
                    element: decl.name.clone(),
                    handler: handler.to_string(),
                    message: "the element could not read this handler".into(),
                }
            }
        })?,
    })
}

pub(crate) fn write_on(
    plan: &Plan,
    g: &mut WorkerGraph,
    i: usize,
    handler: &str,
    value: &str,
) -> Result<(), ControlError> {
    let decl = &plan.graph.elements[i];
    let class = g.instance(i).class;
    let spec = handler_spec(plan, i, &class, handler)?;
    if !spec.write {
        return Err(ControlError::NotWritable { element: decl.name.clone(), handler: handler.to_string() });
    }
    g.instance_mut(i).element.write_handler(handler, value).map_err(|message| ControlError::HandlerFailed {
        element: decl.name.clone(),
        handler: handler.to_string(),
        message,
    })
}

/// Click's `ports` handler text: one line per port with its kind and peers.
fn describe_ports(plan: &Plan, i: usize) -> String {
    let name = |e: usize| plan.graph.elements[e].name.as_str();
    let mut s = format!("{} input{}\n", plan.inputs[i].len(), if plan.inputs[i].len() == 1 { "" } else { "s" });
    for (p, k) in plan.inputs[i].iter().enumerate() {
        let peers: Vec<String> = plan.in_edges[i][p].iter().map(|&(e, op)| format!("{}[{op}]", name(e))).collect();
        s += &format!("{}\t{}\n", k.word(), peers.join(", "));
    }
    s += &format!("{} output{}\n", plan.outputs[i].len(), if plan.outputs[i].len() == 1 { "" } else { "s" });
    for (p, k) in plan.outputs[i].iter().enumerate() {
        let peers: Vec<String> = plan.out_edges[i][p].iter().map(|&(e, ip)| format!("[{ip}]{}", name(e))).collect();
        s += &format!("{}\t{}\n", k.word(), peers.join(", "));
    }
    s.trim_end().to_string()
}

pub(crate) fn combine(how: Combine, values: Vec<String>) -> String {
    match how {
        Combine::First => values.into_iter().next().unwrap_or_default(),
        Combine::Sum => {
            let nums: Option<Vec<f64>> = values.iter().map(|v| v.trim().parse::<f64>().ok()).collect();
            match nums {
                Some(n) if values.len() > 1 => {
                    let total: f64 = n.iter().sum();
                    if values.iter().all(|v| v.trim().parse::<i128>().is_ok()) {
                        values.iter().map(|v| v.trim().parse::<i128>().unwrap_or(0)).sum::<i128>().to_string()
                    } else {
                        total.to_string()
                    }
                }
                _ => values.into_iter().next().unwrap_or_default(),
            }
        }
    }
}

/// Pin the calling thread to one CPU (best effort: a refusal is logged, not fatal).
fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET stays inside it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= libc::CPU_SETSIZE as usize {
            tracing::warn!("cannot pin a worker to CPU {cpu}: beyond CPU_SETSIZE");
            return;
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            tracing::warn!("cannot pin a worker to CPU {cpu}: {}", std::io::Error::last_os_error());
        }
    }
}

/// The scheduler loop of one worker. Returns the graph when the router stops.
fn worker_loop(
    mut g: WorkerGraph,
    plan: &Plan,
    shared: &Shared,
    qsbr: &Qsbr,
    mailbox: &Receiver<Command>,
    peers: &[Sender<Command>],
    keep_running: bool,
) -> WorkerGraph {
    let w = g.worker;
    crate::packet::pool_prefill(4 * crate::batch::MAX_BATCH);
    // Per node: its task reported Done.
    let mut done = vec![false; g.len()];
    let mut idle_passes: u32 = 0;
    // Set once a STOP was requested: the time by which draining must end.
    let mut drain_deadline: Option<Instant> = None;
    qsbr.online(w);
    loop {
        let mut worked = false;
        // A task holds work that is not due yet (TaskStatus::Waiting).
        let mut waiting = false;
        if drain_deadline.is_none() && shared.stop_when_idle.load(Ordering::Relaxed) {
            drain_deadline = Some(Instant::now() + STOP_DRAIN_LIMIT);
        }
        for k in 0..g.tasks().len() {
            let (node, source) = g.tasks()[k];
            // Once stopping, sources make no new packets; the rest drains what is queued.
            if done[node] || (source && drain_deadline.is_some()) {
                continue;
            }
            match g.run_task(node) {
                TaskStatus::Busy => worked = true,
                TaskStatus::Idle => {}
                TaskStatus::Waiting => waiting = true,
                TaskStatus::Done => done[node] = true,
            }
        }
        // Batches back from asynchronous work continue where they left.
        if g.run_completions() {
            worked = true;
        }
        // Quiescent point: no element call is on this thread's stack.
        qsbr.quiescent(w);
        while let Ok(cmd) = mailbox.try_recv() {
            serve(&mut g, plan, cmd, &mut done);
            worked = true;
        }
        // Scripts (worker 0 only) take their turn here, where they may call other elements'
        // handlers. Once stopping, they have had their say.
        if !g.scripts().is_empty() && drain_deadline.is_none() {
            worked |= crate::script::run_scripts(&mut g, plan, shared, peers, &mut done);
        }
        if shared.stop_now.load(Ordering::Relaxed) {
            break;
        }
        if let Some(deadline) = drain_deadline {
            // Stopping: end when drained, or when draining takes too long (a puller that is
            // never idle, such as Unqueue from an endless pull source). Work handed to other
            // threads counts as not drained until it has come back.
            if (!worked && !waiting && g.outstanding() == 0) || Instant::now() >= deadline {
                break;
            }
            continue;
        }
        if worked {
            idle_passes = 0;
            continue;
        }
        // Nothing happened in a whole pass: everything queued has drained.
        let sources_done = g.tasks().iter().all(|&(node, source)| !source || done[node]);
        // A script still running (a DriverManager until it stops the router) keeps every
        // worker running, as its handler calls reach them all.
        let scripts_done = shared.scripts_live.load(Ordering::Relaxed) == 0;
        if sources_done && scripts_done && !keep_running && !waiting && g.outstanding() == 0 {
            break;
        }
        idle_passes = idle_passes.saturating_add(1);
        if idle_passes > 64 {
            // Sleep on the mailbox and the completion channel, so a control command or a
            // batch coming back wakes the worker at once.
            let nap = Duration::from_micros(10u64 << (idle_passes - 64).min(6));
            qsbr.offline(w);
            let mut wait = Select::new();
            let mail = wait.recv(mailbox);
            wait.recv(g.completion_receiver());
            let ready = wait.ready_timeout(nap);
            qsbr.online(w);
            match ready {
                Ok(i) if i == mail => match mailbox.try_recv() {
                    Ok(cmd) => {
                        serve(&mut g, plan, cmd, &mut done);
                        idle_passes = 0;
                    }
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => break,
                },
                // A completion: the next pass pushes it on.
                Ok(_) => idle_passes = 0,
                Err(_) => {}
            }
        } else {
            std::hint::spin_loop();
        }
    }
    // Answer what is left in the mailbox so no caller waits forever.
    while let Ok(cmd) = mailbox.try_recv() {
        serve(&mut g, plan, cmd, &mut done);
    }
    g.cleanup();
    qsbr.offline(w);
    g
}

/// Serve one command between task runs.
fn serve(g: &mut WorkerGraph, plan: &Plan, cmd: Command, done: &mut [bool]) {
    // A swapped element, or one whose handler was written (a source's `reset`, `limit`,
    // `active`), may have work again: schedule its task anew.
    if let Command::Swap { element, .. } | Command::Write { element, .. } = &cmd {
        done[*element] = false;
    }
    match cmd {
        Command::Read { element, handler, param, reply } => {
            let _ = reply.send(read_on(plan, g, element, &handler, &param));
        }
        Command::Write { element, handler, value, reply } => {
            let _ = reply.send(write_on(plan, g, element, &handler, &value));
        }
        Command::Swap { element, instance, hand_over, reply } => {
            let old = g.swap(element, instance, hand_over);
            let _ = reply.send(old);
        }
        Command::Wake => {}
    }
}

//! One worker's instance of a graph: nodes, trampolines, and the calls between elements.
//!
//! Every element sits in a [`Node`] that owns its current implementation (an atomic pointer
//! to an [`Instance`], plus a cached pointer to its element). Every port is a
//! [`Trampoline`]: (target node, port). Pushing a batch through an output loads the target
//! node's current element and enters it, so replacing an element is a pointer store in its
//! node, done by the worker itself at a quiescent point; nothing else changes and no lock is
//! taken.
//!
//! A node on a cycle of the graph (an ICMP error path feeding back into a lookup) is never
//! entered twice: a batch that comes back while it runs is deferred and handed to it when
//! its current call returns. That keeps `&mut self` in elements sound. Nodes on no cycle
//! (the checker knows which) skip that bookkeeping.

use crate::batch::{Batch, MAX_BATCH};
use crate::check::Plan;
use crate::element::{Element, ElementClass, InitCtx, State, TaskStatus};
use crate::error::GraphErrors;
use crate::ports::PortKind;
use crate::resume::{Completions, Ticket};
use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The current implementation of a node: an element with the class and configuration it
/// was built from.
pub struct Instance {
    pub class: ElementClass,
    pub config: String,
    pub element: Box<dyn Element>,
    /// The element asked to run as a task when initialized.
    pub task: bool,
    /// ... as a source task, although it has inputs ([`InitCtx::schedule_source_task`]).
    pub source: bool,
}

/// An output (or pull input) port: where batches go (or come from).
#[derive(Clone, Copy)]
pub struct Trampoline {
    target: *const Node,
    port: usize,
}

/// Flags shared by all workers of one running router.
#[derive(Default)]
pub struct Shared {
    /// Stop as soon as possible (signal, user request).
    pub stop_now: AtomicBool,
    /// Stop once no task has work left (Click's STOP keyword).
    pub stop_when_idle: AtomicBool,
    /// The graph has a driver manager (`DriverManager`): stop requests are counted in
    /// `stop_events` for it instead of stopping the router.
    pub driver: AtomicBool,
    /// Stop requests not yet taken by the driver manager (Click's driver stop events).
    pub stop_events: AtomicU64,
    /// Scripts on worker 0 that still keep the router running (see `Element::run_script`).
    pub scripts_live: AtomicUsize,
}

impl Shared {
    /// Click's `please_stop_driver`: with a driver manager, one more stop event for it;
    /// otherwise stop the router once queued packets have drained.
    pub fn request_stop(&self) {
        if self.driver.load(Ordering::Acquire) {
            self.stop_events.fetch_add(1, Ordering::AcqRel);
        } else {
            self.stop_when_idle.store(true, Ordering::Relaxed);
        }
    }
}

/// What every node of one worker's graph shares: the router's flags, the worker's index,
/// and its completion channel (batches coming back from asynchronous work).
pub struct WorkerEnv {
    shared: Arc<Shared>,
    worker: usize,
    completions: Completions,
}

/// What an element can reach while it runs: its ports and the router. One word, so that
/// passing it from hop to hop costs nothing.
pub struct Ctx<'a> {
    node: &'a Node,
}

impl<'a> Ctx<'a> {
    /// Send a batch out of output `port`. Empty batches are not sent.
    #[inline(always)]
    pub fn push(&mut self, port: usize, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let t = self.node.outputs[port];
        // SAFETY: trampolines point into the same WorkerGraph's node array, which outlives
        // every call made through it.
        unsafe { (*t.target).push(t.port, batch) }
    }

    /// Ask pull input `port` for up to `max` packets.
    #[inline]
    pub fn pull(&mut self, port: usize, max: usize) -> Batch {
        let t = self.node.inputs[port];
        // SAFETY: as in `push`.
        unsafe { (*t.target).pull(t.port, max.min(MAX_BATCH)) }
    }

    pub fn noutputs(&self) -> usize {
        self.node.outputs.len()
    }

    pub fn ninputs(&self) -> usize {
        self.node.inputs.len()
    }

    fn env(&self) -> &WorkerEnv {
        // SAFETY: the environment is boxed in the WorkerGraph that owns this node.
        unsafe { &*self.node.env }
    }

    /// The worker this call runs on.
    pub fn worker(&self) -> usize {
        self.env().worker
    }

    /// A ticket for a batch this element hands to another thread (a coprocessor): when
    /// that thread calls [`Ticket::resume`] with the batch, it comes back to this worker
    /// and continues out of output `port`, as if this element pushed it then. See
    /// [`crate::resume`].
    pub fn ticket(&mut self, port: usize) -> Ticket {
        assert!(port < self.node.outputs.len(), "ticket for output {port}, which does not exist");
        self.env().completions.ticket(self.node.index, port)
    }

    /// Stop the router: sources stop producing, queued packets drain (Click's STOP). With a
    /// driver manager in the graph (`DriverManager`), this is a stop event for it instead,
    /// and the router stops when its script says so.
    pub fn request_stop(&mut self) {
        self.env().shared.request_stop();
    }
}

/// One element's place in a worker's graph.
pub struct Node {
    /// The current element, cached from `instance` so that a hop loads one pointer less.
    /// Written only by the owning worker at its quiescent points (see `WorkerGraph::swap`).
    element: Cell<*mut dyn Element>,
    instance: AtomicPtr<Instance>,
    /// The node lies on a cycle of the graph, so a call may come back to it while it runs.
    guarded: bool,
    /// True while a call into this (guarded) node is on the stack.
    busy: Cell<bool>,
    /// Batches that arrived while busy, in arrival order.
    deferred: UnsafeCell<Vec<(usize, Batch)>>,
    outputs: Box<[Trampoline]>,
    inputs: Box<[Trampoline]>,
    env: *const WorkerEnv,
    /// This node's place in the graph (continuations name it).
    index: usize,
}

impl Node {
    /// Run `f` on the current element. A node on a cycle that is already on the stack is
    /// not entered again (`None`).
    ///
    /// This is the whole hot path of a hop, so it is forced inline into the caller's
    /// `Ctx::push`: a hop then costs one stack frame (the element's own), like a static call,
    /// and deep chains do not overflow the CPU's return-address predictor. Nodes on no cycle
    /// (the checker knows) skip the re-entry bookkeeping.
    #[inline(always)]
    fn enter<R>(&self, f: impl FnOnce(&mut dyn Element, Ctx<'_>) -> R) -> Option<R> {
        // SAFETY: the instance pointer is valid until swapped, and swaps happen only at the
        // worker's quiescent points, never while a call is on the stack. A node on no cycle
        // cannot be reached again while it runs; a node on a cycle is guarded by `busy`. So
        // this is the only live reference to the element.
        let elem = unsafe { &mut *self.element.get() };
        if !self.guarded {
            // Nothing to do after the call: the element is entered by a tail call, so a
            // chain of hops does not grow the stack.
            return Some(f(elem, Ctx { node: self }));
        }
        if self.busy.get() {
            return None;
        }
        self.busy.set(true);
        let r = f(elem, Ctx { node: self });
        // SAFETY: only this worker thread touches `deferred`.
        if !unsafe { &*self.deferred.get() }.is_empty() {
            self.drain_deferred(elem);
        }
        self.busy.set(false);
        Some(r)
    }

    /// Deliver batches that arrived through a push cycle while the element was running.
    #[cold]
    #[inline(never)]
    fn drain_deferred(&self, elem: &mut dyn Element) {
        // SAFETY: `deferred` is only touched on this worker thread, and never while a
        // reference from this function is alive (the Vec is taken out first).
        while !unsafe { &*self.deferred.get() }.is_empty() {
            let pending = std::mem::take(unsafe { &mut *self.deferred.get() });
            for (port, batch) in pending {
                elem.push(port, batch, Ctx { node: self });
            }
        }
    }

    /// Keep a batch for a node that is already on the stack.
    #[cold]
    #[inline(never)]
    fn defer(&self, port: usize, batch: Batch) {
        // SAFETY: single-threaded access; no other reference to `deferred` is live.
        unsafe { &mut *self.deferred.get() }.push((port, batch));
    }

    #[inline(always)]
    fn push(&self, port: usize, batch: Batch) {
        if self.guarded && self.busy.get() {
            self.defer(port, batch);
            return;
        }
        self.enter(|e, ctx| e.push(port, batch, ctx));
    }

    #[inline]
    fn pull(&self, port: usize, max: usize) -> Batch {
        // A pull that comes back to a node already running yields nothing (a pull cycle).
        self.enter(|e, ctx| e.pull(port, max, ctx)).unwrap_or_default()
    }

    fn instance(&self) -> &Instance {
        // SAFETY: valid until swapped; callers run on the owning worker outside element calls.
        unsafe { &*self.instance.load(Ordering::Acquire) }
    }

    fn instance_mut(&mut self) -> &mut Instance {
        // SAFETY: `&mut self` excludes element calls on this node.
        unsafe { &mut *self.instance.load(Ordering::Acquire) }
    }
}

/// The element behind `Node::void`: drops what it is pushed, has nothing to pull.
struct Void;

impl Element for Void {}

const VOID_CLASS: ElementClass = ElementClass {
    name: "<void>",
    ports: "-/-",
    processing: "a/a",
    doc: "<void>\nWhere unused trampolines lead.",
    handlers: &[],
    build: |_, _| Ok(Box::new(Void)),
};

impl Node {
    /// A node that is no element of the graph: the target of trampolines that must never
    /// be used. Its environment is never read (Void ignores its context).
    fn void() -> Node {
        let instance = Box::into_raw(Box::new(Instance {
            class: VOID_CLASS,
            config: String::new(),
            element: Box::new(Void),
            task: false,
            source: false,
        }));
        Node {
            // SAFETY: just allocated; the node owns it.
            element: Cell::new(unsafe { &mut *(*instance).element } as *mut dyn Element),
            instance: AtomicPtr::new(instance),
            guarded: false,
            busy: Cell::new(false),
            deferred: UnsafeCell::new(Vec::new()),
            outputs: Box::new([]),
            inputs: Box::new([]),
            env: ptr::null(),
            index: usize::MAX,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let p = self.instance.swap(ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: the node owned this instance, created by Box::into_raw.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// A worker's complete instance of a graph.
pub struct WorkerGraph {
    /// Never resized after construction: trampolines point into it.
    nodes: Box<[Node]>,
    /// Nodes that asked to run as tasks, and whether each is a source (no inputs).
    tasks: Vec<(usize, bool)>,
    /// Nodes that asked to run as scripts (worker 0 only), and whether one manages the driver.
    scripts: Vec<usize>,
    driver: bool,
    pub worker: usize,
    /// Boxed so that nodes can point at it.
    env: Box<WorkerEnv>,
    /// Where trampolines of unused directions lead (see `build`).
    _void: Box<Node>,
}

// SAFETY: a WorkerGraph is built on one thread and then used by exactly one worker thread
// at a time; the raw pointers only point inside itself.
unsafe impl Send for WorkerGraph {}

impl WorkerGraph {
    /// Build and initialize every element of `plan` for worker `worker` of `nworkers`.
    pub fn build(plan: &Plan, worker: usize, nworkers: usize) -> Result<WorkerGraph, GraphErrors> {
        let n = plan.len();
        let mut errs = GraphErrors::default();
        let mut instances = Vec::with_capacity(n);
        for (i, decl) in plan.graph.elements.iter().enumerate() {
            let class = plan.classes[i];
            match class.instantiate(&decl.config, &plan.build_ctx(i, worker, nworkers)) {
                Ok(element) => instances.push(Some(Instance {
                    class,
                    config: decl.config.clone(),
                    element,
                    task: false,
                    source: false,
                })),
                Err(e) => {
                    errs.push(decl.config_loc.clone(), format!("{} '{}': {}", decl.class, decl.name, e));
                    instances.push(None);
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs.into_result(()).unwrap_err());
        }

        // Ports of the other kind (a pull output's push trampoline, say) lead to `void`, so
        // an element that pushes where it should not loses the batch instead of crashing.
        let void = Box::new(Node::void());
        let dangling = Trampoline { target: &*void, port: 0 };
        let env = Box::new(WorkerEnv { shared: Arc::new(Shared::default()), worker, completions: Completions::new() });
        let env_ptr: *const WorkerEnv = &*env;
        let mut nodes: Box<[Node]> = instances
            .into_iter()
            .enumerate()
            .map(|(i, inst)| {
                let instance = Box::into_raw(Box::new(inst.expect("built above")));
                Node {
                    // SAFETY: just allocated; the node owns it from here.
                    element: Cell::new(unsafe { &mut *(*instance).element } as *mut dyn Element),
                    instance: AtomicPtr::new(instance),
                    guarded: plan.on_cycle[i],
                    busy: Cell::new(false),
                    deferred: UnsafeCell::new(Vec::new()),
                    outputs: vec![dangling; plan.outputs[i].len()].into_boxed_slice(),
                    inputs: vec![dangling; plan.inputs[i].len()].into_boxed_slice(),
                    env: env_ptr,
                    index: i,
                }
            })
            .collect();
        // Wire push outputs to their single target, pull inputs to their single source.
        let base: *const Node = nodes.as_ptr();
        for i in 0..n {
            for (p, targets) in plan.out_edges[i].iter().enumerate() {
                if plan.outputs[i][p] == PortKind::Push {
                    let (to, tp) = targets[0];
                    // SAFETY: `to < n`, inside the node array.
                    nodes[i].outputs[p] = Trampoline { target: unsafe { base.add(to) }, port: tp };
                }
            }
            for (p, sources) in plan.in_edges[i].iter().enumerate() {
                if plan.inputs[i][p] == PortKind::Pull {
                    let (from, fp) = sources[0];
                    // SAFETY: `from < n`, inside the node array.
                    nodes[i].inputs[p] = Trampoline { target: unsafe { base.add(from) }, port: fp };
                }
            }
        }

        let mut tasks = Vec::new();
        let (mut scripts, mut driver) = (Vec::new(), false);
        for i in 0..n {
            let mut ctx = Self::init_ctx(plan, i, worker, nworkers);
            let decl = &plan.graph.elements[i];
            if let Err(e) = nodes[i].instance_mut().element.initialize(&mut ctx) {
                errs.push(decl.loc.clone(), format!("{} '{}': {}", decl.class, decl.name, e));
            }
            if ctx.wants_task {
                let inst = nodes[i].instance_mut();
                inst.task = true;
                inst.source = ctx.wants_source;
                tasks.push((i, plan.inputs[i].is_empty() || ctx.wants_source));
            }
            if ctx.wants_script {
                scripts.push(i);
            }
            driver |= ctx.driver;
        }
        errs.into_result(WorkerGraph { nodes, tasks, scripts, driver, worker, env, _void: void })
    }

    pub(crate) fn init_ctx(plan: &Plan, i: usize, worker: usize, nworkers: usize) -> InitCtx {
        InitCtx {
            input_pull: plan.inputs[i].iter().map(|k| *k == PortKind::Pull).collect(),
            output_push: plan.outputs[i].iter().map(|k| *k == PortKind::Push).collect(),
            worker,
            nworkers,
            wants_task: false,
            wants_source: false,
            wants_script: false,
            driver: false,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub(crate) fn tasks(&self) -> &[(usize, bool)] {
        &self.tasks
    }

    /// Nodes whose elements run as scripts on this worker (see `Element::run_script`).
    pub(crate) fn scripts(&self) -> &[usize] {
        &self.scripts
    }

    /// Whether one of this graph's elements manages the driver (`InitCtx::manage_driver`).
    pub(crate) fn has_driver(&self) -> bool {
        self.driver
    }

    /// Node `i`'s current element, for calling it while the graph is also borrowed (a
    /// script reaching other elements' handlers). The caller must not reach node `i`
    /// through the graph while it uses the pointer, and must be at a quiescent point.
    pub(crate) fn element_ptr(&self, i: usize) -> *mut dyn Element {
        self.nodes[i].element.get()
    }

    /// Use the flags of the router this graph now runs in.
    pub(crate) fn set_shared(&mut self, shared: Arc<Shared>) {
        self.env.shared = shared;
    }

    /// Push on every batch that came back from asynchronous work (see [`crate::resume`]);
    /// true if there was one.
    #[inline]
    pub(crate) fn run_completions(&self) -> bool {
        let c = &self.env.completions;
        // Every batch in the channel holds a ticket still counted: none out, none to take.
        if c.outstanding_relaxed() == 0 {
            return false;
        }
        let mut any = false;
        while let Some(r) = c.next() {
            let t = self.nodes[r.node].outputs[r.port];
            // SAFETY: as in `Ctx::push`: the trampoline points into this graph.
            unsafe { (*t.target).push(t.port, r.batch) };
            c.done();
            any = true;
        }
        any
    }

    /// Tickets this worker issued whose batches have not come back and been pushed on.
    pub(crate) fn outstanding(&self) -> usize {
        self.env.completions.outstanding()
    }

    /// The completion channel, for sleeping on it.
    pub(crate) fn completion_receiver(&self) -> &crossbeam_channel::Receiver<crate::resume::Resume> {
        self.env.completions.receiver()
    }

    /// Run node `i`'s task once.
    #[inline]
    pub(crate) fn run_task(&self, i: usize) -> TaskStatus {
        self.nodes[i].enter(|e, ctx| e.run_task(ctx)).unwrap_or(TaskStatus::Idle)
    }

    pub fn instance(&self, i: usize) -> &Instance {
        self.nodes[i].instance()
    }

    pub fn instance_mut(&mut self, i: usize) -> &mut Instance {
        self.nodes[i].instance_mut()
    }

    /// Replace node `i`'s implementation: the new instance receives the old one's state,
    /// then one atomic store makes every trampoline reach it. Must be called at a quiescent
    /// point of this worker (no element call on the stack). Returns the old instance, to be
    /// freed by the caller once all workers are past a quiescent point.
    pub fn swap(&mut self, i: usize, mut new: Box<Instance>, hand_over: bool) -> Box<Instance> {
        let node = &self.nodes[i];
        debug_assert!(!node.busy.get(), "swap inside an element call");
        let old_ptr = node.instance.load(Ordering::Acquire);
        if hand_over {
            // SAFETY: quiescent point: nothing else references the old element now.
            let old = unsafe { &mut *old_ptr };
            if let Some(state) = old.element.take_state() {
                new.element.give_state(state);
            }
        }
        let (is_task, is_source) = (new.task, new.source);
        let new = Box::into_raw(new);
        // SAFETY: `new` is live and owned by the node from here on.
        node.element.set(unsafe { &mut *(*new).element } as *mut dyn Element);
        let prev = node.instance.swap(new, Ordering::AcqRel);
        debug_assert_eq!(prev, old_ptr);
        // The scheduler follows the new implementation: a task stays scheduled only if the
        // replacement asked for it.
        self.tasks.retain(|&(n, _)| n != i);
        if is_task {
            let source = self.nodes[i].inputs.is_empty() || is_source;
            self.tasks.push((i, source));
            self.tasks.sort_unstable();
        }
        // SAFETY: `prev` came from Box::into_raw and is no longer reachable from the node.
        unsafe { Box::from_raw(prev) }
    }

    /// Tell every element the router has stopped.
    pub fn cleanup(&mut self) {
        for n in self.nodes.iter_mut() {
            n.instance_mut().element.cleanup();
        }
    }

    /// Take the state out of node `i` (for hot-swapping a whole graph).
    pub fn take_state(&mut self, i: usize) -> Option<State> {
        self.nodes[i].instance_mut().element.take_state()
    }
}

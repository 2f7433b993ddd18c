//! Elements: the `Element` trait every packet processor implements, and the static
//! description of an element class (name, ports, processing, handlers, docs, constructor).
//!
//! An element is built once per worker from its configuration string by its class's
//! [`ElementClass::build`]. It then receives batches on push inputs ([`Element::push`]),
//! hands out batches on pull outputs ([`Element::pull`]), or runs as a scheduled task
//! ([`Element::run_task`]) when it is a source or pulls from upstream. It reaches its
//! neighbours only through the [`Ctx`] it is given, whose ports are trampolines.

use crate::args::names::{self, AddressBook};
use crate::batch::Batch;
use crate::ports::{PortCount, Processing};
use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::router::Ctx;

/// State an element hands to its replacement during a swap (counters, queued packets, tables).
pub type State = Box<dyn Any + Send>;

/// What a task run achieved; the scheduler uses it to idle and to detect the end of input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// Moved packets (or did other work); run again soon.
    Busy,
    /// Nothing to do right now (empty queue, rate limit not reached yet).
    Idle,
    /// Nothing to do right now, but holding packets (or work) that will be due later, such
    /// as a delay line waiting for a packet's time: the router does not end, and a STOP does
    /// not finish draining (within its limit), while a task says so.
    Waiting,
    /// This task will never have work again (a source at the end of its input).
    Done,
}

/// How the values of a handler on several workers' instances combine into one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Add the numbers (packet and byte counters).
    Sum,
    /// The first worker's value (configuration, class, anything replicated).
    First,
}

/// A handler an element class offers, by Click's name for it.
#[derive(Clone, Copy, Debug)]
pub struct HandlerSpec {
    pub name: &'static str,
    pub read: bool,
    pub write: bool,
    pub combine: Combine,
    /// One line for `sluice elements` and the element reference.
    pub doc: &'static str,
}

impl HandlerSpec {
    /// Whether this spec serves handler `name`. A spec name ending in `#` is a numbered
    /// family: `active#` serves `active0`, `active1`, ... (one per port, as Click's
    /// per-port handlers); the element reads the number and answers `None` (reads) or an
    /// error (writes) for a number it does not have.
    pub fn matches(&self, name: &str) -> bool {
        match self.name.strip_suffix('#') {
            Some(prefix) => name
                .strip_prefix(prefix)
                .is_some_and(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit())),
            None => self.name == name,
        }
    }

    /// True for a numbered family (`active#`).
    pub fn is_family(&self) -> bool {
        self.name.ends_with('#')
    }

    pub const fn read(name: &'static str, combine: Combine, doc: &'static str) -> Self {
        HandlerSpec { name, read: true, write: false, combine, doc }
    }
    pub const fn write(name: &'static str, doc: &'static str) -> Self {
        HandlerSpec { name, read: false, write: true, combine: Combine::First, doc }
    }
    pub const fn read_write(name: &'static str, combine: Combine, doc: &'static str) -> Self {
        HandlerSpec { name, read: true, write: true, combine, doc }
    }
}

/// What an element is told when it is built from its configuration.
#[derive(Clone, Debug)]
pub struct BuildCtx {
    /// The element's name in the graph (`c`, `Counter@3`, `outer/inner`).
    pub name: String,
    /// The class being built (lets one build function serve several classes, as plugin
    /// classes do).
    pub class: &'static str,
    /// Numbers of connected input and output ports.
    pub ninputs: usize,
    pub noutputs: usize,
    /// Which worker this instance belongs to, and how many workers there are.
    pub worker: usize,
    pub nworkers: usize,
    /// Directory of the graph file, for relative file names in configurations.
    pub base_dir: PathBuf,
    /// Every element the graph declares, for configurations that name another element
    /// (see [`BuildCtx::find_element`]). One per plan, shared by all its contexts.
    pub declarations: Arc<Declarations>,
}

impl BuildCtx {
    /// A context for building an element outside a graph (tests, benchmarks).
    pub fn standalone(name: &str, ninputs: usize, noutputs: usize) -> Self {
        BuildCtx {
            name: name.to_string(),
            class: "",
            ninputs,
            noutputs,
            worker: 0,
            nworkers: 1,
            base_dir: PathBuf::from("."),
            declarations: Arc::default(),
        }
    }

    /// The element another element's configuration names, found as Click's
    /// `Router::find(name, context)` finds it: a name used inside a compound element
    /// instance (this element is `outer/inner/me`) is looked up as `outer/inner/NAME`,
    /// then `outer/NAME`, then `NAME`. `None` when no element has that name (always, for a
    /// [`BuildCtx::standalone`] context).
    pub fn find_element(&self, name: &str) -> Option<&DeclaredElement> {
        self.declarations.find(name, scope_of(&self.name))
    }

    /// [`BuildCtx::find_element`], failing with Click's message `no element named 'NAME'`.
    pub fn require_element(&self, name: &str) -> Result<&DeclaredElement, ConfigError> {
        self.find_element(name).ok_or_else(|| ConfigError(format!("no element named '{name}'")))
    }

    /// Every element the graph declares, in declaration order (for elements that look for
    /// others by class, as Click's rewriters look for IPRewriterPatterns).
    pub fn declared_elements(&self) -> &[DeclaredElement] {
        self.declarations.elements()
    }

    /// The compound scope this element was declared in (see [`scope_of`]).
    pub fn scope(&self) -> &str {
        scope_of(&self.name)
    }

    /// Resolve a file name from a configuration against the graph's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        let p = PathBuf::from(name);
        if p.is_absolute() || name == "-" {
            p
        } else {
            self.base_dir.join(p)
        }
    }
}

/// The compound scope of an element name: everything up to and including its last `/`
/// (`outer/inner/` for `outer/inner/x`), empty for a top-level element. Click resolves
/// names used inside a compound in this scope first, then in each enclosing one.
pub fn scope_of(name: &str) -> &str {
    name.rfind('/').map_or("", |i| &name[..=i])
}

/// An element as the graph declares it, for other elements' configurations that name it
/// (Click's `ARPQuerier(..., TABLE t)`, `IPRewriterPatterns`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredElement {
    /// Its unique name in the flattened graph (`c`, `Counter@3`, `outer/inner`).
    pub name: String,
    /// Its class name as written (resolved against the registry or not).
    pub class: String,
    /// Its configuration string, as its own build function receives it.
    pub config: String,
}

impl DeclaredElement {
    /// The compound scope it was declared in (see [`scope_of`]).
    pub fn scope(&self) -> &str {
        scope_of(&self.name)
    }
}

/// The class whose configurations declare address names (Click's `AddressInfo`).
pub const ADDRESS_INFO: &str = "AddressInfo";

/// The elements of a flattened graph by name: what [`BuildCtx::find_element`] searches.
/// Made once per plan and shared (`Arc`) by every [`BuildCtx`] built from it.
#[derive(Default)]
pub struct Declarations {
    elements: Vec<DeclaredElement>,
    by_name: HashMap<String, usize>,
    /// The names the graph's AddressInfo elements declare, by compound scope.
    addresses: Arc<AddressBook>,
}

impl Declarations {
    /// Elements in declaration order; names are unique in a flattened graph (a repeated
    /// name keeps its first declaration).
    pub fn new(elements: Vec<DeclaredElement>) -> Declarations {
        let mut by_name = HashMap::with_capacity(elements.len());
        let mut addresses = AddressBook::default();
        for (i, e) in elements.iter().enumerate() {
            by_name.entry(e.name.clone()).or_insert(i);
            if e.class == ADDRESS_INFO {
                addresses.add(e.scope(), &e.config);
            }
        }
        Declarations { elements, by_name, addresses: Arc::new(addresses) }
    }

    /// The names the graph's AddressInfo elements declare (see [`crate::args::names`]).
    pub fn addresses(&self) -> &Arc<AddressBook> {
        &self.addresses
    }

    /// The declarations of `graph`'s elements.
    pub fn of_graph(graph: &crate::graph::Graph) -> Declarations {
        Declarations::new(
            graph
                .elements
                .iter()
                .map(|e| DeclaredElement { name: e.name.clone(), class: e.class.clone(), config: e.config.clone() })
                .collect(),
        )
    }

    /// Every element, in declaration order.
    pub fn elements(&self) -> &[DeclaredElement] {
        &self.elements
    }

    /// The element with exactly this (full) name.
    pub fn get(&self, full_name: &str) -> Option<&DeclaredElement> {
        self.by_name.get(full_name).map(|&i| &self.elements[i])
    }

    /// Click's `Router::find(name, prefix)`: `name` in compound scope `scope` (a prefix
    /// ending in `/`, or empty), then in each enclosing scope, then at top level.
    pub fn find(&self, name: &str, scope: &str) -> Option<&DeclaredElement> {
        let mut scope = scope;
        loop {
            if let Some(e) = self.get(&format!("{scope}{name}")) {
                return Some(e);
            }
            if scope.is_empty() {
                return None;
            }
            scope = scope_of(&scope[..scope.len() - 1]);
        }
    }
}

impl std::fmt::Debug for Declarations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Declarations({} elements)", self.elements.len())
    }
}

/// What an element learns when the graph is complete: how its ports were resolved.
#[derive(Clone, Debug)]
pub struct InitCtx {
    /// For each input: true when it is a pull input.
    pub input_pull: Vec<bool>,
    /// For each output: true when it is a push output.
    pub output_push: Vec<bool>,
    pub worker: usize,
    pub nworkers: usize,
    pub(crate) wants_task: bool,
    pub(crate) wants_source: bool,
    pub(crate) wants_script: bool,
    pub(crate) driver: bool,
}

impl InitCtx {
    /// Ask the scheduler to call [`Element::run_task`] repeatedly (sources, pullers).
    pub fn schedule_task(&mut self) {
        self.wants_task = true;
    }

    /// [`InitCtx::schedule_task`] for an element that brings packets in from outside (a
    /// device) although it has inputs too, as KernelTun does: like a source without inputs,
    /// it keeps a graph running until its task is `Done`, and on STOP it stops producing
    /// at once while the rest drains. (An element without inputs is such a source anyway.)
    pub fn schedule_source_task(&mut self) {
        self.wants_task = true;
        self.wants_source = true;
    }

    /// Ask worker 0 to call [`Element::run_script`] at each of its quiescent points, where
    /// the element may read and write other elements' handlers and stop the router (Click's
    /// `Script`). Honoured on worker 0 only: a script runs once per router, not per worker.
    pub fn schedule_script(&mut self) {
        self.wants_script = self.worker == 0;
    }

    /// Make this element the router's driver manager (Click's `DriverManager`, a `Script`
    /// of type `DRIVER`): stop requests ([`Ctx::request_stop`], Click's
    /// `please_stop_driver`) no longer stop the router but are counted for it
    /// ([`crate::script::ScriptCtx::take_stop_events`]), and the router stops only when it
    /// says so ([`crate::script::ScriptCtx::stop_router`]). Implies
    /// [`InitCtx::schedule_script`]. Honoured on worker 0 only.
    pub fn manage_driver(&mut self) {
        self.schedule_script();
        self.driver = self.worker == 0;
    }
}

/// Errors from building an element: a sentence about its configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<crate::args::ArgError> for ConfigError {
    fn from(e: crate::args::ArgError) -> Self {
        ConfigError(e.to_string())
    }
}

impl From<String> for ConfigError {
    fn from(s: String) -> Self {
        ConfigError(s)
    }
}

impl From<&str> for ConfigError {
    fn from(s: &str) -> Self {
        ConfigError(s.to_string())
    }
}

/// A packet-processing element. One instance lives on one worker thread; it is never called
/// from two threads at once, so it needs no locks.
pub trait Element: Send + 'static {
    /// Packets arriving on push input `port`. The element owns them now.
    fn push(&mut self, port: usize, batch: Batch, ctx: Ctx<'_>) {
        let _ = (port, ctx);
        drop(batch);
    }

    /// A downstream element asks pull output `port` for up to `max` packets.
    fn pull(&mut self, port: usize, max: usize, ctx: Ctx<'_>) -> Batch {
        let _ = (port, max, ctx);
        Batch::new()
    }

    /// Scheduled work, for elements that called [`InitCtx::schedule_task`].
    fn run_task(&mut self, ctx: Ctx<'_>) -> TaskStatus {
        let _ = ctx;
        TaskStatus::Done
    }

    /// A script's turn, for elements that called [`InitCtx::schedule_script`]: called by
    /// worker 0 at its quiescent points (no other element call on the stack), with access to
    /// the other elements' handlers on every worker and to the router's stop. `Busy`: it
    /// did something; `Idle`: it waits (for a time or a stop event) and keeps the router
    /// running; `Done`: it has nothing to do unless one of its handlers is written, and does
    /// not keep the router running.
    fn run_script(&mut self, ctx: &mut crate::script::ScriptCtx<'_>) -> TaskStatus {
        let _ = ctx;
        TaskStatus::Done
    }

    /// Called once the graph is complete and ports are resolved, before packets flow.
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// Read one of the class's handlers (see [`ElementClass::handlers`]).
    fn read_handler(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    /// Read a handler with a parameter (Click's `READ handler ARGS`, e.g. a route lookup's
    /// `lookup 10.0.0.1`). `None`: the handler takes no parameter. Without a parameter the
    /// framework calls [`Element::read_handler`] instead.
    fn read_handler_with(&self, name: &str, param: &str) -> Option<Result<String, String>> {
        let _ = (name, param);
        None
    }

    /// Write one of the class's handlers.
    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let _ = value;
        Err(format!("handler '{name}' is not writable"))
    }

    /// Give up this element's state for a replacement (swap). Called between batches.
    fn take_state(&mut self) -> Option<State> {
        None
    }

    /// Receive a predecessor's state. Ignore what is not understood.
    fn give_state(&mut self, state: State) {
        let _ = state;
    }

    /// Called when the router stops, on the worker thread (flush files, close devices).
    fn cleanup(&mut self) {}
}

/// Builds an element instance from its configuration string.
pub type BuildFn = fn(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError>;

/// Everything the framework knows about an element class without building one.
#[derive(Clone, Copy)]
pub struct ElementClass {
    /// Click's class name, e.g. `Counter`.
    pub name: &'static str,
    /// Port counts in Click's notation: `1/1`, `0/1`, `1/-`, `1/1-2`.
    pub ports: &'static str,
    /// Processing in Click's notation: `a/a`, `h/l`, `l/h`, `a/ah`.
    pub processing: &'static str,
    /// Documentation in Click's shape: first line `Class(ARGS)`, second the one-line summary,
    /// then description, keywords, handlers, examples.
    pub doc: &'static str,
    /// Handlers specific to the class (the framework adds `name`, `class`, `config`, ...).
    pub handlers: &'static [HandlerSpec],
    pub build: BuildFn,
}

impl ElementClass {
    pub fn port_count(&self) -> (PortCount, PortCount) {
        PortCount::parse_spec(self.ports).unwrap_or_else(|e| panic!("class {}: bad port spec: {e}", self.name))
    }

    pub fn processing_spec(&self) -> Processing {
        Processing::parse(self.processing).unwrap_or_else(|e| panic!("class {}: bad processing: {e}", self.name))
    }

    /// The synopsis line of the docs, e.g. `Counter([KEYWORDS])`.
    pub fn synopsis(&self) -> &'static str {
        self.doc.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(self.name)
    }

    /// The one-line summary (second non-empty line of the docs).
    pub fn summary(&self) -> &'static str {
        self.doc.lines().map(str::trim).filter(|l| !l.is_empty()).nth(1).unwrap_or("")
    }

    pub fn handler(&self, name: &str) -> Option<&'static HandlerSpec> {
        self.handlers.iter().find(|h| h.matches(name))
    }

    /// Builds an element of this class, with the AddressInfo names of the plan visible to
    /// the argument reader from the element's compound scope (Click resolves them with the
    /// element as context). Every place that builds a graph's elements goes through here
    /// rather than calling [`ElementClass::build`] directly.
    pub fn instantiate(&self, config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
        names::with_scope(ctx.declarations.addresses(), ctx.scope(), || (self.build)(config, ctx))
    }
}

impl std::fmt::Debug for ElementClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ElementClass({})", self.name)
    }
}

/// Declare an element class whose documentation is its doc comment.
///
/// The doc comment is written in Click's shape (synopsis line, one-line summary, then
/// description, keywords, handlers, example); it becomes both the rustdoc of the constant
/// and [`ElementClass::doc`], from which `sluice elements` and `docs/elements.md` are made.
///
/// ```ignore
/// sluice::element_class! {
///     /// Null
///     ///
///     /// Passes packets unchanged.
///     pub const NULL = "Null" { ports: "1/1", processing: "a/a", handlers: &[], build: build_null }
/// }
/// ```
#[macro_export]
macro_rules! element_class {
    (
        $(#[doc = $d:literal])*
        $vis:vis const $id:ident = $name:literal {
            ports: $ports:literal,
            processing: $proc:literal,
            handlers: $handlers:expr,
            build: $build:expr $(,)?
        }
    ) => {
        $(#[doc = $d])*
        $vis const $id: $crate::element::ElementClass = $crate::element::ElementClass {
            name: $name,
            ports: $ports,
            processing: $proc,
            doc: concat!($($d, "\n"),*),
            handlers: $handlers,
            build: $build,
        };
    };
}

#[cfg(test)]
mod tests {
    use super::{Combine, HandlerSpec};

    #[test]
    fn numbered_handler_families() {
        let h = HandlerSpec::read("active#", Combine::First, "");
        assert!(h.is_family());
        assert!(h.matches("active0") && h.matches("active31") && h.matches("active1000"));
        assert!(!h.matches("active") && !h.matches("active-1") && !h.matches("active1x") && !h.matches("passive1"));
        assert!(!h.matches("active12345678901"), "too long to be a port number");
        let h = HandlerSpec::read("count", Combine::Sum, "");
        assert!(!h.is_family() && h.matches("count") && !h.matches("count0"));
    }
}

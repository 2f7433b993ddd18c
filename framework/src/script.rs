//! The seam for control scripts (Click's `Script` and `DriverManager`): elements that run on
//! worker 0 between batches, call other elements' handlers, wait for time or for stop
//! events, and stop the router.
//!
//! An element asks for it in `initialize` with [`crate::InitCtx::schedule_script`] (and
//! [`crate::InitCtx::manage_driver`] for a driver manager). Worker 0 then calls its
//! [`crate::Element::run_script`] at every quiescent point, after serving its mailbox: no
//! other element call is on the stack, so the script may read and write handlers of
//! elements on worker 0 directly; handlers on the other workers are reached through their
//! mailboxes, exactly as [`crate::runtime::Running::read_handler`] and `write_handler` do
//! (reads combined across workers, writes made on every worker). A script never blocks the
//! worker while it waits: it returns `Idle` and looks at the clock on its next turn.
//!
//! Stop requests ([`crate::Ctx::request_stop`], Click's `please_stop_driver`) stop the
//! router (after draining) unless a driver manager is present; then each request is one
//! *stop event*, counted in [`Shared::stop_events`] and taken by the driver's script, and
//! the router stops only when the driver calls [`ScriptCtx::stop_router`].

use crate::check::Plan;
use crate::element::TaskStatus;
use crate::router::{Shared, WorkerGraph};
use crate::runtime::{combine, handler_spec, read_on, write_on, Command, ControlError};
use crossbeam_channel::{bounded, Sender};
use std::sync::atomic::Ordering;

/// What a script can reach during [`crate::Element::run_script`].
pub struct ScriptCtx<'a> {
    plan: &'a Plan,
    /// The worker's graph. The script's own node is never reached through it (its element
    /// is the one running).
    graph: &'a mut WorkerGraph,
    me: usize,
    peers: &'a [Sender<Command>],
    shared: &'a Shared,
    done: &'a mut [bool],
}

impl ScriptCtx<'_> {
    /// This element's name in the flattened graph.
    pub fn name(&self) -> &str {
        &self.plan.graph.elements[self.me].name
    }

    /// The element `name` refers to from this script, with Click's scoping for compound
    /// elements (`Router::find`): `name` in this element's compound scope first, then in
    /// the enclosing scopes, then at top level.
    pub fn find_element(&self, name: &str) -> Result<usize, ControlError> {
        let graph = &self.plan.graph;
        let mine = graph.elements[self.me].name.as_str();
        let mut scope = crate::element::scope_of(mine);
        loop {
            if let Some(i) = graph.find(&format!("{scope}{name}")) {
                return Ok(i);
            }
            if scope.is_empty() {
                break;
            }
            scope = crate::element::scope_of(&scope[..scope.len() - 1]);
        }
        Err(ControlError::NoSuchElement {
            element: name.to_string(),
            suggestion: crate::error::suggest(name, graph.elements.iter().map(|e| e.name.as_str())).map(str::to_string),
        })
    }

    /// Whether `element` names this script's own element.
    pub fn is_self(&self, element: &str) -> bool {
        self.find_element(element).ok() == Some(self.me)
    }

    fn other(&self, element: &str) -> Result<usize, ControlError> {
        let i = self.find_element(element)?;
        if i == self.me {
            return Err(ControlError::HandlerFailed {
                element: element.to_string(),
                handler: String::new(),
                message: "a script calls its own handlers itself".into(),
            });
        }
        Ok(i)
    }

    /// Read `element.handler` (with a parameter; empty: none), combining every worker's
    /// answer as `Running::read_handler` does.
    pub fn read_handler(&mut self, element: &str, handler: &str, param: &str) -> Result<String, ControlError> {
        let i = self.other(element)?;
        let class = self.graph.instance(i).class;
        let spec = handler_spec(self.plan, i, &class, handler)?;
        let mut values = vec![read_on(self.plan, self.graph, i, handler, param)?];
        for m in self.peers {
            let (tx, rx) = bounded(1);
            m.send(Command::Read { element: i, handler: handler.to_string(), param: param.to_string(), reply: tx })
                .map_err(|_| ControlError::Stopped)?;
            values.push(rx.recv().map_err(|_| ControlError::Stopped)??);
        }
        Ok(combine(spec.combine, values))
    }

    /// Write `element.handler` on every worker, as `Running::write_handler` does.
    pub fn write_handler(&mut self, element: &str, handler: &str, value: &str) -> Result<(), ControlError> {
        let i = self.other(element)?;
        write_on(self.plan, self.graph, i, handler, value)?;
        // The element may have work again (a source's `reset`, `active`).
        self.done[i] = false;
        for m in self.peers {
            let (tx, rx) = bounded(1);
            m.send(Command::Write { element: i, handler: handler.to_string(), value: value.to_string(), reply: tx })
                .map_err(|_| ControlError::Stopped)?;
            rx.recv().map_err(|_| ControlError::Stopped)??;
        }
        Ok(())
    }

    /// Take the stop events that arrived since the last call (driver managers).
    pub fn take_stop_events(&mut self) -> u64 {
        self.shared.stop_events.swap(0, Ordering::AcqRel)
    }

    /// Stop events waiting, without taking them.
    pub fn pending_stop_events(&self) -> u64 {
        self.shared.stop_events.load(Ordering::Acquire)
    }

    /// Click's `please_stop_driver`, as [`crate::Ctx::request_stop`]: a stop event for the
    /// driver manager if there is one, else stop the router after draining.
    pub fn request_stop(&mut self) {
        self.shared.request_stop();
    }

    /// Stop the router: sources stop producing, queued packets drain (at most one second),
    /// then every worker stops. What a driver manager does when its script says `stop`.
    pub fn stop_router(&mut self) {
        self.shared.stop_when_idle.store(true, Ordering::Relaxed);
    }
}

/// Give every script of worker 0 its turn (called at the worker's quiescent point). True if
/// one of them did something. Updates [`Shared::scripts_live`].
pub(crate) fn run_scripts(
    g: &mut WorkerGraph,
    plan: &Plan,
    shared: &Shared,
    peers: &[Sender<Command>],
    done: &mut [bool],
) -> bool {
    let mut worked = false;
    for k in 0..g.scripts().len() {
        let node = g.scripts()[k];
        if done[node] {
            continue;
        }
        let element = g.element_ptr(node);
        let mut ctx = ScriptCtx { plan, graph: &mut *g, me: node, peers, shared, done: &mut *done };
        // SAFETY: a quiescent point: no element call is on this thread's stack, and elements
        // are only called by their worker, so this is the only reference to the script's
        // element. `ScriptCtx` never reaches node `node` through the graph (`other` refuses
        // it), and swaps happen only in `serve`, not during this call.
        let status = unsafe { (*element).run_script(&mut ctx) };
        match status {
            TaskStatus::Busy => worked = true,
            TaskStatus::Idle | TaskStatus::Waiting => {}
            TaskStatus::Done => {
                done[node] = true;
                worked = true;
            }
        }
    }
    let live = g.scripts().iter().filter(|&&n| !done[n]).count();
    shared.scripts_live.store(live, Ordering::Relaxed);
    worked
}

//! The router host: owns the running router on behalf of the control plane, and does what
//! control commands ask (handlers, element swaps, whole-graph hot-swaps, listing).
//!
//! The host is the only place that holds the `Running` router; a mutex serializes control
//! operations (the data plane never takes it: workers only see commands in their mailboxes
//! between batches). A hot-swap builds and initializes the new graph first, while the old
//! one keeps running; only when that succeeded does it stop the old workers at a quiescent
//! point, move the state of every element that keeps its name and class, and start the new
//! workers. If the new graph is refused, the old one is untouched.

use crate::check::Plan;
use crate::error::GraphErrors;
use crate::load::plan_str;
use crate::registry::Registry;
use crate::runtime::{ControlError, Router, RunOptions, Running};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Why a control operation failed.
#[derive(Debug)]
pub enum HostError {
    /// An element or handler problem, as the runtime reports it.
    Control(ControlError),
    /// A new configuration was refused; nothing changed.
    Graph(GraphErrors),
    /// A malformed argument (e.g. a swap specification).
    Syntax(String),
}

impl From<ControlError> for HostError {
    fn from(e: ControlError) -> Self {
        HostError::Control(e)
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Control(e) => write!(f, "{e}"),
            HostError::Graph(e) => write!(f, "{e}"),
            HostError::Syntax(s) => f.write_str(s),
        }
    }
}

/// The outcome of a hot-swap.
#[derive(Debug)]
pub struct Hotswapped {
    /// Elements whose state moved to the new graph (same name and class).
    pub carried: Vec<String>,
}

struct State {
    /// `None` once the router has stopped.
    running: Option<Running>,
    /// The router after it stopped, for final handler reads.
    stopped: Option<Router>,
    /// The current configuration text and the name it is known by.
    config: String,
    file: String,
}

/// What must happen around a hot-swap beyond the routers (the control plane's sockets):
/// called with the new graph before anything changes, it prepares (or refuses, with
/// errors at their places) and returns what to do once the new graph runs.
pub type HotswapHook = Box<dyn Fn(&Plan) -> Result<Box<dyn FnOnce() + Send>, GraphErrors> + Send + Sync>;

/// Owns a running router for the control plane.
pub struct RouterHost {
    registry: Registry,
    opts: RunOptions,
    base_dir: PathBuf,
    state: Mutex<State>,
    hotswap_hook: Mutex<Option<HotswapHook>>,
}

impl RouterHost {
    /// Start `plan` (made from `config`, named `file`) and host it.
    pub fn start(
        plan: Plan,
        config: String,
        file: String,
        registry: Registry,
        opts: RunOptions,
    ) -> Result<RouterHost, GraphErrors> {
        Ok(Self::from_router(Router::new(plan, opts.workers)?, config, file, registry, opts))
    }

    /// Start a built router (made from `config`, named `file`) and host it.
    pub fn from_router(
        router: Router,
        config: String,
        file: String,
        registry: Registry,
        opts: RunOptions,
    ) -> RouterHost {
        let base_dir = router.plan().base_dir.clone();
        let running = router.start(&opts);
        RouterHost {
            registry,
            opts,
            base_dir,
            state: Mutex::new(State { running: Some(running), stopped: None, config, file }),
            hotswap_hook: Mutex::new(None),
        }
    }

    /// Run `hook` in every hot-swap (see [`HotswapHook`]); replaces an earlier one.
    pub fn set_hotswap_hook(&self, hook: HotswapHook) {
        *self.hotswap_hook.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the router half-changed (every change
        // is a single assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The running router, or `Stopped`.
    fn with_running<T>(&self, f: impl FnOnce(&Running) -> Result<T, ControlError>) -> Result<T, HostError> {
        let st = self.lock();
        match &st.running {
            Some(r) => Ok(f(r)?),
            None => Err(HostError::Control(ControlError::Stopped)),
        }
    }

    /// Resolve Click's handler names: `element.handler`, `N.handler` (1-based element
    /// number), or a global handler name (returned with element `None`).
    fn resolve(&self, full: &str) -> Result<(Option<String>, String), HostError> {
        let Some((elem, handler)) = full.split_once('.') else { return Ok((None, full.to_string())) };
        let st = self.lock();
        let plan = match (&st.running, &st.stopped) {
            (Some(r), _) => r.plan(),
            (None, Some(r)) => r.plan(),
            (None, None) => return Err(HostError::Control(ControlError::Stopped)),
        };
        let name = match elem.parse::<usize>() {
            Ok(n) if n >= 1 && n <= plan.len() && plan.graph.find(elem).is_none() => {
                plan.graph.elements[n - 1].name.clone()
            }
            _ => elem.to_string(),
        };
        Ok((Some(name), handler.to_string()))
    }

    /// Read a handler (element or global).
    pub fn read(&self, full: &str) -> Result<String, HostError> {
        self.read_with(full, "")
    }

    /// Read a handler with a parameter (Click's `READ handler ARGS`; empty: none).
    pub fn read_with(&self, full: &str, param: &str) -> Result<String, HostError> {
        match self.resolve(full)? {
            (Some(e), h) => self.with_running(|r| r.read_handler_with(&e, &h, param)),
            (None, h) => self.read_global(&h),
        }
    }

    /// Write a handler (element or global: `stop`, `hotconfig`).
    pub fn write(&self, full: &str, value: &str) -> Result<(), HostError> {
        match self.resolve(full)? {
            (Some(e), h) => self.with_running(|r| r.write_handler(&e, &h, value)),
            (None, h) => self.write_global(&h, value),
        }
    }

    /// Whether a handler exists and is readable (writable).
    pub fn check(&self, full: &str, write: bool) -> Result<(), HostError> {
        match self.resolve(full)? {
            (Some(e), h) => self.with_running(|r| r.check_handler(&e, &h, write)),
            (None, h) => {
                let known = if write { GLOBAL_WRITE.contains(&h.as_str()) } else { GLOBAL_READ.contains(&h.as_str()) };
                let exists = GLOBAL_WRITE.contains(&h.as_str()) || GLOBAL_READ.contains(&h.as_str());
                match (known, exists) {
                    (true, _) => Ok(()),
                    (false, true) if write => {
                        Err(HostError::Control(ControlError::NotWritable { element: String::new(), handler: h }))
                    }
                    (false, true) => {
                        Err(HostError::Control(ControlError::NotReadable { element: String::new(), handler: h }))
                    }
                    (false, false) => {
                        Err(HostError::Control(ControlError::NoSuchHandler { element: String::new(), handler: h }))
                    }
                }
            }
        }
    }

    /// Replace `element` by `spec` = `Class(configuration)` (or a bare `Class`).
    pub fn swap(&self, element: &str, spec: &str) -> Result<(), HostError> {
        let (class, config) = split_spec(spec)?;
        self.with_running(|r| r.swap(element, &class, &config, &self.registry))
    }

    /// Each element's name, the class it runs now, and how it is implemented.
    pub fn list(&self) -> Result<Vec<(String, String, String)>, HostError> {
        let registry = self.registry();
        self.with_running(|r| {
            Ok(r.implementations()
                .into_iter()
                .map(|(n, c, _)| {
                    let how = if registry.is_builtin(c) {
                        "builtin".to_string()
                    } else {
                        crate::plugin::implementation(c).unwrap_or_else(|| "plugin (unloaded)".into())
                    };
                    (n, c.to_string(), how)
                })
                .collect())
        })
    }

    /// Load a plugin library: its classes become usable in swaps and hot-swaps.
    pub fn load_library(&self, path: &Path) -> Result<crate::plugin::Loaded, HostError> {
        let registry = self.registry();
        crate::plugin::load(path, &|name| registry.is_builtin(name)).map_err(HostError::Syntax)
    }

    /// Replace the whole configuration by `text`, carrying the state of elements that keep
    /// their name and class. Refused whole, leaving the old graph running, if it does not
    /// parse, check or initialize.
    pub fn hotswap(&self, text: &str) -> Result<Hotswapped, HostError> {
        let mut st = self.lock();
        if st.running.is_none() {
            return Err(HostError::Control(ControlError::Stopped));
        }
        let file = format!("{} (hotswap)", st.file);
        let plan = plan_str(&file, text, &[], &self.registry, &self.base_dir).map_err(HostError::Graph)?;
        let mut new = Router::new(plan, self.opts.workers).map_err(HostError::Graph)?;
        let after = match &*self.hotswap_hook.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(hook) => Some(hook(new.plan()).map_err(HostError::Graph)?),
            None => None,
        };
        // From here nothing can fail: stop the old workers at a quiescent point, move state.
        let old_running = st.running.take().expect("checked above");
        old_running.stop();
        let mut old = old_running.wait();
        let carried = new.carry_state_from(&mut old);
        drop(old);
        st.running = Some(new.start(&self.opts));
        st.config = text.to_string();
        if let Some(after) = after {
            after();
        }
        Ok(Hotswapped { carried })
    }

    /// Stop the router (as SIGINT does).
    pub fn stop(&self) {
        if let Some(r) = &self.lock().running {
            r.stop();
        }
    }

    /// True once the router has stopped (by itself, `stop`, or `write stop`).
    pub fn is_finished(&self) -> bool {
        let mut st = self.lock();
        match &st.running {
            Some(r) if r.is_finished() => {
                let r = st.running.take().expect("present");
                st.stopped = Some(r.wait());
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    /// Wait for the router to stop and take it out of the host (for final handler reads);
    /// `None` if it was already taken. Works while other threads still hold the host.
    pub fn take_router(&self) -> Option<Router> {
        let mut st = self.lock();
        if let Some(r) = st.running.take() {
            return Some(r.wait());
        }
        st.stopped.take()
    }

    /// Wait for the router to stop and take it (for final handler reads).
    pub fn into_router(self) -> Router {
        let st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        match (st.running, st.stopped) {
            (Some(r), _) => r.wait(),
            (None, Some(r)) => r,
            (None, None) => unreachable!("a host always has a running or stopped router"),
        }
    }

    fn read_global(&self, h: &str) -> Result<String, HostError> {
        let st = self.lock();
        let (plan, now) = match (&st.running, &st.stopped) {
            (Some(r), _) => (r.plan(), r.implementations()),
            (None, Some(r)) => (r.plan(), r.implementations()),
            (None, None) => return Err(HostError::Control(ControlError::Stopped)),
        };
        Ok(match h {
            "version" => env!("CARGO_PKG_VERSION").to_string(),
            "list" => {
                let names: Vec<&str> = plan.graph.elements.iter().map(|e| e.name.as_str()).collect();
                format!("{}\n{}\n", names.len(), names.join("\n"))
            }
            "classes" => self.registry.names().collect::<Vec<_>>().join("\n") + "\n",
            "config" => st.config.clone(),
            "flatconfig" => flat_config(plan, &now),
            "requirements" | "packages" => plan.graph.requirements.iter().map(|r| r.args.join(" ") + "\n").collect(),
            _ if GLOBAL_WRITE.contains(&h) => {
                return Err(HostError::Control(ControlError::NotReadable { element: String::new(), handler: h.into() }))
            }
            _ => {
                return Err(HostError::Control(ControlError::NoSuchHandler {
                    element: String::new(),
                    handler: h.into(),
                }))
            }
        })
    }

    fn write_global(&self, h: &str, value: &str) -> Result<(), HostError> {
        match h {
            "stop" => {
                self.stop();
                Ok(())
            }
            "hotconfig" => self.hotswap(value).map(|_| ()),
            _ if GLOBAL_READ.contains(&h) => {
                Err(HostError::Control(ControlError::NotWritable { element: String::new(), handler: h.into() }))
            }
            _ => Err(HostError::Control(ControlError::NoSuchHandler { element: String::new(), handler: h.into() })),
        }
    }
}

/// Click's global read handlers that Sluice has.
pub const GLOBAL_READ: &[&str] = &["version", "list", "classes", "config", "flatconfig", "requirements", "packages"];
/// Click's global write handlers that Sluice has.
pub const GLOBAL_WRITE: &[&str] = &["stop", "hotconfig"];

/// `Class(configuration)` or `Class` → (class, configuration).
pub fn split_spec(spec: &str) -> Result<(String, String), HostError> {
    let spec = spec.trim();
    let bad = || HostError::Syntax(format!("'{spec}' is not Class(arguments)"));
    let (class, config) = match spec.find('(') {
        None => (spec, ""),
        Some(open) => {
            let inner = spec[open + 1..].strip_suffix(')').ok_or_else(bad)?;
            (&spec[..open], inner)
        }
    };
    let class = class.trim();
    if class.is_empty() || !class.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '/') {
        return Err(bad());
    }
    Ok((class.to_string(), config.trim().to_string()))
}

/// Click's `flatconfig`: every element of the flattened graph as it runs now (`now`: name,
/// class, configuration, which swaps change), then every connection.
fn flat_config(plan: &Plan, now: &[(String, &'static str, String)]) -> String {
    let mut s = String::new();
    for (name, class, config) in now {
        s += &format!("{name} :: {class}({config});\n");
    }
    for c in &plan.graph.connections {
        s += &format!(
            "{} [{}] -> [{}] {};\n",
            plan.graph.elements[c.from].name, c.from_port, c.to_port, plan.graph.elements[c.to].name
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::split_spec;

    #[test]
    fn swap_specifications() {
        assert_eq!(split_spec("Queue(200)").unwrap(), ("Queue".into(), "200".into()));
        assert_eq!(split_spec(" Counter ").unwrap(), ("Counter".into(), "".into()));
        assert_eq!(split_spec("Print(\"a (b)\", 3)").unwrap(), ("Print".into(), "\"a (b)\", 3".into()));
        assert!(split_spec("Queue(200").is_err());
        assert!(split_spec("(200)").is_err());
        assert!(split_spec("Qu eue").is_err());
    }
}

//! Plugins: element classes loaded from shared objects through the stable C ABI of
//! `sluice_plugins::abi`.
//!
//! [`load`] copies the library to a fresh path (so a new version of a file is never confused
//! with a loaded old one), opens it, checks the ABI magic and version, reads its classes and
//! makes them known to every [`Registry`](crate::registry::Registry) by name: a later load of
//! a class with the same name replaces the earlier one for new elements. Each element made
//! from a plugin class holds the library open; a library is closed when no element of it
//! remains (elements replaced by a swap are freed only after every worker passed a
//! quiescent point) and no registered class points to it.

mod element;

use crate::element::{Combine, ElementClass, HandlerSpec};
use crate::ports::PortCount;
use sluice_plugins::abi::{self, ClassDesc, EntryFn, PluginDesc};
use std::collections::HashMap;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// An open plugin library.
pub(crate) struct Library {
    /// Closed (dlclose) when the last class or element holding it goes.
    _lib: libloading::Library,
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    /// The plugin ABI version the library was built for.
    pub abi_version: u32,
}

/// One class of a loaded library.
pub(crate) struct LoadedClass {
    pub lib: Arc<Library>,
    pub desc: *const ClassDesc,
    pub class: ElementClass,
}

// SAFETY: the descriptor is immutable static data of the library, which `lib` keeps open.
unsafe impl Send for LoadedClass {}
unsafe impl Sync for LoadedClass {}

fn table() -> &'static Mutex<HashMap<String, Arc<LoadedClass>>> {
    static T: OnceLock<Mutex<HashMap<String, Arc<LoadedClass>>>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The loaded plugin class named `name`, if any.
pub fn class(name: &str) -> Option<ElementClass> {
    table().lock().unwrap_or_else(|p| p.into_inner()).get(name).map(|c| c.class)
}

pub(crate) fn loaded(name: &str) -> Option<Arc<LoadedClass>> {
    table().lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
}

/// How a loaded plugin class is implemented, for `LIST`: `plugin NAME VERSION (PATH)`.
pub fn implementation(class: &str) -> Option<String> {
    loaded(class).map(|c| format!("plugin {} {} ({})", c.lib.name, c.lib.version, c.lib.path.display()))
}

/// Names of all loaded plugin classes.
pub fn class_names() -> Vec<String> {
    let mut v: Vec<String> = table().lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
    v.sort();
    v
}

/// What was loaded.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub name: String,
    pub version: String,
    pub classes: Vec<String>,
}

/// Strings a class descriptor gives, kept for the life of the process (class metadata is
/// `'static` throughout Sluice; a few bytes per load).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn c_text(p: *const std::ffi::c_char, what: &str) -> Result<String, String> {
    if p.is_null() {
        return Err(format!("its {what} is missing"));
    }
    // SAFETY: the ABI says these are NUL-terminated strings in the library's static data.
    unsafe { CStr::from_ptr(p) }.to_str().map(str::to_string).map_err(|_| format!("its {what} is not UTF-8"))
}

/// A path no earlier load used, with the file copied there.
fn private_copy(path: &Path) -> Result<PathBuf, String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("sluice-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin.so".into());
    let copy = dir.join(format!("{}-{file}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::copy(path, &copy).map_err(|e| format!("cannot copy it to '{}': {e}", copy.display()))?;
    Ok(copy)
}

/// Load the plugin library at `path` and register its classes. `builtin` says which class
/// names belong to Sluice itself (a plugin may not hide them). On any error nothing is
/// registered and the library is closed again.
pub fn load(path: &Path, builtin: &dyn Fn(&str) -> bool) -> Result<Loaded, String> {
    let what = format!("plugin '{}'", path.display());
    let fail = |why: String| format!("cannot load {what}: {why}");
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let copy = private_copy(path).map_err(&fail)?;
    // SAFETY: loading runs the library's initializers; that is what loading a plugin means.
    let lib = unsafe { libloading::Library::new(&copy) };
    let _ = std::fs::remove_file(&copy); // the mapping stays; the name must never be reused
    let lib = lib.map_err(|e| {
        fail(match std::error::Error::source(&e) {
            Some(why) => format!("{e}: {why}"),
            None => e.to_string(),
        })
    })?;
    // SAFETY: the symbol's type is fixed by the ABI; checked by magic and version below.
    let entry: EntryFn = unsafe {
        *lib.get::<EntryFn>(abi::ENTRY_SYMBOL)
            .map_err(|_| format!("{what} is not a Sluice plugin: it has no 'sluice_plugin_v1' symbol"))?
    };
    // SAFETY: calling the entry point the ABI defines.
    let desc: *const PluginDesc = unsafe { entry() };
    if desc.is_null() {
        return Err(fail("its entry point returned nothing".into()));
    }
    // SAFETY: non-null pointer to the library's static descriptor.
    let d = unsafe { &*desc };
    if d.magic != abi::MAGIC {
        return Err(format!("{what} is not a Sluice plugin (bad magic number)"));
    }
    if !(abi::MIN_ABI_VERSION..=abi::ABI_VERSION).contains(&d.abi_version) {
        return Err(fail(format!(
            "it was built for plugin ABI version {}, and this Sluice speaks versions {} to {}",
            d.abi_version,
            abi::MIN_ABI_VERSION,
            abi::ABI_VERSION
        )));
    }
    let name = c_text(d.name, "name").map_err(&fail)?;
    let version = c_text(d.version, "version").map_err(&fail)?;
    if d.nclasses == 0 || d.classes.is_null() {
        return Err(fail("it defines no element classes".into()));
    }
    let lib = Arc::new(Library {
        _lib: lib,
        path: path.to_path_buf(),
        name: name.clone(),
        version: version.clone(),
        abi_version: d.abi_version,
    });
    let mut classes = Vec::new();
    for k in 0..d.nclasses as usize {
        // SAFETY: `classes` has `nclasses` entries.
        let cd: *const ClassDesc = unsafe { d.classes.add(k) };
        classes.push(describe(&lib, cd).map_err(&fail)?);
    }
    for c in &classes {
        if builtin(c.class.name) {
            return Err(fail(format!("its class '{}' has the name of a built-in class", c.class.name)));
        }
    }
    let names: Vec<String> = classes.iter().map(|c| c.class.name.to_string()).collect();
    let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
    for c in classes {
        t.insert(c.class.name.to_string(), Arc::new(c));
    }
    Ok(Loaded { name, version, classes: names })
}

/// Turn one class descriptor into an element class.
fn describe(lib: &Arc<Library>, cd: *const ClassDesc) -> Result<LoadedClass, String> {
    // SAFETY: points into the library's static descriptor array.
    let c = unsafe { &*cd };
    let name = c_text(c.name, "class name")?;
    if name.is_empty()
        || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        || name.starts_with(|ch: char| ch.is_ascii_digit())
    {
        return Err(format!("'{name}' is not a valid class name"));
    }
    let ports = c_text(c.ports, &format!("port counts of class '{name}'"))?;
    let (_, outs) = PortCount::parse_spec(&ports).map_err(|e| format!("class '{name}': {e}"))?;
    if outs.max.is_none_or(|m| m > element::MAX_OUTPUTS) {
        return Err(format!(
            "class '{name}' may have more than {} outputs, the most a plugin class can have",
            element::MAX_OUTPUTS
        ));
    }
    let doc = c_text(c.doc, "documentation")?;
    let mut handlers = Vec::new();
    for h in 0..c.nhandlers as usize {
        // SAFETY: `handlers` has `nhandlers` entries.
        let hd = unsafe { &*c.handlers.add(h) };
        let hname = leak(c_text(hd.name, "handler name")?);
        handlers.push(HandlerSpec {
            name: hname,
            read: hd.flags & abi::HANDLER_READ != 0,
            write: hd.flags & abi::HANDLER_WRITE != 0,
            // Counters add up over workers when the plugin says so.
            combine: if hd.flags & abi::HANDLER_SUM != 0 { Combine::Sum } else { Combine::First },
            doc: "(plugin handler)",
        });
    }
    // Every plugin element counts its drops by reason, like built-in elements.
    handlers.push(HandlerSpec::read("drops", Combine::Sum, "packets dropped, for any reason"));
    handlers.push(HandlerSpec::read("drop_details", Combine::First, "packets dropped, by reason"));
    let class = ElementClass {
        name: leak(name),
        ports: leak(ports),
        // Plugin ports are push ports: the ABI hands over batches, it does not pull.
        processing: "h/h",
        doc: leak(doc),
        handlers: Box::leak(handlers.into_boxed_slice()),
        build: element::build,
    };
    Ok(LoadedClass { lib: lib.clone(), desc: cd, class })
}

//! Sluice plugin SDK: write an element as an ordinary Rust type, export it through the
//! stable C ABI ([`abi`]) with [`export_plugin!`], build it as a `cdylib`, and load it into
//! Sluice with `require(library PATH)` in a graph or `sluicectl load PATH` at run time.
//!
//! The SDK has no dependencies and keeps no thread-local state, so a plugin library can be
//! unloaded cleanly. Panics never cross the boundary: each exported function catches them
//! and returns [`abi::ERR_PANIC`], and the host disables the element.
//!
//! ```ignore
//! use sluice_plugins::{export_plugin, Packet, PluginElement, BuildInfo};
//!
//! pub struct Marker { seen: u64 }
//!
//! impl PluginElement for Marker {
//!     const CLASS: &'static str = "Marker";
//!     const PORTS: &'static str = "1/1";
//!     const DOC: &'static str = "Marker\n\nCounts packets and sets their paint to 7.";
//!     const HANDLERS: &'static [(&'static str, u32)] = &[("seen", sluice_plugins::abi::HANDLER_READ)];
//!     fn create(_config: &str, _info: &BuildInfo) -> Result<Self, String> { Ok(Marker { seen: 0 }) }
//!     fn push(&mut self, _port: u32, pkts: &mut [Packet], verdicts: &mut [u16]) {
//!         for (p, v) in pkts.iter_mut().zip(verdicts) { p.anno_mut().paint = 7; *v = 0; }
//!         self.seen += pkts.len() as u64;
//!     }
//!     fn read_handler(&self, name: &str) -> Option<String> { (name == "seen").then(|| self.seen.to_string()) }
//! }
//!
//! export_plugin!("marker", "1.0", Marker);
//! ```

pub mod abi;

#[doc(hidden)]
pub mod glue;

pub use abi::{Annotations, VERDICT_DROP};

/// What an element instance is told when it is created.
#[derive(Clone, Debug)]
pub struct BuildInfo {
    /// The element's name in the graph.
    pub name: String,
    pub ninputs: u32,
    pub noutputs: u32,
    pub worker: u32,
    pub nworkers: u32,
}

/// One packet during `push`: its bytes, room around them, and its annotations. A
/// transparent wrapper of the ABI's [`abi::PacketView`], so the host's array of views is
/// the plugin's slice of packets without any copying.
#[repr(transparent)]
pub struct Packet {
    view: abi::PacketView,
}

impl Packet {
    /// Whether `pull`, `push`, `take` or `put` moved this packet's bounds during this call.
    #[inline]
    pub fn moved(&self) -> bool {
        self.view.flags & abi::VIEW_MOVED != 0
    }

    /// View the host's packet array as packets.
    ///
    /// # Safety
    /// `views` must be valid for `n` elements, each describing live packet memory, for the
    /// duration of the borrow.
    #[doc(hidden)]
    #[inline]
    pub unsafe fn slice_from_views<'a>(views: *mut abi::PacketView, n: usize) -> &'a mut [Packet] {
        // SAFETY: Packet is repr(transparent) over PacketView; validity is the caller's.
        unsafe { std::slice::from_raw_parts_mut(views as *mut Packet, n) }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.view.len as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.view.len == 0
    }

    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: the host guarantees `data..data+len` is valid for the call's duration.
        unsafe { std::slice::from_raw_parts(self.view.data, self.view.len as usize) }
    }

    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and the host gives this call exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.view.data, self.view.len as usize) }
    }

    /// Remove `n` bytes from the front (Click's `pull`); false if the packet is shorter.
    #[inline]
    pub fn pull(&mut self, n: usize) -> bool {
        if n > self.view.len as usize {
            return false;
        }
        // SAFETY: stays within the data.
        self.view.data = unsafe { self.view.data.add(n) };
        self.view.len -= n as u32;
        self.view.headroom += n as u32;
        self.view.flags |= abi::VIEW_MOVED;
        true
    }

    /// Add `n` bytes at the front (Click's `push`); false if the headroom is too small.
    #[inline]
    pub fn push(&mut self, n: usize) -> bool {
        if n > self.view.headroom as usize {
            return false;
        }
        // SAFETY: the host guarantees `headroom` bytes before `data`.
        self.view.data = unsafe { self.view.data.sub(n) };
        self.view.len += n as u32;
        self.view.headroom -= n as u32;
        self.view.flags |= abi::VIEW_MOVED;
        true
    }

    /// Remove `n` bytes from the end (Click's `take`); false if the packet is shorter.
    #[inline]
    pub fn take(&mut self, n: usize) -> bool {
        if n > self.view.len as usize {
            return false;
        }
        self.view.len -= n as u32;
        self.view.tailroom += n as u32;
        self.view.flags |= abi::VIEW_MOVED;
        true
    }

    /// Add `n` bytes at the end (Click's `put`); false if the tailroom is too small.
    #[inline]
    pub fn put(&mut self, n: usize) -> bool {
        if n > self.view.tailroom as usize {
            return false;
        }
        self.view.len += n as u32;
        self.view.tailroom -= n as u32;
        self.view.flags |= abi::VIEW_MOVED;
        true
    }

    #[inline]
    pub fn anno(&self) -> &Annotations {
        // SAFETY: the host passes a valid annotation block for the call's duration.
        unsafe { &*self.view.anno }
    }

    #[inline]
    pub fn anno_mut(&mut self) -> &mut Annotations {
        // SAFETY: as above, exclusive for the call.
        unsafe { &mut *self.view.anno }
    }
}

/// An element written for the plugin ABI. One instance per worker; never called from two
/// threads at once.
pub trait PluginElement: Sized + 'static {
    /// Click-style class name, e.g. `TokenBucket`.
    const CLASS: &'static str;
    /// Port counts in Click's notation, e.g. `1/1` or `1/2`. Plugin ports are push ports.
    const PORTS: &'static str;
    /// Documentation in Click's shape: synopsis, blank line, one-line summary, details.
    const DOC: &'static str;
    /// Handlers: name and [`abi::HANDLER_READ`] | [`abi::HANDLER_WRITE`].
    const HANDLERS: &'static [(&'static str, u32)] = &[];

    /// Parse the configuration string and make an instance, or say what is wrong.
    fn create(config: &str, info: &BuildInfo) -> Result<Self, String>;

    /// Decide the fate of each packet: `verdicts[i]` = output port, or [`VERDICT_DROP`].
    /// Verdicts are preset to output 0.
    fn push(&mut self, port: u32, pkts: &mut [Packet], verdicts: &mut [u16]);

    fn read_handler(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let _ = value;
        Err(format!("handler '{name}' is not writable"))
    }

    /// State for a replacement of the same class (maybe a newer version of this plugin),
    /// in a format of the plugin's choosing. May be called more than once: do not consume.
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Take over a predecessor's saved state; ignore what is not understood.
    fn restore_state(&mut self, state: &[u8]) {
        let _ = state;
    }
}

/// Export element classes from a plugin library: `export_plugin!("name", "version", A, B)`.
/// Generates the `sluice_plugin_v1` entry point and the descriptors (built once, on the
/// first call, in a plain static: no thread-local state).
#[macro_export]
macro_rules! export_plugin {
    ($name:literal, $version:literal, $($class:ty),+ $(,)?) => {
        #[no_mangle]
        pub extern "C" fn sluice_plugin_v1() -> *const $crate::abi::PluginDesc {
            static PLUGIN: ::std::sync::OnceLock<$crate::glue::Plugin> = ::std::sync::OnceLock::new();
            let made = ::std::panic::catch_unwind(|| {
                PLUGIN.get_or_init(|| $crate::glue::Plugin::new($name, $version, vec![$($crate::glue::class::<$class>()),+])).desc()
            });
            made.unwrap_or(::std::ptr::null())
        }
    };
}

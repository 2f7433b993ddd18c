//! The stable C ABI between Sluice and plugin libraries, version 2 (the host also runs
//! version 1 libraries).
//!
//! A plugin library exports one symbol, [`ENTRY_SYMBOL`] (`sluice_plugin_v1`), a function
//! returning a pointer to a static [`PluginDesc`]: ABI magic and version, and one
//! [`ClassDesc`] per element class, each with plain C function pointers. The same layout is
//! declared for C in `plugins/include/sluice_plugin.h`; keep the two in step.
//!
//! Ownership rules:
//! - Packets stay the host's. `push` receives `n` [`PacketView`]s and writes one verdict
//!   per packet: an output port, or [`VERDICT_DROP`]. The plugin may change the bytes in
//!   `data[0..len]`, and may move `data` back by at most `headroom` bytes or forward by at
//!   most `len`, and set `len` so that the data ends no later than `tailroom` bytes past its
//!   old end. A `push` that moved any packet's `data` or `len` returns [`PUSH_MOVED`]; the
//!   host then checks and applies the new bounds (a packet outside them is dropped and
//!   counted). Without that flag the host keeps every packet's bounds as they were, so a
//!   batch nobody moved costs no second pass. (Version 1 had no flag: the host checks
//!   every packet of a version 1 plugin.) The plugin must not keep pointers to a packet
//!   after `push` returns.
//! - Annotations are shared in place through `anno` ([`Annotations`], same layout as the
//!   host's).
//! - Text and state cross through host buffers: the plugin writes at most `cap` bytes and
//!   returns the full length it needed; the host calls again with a bigger buffer when that
//!   was more than `cap`.
//! - An instance pointer returned by `create` is owned by the host, which calls `destroy`
//!   exactly once, on the control thread, after no worker can be inside the instance.
//! - Functions return 0 (or a length) on success and a negative number on failure. A Rust
//!   plugin catches its panics at this boundary and returns [`ERR_PANIC`]; the host then
//!   disables the element.

use std::ffi::{c_char, c_void};

/// First field of a [`PluginDesc`]: the bytes `SLUICEPL`, little-endian.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SLUICEPL");
/// The ABI version this header describes.
pub const ABI_VERSION: u32 = 2;
/// The oldest ABI version the host still loads.
pub const MIN_ABI_VERSION: u32 = 1;
/// The symbol every plugin library exports.
pub const ENTRY_SYMBOL: &[u8] = b"sluice_plugin_v1";
/// Verdict for a packet the element drops.
pub const VERDICT_DROP: u16 = 0xFFFF;
/// Flag in what `push` returns: some packet's `data` or `len` moved (apply the new bounds).
pub const PUSH_MOVED: i64 = 1;
/// Flag in [`PacketView::flags`] the SDK's helpers set on a packet whose bounds they moved
/// (the host does not read it; it lets a plugin's `push` know what to return).
pub const VIEW_MOVED: u32 = 1;
/// Return code of a call that panicked (Rust plugins).
pub const ERR_PANIC: i64 = -99;
/// Handler flags.
pub const HANDLER_READ: u32 = 1;
pub const HANDLER_WRITE: u32 = 2;
/// Handler flag: the value is a number that adds up over workers (a counter).
pub const HANDLER_SUM: u32 = 4;

/// Packet annotations, shared in place. Must match the host's `sluice::packet::Annotations`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Annotations {
    pub dst_ip: [u8; 4],
    pub paint: u8,
    pub packet_type: u8,
    pub vlan_tci: u16,
    /// Host-internal (header offsets); plugins leave them alone.
    pub reserved: [u32; 2],
    pub timestamp_ns: u64,
    pub user: [u8; 48],
}

/// One packet, as a plugin sees it during `push`.
#[repr(C)]
#[derive(Debug)]
pub struct PacketView {
    pub data: *mut u8,
    pub len: u32,
    /// Bytes available before `data` (for moving `data` back).
    pub headroom: u32,
    /// Bytes available after `data + len` (for growing `len`).
    pub tailroom: u32,
    /// The plugin's own: 0 when lent; the SDKs set [`VIEW_MOVED`] here.
    pub flags: u32,
    pub anno: *mut Annotations,
}

impl Default for PacketView {
    fn default() -> Self {
        PacketView {
            data: std::ptr::null_mut(),
            len: 0,
            headroom: 0,
            tailroom: 0,
            flags: 0,
            anno: std::ptr::null_mut(),
        }
    }
}

/// What an instance is told when it is created.
#[repr(C)]
#[derive(Debug)]
pub struct BuildInfo {
    /// The element's name in the graph, NUL-terminated.
    pub name: *const c_char,
    pub ninputs: u32,
    pub noutputs: u32,
    pub worker: u32,
    pub nworkers: u32,
}

/// A handler of a class.
#[repr(C)]
#[derive(Debug)]
pub struct HandlerDesc {
    pub name: *const c_char,
    /// [`HANDLER_READ`] | [`HANDLER_WRITE`].
    pub flags: u32,
}

/// One element class of a plugin.
#[repr(C)]
pub struct ClassDesc {
    /// NUL-terminated strings: Click class name, port counts (`1/1`), documentation in
    /// Click's shape (synopsis line, blank line, one-line summary, ...).
    pub name: *const c_char,
    pub ports: *const c_char,
    pub doc: *const c_char,
    pub handlers: *const HandlerDesc,
    pub nhandlers: u32,
    /// Parse `config` (`len` bytes of UTF-8) and make an instance; on failure return null
    /// and write a sentence into `err` (at most `err_cap` bytes).
    pub create: unsafe extern "C" fn(
        config: *const u8,
        len: usize,
        info: *const BuildInfo,
        err: *mut u8,
        err_cap: usize,
    ) -> *mut c_void,
    /// Process `n` packets that arrived on input `port`: write one verdict per packet;
    /// return 0, [`PUSH_MOVED`] if bounds moved, or negative to fail.
    pub push:
        unsafe extern "C" fn(inst: *mut c_void, port: u32, pkts: *mut PacketView, n: u32, verdicts: *mut u16) -> i64,
    /// Read handler `name` into `out`; returns the length needed, or negative.
    pub read_handler: unsafe extern "C" fn(inst: *mut c_void, name: *const c_char, out: *mut u8, cap: usize) -> i64,
    /// Write handler `name` with `len` bytes of `value`; on failure write a sentence into `err`.
    pub write_handler: unsafe extern "C" fn(
        inst: *mut c_void,
        name: *const c_char,
        value: *const u8,
        len: usize,
        err: *mut u8,
        err_cap: usize,
    ) -> i64,
    /// Serialize the instance's state into `out`; returns the length needed (0: none). The
    /// host calls again with a bigger buffer when needed, so this must not consume the state.
    pub take_state: unsafe extern "C" fn(inst: *mut c_void, out: *mut u8, cap: usize) -> i64,
    /// Receive a predecessor's serialized state (of the same class name, maybe another version).
    pub give_state: unsafe extern "C" fn(inst: *mut c_void, state: *const u8, len: usize) -> i64,
    pub destroy: unsafe extern "C" fn(inst: *mut c_void),
}

/// What `sluice_plugin_v1` returns.
#[repr(C)]
pub struct PluginDesc {
    pub magic: u64,
    pub abi_version: u32,
    pub nclasses: u32,
    pub classes: *const ClassDesc,
    /// NUL-terminated plugin name and version, for messages.
    pub name: *const c_char,
    pub version: *const c_char,
}

// SAFETY: descriptors are immutable static data in the plugin library.
unsafe impl Sync for ClassDesc {}
unsafe impl Sync for PluginDesc {}
unsafe impl Sync for HandlerDesc {}

/// The entry point's type.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginDesc;

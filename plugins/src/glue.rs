//! The generated side of the ABI: `extern "C"` functions, generic over a [`PluginElement`],
//! that catch panics and translate between C buffers and Rust types. Used by
//! [`export_plugin!`](crate::export_plugin); not meant to be called directly.

use crate::abi::{self, BuildInfo as CBuildInfo, ClassDesc, HandlerDesc, PacketView, PluginDesc};
use crate::{BuildInfo, Packet, PluginElement};
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Everything a plugin's descriptor points to, kept alive for the library's lifetime.
pub struct Plugin {
    desc: PluginDesc,
    _strings: Vec<CString>,
    _classes: Vec<ClassDesc>,
    _handlers: Vec<Vec<HandlerDesc>>,
}

// SAFETY: immutable after construction; the raw pointers point into the owned vectors.
unsafe impl Sync for Plugin {}
unsafe impl Send for Plugin {}

/// One class before its strings are pinned.
pub struct Class {
    name: &'static str,
    ports: &'static str,
    doc: &'static str,
    handlers: &'static [(&'static str, u32)],
    desc: ClassDesc,
}

/// The descriptor of class `T` (strings filled in by [`Plugin::new`]).
pub fn class<T: PluginElement>() -> Class {
    Class {
        name: T::CLASS,
        ports: T::PORTS,
        doc: T::DOC,
        handlers: T::HANDLERS,
        desc: ClassDesc {
            name: std::ptr::null(),
            ports: std::ptr::null(),
            doc: std::ptr::null(),
            handlers: std::ptr::null(),
            nhandlers: 0,
            create: create::<T>,
            push: push::<T>,
            read_handler: read_handler::<T>,
            write_handler: write_handler::<T>,
            take_state: take_state::<T>,
            give_state: give_state::<T>,
            destroy: destroy::<T>,
        },
    }
}

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).expect("no NUL left")
}

impl Plugin {
    pub fn new(name: &str, version: &str, classes: Vec<Class>) -> Plugin {
        let mut strings = Vec::new();
        let mut pin = |s: &str| -> *const c_char {
            let c = cstring(s);
            let p = c.as_ptr();
            strings.push(c); // moving a CString does not move its heap bytes
            p
        };
        let mut handlers = Vec::new();
        let mut descs = Vec::new();
        for c in classes {
            let hs: Vec<HandlerDesc> =
                c.handlers.iter().map(|(n, f)| HandlerDesc { name: pin(n), flags: *f }).collect();
            let mut d = c.desc;
            d.name = pin(c.name);
            d.ports = pin(c.ports);
            d.doc = pin(c.doc);
            d.handlers = hs.as_ptr();
            d.nhandlers = hs.len() as u32;
            handlers.push(hs); // moving a Vec does not move its heap buffer
            descs.push(d);
        }
        let desc = PluginDesc {
            magic: abi::MAGIC,
            abi_version: abi::ABI_VERSION,
            nclasses: descs.len() as u32,
            classes: descs.as_ptr(),
            name: pin(name),
            version: pin(version),
        };
        Plugin { desc, _strings: strings, _classes: descs, _handlers: handlers }
    }

    pub fn desc(&self) -> *const PluginDesc {
        &self.desc
    }
}

/// Copy `text` into the host's buffer; the full length is returned either way.
unsafe fn put(text: &[u8], out: *mut u8, cap: usize) -> i64 {
    if !out.is_null() {
        let n = text.len().min(cap);
        // SAFETY: the host gives `cap` writable bytes at `out`.
        unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), out, n) };
    }
    text.len() as i64
}

unsafe fn str_arg<'a>(p: *const u8, len: usize) -> Result<&'a str, String> {
    if len == 0 {
        return Ok("");
    }
    // SAFETY: the host passes `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(p, len) };
    std::str::from_utf8(bytes).map_err(|_| "argument is not UTF-8 text".to_string())
}

unsafe extern "C" fn create<T: PluginElement>(
    config: *const u8,
    len: usize,
    info: *const CBuildInfo,
    err: *mut u8,
    err_cap: usize,
) -> *mut c_void {
    let r = catch_unwind(|| -> Result<T, String> {
        // SAFETY: the host passes valid arguments for the call.
        let config = unsafe { str_arg(config, len) }?;
        let info = unsafe { &*info };
        let name = if info.name.is_null() {
            String::new()
        } else {
            unsafe { CStr::from_ptr(info.name) }.to_string_lossy().into_owned()
        };
        let bi = BuildInfo {
            name,
            ninputs: info.ninputs,
            noutputs: info.noutputs,
            worker: info.worker,
            nworkers: info.nworkers,
        };
        T::create(config, &bi)
    });
    match r {
        Ok(Ok(e)) => Box::into_raw(Box::new(e)) as *mut c_void,
        Ok(Err(msg)) => {
            unsafe { put(msg.as_bytes(), err, err_cap) };
            std::ptr::null_mut()
        }
        Err(_) => {
            unsafe { put(b"the plugin panicked while creating the element", err, err_cap) };
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn push<T: PluginElement>(
    inst: *mut c_void,
    port: u32,
    pkts: *mut PacketView,
    n: u32,
    verdicts: *mut u16,
) -> i64 {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host passes its instance and `n` packets and verdict slots.
        let e = unsafe { &mut *(inst as *mut T) };
        let pkts = unsafe { Packet::slice_from_views(pkts, n as usize) };
        let verdicts = unsafe { std::slice::from_raw_parts_mut(verdicts, n as usize) };
        e.push(port, pkts, verdicts);
        // Tell the host whether it must apply new bounds (the accessors mark what they move).
        let moved = pkts.iter().fold(false, |m, p| m | p.moved());
        if moved {
            abi::PUSH_MOVED
        } else {
            0
        }
    }));
    r.unwrap_or(abi::ERR_PANIC)
}

unsafe extern "C" fn read_handler<T: PluginElement>(
    inst: *mut c_void,
    name: *const c_char,
    out: *mut u8,
    cap: usize,
) -> i64 {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: valid instance and NUL-terminated name from the host.
        let e = unsafe { &*(inst as *const T) };
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        e.read_handler(&name)
    }));
    match r {
        Ok(Some(v)) => unsafe { put(v.as_bytes(), out, cap) },
        Ok(None) => -1,
        Err(_) => abi::ERR_PANIC,
    }
}

unsafe extern "C" fn write_handler<T: PluginElement>(
    inst: *mut c_void,
    name: *const c_char,
    value: *const u8,
    len: usize,
    err: *mut u8,
    err_cap: usize,
) -> i64 {
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        // SAFETY: valid instance, name and value from the host.
        let e = unsafe { &mut *(inst as *mut T) };
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        let value = unsafe { str_arg(value, len) }?;
        e.write_handler(&name, value)
    }));
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(msg)) => {
            unsafe { put(msg.as_bytes(), err, err_cap) };
            -1
        }
        Err(_) => abi::ERR_PANIC,
    }
}

unsafe extern "C" fn take_state<T: PluginElement>(inst: *mut c_void, out: *mut u8, cap: usize) -> i64 {
    // The host may ask again with a bigger buffer, so saving must not consume the state.
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: valid instance from the host.
        let e = unsafe { &*(inst as *const T) };
        e.save_state()
    }));
    match r {
        Ok(bytes) => unsafe { put(&bytes, out, cap) },
        Err(_) => abi::ERR_PANIC,
    }
}

unsafe extern "C" fn give_state<T: PluginElement>(inst: *mut c_void, state: *const u8, len: usize) -> i64 {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: valid instance and `len` bytes from the host.
        let e = unsafe { &mut *(inst as *mut T) };
        let bytes = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(state, len) } };
        e.restore_state(bytes)
    }));
    if r.is_ok() {
        0
    } else {
        abi::ERR_PANIC
    }
}

unsafe extern "C" fn destroy<T: PluginElement>(inst: *mut c_void) {
    let _ = catch_unwind(|| {
        // SAFETY: the host calls destroy exactly once with an instance from `create`.
        drop(unsafe { Box::from_raw(inst as *mut T) });
    });
}

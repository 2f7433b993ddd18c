//! The element that fronts a plugin instance: it lends the batch's packets to the plugin as
//! views, applies the verdicts, and keeps the worker safe from a plugin that misbehaves.

use super::{loaded, LoadedClass};
use crate::batch::{Batch, MAX_BATCH};
use crate::drops::DropCounts;
use crate::element::{BuildCtx, ConfigError, Ctx, Element, State};
use crate::packet::PacketType;
use sluice_plugins::abi::{self, PacketView, VERDICT_DROP};
use std::ffi::{c_void, CString};
use std::sync::Arc;

const DROP_REASONS: &[&str] = &[
    "dropped by the plugin",
    "plugin element disabled after a failure",
    "verdict names no output",
    "plugin moved the packet outside its buffer",
];
/// Most outputs a plugin class may have (verdicts are routed through a fixed array).
pub(crate) const MAX_OUTPUTS: usize = 8;

const BY_PLUGIN: usize = 0;
const DISABLED: usize = 1;
const BAD_VERDICT: usize = 2;
const BAD_BOUNDS: usize = 3;

/// An element implemented by a plugin library.
pub struct PluginElement {
    class: Arc<LoadedClass>,
    inst: *mut c_void,
    /// Set when a call failed or panicked: from then on every packet is dropped and counted.
    disabled: bool,
    drops: DropCounts,
    noutputs: usize,
    views: Vec<PacketView>,
    verdicts: [u16; MAX_BATCH],
}

// SAFETY: an instance is used by one worker at a time (moved, never shared), and the
// plugin ABI requires instances to be movable between threads.
unsafe impl Send for PluginElement {}

fn take_text(buf: &[u8], n: i64) -> String {
    String::from_utf8_lossy(&buf[..(n.max(0) as usize).min(buf.len())]).into_owned()
}

/// Build function of every plugin class: find the class by name, create an instance.
pub(crate) fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let class = loaded(ctx.class).ok_or_else(|| format!("plugin class '{}' is not loaded", ctx.class))?;
    // SAFETY: `desc` is kept valid by `class.lib`.
    let desc = unsafe { &*class.desc };
    let name = CString::new(ctx.name.replace('\0', " ")).expect("no NUL");
    let info = abi::BuildInfo {
        name: name.as_ptr(),
        ninputs: ctx.ninputs as u32,
        noutputs: ctx.noutputs as u32,
        worker: ctx.worker as u32,
        nworkers: ctx.nworkers as u32,
    };
    let mut err = vec![0u8; 1024];
    // SAFETY: arguments valid for the call, as the ABI requires.
    let inst = unsafe { (desc.create)(config.as_ptr(), config.len(), &info, err.as_mut_ptr(), err.len()) };
    if inst.is_null() {
        let msg = String::from_utf8_lossy(&err).trim_end_matches('\0').to_string();
        let msg = if msg.is_empty() { "the plugin refused the configuration".to_string() } else { msg };
        return Err(ConfigError(msg));
    }
    Ok(Box::new(PluginElement {
        class,
        inst,
        disabled: false,
        drops: DropCounts::new(DROP_REASONS),
        noutputs: ctx.noutputs,
        views: Vec::with_capacity(MAX_BATCH),
        verdicts: [0; MAX_BATCH],
    }))
}

impl PluginElement {
    fn desc(&self) -> &abi::ClassDesc {
        // SAFETY: kept valid by `self.class.lib`.
        unsafe { &*self.class.desc }
    }

    fn disable(&mut self, why: &str) {
        if !self.disabled {
            tracing::error!("plugin element of class {} disabled: {why}", self.class.class.name);
        }
        self.disabled = true;
    }
}

impl Element for PluginElement {
    fn push(&mut self, port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        if self.disabled {
            self.drops.count(DISABLED, batch.len() as u64);
            return;
        }
        let n = batch.len();
        self.views.clear();
        for p in batch.iter_mut() {
            let r = p.raw();
            self.views.push(PacketView {
                // SAFETY: start <= cap, inside the buffer.
                data: unsafe { r.buf.add(r.start) },
                len: (r.end - r.start) as u32,
                headroom: r.start as u32,
                tailroom: (r.cap - r.end) as u32,
                reserved: 0,
                anno: r.anno as *mut abi::Annotations,
            });
        }
        self.verdicts[..n].fill(0);
        // SAFETY: `n` views of live packets and `n` verdict slots, for the call only.
        let rc = unsafe {
            (self.desc().push)(self.inst, port as u32, self.views.as_mut_ptr(), n as u32, self.verdicts.as_mut_ptr())
        };
        if rc < 0 {
            self.disable(if rc == abi::ERR_PANIC { "it panicked" } else { "push failed" });
            self.drops.count(DISABLED, n as u64);
            return;
        }
        // Apply the new bounds the plugin set, checking them against the buffers.
        for (k, p) in batch.iter_mut().enumerate() {
            let v = &self.views[k];
            let r = p.raw();
            let start = (v.data as usize).wrapping_sub(r.buf as usize);
            let ok = (v.data as usize) >= (r.buf as usize) && p.set_window(start, start.saturating_add(v.len as usize));
            if !ok {
                self.verdicts[k] = VERDICT_DROP - 1; // marker: bounds
            }
            // A plugin can write any byte into the packet type: keep it a valid value.
            // SAFETY: reading the byte as u8 is always valid; fixing it before any typed read.
            let pt = unsafe { *(std::ptr::addr_of!((*r.anno).packet_type) as *const u8) };
            if pt > PacketType::FastRoute as u8 {
                p.anno_mut().packet_type = PacketType::Host;
            }
        }
        // Route by verdict.
        let verdicts = self.verdicts;
        let all_zero = verdicts[..n].iter().all(|&v| v == 0);
        if all_zero && self.noutputs > 0 {
            ctx.push(0, batch);
            return;
        }
        let mut outs: [Batch; MAX_OUTPUTS] = Default::default();
        let mut k = 0;
        let noutputs = self.noutputs.min(outs.len());
        let drops = &mut self.drops;
        batch.split_into(&mut outs, |_| {
            let v = verdicts[k];
            k += 1;
            match v {
                VERDICT_DROP => {
                    drops.count(BY_PLUGIN, 1);
                    usize::MAX
                }
                x if x == VERDICT_DROP - 1 => {
                    drops.count(BAD_BOUNDS, 1);
                    usize::MAX
                }
                x if (x as usize) < noutputs => x as usize,
                _ => {
                    drops.count(BAD_VERDICT, 1);
                    usize::MAX
                }
            }
        });
        for (port, b) in outs.into_iter().enumerate() {
            if port < noutputs {
                ctx.push(port, b);
            }
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        if let Some(v) = self.drops.read_handler(name) {
            return Some(v);
        }
        let cname = CString::new(name).ok()?;
        let mut buf = vec![0u8; 4096];
        loop {
            // SAFETY: valid instance, name and buffer for the call.
            let n = unsafe { (self.desc().read_handler)(self.inst, cname.as_ptr(), buf.as_mut_ptr(), buf.len()) };
            if n == abi::ERR_PANIC {
                // Reads cannot disable the element (they see it shared); say what happened.
                tracing::error!("plugin element of class {} panicked in read handler '{name}'", self.class.class.name);
                return None;
            }
            if n < 0 {
                return None;
            }
            if n as usize <= buf.len() {
                return Some(take_text(&buf, n));
            }
            buf.resize(n as usize, 0);
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let cname = CString::new(name).map_err(|_| "bad handler name".to_string())?;
        let mut err = vec![0u8; 1024];
        // SAFETY: valid instance, name, value and buffer for the call.
        let rc = unsafe {
            (self.desc().write_handler)(
                self.inst,
                cname.as_ptr(),
                value.as_ptr(),
                value.len(),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        match rc {
            0.. => Ok(()),
            abi::ERR_PANIC => {
                self.disable("it panicked in a write handler");
                Err("the plugin panicked; the element is disabled".into())
            }
            _ => Err(String::from_utf8_lossy(&err).trim_end_matches('\0').to_string()),
        }
    }

    fn take_state(&mut self) -> Option<State> {
        // The host's own counts always carry over; the plugin's state when it has one.
        let mut buf = vec![0u8; 64 * 1024];
        let bytes = loop {
            // SAFETY: valid instance and buffer.
            let n = unsafe { (self.desc().take_state)(self.inst, buf.as_mut_ptr(), buf.len()) };
            if n <= 0 {
                break Vec::new();
            }
            if n as usize <= buf.len() {
                buf.truncate(n as usize);
                break buf;
            }
            buf.resize(n as usize, 0);
        };
        Some(Box::new(PluginState { class: self.class.class.name, bytes, drops: self.drops.clone() }))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(s) = state.downcast::<PluginState>() {
            for r in 0..DROP_REASONS.len() {
                self.drops.count(r, s.drops.get(r));
            }
            if s.class == self.class.class.name && !s.bytes.is_empty() {
                // SAFETY: valid instance and bytes.
                let rc = unsafe { (self.desc().give_state)(self.inst, s.bytes.as_ptr(), s.bytes.len()) };
                if rc == abi::ERR_PANIC {
                    self.disable("it panicked taking over state");
                }
            }
        }
    }
}

/// A plugin instance's saved state, for a successor of the same class name.
struct PluginState {
    class: &'static str,
    bytes: Vec<u8>,
    drops: DropCounts,
}

impl Drop for PluginElement {
    fn drop(&mut self) {
        // SAFETY: destroyed exactly once; the library is still open (`self.class`).
        unsafe { (self.desc().destroy)(self.inst) };
    }
}

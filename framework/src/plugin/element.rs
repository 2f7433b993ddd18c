//! The element that fronts a plugin instance: it lends the batch's packets to the plugin as
//! views, applies the verdicts, and keeps the worker safe from a plugin that misbehaves.

use super::{loaded, LoadedClass};
use crate::batch::{Batch, MAX_BATCH};
use crate::drops::DropCounts;
use crate::element::{BuildCtx, ConfigError, Ctx, Element, State};
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
    /// The views lent to the plugin.
    views: Box<[PacketView; MAX_BATCH]>,
    /// Check every packet's bounds after `push` (a version 1 plugin does not flag moves).
    always_check: bool,
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
    let v1 = class.lib.abi_version < 2;
    Ok(Box::new(PluginElement {
        class,
        inst,
        disabled: false,
        drops: DropCounts::new(DROP_REASONS),
        noutputs: ctx.noutputs,
        views: Box::new(std::array::from_fn(|_| PacketView::default())),
        always_check: v1,
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

impl PluginElement {
    /// Lend the batch's packets as views, call the plugin, apply what it did; returns false
    /// when the call failed (the element is then disabled).
    #[inline]
    fn call_push(&mut self, port: usize, batch: &mut Batch) -> bool {
        let n = batch.len();
        for (p, v) in batch.iter_mut().zip(self.views.iter_mut()) {
            *v = p.view();
        }
        self.verdicts[..n].fill(0);
        // SAFETY: `n` views of live packets and `n` verdict slots, for the call only.
        let rc = unsafe {
            (self.desc().push)(self.inst, port as u32, self.views.as_mut_ptr(), n as u32, self.verdicts.as_mut_ptr())
        };
        if rc < 0 {
            self.disable(if rc == abi::ERR_PANIC { "it panicked" } else { "push failed" });
            return false;
        }
        // Bounds change only when the plugin says so (a version 1 plugin cannot say).
        if rc & abi::PUSH_MOVED != 0 || self.always_check {
            for ((p, v), verdict) in batch.iter_mut().zip(self.views.iter()).zip(self.verdicts.iter_mut()) {
                if !p.set_view(v.data, v.len) {
                    *verdict = BOUNDS_MARK;
                }
            }
        }
        true
    }
}

/// Verdict the adapter puts on a packet whose new bounds fall outside its buffer.
const BOUNDS_MARK: u16 = VERDICT_DROP - 1;

impl Element for PluginElement {
    fn push(&mut self, port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        if self.disabled {
            self.drops.count(DISABLED, batch.len() as u64);
            return;
        }
        let n = batch.len();
        if !self.call_push(port, &mut batch) {
            self.drops.count(DISABLED, n as u64);
            return;
        }
        // Route by verdict; the common case, every packet to output 0, passes the batch on whole.
        let verdicts = &self.verdicts[..n];
        if self.noutputs > 0 && verdicts.iter().fold(0, |acc, &v| acc | v) == 0 {
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
                BOUNDS_MARK => {
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

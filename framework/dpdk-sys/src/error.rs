//! Errors of the safe layer: each says what failed, on which port, and what to do about it.

use crate::ffi;
use std::ffi::CStr;

/// Why a DPDK operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `rte_eal_init` refused. `message` carries the EAL's own words, with a hint first
    /// when the cause is a known one (hugepages).
    #[error("DPDK EAL initialization failed with arguments '{args}': {message}")]
    Eal { args: String, message: String },

    /// EAL arguments given after the EAL started.
    #[error("the DPDK EAL is already running (with arguments '{args}'): EAL arguments must be set before the first DPDK port is used")]
    AlreadyInitialized { args: String },

    /// EAL arguments that cannot be split (an unclosed quote).
    #[error("bad EAL arguments '{args}': {message}")]
    BadArgs { args: String, message: String },

    /// No port has that number or name (and creating it as a virtual device failed, when
    /// the name looks like one).
    #[error("no DPDK port '{spec}'{}: {}", probe_note(.probe_error), describe_available(.available, .args))]
    NoSuchPort { spec: String, probe_error: Option<String>, available: Vec<String>, args: String },

    /// A port operation failed; `code` is the (positive) errno DPDK returned.
    #[error("DPDK port {port}: {what} failed: {}", strerror(*.code))]
    Port { port: String, what: String, code: i32 },

    /// A port cannot give what an element asks for (queues, descriptors).
    #[error("DPDK port {port}: {message}")]
    Capacity { port: String, message: String },

    /// A mempool could not be created.
    #[error("cannot create the DPDK mbuf pool '{name}' ({mbufs} mbufs): {}; give the EAL more memory (-m) or use fewer mbufs", strerror(*.code))]
    Mempool { name: String, mbufs: u32, code: i32 },
}

fn probe_note(probe_error: &Option<String>) -> String {
    probe_error.as_ref().map(|e| format!(" (creating it as a virtual device failed: {e})")).unwrap_or_default()
}

fn describe_available(available: &[String], args: &str) -> String {
    if available.is_empty() {
        format!(
            "there are no DPDK ports (EAL arguments: '{args}'); name a virtual device such as net_null0, or give devices to the EAL with --vdev=... or -a PCI_ADDRESS"
        )
    } else {
        format!("available ports are {}", available.join(", "))
    }
}

/// DPDK's text for an errno value (`rte_strerror` knows DPDK's own codes too).
pub fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
    let s = unsafe { CStr::from_ptr(ffi::rte_strerror(code.abs())) };
    s.to_string_lossy().into_owned()
}

/// The calling thread's `rte_errno`.
pub fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local int.
    unsafe { ffi::sluice_rte_errno() }
}

/// `Ok` for a DPDK return value `>= 0`, else a [`Error::Port`] for it.
pub(crate) fn check(ret: i32, port: &str, what: &str) -> Result<i32, Error> {
    if ret >= 0 {
        Ok(ret)
    } else {
        Err(Error::Port { port: port.to_string(), what: what.to_string(), code: -ret })
    }
}

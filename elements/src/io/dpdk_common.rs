//! What FromDPDKDevice and ToDPDKDevice share: the port arguments, which queues a worker
//! uses, the port-wide handlers, and turning mbufs into packets and back without copying.
//!
//! A received mbuf becomes a [`Packet`] that wraps its buffer in place
//! ([`Packet::from_external`]); dropping the packet frees the mbuf. ToDPDKDevice takes such
//! a packet's mbuf back ([`Packet::into_external`]), fits the mbuf's data to the packet's
//! current window, and sends the mbuf itself. Other packets are copied into a fresh mbuf.

use dpdk_sys::ffi::rte_mbuf;
use dpdk_sys::mempool::{raw_window, release_mbuf, set_raw_window};
use dpdk_sys::{port, Mbuf, Mempool, Needs, Port};
use sluice::args::Args;
use sluice::{ConfigError, Packet};

/// The arguments both elements take: `PORT [, QUEUE, N_QUEUES]`, `NDESC`, `ALLOW_NONEXISTENT`.
#[derive(Clone, Debug)]
pub struct PortArgs {
    /// A port number, a device name, or a virtual device to create (`net_null0`).
    pub spec: String,
    /// The first queue this element uses.
    pub first_queue: u16,
    /// How many queues from `first_queue` (default: one per worker).
    pub n_queues: u16,
    /// Descriptors per queue, 0 for the default.
    pub ndesc: u16,
    pub allow_nonexistent: bool,
}

impl PortArgs {
    /// Read `PORT`, `QUEUE`, `N_QUEUES` (positional or keywords), `NDESC` and
    /// `ALLOW_NONEXISTENT`. `N_QUEUES` of -1 or unset means one queue per worker.
    pub fn read(a: &mut Args, nworkers: usize) -> Result<PortArgs, ConfigError> {
        let spec: String = a.read_mp("PORT")?;
        let first_queue = a.read_p::<u16>("QUEUE")?.unwrap_or(0);
        let n_queues = match a.read_p::<i32>("N_QUEUES")? {
            None | Some(-1) => nworkers.max(1) as u16,
            Some(n) if n >= 1 && n <= u16::MAX as i32 => n as u16,
            Some(n) => return Err(format!("N_QUEUES must be at least 1 (or -1 for one per worker), not {n}").into()),
        };
        let ndesc = a.read_kw::<u16>("NDESC")?.unwrap_or(0);
        let allow_nonexistent = a.read_kw::<bool>("ALLOW_NONEXISTENT")?.unwrap_or(false);
        if spec.trim().is_empty() {
            return Err("PORT is empty".into());
        }
        if first_queue as u32 + n_queues as u32 > u16::MAX as u32 {
            return Err("QUEUE + N_QUEUES is beyond the last possible queue".into());
        }
        Ok(PortArgs { spec, first_queue, n_queues, ndesc, allow_nonexistent })
    }

    /// One past the last queue this element uses.
    pub fn queue_end(&self) -> u16 {
        self.first_queue + self.n_queues
    }

    /// The RX queues worker `worker` of `nworkers` reads: queue `first + i` for every `i`
    /// with `i % nworkers == worker` (none when there are fewer queues than workers).
    pub fn rx_queues_of(&self, worker: usize, nworkers: usize) -> Vec<u16> {
        (0..self.n_queues).filter(|i| *i as usize % nworkers.max(1) == worker).map(|i| self.first_queue + i).collect()
    }

    /// The TX queue worker `worker` sends on (shared, under a lock, when there are fewer
    /// queues than workers).
    pub fn tx_queue_of(&self, worker: usize) -> u16 {
        self.first_queue + (worker % self.n_queues as usize) as u16
    }

    /// Acquire the running port, or `None` when it does not exist and ALLOW_NONEXISTENT
    /// is set.
    pub fn acquire(&self, needs: Needs) -> Result<Option<Port>, String> {
        match Port::acquire(&self.spec, needs) {
            Ok(p) => Ok(Some(p)),
            Err(dpdk_sys::Error::NoSuchPort { .. }) if self.allow_nonexistent => {
                tracing::warn!("DPDK port '{}' does not exist: the element stays idle (ALLOW_NONEXISTENT)", self.spec);
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The handlers about the port itself, shared by both elements (FastClick's names).
/// `stats_rx` chooses which direction the `hw_*` counters report.
pub fn port_handler(port: Option<&Port>, name: &str, stats_rx: bool) -> Option<String> {
    let Some(p) = port else {
        return match name {
            "device" => Some("undefined".into()),
            "mac" => Some(String::new()),
            "carrier" | "speed" | "duplex" | "hw_count" | "hw_bytes" | "hw_dropped" | "hw_errors" | "nombufs" => {
                Some("0".into())
            }
            _ => None,
        };
    };
    let stat = |f: fn(&port::Stats) -> u64| p.stats().map(|s| f(&s).to_string()).unwrap_or_default();
    Some(match name {
        "device" => p.id().to_string(),
        "mac" => {
            p.mac().map(|m| m.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")).unwrap_or_default()
        }
        "carrier" => p.link().map(|l| if l.up { "1" } else { "0" }.to_string()).unwrap_or_default(),
        "speed" => p.link().map(|l| l.speed.to_string()).unwrap_or_default(),
        "duplex" => p
            .link()
            .map(|l| {
                if !l.up {
                    "-1"
                } else if l.full_duplex {
                    "1"
                } else {
                    "0"
                }
                .to_string()
            })
            .unwrap_or_default(),
        "hw_count" if stats_rx => stat(|s| s.ipackets),
        "hw_bytes" if stats_rx => stat(|s| s.ibytes),
        "hw_dropped" if stats_rx => stat(|s| s.imissed),
        "hw_errors" if stats_rx => stat(|s| s.ierrors),
        "nombufs" if stats_rx => stat(|s| s.rx_nombuf),
        "hw_count" => stat(|s| s.opackets),
        "hw_bytes" => stat(|s| s.obytes),
        "hw_errors" => stat(|s| s.oerrors),
        _ => return None,
    })
}

/// A received mbuf as a packet: its buffer wrapped in place (single segment, the normal
/// case), or copied out when the driver chained segments (jumbo frames with scatter).
///
/// # Safety
/// `m` must be a valid mbuf owned by the caller; the packet owns it afterwards.
#[inline]
pub unsafe fn packet_from_mbuf(m: *mut rte_mbuf) -> Packet {
    // SAFETY: per the contract.
    unsafe {
        if (*m).nb_segs == 1 {
            let (buf, cap, off, len) = raw_window(m);
            Packet::from_external(buf, cap, off, off + len, release_mbuf, m.cast())
        } else {
            let mbuf = Mbuf::from_raw(m);
            let mut bytes = Vec::with_capacity(mbuf.pkt_len());
            mbuf.copy_to(&mut bytes);
            Packet::from_slice(&bytes)
        }
    }
}

/// Why a packet could not become an mbuf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoMbuf {
    /// The pool is empty.
    Exhausted,
    /// The packet is longer than one mbuf holds.
    TooLong,
}

/// The mbuf to send for `p`: its own, fitted to the packet's window, when it was received
/// from DPDK (no copy); otherwise a fresh one from `pool` holding a copy.
#[inline]
pub fn mbuf_from_packet(p: Packet, pool: &Mempool) -> Result<*mut rte_mbuf, NoMbuf> {
    match p.into_external(release_mbuf) {
        Ok((h, start, end)) => {
            let m: *mut rte_mbuf = h.cast();
            // SAFETY: the handle is the single-segment mbuf `packet_from_mbuf` wrapped, ours
            // again; the window lies inside its buffer.
            unsafe { set_raw_window(m, start, end) };
            Ok(m)
        }
        Err(p) => {
            let mut m = pool.alloc().ok_or(NoMbuf::Exhausted)?;
            if !m.set_data(p.data()) {
                return Err(NoMbuf::TooLong);
            }
            Ok(m.into_raw())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: &str, nworkers: usize) -> Result<PortArgs, ConfigError> {
        let mut a = Args::new(config);
        let r = PortArgs::read(&mut a, nworkers);
        a.finish()?;
        r
    }

    #[test]
    fn queues_are_spread_over_workers() {
        let p = args("0", 1).unwrap();
        assert_eq!((p.first_queue, p.n_queues), (0, 1));
        assert_eq!(p.rx_queues_of(0, 1), [0]);
        let p = args("net_null0, N_QUEUES 4", 2).unwrap();
        assert_eq!(p.rx_queues_of(0, 2), [0, 2]);
        assert_eq!(p.rx_queues_of(1, 2), [1, 3]);
        assert_eq!((p.tx_queue_of(0), p.tx_queue_of(1), p.tx_queue_of(5)), (0, 1, 1));
        let p = args("1, 2, 1", 3).unwrap(); // QUEUE 2, N_QUEUES 1 on three workers
        assert_eq!((p.rx_queues_of(0, 3), p.rx_queues_of(1, 3)), (vec![2], vec![]));
        assert_eq!((p.tx_queue_of(0), p.tx_queue_of(2), p.queue_end()), (2, 2, 3));
        let p = args("0, N_QUEUES -1", 3).unwrap();
        assert_eq!(p.n_queues, 3);
        assert!(args("0, N_QUEUES 0", 1).unwrap_err().0.contains("N_QUEUES must be at least 1"));
        assert!(args("", 1).is_err());
    }
}

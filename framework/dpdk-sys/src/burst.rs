//! Burst receive and transmit on one queue of a running port.
//!
//! DPDK's queues are not thread-safe: one thread at a time may use a queue. Handles
//! ([`RxQueue`], [`TxQueue`]) may be cloned and sent between threads anyway, because each
//! burst takes the queue's lock (one uncontended atomic exchange per burst, nothing per
//! packet). Giving each worker its own queue keeps the lock uncontended.
//!
//! The calling thread is registered with the EAL on its first burst (see
//! [`eal::register_thread`]), so that mbuf allocation and freeing use its mempool cache.

use crate::eal;
use crate::ffi;
use crate::mempool::Mbuf;
use crate::port::Inner;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The lock of one queue.
#[derive(Default)]
pub(crate) struct QueueLock(AtomicBool);

impl QueueLock {
    #[inline]
    fn lock(&self) -> QueueGuard<'_> {
        while self.0.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        QueueGuard(self)
    }
}

struct QueueGuard<'a>(&'a QueueLock);

impl Drop for QueueGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0 .0.store(false, Ordering::Release);
    }
}

/// Most packets one burst call moves (DPDK drivers handle any count; this bounds stack use).
pub const MAX_BURST: usize = 256;

/// One RX queue of a running port. The port keeps running while the handle lives.
#[derive(Clone)]
pub struct RxQueue {
    port: Arc<Inner>,
    queue: u16,
}

impl RxQueue {
    pub(crate) fn new(port: Arc<Inner>, queue: u16) -> RxQueue {
        RxQueue { port, queue }
    }

    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receive up to `out.len()` (at most [`MAX_BURST`]) packets into `out`; returns how
    /// many. The caller owns the mbufs written: wrap them ([`Mbuf::from_raw`]) or free them.
    #[inline]
    pub fn recv_raw(&self, out: &mut [*mut ffi::rte_mbuf]) -> usize {
        eal::register_thread();
        let n = out.len().min(MAX_BURST) as u16;
        let _g = self.port.rx[self.queue as usize].lock();
        // SAFETY: a started port and a set-up queue (the Inner keeps both), used by one
        // thread at a time (the lock); `out` has room for `n` pointers.
        unsafe { ffi::sluice_rte_eth_rx_burst(self.port.id, self.queue, out.as_mut_ptr(), n) as usize }
    }

    /// Receive up to `max` packets, appended to `out`; returns how many.
    pub fn recv(&self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let mut raw = [std::ptr::null_mut(); MAX_BURST];
        let n = self.recv_raw(&mut raw[..max.min(MAX_BURST)]);
        // SAFETY: the driver handed us these `n` mbufs.
        out.extend(raw[..n].iter().map(|&m| unsafe { Mbuf::from_raw(m) }));
        n
    }
}

/// One TX queue of a running port. The port keeps running while the handle lives.
#[derive(Clone)]
pub struct TxQueue {
    port: Arc<Inner>,
    queue: u16,
}

impl TxQueue {
    pub(crate) fn new(port: Arc<Inner>, queue: u16) -> TxQueue {
        TxQueue { port, queue }
    }

    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Hand `pkts` (at most [`MAX_BURST`] of them are tried) to the driver; returns how many
    /// it took, from the front. Those belong to the driver now; the rest are still the
    /// caller's.
    ///
    /// # Safety
    /// Every pointer must be a valid mbuf owned by the caller, with consistent lengths.
    #[inline]
    pub unsafe fn send_raw(&self, pkts: &mut [*mut ffi::rte_mbuf]) -> usize {
        eal::register_thread();
        let n = pkts.len().min(MAX_BURST) as u16;
        let _g = self.port.tx[self.queue as usize].lock();
        // SAFETY: as in `RxQueue::recv_raw`; the mbufs are valid per the contract.
        unsafe { ffi::sluice_rte_eth_tx_burst(self.port.id, self.queue, pkts.as_mut_ptr(), n) as usize }
    }

    /// Send the mbufs of `pkts` from the front; those taken are removed from `pkts`.
    /// Returns how many were taken.
    pub fn send(&self, pkts: &mut Vec<Mbuf>) -> usize {
        let mut total = 0;
        while !pkts.is_empty() {
            let k = pkts.len().min(MAX_BURST);
            let mut raw: Vec<*mut ffi::rte_mbuf> = pkts[..k].iter().map(Mbuf::as_ptr).collect();
            // SAFETY: the mbufs are ours (owned by `pkts`).
            let n = unsafe { self.send_raw(&mut raw) };
            // The driver owns the first `n` now: forget them without freeing.
            for m in pkts.drain(..n) {
                let _ = m.into_raw();
            }
            total += n;
            if n < k {
                break;
            }
        }
        total
    }
}

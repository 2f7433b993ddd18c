//! Continuations: batches that leave a worker for asynchronous work (a crypto coprocessor,
//! later a hardware device) and come back to resume where they left.
//!
//! An element that hands a batch to another thread takes a [`Ticket`] for it with
//! [`Ctx::ticket`](crate::Ctx::ticket), naming one of its output ports, and returns at once
//! to process other packets. Whoever finishes the work calls [`Ticket::resume`] with the
//! batch, from any thread. The worker that issued the ticket picks finished batches up in
//! its scheduler loop, next to the task runs, and pushes each out of the port the ticket
//! names: the continuation is that port's trampoline, so a swap of the element (or of
//! what follows it) in the meantime is respected, and nothing is lost.
//!
//! The worker counts the tickets it issued that have not come back: a graph does not end,
//! and STOP does not stop it (within the drain limit), while work is out. A ticket dropped
//! without resuming only ends its count (the batch went with whoever dropped it).
//!
//! Cost: nothing per packet; per batch handed off, one channel send and two atomic
//! counter updates. An empty completion channel costs the worker one check per pass.

use crate::batch::Batch;
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A finished batch on its way back to its worker.
pub(crate) struct Resume {
    pub node: usize,
    pub port: usize,
    pub batch: Batch,
}

/// One worker's completion channel and count of tickets out.
pub(crate) struct Completions {
    tx: Sender<Resume>,
    rx: Receiver<Resume>,
    outstanding: Arc<AtomicUsize>,
}

impl Completions {
    pub fn new() -> Completions {
        let (tx, rx) = unbounded();
        Completions { tx, rx, outstanding: Arc::new(AtomicUsize::new(0)) }
    }

    /// A ticket for a batch leaving output `port` of node `node` later.
    pub fn ticket(&self, node: usize, port: usize) -> Ticket {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        Ticket { tx: self.tx.clone(), outstanding: self.outstanding.clone(), node, port, live: true }
    }

    /// The next finished batch, if any. Call [`Completions::done`] once it has been pushed on.
    #[inline]
    pub fn next(&self) -> Option<Resume> {
        self.rx.try_recv().ok()
    }

    /// A finished batch has been pushed on: its ticket is settled.
    pub fn done(&self) {
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
    }

    /// [`Completions::outstanding`] for the worker's fast path: tickets are issued and
    /// settled on the worker itself, so its own count needs no ordering.
    #[inline]
    pub fn outstanding_relaxed(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// Tickets issued and not yet settled.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Acquire)
    }

    /// The receiving end, for waiting on it together with the mailbox.
    pub fn receiver(&self) -> &Receiver<Resume> {
        &self.rx
    }
}

/// A promise that one batch comes back to the worker that issued it, and continues out of
/// the output port the ticket names. `Send`: hand it to the thread that does the work.
pub struct Ticket {
    tx: Sender<Resume>,
    outstanding: Arc<AtomicUsize>,
    node: usize,
    port: usize,
    /// Still counted as out (not resumed, not dropped).
    live: bool,
}

impl Ticket {
    /// Send `batch` back: it continues out of the ticket's port at the issuing worker's
    /// next pass. If that worker's graph is gone (the router stopped or was hot-swapped
    /// away), the batch is given back.
    pub fn resume(mut self, batch: Batch) -> Result<(), Batch> {
        self.live = false;
        match self.tx.send(Resume { node: self.node, port: self.port, batch }) {
            // The worker settles the ticket once it has pushed the batch on.
            Ok(()) => Ok(()),
            Err(e) => {
                self.outstanding.fetch_sub(1, Ordering::AcqRel);
                Err(e.into_inner().batch)
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.live {
            self.outstanding.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ticket(node {}, port {})", self.node, self.port)
    }
}

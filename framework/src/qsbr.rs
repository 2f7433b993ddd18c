//! Quiescent-state-based reclamation: knowing when every worker has left all element code.
//!
//! Each worker bumps its epoch at the top of its loop, where no element is on its stack
//! (a quiescent point), and marks itself offline while it sleeps. [`Qsbr::synchronize`]
//! returns once every worker has passed a quiescent point (or was offline) after the call
//! began: anything unpublished before the call can then be freed, because no worker can
//! still hold a reference to it. The data path pays one relaxed store per loop, no lock.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// One cache line per worker so that workers do not false-share their epochs.
#[repr(align(64))]
#[derive(Default)]
struct WorkerState {
    epoch: AtomicU64,
    online: AtomicBool,
}

/// Epochs of all workers of one router.
pub struct Qsbr {
    workers: Box<[WorkerState]>,
}

impl Qsbr {
    pub fn new(nworkers: usize) -> Qsbr {
        Qsbr { workers: (0..nworkers).map(|_| WorkerState::default()).collect() }
    }

    /// Worker `w` is at a quiescent point.
    #[inline]
    pub fn quiescent(&self, w: usize) {
        let s = &self.workers[w];
        // Only worker `w` writes its epoch, so load+store needs no atomic read-modify-write.
        s.epoch.store(s.epoch.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
    }

    /// Worker `w` starts running element code (after start-up or a sleep).
    pub fn online(&self, w: usize) {
        self.workers[w].online.store(true, Ordering::Relaxed);
        // Order the flag before any later read of shared pointers.
        fence(Ordering::SeqCst);
    }

    /// Worker `w` sleeps or exits: it holds no references into element code.
    pub fn offline(&self, w: usize) {
        self.quiescent(w);
        self.workers[w].online.store(false, Ordering::Release);
    }

    /// Wait until every worker has been quiescent at least once since this call began.
    pub fn synchronize(&self) {
        fence(Ordering::SeqCst);
        let start: Vec<u64> = self.workers.iter().map(|s| s.epoch.load(Ordering::Acquire)).collect();
        for (s, e) in self.workers.iter().zip(start) {
            let mut spins = 0u32;
            while s.online.load(Ordering::Acquire) && s.epoch.load(Ordering::Acquire) == e {
                spins += 1;
                if spins < 1000 {
                    std::hint::spin_loop();
                } else {
                    std::thread::sleep(Duration::from_micros(10));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn synchronize_waits_for_online_workers_only() {
        let q = Arc::new(Qsbr::new(2));
        q.online(0); // worker 0 online and not yet quiescent; worker 1 offline
        let q2 = q.clone();
        let waiter = std::thread::spawn(move || {
            q2.synchronize();
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished(), "must wait for worker 0");
        q.quiescent(0);
        waiter.join().unwrap();
    }

    #[test]
    fn offline_worker_does_not_block() {
        let q = Qsbr::new(1);
        q.online(0);
        q.offline(0);
        q.synchronize();
    }
}

//! Batches: up to [`MAX_BATCH`] packets moved between elements in one call.
//!
//! A [`Batch`] is a one-word handle to a fixed array of packet slots. The arrays come from a
//! per-thread free list, like packet buffers, so making, splitting and dropping batches
//! allocates nothing after warm-up, and passing a batch from element to element moves one
//! pointer rather than the array. An empty batch holds no array at all. Elements receive a
//! batch by value, own its packets, and pass them on, drop them, or keep them.

use crate::packet::Packet;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// The largest batch: sources read at most this many packets at a time.
pub const MAX_BATCH: usize = 64;
/// Most batch arrays a thread keeps for reuse.
const POOL_LIMIT: usize = 1024;

/// The packet slots behind a batch.
struct Slots {
    len: usize,
    pkts: [MaybeUninit<Packet>; MAX_BATCH],
}

thread_local! {
    static POOL: RefCell<Vec<NonNull<Slots>>> = const { RefCell::new(Vec::new()) };
}

fn slots_get() -> NonNull<Slots> {
    if let Some(s) = POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten() {
        return s;
    }
    let b = Box::new(Slots { len: 0, pkts: [const { MaybeUninit::uninit() }; MAX_BATCH] });
    NonNull::from(Box::leak(b))
}

/// Return empty slots to this thread's pool (or free them when it is full or gone).
fn slots_put(s: NonNull<Slots>) {
    let kept = POOL
        .try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOL_LIMIT {
                p.push(s);
                true
            } else {
                false
            }
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: `s` came from Box::leak and holds no live packets (len is 0).
        drop(unsafe { Box::from_raw(s.as_ptr()) });
    }
}

/// Up to [`MAX_BATCH`] packets, in order.
pub struct Batch {
    /// `None` for an empty batch that never held a packet.
    slots: Option<NonNull<Slots>>,
}

// SAFETY: a Batch exclusively owns its slots and the packets in them, like a Box.
unsafe impl Send for Batch {}

impl Batch {
    #[inline]
    pub const fn new() -> Batch {
        Batch { slots: None }
    }

    #[inline]
    fn slots(&self) -> Option<&Slots> {
        // SAFETY: the slots are owned by this batch.
        self.slots.map(|s| unsafe { &*s.as_ptr() })
    }

    #[inline]
    fn slots_mut(&mut self) -> &mut Slots {
        let s = *self.slots.get_or_insert_with(|| {
            let mut s = slots_get();
            // SAFETY: fresh from the pool, owned by us now.
            unsafe { s.as_mut() }.len = 0;
            s
        });
        // SAFETY: owned by this batch; `&mut self` gives exclusive access.
        unsafe { &mut *s.as_ptr() }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.slots().map_or(0, |s| s.len)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == MAX_BATCH
    }

    /// Append a packet; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, p: Packet) -> Result<(), Packet> {
        let s = self.slots_mut();
        if s.len == MAX_BATCH {
            return Err(p);
        }
        s.pkts[s.len].write(p);
        s.len += 1;
        Ok(())
    }

    /// Remove and return the last packet.
    #[inline]
    pub fn pop(&mut self) -> Option<Packet> {
        if self.is_empty() {
            return None;
        }
        let s = self.slots_mut();
        s.len -= 1;
        // SAFETY: slot `len` was initialized and is now outside the live range.
        Some(unsafe { s.pkts[s.len].assume_init_read() })
    }

    #[inline]
    pub fn as_slice(&self) -> &[Packet] {
        match self.slots() {
            // SAFETY: the first `len` slots are initialized.
            Some(s) => unsafe { std::slice::from_raw_parts(s.pkts.as_ptr() as *const Packet, s.len) },
            None => &[],
        }
    }

    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Packet] {
        if self.slots.is_none() {
            return &mut [];
        }
        let s = self.slots_mut();
        // SAFETY: the first `len` slots are initialized.
        unsafe { std::slice::from_raw_parts_mut(s.pkts.as_mut_ptr() as *mut Packet, s.len) }
    }

    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Packet> {
        self.as_slice().iter()
    }

    #[inline]
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Packet> {
        self.as_mut_slice().iter_mut()
    }

    /// Total bytes of all packets.
    #[inline]
    pub fn byte_len(&self) -> u64 {
        self.iter().map(|p| p.len() as u64).sum()
    }

    /// Keep the packets for which `keep` returns true, in order; hand the others to `reject`.
    #[inline]
    pub fn retain_or(&mut self, mut keep: impl FnMut(&mut Packet) -> bool, mut reject: impl FnMut(Packet)) {
        if self.slots.is_none() {
            return;
        }
        let s = self.slots_mut();
        let n = s.len;
        s.len = 0;
        for i in 0..n {
            // SAFETY: each initialized slot i < n is read exactly once; slots < s.len are
            // rewritten before being read again. If `keep` or `reject` panics, the packets
            // not yet visited leak (never double-dropped).
            let mut p = unsafe { s.pkts[i].assume_init_read() };
            if keep(&mut p) {
                s.pkts[s.len].write(p);
                s.len += 1;
            } else {
                reject(p);
            }
        }
    }

    /// Move every packet into one of `outs` by the index `route` returns (e.g. a classifier
    /// splitting a batch per output port). Packets routed past the end of `outs` are dropped.
    #[inline]
    pub fn split_into(self, outs: &mut [Batch], mut route: impl FnMut(&mut Packet) -> usize) {
        for mut p in self {
            let i = route(&mut p);
            if let Some(b) = outs.get_mut(i) {
                // A batch never holds more than MAX_BATCH packets, so no output overflows.
                let _ = b.push(p);
            }
        }
    }
}

impl Default for Batch {
    #[inline]
    fn default() -> Self {
        Batch::new()
    }
}

impl Drop for Batch {
    #[inline]
    fn drop(&mut self) {
        if let Some(mut s) = self.slots.take() {
            // SAFETY: we own the slots; the first `len` are initialized and dropped once.
            unsafe {
                let slots = s.as_mut();
                let n = std::mem::replace(&mut slots.len, 0);
                std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(slots.pkts.as_mut_ptr() as *mut Packet, n));
            }
            slots_put(s);
        }
    }
}

/// Moves the packets out of a batch, in order.
pub struct IntoIter {
    batch: Batch,
    next: usize,
}

impl Iterator for IntoIter {
    type Item = Packet;
    #[inline]
    fn next(&mut self) -> Option<Packet> {
        let s = self.batch.slots?;
        // SAFETY: owned by the batch inside this iterator.
        let s = unsafe { &mut *s.as_ptr() };
        if self.next == s.len {
            return None;
        }
        // SAFETY: slot `next` is initialized and not read before; `Drop` below skips it.
        let p = unsafe { s.pkts[self.next].assume_init_read() };
        self.next += 1;
        Some(p)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.batch.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for IntoIter {}

impl Drop for IntoIter {
    fn drop(&mut self) {
        // Drop the packets not yet taken, then let the batch return its empty slots.
        if let Some(s) = self.batch.slots {
            // SAFETY: owned by the batch inside this iterator.
            let s = unsafe { &mut *s.as_ptr() };
            let (next, len) = (self.next, s.len);
            s.len = 0;
            for i in next..len {
                // SAFETY: slots next..len are initialized and were not moved out.
                unsafe { s.pkts[i].assume_init_drop() };
            }
        }
    }
}

impl IntoIterator for Batch {
    type Item = Packet;
    type IntoIter = IntoIter;
    #[inline]
    fn into_iter(self) -> IntoIter {
        IntoIter { batch: self, next: 0 }
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = &'a Packet;
    type IntoIter = std::slice::Iter<'a, Packet>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Batch {
    type Item = &'a mut Packet;
    type IntoIter = std::slice::IterMut<'a, Packet>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batch({} packets)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(n: u8) -> Batch {
        let mut b = Batch::new();
        for i in 0..n {
            b.push(Packet::from_slice(&[i])).unwrap();
        }
        b
    }

    #[test]
    fn holds_at_most_max_batch() {
        let mut b = batch_of(MAX_BATCH as u8);
        assert!(b.is_full());
        let extra = b.push(Packet::from_slice(&[0])).unwrap_err();
        assert_eq!(extra.data(), &[0]);
    }

    #[test]
    fn into_iter_keeps_order_and_drops_the_rest() {
        let b = batch_of(5);
        let mut it = b.into_iter();
        assert_eq!(it.next().unwrap().data(), &[0]);
        assert_eq!(it.next().unwrap().data(), &[1]);
        drop(it); // the three left are dropped once (no double free under Miri/ASan)
    }

    #[test]
    fn batches_are_one_word_and_recycle_their_slots() {
        assert_eq!(std::mem::size_of::<Batch>(), std::mem::size_of::<usize>());
        std::thread::spawn(|| {
            drop(batch_of(3));
            let before = POOL.with(|p| p.borrow().len());
            let b = batch_of(2);
            assert_eq!(POOL.with(|p| p.borrow().len()), before - 1, "slots taken from the pool");
            drop(b);
            assert_eq!(POOL.with(|p| p.borrow().len()), before, "and given back");
            assert!(Batch::new().is_empty() && Batch::new().as_slice().is_empty());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn retain_or_partitions() {
        let mut b = batch_of(6);
        let mut rejected = Vec::new();
        b.retain_or(|p| p.data()[0] % 2 == 0, |p| rejected.push(p.data()[0]));
        let kept: Vec<u8> = b.iter().map(|p| p.data()[0]).collect();
        assert_eq!(kept, vec![0, 2, 4]);
        assert_eq!(rejected, vec![1, 3, 5]);
    }

    #[test]
    fn split_into_routes_by_index() {
        let b = batch_of(7);
        let mut outs = [Batch::new(), Batch::new(), Batch::new()];
        b.split_into(&mut outs, |p| p.data()[0] as usize % 4); // index 3 is dropped
        let firsts: Vec<Vec<u8>> = outs.iter().map(|o| o.iter().map(|p| p.data()[0]).collect()).collect();
        assert_eq!(firsts, vec![vec![0, 4], vec![1, 5], vec![2, 6]]);
    }
}

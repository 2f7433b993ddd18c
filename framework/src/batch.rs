//! Batches: up to [`MAX_BATCH`] packets moved between elements in one call.
//!
//! A [`Batch`] stores its packets inline (no heap allocation), so splitting a batch into
//! per-port batches, as a classifier does, costs nothing but moves. Elements receive a batch
//! by value, own its packets, and pass them on, drop them, or keep them.

use crate::packet::Packet;
use std::mem::MaybeUninit;

/// The largest batch: sources read at most this many packets at a time.
pub const MAX_BATCH: usize = 64;

/// Up to [`MAX_BATCH`] packets, in order.
pub struct Batch {
    len: usize,
    pkts: [MaybeUninit<Packet>; MAX_BATCH],
}

impl Batch {
    #[inline]
    pub const fn new() -> Batch {
        Batch { len: 0, pkts: [const { MaybeUninit::uninit() }; MAX_BATCH] }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == MAX_BATCH
    }

    /// Append a packet; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, p: Packet) -> Result<(), Packet> {
        if self.len == MAX_BATCH {
            return Err(p);
        }
        self.pkts[self.len].write(p);
        self.len += 1;
        Ok(())
    }

    /// Remove and return the last packet.
    #[inline]
    pub fn pop(&mut self) -> Option<Packet> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` was initialized and is now outside the live range.
        Some(unsafe { self.pkts[self.len].assume_init_read() })
    }

    #[inline]
    pub fn as_slice(&self) -> &[Packet] {
        // SAFETY: the first `len` slots are initialized.
        unsafe { std::slice::from_raw_parts(self.pkts.as_ptr() as *const Packet, self.len) }
    }

    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Packet] {
        // SAFETY: the first `len` slots are initialized.
        unsafe { std::slice::from_raw_parts_mut(self.pkts.as_mut_ptr() as *mut Packet, self.len) }
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
    pub fn byte_len(&self) -> u64 {
        self.iter().map(|p| p.len() as u64).sum()
    }

    /// Keep the packets for which `keep` returns true, in order; hand the others to `reject`.
    #[inline]
    pub fn retain_or(&mut self, mut keep: impl FnMut(&mut Packet) -> bool, mut reject: impl FnMut(Packet)) {
        let n = self.len;
        self.len = 0;
        for i in 0..n {
            // SAFETY: each initialized slot i < n is read exactly once; slots < self.len are
            // rewritten before being read again.
            let mut p = unsafe { self.pkts[i].assume_init_read() };
            if keep(&mut p) {
                self.pkts[self.len].write(p);
                self.len += 1;
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
    fn default() -> Self {
        Batch::new()
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        // SAFETY: drops the initialized prefix exactly once.
        unsafe {
            std::ptr::drop_in_place(self.as_mut_slice());
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
        if self.next == self.batch.len {
            return None;
        }
        // SAFETY: slot `next` is initialized and not read before; `Drop` below skips it.
        let p = unsafe { self.batch.pkts[self.next].assume_init_read() };
        self.next += 1;
        Some(p)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.batch.len - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for IntoIter {}

impl Drop for IntoIter {
    fn drop(&mut self) {
        // Drop the packets not yet taken, then make the batch forget all of them.
        let (next, len) = (self.next, self.batch.len);
        self.batch.len = 0;
        for i in next..len {
            // SAFETY: slots next..len are initialized and were not moved out.
            unsafe { self.batch.pkts[i].assume_init_drop() };
        }
    }
}

impl IntoIterator for Batch {
    type Item = Packet;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter { batch: self, next: 0 }
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = &'a Packet;
    type IntoIter = std::slice::Iter<'a, Packet>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Batch {
    type Item = &'a mut Packet;
    type IntoIter = std::slice::IterMut<'a, Packet>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batch({} packets)", self.len)
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

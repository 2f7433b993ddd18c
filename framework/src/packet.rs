//! Packets: a byte buffer with headroom and tailroom, plus Click's annotations.
//!
//! A [`Packet`] owns one pooled buffer. The packet's data is a window `[start, end)` inside
//! it; `push`/`pull` move the front edge, `put`/`take` the back edge, exactly like Click's
//! `push`, `pull`, `put` and `take`. Bytes outside the window are kept, so `Strip` followed
//! by `Unstrip` restores the original header.
//!
//! Buffers are recycled through a per-thread free list: dropping a packet returns its buffer
//! to the pool of the thread that drops it, and making a packet takes one from there. After
//! warm-up, a worker allocates nothing per packet. Packets are `Send` (a packet may cross to
//! another worker through a queue); the buffer then simply joins the receiving thread's pool.

use std::cell::RefCell;
use std::ptr::NonNull;

/// Bytes reserved in front of the data of a new packet (room for encapsulation).
pub const DEFAULT_HEADROOM: usize = 128;
/// Buffer size of pooled packets: headroom plus a full Ethernet frame with room to spare.
pub const DEFAULT_BUFFER: usize = 2048 + DEFAULT_HEADROOM;
/// Bytes of free-form annotation space (Click's user annotation area).
pub const USER_ANNO_BYTES: usize = 48;
/// Most buffers a thread keeps for reuse; beyond that, freed buffers go back to the allocator.
const POOL_LIMIT: usize = 16 * 1024;
/// Marker for "header offset not set".
const NO_HEADER: u32 = u32::MAX;

/// Click's packet type annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum PacketType {
    #[default]
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    OtherHost = 3,
    Outgoing = 4,
    Loopback = 5,
    FastRoute = 6,
}

impl PacketType {
    /// The type whose number is `v`; `Host` for a number no type has.
    pub fn from_u8(v: u8) -> PacketType {
        match v {
            1 => PacketType::Broadcast,
            2 => PacketType::Multicast,
            3 => PacketType::OtherHost,
            4 => PacketType::Outgoing,
            5 => PacketType::Loopback,
            6 => PacketType::FastRoute,
            _ => PacketType::Host,
        }
    }
}

/// Per-packet metadata, as Click keeps it next to the packet. The layout is fixed
/// (`repr(C)`) because plugins share it in place: see `sluice_plugins::abi::Annotations`.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Annotations {
    /// Destination IPv4 address annotation (`DST_IP_ANNO`), network byte order.
    pub dst_ip: [u8; 4],
    /// Paint annotation (`PAINT_ANNO`).
    pub paint: u8,
    /// Packet type (host, broadcast, ...) as a byte: plugins write it in place, so any
    /// byte can be here; read it with [`Annotations::packet_type`].
    packet_type: u8,
    /// VLAN TCI annotation (`VLAN_TCI_ANNO`), host order.
    pub vlan_tci: u16,
    /// Network and transport header positions, absolute offsets in the buffer.
    network_header: u32,
    transport_header: u32,
    /// Timestamp in nanoseconds since the Unix epoch; 0 when unset.
    pub timestamp_ns: u64,
    /// Free-form annotation bytes for elements (Click's anno area).
    pub user: [u8; USER_ANNO_BYTES],
}

impl Annotations {
    /// The packet type annotation (a byte no type has reads as `Host`).
    #[inline]
    pub fn packet_type(&self) -> PacketType {
        PacketType::from_u8(self.packet_type)
    }

    #[inline]
    pub fn set_packet_type(&mut self, t: PacketType) {
        self.packet_type = t as u8;
    }
}

impl Default for Annotations {
    fn default() -> Self {
        Annotations {
            dst_ip: [0; 4],
            paint: 0,
            vlan_tci: 0,
            timestamp_ns: 0,
            packet_type: PacketType::Host as u8,
            user: [0; USER_ANNO_BYTES],
            network_header: NO_HEADER,
            transport_header: NO_HEADER,
        }
    }
}

/// Memory a packet borrows from elsewhere (a DPDK mbuf), and how to give it back.
struct External {
    release: unsafe fn(*mut std::ffi::c_void),
    handle: *mut std::ffi::c_void,
}

/// The pooled part of a packet. `repr(C)` keeps the fields every element reads (where the
/// bytes are, the data window) together at the front, in the line the annotations start in.
#[repr(C)]
struct PacketBuf {
    /// The bytes: `heap`, or external memory (then `external` says who owns it).
    ptr: *mut u8,
    cap: u32,
    start: u32,
    end: u32,
    anno: Annotations,
    /// This buffer's own heap memory (kept while an external buffer is in use, for reuse).
    heap: Box<[u8]>,
    external: Option<External>,
}

impl PacketBuf {
    fn new(size: usize) -> PacketBuf {
        let mut heap = vec![0u8; size].into_boxed_slice();
        PacketBuf {
            ptr: heap.as_mut_ptr(),
            cap: heap.len() as u32,
            start: 0,
            end: 0,
            heap,
            external: None,
            anno: Annotations::default(),
        }
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+cap` is the heap buffer or the external buffer, both live.
        unsafe { std::slice::from_raw_parts(self.ptr, self.cap as usize) }
    }

    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.cap as usize) }
    }

    /// Give external memory back to its owner and use the heap buffer again.
    fn release_external(&mut self) {
        if let Some(e) = self.external.take() {
            // SAFETY: the release function and handle came together from `from_external`.
            unsafe { (e.release)(e.handle) };
        }
        self.ptr = self.heap.as_mut_ptr();
        self.cap = self.heap.len() as u32;
    }

    /// Use `heap` as the buffer (releasing any external memory).
    fn set_heap(&mut self, heap: Box<[u8]>) {
        self.release_external();
        self.heap = heap;
        self.ptr = self.heap.as_mut_ptr();
        self.cap = self.heap.len() as u32;
    }
}

impl Drop for PacketBuf {
    fn drop(&mut self) {
        self.release_external();
    }
}

thread_local! {
    static POOL: RefCell<Vec<NonNull<PacketBuf>>> = const { RefCell::new(Vec::new()) };
}

fn pool_get() -> Option<NonNull<PacketBuf>> {
    POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten()
}

/// Give a buffer back to this thread's pool; frees it when the pool is full or gone.
fn pool_put(mut b: NonNull<PacketBuf>) {
    // SAFETY: the caller gave up its only reference.
    unsafe { b.as_mut() }.release_external();
    let kept = POOL
        .try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOL_LIMIT {
                p.push(b);
                true
            } else {
                false
            }
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: `b` came from `Box::into_raw` and no packet refers to it any more.
        drop(unsafe { Box::from_raw(b.as_ptr()) });
    }
}

/// Number of buffers in this thread's pool (for tests and statistics).
pub fn pool_len() -> usize {
    POOL.try_with(|p| p.borrow().len()).unwrap_or(0)
}

/// Fill this thread's pool with `n` buffers ahead of time, so the first packets do not allocate.
pub fn pool_prefill(n: usize) {
    let bufs: Vec<Packet> = (0..n).map(|_| Packet::new(0)).collect();
    drop(bufs);
}

/// One network packet. Owns its buffer; dropping it recycles the buffer.
pub struct Packet {
    inner: NonNull<PacketBuf>,
}

// SAFETY: a Packet is the only owner of its PacketBuf (no sharing), so moving it between
// threads is like moving a Box.
unsafe impl Send for Packet {}

impl Packet {
    /// A packet of `len` bytes (contents unspecified: old bytes of a recycled buffer) with
    /// the default headroom.
    pub fn new(len: usize) -> Packet {
        Self::with_room(DEFAULT_HEADROOM, len, 0)
    }

    /// A packet of `len` bytes with at least `headroom` bytes before and `tailroom` after.
    pub fn with_room(headroom: usize, len: usize, tailroom: usize) -> Packet {
        let need = headroom + len + tailroom;
        let inner = match pool_get() {
            Some(mut b) => {
                // SAFETY: buffers in the pool are owned by the pool alone.
                let pb = unsafe { b.as_mut() };
                if (pb.cap as usize) < need {
                    pb.set_heap(vec![0u8; need.max(DEFAULT_BUFFER)].into_boxed_slice());
                }
                pb.anno = Annotations::default();
                b
            }
            None => NonNull::from(Box::leak(Box::new(PacketBuf::new(need.max(DEFAULT_BUFFER))))),
        };
        let mut p = Packet { inner };
        let b = p.buf_mut();
        b.start = headroom as u32;
        b.end = (headroom + len) as u32;
        p
    }

    /// A packet whose bytes live in memory owned elsewhere (a DPDK mbuf), without copying:
    /// `ptr..ptr+cap` is the buffer and `start..end` the data in it. When the packet is
    /// dropped, or moves to a bigger heap buffer, `release(handle)` gives the memory back.
    ///
    /// # Safety
    /// The buffer must stay valid and unused by anyone else until `release` is called, and
    /// `release` must be callable from any thread that may drop the packet.
    pub unsafe fn from_external(
        ptr: *mut u8,
        cap: usize,
        start: usize,
        end: usize,
        release: unsafe fn(*mut std::ffi::c_void),
        handle: *mut std::ffi::c_void,
    ) -> Packet {
        assert!(start <= end && end <= cap && cap <= u32::MAX as usize, "external buffer bounds");
        let inner = match pool_get() {
            Some(b) => b,
            None => NonNull::from(Box::leak(Box::new(PacketBuf::new(0)))),
        };
        let mut p = Packet { inner };
        let b = p.buf_mut();
        b.ptr = ptr;
        b.cap = cap as u32;
        b.start = start as u32;
        b.end = end as u32;
        b.external = Some(External { release, handle });
        b.anno = Annotations::default();
        p
    }

    /// Take back the external memory of a packet made by [`Packet::from_external`] with
    /// this `release` function, without releasing it: returns the handle and the current
    /// data window `(handle, start, end)` in that buffer (a DPDK transmit sends the mbuf
    /// itself instead of a copy). Any other packet — heap-backed, moved to the heap by a
    /// `push` or `put`, or external with another release function — comes back unchanged.
    pub fn into_external(
        mut self,
        release: unsafe fn(*mut std::ffi::c_void),
    ) -> Result<(*mut std::ffi::c_void, usize, usize), Packet> {
        let b = self.buf_mut();
        // Compared by address: `release` identifies who owns the memory.
        match &b.external {
            Some(e) if e.release as usize == release as usize => {}
            _ => return Err(self),
        }
        let e = b.external.take().expect("checked above");
        let window = (e.handle, b.start as usize, b.end as usize);
        b.ptr = b.heap.as_mut_ptr();
        b.cap = b.heap.len() as u32;
        Ok(window) // dropping `self` recycles the buffer; the external memory stays out
    }

    /// A packet holding a copy of `data`, with the default headroom.
    pub fn from_slice(data: &[u8]) -> Packet {
        let mut p = Packet::new(data.len());
        p.data_mut().copy_from_slice(data);
        p
    }

    #[inline]
    fn buf(&self) -> &PacketBuf {
        // SAFETY: `inner` is valid and uniquely owned while the Packet lives.
        unsafe { self.inner.as_ref() }
    }

    #[inline]
    fn buf_mut(&mut self) -> &mut PacketBuf {
        // SAFETY: as above, and `&mut self` guarantees exclusive access.
        unsafe { self.inner.as_mut() }
    }

    /// The packet's bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let b = self.buf();
        &b.bytes()[b.start as usize..b.end as usize]
    }

    /// The packet's bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let b = self.buf_mut();
        let (s, e) = (b.start as usize, b.end as usize);
        &mut b.bytes_mut()[s..e]
    }

    #[inline]
    pub fn len(&self) -> usize {
        let b = self.buf();
        (b.end - b.start) as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free bytes in front of the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.buf().start as usize
    }

    /// Free bytes after the data.
    #[inline]
    pub fn tailroom(&self) -> usize {
        let b = self.buf();
        (b.cap - b.end) as usize
    }

    /// Grow the data by `n` bytes at the front (Click's `push`). The new bytes are whatever
    /// the buffer held there (so a stripped header comes back). Moves the data into a
    /// bigger buffer when the headroom is too small.
    pub fn push(&mut self, n: usize) {
        if n > self.headroom() {
            self.regrow(n.max(DEFAULT_HEADROOM), 0);
        }
        self.buf_mut().start -= n as u32;
    }

    /// Remove `n` bytes from the front (Click's `pull`). Panics if `n > len()`: callers check
    /// lengths of untrusted packets first.
    #[inline]
    pub fn pull(&mut self, n: usize) {
        assert!(n <= self.len(), "pull({n}) beyond packet length {}", self.len());
        self.buf_mut().start += n as u32;
    }

    /// Grow the data by `n` bytes at the end (Click's `put`), moving to a bigger buffer if needed.
    pub fn put(&mut self, n: usize) {
        if n > self.tailroom() {
            self.regrow(0, n);
        }
        self.buf_mut().end += n as u32;
    }

    /// Remove `n` bytes from the end (Click's `take`). Panics if `n > len()`.
    #[inline]
    pub fn take(&mut self, n: usize) {
        assert!(n <= self.len(), "take({n}) beyond packet length {}", self.len());
        self.buf_mut().end -= n as u32;
    }

    /// Move to a new buffer with at least `front` extra headroom and `back` extra tailroom.
    /// Header offsets keep pointing at the same bytes.
    fn regrow(&mut self, front: usize, back: usize) {
        let b = self.buf_mut();
        let old_len = b.cap as usize;
        let mut nb = vec![0u8; old_len + front + back].into_boxed_slice();
        nb[front..front + old_len].copy_from_slice(b.bytes());
        b.set_heap(nb);
        b.start += front as u32;
        b.end += front as u32;
        for h in [&mut b.anno.network_header, &mut b.anno.transport_header] {
            if *h != NO_HEADER {
                *h += front as u32;
            }
        }
    }

    /// A deep copy: data, the headroom bytes in front of it, and annotations (Click's `clone`
    /// followed by `uniqueify`).
    pub fn clone_packet(&self) -> Packet {
        let src = self.buf();
        let mut p = Packet::with_room(src.start as usize, self.len(), 0);
        let end = src.end as usize;
        let dst = p.buf_mut();
        dst.bytes_mut()[..end].copy_from_slice(&src.bytes()[..end]);
        dst.anno = src.anno.clone();
        p
    }

    #[inline]
    pub fn anno(&self) -> &Annotations {
        &self.buf().anno
    }

    #[inline]
    pub fn anno_mut(&mut self) -> &mut Annotations {
        &mut self.buf_mut().anno
    }

    /// Offset of the network header from the start of the data (may be negative after a
    /// `push`), if set. Click's `network_header_offset`.
    pub fn network_header_offset(&self) -> Option<isize> {
        let b = self.buf();
        (b.anno.network_header != NO_HEADER).then(|| b.anno.network_header as isize - b.start as isize)
    }

    /// Offset of the transport header from the start of the data, if set.
    pub fn transport_header_offset(&self) -> Option<isize> {
        let b = self.buf();
        (b.anno.transport_header != NO_HEADER).then(|| b.anno.transport_header as isize - b.start as isize)
    }

    /// Mark the network header at `offset` bytes into the data, `len` bytes long; the
    /// transport header follows it (Click's `set_network_header(p, len)`).
    pub fn set_network_header(&mut self, offset: usize, len: usize) {
        let b = self.buf_mut();
        let abs = b.start as usize + offset;
        assert!(abs + len <= b.end as usize, "network header beyond packet data");
        b.anno.network_header = abs as u32;
        b.anno.transport_header = (abs + len) as u32;
    }

    /// Mark only the transport header, at `offset` bytes into the data.
    pub fn set_transport_header(&mut self, offset: usize) {
        let b = self.buf_mut();
        let abs = b.start as usize + offset;
        assert!(abs <= b.end as usize, "transport header beyond packet data");
        b.anno.transport_header = abs as u32;
    }

    /// The bytes from the network header to the end of the data, if the header is set and
    /// still inside the data.
    pub fn network_header(&self) -> Option<&[u8]> {
        let b = self.buf();
        let h = b.anno.network_header;
        (h != NO_HEADER && h >= b.start && h <= b.end).then(|| &b.bytes()[h as usize..b.end as usize])
    }

    /// The bytes from the transport header to the end of the data, if set and inside the data.
    pub fn transport_header(&self) -> Option<&[u8]> {
        let b = self.buf();
        let h = b.anno.transport_header;
        (h != NO_HEADER && h >= b.start && h <= b.end).then(|| &b.bytes()[h as usize..b.end as usize])
    }

    /// Forget the header offsets (e.g. after an element rewrote the packet's layout).
    pub fn clear_headers(&mut self) {
        let a = &mut self.buf_mut().anno;
        a.network_header = NO_HEADER;
        a.transport_header = NO_HEADER;
    }
}

impl Packet {
    /// The packet as a plugin sees it: its data, the room around it, its annotations.
    #[inline]
    pub(crate) fn view(&mut self) -> sluice_plugins::abi::PacketView {
        let b = self.buf_mut();
        sluice_plugins::abi::PacketView {
            // SAFETY: start <= cap: inside the buffer.
            data: unsafe { b.ptr.add(b.start as usize) },
            len: b.end - b.start,
            headroom: b.start,
            tailroom: b.cap - b.end,
            flags: 0,
            anno: &mut b.anno as *mut Annotations as *mut sluice_plugins::abi::Annotations,
        }
    }

    /// Make the data `len` bytes at `data`, as a plugin left its view; false (and nothing
    /// changed) if that is not inside the buffer.
    #[inline]
    pub(crate) fn set_view(&mut self, data: *mut u8, len: u32) -> bool {
        let b = self.buf_mut();
        let start = (data as usize).wrapping_sub(b.ptr as usize);
        let end = start.wrapping_add(len as usize);
        // `start > cap` also catches `data` before the buffer (the subtraction wrapped).
        if start > b.cap as usize || end > b.cap as usize || end < start {
            return false;
        }
        b.start = start as u32;
        b.end = end as u32;
        true
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        pool_put(self.inner);
    }
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Packet(len {}, headroom {}, tailroom {})", self.len(), self.headroom(), self.tailroom())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_put_take_move_the_window() {
        let mut p = Packet::from_slice(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(p.headroom(), DEFAULT_HEADROOM);
        p.pull(2);
        assert_eq!(p.data(), &[3, 4, 5, 6]);
        p.take(1);
        assert_eq!(p.data(), &[3, 4, 5]);
        p.push(2); // the stripped bytes come back, as Unstrip expects
        assert_eq!(p.data(), &[1, 2, 3, 4, 5]);
        p.put(1);
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn push_beyond_headroom_regrows_and_keeps_headers() {
        let mut p = Packet::from_slice(&[9; 20]);
        p.set_network_header(4, 10);
        p.push(DEFAULT_HEADROOM + 50);
        assert_eq!(p.len(), 20 + DEFAULT_HEADROOM + 50);
        assert_eq!(p.network_header_offset(), Some((DEFAULT_HEADROOM + 50 + 4) as isize));
        assert_eq!(p.transport_header_offset(), Some((DEFAULT_HEADROOM + 50 + 14) as isize));
        assert_eq!(&p.data()[DEFAULT_HEADROOM + 50..], &[9; 20]);
    }

    #[test]
    fn put_beyond_tailroom_regrows() {
        let mut p = Packet::from_slice(&[7; 10]);
        let room = p.tailroom();
        p.put(room + 100);
        assert_eq!(p.len(), 10 + room + 100);
        assert_eq!(&p.data()[..10], &[7; 10]);
    }

    #[test]
    #[should_panic]
    fn pull_past_the_end_panics() {
        Packet::from_slice(&[1, 2]).pull(3);
    }

    #[test]
    fn header_offsets_follow_the_data() {
        let mut p = Packet::from_slice(&[0; 60]);
        assert_eq!(p.network_header(), None);
        p.set_network_header(14, 20);
        assert_eq!(p.network_header_offset(), Some(14));
        assert_eq!(p.network_header().unwrap().len(), 46);
        assert_eq!(p.transport_header().unwrap().len(), 26);
        p.pull(14);
        assert_eq!(p.network_header_offset(), Some(0));
        p.pull(30); // past the network header: it is no longer in the data
        assert_eq!(p.network_header(), None);
        assert_eq!(p.network_header_offset(), Some(-30));
    }

    #[test]
    fn clone_is_deep_and_keeps_annotations_and_headroom_bytes() {
        let mut p = Packet::from_slice(&[1, 2, 3, 4]);
        p.anno_mut().paint = 7;
        p.pull(1);
        let mut q = p.clone_packet();
        q.data_mut()[0] = 99;
        assert_eq!(p.data(), &[2, 3, 4]);
        assert_eq!(q.data(), &[99, 3, 4]);
        assert_eq!(q.anno().paint, 7);
        q.push(1);
        assert_eq!(q.data(), &[1, 99, 3, 4]);
    }

    #[test]
    fn buffers_are_recycled_and_annotations_reset() {
        // Run on a fresh thread so other tests' packets do not disturb the pool count.
        std::thread::spawn(|| {
            let mut p = Packet::new(64);
            p.anno_mut().paint = 3;
            let before = pool_len();
            drop(p);
            assert_eq!(pool_len(), before + 1);
            let q = Packet::new(64);
            assert_eq!(pool_len(), before);
            assert_eq!(q.anno().paint, 0);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn external_buffers_are_used_in_place_and_released_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RELEASED: AtomicUsize = AtomicUsize::new(0);
        unsafe fn release(h: *mut std::ffi::c_void) {
            // SAFETY: the handle is the Box leaked below.
            drop(unsafe { Box::from_raw(h as *mut Vec<u8>) });
            RELEASED.fetch_add(1, Ordering::SeqCst);
        }
        let make = || {
            let mut mem = Box::new(vec![0u8; 256]);
            mem[100..104].copy_from_slice(b"mbuf");
            let ptr = mem.as_mut_ptr();
            // SAFETY: `mem` stays alive until `release` frees it.
            unsafe { Packet::from_external(ptr, 256, 100, 104, release, Box::into_raw(mem) as *mut _) }
        };
        let before = RELEASED.load(Ordering::SeqCst);
        let mut p = make();
        assert_eq!(p.data(), b"mbuf");
        assert_eq!((p.headroom(), p.tailroom()), (100, 152));
        p.data_mut()[0] = b'M';
        p.push(4); // inside the external headroom: no copy
        p.pull(4);
        assert_eq!(p.data(), b"Mbuf");
        let q = p.clone_packet(); // a deep copy in a heap buffer
        drop(p);
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 1, "released on drop");
        assert_eq!(q.data(), b"Mbuf");
        let mut r = make();
        r.push(200); // beyond the headroom: moves to the heap, releases the external buffer
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 2);
        assert_eq!(&r.data()[200..], b"mbuf");
        drop(r);
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 2, "released exactly once");

        // Taking the memory back: handle and window, and no release.
        unsafe fn other(_: *mut std::ffi::c_void) {}
        let mut s = make();
        s.pull(1);
        let s = s.into_external(other).expect_err("another owner's release function");
        let (h, start, end) = s.into_external(release).expect("its own release function");
        assert_eq!((start, end), (101, 104));
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 2, "not released by into_external");
        // SAFETY: `h` is the Box handed to `from_external` and is ours again.
        unsafe { release(h) };
        assert!(Packet::from_slice(b"heap").into_external(release).is_err());
    }

    #[test]
    fn packets_cross_threads() {
        let p = Packet::from_slice(b"hello");
        let back = std::thread::spawn(move || {
            assert_eq!(p.data(), b"hello");
            p
        })
        .join()
        .unwrap();
        assert_eq!(back.data(), b"hello");
    }
}

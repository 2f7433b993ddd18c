//! Packet buffer pools (`rte_mempool` of `rte_mbuf`) and owned mbufs.
//!
//! Each NUMA socket gets one default pool ([`Mempool::for_socket`]), created when the first
//! port on that socket starts and kept for the life of the process (mbufs may outlive any
//! port: a packet sitting in a queue still holds one). Its size is [`default_size`]
//! mbufs of [`ffi::RTE_MBUF_DEFAULT_BUF_SIZE`] bytes (2048 of data after 128 of headroom).

use crate::eal;
use crate::error::{rte_errno, Error};
use crate::ffi;
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Mbufs in each default pool unless [`set_default_size`] says otherwise (2^16 − 1, the
/// best size for a ring-backed pool; about 150 MB).
pub const DEFAULT_POOL_SIZE: u32 = 65535;
/// Per-lcore cache of the default pools.
pub const DEFAULT_CACHE: u32 = 256;

static POOL_SIZE: AtomicU32 = AtomicU32::new(DEFAULT_POOL_SIZE);
static POOLS: Mutex<Option<HashMap<i32, Mempool>>> = Mutex::new(None);

/// Set the number of mbufs of the default pools created from now on.
pub fn set_default_size(mbufs: u32) {
    POOL_SIZE.store(mbufs.max(1), Ordering::Relaxed);
}

/// The number of mbufs of a default pool.
pub fn default_size() -> u32 {
    POOL_SIZE.load(Ordering::Relaxed)
}

/// A pool of packet mbufs. Pools are never freed, so the handle is a plain copyable pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mempool(NonNull<ffi::rte_mempool>);

// SAFETY: an rte_mempool is designed for concurrent use from many threads (multi-producer,
// multi-consumer ring; per-lcore caches used only by their lcore).
unsafe impl Send for Mempool {}
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Create a pool of `mbufs` packet mbufs with `data_room` bytes each (headroom
    /// included) on NUMA `socket` ([`ffi::SOCKET_ID_ANY`] for any).
    pub fn create(name: &str, mbufs: u32, cache: u32, data_room: u16, socket: i32) -> Result<Mempool, Error> {
        eal::init()?;
        let c = CString::new(name).expect("pool names have no NUL");
        let cache = cache.min(ffi::RTE_MEMPOOL_CACHE_MAX_SIZE).min(mbufs / 2);
        // SAFETY: valid arguments; the EAL is running.
        let p = unsafe { ffi::rte_pktmbuf_pool_create(c.as_ptr(), mbufs, cache, 0, data_room, socket) };
        NonNull::new(p).map(Mempool).ok_or_else(|| Error::Mempool { name: name.to_string(), mbufs, code: rte_errno() })
    }

    /// The default pool of NUMA `socket`, created on first use.
    pub fn for_socket(socket: i32) -> Result<Mempool, Error> {
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        let pools = pools.get_or_insert_with(HashMap::new);
        if let Some(p) = pools.get(&socket) {
            return Ok(*p);
        }
        let name = format!("sluice_mbuf_s{}", if socket < 0 { "any".to_string() } else { socket.to_string() });
        let p = Mempool::create(&name, default_size(), DEFAULT_CACHE, ffi::RTE_MBUF_DEFAULT_BUF_SIZE as u16, socket)?;
        pools.insert(socket, p);
        Ok(p)
    }

    pub fn as_ptr(&self) -> *mut ffi::rte_mempool {
        self.0.as_ptr()
    }

    /// One reset mbuf (empty, default headroom), or `None` when the pool is exhausted.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        eal::register_thread();
        // SAFETY: a valid pool.
        NonNull::new(unsafe { ffi::sluice_rte_pktmbuf_alloc(self.as_ptr()) }).map(Mbuf)
    }

    /// Fill `out` with reset mbufs, all or none: false (and `out` untouched) when the pool
    /// has too few. The caller owns the mbufs written (free them, e.g. with
    /// [`Mbuf::from_raw`], or hand them to a transmit queue).
    #[inline]
    pub fn alloc_bulk(&self, out: &mut [*mut ffi::rte_mbuf]) -> bool {
        eal::register_thread();
        // SAFETY: `out` has room for `out.len()` pointers.
        unsafe { ffi::sluice_rte_pktmbuf_alloc_bulk(self.as_ptr(), out.as_mut_ptr(), out.len() as u32) == 0 }
    }

    /// Mbufs free in the pool (including per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: a valid pool.
        unsafe { ffi::rte_mempool_avail_count(self.as_ptr()) }
    }

    /// Mbufs taken from the pool and not yet returned.
    pub fn in_use(&self) -> u32 {
        // SAFETY: a valid pool.
        unsafe { ffi::rte_mempool_in_use_count(self.as_ptr()) }
    }
}

/// Free an mbuf (and its chained segments) given as an untyped pointer: the release
/// function for packets that wrap an mbuf (`sluice::Packet::from_external`).
///
/// # Safety
/// `handle` must be an mbuf owned by the caller, freed by nothing else.
#[inline(never)]
pub unsafe fn release_mbuf(handle: *mut c_void) {
    // SAFETY: per the contract.
    unsafe { ffi::sluice_rte_pktmbuf_free(handle.cast()) }
}

/// An owned packet mbuf; dropping it frees it (with its segments).
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<ffi::rte_mbuf>);

// SAFETY: an mbuf belongs to one owner at a time, and freeing it is thread-safe.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Take ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must be a valid mbuf that nobody else owns or frees.
    #[inline]
    pub unsafe fn from_raw(m: *mut ffi::rte_mbuf) -> Mbuf {
        Mbuf(NonNull::new(m).expect("null mbuf"))
    }

    /// Give up ownership: the caller frees it (or hands it to a transmit queue).
    #[inline]
    pub fn into_raw(self) -> *mut ffi::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    pub fn as_ptr(&self) -> *mut ffi::rte_mbuf {
        self.0.as_ptr()
    }

    #[inline]
    fn m(&self) -> &ffi::rte_mbuf {
        // SAFETY: we own a valid mbuf.
        unsafe { self.0.as_ref() }
    }

    /// Bytes of data in this (first) segment.
    #[inline]
    pub fn data_len(&self) -> usize {
        self.m().data_len as usize
    }

    /// Bytes of the whole packet, all segments.
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.m().pkt_len as usize
    }

    /// Number of segments.
    #[inline]
    pub fn segments(&self) -> u16 {
        self.m().nb_segs
    }

    /// Free bytes before the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.m().data_off as usize
    }

    /// Free bytes after the data in this segment.
    #[inline]
    pub fn tailroom(&self) -> usize {
        let m = self.m();
        m.buf_len as usize - m.data_off as usize - m.data_len as usize
    }

    /// The data of this (first) segment.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.m();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer.
        unsafe { std::slice::from_raw_parts((m.buf_addr as *const u8).add(m.data_off as usize), m.data_len as usize) }
    }

    /// The data of this (first) segment, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (off, len) = (self.m().data_off as usize, self.m().data_len as usize);
        // SAFETY: as in `data`; `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut((self.m().buf_addr as *mut u8).add(off), len) }
    }

    /// Set a single-segment packet's data to a copy of `bytes`, keeping the headroom.
    /// False (and nothing changed) when it does not fit.
    #[inline]
    pub fn set_data(&mut self, bytes: &[u8]) -> bool {
        // SAFETY: we own the mbuf; the copy stays inside its buffer (checked).
        unsafe {
            let m = self.0.as_mut();
            let off = m.data_off as usize;
            if m.nb_segs != 1 || off + bytes.len() > m.buf_len as usize {
                return false;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), (m.buf_addr as *mut u8).add(off), bytes.len());
            m.data_len = bytes.len() as u16;
            m.pkt_len = bytes.len() as u32;
        }
        true
    }

    /// The whole packet's bytes, all segments, appended to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        let mut seg = self.0.as_ptr();
        while !seg.is_null() {
            // SAFETY: a chain of valid segments ends with a null `next`.
            let m = unsafe { &*seg };
            // SAFETY: as in `data`.
            let d = unsafe {
                std::slice::from_raw_parts((m.buf_addr as *const u8).add(m.data_off as usize), m.data_len as usize)
            };
            out.extend_from_slice(d);
            seg = m.next;
        }
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf.
        unsafe { ffi::sluice_rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

/// The raw layout of a single-segment mbuf, for wrapping it without copying:
/// `(buffer address, buffer length, data offset, data length)`.
///
/// # Safety
/// `m` must be a valid mbuf.
#[inline(always)]
pub unsafe fn raw_window(m: *const ffi::rte_mbuf) -> (*mut u8, usize, usize, usize) {
    // SAFETY: per the contract.
    let m = unsafe { &*m };
    (m.buf_addr as *mut u8, m.buf_len as usize, m.data_off as usize, m.data_len as usize)
}

/// Make a single-segment mbuf's data the window `[start, end)` of its buffer (after the
/// packet that wrapped it moved its edges).
///
/// # Safety
/// `m` must be a valid single-segment mbuf owned by the caller, and `start <= end <=
/// buf_len`.
#[inline(always)]
pub unsafe fn set_raw_window(m: *mut ffi::rte_mbuf, start: usize, end: usize) {
    // SAFETY: per the contract.
    let m = unsafe { &mut *m };
    debug_assert!(start <= end && end <= m.buf_len as usize);
    m.data_off = start as u16;
    m.data_len = (end - start) as u16;
    m.pkt_len = (end - start) as u32;
}

//! DIR-24-8: the lookup structure of Click's DirectIPLookup (Gupta, Lin and McKeown,
//! "Routing Lookups in Hardware at Memory Access Speeds", Infocom 1998).
//!
//! A first table has one 16-bit entry per /24 (2^24 entries, 32 MiB): either the next hop
//! of the longest route covering the whole /24, or, with the top bit set, the number of a
//! 256-entry chunk of a second table that resolves the last 8 bits, for the /24s that hold
//! routes longer than /24. A lookup is one memory access, or two. Next-hop indices are 15
//! bits (at most 32 767 different next hops) and there are at most 32 768 chunks (/24s with
//! longer routes; a full BGP table has about 500).
//!
//! For updates every entry also records the length (plus one, 0 meaning no route) of the
//! route that wrote it, as Click does: adding a route overwrites the entries of its range
//! held by shorter routes; removing one hands its entries to the longest remaining route
//! that covers it; a chunk whose entries all come from routes of /24 or shorter again goes
//! back into the first table. So every update touches only the range of its prefix.

use super::table::{Lpm4, Routes};

/// First-table entries with this bit refer to a chunk of the second table.
const CHUNK: u16 = 0x8000;
/// Chunks the 15 bits of an entry can number.
const MAX_CHUNKS: usize = 0x8000;
const FIRST: usize = 1 << 24;

/// The DIR-24-8 structure.
pub struct Dir24 {
    /// One entry per /24: a next hop, or `CHUNK | chunk number`.
    tbl24: Box<[u16; FIRST]>,
    /// Per first-table entry (not referring to a chunk): length + 1 of the route that wrote it.
    len24: Box<[u8; FIRST]>,
    /// Chunks of 256 next hops.
    tbl8: Vec<u16>,
    /// Length + 1 of the route that wrote each second-table entry.
    len8: Vec<u8>,
    /// Chunks not in use.
    free: Vec<u16>,
}

impl Dir24 {
    fn empty() -> Dir24 {
        // Zeroed allocations: pages are only touched where routes are.
        Dir24 {
            tbl24: vec![0u16; FIRST].into_boxed_slice().try_into().expect("2^24 entries"),
            len24: vec![0u8; FIRST].into_boxed_slice().try_into().expect("2^24 entries"),
            tbl8: Vec::new(),
            len8: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Chunks in use (a /24 with routes longer than /24 each).
    pub fn chunks(&self) -> usize {
        self.tbl8.len() / 256 - self.free.len()
    }

    /// A chunk for first-table entry `i`, filled with what the entry said.
    fn split(&mut self, i: usize) {
        let c = match self.free.pop() {
            Some(c) => c as usize,
            None => {
                let c = self.tbl8.len() / 256;
                self.tbl8.resize(self.tbl8.len() + 256, 0);
                self.len8.resize(self.len8.len() + 256, 0);
                c
            }
        };
        self.tbl8[c << 8..(c + 1) << 8].fill(self.tbl24[i]);
        self.len8[c << 8..(c + 1) << 8].fill(self.len24[i]);
        self.tbl24[i] = CHUNK | c as u16;
    }

    /// Give a chunk back to the first table if all its entries come from one route of /24
    /// or shorter.
    fn try_merge(&mut self, i: usize) {
        let e = self.tbl24[i];
        if e & CHUNK == 0 {
            return;
        }
        let c = usize::from(e & !CHUNK);
        let (hops, lens) = (&self.tbl8[c << 8..(c + 1) << 8], &self.len8[c << 8..(c + 1) << 8]);
        let (h, l) = (hops[0], lens[0]);
        if l <= 25 && hops.iter().all(|&x| x == h) && lens.iter().all(|&x| x == l) {
            self.tbl24[i] = h;
            self.len24[i] = l;
            self.free.push(c as u16);
        }
    }

    /// Write `(nh, lenx)` into every entry of `addr/len` whose recorded length satisfies
    /// `cond`. Routes longer than /24 must have their chunk already.
    #[inline]
    fn paint(&mut self, addr: u32, len: u8, cond: impl Fn(u8) -> bool, nh: u16, lenx: u8) {
        if len <= 24 {
            let start = (addr >> 8) as usize;
            for i in start..start + (1usize << (24 - len)) {
                let e = self.tbl24[i];
                if e & CHUNK != 0 {
                    let c = usize::from(e & !CHUNK) << 8;
                    for j in c..c + 256 {
                        if cond(self.len8[j]) {
                            self.tbl8[j] = nh;
                            self.len8[j] = lenx;
                        }
                    }
                } else if cond(self.len24[i]) {
                    self.tbl24[i] = nh;
                    self.len24[i] = lenx;
                }
            }
        } else {
            let e = self.tbl24[(addr >> 8) as usize];
            debug_assert!(e & CHUNK != 0, "a route longer than /24 has a chunk");
            let start = (usize::from(e & !CHUNK) << 8) | (addr & 0xff) as usize;
            for j in start..start + (1usize << (32 - len)) {
                if cond(self.len8[j]) {
                    self.tbl8[j] = nh;
                    self.len8[j] = lenx;
                }
            }
        }
    }

    fn add(&mut self, addr: u32, len: u8, nh: u32) {
        let i = (addr >> 8) as usize;
        if len > 24 && self.tbl24[i] & CHUNK == 0 {
            self.split(i);
        }
        let lenx = len + 1;
        self.paint(addr, len, |l| l < lenx, nh as u16, lenx);
    }

    #[inline(always)]
    fn resolve(&self, e: u16, addr: u32) -> u16 {
        if e & CHUNK != 0 {
            self.tbl8[(usize::from(e & !CHUNK) << 8) | (addr & 0xff) as usize]
        } else {
            e
        }
    }
}

impl Lpm4 for Dir24 {
    const NAME: &'static str = "DIR-24-8";
    const MAX_NEXT_HOP: u32 = 0x7fff;

    fn build(routes: &Routes) -> Result<Self, String> {
        let mut t = Dir24::empty();
        // Shorter routes first: each later route only overwrites, and chunks are split from
        // first-table entries that are already final.
        let mut all: Vec<(u32, u8, u32)> = routes.iter_ordered().collect();
        all.sort_by_key(|&(_, len, _)| len);
        for (addr, len, nh) in all {
            t.check_insert(addr, len)?;
            t.add(addr, len, nh);
        }
        Ok(t)
    }

    fn check_insert(&self, addr: u32, len: u8) -> Result<(), String> {
        let needs_chunk = len > 24 && self.tbl24[(addr >> 8) as usize] & CHUNK == 0;
        if needs_chunk && self.free.is_empty() && self.tbl8.len() / 256 >= MAX_CHUNKS {
            return Err(format!(
                "no room for a route longer than /24: all {MAX_CHUNKS} second-level chunks are in use"
            ));
        }
        Ok(())
    }

    fn insert(&mut self, _routes: &Routes, addr: u32, len: u8, nh: u32) {
        self.add(addr, len, nh);
    }

    fn remove(&mut self, routes: &Routes, addr: u32, len: u8, _nh: u32) {
        let (fallback, fallback_lenx) = match routes.covering(addr, len) {
            Some((l, nh)) => (nh as u16, l + 1),
            None => (0, 0),
        };
        let lenx = len + 1;
        self.paint(addr, len, |l| l == lenx, fallback, fallback_lenx);
        if len > 24 {
            self.try_merge((addr >> 8) as usize);
        }
    }

    fn replace(&mut self, _routes: &Routes, addr: u32, len: u8, _old: u32, nh: u32) {
        let lenx = len + 1;
        self.paint(addr, len, |l| l == lenx, nh as u16, lenx);
    }

    #[inline]
    fn lookup(&self, addr: u32) -> u32 {
        u32::from(self.resolve(self.tbl24[(addr >> 8) as usize], addr))
    }

    /// All first-table reads first (independent, so their cache misses overlap), then the
    /// second-table reads for the entries that need one.
    #[inline]
    fn lookup_batch(&self, addrs: &[u32], out: &mut [u32]) {
        for (o, &a) in out.iter_mut().zip(addrs) {
            *o = u32::from(self.tbl24[(a >> 8) as usize]);
        }
        for (o, &a) in out.iter_mut().zip(addrs) {
            if *o & u32::from(CHUNK) != 0 {
                *o = u32::from(self.resolve(*o as u16, a));
            }
        }
    }

    fn lookup_memory(&self) -> usize {
        FIRST * 2 + self.tbl8.capacity() * 2
    }

    fn update_memory(&self) -> usize {
        FIRST + self.len8.capacity() + self.free.capacity() * 2
    }
}

//! Poptrie: a compressed multibit trie indexed with population counts (Asai and Ohara,
//! "Poptrie: A Compressed Trie with Population Count for Fast and Scalable Software IP
//! Routing Table Lookup", SIGCOMM 2015).
//!
//! The top 18 bits of an address index a direct table (1 MiB). An entry is either a next hop
//! (the whole /18 resolves to it) or a trie node that resolves the next 6 bits. A node has
//! two 64-bit vectors over its 64 children: `vector` marks the children that are nodes
//! themselves, `leafvec` marks where a run of equal next hops starts among the children that
//! are leaves. Children nodes of a node are stored contiguously from `base1`, its leaves
//! (one per run) from `base0`, so the child for index `v` is found by counting the set bits
//! of the vector up to `v` — one `popcnt`. Addresses resolve in at most three nodes below the
//! direct table, and a full BGP table takes a few MiB, most of it likely to stay in cache.
//!
//! The trie under one direct entry is built from the routes of that /18 (and the longest
//! route covering it). An update rebuilds the subtrees its prefix touches: one for a route
//! longer than /18, 2^(18 - len) for a shorter one. Replaced subtrees become garbage; when
//! garbage outweighs the live trie, the whole structure is rebuilt compactly.

use super::table::{Lpm4, Routes};

/// Bits resolved by the direct table.
const DIRECT: u32 = 18;
const SLOTS: usize = 1 << DIRECT;
/// Bits resolved per node.
const STRIDE: u32 = 6;
/// Direct-table entries with this bit hold a next hop; others a node index.
const LEAF: u32 = 1 << 31;

#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct Node {
    /// Children that are nodes.
    vector: u64,
    /// Leaf children where a run of equal next hops starts.
    leafvec: u64,
    /// First leaf of this node in `leaves`.
    base0: u32,
    /// First child node of this node in `nodes`.
    base1: u32,
}

/// A route while building: address, length, next hop.
#[derive(Clone, Copy, Debug)]
struct R {
    addr: u32,
    len: u8,
    nh: u16,
}

/// The 6 bits of `addr` after the first `depth` (zeros past bit 32).
#[inline(always)]
fn child_index(addr: u32, depth: u32) -> usize {
    (((u64::from(addr) << 32) << depth) >> 58) as usize
}

/// The poptrie structure.
pub struct Poptrie {
    direct: Box<[u32; SLOTS]>,
    nodes: Vec<Node>,
    leaves: Vec<u16>,
    /// Nodes and leaves of replaced subtrees, not reachable any more.
    garbage_nodes: usize,
    garbage_leaves: usize,
}

impl Poptrie {
    fn empty() -> Poptrie {
        Poptrie {
            direct: vec![LEAF; SLOTS].into_boxed_slice().try_into().expect("2^18 entries"),
            // Node 0 and leaf 0 are placeholders no lookup reaches.
            nodes: vec![Node::default()],
            leaves: vec![0],
            garbage_nodes: 0,
            garbage_leaves: 0,
        }
    }

    /// Trie nodes in use.
    pub fn nodes(&self) -> usize {
        self.nodes.len() - self.garbage_nodes - 1
    }

    /// Rebuild the direct entries `first..first + count` (`count` a power of two, the block
    /// aligned) from `routes`.
    fn rebuild(&mut self, routes: &Routes, first: usize, count: usize) {
        let shift = 32 - DIRECT;
        let lo = (first as u32) << shift;
        let hi = ((first + count - 1) as u32) << shift | ((1u32 << shift) - 1);
        let block_len = (DIRECT - count.trailing_zeros()) as u8;
        // Next hop (and length + 1) of the longest route of /18 or shorter for each entry:
        // the longest route covering the block, then the short routes inside by length.
        let (cover_nh, cover_lenx) = match routes.covering(lo, block_len) {
            Some((l, nh)) => (nh as u16, l + 1),
            None => (0, 0),
        };
        let mut hop = vec![cover_nh; count];
        let mut hop_lenx = vec![cover_lenx; count];
        let mut long: Vec<R> = Vec::new();
        let mut short: Vec<R> = Vec::new();
        for (addr, len, nh) in routes.range(lo, hi) {
            let r = R { addr, len, nh: nh as u16 };
            if u32::from(len) > DIRECT {
                long.push(r);
            } else if len >= block_len {
                short.push(r);
            }
            // Shorter routes starting in the block cover all of it: `covering` saw them.
        }
        short.sort_by_key(|r| r.len);
        for r in &short {
            let s = (r.addr >> shift) as usize - first;
            for k in s..s + (1usize << (DIRECT - u32::from(r.len))) {
                if r.len + 1 > hop_lenx[k] {
                    hop[k] = r.nh;
                    hop_lenx[k] = r.len + 1;
                }
            }
        }
        // Long routes are ordered by address, so each entry's are contiguous.
        let mut k = 0;
        for slot in first..first + count {
            self.release(slot);
            let start = k;
            while k < long.len() && (long[k].addr >> shift) as usize == slot {
                k += 1;
            }
            let default = hop[slot - first];
            if start == k {
                self.direct[slot] = LEAF | u32::from(default);
            } else {
                let root = self.nodes.len();
                self.nodes.push(Node::default());
                self.build_node(root, DIRECT, default, &long[start..k]);
                self.direct[slot] = root as u32;
            }
        }
    }

    /// Count the subtree under direct entry `slot` as garbage.
    fn release(&mut self, slot: usize) {
        let d = self.direct[slot];
        if d & LEAF == 0 {
            let (n, l) = self.subtree_size(d as usize);
            self.garbage_nodes += n;
            self.garbage_leaves += l;
        }
    }

    fn subtree_size(&self, idx: usize) -> (usize, usize) {
        let node = self.nodes[idx];
        let (mut n, mut l) = (1, node.leafvec.count_ones() as usize);
        for k in 0..node.vector.count_ones() as usize {
            let (cn, cl) = self.subtree_size(node.base1 as usize + k);
            n += cn;
            l += cl;
        }
        (n, l)
    }

    /// Fill node `idx`, which resolves the 6 bits after `depth`, from `rs`: the routes
    /// longer than `depth` below it, ordered by address then length. `default` is the next
    /// hop of the longest route covering the whole node.
    fn build_node(&mut self, idx: usize, depth: u32, default: u16, rs: &[R]) {
        let end = depth + STRIDE;
        let mut hop = [default; 64];
        let mut hop_len = [0u8; 64];
        let mut vector = 0u64;
        let mut groups = [(0usize, 0usize); 64];
        let mut k = 0;
        while k < rs.len() {
            let r = rs[k];
            let c = child_index(r.addr, depth);
            if u32::from(r.len) <= end {
                // Covers children c.. (aligned, as host bits are clear): longer routes win.
                for i in c..c + (1usize << (end - u32::from(r.len))) {
                    if r.len > hop_len[i] {
                        hop[i] = r.nh;
                        hop_len[i] = r.len;
                    }
                }
                k += 1;
            } else {
                // Routes below child c: the short ones covering c sort before them (same or
                // smaller address, shorter), so these are contiguous and all long.
                let s = k;
                while k < rs.len() && child_index(rs[k].addr, depth) == c {
                    debug_assert!(u32::from(rs[k].len) > end);
                    k += 1;
                }
                vector |= 1 << c;
                groups[c] = (s, k);
            }
        }
        let base1 = self.nodes.len();
        self.nodes.resize(base1 + vector.count_ones() as usize, Node::default());
        let base0 = self.leaves.len();
        let mut leafvec = 0u64;
        let mut prev = None;
        for (i, &h) in hop.iter().enumerate() {
            if vector >> i & 1 == 0 && prev != Some(h) {
                leafvec |= 1 << i;
                self.leaves.push(h);
                prev = Some(h);
            }
        }
        self.nodes[idx] = Node { vector, leafvec, base0: base0 as u32, base1: base1 as u32 };
        let mut child = base1;
        for (c, &(s, e)) in groups.iter().enumerate() {
            if vector >> c & 1 != 0 {
                self.build_node(child, end, hop[c], &rs[s..e]);
                child += 1;
            }
        }
    }

    /// Rebuild what `addr/len` touches, or everything when garbage has piled up.
    fn update(&mut self, routes: &Routes, addr: u32, len: u8) {
        let first = (addr >> (32 - DIRECT)) as usize;
        let count = if u32::from(len) > DIRECT { 1 } else { 1usize << (DIRECT - u32::from(len)) };
        let live = self.nodes();
        if count == SLOTS || self.garbage_nodes > live + 4096 || self.garbage_leaves > self.leaves.len() / 2 + 4096 {
            *self = Self::build(routes).expect("poptrie builds cannot fail");
        } else {
            self.rebuild(routes, first, count);
        }
    }

    #[inline(always)]
    fn find(&self, addr: u32) -> u32 {
        let d = self.direct[(addr >> (32 - DIRECT)) as usize];
        if d & LEAF != 0 {
            return d & !LEAF;
        }
        self.walk(d, addr)
    }

    /// Resolve `addr` from node `idx` of the direct table down.
    #[inline(always)]
    fn walk(&self, idx: u32, addr: u32) -> u32 {
        let mut node = self.nodes[idx as usize];
        let mut depth = DIRECT;
        loop {
            let v = child_index(addr, depth) as u32;
            let upto = u64::MAX >> (63 - v);
            if node.vector >> v & 1 == 0 {
                let i = node.base0 as usize + (node.leafvec & upto).count_ones() as usize - 1;
                return u32::from(self.leaves[i]);
            }
            node = self.nodes[node.base1 as usize + (node.vector & upto).count_ones() as usize - 1];
            depth += STRIDE;
        }
    }

    /// Look up to 64 addresses: every direct entry first (independent loads whose cache
    /// misses overlap), then the trie walks of the addresses that need one.
    #[inline(always)]
    fn lookup_levels(&self, addrs: &[u32], out: &mut [u32]) {
        for (o, &a) in out.iter_mut().zip(addrs) {
            *o = self.direct[(a >> (32 - DIRECT)) as usize];
        }
        for (o, &a) in out.iter_mut().zip(addrs) {
            if *o & LEAF != 0 {
                *o &= !LEAF;
            } else {
                *o = self.walk(*o, a);
            }
        }
    }

    fn lookup_chunks(&self, addrs: &[u32], out: &mut [u32]) {
        for (a, o) in addrs.chunks(64).zip(out.chunks_mut(64)) {
            self.lookup_levels(a, o);
        }
    }

    /// The batch lookup compiled with the `popcnt` instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    fn lookup_chunks_popcnt(&self, addrs: &[u32], out: &mut [u32]) {
        for (a, o) in addrs.chunks(64).zip(out.chunks_mut(64)) {
            self.lookup_levels(a, o);
        }
    }
}

impl Lpm4 for Poptrie {
    const NAME: &'static str = "poptrie";
    const MAX_NEXT_HOP: u32 = 0xffff;

    fn build(routes: &Routes) -> Result<Self, String> {
        let mut t = Poptrie::empty();
        t.rebuild(routes, 0, SLOTS);
        t.nodes.shrink_to_fit();
        t.leaves.shrink_to_fit();
        Ok(t)
    }

    fn insert(&mut self, routes: &Routes, addr: u32, len: u8, _nh: u32) {
        self.update(routes, addr, len);
    }

    fn remove(&mut self, routes: &Routes, addr: u32, len: u8, _nh: u32) {
        self.update(routes, addr, len);
    }

    fn replace(&mut self, routes: &Routes, addr: u32, len: u8, _old: u32, _nh: u32) {
        self.update(routes, addr, len);
    }

    #[inline]
    fn lookup(&self, addr: u32) -> u32 {
        self.find(addr)
    }

    #[inline]
    fn lookup_batch(&self, addrs: &[u32], out: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has the popcnt instruction (checked just above).
            unsafe { self.lookup_chunks_popcnt(addrs, out) };
            return;
        }
        self.lookup_chunks(addrs, out);
    }

    fn lookup_memory(&self) -> usize {
        SLOTS * 4 + self.nodes.capacity() * std::mem::size_of::<Node>() + self.leaves.capacity() * 2
    }
}

//! The mapping table of a rewriter: Click's `IPRewriterBase` map and `IPRewriterHeap`.
//!
//! Flows live in a slab (`Vec<Flow>` plus a free list), so making and destroying mappings
//! reuses slots; the map from flow identifier to (flow, direction) is a `HashMap` whose
//! capacity only grows, and the two expiry heaps are vectors of slab indices. Once the table
//! has reached its working size nothing on the data path allocates.
//!
//! As in Click, every flow sits in one of two min-heaps ordered by expiry time: the
//! *guaranteed* heap (flows within their GUARANTEE after their last packet) and the
//! *best-effort* heap. A flow whose guarantee has run out moves to the best-effort heap
//! with its expiry extended to its timeout. When a new mapping would exceed the capacity,
//! the best-effort flow closest to expiry is destroyed, or, if every flow is guaranteed,
//! the new mapping is refused. Reaping destroys expired best-effort flows; unlike Click's
//! timer, which reaps everything at once, [`FlowTable::reap`] does a bounded amount of
//! work per call so the data path is never blocked for long.

use super::flow::{Flow, FlowId, FlowKind};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A map key: which map (IPRewriter keeps TCP and UDP apart), and the flow identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub map: u8,
    pub id: FlowId,
}

/// Click's default MAPPING_CAPACITY: unlimited (`0x7FFFFFFF`).
pub(crate) const UNLIMITED: i32 = i32::MAX;

/// The timeouts of every kind of flow: `[timeout, guarantee]` as in Click's `_timeouts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// TCP: `[TCP_NODATA_TIMEOUT, TCP_GUARANTEE]`.
    pub tcp: [Duration; 2],
    /// TCP_TIMEOUT: connections with data seen both ways.
    pub tcp_data: Duration,
    /// TCP_DONE_TIMEOUT: connections closed both ways (or reset).
    pub tcp_done: Duration,
    /// UDP: `[UDP_TIMEOUT, UDP_GUARANTEE]`.
    pub udp: [Duration; 2],
    /// UDP_STREAMING_TIMEOUT.
    pub udp_streaming: Duration,
    /// IPAddrRewriter: `[TIMEOUT, GUARANTEE]`.
    pub addr: [Duration; 2],
}

impl Timeouts {
    /// The best-effort timeout of `f` in its current state (Click's `tcp_flow_timeout`,
    /// `udp_flow_timeout`, `_timeouts[0]`).
    pub fn timeout(&self, f: &Flow) -> Duration {
        match f.kind {
            FlowKind::Tcp if f.both_done() => self.tcp_done,
            FlowKind::Tcp if f.both_data() => self.tcp_data,
            FlowKind::Tcp => self.tcp[0],
            FlowKind::Udp if f.streaming() => self.udp_streaming,
            FlowKind::Udp => self.udp[0],
            FlowKind::Addr => self.addr[0],
        }
    }

    /// The guarantee of `f` (zero: none).
    pub fn guarantee(&self, kind: FlowKind) -> Duration {
        match kind {
            FlowKind::Tcp => self.tcp[1],
            FlowKind::Udp => self.udp[1],
            FlowKind::Addr => self.addr[1],
        }
    }

    /// Click's `best_effort_expiry`: when a guaranteed flow expires once its guarantee is
    /// over (its last packet plus its timeout).
    pub fn best_effort_expiry(&self, f: &Flow) -> Instant {
        let e = f.expiry.checked_add(self.timeout(f)).unwrap_or(f.expiry);
        e.checked_sub(self.guarantee(f.kind)).unwrap_or(e)
    }
}

/// Instant `d` after `t`, saturating far in the future.
pub(crate) fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or_else(|| t + Duration::from_secs(100 * 365 * 86400))
}

const GUARANTEED: usize = 1;
const BEST_EFFORT: usize = 0;

/// Flows, the map, the heaps, the capacity and the per-input mapping counts.
#[derive(Debug)]
pub(crate) struct FlowTable {
    flows: Vec<Flow>,
    free: Vec<u32>,
    /// Key to `flow index << 1 | direction`.
    map: HashMap<Key, u32>,
    heaps: [Vec<u32>; 2],
    /// MAPPING_CAPACITY: most flows held at once.
    pub capacity: i32,
    /// Live mappings made by each input (Click's `IPRewriterInput::count`).
    pub counts: Vec<u64>,
    next_seq: u64,
}

impl FlowTable {
    /// An empty table with room for `reserve` flows, for `ninputs` inputs.
    pub fn new(reserve: usize, ninputs: usize, capacity: i32) -> FlowTable {
        FlowTable {
            flows: Vec::with_capacity(reserve),
            free: Vec::with_capacity(reserve),
            map: HashMap::with_capacity(2 * reserve),
            heaps: [Vec::with_capacity(reserve), Vec::with_capacity(reserve)],
            capacity,
            counts: vec![0; ninputs],
            next_seq: 0,
        }
    }

    /// The flow and direction entered under `id` in `map`.
    #[inline]
    pub fn lookup(&self, map: u8, id: FlowId) -> Option<(u32, usize)> {
        self.map.get(&Key { map, id }).map(|&v| (v >> 1, (v & 1) as usize))
    }

    #[inline]
    pub fn contains(&self, map: u8, id: &FlowId) -> bool {
        self.map.contains_key(&Key { map, id: *id })
    }

    #[inline]
    pub fn flow(&self, i: u32) -> &Flow {
        &self.flows[i as usize]
    }

    #[inline]
    pub fn flow_mut(&mut self, i: u32) -> &mut Flow {
        &mut self.flows[i as usize]
    }

    /// Flows in the table (Click's `size`).
    pub fn size(&self) -> usize {
        self.heaps[0].len() + self.heaps[1].len()
    }

    fn over_capacity(&self) -> bool {
        self.size() as i64 > i64::from(self.capacity)
    }

    /// Click's `store_flow`: enter `flow` (forward and reply entries), replacing a flow
    /// whose reply entry it takes over, and make room if the table is over capacity.
    /// `Err` when the table is full of guaranteed flows (the new flow was refused).
    pub fn insert(&mut self, mut flow: Flow, now: Instant, t: &Timeouts) -> Result<u32, ()> {
        flow.seq = self.next_seq;
        self.next_seq += 1;
        let (k0, k1) = (Key { map: flow.map, id: flow.e[0] }, Key { map: flow.map, id: flow.e[1] });
        let (guaranteed, input) = (flow.guaranteed, flow.input as usize);
        let idx = match self.free.pop() {
            Some(i) => {
                self.flows[i as usize] = flow;
                i
            }
            None => {
                self.flows.push(flow);
                (self.flows.len() - 1) as u32
            }
        };
        for (key, dir) in [(k0, 0), (k1, 1)] {
            if let Some(old) = self.map.insert(key, idx << 1 | dir) {
                if old >> 1 != idx {
                    self.destroy(old >> 1);
                }
            }
        }
        self.heap_push(usize::from(guaranteed), idx);
        if input >= self.counts.len() {
            self.counts.resize(input + 1, 0);
        }
        self.counts[input] += 1;
        if self.over_capacity() && self.shrink_for_new_flow(idx, now, t) {
            return Err(());
        }
        Ok(idx)
    }

    /// Click's `shrink_heap_for_new_flow`: destroy the best-effort flow closest to expiry,
    /// or the new flow if every flow is guaranteed. True when the new flow was destroyed.
    fn shrink_for_new_flow(&mut self, idx: u32, now: Instant, t: &Timeouts) -> bool {
        self.shift(now, t, usize::MAX);
        let dead = self.heaps[BEST_EFFORT].first().copied().unwrap_or(idx);
        self.destroy(dead);
        dead == idx
    }

    /// Click's `change_expiry`.
    pub fn change_expiry(&mut self, idx: u32, guaranteed: bool, expiry: Instant) {
        let f = &mut self.flows[idx as usize];
        f.expiry = expiry;
        if f.guaranteed != guaranteed {
            self.heap_remove(idx);
            self.flows[idx as usize].guaranteed = guaranteed;
            self.heap_push(usize::from(guaranteed), idx);
        } else {
            let (h, pos) = (usize::from(f.guaranteed), f.place as usize);
            let pos = self.sift_up(h, pos);
            self.sift_down(h, pos);
        }
    }

    /// Remove a flow: its heap place, its map entries (those still its own), its count.
    pub fn destroy(&mut self, idx: u32) {
        self.heap_remove(idx);
        let f = &mut self.flows[idx as usize];
        f.live = false;
        let (map, e, input) = (f.map, f.e, f.input as usize);
        for (dir, id) in e.into_iter().enumerate() {
            let key = Key { map, id };
            if self.map.get(&key) == Some(&(idx << 1 | dir as u32)) {
                self.map.remove(&key);
            }
        }
        if let Some(c) = self.counts.get_mut(input) {
            *c = c.saturating_sub(1);
        }
        self.free.push(idx);
    }

    /// Move guaranteed flows whose guarantee ran out to the best-effort heap (Click's
    /// `shift_heap_best_effort`), at most `budget` of them. Returns what is left of it.
    fn shift(&mut self, now: Instant, t: &Timeouts, mut budget: usize) -> usize {
        while budget > 0 {
            let Some(&top) = self.heaps[GUARANTEED].first() else { break };
            if now < self.flows[top as usize].expiry {
                break;
            }
            let e = t.best_effort_expiry(&self.flows[top as usize]);
            self.change_expiry(top, false, e);
            budget -= 1;
        }
        budget
    }

    /// Click's `shrink_heap(false)`, at most `budget` flows at a time: shift expired
    /// guarantees, destroy expired best-effort flows, then destroy flows while over
    /// capacity. True when nothing is left to do.
    pub fn reap(&mut self, now: Instant, t: &Timeouts, budget: usize) -> bool {
        let mut budget = self.shift(now, t, budget);
        if budget == 0 {
            return false;
        }
        while budget > 0 {
            let Some(&top) = self.heaps[BEST_EFFORT].first() else { break };
            if now < self.flows[top as usize].expiry {
                break;
            }
            self.destroy(top);
            budget -= 1;
        }
        while budget > 0 && self.over_capacity() {
            let h = if self.heaps[BEST_EFFORT].is_empty() { GUARANTEED } else { BEST_EFFORT };
            self.destroy(self.heaps[h][0]);
            budget -= 1;
        }
        budget > 0
    }

    /// Reap until done (for the `capacity` handler, as Click does at once).
    pub fn reap_all(&mut self, now: Instant, t: &Timeouts) {
        while !self.reap(now, t, usize::MAX) {}
    }

    /// Destroy every flow (Click's `clear` handler), keeping the allocated room.
    pub fn clear(&mut self) {
        self.flows.clear();
        self.free.clear();
        self.map.clear();
        self.heaps.iter_mut().for_each(Vec::clear);
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    /// Destroy the flows for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&Flow) -> bool) {
        for i in 0..self.flows.len() {
            if self.flows[i].live && !keep(&self.flows[i]) {
                self.destroy(i as u32);
            }
        }
    }

    /// The entries of `map` that are in the map, as (flow, direction): flows in creation
    /// order, each forward entry before its reply entry.
    pub fn entries(&self, map: u8) -> Vec<(u32, usize)> {
        let mut flows: Vec<u32> = (0..self.flows.len() as u32)
            .filter(|&i| self.flows[i as usize].live && self.flows[i as usize].map == map)
            .collect();
        flows.sort_by_key(|&i| self.flows[i as usize].seq);
        let mut out = Vec::with_capacity(2 * flows.len());
        for i in flows {
            for (dir, id) in self.flows[i as usize].e.iter().enumerate() {
                if self.lookup(map, *id) == Some((i, dir)) {
                    out.push((i, dir));
                }
            }
        }
        out
    }

    // ---- heaps (min-heaps by expiry; each flow knows its place) ----

    #[inline]
    fn expiry_at(&self, h: usize, pos: usize) -> Instant {
        self.flows[self.heaps[h][pos] as usize].expiry
    }

    #[inline]
    fn swap(&mut self, h: usize, a: usize, b: usize) {
        self.heaps[h].swap(a, b);
        let (ia, ib) = (self.heaps[h][a], self.heaps[h][b]);
        self.flows[ia as usize].place = a as u32;
        self.flows[ib as usize].place = b as u32;
    }

    fn sift_up(&mut self, h: usize, mut pos: usize) -> usize {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.expiry_at(h, pos) < self.expiry_at(h, parent) {
                self.swap(h, pos, parent);
                pos = parent;
            } else {
                break;
            }
        }
        pos
    }

    fn sift_down(&mut self, h: usize, mut pos: usize) {
        let n = self.heaps[h].len();
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut least = pos;
            if l < n && self.expiry_at(h, l) < self.expiry_at(h, least) {
                least = l;
            }
            if r < n && self.expiry_at(h, r) < self.expiry_at(h, least) {
                least = r;
            }
            if least == pos {
                break;
            }
            self.swap(h, pos, least);
            pos = least;
        }
    }

    fn heap_push(&mut self, h: usize, idx: u32) {
        self.heaps[h].push(idx);
        let pos = self.heaps[h].len() - 1;
        self.flows[idx as usize].place = pos as u32;
        self.sift_up(h, pos);
    }

    fn heap_remove(&mut self, idx: u32) {
        let f = &self.flows[idx as usize];
        let (h, pos) = (usize::from(f.guaranteed), f.place as usize);
        debug_assert_eq!(self.heaps[h][pos], idx);
        let last = self.heaps[h].len() - 1;
        if pos != last {
            self.swap(h, pos, last);
        }
        self.heaps[h].pop();
        if pos < self.heaps[h].len() {
            let pos = self.sift_up(h, pos);
            self.sift_down(h, pos);
        }
    }

    /// The room reserved in each vector and the map (tests).
    #[cfg(test)]
    pub fn room(&self) -> [usize; 5] {
        [
            self.flows.capacity(),
            self.free.capacity(),
            self.map.capacity(),
            self.heaps[0].capacity(),
            self.heaps[1].capacity(),
        ]
    }

    /// Check the heap invariants (tests).
    #[cfg(test)]
    pub fn check(&self) {
        for h in 0..2 {
            for (pos, &i) in self.heaps[h].iter().enumerate() {
                let f = &self.flows[i as usize];
                assert!(f.live && f.place as usize == pos && usize::from(f.guaranteed) == h);
                if pos > 0 {
                    assert!(self.expiry_at(h, (pos - 1) / 2) <= f.expiry, "heap order");
                }
            }
        }
        let live = self.flows.iter().filter(|f| f.live).count();
        assert_eq!(live, self.size());
        assert_eq!(self.counts.iter().sum::<u64>() as usize, live);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(guarantee: u64) -> Timeouts {
        let s = Duration::from_secs;
        Timeouts {
            tcp: [s(300), s(guarantee)],
            tcp_data: s(86400),
            tcp_done: s(240),
            udp: [s(300), s(guarantee)],
            udp_streaming: s(300),
            addr: [s(7200), s(guarantee)],
        }
    }

    fn flow(n: u16, expiry: Instant, guaranteed: bool) -> Flow {
        let id = FlowId::new([10, 0, 0, 1], n, [1, 1, 1, 1], 80);
        let rw = FlowId::new([2, 2, 2, 2], n, [1, 1, 1, 1], 80);
        Flow::new(FlowKind::Udp, 0, id, rw, [0, 1], 0, guaranteed, expiry)
    }

    #[test]
    fn heaps_stay_ordered_through_inserts_changes_and_removals() {
        let t0 = Instant::now();
        let t = timeouts(0);
        let mut tab = FlowTable::new(4, 1, UNLIMITED);
        let mut ids = Vec::new();
        for n in 0..200u16 {
            let e = t0 + Duration::from_millis(u64::from(n.wrapping_mul(7919) % 500));
            ids.push(tab.insert(flow(n, e, n % 3 == 0), t0, &t).unwrap());
        }
        tab.check();
        for (k, &i) in ids.iter().enumerate().step_by(3) {
            tab.change_expiry(i, k % 2 == 0, t0 + Duration::from_millis((k as u64 * 31) % 700));
        }
        tab.check();
        for &i in ids.iter().step_by(5) {
            tab.destroy(i);
        }
        tab.check();
        assert_eq!(tab.size(), 160);
        // Reaping in small steps removes exactly the expired best-effort flows.
        let now = t0 + Duration::from_millis(250);
        while !tab.reap(now, &t, 7) {
            tab.check();
        }
        tab.check();
        assert!(tab.flows.iter().filter(|f| f.live && !f.guaranteed).all(|f| f.expiry > now));
    }

    #[test]
    fn capacity_evicts_best_effort_first_and_refuses_when_all_are_guaranteed() {
        let t0 = Instant::now();
        let t = timeouts(5);
        let mut tab = FlowTable::new(0, 1, 2);
        let a = tab.insert(flow(1, t0 + Duration::from_secs(9), false), t0, &t).unwrap();
        let _b = tab.insert(flow(2, t0 + Duration::from_secs(5), true), t0, &t).unwrap();
        // A third flow evicts the best-effort one.
        let c = tab.insert(flow(3, t0 + Duration::from_secs(5), true), t0, &t).unwrap();
        assert!(!tab.flow(a).live && tab.flow(c).live);
        // Now both are guaranteed: a fourth is refused.
        assert!(tab.insert(flow(4, t0 + Duration::from_secs(5), true), t0, &t).is_err());
        assert_eq!(tab.size(), 2);
        tab.check();
        // Once guarantees run out, they shift to best effort and a new flow gets room.
        let later = t0 + Duration::from_secs(6);
        assert!(tab.insert(flow(5, later + Duration::from_secs(5), true), later, &t).is_ok());
        assert_eq!(tab.size(), 2);
        tab.check();
    }

    #[test]
    fn a_table_at_its_working_size_does_not_grow() {
        // Flows come and go (each lives for 100 others); once warm, no vector grows, and the
        // map's room (items plus free slots: it shrinks with tombstones and is restored by
        // rehashing in place) never exceeds what it had.
        let t0 = Instant::now();
        let t = timeouts(0);
        let mut tab = FlowTable::new(16, 1, UNLIMITED);
        let mut live = std::collections::VecDeque::new();
        let mut sizes = None;
        let mut most = 0;
        for n in 0..20_000u32 {
            let mut f = flow(n as u16, t0 + Duration::from_secs(1), false);
            f.e[0].saddr = n.to_be_bytes();
            live.push_back(tab.insert(f, t0, &t).unwrap());
            if live.len() > 100 {
                tab.destroy(live.pop_front().unwrap());
            }
            let room = tab.room();
            if n <= 1000 {
                most = most.max(room[2]);
                sizes = Some([room[0], room[1], room[3], room[4]]);
            } else {
                assert_eq!(Some([room[0], room[1], room[3], room[4]]), sizes, "flow {n}");
                assert!(room[2] <= most, "the map grew at flow {n}: {} > {most}", room[2]);
            }
        }
        tab.check();
    }

    #[test]
    fn a_reply_entry_taken_over_destroys_the_old_flow() {
        let t0 = Instant::now();
        let t = timeouts(0);
        let mut tab = FlowTable::new(0, 1, UNLIMITED);
        let e = t0 + Duration::from_secs(1);
        let a = tab.insert(flow(1, e, false), t0, &t).unwrap();
        // Same rewritten flow (same reply key) from another source port.
        let mut f = flow(1, e, false);
        f.e[0].sport = 999;
        let b = tab.insert(f, t0, &t).unwrap();
        assert!(!tab.flow(a).live && tab.flow(b).live);
        assert_eq!(tab.size(), 1);
        assert_eq!(tab.entries(0), vec![(b, 0), (b, 1)]);
        tab.check();
    }
}

//! The ARP table behind ARPQuerier: IP-to-Ethernet mappings, packets waiting for a
//! mapping, expiry and polling, with Click's ARPTable rules.
//!
//! Entries live in a slab and are found through a hash map; they are also linked in an
//! age list, oldest first, which expiry and the capacity limits walk from the front.
//! Packets waiting for an entry are linked through a second slab, so holding a packet
//! allocates nothing once the slabs have grown to the configured capacity. Time is counted
//! in milliseconds (Click's jiffies at user level) since the table was made, from
//! `std::time::Instant`.

use super::unparse_ether;
use sluice::drops::DropCounts;
use sluice::Packet;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Instant;

/// "No entry" / "no packet" in the slab links.
const NIL: u32 = u32::MAX;
/// Click's CLICK_HZ at user level: jiffies per second.
const HZ: i64 = 1000;

/// Why the table drops packets (indices into the querier's drop reasons).
pub(crate) mod reason {
    /// The packet capacity was exceeded; oldest waiting packets were dropped.
    pub const CAPACITY: usize = 2;
    /// The entry already holds ENTRY_PACKET_CAPACITY packets.
    pub const ENTRY_PACKET_CAPACITY: usize = 3;
    /// The entry expired (or was evicted by ENTRY_CAPACITY) with packets waiting.
    pub const EXPIRED: usize = 4;
    /// The table was cleared with packets waiting.
    pub const CLEARED: usize = 5;
}

/// Sizes and times of a table (Click's ARPTable keywords).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most packets held in all; 0: unlimited.
    pub packet_capacity: u32,
    /// Most entries; 0: unlimited.
    pub entry_capacity: u32,
    /// Most packets held per entry; 0: unlimited.
    pub entry_packet_capacity: u32,
    /// When the packet capacity is exceeded, drop down to capacity − capacity/factor.
    pub slim_factor: u32,
    /// Lifetime of an entry in ms; 0: forever.
    pub timeout_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            packet_capacity: 2048,
            entry_capacity: 0,
            entry_packet_capacity: 0,
            slim_factor: 2,
            timeout_ms: 300_000,
        }
    }
}

#[derive(Debug)]
struct Entry {
    ip: u32,
    eth: [u8; 6],
    known: bool,
    polls_since_reply: u8,
    live_at: i64,
    polled_at: i64,
    /// Waiting packets (slab indices), oldest first.
    head: u32,
    tail: u32,
    npackets: u32,
    /// Age list links.
    prev: u32,
    next: u32,
}

impl Entry {
    fn expired(&self, now: i64, timeout: i64) -> bool {
        timeout > 0 && self.live_at + timeout < now
    }

    fn is_known(&self, now: i64, timeout: i64) -> bool {
        self.known && !self.expired(now, timeout)
    }

    /// At most 10 queries a second, then one every 2 seconds after 10 unanswered ones.
    fn allow_poll(&self, now: i64) -> bool {
        let wait = if self.polls_since_reply >= 10 { 2 * HZ } else { HZ / 10 };
        now >= self.polled_at + wait
    }

    fn mark_poll(&mut self, now: i64) {
        self.polled_at = now;
        self.polls_since_reply = self.polls_since_reply.saturating_add(1);
    }
}

/// A waiting packet and the next one of its entry.
#[derive(Debug)]
struct Held {
    packet: Option<Packet>,
    next: u32,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The address is known; `poll` asks for a query to renew the entry.
    Known {
        eth: [u8; 6],
        poll: bool,
    },
    Unknown,
}

/// What became of a packet given to [`ArpTable::append`].
#[derive(Debug)]
pub enum Appended {
    /// Held; `query` asks for a query to be sent.
    Held { query: bool },
    /// The address became known meanwhile: send the packet (given back) now.
    Known(Packet),
    /// Dropped (ENTRY_PACKET_CAPACITY); counted.
    Dropped,
}

/// The table.
#[derive(Debug)]
pub struct ArpTable {
    pub limits: Limits,
    origin: Instant,
    entries: Vec<Entry>,
    free_entries: Vec<u32>,
    index: HashMap<u32, u32>,
    age_head: u32,
    age_tail: u32,
    held: Vec<Held>,
    free_held: Vec<u32>,
    entry_count: u32,
    packet_count: u32,
    /// When the expiry timer fires next (ms), if TIMEOUT is set.
    next_sweep: Option<i64>,
}

impl ArpTable {
    pub fn new(limits: Limits) -> ArpTable {
        let cap = limits.packet_capacity.min(1 << 16) as usize;
        let mut t = ArpTable {
            limits,
            origin: Instant::now(),
            entries: Vec::new(),
            free_entries: Vec::new(),
            index: HashMap::new(),
            age_head: NIL,
            age_tail: NIL,
            held: Vec::with_capacity(cap + 1),
            free_held: Vec::with_capacity(cap + 1),
            entry_count: 0,
            packet_count: 0,
            next_sweep: None,
        };
        t.set_timeout(limits.timeout_ms);
        t
    }

    /// Milliseconds since the table was made.
    pub fn now(&self) -> i64 {
        self.origin.elapsed().as_millis() as i64
    }

    /// Change TIMEOUT (ms, 0: never); restarts the expiry timer as Click's configure does.
    pub fn set_timeout(&mut self, timeout_ms: i64) {
        self.limits.timeout_ms = timeout_ms;
        self.next_sweep = (timeout_ms > 0).then(|| self.now() + timeout_ms / HZ * HZ);
    }

    /// Number of entries.
    pub fn count(&self) -> u32 {
        self.entry_count
    }

    /// Number of packets waiting.
    pub fn length(&self) -> u32 {
        self.packet_count
    }

    /// Click's expiry timer: expire old entries (and their packets) when it is due.
    /// Returns whether it ran.
    pub fn run_timer(&mut self, drops: &mut DropCounts) -> bool {
        let Some(due) = self.next_sweep else {
            return false;
        };
        let now = self.now();
        if now < due {
            return false;
        }
        self.slim(now, drops);
        self.next_sweep = Some(now + (self.limits.timeout_ms / HZ + 1) * HZ);
        true
    }

    /// The mapping for `ip`, and whether to poll for it (POLL_TIMEOUT `poll_ms`, 0: never).
    pub fn lookup(&mut self, ip: Ipv4Addr, poll_ms: i64, now: i64) -> Lookup {
        let Some(&i) = self.index.get(&u32::from(ip)) else {
            return Lookup::Unknown;
        };
        let timeout = self.limits.timeout_ms;
        let e = &mut self.entries[i as usize];
        if !e.is_known(now, timeout) {
            return Lookup::Unknown;
        }
        let poll = poll_ms > 0 && now >= e.live_at + poll_ms && e.allow_poll(now);
        if poll {
            e.mark_poll(now);
        }
        Lookup::Known { eth: e.eth, poll }
    }

    /// Find or make the entry for `ip`.
    fn ensure(&mut self, ip: u32, now: i64, drops: &mut DropCounts) -> u32 {
        if let Some(&i) = self.index.get(&ip) {
            return i;
        }
        self.entry_count += 1;
        if self.limits.entry_capacity > 0 && self.entry_count > self.limits.entry_capacity {
            self.slim(now, drops);
        }
        let e = Entry {
            ip,
            eth: [0xff; 6],
            known: false,
            polls_since_reply: 0,
            live_at: now,
            polled_at: now - HZ,
            head: NIL,
            tail: NIL,
            npackets: 0,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free_entries.pop() {
            Some(i) => {
                self.entries[i as usize] = e;
                i
            }
            None => {
                self.entries.push(e);
                (self.entries.len() - 1) as u32
            }
        };
        self.index.insert(ip, i);
        self.age_push_back(i);
        i
    }

    fn age_unlink(&mut self, i: u32) {
        let (prev, next) = (self.entries[i as usize].prev, self.entries[i as usize].next);
        match prev {
            NIL => self.age_head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.age_tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
        self.entries[i as usize].prev = NIL;
        self.entries[i as usize].next = NIL;
    }

    fn age_push_back(&mut self, i: u32) {
        self.entries[i as usize].prev = self.age_tail;
        self.entries[i as usize].next = NIL;
        match self.age_tail {
            NIL => self.age_head = i,
            t => self.entries[t as usize].next = i,
        }
        self.age_tail = i;
    }

    /// Insert entry `i` before `before` (NIL: at the end).
    fn age_insert_before(&mut self, i: u32, before: u32) {
        if before == NIL {
            return self.age_push_back(i);
        }
        let prev = self.entries[before as usize].prev;
        self.entries[i as usize].prev = prev;
        self.entries[i as usize].next = before;
        self.entries[before as usize].prev = i;
        match prev {
            NIL => self.age_head = i,
            p => self.entries[p as usize].next = i,
        }
    }

    /// Take the oldest waiting packet of entry `i`.
    fn pop_packet(&mut self, i: u32) -> Option<Packet> {
        let h = self.entries[i as usize].head;
        if h == NIL {
            return None;
        }
        let slot = &mut self.held[h as usize];
        let p = slot.packet.take();
        let next = slot.next;
        self.free_held.push(h);
        let e = &mut self.entries[i as usize];
        e.head = next;
        if next == NIL {
            e.tail = NIL;
        }
        e.npackets -= 1;
        self.packet_count -= 1;
        p
    }

    fn push_packet(&mut self, i: u32, p: Packet) {
        let slot = Held { packet: Some(p), next: NIL };
        let h = match self.free_held.pop() {
            Some(h) => {
                self.held[h as usize] = slot;
                h
            }
            None => {
                self.held.push(slot);
                (self.held.len() - 1) as u32
            }
        };
        let e = &mut self.entries[i as usize];
        match e.tail {
            NIL => e.head = h,
            t => self.held[t as usize].next = h,
        }
        let e = &mut self.entries[i as usize];
        e.tail = h;
        e.npackets += 1;
    }

    /// Remove entry `i` and drop its packets for `why`.
    fn remove_entry(&mut self, i: u32, why: usize, drops: &mut DropCounts) {
        let mut n = 0;
        while self.pop_packet(i).is_some() {
            n += 1;
        }
        if n > 0 {
            drops.count(why, n);
        }
        self.age_unlink(i);
        self.index.remove(&self.entries[i as usize].ip);
        self.free_entries.push(i);
        self.entry_count -= 1;
    }

    /// Click's `slim`: expire old entries, enforce ENTRY_CAPACITY, and when the packet
    /// capacity is exceeded drop the oldest entries' packets down to the slim capacity.
    fn slim(&mut self, now: i64, drops: &mut DropCounts) {
        let timeout = self.limits.timeout_ms;
        let entry_cap = self.limits.entry_capacity;
        while self.age_head != NIL {
            let i = self.age_head;
            let over = entry_cap > 0 && self.entry_count > entry_cap;
            if !(self.entries[i as usize].expired(now, timeout) || over) {
                break;
            }
            self.remove_entry(i, reason::EXPIRED, drops);
        }
        let cap = self.limits.packet_capacity;
        if cap > 0 && self.packet_count > cap {
            let slim_cap = (cap - cap / self.limits.slim_factor.max(1)).max(1);
            let mut i = self.age_head;
            let mut n = 0;
            while self.packet_count > slim_cap && i != NIL {
                while self.packet_count > slim_cap && self.pop_packet(i).is_some() {
                    n += 1;
                }
                i = self.entries[i as usize].next;
            }
            drops.count(reason::CAPACITY, n);
        }
    }

    /// Record that `ip` is at `eth` (broadcast `eth` marks the entry unknown, as the
    /// `delete` handler does). With `take`, the packets that were waiting are handed to
    /// `emit`, oldest first; otherwise they stay.
    pub fn insert(
        &mut self,
        ip: Ipv4Addr,
        eth: [u8; 6],
        take: bool,
        drops: &mut DropCounts,
        mut emit: impl FnMut(Packet),
    ) {
        let now = self.now();
        let i = self.ensure(u32::from(ip), now, drops);
        let e = &mut self.entries[i as usize];
        e.eth = eth;
        e.known = eth != [0xff; 6];
        e.live_at = now;
        e.polls_since_reply = 0;
        e.polled_at = now - HZ;
        if e.next != NIL {
            self.age_unlink(i);
            self.age_push_back(i);
        }
        if take {
            while let Some(p) = self.pop_packet(i) {
                emit(p);
            }
        }
    }

    /// Hold `p` until `ip` is resolved (Click's `append_query`).
    pub fn append(&mut self, ip: Ipv4Addr, p: Packet, now: i64, drops: &mut DropCounts) -> Appended {
        let i = self.ensure(u32::from(ip), now, drops);
        let timeout = self.limits.timeout_ms;
        if self.entries[i as usize].is_known(now, timeout) {
            return Appended::Known(p);
        }
        // Still trying to reach this address: keep the entry just this side of expiring
        // (so the slim below cannot delete it), moving it to its place in the age list.
        if timeout > 0 {
            let min = now - timeout;
            if self.entries[i as usize].live_at < min {
                self.entries[i as usize].live_at = min;
                let first_next = self.entries[i as usize].next;
                let mut next = first_next;
                while next != NIL && self.entries[next as usize].live_at < min {
                    next = self.entries[next as usize].next;
                }
                if next != first_next {
                    self.age_unlink(i);
                    self.age_insert_before(i, next);
                }
            }
        }
        let cap = self.limits.entry_packet_capacity;
        if cap > 0 && self.entries[i as usize].npackets >= cap {
            drops.count(reason::ENTRY_PACKET_CAPACITY, 1);
            return Appended::Dropped;
        }
        // Count the packet first, as Click does, so slimming makes room for it.
        self.packet_count += 1;
        let pcap = self.limits.packet_capacity;
        if pcap > 0 && self.packet_count > pcap {
            self.slim(now, drops);
        }
        self.push_packet(i, p);
        let e = &mut self.entries[i as usize];
        let query = e.allow_poll(now);
        if query {
            e.mark_poll(now);
        }
        Appended::Held { query }
    }

    /// Drop every entry and waiting packet.
    pub fn clear(&mut self, drops: &mut DropCounts) {
        while self.age_head != NIL {
            self.remove_entry(self.age_head, reason::CLEARED, drops);
        }
        self.entries.clear();
        self.free_entries.clear();
        self.held.clear();
        self.free_held.clear();
    }

    /// Click's `table` handler: `IP VALID ETH AGE` per entry, oldest first.
    pub fn unparse(&self) -> String {
        let now = self.now();
        let mut s = String::new();
        let mut i = self.age_head;
        while i != NIL {
            let e = &self.entries[i as usize];
            let ok = u8::from(e.is_known(now, self.limits.timeout_ms));
            let age = (now - e.live_at).max(0);
            s += &format!(
                "{} {ok} {} {}.{:06}\n",
                Ipv4Addr::from(e.ip),
                unparse_ether(&e.eth),
                age / HZ,
                (age % HZ) * (1_000_000 / HZ)
            );
            i = e.next;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REASONS: &[&str] = &["a", "b", "capacity", "entry capacity", "expired", "cleared"];

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    fn pkt(id: u8) -> Packet {
        Packet::from_slice(&[id])
    }

    #[test]
    fn holds_packets_until_resolved_and_rate_limits_queries() {
        let mut d = DropCounts::new(REASONS);
        let mut t = ArpTable::new(Limits::default());
        let now = t.now();
        assert_eq!(t.lookup(ip(1), 0, now), Lookup::Unknown);
        assert!(matches!(t.append(ip(1), pkt(1), now, &mut d), Appended::Held { query: true }));
        // A second packet within 100 ms sends no second query.
        assert!(matches!(t.append(ip(1), pkt(2), now, &mut d), Appended::Held { query: false }));
        assert!(matches!(t.append(ip(1), pkt(3), now + 100, &mut d), Appended::Held { query: true }));
        assert_eq!((t.count(), t.length()), (1, 3));
        let mut out = Vec::new();
        t.insert(ip(1), [2; 6], true, &mut d, |p| out.push(p.data()[0]));
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(t.length(), 0);
        assert_eq!(t.lookup(ip(1), 0, t.now()), Lookup::Known { eth: [2; 6], poll: false });
        let now = t.now();
        assert!(matches!(t.append(ip(1), pkt(4), now, &mut d), Appended::Known(_)));
        assert!(t.unparse().starts_with("10.0.0.1 1 02-02-02-02-02-02 0."), "{}", t.unparse());
        assert_eq!(d.total(), 0);
    }

    #[test]
    fn polls_after_poll_timeout() {
        let mut d = DropCounts::new(REASONS);
        let mut t = ArpTable::new(Limits::default());
        t.insert(ip(1), [2; 6], false, &mut d, drop);
        let now = t.entries[0].live_at;
        assert_eq!(t.lookup(ip(1), 60_000, now + 59_999), Lookup::Known { eth: [2; 6], poll: false });
        assert_eq!(t.lookup(ip(1), 60_000, now + 60_000), Lookup::Known { eth: [2; 6], poll: true });
        // Rate-limited: not again within 100 ms.
        assert_eq!(t.lookup(ip(1), 60_000, now + 60_050), Lookup::Known { eth: [2; 6], poll: false });
        assert_eq!(t.lookup(ip(1), 60_000, now + 60_100), Lookup::Known { eth: [2; 6], poll: true });
        // Expired after TIMEOUT.
        assert_eq!(t.lookup(ip(1), 0, now + 300_001), Lookup::Unknown);
    }

    #[test]
    fn capacity_slims_oldest_packets_to_half() {
        let mut d = DropCounts::new(REASONS);
        let limits = Limits { packet_capacity: 4, ..Limits::default() };
        let mut t = ArpTable::new(limits);
        let now = t.now();
        for k in 0..4 {
            t.append(ip(k), pkt(k), now, &mut d);
        }
        assert_eq!(t.length(), 4);
        // The fifth packet makes 5 > 4: the oldest go until 2 are counted (the new one
        // included, as in Click), then it is added.
        t.append(ip(9), pkt(9), now, &mut d);
        assert_eq!(t.length(), 2);
        assert_eq!(d.get(reason::CAPACITY), 3);
        let mut out = Vec::new();
        for k in [0, 1, 2, 3, 9] {
            t.insert(ip(k), [1; 6], true, &mut d, |p| out.push(p.data()[0]));
        }
        assert_eq!(out, [3, 9]);
    }

    #[test]
    fn entry_limits_expiry_and_clear() {
        let mut d = DropCounts::new(REASONS);
        let limits = Limits { entry_capacity: 2, entry_packet_capacity: 1, timeout_ms: 1000, ..Limits::default() };
        let mut t = ArpTable::new(limits);
        let now = t.now();
        t.append(ip(1), pkt(1), now, &mut d);
        assert!(matches!(t.append(ip(1), pkt(2), now, &mut d), Appended::Dropped));
        assert_eq!(d.get(reason::ENTRY_PACKET_CAPACITY), 1);
        t.append(ip(2), pkt(2), now, &mut d);
        t.append(ip(3), pkt(3), now, &mut d);
        // ENTRY_CAPACITY 2: the oldest entry went, with its packet.
        assert_eq!((t.count(), t.length()), (2, 2));
        assert_eq!(d.get(reason::EXPIRED), 1);
        assert!(!t.unparse().contains("10.0.0.1 "));
        // Expiry by the timer once TIMEOUT has passed (Click's timer: TIMEOUT, then
        // every TIMEOUT + 1 s).
        t.next_sweep = Some(0);
        t.entries.iter_mut().for_each(|e| e.live_at -= 5000);
        assert!(t.run_timer(&mut d));
        assert_eq!((t.count(), t.length()), (0, 0));
        assert_eq!(d.get(reason::EXPIRED), 3);
        let now = t.now();
        t.append(ip(7), pkt(7), now, &mut d);
        t.clear(&mut d);
        assert_eq!((t.count(), t.length(), d.get(reason::CLEARED)), (0, 0, 1));
        assert_eq!(t.unparse(), "");
    }

    #[test]
    fn delete_marks_unknown_and_keeps_waiting_packets() {
        let mut d = DropCounts::new(REASONS);
        let mut t = ArpTable::new(Limits::default());
        t.insert(ip(1), [2; 6], false, &mut d, drop);
        t.insert(ip(1), [0xff; 6], false, &mut d, drop);
        assert_eq!(t.lookup(ip(1), 0, t.now()), Lookup::Unknown);
        assert!(t.unparse().starts_with("10.0.0.1 0 FF-FF-FF-FF-FF-FF "));
    }
}

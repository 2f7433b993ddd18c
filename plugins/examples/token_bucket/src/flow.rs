//! The rate limiter's data path, free of any Sluice type: flow keys from packet bytes, a
//! fixed-size flow table of token buckets, and the state format that carries the buckets
//! to a replacement. `lib.rs` wraps it as a plugin element; the `plugin` benchmark wraps
//! the same file as a built-in element, so the two differ only in how they are called.

/// Where the IPv4 header starts in a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    /// After an Ethernet header (type 0x0800, or one 802.1Q tag then 0x0800), else at byte
    /// 0 when that looks like an IPv4 header.
    Auto,
    /// At this byte offset (14 after Ethernet, 0 for bare IP).
    At(usize),
}

/// An IPv4 5-tuple. Ports are 0 for protocols without ports and for non-first fragments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowKey {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
}

impl FlowKey {
    #[inline]
    fn hash(&self) -> u64 {
        let a = u64::from(u32::from_ne_bytes(self.src)) << 32 | u64::from(u32::from_ne_bytes(self.dst));
        let b = u64::from(self.sport) << 24 | u64::from(self.dport) << 8 | u64::from(self.proto);
        let h = (a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        h ^ (h >> 29)
    }
}

const ETHERTYPE_IP: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_VLAN: [u8; 2] = [0x81, 0x00];

#[inline]
fn looks_like_ipv4(data: &[u8], at: usize) -> bool {
    data.get(at).is_some_and(|b| b >> 4 == 4 && b & 0x0F >= 5)
}

/// The 5-tuple of an IPv4 packet, or `None` when the bytes hold no (whole) IPv4 header.
#[inline]
pub fn flow_key(data: &[u8], offset: Offset) -> Option<FlowKey> {
    let at = match offset {
        Offset::At(o) => o,
        Offset::Auto => {
            if data.len() >= 34 && data[12..14] == ETHERTYPE_IP {
                14
            } else if data.len() >= 38 && data[12..14] == ETHERTYPE_VLAN && data[16..18] == ETHERTYPE_IP {
                18
            } else {
                0
            }
        }
    };
    if !looks_like_ipv4(data, at) {
        return None;
    }
    let ip = data.get(at..)?;
    let ihl = usize::from(ip[0] & 0x0F) * 4;
    if ip.len() < ihl.max(20) {
        return None;
    }
    let proto = ip[9];
    let fragment_offset = u16::from_be_bytes([ip[6], ip[7]]) & 0x1FFF;
    let mut key = FlowKey {
        src: [ip[12], ip[13], ip[14], ip[15]],
        dst: [ip[16], ip[17], ip[18], ip[19]],
        sport: 0,
        dport: 0,
        proto,
    };
    // TCP, UDP, DCCP, SCTP, UDP-Lite: ports first in the header.
    if matches!(proto, 6 | 17 | 33 | 132 | 136) && fragment_offset == 0 && ip.len() >= ihl + 4 {
        key.sport = u16::from_be_bytes([ip[ihl], ip[ihl + 1]]);
        key.dport = u16::from_be_bytes([ip[ihl + 2], ip[ihl + 3]]);
    }
    Some(key)
}

/// One flow's bucket.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    key: FlowKey,
    used: bool,
    /// Tokens at `last_ns` (at most BURST).
    tokens: f64,
    last_ns: u64,
}

/// Ways per set of the flow table: a flow lives in one of 4 slots chosen by its hash.
const WAYS: usize = 4;
/// Most flows a table may hold.
pub const MAX_FLOWS: usize = 1 << 22;

/// Counters of a limiter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// IPv4 packets within their flow's rate.
    pub passed: u64,
    /// IPv4 packets over their flow's rate.
    pub limited: u64,
    /// Packets without an IPv4 header (passed, not limited).
    pub non_ip: u64,
    /// Flows pushed out of a full table set by a new flow.
    pub evictions: u64,
}

/// Per-flow token buckets in a fixed table allocated once: no allocation per packet.
///
/// A flow may send BURST packets at once, then RATE packets per second. When the 4 slots
/// of a flow's set are taken, a new flow replaces the one seen longest ago (which starts
/// afresh, with a full bucket, if it comes back).
pub struct Limiter {
    rate: f64,
    rate_per_ns: f64,
    burst: f64,
    entries: Box<[Entry]>,
    /// Sets minus one (sets are a power of two).
    set_mask: usize,
    pub counts: Counts,
}

impl Limiter {
    /// RATE packets per second (≥ 0), BURST packets (≥ 1), room for at least `flows` flows.
    pub fn new(rate: f64, burst: u32, flows: usize) -> Limiter {
        let slots = flows.clamp(WAYS, MAX_FLOWS).next_power_of_two();
        let mut l = Limiter {
            rate: 0.0,
            rate_per_ns: 0.0,
            burst: f64::from(burst.max(1)),
            entries: vec![Entry::default(); slots].into_boxed_slice(),
            set_mask: slots / WAYS - 1,
            counts: Counts::default(),
        };
        l.set_rate(rate);
        l
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn set_rate(&mut self, rate: f64) {
        self.rate = rate.max(0.0);
        self.rate_per_ns = self.rate / 1e9;
    }

    pub fn burst(&self) -> u32 {
        self.burst as u32
    }

    pub fn set_burst(&mut self, burst: u32) {
        self.burst = f64::from(burst.max(1));
        for e in self.entries.iter_mut() {
            e.tokens = e.tokens.min(self.burst);
        }
    }

    /// Slots in the table.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Flows in the table.
    pub fn flows(&self) -> usize {
        self.entries.iter().filter(|e| e.used).count()
    }

    /// Forget every flow and zero the counters.
    pub fn reset(&mut self) {
        self.entries.fill(Entry::default());
        self.counts = Counts::default();
    }

    /// Decide one packet at time `now_ns` (non-decreasing): true to pass it.
    #[inline]
    pub fn decide(&mut self, data: &[u8], offset: Offset, now_ns: u64) -> bool {
        match flow_key(data, offset) {
            Some(key) => {
                let ok = self.admit(&key, now_ns);
                if ok {
                    self.counts.passed += 1;
                } else {
                    self.counts.limited += 1;
                }
                ok
            }
            None => {
                self.counts.non_ip += 1;
                true
            }
        }
    }

    /// Take a token from `key`'s bucket at `now_ns`; false when it has none.
    #[inline]
    pub fn admit(&mut self, key: &FlowKey, now_ns: u64) -> bool {
        let (rate_per_ns, burst) = (self.rate_per_ns, self.burst);
        let e = self.slot(key, now_ns);
        let elapsed = now_ns.saturating_sub(e.last_ns);
        e.last_ns = e.last_ns.max(now_ns);
        e.tokens = (e.tokens + elapsed as f64 * rate_per_ns).min(burst);
        if e.tokens >= 1.0 {
            e.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The entry of `key`, made (with a full bucket) when the flow is new.
    #[inline]
    fn slot(&mut self, key: &FlowKey, now_ns: u64) -> &mut Entry {
        let base = (key.hash() as usize & self.set_mask) * WAYS;
        let set = &mut self.entries[base..base + WAYS];
        let mut pick = 0;
        let mut found = None;
        for (i, e) in set.iter().enumerate() {
            if e.used && e.key == *key {
                found = Some(i);
                break;
            }
            // Else a free slot, else the flow seen longest ago.
            let p = &set[pick];
            if p.used && (!e.used || e.last_ns < p.last_ns) {
                pick = i;
            }
        }
        if let Some(i) = found {
            return &mut set[i];
        }
        if set[pick].used {
            self.counts.evictions += 1;
        }
        set[pick] = Entry { key: *key, used: true, tokens: self.burst, last_ns: now_ns };
        &mut set[pick]
    }

    /// The buckets and counters, for a replacement (see [`Limiter::restore`]). Times are
    /// saved as ages relative to `now_ns`, since a replacement has its own clock origin.
    ///
    /// Format, little-endian: `TBKT`, format 1 (u32), passed, limited, non_ip, evictions
    /// (u64 each), number of flows (u32), then per flow: src (4 bytes), dst (4), sport
    /// (u16), dport (u16), proto (u8), tokens (f64), age in ns (u64).
    pub fn save(&self, now_ns: u64) -> Vec<u8> {
        let flows: Vec<&Entry> = self.entries.iter().filter(|e| e.used).collect();
        let mut v = Vec::with_capacity(44 + flows.len() * 29);
        v.extend_from_slice(STATE_TAG);
        v.extend_from_slice(&STATE_FORMAT.to_le_bytes());
        for c in [self.counts.passed, self.counts.limited, self.counts.non_ip, self.counts.evictions] {
            v.extend_from_slice(&c.to_le_bytes());
        }
        v.extend_from_slice(&(flows.len() as u32).to_le_bytes());
        for e in flows {
            v.extend_from_slice(&e.key.src);
            v.extend_from_slice(&e.key.dst);
            v.extend_from_slice(&e.key.sport.to_le_bytes());
            v.extend_from_slice(&e.key.dport.to_le_bytes());
            v.push(e.key.proto);
            v.extend_from_slice(&e.tokens.to_le_bytes());
            v.extend_from_slice(&now_ns.saturating_sub(e.last_ns).to_le_bytes());
        }
        v
    }

    /// Take over what [`Limiter::save`] wrote (maybe by another version of the plugin, with
    /// another table size or BURST): counters add up, buckets keep their tokens (at most
    /// BURST) and ages. Returns false, changing nothing, for bytes in an unknown format.
    pub fn restore(&mut self, bytes: &[u8], now_ns: u64) -> bool {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4) != Some(STATE_TAG) || r.u32() != Some(STATE_FORMAT) {
            return false;
        }
        let (Some(passed), Some(limited), Some(non_ip), Some(evictions), Some(n)) =
            (r.u64(), r.u64(), r.u64(), r.u64(), r.u32())
        else {
            return false;
        };
        if bytes.len() != r.at + n as usize * 29 {
            return false;
        }
        self.counts.passed += passed;
        self.counts.limited += limited;
        self.counts.non_ip += non_ip;
        self.counts.evictions += evictions;
        for _ in 0..n {
            let key = FlowKey {
                src: r.take(4).and_then(|b| b.try_into().ok()).unwrap_or_default(),
                dst: r.take(4).and_then(|b| b.try_into().ok()).unwrap_or_default(),
                sport: r.u16().unwrap_or(0),
                dport: r.u16().unwrap_or(0),
                proto: r.take(1).map_or(0, |b| b[0]),
            };
            let tokens = r.u64().map_or(0.0, f64::from_bits);
            let last = now_ns.saturating_sub(r.u64().unwrap_or(0));
            let burst = self.burst;
            let e = self.slot(&key, last);
            e.tokens = if tokens.is_finite() { tokens.clamp(0.0, burst) } else { burst };
            e.last_ns = last;
        }
        true
    }
}

const STATE_TAG: &[u8; 4] = b"TBKT";
const STATE_FORMAT: u32 = 1;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + IPv4 + UDP from `src`:`sport` to 10.0.0.2:53.
    pub fn udp(src: [u8; 4], sport: u16) -> Vec<u8> {
        let mut p = vec![0u8; 14 + 20 + 8 + 18];
        p[12..14].copy_from_slice(&ETHERTYPE_IP);
        let ip = &mut p[14..];
        ip[0] = 0x45;
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        ip[20..22].copy_from_slice(&sport.to_be_bytes());
        ip[22..24].copy_from_slice(&53u16.to_be_bytes());
        p
    }

    #[test]
    fn keys_after_ethernet_vlan_or_at_the_ip_header() {
        let p = udp([10, 0, 0, 1], 1234);
        let k = flow_key(&p, Offset::Auto).unwrap();
        assert_eq!((k.src, k.dst, k.sport, k.dport, k.proto), ([10, 0, 0, 1], [10, 0, 0, 2], 1234, 53, 17));
        assert_eq!(flow_key(&p, Offset::At(14)), Some(k));
        assert_eq!(flow_key(&p[14..], Offset::Auto), Some(k), "bare IP");
        assert_eq!(flow_key(&p[14..], Offset::At(0)), Some(k));
        let mut v = p[..12].to_vec();
        v.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        v.extend_from_slice(&p[12..]);
        assert_eq!(flow_key(&v, Offset::Auto), Some(k), "802.1Q");
        // Not IPv4, truncated, or a later fragment (no ports).
        assert_eq!(flow_key(b"Random bullshit in a packet, at least 64 bytes long.", Offset::Auto), None);
        assert_eq!(flow_key(&p[..30], Offset::Auto), None);
        let mut f = p.clone();
        f[14 + 7] = 1;
        assert_eq!(flow_key(&f, Offset::Auto).map(|k| (k.sport, k.dport)), Some((0, 0)));
    }

    #[test]
    fn burst_then_rate() {
        let mut l = Limiter::new(1000.0, 5, 64);
        let a = udp([1, 1, 1, 1], 1);
        let b = udp([2, 2, 2, 2], 2);
        let passed = (0..10).filter(|_| l.decide(&a, Offset::Auto, 0)).count();
        assert_eq!(passed, 5, "a burst of 5");
        assert!(l.decide(&b, Offset::Auto, 0), "another flow has its own bucket");
        assert!(!l.decide(&a, Offset::Auto, 500_000), "half a token after 0.5 ms");
        assert!(l.decide(&a, Offset::Auto, 1_000_000), "one token after 1 ms");
        assert!(!l.decide(&a, Offset::Auto, 1_000_000));
        assert!(l.decide(b"not ip", Offset::Auto, 0));
        assert_eq!(l.counts, Counts { passed: 7, limited: 7, non_ip: 1, evictions: 0 });
        assert_eq!(l.flows(), 2);
    }

    #[test]
    fn a_full_set_evicts_the_flow_seen_longest_ago() {
        let mut l = Limiter::new(0.0, 1, 4); // one set of 4
        for i in 0..4u8 {
            assert!(l.decide(&udp([9, 9, 9, i], 1), Offset::Auto, u64::from(i)));
        }
        assert_eq!((l.flows(), l.counts.evictions), (4, 0));
        assert!(l.decide(&udp([9, 9, 9, 4], 1), Offset::Auto, 10), "new flow, full bucket");
        assert_eq!((l.flows(), l.counts.evictions), (4, 1));
        assert!(l.decide(&udp([9, 9, 9, 0], 1), Offset::Auto, 11), "flow 0 was evicted: afresh");
        assert!(!l.decide(&udp([9, 9, 9, 2], 1), Offset::Auto, 12), "flow 2 kept its empty bucket");
    }

    #[test]
    fn state_round_trip_keeps_buckets_and_counts() {
        let mut l = Limiter::new(0.0, 3, 256);
        let flows: Vec<Vec<u8>> = (0..50u8).map(|i| udp([10, 1, 0, i], 100 + u16::from(i))).collect();
        for f in &flows {
            for _ in 0..5 {
                l.decide(f, Offset::Auto, 1_000);
            }
        }
        let saved = l.save(2_000);
        let mut m = Limiter::new(0.0, 3, 1024);
        assert!(m.restore(&saved, 5_000_000));
        assert_eq!(m.counts, l.counts);
        assert_eq!(m.flows(), 50);
        assert!(flows.iter().all(|f| !m.decide(f, Offset::Auto, 5_000_001)), "every bucket stays empty");
        assert!(!m.restore(b"TBKT\x02\0\0\0", 0), "unknown format");
        assert!(!m.restore(&saved[..saved.len() - 1], 0), "truncated");
        assert_eq!(m.flows(), 50, "a refused state changes nothing");
    }
}

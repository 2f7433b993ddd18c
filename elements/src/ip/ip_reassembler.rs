//! `IPReassembler`: reassembles fragmented IP packets.

use super::common::{ip_fixed, nh_offset};
use crate::standard::anno::AnnoByte;
use crate::wire::ipv4;
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::packet::USER_ANNO_BYTES;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// IPReassembler([KEYWORDS])
    ///
    /// Reassembles fragmented IP packets.
    ///
    /// Expects IP packets as input to port 0, with the IP header annotation set.
    /// Non-fragments pass straight through. Fragments are held until all the fragments of
    /// a datagram (same source, destination, protocol and IP ID) have arrived; the whole
    /// datagram is then emitted on output 0, with the link-level bytes and the IP header
    /// (options included) of the fragment at offset 0, that fragment's annotations, the
    /// timestamp of the fragment that completed it, a fresh total length and checksum,
    /// and the flags of the first fragment received with MF cleared. Overlapping data is
    /// overwritten by the newest fragment, as in Click.
    ///
    /// Time is taken from the fragments' timestamp annotations (set to now when 0).
    /// Every 10 seconds, datagrams that have been dormant for 30 seconds are given up: if
    /// IPReassembler has two outputs, a packet with all the received fragments at their
    /// offsets (holes zeroed) is pushed onto output 1; otherwise they are dropped. Memory
    /// is bounded: above HIMEM bytes (40 per datagram plus its data), old datagrams are
    /// given up the same way (first those 10 seconds old, then 5, then any) until use
    /// falls below 3/4 HIMEM.
    ///
    /// Bad fragments are dropped and counted: total length not beyond the header, end
    /// beyond 65535, a non-final fragment whose end is not a multiple of 8, or fewer bytes
    /// than the IP length announces; so are fragments reaching beyond the end of a
    /// datagram whose last fragment was seen.
    ///
    /// Deviations from Click: when the fragment at offset 0 arrives after others and has
    /// a longer IP header (options), Click misplaces the data by the difference; Sluice
    /// keeps it in place. Click's queue of a datagram whose first fragment has not arrived
    /// has timestamp 0 (reaped at the next reap); Sluice keeps that quirk. The `dump`
    /// handler prints each held datagram as `SRC > DST ID (OFF,LASTOFF)...` instead of
    /// Click's flow ID.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `HIMEM` — unsigned. Memory bound in bytes. Default 262144.
    /// - `MAX_MTU_ANNO` — 2-byte annotation offset (0..46). If given, reassembled packets
    ///   carry there the largest fragment size (host order).
    ///
    /// # Handlers
    /// - `dump` (read) — statistics and the datagrams being reassembled.
    /// - `drops` (read) — fragments dropped, and datagrams given up without output 1.
    /// - `drop_details` (read) — those by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> CheckIPHeader -> r :: IPReassembler -> ...;
    /// r[1] -> ICMPError(18.26.4.24, timeexceeded, reassembly) -> ...;
    /// ```
    pub const IP_REASSEMBLER = "IPReassembler" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("dump", Combine::First, "statistics and datagrams being reassembled"),
    HandlerSpec::read("drops", Combine::Sum, "fragments and datagrams dropped"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] =
    &["bad fragment", "fragment beyond the datagram's end", "incomplete datagram given up", "no IP header"];
const BAD: usize = 0;
const BEYOND: usize = 1;
const GIVEN_UP: usize = 2;
const NO_HEADER: usize = 3;

const REAP_TIMEOUT: u64 = 30;
const REAP_INTERVAL: u64 = 10;
const IPH_MEM_USED: u64 = 40;
const NMAP: usize = 256;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let himem = args.read_kw::<u32>("HIMEM")?.unwrap_or(256 * 1024) as u64;
    let mtu_anno = match args.read_kw::<String>("MAX_MTU_ANNO")? {
        None => None,
        Some(s) => match u8::from_arg(&s) {
            Ok(o) if (o as usize) + 2 <= USER_ANNO_BYTES => Some(o),
            _ => return Err(format!("MAX_MTU_ANNO: expected 2-byte annotation offset, found '{s}'").into()),
        },
    };
    args.finish()?;
    Ok(Box::new(IPReassembler {
        map: (0..NMAP).map(|_| Vec::new()).collect(),
        spare: Vec::new(),
        reap_time: 0,
        frags_seen: 0,
        good: 0,
        failed: 0,
        bad: 0,
        mem_used: 0,
        himem,
        lomem: (himem >> 2) * 3,
        mtu_anno,
        drops: DropCounts::new(REASONS),
    }))
}

/// What identifies a datagram: source, destination, IP ID, protocol (Click's
/// `same_segment`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key {
    src: [u8; 4],
    dst: [u8; 4],
    id: u16,
    proto: u8,
}

/// A datagram being reassembled.
struct Queue {
    key: Key,
    /// Link-level bytes, IP header, then data at offsets 0.. (holes zeroed).
    pkt: Packet,
    /// The IP header's offset and length in `pkt`.
    nh: usize,
    hl: usize,
    /// Received byte ranges of the data, sorted, disjoint, not touching.
    chunks: Vec<(usize, usize)>,
    /// Seconds of the queue's timestamp (Click's `q->timestamp_anno().sec()`).
    ts_sec: u64,
}

impl Queue {
    /// Bytes of data the queue holds room for (Click's `transport_length`).
    fn extent(&self) -> usize {
        self.pkt.len() - self.nh - self.hl
    }

    /// The flags and offset word of the queue's IP header.
    fn ip_off(&self) -> u16 {
        let d = self.pkt.data();
        u16::from_be_bytes([d[self.nh + 6], d[self.nh + 7]])
    }

    fn set_ip_off(&mut self, v: u16) {
        let nh = self.nh;
        self.pkt.data_mut()[nh + 6..nh + 8].copy_from_slice(&v.to_be_bytes());
    }

    /// Add `[off, lastoff)` to the received ranges.
    fn add_chunk(&mut self, off: usize, lastoff: usize) {
        let c = &mut self.chunks;
        // First chunk that reaches `off` (touching counts), as Click's walk.
        let i = c.iter().position(|&(_, l)| l >= off).unwrap_or(c.len());
        let mut j = i;
        let (mut lo, mut hi) = (off, lastoff);
        while j < c.len() && c[j].0 <= lastoff {
            lo = lo.min(c[j].0);
            hi = hi.max(c[j].1);
            j += 1;
        }
        c.splice(i..j, std::iter::once((lo, hi)));
    }

    fn complete(&self) -> bool {
        self.ip_off() & ipv4::FLAG_MF == 0 && self.chunks.len() == 1 && self.chunks[0] == (0, self.extent())
    }
}

/// The element: the datagrams in progress, statistics, memory accounting.
pub struct IPReassembler {
    map: Vec<Vec<Queue>>,
    /// Emptied chunk lists, reused so that new datagrams do not allocate.
    spare: Vec<Vec<(usize, usize)>>,
    reap_time: u64,
    frags_seen: u64,
    good: u64,
    failed: u64,
    bad: u64,
    mem_used: u64,
    himem: u64,
    lomem: u64,
    mtu_anno: Option<u8>,
    drops: DropCounts,
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Store `v` in the 2-byte annotation at `anno` (host order), if configured.
fn set_mtu_anno(anno: Option<u8>, p: &mut Packet, v: u16) {
    if let Some(o) = anno {
        let b = v.to_ne_bytes();
        AnnoByte(o).set(p, b[0]);
        AnnoByte(o + 1).set(p, b[1]);
    }
}

/// The 2-byte annotation at `anno`, or 0.
fn mtu_anno_of(anno: Option<u8>, p: &Packet) -> u16 {
    anno.map_or(0, |o| u16::from_ne_bytes([AnnoByte(o).get(p), AnnoByte(o + 1).get(p)]))
}

impl IPReassembler {
    /// Give up a queue: to output 1 (collected in `out1`) or dropped.
    fn give_up(&mut self, q: Queue, out1: &mut Vec<Packet>, has_out1: bool) {
        self.mem_used -= IPH_MEM_USED + q.extent() as u64;
        let Queue { pkt, mut chunks, .. } = q;
        chunks.clear();
        self.spare.push(chunks);
        if has_out1 {
            out1.push(pkt);
        } else {
            self.drops.count(GIVEN_UP, 1);
        }
    }

    /// Click's `reap`: give up datagrams dormant for REAP_TIMEOUT seconds.
    fn reap(&mut self, now: u64, out1: &mut Vec<Packet>, has_out1: bool) {
        let kill_time = now.saturating_sub(REAP_TIMEOUT);
        for b in 0..NMAP {
            let mut i = 0;
            while i < self.map[b].len() {
                if self.map[b][i].ts_sec < kill_time {
                    let q = self.map[b].remove(i);
                    self.give_up(q, out1, has_out1);
                } else {
                    i += 1;
                }
            }
        }
        self.reap_time = now + REAP_INTERVAL;
    }

    /// Click's `reap_overfull`.
    fn reap_overfull(&mut self, now: u64, out1: &mut Vec<Packet>, has_out1: bool) {
        for delta in [10u64, 5, 0] {
            for b in 0..NMAP {
                let mut i = 0;
                while i < self.map[b].len() {
                    if delta == 0 || self.map[b][i].ts_sec + delta < now {
                        let q = self.map[b].remove(i);
                        self.give_up(q, out1, has_out1);
                        self.failed += 1;
                        if self.mem_used <= self.lomem {
                            return;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
        }
    }

    /// Click's `simple_action`: the packet to emit on output 0, if any.
    fn process(&mut self, mut p: Packet, out1: &mut Vec<Packet>, has_out1: bool) -> Option<Packet> {
        let (Some(ip), Some(pnh)) = (ip_fixed(&p), nh_offset(&p)) else {
            self.drops.count(NO_HEADER, 1);
            return None;
        };
        if !ip.is_fragment() {
            return Some(p);
        }
        self.frags_seen += 1;
        let key = Key { src: ip.src_bytes(), dst: ip.dst_bytes(), id: ip.ident(), proto: ip.protocol() };
        let phl = ip.header_len() as usize;
        let p_off = ip.frag_offset() as usize;
        let p_lastoff = (p_off + ip.total_len() as usize) as isize - phl as isize;
        let p_mf = ip.more_frags();
        let mut ts = p.anno().timestamp_ns;
        if ts / 1_000_000_000 == 0 {
            ts = now_ns();
            p.anno_mut().timestamp_ns = ts;
        }
        let now = ts / 1_000_000_000;
        if now >= self.reap_time {
            self.reap(now, out1, has_out1);
        }
        let dlen = p.len() as isize - pnh as isize - phl as isize;
        if p_lastoff > 0xffff
            || p_lastoff <= p_off as isize
            || (p_lastoff & 7 != 0 && p_mf)
            || dlen < p_lastoff - p_off as isize
            || phl < ipv4::HEADER_LEN
        {
            self.bad += 1;
            self.drops.count(BAD, 1);
            return None;
        }
        let p_lastoff = p_lastoff as usize;
        p.take((dlen as usize) - (p_lastoff - p_off));
        if self.mem_used > self.himem {
            self.reap_overfull(now, out1, has_out1);
        }
        let bucket = (key.id as usize) % NMAP;
        let Some(qi) = self.map[bucket].iter().position(|q| q.key == key) else {
            self.make_queue(p, key, pnh, phl, p_off, p_lastoff, bucket);
            return None;
        };
        let net_len = (p.len() - pnh) as u16;
        let anno = self.mtu_anno;
        let q = &mut self.map[bucket][qi];
        if anno.is_some() && mtu_anno_of(anno, &q.pkt) < net_len {
            set_mtu_anno(anno, &mut q.pkt, net_len);
        }
        let old_extent = q.extent();
        if p_lastoff > old_extent {
            if q.ip_off() & ipv4::FLAG_MF == 0 {
                self.drops.count(BEYOND, 1);
                return None;
            }
            q.pkt.put(p_lastoff - old_extent);
            let end = q.pkt.len();
            q.pkt.data_mut()[end - (p_lastoff - old_extent)..].fill(0);
            self.mem_used += (p_lastoff - old_extent) as u64;
        }
        let q = &mut self.map[bucket][qi];
        q.add_chunk(p_off, p_lastoff);
        let base = q.nh + q.hl;
        q.pkt.data_mut()[base + p_off..base + p_lastoff]
            .copy_from_slice(&p.data()[pnh + phl..pnh + phl + p_lastoff - p_off]);
        if p_off == 0 {
            // The first fragment's link-level bytes, IP header and annotations.
            let old_ip_off = q.ip_off();
            let (old_prefix, new_prefix) = (q.nh + q.hl, pnh + phl);
            if new_prefix > old_prefix {
                q.pkt.push(new_prefix - old_prefix);
            } else {
                q.pkt.pull(old_prefix - new_prefix);
            }
            q.pkt.data_mut()[..new_prefix].copy_from_slice(&p.data()[..new_prefix]);
            q.nh = pnh;
            q.hl = phl;
            q.pkt.set_network_header(pnh, phl);
            let old_mtu = mtu_anno_of(anno, &q.pkt);
            *q.pkt.anno_mut() = p.anno().clone();
            q.pkt.set_network_header(pnh, phl);
            set_mtu_anno(anno, &mut q.pkt, old_mtu);
            q.set_ip_off(old_ip_off);
            q.ts_sec = now;
        }
        let q = &mut self.map[bucket][qi];
        if !p_mf {
            let v = q.ip_off() & !ipv4::FLAG_MF;
            q.set_ip_off(v);
        }
        if !q.complete() {
            return None;
        }
        // Emit the whole datagram.
        let q = self.map[bucket].remove(qi);
        self.good += 1;
        self.mem_used -= IPH_MEM_USED + q.extent() as u64;
        let Queue { mut pkt, nh, hl, mut chunks, .. } = q;
        chunks.clear();
        self.spare.push(chunks);
        let total = (pkt.len() - nh) as u16;
        if let Ok(mut ip) = ipv4::Packet::new_fixed(&mut pkt.data_mut()[nh..]) {
            ip.set_total_len(total);
            ip.set_checksum(0);
            let c = crate::wire::checksum::in_cksum(&ip.header()[..hl]);
            ip.set_checksum(c);
        }
        pkt.anno_mut().timestamp_ns = p.anno().timestamp_ns;
        Some(pkt)
    }

    /// Click's `make_queue`.
    #[allow(clippy::too_many_arguments)]
    fn make_queue(
        &mut self,
        p: Packet,
        key: Key,
        pnh: usize,
        phl: usize,
        p_off: usize,
        p_lastoff: usize,
        bucket: usize,
    ) {
        let net_len = (p.len() - pnh) as u16;
        let (mut pkt, nh, hl, ts_sec) = if p_off == 0 {
            let ts = p.anno().timestamp_ns / 1_000_000_000;
            (p, pnh, phl, ts)
        } else {
            let mut q = Packet::with_room(p.headroom() + pnh, ipv4::HEADER_LEN + p_lastoff, 0);
            let d = q.data_mut();
            d[..ipv4::HEADER_LEN].copy_from_slice(&p.data()[pnh..pnh + ipv4::HEADER_LEN]);
            d[ipv4::HEADER_LEN..ipv4::HEADER_LEN + p_off].fill(0);
            d[ipv4::HEADER_LEN + p_off..].copy_from_slice(&p.data()[pnh + phl..pnh + phl + p_lastoff - p_off]);
            // Only the first 20 header bytes were copied: the header length says 20.
            d[0] = (d[0] & 0xf0) | 5;
            q.set_network_header(0, ipv4::HEADER_LEN);
            (q, 0, ipv4::HEADER_LEN, 0)
        };
        self.mem_used += IPH_MEM_USED + p_lastoff as u64;
        // Keep MF, DF and RF; clear the offset.
        let off_word = u16::from_be_bytes([pkt.data()[nh + 6], pkt.data()[nh + 7]]) & !ipv4::OFFSET_MASK;
        pkt.data_mut()[nh + 6..nh + 8].copy_from_slice(&off_word.to_be_bytes());
        set_mtu_anno(self.mtu_anno, &mut pkt, if p_off == 0 { net_len } else { (hl + p_lastoff) as u16 });
        let mut chunks = self.spare.pop().unwrap_or_default();
        chunks.push((p_off, p_lastoff));
        self.map[bucket].insert(0, Queue { key, pkt, nh, hl, chunks, ts_sec });
    }

    fn run(&mut self, batch: Batch, has_out1: bool) -> (Batch, Vec<Packet>) {
        let mut out = Batch::new();
        let mut out1 = Vec::new();
        for p in batch {
            if let Some(q) = self.process(p, &mut out1, has_out1) {
                // At most one output per input: `out` cannot overflow.
                let _ = out.push(q);
            }
        }
        (out, out1)
    }

    fn flush_out1(out1: Vec<Packet>, ctx: &mut Ctx<'_>) {
        let mut b = Batch::new();
        for p in out1 {
            if let Err(p) = b.push(p) {
                ctx.push(1, std::mem::take(&mut b));
                let _ = b.push(p);
            }
        }
        ctx.push(1, b);
    }

    fn dump(&self) -> String {
        let mut s = format!(
            "frags seen total:    {}\ngood reassemblies:   {}\nfailed reassemblies: {}\nbad fragments seen:  {}\ncached chunk data:\n",
            self.frags_seen, self.good, self.failed, self.bad
        );
        for q in self.map.iter().flatten() {
            let _ = write!(
                s,
                " {} > {} {}",
                std::net::Ipv4Addr::from(q.key.src),
                std::net::Ipv4Addr::from(q.key.dst),
                q.key.id
            );
            for (o, l) in &q.chunks {
                let _ = write!(s, " ({o},{l})");
            }
            s.push('\n');
        }
        s
    }
}

impl Element for IPReassembler {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let has_out1 = ctx.noutputs() > 1;
        let (out, out1) = self.run(batch, has_out1);
        if !out1.is_empty() {
            Self::flush_out1(out1, &mut ctx);
        }
        ctx.push(0, out);
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        let has_out1 = ctx.noutputs() > 1;
        let (out, out1) = self.run(batch, has_out1);
        if !out1.is_empty() {
            Self::flush_out1(out1, &mut ctx);
        }
        out
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "dump" => Some(self.dump()),
            _ => self.drops.read_handler(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, num, run_capture};
    use crate::wire::checksum;
    use sluice::testing::run_element;

    #[test]
    fn reassembles_the_fragments_of_a_capture() {
        // tcpdump__afs.pcap: 200 UDP fragments. Reassembled, every datagram's UDP length
        // matches its IP length and its UDP checksum verifies; nothing stays behind.
        let (out, r) = run_capture(
            "tcpdump__afs.pcap",
            "CheckIPHeader(14) -> r :: IPReassembler -> CheckUDPHeader -> u :: Counter",
        );
        let dump = r.read_handler("r", "dump").unwrap();
        assert!(dump.starts_with("frags seen total:    200\n"), "{dump}");
        let good: u64 = dump.lines().nth(1).unwrap().rsplit(' ').next().unwrap().parse().unwrap();
        assert!(good > 0);
        assert!(dump.ends_with("cached chunk data:\n"), "all complete: {dump}");
        assert_eq!(num(&r, "r", "drops"), 0);
        // 376 unfragmented datagrams plus the reassembled ones, all valid UDP.
        assert_eq!(out.len() as u64, 376 + good);
        for p in &out {
            let ip = ipv4::Packet::new_checked(&p.data()[14..]).unwrap();
            assert!(ip.verify_checksum() && !ip.is_fragment());
        }
    }

    #[test]
    fn any_order_gives_the_same_datagram() {
        // Split a 1500-byte UDP datagram into fragments by hand, feed them reversed and
        // with a duplicate: the original comes back.
        let (orig, _) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> r :: IPReassembler -> CheckUDPHeader");
        let big = orig.iter().filter(|p| p.len() > 600).max_by_key(|p| p.len()).unwrap();
        let whole = big.data()[14..].to_vec();
        let frag = |off: usize, len: usize, mf: bool| {
            let mut d = whole[..20].to_vec();
            d.extend_from_slice(&whole[20 + off..20 + off + len]);
            let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
            ip.set_total_len((20 + len) as u16);
            // Keep the capture's DF bit (its fragments carry it).
            let df = u16::from_be_bytes([whole[6], whole[7]]) & ipv4::FLAG_DF;
            ip.set_flags_frag(df | ((off / 8) as u16) | if mf { ipv4::FLAG_MF } else { 0 });
            ip.fill_checksum();
            let mut p = Packet::from_slice(&d);
            p.set_network_header(0, 20);
            p.anno_mut().timestamp_ns = 5_000_000_000;
            p
        };
        let n = whole.len() - 20;
        let a = 8 * ((n / 3) / 8);
        let input = vec![frag(2 * a, n - 2 * a, false), frag(a, a, true), frag(a, a, true), frag(0, a, true)];
        let (out, r) = run_element(&IP_REASSEMBLER, "", 1, input).unwrap();
        assert_eq!(out[0].len(), 1);
        let got = out[0][0].data();
        let first_diff = got.iter().zip(&whole).position(|(a, b)| a != b);
        assert_eq!((got.len(), first_diff), (whole.len(), None), "{:02x?} {:02x?}", &got[..8], &whole[..8]);
        assert_eq!(checksum::in_cksum(&out[0][0].data()[..20]), 0);
        assert!(r.read_handler("e", "dump").unwrap().contains("good reassemblies:   1\n"));
    }

    #[test]
    fn incomplete_datagrams_are_given_up_to_output_1() {
        let mut p = frames("tcpdump__afs.pcap").into_iter().find(|p| p.data()[20] & 0x20 != 0).unwrap();
        p.set_network_header(14, 20);
        p.anno_mut().timestamp_ns = 1_000_000_000_000;
        let mut later = frames("snabb__v4.pcap").swap_remove(0);
        later.set_network_header(14, 20);
        later.data_mut()[20] = 0x20; // a fragment of another datagram, 40 s later
        later.anno_mut().timestamp_ns = 1_040_000_000_000;
        let (out, r) = run_element(&IP_REASSEMBLER, "", 2, vec![p, later]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (0, 1));
        assert!(r.read_handler("e", "dump").unwrap().contains("frags seen total:    2"));
        // A bad fragment: middle fragment whose length is not a multiple of 8.
        let mut bad = frames("tcpdump__afs.pcap").into_iter().find(|p| p.data()[20] & 0x20 != 0).unwrap();
        bad.set_network_header(14, 20);
        let l = u16::from_be_bytes([bad.data()[16], bad.data()[17]]) - 1;
        bad.data_mut()[16..18].copy_from_slice(&l.to_be_bytes());
        let (_, r) = run_element(&IP_REASSEMBLER, "HIMEM 1000, MAX_MTU_ANNO 4", 1, vec![bad]).unwrap();
        assert!(r.read_handler("e", "drop_details").unwrap().starts_with("1 bad fragment"));
    }
}

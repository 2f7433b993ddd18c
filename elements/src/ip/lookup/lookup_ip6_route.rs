//! `LookupIP6Route`: IPv6 routing table.

use super::table::{bad_output, strip_comment, FastMap};
use super::{dst_ip6_anno, set_dst_ip6_anno};
use sluice::args::{Args, FromArg, Ipv6Prefix};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, MAX_BATCH};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv6Addr;

sluice::element_class! {
    /// LookupIP6Route(DST1/MASK1 [GW1] OUT1, DST2/MASK2 [GW2] OUT2, ...)
    ///
    /// IPv6 routing table.
    ///
    /// Input: IPv6 packets (no Ethernet header). Expects a destination IPv6 address
    /// annotation with each packet. Looks up the address (longest-prefix match), sets the
    /// destination annotation to the corresponding GW (if not zero), and emits the packet on
    /// the indicated OUTput. Packets with no route are dropped and counted (`drops`).
    ///
    /// Each argument is a route: a destination and mask (`3ffe:1ce1:2::/48`, or an address
    /// alone for a /128), an optional gateway (`::` or none meaning no gateway), and an
    /// output port. A later route for the same destination and mask replaces an earlier one.
    ///
    /// The destination IPv6 annotation is Click's `DST_IP6_ANNO`: bytes 0 to 15 of Click's
    /// annotation area (where GetIP6Address puts it), which overlap the IPv4 destination
    /// annotation. Routes are kept in one
    /// hash table per prefix length; for each value of the address's first 16 bits the
    /// element knows which lengths can match, and tries those from the longest down.
    ///
    /// Ports: 1 input, push; any number of outputs, push.
    ///
    /// # Keywords
    /// None: every argument is a route.
    ///
    /// # Handlers
    /// - `table` (read) — `# Active routes`, then one route per line: `DST/LEN`, `GW` and
    ///   `OUT`, separated by tabs.
    /// - `add` (write) — adds a route, `DST/MASK [GW] OUT`, replacing any route for
    ///   `DST/MASK`.
    /// - `remove` (write) — removes the route for `DST/MASK`, if there is one.
    /// - `ctrl` (write) — `add ROUTE` or `remove DST/MASK`, one command per line, applied
    ///   all or none.
    /// - `lookup` (read/write) — a Sluice addition: write an address, then read `OUT GW`
    ///   (or `OUT`) for its route, `-1` without route.
    /// - `drops` (read) — packets dropped because no route matched.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> GetIP6Address(24) -> rt;
    /// rt :: LookupIP6Route(3ffe:1ce1:2::/128 ::0 0,
    ///                      3ffe:1ce1:2:0:200::/128 ::0 0,
    ///                      3ffe:1ce1:2::/80 ::0 1,
    ///                      3ffe:1ce1:2:0:200::/80 ::0 2,
    ///                      ::/0 3ffe:1ce1:2::2 1);
    /// rt[0] -> ToHost;
    /// rt[1] -> ... -> ToDevice(eth0);
    /// rt[2] -> ... -> ToDevice(eth1);
    /// ```
    pub const LOOKUP_IP6_ROUTE = "LookupIP6Route" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("table", Combine::First, "the routes, one per line: DST/LEN, GATEWAY, OUTPUT"),
    HandlerSpec::write("add", "add or replace a route 'DST/MASK [GATEWAY] OUTPUT'"),
    HandlerSpec::write("remove", "remove the route for 'DST/MASK'"),
    HandlerSpec::write("ctrl", "add/remove commands, one per line, applied all or none"),
    HandlerSpec::read_write(
        "lookup",
        Combine::First,
        "write an address, then read the OUTPUT and GATEWAY of its route (-1: no route)",
    ),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped (no route)"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["no route"];

/// The netmask of an IPv6 prefix length.
#[inline]
fn mask6(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// An IPv6 route: destination prefix (host bits cleared), gateway (0: none), output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route6 {
    pub addr: u128,
    pub len: u8,
    pub gw: u128,
    pub port: u32,
}

/// `DST/MASK [GW] OUT` (three or two words). Errors are phrases naming the bad part.
pub fn parse_route6(text: &str) -> Result<Route6, String> {
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let shape = || format!("expected 'DST/MASK [GATEWAY] OUTPUT', found '{}'", text.trim());
    if words.len() != 2 && words.len() != 3 {
        return Err(shape());
    }
    let three = words.len() == 3;
    let mut args = Args::from_args(words);
    let e = |e: sluice::args::ArgError| e.message;
    let prefix: Ipv6Prefix = args.read_mp("DST").map_err(e)?;
    let gw: Option<Ipv6Addr> = if three { Some(args.read_mp("GATEWAY").map_err(e)?) } else { None };
    let port: u32 = args.read_mp("OUTPUT").map_err(e)?;
    args.finish().map_err(e)?;
    let len = prefix.len;
    Ok(Route6 { addr: u128::from(prefix.addr) & mask6(len), len, gw: gw.map_or(0, u128::from), port })
}

/// The prefix of a `remove` command: `DST/MASK`.
fn parse_prefix6(text: &str) -> Result<(u128, u8), String> {
    let mut args = Args::from_args(text.split_whitespace().map(str::to_string).collect());
    let e = |e: sluice::args::ArgError| e.message;
    let prefix: Ipv6Prefix = args.read_mp("DST").map_err(e)?;
    args.finish().map_err(e)?;
    Ok((u128::from(prefix.addr) & mask6(prefix.len), prefix.len))
}

/// Routes in one hash table per prefix length, with, for each value of the first 16 bits
/// of an address, the set of prefix lengths that can match it.
#[derive(Default)]
pub struct Table6 {
    /// Routes in Click's `table` order: a new route takes the first free slot.
    slots: Vec<Option<Route6>>,
    free: BinaryHeap<Reverse<u32>>,
    /// Per prefix length: slot by masked address.
    by_len: Vec<FastMap<u128, u32>>,
    /// Per value of the first 16 bits: bit `len - 16` for every length >= 16 with a route
    /// under it.
    long: Vec<u128>,
    /// Routes per (first 16 bits, length - 16), to maintain `long`.
    long_count: FastMap<u32, u32>,
    /// Bit `len` for every length < 16 with a route.
    short: u16,
    short_count: [u32; 16],
}

impl Table6 {
    pub fn new() -> Table6 {
        Table6 { by_len: vec![FastMap::default(); 129], long: vec![0; 1 << 16], ..Table6::default() }
    }

    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The route in `slot`.
    #[inline]
    pub fn route(&self, slot: u32) -> &Route6 {
        self.slots[slot as usize].as_ref().expect("looked-up slots hold routes")
    }

    /// Add `r`, replacing any route for its prefix (returned).
    pub fn add(&mut self, r: Route6) -> Option<Route6> {
        let old = self.remove(r.addr, r.len);
        let slot = match self.free.pop() {
            Some(Reverse(s)) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[slot as usize] = Some(r);
        self.by_len[usize::from(r.len)].insert(r.addr, slot);
        if r.len >= 16 {
            let top = (r.addr >> 112) as u32;
            *self.long_count.entry(top << 8 | u32::from(r.len - 16)).or_insert(0) += 1;
            self.long[top as usize] |= 1 << (r.len - 16);
        } else {
            self.short_count[usize::from(r.len)] += 1;
            self.short |= 1 << r.len;
        }
        old
    }

    /// Remove the route for `addr/len` (host bits cleared), if any.
    pub fn remove(&mut self, addr: u128, len: u8) -> Option<Route6> {
        let slot = self.by_len[usize::from(len)].remove(&addr)?;
        self.free.push(Reverse(slot));
        let r = self.slots[slot as usize].take();
        if len >= 16 {
            let top = (addr >> 112) as u32;
            let k = top << 8 | u32::from(len - 16);
            let c = self.long_count.get_mut(&k).expect("counted when added");
            *c -= 1;
            if *c == 0 {
                self.long_count.remove(&k);
                self.long[top as usize] &= !(1 << (len - 16));
            }
        } else {
            self.short_count[usize::from(len)] -= 1;
            if self.short_count[usize::from(len)] == 0 {
                self.short &= !(1 << len);
            }
        }
        r
    }

    /// The slot of the longest route matching `addr`.
    #[inline]
    pub fn lookup(&self, addr: u128) -> Option<u32> {
        let mut long = self.long[(addr >> 112) as usize];
        while long != 0 {
            let bit = 127 - long.leading_zeros();
            let len = (bit + 16) as u8;
            if let Some(&slot) = self.by_len[usize::from(len)].get(&(addr & mask6(len))) {
                return Some(slot);
            }
            long &= !(1 << bit);
        }
        let mut short = self.short;
        while short != 0 {
            let len = (15 - short.leading_zeros()) as u8;
            if let Some(&slot) = self.by_len[usize::from(len)].get(&(addr & mask6(len))) {
                return Some(slot);
            }
            short &= !(1 << len);
        }
        None
    }

    /// Click's `IP6Table::dump`: a header once the table has held routes, then
    /// `DST/LEN<tab>GW<tab>OUT` per route.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        if !self.slots.is_empty() {
            out.push_str("# Active routes\n");
        }
        for r in self.slots.iter().flatten() {
            out.push_str(&format!("{}/{}\t{}\t{}\n", Ipv6Addr::from(r.addr), r.len, Ipv6Addr::from(r.gw), r.port));
        }
        out
    }

    /// Approximate bytes used.
    pub fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Route6>>()
            + self.by_len.iter().map(|m| m.capacity() * 24).sum::<usize>()
            + self.long.capacity() * 16
            + self.long_count.capacity() * 8
    }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let rest = args.rest();
    args.finish()?;
    let mut table = Table6::new();
    let mut errors = Vec::new();
    for (i, a) in rest.iter().enumerate() {
        match parse_route6(a) {
            Err(e) => errors.push(format!("argument {}: {e}", i + 1)),
            Ok(r) if r.port as usize >= ctx.noutputs => {
                errors.push(format!("argument {}: {}", i + 1, bad_output(r.port, ctx.noutputs)))
            }
            Ok(r) => {
                table.add(r);
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigError(errors.join("; ")));
    }
    if rest.is_empty() {
        tracing::warn!("LookupIP6Route '{}': no routes", ctx.name);
    }
    Ok(Box::new(LookupIp6Route {
        table,
        noutputs: ctx.noutputs,
        outs: (0..=ctx.noutputs).map(|_| Batch::new()).collect(),
        drops: DropCounts::new(REASONS),
        lookup_answer: String::new(),
    }))
}

/// The element: the table and one batch per output (plus one for packets without route).
pub struct LookupIp6Route {
    table: Table6,
    noutputs: usize,
    outs: Vec<Batch>,
    drops: DropCounts,
    lookup_answer: String,
}

/// One command of `ctrl`, and how to undo it.
enum Undo6 {
    Remove(u128, u8),
    Restore(Route6),
}

impl LookupIp6Route {
    fn add(&mut self, text: &str) -> Result<Undo6, String> {
        let r = parse_route6(text)?;
        if r.port as usize >= self.noutputs {
            return Err(bad_output(r.port, self.noutputs));
        }
        Ok(match self.table.add(r) {
            Some(old) => Undo6::Restore(old),
            None => Undo6::Remove(r.addr, r.len),
        })
    }

    fn remove(&mut self, text: &str) -> Result<Option<Undo6>, String> {
        let (addr, len) = parse_prefix6(text)?;
        Ok(self.table.remove(addr, len).map(Undo6::Restore))
    }

    fn ctrl(&mut self, text: &str) -> Result<(), String> {
        let mut undo = Vec::new();
        let mut failure = None;
        for (n, line) in text.lines().enumerate() {
            let line = strip_comment(line);
            let line = line.trim();
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let r = match word {
                "" => continue,
                "add" => self.add(rest).map(Some),
                "remove" => self.remove(rest),
                other => Err(format!("bad command '{other}', should be 'add' or 'remove'")),
            };
            match r {
                Ok(u) => undo.extend(u),
                Err(e) => {
                    failure = Some(format!("line {}: {e}", n + 1));
                    break;
                }
            }
        }
        let Some(e) = failure else { return Ok(()) };
        while let Some(u) = undo.pop() {
            match u {
                Undo6::Remove(addr, len) => {
                    self.table.remove(addr, len);
                }
                Undo6::Restore(r) => {
                    self.table.add(r);
                }
            }
        }
        Err(e)
    }
}

impl Element for LookupIp6Route {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let mut found = [None; MAX_BATCH];
        for (f, p) in found.iter_mut().zip(batch.iter()) {
            *f = self.table.lookup(u128::from(dst_ip6_anno(p)));
        }
        let (table, unrouted) = (&self.table, self.noutputs);
        let mut k = 0;
        batch.split_into(&mut self.outs, |p| {
            let f = found[k];
            k += 1;
            let Some(slot) = f else { return unrouted };
            let r = table.route(slot);
            if r.gw != 0 {
                set_dst_ip6_anno(p, Ipv6Addr::from(r.gw));
            }
            r.port as usize
        });
        for port in 0..self.noutputs {
            let b = std::mem::take(&mut self.outs[port]);
            ctx.push(port, b);
        }
        let dropped = std::mem::take(&mut self.outs[unrouted]);
        self.drops.count(0, dropped.len() as u64);
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "table" => Some(self.table.dump()),
            "lookup" => Some(self.lookup_answer.clone()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "add" => self.add(value).map(|_| ()),
            "remove" => self.remove(value).map(|_| ()),
            "ctrl" => self.ctrl(value),
            "lookup" => {
                let text = value.trim();
                let a = Ipv6Addr::from_arg(text).map_err(|_| format!("expected IPv6 address, found '{text}'"))?;
                self.lookup_answer = match self.table.lookup(a.into()) {
                    None => "-1".to_string(),
                    Some(slot) => {
                        let r = self.table.route(slot);
                        if r.gw == 0 {
                            r.port.to_string()
                        } else {
                            format!("{} {}", r.port, Ipv6Addr::from(r.gw))
                        }
                    }
                };
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

//! The IPv4 route table shared by Click's route lookup elements (Click's `IPRouteTable`).
//!
//! A [`RouteTable`] keeps every route twice: once in a [`Routes`] store, which is the truth
//! (routes by prefix, in the order Click's `table` handler prints them, with their next hops
//! interned as small integers), and once in a lookup structure ([`Lpm4`]: linear list,
//! DIR-24-8, poptrie) built from it, which answers longest-prefix-match queries with a
//! next-hop index. Every change goes to the store first and then to the structure, which may
//! ask the store about neighbouring routes (the route a removed one falls back to, the routes
//! below a part it rebuilds). The structure never holds a next-hop index the store has freed.
//!
//! The text side follows Click: routes are parsed from `ADDR/MASK [GATEWAY] OUTPUT` with
//! [`parse_route`], printed like Click's `IPRoute::unparse`, and the `add`, `set`, `remove`,
//! `ctrl` and `lookup` handler commands run through [`RouteTable::command`],
//! [`RouteTable::ctrl`] and [`RouteTable::lookup_text`] with Click's error messages.

use sluice::args::{FromArg, Ipv4Prefix};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::Ipv4Addr;
use std::path::Path;

/// One IPv4 route: destination prefix (host bits cleared), gateway, output port.
///
/// Addresses are host-order integers. A zero gateway means "no gateway" (Click prints `-`).
/// `port` is Click's `int32_t`: a remove request may leave it at -1, meaning any route for
/// the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    pub addr: u32,
    pub len: u8,
    pub gw: u32,
    pub port: i32,
}

impl Route {
    /// A route to `prefix` (host bits are cleared) via `gw` (0 for none) out `port`.
    pub fn new(addr: u32, len: u8, gw: u32, port: i32) -> Route {
        Route { addr: addr & mask(len), len, gw, port }
    }

    pub fn contains(&self, addr: u32) -> bool {
        addr & mask(self.len) == self.addr
    }

    /// Click's `IPRoute::match`: same prefix, and same gateway and port unless `self.port`
    /// is negative (a remove request that named only the prefix).
    pub fn matches(&self, r: &Route) -> bool {
        self.addr == r.addr && self.len == r.len && (self.port < 0 || (self.gw == r.gw && self.port == r.port))
    }

    /// Click's `IPRoute::unparse(sa, true)`: fields separated by tabs, with an extra tab after
    /// a short prefix (under 16 characters) or a short gateway (under 8), so tables line up.
    pub fn unparse_tabs(&self, out: &mut String) {
        let prefix = format!("{}/{}", Ipv4Addr::from(self.addr), self.len);
        out.push_str(&prefix);
        out.push_str(if prefix.len() + 1 < 17 { "\t\t" } else { "\t" });
        let gw = if self.gw == 0 { "-".to_string() } else { Ipv4Addr::from(self.gw).to_string() };
        out.push_str(&gw);
        out.push_str(if gw.len() + 1 < 9 { "\t\t" } else { "\t" });
        out.push_str(&self.port.to_string());
    }
}

/// Click's `IPRoute::unparse()`: `18.26.0.0/16 1.0.0.1 0`, `- ` for no gateway.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ", Ipv4Addr::from(self.addr), self.len)?;
        if self.gw == 0 {
            write!(f, "- {}", self.port)
        } else {
            write!(f, "{} {}", Ipv4Addr::from(self.gw), self.port)
        }
    }
}

/// The netmask of a prefix length, as a host-order integer (`mask(0) == 0`).
#[inline]
pub fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// Click's `cp_ip_route`: `ADDR/MASK [GATEWAY] OUTPUT`, words separated by spaces. The
/// prefix may be a bare address (a /32) or Click's short form (`18.26/16`); the gateway may
/// be `-` (none). With `remove`, OUTPUT may be left out (the result's port is then -1).
/// Host bits of the address are cleared. `None` when the text has another shape.
pub fn parse_route(text: &str, remove: bool) -> Option<Route> {
    let mut words = text.split_whitespace();
    let prefix = Ipv4Prefix::from_arg(words.next()?).ok()?;
    let mut gw = 0u32;
    let mut port = -1i32;
    let mut word = words.next();
    match word {
        Some("-") => word = words.next(),
        Some(w) => {
            if let Ok(a) = Ipv4Addr::from_arg(w) {
                gw = a.into();
                word = words.next();
            }
        }
        None => {}
    }
    match word {
        Some(w) => port = i32::from_arg(w).ok()?,
        None if remove => {}
        None => return None,
    }
    if words.next().is_some() {
        return None;
    }
    Some(Route::new(prefix.addr.into(), prefix.len, gw, port))
}

/// Read a file of prefixes, one `a.b.c.d/len` per line (blank lines and `#` comments
/// skipped). The route data sets of `shared/data/routes` have this shape.
pub fn read_prefix_file(path: &Path) -> Result<Vec<(u32, u8)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let p = Ipv4Prefix::from_arg(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        out.push((u32::from(p.addr) & mask(p.len), p.len));
    }
    Ok(out)
}

// ------------------------------------------------------------------ hashing

/// A fast hasher for integer keys (prefixes, next hops): multiply-rotate per word, with a
/// final mix so both the high and the low bits of the hash depend on every input bit.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    #[inline]
    fn write_u128(&mut self, v: u128) {
        self.add(v as u64);
        self.add((v >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

// ------------------------------------------------------------------ next hops

/// Where a route sends packets: output port and gateway (0 for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct NextHop {
    pub port: u32,
    pub gw: u32,
}

/// Next hops interned as small integers (Click's DirectIPLookup calls them virtual ports),
/// so lookup structures store 16-bit indices. Index 0 is "no route".
#[derive(Clone, Debug)]
pub struct NextHops {
    hops: Vec<NextHop>,
    refs: Vec<u32>,
    by_hop: FastMap<NextHop, u32>,
    free: Vec<u32>,
}

impl Default for NextHops {
    fn default() -> Self {
        NextHops { hops: vec![NextHop::default()], refs: vec![0], by_hop: FastMap::default(), free: Vec::new() }
    }
}

impl NextHops {
    /// The index of `hop`, interning it (one more reference) if new. Fails when a new index
    /// would exceed `max`.
    pub fn acquire(&mut self, hop: NextHop, max: u32) -> Result<u32, String> {
        if let Some(&i) = self.by_hop.get(&hop) {
            self.refs[i as usize] += 1;
            return Ok(i);
        }
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.hops.len() as u32;
                if i > max {
                    return Err(format!(
                        "too many different next hops (GATEWAY, OUTPUT pairs): this table holds at most {max}"
                    ));
                }
                self.hops.push(hop);
                self.refs.push(0);
                i
            }
        };
        self.hops[i as usize] = hop;
        self.refs[i as usize] = 1;
        self.by_hop.insert(hop, i);
        Ok(i)
    }

    /// Drop one reference to index `i`; the index is reused once unreferenced.
    pub fn release(&mut self, i: u32) {
        let r = &mut self.refs[i as usize];
        *r -= 1;
        if *r == 0 {
            self.by_hop.remove(&self.hops[i as usize]);
            self.free.push(i);
        }
    }

    #[inline]
    pub fn get(&self, i: u32) -> NextHop {
        self.hops[i as usize]
    }

    /// The hops by index, for a data path that resolves many at once (index 0 is unused).
    #[inline]
    pub fn as_slice(&self) -> &[NextHop] {
        &self.hops
    }

    /// Different next hops in use.
    pub fn len(&self) -> usize {
        self.by_hop.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hop.is_empty()
    }

    fn memory(&self) -> usize {
        self.hops.capacity() * 8 + self.refs.capacity() * 4 + self.by_hop.capacity() * 16 + self.free.capacity() * 4
    }
}

// ------------------------------------------------------------------ the route store

/// A route in the store, with its interned next hop.
#[derive(Clone, Copy, Debug)]
pub struct Stored {
    pub route: Route,
    pub nh: u32,
}

/// Key of a prefix in the ordered index: address, then length.
#[inline]
fn key(addr: u32, len: u8) -> u64 {
    (u64::from(addr) << 8) | u64::from(len)
}

/// Every route of a table, by prefix, plus the interned next hops.
///
/// Routes sit in slots in the order Click's `table` handler prints them: a new route takes
/// the first free slot (one freed by a removal) or goes at the end, and `set` keeps the slot.
/// An ordered index by (address, length) answers the questions lookup structures ask while
/// updating: the route for an exact prefix, the longest route covering a prefix, the routes
/// inside an address range.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    slots: Vec<Option<Stored>>,
    free: BinaryHeap<Reverse<u32>>,
    index: BTreeMap<u64, u32>,
    /// The interned next hops of the routes.
    pub nexthops: NextHops,
}

impl Routes {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The stored route for exactly `addr/len`.
    pub fn get(&self, addr: u32, len: u8) -> Option<&Stored> {
        let slot = *self.index.get(&key(addr, len))?;
        self.slots[slot as usize].as_ref()
    }

    /// The longest route strictly shorter than `len` that covers `addr/len`: `(len, nh)`.
    pub fn covering(&self, addr: u32, len: u8) -> Option<(u8, u32)> {
        (0..len).rev().find_map(|l| self.get(addr & mask(l), l).map(|s| (l, s.nh)))
    }

    /// The longest route of length at most `len` that covers `addr/len`: `(len, nh)`.
    pub fn best_within(&self, addr: u32, len: u8) -> Option<(u8, u32)> {
        (0..=len).rev().find_map(|l| self.get(addr & mask(l), l).map(|s| (l, s.nh)))
    }

    /// Routes whose address lies in `first..=last`, ordered by address then length, as
    /// `(addr, len, nh)`.
    pub fn range(&self, first: u32, last: u32) -> impl Iterator<Item = (u32, u8, u32)> + '_ {
        self.index.range(key(first, 0)..=key(last, 32)).map(move |(k, &slot)| {
            let s = self.slots[slot as usize].as_ref().expect("indexed slots hold routes");
            ((k >> 8) as u32, *k as u8, s.nh)
        })
    }

    /// Every route as `(addr, len, nh)`, ordered by address then length.
    pub fn iter_ordered(&self) -> impl Iterator<Item = (u32, u8, u32)> + '_ {
        self.range(0, u32::MAX)
    }

    /// Every route in Click's `table` order.
    pub fn iter(&self) -> impl Iterator<Item = &Stored> + '_ {
        self.slots.iter().flatten()
    }

    /// Store a route for a prefix that has none yet. Interns its next hop (at most
    /// `max_nh`).
    fn insert_new(&mut self, route: Route, max_nh: u32) -> Result<u32, String> {
        let nh = self.nexthops.acquire(NextHop { port: route.port as u32, gw: route.gw }, max_nh)?;
        let slot = match self.free.pop() {
            Some(Reverse(s)) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[slot as usize] = Some(Stored { route, nh });
        self.index.insert(key(route.addr, route.len), slot);
        Ok(nh)
    }

    /// Remove the route for `addr/len`; returns it. Its next hop index stays referenced
    /// until the caller releases it.
    fn take(&mut self, addr: u32, len: u8) -> Option<Stored> {
        let slot = self.index.remove(&key(addr, len))?;
        self.free.push(Reverse(slot));
        self.slots[slot as usize].take()
    }

    /// Change the gateway and port of an existing route, keeping its slot. Returns the old
    /// stored route; its next hop index stays referenced until the caller releases it.
    fn replace(&mut self, route: Route, max_nh: u32) -> Result<Stored, String> {
        let slot = self.index[&key(route.addr, route.len)] as usize;
        let nh = self.nexthops.acquire(NextHop { port: route.port as u32, gw: route.gw }, max_nh)?;
        let old = self.slots[slot].replace(Stored { route, nh });
        Ok(old.expect("indexed slots hold routes"))
    }

    /// Approximate bytes used (slots, ordered index, next hops).
    pub fn memory(&self) -> usize {
        // A B-tree entry costs its key and value plus about half again in node overhead.
        self.slots.capacity() * std::mem::size_of::<Option<Stored>>()
            + self.free.capacity() * 4
            + self.index.len() * 18
            + self.nexthops.memory()
    }
}

// ------------------------------------------------------------------ lookup structures

/// A longest-prefix-match structure over the routes of a [`Routes`] store. It maps an
/// address to the next-hop index of the longest matching route, 0 when none matches.
///
/// The update methods are called after the store has changed; they may read the store to
/// repair or rebuild the part of the structure the change touches.
pub trait Lpm4: Sized + Send + 'static {
    /// Short name for reports (`DIR-24-8`, `poptrie`).
    const NAME: &'static str;
    /// The largest next-hop index the structure can hold.
    const MAX_NEXT_HOP: u32;

    /// Build the structure for every route of `routes`.
    fn build(routes: &Routes) -> Result<Self, String>;

    /// Whether adding a route for `addr/len` would exceed the structure's fixed limits
    /// (checked before anything changes).
    fn check_insert(&self, addr: u32, len: u8) -> Result<(), String> {
        let _ = (addr, len);
        Ok(())
    }

    /// A route for `addr/len` with next hop `nh` was added (there was none for the prefix).
    fn insert(&mut self, routes: &Routes, addr: u32, len: u8, nh: u32);

    /// The route for `addr/len` (which had next hop `nh`) was removed.
    fn remove(&mut self, routes: &Routes, addr: u32, len: u8, nh: u32);

    /// The route for `addr/len` changed its next hop from `old` to `nh`.
    fn replace(&mut self, routes: &Routes, addr: u32, len: u8, old: u32, nh: u32);

    /// The next-hop index for `addr` (host order); 0 when no route matches.
    fn lookup(&self, addr: u32) -> u32;

    /// Look up every address of `addrs` into `out` (same length). Structures override this
    /// to overlap the memory accesses of independent lookups.
    fn lookup_batch(&self, addrs: &[u32], out: &mut [u32]) {
        for (o, &a) in out.iter_mut().zip(addrs) {
            *o = self.lookup(a);
        }
    }

    /// Bytes the lookup path reads (the tables a lookup touches).
    fn lookup_memory(&self) -> usize;

    /// Bytes kept only for updates (e.g. DIR-24-8's prefix lengths per entry).
    fn update_memory(&self) -> usize {
        0
    }
}

/// What a table uses, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// The structure the data path reads.
    pub lookup: usize,
    /// The structure's bookkeeping for updates.
    pub update: usize,
    /// The route store (routes by prefix, next hops).
    pub routes: usize,
}

impl Memory {
    pub fn total(&self) -> usize {
        self.lookup + self.update + self.routes
    }
}

/// Why a route change failed (Click's `-EEXIST`, `-ENOENT`, `-ENOMEM`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// `add` found a route for the prefix already: here it is.
    Conflict(Route),
    /// `remove` found no matching route: the request.
    NotFound(Route),
    /// The structure or the next-hop table is full.
    Full(String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Conflict(r) => write!(f, "conflict with existing route '{r}'"),
            RouteError::NotFound(r) => write!(f, "route '{r}' not found"),
            RouteError::Full(m) => f.write_str(m),
        }
    }
}

/// A handler command on a route (Click's `CMD_ADD`, `CMD_SET`, `CMD_REMOVE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Add,
    Set,
    Remove,
}

/// How to undo one command of a `ctrl` transaction.
#[derive(Clone, Copy, Debug)]
enum Undo {
    /// A new route was added: remove it.
    Remove(Route),
    /// A route was replaced or removed: put this one back.
    Restore(Route),
}

/// An IPv4 route table: the route store and a lookup structure kept in step with it.
pub struct RouteTable<S> {
    routes: Routes,
    lpm: S,
}

impl<S: Lpm4> RouteTable<S> {
    /// An empty table.
    pub fn new() -> Result<Self, String> {
        let routes = Routes::default();
        let lpm = S::build(&routes)?;
        Ok(RouteTable { routes, lpm })
    }

    /// A table of `routes`, built in one go. When several routes have the same prefix the
    /// first is kept (Click adds configuration routes without replacing); the second value
    /// counts the routes left out that way.
    pub fn from_routes(routes: impl IntoIterator<Item = Route>) -> Result<(Self, usize), String> {
        let mut store = Routes::default();
        let mut duplicates = 0;
        for r in routes {
            if store.get(r.addr, r.len).is_some() {
                duplicates += 1;
            } else {
                store.insert_new(r, S::MAX_NEXT_HOP)?;
            }
        }
        let lpm = S::build(&store)?;
        Ok((RouteTable { routes: store, lpm }, duplicates))
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// The lookup structure.
    pub fn structure(&self) -> &S {
        &self.lpm
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Click's `add_route`: add `route`; with `allow_replace` (`set`) an existing route for
    /// the prefix is overwritten, otherwise it is a conflict. Returns the replaced route.
    pub fn add(&mut self, route: Route, allow_replace: bool) -> Result<Option<Route>, RouteError> {
        if let Some(old) = self.routes.get(route.addr, route.len).copied() {
            if !allow_replace {
                return Err(RouteError::Conflict(old.route));
            }
            let stored = self.routes.replace(route, S::MAX_NEXT_HOP).map_err(RouteError::Full)?;
            let nh = self.routes.get(route.addr, route.len).expect("just replaced").nh;
            if nh != stored.nh {
                self.lpm.replace(&self.routes, route.addr, route.len, stored.nh, nh);
            }
            self.routes.nexthops.release(stored.nh);
            return Ok(Some(old.route));
        }
        self.lpm.check_insert(route.addr, route.len).map_err(RouteError::Full)?;
        let nh = self.routes.insert_new(route, S::MAX_NEXT_HOP).map_err(RouteError::Full)?;
        self.lpm.insert(&self.routes, route.addr, route.len, nh);
        Ok(None)
    }

    /// Click's `remove_route`: remove the route matching `route` (see [`Route::matches`]).
    pub fn remove(&mut self, route: &Route) -> Result<Route, RouteError> {
        match self.routes.get(route.addr, route.len) {
            Some(s) if route.matches(&s.route) => {}
            _ => return Err(RouteError::NotFound(*route)),
        }
        let old = self.routes.take(route.addr, route.len).expect("checked above");
        self.lpm.remove(&self.routes, route.addr, route.len, old.nh);
        self.routes.nexthops.release(old.nh);
        Ok(old.route)
    }

    /// Remove every route.
    pub fn flush(&mut self) -> Result<(), String> {
        *self = Self::new()?;
        Ok(())
    }

    /// The route for `addr` (host order), if any.
    pub fn lookup(&self, addr: u32) -> Option<NextHop> {
        match self.lpm.lookup(addr) {
            0 => None,
            nh => Some(self.routes.nexthops.get(nh)),
        }
    }

    /// Next-hop indices for many addresses (0: no route); resolve them with
    /// [`RouteTable::next_hops`].
    #[inline]
    pub fn lookup_batch(&self, addrs: &[u32], out: &mut [u32]) {
        self.lpm.lookup_batch(addrs, out);
    }

    /// Next hops by index.
    #[inline]
    pub fn next_hops(&self) -> &[NextHop] {
        self.routes.nexthops.as_slice()
    }

    /// Click's `table` handler: one route per line, tab-separated, in slot order.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for s in self.routes.iter() {
            s.route.unparse_tabs(&mut out);
            out.push('\n');
        }
        out
    }

    pub fn memory(&self) -> Memory {
        Memory { lookup: self.lpm.lookup_memory(), update: self.lpm.update_memory(), routes: self.routes.memory() }
    }

    /// Click's `IPRouteTable::run_command`: parse `text` as a route for `command`, check its
    /// output against `noutputs`, and apply it.
    pub fn command(&mut self, command: Command, text: &str, noutputs: usize) -> Result<(), String> {
        self.run(command, text, noutputs).map(|_| ())
    }

    fn run(&mut self, command: Command, text: &str, noutputs: usize) -> Result<Undo, String> {
        let remove = command == Command::Remove;
        let Some(route) = parse_route(text, remove) else {
            let shape = if remove { "ADDR/MASK [GATEWAY OUTPUT]" } else { "ADDR/MASK [GATEWAY] OUTPUT" };
            return Err(format!("expected '{shape}', found '{}'", text.trim()));
        };
        if route.port < if remove { -1 } else { 0 } || route.port as i64 >= noutputs as i64 {
            return Err(bad_output(route.port, noutputs));
        }
        match command {
            Command::Add | Command::Set => match self.add(route, command == Command::Set) {
                Ok(Some(old)) => Ok(Undo::Restore(old)),
                Ok(None) => Ok(Undo::Remove(route)),
                Err(e) => Err(e.to_string()),
            },
            Command::Remove => self.remove(&route).map(Undo::Restore).map_err(|e| e.to_string()),
        }
    }

    /// Click's `ctrl` handler: one `add`/`set`/`remove ROUTE` command per line, applied as one
    /// transaction: if a command fails, the earlier ones are undone and the table is as before.
    pub fn ctrl(&mut self, text: &str, noutputs: usize) -> Result<(), String> {
        let mut undo = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = strip_comment(line);
            let line = line.trim();
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let command = match word {
                "" => continue,
                "add" => Command::Add,
                "set" => Command::Set,
                "remove" => Command::Remove,
                other => {
                    self.rollback(undo);
                    return Err(format!("line {}: bad command '{other}' (expected add, set or remove)", n + 1));
                }
            };
            match self.run(command, rest, noutputs) {
                Ok(u) => undo.push(u),
                Err(e) => {
                    self.rollback(undo);
                    return Err(format!("line {}: {e}", n + 1));
                }
            }
        }
        Ok(())
    }

    fn rollback(&mut self, mut undo: Vec<Undo>) {
        while let Some(u) = undo.pop() {
            // Undoing restores routes that were in the table a moment ago, so it cannot fail.
            let _ = match u {
                Undo::Remove(r) => self.remove(&Route { port: -1, ..r }).map(|_| ()),
                Undo::Restore(r) => self.add(r, true).map(|_| ()),
            };
        }
    }

    /// Click's `lookup` handler: `PORT` or `PORT GATEWAY` for an address, `-1` without route.
    pub fn lookup_text(&self, text: &str) -> Result<String, String> {
        let text = text.trim();
        let a = Ipv4Addr::from_arg(text).map_err(|_| format!("expected IP address, found '{text}'"))?;
        Ok(match self.lookup(a.into()) {
            None => "-1".to_string(),
            Some(NextHop { port, gw: 0 }) => port.to_string(),
            Some(NextHop { port, gw }) => format!("{port} {}", Ipv4Addr::from(gw)),
        })
    }
}

/// The error for an OUTPUT that is not one of the element's outputs.
pub(crate) fn bad_output(port: impl fmt::Display, noutputs: usize) -> String {
    let has = match noutputs {
        1 => "1 output".to_string(),
        n => format!("{n} outputs"),
    };
    format!("bad OUTPUT {port} (the element has {has})")
}

/// Remove `//` and `/* */` comments from one line (Click's `cp_uncomment`).
pub(crate) fn strip_comment(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let slash = rest.find("//");
        let star = rest.find("/*");
        match (slash, star) {
            (Some(s), t) if t.is_none_or(|t| s < t) => {
                out.push_str(&rest[..s]);
                return out;
            }
            (_, Some(t)) => {
                out.push_str(&rest[..t]);
                out.push(' ');
                match rest[t + 2..].find("*/") {
                    Some(e) => rest = &rest[t + 2 + e + 2..],
                    None => return out,
                }
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// Parse configuration arguments as routes (Click's `IPRouteTable::configure`): every
/// argument must be `ADDR/MASK [GATEWAY] OUTPUT` with OUTPUT below `noutputs`. Reports every
/// bad argument.
pub fn routes_from_args(args: &[String], noutputs: usize) -> Result<Vec<Route>, String> {
    let mut routes = Vec::with_capacity(args.len());
    let mut errors = Vec::new();
    for (i, a) in args.iter().enumerate() {
        match parse_route(a, false) {
            None => errors.push(format!("argument {} should be 'ADDR/MASK [GATEWAY] OUTPUT', found '{a}'", i + 1)),
            Some(r) if r.port < 0 || r.port as usize >= noutputs => {
                errors.push(format!("argument {}: {}", i + 1, bad_output(r.port, noutputs)))
            }
            Some(r) => routes.push(r),
        }
    }
    if errors.is_empty() {
        Ok(routes)
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        s.parse::<Ipv4Addr>().unwrap().into()
    }

    #[test]
    fn parses_routes_like_click() {
        assert_eq!(parse_route("18.26.4.0/24 1", false), Some(Route::new(ip("18.26.4.0"), 24, 0, 1)));
        assert_eq!(parse_route("18.26/16 1.0.0.1 0", false), Some(Route::new(ip("18.26.0.0"), 16, ip("1.0.0.1"), 0)));
        assert_eq!(parse_route("18.26.4.9/24 - 2", false), Some(Route::new(ip("18.26.4.0"), 24, 0, 2)));
        assert_eq!(parse_route("18.26.4.24 0", false), Some(Route::new(ip("18.26.4.24"), 32, 0, 0)));
        assert_eq!(parse_route("0/0 18.26.4.1 1", false), Some(Route::new(0, 0, ip("18.26.4.1"), 1)));
        assert_eq!(parse_route("10.0.0.0/255.0.0.0 0x1", false), Some(Route::new(ip("10.0.0.0"), 8, 0, 1)));
        assert_eq!(parse_route("1.0.0.0/8", true), Some(Route::new(ip("1.0.0.0"), 8, 0, -1)));
        assert_eq!(parse_route("1.0.0.0/8 2.2.2.2", true), Some(Route::new(ip("1.0.0.0"), 8, ip("2.2.2.2"), -1)));
        for bad in ["", "1.0.0.0/8", "1.0.0.0/8 x", "1.0.0.0/8 1 2", "1.0.0.0/33 1", "x 1", "1.0.0.0/8 - - 1"] {
            assert_eq!(parse_route(bad, false), None, "{bad:?}");
        }
        assert_eq!(parse_route("1.0.0.0/8 1 2", true), None);
    }

    #[test]
    fn unparses_like_click() {
        let r = Route::new(ip("18.16.0.0"), 12, ip("4.0.0.4"), 0);
        assert_eq!(r.to_string(), "18.16.0.0/12 4.0.0.4 0");
        assert_eq!(Route::new(ip("1.2.3.0"), 24, 0, -1).to_string(), "1.2.3.0/24 - -1");
        let mut s = String::new();
        r.unparse_tabs(&mut s);
        assert_eq!(s, "18.16.0.0/12\t\t4.0.0.4\t\t0");
        let mut s = String::new();
        Route::new(ip("192.168.100.0"), 24, ip("192.168.100.254"), 3).unparse_tabs(&mut s);
        assert_eq!(s, "192.168.100.0/24\t192.168.100.254\t3");
        let mut s = String::new();
        Route::new(0, 0, 0, 1).unparse_tabs(&mut s);
        assert_eq!(s, "0.0.0.0/0\t\t-\t\t1");
    }

    #[test]
    fn config_errors_name_the_argument() {
        let args: Vec<String> = ["1.0.0.0/8 0", "bogus", "2.0.0.0/8 5"].iter().map(|s| s.to_string()).collect();
        let e = routes_from_args(&args, 2).unwrap_err();
        assert_eq!(
            e,
            "argument 2 should be 'ADDR/MASK [GATEWAY] OUTPUT', found 'bogus'; \
             argument 3: bad OUTPUT 5 (the element has 2 outputs)"
        );
    }

    #[test]
    fn comments_are_stripped() {
        assert_eq!(strip_comment("add 1/8 0 // x"), "add 1/8 0 ");
        assert_eq!(strip_comment("add /* a */1/8 0"), "add  1/8 0");
        assert_eq!(strip_comment("plain"), "plain");
    }

    #[test]
    fn next_hops_are_interned_and_reused() {
        let mut n = NextHops::default();
        let a = n.acquire(NextHop { port: 1, gw: 0 }, 3).unwrap();
        let b = n.acquire(NextHop { port: 2, gw: 0 }, 3).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(n.acquire(NextHop { port: 1, gw: 0 }, 3).unwrap(), 1);
        n.release(1);
        n.release(1);
        assert_eq!(n.acquire(NextHop { port: 7, gw: 9 }, 3).unwrap(), 1, "freed index reused");
        assert_eq!(n.acquire(NextHop { port: 8, gw: 9 }, 3).unwrap(), 3);
        assert!(n.acquire(NextHop { port: 9, gw: 9 }, 3).unwrap_err().contains("at most 3"));
        assert_eq!(n.len(), 3);
    }
}

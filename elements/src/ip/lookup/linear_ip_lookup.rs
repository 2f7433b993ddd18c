//! `LinearIPLookup`: IP routing table searched linearly, for small tables.

use super::element::{self, Features, ADD, CTRL, DROPS, DROP_DETAILS, LOOKUP, REMOVE, SET, TABLE};
use super::table::{mask, Lpm4, Routes};
use sluice::{BuildCtx, ConfigError, Element, HandlerSpec};

sluice::element_class! {
    /// LinearIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)
    ///
    /// Simple IP routing table.
    ///
    /// Expects a destination IP address annotation with each packet. Looks up that address
    /// in its routing table, using longest-prefix match, sets the destination annotation to
    /// the corresponding GW (if specified), and emits the packet on the indicated OUTput
    /// port. Packets with no route are dropped and counted (`drops`); the first five are
    /// logged.
    ///
    /// Each argument is a route: a destination and mask (`18.26.4.0/24`,
    /// `18.26.4.0/255.255.255.0`, `18.26.4/24`, or an address alone for a /32), an
    /// optional gateway IP address (`-` for none), and an output port. When several routes
    /// have the same destination and mask, the first is kept and a warning is logged.
    ///
    /// LinearIPLookup keeps its routes in a list ordered by prefix length and compares the
    /// address with each until one matches, so a lookup may look at every route. It suits
    /// small tables; RadixIPLookup and DirectIPLookup are much faster on large ones.
    ///
    /// Ports: 1 input, push; any number of outputs, push.
    ///
    /// # Keywords
    /// None: every argument is a route.
    ///
    /// # Handlers
    /// - `table` (read) — the routing table, one route per line: `ADDR/MASK`, `GW` (`-`
    ///   for none) and `OUT`, separated by tabs.
    /// - `lookup` (read/write) — Click reads `lookup ADDR` with a parameter, answering
    ///   `OUT GW` (or `OUT`) for ADDR's route, `-1` without route. Sluice handlers take no
    ///   read parameters yet: write ADDR to `lookup`, then read `lookup` for the answer.
    /// - `add` (write) — adds a route, `ADDR/MASK [GW] OUT`. Fails if a route for
    ///   `ADDR/MASK` exists ("conflict with existing route").
    /// - `set` (write) — sets a route, whether or not one exists for `ADDR/MASK`.
    /// - `remove` (write) — removes a route, `ADDR/MASK [GW OUT]`; with GW and OUT only a
    ///   route with that gateway and output is removed.
    /// - `ctrl` (write) — `add`, `set` or `remove` commands, one per line, executed as one
    ///   atomic operation: if one fails, the table is left as it was.
    /// - `drops` (read) — packets dropped because no route matched.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// Deliver broadcasts and packets for the local host (18.26.4.24) to output 0, packets
    /// for net 18.26.4 to output 1, and all others via gateway 18.26.4.1 on output 1:
    /// ```text
    /// ... -> GetIPAddress(16) -> rt;
    /// rt :: LinearIPLookup(18.26.4.24/32 0,
    ///                      18.26.4.255/32 0,
    ///                      18.26.4.0/32 0,
    ///                      18.26.4/24 1,
    ///                      0/0 18.26.4.1 1);
    /// rt[0] -> ToHost;
    /// rt[1] -> ... -> ToDevice(eth0);
    /// ```
    pub const LINEAR_IP_LOOKUP = "LinearIPLookup" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[TABLE, LOOKUP, ADD, SET, REMOVE, CTRL, DROPS, DROP_DETAILS];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    element::build::<Linear>(config, ctx, Features { class: "LinearIPLookup", updates: true, flush: false })
}

/// One route of the list.
#[derive(Clone, Copy, Debug)]
struct Entry {
    addr: u32,
    mask: u32,
    len: u8,
    nh: u32,
}

/// Routes in a list, longest prefixes first: the first that matches is the longest match.
#[derive(Default)]
pub struct Linear {
    entries: Vec<Entry>,
}

impl Linear {
    fn position(&self, addr: u32, len: u8) -> Option<usize> {
        self.entries.iter().position(|e| e.addr == addr && e.len == len)
    }
}

impl Lpm4 for Linear {
    const NAME: &'static str = "linear";
    const MAX_NEXT_HOP: u32 = u32::MAX;

    fn build(routes: &Routes) -> Result<Self, String> {
        let mut entries: Vec<Entry> =
            routes.iter_ordered().map(|(addr, len, nh)| Entry { addr, mask: mask(len), len, nh }).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.len));
        Ok(Linear { entries })
    }

    fn insert(&mut self, _routes: &Routes, addr: u32, len: u8, nh: u32) {
        let at = self.entries.partition_point(|e| e.len > len);
        self.entries.insert(at, Entry { addr, mask: mask(len), len, nh });
    }

    fn remove(&mut self, _routes: &Routes, addr: u32, len: u8, _nh: u32) {
        if let Some(i) = self.position(addr, len) {
            self.entries.remove(i);
        }
    }

    fn replace(&mut self, _routes: &Routes, addr: u32, len: u8, _old: u32, nh: u32) {
        if let Some(i) = self.position(addr, len) {
            self.entries[i].nh = nh;
        }
    }

    #[inline]
    fn lookup(&self, addr: u32) -> u32 {
        self.entries.iter().find(|e| addr & e.mask == e.addr).map_or(0, |e| e.nh)
    }

    fn lookup_memory(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
    }
}

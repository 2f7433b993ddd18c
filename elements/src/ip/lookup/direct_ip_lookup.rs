//! `DirectIPLookup`: IP routing table in direct-indexed tables (DIR-24-8).

use super::dir24::Dir24;
use super::element::{self, Features, ADD, CTRL, DROPS, DROP_DETAILS, FLUSH, LOOKUP, REMOVE, SET, TABLE};
use sluice::{BuildCtx, ConfigError, Element, HandlerSpec};

sluice::element_class! {
    /// DirectIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)
    ///
    /// IP routing lookup using direct-indexed tables.
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
    /// DirectIPLookup is optimized for lookup speed at the expense of memory. It implements
    /// the DIR-24-8-BASIC scheme of Gupta, Lin and McKeown: a table with one entry per /24
    /// (32 MiB) and 256-entry second-level tables for the /24s that hold longer routes, so
    /// each lookup takes one or at most two memory accesses whatever the number of routes.
    /// Another 16 MiB record which route wrote each entry, so that routes can be added and
    /// removed quickly, touching only the entries of their prefix. It holds at most 32 767
    /// different (GW, OUT) pairs and 32 768 /24s with routes longer than /24.
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
    /// - `flush` (write) — removes every route.
    /// - `drops` (read) — packets dropped because no route matched.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> GetIPAddress(16)
    ///     -> rt :: DirectIPLookup(18.26.4.24/32 0, 18.26.4/24 1, 0/0 18.26.4.1 1);
    /// rt[0] -> ToHost;
    /// rt[1] -> ... -> ToDevice(eth0);
    /// ```
    pub const DIRECT_IP_LOOKUP = "DirectIPLookup" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[TABLE, LOOKUP, ADD, SET, REMOVE, CTRL, FLUSH, DROPS, DROP_DETAILS];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    element::build::<Dir24>(config, ctx, Features { class: "DirectIPLookup", updates: true, flush: true })
}

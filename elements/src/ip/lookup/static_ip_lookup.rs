//! `StaticIPLookup`: IP routing table that does not change after configuration.

use super::element::{self, Features, DROPS, DROP_DETAILS, LOOKUP, TABLE};
use super::poptrie::Poptrie;
use sluice::{BuildCtx, ConfigError, Element, HandlerSpec};

sluice::element_class! {
    /// StaticIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)
    ///
    /// Simple static IP routing table.
    ///
    /// Acts like LinearIPLookup, but does not allow routes to be added or removed after
    /// configuration: it has no `add`, `set`, `remove` or `ctrl` handlers.
    ///
    /// Expects a destination IP address annotation with each packet. Looks up that address
    /// in its routing table, using longest-prefix match, sets the destination annotation to
    /// the corresponding GW (if specified), and emits the packet on the indicated OUTput
    /// port. Packets with no route are dropped and counted (`drops`); the first five are
    /// logged. Each argument is a route: `ADDR/MASK [GW] OUT`, as for LinearIPLookup.
    ///
    /// Click's StaticIPLookup searches a list, like LinearIPLookup. As the table never
    /// changes, Sluice's builds a poptrie once (the structure of RadixIPLookup), so large
    /// static tables are fast too.
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
    /// - `drops` (read) — packets dropped because no route matched.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> GetIPAddress(16)
    ///     -> rt :: StaticIPLookup(18.26.4.24/32 0, 18.26.4/24 1, 0/0 18.26.4.1 1);
    /// rt[0] -> ToHost;
    /// rt[1] -> ... -> ToDevice(eth0);
    /// ```
    pub const STATIC_IP_LOOKUP = "StaticIPLookup" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[TABLE, LOOKUP, DROPS, DROP_DETAILS];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    element::build::<Poptrie>(config, ctx, Features { class: "StaticIPLookup", updates: false, flush: false })
}

//! The element behind Click's IPv4 route lookup classes (Click's `IPRouteTable::push` and
//! handlers), generic over the lookup structure.
//!
//! A batch is looked up as a whole first (the structure overlaps the memory accesses of the
//! independent lookups), then split per output port without allocating. A packet's address
//! is its destination IP annotation; a route with a gateway sets that annotation to the
//! gateway. Packets without a route are dropped and counted (reason `no route`), and the
//! first few are logged, as Click does.

use super::table::{routes_from_args, Command, Lpm4, RouteTable};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, MAX_BATCH};
use std::net::Ipv4Addr;

/// Reasons for drops.
const REASONS: &[&str] = &["no route"];
/// Packets without route reported in the log, per element (Click's `complained`).
const COMPLAINTS: u32 = 5;

/// What a class allows beyond lookups.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Features {
    pub class: &'static str,
    /// `add`, `set`, `remove`, `ctrl`.
    pub updates: bool,
    /// `flush`.
    pub flush: bool,
}

pub(crate) const TABLE: HandlerSpec =
    HandlerSpec::read("table", Combine::First, "the routes, one per line: ADDR/MASK, GATEWAY (- for none), OUTPUT");
pub(crate) const LOOKUP: HandlerSpec = HandlerSpec::read_write(
    "lookup",
    Combine::First,
    "read with an address (`READ rt.lookup 10.0.0.1`), or write one then read: the OUTPUT and GATEWAY of its route (-1: no route)",
);
pub(crate) const ADD: HandlerSpec =
    HandlerSpec::write("add", "add a route 'ADDR/MASK [GATEWAY] OUTPUT'; fails if one exists");
pub(crate) const SET: HandlerSpec = HandlerSpec::write("set", "add or replace a route 'ADDR/MASK [GATEWAY] OUTPUT'");
pub(crate) const REMOVE: HandlerSpec = HandlerSpec::write("remove", "remove the route 'ADDR/MASK [GATEWAY OUTPUT]'");
pub(crate) const CTRL: HandlerSpec =
    HandlerSpec::write("ctrl", "add/set/remove commands, one per line, applied all or none");
pub(crate) const FLUSH: HandlerSpec = HandlerSpec::write("flush", "remove every route");
pub(crate) const DROPS: HandlerSpec = HandlerSpec::read("drops", Combine::Sum, "packets dropped (no route)");
pub(crate) const DROP_DETAILS: HandlerSpec = HandlerSpec::read("drop_details", Combine::First, "drops by reason");

/// Build an IPv4 route lookup element of class `features.class` over structure `S`.
pub(crate) fn build<S: Lpm4>(
    config: &str,
    ctx: &BuildCtx,
    features: Features,
) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let routes = routes_from_args(&args.rest(), ctx.noutputs)?;
    args.finish()?;
    let (table, duplicates) = RouteTable::<S>::from_routes(routes)?;
    if duplicates > 0 {
        tracing::warn!(
            "{} '{}': {duplicates} {} for a prefix that already had one ignored (the first route for a prefix is kept)",
            features.class,
            ctx.name,
            if duplicates == 1 { "route" } else { "routes" }
        );
    }
    Ok(Box::new(IpRouteLookup::new(table, ctx, features)))
}

/// An IPv4 route lookup element over structure `S`.
pub struct IpRouteLookup<S> {
    table: RouteTable<S>,
    features: Features,
    name: String,
    noutputs: usize,
    /// One batch per output, plus one for packets without route; empty between pushes.
    outs: Vec<Batch>,
    drops: DropCounts,
    complaints: u32,
    /// The answer to the last address written to `lookup`.
    lookup_answer: String,
}

impl<S: Lpm4> IpRouteLookup<S> {
    fn new(table: RouteTable<S>, ctx: &BuildCtx, features: Features) -> Self {
        IpRouteLookup {
            table,
            features,
            name: ctx.name.clone(),
            noutputs: ctx.noutputs,
            outs: (0..=ctx.noutputs).map(|_| Batch::new()).collect(),
            drops: DropCounts::new(REASONS),
            complaints: 0,
            lookup_answer: String::new(),
        }
    }

    /// The route table.
    pub fn table(&self) -> &RouteTable<S> {
        &self.table
    }

    #[cold]
    fn no_route(&mut self, dropped: Batch) {
        self.drops.count(0, dropped.len() as u64);
        for p in &dropped {
            if self.complaints < COMPLAINTS {
                self.complaints += 1;
                let dst = Ipv4Addr::from(p.anno().dst_ip);
                tracing::warn!("{} '{}': no route for {dst}", self.features.class, self.name);
            }
        }
    }
}

impl<S: Lpm4> Element for IpRouteLookup<S> {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let n = batch.len();
        let mut addrs = [0u32; MAX_BATCH];
        let mut hops = [0u32; MAX_BATCH];
        for (a, p) in addrs.iter_mut().zip(batch.iter()) {
            *a = u32::from_be_bytes(p.anno().dst_ip);
        }
        self.table.lookup_batch(&addrs[..n], &mut hops[..n]);
        let next_hops = self.table.next_hops();
        let unrouted = self.noutputs;
        let mut k = 0;
        batch.split_into(&mut self.outs, |p| {
            let nh = hops[k];
            k += 1;
            if nh == 0 {
                return unrouted;
            }
            let hop = next_hops[nh as usize];
            if hop.gw != 0 {
                p.anno_mut().dst_ip = hop.gw.to_be_bytes();
            }
            hop.port as usize
        });
        for port in 0..self.noutputs {
            let b = std::mem::take(&mut self.outs[port]);
            ctx.push(port, b);
        }
        let dropped = std::mem::take(&mut self.outs[unrouted]);
        if !dropped.is_empty() {
            self.no_route(dropped);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "table" => Some(self.table.dump()),
            "lookup" => Some(self.lookup_answer.clone()),
            _ => self.drops.read_handler(name),
        }
    }

    /// Click's `lookup ADDR` read handler: the route's output and gateway.
    fn read_handler_with(&self, name: &str, param: &str) -> Option<Result<String, String>> {
        (name == "lookup").then(|| self.table.lookup_text(param))
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let f = self.features;
        match name {
            "add" if f.updates => self.table.command(Command::Add, value, self.noutputs),
            "set" if f.updates => self.table.command(Command::Set, value, self.noutputs),
            "remove" if f.updates => self.table.command(Command::Remove, value, self.noutputs),
            "ctrl" if f.updates => self.table.ctrl(value, self.noutputs),
            "flush" if f.flush => self.table.flush(),
            "lookup" => {
                self.lookup_answer = self.table.lookup_text(value)?;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

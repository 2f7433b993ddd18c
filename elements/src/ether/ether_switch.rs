//! `EtherSwitch` and `ListenEtherSwitch`: a learning, forwarding Ethernet bridge.

use super::{parse_value, unparse_ether};
use crate::ip::lookup::table::FastHasher;
use crate::wire::ether::{is_multicast, Frame};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::element::State;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::time::Duration;

sluice::element_class! {
    /// EtherSwitch([KEYWORDS])
    ///
    /// Learning, forwarding Ethernet switch.
    ///
    /// Expects and produces Ethernet packets. Each pair of corresponding ports (input 0 and
    /// output 0, input 1 and output 1, and so forth) corresponds to a LAN. Acts as a
    /// learning, forwarding Ethernet switch among those LANs.
    ///
    /// On receiving a packet on input port I with source address A, EtherSwitch associates
    /// A with I. Future packets destined for A are sent to output I (unless they came from
    /// input I, in which case they are dropped). Packets sent to an unknown destination
    /// address, and packets sent to a group (broadcast or multicast) address, are forwarded
    /// to every output port except the one corresponding to the packet's input port (as
    /// Click does: to the last output first, copies to all but one). The TIMEOUT parameter
    /// affects how long port associations last. If it is 0, then the element does not
    /// learn addresses, and acts like a dumb hub.
    ///
    /// As in Click, time is the packets' own: an association is stamped with the timestamp
    /// annotation of the packet that made it, and it is used for a later packet only if
    /// that packet's timestamp is less than the stamp plus TIMEOUT; otherwise it is
    /// forgotten and the packet is flooded. Packets without a timestamp (0) therefore make
    /// associations that never expire for each other. Stale associations stay in the table
    /// until a packet looks them up, or their address is learned again.
    ///
    /// Packets shorter than an Ethernet header are dropped and counted (Click would read
    /// past their end). The table has no size limit, as in Click; a newly learned address
    /// may grow it (the only allocation, never per packet once addresses are known).
    /// With several workers each worker's instance learns on its own from the packets it
    /// sees; the `table` handler shows worker 0's table.
    ///
    /// Ports: at least 2 inputs, as many outputs as inputs; push.
    ///
    /// # Keywords
    /// - `TIMEOUT` — time, rounded to seconds. Any association of an address with a port
    ///   is dropped after TIMEOUT seconds of inactivity. If 0, the element acts like a dumb
    ///   hub. Default 300.
    ///
    /// # Handlers
    /// - `table` (read) — the current association table: one `ADDRESS PORT` line per
    ///   address (`00-1A-2B-3C-4D-5E 1`), in address order.
    /// - `timeout` (read/write) — the TIMEOUT argument, in seconds.
    /// - `drops` (read) — packets dropped (too short, or destined back to their own port).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// s :: EtherSwitch;
    /// FromDevice(eth0) -> [0]s[0] -> Queue -> ToDevice(eth0);
    /// FromDevice(eth1) -> [1]s[1] -> Queue -> ToDevice(eth1);
    /// ```
    pub const ETHER_SWITCH = "EtherSwitch" { ports: "2-/2-", processing: "h/h", handlers: HANDLERS, build: build_switch }
}

sluice::element_class! {
    /// ListenEtherSwitch([KEYWORDS])
    ///
    /// Learning, forwarding Ethernet switch with a listen port.
    ///
    /// A version of EtherSwitch with a listen port. Where EtherSwitch has exactly as many
    /// inputs as it has outputs, ListenEtherSwitch has one more output than it has inputs.
    /// This last output is the listen port; a copy of every received packet is sent to
    /// that port. In an element with N inputs and N+1 outputs, output N is the listen
    /// port. A flooded packet goes to every output but its input's, the listen port
    /// included; a packet destined back to its own port goes to the listen port only;
    /// a forwarded packet goes to its port and a copy to the listen port. See EtherSwitch
    /// for learning and TIMEOUT.
    ///
    /// Ports: N inputs, N+1 outputs; push.
    ///
    /// # Keywords
    /// - `TIMEOUT` — time, rounded to seconds. As EtherSwitch. Default 300.
    ///
    /// # Handlers
    /// - `table` (read) — the current association table, as EtherSwitch's.
    /// - `timeout` (read/write) — the TIMEOUT argument, in seconds.
    /// - `drops` (read) — packets dropped (too short).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// s :: ListenEtherSwitch;
    /// FromDevice(eth0) -> [0]s[0] -> Queue -> ToDevice(eth0);
    /// FromDevice(eth1) -> [1]s[1] -> Queue -> ToDevice(eth1);
    /// s[2] -> ToDump(bridge.pcap);
    /// ```
    pub const LISTEN_ETHER_SWITCH = "ListenEtherSwitch" { ports: "-/1-", processing: "h/h", handlers: HANDLERS, build: build_listen }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("table", Combine::First, "the address-to-port association table"),
    HandlerSpec::read_write("timeout", Combine::First, "the TIMEOUT argument, in seconds"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &["shorter than an Ethernet header", "destined to the port it came from"];
const SHORT: usize = 0;
const SAME_PORT: usize = 1;

const DEFAULT_TIMEOUT: u32 = 300;
const NS_PER_SEC: u64 = 1_000_000_000;

/// Click's SecondsArg: a time rounded to whole seconds; `None` when it does not fit.
fn seconds(d: Duration) -> Option<u32> {
    let s = d.as_secs() + u64::from(d.subsec_nanos() >= 500_000_000);
    u32::try_from(s).ok()
}

fn parse_timeout(config: &str) -> Result<u32, ConfigError> {
    let mut args = Args::new(config);
    let timeout = args.read_kw::<Duration>("TIMEOUT")?;
    args.finish()?;
    match timeout {
        None => Ok(DEFAULT_TIMEOUT),
        Some(d) => {
            seconds(d).ok_or_else(|| ConfigError(format!("TIMEOUT {d:?} out of range (at most {} s)", u32::MAX)))
        }
    }
}

fn build_switch(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let timeout = parse_timeout(config)?;
    if ctx.ninputs != ctx.noutputs {
        return Err(ConfigError(format!(
            "EtherSwitch needs as many outputs as inputs ({} inputs, {} outputs)",
            ctx.ninputs, ctx.noutputs
        )));
    }
    Ok(Box::new(EtherSwitch::new(timeout, ctx.noutputs, false)))
}

fn build_listen(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let timeout = parse_timeout(config)?;
    if ctx.noutputs != ctx.ninputs + 1 {
        return Err(ConfigError(format!(
            "ListenEtherSwitch needs one more output than inputs ({} inputs, {} outputs)",
            ctx.ninputs, ctx.noutputs
        )));
    }
    Ok(Box::new(EtherSwitch::new(timeout, ctx.noutputs, true)))
}

/// Where an address was last seen, and when (the packet's timestamp annotation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    port: u32,
    stamp_ns: u64,
}

type Table = HashMap<u64, Entry, BuildHasherDefault<FastHasher>>;

fn key(a: &[u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(a);
    u64::from_le_bytes(b)
}

fn addr(k: u64) -> [u8; 6] {
    let b = k.to_le_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// The element (both classes): the learned table and one batch per output, reused.
pub struct EtherSwitch {
    timeout: u32,
    listen: bool,
    table: Table,
    outs: Vec<Batch>,
    drops: DropCounts,
}

/// What one packet becomes.
enum Route {
    Flood,
    Port(usize),
    /// Back to its own port: dropped (EtherSwitch) or to the listen port only.
    Same,
    Short,
}

impl EtherSwitch {
    fn new(timeout: u32, noutputs: usize, listen: bool) -> EtherSwitch {
        EtherSwitch {
            timeout,
            listen,
            table: Table::with_capacity_and_hasher(256, Default::default()),
            outs: (0..noutputs).map(|_| Batch::new()).collect(),
            drops: DropCounts::new(REASONS),
        }
    }

    /// Click's `EtherSwitch::push` decision for one packet arriving on `source`.
    #[inline]
    fn route(&mut self, source: usize, p: &Packet) -> Route {
        let Ok(f) = Frame::new_checked(p.data()) else { return Route::Short };
        if self.timeout == 0 {
            return Route::Flood;
        }
        let now = p.anno().timestamp_ns;
        self.table.insert(key(&f.src_addr()), Entry { port: source as u32, stamp_ns: now });
        let dst = f.dst_addr();
        if is_multicast(&dst) {
            return Route::Flood;
        }
        let k = key(&dst);
        let Some(e) = self.table.get(&k).copied() else { return Route::Flood };
        if now < e.stamp_ns.saturating_add(u64::from(self.timeout) * NS_PER_SEC) {
            if e.port as usize >= self.outs.len() {
                // Only a table handed over from a switch with more ports can say so.
                Route::Flood
            } else if e.port as usize == source {
                Route::Same
            } else {
                Route::Port(e.port as usize)
            }
        } else {
            self.table.remove(&k);
            Route::Flood
        }
    }

    /// Queue `p` for output `port`, sending the batch there when it is full.
    #[inline]
    fn emit(&mut self, port: usize, p: Packet, ctx: &mut Ctx<'_>) {
        let out = &mut self.outs[port];
        if let Err(p) = out.push(p) {
            ctx.push(port, std::mem::take(out));
            let _ = self.outs[port].push(p);
        }
    }

    #[inline]
    fn switch(&mut self, source: usize, batch: Batch, ctx: &mut Ctx<'_>) {
        let n = self.outs.len();
        let listen_port = n - 1;
        for p in batch {
            match self.route(source, &p) {
                Route::Short => self.drops.count(SHORT, 1),
                Route::Flood => {
                    // Click's broadcast: every output but the source's, the last first,
                    // copies to all but the last one served.
                    let last = if source == 0 { 1 } else { 0 };
                    for port in (last + 1..n).rev() {
                        if port != source {
                            let c = p.clone_packet();
                            self.emit(port, c, ctx);
                        }
                    }
                    if last < n {
                        self.emit(last, p, ctx);
                    }
                }
                Route::Same if self.listen => self.emit(listen_port, p, ctx),
                Route::Same => self.drops.count(SAME_PORT, 1),
                Route::Port(port) => {
                    if self.listen {
                        let c = p.clone_packet();
                        self.emit(listen_port, c, ctx);
                    }
                    self.emit(port, p, ctx);
                }
            }
        }
        for port in (0..n).rev() {
            if !self.outs[port].is_empty() {
                ctx.push(port, std::mem::take(&mut self.outs[port]));
            }
        }
    }

    fn table_text(&self) -> String {
        let mut entries: Vec<(u64, u32)> = self.table.iter().map(|(k, e)| (*k, e.port)).collect();
        entries.sort_unstable_by_key(|&(k, _)| addr(k));
        let mut s = String::with_capacity(entries.len() * 20);
        for (k, port) in entries {
            s.push_str(&unparse_ether(&addr(k)));
            s.push(' ');
            s.push_str(&port.to_string());
            s.push('\n');
        }
        s
    }
}

impl Element for EtherSwitch {
    fn push(&mut self, port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.switch(port, batch, &mut ctx);
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "table" => Some(self.table_text()),
            "timeout" => Some(self.timeout.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            // Click: SecondsArg().parse_saturating.
            "timeout" => {
                let d = parse_value::<Duration>("timeout", value).map_err(|_| "expected timeout (integer)")?;
                self.timeout = seconds(d).unwrap_or(u32::MAX);
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }

    fn take_state(&mut self) -> Option<State> {
        Some(Box::new((std::mem::take(&mut self.table), std::mem::replace(&mut self.drops, DropCounts::new(REASONS)))))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(s) = state.downcast::<(Table, DropCounts)>() {
            let (table, drops) = *s;
            let n = self.outs.len() as u32;
            self.table = table;
            self.table.retain(|_, e| e.port < n);
            self.drops = drops;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};
    use sluice::testing::{collected, inject, new_id, run_config};

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];
    const C: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc];
    const BCAST: [u8; 6] = [0xff; 6];

    fn frame(dst: [u8; 6], src: [u8; 6], t_secs: u64, tag: u8) -> Packet {
        let mut d = dst.to_vec();
        d.extend_from_slice(&src);
        d.extend_from_slice(&[0x08, 0x00, 0x45, tag]);
        let mut p = Packet::from_slice(&d);
        p.anno_mut().timestamp_ns = t_secs * NS_PER_SEC + 1;
        p
    }

    /// Run a switch of `n` ports (`class` one of the two) over `(input port, packet)` in
    /// order; returns each output's packets (their tags) and the
    /// router.
    fn run(
        class: &str,
        config: &str,
        n: usize,
        input: Vec<(usize, Packet)>,
    ) -> (Vec<Vec<u8>>, sluice::runtime::Router) {
        let noutputs = if class == "ListenEtherSwitch" { n + 1 } else { n };
        let sinks: Vec<u64> = (0..noutputs).map(|_| new_id()).collect();
        let mut config_text = format!("s :: {class}({config});\n");
        let mut per_port: Vec<Vec<Packet>> = (0..n).map(|_| Vec::new()).collect();
        for (port, p) in input {
            per_port[port].push(p);
        }
        // One Inject per port, declared in port order: the scheduler runs them in that
        // order, each port's packets in one batch.
        for (port, pkts) in per_port.into_iter().enumerate() {
            let id = new_id();
            inject(id, pkts);
            config_text.push_str(&format!("Inject(ID {id}) -> [{port}]s;\n"));
        }
        for (port, id) in sinks.iter().enumerate() {
            config_text.push_str(&format!("s[{port}] -> Collect(ID {id});\n"));
        }
        let router = run_config(&config_text, &crate::classes()).unwrap_or_else(|e| panic!("{e}"));
        let outs = sinks
            .into_iter()
            .map(|id| collected(id).iter().map(|p| p.data().get(15).copied().unwrap_or(0)).collect())
            .collect();
        (outs, router)
    }

    #[test]
    fn learns_floods_and_forwards() {
        // The decision alone, packet by packet, in an exact cross-port order.
        let mut sw = EtherSwitch::new(300, 3, false);
        let r = |sw: &mut EtherSwitch, port, p: Packet| match sw.route(port, &p) {
            Route::Flood => "flood".to_string(),
            Route::Port(q) => format!("to {q}"),
            Route::Same => "same".into(),
            Route::Short => "short".into(),
        };
        assert_eq!(r(&mut sw, 0, frame(B, A, 1, 0)), "flood", "B unknown");
        assert_eq!(r(&mut sw, 1, frame(A, B, 2, 0)), "to 0", "A learned on port 0");
        assert_eq!(r(&mut sw, 2, frame(B, C, 3, 0)), "to 1");
        assert_eq!(r(&mut sw, 2, frame(BCAST, C, 3, 0)), "flood", "broadcast always floods");
        assert_eq!(r(&mut sw, 2, frame([0x01, 0, 0x5e, 0, 0, 1], C, 3, 0)), "flood", "multicast too");
        assert_eq!(r(&mut sw, 0, frame(A, C, 4, 0)), "same", "A is behind port 0, where this came from");
        // A moves to port 2.
        assert_eq!(r(&mut sw, 2, frame(B, A, 5, 0)), "to 1");
        assert_eq!(r(&mut sw, 1, frame(A, B, 6, 0)), "to 2");
        assert_eq!(r(&mut sw, 1, Packet::from_slice(&[0; 13])), "short");
        let table = sw.read_handler("table").unwrap();
        assert_eq!(table, "02-00-00-00-00-0A 2\n02-00-00-00-00-0B 1\n02-00-00-00-00-0C 0\n");
    }

    #[test]
    fn associations_age_out_by_packet_timestamps() {
        let mut sw = EtherSwitch::new(10, 2, false);
        assert!(matches!(sw.route(0, &frame(B, A, 100, 0)), Route::Flood));
        // A was seen at t=100 (+1 ns); at t=109 it is still known, at t=110+1ns it is not.
        assert!(matches!(sw.route(1, &frame(A, B, 109, 0)), Route::Port(0)));
        assert!(matches!(sw.route(1, &frame(A, C, 110, 0)), Route::Flood));
        assert!(!sw.read_handler("table").unwrap().contains("02-00-00-00-00-0A"), "forgotten");
        // B (seen at 109 on port 1) is still known at 118.
        assert!(matches!(sw.route(0, &frame(B, A, 118, 0)), Route::Port(1)));
        // The timeout handler changes it on the fly; 0 makes a dumb hub.
        sw.write_handler("timeout", "1min").unwrap();
        assert_eq!(sw.read_handler("timeout").unwrap(), "60");
        assert!(matches!(sw.route(1, &frame(A, B, 170, 0)), Route::Port(0)));
        sw.write_handler("timeout", "0").unwrap();
        assert!(matches!(sw.route(1, &frame(A, B, 171, 0)), Route::Flood));
        assert!(sw.write_handler("timeout", "soon").unwrap_err().contains("expected timeout"));
        sw.write_handler("timeout", "99999999999").unwrap();
        assert_eq!(sw.read_handler("timeout").unwrap(), u32::MAX.to_string(), "saturating, as Click");
    }

    #[test]
    fn configuration_as_click_reads_it() {
        assert_eq!(parse_timeout("").unwrap(), 300);
        assert_eq!(parse_timeout("TIMEOUT 5").unwrap(), 5);
        assert_eq!(parse_timeout("TIMEOUT 2min").unwrap(), 120);
        assert_eq!(parse_timeout("TIMEOUT 1.5").unwrap(), 2);
        assert!(parse_timeout("TIMEOUT 99999999999").is_err());
        assert!(parse_timeout("5").is_err(), "TIMEOUT is a keyword only");
        assert!(parse_timeout("TIMEOUT x").is_err());
        let err = |class, config, ins, outs| sluice::testing::build(class, config, ins, outs).err().unwrap().0;
        assert!(err(&ETHER_SWITCH, "", 2, 1).contains("as many outputs as inputs"));
        assert!(err(&LISTEN_ETHER_SWITCH, "", 2, 2).contains("one more output than inputs"));
        assert!(sluice::testing::build(&LISTEN_ETHER_SWITCH, "TIMEOUT 10", 2, 3).is_ok());
    }

    /// Per-port isolation and flooding through a running graph: three LANs, traffic
    /// between two of them never reaches the third once learned, nothing goes back out of
    /// its input, and broadcasts reach everyone else.
    #[test]
    fn per_port_isolation_in_a_graph() {
        // Port 0 has A, port 1 has B, port 2 has C; each port's packets are injected in
        // one batch, ports served in order 0, 1, 2 by the scheduler (declaration order).
        let input = vec![
            (0, frame(BCAST, A, 1, 1)), // A announces itself: flooded to 1 and 2
            (1, frame(A, B, 2, 2)),     // to A: port 0 only
            (1, frame(B, B, 2, 3)),     // to itself: dropped (B is on port 1)
            (2, frame(A, C, 3, 4)),     // to A: port 0 only
            (2, frame(B, C, 3, 5)),     // to B: port 1 only
        ];
        let (outs, router) = run("EtherSwitch", "", 3, input);
        assert_eq!(outs[0], [2, 4]);
        assert_eq!(outs[1], [1, 5]);
        assert_eq!(outs[2], [1]);
        assert_eq!(router.read_handler("s", "drops").unwrap(), "1");
        let table = router.read_handler("s", "table").unwrap();
        assert_eq!(table.lines().count(), 3, "{table}");

        let input = vec![(0, frame(BCAST, A, 1, 1)), (1, frame(A, B, 2, 2)), (1, frame(B, B, 2, 3))];
        let (outs, _) = run("ListenEtherSwitch", "", 2, input);
        assert_eq!(outs[0], [2]);
        assert_eq!(outs[1], [1]);
        assert_eq!(outs[2], [1, 2, 3], "the listen port sees everything");
    }

    /// A real capture fed through a two-port switch: every frame is flooded or
    /// forwarded, never sent back out of its port, and every source address is learned.
    #[test]
    fn real_capture_through_two_ports() {
        let path = format!("{PCAPS}/snabb__v4.pcap");
        let recs = pcap_records(&path).1;
        let (zero, one) = (new_id(), new_id());
        let config = format!(
            "s :: EtherSwitch(TIMEOUT 1000); FromDump(\"{path}\", STOP true) -> [0]s; Idle -> [1]s; \
             s[0] -> Collect(ID {zero}); s[1] -> Collect(ID {one});"
        );
        let router = run_config(&config, &crate::classes()).unwrap();
        assert!(collected(zero).is_empty(), "nothing goes back out of port 0");
        let one = collected(one);
        let dropped: usize = router.read_handler("s", "drops").unwrap().parse().unwrap();
        assert_eq!(one.len() + dropped, recs.len());
        let mut srcs: Vec<[u8; 6]> = recs.iter().map(|r| Frame::new_checked(&r[..]).unwrap().src_addr()).collect();
        srcs.sort_unstable();
        srcs.dedup();
        let table = router.read_handler("s", "table").unwrap();
        assert_eq!(table.lines().count(), srcs.len(), "{table}");
        assert!(table.lines().all(|l| l.ends_with(" 0")));
        // The capture is between two hosts: once both are learned on port 0, frames
        // between them are dropped (they came from that LAN) — the real bridge behaviour.
        assert!(dropped > 0 && dropped < recs.len(), "dropped {dropped} of {}", recs.len());
    }

    /// Garbage never panics: every packet is forwarded, flooded or counted.
    #[test]
    fn garbage_is_counted() {
        let mut input = Vec::new();
        for len in 0..40u8 {
            input.push((usize::from(len % 2), Packet::from_slice(&vec![len; len as usize])));
        }
        let n = input.len();
        let (outs, router) = run("EtherSwitch", "", 2, input);
        let passed: usize = outs.iter().map(Vec::len).sum();
        let dropped: usize = router.read_handler("s", "drops").unwrap().parse().unwrap();
        assert_eq!(passed + dropped, n);
        assert!(router.read_handler("s", "drop_details").unwrap().contains("14 shorter than an Ethernet header"));
    }
}

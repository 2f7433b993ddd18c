//! `ARPQuerier`: encapsulates IP packets in Ethernet headers found via ARP.

use super::arp_responder::ARP_FRAME_LEN;
use super::arp_table::{Appended, ArpTable, Limits, Lookup};
use super::parse_value;
use crate::wire::arp::{self, Operation};
use crate::wire::ether::{self, ethertype, is_multicast, Frame, HEADER_LEN};
use sluice::args::{Args, EtherAddr, FromArg, Ipv4Prefix};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, State, TaskStatus};
use std::net::Ipv4Addr;
use std::time::Duration;

sluice::element_class! {
    /// ARPQuerier(IP, ETH, KEYWORDS)
    ///
    /// Encapsulates IP packets in Ethernet headers found via ARP.
    ///
    /// Handles most of the ARP protocol. Argument IP should be this host's IP address
    /// (optionally with a prefix length, `18.26.4.24/24`, from which the broadcast address
    /// is derived), and ETH should be this host's Ethernet address.
    ///
    /// Packets arriving on input 0 should be IP packets, and must have their destination
    /// address annotations set. If an Ethernet address is already known for the
    /// destination, the IP packet is wrapped in an Ethernet header (type 0x0800, from ETH)
    /// and sent to output 0. Otherwise the IP packet is saved and an ARP query is sent
    /// instead. If an ARP response arrives on input 1 for an IP address that we need, the
    /// mapping is recorded and any saved IP packets are sent, in the order they arrived.
    /// The ARP reply packets on input 1 should include the Ethernet header; any Ethernet
    /// ARP reply is learnt (not only answers to our queries), as in Click, except replies
    /// from group addresses.
    ///
    /// ARPQuerier may have one or two outputs. If it has two, then ARP queries are sent to
    /// the second output. Queries are 42-byte frames built as Click builds them: broadcast
    /// (or, when renewing a known entry, unicast to the known address unless
    /// BROADCAST_POLL), from ETH, asking for the packet's destination with this host's
    /// addresses as sender. They carry the timestamp and VLAN TCI annotations of the
    /// packet that caused them. With one output, queries and packets leave in exactly
    /// Click's order.
    ///
    /// ARPQuerier implements special behavior for 0.0.0.0, 255.255.255.255, multicast
    /// addresses, and the BROADCAST address. Packets addressed to 0.0.0.0 are dropped (the
    /// first one is reported on standard error). Packets for broadcast addresses are
    /// forwarded with destination Ethernet address FF-FF-FF-FF-FF-FF. Multicast IP
    /// addresses are forwarded to 01-00-5E-xx-yy-zz, where xx-yy-zz are the lower 23 bits
    /// of the multicast IP address, as specified in RFC 1112.
    ///
    /// ARPQuerier sends at most 10 queries a second for any IP address (one every two
    /// seconds after ten unanswered ones). Entries expire TIMEOUT after they were learnt;
    /// from POLL_TIMEOUT on, packets to a known address also trigger a renewal query.
    /// Expiry runs on Click's schedule (first after TIMEOUT, then every TIMEOUT + 1 s),
    /// measured with a monotonic clock.
    ///
    /// Each worker has its own table. When an ARPQuerier is replaced by another one with
    /// the same IP, ETH and broadcast address (a swap), the new one takes over the table,
    /// its waiting packets and the counters, as in Click.
    ///
    /// Ports: 2 inputs (IP packets, ARP replies); 1 or 2 outputs; push.
    ///
    /// # Keywords
    /// - `IP` — IPv4 address or prefix, mandatory, positional. This host's address.
    /// - `ETH` — Ethernet address, mandatory, positional. This host's address. As in Click,
    ///   a lone argument serves as both IP and ETH: `ARPQuerier(NAME)` with an AddressInfo
    ///   NAME that has both.
    /// - `CAPACITY` — unsigned. Most IP packets saved at a time, over all addresses; when
    ///   exceeded, the oldest entries' packets are dropped down to CAPACITY − CAPACITY /
    ///   CAPACITY_SLIM_FACTOR. 0 means unlimited. Default 2048.
    /// - `ENTRY_CAPACITY` — unsigned. Most ARP entries; the oldest are evicted. 0 means
    ///   unlimited (the default).
    /// - `ENTRY_PACKET_CAPACITY` — unsigned. Most packets saved for one address; more are
    ///   dropped. 0 means unlimited (the default).
    /// - `CAPACITY_SLIM_FACTOR` — unsigned > 0. See CAPACITY. Default 2.
    /// - `TIMEOUT` — time. Lifetime of an ARP entry; 0 means forever. Default 5 minutes.
    /// - `POLL_TIMEOUT` — time. Age after which ARPQuerier polls for renewal; 0 means
    ///   don't poll. Default one minute.
    /// - `BROADCAST` — IPv4 address. Local broadcast address. Default: the broadcast
    ///   address of IP's prefix, or 255.255.255.255 without one.
    /// - `BROADCAST_POLL` — boolean. If true, renewal queries are broadcast rather than
    ///   sent to the known address. Default false.
    /// - `TABLE` — Click's shared ARPTable element: not supported (refused).
    ///
    /// # Handlers
    /// - `table` (read) — the ARP table: `IP VALID ETH AGE` per entry, oldest first.
    /// - `stats` (read) — packets killed and queries sent, in Click's words.
    /// - `queries` (read) — ARP queries sent.
    /// - `responses` (read) — ARP responses received (packets of at least 42 bytes on
    ///   input 1, as Click counts them).
    /// - `count` (read) — entries in the table.
    /// - `length` (read) — packets waiting in the table.
    /// - `drops` (read) — packets dropped for any reason (Click's `drops` counts only
    ///   packets to 0.0.0.0 and without an address; `stats` adds the table's drops).
    /// - `drop_details` (read) — drops by reason.
    /// - `ipaddr` (read/write) — this host's IP address.
    /// - `broadcast` (read/write) — the broadcast address.
    /// - `insert` (write) — adds an entry: `IP ETH`. Waiting packets stay waiting.
    /// - `delete` (write) — marks the entry for `IP` unknown.
    /// - `clear` (write) — empties the table and resets the counters.
    ///
    /// # Example
    /// ```text
    /// c :: Classifier(12/0806 20/0002, 12/0800, ...);
    /// a :: ARPQuerier(18.26.4.24, 00:00:C0:AE:67:EF);
    /// c[0] -> [1]a;
    /// c[1] -> ... -> [0]a;
    /// a -> ToDevice(eth0);
    /// ```
    pub const ARP_QUERIER = "ARPQuerier" { ports: "2/1-2", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("table", Combine::First, "the ARP table"),
    HandlerSpec::read("stats", Combine::First, "packets killed and queries sent"),
    HandlerSpec::read("queries", Combine::Sum, "ARP queries sent"),
    HandlerSpec::read("responses", Combine::Sum, "ARP responses received"),
    HandlerSpec::read("count", Combine::Sum, "entries in the ARP table"),
    HandlerSpec::read("length", Combine::Sum, "packets waiting in the ARP table"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
    HandlerSpec::read_write("ipaddr", Combine::First, "this host's IP address"),
    HandlerSpec::read_write("broadcast", Combine::First, "the broadcast IP address"),
    HandlerSpec::write("insert", "add an entry: IP ETH"),
    HandlerSpec::write("delete", "mark the entry for IP unknown"),
    HandlerSpec::write("clear", "empty the table and reset the counters"),
];

const REASONS: &[&str] = &[
    "no IP address configured",
    "destination IP annotation is 0.0.0.0",
    "ARP table full (CAPACITY): oldest waiting packets dropped",
    "too many packets waiting for one address (ENTRY_PACKET_CAPACITY)",
    "ARP entry expired or evicted with packets waiting",
    "ARP table cleared with packets waiting",
    "input 1: shorter than an Ethernet ARP packet (42 bytes)",
    "input 1: not an Ethernet/IPv4 ARP reply",
];
const NO_IP: usize = 0;
const ZERO_DST: usize = 1;
/// Reasons 0..KILLED are what Click's `stats` calls packets killed.
const KILLED: usize = 6;
const SHORT_REPLY: usize = 6;
const NOT_REPLY: usize = 7;

/// Click's `Timestamp::jiffies` bound: longer times mean "never".
fn to_ms(d: Duration) -> i64 {
    if d.as_secs() >= u64::from(u32::MAX / 1000) {
        0
    } else {
        d.as_millis() as i64
    }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let mut limits = Limits::default();
    if let Some(c) = args.read_kw::<u32>("CAPACITY")? {
        limits.packet_capacity = c;
    }
    if let Some(c) = args.read_kw::<u32>("ENTRY_CAPACITY")? {
        limits.entry_capacity = c;
    }
    if let Some(c) = args.read_kw::<u32>("ENTRY_PACKET_CAPACITY")? {
        limits.entry_packet_capacity = c;
    }
    if let Some(f) = args.read_kw::<u32>("CAPACITY_SLIM_FACTOR")? {
        if f == 0 {
            return Err("CAPACITY_SLIM_FACTOR cannot be zero".into());
        }
        limits.slim_factor = f;
    }
    if let Some(t) = args.read_kw::<Duration>("TIMEOUT")? {
        limits.timeout_ms = to_ms(t);
    }
    let broadcast = args.read_kw::<Ipv4Addr>("BROADCAST")?;
    if args.read_kw::<String>("TABLE")?.is_some() {
        return Err("TABLE is not supported by Sluice's ARPQuerier (each ARPQuerier keeps its own table)".into());
    }
    let poll = args.read_kw::<Duration>("POLL_TIMEOUT")?.unwrap_or(Duration::from_secs(60));
    let broadcast_poll = args.read_kw::<bool>("BROADCAST_POLL")?.unwrap_or(false);
    let ip = args.read_p::<IpAndEth>("IP")?;
    let eth = args.read_p::<EtherAddr>("ETH")?;
    args.finish()?;
    // Click's ARPQuerier reads a lone argument as both IP and ETH: `ARPQuerier(NAME)` with
    // an AddressInfo NAME (arpquerier.cc: `if (conf.size() == 1) conf.push_back(conf[0])`).
    let (ip, eth) = match (ip, eth) {
        (Some(ip), Some(eth)) => (ip.0, eth),
        (Some(IpAndEth(ip, Some(eth))), None) => (ip, eth),
        (Some(IpAndEth(_, None)), None) => return Err("missing mandatory argument ETH".into()),
        (None, _) => return Err("missing mandatory arguments IP and ETH".into()),
    };
    let my_ip = ip.addr;
    let bcast = broadcast.unwrap_or_else(|| {
        let b = Ipv4Addr::from(u32::from(my_ip) | !u32::from(ip.mask()));
        if b == my_ip {
            Ipv4Addr::BROADCAST
        } else {
            b
        }
    });
    Ok(Box::new(ArpQuerier {
        name: ctx.name.clone(),
        my_ip,
        my_eth: eth.0,
        bcast,
        poll_ms: to_ms(poll),
        broadcast_poll,
        table: ArpTable::new(limits),
        queries: 0,
        responses: 0,
        drops: DropCounts::new(REASONS),
        zero_warned: false,
        out: Emitter { port: 0, batch: Batch::new() },
        released: Vec::new(),
    }))
}

/// The IP argument, and the Ethernet address the same text gives, if any (for the
/// one-argument form).
struct IpAndEth(Ipv4Prefix, Option<EtherAddr>);

impl FromArg for IpAndEth {
    const DESCRIPTION: &'static str = Ipv4Prefix::DESCRIPTION;
    fn from_arg(s: &str) -> Result<Self, String> {
        Ok(IpAndEth(Ipv4Prefix::from_arg(s)?, EtherAddr::from_arg(s).ok()))
    }
}

/// Builds an ARP request: from `my_eth`/`my_ip`, asking for `want`, to `dst` (broadcast for
/// a new query).
pub fn make_query(dst: [u8; 6], my_eth: [u8; 6], my_ip: Ipv4Addr, want: Ipv4Addr) -> Packet {
    let mut q = Packet::new(ARP_FRAME_LEN);
    let d = q.data_mut();
    ether::Repr { dst_addr: dst, src_addr: my_eth, ethertype: ethertype::ARP }
        .emit(&mut Frame::new_unchecked(&mut d[..HEADER_LEN]));
    arp::Repr {
        operation: Operation::REQUEST,
        sender_hw: my_eth,
        sender_ip: my_ip.octets(),
        target_hw: [0; 6],
        target_ip: want.octets(),
    }
    .emit(&mut d[HEADER_LEN..]);
    q
}

/// Sends packets in the order they are emitted: one batch at a time, pushed when it is
/// full or the next packet goes to another output.
struct Emitter {
    port: usize,
    batch: Batch,
}

impl Emitter {
    #[inline]
    fn emit(&mut self, ctx: &mut Ctx<'_>, port: usize, p: Packet) {
        if !self.batch.is_empty() && (self.port != port || self.batch.is_full()) {
            ctx.push(self.port, std::mem::take(&mut self.batch));
        }
        self.port = port;
        let _ = self.batch.push(p);
    }

    #[inline]
    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        if !self.batch.is_empty() {
            ctx.push(self.port, std::mem::take(&mut self.batch));
        }
    }
}

/// What ARPQuerier hands to its replacement.
pub struct ArpQuerierState {
    my_ip: Ipv4Addr,
    my_eth: [u8; 6],
    bcast: Ipv4Addr,
    table: ArpTable,
    queries: u64,
    responses: u64,
    drops: DropCounts,
}

/// The element: addresses, settings, the table, and counters.
pub struct ArpQuerier {
    name: String,
    my_ip: Ipv4Addr,
    my_eth: [u8; 6],
    bcast: Ipv4Addr,
    poll_ms: i64,
    broadcast_poll: bool,
    table: ArpTable,
    queries: u64,
    responses: u64,
    drops: DropCounts,
    zero_warned: bool,
    out: Emitter,
    /// Packets released by a reply, reused so that releasing allocates nothing.
    released: Vec<Packet>,
}

impl ArpQuerier {
    /// Send a query for `want` (Click's `send_query_for`); `known` is the address of a
    /// known entry being renewed.
    fn send_query(&mut self, ctx: &mut Ctx<'_>, want: Ipv4Addr, known: Option<[u8; 6]>, ts: u64, vlan: u16) {
        let dst = match known {
            Some(e) if !self.broadcast_poll => e,
            _ => ether::BROADCAST,
        };
        let mut q = make_query(dst, self.my_eth, self.my_ip, want);
        q.anno_mut().timestamp_ns = ts;
        q.anno_mut().vlan_tci = vlan;
        self.queries += 1;
        let port = ctx.noutputs() - 1;
        self.out.emit(ctx, port, q);
    }

    /// Click's `handle_ip`: encapsulate and send `p`, or hold it and query.
    fn handle_ip(&mut self, ctx: &mut Ctx<'_>, mut p: Packet, response: bool, now: i64) {
        if self.my_ip.is_unspecified() {
            self.drops.count(NO_IP, 1);
            return;
        }
        if !response {
            p.push(HEADER_LEN);
            Frame::new_unchecked(&mut p.data_mut()[..HEADER_LEN]).set_ethertype(ethertype::IPV4);
        }
        let dst = Ipv4Addr::from(p.anno().dst_ip);
        let dst_eth = loop {
            match self.table.lookup(dst, self.poll_ms, now) {
                Lookup::Known { eth, poll } => {
                    if poll {
                        let (ts, vlan) = (p.anno().timestamp_ns, p.anno().vlan_tci);
                        self.send_query(ctx, dst, Some(eth), ts, vlan);
                    }
                    break eth;
                }
                Lookup::Unknown if dst == Ipv4Addr::BROADCAST || dst == self.bcast => break ether::BROADCAST,
                Lookup::Unknown if dst.is_multicast() => {
                    let o = dst.octets();
                    break [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]];
                }
                Lookup::Unknown if dst.is_unspecified() => {
                    if !self.zero_warned {
                        eprintln!("{}: would query for 0.0.0.0; missing dest IP addr annotation?", self.name);
                        self.zero_warned = true;
                    }
                    self.drops.count(ZERO_DST, 1);
                    return;
                }
                Lookup::Unknown => {
                    let (ts, vlan) = (p.anno().timestamp_ns, p.anno().vlan_tci);
                    match self.table.append(dst, p, now, &mut self.drops) {
                        Appended::Held { query } => {
                            if query {
                                self.send_query(ctx, dst, None, ts, vlan);
                            }
                            return;
                        }
                        Appended::Dropped => return,
                        // Learnt meanwhile: look it up again.
                        Appended::Known(back) => p = back,
                    }
                }
            }
        };
        // The source is set just before sending, in case ETH changed while it waited.
        let mut f = Frame::new_unchecked(&mut p.data_mut()[..HEADER_LEN]);
        f.set_dst_addr(dst_eth);
        f.set_src_addr(self.my_eth);
        self.out.emit(ctx, 0, p);
    }

    /// Click's `handle_response`: learn from an ARP reply and release waiting packets.
    fn handle_response(&mut self, ctx: &mut Ctx<'_>, p: &Packet) {
        let d = p.data();
        if d.len() < ARP_FRAME_LEN {
            self.drops.count(SHORT_REPLY, 1);
            return;
        }
        self.responses += 1;
        let reply = match arp::Repr::parse(&d[HEADER_LEN..]) {
            Ok(r)
                if Frame::new_unchecked(d).ethertype() == ethertype::ARP
                    && r.operation == Operation::REPLY
                    && !is_multicast(&r.sender_hw) =>
            {
                r
            }
            _ => {
                self.drops.count(NOT_REPLY, 1);
                return;
            }
        };
        let mut released = std::mem::take(&mut self.released);
        self.table
            .insert(Ipv4Addr::from(reply.sender_ip), reply.sender_hw, true, &mut self.drops, |q| released.push(q));
        let now = self.table.now();
        for q in released.drain(..) {
            self.handle_ip(ctx, q, true, now);
        }
        self.released = released;
    }

    fn parse_insert(value: &str) -> Result<(Ipv4Addr, Option<[u8; 6]>), String> {
        let words: Vec<&str> = value.split_whitespace().collect();
        match words[..] {
            [ip, eth] => Ok((parse_value("IP", ip)?, Some(parse_value::<EtherAddr>("ETH", eth)?.0))),
            [ip] => Ok((parse_value("IP", ip)?, None)),
            _ => Err("expected IP ETH".into()),
        }
    }
}

impl Element for ArpQuerier {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        // The task is Click's expiry timer; without TIMEOUT there is nothing to expire.
        if self.table.limits.timeout_ms > 0 {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn push(&mut self, port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        if port == 0 {
            let now = self.table.now();
            for p in batch {
                self.handle_ip(&mut ctx, p, false, now);
            }
        } else {
            for p in batch {
                self.handle_response(&mut ctx, &p);
            }
        }
        self.out.flush(&mut ctx);
    }

    fn run_task(&mut self, _ctx: Ctx<'_>) -> TaskStatus {
        self.table.run_timer(&mut self.drops);
        TaskStatus::Idle
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "table" => self.table.unparse(),
            "stats" => {
                let killed: u64 = (0..KILLED).map(|r| self.drops.get(r)).sum();
                format!("{killed} packets killed\n{} ARP queries sent\n", self.queries)
            }
            "queries" => self.queries.to_string(),
            "responses" => self.responses.to_string(),
            "count" => self.table.count().to_string(),
            "length" => self.table.length().to_string(),
            "ipaddr" => self.my_ip.to_string(),
            "broadcast" => self.bcast.to_string(),
            _ => return self.drops.read_handler(name),
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "ipaddr" => self.my_ip = parse_value("ipaddr", value)?,
            "broadcast" => self.bcast = parse_value("broadcast", value)?,
            "insert" => match Self::parse_insert(value)? {
                (ip, Some(eth)) => self.table.insert(ip, eth, false, &mut self.drops, drop),
                (_, None) => return Err("missing mandatory argument ETH".into()),
            },
            "delete" => match Self::parse_insert(value)? {
                (ip, None) => self.table.insert(ip, ether::BROADCAST, false, &mut self.drops, drop),
                _ => return Err("expected IP".into()),
            },
            "clear" => {
                self.queries = 0;
                self.responses = 0;
                self.drops.reset();
                self.table.clear(&mut self.drops);
            }
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }

    fn take_state(&mut self) -> Option<State> {
        let empty = ArpTable::new(self.table.limits);
        Some(Box::new(ArpQuerierState {
            my_ip: self.my_ip,
            my_eth: self.my_eth,
            bcast: self.bcast,
            table: std::mem::replace(&mut self.table, empty),
            queries: self.queries,
            responses: self.responses,
            drops: self.drops.clone(),
        }))
    }

    fn give_state(&mut self, state: State) {
        let Ok(old) = state.downcast::<ArpQuerierState>() else {
            return;
        };
        if old.my_ip != self.my_ip || old.my_eth != self.my_eth || old.bcast != self.bcast {
            return;
        }
        let old = *old;
        let limits = self.table.limits;
        self.table = old.table;
        self.table.limits = limits;
        self.table.set_timeout(limits.timeout_ms);
        self.queries = old.queries;
        self.responses = old.responses;
        self.drops = old.drops;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};
    use sluice::testing::{build as build_elem, collected, inject, new_id, run_config};

    /// tcpdump's 802.1ad sample without its VLAN tags and padding: 172.21.79.97
    /// (00:20:d2:5a:fb:3f) asks for 172.21.79.100; 00:80:ea:81:88:63 replies.
    fn sample() -> (Vec<u8>, Vec<u8>) {
        let (_, recs) = pcap_records(&format!("{PCAPS}/tcpdump__802.1ad_QinQ.pcap"));
        let untag = |r: &Vec<u8>| {
            let mut v = r[..12].to_vec();
            v.extend_from_slice(&r[20..20 + 30]);
            v
        };
        (untag(&recs[0]), untag(&recs[1]))
    }

    const ME: &str = "172.21.79.97, 00:20:d2:5a:fb:3f";

    fn ip_packet(dst: [u8; 4], id: u8) -> Packet {
        let mut p = Packet::from_slice(&[0x45, 0, 0, 20, id]);
        p.anno_mut().dst_ip = dst;
        p
    }

    /// Run `ips` into input 0, then `replies` into input 1; returns the packets of output
    /// 0 and 1 (two outputs) or of output 0 only.
    fn run(config: &str, outputs: usize, ips: Vec<Packet>, replies: Vec<Packet>) -> (Vec<Packet>, Vec<Packet>) {
        let (a, b, o0, o1) = (new_id(), new_id(), new_id(), new_id());
        inject(a, ips);
        inject(b, replies);
        let second = if outputs == 2 { format!("q[1] -> Collect(ID {o1});") } else { String::new() };
        let graph = format!(
            "ips :: Inject(ID {a}); replies :: Inject(ID {b}); q :: ARPQuerier({config}); \
             ips -> [0]q; replies -> [1]q; q[0] -> Collect(ID {o0}); {second}"
        );
        run_config(&graph, &crate::classes()).unwrap();
        (collected(o0), collected(o1))
    }

    #[test]
    fn queries_as_in_the_capture_then_sends_held_packets_on_reply() {
        let (request, reply) = sample();
        let mut first = ip_packet([172, 21, 79, 100], 1);
        first.anno_mut().vlan_tci = 2001;
        first.anno_mut().timestamp_ns = 42;
        let ips = vec![first, ip_packet([172, 21, 79, 100], 2), ip_packet([172, 21, 79, 100], 3)];
        let (out, queries) = run(ME, 2, ips, vec![Packet::from_slice(&reply)]);
        // One query, byte for byte the captured request.
        assert_eq!(queries.len(), 1);
        assert_eq!(queries[0].data(), &request[..]);
        assert_eq!((queries[0].anno().vlan_tci, queries[0].anno().timestamp_ns), (2001, 42));
        // The three held packets, in order, to the replying host.
        assert_eq!(out.len(), 3);
        for (i, p) in out.iter().enumerate() {
            let d = p.data();
            assert_eq!(&d[..6], &[0x00, 0x80, 0xea, 0x81, 0x88, 0x63]);
            assert_eq!(&d[6..12], &[0x00, 0x20, 0xd2, 0x5a, 0xfb, 0x3f]);
            assert_eq!(&d[12..14], &[0x08, 0x00]);
            assert_eq!(&d[14..], &[0x45, 0, 0, 20, i as u8 + 1]);
        }
    }

    #[test]
    fn one_output_keeps_clicks_order_and_counts() {
        let (_, reply) = sample();
        let ips = vec![
            ip_packet([255, 255, 255, 255], 1),
            ip_packet([172, 21, 79, 100], 2),
            ip_packet([224, 129, 2, 3], 3),
            ip_packet([172, 21, 79, 255], 4),
            ip_packet([0, 0, 0, 0], 5),
        ];
        let (a, b, o) = (new_id(), new_id(), new_id());
        inject(a, ips);
        inject(b, vec![Packet::from_slice(&reply), Packet::from_slice(&reply[..30])]);
        let graph = format!(
            "ips :: Inject(ID {a}); replies :: Inject(ID {b}); q :: ARPQuerier(172.21.79.97/24, 00:20:d2:5a:fb:3f); \
             ips -> [0]q; replies -> [1]q; q -> Collect(ID {o});"
        );
        let router = run_config(&graph, &crate::classes()).unwrap();
        let got = collected(o);
        let kinds: Vec<(u16, u8)> =
            got.iter().map(|p| (u16::from_be_bytes([p.data()[12], p.data()[13]]), *p.data().last().unwrap())).collect();
        // broadcast IP, the query (ARP, last byte of the target IP 100), multicast, the
        // subnet broadcast, then the held packet once the reply came.
        assert_eq!(kinds, [(0x0800, 1), (0x0806, 100), (0x0800, 3), (0x0800, 4), (0x0800, 2)]);
        assert_eq!(&got[0].data()[..6], &[0xff; 6]);
        assert_eq!(&got[2].data()[..6], &[0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]);
        assert_eq!(&got[3].data()[..6], &[0xff; 6]);
        assert_eq!(router.read_handler("q", "queries").unwrap(), "1");
        assert_eq!(router.read_handler("q", "responses").unwrap(), "1");
        assert_eq!(router.read_handler("q", "count").unwrap(), "1");
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
        assert_eq!(router.read_handler("q", "broadcast").unwrap(), "172.21.79.255");
        assert_eq!(router.read_handler("q", "drops").unwrap(), "2");
        let details = router.read_handler("q", "drop_details").unwrap();
        assert!(details.contains("1 destination IP annotation is 0.0.0.0"), "{details}");
        assert!(details.contains("1 input 1: shorter than"), "{details}");
        assert_eq!(router.read_handler("q", "stats").unwrap(), "1 packets killed\n1 ARP queries sent\n");
        let table = router.read_handler("q", "table").unwrap();
        assert!(table.starts_with("172.21.79.100 1 00-80-EA-81-88-63 0."), "{table}");
    }

    #[test]
    fn capacity_bounds_held_packets() {
        let ips: Vec<Packet> = (0..10u8).map(|i| ip_packet([10, 0, 0, i], i)).collect();
        let (a, b, o) = (new_id(), new_id(), new_id());
        inject(a, ips);
        inject(b, Vec::new());
        let graph = format!(
            "ips :: Inject(ID {a}); replies :: Inject(ID {b}); \
             q :: ARPQuerier(10.0.0.1, 00:00:00:00:00:01, CAPACITY 4, ENTRY_PACKET_CAPACITY 1); \
             ips -> [0]q; replies -> [1]q; q -> Collect(ID {o});"
        );
        let router = run_config(&graph, &crate::classes()).unwrap();
        // Ten destinations, ten queries; at most 4 packets ever held.
        assert_eq!(collected(o).len(), 10);
        let held: u32 = router.read_handler("q", "length").unwrap().parse().unwrap();
        assert!(held <= 4, "{held}");
        let dropped: u32 = router.read_handler("q", "drops").unwrap().parse().unwrap();
        assert_eq!(held + dropped, 10);
    }

    #[test]
    fn handlers_insert_delete_clear_and_config() {
        let mut q = build_elem(&ARP_QUERIER, "10.0.0.1/8, 00:00:00:00:00:01, TIMEOUT 0, POLL_TIMEOUT 0", 2, 1).unwrap();
        assert_eq!(q.read_handler("ipaddr").unwrap(), "10.0.0.1");
        assert_eq!(q.read_handler("broadcast").unwrap(), "10.255.255.255");
        q.write_handler("insert", "10.0.0.2 00:11:22:33:44:55").unwrap();
        assert!(q.read_handler("table").unwrap().starts_with("10.0.0.2 1 00-11-22-33-44-55 "));
        q.write_handler("delete", "10.0.0.2").unwrap();
        assert!(q.read_handler("table").unwrap().starts_with("10.0.0.2 0 FF-FF-FF-FF-FF-FF "));
        assert_eq!(q.read_handler("count").unwrap(), "1");
        q.write_handler("clear", "").unwrap();
        assert_eq!(q.read_handler("count").unwrap(), "0");
        q.write_handler("ipaddr", "10.0.0.9").unwrap();
        q.write_handler("broadcast", "10.0.0.255").unwrap();
        assert_eq!(q.read_handler("broadcast").unwrap(), "10.0.0.255");
        assert!(q.write_handler("insert", "10.0.0.2").is_err());
        assert!(q.write_handler("insert", "10.0.0.2 zz").is_err());
        assert!(q.write_handler("delete", "x").is_err());
        let q = build_elem(&ARP_QUERIER, "10.0.0.1, 00:00:00:00:00:01", 2, 1).unwrap();
        assert_eq!(q.read_handler("broadcast").unwrap(), "255.255.255.255");
        let q = build_elem(&ARP_QUERIER, "10.0.0.1/24, 00:00:00:00:00:01, BROADCAST 10.0.0.127", 2, 1).unwrap();
        assert_eq!(q.read_handler("broadcast").unwrap(), "10.0.0.127");
        assert!(build_elem(&ARP_QUERIER, "10.0.0.1", 2, 1).is_err());
        assert!(build_elem(&ARP_QUERIER, "10.0.0.1, 00:00:00:00:00:01, TABLE t", 2, 1)
            .err()
            .unwrap()
            .0
            .contains("TABLE"));
        assert!(build_elem(&ARP_QUERIER, "10.0.0.1, 00:00:00:00:00:01, CAPACITY_SLIM_FACTOR 0", 2, 1).is_err());
        assert!(build_elem(&ARP_QUERIER, "10.0.0.1, 00:00:00:00:00:01, TIMEOUT soon", 2, 1).is_err());
    }

    #[test]
    fn swap_hands_over_the_table() {
        let mut a = build_elem(&ARP_QUERIER, ME, 2, 1).unwrap();
        a.write_handler("insert", "172.21.79.100 00:80:ea:81:88:63").unwrap();
        let state = a.take_state().unwrap();
        assert_eq!(a.read_handler("count").unwrap(), "0");
        let mut b = build_elem(&ARP_QUERIER, &format!("{ME}, CAPACITY 10"), 2, 1).unwrap();
        b.give_state(state);
        assert_eq!(b.read_handler("count").unwrap(), "1");
        // Another address: the state is not taken.
        let state = b.take_state().unwrap();
        let mut c = build_elem(&ARP_QUERIER, "172.21.79.98, 00:20:d2:5a:fb:3f", 2, 1).unwrap();
        c.give_state(state);
        assert_eq!(c.read_handler("count").unwrap(), "0");
    }
}

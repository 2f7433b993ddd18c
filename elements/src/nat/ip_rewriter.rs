//! `IPRewriter`: rewrites TCP and UDP flows' addresses and ports (Click's NAPT).

use super::rewriter::{read_base_keywords, read_specs, Config, Mode, Rewriter, DEFAULT_GUARANTEE, IP_HANDLERS};
use super::table::Timeouts;
use super::tcp_rewriter::read_tcp_keywords;
use sluice::args::Args;
use sluice::{BuildCtx, ConfigError, Element};
use std::time::Duration;

sluice::element_class! {
    /// IPRewriter(INPUTSPEC1, ..., INPUTSPECn [, KEYWORDS])
    ///
    /// Rewrites TCP/UDP packets' addresses and ports.
    ///
    /// Rewrites the source address, source port, destination address, and/or destination
    /// port of TCP and UDP packets, along with their checksums: a network address/port
    /// translator (NAPT), with Click's IPRewriter semantics.
    ///
    /// IPRewriter keeps a *mapping table* indexed by flow identifier: source address,
    /// source port, destination address, destination port, and protocol (TCP and UDP
    /// have separate tables). A mapping holds a new flow identifier and an output port,
    /// written `(SA, SP, DA, DP) => (SA', SP', DA', DP') [*OUTPUT]`. A packet whose flow
    /// has a mapping is rewritten and emitted on the mapping's output. Otherwise the
    /// INPUTSPEC of the input it arrived on decides; there are as many inputs as
    /// INPUTSPECs:
    ///
    /// - `drop` or `discard` — drop the packet.
    /// - `pass OUTPUT` (also `passthrough`, `nochange`; OUTPUT defaults to 0) — emit it
    ///   unchanged on OUTPUT; no mapping is made.
    /// - `keep FOUTPUT ROUTPUT` — map the flow to itself: the packet leaves unchanged on
    ///   FOUTPUT, and replies (DA, DP, SA, SP) leave unchanged on ROUTPUT.
    /// - `pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT` (also `xpattern`) — rewrite by
    ///   the pattern: each field is a value or `-` (unchanged). SPORT may be a range
    ///   `L-H`: the packet's own source port is chosen if it is in the range and free,
    ///   else a random port of the range, then the ones after it in turn; `L-H#` chooses
    ///   sequentially (the port after the last one chosen), `L-H?` randomly without
    ///   preferring the source port. A port is free when no mapping has the reply flow
    ///   it would make. If none is free the packet is dropped and counted in
    ///   `mapping_failures`. Two mappings are made: `(SA, SP, DA, DP) => (SA', SP', DA',
    ///   DP') [*FOUTPUT]` and the reply `(DA', DP', SA', SP') => (DA, DP, SA, SP)
    ///   [*ROUTPUT]`. Click's two- and three-word pattern forms are accepted too.
    /// - `pattern PATNAME FOUTPUT ROUTPUT` — rewrite by the pattern named PATNAME by an
    ///   IPRewriterPatterns element (found from this element's compound scope outwards,
    ///   as Click finds it); an unknown name is refused (`input spec N: no such pattern
    ///   'PATNAME'`). In Click every user of a named pattern shares it, so a sequential
    ///   (`#`) range goes on where any user left it; in Sluice each input of each
    ///   rewriter keeps its own copy of the pattern and of that position.
    ///
    /// Click's `ELEMENTNAME` spec (an IPMapper element such as RoundRobinIPMapper) is
    /// refused with an error: Sluice has no IPMapper elements.
    ///
    /// Packets are rewritten in place: addresses and ports are replaced, and the IP,
    /// TCP and UDP checksums are updated incrementally (RFC 1624) with the differences
    /// Click computes, so the bytes are Click's. A UDP checksum of zero ("no checksum")
    /// stays zero. TCP ports are rewritten only when at least 18 bytes of TCP header are
    /// present (as in Click; the addresses are rewritten regardless).
    ///
    /// Input packets must have their network header annotation set (CheckIPHeader,
    /// MarkIPHeader). Packets that are not TCP or UDP, second and later fragments, and
    /// packets with fewer than 8 bytes of transport header are dropped unless they arrive
    /// on a `pass` input, which emits them unchanged; the first fragment of a flow is
    /// rewritten like any packet (later fragments are not: Click does the same). Packets
    /// without an IP header annotation, or with fewer than 20 bytes there, are dropped
    /// (Click would crash). Drops are counted by reason in `drop_details`.
    ///
    /// Mappings expire: a TCP mapping after TCP_NODATA_TIMEOUT until payload has been
    /// seen both ways, after TCP_TIMEOUT once it has, after TCP_DONE_TIMEOUT once the
    /// connection closed (FIN both ways, or RST); a UDP mapping after UDP_TIMEOUT, or
    /// UDP_STREAMING_TIMEOUT once it saw 3 packets including a reply. Each packet
    /// guarantees its mapping for the GUARANTEE time. Every REAP_INTERVAL expired
    /// mappings are removed (until then they still apply, as in Click); the removal is
    /// done a few hundred mappings at a time, between batches, so the data path never
    /// stalls. With a MAPPING_CAPACITY, a new mapping in a full table evicts the
    /// best-effort mapping nearest expiry, or is refused if every mapping is guaranteed.
    ///
    /// The table grows as flows arrive (room for 1024 flows, or MAPPING_CAPACITY up to
    /// 65536, is reserved up front) and reuses freed slots, so a table at its working
    /// size allocates nothing per packet.
    ///
    /// When an IPRewriter replaces an IPRewriter (swap or hot-swap), it takes over the
    /// mappings, their expiry times, the failure and drop counts, and the position of
    /// unchanged sequential patterns; mappings from inputs or to outputs it does not
    /// have are dropped. Each worker keeps its own table: with several workers, both
    /// directions of a flow must reach the same worker.
    ///
    /// Ports: 1 or more inputs, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `TCP_TIMEOUT` — time. Timeout of TCP connections with payload seen both ways.
    ///   Default 24 hours. `TIMEOUT` is a synonym (TCP_TIMEOUT wins if both are given).
    /// - `TCP_NODATA_TIMEOUT` — time. Timeout of other TCP connections. Default 5
    ///   minutes.
    /// - `TCP_DONE_TIMEOUT` — time. Timeout of completed TCP connections. Default 4
    ///   minutes.
    /// - `TCP_GUARANTEE` — time. Each TCP packet keeps its mapping at least this long.
    ///   Default 5 seconds. `GUARANTEE` is a synonym (and wins if both are given).
    /// - `UDP_TIMEOUT` — time. Timeout of UDP mappings. Default 5 minutes.
    /// - `UDP_STREAMING_TIMEOUT` — time. Timeout of streaming UDP mappings (3 packets or
    ///   more, with a reply). Default UDP_TIMEOUT.
    /// - `UDP_GUARANTEE` — time. Each UDP packet keeps its mapping at least this long.
    ///   Default 5 seconds.
    /// - `REAP_INTERVAL` — time. How often expired mappings are removed; 0 never.
    ///   Default 15 minutes. `REAP_TIME` is Click's deprecated synonym.
    /// - `MAPPING_CAPACITY` — integer. Most mappings held. Default unlimited. `CAPACITY`
    ///   is a synonym. Click's form naming another rewriter is refused.
    /// - `DST_ANNO` — boolean. Set the destination IP annotation to the rewritten
    ///   destination. Default true.
    /// - `REPLY_ANNO` — one-byte annotation (name or offset). Store the annotation of the
    ///   packet that created a mapping, and set it on the mapping's reply packets.
    ///
    /// Times are durations (`30`, `1.5s`, `100ms`, `2min`); Click rounds them to whole
    /// seconds, Sluice keeps fractions.
    ///
    /// # Handlers
    /// - `tcp_table`, `udp_table` (read) — the TCP and UDP mapping tables in Click's
    ///   format, one line per entry: `(SA, SP, DA, DP) => (SA', SP', DA', DP') [*FOUT
    ///   ROUT] iINPUT expSECONDS`, the star marking the entry's direction, `exp` the
    ///   seconds until it expires (after its guarantee). Mappings are listed in creation
    ///   order, each forward entry before its reply (Click lists them in hash order).
    /// - `tcp_mappings`, `udp_mappings` (read) — Click's deprecated names for the above.
    /// - `table`, `mappings` (read) — `tcp_table` followed by `udp_table`.
    /// - `nmappings` (read) — mappings in the tables.
    /// - `mapping_failures` (read) — new flows refused: no free port, or table full.
    /// - `patterns` (read) — each input's spec (`<drop>`, `<nochange>`, `<keep>`, or the
    ///   pattern) with its live mapping count in brackets.
    /// - `size` (read) — flows in the table; `length` is a synonym.
    /// - `capacity` (read/write) — MAPPING_CAPACITY; writing a smaller value evicts at once.
    /// - `clear` (write) — removes every mapping.
    /// - `drops`, `drop_details` (read) — packets dropped, in total and by reason.
    ///
    /// # Example
    /// ```text
    /// // Inside hosts share 10.0.0.1; replies come back to them.
    /// rw :: IPRewriter(pattern 10.0.0.1 1024-65535 - - 0 1, drop);
    /// inside -> CheckIPHeader -> [0]rw;
    /// outside -> CheckIPHeader -> [1]rw;
    /// rw[0] -> to_outside;
    /// rw[1] -> to_inside;
    /// ```
    pub const IP_REWRITER = "IPRewriter" { ports: "1-/1-", processing: "h/h", handlers: IP_HANDLERS, build: build }
}

const KEYWORDS: &[&str] = &[
    "UDP_TIMEOUT",
    "UDP_STREAMING_TIMEOUT",
    "UDP_GUARANTEE",
    "TCP_NODATA_TIMEOUT",
    "TCP_GUARANTEE",
    "TIMEOUT",
    "TCP_TIMEOUT",
    "TCP_DONE_TIMEOUT",
    "DST_ANNO",
    "REPLY_ANNO",
    "CAPACITY",
    "MAPPING_CAPACITY",
    "GUARANTEE",
    "REAP_INTERVAL",
    "REAP_TIME",
];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(configure(config, ctx)?))
}

/// The element, configured. Keywords are read in Click's order (IPRewriter's, then
/// TCPRewriter's, then IPRewriterBase's), which decides which synonym wins.
pub(crate) fn configure(config: &str, ctx: &BuildCtx) -> Result<Rewriter, ConfigError> {
    let mut args = Args::new(config);
    let udp_timeout = args.read_kw::<Duration>("UDP_TIMEOUT")?.unwrap_or(Duration::from_secs(300));
    let udp_streaming = args.read_kw::<Duration>("UDP_STREAMING_TIMEOUT")?.unwrap_or(udp_timeout);
    let udp_guarantee = args.read_kw::<Duration>("UDP_GUARANTEE")?.unwrap_or(DEFAULT_GUARANTEE);
    let tcp = read_tcp_keywords(&mut args)?;
    let base = read_base_keywords(&mut args)?;
    let specs = read_specs(&mut args, ctx, KEYWORDS)?;
    args.finish()?;
    let tcp_guarantee = base.guarantee.or(tcp.guarantee).unwrap_or(DEFAULT_GUARANTEE);
    let timeouts = Timeouts {
        tcp: [tcp.nodata, tcp_guarantee],
        tcp_data: tcp.data,
        tcp_done: tcp.done,
        udp: [udp_timeout, udp_guarantee],
        udp_streaming,
        addr: [tcp.nodata, tcp_guarantee],
    };
    let cfg = Config {
        mode: Mode::Ip,
        specs,
        timeouts,
        dst_anno: tcp.dst_anno,
        reply_anno: tcp.reply_anno,
        capacity: base.capacity,
        reap_interval: base.reap_interval,
    };
    Ok(Rewriter::new(cfg, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat::testutil::*;
    use sluice::testing::{build as build_elem, collected, inject, new_id, run_config};
    use sluice::Packet;
    use std::time::{Duration, Instant};

    const NAT: [u8; 4] = [10, 0, 0, 1];
    const DROPPED: usize = usize::MAX;

    fn nat(extra: &str) -> Rewriter {
        rewriter(configure, &format!("pattern 10.0.0.1 1024-65535# - - 0 1, drop{extra}"), 2, 2)
    }

    /// Packets from the client (inside) of the HTTP capture.
    fn from_client(pk: &[Packet]) -> Vec<&Packet> {
        pk.iter().filter(|p| p.data()[12..16] == CLIENT).collect()
    }

    #[test]
    fn rewrites_a_real_capture_and_maps_replies_back_byte_for_byte() {
        let pk = capture(SNABB_V4);
        assert_eq!(pk.len(), 43);
        let mut rw = nat("");
        let t0 = Instant::now();
        // Sequential allocation shares one counter between TCP and UDP flows of a pattern:
        // 3372 (TCP) first, then 3009 (UDP, DNS), then 3371 (TCP).
        let port_of = |sport: u16| match sport {
            3372 => 1024,
            3009 => 1025,
            3371 => 1026,
            p => panic!("unexpected client port {p}"),
        };
        for p in &pk {
            let d = p.data();
            let hl = (d[0] & 15) as usize * 4;
            let (sport, dport) = (u16::from_be_bytes([d[hl], d[hl + 1]]), u16::from_be_bytes([d[hl + 2], d[hl + 3]]));
            let (src, dst) = ([d[12], d[13], d[14], d[15]], [d[16], d[17], d[18], d[19]]);
            if src == CLIENT {
                // Outgoing: source becomes 10.0.0.1:port, all else unchanged.
                let (out, q) = run(&mut rw, 0, p.clone_packet(), t0);
                assert_eq!(out, 0);
                assert_rewritten(&q, NAT, port_of(sport), dst, dport);
                assert_same_except(&q, p, &napt_fields(p));
                assert_eq!(q.anno().dst_ip, dst, "DST_ANNO");
            } else {
                // Incoming, as seen outside the NAT: back to the client, exactly the bytes
                // captured on the inside (checksums included).
                let outside = to_outside_view(p, NAT, port_of(dport));
                let (out, q) = run(&mut rw, 1, outside, t0);
                assert_eq!(out, 1);
                assert_eq!(q.data(), p.data(), "reply restored byte for byte");
                assert_eq!(q.anno().dst_ip, CLIENT, "DST_ANNO");
            }
        }
        assert_eq!(rw.read_handler("nmappings").unwrap(), "3");
        assert_eq!(rw.read_handler("size").unwrap(), "3");
        assert_eq!(rw.read_handler("mapping_failures").unwrap(), "0");
        assert_eq!(rw.read_handler("drops").unwrap(), "0");
        assert_eq!(rw.read_handler("patterns").unwrap(), "10.0.0.1 1024-65535 - - [3]\n<drop>\n");
        rw.check_table();
    }

    #[test]
    fn table_lists_both_directions_in_clicks_format() {
        let pk = capture(SNABB_V4);
        let mut rw = nat(", TCP_GUARANTEE 0, UDP_GUARANTEE 0, UDP_TIMEOUT 60");
        let t0 = Instant::now();
        for p in from_client(&pk) {
            run(&mut rw, 0, p.clone_packet(), t0);
        }
        assert_eq!(
            rw.table_at("tcp_table", t0),
            "(145.254.160.237, 3372, 65.208.228.223, 80) => (10.0.0.1, 1024, 65.208.228.223, 80) [*0 1] i0 exp300\n\
             (65.208.228.223, 80, 10.0.0.1, 1024) => (65.208.228.223, 80, 145.254.160.237, 3372) [0 *1] i0 exp300\n\
             (145.254.160.237, 3371, 216.239.59.99, 80) => (10.0.0.1, 1026, 216.239.59.99, 80) [*0 1] i0 exp300\n\
             (216.239.59.99, 80, 10.0.0.1, 1026) => (216.239.59.99, 80, 145.254.160.237, 3371) [0 *1] i0 exp300\n"
        );
        assert_eq!(
            rw.table_at("udp_table", t0 + Duration::from_millis(20_400)),
            "(145.254.160.237, 3009, 145.253.2.203, 53) => (10.0.0.1, 1025, 145.253.2.203, 53) [*0 1] i0 exp40\n\
             (145.253.2.203, 53, 10.0.0.1, 1025) => (145.253.2.203, 53, 145.254.160.237, 3009) [0 *1] i0 exp40\n"
        );
        // With a guarantee, `exp` shows the time after the guarantee (Click's best-effort expiry).
        let mut rw = nat("");
        run(&mut rw, 0, pk[0].clone_packet(), t0);
        assert!(rw.table_at("tcp_table", t0).contains("i0 exp300\n"));
    }

    #[test]
    fn port_choice_prefers_the_source_port_unless_sequential_or_random() {
        let pk = capture(SNABB_V4);
        let syn = &pk[0]; // 3372 -> 65.208.228.223:80
        let t0 = Instant::now();
        let sport = |rw: &mut Rewriter, p: &Packet| {
            let (out, q) = run(rw, 0, p.clone_packet(), t0);
            assert_eq!(out, 0);
            let hl = (q.data()[0] & 15) as usize * 4;
            u16::from_be_bytes([q.data()[hl], q.data()[hl + 1]])
        };
        let mut rw = rewriter(configure, "pattern 10.0.0.1 1024-65535 - - 0 1, drop", 2, 2);
        assert_eq!(sport(&mut rw, syn), 3372, "source port preferred");
        // The same source port to the same server from another inside host: taken.
        let mut other = syn.data().to_vec();
        other[15] = 238;
        let hl = 20;
        let end = other.len();
        refresh_checksums(&mut other, hl, end);
        let p2 = sport(&mut rw, &ip_packet(&other));
        assert!(p2 != 3372 && (1024..=65535).contains(&p2));
        // Outside the range: a port of the range.
        let mut rw = rewriter(configure, "pattern 10.0.0.1 5000-5009 - - 0 1, drop", 2, 2);
        assert!((5000..=5009).contains(&sport(&mut rw, syn)));
        // Sequential: in order from the bottom, whatever the source port.
        let mut rw = rewriter(configure, "pattern 10.0.0.1 3000-3999# - - 0 1, drop", 2, 2);
        let ports: Vec<u16> = (0..4).map(|i| sport(&mut rw, &with_sport(syn, 7000 + i))).collect();
        assert_eq!(ports, [3000, 3001, 3002, 3003]);
        // Random: in range.
        let mut rw = rewriter(configure, "pattern 10.0.0.1 3000-3999? - - 0 1, drop", 2, 2);
        for i in 0..50 {
            assert!((3000..=3999).contains(&sport(&mut rw, &with_sport(syn, 7000 + i))));
        }
        // A fixed port and a destination rewrite.
        let mut rw = rewriter(configure, "pattern - 4444 1.2.3.4 8080 0 1, drop", 2, 2);
        let (_, q) = run(&mut rw, 0, syn.clone_packet(), t0);
        assert_rewritten(&q, CLIENT, 4444, [1, 2, 3, 4], 8080);
    }

    #[test]
    fn a_small_port_range_runs_out() {
        let pk = capture(SNABB_V4);
        let mut rw = rewriter(configure, "pattern 10.0.0.1 5000-5001# - - 0 1, drop", 2, 2);
        let t0 = Instant::now();
        let outs: Vec<usize> = (0..4).map(|i| run(&mut rw, 0, with_sport(&pk[0], 2000 + i), t0).0).collect();
        assert_eq!(outs, [0, 0, DROPPED, DROPPED]);
        assert_eq!(rw.read_handler("mapping_failures").unwrap(), "2");
        assert_eq!(rw.read_handler("nmappings").unwrap(), "2");
        assert!(rw.read_handler("drop_details").unwrap().contains("2 no free port or address for a new mapping"));
        // A flow to another server may reuse the ports (its reply flows differ).
        let (out, q) = run(&mut rw, 0, pk[17].clone_packet(), t0);
        assert_eq!(out, 0);
        assert_rewritten(&q, NAT, 5000, [216, 239, 59, 99], 80);
        // Existing flows still map.
        assert_eq!(run(&mut rw, 0, with_sport(&pk[0], 2001), t0).0, 0);
    }

    #[test]
    fn keep_and_pass_specs() {
        let pk = capture(SNABB_V4);
        let t0 = Instant::now();
        let mut rw = rewriter(configure, "keep 0 1, pass 2", 2, 3);
        let (out, q) = run(&mut rw, 0, pk[0].clone_packet(), t0);
        assert_eq!((out, q.data()), (0, pk[0].data()));
        // The reply maps (unchanged) to output 1 even though it arrives on the pass input.
        let (out, q) = run(&mut rw, 1, pk[1].clone_packet(), t0);
        assert_eq!((out, q.data()), (1, pk[1].data()));
        // An unknown flow on the pass input leaves on output 2 without a mapping.
        let (out, _) = run(&mut rw, 1, pk[23].clone_packet(), t0);
        assert_eq!(out, 2);
        assert_eq!(rw.read_handler("nmappings").unwrap(), "1");
        assert_eq!(rw.read_handler("patterns").unwrap(), "<keep> [1]\n<nochange>\n");
    }

    #[test]
    fn udp_zero_checksum_stays_zero() {
        let pk = capture(SNABB_V4);
        let mut b = pk[12].data().to_vec();
        b[26..28].fill(0); // the DNS query without a UDP checksum
        let end = b.len();
        refresh_checksums(&mut b, 20, end);
        let mut rw = nat("");
        let (out, q) = run(&mut rw, 0, ip_packet(&b), Instant::now());
        assert_eq!(out, 0);
        assert_eq!(&q.data()[26..28], &[0, 0]);
        assert_rewritten(&q, NAT, 1024, [145, 253, 2, 203], 53);
    }

    #[test]
    fn fragments_other_protocols_and_malformed_packets() {
        let pk = capture(SNABB_V4);
        let t0 = Instant::now();
        let mut rw = nat("");
        let syn = &pk[0];
        // A first fragment (MF set, offset 0) is rewritten like any packet.
        let mut b = syn.data().to_vec();
        b[6] = 0x20;
        let end = b.len();
        refresh_checksums(&mut b, 20, end);
        let (out, q) = run(&mut rw, 0, ip_packet(&b), t0);
        assert_eq!(out, 0);
        assert_rewritten(&q, NAT, 1024, SERVER, 80);
        // A later fragment: dropped (Click's rule), even of a known flow.
        let mut b = syn.data().to_vec();
        b[6] = 0x00;
        b[7] = 0x10;
        refresh_checksums(&mut b, 20, 20);
        assert_eq!(run(&mut rw, 0, ip_packet(&b), t0).0, DROPPED);
        // ICMP: dropped. Truncated UDP header (7 bytes): dropped.
        let mut icmp = syn.data()[..28].to_vec();
        icmp[9] = 1;
        assert_eq!(run(&mut rw, 0, ip_packet(&icmp), t0).0, DROPPED);
        let short = &pk[12].data()[..27];
        assert_eq!(run(&mut rw, 0, ip_packet(short), t0).0, DROPPED);
        // A TCP header of 8..17 bytes: the addresses are rewritten, the ports are not.
        let mut b = syn.data()[..36].to_vec();
        b[3] = 36;
        refresh_checksums(&mut b, 20, 20);
        let (out, q) = run(&mut rw, 0, ip_packet(&b), t0);
        assert_eq!(out, 0);
        assert_eq!((&q.data()[12..16], &q.data()[20..22]), (&NAT[..], &3372u16.to_be_bytes()[..]));
        // No IP header annotation, or fewer than 20 bytes: dropped, never a panic.
        assert_eq!(run(&mut rw, 0, Packet::from_slice(syn.data()), t0).0, DROPPED);
        let mut tiny = Packet::from_slice(&syn.data()[..19]);
        tiny.set_network_header(0, 19);
        assert_eq!(run(&mut rw, 0, tiny, t0).0, DROPPED);
        // Garbage header lengths and a transport header past the end: no panic.
        for len in 20..40 {
            for hl in 0..16u8 {
                let mut b = syn.data()[..len].to_vec();
                b[0] = 0x40 | hl;
                let mut p = Packet::from_slice(&b);
                p.set_network_header(0, 20);
                let _ = run(&mut rw, 0, p, t0);
                let mut p = Packet::from_slice(&b);
                p.set_network_header(0, 20);
                p.set_transport_header(len);
                let _ = run(&mut rw, 0, p, t0);
            }
        }
        assert_eq!(
            rw.read_handler("drop_details")
                .unwrap()
                .lines()
                .map(|l| l.trim().split_once(' ').unwrap().1)
                .collect::<Vec<_>>(),
            [
                "no IP header",
                "not TCP or UDP",
                "non-first fragment",
                "transport header shorter than 8 bytes",
                "no mapping, input spec drops",
                "no free port or address for a new mapping",
                "mapping table full of guaranteed mappings"
            ]
        );
        let d = rw.read_handler("drop_details").unwrap();
        let count = |i: usize| d.lines().nth(i).unwrap().split_whitespace().next().unwrap().parse::<u64>().unwrap();
        assert_eq!((count(0), count(1), count(2)), (2, 1, 1));
        assert!(count(3) >= 1);
        // A pass input lets fragments and other protocols through unchanged.
        let mut rw = rewriter(configure, "pass 1", 1, 2);
        let (out, q) = run(&mut rw, 0, ip_packet(&icmp), t0);
        assert_eq!((out, q.data()), (1, &icmp[..]));
    }

    #[test]
    fn mappings_time_out_at_reap_time() {
        let pk = capture(SNABB_V4);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut rw = nat(", TCP_GUARANTEE 0, TCP_NODATA_TIMEOUT 50ms, UDP_GUARANTEE 20ms, UDP_TIMEOUT 200ms");
        run(&mut rw, 0, pk[0].clone_packet(), t0); // TCP, best effort, expires at 50 ms
        run(&mut rw, 0, pk[12].clone_packet(), t0); // UDP, guaranteed 20 ms, then 200 ms
        assert_eq!(rw.read_handler("size").unwrap(), "2");
        // Expired but not yet reaped, a mapping still applies (as in Click), and the
        // packet refreshes it: now it expires at 110 ms.
        let reply = to_outside_view(&pk[1], NAT, 1024);
        assert_eq!(run(&mut rw, 1, reply.clone_packet(), t0 + ms(60)).0, 1);
        rw.reap_now(t0 + ms(100));
        assert_eq!(rw.read_handler("size").unwrap(), "2");
        rw.reap_now(t0 + ms(111));
        assert_eq!(rw.read_handler("size").unwrap(), "1", "the TCP mapping is gone");
        assert_eq!(run(&mut rw, 1, reply.clone_packet(), t0 + ms(112)).0, DROPPED);
        rw.reap_now(t0 + ms(199));
        assert_eq!(rw.read_handler("size").unwrap(), "1", "UDP: 20 ms guarantee, then 200 ms in all");
        rw.reap_now(t0 + ms(201));
        assert_eq!(rw.read_handler("size").unwrap(), "0");
        assert_eq!(rw.read_handler("nmappings").unwrap(), "0");
        rw.check_table();
    }

    #[test]
    fn capacity_guarantee_and_clear() {
        let pk = capture(SNABB_V4);
        let t0 = Instant::now();
        let mut rw = nat(", MAPPING_CAPACITY 2");
        assert_eq!(rw.read_handler("capacity").unwrap(), "2");
        let outs: Vec<usize> = (0..3).map(|i| run(&mut rw, 0, with_sport(&pk[0], 2000 + i), t0).0).collect();
        // Two guaranteed mappings fill the table: the third flow is refused.
        assert_eq!(outs, [0, 0, DROPPED]);
        assert_eq!(rw.read_handler("mapping_failures").unwrap(), "1");
        assert!(rw.read_handler("drop_details").unwrap().contains("1 mapping table full of guaranteed mappings"));
        // Once guarantees are over, a new flow evicts the mapping nearest expiry.
        let later = t0 + Duration::from_secs(6);
        assert_eq!(run(&mut rw, 0, with_sport(&pk[0], 2003), later).0, 0);
        assert_eq!(rw.read_handler("size").unwrap(), "2");
        rw.write_handler("capacity", "1").unwrap();
        assert_eq!(rw.read_handler("size").unwrap(), "1");
        assert!(rw.write_handler("capacity", "lots").is_err());
        rw.write_handler("clear", "").unwrap();
        assert_eq!(rw.read_handler("size").unwrap(), "0");
        assert_eq!(rw.read_handler("table").unwrap(), "");
        rw.check_table();
    }

    #[test]
    fn reply_anno_marks_replies() {
        let pk = capture(SNABB_V4);
        let t0 = Instant::now();
        let mut rw = nat(", REPLY_ANNO PAINT, DST_ANNO false");
        let mut syn = pk[0].clone_packet();
        syn.anno_mut().paint = 7;
        let (_, q) = run(&mut rw, 0, syn, t0);
        assert_eq!(q.anno().dst_ip, [0; 4], "DST_ANNO false");
        let (out, q) = run(&mut rw, 1, to_outside_view(&pk[1], NAT, 1024), t0);
        assert_eq!((out, q.anno().paint), (1, 7));
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&IP_REWRITER, "pattern 1.0.0.1 1024-65535 - - 0 1, drop, UDP_TIMEOUT 1min", 2, 2).is_ok());
        // Outside a graph no IPRewriterPatterns defines the name.
        let e = build_elem(&IP_REWRITER, "pattern NAT 0 1", 1, 2).err().unwrap();
        assert_eq!(e.0, "input spec 0: no such pattern 'NAT'");
        let e = build_elem(&IP_REWRITER, "pattern 1.0.0.1 1024-65535 - - 0 2", 1, 2).err().unwrap();
        assert_eq!(e.0, "input spec 0: output port out of range");
        let e = build_elem(&IP_REWRITER, "drop, UDP_TIMEOUT soon", 1, 1).err().unwrap();
        assert!(e.0.contains("UDP_TIMEOUT"), "{e}");
        let e = build_elem(&IP_REWRITER, "drop, REAP_TCP 10", 1, 1).err().unwrap();
        assert!(e.0.contains("unknown keyword 'REAP_TCP'"), "{e}");
    }

    fn ip_classes() -> Vec<sluice::ElementClass> {
        vec![
            IP_REWRITER,
            crate::io::from_dump::FROM_DUMP,
            crate::standard::strip::STRIP,
            crate::ip::check_ip_header::CHECK_IP_HEADER,
        ]
    }

    #[test]
    fn runs_a_capture_from_fromdump_in_a_graph() {
        let out = new_id();
        let cfg = format!(
            "FromDump(\"{}/{SNABB_V4}\", STOP true) -> Strip(14) -> CheckIPHeader \
             -> rw :: IPRewriter(pattern 10.0.0.1 1024-65535# - - 0 0) -> Collect(ID {out});",
            crate::wire::PCAPS
        );
        let router = run_config(&cfg, &ip_classes()).unwrap();
        let got = collected(out);
        assert_eq!(got.len(), 43);
        // Every packet gets source 10.0.0.1: the server's packets make mappings of their own
        // (this NAT has one input), and every checksum is right.
        for p in &got {
            assert_eq!(&p.data()[12..16], &NAT);
            assert_checksums(p);
        }
        assert_eq!(router.read_handler("rw", "nmappings").unwrap(), "6");
        assert_eq!(router.read_handler("rw", "drops").unwrap(), "0");
        assert_eq!(router.read_handler("rw", "udp_table").unwrap().lines().count(), 4);
    }

    #[test]
    fn swap_hands_the_mappings_over() {
        let pk = capture(SNABB_V4);
        let classes = [IP_REWRITER];
        let (a, b, out0, out1) = (new_id(), new_id(), new_id(), new_id());
        let graph = |cfg: &str| {
            format!(
                "Inject(ID {a}) -> [0]rw :: IPRewriter({cfg}); Inject(ID {b}) -> [1]rw; \
                 rw[0] -> Collect(ID {out0}); rw[1] -> Collect(ID {out1});"
            )
        };
        // The first router maps the client's SYN.
        inject(a, [pk[0].clone_packet()]);
        let mut old = run_config(&graph("pattern 10.0.0.1 1024-65535# - - 0 1, drop"), &classes).unwrap();
        assert_eq!(collected(out0).len(), 1);
        // The replacement (same class, new configuration) takes the mappings over: the
        // server's reply still maps back to the client.
        let registry = sluice::testing::registry(&classes);
        let cfg = graph("pattern 10.0.0.1 2000-2999# - - 0 1, drop, UDP_TIMEOUT 1min");
        let plan = sluice::load::plan_str("<test>", &cfg, &[], &registry, std::path::Path::new(".")).unwrap();
        let mut new = sluice::runtime::Router::new(plan, 1).unwrap();
        assert_eq!(new.carry_state_from(&mut old), vec!["rw".to_string()]);
        inject(b, [to_outside_view(&pk[1], NAT, 1024)]);
        inject(a, [pk[2].clone_packet(), pk[17].clone_packet()]);
        let new = new.run(&sluice::runtime::RunOptions::default());
        let back = collected(out1);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].data(), pk[1].data());
        let fwd = collected(out0);
        assert_eq!(fwd.len(), 2);
        assert_rewritten(&fwd[0], NAT, 1024, SERVER, 80);
        // A new flow uses the new pattern.
        assert_rewritten(&fwd[1], NAT, 2000, [216, 239, 59, 99], 80);
        assert_eq!(new.read_handler("rw", "nmappings").unwrap(), "2");
    }

    #[test]
    fn reaping_runs_on_its_own_in_a_graph() {
        let pk = capture(SNABB_V4);
        let classes = [IP_REWRITER];
        let (a, b, out0, out1) = (new_id(), new_id(), new_id(), new_id());
        let graph = format!(
            "Inject(ID {a}) -> [0]rw :: IPRewriter(pattern 10.0.0.1 1024-65535# - - 0 1, drop, \
             TCP_GUARANTEE 0, TCP_NODATA_TIMEOUT 200ms, REAP_INTERVAL 10ms); Inject(ID {b}) -> [1]rw; \
             rw[0] -> Collect(ID {out0}); rw[1] -> Collect(ID {out1});"
        );
        inject(a, [pk[0].clone_packet()]);
        let mut old = run_config(&graph, &classes).unwrap();
        assert_eq!(old.read_handler("rw", "size").unwrap(), "1");
        std::thread::sleep(Duration::from_millis(300));
        // After the hand-over the overdue reaping runs before the reply is processed.
        let registry = sluice::testing::registry(&classes);
        let plan = sluice::load::plan_str("<test>", &graph, &[], &registry, std::path::Path::new(".")).unwrap();
        let mut new = sluice::runtime::Router::new(plan, 1).unwrap();
        new.carry_state_from(&mut old);
        inject(b, [to_outside_view(&pk[1], NAT, 1024)]);
        let new = new.run(&sluice::runtime::RunOptions::default());
        assert!(collected(out1).is_empty(), "the mapping expired and was reaped");
        assert_eq!(new.read_handler("rw", "size").unwrap(), "0");
        let _ = collected(out0);
    }
}

//! `TCPRewriter`: rewrites TCP flows' addresses and ports (Click's NAPT for TCP).

use super::rewriter::{read_base_keywords, read_specs, Config, Mode, Rewriter, DEFAULT_GUARANTEE, NAPT_HANDLERS};
use super::table::Timeouts;
use crate::standard::anno::AnnoByte;
use sluice::args::Args;
use sluice::{BuildCtx, ConfigError, Element};
use std::time::Duration;

sluice::element_class! {
    /// TCPRewriter(INPUTSPEC1, ..., INPUTSPECn [, KEYWORDS])
    ///
    /// Rewrites TCP packets' addresses and ports.
    ///
    /// Rewrites TCP flows by changing their source address, source port, destination
    /// address, and/or destination port, with Click's TCPRewriter semantics. It is an
    /// IPRewriter for TCP only: see IPRewriter for the mapping table, the INPUTSPEC forms
    /// (`drop`, `pass OUTPUT`, `keep FOUTPUT ROUTPUT`, `pattern SADDR SPORT DADDR DPORT
    /// FOUTPUT ROUTPUT`, `pattern PATNAME FOUTPUT ROUTPUT` with a pattern named by
    /// IPRewriterPatterns), port allocation, checksums, timeouts, capacity and state
    /// hand-over. Packets that are not TCP, second and later fragments, and packets with
    /// fewer than 8 bytes of transport header are dropped unless they arrive on a `pass`
    /// input, which emits them unchanged.
    ///
    /// Click's TCPRewriter can also add deltas to sequence and acknowledgement numbers
    /// (including SACK blocks) when another element, such as FTPPortMapper, asks it to.
    /// Sluice has no such element, so every mapping's deltas are zero, exactly as a Click
    /// TCPRewriter without a mapper leaves them: packets come out byte for byte the same.
    ///
    /// A TCP connection's mapping times out after TCP_NODATA_TIMEOUT until payload has
    /// been seen in both directions, after TCP_TIMEOUT once it has, and after
    /// TCP_DONE_TIMEOUT once both sides sent FIN (or either sent RST); a SYN or payload
    /// reopens a direction's FIN. Each packet guarantees its mapping for TCP_GUARANTEE.
    /// Expired mappings are removed every REAP_INTERVAL (until then they still apply).
    ///
    /// Ports: 1 or more inputs, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `TCP_NODATA_TIMEOUT` — time. Timeout of connections without payload in both
    ///   directions. Default 5 minutes.
    /// - `TCP_TIMEOUT` — time. Timeout of connections with payload seen both ways.
    ///   Default 24 hours. `TIMEOUT` is a synonym (TCP_TIMEOUT wins if both are given).
    /// - `TCP_DONE_TIMEOUT` — time. Timeout of completed connections (FIN both ways, or
    ///   RST). Default 4 minutes.
    /// - `TCP_GUARANTEE` — time. Each packet keeps its mapping at least this long.
    ///   Default 5 seconds. `GUARANTEE` is a synonym (and wins if both are given).
    /// - `REAP_INTERVAL` — time. How often expired mappings are removed; 0 never.
    ///   Default 15 minutes. `REAP_TIME` is Click's deprecated synonym.
    /// - `MAPPING_CAPACITY` — integer. Most mappings held; when full, the best-effort
    ///   mapping nearest expiry is evicted, and a new flow is refused if every mapping is
    ///   guaranteed. Default unlimited. `CAPACITY` is a synonym. Click's form naming
    ///   another rewriter (to share its capacity) is refused.
    /// - `DST_ANNO` — boolean. Set the destination IP annotation to the rewritten
    ///   destination. Default true.
    /// - `REPLY_ANNO` — one-byte annotation (name or offset). Store the annotation of the
    ///   packet that created a mapping, and set it on that mapping's reply packets.
    ///
    /// Times are durations (`30`, `1.5s`, `100ms`, `2min`); Click rounds them to whole
    /// seconds, Sluice keeps fractions.
    ///
    /// # Handlers
    /// - `table` (read) — the mapping table in Click's format: one line per entry,
    ///   `(SA, SP, DA, DP) => (SA', SP', DA', DP') [*FOUT ROUT] iINPUT expSECONDS`, the
    ///   star marking the entry's direction; forward entries precede their replies,
    ///   mappings in creation order.
    /// - `mappings` (read) — same as `table` (Click's deprecated name).
    /// - `nmappings` (read) — mappings in the table.
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
    /// rw :: TCPRewriter(pattern 10.0.0.1 1024-65535 - - 0 1, drop, TCP_DONE_TIMEOUT 30);
    /// inside -> [0]rw; outside -> [1]rw;
    /// rw[0] -> to_outside; rw[1] -> to_inside;
    /// ```
    pub const TCP_REWRITER = "TCPRewriter" { ports: "1-/1-", processing: "h/h", handlers: NAPT_HANDLERS, build: build }
}

/// Keywords TCPRewriter knows (for suggestions about unknown ones).
pub(crate) const TCP_KEYWORDS: &[&str] = &[
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

/// What Click's `TCPRewriter::configure` reads.
pub(crate) struct TcpKeywords {
    pub nodata: Duration,
    pub guarantee: Option<Duration>,
    pub data: Duration,
    pub done: Duration,
    pub dst_anno: bool,
    pub reply_anno: Option<AnnoByte>,
}

pub(crate) fn read_tcp_keywords(args: &mut Args) -> Result<TcpKeywords, ConfigError> {
    let nodata = args.read_kw::<Duration>("TCP_NODATA_TIMEOUT")?.unwrap_or(Duration::from_secs(300));
    let guarantee = args.read_kw::<Duration>("TCP_GUARANTEE")?;
    let mut data = args.read_kw::<Duration>("TIMEOUT")?.unwrap_or(Duration::from_secs(86400));
    if let Some(t) = args.read_kw::<Duration>("TCP_TIMEOUT")? {
        data = t;
    }
    let done = args.read_kw::<Duration>("TCP_DONE_TIMEOUT")?.unwrap_or(Duration::from_secs(240));
    let dst_anno = args.read_kw::<bool>("DST_ANNO")?.unwrap_or(true);
    let reply_anno = args.read_kw::<AnnoByte>("REPLY_ANNO")?;
    Ok(TcpKeywords { nodata, guarantee, data, done, dst_anno, reply_anno })
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(configure(config, ctx)?))
}

/// The element, configured.
pub(crate) fn configure(config: &str, ctx: &BuildCtx) -> Result<Rewriter, ConfigError> {
    let mut args = Args::new(config);
    let tcp = read_tcp_keywords(&mut args)?;
    let base = read_base_keywords(&mut args)?;
    let specs = read_specs(&mut args, ctx, TCP_KEYWORDS)?;
    args.finish()?;
    let guarantee = base.guarantee.or(tcp.guarantee).unwrap_or(DEFAULT_GUARANTEE);
    let timeouts = Timeouts {
        tcp: [tcp.nodata, guarantee],
        tcp_data: tcp.data,
        tcp_done: tcp.done,
        udp: [tcp.nodata, guarantee],
        udp_streaming: tcp.nodata,
        addr: [tcp.nodata, guarantee],
    };
    let cfg = Config {
        mode: Mode::Tcp,
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
    use sluice::testing::build as build_elem;

    #[test]
    fn rewrites_tcp_and_refuses_udp_unless_passed() {
        let cfg = "pattern 10.0.0.1 1024-65535# - - 0 1, pass 1";
        let mut rw = rewriter(configure, cfg, 2, 2);
        let now = std::time::Instant::now();
        let syn = capture(SNABB_V4)[0].clone_packet();
        let (out, p) = run(&mut rw, 0, syn, now);
        assert_eq!(out, 0);
        assert_rewritten(&p, [10, 0, 0, 1], 1024, [65, 208, 228, 223], 80);
        // DNS over UDP: refused on input 0, passed unchanged on input 1.
        let dns = capture(SNABB_V4)[12].clone_packet();
        let (out, _) = run(&mut rw, 0, dns.clone_packet(), now);
        assert_eq!(out, usize::MAX);
        let (out, p) = run(&mut rw, 1, dns.clone_packet(), now);
        assert_eq!((out, p.data()), (1, dns.data()));
        assert_eq!(rw.read_handler("drop_details").unwrap().lines().nth(1).unwrap().trim(), "1 not TCP");
        assert_eq!(rw.read_handler("nmappings").unwrap(), "1");
    }

    #[test]
    fn connection_state_picks_the_timeout() {
        // No guarantee, so each packet sets the expiry to the state's timeout.
        let cfg = "pattern 10.0.0.1 1024-65535# - - 0 1, drop, TCP_GUARANTEE 0, \
                   TCP_NODATA_TIMEOUT 100, TCP_TIMEOUT 1000, TCP_DONE_TIMEOUT 10";
        let mut rw = rewriter(configure, cfg, 2, 2);
        let t0 = std::time::Instant::now();
        let pk = capture(SNABB_V4);
        let exp = |rw: &Rewriter| {
            let t = rw.table_at("table", t0);
            t.lines().next().unwrap().rsplit("exp").next().unwrap().to_string()
        };
        // 1: SYN out. 2: SYN-ACK back. 4: request with payload out. 6: reply with payload.
        run(&mut rw, 0, pk[0].clone_packet(), t0);
        assert_eq!(exp(&rw), "100");
        run(&mut rw, 1, to_outside_view(&pk[1], [10, 0, 0, 1], 1024), t0);
        run(&mut rw, 0, pk[3].clone_packet(), t0);
        assert_eq!(exp(&rw), "100", "payload seen one way only");
        run(&mut rw, 1, to_outside_view(&pk[5], [10, 0, 0, 1], 1024), t0);
        assert_eq!(exp(&rw), "1000", "payload seen both ways");
        // FIN from the server (packet 40) and from the client (packet 42).
        run(&mut rw, 1, to_outside_view(&pk[39], [10, 0, 0, 1], 1024), t0);
        assert_eq!(exp(&rw), "1000", "one FIN only");
        run(&mut rw, 0, pk[41].clone_packet(), t0);
        assert_eq!(exp(&rw), "10", "both sides done");
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&TCP_REWRITER, "drop", 1, 1).is_ok());
        let e = build_elem(&TCP_REWRITER, "drop, drop", 1, 1).err().unwrap();
        assert!(e.0.contains("need 1 arguments, one per input port"), "{e}");
        let e = build_elem(&TCP_REWRITER, "", 1, 1).err().unwrap();
        assert!(e.0.contains("too few arguments"), "{e}");
        let e = build_elem(&TCP_REWRITER, "drop, TCP_TIMOUT 5", 1, 1).err().unwrap();
        assert!(e.0.contains("unknown keyword 'TCP_TIMOUT'") && e.0.contains("TCP_TIMEOUT"), "{e}");
        let e = build_elem(&TCP_REWRITER, "drop, MAPPING_CAPACITY other_rw", 1, 1).err().unwrap();
        assert!(e.0.contains("bad MAPPING_CAPACITY"), "{e}");
        let e = build_elem(&TCP_REWRITER, "keep 0 1", 1, 1).err().unwrap();
        assert_eq!(e.0, "input spec 0: output port out of range");
        let e = build_elem(&TCP_REWRITER, "RRMAPPER", 1, 1).err().unwrap();
        assert!(e.0.contains("not supported"), "{e}");
    }
}

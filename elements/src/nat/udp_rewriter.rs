//! `UDPRewriter`: rewrites UDP (and TCP, DCCP) flows' addresses and ports.

use super::rewriter::{read_base_keywords, read_specs, Config, Mode, Rewriter, DEFAULT_GUARANTEE, NAPT_HANDLERS};
use super::table::Timeouts;
use crate::standard::anno::AnnoByte;
use sluice::args::Args;
use sluice::{BuildCtx, ConfigError, Element};
use std::time::Duration;

sluice::element_class! {
    /// UDPRewriter(INPUTSPEC1, ..., INPUTSPECn [, KEYWORDS])
    ///
    /// Rewrites UDP packets' addresses and ports.
    ///
    /// An IPRewriter with one mapping table for every protocol and UDP-style timeouts,
    /// with Click's UDPRewriter semantics: see IPRewriter for the mapping table, the
    /// INPUTSPEC forms (named IPRewriterPatterns patterns included), port allocation,
    /// checksums, capacity and state hand-over. Despite its name it rewrites TCP, UDP
    /// and DCCP packets (TCP and UDP flows with the same addresses and ports share a
    /// mapping); other protocols, second and later fragments, and packets with fewer
    /// than 8 bytes of transport header are dropped unless they arrive on a `pass` input.
    /// As in Click, the ports of DCCP packets are rewritten but their checksum is not
    /// updated.
    ///
    /// A mapping times out after TIMEOUT, or after STREAMING_TIMEOUT once it has seen at
    /// least 3 packets including a reply; each packet guarantees it for GUARANTEE.
    ///
    /// Ports: 1 or more inputs, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `TIMEOUT` — time. Timeout of mappings. Default 5 minutes. `UDP_TIMEOUT` is a
    ///   synonym (TIMEOUT wins if both are given).
    /// - `STREAMING_TIMEOUT` — time. Timeout of streaming mappings. Default TIMEOUT.
    ///   `UDP_STREAMING_TIMEOUT` is a synonym.
    /// - `GUARANTEE` — time. Each packet keeps its mapping at least this long. Default 5
    ///   seconds. `UDP_GUARANTEE` is a synonym (GUARANTEE wins if both are given).
    /// - `REAP_INTERVAL` — time. How often expired mappings are removed; 0 never.
    ///   Default 15 minutes. `REAP_TIME` is Click's deprecated synonym.
    /// - `MAPPING_CAPACITY` — integer. Most mappings held. Default unlimited. `CAPACITY`
    ///   is a synonym.
    /// - `DST_ANNO` — boolean. Set the destination IP annotation to the rewritten
    ///   destination. Default true.
    /// - `REPLY_ANNO` — one-byte annotation. Set on replies to the value it had on the
    ///   packet that created the mapping.
    ///
    /// # Handlers
    /// - `table`, `mappings` (read) — the mapping table in Click's format (see
    ///   TCPRewriter).
    /// - `nmappings`, `mapping_failures`, `patterns`, `size`, `length` (read),
    ///   `capacity` (read/write), `clear` (write), `drops`, `drop_details` (read) — as in
    ///   IPRewriter.
    ///
    /// # Example
    /// ```text
    /// rw :: UDPRewriter(pattern 10.0.0.1 1024-65535 - - 0 1, drop, TIMEOUT 30);
    /// ```
    pub const UDP_REWRITER = "UDPRewriter" { ports: "1-/1-", processing: "h/h", handlers: NAPT_HANDLERS, build: build }
}

const KEYWORDS: &[&str] = &[
    "DST_ANNO",
    "REPLY_ANNO",
    "UDP_TIMEOUT",
    "TIMEOUT",
    "UDP_STREAMING_TIMEOUT",
    "STREAMING_TIMEOUT",
    "UDP_GUARANTEE",
    "CAPACITY",
    "MAPPING_CAPACITY",
    "GUARANTEE",
    "REAP_INTERVAL",
    "REAP_TIME",
];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(configure(config, ctx)?))
}

/// The element, configured (keywords in the order of Click's `UDPRewriter::configure`).
pub(crate) fn configure(config: &str, ctx: &BuildCtx) -> Result<Rewriter, ConfigError> {
    let mut args = Args::new(config);
    let dst_anno = args.read_kw::<bool>("DST_ANNO")?.unwrap_or(true);
    let reply_anno = args.read_kw::<AnnoByte>("REPLY_ANNO")?;
    let mut timeout = args.read_kw::<Duration>("UDP_TIMEOUT")?.unwrap_or(Duration::from_secs(300));
    if let Some(t) = args.read_kw::<Duration>("TIMEOUT")? {
        timeout = t;
    }
    let mut streaming = args.read_kw::<Duration>("UDP_STREAMING_TIMEOUT")?;
    if let Some(t) = args.read_kw::<Duration>("STREAMING_TIMEOUT")? {
        streaming = Some(t);
    }
    let udp_guarantee = args.read_kw::<Duration>("UDP_GUARANTEE")?;
    let base = read_base_keywords(&mut args)?;
    let specs = read_specs(&mut args, ctx, KEYWORDS)?;
    args.finish()?;
    let guarantee = base.guarantee.or(udp_guarantee).unwrap_or(DEFAULT_GUARANTEE);
    let timeouts = Timeouts {
        tcp: [timeout, guarantee],
        tcp_data: timeout,
        tcp_done: timeout,
        udp: [timeout, guarantee],
        udp_streaming: streaming.unwrap_or(timeout),
        addr: [timeout, guarantee],
    };
    let cfg = Config {
        mode: Mode::Udp,
        specs,
        timeouts,
        dst_anno,
        reply_anno,
        capacity: base.capacity,
        reap_interval: base.reap_interval,
    };
    Ok(Rewriter::new(cfg, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat::testutil::*;
    use std::time::Instant;

    #[test]
    fn rewrites_udp_and_tcp_in_one_table_with_streaming_timeouts() {
        let pk = capture(SNABB_V4);
        let cfg = "pattern 10.0.0.1 1024-65535# - - 0 1, drop, GUARANTEE 0, TIMEOUT 60, STREAMING_TIMEOUT 600";
        let mut rw = rewriter(configure, cfg, 2, 2);
        let t0 = Instant::now();
        let exp =
            |rw: &Rewriter| rw.table_at("table", t0).lines().next().unwrap().rsplit("exp").next().unwrap().to_string();
        // The DNS query and its answer.
        let (out, q) = run(&mut rw, 0, pk[12].clone_packet(), t0);
        assert_eq!(out, 0);
        assert_rewritten(&q, [10, 0, 0, 1], 1024, [145, 253, 2, 203], 53);
        let (out, q) = run(&mut rw, 1, to_outside_view(&pk[16], [10, 0, 0, 1], 1024), t0);
        assert_eq!((out, q.data()), (1, pk[16].data()));
        assert_eq!(exp(&rw), "60", "two packets: not streaming yet");
        run(&mut rw, 0, pk[12].clone_packet(), t0);
        assert_eq!(exp(&rw), "600", "three packets with a reply: streaming");
        // TCP goes through the same table.
        let (out, q) = run(&mut rw, 0, pk[0].clone_packet(), t0);
        assert_eq!(out, 0);
        assert_rewritten(&q, [10, 0, 0, 1], 1025, SERVER, 80);
        assert_eq!(rw.read_handler("nmappings").unwrap(), "2");
        assert_eq!(rw.read_handler("table").unwrap().lines().count(), 4);
    }

    #[test]
    fn dccp_ports_change_but_not_its_checksum() {
        let pk = capture(SNABB_V4);
        let mut b = pk[12].data().to_vec();
        b[9] = 33;
        let mut rw = rewriter(configure, "pattern 10.0.0.1 1024-65535# - - 0 1, drop", 2, 2);
        let (out, q) = run(&mut rw, 0, ip_packet(&b), Instant::now());
        assert_eq!(out, 0);
        assert_eq!(&q.data()[20..22], &1024u16.to_be_bytes());
        assert_eq!(&q.data()[26..28], &b[26..28], "Click leaves DCCP's checksum alone");
    }
}

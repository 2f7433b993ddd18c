//! `IPAddrRewriter`: rewrites IP packets' source addresses (Click's Basic NAT).

use super::rewriter::{read_base_keywords, read_specs, Config, Mode, Rewriter, DEFAULT_GUARANTEE, NAPT_HANDLERS};
use super::table::Timeouts;
use crate::standard::anno::AnnoByte;
use sluice::args::Args;
use sluice::{BuildCtx, ConfigError, Element};
use std::time::Duration;

sluice::element_class! {
    /// IPAddrRewriter(INPUTSPEC1, ..., INPUTSPECn [, KEYWORDS])
    ///
    /// Rewrites IP packets' addresses.
    ///
    /// Rewrites the source addresses of IP packets going out and the destination
    /// addresses of their replies, along with their checksums: a network address
    /// translator (Basic NAT), with Click's IPAddrRewriter semantics. It works for any IP
    /// protocol; TCP and UDP checksums (which cover the addresses) are updated too, in
    /// first fragments (a zero UDP checksum stays zero).
    ///
    /// The mapping table is indexed by address. A packet is looked up first by its
    /// source address (a forward mapping), then by its destination address (a reply
    /// mapping); a match is rewritten and emitted on the mapping's output. Otherwise the
    /// INPUTSPEC of its input decides:
    ///
    /// - `drop`, `discard`, `pass OUTPUT`, `keep FOUTPUT ROUTPUT` — as in IPRewriter.
    /// - `pattern SADDR - FOUTPUT ROUTPUT` — rewrite the source address to SADDR, which
    ///   may be `-` (unchanged), an address, a range `L-H`, or a prefix `ADDR/LEN` (its
    ///   addresses but the first and last). From a range an unused address is chosen at
    ///   random, or sequentially if the range ends in `#`; if none is free the packet is
    ///   dropped and counted in `mapping_failures`. Packets from the old source address
    ///   are rewritten and sent to FOUTPUT, packets to the new address are rewritten back
    ///   and sent to ROUTPUT. A pattern that would change ports or the destination makes
    ///   no mapping: its packets are dropped, as in Click.
    /// - `pattern PATNAME FOUTPUT ROUTPUT` — rewrite by the pattern named PATNAME by an
    ///   IPRewriterPatterns element (usually in the two-field form `PATNAME SADDR -`), as
    ///   in IPRewriter: an unknown name is refused, and each input keeps its own copy of
    ///   the pattern (Click shares one between all its users).
    ///
    /// Mapper elements are refused, as in IPRewriter. The destination IP annotation of
    /// replies is set to the rewritten destination. Packets without an IP header
    /// annotation are dropped.
    ///
    /// Mappings time out after TIMEOUT without packets (each packet guarantees its
    /// mapping for GUARANTEE); expired mappings are removed every REAP_INTERVAL. When an
    /// IPAddrRewriter replaces an IPAddrRewriter it takes over its mappings.
    ///
    /// Ports: 1 or more inputs, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `TIMEOUT` — time. Timeout of mappings. Default 2 hours (Click's code; its
    ///   documentation says 5 minutes).
    /// - `GUARANTEE` — time. Each packet keeps its mapping at least this long. Default 5
    ///   seconds.
    /// - `REAP_INTERVAL` — time. How often expired mappings are removed; 0 never.
    ///   Default 15 minutes. `REAP_TIME` is Click's deprecated synonym.
    /// - `MAPPING_CAPACITY` — integer. Most mappings held. Default unlimited. `CAPACITY`
    ///   is a synonym.
    /// - `REPLY_ANNO` — one-byte annotation. Set on replies to the value it had on the
    ///   packet that created the mapping.
    ///
    /// # Handlers
    /// - `table`, `mappings` (read) — the mapping table in Click's format, one line per
    ///   entry: `SA => SA' [*FOUT ROUT] iINPUT expSECONDS` for a forward entry; a reply
    ///   entry prints as `0.0.0.0 => 0.0.0.0 [FOUT *ROUT] ...`, exactly as Click prints it.
    /// - `nmappings`, `mapping_failures`, `patterns`, `size`, `length` (read),
    ///   `capacity` (read/write), `clear` (write), `drops`, `drop_details` (read) — as in
    ///   IPRewriter.
    ///
    /// # Example
    /// ```text
    /// rw :: IPAddrRewriter(pattern 18.26.4.0/24 - 0 1, drop);
    /// inside -> [0]rw; outside -> [1]rw;
    /// ```
    pub const IP_ADDR_REWRITER = "IPAddrRewriter" { ports: "1-/1-", processing: "h/h", handlers: NAPT_HANDLERS, build: build }
}

const KEYWORDS: &[&str] =
    &["REPLY_ANNO", "CAPACITY", "MAPPING_CAPACITY", "TIMEOUT", "GUARANTEE", "REAP_INTERVAL", "REAP_TIME"];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(configure(config, ctx)?))
}

/// The element, configured.
pub(crate) fn configure(config: &str, ctx: &BuildCtx) -> Result<Rewriter, ConfigError> {
    let mut args = Args::new(config);
    let reply_anno = args.read_kw::<AnnoByte>("REPLY_ANNO")?;
    let timeout = args.read_kw::<Duration>("TIMEOUT")?.unwrap_or(Duration::from_secs(2 * 3600));
    let base = read_base_keywords(&mut args)?;
    let specs = read_specs(&mut args, ctx, KEYWORDS)?;
    args.finish()?;
    let guarantee = base.guarantee.unwrap_or(DEFAULT_GUARANTEE);
    let t = [timeout, guarantee];
    let timeouts = Timeouts { tcp: t, tcp_data: timeout, tcp_done: timeout, udp: t, udp_streaming: timeout, addr: t };
    let cfg = Config {
        mode: Mode::Addr,
        specs,
        timeouts,
        dst_anno: true,
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

    const OUT_A: [u8; 4] = [10, 1, 0, 1];

    #[test]
    fn rewrites_source_addresses_and_replies_back() {
        let pk = capture(SNABB_V4);
        let mut rw = rewriter(configure, "pattern 10.1.0.1-10.1.0.2# - 0 1, drop", 2, 2);
        let t0 = Instant::now();
        for p in &pk {
            let d = p.data();
            if d[12..16] == CLIENT {
                let (out, q) = run(&mut rw, 0, p.clone_packet(), t0);
                assert_eq!(out, 0);
                assert_eq!(&q.data()[12..16], &OUT_A);
                assert_eq!(&q.data()[16..20], &d[16..20], "destination unchanged");
                assert_eq!(&q.data()[20..24], &d[20..24], "ports unchanged");
                assert_checksums(&q);
                assert_eq!(q.anno().dst_ip, [0; 4], "forward packets keep their annotation");
            } else {
                let mut b = d.to_vec();
                b[16..20].copy_from_slice(&OUT_A);
                let (hl, end) = (20, b.len());
                refresh_checksums(&mut b, hl, end);
                let (out, q) = run(&mut rw, 1, ip_packet(&b), t0);
                assert_eq!((out, q.data()), (1, d), "reply restored byte for byte");
                assert_eq!(q.anno().dst_ip, CLIENT);
            }
        }
        assert_eq!(rw.read_handler("nmappings").unwrap(), "1");
        assert_eq!(
            rw.table_at("table", t0),
            "145.254.160.237 => 10.1.0.1 [*0 1] i0 exp7200\n0.0.0.0 => 0.0.0.0 [0 *1] i0 exp7200\n"
        );
        assert_eq!(rw.read_handler("patterns").unwrap(), "10.1.0.1-10.1.0.2 - [1]\n<drop>\n");
    }

    #[test]
    fn any_protocol_and_fragments_and_a_running_out_range() {
        let pk = capture(SNABB_V4);
        let mut rw = rewriter(configure, "pattern 10.1.0.1-10.1.0.2# - 0 1, drop", 2, 2);
        let t0 = Instant::now();
        let host = |last: u8, proto: u8, frag: u8| {
            let mut b = pk[0].data().to_vec();
            b[15] = last;
            b[9] = proto;
            b[7] = frag;
            let end = b.len();
            refresh_checksums(&mut b, 20, end);
            ip_packet(&b)
        };
        // ICMP, and a later fragment: rewritten (only the IP header).
        let (out, q) = run(&mut rw, 0, host(1, 1, 0), t0);
        assert_eq!((out, &q.data()[12..16]), (0, &OUT_A[..]));
        assert_checksums(&q);
        let frag = host(2, 6, 9);
        let (out, q) = run(&mut rw, 0, frag.clone_packet(), t0);
        assert_eq!((out, &q.data()[12..16]), (0, &[10, 1, 0, 2][..]));
        assert_eq!(&q.data()[20..], &frag.data()[20..], "no transport header in a later fragment");
        assert_checksums(&q);
        // A third host: the range is exhausted.
        assert_eq!(run(&mut rw, 0, host(3, 6, 0), t0).0, usize::MAX);
        assert_eq!(rw.read_handler("mapping_failures").unwrap(), "1");
        // A pattern that rewrites the destination makes no mapping (Click's add_flow refuses).
        let mut rw = rewriter(configure, "pattern 10.1.0.1 9.9.9.9 0 1", 1, 2);
        assert_eq!(run(&mut rw, 0, host(1, 6, 0), t0).0, usize::MAX);
        assert!(rw.read_handler("drop_details").unwrap().contains("1 pattern changes ports or destination"));
    }
}

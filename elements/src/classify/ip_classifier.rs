//! `IPClassifier`: classifies IP packets by tcpdump-like patterns.

use super::element::{Classify, HANDLERS};
use super::ip_pattern::parse_classifier;
use sluice::args::Args;
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// IPClassifier(PATTERN_1, ..., PATTERN_N)
    ///
    /// Classifies IP packets by contents.
    ///
    /// Classifies IP packets according to tcpdump(1)-like patterns. IPClassifier has N
    /// outputs, one per pattern; a packet goes to the output of the first pattern it
    /// matches, and is dropped (and counted) if it matches none. Packets must have their
    /// network header annotation set (CheckIPHeader and MarkIPHeader do this); a packet
    /// without one offers no bytes, so only patterns that test nothing (`-`, `true`)
    /// match it.
    ///
    /// Patterns are built from these primitives:
    ///
    /// - `ip proto PROTO` — IP protocol PROTO, a number or a name: `icmp`, `igmp`, `ipip`,
    ///   `tcp`, `udp`, `tcpudp` (TCP or UDP), `transp` (any).
    /// - `[SRCORDST] host ADDR` — SRCORDST is `src`, `dst`, `src or dst` (the default) or
    ///   `src and dst`.
    /// - `[SRCORDST] net NET` — NET is `ADDR/LEN`, `ADDR/MASK` or `ADDR mask MASK`.
    /// - `[SRCORDST] [tcp | udp] port PORT` — TCP or UDP port PORT, a number or a name
    ///   (`echo` 7, `discard` 9, `daytime` 13, `chargen` 19, `ftp-data` 20, `ftp` 21,
    ///   `ssh` 22, `telnet` 23, `smtp` 25, `domain`/`dns` 53, `bootps` 67, `bootpc` 68,
    ///   `tftp` 69, `finger` 79, `www` 80, `pop3` 110, `sunrpc` 111, `auth` 113, `nntp`
    ///   119, `ntp` 123, `netbios-ns` 137, `netbios-dgm` 138, `netbios-ssn` 139, `snmp`
    ///   161, `snmp-trap` 162, `irc` 194, `imap3` 220, `https` 443, `rip`/`route` 520,
    ///   `imaps` 993, `pop3s` 995). Without `tcp` or `udp`, either protocol matches.
    /// - `ip vers V`, `ip hl HL`, `ip id ID`, `ip tos TOS`, `ip dscp DSCP`, `ip ttl TTL`,
    ///   `ip len LEN` — the IP header fields.
    /// - `ip ect`, `ip ce` — ECN capable transport, congestion experienced.
    /// - `ip frag`, `ip unfrag` — fragments (more-fragments bit or an offset), and not.
    /// - `tcp opt FLAG` — TCP packets with flag FLAG set: `syn`, `fin`, `ack`, `rst`, `psh`,
    ///   `urg`, or a number (all its bits set).
    /// - `tcp win WIN` — the TCP window field (unscaled).
    /// - `icmp type TYPE` — a number or a name: `echo-reply`, `unreachable`,
    ///   `sourcequench`, `redirect`, `echo`, `routeradvert`, `routersolicit`,
    ///   `timeexceeded`, `parameterproblem`, `timestamp`, `timestamp-reply`, `inforeq`,
    ///   `inforeq-reply`, `maskreq`, `maskreq-reply`.
    /// - `ip[POS:LEN] VALUE` — the LEN bytes (1 to 4, within one aligned 4-byte word) at
    ///   POS of the IP header; `ip[POS]` is `ip[POS:1]`. `transp[POS:LEN]`, `tcp[...]`,
    ///   `udp[...]`, `icmp[...]` read the transport header instead.
    /// - `true`, `false`.
    ///
    /// Primitives combine with `and`, `or`, `not` (also `&&`, `||`, `!`), the ternary
    /// `C ? A : B` (the colon surrounded by spaces), and parentheses; two primitives side
    /// by side mean `and`. Every primitive but `tcp opt` accepts a relation before its
    /// value, `==` (the default) or `!=`, and those with integer values also `<`, `>`,
    /// `<=`, `>=`. Most accept a mask: `DIRECTIVE & MASK [[OP] VALUE]`, as in
    /// `src tcp port & 10 == 8`. For `port` and `icmp type`, `DIRECTIVE != VALUE` is not
    /// `not (DIRECTIVE == VALUE)`: `src tcp port != 5` matches only TCP packets.
    ///
    /// Much can be left out, as in Click: `tcp` means `ip proto tcp`, `www` means
    /// `port www`, `syn` means `tcp opt syn`, `10.0.0.0/8` means `net 10.0.0.0/8`,
    /// `src 10.0.0.1` means `src host 10.0.0.1`, `unfrag` means `ip unfrag`, and a value
    /// alone repeats the previous primitive: `src port 80 or 81`, `ip ttl > 10 and < 20`.
    /// A pattern that is just `-`, `any` or `all` (or empty) matches every packet.
    ///
    /// `port`, `icmp type`, `tcp opt`, `tcp win` and transport fields match only first
    /// fragments (fragment offset 0). A primitive needs the bytes it tests: on a shorter
    /// packet it is false (and `not` of it true), as in Click. Patterns that no packet can
    /// reach are reported as warnings.
    ///
    /// The patterns are compiled into a decision tree over the packet fields they test
    /// (addresses, protocol, ports, ...): each tree node compares one field with a
    /// threshold, and the leaf reached holds the few patterns that can still match, tried
    /// in order. Lookup costs the tree depth plus a few pattern tests, not one test per
    /// pattern, and the result is always the first matching pattern.
    ///
    /// Not supported: `ether host` (packets carry no MAC header annotation) and address
    /// names from AddressInfo; service names from /etc/services (Click consults it at user
    /// level) beyond the table above.
    ///
    /// Ports: 1 input; one output per pattern (the number of patterns must equal the
    /// number of connected outputs); push.
    ///
    /// # Keywords
    /// None: every argument is a pattern.
    ///
    /// # Handlers
    /// - `program` (read) — the decision tree and the instructions of every pattern.
    /// - `drops` (read) — packets that matched no pattern.
    /// - `drop_details` (read) — drops by reason (no match; no network header annotation).
    ///
    /// # Example
    /// ```text
    /// IPClassifier(10.0.0.0/24 and syn,       // SYNs from 10.0.0.x
    ///              10.0.0.0/24 and fin ack,   // FIN+ACKs from 10.0.0.x
    ///              10.0.0.0/24 and tcp,       // other TCP from 10.0.0.x
    ///              -);                        // everything else
    /// IPClassifier(dst tcp port 8000 or 8080, dst tcp port > 1023, tcp);
    /// ```
    pub const IP_CLASSIFIER = "IPClassifier" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let patterns = Args::new(config).rest();
    let mut warnings = Vec::new();
    let rules = parse_classifier(&patterns, ctx.noutputs, &mut warnings)?;
    let actions = (0..rules.len()).map(Some).collect();
    let c = Classify::new(&rules, actions, true, ctx.noutputs);
    for w in warnings {
        tracing::warn!("{}: IPClassifier: {w}", ctx.name);
    }
    for &r in c.unreachable() {
        tracing::warn!("{}: IPClassifier pattern {r} matches no packets", ctx.name);
    }
    Ok(Box::new(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testdata::{ipv4, pcap_ipv4};
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn sends_packets_to_the_first_matching_pattern() {
        let input = vec![
            ipv4(6, [10, 0, 0, 1], [1, 2, 3, 4], 1234, 80, 0x02),
            ipv4(6, [10, 0, 0, 1], [1, 2, 3, 4], 1234, 80, 0x11),
            ipv4(6, [10, 0, 0, 1], [1, 2, 3, 4], 1234, 80, 0x10),
            ipv4(17, [10, 0, 0, 1], [1, 2, 3, 4], 53, 53, 0),
            ipv4(6, [10, 0, 1, 1], [1, 2, 3, 4], 1234, 80, 0x02),
        ];
        let config = "10.0.0.0/24 and syn, 10.0.0.0/24 and fin ack, 10.0.0.0/24 and tcp, -";
        let (out, _) = run_element(&IP_CLASSIFIER, config, 4, input).unwrap();
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 1, 2]);
    }

    #[test]
    fn packets_without_a_network_header_match_only_empty_tests() {
        let mut marked = ipv4(6, [10, 0, 0, 1], [1, 2, 3, 4], 1, 2, 0);
        let bare = Packet::from_slice(marked.data());
        marked.anno_mut().paint = 1;
        let (out, router) = run_element(&IP_CLASSIFIER, "tcp", 1, vec![marked, bare]).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].anno().paint, 1);
        let details = router.read_handler("e", "drop_details").unwrap();
        assert!(details.contains("1 no network header annotation"), "{details}");
        let bare = Packet::from_slice(&[0x45; 40]);
        let (out, _) = run_element(&IP_CLASSIFIER, "tcp, true", 2, vec![bare]).unwrap();
        assert_eq!(out[1].len(), 1);
    }

    #[test]
    fn one_pattern_per_output() {
        let e = build_elem(&IP_CLASSIFIER, "tcp, udp", 1, 3).err().unwrap();
        assert_eq!(e.0, "need 3 arguments, one per output port (got 2)");
        let e = build_elem(&IP_CLASSIFIER, "tcp, udp port foo", 1, 2).err().unwrap();
        assert_eq!(e.0, "pattern 1: 'port': value missing (cannot read 'foo')");
    }

    #[test]
    fn counts_tcp_port_80_in_a_real_capture() {
        // snabb__v4.pcap: 43 Ethernet frames of HTTP and DNS traffic.
        let packets = pcap_ipv4("snabb__v4.pcap");
        assert_eq!(packets.len(), 43);
        let (out, router) = run_element(&IP_CLASSIFIER, "tcp port 80, udp port dns, -", 3, packets).unwrap();
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        // Independent counts: `tshark -r snabb__v4.pcap -o ip.defragment:FALSE -Y
        // 'ip && !icmp && tcp.port == 80' | wc -l` gives 41, with `udp.port == 53` 2.
        assert_eq!(sizes, [41, 2, 0]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "0");
    }
}

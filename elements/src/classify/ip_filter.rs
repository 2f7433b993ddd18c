//! `IPFilter`: filters IP packets by tcpdump-like patterns.

use super::element::{Classify, HANDLERS};
use super::ip_pattern::{parse_filter, Action};
use sluice::args::Args;
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// IPFilter(ACTION_1 PATTERN_1, ..., ACTION_N PATTERN_N)
    ///
    /// Filters IP packets by contents.
    ///
    /// IPFilter has any number of filters, ACTION-PATTERN pairs. Packets are tested against
    /// the filters in order and handled by the ACTION of the first filter that matches;
    /// packets that match no filter are dropped. An ACTION is an output number; `allow`,
    /// which means `0`; or `drop` (also `deny`), which drops the packet. The PATTERNs are
    /// tcpdump(1)-like patterns in the language of IPClassifier; a filter that is only an
    /// action, or an action followed by `-`, `any` or `all`, matches every packet. Packets
    /// must have their network header annotation set (CheckIPHeader and MarkIPHeader do
    /// this). Every IPFilter has an equivalent IPClassifier and vice versa.
    ///
    /// Drops are counted by reason: packets that matched a `drop`/`deny` filter, that
    /// matched no filter, and those that had no network header annotation.
    ///
    /// The filters are compiled into a decision tree over the packet fields they test
    /// (addresses, protocol, ports, flags, ...): each node compares one field with a
    /// threshold, and the leaf a packet reaches holds the few filters that can still
    /// match it, tried in order; a filter that surely matches everything in the leaf ends
    /// the list. So a packet costs the tree depth plus a few filter tests rather than one
    /// test per filter, and the result is always that of the first matching filter: with
    /// the 885 filters of ClassBench's acl1 set, a lookup takes about 760 instructions,
    /// against about 19 000 to try the filters' instruction programs in turn (see the
    /// `classifier` benchmark). The `program` handler shows the tree's shape and every
    /// filter's instructions.
    ///
    /// Ports: 1 input; as many outputs as are connected (every output number used in an
    /// ACTION must be connected); push.
    ///
    /// # Keywords
    /// None: every argument is a filter.
    ///
    /// # Handlers
    /// - `program` (read) — the decision tree and the instructions of every filter.
    /// - `drops` (read) — packets dropped.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// // The "interior router" filter of Building Internet Firewalls (Zwicky et al.),
    /// // with addresses in place of AddressInfo names.
    /// IPFilter(deny src 10.0.0.0/8,
    ///          allow src 192.0.2.1 && dst 10.0.0.0/8
    ///             && tcp && src port www && dst port > 1023 && ack,
    ///          allow dst 10.0.0.0/8 && tcp && src port 22 && ack,
    ///          allow dst 10.0.0.0/8 && tcp && dst port 22,
    ///          allow src 192.0.2.1 && dst 10.0.0.53 && udp && src port 53 && dst port 53,
    ///          deny all);
    /// ```
    pub const IP_FILTER = "IPFilter" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let filters = Args::new(config).rest();
    let mut warnings = Vec::new();
    let rules = parse_filter(&filters, ctx.noutputs, &mut warnings)?;
    let actions = rules
        .iter()
        .map(|(a, _)| match a {
            Action::Output(o) => Some(*o),
            Action::Drop => None,
        })
        .collect();
    let exprs: Vec<_> = rules.into_iter().map(|(_, e)| e).collect();
    let c = Classify::new(&exprs, actions, true, ctx.noutputs);
    for w in warnings {
        tracing::warn!("{}: IPFilter: {w}", ctx.name);
    }
    for &r in c.unreachable() {
        tracing::warn!("{}: IPFilter filter {r} matches no packets", ctx.name);
    }
    Ok(Box::new(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testdata::{ipv4, pcap_all, pcap_ipv4};
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    const FIREWALL: &str = "deny src 10.0.0.0/8,
        allow src 192.0.2.1 && dst 10.0.0.0/8 && tcp && src port www && dst port > 1023 && ack,
        allow dst 10.0.0.0/8 && tcp && src port 22 && ack,
        allow dst 10.0.0.0/8 && tcp && dst port 22,
        allow src 192.0.2.1 && dst 10.0.0.53 && udp && src port 53 && dst port 53,
        deny all";

    #[test]
    fn the_firewall_example() {
        let ack = 0x10;
        let input = vec![
            ipv4(6, [10, 1, 1, 1], [10, 2, 2, 2], 22, 2000, ack), // spoofed: deny
            ipv4(6, [192, 0, 2, 1], [10, 2, 2, 2], 80, 2000, ack), // HTTP reply: allow
            ipv4(6, [192, 0, 2, 1], [10, 2, 2, 2], 80, 80, ack),  // to a low port: deny
            ipv4(6, [192, 0, 2, 9], [10, 2, 2, 2], 22, 40000, ack), // SSH reply: allow
            ipv4(6, [192, 0, 2, 9], [10, 2, 2, 2], 22, 40000, 0x02), // SSH without ack: deny
            ipv4(6, [192, 0, 2, 9], [10, 2, 2, 2], 40000, 22, 0x02), // SSH in: allow
            ipv4(17, [192, 0, 2, 1], [10, 0, 0, 53], 53, 53, 0),  // DNS: allow
            ipv4(17, [192, 0, 2, 1], [10, 0, 0, 54], 53, 53, 0),  // deny
        ];
        let (out, router) = run_element(&IP_FILTER, FIREWALL, 1, input).unwrap();
        let sports: Vec<u16> = out[0].iter().map(|p| u16::from_be_bytes([p.data()[20], p.data()[21]])).collect();
        assert_eq!(sports, [80, 22, 40000, 53]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "4");
        assert_eq!(
            router.read_handler("e", "drop_details").unwrap(),
            "0 matched no pattern\n0 no network header annotation (set it with CheckIPHeader or MarkIPHeader)\n4 matched a drop or deny rule"
        );
    }

    #[test]
    fn actions_choose_outputs() {
        let input = vec![
            ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0),
            ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0),
            ipv4(1, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0),
            ipv4(47, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0),
        ];
        let (out, router) = run_element(&IP_FILTER, "2 tcp, allow udp, 1 icmp", 3, input).unwrap();
        let protos: Vec<Vec<u8>> = out.iter().map(|o| o.iter().map(|p| p.data()[9]).collect()).collect();
        assert_eq!(protos, [vec![17], vec![1], vec![6]]);
        assert!(router.read_handler("e", "drop_details").unwrap().starts_with("1 matched no pattern"));
    }

    #[test]
    fn a_bare_action_matches_everything() {
        let input = vec![ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0), Packet::from_slice(&[1, 2, 3])];
        let (out, _) = run_element(&IP_FILTER, "allow", 1, input).unwrap();
        assert_eq!(out[0].len(), 2);
        let input = vec![ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0)];
        let (out, router) = run_element(&IP_FILTER, "drop any, allow", 1, input).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(router.read_handler("e", "drops").unwrap(), "1");
    }

    #[test]
    fn action_errors() {
        let err = |c: &str, n: usize| build_elem(&IP_FILTER, c, 1, n).err().unwrap().0;
        assert_eq!(err("3 tcp", 2), "pattern 0: slot '3' out of range (the element has 2 outputs)");
        assert_eq!(
            err("allow tcp, accept udp", 1),
            "pattern 1: unknown slot ID 'accept' (expected allow, deny, drop or an output number)"
        );
        assert_eq!(err("allow tcp", 0), "pattern 0: 'allow' is meaningless, element has zero outputs");
        assert_eq!(err("allow tcp, allow bogus, drop", 1), "pattern 1: unknown word 'bogus'");
        assert!(build_elem(&IP_FILTER, "drop tcp", 1, 0).is_ok());
    }

    #[test]
    fn real_captures_match_independent_counts() {
        // Counts from tshark 4.0.17 with `-o ip.defragment:FALSE`, outer IPv4 header only
        // (`#1`): e.g. `tshark -r snabb__sanitized4k.pcap -o ip.defragment:FALSE -Y
        // 'ip.proto#1 == 6' | wc -l`.
        let packets = pcap_ipv4("snabb__sanitized4k.pcap");
        assert_eq!(packets.len(), 3936); // -Y 'ip'
        let count = |filter: &str| {
            let config = format!("allow {filter}");
            let input = packets.iter().map(Packet::clone_packet).collect();
            run_element(&IP_FILTER, &config, 1, input).unwrap().0[0].len()
        };
        assert_eq!(count("tcp"), 3064); // ip.proto#1 == 6
        assert_eq!(count("udp"), 763); // ip.proto#1 == 17
        assert_eq!(count("icmp"), 38); // ip.proto#1 == 1
        assert_eq!(count("ip proto 47"), 62); // ip.proto#1 == 47
        assert_eq!(count("ip frag"), 1); // ip.flags.mf#1 == 1 || ip.frag_offset#1 > 0
        assert_eq!(count("tcp port 443"), 2405); // ... && ip.frag_offset#1 == 0 && tcp.port#1 == 443
        assert_eq!(count("syn && !ack"), 113); // ip.proto#1 == 6 && tcp.flags.syn#1 == 1 && tcp.flags.ack#1 == 0
        assert_eq!(count("ip ttl < 64"), 2954); // ip.ttl#1 < 64
        assert_eq!(count("src net 10.0.0.0/8"), 10); // ip.src#1 == 10.0.0.0/8
        assert_eq!(count("ip dscp != 0"), 112); // ip.dsfield.dscp#1 != 0

        let afs = pcap_ipv4("tcpdump__afs.pcap");
        assert_eq!(afs.len(), 601);
        let count = |filter: &str| {
            let input = afs.iter().map(Packet::clone_packet).collect();
            run_element(&IP_FILTER, &format!("allow {filter}"), 1, input).unwrap().0[0].len()
        };
        assert_eq!(count("ip frag"), 200); // ip.flags.mf#1 == 1 || ip.frag_offset#1 > 0
        assert_eq!(count("ip[6:2] & 0x1fff != 0"), 149); // ip.frag_offset#1 > 0
        assert_eq!(count("ip len > 1000"), 315); // ip.len#1 > 1000
        assert_eq!(count("udp port 7001"), 138); // ip.proto#1==17 && ip.frag_offset#1 == 0 && udp.port#1 == 7001
        assert_eq!(count("udp dst port > 7000"), 190); // ... && udp.dstport#1 > 7000
    }

    #[test]
    fn malformed_and_truncated_packets_never_panic() {
        let config = "allow tcp port 80 && syn, 1 udp[8:4] == 0x01020304 || ip[60] 3, 2 transp[0:4] & 0xff != 0, \
                      3 icmp type echo or ip hl > 5 and ip ttl 1, allow ip frag ? ip id 5 : tcp win 0";
        let mut input = pcap_all("snabb__sanitized4k_truncated128.pcap");
        let dir = crate::classify::testdata::data_path("malformed", "");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "pcap") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                input.extend(pcap_all(&format!("../malformed/{name}")));
            }
        }
        // Annotations pointing at the last byte, past the end, or nowhere.
        for len in 0..64 {
            let mut p = Packet::from_slice(&vec![0x45; len]);
            if len > 0 {
                p.set_network_header(len - 1, 1);
            }
            input.push(p);
        }
        let n = input.len();
        let (out, router) = run_element(&IP_FILTER, config, 4, input).unwrap();
        let passed: usize = out.iter().map(Vec::len).sum();
        let drops: usize = router.read_handler("e", "drops").unwrap().parse().unwrap();
        assert_eq!(passed + drops, n);
    }
}

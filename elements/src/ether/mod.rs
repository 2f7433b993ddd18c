//! Ethernet elements: encapsulation, VLANs, host filtering, ARP.
//!
//! Frames are read and written through the views in `crate::wire::ether` and
//! `crate::wire::arp`. Handlers print Ethernet addresses as Click does (`00-1A-2B-3C-4D-5E`)
//! and accept any form the argument reader accepts.
use sluice::args::FromArg;
use sluice::element::ElementClass;

pub mod arp_querier;
pub mod arp_responder;
mod arp_table;
pub mod ensure_ether;
pub mod ether_encap;
pub mod ether_rewrite;
pub mod ether_switch;
pub mod ether_vlan_encap;
pub mod host_ether_filter;
pub mod set_vlan_anno;
pub mod strip_ether_vlan_header;
pub mod vlan_decap;
pub mod vlan_encap;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[
    ether_encap::ETHER_ENCAP,
    ether_rewrite::ETHER_REWRITE,
    ether_vlan_encap::ETHER_VLAN_ENCAP,
    vlan_encap::VLAN_ENCAP,
    vlan_decap::VLAN_DECAP,
    host_ether_filter::HOST_ETHER_FILTER,
    ether_switch::ETHER_SWITCH,
    ether_switch::LISTEN_ETHER_SWITCH,
    arp_responder::ARP_RESPONDER,
    arp_querier::ARP_QUERIER,
    strip_ether_vlan_header::STRIP_ETHER_VLAN_HEADER,
    set_vlan_anno::SET_VLAN_ANNO,
    ensure_ether::ENSURE_ETHER,
];

/// An Ethernet address as Click prints it: `00-1A-2B-3C-4D-5E`.
pub fn unparse_ether(a: &[u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    let _ = crate::wire::ether::fmt_addr(a, &mut s);
    s
}

/// Parse a handler's value (trimmed) as `T`, with the handler's name in the message.
pub(crate) fn parse_value<T: FromArg>(handler: &str, value: &str) -> Result<T, String> {
    T::from_arg(value.trim()).map_err(|e| format!("{handler}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::CLASSES;

    #[test]
    fn classes_are_well_formed_and_documented() {
        for c in CLASSES {
            let _ = c.port_count();
            let _ = c.processing_spec();
            assert!(c.synopsis().starts_with(c.name), "{}: synopsis '{}'", c.name, c.synopsis());
            assert!(!c.summary().is_empty(), "{}: no summary", c.name);
            for section in ["# Keywords", "# Handlers", "# Example"] {
                assert!(c.doc.contains(section), "{}: no {section}", c.name);
            }
            let mut hs: Vec<&str> = c.handlers.iter().map(|h| h.name).collect();
            hs.sort_unstable();
            hs.dedup();
            assert_eq!(hs.len(), c.handlers.len(), "{}: duplicate handlers", c.name);
        }
    }

    #[test]
    fn ethernet_addresses_print_like_click() {
        assert_eq!(super::unparse_ether(&[0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]), "00-1A-2B-3C-4D-5E");
    }

    /// Garbage of every length up to 80 bytes, and the prefixes of real ARP and VLAN
    /// frames: no element panics, and every packet is passed on or counted.
    #[test]
    fn garbage_and_cut_frames_never_panic() {
        use crate::standard::random_sample::XorShift;
        use crate::wire::{pcap_records, PCAPS};
        use sluice::testing::{collected, inject, new_id, run_config};
        use sluice::Packet;

        let mut rng = XorShift::new(1);
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for len in 0..80 {
            for _ in 0..4 {
                inputs.push((0..len).map(|_| rng.next_u64() as u8).collect());
            }
        }
        for file in ["tcpdump__802.1ad_QinQ.pcap", "snabb__source-vlan.pcap"] {
            for r in pcap_records(&format!("{PCAPS}/{file}")).1 {
                for cut in 0..=r.len().min(64) {
                    inputs.push(r[..cut].to_vec());
                }
                // The same frame untagged once and twice.
                inputs.push([&r[..12], &r[16..]].concat());
                if r.len() > 20 {
                    inputs.push([&r[..12], &r[20..]].concat());
                }
            }
        }
        let packets = || {
            inputs.iter().enumerate().map(|(i, d)| {
                let mut p = Packet::from_slice(d);
                p.anno_mut().dst_ip = [172, 21, 79, (i % 3) as u8 * 100];
                p.anno_mut().vlan_tci = i as u16;
                p
            })
        };
        let elements = [
            "EtherEncap(0x0800, 1:2:3:4:5:6, 6:5:4:3:2:1)",
            "EtherRewrite(1:2:3:4:5:6, 6:5:4:3:2:1)",
            "EtherVLANEncap(0x0800, 1:2:3:4:5:6, 6:5:4:3:2:1, ANNO)",
            "VLANEncap(ANNO)",
            "VLANEncap(VLAN_ID 5)",
            "VLANDecap",
            "VLANDecap(ETHERTYPE 0x88a8)",
            "HostEtherFilter(00:20:d2:5a:fb:3f, true, OFFSET 3)",
            "ARPResponder(0.0.0.0/0 00:80:ea:81:88:63)",
        ];
        for e in elements {
            let (src, sink, rest) = (new_id(), new_id(), new_id());
            inject(src, packets());
            let two_outputs = e.starts_with("ARP") || e.starts_with("Host");
            let rest_path = if two_outputs { format!("x[1] -> Collect(ID {rest});") } else { String::new() };
            let config = format!("x :: {e}; Inject(ID {src}) -> x -> Collect(ID {sink}); {rest_path}");
            let router = run_config(&config, &crate::classes()).unwrap_or_else(|err| panic!("{e}: {err}"));
            let passed = collected(sink).len() + collected(rest).len();
            let dropped: usize = router.read_handler("x", "drops").map_or(0, |d| d.parse().unwrap());
            assert_eq!(passed + dropped, inputs.len(), "{e}: every packet is passed on or counted");
        }
        // ARPQuerier: garbage on both inputs.
        let (ips, replies, sink) = (new_id(), new_id(), new_id());
        inject(ips, packets());
        inject(replies, packets());
        let config = format!(
            "q :: ARPQuerier(172.21.79.97/24, 00:20:d2:5a:fb:3f); Inject(ID {ips}) -> [0]q; \
             Inject(ID {replies}) -> [1]q; q -> Collect(ID {sink});"
        );
        let router = run_config(&config, &crate::classes()).unwrap();
        assert!(!collected(sink).is_empty());
        let responses: usize = router.read_handler("q", "responses").unwrap().parse().unwrap();
        assert!(responses > 0);
    }
}

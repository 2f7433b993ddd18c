//! IP elements: header checks, TTL, checksums, fragmentation, ICMP, route lookup.
use sluice::element::ElementClass;

pub mod check_icmp_header;
pub mod check_ip6_header;
pub mod check_ip_header;
pub mod check_ip_header2;
pub mod check_tcp_header;
pub mod check_udp_header;
pub(crate) mod common;
pub mod dec_ip6_hlim;
pub mod dec_ip_ttl;
pub mod drop_broadcasts;
pub mod fix_ip_src;
pub mod get_ip_address;
pub mod icmp_error;
pub mod icmp_ping_responder;
pub mod ip_fragmenter;
pub mod ip_gw_options;
pub mod ip_print;
pub mod ip_reassembler;
pub mod lookup;
pub mod mark_ip_header;
#[cfg(test)]
mod robustness_tests;
pub mod set_ip_address;
pub mod set_ip_checksum;
pub mod set_tcp_checksum;
pub mod set_udp_checksum;
pub mod store_ip_address;

// Encapsulation, header stripping, TOS marking, the router combos, the ping source.
pub mod icmp_ping_source;
pub mod ip_encap;
pub mod ip_input_combo;
pub mod ip_output_combo;
pub mod set_ip_dscp;
pub mod strip_ip_header;
pub mod udp_ip_encap;

/// The classes of this group (lookup tables are in `lookup`).
pub const CLASSES: &[ElementClass] = &[
    check_ip_header::CHECK_IP_HEADER,
    check_ip_header2::CHECK_IP_HEADER2,
    mark_ip_header::MARK_IP_HEADER,
    check_tcp_header::CHECK_TCP_HEADER,
    check_udp_header::CHECK_UDP_HEADER,
    check_icmp_header::CHECK_ICMP_HEADER,
    dec_ip_ttl::DEC_IP_TTL,
    set_ip_checksum::SET_IP_CHECKSUM,
    set_tcp_checksum::SET_TCP_CHECKSUM,
    set_udp_checksum::SET_UDP_CHECKSUM,
    get_ip_address::GET_IP_ADDRESS,
    store_ip_address::STORE_IP_ADDRESS,
    icmp_error::ICMP_ERROR,
    icmp_ping_responder::ICMP_PING_RESPONDER,
    drop_broadcasts::DROP_BROADCASTS,
    ip_print::IP_PRINT,
    check_ip6_header::CHECK_IP6_HEADER,
    dec_ip6_hlim::DEC_IP6_HLIM,
    ip_reassembler::IP_REASSEMBLER,
    ip_fragmenter::IP_FRAGMENTER,
    fix_ip_src::FIX_IP_SRC,
    ip_gw_options::IP_GW_OPTIONS,
    set_ip_address::SET_IP_ADDRESS,
    ip_encap::IP_ENCAP,
    udp_ip_encap::UDP_IP_ENCAP,
    strip_ip_header::STRIP_IP_HEADER,
    strip_ip_header::UNSTRIP_IP_HEADER,
    set_ip_dscp::SET_IP_DSCP,
    set_ip_dscp::SET_IP_ECN,
    ip_input_combo::IP_INPUT_COMBO,
    ip_output_combo::IP_OUTPUT_COMBO,
    icmp_ping_source::ICMP_PING_SOURCE,
];

/// Robustness test cases of the elements added after the first list.
#[cfg(test)]
fn robustness_cases() -> &'static [robustness_tests::Case] {
    use robustness_tests::{case, Kind};
    const CASES: &[robustness_tests::Case] = &[
        case(
            "IPPrint(OUTFILE /dev/null, CONTENTS hex, ID true, TTL true, TOS true, LENGTH true, PAINT true)",
            false,
            true,
            Kind::Pass,
        ),
        case("IPPrint(OUTFILE /dev/null, PAYLOAD ascii, AGGREGATE true, MAXLENGTH -1)", false, true, Kind::Pass),
        case("CheckIP6Header", true, false, Kind::Filter),
        case("CheckIP6Header(\"::1 2001:db8::1\", 0)", true, false, Kind::Filter),
        case("DecIP6HLIM", true, true, Kind::Filter),
        case("IPReassembler", true, true, Kind::Any),
        case("IPReassembler(HIMEM 2000, MAX_MTU_ANNO 8)", false, true, Kind::Any),
        case("IPFragmenter(68)", true, true, Kind::Any),
        case("IPFragmenter(100, false)", false, true, Kind::Any),
        case("FixIPSrc(1.2.3.4)", false, true, Kind::Filter),
        case("IPGWOptions(1.2.3.4)", true, true, Kind::Filter),
        case("IPEncap(4, 1.1.1.1, DST_ANNO, DF true)", false, false, Kind::Pass),
        case("UDPIPEncap(1.1.1.1, 1, 2.2.2.2, 2)", false, false, Kind::Pass),
        case("StripIPHeader", false, true, Kind::Filter),
        case("UnstripIPHeader", false, true, Kind::Filter),
        case("SetIPDSCP(46)", false, true, Kind::Filter),
        case("SetIPECN(CE)", false, true, Kind::Filter),
        case("IPInputCombo(1, INTERFACES 10.0.0.1/8)", false, false, Kind::Filter),
    ];
    CASES
}

#[cfg(test)]
mod tests {
    use super::CLASSES;

    #[test]
    fn classes_are_well_formed_and_documented() {
        let mut names: Vec<&str> = CLASSES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CLASSES.len(), "duplicate class names");
        for c in CLASSES {
            let _ = c.port_count();
            let _ = c.processing_spec();
            assert!(c.synopsis().starts_with(c.name), "{}: synopsis '{}'", c.name, c.synopsis());
            assert!(!c.summary().is_empty(), "{}: no summary", c.name);
            for section in ["# Keywords", "# Handlers", "# Example", "Ports:"] {
                assert!(c.doc.contains(section), "{}: no {section}", c.name);
            }
            let mut hs: Vec<&str> = c.handlers.iter().map(|h| h.name).collect();
            hs.sort_unstable();
            hs.dedup();
            assert_eq!(hs.len(), c.handlers.len(), "{}: duplicate handlers", c.name);
            // Every class counts what it drops, except those that never drop.
            if !["IPPrint", "SetIPAddress", "IPEncap", "UDPIPEncap", "ICMPPingSource"].contains(&c.name) {
                assert!(
                    c.handler("drops").is_some() && c.handler("drop_details").is_some(),
                    "{}: drop handlers",
                    c.name
                );
            }
        }
    }
}

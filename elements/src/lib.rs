//! Sluice's standard element library: Click's elements, with Click's names, keywords,
//! ports, handlers and behaviour. Grouped as Click groups them; one element per file, its
//! documentation and tests beside it. Protocol headers are read through the views in `wire`.

use sluice::element::ElementClass;
use sluice::registry::Registry;

pub mod analysis;
pub mod classify;
pub mod ether;
pub mod io;
pub mod ip;
pub mod nat;
pub mod standard;
pub mod wire;

/// Every element class of the library.
pub fn classes() -> Vec<ElementClass> {
    [
        standard::CLASSES,
        io::CLASSES,
        ether::CLASSES,
        ip::CLASSES,
        ip::lookup::CLASSES,
        classify::CLASSES,
        nat::CLASSES,
        analysis::CLASSES,
        // The control plane's element lives with the control plane.
        &[sluice::control::CONTROL_SOCKET],
    ]
    .concat()
}

/// Other names Click gives some classes (`EXPORT_ELEMENT(EtherVLANEncap EtherVLANEncap-EtherVlanEncap)`
/// in Click's source): alias, class.
pub const ALIASES: &[(&str, &str)] = &[
    ("EtherVlanEncap", "EtherVLANEncap"),
    ("StripEtherVlanHeader", "StripEtherVLANHeader"),
    ("SetVlanAnno", "SetVLANAnno"),
    ("ICMPSendPings", "ICMPPingSource"),
];

/// A registry holding every class of the library, and Click's aliases for them.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.add_all(&classes());
    for (alias, class) in ALIASES {
        r.add_alias(alias, class);
    }
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_alias_names_a_class() {
        let r = super::registry();
        for (alias, class) in super::ALIASES {
            assert_eq!(r.get(alias).map(|c| c.name), Some(*class), "{alias}");
        }
    }

    #[test]
    fn click_alias_ether_vlan_encap_builds() {
        // Click's own test (test/ethernet/EtherVlanEncap-01.testie) spells the class this way.
        let text = "InfiniteSource(DATA \\<AAABACAD>, LIMIT 1, STOP true) \
                    -> EtherVlanEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, 1) -> Discard";
        sluice::load::plan_str("<expr>", text, &[], &super::registry(), std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

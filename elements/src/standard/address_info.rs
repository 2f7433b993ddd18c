//! `AddressInfo`: declares names for addresses that other elements' configurations use.
//!
//! The names themselves are resolved by the argument reader (`sluice::args::names`), from
//! every AddressInfo of the graph, while elements are built; this element only validates
//! its configuration. After Click's `elements/standard/addressinfo.{cc,hh}` (Eddie Kohler;
//! Copyright (c) 2000 Mazu Networks, Inc., (c) 2004 Regents of the University of
//! California, (c) 2011 Meraki, Inc.; Click LICENSE).

use sluice::args::names::parse_address_info;
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// AddressInfo(NAME ADDRESS [ADDRESS...], ...)
    ///
    /// Specifies address information: mnemonic names for addresses.
    ///
    /// Lets you use mnemonic names for IPv4 and IPv6 addresses, IPv4 and IPv6 address
    /// prefixes, and Ethernet addresses. Each argument has the form `NAME ADDRESS
    /// [ADDRESS...]`, which associates the given ADDRESSes with NAME. For example, if a
    /// configuration contains `AddressInfo(mauer 10.0.0.1, mazu 10.0.0.10)`, then other
    /// configuration strings can use `mauer` and `mazu` as mnemonics for the IP addresses
    /// 10.0.0.1 and 10.0.0.10. Every element argument that takes an address accepts names,
    /// including words inside IPClassifier and IPFilter patterns (`dst host mauer`,
    /// `dst net mauer`), ARPResponder and ARPQuerier entries, IPRewriterPatterns and route
    /// tables.
    ///
    /// The names are local with respect to compound elements: names created inside a
    /// compound element apply only within that compound element and its subelements, and a
    /// name is looked up in the using element's compound first, then in each enclosing one.
    /// Where in its scope an AddressInfo is declared does not matter.
    ///
    /// ```text
    /// AddressInfo(mauer 10.0.0.1);
    /// compound :: {
    ///   AddressInfo(mazu 10.0.0.10);
    ///   ... -> IPEncap(6, mauer, mazu) -> ...  // OK
    /// };
    /// ... -> IPEncap(6, mauer, mazu) -> ...    // error: 'mazu' undefined
    /// ```
    ///
    /// A name can be associated with an IPv4 address, an IPv4 prefix, an IPv6 address, an
    /// IPv6 prefix and an Ethernet address at once; the kind used is determined from
    /// context. With `AddressInfo(mauer 10.0.0.1 00-50-BA-85-84-A9)`, `IPEncap(6, mauer,
    /// ...)` uses the IP address, `EtherEncap(0x0800, mauer, ...)` the Ethernet address, and
    /// `ARPResponder(mauer)` both. A prefix with host bits, `10.0.0.1/24`, defines both an
    /// address and a prefix. Where a prefix is expected, a name with both is read as its
    /// address (a /32); write `NAME:ipnet` for the prefix. (IPFilter's `net NAME` and a
    /// prefix-only argument take the prefix.)
    ///
    /// An optional suffix makes the context unambiguous: `NAME:ip` (or `:ip4`) is always an
    /// IPv4 address, `NAME:ipnet` (or `:ip4net`, `:net`) an IPv4 prefix, `NAME:ip6` an IPv6
    /// address, `NAME:ip6net` an IPv6 prefix, and `NAME:eth` (or `:ether`, `:ethernet`) an
    /// Ethernet address. Suffixes are case-insensitive. `NAME:bcast` is the broadcast
    /// address of `NAME:ipnet` (all host bits set). `NAME:gw` is a name `NAME:gw` if one is
    /// declared, otherwise `NAME:ipnet`'s network address with the lowest bit set.
    ///
    /// A later definition of a name in the same scope replaces an earlier one, kind by
    /// kind. Within one argument, a word that is one kind of address only always defines
    /// it; a word that could be several defines only those the argument has not defined yet.
    ///
    /// Differences from Click: Click falls back to the host's network devices for names no
    /// AddressInfo declares (`eth0:eth` is eth0's Ethernet address); Sluice does not, so a
    /// configuration does not change meaning with the machine it is checked on. Names are
    /// resolved when elements are built, not in handler values written at run time. An
    /// ADDRESS cannot itself be a name.
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// None. Arguments that are not `NAME ADDRESS...` or hold a word that is no address
    /// are errors.
    ///
    /// # Handlers
    /// None beyond the standard ones.
    ///
    /// # Example
    /// ```text
    /// AddressInfo(intern 10.0.0.1 10.0.0.0/8 00:50:ba:85:84:a9,
    ///             extern 209.6.198.213 209.6.198.0/24 00:e0:98:09:ab:af);
    /// ... -> EtherEncap(0x0800, extern:eth, 00:e0:98:00:00:01) -> ...
    /// ... -> IPClassifier(dst host intern, dst net intern, -) -> ...
    /// ```
    pub const ADDRESS_INFO = "AddressInfo" { ports: "0/0", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    parse_address_info(config).map_err(|errors| ConfigError(errors.join("; ")))?;
    Ok(Box::new(AddressInfo))
}

/// The element: nothing at run time.
pub struct AddressInfo;

impl Element for AddressInfo {}

#[cfg(test)]
mod tests {
    use super::ADDRESS_INFO;
    use sluice::load::plan_str;
    use sluice::testing::build;
    use std::path::Path;

    #[test]
    fn arp_elements_take_both_addresses_from_one_name() {
        // mazu-nat.click's `ARPQuerier(intern)` and `ARPResponder(extern)`.
        let text = |q: &str| {
            format!(
                "AddressInfo(intern 10.0.0.1 10.0.0.0/8 00:50:ba:85:84:a9, ip_only 10.0.0.2);
                 Idle -> q :: ARPQuerier({q}) -> Discard; Idle -> [1]q;
                 Idle -> ARPResponder(intern) -> Discard;"
            )
        };
        let plan = |q: &str| plan_str("t.click", &text(q), &[], &crate::registry(), Path::new("."));
        assert!(plan("intern").is_ok());
        assert!(plan("intern:ipnet, intern").is_ok());
        let err = plan("ip_only").err().unwrap().to_string();
        assert!(err.contains("t.click:2:42: ARPQuerier 'q': missing mandatory argument ETH"), "{err}");
    }

    #[test]
    fn validates_its_configuration() {
        assert!(build(&ADDRESS_INFO, "a 10.0.0.1 10.0.0.0/8 00:50:ba:85:84:a9, b ::1, , c fe80::/10", 0, 0).is_ok());
        assert!(build(&ADDRESS_INFO, "", 0, 0).is_ok());
        let err = |c| build(&ADDRESS_INFO, c, 0, 0).err().unwrap().0;
        assert_eq!(err("a"), "expected 'NAME ADDRESS...', found 'a'");
        assert_eq!(
            err("a 10.0.0.1 eth0, b 00:11"),
            "a: 'eth0' is not a recognizable address; b: '00:11' is not a recognizable address"
        );
    }
}

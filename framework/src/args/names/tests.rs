//! AddressInfo names: definitions, suffixes, Click's compound scoping, and the messages of
//! whole graphs (with `file:line:col`).

use super::*;
use crate::args::{Args, FromArg};
use crate::element::{BuildCtx, ConfigError, Element, ElementClass};
use crate::load::plan_str;
use crate::testing::registry;
use std::path::Path;

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn pfx(s: &str, len: u8) -> Ipv4Prefix {
    Ipv4Prefix { addr: v4(s), len }
}

fn ether(s: &str) -> EtherAddr {
    EtherAddr::literal(s).unwrap()
}

/// A book with one top-level AddressInfo configuration.
fn book(config: &str) -> Arc<AddressBook> {
    let mut b = AddressBook::default();
    b.add("", config);
    Arc::new(b)
}

// mazu-nat.click's AddressInfo (Click's conf/mazu-nat.click), plus names for the other kinds.
const MAZU: &str = "intern 10.0.0.1 10.0.0.0/8 00:50:ba:85:84:a9,
    extern 209.6.198.213 209.6.198.0/24 00:e0:98:09:ab:af,
    extern_next_hop 02:00:0a:11:22:1f,
    intern_server 10.0.0.10,
    boojum 10.0.0.1/24,
    v6 2001:db8::1/64 fe80::1";

#[test]
fn address_info_arguments_define_each_kind_as_click_does() {
    let defs = parse_address_info(MAZU).unwrap();
    let intern = &defs[0];
    assert_eq!(intern.name, "intern");
    assert_eq!(intern.entry.ip, Some(v4("10.0.0.1")));
    assert_eq!(intern.entry.ip_prefix, Some(pfx("10.0.0.0", 8)));
    assert_eq!(intern.entry.ether, Some(ether("00:50:ba:85:84:a9")));
    assert_eq!(defs[2].entry, AddressEntry { ether: Some(ether("02:00:0a:11:22:1f")), ..Default::default() });
    // A prefix with host bits also defines the address (Click: "defines address and prefix").
    assert_eq!(defs[4].entry.ip, Some(v4("10.0.0.1")));
    assert_eq!(defs[4].entry.ip_prefix, Some(pfx("10.0.0.1", 24)));
    // ... but an address given alone wins over one implied by a prefix.
    let d = parse_address_info("x 10.0.0.1 10.0.0.7/24").unwrap();
    assert_eq!((d[0].entry.ip, d[0].entry.ip_prefix), (Some(v4("10.0.0.1")), Some(pfx("10.0.0.7", 24))));
    let d = parse_address_info("x 10.0.0.7/24 10.0.0.1").unwrap();
    assert_eq!(d[0].entry.ip, Some(v4("10.0.0.1")));
    assert_eq!(defs[5].entry.ip6, Some("fe80::1".parse().unwrap()));
    assert_eq!(defs[5].entry.ip6_prefix.unwrap().to_string(), "2001:db8::1/64");
    // Empty arguments are allowed; a name alone or a bad address is an error, all reported.
    assert_eq!(parse_address_info("a 1.2.3.4,, ").unwrap().len(), 1);
    assert_eq!(
        parse_address_info("lonely, a 1.2.3.4 nonsense 1.2.3.999").unwrap_err(),
        [
            "expected 'NAME ADDRESS...', found 'lonely'",
            "a: 'nonsense' is not a recognizable address",
            "a: '1.2.3.999' is not a recognizable address"
        ]
    );
}

#[test]
fn names_resolve_by_context_and_suffix() {
    let b = book(MAZU);
    with_scope(&b, "", || {
        // The kind comes from what the argument expects.
        assert_eq!(Ipv4Addr::from_arg("intern"), Ok(v4("10.0.0.1")));
        assert_eq!(EtherAddr::from_arg("intern"), Ok(ether("00:50:ba:85:84:a9")));
        // A prefix argument prefers the address (as a /32), as Click's IPPrefixArg(true) does.
        assert_eq!(Ipv4Prefix::from_arg("intern"), Ok(pfx("10.0.0.1", 32)));
        assert_eq!(Ipv4Prefix::from_arg("intern:ipnet"), Ok(pfx("10.0.0.0", 8)));
        assert_eq!(Ipv4Prefix::from_arg("boojum"), Ok(pfx("10.0.0.1", 32)));
        assert_eq!(Ipv4Prefix::parse_net("intern"), Ok(pfx("10.0.0.0", 8)));
        assert_eq!(Ipv4Prefix::parse_net("boojum"), Ok(pfx("10.0.0.1", 24)));
        assert_eq!(Ipv4Prefix::parse_net("10.1.0.0/16"), Ok(pfx("10.1.0.0", 16)));
        assert!(Ipv4Prefix::parse_net("10.1.0.0").is_err());
        // A name as the address part of a prefix.
        assert_eq!(Ipv4Prefix::from_arg("intern_server/24"), Ok(pfx("10.0.0.10", 24)));
        assert_eq!(Ipv4Prefix::from_arg("extern/255.255.0.0"), Ok(pfx("209.6.198.213", 16)));
        // Every suffix Click's AddressInfo knows, in any case.
        for (s, want) in [
            ("intern:ip", "10.0.0.1"),
            ("intern:IP4", "10.0.0.1"),
            ("extern:bcast", "209.6.198.255"),
            ("extern:gw", "209.6.198.1"),
            ("boojum:bcast", "10.0.0.255"),
        ] {
            assert_eq!(Ipv4Addr::from_arg(s), Ok(v4(want)), "{s}");
        }
        for s in ["extern:net", "extern:ipnet", "extern:IP4NET"] {
            assert_eq!(Ipv4Prefix::from_arg(s), Ok(pfx("209.6.198.0", 24)), "{s}");
        }
        for s in ["extern:eth", "extern:ether", "extern:Ethernet"] {
            assert_eq!(EtherAddr::from_arg(s), Ok(ether("00:e0:98:09:ab:af")), "{s}");
        }
        assert_eq!(Ipv6Addr::from_arg("v6"), Ok("fe80::1".parse().unwrap()));
        assert_eq!(Ipv6Addr::from_arg("v6:ip6"), Ok("fe80::1".parse().unwrap()));
        assert_eq!(Ipv6Prefix::from_arg("v6:ip6net").unwrap().to_string(), "2001:db8::1/64");
        assert_eq!(Ipv6Prefix::from_arg("v6").unwrap().to_string(), "fe80::1/128");
        // The wrong suffix for the kind is no match.
        assert!(Ipv4Addr::from_arg("intern:eth").is_err());
        assert!(EtherAddr::from_arg("intern:ip").is_err());
        // Through the argument reader, as elements read them.
        let mut args = Args::new("0x0800, extern:eth, extern_next_hop");
        assert_eq!(args.read_mp::<u16>("ETHERTYPE"), Ok(0x0800));
        assert_eq!(args.read_mp::<EtherAddr>("SRC"), Ok(ether("00:e0:98:09:ab:af")));
        assert_eq!(args.read_mp::<EtherAddr>("DST"), Ok(ether("02:00:0a:11:22:1f")));
        args.finish().unwrap();
    });
}

#[test]
fn unknown_names_keep_the_plain_error_and_known_ones_explain() {
    let b = book(MAZU);
    with_scope(&b, "", || {
        // Unknown: exactly the message without AddressInfo.
        assert_eq!(Ipv4Addr::from_arg("nowhere").unwrap_err(), "expected IPv4 address, found 'nowhere'");
        assert_eq!(EtherAddr::from_arg("nowhere:eth").unwrap_err(), "expected Ethernet address, found 'nowhere:eth'");
        assert_eq!(Ipv4Prefix::from_arg("nowhere").unwrap_err(), "expected IPv4 prefix, found 'nowhere'");
        // Known, without that kind, or with a suffix of another kind.
        assert_eq!(
            Ipv4Addr::from_arg("extern_next_hop").unwrap_err(),
            "expected IPv4 address, found 'extern_next_hop' (AddressInfo gives 'extern_next_hop' no IPv4 address)"
        );
        assert_eq!(
            EtherAddr::from_arg("intern_server:eth").unwrap_err(),
            "expected Ethernet address, found 'intern_server:eth' (AddressInfo gives 'intern_server' no Ethernet address)"
        );
        assert_eq!(
            Ipv4Addr::from_arg("intern:mac").unwrap_err(),
            "expected IPv4 address, found 'intern:mac' (':mac' does not name an IPv4 address; use :ip, :ip4, :bcast, :gw)"
        );
    });
    // Outside a build no names are known, and the scope is restored after one.
    assert_eq!(Ipv4Addr::from_arg("intern").unwrap_err(), "expected IPv4 address, found 'intern'");
}

#[test]
fn lookups_climb_from_the_compound_scope_per_kind() {
    let mut b = AddressBook::default();
    b.add("", "a 1.1.1.1 00:00:00:00:00:01, top 9.9.9.9");
    b.add("o/", "a 2.2.2.2, mid 8.8.8.8");
    b.add("o/i/", "a 3.3.3.3");
    b.add("other/", "hidden 7.7.7.7");
    let b = Arc::new(b);
    let ip = |scope: &str, name: &str| b.find(name, scope, |e| e.ip);
    assert_eq!(ip("o/i/", "a"), Some(v4("3.3.3.3")));
    assert_eq!(ip("o/", "a"), Some(v4("2.2.2.2")));
    assert_eq!(ip("", "a"), Some(v4("1.1.1.1")));
    assert_eq!(ip("o/i/", "mid"), Some(v4("8.8.8.8")));
    assert_eq!(ip("o/i/", "top"), Some(v4("9.9.9.9")));
    assert_eq!(ip("o/i/", "hidden"), None);
    assert_eq!(ip("", "hidden"), None);
    // An inner definition of one kind does not hide the outer one's other kinds.
    assert_eq!(b.find("a", "o/i/", |e| e.ether), Some(ether("00:00:00:00:00:01")));
    // Later definitions in one scope replace earlier ones, kind by kind.
    let mut b = AddressBook::default();
    b.add("", "x 1.1.1.1 00:00:00:00:00:01");
    b.add("", "x 2.2.2.2");
    assert_eq!(b.find("x", "", |e| e.ip), Some(v4("2.2.2.2")));
    assert_eq!(b.find("x", "", |e| e.ether), Some(ether("00:00:00:00:00:01")));
}

/// `AddressInfo` as the element library defines it, reduced to its validation.
fn address_info(config: &str, _: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    parse_address_info(config).map_err(|e| ConfigError(e.join("; ")))?;
    Ok(Box::new(Nothing))
}

struct Nothing;
impl Element for Nothing {}

const ADDRESS_INFO: ElementClass = ElementClass {
    name: "AddressInfo",
    ports: "0/0",
    processing: "a/a",
    doc: "AddressInfo(NAME ADDRESS...)\nTest.",
    handlers: &[],
    build: address_info,
};

/// `Show(IP, ETH)`: reads an IPv4 address and an Ethernet address and fails with them, so a
/// graph's messages show what each name meant where it was used.
fn show(config: &str, _: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let ip: Ipv4Addr = args.read_mp("IP")?;
    let eth: Option<EtherAddr> = args.read_p("ETH")?;
    args.finish()?;
    Err(ConfigError(format!("{ip} {}", eth.map_or("-".to_string(), |e| e.to_string()))))
}

const SHOW: ElementClass = ElementClass {
    name: "Show",
    ports: "0/0",
    processing: "a/a",
    doc: "Show(IP, ETH)\nTest.",
    handlers: &[],
    build: show,
};

fn messages(text: &str) -> Vec<String> {
    let errs = plan_str("t.click", text, &[], &registry(&[ADDRESS_INFO, SHOW]), Path::new(".")).err().unwrap();
    errs.to_string().lines().map(str::to_string).collect()
}

#[test]
fn graphs_scope_names_like_element_names_and_errors_say_where() {
    // Click's own example (addressinfo.hh): mazu is local to the compound.
    let m = messages(
        "AddressInfo(mauer 10.0.0.1 00:50:BA:85:84:A9);
elementclass C {
  AddressInfo(mazu 10.0.0.10);
  a :: Show(mauer, mauer); b :: Show(mazu);
  d :: { e :: Show(mazu:ip) };
}
c :: C;
x :: Show(mazu);
y :: Show(mauer:ip, mauer:eth);",
    );
    assert!(m.contains(&"t.click:4:13: Show 'c/a': 10.0.0.1 00:50:ba:85:84:a9".to_string()), "{m:?}");
    assert!(m.contains(&"t.click:4:38: Show 'c/b': 10.0.0.10 -".to_string()), "{m:?}");
    assert!(m.contains(&"t.click:5:20: Show 'c/d/e': 10.0.0.10 -".to_string()), "{m:?}");
    assert!(m.contains(&"t.click:8:11: Show 'x': IP: expected IPv4 address, found 'mazu'".to_string()), "{m:?}");
    assert!(m.contains(&"t.click:9:11: Show 'y': 10.0.0.1 00:50:ba:85:84:a9".to_string()), "{m:?}");
    // An inner AddressInfo hides an outer name of the same kind; declaration order does not
    // matter (Click configures AddressInfo first).
    let m = messages(
        "s :: Show(n); AddressInfo(n 1.1.1.1);
elementclass D { t :: Show(n); AddressInfo(n 2.2.2.2) }
d :: D;",
    );
    assert!(m.contains(&"t.click:1:11: Show 's': 1.1.1.1 -".to_string()), "{m:?}");
    assert!(m.contains(&"t.click:2:28: Show 'd/t': 2.2.2.2 -".to_string()), "{m:?}");
    // A bad AddressInfo is reported at its own place, and its names stay undefined.
    let m = messages("AddressInfo(a 1.2.3.4, b 1.2.3.x);\ns :: Show(b);");
    assert!(
        m.contains(
            &"t.click:1:13: AddressInfo 'AddressInfo@1': b: '1.2.3.x' is not a recognizable address".to_string()
        ),
        "{m:?}"
    );
    assert!(m.contains(&"t.click:2:11: Show 's': IP: expected IPv4 address, found 'b'".to_string()), "{m:?}");
}

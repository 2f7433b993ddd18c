//! [`FromArg`] for IPv4/IPv6 addresses and prefixes and Ethernet addresses.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{expected, names, shown, FromArg};

/// Suffixes of AddressInfo names, per kind (for hints in messages).
const IP_SUFFIXES: &str = ":ip, :ip4, :bcast, :gw";
const IP_PREFIX_SUFFIXES: &str = ":net, :ipnet, :ip4net, :ip, :ip4, :bcast, :gw";
const IP6_SUFFIXES: &str = ":ip6";
const IP6_PREFIX_SUFFIXES: &str = ":ip6net, :ip6";
const ETHER_SUFFIXES: &str = ":eth, :ether, :ethernet";

/// Dotted-quad octets; `min_parts` < 4 allows Click's short prefix forms like `10/8`.
pub(super) fn parse_ipv4_parts(s: &str, min_parts: usize) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut count = 0;
    for part in s.split('.') {
        if count == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        octets[count] = part.parse().ok()?;
        count += 1;
    }
    (count >= min_parts).then(|| Ipv4Addr::from(octets))
}

/// IPv4 addresses as a dotted quad, `a.b.c.d`, or an AddressInfo name (`NAME`, `NAME:ip`,
/// `NAME:bcast`, `NAME:gw`; see [`names`]).
impl FromArg for Ipv4Addr {
    const DESCRIPTION: &'static str = "IPv4 address";
    fn from_arg(s: &str) -> Result<Self, String> {
        parse_ipv4_parts(s, 4)
            .or_else(|| names::query_ip(s))
            .ok_or_else(|| names::expected_address(Self::DESCRIPTION, s, IP_SUFFIXES))
    }
}

/// IPv6 addresses in RFC 4291 text form, including `::` and embedded IPv4, or an
/// AddressInfo name (`NAME`, `NAME:ip6`).
impl FromArg for Ipv6Addr {
    const DESCRIPTION: &'static str = "IPv6 address";
    fn from_arg(s: &str) -> Result<Self, String> {
        s.parse()
            .ok()
            .or_else(|| names::query_ip6(s))
            .ok_or_else(|| names::expected_address(Self::DESCRIPTION, s, IP6_SUFFIXES))
    }
}

/// Prefix length of a netmask (aligned to the top bit), if it is contiguous ones then zeros.
fn mask_len(bits: u128) -> Option<u8> {
    let ones = bits.leading_ones();
    let contiguous = bits.checked_shl(ones).unwrap_or(0) == 0;
    contiguous.then_some(ones as u8)
}

/// The `/len` or `/mask` part of a prefix, shared by IPv4 and IPv6.
pub(super) fn parse_prefix_len(suffix: &str, width: u32, what: &str, whole: &str) -> Result<u8, String> {
    if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
        return match suffix.parse::<u32>() {
            Ok(len) if len <= width => Ok(len as u8),
            _ => Err(format!("prefix length in {} out of range (0..={width})", shown(whole))),
        };
    }
    let mask = if width == 32 {
        parse_ipv4_parts(suffix, 4).map(|m| u128::from(u32::from(m)) << 96)
    } else {
        suffix.parse::<Ipv6Addr>().ok().map(u128::from)
    };
    match mask {
        Some(bits) => mask_len(bits).ok_or_else(|| format!("netmask in {} is not contiguous", shown(whole))),
        None => Err(expected(what, whole)),
    }
}

/// An IPv4 prefix: address and length. The address keeps any host bits it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Prefix {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Ipv4Prefix {
    /// `None` if `len` > 32.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then_some(Ipv4Prefix { addr, len })
    }

    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0))
    }

    /// The address with host bits cleared.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & u32::from(self.mask()))
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & u32::from(self.mask()) == u32::from(self.network())
    }
}

/// `a.b.c.d/len`, `a.b.c.d/mask` (contiguous), a bare address (= /32), or
/// Click's short form with fewer octets before the slash (`10/8` = `10.0.0.0/8`); or, as
/// Click's `IPPrefixArg(true)` reads them, AddressInfo names: `NAME/len`, a name's IPv4
/// address as a /32 (`NAME`, `NAME:ip`, `NAME:bcast`, ...), which comes first, then a
/// name's prefix (`NAME`, `NAME:ipnet`). See [`names`].
impl FromArg for Ipv4Prefix {
    const DESCRIPTION: &'static str = "IPv4 prefix";
    fn from_arg(s: &str) -> Result<Self, String> {
        Self::literal(s).or_else(|e| {
            names::ip_prefix_by_name(s, true)
                .ok_or_else(|| names::not_found(e, s, Self::DESCRIPTION, IP_PREFIX_SUFFIXES))
        })
    }
}

impl Ipv4Prefix {
    /// Click's `IPPrefixArg()` without a bare address: `addr/len`, `addr/mask`, or an
    /// AddressInfo name's prefix (`NAME`, `NAME:ipnet`). A name that has both an address
    /// and a prefix gives its prefix here, where [`FromArg::from_arg`] gives the address as
    /// a /32 (IPFilter's `net NAME` reads this way).
    pub fn parse_net(s: &str) -> Result<Self, String> {
        let literal = if s.contains('/') { Self::literal(s) } else { Err(expected(Self::DESCRIPTION, s)) };
        literal.or_else(|e| {
            names::ip_prefix_by_name(s, false)
                .ok_or_else(|| names::not_found(e, s, Self::DESCRIPTION, ":net, :ipnet, :ip4net"))
        })
    }

    /// The literal forms only (no names).
    pub(super) fn literal(s: &str) -> Result<Self, String> {
        let bad = || expected(Self::DESCRIPTION, s);
        match s.split_once('/') {
            None => parse_ipv4_parts(s, 4).map(|addr| Ipv4Prefix { addr, len: 32 }).ok_or_else(bad),
            Some((addr, suffix)) => {
                let addr = parse_ipv4_parts(addr, 1).ok_or_else(bad)?;
                let len = parse_prefix_len(suffix, 32, Self::DESCRIPTION, s)?;
                Ok(Ipv4Prefix { addr, len })
            }
        }
    }
}

/// Click's form: `18.26.4.0/24`.
impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An IPv6 prefix: address and length. The address keeps any host bits it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Prefix {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Ipv6Prefix {
    /// `None` if `len` > 128.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= 128).then_some(Ipv6Prefix { addr, len })
    }

    pub fn mask(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::MAX.checked_shl(128 - u32::from(self.len)).unwrap_or(0))
    }

    /// The address with host bits cleared.
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) & u128::from(self.mask()))
    }

    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & u128::from(self.mask()) == u128::from(self.network())
    }
}

/// `addr/len`, `addr/mask` (contiguous) or a bare address (= /128); or AddressInfo names
/// (`NAME/len`, a name's IPv6 address as a /128, then its IPv6 prefix; `NAME:ip6net`).
impl FromArg for Ipv6Prefix {
    const DESCRIPTION: &'static str = "IPv6 prefix";
    fn from_arg(s: &str) -> Result<Self, String> {
        Self::literal(s).or_else(|e| {
            names::ip6_prefix_by_name(s).ok_or_else(|| names::not_found(e, s, Self::DESCRIPTION, IP6_PREFIX_SUFFIXES))
        })
    }
}

impl Ipv6Prefix {
    /// The literal forms only (no names).
    pub(super) fn literal(s: &str) -> Result<Self, String> {
        let (addr, suffix) = s.split_once('/').unwrap_or((s, ""));
        let addr: Ipv6Addr = addr.parse().map_err(|_| expected(Self::DESCRIPTION, s))?;
        let len = if s.contains('/') { parse_prefix_len(suffix, 128, Self::DESCRIPTION, s)? } else { 128 };
        Ok(Ipv6Prefix { addr, len })
    }
}

/// `2001:db8::/32`.
impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An Ethernet (MAC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EtherAddr(pub [u8; 6]);

impl EtherAddr {
    pub const BROADCAST: EtherAddr = EtherAddr([0xff; 6]);
}

/// Six groups of one or two hex digits, all separated by `:` or all by `-`:
/// `00:11:22:33:44:55`, `00-11-22-33-44-55`, `0:1:2:3:4:5`; or an AddressInfo name
/// (`NAME`, `NAME:eth`, `NAME:ether`, `NAME:ethernet`; see [`names`]).
impl FromArg for EtherAddr {
    const DESCRIPTION: &'static str = "Ethernet address";
    fn from_arg(s: &str) -> Result<Self, String> {
        Self::literal(s).or_else(|_| {
            names::query_ethernet(s).ok_or_else(|| names::expected_address(Self::DESCRIPTION, s, ETHER_SUFFIXES))
        })
    }
}

impl EtherAddr {
    /// The literal forms only (no names).
    pub(super) fn literal(s: &str) -> Result<Self, String> {
        let bad = || expected(Self::DESCRIPTION, s);
        let sep = if s.contains(':') { ':' } else { '-' };
        let mut out = [0u8; 6];
        let mut count = 0;
        for group in s.split(sep) {
            let ok = count < 6 && (1..=2).contains(&group.len()) && group.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(bad());
            }
            out[count] = u8::from_str_radix(group, 16).map_err(|_| bad())?;
            count += 1;
        }
        if count == 6 {
            Ok(EtherAddr(out))
        } else {
            Err(bad())
        }
    }
}

/// Lowercase colon form, `00:1a:2b:3c:4d:5e`.
impl fmt::Display for EtherAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(Ipv4Addr::from_arg("18.26.4.9"), Ok(v4("18.26.4.9")));
        assert_eq!(Ipv4Addr::from_arg("0.0.0.0"), Ok(Ipv4Addr::UNSPECIFIED));
        assert_eq!(Ipv4Addr::from_arg("255.255.255.255"), Ok(Ipv4Addr::BROADCAST));
        assert_eq!(Ipv4Addr::from_arg("010.1.1.1"), Ok(v4("10.1.1.1")));
        assert_eq!(Ipv4Addr::from_arg("1.2.3").unwrap_err(), "expected IPv4 address, found '1.2.3'");
        for s in [
            "",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.",
            ".1.2.3",
            "1..2.3",
            "a.b.c.d",
            "1.2.3.4/8",
            "+1.2.3.4",
            "0001.2.3.4",
            "١.2.3.4",
        ] {
            assert!(Ipv4Addr::from_arg(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn ipv6_addresses() {
        assert_eq!(Ipv6Addr::from_arg("::"), Ok(Ipv6Addr::UNSPECIFIED));
        assert_eq!(Ipv6Addr::from_arg("::1"), Ok(Ipv6Addr::LOCALHOST));
        assert_eq!(Ipv6Addr::from_arg("2001:db8::8:800:200c:417a").unwrap().to_string(), "2001:db8::8:800:200c:417a");
        assert_eq!(Ipv6Addr::from_arg("::ffff:1.2.3.4").unwrap(), Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped());
        assert_eq!(Ipv6Addr::from_arg("1:2:3:4:5:6:7:8").unwrap().segments(), [1, 2, 3, 4, 5, 6, 7, 8]);
        for s in ["", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::", "1.2.3.4"] {
            assert!(Ipv6Addr::from_arg(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn ipv4_prefixes() {
        let p = |a: &str, len| Ipv4Prefix { addr: v4(a), len };
        assert_eq!(Ipv4Prefix::from_arg("18.26.4.0/24"), Ok(p("18.26.4.0", 24)));
        assert_eq!(Ipv4Prefix::from_arg("18.26.4.9/255.255.255.0"), Ok(p("18.26.4.9", 24)));
        assert_eq!(Ipv4Prefix::from_arg("1.2.3.4"), Ok(p("1.2.3.4", 32)));
        assert_eq!(Ipv4Prefix::from_arg("0.0.0.0/0"), Ok(p("0.0.0.0", 0)));
        assert_eq!(Ipv4Prefix::from_arg("0.0.0.0/0.0.0.0"), Ok(p("0.0.0.0", 0)));
        assert_eq!(Ipv4Prefix::from_arg("10/8"), Ok(p("10.0.0.0", 8)));
        assert_eq!(Ipv4Prefix::from_arg("18.26/16"), Ok(p("18.26.0.0", 16)));
        assert_eq!(Ipv4Prefix::from_arg("1.2.3.4/32").unwrap().to_string(), "1.2.3.4/32");
        let net = Ipv4Prefix::from_arg("18.26.4.9/24").unwrap();
        assert_eq!(net.network(), v4("18.26.4.0"));
        assert_eq!(net.mask(), v4("255.255.255.0"));
        assert!(net.contains(v4("18.26.4.200")) && !net.contains(v4("18.26.5.1")));
        assert_eq!(Ipv4Prefix::new(v4("0.0.0.0"), 0).unwrap().mask(), v4("0.0.0.0"));
        assert!(Ipv4Prefix::new(v4("0.0.0.0"), 33).is_none());
        assert!(Ipv4Prefix::from_arg("1.2.3.4/33").unwrap_err().contains("out of range"));
        assert!(Ipv4Prefix::from_arg("1.2.3.4/255.0.255.0").unwrap_err().contains("not contiguous"));
        for s in
            ["", "/", "1.2.3.4/", "/8", "1.2.3/", "10", "1.2.3.4/8/8", "1.2.3.4/x", "1.2.3.4/99999999999", "1.2.3.4/-1"]
        {
            assert!(Ipv4Prefix::from_arg(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn ipv6_prefixes() {
        let p = Ipv6Prefix::from_arg("2001:db8::/32").unwrap();
        assert_eq!(p.len, 32);
        assert_eq!(p.to_string(), "2001:db8::/32");
        assert!(p.contains("2001:db8::1".parse().unwrap()));
        assert!(!p.contains("2001:db9::1".parse().unwrap()));
        assert_eq!(Ipv6Prefix::from_arg("::1").unwrap().len, 128);
        assert_eq!(Ipv6Prefix::from_arg("::/0").unwrap().mask(), Ipv6Addr::UNSPECIFIED);
        assert_eq!(Ipv6Prefix::from_arg("fe80::1/ffff:ffff:ffff:ffff::").unwrap().len, 64);
        assert_eq!(Ipv6Prefix::from_arg("fe80::1/64").unwrap().network().to_string(), "fe80::");
        assert!(Ipv6Prefix::from_arg("::/129").unwrap_err().contains("out of range"));
        assert!(Ipv6Prefix::from_arg("::/ffff::ffff").unwrap_err().contains("not contiguous"));
        for s in ["", "/64", "::/", "::/x", "1.2.3.4/8", "::/64/64"] {
            assert!(Ipv6Prefix::from_arg(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn ether_addresses() {
        let e = EtherAddr([0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]);
        assert_eq!(EtherAddr::from_arg("00:1a:2b:3c:4d:5e"), Ok(e));
        assert_eq!(EtherAddr::from_arg("00-1A-2B-3C-4D-5E"), Ok(e));
        assert_eq!(EtherAddr::from_arg("0:1a:2B:3c:4d:5e"), Ok(e));
        assert_eq!(EtherAddr::from_arg("0:1:2:3:4:5"), Ok(EtherAddr([0, 1, 2, 3, 4, 5])));
        assert_eq!(EtherAddr::from_arg("ff:ff:ff:ff:ff:ff"), Ok(EtherAddr::BROADCAST));
        assert_eq!(e.to_string(), "00:1a:2b:3c:4d:5e");
        assert_eq!(EtherAddr::from_arg("00:11").unwrap_err(), "expected Ethernet address, found '00:11'");
        for s in [
            "",
            "00:11:22:33:44",
            "00:11:22:33:44:55:66",
            "00:11-22:33:44:55",
            "000:11:22:33:44:55",
            "0g:11:22:33:44:55",
            "00::22:33:44:55",
            "001122334455",
            "+0:1:2:3:4:5",
        ] {
            assert!(EtherAddr::from_arg(s).is_err(), "{s:?} should fail");
        }
    }
}

//! Address names declared by `AddressInfo` elements, as Click's argument parsers resolve
//! them.
//!
//! `AddressInfo(intern 10.0.0.1 10.0.0.0/8 00:50:ba:85:84:a9)` lets other configurations
//! write `intern` for an IPv4 address, an IPv4 prefix or an Ethernet address, whichever the
//! argument expects, or say which with a suffix (`intern:ip`, `intern:ipnet`, `intern:eth`,
//! `intern:bcast`, ...). Names are local to compound elements: a name declared inside a
//! compound is seen by the elements of that compound and of the compounds inside it, and a
//! name is looked up in the element's own compound first, then in each enclosing one.
//!
//! The names of a plan are gathered once, into an [`AddressBook`] that the plan's
//! [`Declarations`](crate::element::Declarations) hold. While an element is built
//! ([`ElementClass::instantiate`](crate::element::ElementClass::instantiate)), the book and
//! the element's compound scope are installed for the building thread, and the [`FromArg`]
//! implementations of [`Ipv4Addr`], [`Ipv4Prefix`], [`Ipv6Addr`], [`Ipv6Prefix`] and
//! [`EtherAddr`] fall back to it when the text is not a literal address. So every element
//! that reads an address with the argument reader understands names, as in Click, without
//! knowing about them. Outside a build (handlers, tests that call `from_arg` directly) no
//! names are known.
//!
//! What each suffix means, which lookups fall back to which, and how an AddressInfo
//! argument defines a name follow Click's `elements/standard/addressinfo.cc`,
//! `lib/ipaddress.cc` (`IPAddressArg`, `IPPrefixArg`) and `lib/nameinfo.cc` (Eddie Kohler;
//! Copyright (c) 2000 Mazu Networks, Inc., (c) 2004-2005 Regents of the University of
//! California, (c) 2011 Meraki, Inc.; Click LICENSE). Not taken over: Click's defaults from
//! the host's network devices (`eth0:eth` for a device that no AddressInfo names).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::net::{parse_ipv4_parts, parse_prefix_len};
use super::{expected, shown, split_args, EtherAddr, Ipv4Prefix, Ipv6Prefix};

/// What one name stands for; any of the five kinds may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressEntry {
    pub ip: Option<Ipv4Addr>,
    /// The prefix as written: its address keeps host bits (`10.0.0.1/24`).
    pub ip_prefix: Option<Ipv4Prefix>,
    pub ip6: Option<Ipv6Addr>,
    pub ip6_prefix: Option<Ipv6Prefix>,
    pub ether: Option<EtherAddr>,
}

/// One `NAME ADDRESS...` argument of an AddressInfo element, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressDefinition {
    pub name: String,
    pub entry: AddressEntry,
}

/// Parses an AddressInfo configuration the way Click's `AddressInfo::configure` does: each
/// argument is `NAME ADDRESS [ADDRESS...]` (an empty argument is allowed); each ADDRESS is
/// an IPv4 address, an IPv4 prefix (which also defines the address if it has host bits,
/// `10.0.0.1/24`), an IPv6 address or prefix, or an Ethernet address. A word that is one
/// kind only always defines that kind; a word that could be several kinds defines only the
/// kinds the argument has not defined yet. Returns every definition, or every error (one
/// sentence each).
pub fn parse_address_info(config: &str) -> Result<Vec<AddressDefinition>, Vec<String>> {
    const ETH: u8 = 1;
    const IP4: u8 = 2;
    const IP4NET: u8 = 4;
    const IP6: u8 = 8;
    const IP6NET: u8 = 16;
    let mut defs = Vec::new();
    let mut errors = Vec::new();
    for arg in split_args(config) {
        let words: Vec<&str> = arg.split_whitespace().collect();
        let Some((&name, addresses)) = words.split_first() else { continue };
        if addresses.is_empty() {
            errors.push(format!("expected 'NAME ADDRESS...', found {}", shown(&arg)));
            continue;
        }
        let mut entry = AddressEntry::default();
        let mut types = 0u8;
        for &word in addresses {
            let ether = EtherAddr::literal(word).ok();
            let ip = parse_ipv4_parts(word, 4);
            let ip_prefix = if ip.is_none() && word.contains('/') { Ipv4Prefix::literal(word).ok() } else { None };
            let ip6 = word.parse::<Ipv6Addr>().ok();
            let ip6_prefix = if ip6.is_none() && word.contains('/') { Ipv6Prefix::literal(word).ok() } else { None };
            let mut mine = 0u8;
            if ether.is_some() {
                mine |= ETH;
            }
            if ip.is_some() {
                mine |= IP4;
            } else if let Some(p) = ip_prefix {
                mine |= IP4NET;
                if p.addr != p.network() {
                    mine |= IP4;
                }
            }
            if ip6.is_some() {
                mine |= IP6;
            } else if let Some(p) = ip6_prefix {
                mine |= IP6NET;
                if p.addr != p.network() {
                    mine |= IP6;
                }
            }
            if mine == 0 {
                errors.push(format!("{name}: {} is not a recognizable address", shown(word)));
                continue;
            }
            let one_type = mine.count_ones() == 1;
            let define = |kind: u8| mine & kind != 0 && (one_type || types & kind == 0);
            if define(ETH) {
                entry.ether = ether;
            }
            if define(IP4) {
                entry.ip = ip.or(ip_prefix.map(|p| p.addr));
            }
            if define(IP4NET) {
                entry.ip_prefix = ip_prefix;
            }
            if define(IP6) {
                entry.ip6 = ip6.or(ip6_prefix.map(|p| p.addr));
            }
            if define(IP6NET) {
                entry.ip6_prefix = ip6_prefix;
            }
            types |= mine;
        }
        defs.push(AddressDefinition { name: name.to_string(), entry });
    }
    if errors.is_empty() {
        Ok(defs)
    } else {
        Err(errors)
    }
}

/// The address names of a whole graph, by compound scope: what the argument parsers consult
/// while an element is built. Made once per plan.
#[derive(Default)]
pub struct AddressBook {
    /// `scope + name` (Click's `prefix + name`) to what it stands for.
    entries: HashMap<String, AddressEntry>,
}

impl AddressBook {
    /// Adds the names an AddressInfo element declared in compound scope `scope` (`""` at top
    /// level, `outer/inner/` inside compounds) defines. Arguments with errors define
    /// nothing (the element's own build reports them). A later definition of a kind
    /// replaces an earlier one in the same scope, as Click's `NameDB::define` does.
    pub fn add(&mut self, scope: &str, config: &str) {
        let defs = match parse_address_info(config) {
            Ok(defs) => defs,
            Err(_) => return,
        };
        for AddressDefinition { name, entry } in defs {
            let e = self.entries.entry(format!("{scope}{name}")).or_default();
            e.ip = entry.ip.or(e.ip);
            e.ip_prefix = entry.ip_prefix.or(e.ip_prefix);
            e.ip6 = entry.ip6.or(e.ip6);
            e.ip6_prefix = entry.ip6_prefix.or(e.ip6_prefix);
            e.ether = entry.ether.or(e.ether);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `name`'s value of one kind as seen from compound scope `scope`: the innermost scope
    /// that gives the name this kind wins (Click's `NameInfo::query`, one database per kind).
    pub fn find<T>(&self, name: &str, scope: &str, kind: impl Fn(&AddressEntry) -> Option<T>) -> Option<T> {
        let mut scope = scope;
        loop {
            if let Some(v) = self.entries.get(&format!("{scope}{name}")).and_then(&kind) {
                return Some(v);
            }
            if scope.is_empty() {
                return None;
            }
            scope = crate::element::scope_of(&scope[..scope.len() - 1]);
        }
    }

    /// Whether `name` is defined (with any kind) in `scope` or an enclosing scope.
    pub fn knows(&self, name: &str, scope: &str) -> bool {
        self.find(name, scope, |_| Some(())).is_some()
    }
}

impl std::fmt::Debug for AddressBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AddressBook({} names)", self.entries.len())
    }
}

thread_local! {
    /// The book and compound scope of the element being built on this thread.
    static CURRENT: RefCell<Option<(Arc<AddressBook>, String)>> = const { RefCell::new(None) };
}

/// Runs `f` (an element's build) with `book`'s names visible from compound scope `scope`
/// to the argument parsers of this thread; the previous state comes back afterwards, also
/// when `f` panics.
pub fn with_scope<R>(book: &Arc<AddressBook>, scope: &str, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<(Arc<AddressBook>, String)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = old);
        }
    }
    let installed = (!book.is_empty()).then(|| (Arc::clone(book), scope.to_string()));
    let _restore = Restore(CURRENT.with(|c| c.replace(installed)));
    f()
}

/// Looks `name` up in the book installed for this thread, if any.
fn lookup<T>(name: &str, kind: impl Fn(&AddressEntry) -> Option<T>) -> Option<T> {
    CURRENT.with(|c| c.borrow().as_ref().and_then(|(book, scope)| book.find(name, scope, kind)))
}

/// Splits `NAME:suffix` at the last colon; the suffix is lowercased, with its colon.
fn split_suffix(s: &str) -> (&str, Option<String>) {
    match s.rfind(':') {
        Some(i) => (&s[..i], Some(s[i..].to_ascii_lowercase())),
        None => (s, None),
    }
}

/// An IPv4 address by name: `NAME`, `NAME:ip`, `NAME:ip4` (the name's address),
/// `NAME:bcast` (its prefix with all host bits set), `NAME:gw` (a name `NAME:gw` itself,
/// else its prefix's network address with the lowest bit set). Click's
/// `AddressInfo::query_ip`.
pub fn query_ip(s: &str) -> Option<Ipv4Addr> {
    let (name, suffix) = split_suffix(s);
    match suffix.as_deref() {
        None | Some(":ip" | ":ip4") => lookup(name, |e| e.ip),
        Some(":bcast") => {
            let p = query_ip_prefix(name)?;
            Some(Ipv4Addr::from(u32::from(p.addr) | !u32::from(p.mask())))
        }
        Some(":gw") => lookup(s, |e| e.ip).or_else(|| {
            let p = query_ip_prefix(name)?;
            Some(Ipv4Addr::from(u32::from(p.network()) | 1))
        }),
        Some(_) => None,
    }
}

/// An IPv4 prefix by name: `NAME`, `NAME:net`, `NAME:ipnet`, `NAME:ip4net`. Click's
/// `AddressInfo::query_ip_prefix`.
pub fn query_ip_prefix(s: &str) -> Option<Ipv4Prefix> {
    let (name, suffix) = split_suffix(s);
    match suffix.as_deref() {
        None | Some(":net" | ":ipnet" | ":ip4net") => lookup(name, |e| e.ip_prefix),
        Some(_) => None,
    }
}

/// An IPv6 address by name: `NAME` or `NAME:ip6`.
pub fn query_ip6(s: &str) -> Option<Ipv6Addr> {
    let (name, suffix) = split_suffix(s);
    match suffix.as_deref() {
        None | Some(":ip6") => lookup(name, |e| e.ip6),
        Some(_) => None,
    }
}

/// An IPv6 prefix by name: `NAME` or `NAME:ip6net`.
pub fn query_ip6_prefix(s: &str) -> Option<Ipv6Prefix> {
    let (name, suffix) = split_suffix(s);
    match suffix.as_deref() {
        None | Some(":ip6net") => lookup(name, |e| e.ip6_prefix),
        Some(_) => None,
    }
}

/// An Ethernet address by name: `NAME`, `NAME:eth`, `NAME:ether`, `NAME:ethernet`.
pub fn query_ethernet(s: &str) -> Option<EtherAddr> {
    let (name, suffix) = split_suffix(s);
    match suffix.as_deref() {
        None | Some(":eth" | ":ether" | ":ethernet") => lookup(name, |e| e.ether),
        Some(_) => None,
    }
}

/// Click's `IPPrefixArg` after the literal forms failed: `ADDR/LEN` or `ADDR/MASK` whose
/// address (or mask) is a name, then (when `allow_bare_address`) a name's IPv4 address as a
/// /32, then a name's prefix.
pub(crate) fn ip_prefix_by_name(s: &str, allow_bare_address: bool) -> Option<Ipv4Prefix> {
    if let Some((addr, mask)) = s.rsplit_once('/').filter(|(_, m)| !m.is_empty()) {
        let addr = parse_ipv4_parts(addr, 1).or_else(|| query_ip(addr));
        let len = parse_prefix_len(mask, 32, "", s).ok().or_else(|| {
            let m = u32::from(query_ip(mask)?);
            (m.leading_ones() + m.trailing_zeros() == 32).then(|| m.leading_ones() as u8)
        });
        if let (Some(addr), Some(len)) = (addr, len) {
            return Some(Ipv4Prefix { addr, len });
        }
    }
    if allow_bare_address {
        if let Some(addr) = query_ip(s) {
            return Some(Ipv4Prefix { addr, len: 32 });
        }
    }
    query_ip_prefix(s)
}

/// `IP6PrefixArg` after the literal forms failed, as [`ip_prefix_by_name`].
pub(crate) fn ip6_prefix_by_name(s: &str) -> Option<Ipv6Prefix> {
    if let Some((addr, len)) = s.rsplit_once('/').filter(|(_, m)| !m.is_empty()) {
        if let (Some(addr), Ok(len)) = (query_ip6(addr), parse_prefix_len(len, 128, "", s)) {
            return Some(Ipv6Prefix { addr, len });
        }
    }
    query_ip6(s).map(|addr| Ipv6Prefix { addr, len: 128 }).or_else(|| query_ip6_prefix(s))
}

/// The error for text that is neither a literal of `what` nor a name giving one: the
/// literal parser's own message, with a hint when the text names an AddressInfo entry
/// that lacks this kind or uses a suffix this kind does not take. Unknown names get the
/// literal parser's message unchanged.
pub(crate) fn not_found(literal_error: String, s: &str, what: &str, suffixes: &str) -> String {
    let known = |name: &str| CURRENT.with(|c| c.borrow().as_ref().is_some_and(|(b, scope)| b.knows(name, scope)));
    if known(s) {
        return format!("{literal_error} (AddressInfo gives '{s}' no {what})");
    }
    match split_suffix(s) {
        (name, Some(suffix)) if !name.is_empty() && known(name) => {
            if suffixes.split(", ").any(|x| x == suffix) {
                format!("{literal_error} (AddressInfo gives '{name}' no {what})")
            } else {
                format!("{literal_error} ('{suffix}' does not name an {what}; use {suffixes})")
            }
        }
        _ => literal_error,
    }
}

/// [`expected`] for names: the standard mismatch phrase plus [`not_found`]'s hint.
pub(crate) fn expected_address(what: &str, s: &str, suffixes: &str) -> String {
    not_found(expected(what, s), s, what, suffixes)
}

#[cfg(test)]
mod tests;

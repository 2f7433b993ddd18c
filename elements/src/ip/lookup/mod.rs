//! IP route lookup elements and their tables.
//!
//! Click's IPv4 route tables (LinearIPLookup, RadixIPLookup, DirectIPLookup,
//! StaticIPLookup) share one route table ([`table`], Click's `IPRouteTable`): route syntax,
//! handlers, messages and the `table` format are the same, only the lookup structure
//! differs — a list ([`linear_ip_lookup::Linear`]), a poptrie ([`poptrie::Poptrie`]), DIR-24-8
//! ([`dir24::Dir24`]). [`element`] is the element they all are. LookupIP6Route is the IPv6
//! table, with its own (Click's IPv6) handlers.
//!
//! Map: `table.rs` routes, parsing, the store and the [`table::Lpm4`] trait; `dir24.rs`,
//! `poptrie.rs` the fast structures; one file per element class.

use sluice::element::ElementClass;
use sluice::Packet;
use std::net::Ipv6Addr;

pub mod dir24;
pub mod direct_ip_lookup;
pub mod element;
pub mod linear_ip_lookup;
pub mod lookup_ip6_route;
pub mod poptrie;
pub mod radix_ip_lookup;
pub mod static_ip_lookup;
pub mod table;

#[cfg(test)]
mod tests;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[
    linear_ip_lookup::LINEAR_IP_LOOKUP,
    radix_ip_lookup::RADIX_IP_LOOKUP,
    direct_ip_lookup::DIRECT_IP_LOOKUP,
    static_ip_lookup::STATIC_IP_LOOKUP,
    lookup_ip6_route::LOOKUP_IP6_ROUTE,
];

/// Click's `DST_IP6_ANNO`: the destination IPv6 address, 16 bytes at offset 0 of Click's
/// annotation area, overlapping `DST_IP_ANNO` (0..4). Sluice keeps Click's offsets 0..4 in
/// the typed `dst_ip` field and the other offsets in `user` (see `standard::anno`), so the
/// address is `dst_ip` followed by `user[4..16]`, network order. Sluice's framework has no
/// field of its own for it.
pub fn dst_ip6_anno(p: &Packet) -> Ipv6Addr {
    let a = p.anno();
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&a.dst_ip);
    b[4..].copy_from_slice(&a.user[4..16]);
    Ipv6Addr::from(b)
}

/// Click's `SET_DST_IP6_ANNO(p, a)` (see [`dst_ip6_anno`]).
pub fn set_dst_ip6_anno(p: &mut Packet, addr: Ipv6Addr) {
    let b = addr.octets();
    let a = p.anno_mut();
    a.dst_ip.copy_from_slice(&b[..4]);
    a.user[4..16].copy_from_slice(&b[4..]);
}

//! Zero-copy views of protocol headers, in the style of smoltcp's `wire` module: a view
//! over a byte slice, a private `field` module naming byte ranges, `new_checked` that checks
//! lengths once so no accessor can panic afterwards. Elements parse untrusted bytes only
//! through these views.

pub mod arp;
pub mod checksum;
pub mod ether;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

//! IP elements: header checks, TTL, checksums, fragmentation, ICMP, route lookup.
use sluice::element::ElementClass;

pub mod lookup;

/// The classes of this group (lookup tables are in `lookup`).
pub const CLASSES: &[ElementClass] = &[];

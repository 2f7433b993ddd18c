//! Ethernet elements: encapsulation, VLANs, host filtering, ARP.
use sluice::element::ElementClass;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[];

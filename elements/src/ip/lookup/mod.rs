//! IP route lookup elements and their tables.
use sluice::element::ElementClass;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[];

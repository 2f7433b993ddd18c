//! Sluice's standard element library: Click's elements, with Click's names, keywords,
//! ports, handlers and behaviour. Grouped as Click groups them; one element per file, its
//! documentation and tests beside it. Protocol headers are read through the views in `wire`.

use sluice::element::ElementClass;
use sluice::registry::Registry;

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
        // The control plane's element lives with the control plane.
        &[sluice::control::CONTROL_SOCKET],
    ]
    .concat()
}

/// A registry holding every class of the library.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.add_all(&classes());
    r
}

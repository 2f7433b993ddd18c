//! NAT elements: Click's rewriters, with Click's input specs, mapping tables, timeouts,
//! handlers and bytes.
//!
//! `IPRewriter`, `TCPRewriter` and `UDPRewriter` translate addresses and ports (NAPT);
//! `IPAddrRewriter` translates addresses only (Basic NAT). They share one element
//! ([`rewriter`]) over a mapping table ([`table`]) of flows ([`flow`]) made from input
//! specs and patterns ([`pattern`]); each class's file holds its keywords, documentation
//! and tests. `IPRewriterPatterns` declares named patterns the rewriters' input specs use
//! ([`ip_rewriter_patterns`]); each rewriter reads them from the graph while it is built.
//! Click's IPMapper elements (RoundRobinIPMapper, FTPPortMapper) are not provided, and
//! configurations naming them are refused.

use sluice::element::ElementClass;

pub(crate) mod flow;
pub mod ip_addr_rewriter;
pub mod ip_rewriter;
pub mod ip_rewriter_patterns;
pub(crate) mod pattern;
pub(crate) mod rewriter;
pub(crate) mod table;
pub mod tcp_rewriter;
pub mod udp_rewriter;

#[cfg(test)]
mod testutil;

/// The classes of this group.
pub const CLASSES: &[ElementClass] = &[
    ip_rewriter::IP_REWRITER,
    tcp_rewriter::TCP_REWRITER,
    udp_rewriter::UDP_REWRITER,
    ip_addr_rewriter::IP_ADDR_REWRITER,
    ip_rewriter_patterns::IP_REWRITER_PATTERNS,
];

#[cfg(test)]
mod tests {
    use super::CLASSES;

    #[test]
    fn nat_classes_are_well_formed_and_documented() {
        for c in CLASSES {
            let _ = c.port_count();
            let _ = c.processing_spec();
            assert!(c.synopsis().starts_with(c.name), "{}: synopsis '{}'", c.name, c.synopsis());
            assert!(!c.summary().is_empty(), "{}: no summary", c.name);
            for section in ["# Keywords", "# Handlers", "# Example"] {
                assert!(c.doc.contains(section), "{}: no {section}", c.name);
            }
            let mut hs: Vec<&str> = c.handlers.iter().map(|h| h.name).collect();
            hs.sort_unstable();
            hs.dedup();
            assert_eq!(hs.len(), c.handlers.len(), "{}: duplicate handlers", c.name);
        }
    }
}

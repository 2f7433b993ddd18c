//! `AlignmentInfo`: Click's alignment declarations; accepted and checked, no effect.

use sluice::args::{split_args, FromArg};
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// AlignmentInfo(ELEMENT [MODULUS OFFSET ...], ...)
    ///
    /// Specifies alignment information.
    ///
    /// Provides information about the packet alignment specified elements can expect.
    /// Each configuration argument has the form `ELEMENT [MODULUS0 OFFSET0 MODULUS1
    /// OFFSET1 ...]`, where there are zero or more MODULUS-OFFSET pairs, one per input
    /// port of ELEMENT. The click-align(1) tool writes these; Click elements such as
    /// IPEncap query them to decide whether they may use fast checksum code.
    ///
    /// In Sluice, AlignmentInfo has no effect: no element needs aligned data (headers are
    /// read through byte-wise views), and checksums are computed the same way whatever the
    /// alignment. It accepts Click's syntax and refuses what Click refuses: an argument
    /// whose MODULUS/OFFSET are not integers or not in pairs, and conflicting information
    /// for the same element. Names that are not elements are ignored, as in Click. (Click
    /// merges several AlignmentInfo elements and checks them against each other; Sluice
    /// checks each one alone.)
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// None (every argument is an `ELEMENT MODULUS OFFSET ...` list).
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// AlignmentInfo(c 4 2, strip 4 2);
    /// ```
    pub const ALIGNMENT_INFO = "AlignmentInfo" { ports: "0/0", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut seen: Vec<(String, Vec<(i32, i32)>)> = Vec::new();
    for arg in split_args(config) {
        let parts: Vec<&str> = arg.split_whitespace().collect();
        // Click warns about an empty argument and goes on.
        let Some((name, rest)) = parts.split_first() else { continue };
        if rest.len() % 2 != 0 {
            return Err("expected 'ELEMENTNAME CHUNK OFFSET [CHUNK OFFSET...]'".into());
        }
        let mut pairs = Vec::new();
        for pair in rest.chunks(2) {
            let c = i32::from_arg(pair[0]).map_err(|_| ConfigError("expected CHUNK".into()))?;
            let o = i32::from_arg(pair[1]).map_err(|_| ConfigError("expected OFFSET".into()))?;
            pairs.push((c, o));
        }
        if let Some((_, old)) = seen.iter().find(|(n, _)| n == name) {
            if *old != pairs {
                return Err(ConfigError(format!("conflicting AlignmentInfo for '{name}'")));
            }
        }
        seen.push((name.to_string(), pairs));
    }
    Ok(Box::new(AlignmentInfo))
}

/// The element (holds nothing).
pub struct AlignmentInfo;

impl Element for AlignmentInfo {}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::build as build_elem;

    #[test]
    fn accepts_click_syntax_and_refuses_bad_lists() {
        for good in ["", "c 4 2", "c 4 2 4 0, d 8 0, , c 4 2 4 0", "x"] {
            assert!(build_elem(&ALIGNMENT_INFO, good, 0, 0).is_ok(), "{good}");
        }
        for bad in ["c 4", "c four 2", "c 4 2, c 4 0"] {
            assert!(build_elem(&ALIGNMENT_INFO, bad, 0, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn runs_beside_a_graph() {
        crate::ip::common::test_util::run(
            "AlignmentInfo(s 4 2); InfiniteSource(LIMIT 2, STOP true) -> s :: Strip(14) -> Discard;",
        );
    }
}

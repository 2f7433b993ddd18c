//! `ScheduleInfo`: Click's task scheduling weights; accepted and checked, no effect.

use super::values::parse_real2;
use sluice::args::split_args;
use sluice::{BuildCtx, ConfigError, Element};

/// Click's `ScheduleInfo::FRAC_BITS`.
const FRAC_BITS: u32 = 10;

sluice::element_class! {
    /// ScheduleInfo(ELEMENT PARAM, ...)
    ///
    /// Specifies scheduling parameters.
    ///
    /// Provides scheduling parameters for specified elements. Each configuration argument
    /// has the form `ELEMENT PARAM`, meaning that the element named ELEMENT has scheduling
    /// parameter PARAM, a nonnegative real number (Click's fixed point with 10 fraction
    /// bits). In Click's stride scheduler, an element with parameter 2 runs twice as often
    /// as one with parameter 1. Several ScheduleInfo elements may be given; empty
    /// arguments are allowed.
    ///
    /// In Sluice, ScheduleInfo has no effect: each worker runs every task once per
    /// scheduler pass, in turn, and a task that has nothing to do says so at once, so
    /// there are no tickets to share out. It accepts Click's syntax and refuses what Click
    /// refuses (an argument that is not `ELEMENT PARAM` with a nonnegative number).
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// None (every argument is an `ELEMENT PARAM` pair).
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// ScheduleInfo(poll_eth0 10, poll_eth1 1);
    /// ```
    pub const SCHEDULE_INFO = "ScheduleInfo" { ports: "0/0", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    for arg in split_args(config) {
        let parts: Vec<&str> = arg.split_whitespace().collect();
        match parts.as_slice() {
            [] => {}
            [_, param] if parse_real2(param, FRAC_BITS).is_ok() => {}
            _ => return Err(ConfigError(format!("expected 'ELEMENTNAME PARAM', found '{arg}'"))),
        }
    }
    Ok(Box::new(ScheduleInfo))
}

/// The element (holds nothing).
pub struct ScheduleInfo;

impl Element for ScheduleInfo {}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::build as build_elem;

    #[test]
    fn accepts_click_syntax_and_refuses_bad_pairs() {
        for good in ["", "a 1", "a 1, b 0.5, , c/d 10", "FromDevice@1 2.25"] {
            assert!(build_elem(&SCHEDULE_INFO, good, 0, 0).is_ok(), "{good}");
        }
        for bad in ["a", "a b", "a 1 2", "a -1"] {
            assert!(build_elem(&SCHEDULE_INFO, bad, 0, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn runs_beside_a_graph() {
        crate::ip::common::test_util::run("ScheduleInfo(src 4); src :: InfiniteSource(LIMIT 2, STOP true) -> Discard;");
    }
}

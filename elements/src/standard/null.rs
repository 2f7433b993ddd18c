//! `Null`: passes packets unchanged.

use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// Null
    ///
    /// Passes packets unchanged.
    ///
    /// Responds to each pushed packet by pushing it unchanged out its first output, and to
    /// each pull request by pulling a packet from its input and returning it unchanged.
    /// Useful as a placeholder, and as the element swapped in and out in tests.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Example
    /// ```text
    /// src -> Null -> Discard;
    /// ```
    pub const NULL = "Null" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    sluice::args::Args::new(config).finish()?;
    Ok(Box::new(Null))
}

/// The element itself: no state.
pub struct Null;

impl Element for Null {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        ctx.pull(0, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::run_element;
    use sluice::Packet;

    #[test]
    fn passes_packets_unchanged_and_in_order() {
        let input: Vec<Packet> = (0..100u8).map(|i| Packet::from_slice(&[i; 60])).collect();
        let (out, _) = run_element(&NULL, "", 1, input).unwrap();
        assert_eq!(out[0].len(), 100);
        for (i, p) in out[0].iter().enumerate() {
            assert_eq!(p.data(), &[i as u8; 60]);
        }
    }

    #[test]
    fn refuses_arguments() {
        assert!(sluice::testing::build(&NULL, "5", 1, 1).is_err());
    }
}

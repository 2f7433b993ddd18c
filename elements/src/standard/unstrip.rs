//! `Unstrip`: puts bytes back at the front of packets.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// Unstrip(LENGTH)
    ///
    /// Unstrips bytes from front of packets.
    ///
    /// Puts LENGTH bytes at the front of each packet. These LENGTH bytes may be bytes
    /// previously removed by Strip: they are whatever the packet's buffer holds in front
    /// of the data. When a packet has less than LENGTH bytes of headroom, its data moves
    /// to a bigger buffer (as Click's `Packet::push` does); the bytes beyond the old
    /// headroom are then zero.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `LENGTH` — unsigned, mandatory, positional. Bytes to put back.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// // take the Ethernet header off and put it back on
    /// Strip(14) -> CheckIPHeader -> Unstrip(14) -> ...
    /// ```
    pub const UNSTRIP = "Unstrip" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

/// Larger values would only be a typo; a packet buffer is a few kilobytes.
const MAX_LENGTH: u32 = 65_535;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let len = args.read_mp::<u32>("LENGTH")?;
    args.finish()?;
    if len > MAX_LENGTH {
        return Err(ConfigError(format!("LENGTH {len} is too large (at most {MAX_LENGTH})")));
    }
    Ok(Box::new(Unstrip { len: len as usize }))
}

/// The element: how many bytes to put back.
pub struct Unstrip {
    len: usize,
}

impl Unstrip {
    #[inline]
    fn unstrip(&self, batch: &mut Batch) {
        if self.len == 0 {
            return;
        }
        for p in batch.iter_mut() {
            p.push(self.len);
        }
    }
}

impl Element for Unstrip {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.unstrip(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.unstrip(&mut batch);
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn puts_stripped_bytes_back() {
        let frame: Vec<u8> = (0..60u8).collect();
        let mut p = Packet::from_slice(&frame);
        p.pull(14);
        let (out, _) = run_element(&UNSTRIP, "14", 1, vec![p]).unwrap();
        assert_eq!(out[0][0].data(), &frame[..]);
    }

    #[test]
    fn grows_beyond_the_headroom() {
        let p = Packet::from_slice(&[7; 10]);
        let room = p.headroom();
        let (out, _) = run_element(&UNSTRIP, &format!("{}", room + 20), 1, vec![p, Packet::new(0)]).unwrap();
        assert_eq!(out[0][0].len(), room + 30);
        assert_eq!(&out[0][0].data()[room + 20..], &[7; 10]);
        assert_eq!(out[0][1].len(), room + 20);
    }

    #[test]
    fn strip_then_unstrip_round_trips() {
        use crate::standard::strip::STRIP;
        let frame: Vec<u8> = (100..160u8).collect();
        let (out, _) = run_element(&STRIP, "20", 1, vec![Packet::from_slice(&frame)]).unwrap();
        let p = out.into_iter().next().unwrap().into_iter().next().unwrap();
        let (out, _) = run_element(&UNSTRIP, "20", 1, vec![p]).unwrap();
        assert_eq!(out[0][0].data(), &frame[..]);
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&UNSTRIP, "LENGTH 4", 1, 1).is_ok());
        let e = build_elem(&UNSTRIP, "", 1, 1).err().unwrap();
        assert_eq!(e.0, "missing mandatory argument LENGTH");
        let e = build_elem(&UNSTRIP, "100000", 1, 1).err().unwrap();
        assert!(e.0.contains("too large"), "{e}");
        assert!(build_elem(&UNSTRIP, "x", 1, 1).is_err());
    }
}

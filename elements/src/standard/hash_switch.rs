//! `HashSwitch`: chooses the output by a hash of some packet bytes.

use super::split::Outputs;
use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// HashSwitch(OFFSET, LENGTH)
    ///
    /// Classifies packets by hash of contents.
    ///
    /// Can have any number of outputs. Chooses the output on which to emit each packet
    /// based on a hash of the LENGTH bytes starting at OFFSET. Could be used for
    /// stochastic fair queuing.
    ///
    /// The hash is Click's: the sum D of the bytes; with 2, 4 or 8 outputs the output is
    /// `(D ^ (D >> 4)) & (N - 1)`, otherwise `D % N`. So a configuration sends each packet
    /// to the same output as it does in Click. Packets shorter than OFFSET + LENGTH go to
    /// output 0, as in Click.
    ///
    /// The packets of one batch leave as one batch per output, outputs in port order.
    ///
    /// Ports: 1 input, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `OFFSET` — unsigned, mandatory, positional. Where the hashed bytes start.
    /// - `LENGTH` — unsigned, mandatory, positional. How many bytes to hash; must be > 0.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// // IP packets, by destination address
    /// hs :: HashSwitch(16, 4);
    /// hs[0] -> q0 :: Queue; hs[1] -> q1 :: Queue;
    /// ```
    pub const HASH_SWITCH = "HashSwitch" { ports: "1/1-", processing: "h/h", handlers: &[], build: build }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let offset = args.read_mp::<u32>("OFFSET")? as usize;
    let length = args.read_mp::<u32>("LENGTH")? as usize;
    args.finish()?;
    if length == 0 {
        return Err("length must be > 0".into());
    }
    Ok(Box::new(HashSwitch { offset, length, outs: Outputs::new(ctx.noutputs) }))
}

/// The element: the hashed byte range, and one batch per output.
pub struct HashSwitch {
    offset: usize,
    length: usize,
    outs: Outputs,
}

/// Click's output choice for the bytes `bytes` among `n` outputs.
#[inline]
pub fn output_for(bytes: &[u8], n: usize) -> usize {
    // Click sums into an int; a sum of fewer than 2^23 bytes cannot overflow it.
    let d = bytes.iter().fold(0u32, |d, &b| d.wrapping_add(u32::from(b))) as i32;
    if n == 2 || n == 4 || n == 8 {
        ((d ^ (d >> 4)) & (n as i32 - 1)) as usize
    } else {
        (d as u32 % n as u32) as usize
    }
}

impl Element for HashSwitch {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let (offset, length) = (self.offset, self.length);
        let n = self.outs.len();
        self.outs.route(batch, &mut ctx, |p| {
            let end = offset.checked_add(length)?;
            Some(match p.data().get(offset..end) {
                Some(bytes) => output_for(bytes, n),
                None => 0,
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn click_hash() {
        // Sum 0x12+0x34 = 0x46: 2/4/8 outputs use (d ^ d>>4) & (n-1).
        assert_eq!(output_for(&[0x12, 0x34], 2), (0x46 ^ 0x4) & 1);
        assert_eq!(output_for(&[0x12, 0x34], 4), (0x46 ^ 0x4) & 3);
        assert_eq!(output_for(&[0x12, 0x34], 8), (0x46 ^ 0x4) & 7);
        assert_eq!(output_for(&[0x12, 0x34], 3), 0x46 % 3);
        assert_eq!(output_for(&[0xff; 4], 1), 0);
    }

    #[test]
    fn same_bytes_same_output_short_packets_to_0() {
        let input: Vec<Packet> = (0..100u8).map(|i| Packet::from_slice(&[0, 0, i % 10, 7, 1])).collect();
        let mut input = input;
        input.push(Packet::from_slice(&[9, 9]));
        let (out, _) = run_element(&HASH_SWITCH, "2, 2", 3, input).unwrap();
        assert_eq!(out.iter().map(Vec::len).sum::<usize>(), 101);
        for (port, ps) in out.iter().enumerate() {
            for p in ps {
                if p.len() == 2 {
                    assert_eq!(port, 0);
                } else {
                    assert_eq!(port, output_for(&p.data()[2..4], 3));
                }
            }
        }
        assert!(build_elem(&HASH_SWITCH, "0, 0", 1, 2).is_err());
        assert!(build_elem(&HASH_SWITCH, "0", 1, 2).is_err());
    }
}

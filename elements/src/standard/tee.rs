//! `Tee`: sends a copy of each packet out every output.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// Tee([N])
    ///
    /// Duplicates packets.
    ///
    /// Tee sends a copy of each incoming packet out each output. The copies are deep
    /// (data, headroom bytes and annotations), so elements downstream of one output may
    /// modify their packets freely. Outputs are served in order: output 0 receives its
    /// copies first, and the last output receives the original packets.
    ///
    /// Tee has however many outputs are used in the configuration, but you can say how
    /// many outputs you expect with the optional argument N; as in Click, N must then
    /// equal the number of connected outputs.
    ///
    /// Ports: 1 input, 1 or more outputs, push.
    ///
    /// # Keywords
    /// - `N` — unsigned, positional. The number of outputs; defaults to the number of
    ///   connected outputs.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// src -> t :: Tee(2);
    /// t[0] -> Print(copy) -> Discard;
    /// t[1] -> Queue -> ToDevice(eth0);
    /// ```
    pub const TEE = "Tee" { ports: "1/1-", processing: "h/h", handlers: &[], build: build }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let n = args.read_p::<u32>("N")?;
    args.finish()?;
    if let Some(n) = n {
        if n as usize != ctx.noutputs {
            return Err(ConfigError(format!(
                "N is {n}, but {} output{} connected",
                ctx.noutputs,
                if ctx.noutputs == 1 { " is" } else { "s are" }
            )));
        }
    }
    Ok(Box::new(Tee))
}

/// The element: no state; the number of outputs comes from the context.
pub struct Tee;

impl Element for Tee {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let n = ctx.noutputs();
        if n == 0 {
            return;
        }
        for port in 0..n - 1 {
            let mut copies = Batch::new();
            for p in batch.iter() {
                // A batch holds at most MAX_BATCH packets, so the copy batch never overflows.
                let _ = copies.push(p.clone_packet());
            }
            ctx.push(port, copies);
        }
        ctx.push(n - 1, batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn every_output_gets_every_packet_in_order() {
        let input: Vec<Packet> = (0..100u8).map(|i| Packet::from_slice(&[i, 1, 2, 3])).collect();
        let (out, _) = run_element(&TEE, "3", 3, input).unwrap();
        assert_eq!(out.len(), 3);
        for o in &out {
            assert_eq!(o.len(), 100);
            for (i, p) in o.iter().enumerate() {
                assert_eq!(p.data(), &[i as u8, 1, 2, 3]);
            }
        }
    }

    #[test]
    fn copies_are_deep_and_keep_annotations() {
        let mut p = Packet::from_slice(&[9, 9, 9]);
        p.anno_mut().paint = 5;
        p.anno_mut().timestamp_ns = 123;
        let (mut out, _) = run_element(&TEE, "", 2, vec![p, Packet::new(0)]).unwrap();
        out[0][0].data_mut()[0] = 1;
        assert_eq!(out[0][0].data(), &[1, 9, 9]);
        assert_eq!(out[1][0].data(), &[9, 9, 9]);
        assert_eq!(out[0][0].anno().paint, 5);
        assert_eq!(out[0][0].anno().timestamp_ns, 123);
        // Zero-length packets are copied too.
        assert!(out[0][1].is_empty() && out[1][1].is_empty());
    }

    #[test]
    fn single_output_passes_packets_through() {
        let (out, _) = run_element(&TEE, "", 1, vec![Packet::from_slice(b"abc")]).unwrap();
        assert_eq!(out[0][0].data(), b"abc");
    }

    #[test]
    fn n_must_match_the_outputs() {
        assert!(build_elem(&TEE, "2", 1, 2).is_ok());
        assert!(build_elem(&TEE, "N 2", 1, 2).is_ok());
        assert!(build_elem(&TEE, "", 1, 4).is_ok());
        let e = build_elem(&TEE, "3", 1, 2).err().unwrap();
        assert_eq!(e.0, "N is 3, but 2 outputs are connected");
        let e = build_elem(&TEE, "two", 1, 2).err().unwrap();
        assert!(e.0.contains("N: expected integer"), "{e}");
        assert!(build_elem(&TEE, "2, 3", 1, 2).is_err());
        let err = run_element(&TEE, "2", 1, Vec::new()).err().unwrap();
        assert!(err.to_string().contains("N is 2, but 1 output is connected"), "{err}");
    }
}

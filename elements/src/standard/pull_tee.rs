//! `PullTee`: the pull version of Tee.

use sluice::args::Args;
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element};

sluice::element_class! {
    /// PullTee([N])
    ///
    /// Duplicates packets.
    ///
    /// PullTee's input and its first output are pull; its other outputs are push. Each
    /// time the pull output pulls packets, PullTee sends a copy of each out every push
    /// output, in order (output 1 first), before returning the originals to the puller.
    /// Copies are deep (data and annotations).
    ///
    /// PullTee has however many outputs are used in the configuration, but you can say
    /// how many outputs you expect with the optional argument N; as in Click, N must then
    /// equal the number of connected outputs.
    ///
    /// Ports: 1 input (pull), 1 or more outputs: output 0 pull, the others push.
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
    /// q :: Queue -> pt :: PullTee(2) -> ToDevice(eth0);
    /// pt[1] -> Print(sent) -> Discard;
    /// ```
    pub const PULL_TEE = "PullTee" { ports: "1/1-", processing: "l/lh", handlers: &[], build: build }
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
    Ok(Box::new(PullTee))
}

/// The element: no state; the number of outputs comes from the context.
pub struct PullTee;

impl Element for PullTee {
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        if batch.is_empty() {
            return batch;
        }
        for port in 1..ctx.noutputs() {
            let mut copies = Batch::new();
            for p in batch.iter() {
                // A batch holds at most MAX_BATCH packets, so the copy batch never overflows.
                let _ = copies.push(p.clone_packet());
            }
            ctx.push(port, copies);
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::TestGraph;
    use sluice::testing::{build as build_elem, collected, inject, new_id};
    use sluice::Packet;

    fn run(n_push: usize, config: &str, packets: u32) -> (Vec<Packet>, Vec<Vec<Packet>>) {
        let src = new_id();
        inject(src, (0..packets).map(|i| Packet::from_slice(&i.to_be_bytes())));
        let mut t = TestGraph::new();
        let s = t.add("src", "Inject", &format!("ID {src}"));
        let q = t.add("q", "Queue", "1000");
        let pt = t.add("pt", "PullTee", config);
        let u = t.add("u", "Unqueue", "");
        let main = new_id();
        let o = t.add("out", "Collect", &format!("ID {main}"));
        t.connect(s, 0, q, 0).connect(q, 0, pt, 0).connect(pt, 0, u, 0).connect(u, 0, o, 0);
        let ids: Vec<u64> = (0..n_push).map(|_| new_id()).collect();
        for (k, id) in ids.iter().enumerate() {
            let c = t.add(&format!("c{k}"), "Collect", &format!("ID {id}"));
            t.connect(pt, k + 1, c, 0);
        }
        t.run();
        (collected(main), ids.into_iter().map(collected).collect())
    }

    fn ids(ps: &[Packet]) -> Vec<u32> {
        ps.iter().map(|p| u32::from_be_bytes(p.data().try_into().unwrap())).collect()
    }

    #[test]
    fn every_push_output_gets_a_copy_of_what_is_pulled() {
        let (main, copies) = run(2, "3", 300);
        assert_eq!(ids(&main), (0..300).collect::<Vec<_>>());
        assert_eq!(copies.len(), 2);
        for c in &copies {
            assert_eq!(ids(c), (0..300).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_single_output_passes_packets_through() {
        let (main, _) = run(0, "", 10);
        assert_eq!(ids(&main), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn n_must_match_and_ports_are_checked() {
        assert!(build_elem(&PULL_TEE, "2", 1, 2).is_ok());
        assert_eq!(build_elem(&PULL_TEE, "3", 1, 2).err().unwrap().0, "N is 3, but 2 outputs are connected");
        assert!(build_elem(&PULL_TEE, "x", 1, 2).is_err());
        // Output 0 must be pull: a push connection there is refused.
        let mut t = TestGraph::new();
        let s = t.add("src", "Inject", "ID 1");
        let pt = t.add("pt", "PullTee", "");
        let c = t.add("c", "Collect", "ID 2");
        t.connect(s, 0, pt, 0).connect(pt, 0, c, 0);
        assert!(t.router().is_err());
    }
}

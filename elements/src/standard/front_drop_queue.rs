//! `FrontDropQueue`: a FIFO that drops its oldest packet when full.

use super::queue::{Full, Queue, HANDLERS};
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// FrontDropQueue([CAPACITY])
    ///
    /// Stores packets in drop-from-front FIFO queue.
    ///
    /// Stores incoming packets in a first-in-first-out queue. Drops the head packet before
    /// inserting the incoming packet if the queue already holds CAPACITY packets. The
    /// default for CAPACITY is 1000. Dropped packets are emitted on output 1 if output 1
    /// exists, otherwise freed. The first drop (after start or after `reset_counts`)
    /// prints `NAME: overflow` on standard error, as Click does.
    ///
    /// Writing a smaller `capacity` keeps the newest packets, as Click's FrontDropQueue
    /// does. When it replaces a Queue, SimpleQueue, ThreadSafeQueue or FrontDropQueue (a
    /// swap), it takes over their packets, keeping the newest that fit; those that do not
    /// fit count as drops and are reported on standard error. With CAPACITY 0 every
    /// incoming packet is dropped (Click's FrontDropQueue mishandles that case).
    ///
    /// Ports: 1 input (push); 1 or 2 outputs: output 0 pull, output 1 (drops) push.
    ///
    /// # Keywords
    /// - `CAPACITY` — unsigned, positional. Most packets held at once. Default 1000.
    ///
    /// # Handlers
    /// - `length` (read) — current number of packets in the queue.
    /// - `highwater_length` (read) — most packets ever in the queue at once.
    /// - `capacity` (read/write) — the queue's capacity; writing a smaller one drops the
    ///   oldest packets.
    /// - `drops` (read) — packets dropped from the front because the queue was full.
    /// - `reset_counts` (write) — resets `drops` and `highwater_length`.
    /// - `reset` (write) — drops every queued packet.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> q :: FrontDropQueue(100) -> ToDevice(eth1);
    /// q[1] -> Counter -> Discard;   // the stale packets
    /// ```
    pub const FRONT_DROP_QUEUE = "FrontDropQueue" { ports: "1/1-2", processing: "h/lh", handlers: HANDLERS, build: build }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    // The same element as Queue, but a full queue drops its oldest packet.
    Ok(Box::new(Queue::new(config, ctx, Full::DropOldest)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::queue::QueueState;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, collected, inject, new_id, registry};
    use sluice::Packet;

    fn packets(range: std::ops::Range<u32>) -> Vec<Packet> {
        range.map(|i| Packet::from_slice(&i.to_be_bytes())).collect()
    }

    fn ids(ps: &[Packet]) -> Vec<u32> {
        ps.iter().map(|p| u32::from_be_bytes(p.data().try_into().unwrap())).collect()
    }

    /// src -> q :: FrontDropQueue(CONFIG) -> Unqueue(ACTIVE false) -> out; q[1] -> drops.
    fn held(config: &str, n: u32) -> (sluice::runtime::Router, u64) {
        let (src, drops) = (new_id(), new_id());
        inject(src, packets(0..n));
        let mut t = TestGraph::new();
        let s = t.add("src", "Inject", &format!("ID {src}"));
        let q = t.add("q", "FrontDropQueue", config);
        let u = t.add("u", "Unqueue", "ACTIVE false");
        let out = t.add("out", "Collect", &format!("ID {}", new_id()));
        let d = t.add("drops", "Collect", &format!("ID {drops}"));
        t.connect(s, 0, q, 0).connect(q, 0, u, 0).connect(u, 0, out, 0).connect(q, 1, d, 0);
        (t.run(), drops)
    }

    #[test]
    fn drops_the_oldest_when_full() {
        let (mut router, drops) = held("10", 125);
        assert_eq!(router.read_handler("q", "length").unwrap(), "10");
        assert_eq!(router.read_handler("q", "drops").unwrap(), "115");
        assert_eq!(router.read_handler("q", "highwater_length").unwrap(), "10");
        assert_eq!(ids(&collected(drops)), (0..115).collect::<Vec<_>>());
        // Shrinking keeps the newest.
        router.write_handler("q", "capacity", "3").unwrap();
        assert_eq!(router.read_handler("q", "length").unwrap(), "3");
        router.write_handler("q", "reset_counts", "").unwrap();
        assert_eq!(router.read_handler("q", "drops").unwrap(), "0");
        router.write_handler("q", "reset", "").unwrap();
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
    }

    #[test]
    fn fifo_when_drained_and_capacity_zero() {
        let (src, sink) = (new_id(), new_id());
        inject(src, packets(0..500));
        TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "FrontDropQueue", ""),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        assert_eq!(ids(&collected(sink)), (0..500).collect::<Vec<_>>());
        let (router, drops) = held("0", 5);
        assert_eq!(router.read_handler("q", "drops").unwrap(), "5");
        assert_eq!(ids(&collected(drops)), (0..5).collect::<Vec<_>>());
    }

    #[test]
    fn state_hand_over_keeps_the_newest() {
        let mut a = build_elem(&FRONT_DROP_QUEUE, "5", 1, 1).unwrap();
        a.give_state(Box::new(QueueState { packets: packets(0..8).into(), drops: 2, highwater: 1 }));
        assert_eq!(a.read_handler("length").unwrap(), "5");
        assert_eq!(a.read_handler("drops").unwrap(), "5");
        let s = a.take_state().unwrap().downcast::<QueueState>().unwrap();
        assert_eq!(ids(&Vec::from(s.packets)), vec![3, 4, 5, 6, 7]);
    }

    #[test]
    fn swaps_with_queue_keep_packets() {
        let src = new_id();
        inject(src, packets(0..30));
        let running = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "100"),
            ("u", "Unqueue", "ACTIVE false"),
            ("out", "Collect", &format!("ID {}", new_id())),
        ])
        .start();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "30"));
        let reg = registry(crate::standard::CLASSES);
        running.swap("q", "FrontDropQueue", "20", &reg).unwrap();
        assert_eq!(running.read_handler("q", "length").unwrap(), "20");
        assert_eq!(running.read_handler("q", "drops").unwrap(), "10");
        running.swap("q", "ThreadSafeQueue", "", &reg).unwrap();
        assert_eq!(running.read_handler("q", "length").unwrap(), "20");
        running.stop();
        running.wait();
    }

    #[test]
    fn config_is_checked() {
        assert_eq!(build_elem(&FRONT_DROP_QUEUE, "", 1, 1).unwrap().read_handler("capacity").unwrap(), "1000");
        assert!(build_elem(&FRONT_DROP_QUEUE, "-1", 1, 1).is_err());
        assert!(build_elem(&FRONT_DROP_QUEUE, "1, 2", 1, 1).is_err());
    }
}

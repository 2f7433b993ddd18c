//! `Queue` and `SimpleQueue`: a FIFO of packets between a push and a pull path.

use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet, State, MAX_BATCH};
use std::collections::VecDeque;

sluice::element_class! {
    /// Queue([CAPACITY])
    ///
    /// Stores packets in a FIFO queue.
    ///
    /// Stores incoming packets in a first-in-first-out queue. Drops incoming packets if
    /// the queue already holds CAPACITY packets. The default for CAPACITY is 1000.
    /// Dropped packets are emitted on output 1 if output 1 exists, otherwise freed. The
    /// first drop (after start or after `reset_counts`) prints `NAME: overflow` on
    /// standard error, as Click does.
    ///
    /// Room for CAPACITY packets is reserved when the element is built, so queueing
    /// never allocates. Click's Queue also notifies its neighbours when it becomes empty
    /// or full; Sluice's scheduler instead runs pulling tasks (Unqueue, pull-mode
    /// Discard) again and lets them report themselves idle, so no notification is needed.
    ///
    /// When a Queue is replaced by another Queue or SimpleQueue while the router runs
    /// (a swap), the new one takes over the queued packets in order, up to its own
    /// capacity, and the old one's `drops` and `highwater_length` (Click carries over
    /// only the packets). Packets that do not fit the new capacity are dropped, counted
    /// in `drops`, and reported on standard error.
    ///
    /// Each worker has its own Queue instance; the counting handlers add the workers'
    /// values.
    ///
    /// Ports: 1 input (push); 1 or 2 outputs: output 0 pull, output 1 (drops) push.
    ///
    /// # Keywords
    /// - `CAPACITY` — unsigned, positional. Most packets held at once. Default 1000.
    ///
    /// # Handlers
    /// - `length` (read) — current number of packets in the queue.
    /// - `highwater_length` (read) — most packets ever in the queue at once (since the
    ///   last `reset_counts`).
    /// - `capacity` (read/write) — the queue's capacity. Writing a smaller capacity than
    ///   the current length drops the packets at the tail, as Click does.
    /// - `drops` (read) — packets dropped because the queue was full.
    /// - `reset_counts` (write) — resets `drops` to 0 and `highwater_length` to the
    ///   current length.
    /// - `reset` (write) — drops every queued packet. (Click pushes them out output 1;
    ///   a handler runs outside the data path in Sluice, so they are freed.)
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> q :: Queue(2000) -> ToDevice(eth1);
    /// q[1] -> Print(dropped) -> Discard;
    /// ```
    pub const QUEUE = "Queue" { ports: "1/1-2", processing: "h/lh", handlers: HANDLERS, build: build }
}

sluice::element_class! {
    /// SimpleQueue([CAPACITY])
    ///
    /// Stores packets in a FIFO queue.
    ///
    /// Click's SimpleQueue: a Queue without empty/full notification. Sluice's Queue
    /// needs no notification, so SimpleQueue is the same element as Queue under Click's
    /// other name: same keywords, ports, handlers and state hand-over (a SimpleQueue and
    /// a Queue can replace each other and keep the queued packets).
    ///
    /// Ports: 1 input (push); 1 or 2 outputs: output 0 pull, output 1 (drops) push.
    ///
    /// # Keywords
    /// - `CAPACITY` — unsigned, positional. Most packets held at once. Default 1000.
    ///
    /// # Handlers
    /// - `length` (read) — current number of packets in the queue.
    /// - `highwater_length` (read) — most packets ever in the queue at once.
    /// - `capacity` (read/write) — the queue's capacity.
    /// - `drops` (read) — packets dropped because the queue was full.
    /// - `reset_counts` (write) — resets `drops` and `highwater_length`.
    /// - `reset` (write) — drops every queued packet.
    ///
    /// # Example
    /// ```text
    /// src -> SimpleQueue(100) -> Unqueue -> dst;
    /// ```
    pub const SIMPLE_QUEUE = "SimpleQueue" { ports: "1/1-2", processing: "h/lh", handlers: HANDLERS, build: build }
}

sluice::element_class! {
    /// ThreadSafeQueue([CAPACITY])
    ///
    /// Stores packets in a FIFO queue.
    ///
    /// Stores incoming packets in a first-in-first-out queue. Drops incoming packets if the
    /// queue already holds CAPACITY packets. The default for CAPACITY is 1000.
    ///
    /// In Click, ThreadSafeQueue is the variant of Queue that supports several threads
    /// pushing and pulling at once. In Sluice every worker runs its own instance of the
    /// whole graph, so each worker has its own ThreadSafeQueue, pushed and pulled only by
    /// that worker: packets never cross from one worker to another through it, and no
    /// locking is needed. It is therefore the same element as Queue under Click's other
    /// name: same keywords, ports, handlers and state hand-over (it can replace a Queue,
    /// SimpleQueue or FrontDropQueue and keep the queued packets). A configuration in
    /// which several Click threads push into one ThreadSafeQueue runs unchanged; with
    /// `-j N`, each of the N workers carries its share of the traffic through its own
    /// queue, and the counting handlers add the workers' values.
    ///
    /// Ports: 1 input (push); 1 or 2 outputs: output 0 pull, output 1 (drops) push.
    ///
    /// # Keywords
    /// - `CAPACITY` — unsigned, positional. Most packets held at once. Default 1000.
    ///
    /// # Handlers
    /// - `length` (read) — current number of packets in the queue.
    /// - `highwater_length` (read) — most packets ever in the queue at once.
    /// - `capacity` (read/write) — the queue's capacity.
    /// - `drops` (read) — packets dropped because the queue was full.
    /// - `reset_counts` (write) — resets `drops` and `highwater_length`.
    /// - `reset` (write) — drops every queued packet.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> tsq :: ThreadSafeQueue(2000) -> ToDevice(eth1);
    /// ```
    pub const THREAD_SAFE_QUEUE = "ThreadSafeQueue" { ports: "1/1-2", processing: "h/lh", handlers: HANDLERS, build: build }
}

pub(crate) const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("length", Combine::Sum, "packets in the queue now"),
    HandlerSpec::read("highwater_length", Combine::Sum, "most packets ever in the queue at once"),
    HandlerSpec::read_write("capacity", Combine::First, "the queue's capacity"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped because the queue was full"),
    HandlerSpec::write("reset_counts", "reset drops and highwater_length"),
    HandlerSpec::write("reset", "drop every queued packet"),
];

/// Capacity when CAPACITY is not given.
pub const DEFAULT_CAPACITY: u32 = 1000;

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Ok(Box::new(Queue::new(config, ctx, Full::DropIncoming)?))
}

/// What a Queue hands to its replacement: the packets in order, and the counters.
pub struct QueueState {
    pub packets: VecDeque<Packet>,
    pub drops: u64,
    pub highwater: usize,
}

/// What a full queue drops: the packet arriving (Queue) or the oldest one (FrontDropQueue).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    DropIncoming,
    DropOldest,
}

/// The element: a ring of packets with room for `capacity` reserved up front.
pub struct Queue {
    name: String,
    q: VecDeque<Packet>,
    capacity: usize,
    drops: u64,
    highwater: usize,
    full: Full,
}

impl Queue {
    /// A queue configured by `[CAPACITY]`, dropping as `full` says.
    pub(crate) fn new(config: &str, ctx: &BuildCtx, full: Full) -> Result<Queue, ConfigError> {
        let mut args = Args::new(config);
        let capacity = args.read_p::<u32>("CAPACITY")?.unwrap_or(DEFAULT_CAPACITY) as usize;
        args.finish()?;
        let mut q = VecDeque::new();
        q.try_reserve_exact(capacity).map_err(|_| ConfigError(format!("CAPACITY {capacity}: out of memory")))?;
        Ok(Queue { name: ctx.name.clone(), q, capacity, drops: 0, highwater: 0, full })
    }

    /// Change the capacity: drop packets beyond it (at the tail for Queue, as Click does;
    /// the oldest for FrontDropQueue), reserve room up to it.
    fn set_capacity(&mut self, capacity: usize) -> Result<(), String> {
        if capacity > self.q.len() {
            self.q
                .try_reserve_exact(capacity - self.q.len())
                .map_err(|_| format!("capacity {capacity}: out of memory"))?;
        }
        match self.full {
            Full::DropIncoming => self.q.truncate(capacity),
            Full::DropOldest => {
                let excess = self.q.len().saturating_sub(capacity);
                self.q.drain(..excess);
            }
        }
        self.capacity = capacity;
        Ok(())
    }
}

impl Element for Queue {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let mut dropped = Batch::new();
        // At most MAX_BATCH packets arrive at once, and each causes at most one drop, so
        // `dropped` never overflows.
        match self.full {
            Full::DropIncoming => {
                for p in batch {
                    if self.q.len() < self.capacity {
                        self.q.push_back(p);
                    } else {
                        let _ = dropped.push(p);
                    }
                }
            }
            Full::DropOldest => {
                for p in batch {
                    if self.capacity == 0 {
                        let _ = dropped.push(p);
                        continue;
                    }
                    if self.q.len() >= self.capacity {
                        if let Some(old) = self.q.pop_front() {
                            let _ = dropped.push(old);
                        }
                    }
                    self.q.push_back(p);
                }
            }
        }
        self.highwater = self.highwater.max(self.q.len());
        if !dropped.is_empty() {
            if self.drops == 0 && self.capacity > 0 {
                eprintln!("{}: overflow", self.name);
            }
            self.drops += dropped.len() as u64;
            if ctx.noutputs() > 1 {
                ctx.push(1, dropped);
            }
        }
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, _ctx: Ctx<'_>) -> Batch {
        let mut b = Batch::new();
        let n = max.min(MAX_BATCH).min(self.q.len());
        for p in self.q.drain(..n) {
            let _ = b.push(p);
        }
        b
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "length" => self.q.len().to_string(),
            "highwater_length" => self.highwater.to_string(),
            "capacity" => self.capacity.to_string(),
            "drops" => self.drops.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "capacity" => {
                let c = u32::from_arg(value.trim()).map_err(|e| format!("capacity: {e}"))?;
                self.set_capacity(c as usize)
            }
            "reset_counts" => {
                self.drops = 0;
                self.highwater = self.q.len();
                Ok(())
            }
            "reset" => {
                self.q.clear();
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }

    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(QueueState {
            packets: std::mem::take(&mut self.q),
            drops: self.drops,
            highwater: self.highwater,
        }))
    }

    fn give_state(&mut self, state: State) {
        let Ok(old) = state.downcast::<QueueState>() else {
            return;
        };
        let QueueState { mut packets, drops, highwater } = *old;
        let offered = packets.len();
        if self.full == Full::DropOldest {
            // Old packets go in front of any that arrived here first; the newest are kept.
            packets.append(&mut self.q);
            let lost = packets.len().saturating_sub(self.capacity);
            packets.drain(..lost);
            self.q = packets;
            if self.q.capacity() < self.capacity {
                let _ = self.q.try_reserve_exact(self.capacity - self.q.len());
            }
            if lost > 0 {
                eprintln!("{}: some packets lost (old length {offered}, new capacity {})", self.name, self.capacity);
            }
            self.drops += drops + lost as u64;
            self.highwater = self.highwater.max(highwater).max(self.q.len());
            return;
        }
        let mut lost = 0u64;
        if self.q.is_empty() {
            // The usual case: keep the oldest packets that fit, as Click does.
            for p in packets {
                if self.q.len() < self.capacity {
                    self.q.push_back(p);
                } else {
                    lost += 1;
                }
            }
        } else {
            // Packets arrived here first (not expected): the old ones go in front.
            for p in packets.into_iter().rev() {
                if self.q.len() < self.capacity {
                    self.q.push_front(p);
                } else {
                    lost += 1;
                }
            }
        }
        if lost > 0 {
            eprintln!(
                "{}: {lost} packets lost in the hand-over (old length {offered}, new capacity {})",
                self.name, self.capacity
            );
        }
        self.drops += drops + lost;
        self.highwater = self.highwater.max(highwater).max(self.q.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, collected, inject, new_id, registry};

    fn packets(range: std::ops::Range<u32>) -> Vec<Packet> {
        range.map(|i| Packet::from_slice(&i.to_be_bytes())).collect()
    }

    fn ids(ps: &[Packet]) -> Vec<u32> {
        ps.iter().map(|p| u32::from_be_bytes(p.data().try_into().unwrap())).collect()
    }

    #[test]
    fn fifo_between_push_and_pull() {
        let (src, sink) = (new_id(), new_id());
        inject(src, packets(0..1000));
        let router = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", ""),
            ("u", "Unqueue", ""),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .run();
        assert_eq!(ids(&collected(sink)), (0..1000).collect::<Vec<_>>());
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
        assert_eq!(router.read_handler("q", "drops").unwrap(), "0");
        assert_eq!(router.read_handler("q", "capacity").unwrap(), "1000");
        let hw: usize = router.read_handler("q", "highwater_length").unwrap().parse().unwrap();
        assert!((1..=1000).contains(&hw), "{hw}");
    }

    /// src -> q :: CLASS(CONFIG) -> u :: Unqueue(ACTIVE false) -> out; q[1] -> drops.
    fn held(class: &str, config: &str, n: u32) -> (sluice::runtime::Router, u64) {
        let (src, drops) = (new_id(), new_id());
        inject(src, packets(0..n));
        let mut t = TestGraph::new();
        let s = t.add("src", "Inject", &format!("ID {src}"));
        let q = t.add("q", class, config);
        let u = t.add("u", "Unqueue", "ACTIVE false");
        let out = t.add("out", "Collect", &format!("ID {}", new_id()));
        let d = t.add("drops", "Collect", &format!("ID {drops}"));
        t.connect(s, 0, q, 0).connect(q, 0, u, 0).connect(u, 0, out, 0).connect(q, 1, d, 0);
        (t.run(), drops)
    }

    #[test]
    fn drops_when_full_and_emits_drops_on_output_1() {
        let (router, drops) = held("Queue", "10", 25);
        assert_eq!(router.read_handler("q", "length").unwrap(), "10");
        assert_eq!(router.read_handler("q", "drops").unwrap(), "15");
        assert_eq!(router.read_handler("q", "highwater_length").unwrap(), "10");
        assert_eq!(ids(&collected(drops)), (10..25).collect::<Vec<_>>());
    }

    #[test]
    fn drops_without_output_1_are_freed() {
        let src = new_id();
        inject(src, packets(0..7));
        let router = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "SimpleQueue", "CAPACITY 3"),
            ("u", "Unqueue", "ACTIVE false"),
            ("out", "Collect", &format!("ID {}", new_id())),
        ])
        .run();
        assert_eq!(router.read_handler("q", "length").unwrap(), "3");
        assert_eq!(router.read_handler("q", "drops").unwrap(), "4");
    }

    #[test]
    fn capacity_zero_drops_everything() {
        let (router, drops) = held("Queue", "0", 5);
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
        assert_eq!(router.read_handler("q", "drops").unwrap(), "5");
        assert_eq!(collected(drops).len(), 5);
    }

    #[test]
    fn handlers_capacity_reset_counts_and_reset() {
        let (mut router, _) = held("Queue", "10", 25);
        router.write_handler("q", "reset_counts", "").unwrap();
        assert_eq!(router.read_handler("q", "drops").unwrap(), "0");
        assert_eq!(router.read_handler("q", "highwater_length").unwrap(), "10");
        router.write_handler("q", "capacity", "4").unwrap();
        assert_eq!(router.read_handler("q", "capacity").unwrap(), "4");
        assert_eq!(router.read_handler("q", "length").unwrap(), "4");
        router.write_handler("q", "capacity", "5000").unwrap();
        assert_eq!(router.read_handler("q", "capacity").unwrap(), "5000");
        assert!(router.write_handler("q", "capacity", "-3").is_err());
        assert!(router.write_handler("q", "capacity", "many").is_err());
        router.write_handler("q", "reset", "").unwrap();
        assert_eq!(router.read_handler("q", "length").unwrap(), "0");
        assert!(router.write_handler("q", "length", "3").is_err());
    }

    #[test]
    fn state_hand_over_through_the_element_api() {
        let mut a = build_elem(&QUEUE, "5", 1, 1).unwrap();
        a.give_state(Box::new(QueueState { packets: packets(0..8).into(), drops: 2, highwater: 1 }));
        // Capacity 5: three packets did not fit and count as drops.
        assert_eq!(a.read_handler("length").unwrap(), "5");
        assert_eq!(a.read_handler("drops").unwrap(), "5");
        assert_eq!(a.read_handler("highwater_length").unwrap(), "5");
        let state = a.take_state().unwrap();
        assert_eq!(a.read_handler("length").unwrap(), "0");
        let mut b = build_elem(&SIMPLE_QUEUE, "", 1, 1).unwrap();
        b.give_state(state);
        assert_eq!(b.read_handler("length").unwrap(), "5");
        assert_eq!(b.read_handler("drops").unwrap(), "5");
        let s = b.take_state().unwrap().downcast::<QueueState>().unwrap();
        assert_eq!(ids(&Vec::from(s.packets)), vec![0, 1, 2, 3, 4]);
        // State of another kind is ignored.
        b.give_state(Box::new(17u32));
        assert_eq!(b.read_handler("length").unwrap(), "0");
    }

    #[test]
    fn swap_keeps_every_queued_packet() {
        let (src, sink) = (new_id(), new_id());
        inject(src, packets(0..300));
        let running = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "500"),
            ("u", "Unqueue", "ACTIVE false"),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .start();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "300"));
        let reg = registry(crate::standard::CLASSES);
        running.swap("q", "SimpleQueue", "1000", &reg).unwrap();
        assert_eq!(running.read_handler("q", "length").unwrap(), "300");
        assert_eq!(running.read_handler("q", "capacity").unwrap(), "1000");
        running.swap("q", "Queue", "2000", &reg).unwrap();
        running.write_handler("u", "active", "true").unwrap();
        let mut got = Vec::new();
        assert!(wait_until(|| {
            got.extend(collected(sink));
            got.len() >= 300
        }));
        running.stop();
        running.wait();
        got.extend(collected(sink));
        assert_eq!(ids(&got), (0..300).collect::<Vec<_>>());
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&QUEUE, "", 1, 1).is_ok());
        assert!(build_elem(&QUEUE, "CAPACITY 10", 1, 2).is_ok());
        assert_eq!(build_elem(&QUEUE, "", 1, 1).unwrap().read_handler("capacity").unwrap(), "1000");
        let e = build_elem(&QUEUE, "-1", 1, 1).err().unwrap();
        assert!(e.0.starts_with("CAPACITY: "), "{e}");
        let e = build_elem(&QUEUE, "lots", 1, 1).err().unwrap();
        assert!(e.0.contains("expected integer"), "{e}");
        let e = build_elem(&SIMPLE_QUEUE, "10, 20", 1, 1).err().unwrap();
        assert!(e.0.contains("too many arguments"), "{e}");
        let e = build_elem(&QUEUE, "CAPACTIY 10", 1, 1).err().unwrap();
        assert!(e.0.contains("did you mean 'CAPACITY'"), "{e}");
    }
}

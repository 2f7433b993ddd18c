//! `DelayUnqueue`: delay-inducing pull-to-push converter.

use super::infinite_source::now_ns;
use super::values;
use sluice::args::{Args, FromArg};
use sluice::element::State;
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::time::Duration;

sluice::element_class! {
    /// DelayUnqueue(DELAY)
    ///
    /// Delay-inducing pull-to-push converter.
    ///
    /// Pulls packets from the single input port. Delays them for at least DELAY seconds,
    /// with microsecond precision. A packet with timestamp T will be emitted no earlier
    /// than time (T + DELAY). On output, the packet's timestamp is set to the delayed time.
    ///
    /// As in Click, a packet whose timestamp annotation is unset (less than one second
    /// after the epoch) is stamped with the current time when it is pulled; a packet
    /// whose timestamp is far in the past (such as one read from an old capture) is
    /// therefore emitted at once. DelayUnqueue holds at most one packet: it pulls the
    /// next only once the held one is out, so packets leave in order and upstream queues
    /// keep what is not yet due. A packet pulled with an unset timestamp is stamped when
    /// the previous one has left, so such packets leave at least DELAY apart.
    ///
    /// While nothing is upstream the task is idle; while the held packet is not due it is
    /// waiting (the worker naps for at most 640 µs, which bounds the lateness); it never
    /// sleeps on the worker. Due packets are pushed in batches of up to 64.
    ///
    /// A held packet keeps the router running until it has left: a graph whose sources
    /// are done ends only after it, and a STOP drains it (within STOP's 1 s limit). Packets
    /// still upstream when the sources are done leave too, as each is pulled in turn.
    ///
    /// Ports: 1 input (pull), 1 output (push).
    ///
    /// # Keywords
    /// - `DELAY` — time, mandatory, positional. The delay.
    ///
    /// # Handlers
    /// - `delay` (read/write) — the DELAY parameter (`10ms`, `1.500000s`). A packet
    ///   already held keeps the delay it was given.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> SetTimestamp -> Queue(1000) -> DelayUnqueue(20ms) -> ToDevice(eth1);
    /// ```
    pub const DELAY_UNQUEUE = "DelayUnqueue" { ports: "1/1", processing: "l/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("delay", Combine::First, "the delay")];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let delay = args.read_mp::<Duration>("DELAY")?;
    args.finish()?;
    Ok(Box::new(DelayUnqueue { delay, held: None }))
}

/// The element: the delay and the packet waiting for its time (its timestamp annotation
/// is already the delayed time).
pub struct DelayUnqueue {
    delay: Duration,
    held: Option<Packet>,
}

/// A timestamp annotation Click counts as unset: `timestamp_anno().sec() == 0`.
const UNSET_BELOW_NS: u64 = 1_000_000_000;

impl DelayUnqueue {
    /// Stamp a freshly pulled packet with the time it is due.
    fn delay(&self, p: &mut Packet) {
        let a = p.anno_mut();
        if a.timestamp_ns < UNSET_BELOW_NS {
            a.timestamp_ns = now_ns();
        }
        a.timestamp_ns = a.timestamp_ns.saturating_add(self.delay.as_nanos().min(u128::from(u64::MAX)) as u64);
    }
}

impl Element for DelayUnqueue {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let mut out = Batch::new();
        let mut now = now_ns();
        let mut worked = false;
        while out.len() < MAX_BATCH {
            if self.held.is_none() {
                let mut b = ctx.pull(0, 1);
                let Some(mut p) = b.pop() else { break };
                // Pulls return at most what was asked; anything more is kept, in order.
                debug_assert!(b.is_empty());
                self.delay(&mut p);
                self.held = Some(p);
            }
            let due = self.held.as_ref().map_or(0, |p| p.anno().timestamp_ns);
            if due > now {
                // Click re-reads the clock when the next packet needs it.
                now = now_ns();
                if due > now {
                    break;
                }
            }
            if let Some(p) = self.held.take() {
                let _ = out.push(p);
                worked = true;
            }
        }
        if !out.is_empty() {
            ctx.push(0, out);
        }
        if worked {
            TaskStatus::Busy
        } else if self.held.is_some() {
            // A packet waits for its time: the router must not end or stop without it.
            TaskStatus::Waiting
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "delay").then(|| values::interval(self.delay))
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "delay" => {
                self.delay = Duration::from_arg(value.trim()).map_err(|e| format!("delay: {e}"))?;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }

    fn take_state(&mut self) -> Option<State> {
        Some(Box::new(self.held.take()))
    }

    fn give_state(&mut self, state: State) {
        if let Ok(held) = state.downcast::<Option<Packet>>() {
            self.held = *held;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, collected, inject, new_id};
    use std::time::Instant;

    fn line(packets: Vec<Packet>, delay: &str) -> (TestGraph, u64) {
        let (src, sink) = (new_id(), new_id());
        inject(src, packets);
        let t = TestGraph::chain(&[
            ("src", "Inject", &format!("ID {src}")),
            ("q", "Queue", "1000"),
            ("d", "DelayUnqueue", delay),
            ("out", "Collect", &format!("ID {sink}")),
        ]);
        (t, sink)
    }

    fn stamped(ts: &[u64]) -> Vec<Packet> {
        ts.iter()
            .enumerate()
            .map(|(i, &t)| {
                let mut p = Packet::from_slice(&[i as u8]);
                p.anno_mut().timestamp_ns = t;
                p
            })
            .collect()
    }

    #[test]
    fn old_timestamps_are_due_at_once_and_get_the_delayed_time() {
        let ts: Vec<u64> = (0..200).map(|i| 1_000_000_000_000 + i * 1000).collect();
        let (t, sink) = line(stamped(&ts), "1.5");
        let router = t.run();
        let got = collected(sink);
        assert_eq!(got.len(), 200);
        for (i, p) in got.iter().enumerate() {
            assert_eq!(p.data(), &[i as u8]);
            assert_eq!(p.anno().timestamp_ns, ts[i] + 1_500_000_000);
        }
        assert_eq!(router.read_handler("d", "delay").unwrap(), "1.500000s");
    }

    #[test]
    fn fresh_packets_wait_for_their_time() {
        // Unset timestamps are stamped when pulled; each packet then waits DELAY.
        let (t, sink) = line(stamped(&[0, 0, 0]), "60ms");
        let t0 = Instant::now();
        let before = now_ns();
        let running = t.start();
        let mut got = Vec::new();
        assert!(wait_until(|| {
            got.extend(collected(sink));
            got.len() == 3
        }));
        let took = t0.elapsed();
        running.stop();
        running.wait();
        // Click pulls the next packet only once the held one is out, and stamps it then:
        // each waits its own DELAY after the previous one left.
        assert!(took >= Duration::from_millis(180), "{took:?}");
        assert_eq!(got.iter().map(|p| p.data()[0]).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(got[0].anno().timestamp_ns >= before + 60_000_000);
        for w in got.windows(2) {
            assert!(w[1].anno().timestamp_ns >= w[0].anno().timestamp_ns + 60_000_000);
        }
    }

    #[test]
    fn a_run_ends_only_after_every_delayed_packet_has_left() {
        // The source is done at once; `run` returns when the graph ends by itself, which
        // it must not do while DelayUnqueue still holds a packet that is not due.
        let (t, sink) = line(stamped(&[0, 0, 0, 0]), "25ms");
        let t0 = Instant::now();
        t.run();
        assert_eq!(collected(sink).len(), 4);
        assert!(t0.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn holds_one_packet_and_leaves_the_rest_upstream() {
        let future = now_ns() + 10_000_000_000;
        let (t, sink) = line(stamped(&[future, 0, 0, 0]), "0");
        let running = t.start();
        assert!(wait_until(|| running.read_handler("q", "length").unwrap() == "3"));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(running.read_handler("q", "length").unwrap(), "3");
        assert!(collected(sink).is_empty());
        running.stop();
        running.wait();
    }

    #[test]
    fn held_packet_survives_a_state_hand_over() {
        let mut a = build_elem(&DELAY_UNQUEUE, "1s", 1, 1).unwrap();
        let mut b = build_elem(&DELAY_UNQUEUE, "2s", 1, 1).unwrap();
        let mut p = Packet::from_slice(b"x");
        p.anno_mut().timestamp_ns = 5;
        let mut held = Some(p);
        // Give `a` a held packet through the same path a swap uses.
        a.give_state(Box::new(held.take()));
        b.give_state(a.take_state().unwrap());
        let s = b.take_state().unwrap().downcast::<Option<Packet>>().unwrap();
        assert_eq!(s.unwrap().data(), b"x");
    }

    #[test]
    fn handlers_and_config() {
        let mut d = build_elem(&DELAY_UNQUEUE, "DELAY 10ms", 1, 1).unwrap();
        assert_eq!(d.read_handler("delay").unwrap(), "10ms");
        d.write_handler("delay", "250us").unwrap();
        assert_eq!(d.read_handler("delay").unwrap(), "250us");
        assert!(d.write_handler("delay", "soon").unwrap_err().starts_with("delay: "));
        assert!(build_elem(&DELAY_UNQUEUE, "", 1, 1).is_err());
        assert!(build_elem(&DELAY_UNQUEUE, "1, 2", 1, 1).is_err());
        assert!(build_elem(&DELAY_UNQUEUE, "-1", 1, 1).is_err());
    }
}

//! `TimedSource`: emits one packet every INTERVAL.

use super::infinite_source::{now_ns, unparse_data, DEFAULT_DATA};
use super::values;
use sluice::args::{Args, Bytes, FromArg};
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::time::{Duration, Instant};

sluice::element_class! {
    /// TimedSource([INTERVAL, DATA, KEYWORDS])
    ///
    /// Periodically generates a packet.
    ///
    /// Creates packets consisting of DATA. Pushes such a packet out its single output
    /// about once every INTERVAL seconds: the first INTERVAL after the router starts, then
    /// on a fixed grid of INTERVALs (a late run catches up, as Click's timer does, with at
    /// most 64 packets per run). Each packet gets the current time as its timestamp
    /// annotation. Default INTERVAL is 500 milliseconds; default DATA is at least 64 bytes
    /// long.
    ///
    /// After LIMIT packets, TimedSource stops sending; with STOP true it then asks the
    /// router to stop, one INTERVAL after the last packet, as Click does.
    ///
    /// Ports: no inputs, 1 output (push).
    ///
    /// # Keywords
    /// - `INTERVAL` — time, positional. Time between packets. Default 500ms.
    /// - `DATA` — data, positional. The packet contents. Default Click's 69-byte string.
    /// - `LIMIT` — integer. Stop after LIMIT packets; negative means never. Default -1.
    /// - `STOP` — boolean. Stop the router once LIMIT packets are sent. Default false.
    /// - `ACTIVE` — boolean. If false, send nothing until `active` is set. Default true.
    /// - `HEADROOM` — unsigned. Bytes of headroom in each packet. Default 128.
    ///
    /// # Handlers
    /// - `data` (read/write) — the packet contents (written literally, as Click's raw
    ///   handler takes them).
    /// - `interval` (read/write) — the interval, printed as Click prints it (`500ms`).
    /// - `limit` (read/write) — the LIMIT.
    /// - `active` (read/write) — whether packets are sent.
    /// - `count` (read) — packets sent so far.
    /// - `headroom` (read/write) — the HEADROOM.
    /// - `reset` (write) — resets `count` to 0 and restarts sending.
    ///
    /// # Example
    /// ```text
    /// TimedSource(INTERVAL 0.333, DATA "hello", LIMIT 3, STOP true) -> Print(ok) -> Discard;
    /// ```
    pub const TIMED_SOURCE = "TimedSource" { ports: "0/1", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("data", Combine::First, "the packet contents"),
    HandlerSpec::read_write("interval", Combine::First, "time between packets"),
    HandlerSpec::read_write("limit", Combine::First, "packets to send in total (-1: no limit)"),
    HandlerSpec::read_write("active", Combine::First, "whether packets are sent"),
    HandlerSpec::read("count", Combine::Sum, "packets sent so far"),
    HandlerSpec::read_write("headroom", Combine::First, "headroom of each packet"),
    HandlerSpec::write("reset", "reset count to 0 and restart"),
];

/// Largest HEADROOM or DATA accepted.
const MAX_BYTES: usize = 1 << 20;

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let interval = args.read_p::<Duration>("INTERVAL")?.unwrap_or(Duration::from_millis(500));
    let data = args.read_p::<Bytes>("DATA")?.map_or_else(|| DEFAULT_DATA.to_vec(), |b| b.0);
    let limit = args.read_kw::<i64>("LIMIT")?.unwrap_or(-1);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let stop = args.read_kw::<bool>("STOP")?.unwrap_or(false);
    let headroom = args.read_kw::<u32>("HEADROOM")?.map_or(sluice::packet::DEFAULT_HEADROOM, |h| h as usize);
    args.finish()?;
    if headroom > MAX_BYTES || data.len() > MAX_BYTES {
        return Err(ConfigError(format!("HEADROOM and DATA are limited to {MAX_BYTES} bytes")));
    }
    Ok(Box::new(TimedSource { interval, data, limit, active, stop, headroom, count: 0, next: None }))
}

/// The element: its parameters, the count, and when the next packet is due.
pub struct TimedSource {
    interval: Duration,
    data: Vec<u8>,
    limit: i64,
    active: bool,
    stop: bool,
    headroom: usize,
    count: u64,
    /// When the timer fires next; `None` until the task first runs (or after a restart).
    next: Option<Instant>,
}

impl TimedSource {
    fn packet(&self, now_ns: u64) -> Packet {
        let mut p = Packet::with_room(self.headroom, self.data.len(), 0);
        p.data_mut().copy_from_slice(&self.data);
        p.anno_mut().timestamp_ns = now_ns;
        p
    }

    fn limit_reached(&self) -> bool {
        self.limit >= 0 && self.count >= self.limit as u64
    }
}

impl Element for TimedSource {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if !self.active {
            // Click's timer stays scheduled while inactive; restart the grid when reactivated.
            self.next = None;
            return TaskStatus::Idle;
        }
        let now = Instant::now();
        let due = *self.next.get_or_insert(now + self.interval);
        if now < due {
            return TaskStatus::Idle;
        }
        let mut batch = Batch::new();
        let mut due = due;
        while now >= due && batch.len() < MAX_BATCH {
            if self.limit_reached() {
                // The timer fired with nothing left to send: this is when Click stops.
                ctx.push(0, batch);
                if self.stop {
                    ctx.request_stop();
                }
                return TaskStatus::Done;
            }
            let _ = batch.push(self.packet(now_ns()));
            self.count += 1;
            due += self.interval;
            if self.interval.is_zero() {
                break;
            }
        }
        self.next = Some(due);
        ctx.push(0, batch);
        TaskStatus::Busy
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "data" => unparse_data(&self.data),
            "interval" => values::interval(self.interval),
            "limit" => self.limit.to_string(),
            "active" => self.active.to_string(),
            "count" => self.count.to_string(),
            "headroom" => self.headroom.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match name {
            "data" => {
                if value.len() > MAX_BYTES {
                    return Err(format!("data is limited to {MAX_BYTES} bytes"));
                }
                self.data = value.as_bytes().to_vec();
            }
            "interval" => match Duration::from_arg(v) {
                Ok(d) if !d.is_zero() => self.interval = d,
                _ => return Err("bad interval".into()),
            },
            "limit" => self.limit = i64::from_arg(v).map_err(|e| format!("limit: {e}"))?,
            "active" => {
                self.active = bool::from_arg(v).map_err(|_| "bad active".to_string())?;
            }
            "headroom" => match u32::from_arg(v) {
                Ok(h) if h as usize <= MAX_BYTES => self.headroom = h as usize,
                _ => return Err("bad headroom".into()),
            },
            "reset" => {
                self.count = 0;
                // Click schedules the timer now if it had stopped.
                self.next = Some(Instant::now());
            }
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::test_graph::{wait_until, TestGraph};
    use sluice::testing::{build as build_elem, collected, new_id, run_element};

    #[test]
    fn sends_limit_packets_on_the_interval_then_stops() {
        let start = Instant::now();
        let start_ns = now_ns();
        let (out, router) =
            run_element(&TIMED_SOURCE, "INTERVAL 10ms, DATA \"hi\", LIMIT 3, STOP true", 1, Vec::new()).unwrap();
        let took = start.elapsed();
        assert_eq!(out[0].len(), 3);
        assert!(out[0].iter().all(|p| p.data() == b"hi" && p.anno().timestamp_ns > 0));
        let ts: Vec<u64> = out[0].iter().map(|p| p.anno().timestamp_ns).collect();
        // The first packet comes one INTERVAL after the start (later ones may come close
        // together on a loaded machine: a late timer catches up, as Click's does).
        assert!(ts[0] >= start_ns + 9_000_000 && ts.windows(2).all(|w| w[1] >= w[0]), "{ts:?}");
        // Three intervals to send, a fourth to notice the limit.
        assert!(took >= Duration::from_millis(40), "{took:?}");
        assert_eq!(router.read_handler("e", "count").unwrap(), "3");
    }

    #[test]
    fn default_data_headroom_and_handlers() {
        let (out, _) = run_element(&TIMED_SOURCE, "0.001, LIMIT 1, HEADROOM 10, STOP true", 1, Vec::new()).unwrap();
        assert_eq!(out[0][0].data(), DEFAULT_DATA);
        assert_eq!(out[0][0].headroom(), 10);
        let mut e = build_elem(&TIMED_SOURCE, "", 0, 1).unwrap();
        assert_eq!(e.read_handler("interval").unwrap(), "500ms");
        e.write_handler("interval", "1.5").unwrap();
        assert_eq!(e.read_handler("interval").unwrap(), "1.500000s");
        assert!(e.write_handler("interval", "0").is_err());
        e.write_handler("data", "a b").unwrap();
        assert_eq!(e.read_handler("data").unwrap(), "a b");
        e.write_handler("limit", "5").unwrap();
        assert_eq!(e.read_handler("limit").unwrap(), "5");
        assert!(e.write_handler("active", "maybe").is_err());
        assert!(build_elem(&TIMED_SOURCE, "soon", 0, 1).is_err());
    }

    #[test]
    fn inactive_until_activated_and_reset_restarts() {
        let sink = new_id();
        let running = TestGraph::chain(&[
            ("s", "TimedSource", "INTERVAL 1ms, LIMIT 2, ACTIVE false"),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .start();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(running.read_handler("s", "count").unwrap(), "0");
        running.write_handler("s", "active", "true").unwrap();
        assert!(wait_until(|| running.read_handler("s", "count").unwrap() == "2"));
        assert_eq!(collected(sink).len(), 2);
        running.write_handler("s", "reset", "").unwrap();
        assert!(wait_until(|| running.read_handler("s", "count").unwrap() == "2"));
        assert_eq!(collected(sink).len(), 2);
        running.stop();
        let router = running.wait();
        assert_eq!(router.read_handler("s", "count").unwrap(), "2");
    }
}

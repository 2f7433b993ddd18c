//! `InfiniteSource`: generates packets whenever scheduled (or pulled).

use sluice::args::{Args, Bytes, FromArg};
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// InfiniteSource([DATA, LIMIT, BURST, ACTIVE, KEYWORDS])
    ///
    /// Generates packets whenever scheduled.
    ///
    /// Creates packets consisting of DATA. Pushes BURST such packets out its single
    /// output every time it is scheduled (which will be often), in batches of up to 64.
    /// Stops sending after LIMIT packets are generated; but if LIMIT is negative, sends
    /// packets forever. Will send packets only if ACTIVE is true. Default DATA is Click's
    /// 69-byte string `Random bullshit in a packet, at least 64 bytes long. Well, now it
    /// is.`. Default LIMIT is -1 (send packets forever). Default BURST is 1.
    ///
    /// Each packet is a fresh copy of the data (from the packet pool: no allocation once
    /// the pool is warm) with its timestamp annotation set to the current time; the
    /// packets of one batch share one timestamp.
    ///
    /// When the output is pull, InfiniteSource is not a task: it answers each pull with
    /// as many packets as asked for (BURST does not apply), until LIMIT.
    ///
    /// In push mode, once LIMIT packets are out the task is finished for good: Sluice's
    /// scheduler does not run a finished task again, so writing `reset`, `limit` or
    /// `active` afterwards changes the handlers' values but sends no more packets (in
    /// Click it reschedules the task). While inactive, the task stays scheduled and idle.
    ///
    /// Ports: no inputs, 1 output (agnostic).
    ///
    /// # Keywords
    /// - `DATA` — string, positional. The packet contents, e.g. `\<0800 4500>` or
    ///   `"GET / HTTP/1.0\r\n"`.
    /// - `LIMIT` — integer, positional. Total packets to send; negative means no limit.
    ///   Default -1.
    /// - `BURST` — integer ≥ 1, positional. Packets per scheduling. Default 1.
    /// - `ACTIVE` — boolean, positional. Whether to send packets. Default true.
    /// - `LENGTH` — integer. If set (not negative), packets have exactly this length:
    ///   DATA is cut, or repeated to fill (zeros when DATA is empty). At most 1048576.
    ///   `DATASIZE` is Click's deprecated name for it.
    /// - `STOP` — boolean. If true, stop the router once LIMIT packets are sent (after
    ///   the packets already in flight are processed). Default false.
    /// - `TIMESTAMP` — boolean. If false, do not set the timestamp annotation. Default true.
    /// - `END_CALL` — Click's write handler to call at LIMIT: not supported; refused.
    ///
    /// # Handlers
    /// - `count` (read) — packets generated so far.
    /// - `reset` (write) — resets `count` to 0 (see above for push mode).
    /// - `data` (read/write) — the DATA parameter. Reads back as text when printable,
    ///   else in Click's `\<hex>` notation; writes are read like the DATA argument.
    /// - `length` (read/write) — the LENGTH parameter (-1: DATA's own length).
    /// - `limit` (read/write) — the LIMIT parameter.
    /// - `burst` (read/write) — the BURST parameter.
    /// - `active` (read/write) — makes the element active or inactive.
    ///
    /// # Example
    /// ```text
    /// InfiniteSource(\<0800>, LIMIT 1000, STOP true) -> Queue -> ...
    /// InfiniteSource(LENGTH 60, BURST 64) -> Counter -> Discard;
    /// ```
    pub const INFINITE_SOURCE = "InfiniteSource" { ports: "0/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets generated so far"),
    HandlerSpec::write("reset", "reset count to 0"),
    HandlerSpec::read_write("data", Combine::First, "the packet data"),
    HandlerSpec::read_write("length", Combine::First, "the packet length (-1: length of DATA)"),
    HandlerSpec::read_write("limit", Combine::First, "total packets to send (-1: no limit)"),
    HandlerSpec::read_write("burst", Combine::First, "packets per scheduling"),
    HandlerSpec::read_write("active", Combine::First, "whether packets are sent"),
];

/// Click's default packet data for InfiniteSource and RatedSource.
pub const DEFAULT_DATA: &[u8] = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is.";

/// Largest LENGTH accepted.
pub const MAX_LENGTH: usize = 1 << 20;

/// Reads LENGTH (or its deprecated name DATASIZE, which wins as in Click): `None` when
/// unset or negative.
pub(crate) fn read_length(args: &mut Args) -> Result<Option<usize>, ConfigError> {
    let length = args.read_kw::<i64>("LENGTH")?;
    let datasize = args.read_kw::<i64>("DATASIZE")?;
    check_length(datasize.or(length).unwrap_or(-1)).map_err(ConfigError)
}

/// A LENGTH value: negative means unset; too large is an error.
pub(crate) fn check_length(v: i64) -> Result<Option<usize>, String> {
    if v < 0 {
        Ok(None)
    } else if v as u64 > MAX_LENGTH as u64 {
        Err(format!("LENGTH {v} is too large (at most {MAX_LENGTH})"))
    } else {
        Ok(Some(v as usize))
    }
}

/// The packet contents for DATA and LENGTH, as Click's `setup_packet` makes them: DATA,
/// cut to LENGTH or repeated until LENGTH (zeros if DATA is empty, where Click would loop
/// forever).
pub fn packet_contents(data: &[u8], length: Option<usize>) -> Vec<u8> {
    match length {
        None => data.to_vec(),
        Some(n) if data.is_empty() => vec![0; n],
        Some(n) => data.iter().copied().cycle().take(n).collect(),
    }
}

/// DATA for a handler: the text itself when printable ASCII, else Click's `\<hex>`.
pub fn unparse_data(data: &[u8]) -> String {
    if data.iter().all(|b| (0x20..0x7f).contains(b) && *b != b'\\') {
        return String::from_utf8_lossy(data).into_owned();
    }
    let mut s = String::with_capacity(3 + data.len() * 9 / 4);
    s.push_str("\\<");
    for (i, b) in data.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s.push('>');
    s
}

/// The current wall-clock time in nanoseconds since the Unix epoch (0 if before it).
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A batch of `n` (≤ 64) copies of `contents`, stamped with `timestamp_ns` unless it is 0.
pub fn make_batch(contents: &[u8], n: usize, timestamp_ns: u64) -> Batch {
    let mut b = Batch::new();
    for _ in 0..n.min(MAX_BATCH) {
        let mut p = Packet::from_slice(contents);
        p.anno_mut().timestamp_ns = timestamp_ns;
        let _ = b.push(p);
    }
    b
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let data = args.read_p::<Bytes>("DATA")?.map_or_else(|| DEFAULT_DATA.to_vec(), |b| b.0);
    let limit = args.read_p::<i64>("LIMIT")?.unwrap_or(-1);
    let burst = args.read_p::<i64>("BURST")?.unwrap_or(1);
    let active = args.read_p::<bool>("ACTIVE")?.unwrap_or(true);
    let timestamp = args.read_kw::<bool>("TIMESTAMP")?.unwrap_or(true);
    let length = read_length(&mut args)?;
    let stop = args.read_kw::<bool>("STOP")?.unwrap_or(false);
    if args.read_kw::<String>("END_CALL")?.is_some() {
        return Err("END_CALL is not supported by Sluice (use STOP true to stop the router at LIMIT)".into());
    }
    args.finish()?;
    if burst < 1 {
        return Err("BURST must be >= 1".into());
    }
    let contents = packet_contents(&data, length);
    Ok(Box::new(InfiniteSource {
        data,
        length,
        contents,
        limit,
        burst: burst as u64,
        active,
        stop,
        timestamp,
        count: 0,
    }))
}

/// The element: its parameters, the prepared packet contents, and the count.
pub struct InfiniteSource {
    data: Vec<u8>,
    length: Option<usize>,
    /// DATA adjusted to LENGTH: what every packet holds.
    contents: Vec<u8>,
    limit: i64,
    burst: u64,
    active: bool,
    stop: bool,
    timestamp: bool,
    count: u64,
}

impl InfiniteSource {
    /// Packets still allowed by LIMIT, capped at `want`.
    fn allowed(&self, want: u64) -> u64 {
        if self.limit < 0 {
            want
        } else {
            want.min((self.limit as u64).saturating_sub(self.count))
        }
    }

    fn stamp(&self) -> u64 {
        if self.timestamp {
            now_ns()
        } else {
            0
        }
    }
}

impl Element for InfiniteSource {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        if ctx.output_push.first().copied().unwrap_or(true) {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if !self.active {
            return TaskStatus::Idle;
        }
        let n = self.allowed(self.burst);
        if n == 0 {
            if self.stop {
                ctx.request_stop();
            }
            return TaskStatus::Done;
        }
        let mut left = n;
        while left > 0 {
            let k = left.min(MAX_BATCH as u64) as usize;
            ctx.push(0, make_batch(&self.contents, k, self.stamp()));
            left -= k as u64;
        }
        self.count += n;
        // Report Done on the next run, so this run's packets count as work for the scheduler.
        TaskStatus::Busy
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        if !self.active || max == 0 {
            return Batch::new();
        }
        let n = self.allowed(max.min(MAX_BATCH) as u64) as usize;
        if n == 0 {
            if self.stop {
                ctx.request_stop();
            }
            return Batch::new();
        }
        self.count += n as u64;
        make_batch(&self.contents, n, self.stamp())
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        Some(match name {
            "count" => self.count.to_string(),
            "data" => unparse_data(&self.data),
            "length" => self.length.map_or_else(|| "-1".to_string(), |n| n.to_string()),
            "limit" => self.limit.to_string(),
            "burst" => self.burst.to_string(),
            "active" => self.active.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        let int = |v: &str| i64::from_arg(v).map_err(|e| format!("{name}: {e}"));
        match name {
            "reset" => self.count = 0,
            "data" => {
                self.data = Bytes::from_arg(value).map_err(|e| format!("data: {e}"))?.0;
                self.contents = packet_contents(&self.data, self.length);
            }
            "length" => {
                self.length = check_length(int(value)?)?;
                self.contents = packet_contents(&self.data, self.length);
            }
            "limit" => self.limit = int(value)?,
            "burst" => {
                let b = int(value)?;
                if b < 1 {
                    return Err("burst must be an integer >= 1".into());
                }
                self.burst = b as u64;
            }
            "active" => self.active = bool::from_arg(value).map_err(|e| format!("active: {e}"))?,
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
    fn default_packets_are_clicks() {
        let (out, router) = run_element(&INFINITE_SOURCE, "LIMIT 5", 1, Vec::new()).unwrap();
        assert_eq!(out[0].len(), 5);
        assert_eq!(DEFAULT_DATA.len(), 69);
        for p in &out[0] {
            assert_eq!(p.data(), DEFAULT_DATA);
            assert!(p.anno().timestamp_ns > 1_600_000_000_000_000_000, "timestamp is set");
        }
        assert_eq!(router.read_handler("e", "count").unwrap(), "5");
    }

    #[test]
    fn data_limit_burst_positional_and_keywords() {
        let (out, router) = run_element(&INFINITE_SOURCE, r"\<0800 4500>, 200, 70", 1, Vec::new()).unwrap();
        assert_eq!(out[0].len(), 200);
        assert!(out[0].iter().all(|p| p.data() == [8, 0, 0x45, 0]));
        assert_eq!(router.read_handler("e", "burst").unwrap(), "70");
        assert_eq!(router.read_handler("e", "data").unwrap(), r"\<08004500>");
        let (out, _) =
            run_element(&INFINITE_SOURCE, "DATA \"ab\", LENGTH 5, LIMIT 2, BURST 64, TIMESTAMP false", 1, Vec::new())
                .unwrap();
        assert_eq!(out[0].len(), 2);
        assert_eq!(out[0][0].data(), b"ababa");
        assert_eq!(out[0][0].anno().timestamp_ns, 0);
        let (out, _) = run_element(&INFINITE_SOURCE, "LENGTH 10, LIMIT 1", 1, Vec::new()).unwrap();
        assert_eq!(out[0][0].data(), &DEFAULT_DATA[..10]);
        let (out, _) = run_element(&INFINITE_SOURCE, "DATA \"\", DATASIZE 3, LIMIT 1", 1, Vec::new()).unwrap();
        assert_eq!(out[0][0].data(), &[0, 0, 0]);
        let (out, _) = run_element(&INFINITE_SOURCE, "DATA \"\", LIMIT 3", 1, Vec::new()).unwrap();
        assert!(out[0].iter().all(|p| p.is_empty()));
    }

    #[test]
    fn limit_zero_sends_nothing() {
        let (out, router) = run_element(&INFINITE_SOURCE, "LIMIT 0", 1, Vec::new()).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(router.read_handler("e", "count").unwrap(), "0");
    }

    #[test]
    fn stop_ends_an_unbounded_graph_once_in_flight_packets_are_done() {
        let sink = new_id();
        let router = TestGraph::chain(&[
            ("s", "InfiniteSource", "LIMIT 300, BURST 50, STOP true"),
            ("q", "Queue", ""),
            ("u", "Unqueue", "BURST 1"),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .start()
        .wait();
        assert_eq!(collected(sink).len(), 300);
        assert_eq!(router.read_handler("s", "count").unwrap(), "300");
    }

    #[test]
    fn pull_mode_answers_pulls_until_limit() {
        let sink = new_id();
        let router = TestGraph::chain(&[
            ("s", "InfiniteSource", "DATA x, LIMIT 100, STOP true"),
            ("u", "Unqueue", "BURST 30"),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .start()
        .wait();
        let got = collected(sink);
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(|p| p.data() == b"x"));
        assert_eq!(router.read_handler("s", "count").unwrap(), "100");
    }

    #[test]
    fn inactive_source_sends_when_activated() {
        let sink = new_id();
        let running = TestGraph::chain(&[
            ("s", "InfiniteSource", "DATA y, LIMIT 10, ACTIVE false, STOP true"),
            ("out", "Collect", &format!("ID {sink}")),
        ])
        .start();
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert_eq!(running.read_handler("s", "count").unwrap(), "0");
        running.write_handler("s", "active", "true").unwrap();
        assert!(wait_until(|| running.is_finished()));
        let router = running.wait();
        assert_eq!(router.read_handler("s", "count").unwrap(), "10");
        assert_eq!(collected(sink).len(), 10);
    }

    #[test]
    fn handlers_read_and_write() {
        let mut s = build_elem(&INFINITE_SOURCE, "", 0, 1).unwrap();
        assert_eq!(s.read_handler("data").unwrap(), std::str::from_utf8(DEFAULT_DATA).unwrap());
        assert_eq!(s.read_handler("length").unwrap(), "-1");
        assert_eq!(s.read_handler("limit").unwrap(), "-1");
        assert_eq!(s.read_handler("burst").unwrap(), "1");
        assert_eq!(s.read_handler("active").unwrap(), "true");
        s.write_handler("data", r"\<01 02 03>").unwrap();
        assert_eq!(s.read_handler("data").unwrap(), r"\<010203>");
        s.write_handler("length", "8").unwrap();
        assert_eq!(s.read_handler("length").unwrap(), "8");
        s.write_handler("limit", "7\n").unwrap();
        assert_eq!(s.read_handler("limit").unwrap(), "7");
        s.write_handler("burst", "64").unwrap();
        assert!(s.write_handler("burst", "0").is_err());
        assert!(s.write_handler("length", "99999999").is_err());
        assert!(s.write_handler("active", "perhaps").is_err());
        s.write_handler("active", "false").unwrap();
        assert_eq!(s.read_handler("active").unwrap(), "false");
        s.write_handler("reset", "").unwrap();
        assert!(s.write_handler("count", "3").is_err());
    }

    #[test]
    fn contents_and_data_unparsing() {
        assert_eq!(packet_contents(b"abc", None), b"abc");
        assert_eq!(packet_contents(b"abc", Some(0)), b"");
        assert_eq!(packet_contents(b"abc", Some(7)), b"abcabca");
        assert_eq!(packet_contents(b"", Some(2)), [0, 0]);
        assert_eq!(unparse_data(b"hello"), "hello");
        assert_eq!(unparse_data(&[0, 1, 2, 3, 4]), r"\<00010203 04>");
        assert_eq!(unparse_data(b""), "");
    }

    #[test]
    fn config_is_checked() {
        let e = build_elem(&INFINITE_SOURCE, "BURST 0", 0, 1).err().unwrap();
        assert_eq!(e.0, "BURST must be >= 1");
        let e = build_elem(&INFINITE_SOURCE, "LIMIT many", 0, 1).err().unwrap();
        assert!(e.0.starts_with("LIMIT: "), "{e}");
        let e = build_elem(&INFINITE_SOURCE, "END_CALL s.stop", 0, 1).err().unwrap();
        assert!(e.0.contains("END_CALL is not supported"), "{e}");
        let e = build_elem(&INFINITE_SOURCE, "LENGTH 2000000", 0, 1).err().unwrap();
        assert!(e.0.contains("too large"), "{e}");
        let e = build_elem(&INFINITE_SOURCE, r"\<0>", 0, 1).err().unwrap();
        assert!(e.0.starts_with("DATA: "), "{e}");
        let e = build_elem(&INFINITE_SOURCE, "STOPP true", 0, 1).err().unwrap();
        assert!(e.0.contains("did you mean 'STOP'"), "{e}");
        let e = build_elem(&INFINITE_SOURCE, "a, 1, 1, true, extra", 0, 1).err().unwrap();
        assert!(e.0.contains("too many arguments"), "{e}");
    }
}

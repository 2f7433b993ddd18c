//! `ICMPPingSource`: periodically sends ICMP echo requests, and keeps ping(1)-style
//! statistics of the replies it is given.

use crate::standard::infinite_source::now_ns;
use crate::wire::{checksum, icmp, ipv4};
use sluice::args::{Args, Bytes, FromArg};
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

sluice::element_class! {
    /// ICMPPingSource(SRC, DST, KEYWORDS)
    ///
    /// Periodically sends ICMP echo requests.
    ///
    /// Periodically emits ping packets with source IP address SRC and destination address
    /// DST: the first one INTERVAL after the router starts, then one every INTERVAL on a
    /// fixed grid (a late run catches up, as Click's timer does). Advances the sequence
    /// field by one each time. When its output is pull, generates a ping packet on every
    /// pull. The task only looks at the clock, so it never blocks the worker.
    ///
    /// Each packet is a 20-byte IPv4 header (TTL 200, ID `count % 0xFFFF + 1`, protocol
    /// 1, checksum) and an ICMP echo request (type 8, code 0) followed by DATA, with its
    /// checksum; its destination address annotation is DST, its IP header annotation set,
    /// and its timestamp annotation the time it was made. The identifier and sequence
    /// fields are written as Click on Linux writes them: in host byte order, that is
    /// little-endian on x86 and ARM (Click's documentation says network order; its Linux
    /// code does not byte-swap). The sequence number equals the IP ID.
    ///
    /// ICMPPingSource's optional input accepts replies to the pings it sends: echo replies
    /// with its IDENTIFIER are matched to the requests by sequence number, and it keeps
    /// loss and RTT statistics like the ping(1) program (read with `summary`); with
    /// VERBOSE, each reply is reported on standard error as Click reports it, and the
    /// summary is printed when the router is cleaned up. Every packet arriving on the
    /// input is consumed.
    ///
    /// With several workers only worker 0's instance sends (one ping stream per router,
    /// as in Click). MIRROR (in some Click versions) is not supported and is refused.
    ///
    /// Ports: 0 or 1 inputs (push), 1 output, agnostic.
    ///
    /// # Keywords
    /// - `SRC` — IPv4 address, mandatory, positional.
    /// - `DST` — IPv4 address, mandatory, positional.
    /// - `INTERVAL` — time (millisecond precision). Time between pings. Default 1 second.
    /// - `IDENTIFIER` — unsigned 16-bit. The ICMP identifier. Default 0.
    /// - `LIMIT` — integer. Pings to send; negative means forever. Default -1.
    /// - `STOP` — boolean. Stop the router when LIMIT is reached. Default false.
    /// - `DATA` — string. Extra data in each ping. Default empty.
    /// - `ACTIVE` — boolean. Whether pings are sent. Default true.
    /// - `VERBOSE` — boolean. Report replies on standard error. Default true.
    ///
    /// # Handlers
    /// - `active` (read/write) — the ACTIVE argument.
    /// - `src` (read/write) — the SRC argument.
    /// - `dst` (read/write) — the DST argument.
    /// - `count` (read) — pings sent so far.
    /// - `limit` (write) — sets LIMIT.
    /// - `interval` (write) — sets INTERVAL.
    /// - `reset_counts` (write) — resets all counters to zero.
    /// - `summary` (read) — ping(1)-style summary: sent, received, loss, RTTs. Meaningful
    ///   only with an input (Click offers it only then).
    /// - `rtt_min`, `rtt_avg`, `rtt_max` (read) — RTTs observed (`0s` when none), printed as
    ///   Click prints microseconds (`250us`, `1.5s`).
    ///
    /// # Example
    /// ```text
    /// ICMPPingSource(10.0.0.1, 10.0.0.2, INTERVAL 0.2, LIMIT 5) -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> ToDevice(eth0);
    /// ```
    pub const ICMP_PING_SOURCE = "ICMPPingSource" { ports: "0-1/1", processing: "h/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("active", Combine::First, "whether pings are sent"),
    HandlerSpec::read_write("src", Combine::First, "the source address"),
    HandlerSpec::read_write("dst", Combine::First, "the destination address"),
    HandlerSpec::read("count", Combine::Sum, "pings sent"),
    HandlerSpec::write("limit", "sets LIMIT"),
    HandlerSpec::write("interval", "sets INTERVAL"),
    HandlerSpec::write("reset_counts", "resets the counters"),
    HandlerSpec::read("summary", Combine::First, "ping(1)-style summary"),
    HandlerSpec::read("rtt_min", Combine::First, "smallest RTT"),
    HandlerSpec::read("rtt_avg", Combine::First, "average RTT"),
    HandlerSpec::read("rtt_max", Combine::First, "largest RTT"),
];

/// Click's `SecondsArg(3)`: milliseconds, rounded to nearest.
fn parse_ms(s: &str) -> Result<u32, String> {
    let d = Duration::from_arg(s)?;
    let ms = (d.as_nanos() + 500_000) / 1_000_000;
    u32::try_from(ms).map_err(|_| format!("time '{s}' out of range"))
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let src = args.read_mp::<Ipv4Addr>("SRC")?;
    let dst = args.read_mp::<Ipv4Addr>("DST")?;
    let interval = match args.read_kw::<String>("INTERVAL")? {
        Some(s) => parse_ms(&s).map_err(|e| ConfigError(format!("INTERVAL: {e}")))?,
        None => 1000,
    };
    let ident = args.read_kw::<u16>("IDENTIFIER")?.unwrap_or(0);
    let data = args.read_kw::<Bytes>("DATA")?.map_or_else(Vec::new, |b| b.0);
    let limit = args.read_kw::<i32>("LIMIT")?.unwrap_or(-1);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let verbose = args.read_kw::<bool>("VERBOSE")?.unwrap_or(true);
    let stop = args.read_kw::<bool>("STOP")?.unwrap_or(false);
    args.finish()?;
    if data.len() > 65535 - 28 {
        return Err("DATA too long for one IP packet".into());
    }
    let receiver = (ctx.ninputs > 0).then(Receiver::new);
    Ok(Box::new(ICMPPingSource {
        name: ctx.name.clone(),
        src,
        dst,
        interval,
        ident,
        data,
        limit,
        active,
        verbose,
        stop,
        count: 0,
        sender: ctx.worker == 0,
        next: None,
        receiver,
    }))
}

/// Reply statistics (Click's `ReceiverInfo`).
struct Receiver {
    nreceived: i64,
    nduplicate: i64,
    time_min: u32,
    time_max: u32,
    time_sum: u64,
    time_sq_sum: u64,
    /// Send time of each sequence number in ns; negated once a reply came; 0: never sent.
    send_ts: Box<[i64]>,
}

impl Receiver {
    fn new() -> Receiver {
        Receiver {
            nreceived: 0,
            nduplicate: 0,
            time_min: 0,
            time_max: 0,
            time_sum: 0,
            time_sq_sum: 0,
            send_ts: vec![0; 65536].into_boxed_slice(),
        }
    }
}

/// The element: its arguments, the count, the timer, and the reply statistics.
pub struct ICMPPingSource {
    name: String,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    /// Milliseconds.
    interval: u32,
    ident: u16,
    data: Vec<u8>,
    limit: i32,
    active: bool,
    verbose: bool,
    stop: bool,
    count: i32,
    /// Only worker 0 sends.
    sender: bool,
    /// When the timer fires next; `None` until the task first runs (or after a restart).
    next: Option<Instant>,
    receiver: Option<Receiver>,
}

/// Click's `cp_unparse_microseconds`.
fn unparse_us(us: u64) -> String {
    if us > 0 && us < 1000 {
        return format!("{us}us");
    }
    let (int, frac) = (us / 1_000_000, us % 1_000_000);
    if frac == 0 {
        format!("{int}s")
    } else {
        format!("{int}.{}s", format!("{frac:06}").trim_end_matches('0'))
    }
}

/// Integer square root, as Click's `int_sqrt`.
fn int_sqrt(x: u64) -> u64 {
    let mut r = (x as f64).sqrt() as u64;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

impl ICMPPingSource {
    fn below_limit(&self) -> bool {
        self.count < self.limit || self.limit < 0
    }

    /// Click's `make_packet`.
    fn make_packet(&mut self) -> Packet {
        let total = ipv4::HEADER_LEN + icmp::HEADER_LEN + self.data.len();
        let mut p = Packet::with_room(sluice::packet::DEFAULT_HEADROOM, total, 0);
        let ip_id = (self.count as u32 % 0xffff) as u16 + 1;
        let d = p.data_mut();
        d[..ipv4::HEADER_LEN + icmp::HEADER_LEN].fill(0);
        d[ipv4::HEADER_LEN + icmp::HEADER_LEN..].copy_from_slice(&self.data);
        let repr = ipv4::Repr {
            src_addr: self.src,
            dst_addr: self.dst,
            protocol: 1,
            payload_len: total - ipv4::HEADER_LEN,
            ttl: 200,
            tos: 0,
            ident: ip_id,
            flags_frag: 0,
        };
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut d[..ipv4::HEADER_LEN]));
        let seg = &mut d[ipv4::HEADER_LEN..];
        let mut e = icmp::Packet::new_unchecked(&mut *seg);
        e.set_msg_type(icmp::msg_type::ECHO_REQUEST);
        e.set_msg_code(0);
        // Host byte order, as Click on Linux stores them (see the documentation).
        e.set_rest_of_header([
            self.ident.to_le_bytes()[0],
            self.ident.to_le_bytes()[1],
            ip_id.to_le_bytes()[0],
            ip_id.to_le_bytes()[1],
        ]);
        let c = checksum::in_cksum(seg);
        seg[2..4].copy_from_slice(&c.to_be_bytes());
        let now = now_ns();
        p.anno_mut().dst_ip = self.dst.octets();
        p.anno_mut().timestamp_ns = now;
        p.set_network_header(0, ipv4::HEADER_LEN);
        if let Some(r) = &mut self.receiver {
            // Click indexes by the raw (host order) sequence field, which is ip_id here.
            r.send_ts[ip_id as usize] = now as i64;
        }
        p
    }

    /// Click's `push` on input 0, for one packet.
    fn receive(&mut self, p: &Packet) {
        let Some(r) = &mut self.receiver else { return };
        let (Some(nh), Some(th)) = (p.network_header(), p.transport_header()) else { return };
        let Ok(ip) = ipv4::Packet::new_fixed(nh) else { return };
        if ip.protocol() != 1 || th.len() < icmp::HEADER_LEN {
            return;
        }
        let rest = [th[4], th[5], th[6], th[7]];
        let (ident, seq) = (u16::from_le_bytes([rest[0], rest[1]]), u16::from_le_bytes([rest[2], rest[3]]));
        if th[0] != icmp::msg_type::ECHO_REPLY || ident != self.ident {
            return;
        }
        let send = &mut r.send_ts[seq as usize];
        if *send == 0 {
            return;
        }
        if *send < 0 {
            r.nduplicate += 1;
            *send = -*send;
        }
        let ts = p.anno().timestamp_ns;
        let diffval = if ts != 0 {
            let diff = ((ts as i64 - *send) / 1000) as u32;
            if diff < r.time_min || r.nreceived == 0 {
                r.time_min = diff;
            }
            if diff > r.time_max || r.nreceived == 0 {
                r.time_max = diff;
            }
            r.time_sum += u64::from(diff);
            r.time_sq_sum += u64::from(diff) * u64::from(diff);
            diff
        } else {
            0
        };
        r.nreceived += 1;
        *send = -*send;
        if self.verbose {
            let len = (ip.total_len() as i64) - (ip.header_len() as i64) - icmp::HEADER_LEN as i64;
            eprintln!(
                "{}: {} bytes from {}: icmp_seq={} ttl={} time={}.{:03} ms",
                self.name,
                len,
                ip.src_addr(),
                seq,
                ip.ttl(),
                diffval / 1000,
                diffval % 1000
            );
        }
    }

    fn summary(&self) -> String {
        let Some(r) = &self.receiver else {
            return format!("{} packets transmitted, 0 received", self.count);
        };
        let count = i64::from(self.count);
        let mut s = format!("{} packets transmitted, {} received", count, r.nreceived - r.nduplicate);
        if r.nduplicate != 0 {
            s.push_str(&format!(", +{} duplicates", r.nduplicate));
        }
        if count != 0 {
            s.push_str(&format!(", {}% packet loss\n", ((count - r.nreceived - r.nduplicate) * 100) / count));
        }
        if r.nreceived != 0 {
            let n = r.nreceived as u64;
            let avg = r.time_sum / n;
            let avg_sq = r.time_sq_sum / n;
            let stdev = int_sqrt(avg_sq.saturating_sub(avg * avg));
            s.push_str(&format!(
                "rtt min/avg/max/mdev = {}.{:03}/{}.{:03}/{}.{:03}/{}.{:03}\n",
                r.time_min / 1000,
                r.time_min % 1000,
                avg / 1000,
                avg % 1000,
                r.time_max / 1000,
                r.time_max % 1000,
                stdev / 1000,
                stdev % 1000
            ));
        }
        s
    }

    fn restart_timer(&mut self) {
        self.next = None;
    }
}

impl Element for ICMPPingSource {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        if self.sender && ctx.output_push.first().copied().unwrap_or(true) {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if !self.active {
            self.next = None;
            return TaskStatus::Idle;
        }
        if !self.below_limit() {
            self.next = None;
            return TaskStatus::Done;
        }
        let now = Instant::now();
        let step = Duration::from_millis(u64::from(self.interval));
        let mut due = *self.next.get_or_insert(now + step);
        if now < due {
            // Waiting, not Idle: with an input this is not a source, and the router must
            // not end while pings are still due.
            return TaskStatus::Waiting;
        }
        let mut batch = Batch::new();
        let mut stop = false;
        while now >= due && batch.len() < MAX_BATCH && self.below_limit() {
            let _ = batch.push(self.make_packet());
            self.count += 1;
            due += step;
            if !self.below_limit() {
                stop = self.stop;
            }
            if step.is_zero() {
                break;
            }
        }
        self.next = Some(due);
        ctx.push(0, batch);
        if stop {
            ctx.request_stop();
        }
        if self.below_limit() {
            TaskStatus::Busy
        } else {
            TaskStatus::Done
        }
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = Batch::new();
        if !self.sender {
            return batch;
        }
        for _ in 0..max.min(MAX_BATCH) {
            if self.below_limit() {
                let _ = batch.push(self.make_packet());
                self.count += 1;
            } else {
                if self.stop {
                    ctx.request_stop();
                }
                break;
            }
        }
        batch
    }

    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        for p in batch {
            self.receive(&p);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        let r = self.receiver.as_ref();
        Some(match name {
            "active" => self.active.to_string(),
            "src" => self.src.to_string(),
            "dst" => self.dst.to_string(),
            "count" => self.count.to_string(),
            "summary" => self.summary(),
            "rtt_min" => unparse_us(r.map_or(0, |r| u64::from(r.time_min))),
            "rtt_max" => unparse_us(r.map_or(0, |r| u64::from(r.time_max))),
            "rtt_avg" => unparse_us(r.map_or(0, |r| r.time_sum / r.nreceived.max(1) as u64)),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match name {
            "active" => {
                self.active = bool::from_arg(v).map_err(|_| "type mismatch".to_string())?;
                if self.active {
                    // Click schedules the timer now.
                    self.next = Some(Instant::now());
                }
            }
            "src" => self.src = Ipv4Addr::from_arg(v).map_err(|_| "syntax error".to_string())?,
            "dst" => self.dst = Ipv4Addr::from_arg(v).map_err(|_| "syntax error".to_string())?,
            "limit" => {
                self.limit = i32::from_arg(v).map_err(|_| "'limit' should be integer".to_string())?;
                self.restart_timer();
            }
            "interval" => self.interval = parse_ms(v).map_err(|_| "'interval' should be an interval".to_string())?,
            "reset_counts" => {
                self.count = 0;
                if let Some(r) = &mut self.receiver {
                    *r = Receiver::new();
                }
                self.restart_timer();
            }
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        if self.receiver.is_some() && self.verbose && self.sender {
            eprintln!("{}: {}", self.name, self.summary());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{num, run};
    use sluice::testing::{build as build_elem, collected, new_id, run_element};

    #[test]
    fn sends_limit_pings_with_clicks_bytes() {
        let start = Instant::now();
        let (out, r) = run_element(
            &ICMP_PING_SOURCE,
            "10.0.0.1, 10.0.0.2, INTERVAL 0.01, IDENTIFIER 0x1234, LIMIT 3, STOP true, DATA \"abc\", VERBOSE false",
            1,
            Vec::new(),
        )
        .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(25));
        assert_eq!(out[0].len(), 3);
        for (i, p) in out[0].iter().enumerate() {
            let seq = i as u8 + 1;
            let d = p.data();
            assert_eq!(d.len(), 31);
            assert_eq!(&d[..10], &[0x45, 0, 0, 31, 0, seq, 0, 0, 200, 1]);
            assert_eq!(&d[12..20], &[10, 0, 0, 1, 10, 0, 0, 2]);
            assert_eq!(checksum::in_cksum(&d[..20]), 0);
            // Echo request; identifier and sequence in little-endian (Click on Linux).
            assert_eq!(&d[20..22], &[8, 0]);
            assert_eq!(&d[24..28], &[0x34, 0x12, seq, 0]);
            assert_eq!(&d[28..], b"abc");
            assert_eq!(checksum::in_cksum(&d[20..]), 0);
            assert_eq!(p.anno().dst_ip, [10, 0, 0, 2]);
            assert!(p.anno().timestamp_ns > 0);
            assert_eq!(p.network_header_offset(), Some(0));
        }
        assert_eq!(num(&r, "e", "count"), 3);
    }

    #[test]
    fn counts_replies_through_icmp_ping_responder() {
        let sink = new_id();
        let r = run(&format!(
            "s :: ICMPPingSource(10.0.0.1, 10.0.0.2, INTERVAL 0.005, LIMIT 4, STOP true, VERBOSE false) \
             -> t :: Tee -> ICMPPingResponder -> s; t[1] -> Collect(ID {sink});"
        ));
        assert_eq!(collected(sink).len(), 4);
        let summary = r.read_handler("s", "summary").unwrap();
        assert!(
            summary.starts_with("4 packets transmitted, 4 received, 0% packet loss\nrtt min/avg/max/mdev = "),
            "{summary}"
        );
        assert!(r.read_handler("s", "rtt_max").unwrap().ends_with('s'));
    }

    #[test]
    fn pull_output_makes_a_ping_per_pull() {
        let sink = new_id();
        let r = run(&format!(
            "s :: ICMPPingSource(1.1.1.1, 2.2.2.2, INTERVAL 100, LIMIT 5, STOP true) -> Unqueue -> Collect(ID {sink});"
        ));
        let got = collected(sink);
        assert_eq!(got.len(), 5);
        let ids: Vec<u8> = got.iter().map(|p| p.data()[5]).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert_eq!(num(&r, "s", "count"), 5);
    }

    #[test]
    fn handlers_and_bad_configurations() {
        let mut e = build_elem(&ICMP_PING_SOURCE, "1.1.1.1, 2.2.2.2", 0, 1).unwrap();
        assert_eq!(e.read_handler("active").unwrap(), "true");
        assert_eq!(e.read_handler("dst").unwrap(), "2.2.2.2");
        e.write_handler("dst", "3.3.3.3").unwrap();
        assert_eq!(e.read_handler("dst").unwrap(), "3.3.3.3");
        assert!(e.write_handler("src", "x").is_err());
        e.write_handler("active", "false").unwrap();
        assert_eq!(e.read_handler("active").unwrap(), "false");
        assert!(e.write_handler("limit", "many").is_err());
        e.write_handler("interval", "250ms").unwrap();
        assert_eq!(e.read_handler("rtt_min").unwrap(), "0s");
        assert_eq!(e.read_handler("count").unwrap(), "0");
        assert_eq!(unparse_us(250), "250us");
        assert_eq!(unparse_us(1_500_000), "1.5s");
        assert_eq!(unparse_us(1_234), "0.001234s");
        for bad in ["1.1.1.1", "1.1.1.1, 2.2.2.2, MIRROR true", "1.1.1.1, 2.2.2.2, IDENTIFIER 70000", "x, 2.2.2.2"] {
            assert!(build_elem(&ICMP_PING_SOURCE, bad, 0, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn click_alias_builds() {
        let text = "ICMPSendPings(1.1.1.1, 2.2.2.2, INTERVAL 0.001, LIMIT 1, STOP true) -> Discard;";
        sluice::load::plan_str("<expr>", text, &[], &crate::registry(), std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

//! `FromDump`: reads packets from a pcap or pcapng capture file.

use super::capture::{force_ip, force_ipable, is_raw_ip, unparse_encap, CaptureReader};
use super::set_extra_length_anno;
use sluice::args::{Args, FromArg};
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

sluice::element_class! {
    /// FromDump(FILENAME [, TIMING, KEYWORDS])
    ///
    /// Reads packets from a pcap or pcapng capture file.
    ///
    /// Reads packets from a file produced by `tcpdump -w FILENAME`, Wireshark or ToDump and
    /// emits them from output 0, optionally stopping the router when there are no more
    /// packets. FILENAME `-` means standard input. Reads pcap files in either byte order
    /// with microsecond or nanosecond timestamps (and the old "modified" pcap variant),
    /// and pcapng files (Enhanced, Simple and obsolete Packet Blocks; several interfaces,
    /// each with its own link type and timestamp resolution; several sections).
    ///
    /// Each packet gets its capture timestamp as timestamp annotation, and as extra length
    /// annotation the bytes the capture did not keep (original length − captured length).
    /// Records cut by the capture's snap length are emitted with the bytes the file holds,
    /// as Click does, and counted (`truncated`). A file damaged in the middle of a record
    /// ends the input there; the problem is logged and counted (`errors`).
    ///
    /// As a push source, FromDump runs as a task that emits up to BURST packets per run.
    /// As a pull element it answers each pull with up to the requested number of packets.
    /// The file is opened when the router is initialized. With several workers, only
    /// worker 0 reads the file; the instances on other workers emit nothing.
    ///
    /// Ports: no inputs; 1 or 2 outputs. Output 0 is agnostic; output 1, if present, is
    /// push and receives the packets FORCE_IP rejects.
    ///
    /// Keyword arguments:
    ///
    /// - `STOP` (boolean): ask the router to stop at the end of the file (or when the END
    ///   time is reached). Default false.
    /// - `TIMING` (boolean): keep the timing of the original packet stream: the first
    ///   packet is emitted at once, later ones keep their delays from it. Default false.
    /// - `SAMPLE` (real between 0 and 1): emit each packet with this probability.
    ///   Default 1. Fixed-point arithmetic, as in Click (see `sampling_prob`).
    /// - `FORCE_IP` (boolean): emit only IP packets, with their network header annotation
    ///   set on the IP header (and the destination IP annotation for IPv4); others go to
    ///   output 1 if it exists, or are dropped. Understands the link types Ethernet (with
    ///   one 802.1Q tag), raw IP, Linux cooked (v1 and v2), BSD loopback, Cisco HDLC and
    ///   PPP. Files of raw IP link type always behave as if FORCE_IP were true. Default false.
    /// - `START` (time since the epoch): emit packets with timestamps from that time on.
    /// - `START_AFTER` (time): skip the first T seconds of the capture.
    /// - `END` (time since the epoch): stop at the first packet at or after that time.
    /// - `END_AFTER` (time): stop at the first packet at least T after the first
    ///   timestamp of the capture.
    /// - `INTERVAL` (time): stop at the first packet at least T after the start time
    ///   (START, START_AFTER, or the first timestamp).
    /// - `ACTIVE` (boolean): if false, emit nothing until the `active` handler is set to
    ///   true. Default true.
    /// - `FILEPOS` (integer): start reading records at this file position (pcap only).
    /// - `BURST` (integer): packets emitted per task run in push mode. Default 32.
    /// - `MMAP` (boolean): accepted and ignored (reading is buffered).
    ///
    /// At most one of START and START_AFTER, and one of END, END_AFTER and INTERVAL may be
    /// given; a zero time counts as not given, as in Click. Reaching the END time ends the input: with STOP the router stops, otherwise
    /// FromDump just emits nothing more.
    ///
    /// Handlers:
    ///
    /// - `count` (read): packets emitted on output 0 so far.
    /// - `reset_counts` (write): reset `count`, `truncated` and `errors` to 0.
    /// - `filename` (read): the FILENAME argument.
    /// - `filesize` (read): the file's size in bytes, or `-` when unknown (standard input).
    /// - `filepos` (read): the position in the file, in bytes.
    /// - `packet_filepos` (read): the file position of the last packet read.
    /// - `encap` (read): the file's link type by Click's name (`ETHER`, `IP`, ...); for
    ///   pcapng, that of the first interface.
    /// - `sampling_prob` (read): the sampling probability actually used.
    /// - `active` (read/write): whether FromDump emits packets.
    /// - `truncated` (read): records whose captured length was less than their length.
    /// - `errors` (read): damaged records met (0 or 1 that ended the input, plus pcapng
    ///   packets skipped for naming an unknown interface).
    ///
    /// Differences from Click: gzip/bzip2-compressed files are not read; END_CALL is not
    /// supported; FORCE_IP does not know FDDI, ATM and 802.11 link types (it refuses them
    /// for pcap files; in pcapng files, their packets count as non-IP); the `active`
    /// handler cannot resume a FromDump whose END time was reached.
    ///
    /// # Example
    /// ```text
    /// FromDump(trace.pcap, STOP true, FORCE_IP true) -> Counter -> Discard;
    /// ```
    pub const FROM_DUMP = "FromDump" { ports: "0/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets emitted on output 0 so far"),
    HandlerSpec::write("reset_counts", "reset count, truncated and errors to 0"),
    HandlerSpec::read("filename", Combine::First, "the file name given"),
    HandlerSpec::read("filesize", Combine::First, "the file's size in bytes, or '-'"),
    HandlerSpec::read("filepos", Combine::First, "the position in the file, in bytes"),
    HandlerSpec::read("packet_filepos", Combine::First, "file position of the last packet read"),
    HandlerSpec::read("encap", Combine::First, "the file's link type (ETHER, IP, ...)"),
    HandlerSpec::read("sampling_prob", Combine::First, "the sampling probability used"),
    HandlerSpec::read_write("active", Combine::First, "whether packets are emitted (boolean)"),
    HandlerSpec::read("truncated", Combine::Sum, "records whose captured length was less than their length"),
    HandlerSpec::read("errors", Combine::Sum, "damaged records met"),
];

/// Bits of the fixed-point sampling probability (Click's `SAMPLING_SHIFT`).
const SAMPLING_SHIFT: u32 = 28;
const SAMPLING_ONE: u32 = 1 << SAMPLING_SHIFT;

#[derive(Clone, Copy, Debug)]
enum Start {
    At(u64),
    After(u64),
}

#[derive(Clone, Copy, Debug)]
enum End {
    At(u64),
    After(u64),
    Interval(u64),
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let filename: String = args.read_mp("FILENAME")?;
    // Keywords before the optional positional TIMING, so that a lone flag such as `STOP`
    // is taken as the keyword it names.
    let stop = args.read_kw::<bool>("STOP")?.unwrap_or(false);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let sample = args.read_kw::<f64>("SAMPLE")?;
    let force_ip = args.read_kw::<bool>("FORCE_IP")?.unwrap_or(false);
    let start = args.read_kw::<Duration>("START")?;
    let start_after = args.read_kw::<Duration>("START_AFTER")?;
    let end = args.read_kw::<Duration>("END")?;
    let end_after = args.read_kw::<Duration>("END_AFTER")?;
    let interval = args.read_kw::<Duration>("INTERVAL")?;
    let end_call = args.read_kw::<String>("END_CALL")?;
    let filepos = args.read_kw::<u64>("FILEPOS")?.unwrap_or(0);
    let burst = args.read_kw::<usize>("BURST")?.unwrap_or(32);
    let _mmap = args.read_kw::<bool>("MMAP")?;
    let timing = args.read_p::<bool>("TIMING")?.unwrap_or(false);
    args.finish()?;

    if filename.is_empty() {
        return Err("FILENAME must not be empty".into());
    }
    if end_call.is_some() {
        return Err("END_CALL is not supported yet (use STOP, or read the 'count' handler)".into());
    }
    if burst == 0 {
        return Err("BURST must be at least 1".into());
    }
    let sampling = match sample {
        None => SAMPLING_ONE,
        Some(s) if s < 0.0 => return Err(format!("SAMPLE must be between 0 and 1, not {s}").into()),
        Some(s) if s > 1.0 => {
            tracing::warn!("FromDump '{}': SAMPLE probability reduced to 1", ctx.name);
            SAMPLING_ONE
        }
        Some(s) => {
            if s == 0.0 {
                tracing::warn!("FromDump '{}': SAMPLE probability is 0; emitting no packets", ctx.name);
            }
            (s * f64::from(SAMPLING_ONE)).round() as u32
        }
    };
    // As in Click, a zero time counts as not given.
    let given = |t: Option<Duration>| t.filter(|d| !d.is_zero());
    let (start, start_after, end, end_after, interval) =
        (given(start), given(start_after), given(end), given(end_after), given(interval));
    let start = match (start, start_after) {
        (Some(_), Some(_)) => return Err("START and START_AFTER are mutually exclusive".into()),
        (Some(t), None) => Some(Start::At(ns(t))),
        (None, Some(t)) => Some(Start::After(ns(t))),
        (None, None) => None,
    };
    let end = match (end, end_after, interval) {
        (Some(t), None, None) => Some(End::At(ns(t))),
        (None, Some(t), None) => Some(End::After(ns(t))),
        (None, None, Some(t)) => Some(End::Interval(ns(t))),
        (None, None, None) => None,
        _ => return Err("END, END_AFTER, and INTERVAL are mutually exclusive".into()),
    };
    Ok(Box::new(FromDump {
        path: ctx.path(&filename),
        filename,
        timing,
        stop,
        active,
        sampling,
        force_ip,
        start,
        end,
        filepos,
        burst,
        noutputs: ctx.noutputs,
        reader: None,
        finished: false,
        times_ready: false,
        first_time: None,
        last_time: None,
        timing_base: None,
        pending: None,
        count: 0,
        truncated: 0,
        errors: 0,
        packet_filepos: 0,
        end_pos: 0,
        encap: None,
        skipped_bad: 0,
        rng: seed(),
    }))
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (t ^ 0x9E37_79B9_7F4A_7C15) | 1
}

/// What reading produced.
enum Read {
    Packet(Packet, u32),
    /// End of the input: end of file, a damaged record, or the END time.
    End,
}

/// How a run of [`FromDump::produce`] stopped.
enum Flow {
    /// Filled what was asked (or examined enough records for one run).
    More,
    /// TIMING: the next packet is not due yet.
    Wait,
    /// No more packets, ever.
    End,
}

/// The element itself.
pub struct FromDump {
    filename: String,
    path: PathBuf,
    timing: bool,
    stop: bool,
    active: bool,
    /// Fixed-point probability, `SAMPLING_ONE` = always.
    sampling: u32,
    force_ip: bool,
    start: Option<Start>,
    end: Option<End>,
    filepos: u64,
    burst: usize,
    noutputs: usize,
    reader: Option<CaptureReader>,
    /// The input has ended (or this worker does not read).
    finished: bool,
    /// START/END are resolved against the first timestamp.
    times_ready: bool,
    /// Skip packets before this time (until one passes).
    first_time: Option<u64>,
    /// End at the first packet at or after this time.
    last_time: Option<u64>,
    /// TIMING: when the first packet was emitted, and its timestamp.
    timing_base: Option<(Instant, u64)>,
    /// TIMING: a packet read but not due yet, with its link type.
    pending: Option<(Packet, u32)>,
    count: u64,
    truncated: u64,
    errors: u64,
    packet_filepos: u64,
    /// Where reading stopped, once the file is closed.
    end_pos: u64,
    /// The first link type seen (the `encap` handler).
    encap: Option<u32>,
    /// Unusable records skipped by readers already closed.
    skipped_bad: u64,
    rng: u64,
}

impl FromDump {
    /// 28 random bits (xorshift64*).
    fn random28(&mut self) -> u32 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 36) as u32
    }

    /// Click's `prepare_times`, at the first record.
    fn prepare_times(&mut self, ts: u64) {
        self.first_time = self.start.map(|s| match s {
            Start::At(t) => t,
            Start::After(d) => ts.saturating_add(d),
        });
        self.last_time = self.end.map(|e| match e {
            End::At(t) => t,
            End::After(d) => ts.saturating_add(d),
            End::Interval(d) => self.first_time.unwrap_or(ts).saturating_add(d),
        });
        self.times_ready = true;
    }

    fn fail(&mut self, e: String) {
        self.errors += 1;
        tracing::warn!("FromDump({}): {e}", self.filename);
        self.close();
    }

    /// Close the file, remembering where reading stopped.
    fn close(&mut self) {
        if let Some(r) = self.reader.take() {
            self.end_pos = r.pos();
            self.skipped_bad += r.skipped_bad;
        }
    }

    /// The next packet to emit (before TIMING and FORCE_IP), or the end of the input.
    fn read_next(&mut self) -> Read {
        loop {
            let Some(reader) = self.reader.as_mut() else { return Read::End };
            let h = match reader.next_header() {
                Ok(Some(h)) => h,
                Ok(None) => {
                    self.close();
                    return Read::End;
                }
                Err(e) => {
                    self.fail(e);
                    return Read::End;
                }
            };
            self.packet_filepos = h.filepos;
            if !self.times_ready {
                self.prepare_times(h.ts_ns);
            }
            let skip = if let Some(first) = self.first_time {
                if h.ts_ns < first {
                    true
                } else {
                    self.first_time = None;
                    false
                }
            } else {
                false
            };
            self.encap.get_or_insert(h.linktype);
            if !skip && self.last_time.is_some_and(|last| h.ts_ns >= last) {
                self.close();
                return Read::End;
            }
            let sampled_out = !skip && self.sampling < SAMPLING_ONE && self.random28() >= self.sampling;
            let reader = self.reader.as_mut().expect("reader present");
            if skip || sampled_out {
                if let Err(e) = reader.skip_data(&h) {
                    self.fail(e);
                    return Read::End;
                }
                continue;
            }
            let mut p = match reader.read_data(&h) {
                Ok(p) => p,
                Err(e) => {
                    self.fail(e);
                    return Read::End;
                }
            };
            if h.caplen < h.orig_len {
                self.truncated += 1;
            }
            p.anno_mut().timestamp_ns = h.ts_ns;
            set_extra_length_anno(&mut p, h.orig_len - h.caplen);
            return Read::Packet(p, h.linktype);
        }
    }

    /// TIMING: whether a packet with timestamp `ts` may go now.
    fn due(&mut self, ts: u64) -> bool {
        let now = Instant::now();
        let (base, base_ts) = *self.timing_base.get_or_insert((now, ts));
        now >= base + Duration::from_nanos(ts.saturating_sub(base_ts))
    }

    /// Emit up to `max` packets into `out0` (and FORCE_IP rejects into `out1`).
    fn produce(&mut self, max: usize, out0: &mut Batch, out1: &mut Batch) -> Flow {
        // Bound the records looked at per call, so that a file of filtered-out packets
        // still lets the scheduler run other tasks.
        let mut budget = max.saturating_mul(16).max(16);
        while out0.len() < max && !out1.is_full() && budget > 0 {
            budget -= 1;
            let (mut p, lt) = match self.pending.take() {
                Some(x) => x,
                None => match self.read_next() {
                    Read::Packet(p, lt) => (p, lt),
                    Read::End => return Flow::End,
                },
            };
            if self.timing && !self.due(p.anno().timestamp_ns) {
                self.pending = Some((p, lt));
                return Flow::Wait;
            }
            if (self.force_ip || is_raw_ip(lt)) && !force_ip(&mut p, lt) {
                if self.noutputs > 1 {
                    let _ = out1.push(p);
                }
                continue;
            }
            let _ = out0.push(p);
            self.count += 1;
        }
        Flow::More
    }

    fn finish(&mut self, mut ctx: Ctx<'_>) {
        self.finished = true;
        self.close();
        self.pending = None;
        if self.stop {
            ctx.request_stop();
        }
    }
}

impl Element for FromDump {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        if ctx.output_push.first().copied().unwrap_or(true) {
            ctx.schedule_task();
        }
        if ctx.worker != 0 {
            self.finished = true;
            return Ok(());
        }
        let mut reader = CaptureReader::open(&self.path, &self.filename)?;
        if self.force_ip && !reader.is_pcapng() {
            if let Some(lt) = reader.linktypes().into_iter().find(|&lt| !force_ipable(lt)) {
                return Err(format!(
                    "'{}': unknown link type {lt} ({}); can't force IP packets",
                    self.filename,
                    unparse_encap(lt)
                ));
            }
        }
        if self.filepos != 0 {
            if reader.is_pcapng() {
                return Err(format!("'{}': FILEPOS is supported for pcap files only", self.filename));
            }
            reader.seek_forward(self.filepos).map_err(|e| format!("'{}': {e}", self.filename))?;
        }
        self.encap = reader.linktypes().first().copied();
        self.reader = Some(reader);
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if self.finished {
            return TaskStatus::Done;
        }
        if !self.active {
            return TaskStatus::Idle;
        }
        let mut left = self.burst;
        let mut moved = false;
        while left > 0 {
            let want = left.min(MAX_BATCH);
            let (mut out0, mut out1) = (Batch::new(), Batch::new());
            let flow = self.produce(want, &mut out0, &mut out1);
            let got = out0.len();
            moved |= got > 0 || !out1.is_empty();
            ctx.push(0, out0);
            if !out1.is_empty() {
                ctx.push(1, out1);
            }
            match flow {
                Flow::End => {
                    self.finish(ctx);
                    return TaskStatus::Done;
                }
                Flow::Wait => break,
                Flow::More if got < want => {
                    // The look budget ran out or output 1 filled: let others run.
                    moved = true;
                    break;
                }
                Flow::More => left -= got,
            }
        }
        if moved {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut out0 = Batch::new();
        if self.finished || !self.active {
            return out0;
        }
        let mut out1 = Batch::new();
        let flow = self.produce(max.clamp(1, MAX_BATCH), &mut out0, &mut out1);
        if !out1.is_empty() {
            ctx.push(1, out1);
        }
        if let Flow::End = flow {
            self.finish(ctx);
        }
        out0
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        let r = self.reader.as_ref();
        Some(match name {
            "count" => self.count.to_string(),
            "filename" => self.filename.clone(),
            "filesize" => match std::fs::metadata(&self.path) {
                Ok(m) if self.filename != "-" && m.is_file() => m.len().to_string(),
                _ => "-".to_string(),
            },
            "filepos" => r.map_or(self.end_pos, CaptureReader::pos).to_string(),
            "packet_filepos" => self.packet_filepos.to_string(),
            "encap" => self.encap.map_or_else(|| "<none>".to_string(), unparse_encap),
            "sampling_prob" => (f64::from(self.sampling) / f64::from(SAMPLING_ONE)).to_string(),
            "active" => self.active.to_string(),
            "truncated" => self.truncated.to_string(),
            "errors" => (self.errors + self.skipped_bad + r.map_or(0, |r| r.skipped_bad)).to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "active" => {
                self.active = bool::from_arg(value.trim()).map_err(|e| format!("active: {e}"))?;
                Ok(())
            }
            "reset_counts" => {
                self.count = 0;
                self.truncated = 0;
                self.errors = 0;
                self.skipped_bad = 0;
                if let Some(r) = self.reader.as_mut() {
                    r.skipped_bad = 0;
                }
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_element, run_element};

    fn pcap(name: &str) -> String {
        format!("\"{}/../../shared/data/pcaps/{name}\"", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn reads_every_packet_with_timestamps() {
        let (out, router) = run_element(&FROM_DUMP, &pcap("snabb__v4.pcap"), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 43);
        assert_eq!(router.read_handler("e", "count").unwrap(), "43");
        assert_eq!(router.read_handler("e", "truncated").unwrap(), "0");
        assert_eq!(router.read_handler("e", "errors").unwrap(), "0");
        assert_eq!(router.read_handler("e", "encap").unwrap(), "ETHER");
        assert!(out[0].iter().all(|p| p.anno().timestamp_ns > 1_000_000_000 * 1_000_000_000));
        let ts: Vec<u64> = out[0].iter().map(|p| p.anno().timestamp_ns).collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn burst_of_one_and_of_more_than_a_batch_read_the_same() {
        for burst in [1, 7, 200] {
            let cfg = format!("{}, BURST {burst}", pcap("snabb__v4.pcap"));
            let (out, _) = run_element(&FROM_DUMP, &cfg, 1, vec![]).unwrap();
            assert_eq!(out[0].len(), 43, "BURST {burst}");
        }
    }

    #[test]
    fn snapped_capture_reads_whole() {
        // This file's records were cut to 128 bytes with both lengths rewritten
        // (caplen == len); truncated records proper are tested with a file ToDump writes.
        let (out, router) = run_element(&FROM_DUMP, &pcap("snabb__sanitized4k_truncated128.pcap"), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 4096);
        assert!(out[0].iter().all(|p| p.len() <= 128));
        assert_eq!(router.read_handler("e", "truncated").unwrap(), "0");
        assert!(out[0].iter().all(|p| super::super::extra_length_anno(p) == 0));
        let size = std::fs::metadata(pcap("snabb__sanitized4k_truncated128.pcap").trim_matches('"')).unwrap().len();
        assert_eq!(router.read_handler("e", "filepos").unwrap(), size.to_string());
        assert_eq!(router.read_handler("e", "filesize").unwrap(), size.to_string());
    }

    #[test]
    fn force_ip_sets_the_network_header() {
        // All 802.1Q-tagged: the IP header is at 18.
        let cfg = format!("{}, FORCE_IP true", pcap("snabb__sanitized4k.pcap"));
        let (out, _) = run_element(&FROM_DUMP, &cfg, 1, vec![]).unwrap();
        assert!(!out[0].is_empty());
        for p in &out[0] {
            assert_eq!(p.network_header_offset(), Some(18));
            let v = p.network_header().unwrap()[0] >> 4;
            assert!(v == 4 || v == 6);
        }
    }

    #[test]
    fn force_ip_with_two_outputs_sends_non_ip_to_output_1() {
        let mut ip = vec![0u8; 14 + 20];
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        ip[14] = 0x45;
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let recs: Vec<(u64, Vec<u8>)> =
            (0..100).map(|i| (i, if i % 3 == 0 { arp.clone() } else { ip.clone() })).collect();
        let file = write_pcap("mixed.pcap", &recs);
        let (out, router) = run_element(&FROM_DUMP, &format!("{file}, FORCE_IP true"), 2, vec![]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (66, 34));
        assert_eq!(router.read_handler("e", "count").unwrap(), "66");
        assert!(out[0].iter().all(|p| p.network_header_offset() == Some(14)));
        assert!(out[1].iter().all(|p| p.network_header_offset().is_none() && p.len() == 42));
        // With one output, non-IP packets are dropped; without FORCE_IP all pass.
        let (out, _) = run_element(&FROM_DUMP, &format!("{file}, FORCE_IP true"), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 66);
        let (out, _) = run_element(&FROM_DUMP, &file, 2, vec![]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (100, 0));
        // Click does not look inside vendor tags: all of this file is "non-IP".
        let (out, _) =
            run_element(&FROM_DUMP, &format!("{}, FORCE_IP true", pcap("tcpdump__arista_ether.pcap")), 2, vec![])
                .unwrap();
        assert_eq!((out[0].len(), out[1].len()), (0, 16));
    }

    #[test]
    fn sample_zero_emits_nothing_and_sample_one_everything() {
        let (out, router) =
            run_element(&FROM_DUMP, &format!("{}, SAMPLE 0", pcap("snabb__v4.pcap")), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 0);
        assert_eq!(router.read_handler("e", "sampling_prob").unwrap(), "0");
        let (out, _) =
            run_element(&FROM_DUMP, &format!("{}, SAMPLE 0.5", pcap("snabb__sanitized4k.pcap")), 1, vec![]).unwrap();
        assert!(out[0].len() > 1500 && out[0].len() < 2600, "{}", out[0].len());
    }

    #[test]
    fn start_and_end_times_select_a_window() {
        let (all, _) = run_element(&FROM_DUMP, &pcap("snabb__v4.pcap"), 1, vec![]).unwrap();
        let ts: Vec<u64> = all[0].iter().map(|p| p.anno().timestamp_ns).collect();
        let first = ts[0];
        let mid = ts[20];
        let secs = |t: u64| format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000);
        let cfg = format!("{}, START {}", pcap("snabb__v4.pcap"), secs(mid));
        let (out, _) = run_element(&FROM_DUMP, &cfg, 1, vec![]).unwrap();
        assert_eq!(out[0].len(), ts.iter().filter(|&&t| t >= mid).count());
        let cfg = format!("{}, END {}", pcap("snabb__v4.pcap"), secs(mid));
        let (out, _) = run_element(&FROM_DUMP, &cfg, 1, vec![]).unwrap();
        assert_eq!(out[0].len(), ts.iter().take_while(|&&t| t < mid).count());
        let after = mid - first;
        let cfg = format!("{}, END_AFTER {}ns", pcap("snabb__v4.pcap"), after);
        let (out2, _) = run_element(&FROM_DUMP, &cfg, 1, vec![]).unwrap();
        assert_eq!(out2[0].len(), out[0].len());
        let cfg = format!("{}, START_AFTER {after}ns, INTERVAL 1ns", pcap("snabb__v4.pcap"));
        let (out, _) = run_element(&FROM_DUMP, &cfg, 1, vec![]).unwrap();
        assert_eq!(out[0].len(), ts.iter().filter(|&&t| t == mid).count());
        // A zero time means "not given", as in Click.
        let (out, _) =
            run_element(&FROM_DUMP, &format!("{}, INTERVAL 0, START 0", pcap("snabb__v4.pcap")), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 43);
    }

    /// A little-endian microsecond pcap of Ethernet frames at the given timestamps (µs).
    fn write_pcap(name: &str, records: &[(u64, Vec<u8>)]) -> String {
        let dir = std::env::temp_dir().join(format!("sluice-fromdump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut f = super::super::capture::pcap_file_header(false, 65535, 1).to_vec();
        for (us, data) in records {
            f.extend_from_slice(&super::super::capture::pcap_record_header(
                us * 1000,
                false,
                data.len() as u32,
                data.len() as u32,
            ));
            f.extend_from_slice(data);
        }
        std::fs::write(&path, f).unwrap();
        format!("\"{}\"", path.display())
    }

    #[test]
    fn timing_keeps_the_capture_pace() {
        let t0 = 1_700_000_000_000_000u64;
        let recs: Vec<(u64, Vec<u8>)> = [0, 100_000, 250_000].iter().map(|d| (t0 + d, vec![0u8; 60])).collect();
        let file = write_pcap("timing.pcap", &recs);
        let start = Instant::now();
        let (out, _) = run_element(&FROM_DUMP, &format!("{file}, TIMING true"), 1, vec![]).unwrap();
        let took = start.elapsed();
        assert_eq!(out[0].len(), 3);
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // Positional TIMING, Click's second argument.
        let start = Instant::now();
        let (out, _) = run_element(&FROM_DUMP, &format!("{file}, true"), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 3);
        assert!(start.elapsed() >= Duration::from_millis(250));
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let e = run_element(&FROM_DUMP, "/nonexistent/nothing.pcap", 1, vec![]).err().unwrap().to_string();
        assert!(e.contains("cannot open '/nonexistent/nothing.pcap': No such file or directory"), "{e}");
        let this_file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let e = run_element(&FROM_DUMP, this_file, 1, vec![]).err().unwrap().to_string();
        assert!(e.contains(&format!("'{this_file}' is not a pcap or pcapng file")), "{e}");
    }

    #[test]
    fn configuration_errors() {
        let err = |c: &str| build_element(&FROM_DUMP, c, 0, 1).err().map(|e| e.0).unwrap_or_default();
        assert!(err("").contains("FILENAME"));
        assert!(err("x.pcap, START 1, START_AFTER 2").contains("mutually exclusive"));
        assert!(err("x.pcap, END 1, INTERVAL 2").contains("mutually exclusive"));
        assert!(err("x.pcap, END_CALL foo.stop").contains("not supported"));
        assert!(err("x.pcap, SAMPLE -1").contains("SAMPLE"));
        assert!(err("x.pcap, BURST 0").contains("BURST"));
        assert!(err("x.pcap, STOPP true").contains("STOP"));
        // Building never opens the file (so `sluice check` needs no captures).
        assert!(build_element(&FROM_DUMP, "x.pcap, STOP true, TIMING false, MMAP false, ACTIVE true", 0, 1).is_ok());
        assert!(build_element(&FROM_DUMP, "x.pcap, true", 0, 1).is_ok());
        assert!(build_element(&FROM_DUMP, "x.pcap, STOP, FORCE_IP", 0, 1).is_ok());
        assert!(build_element(&FROM_DUMP, "x.pcap, true, STOP", 0, 2).is_ok());
    }

    #[test]
    fn inactive_until_the_handler_says_so() {
        use sluice::runtime::{Router, RunOptions};
        let mut g = sluice::graph::Graph::default();
        let loc = sluice::error::Loc::new("<test>", 1, 1);
        let id = sluice::testing::new_id();
        for (name, class, config) in [
            ("e", "FromDump", format!("{}, ACTIVE false", pcap("snabb__v4.pcap"))),
            ("out", "Collect", format!("ID {id}")),
        ] {
            g.elements.push(sluice::graph::ElementDecl {
                name: name.into(),
                class: class.into(),
                config,
                loc: loc.clone(),
                config_loc: loc.clone(),
                anonymous: false,
            });
        }
        g.connections.push(sluice::graph::Connection { from: 0, from_port: 0, to: 1, to_port: 0, loc });
        let plan = sluice::testing::plan(g, &[FROM_DUMP]).unwrap();
        let router = Router::new(plan, 1).unwrap();
        assert_eq!(router.read_handler("e", "active").unwrap(), "false");
        let running = router.start(&RunOptions::default());
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(running.read_handler("e", "count").unwrap(), "0");
        running.write_handler("e", "active", "true").unwrap();
        let router = running.wait();
        assert_eq!(router.read_handler("e", "count").unwrap(), "43");
        assert_eq!(sluice::testing::collected(id).len(), 43);
    }
}

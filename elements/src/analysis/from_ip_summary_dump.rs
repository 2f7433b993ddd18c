//! `FromIPSummaryDump`: makes IP packets from the lines of an IP summary dump.

use super::fields::{
    self, extra_packets_anno, parse_ascii, parse_binary, set_extra_packets_anno, Builder, Field, FlowId, In,
    MAJOR_VERSION, MINOR_VERSION,
};
use super::{parse_contents, RawArg};
use crate::io::{extra_length_anno, set_extra_length_anno};
use crate::standard::anno::first_timestamp_anno;
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

sluice::element_class! {
    /// FromIPSummaryDump(FILENAME [, KEYWORDS])
    ///
    /// Reads packets from an IP summary dump file.
    ///
    /// Reads the packet descriptions of a file written by ToIPSummaryDump (Sluice's or
    /// Click's, ASCII or BINARY) and emits an IPv4 packet for each, with the fields the
    /// file gives set (see ToIPSummaryDump for the field names and formats) and the rest
    /// zero: version 4, a correct header length, protocol PROTO (default TCP), TTL 100. The
    /// network header annotation is set on the IP header (and the destination IP
    /// annotation), so CheckIPHeader, IPClassifier and ToDump(ENCAP IP) take the packets
    /// as they are. Packets are short: bytes the dump does not describe (a payload given
    /// only by its length, `ip_len` beyond the headers) are not there, and the extra length
    /// annotation says how many are missing, unless CHECKSUM asks for them. FILENAME `-`
    /// means standard input.
    ///
    /// The `!data` (or `!contents`) line says which fields each line holds; CONTENTS gives
    /// them for files without one. `!flowid SRC SPORT DST DPORT [PROTO]` gives default
    /// addresses and ports, `!proto P` the default protocol, `!binary` starts binary
    /// records; other `!` lines and `#` comments are ignored. A line may hold fewer fields
    /// than `!data` names (the rest count as `-`); a field written `-`, or that does not
    /// parse, is left unset. A line none of whose fields parse is dropped and counted
    /// (`drops`), as is a damaged binary record, which also ends the input. Fields the
    /// packet cannot hold (TCP fields of a UDP packet) are ignored, as in Click.
    ///
    /// As a push source it is a task emitting up to BURST packets per run; as a pull
    /// element it answers each pull. With several workers only worker 0 reads the file.
    ///
    /// Ports: no inputs; 1 output, agnostic.
    ///
    /// Keyword arguments:
    ///
    /// - `STOP` (boolean): stop the router at the end of the file. Default false.
    /// - `TIMING` (boolean): keep the packets' timestamp spacing. Default false.
    /// - `ACTIVE` (boolean): emit nothing until the `active` handler says true. Default true.
    /// - `ZERO` (boolean): accepted; bytes the dump does not set are always zero.
    /// - `CHECKSUM` (boolean): give packets all the bytes of their IP length and correct
    ///   IP, TCP, UDP and ICMP checksums. Default false (checksums are whatever the dump
    ///   says, usually 0).
    /// - `PROTO` (byte): the IP protocol when the dump gives none. Default 6 (TCP).
    /// - `MULTIPACKET` (boolean): a line whose `count` is N > 1 gives N packets, its length
    ///   divided among them, timestamps spread from `first_timestamp` to `timestamp`.
    ///   Default false.
    /// - `SAMPLE` (real between 0 and 1): emit each packet with this probability (28-bit
    ///   fixed point, as in Click). Default 1.
    /// - `CONTENTS` (string; also `FIELDS`, `DEFAULT_CONTENTS`, `DEFAULT_FIELDS`): the fields
    ///   of files without `!data`.
    /// - `FLOWID` (string; also `DEFAULT_FLOWID`): `SRC SPORT DST DPORT [PROTO]`, the default
    ///   flow (`-` leaves a part 0).
    /// - `ALLOW_NONEXISTENT` (boolean): a missing file is an empty dump. Default false.
    /// - `DATA` (string): the dump itself, instead of a FILENAME.
    /// - `BURST` (integer): packets per task run. Default 32.
    ///
    /// Handlers:
    ///
    /// - `count` (read): packets emitted.
    /// - `drops` (read), `drop_details` (read): lines and records dropped, by reason.
    /// - `sampling_prob` (read): the sampling probability used.
    /// - `active` (read/write): whether packets are emitted.
    /// - `encap` (read): `IP`.
    /// - `filesize` (read): the file's size, or `-`. `filepos` (read): bytes read so far.
    /// - `stop` (write): set `active` false and stop the router.
    ///
    /// Differences from Click: compressed files are not read; `ip_opt`, `tcp_opt`,
    /// `tcp_ntopt` and `tcp_sack` are ignored on input (with a warning), as are
    /// `payload_md5` and the link fields; ZERO false still zeroes. In Click 2.0 the
    /// `!flowid` line's addresses never reach the packets (it stores them in a member it
    /// never reads); Sluice applies them, as Click documents. Binary `ts_usec1` is read as
    /// a big-endian 64-bit number.
    ///
    /// # Example
    /// ```text
    /// FromIPSummaryDump(trace.txt, STOP true, CHECKSUM true) -> CheckIPHeader -> ToDump(out.pcap, ENCAP IP);
    /// ```
    pub const FROM_IP_SUMMARY_DUMP = "FromIPSummaryDump" { ports: "0/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets emitted"),
    HandlerSpec::read("drops", Combine::Sum, "lines and records dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
    HandlerSpec::read("sampling_prob", Combine::First, "the sampling probability used"),
    HandlerSpec::read_write("active", Combine::First, "whether packets are emitted (boolean)"),
    HandlerSpec::read("encap", Combine::First, "IP"),
    HandlerSpec::read("filesize", Combine::First, "the file's size in bytes, or '-'"),
    HandlerSpec::read("filepos", Combine::First, "bytes read so far"),
    HandlerSpec::write("stop", "stop emitting and stop the router"),
];

const DROP_REASONS: &[&str] = &["packet parse error (no field of the line parsed)", "bad binary record (input ended)"];
const PARSE_ERROR: usize = 0;
const BAD_RECORD: usize = 1;

const SAMPLING_SHIFT: u32 = 28;
const SAMPLING_ONE: u32 = 1 << SAMPLING_SHIFT;

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let filename = args.read_p::<String>("FILENAME")?;
    let stop = args.read_kw::<bool>("STOP")?.unwrap_or(false);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let _zero = args.read_kw::<bool>("ZERO")?;
    let timing = args.read_kw::<bool>("TIMING")?.unwrap_or(false);
    let checksum = args.read_kw::<bool>("CHECKSUM")?.unwrap_or(false);
    let sample = args.read_kw::<f64>("SAMPLE")?;
    let proto = args.read_kw::<u8>("PROTO")?.unwrap_or(6);
    let multipacket = args.read_kw::<bool>("MULTIPACKET")?.unwrap_or(false);
    let mut contents = None;
    for k in ["DEFAULT_CONTENTS", "DEFAULT_FIELDS", "CONTENTS", "FIELDS"] {
        if let Some(c) = args.read_kw::<RawArg>(k)? {
            contents = Some(c.0);
        }
    }
    let mut flowid = None;
    for k in ["DEFAULT_FLOWID", "FLOWID"] {
        if let Some(c) = args.read_kw::<RawArg>(k)? {
            flowid = Some(c.0);
        }
    }
    let allow_nonexistent = args.read_kw::<bool>("ALLOW_NONEXISTENT")?.unwrap_or(false);
    let data = args.read_kw::<sluice::args::Bytes>("DATA")?;
    let burst = args.read_kw::<usize>("BURST")?.unwrap_or(32);
    args.finish()?;

    let source = match (filename, data) {
        (Some(_), Some(_)) => return Err("FILENAME and DATA conflict".into()),
        (None, None) => return Err("FILENAME: required argument missing".into()),
        (Some(f), None) if f.is_empty() => return Err("FILENAME must not be empty".into()),
        (Some(f), None) => Source::File(ctx.path(&f), f),
        (None, Some(d)) => Source::Data(d.0),
    };
    if burst == 0 {
        return Err("BURST must be at least 1".into());
    }
    let sampling = match sample {
        None => SAMPLING_ONE,
        Some(s) if s < 0.0 => return Err(format!("SAMPLE must be between 0 and 1, not {s}").into()),
        Some(s) if s > 1.0 => SAMPLING_ONE,
        Some(s) => (s * f64::from(SAMPLING_ONE)).round() as u32,
    };
    let mut e = FromIPSummaryDump {
        source,
        stop,
        active,
        timing,
        checksum,
        sampling,
        default_proto: proto,
        multipacket,
        allow_nonexistent,
        burst,
        fields: Vec::new(),
        flowid: None,
        reader: None,
        peeked: None,
        binary: false,
        minor: MINOR_VERSION,
        finished: false,
        pos: 0,
        queue: VecDeque::new(),
        timing_base: None,
        count: 0,
        drops: DropCounts::new(DROP_REASONS),
        rng: seed(),
        name: ctx.name.to_string(),
    };
    if let Some(c) = contents {
        e.bang_data(&c).map_err(ConfigError)?;
    }
    if let Some(f) = flowid {
        e.bang_flowid(&format!("! {f}")).map_err(|m| ConfigError(format!("FLOWID: {m}")))?;
    }
    Ok(Box::new(e))
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (t ^ 0x9E37_79B9_7F4A_7C15) | 1
}

enum Source {
    File(PathBuf, String),
    Data(Vec<u8>),
}

/// The element itself.
pub struct FromIPSummaryDump {
    source: Source,
    stop: bool,
    active: bool,
    timing: bool,
    checksum: bool,
    sampling: u32,
    default_proto: u8,
    multipacket: bool,
    allow_nonexistent: bool,
    burst: usize,
    /// The fields of a line, in line order.
    fields: Vec<&'static Field>,
    flowid: Option<FlowId>,
    reader: Option<Box<dyn BufRead + Send>>,
    /// A line read but not used yet (the first line, when it is not the banner).
    peeked: Option<Vec<u8>>,
    binary: bool,
    minor: u32,
    finished: bool,
    pos: u64,
    /// Packets made but not emitted yet (MULTIPACKET, TIMING).
    queue: VecDeque<Packet>,
    timing_base: Option<(Instant, u64)>,
    count: u64,
    drops: DropCounts,
    rng: u64,
    name: String,
}

impl FromIPSummaryDump {
    fn random28(&mut self) -> u32 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 36) as u32
    }

    fn filename(&self) -> &str {
        match &self.source {
            Source::File(_, f) => f,
            Source::Data(_) => "<data>",
        }
    }

    /// `!data` / `!contents` (or CONTENTS): the fields of the following lines.
    fn bang_data(&mut self, line: &str) -> Result<(), String> {
        let mut words = fields::space_words(line);
        if words.first().is_some_and(|w| w == "!data" || w == "!contents") {
            words.remove(0);
        }
        let mut out = Vec::new();
        for w in &words {
            let field = parse_contents(w).ok().and_then(|v| v.into_iter().next());
            match field {
                Some(f) if !f.readable => {
                    tracing::warn!("FromIPSummaryDump({}): content type '{}' ignored on input", self.name, f.name);
                    out.push(None);
                }
                Some(f) => out.push(Some(f)),
                None => {
                    tracing::warn!("FromIPSummaryDump({}): unknown content type {w}", self.name);
                    out.push(None);
                }
            }
        }
        if out.is_empty() {
            return Err("no contents specified".into());
        }
        // Unknown and ignored fields keep their place in the line as `IGNORED`.
        self.fields = out.into_iter().map(|f| f.unwrap_or(&IGNORED)).collect();
        Ok(())
    }

    fn bang_flowid(&mut self, line: &str) -> Result<(), String> {
        let w = fields::space_words(line);
        let addr = |s: &str| {
            if s == "-" {
                Some([0; 4])
            } else {
                std::net::Ipv4Addr::from_arg(s).ok().map(|a| a.octets())
            }
        };
        let port = |s: &str| if s == "-" { Some(0) } else { fields::parse_u32(s).and_then(|v| u16::try_from(v).ok()) };
        if w.len() < 5 {
            return Err("bad !flowid specification".into());
        }
        let (Some(src), Some(sport), Some(dst), Some(dport)) = (addr(&w[1]), port(&w[2]), addr(&w[3]), port(&w[4]))
        else {
            return Err("bad !flowid specification".into());
        };
        if let Some(p) = w.get(5) {
            self.bang_proto(&format!("! {p}"))?;
        }
        self.flowid = Some(FlowId { src, sport, dst, dport });
        Ok(())
    }

    fn bang_proto(&mut self, line: &str) -> Result<(), String> {
        let w = fields::space_words(line);
        if w.len() != 2 {
            return Err("bad !proto".into());
        }
        self.default_proto = match w[1].as_str() {
            "T" | "tcp" => 6,
            "U" | "udp" => 17,
            "I" | "icmp" => 1,
            s => fields::parse_u32(s).and_then(|v| u8::try_from(v).ok()).ok_or("bad protocol in !proto")?,
        };
        Ok(())
    }

    /// The next line (without its newline), or `None` at the end.
    fn next_line(&mut self) -> Option<Vec<u8>> {
        if let Some(l) = self.peeked.take() {
            return Some(l);
        }
        let r = self.reader.as_mut()?;
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.pos += n as u64;
                while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                    line.pop();
                }
                Some(line)
            }
        }
    }

    /// The next binary record: its data and whether it is text.
    fn next_record(&mut self) -> Result<Option<(Vec<u8>, bool)>, ()> {
        let Some(r) = self.reader.as_mut() else { return Ok(None) };
        let mut len = [0u8; 4];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(_) => return Ok(None),
        }
        let n = u32::from_be_bytes(len);
        let textual = n & 0x8000_0000 != 0;
        let n = (n & 0x7FFF_FFFF) as usize;
        if !(4..=1 << 24).contains(&n) {
            return Err(());
        }
        let mut data = vec![0; n - 4];
        r.read_exact(&mut data).map_err(|_| ())?;
        self.pos += n as u64;
        if textual {
            while data.last().is_some_and(|&b| b == 0 || b == b'\n') {
                data.pop();
            }
        }
        Ok(Some((data, textual)))
    }

    fn bang_line(&mut self, line: &str) {
        let word = line.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or("");
        let has_more = line.len() > word.len();
        let r = match word {
            "!data" | "!contents" if has_more => self.bang_data(line),
            "!flowid" if has_more => self.bang_flowid(line),
            "!proto" if has_more => self.bang_proto(line),
            "!binary" => {
                self.binary = true;
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = r {
            tracing::warn!("FromIPSummaryDump({}): {}: {e}", self.name, self.filename());
        }
    }

    /// Click's `read_packet`: the next packet, `None` at the end of the input.
    fn read_packet(&mut self) -> Option<Packet> {
        loop {
            let (values, text_line): (Vec<Option<In>>, bool) = if self.binary {
                match self.next_record() {
                    Ok(None) => return None,
                    Err(()) => {
                        self.drops.count(BAD_RECORD, 1);
                        tracing::warn!("FromIPSummaryDump({}): {}: bad binary record", self.name, self.filename());
                        return None;
                    }
                    Ok(Some((data, true))) => {
                        let line = String::from_utf8_lossy(&data).into_owned();
                        if line.starts_with('!') {
                            self.bang_line(&line);
                        }
                        continue;
                    }
                    Ok(Some((data, false))) => {
                        let mut at = 0;
                        let mut vals = Vec::new();
                        for f in &self.fields {
                            match parse_binary(f, &data[at.min(data.len())..]) {
                                Some((v, n)) if f.readable => {
                                    vals.push(Some(v));
                                    at += n;
                                }
                                Some((_, n)) => {
                                    vals.push(None);
                                    at += n;
                                }
                                None => {
                                    vals.push(None);
                                    at = data.len();
                                }
                            }
                        }
                        (vals, false)
                    }
                }
            } else {
                let line = self.next_line()?;
                let line = String::from_utf8_lossy(&line).into_owned();
                if line.is_empty() {
                    continue;
                }
                if line.starts_with('!') {
                    self.bang_line(&line);
                    continue;
                }
                if line.starts_with('#') {
                    continue;
                }
                if line.trim().is_empty() {
                    continue;
                }
                let words = split_line(&line, self.fields.len());
                (words.into_iter().map(|w| w.map(|w| In::Bytes(w.into_bytes()))).collect(), true)
            };
            // Apply the fields in Click's order.
            let mut order: Vec<usize> = (0..self.fields.len()).collect();
            order.sort_by_key(|&i| (self.fields[i].order, i));
            let flowid = self.flowid;
            let mut b = Builder::new(self.default_proto, flowid.as_ref());
            let mut nfields = 0;
            for i in order {
                let f = self.fields[i];
                if !f.readable {
                    continue;
                }
                let v = match values.get(i) {
                    Some(Some(In::Bytes(w))) if text_line => {
                        let s = String::from_utf8_lossy(w);
                        if s == "-" {
                            continue;
                        }
                        match parse_ascii(f.f, &s, self.minor, b.icmp_type()) {
                            Some(v) => v,
                            None => continue,
                        }
                    }
                    Some(Some(v)) => v.clone(),
                    _ => continue,
                };
                b.inject(f.f, &v);
                nfields += 1;
            }
            if nfields == 0 {
                self.drops.count(PARSE_ERROR, 1);
                continue;
            }
            return Some(b.finish(self.checksum));
        }
    }

    /// Click's `handle_multipacket`: the packets a line with `count` N stands for.
    fn split_multipacket(&self, mut p: Packet) -> Vec<Packet> {
        let ep = extra_packets_anno(&p);
        if !self.multipacket || ep == 0 {
            return vec![p];
        }
        let count = u64::from(ep) + 1;
        let len = p.len() as u64;
        let mut extra = u64::from(extra_length_anno(&p));
        let mut mlen = (len + extra) / count;
        if mlen < len {
            mlen = len;
            extra = mlen * (count - 1);
        }
        let end_ts = p.anno().timestamp_ns;
        let first = first_timestamp_anno(&p);
        let (mut ts, delta) = if first != 0 { (first, end_ts.wrapping_sub(first) / (count - 1)) } else { (end_ts, 0) };
        set_extra_packets_anno(&mut p, 0);
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let mut q = p.clone_packet();
            let (ip_len, ex) = if i + 1 < count { (mlen, mlen - len) } else { (len + extra, extra) };
            set_packet_lengths(&mut q, ip_len);
            set_extra_length_anno(&mut q, ex as u32);
            q.anno_mut().timestamp_ns = if i + 1 < count { ts } else { end_ts };
            if i + 1 < count {
                extra = extra.saturating_sub(mlen);
                ts = ts.wrapping_add(delta);
            }
            out.push(q);
        }
        out
    }

    fn due(&mut self, ts: u64) -> Option<Duration> {
        let now = Instant::now();
        let (base, base_ts) = *self.timing_base.get_or_insert((now, ts));
        let at = base + Duration::from_nanos(ts.saturating_sub(base_ts));
        (now < at).then(|| at - now)
    }

    /// Up to `max` packets into `out`; whether the input has ended, and whether a packet
    /// waits for its time.
    fn produce(&mut self, max: usize, out: &mut Batch) -> (bool, bool) {
        let mut budget = max.saturating_mul(16).max(16);
        while out.len() < max && budget > 0 {
            budget -= 1;
            if self.queue.is_empty() {
                match self.read_packet() {
                    Some(p) => {
                        let ps = self.split_multipacket(p);
                        self.queue.extend(ps);
                    }
                    None => {
                        self.reader = None;
                        return (true, false);
                    }
                }
            }
            let ts = self.queue.front().map_or(0, |p| p.anno().timestamp_ns);
            if self.timing && self.due(ts).is_some() {
                return (false, true);
            }
            let p = self.queue.pop_front().expect("queued packet");
            if self.sampling < SAMPLING_ONE && self.random28() >= self.sampling {
                continue;
            }
            let _ = out.push(p);
            self.count += 1;
        }
        (false, false)
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.finished = true;
        self.reader = None;
        if self.stop {
            ctx.request_stop();
        }
    }
}

/// A field FromIPSummaryDump ignores (unknown or not readable), keeping its place.
static IGNORED: Field =
    Field { name: "none", f: fields::F::Count, ty: fields::Ty::Special, order: 100, readable: false };

/// Click's `set_packet_lengths`: IP length (and UDP length) for a MULTIPACKET part.
fn set_packet_lengths(p: &mut Packet, ip_len: u64) {
    let d = p.data_mut();
    if d.len() < 20 {
        return;
    }
    let l = ip_len.min(0xFFFF) as u16;
    d[2..4].copy_from_slice(&l.to_be_bytes());
    let hl = usize::from(d[0] & 15) * 4;
    if d[9] == 17 && d.len() >= hl + 6 {
        d[hl + 4..hl + 6].copy_from_slice(&l.wrapping_sub(hl as u16).to_be_bytes());
    }
}

/// The words of a line: up to `n`, separated by blanks, double quotes kept together;
/// missing ones are `None`.
fn split_line(line: &str, n: usize) -> Vec<Option<String>> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            if b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            i = (i + 1).min(b.len());
        }
        let w = &line[start.min(line.len())..i.min(line.len())];
        out.push((!w.is_empty()).then(|| w.to_string()));
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
    }
    out
}

impl Element for FromIPSummaryDump {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        if ctx.output_push.first().copied().unwrap_or(true) {
            ctx.schedule_task();
        }
        if ctx.worker != 0 {
            self.finished = true;
            return Ok(());
        }
        let reader: Box<dyn BufRead + Send> = match &self.source {
            Source::Data(d) => Box::new(std::io::Cursor::new(d.clone())),
            Source::File(_, f) if f == "-" => Box::new(BufReader::new(std::io::stdin())),
            Source::File(path, f) => match std::fs::File::open(path) {
                Ok(file) => Box::new(BufReader::with_capacity(64 * 1024, file)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.allow_nonexistent => {
                    self.finished = true;
                    return Ok(());
                }
                Err(e) => return Err(format!("{f}: {}", crate::io::capture::io_reason(&e))),
            },
        };
        self.reader = Some(reader);
        if let Some(first) = self.next_line() {
            let text = String::from_utf8_lossy(&first).into_owned();
            if let Some(v) = text.strip_prefix("!IPSummaryDump") {
                let mut it = v.trim().splitn(2, '.');
                let major = it.next().and_then(|s| s.parse::<u32>().ok());
                let minor = it.next().and_then(|s| s.trim().parse::<u32>().ok());
                if let (Some(major), Some(minor)) = (major, minor) {
                    if major != MAJOR_VERSION || minor > MINOR_VERSION {
                        tracing::warn!(
                            "FromIPSummaryDump({}): unexpected IPSummaryDump version {major}.{minor}",
                            self.name
                        );
                    } else {
                        self.minor = minor;
                    }
                }
            } else {
                if !["!creator", "!data", "!contents", "!proto", "!flowid"].iter().any(|w| text.starts_with(w))
                    && self.fields.is_empty()
                {
                    tracing::warn!(
                        "FromIPSummaryDump({}): missing banner line; is this an IP summary dump?",
                        self.name
                    );
                }
                self.peeked = Some(first);
            }
        }
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
            let mut out = Batch::new();
            let (end, wait) = self.produce(want, &mut out);
            let got = out.len();
            moved |= got > 0;
            if got > 0 {
                ctx.push(0, out);
            }
            if end {
                self.finish(&mut ctx);
                return TaskStatus::Done;
            }
            if wait {
                return if moved { TaskStatus::Busy } else { TaskStatus::Waiting };
            }
            if got < want {
                moved = true;
                break;
            }
            left -= got;
        }
        if moved {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut out = Batch::new();
        if self.finished || !self.active {
            return out;
        }
        let (end, _) = self.produce(max.clamp(1, MAX_BATCH), &mut out);
        if end {
            self.finish(&mut ctx);
        }
        out
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        if let Some(v) = self.drops.read_handler(name) {
            return Some(v);
        }
        Some(match name {
            "count" => self.count.to_string(),
            "sampling_prob" => (f64::from(self.sampling) / f64::from(SAMPLING_ONE)).to_string(),
            "active" => self.active.to_string(),
            "encap" => "IP".to_string(),
            "filesize" => match &self.source {
                Source::File(p, f) if f != "-" => {
                    std::fs::metadata(p).map_or_else(|_| "-".to_string(), |m| m.len().to_string())
                }
                Source::Data(d) => d.len().to_string(),
                _ => "-".to_string(),
            },
            "filepos" => self.pos.to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "active" => {
                self.active = bool::from_arg(value.trim()).map_err(|e| format!("active: {e}"))?;
                Ok(())
            }
            "stop" => {
                self.active = false;
                self.stop = true;
                // The task ends at its next run and asks the router to stop.
                self.finished = false;
                self.reader = None;
                self.peeked = None;
                self.queue.clear();
                self.active = true;
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

    fn data(text: &str) -> String {
        format!("DATA {}, STOP true", fields::quote(text.as_bytes()))
    }

    #[test]
    fn builds_packets_from_a_click_dump_and_counts_malformed_lines() {
        let text = "!IPSummaryDump 1.3\n!creator \"test\"\n!data ts ip_src ip_dst sport dport ip_proto tcp_flags ip_len ip_ttl\n\
                    1.5 1.0.0.1 2.0.0.2 10 20 T SA 60 64\n\
                    # a comment\n\
                    garbage also-garbage x y z Q ZZ nope -1\n\
                    2.000001 3.0.0.3 4.0.0.4 53 5353 U - 28 -\n\
                    3 5.0.0.5\n";
        let (out, r) = run_element(&FROM_IP_SUMMARY_DUMP, &data(text), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 3);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "1");
        let p = &out[0][0];
        let d = p.data();
        assert_eq!(p.anno().timestamp_ns, 1_500_000_000);
        assert_eq!((d[0], d[8], d[9]), (0x45, 64, 6));
        assert_eq!((&d[12..16], &d[16..20]), (&[1, 0, 0, 1][..], &[2, 0, 0, 2][..]));
        assert_eq!(u16::from_be_bytes([d[2], d[3]]), 60);
        assert_eq!((u16::from_be_bytes([d[20], d[21]]), u16::from_be_bytes([d[22], d[23]])), (10, 20));
        assert_eq!((d[32] >> 4, d[33]), (5, 0x12));
        assert_eq!(p.len(), 40);
        assert_eq!(crate::io::extra_length_anno(p), 20);
        assert_eq!(p.anno().dst_ip, [2, 0, 0, 2]);
        let u = out[0][1].data();
        assert_eq!((u[8], u[9], u16::from_be_bytes([u[24], u[25]])), (100, 17, 8), "TTL 100, UDP length");
        // A line with fewer fields: the rest are '-'; the default protocol is TCP.
        let q = out[0][2].data();
        assert_eq!((q[9], &q[12..16]), (6, &[5, 0, 0, 5][..]));
    }

    #[test]
    fn flowid_proto_checksum_and_payload() {
        let text = "!data ip_id payload\n!flowid 10.0.0.1 1000 10.0.0.2 2000 U\n7 \"hi\\n\"\n";
        let (out, _) =
            run_element(&FROM_IP_SUMMARY_DUMP, &format!("{}, CHECKSUM true", data(text)), 1, vec![]).unwrap();
        let d = out[0][0].data();
        assert_eq!(d.len(), 20 + 8 + 3);
        assert_eq!((d[9], u16::from_be_bytes([d[20], d[21]]), u16::from_be_bytes([d[22], d[23]])), (17, 1000, 2000));
        assert_eq!(&d[28..], b"hi\n");
        assert_eq!(crate::wire::checksum::in_cksum(&d[..20]), 0);
        let pseudo = crate::wire::checksum::pseudo_header_v4([10, 0, 0, 1], [10, 0, 0, 2], 17, 11);
        assert_eq!(!crate::wire::checksum::combine(&[crate::wire::checksum::data(&d[20..]), pseudo]), 0);
    }

    #[test]
    fn multipacket_splits_counts_and_lengths() {
        let text = "!data ts first_ts count ip_len ip_src\n10 8 3 300 1.1.1.1\n";
        let (out, _) =
            run_element(&FROM_IP_SUMMARY_DUMP, &format!("{}, MULTIPACKET true", data(text)), 1, vec![]).unwrap();
        let lens: Vec<u16> = out[0].iter().map(|p| u16::from_be_bytes([p.data()[2], p.data()[3]])).collect();
        let ts: Vec<u64> = out[0].iter().map(|p| p.anno().timestamp_ns / 1_000_000_000).collect();
        assert_eq!(lens, [100, 100, 100]);
        assert_eq!(ts, [8, 9, 10]);
    }

    #[test]
    fn survives_binary_garbage_and_reports_it() {
        let mut text = b"!IPSummaryDump 1.3\n!data ip_src ip_len\n!binary\n".to_vec();
        text.extend_from_slice(&[0, 0, 0, 12, 1, 2, 3, 4, 0, 0, 0, 40]);
        text.extend_from_slice(&[0, 0, 0, 2, 9, 9]);
        let path = std::env::temp_dir().join(format!("sluice-fipsd-{}.bin", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let (out, r) =
            run_element(&FROM_IP_SUMMARY_DUMP, &format!("\"{}\", STOP true", path.display()), 1, vec![]).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(&out[0][0].data()[12..16], &[1, 2, 3, 4]);
        assert_eq!(r.read_handler("e", "drops").unwrap(), "1");
    }

    #[test]
    fn configuration() {
        let err = |c: &str| build_element(&FROM_IP_SUMMARY_DUMP, c, 0, 1).err().map(|e| e.0).unwrap_or_default();
        assert!(err("").contains("FILENAME"));
        assert!(err("x, DATA \"y\"").contains("conflict"));
        assert!(err("x, FLOWID \"1.2.3.4 x\"").contains("flowid"));
        assert!(build_element(
            &FROM_IP_SUMMARY_DUMP,
            "x, STOP true, ZERO false, PROTO 17, CONTENTS \"ip src\" dport",
            0,
            1
        )
        .is_ok());
    }
}

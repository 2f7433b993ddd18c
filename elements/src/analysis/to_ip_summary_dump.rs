//! `ToIPSummaryDump`: writes one line of chosen fields per packet (Click's IP summary dump).

use super::fields::{Desc, Field, F, MAJOR_VERSION, MINOR_VERSION};
use super::{parse_contents, RawArg};
use crate::io::extra_length_anno;
use crate::standard::anno::first_timestamp_anno;
use sluice::args::Args;
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

sluice::element_class! {
    /// ToIPSummaryDump(FILENAME [, KEYWORDS])
    ///
    /// Writes packet summary information to an ASCII file.
    ///
    /// Writes one line per packet to FILENAME (`-`: standard output) holding the fields
    /// CONTENTS names, separated by spaces, in Click's IP summary dump format, which
    /// FromIPSummaryDump (Sluice's or Click's) and Click's `ipsumdump` tools read. A field
    /// that does not apply to a packet (`sport` of an ICMP packet, anything of a packet
    /// without a valid IPv4 header annotation) is written as a single dash `-`. The file
    /// starts with the header lines `!IPSummaryDump 1.3`, `!creator "BANNER"` (with BANNER),
    /// `!host` and `!runtime` (with VERBOSE), and `!data FIELD...` naming the fields, then
    /// `!binary` in BINARY mode. The IP header is found through the network header
    /// annotation (set it with CheckIPHeader, MarkIPHeader or FromDump's FORCE_IP).
    ///
    /// Fields (Click's names; a space may stand for the underscore, and a name without an
    /// underscore means `ip_NAME`, so `src`, `"ip src"` and `ip_src` are one field):
    ///
    /// - `timestamp` (`ts`, `utimestamp`): `996033261.451094` (nine digits when the time has
    ///   nanoseconds); `ntimestamp` the same in text, nanoseconds in BINARY; `ts_sec`
    ///   (`sec`), `ts_usec` (`usec`), `ts_usec1` (`usec1`, microseconds since the epoch);
    ///   `first_timestamp` (`first_ts`), `first_ntimestamp`: the first-timestamp annotation.
    /// - `count` (`pkt_count`): 1 + the extra-packets annotation. `link` (`paint`): the paint
    ///   annotation; `direction`: the same, but `>` for 0 and `<` for 1. `aggregate`
    ///   (`agg`): the aggregate annotation. `wire_len`: the packet's length.
    /// - `ip_src`, `ip_dst`: dotted quads. `ip_len` (`length`): the IP length field plus,
    ///   with EXTRA_LENGTH, what the extra length annotation adds beyond 65535 (for a
    ///   packet without IP header, its length plus that annotation). `ip_proto` (`ip_p`):
    ///   `T`, `U`, `I` for TCP, UDP, ICMP, else the number. `ip_id`, `ip_tos`, `ip_dscp`,
    ///   `ip_ttl`, `ip_sum`, `ip_hl` (bytes): numbers. `ip_ecn`: `no`, `ect1`, `ect2`, `ce`.
    ///   `ip_frag`: `F` first fragment, `f` later fragment, `!` unfragmented with DF, `.`
    ///   unfragmented. `ip_fragoff`: the offset in bytes, `+` for MF, `!` for DF (`0!`,
    ///   `1480+`). `ip_capture_len`: bytes of the IP packet present. `ip_opt`: IP options
    ///   (`rr{...}`, `ssrr{...}`, `ts{...}`, `N=a:b`, `.` for none, `?` for malformed).
    /// - `sport`, `dport`: TCP, UDP, DCCP and UDP-Lite ports (first fragments only).
    /// - `tcp_seq`, `tcp_ack`, `tcp_window` (`tcp_win`), `tcp_urp`, `tcp_off` (bytes);
    ///   `tcp_flags`: letters of `FSRPAUECN` in that order (`S`, `SA`, `FA`), except `PA`
    ///   for PSH+ACK, `A` for ACK and `.` for none. `tcp_opt`: TCP options (`mss1460`,
    ///   `wscale7`, `sackok`, `sack95-98`, `ts669063908:38382731`, `N=a:b`, separated by
    ///   `;`; `.` for none); `tcp_ntopt` the same without padding and timestamps;
    ///   `tcp_sack` SACK options only.
    /// - `udp_len`. `icmp_type`, `icmp_code`; `icmp_type_name`, `icmp_code_name` (Click's
    ///   names, such as `echo` and `needfrag`, where there is one); `icmp_flowid`,
    ///   `icmp_seq` (echo, timestamp and information messages); `icmp_nextmtu`
    ///   (unreachable/needfrag).
    /// - `payload_len` (`payload_length`): bytes after the IP, TCP or UDP header, with the
    ///   extra length; `payload`: those bytes, as a double-quoted string with C escapes.
    ///
    /// In BINARY mode each packet is a record: a 4-byte big-endian length (counting
    /// itself), then the fields' binary forms (1, 2, 4 or 8 bytes, big-endian; addresses in
    /// network order; `timestamp` as seconds and microseconds, `ntimestamp` as nanoseconds
    /// then seconds, as Click writes them). `!bad` lines are records with the high bit of
    /// the length set.
    ///
    /// With MULTIPACKET, a packet whose extra-packets annotation is N > 0 gives N+1 lines
    /// (unless CONTENTS has `count`), its length divided among them and its timestamps
    /// spread from the first-timestamp annotation to its timestamp. Packets go on to the
    /// output, if there is one, unchanged. As a pull element without output, it is a task
    /// pulling up to 32 packets per run. With several workers, every worker's instance
    /// appends whole lines to the same file.
    ///
    /// Ports: 1 input; 0 or 1 outputs. Input agnostic, output push.
    ///
    /// Keyword arguments:
    ///
    /// - `CONTENTS` (string; also `FIELDS`, and the deprecated `DATA`): space-separated
    ///   field names. Default `timestamp ip_src`, as in Click's code.
    /// - `HEADER` (boolean): write the `!` header lines. Default true.
    /// - `VERBOSE` (boolean): also write `!host` and `!runtime` lines. Default false.
    /// - `BANNER` (string): write `!creator "BANNER"`.
    /// - `BINARY` (boolean): write binary records. Default false.
    /// - `MULTIPACKET` (boolean): see above. Default false.
    /// - `BAD_PACKETS` (boolean): before the line of a packet with a bad IP, TCP or UDP
    ///   header, write a `!bad REASON` line (`!bad IP version 6`, `!bad truncated TCP
    ///   header`, ...). Default false.
    /// - `CAREFUL_TRUNC` (boolean): with BAD_PACKETS, write `!bad truncated IP missing N`
    ///   for packets shorter than their IP length (data plus extra length). Default true.
    /// - `EXTRA_LENGTH` (boolean): use the extra length annotation. Default true.
    ///
    /// Handlers:
    ///
    /// - `count` (read): lines (packet records) written.
    /// - `flush` (write): write buffered lines to the file.
    ///
    /// Differences from Click: `payload_md5`, `payload_md5_hex`, `eth_src` and `eth_dst`
    /// are not supported; variable-length fields (`ip_opt`, `tcp_opt`, `tcp_ntopt`,
    /// `tcp_sack`, `payload`) are refused in BINARY mode. Click writes `ts_usec1` in ASCII
    /// with its two 32-bit halves swapped; Sluice writes the number, and in BINARY mode a
    /// big-endian 64-bit number. Click's MULTIPACKET also splits packets when CONTENTS has
    /// `count` (its code overrides what its documentation says); Sluice follows the
    /// documentation. Click rewrites the extra length annotation (and, with MULTIPACKET,
    /// the timestamp and extra packet annotations) of the packets it passes on; Sluice
    /// leaves packets unchanged. Lines go through a buffer flushed when the router stops
    /// or the `flush` handler is written.
    ///
    /// # Example
    /// ```text
    /// FromDump(trace.pcap, STOP true, FORCE_IP true)
    ///   -> ToIPSummaryDump(trace.txt, CONTENTS timestamp ip_src sport ip_dst dport ip_proto ip_len);
    /// ```
    pub const TO_IP_SUMMARY_DUMP = "ToIPSummaryDump" { ports: "1/0-1", processing: "a/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packet records written"),
    HandlerSpec::write("flush", "write buffered lines to the file"),
];

const BUFFER: usize = 64 * 1024;

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let filename: String = args.read_mp("FILENAME")?;
    let mut contents = RawArg("timestamp ip_src".into());
    for k in ["FIELDS", "CONTENTS", "DATA"] {
        if let Some(c) = args.read_kw::<RawArg>(k)? {
            contents = c;
        }
    }
    let verbose = args.read_kw::<bool>("VERBOSE")?.unwrap_or(false);
    let header = args.read_kw::<bool>("HEADER")?.unwrap_or(true);
    let banner = args.read_kw::<String>("BANNER")?;
    let multipacket = args.read_kw::<bool>("MULTIPACKET")?.unwrap_or(false);
    let bad_packets = args.read_kw::<bool>("BAD_PACKETS")?.unwrap_or(false);
    let careful_trunc = args.read_kw::<bool>("CAREFUL_TRUNC")?.unwrap_or(true);
    let extra_length = args.read_kw::<bool>("EXTRA_LENGTH")?.unwrap_or(true);
    let binary = args.read_kw::<bool>("BINARY")?.unwrap_or(false);
    args.finish()?;
    if filename.is_empty() {
        return Err("FILENAME must not be empty".into());
    }
    let fields = parse_contents(&contents.0).map_err(ConfigError)?;
    if fields.is_empty() {
        return Err("no contents specified".into());
    }
    if binary {
        if let Some(f) = fields.iter().find(|f| f.ty.size().is_none()) {
            return Err(format!("cannot use field {} with BINARY", f.name).into());
        }
    }
    let stdout = filename == "-";
    Ok(Box::new(ToIPSummaryDump {
        path: (!stdout).then(|| ctx.path(&filename)),
        filename: if stdout { "<stdout>".into() } else { filename },
        prepare: fields.iter().any(|f| f.order > 100),
        multipacket: multipacket && !fields.iter().any(|f| f.f == F::Count),
        fields,
        verbose,
        header,
        banner,
        bad_packets,
        careful_trunc,
        extra_length,
        binary,
        noutputs: ctx.noutputs,
        out: None,
        buf: Vec::with_capacity(BUFFER),
        line: String::new(),
        count: 0,
    }))
}

enum Out {
    File(File),
    Stdout,
}

/// The element itself.
pub struct ToIPSummaryDump {
    filename: String,
    path: Option<PathBuf>,
    fields: Vec<&'static Field>,
    /// Some field reads the IP header.
    prepare: bool,
    verbose: bool,
    header: bool,
    banner: Option<String>,
    multipacket: bool,
    bad_packets: bool,
    careful_trunc: bool,
    extra_length: bool,
    binary: bool,
    noutputs: usize,
    /// `None` before initialization and after a write error.
    out: Option<Out>,
    buf: Vec<u8>,
    line: String,
    count: u64,
}

impl ToIPSummaryDump {
    /// The header lines.
    fn header_text(&self) -> String {
        let mut sa = format!("!IPSummaryDump {MAJOR_VERSION}.{MINOR_VERSION}\n");
        if let Some(b) = &self.banner {
            sa.push_str(&format!("!creator {}\n", super::fields::quote(b.as_bytes())));
        }
        if self.verbose {
            if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
                sa.push_str(&format!("!host {}\n", h.trim()));
            }
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let mut t = String::new();
            super::fields::fmt_ts(&mut t, now.as_secs() * 1_000_000_000 + u64::from(now.subsec_micros()) * 1000);
            sa.push_str(&format!("!runtime {t}\n"));
        }
        let names: Vec<&str> = self
            .fields
            .iter()
            .map(|f| if f.f == F::NTimestamp && !self.binary { "timestamp" } else { f.name })
            .collect();
        sa.push_str(&format!("!data {}\n", names.join(" ")));
        if self.binary {
            sa.push_str("!binary\n");
        }
        sa
    }

    fn write_out(&mut self, force: bool) {
        if self.buf.is_empty() || (!force && self.buf.len() < BUFFER) {
            return;
        }
        let r = match &mut self.out {
            Some(Out::File(f)) => f.write_all(&self.buf),
            Some(Out::Stdout) => {
                let mut s = io::stdout().lock();
                s.write_all(&self.buf).and_then(|()| s.flush())
            }
            None => Ok(()),
        };
        self.buf.clear();
        if let Err(e) = r {
            tracing::error!("ToIPSummaryDump({}): {e}; writing stopped", self.filename);
            self.out = None;
        }
    }

    /// One record for `p` (with the MULTIPACKET overrides).
    fn summary(&mut self, p: &Packet, over: Option<(u64, u32, u32)>) {
        let mut d = Desc::new(p, self.prepare, self.careful_trunc, self.extra_length, self.bad_packets, over);
        self.line.clear();
        let mut rec: Vec<u8> = Vec::new();
        if self.binary {
            rec.extend_from_slice(&[0; 4]);
        }
        for (i, f) in self.fields.iter().enumerate() {
            let v = d.extract(f.f);
            if self.binary {
                Desc::write_binary(&mut rec, f, v.as_ref());
            } else {
                if i > 0 {
                    self.line.push(' ');
                }
                match &v {
                    Some(v) => d.write_ascii(&mut self.line, f.f, v),
                    None => self.line.push('-'),
                }
            }
        }
        if let Some(bad) = d.bad.take() {
            if self.binary {
                self.buf.extend_from_slice(&((bad.len() as u32) | 0x8000_0000).to_be_bytes());
            }
            self.buf.extend_from_slice(bad.as_bytes());
        }
        if self.binary {
            let n = rec.len() as u32;
            rec[..4].copy_from_slice(&n.to_be_bytes());
            self.buf.extend_from_slice(&rec);
        } else {
            self.line.push('\n');
            self.buf.extend_from_slice(self.line.as_bytes());
        }
        self.count += 1;
    }

    fn write_packet(&mut self, p: &Packet) {
        if self.out.is_none() {
            return;
        }
        let extra_packets = super::fields::extra_packets_anno(p);
        if self.multipacket && extra_packets > 0 {
            // Click's ToIPSummaryDump::write_packet, on copies of the annotations.
            let count = 1 + u64::from(extra_packets);
            let len = p.len() as u64;
            let mut total = len + if self.extra_length { u64::from(extra_length_anno(p)) } else { 0 };
            total = total.max(count * len);
            let end_ts = p.anno().timestamp_ns;
            let first = first_timestamp_anno(p);
            let (mut ts, delta) =
                if first != 0 { (first, end_ts.wrapping_sub(first) / (count - 1)) } else { (end_ts, 0) };
            for i in (1..=count).rev() {
                let l = total / i;
                total -= l;
                self.summary(p, Some((ts, (l - len) as u32, 0)));
                ts = if i == 2 { end_ts } else { ts.wrapping_add(delta) };
            }
        } else {
            self.summary(p, None);
        }
        self.write_out(false);
    }
}

impl Element for ToIPSummaryDump {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        let header = if self.header { self.header_text() } else { String::new() };
        let name = &self.filename;
        let out = match &self.path {
            None => {
                if ctx.worker == 0 {
                    let mut s = io::stdout().lock();
                    s.write_all(header.as_bytes()).and_then(|()| s.flush()).map_err(|e| format!("{name}: {e}"))?;
                }
                Out::Stdout
            }
            Some(path) => {
                if ctx.worker == 0 {
                    let mut f =
                        File::create(path).map_err(|e| format!("{name}: {}", crate::io::capture::io_reason(&e)))?;
                    f.write_all(header.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
                }
                Out::File(
                    OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(path)
                        .map_err(|e| format!("{name}: {}", crate::io::capture::io_reason(&e)))?,
                )
            }
        };
        self.out = Some(out);
        if ctx.input_pull.first().copied().unwrap_or(false) && self.noutputs == 0 {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        for p in &batch {
            self.write_packet(p);
        }
        if self.noutputs > 0 {
            ctx.push(0, batch);
        }
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let b = ctx.pull(0, max);
        for p in &b {
            self.write_packet(p);
        }
        b
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let b = ctx.pull(0, MAX_BATCH.min(32));
        if b.is_empty() {
            return TaskStatus::Idle;
        }
        for p in &b {
            self.write_packet(p);
        }
        TaskStatus::Busy
    }

    fn cleanup(&mut self) {
        self.write_out(true);
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(self.count.to_string()),
            _ => None,
        }
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "flush" => {
                self.write_out(true);
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

impl Drop for ToIPSummaryDump {
    fn drop(&mut self) {
        self.write_out(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_element, run_element};

    fn ip_tcp(flags: u8, off: u16, ttl: u8) -> Packet {
        let mut d = vec![0u8; 40];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&40u16.to_be_bytes());
        d[6..8].copy_from_slice(&off.to_be_bytes());
        d[8] = ttl;
        d[9] = 6;
        d[12..16].copy_from_slice(&[10, 0, 0, 1]);
        d[16..20].copy_from_slice(&[10, 0, 0, 2]);
        d[32] = 0x50;
        d[33] = flags;
        let mut p = Packet::from_slice(&d);
        p.set_network_header(0, 20);
        p.anno_mut().timestamp_ns = 1_000_000_123;
        p
    }

    fn dump(config: &str, input: Vec<Packet>) -> String {
        let path = std::env::temp_dir().join(format!("sluice-tipsd-{}-{}.txt", std::process::id(), config.len()));
        let cfg = format!("\"{}\", {config}", path.display());
        run_element(&TO_IP_SUMMARY_DUMP, &cfg, 1, input).unwrap();
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn clicks_text_for_flags_fragments_and_absent_fields() {
        let input = vec![ip_tcp(0x18, 0x4000, 64), ip_tcp(0x12, 0x2000, 1), ip_tcp(0, 0x0010, 2), ip_tcp(0xC1, 0, 3)];
        let text = dump("CONTENTS ts \"ip src\" dst tcp_flags ip_frag ip_fragoff sport icmp_type direction", input);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "!IPSummaryDump 1.3");
        assert_eq!(lines[1], "!data timestamp ip_src ip_dst tcp_flags ip_frag ip_fragoff sport icmp_type direction");
        assert_eq!(lines[2], "1.000000123 10.0.0.1 10.0.0.2 PA ! 0! 0 - >");
        assert_eq!(lines[3], "1.000000123 10.0.0.1 10.0.0.2 SA F 0+ 0 - >");
        assert_eq!(lines[4], "1.000000123 10.0.0.1 10.0.0.2 - f 128 - - >");
        assert_eq!(lines[5], "1.000000123 10.0.0.1 10.0.0.2 FEC . 0 0 - >");
    }

    #[test]
    fn bad_packets_and_non_ip() {
        let mut v6 = ip_tcp(0, 0, 1);
        v6.data_mut()[0] = 0x60;
        let raw = Packet::from_slice(&[0; 10]);
        let text = dump("CONTENTS ip_src ip_len payload_len, BAD_PACKETS true, HEADER false", vec![v6, raw]);
        assert_eq!(text, "!bad IP version 6\n- 40 40\n!bad no IP header\n- 10 10\n");
    }

    #[test]
    fn configuration_errors() {
        let err = |c: &str| build_element(&TO_IP_SUMMARY_DUMP, c, 1, 0).err().map(|e| e.0).unwrap_or_default();
        assert!(err("x, CONTENTS ip_src wat").contains("unknown content type 'wat'"));
        assert!(err("x, CONTENTS payload, BINARY true").contains("BINARY"));
        assert!(err("").contains("FILENAME"));
        assert!(build_element(&TO_IP_SUMMARY_DUMP, "x, FIELDS ts \"tcp seq\" agg, MULTIPACKET true", 1, 1).is_ok());
    }
}

//! `ToDump`: writes packets to a pcap capture file.

use super::capture::{io_reason, parse_encap, pcap_file_header, pcap_record_header, MAX_CAPLEN};
use super::extra_length_anno;
use sluice::args::Args;
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

sluice::element_class! {
    /// ToDump(FILENAME [, SNAPLEN, ENCAP, KEYWORDS])
    ///
    /// Writes packets to a pcap capture file.
    ///
    /// Writes incoming packets to FILENAME in `tcpdump -w` (pcap) format, which tcpdump,
    /// Wireshark and FromDump read. FILENAME `-` means standard output. The file is
    /// created (or emptied) when the router is initialized, and written through a buffer
    /// that is flushed when the router stops (unless UNBUFFERED).
    ///
    /// Writes at most SNAPLEN bytes of each packet. Each record's timestamp is the
    /// packet's timestamp annotation, or the current time when the annotation is unset;
    /// its length is the packet's length plus, with EXTRA_LENGTH, its extra length
    /// annotation (the bytes a capture did not keep, as FromDump sets it).
    ///
    /// ToDump may have zero or one output. With an output, it emits every packet it
    /// receives there, after writing it. Used as a pull element with no output, it is a
    /// task pulling up to BURST packets per run. With several workers, every worker's
    /// instance appends its packets to the same file, whole records at a time.
    ///
    /// Ports: 1 input; 0 or 1 outputs; agnostic.
    ///
    /// Keyword arguments:
    ///
    /// - `SNAPLEN` (integer): most bytes written per packet; 0 means no limit.
    ///   Default 2000, as in Click.
    /// - `ENCAP` (word): the packets' first header, recorded as the file's link type:
    ///   `ETHER` (default), `IP`, `SLL`, `SLL2`, `NULL`, `FDDI`, `ATM`, `802_11`,
    ///   `802_11_RADIO`, `AIRONET`, `HDLC`, `PPP_HDLC`, `PPP`, `SUNATM`, `PRISM`, or `#N`
    ///   for link type N.
    /// - `EXTRA_LENGTH` (boolean): add the extra length annotation to the recorded
    ///   length. Default true.
    /// - `NANO` (boolean): write nanosecond timestamps (pcap magic a1b23c4d). Default
    ///   false: microseconds (a1b2c3d4).
    /// - `UNBUFFERED` (boolean): write every packet to the file at once. Default false.
    /// - `BURST` (integer): packets pulled per task run in pull mode. Default 32.
    ///
    /// Handlers:
    ///
    /// - `count` (read): packets written so far.
    /// - `reset_counts` (write): reset `count` to 0.
    /// - `filename` (read): the file name (`<stdout>` for `-`).
    ///
    /// Differences from Click: USE_ENCAP_FROM is not supported; compressed output
    /// (`.gz`, `.bz2` names) is not; with SNAPLEN 0 the file header records a snap length
    /// of 262144 (Click writes 4294967295). A write error is logged once and stops the
    /// writing, as in Click.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> ToDump(eth0.pcap, SNAPLEN 0);
    /// ```
    pub const TO_DUMP = "ToDump" { ports: "1/0-1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets written so far"),
    HandlerSpec::write("reset_counts", "reset count to 0"),
    HandlerSpec::read("filename", Combine::First, "the file name"),
];

/// Bytes gathered before they are written to the file.
const BUFFER: usize = 64 * 1024;

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let filename: String = args.read_mp("FILENAME")?;
    // Keywords before the optional positionals, so that a lone flag such as `UNBUFFERED`
    // is taken as the keyword it names.
    let use_encap_from = args.read_kw::<String>("USE_ENCAP_FROM")?;
    let extra_length = args.read_kw::<bool>("EXTRA_LENGTH")?.unwrap_or(true);
    let nano = args.read_kw::<bool>("NANO")?.unwrap_or(false);
    let unbuffered = args.read_kw::<bool>("UNBUFFERED")?.unwrap_or(false);
    let burst = args.read_kw::<usize>("BURST")?.unwrap_or(32);
    let snaplen = args.read_p::<u32>("SNAPLEN")?.unwrap_or(2000);
    let encap = args.read_p::<String>("ENCAP")?;
    args.finish()?;

    if filename.is_empty() {
        return Err("FILENAME must not be empty".into());
    }
    if use_encap_from.is_some() {
        if encap.is_some() {
            return Err("specify at most one of 'ENCAP' and 'USE_ENCAP_FROM'".into());
        }
        return Err(
            "USE_ENCAP_FROM is not supported yet; give ENCAP instead (FromDump's 'encap' handler tells a file's)"
                .into(),
        );
    }
    let linktype = match encap {
        None => 1,
        Some(e) => parse_encap(&e).ok_or_else(|| {
            ConfigError(format!(
                "ENCAP: bad encapsulation type '{e}' (use ETHER, IP, SLL, SLL2, NULL, FDDI, ATM, 802_11, 802_11_RADIO, AIRONET, HDLC, PPP_HDLC, PPP, SUNATM, PRISM or #N)"
            ))
        })?,
    };
    if burst == 0 {
        return Err("BURST must be at least 1".into());
    }
    let stdout = filename == "-";
    Ok(Box::new(ToDump {
        path: (!stdout).then(|| ctx.path(&filename)),
        filename: if stdout { "<stdout>".to_string() } else { filename },
        snaplen,
        linktype,
        extra_length,
        nano,
        unbuffered,
        burst,
        noutputs: ctx.noutputs,
        writer: None,
        count: 0,
    }))
}

/// Where records go.
enum Out {
    File(File),
    Stdout,
}

/// A buffer that reaches the file only in whole records, through a file opened for
/// appending: several workers' instances can share one file without tearing records.
struct RecordWriter {
    out: Out,
    buf: Vec<u8>,
    unbuffered: bool,
}

impl RecordWriter {
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = match &mut self.out {
            Out::File(f) => f.write_all(&self.buf),
            Out::Stdout => {
                let mut s = io::stdout().lock();
                s.write_all(&self.buf).and_then(|()| s.flush())
            }
        };
        self.buf.clear();
        r
    }

    fn write_record(&mut self, header: &[u8], data: &[u8]) -> io::Result<()> {
        if !self.buf.is_empty() && self.buf.len() + header.len() + data.len() > BUFFER {
            self.flush()?;
        }
        self.buf.extend_from_slice(header);
        self.buf.extend_from_slice(data);
        if self.unbuffered || self.buf.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The element itself.
pub struct ToDump {
    filename: String,
    /// `None`: standard output.
    path: Option<PathBuf>,
    /// 0: no limit.
    snaplen: u32,
    linktype: u32,
    extra_length: bool,
    nano: bool,
    unbuffered: bool,
    burst: usize,
    noutputs: usize,
    /// `None` before initialization and after a write error.
    writer: Option<RecordWriter>,
    count: u64,
}

impl ToDump {
    fn header(&self) -> [u8; 24] {
        pcap_file_header(self.nano, if self.snaplen == 0 { MAX_CAPLEN } else { self.snaplen }, self.linktype)
    }

    fn open(&self, worker: usize) -> Result<Out, String> {
        let Some(path) = &self.path else {
            if worker == 0 {
                let mut s = io::stdout().lock();
                s.write_all(&self.header())
                    .and_then(|()| s.flush())
                    .map_err(|e| format!("cannot write to standard output: {}", io_reason(&e)))?;
            }
            return Ok(Out::Stdout);
        };
        let name = &self.filename;
        if worker == 0 {
            // Worker 0 creates the file and writes the header; every worker (0 too) then
            // appends records through its own handle.
            let mut f = File::create(path).map_err(|e| format!("cannot create '{name}': {}", io_reason(&e)))?;
            f.write_all(&self.header()).map_err(|e| format!("cannot write to '{name}': {}", io_reason(&e)))?;
        }
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("cannot open '{name}' for writing: {}", io_reason(&e)))?;
        Ok(Out::File(f))
    }

    fn write_packet(&mut self, p: &Packet) {
        let Some(w) = self.writer.as_mut() else { return };
        let mut ts = p.anno().timestamp_ns;
        if ts == 0 {
            ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        }
        let data = p.data();
        let extra = if self.extra_length { extra_length_anno(p) } else { 0 };
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX).saturating_add(extra);
        let mut caplen = data.len();
        if self.snaplen != 0 {
            caplen = caplen.min(self.snaplen as usize);
        }
        let header = pcap_record_header(ts, self.nano, caplen as u32, len);
        match w.write_record(&header, &data[..caplen]) {
            Ok(()) => self.count += 1,
            Err(e) => {
                tracing::error!("ToDump({}): {}; writing stopped", self.filename, io_reason(&e));
                // Drop the buffer: the file is not writable any more.
                if let Some(mut w) = self.writer.take() {
                    w.buf.clear();
                }
            }
        }
    }

    fn write_batch(&mut self, b: &Batch) {
        for p in b {
            self.write_packet(p);
        }
    }
}

impl Element for ToDump {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.writer = Some(RecordWriter {
            out: self.open(ctx.worker)?,
            buf: Vec::with_capacity(BUFFER),
            unbuffered: self.unbuffered,
        });
        if ctx.input_pull.first().copied().unwrap_or(false) && self.noutputs == 0 {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.write_batch(&batch);
        if self.noutputs > 0 {
            ctx.push(0, batch);
        }
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let b = ctx.pull(0, max);
        self.write_batch(&b);
        b
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let mut left = self.burst;
        let mut moved = false;
        while left > 0 {
            let want = left.min(MAX_BATCH);
            let b = ctx.pull(0, want);
            let got = b.len();
            self.write_batch(&b);
            moved |= got > 0;
            if got < want {
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

    fn cleanup(&mut self) {
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.flush() {
                tracing::error!("ToDump({}): {}", self.filename, io_reason(&e));
            }
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(self.count.to_string()),
            "filename" => Some(self.filename.clone()),
            _ => None,
        }
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "reset_counts" => {
                self.count = 0;
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

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-todump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn packet(len: usize, ts: u64, fill: u8) -> Packet {
        let mut p = Packet::from_slice(&vec![fill; len]);
        p.anno_mut().timestamp_ns = ts;
        p
    }

    fn u32le(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn writes_a_pcap_with_snaplen_and_passes_packets_on() {
        let path = temp("basic.pcap");
        let cfg = format!("\"{}\", SNAPLEN 100", path.display());
        let input = vec![packet(60, 1_600_000_000_123_456_789, 1), packet(150, 1_600_000_001_000_000_000, 2)];
        let (out, router) = run_element(&TO_DUMP, &cfg, 1, input).unwrap();
        assert_eq!(out[0].len(), 2, "packets go on to the output");
        assert_eq!(out[0][1].len(), 150, "the packet itself is not cut");
        assert_eq!(router.read_handler("e", "count").unwrap(), "2");
        drop(router);
        let f = std::fs::read(&path).unwrap();
        assert_eq!(u32le(&f, 0), 0xA1B2_C3D4);
        assert_eq!(u32le(&f, 16), 100, "snaplen");
        assert_eq!(u32le(&f, 20), 1, "ETHER");
        // Record 1: 60 bytes, microseconds.
        assert_eq!((u32le(&f, 24), u32le(&f, 28), u32le(&f, 32), u32le(&f, 36)), (1_600_000_000, 123_456, 60, 60));
        let r2 = 24 + 16 + 60;
        assert_eq!(
            (u32le(&f, r2), u32le(&f, r2 + 4), u32le(&f, r2 + 8), u32le(&f, r2 + 12)),
            (1_600_000_001, 0, 100, 150)
        );
        assert_eq!(f.len(), r2 + 16 + 100);
        assert!(f[r2 + 16..].iter().all(|&b| b == 2));
    }

    #[test]
    fn nano_encap_extra_length_and_unset_timestamps() {
        let path = temp("nano.pcap");
        let cfg = format!("\"{}\", 0, IP, NANO true, EXTRA_LENGTH false, UNBUFFERED true", path.display());
        let mut p = packet(40, 5_000_000_007, 0x45);
        super::super::set_extra_length_anno(&mut p, 1000);
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
        let (_, router) = run_element(&TO_DUMP, &cfg, 0, vec![p, packet(20, 0, 0x45)]).unwrap();
        drop(router);
        let f = std::fs::read(&path).unwrap();
        assert_eq!(u32le(&f, 0), 0xA1B2_3C4D);
        assert_eq!(u32le(&f, 16), MAX_CAPLEN);
        assert_eq!(u32le(&f, 20), 101);
        assert_eq!(
            (u32le(&f, 24), u32le(&f, 28), u32le(&f, 32), u32le(&f, 36)),
            (5, 7, 40, 40),
            "EXTRA_LENGTH false ignores the annotation"
        );
        let r2 = 24 + 16 + 40;
        assert!(u32le(&f, r2) >= before, "no timestamp: now");
    }

    #[test]
    fn extra_length_restores_the_original_length() {
        let path = temp("extra.pcap");
        let mut p = packet(128, 1, 0);
        super::super::set_extra_length_anno(&mut p, 1372);
        let (_, router) = run_element(&TO_DUMP, &format!("\"{}\"", path.display()), 0, vec![p]).unwrap();
        drop(router);
        let f = std::fs::read(&path).unwrap();
        assert_eq!((u32le(&f, 32), u32le(&f, 36)), (128, 1500));
    }

    #[test]
    fn errors_name_the_file() {
        let e = run_element(&TO_DUMP, "/nonexistent/dir/out.pcap", 0, vec![]).err().unwrap().to_string();
        assert!(e.contains("cannot create '/nonexistent/dir/out.pcap': No such file or directory"), "{e}");
    }

    #[test]
    fn configuration_errors() {
        let err = |c: &str| build_element(&TO_DUMP, c, 1, 0).err().map(|e| e.0).unwrap_or_default();
        assert!(err("").contains("FILENAME"));
        assert!(err("x.pcap, ENCAP WAT").contains("bad encapsulation type 'WAT'"));
        assert!(err("x.pcap, USE_ENCAP_FROM fd").contains("not supported"));
        assert!(err("x.pcap, ENCAP IP, USE_ENCAP_FROM fd").contains("at most one"));
        assert!(err("x.pcap, SNAPLEN -1").contains("SNAPLEN"));
        assert!(build_element(&TO_DUMP, "x.pcap, 96, ETHER, EXTRA_LENGTH true, UNBUFFERED false", 1, 0).is_ok());
        assert!(build_element(&TO_DUMP, "x.pcap, ENCAP #147", 1, 1).is_ok());
        assert!(build_element(&TO_DUMP, "x.pcap, UNBUFFERED, NANO", 1, 0).is_ok());
        assert!(build_element(&TO_DUMP, "x.pcap, 0, IP, NANO", 1, 0).is_ok());
    }
}

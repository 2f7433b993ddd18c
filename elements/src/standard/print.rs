//! `Print`: prints packet contents on standard error.

use sluice::args::{Args, FromArg, Word};
use sluice::packet::USER_ANNO_BYTES;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::io::Write;

sluice::element_class! {
    /// Print([LABEL, MAXLENGTH, KEYWORDS])
    ///
    /// Prints packet contents.
    ///
    /// Prints up to MAXLENGTH bytes of data from each packet, in hex, preceded by the
    /// LABEL text, on standard error, one line per packet, and passes the packet on
    /// unchanged. Default MAXLENGTH is 24. The line has Click's format:
    /// `LABEL: LEN | hexdata`, where LEN is right-aligned in 4 columns and the data is
    /// printed in groups of 4 bytes separated by spaces, e.g.
    /// `ok:   98 | 45000054 00004000 40010000 0a000001 0a000002 0800f7ff`. Without a label
    /// the line starts with LEN; zero-length packets (or CONTENTS NONE) print no `|` part.
    ///
    /// Lines are written to standard error without allocating; the lines of one batch are
    /// written under one lock, so they are never interleaved with other output.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `LABEL` — string, positional. Text before each line. Default empty.
    /// - `MAXLENGTH` — integer, positional. Most content bytes to print; negative prints
    ///   the entire packet. Default 24. `LENGTH` and `NBYTES` are deprecated names for it.
    /// - `CONTENTS` — `NONE` (no packet data), `HEX` (hexadecimal) or `ASCII` (printable
    ///   characters, others as `.`, a space every 8 characters); a boolean means HEX
    ///   (true) or NONE (false). Case-insensitive. Default HEX.
    /// - `TIMESTAMP` — boolean. If true, prints each packet's timestamp in seconds since
    ///   1970, with microseconds (`1700000000.123456`). Default false.
    /// - `PRINTANNO` — boolean. If true, prints the packet's 48 user annotation bytes in
    ///   hex. Default false.
    /// - `HEADROOM` — boolean. If true, prints the headroom and tailroom as
    ///   `(h[headroom] t[tailroom])`. Default false.
    /// - `ACTIVE` — boolean. If false, don't print. Default true.
    ///
    /// Click's kernel-only `CPU` keyword is not accepted.
    ///
    /// # Handlers
    /// - `active` (read/write) — the ACTIVE parameter.
    ///
    /// # Example
    /// ```text
    /// FromDevice(eth0) -> Print(in, 60) -> Discard;
    /// // in:   98 | 00163e11 22330016 3e445566 08004500 00540000 40004001 ...
    /// ```
    pub const PRINT = "Print" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("active", Combine::First, "whether Print prints")];

/// How packet data is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contents {
    None,
    Hex,
    Ascii,
}

impl Contents {
    fn parse(s: &str) -> Result<Contents, String> {
        if let Ok(b) = bool::from_arg(s) {
            return Ok(if b { Contents::Hex } else { Contents::None });
        }
        match s.to_ascii_uppercase().as_str() {
            "NONE" => Ok(Contents::None),
            "HEX" => Ok(Contents::Hex),
            "ASCII" => Ok(Contents::Ascii),
            _ => Err(format!("bad contents value '{s}'; should be 'NONE', 'HEX', or 'ASCII'")),
        }
    }
}

/// Everything that decides what a line looks like.
#[derive(Clone, Debug)]
pub struct PrintFormat {
    pub label: String,
    /// Most data bytes shown; negative: all.
    pub maxlength: i64,
    pub contents: Contents,
    pub timestamp: bool,
    pub print_anno: bool,
    pub headroom: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl PrintFormat {
    /// Click's format with default settings and this label.
    pub fn new(label: &str) -> Self {
        PrintFormat {
            label: label.to_string(),
            maxlength: 24,
            contents: Contents::Hex,
            timestamp: false,
            print_anno: false,
            headroom: false,
        }
    }

    /// Bytes of a line's fixed parts, to reserve room once.
    fn capacity_hint(&self) -> usize {
        let data = if self.maxlength < 0 { 3 * 2048 } else { 3 * self.maxlength.min(65_536) as usize };
        self.label.len() + 2 + 30 + 11 + 24 + 3 + 2 * USER_ANNO_BYTES + 3 + data
    }

    /// Append the line for `p` (without newline) to `out`, exactly as Click prints it.
    pub fn format(&self, p: &Packet, out: &mut String) {
        use std::fmt::Write as _;
        let len = p.len();
        let bytes = match self.contents {
            Contents::None => 0,
            _ if self.maxlength < 0 => len,
            _ => len.min(usize::try_from(self.maxlength).unwrap_or(usize::MAX)),
        };
        let mut sep = "";
        if !self.label.is_empty() {
            out.push_str(&self.label);
            sep = ": ";
        }
        if self.timestamp {
            let ts = p.anno().timestamp_ns;
            let _ = write!(out, "{sep}{}.{:06}", ts / 1_000_000_000, (ts % 1_000_000_000) / 1000);
            sep = ": ";
        }
        let _ = write!(out, "{sep}{len:4}");
        if self.headroom {
            let _ = write!(out, " (h{} t{})", p.headroom(), p.tailroom());
        }
        if self.print_anno {
            out.push_str(" | ");
            for b in p.anno().user.iter() {
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
        if bytes > 0 {
            out.push_str(" | ");
            let data = &p.data()[..bytes];
            match self.contents {
                Contents::Hex => {
                    for (i, b) in data.iter().enumerate() {
                        if i > 0 && i % 4 == 0 {
                            out.push(' ');
                        }
                        out.push(HEX[(b >> 4) as usize] as char);
                        out.push(HEX[(b & 15) as usize] as char);
                    }
                }
                Contents::Ascii => {
                    for (i, &b) in data.iter().enumerate() {
                        if i % 8 == 0 {
                            out.push(' ');
                        }
                        out.push(if (32..=126).contains(&b) { b as char } else { '.' });
                    }
                }
                Contents::None => {}
            }
        }
    }
}

/// Reads the configuration: the line format and ACTIVE.
fn configure(config: &str) -> Result<(PrintFormat, bool), ConfigError> {
    let mut args = Args::new(config);
    let label = args.read_p::<String>("LABEL")?.unwrap_or_default();
    let mut maxlength = args.read_p::<i64>("MAXLENGTH")?.unwrap_or(24);
    for deprecated in ["LENGTH", "NBYTES"] {
        if let Some(v) = args.read_kw::<i64>(deprecated)? {
            maxlength = v;
        }
    }
    let contents = args.read_kw::<Word>("CONTENTS")?;
    let timestamp = args.read_kw::<bool>("TIMESTAMP")?.unwrap_or(false);
    let print_anno = args.read_kw::<bool>("PRINTANNO")?.unwrap_or(false);
    let active = args.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    let headroom = args.read_kw::<bool>("HEADROOM")?.unwrap_or(false);
    args.finish()?;
    let contents = match contents {
        Some(w) => Contents::parse(&w).map_err(|e| ConfigError(format!("CONTENTS: {e}")))?,
        None => Contents::Hex,
    };
    Ok((PrintFormat { label, maxlength, contents, timestamp, print_anno, headroom }, active))
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let (format, active) = configure(config)?;
    let line = String::with_capacity(format.capacity_hint());
    Ok(Box::new(Print { format, active, line }))
}

/// The element: the format, whether to print, and a reused line buffer.
pub struct Print {
    format: PrintFormat,
    active: bool,
    line: String,
}

impl Print {
    fn print(&mut self, batch: &Batch) {
        if !self.active || batch.is_empty() {
            return;
        }
        let stderr = std::io::stderr();
        let mut err = stderr.lock();
        for p in batch.iter() {
            self.line.clear();
            self.format.format(p, &mut self.line);
            self.line.push('\n');
            // Printing is best effort: a closed stderr must not stop the packets.
            let _ = err.write_all(self.line.as_bytes());
        }
    }
}

impl Element for Print {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        self.print(&batch);
        ctx.push(0, batch);
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        self.print(&batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "active").then(|| self.active.to_string())
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "active" => {
                self.active = bool::from_arg(value.trim()).map_err(|e| format!("active: {e}"))?;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};

    /// The 98-byte ICMP echo request of Click's test suite (IP header onwards).
    fn ping() -> Packet {
        let mut d = vec![
            0x45, 0x00, 0x00, 0x54, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
            0x00, 0x02, 0x08, 0x00, 0xf7, 0xff,
        ];
        d.resize(98, 0x61);
        Packet::from_slice(&d)
    }

    fn line(format: &PrintFormat, p: &Packet) -> String {
        let mut s = String::new();
        format.format(p, &mut s);
        s
    }

    fn format_of(config: &str) -> PrintFormat {
        configure(config).unwrap().0
    }

    #[test]
    fn hex_lines_match_click() {
        assert_eq!(
            line(&PrintFormat::new("ok"), &ping()),
            "ok:   98 | 45000054 00004000 40010000 0a000001 0a000002 0800f7ff"
        );
        assert_eq!(line(&format_of(""), &ping()), "  98 | 45000054 00004000 40010000 0a000001 0a000002 0800f7ff");
        assert_eq!(line(&format_of("x, 6"), &ping()), "x:   98 | 45000054 0000");
        assert_eq!(line(&format_of("x, 0"), &ping()), "x:   98");
        assert_eq!(line(&format_of("big, -1"), &Packet::from_slice(&[1; 5])), "big:    5 | 01010101 01");
        assert_eq!(line(&format_of("x"), &Packet::from_slice(&[0xab, 0xcd])), "x:    2 | abcd");
        assert_eq!(line(&format_of("\"two words\""), &Packet::from_slice(&[0])), "two words:    1 | 00");
        let long = Packet::from_slice(&[0x11; 12345]);
        assert_eq!(line(&format_of("L, 4"), &long), "L: 12345 | 11111111");
    }

    #[test]
    fn empty_packets_and_contents_none() {
        assert_eq!(line(&format_of("e"), &Packet::new(0)), "e:    0");
        assert_eq!(line(&format_of("n, CONTENTS NONE"), &ping()), "n:   98");
        assert_eq!(line(&format_of("n, CONTENTS false"), &ping()), "n:   98");
        assert_eq!(line(&format_of("n, CONTENTS true, MAXLENGTH 2"), &ping()), "n:   98 | 4500");
    }

    #[test]
    fn ascii_contents_match_click() {
        let p = Packet::from_slice(b"GET / HTTP/1.0\r\n\x00z");
        assert_eq!(line(&format_of("a, -1, CONTENTS ascii"), &p), "a:   18 |  GET / HT TP/1.0.. .z");
    }

    #[test]
    fn timestamp_headroom_and_annotations() {
        let mut p = Packet::from_slice(&[1, 2, 3, 4]);
        p.anno_mut().timestamp_ns = 1_700_000_000_123_456_789;
        let f = format_of("t, TIMESTAMP true");
        assert_eq!(line(&f, &p), "t: 1700000000.123456:    4 | 01020304");
        let f = format_of("TIMESTAMP true");
        assert_eq!(line(&f, &p), "1700000000.123456:    4 | 01020304");
        let f = format_of("h, HEADROOM true");
        assert_eq!(line(&f, &p), format!("h:    4 (h{} t{}) | 01020304", p.headroom(), p.tailroom()));
        p.anno_mut().user[0] = 0xfe;
        p.anno_mut().user[47] = 0x01;
        let f = format_of("a, 0, PRINTANNO true");
        assert_eq!(line(&f, &p), format!("a:    4 | fe{}01", "00".repeat(46)));
    }

    #[test]
    fn passes_packets_unchanged_in_push_mode() {
        let input: Vec<Packet> = (0..70u8).map(|i| Packet::from_slice(&[i; 30])).collect();
        let (out, router) = run_element(&PRINT, "test, ACTIVE false", 1, input).unwrap();
        assert_eq!(out[0].len(), 70);
        assert!(out[0].iter().enumerate().all(|(i, p)| p.data() == [i as u8; 30]));
        assert_eq!(router.read_handler("e", "active").unwrap(), "false");
        let (out, _) = run_element(&PRINT, "printed", 1, vec![Packet::from_slice(b"hi"), Packet::new(0)]).unwrap();
        assert_eq!(out[0].len(), 2);
    }

    #[test]
    fn handlers_read_and_write() {
        let mut p = build_elem(&PRINT, "", 1, 1).unwrap();
        assert_eq!(p.read_handler("active").unwrap(), "true");
        p.write_handler("active", "false\n").unwrap();
        assert_eq!(p.read_handler("active").unwrap(), "false");
        assert!(p.write_handler("active", "loud").is_err());
        assert!(p.write_handler("label", "x").is_err());
    }

    #[test]
    fn config_is_checked() {
        assert!(
            build_elem(&PRINT, "x, 10, CONTENTS ASCII, TIMESTAMP true, HEADROOM true, PRINTANNO true", 1, 1).is_ok()
        );
        assert!(build_elem(&PRINT, "x, LENGTH 10", 1, 1).is_ok());
        assert!(build_elem(&PRINT, "x, NBYTES 10", 1, 1).is_ok());
        let e = build_elem(&PRINT, "x, CONTENTS BINARY", 1, 1).err().unwrap();
        assert_eq!(e.0, "CONTENTS: bad contents value 'BINARY'; should be 'NONE', 'HEX', or 'ASCII'");
        let e = build_elem(&PRINT, "x, many", 1, 1).err().unwrap();
        assert!(e.0.starts_with("MAXLENGTH: "), "{e}");
        let e = build_elem(&PRINT, "x, CPU true", 1, 1).err().unwrap();
        assert!(e.0.contains("unknown keyword 'CPU'"), "{e}");
        let e = build_elem(&PRINT, "x, 1, 2", 1, 1).err().unwrap();
        assert!(e.0.contains("too many arguments"), "{e}");
    }
}

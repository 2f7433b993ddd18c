//! Capture files: a streaming reader for pcap and pcapng, the pcap record writer's byte
//! layout, link types by Click's names, and Click's `FORCE_IP` header finding.
//!
//! The reader is written here rather than taken from `pcap-file` because FromDump needs what
//! that crate's readers do not give: records whose original length exceeds the file's
//! snap length (common: `tcpdump -s 128`), pcapng timestamps in each interface's
//! `if_tsresol`/`if_tsoffset` units, Simple Packet Blocks cut to their real length, the file
//! position of every record (`packet_filepos`), Click's fixes for old and modified pcap
//! variants, and a clean, counted stop on a damaged file instead of an 8 MB look-ahead
//! buffer. Reading goes through a [`BufReader`], and packet bytes are read straight into
//! pooled [`Packet`]s.

use sluice::Packet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Largest captured length accepted in a record (libpcap's `MAXIMUM_SNAPLEN`); a larger one
/// means the file is damaged, and reading stops there.
pub const MAX_CAPLEN: u32 = 262_144;

/// Largest pcapng block whose body is parsed in memory (section and interface headers).
const MAX_HEADER_BLOCK: u32 = 1 << 20;

const PCAP_MAGIC: u32 = 0xA1B2_C3D4;
const PCAP_MAGIC_NANO: u32 = 0xA1B2_3C4D;
/// Alexey Kuznetzov's modified pcap: 8 more bytes in every record header.
const PCAP_MAGIC_MODIFIED: u32 = 0xA1B2_CD34;
const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OPB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;

/// Link types (tcpdump.org `LINKTYPE_*` values, as stored in files).
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHER: u32 = 1;
    pub const PPP: u32 = 9;
    pub const FDDI: u32 = 10;
    pub const PPP_HDLC: u32 = 50;
    pub const ATM_RFC1483: u32 = 100;
    pub const RAW: u32 = 101;
    /// Raw IP under its BSD `DLT_RAW` numbers, found in old files.
    pub const RAW_BSD: u32 = 12;
    pub const RAW_OPENBSD: u32 = 14;
    pub const C_HDLC: u32 = 104;
    pub const IEEE802_11: u32 = 105;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const PRISM: u32 = 119;
    pub const AIRONET: u32 = 120;
    pub const SUNATM: u32 = 123;
    pub const IEEE802_11_RADIO: u32 = 127;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// Click's encapsulation names (`ENCAP` of ToDump, `encap` handler of FromDump).
const ENCAP_NAMES: &[(&str, u32)] = &[
    ("NULL", linktype::NULL),
    ("IP", linktype::RAW),
    ("ETHER", linktype::ETHER),
    ("FDDI", linktype::FDDI),
    ("ATM", linktype::ATM_RFC1483),
    ("RFC1483", linktype::ATM_RFC1483),
    ("ATM_RFC1483", linktype::ATM_RFC1483),
    ("802_11", linktype::IEEE802_11),
    ("802.11", linktype::IEEE802_11),
    ("802_11_RADIO", linktype::IEEE802_11_RADIO),
    ("802.11_RADIO", linktype::IEEE802_11_RADIO),
    ("SLL", linktype::LINUX_SLL),
    ("AIRONET", linktype::AIRONET),
    ("HDLC", linktype::C_HDLC),
    ("PPP_HDLC", linktype::PPP_HDLC),
    ("PPP", linktype::PPP),
    ("SUNATM", linktype::SUNATM),
    ("PRISM", linktype::PRISM),
    ("SLL2", linktype::LINUX_SLL2),
];

/// Parse an encapsulation name as Click does (`ETHER`, `IP`, ..., or `#N` for link type N).
/// Names are matched without regard to case.
pub fn parse_encap(s: &str) -> Option<u32> {
    if let Some(n) = s.strip_prefix('#') {
        return n.parse::<u32>().ok().filter(|&n| n < 0x7FFF_FFFF);
    }
    ENCAP_NAMES.iter().find(|(name, _)| name.eq_ignore_ascii_case(s)).map(|&(_, lt)| lt)
}

/// Click's name for a link type (`ETHER`, `IP`, ...), or `#N`.
pub fn unparse_encap(lt: u32) -> String {
    match lt {
        linktype::RAW_BSD | linktype::RAW_OPENBSD => "IP".to_string(),
        _ => ENCAP_NAMES.iter().find(|&&(_, l)| l == lt).map_or_else(|| format!("#{lt}"), |(name, _)| name.to_string()),
    }
}

/// True for link types whose packets start with the IP header itself.
pub fn is_raw_ip(lt: u32) -> bool {
    matches!(lt, linktype::RAW | linktype::RAW_BSD | linktype::RAW_OPENBSD | linktype::IPV4 | linktype::IPV6)
}

/// True for link types [`force_ip`] understands.
pub fn force_ipable(lt: u32) -> bool {
    is_raw_ip(lt)
        || matches!(
            lt,
            linktype::ETHER
                | linktype::LINUX_SLL
                | linktype::LINUX_SLL2
                | linktype::NULL
                | linktype::LOOP
                | linktype::C_HDLC
                | linktype::PPP
                | linktype::PPP_HDLC
        )
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn is_ip_ethertype(et: Option<u16>) -> bool {
    matches!(et, Some(0x0800) | Some(0x86DD))
}

/// Click's `fake_pcap_force_ip`: find the IP header behind the link header of link type
/// `lt`; if it is a complete IPv4 or IPv6 header, set the network header annotation on it
/// (and, for IPv4, the destination address annotation) and return true.
pub fn force_ip(p: &mut Packet, lt: u32) -> bool {
    let d = p.data();
    let off: Option<usize> = match lt {
        _ if is_raw_ip(lt) => Some(0),
        linktype::ETHER => {
            let et = be16(d, 12);
            if is_ip_ethertype(et) {
                Some(14)
            } else if et == Some(0x8100) && is_ip_ethertype(be16(d, 16)) {
                // One 802.1Q tag, as Click (which does not look inside Q-in-Q).
                Some(18)
            } else {
                None
            }
        }
        linktype::LINUX_SLL => is_ip_ethertype(be16(d, 14)).then_some(16),
        linktype::LINUX_SLL2 => is_ip_ethertype(be16(d, 0)).then_some(20),
        linktype::C_HDLC => is_ip_ethertype(be16(d, 2)).then_some(4),
        linktype::NULL | linktype::LOOP => {
            if d.len() < 4 {
                None
            } else {
                // The family is in the capturing host's byte order (NULL) or network order
                // (LOOP); like Click, read it little-endian and fall back to the big-endian
                // low half.
                let mut family = u32::from(d[0]) | u32::from(d[1]) << 8;
                if family == 0 {
                    family = u32::from(d[2]) << 8 | u32::from(d[3]);
                }
                matches!(family, 2 | 24 | 28 | 30).then_some(4)
            }
        }
        linktype::PPP_HDLC => {
            if d.len() >= 4 && d[0] == 0xFF {
                (d[2] == 0 && (d[3] == 0x21 || d[3] == 0x57)).then_some(4)
            } else if d.len() >= 4 && (d[0] == 0x0F || d[0] == 0x8F) {
                is_ip_ethertype(be16(d, 2)).then_some(4)
            } else {
                None
            }
        }
        linktype::PPP => {
            let skip = if d.len() >= 2 && d[0] == 0xFF && d[1] == 0x03 { 2 } else { 0 };
            match d.get(skip..skip + 2) {
                Some([0x21 | 0x57, _]) => Some(skip + 1),
                Some([0, 0x21 | 0x57]) => Some(skip + 2),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(off) = off else { return false };
    let Some(&first) = d.get(off) else { return false };
    match first >> 4 {
        4 => {
            let hl = usize::from(first & 0x0F) * 4;
            if hl >= 20 && off + hl <= d.len() {
                let dst = [d[off + 16], d[off + 17], d[off + 18], d[off + 19]];
                p.set_network_header(off, hl);
                p.anno_mut().dst_ip = dst;
                true
            } else {
                false
            }
        }
        6 if off + 40 <= d.len() => {
            p.set_network_header(off, 40);
            true
        }
        _ => false,
    }
}

/// The `(os error N)` suffix of an I/O error removed: `No such file or directory`.
pub fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(k) => s[..k].to_string(),
        None => s,
    }
}

/// What is read: a file or standard input.
enum Source {
    File(File),
    Stdin(io::Stdin),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            Source::Stdin(s) => s.read(buf),
        }
    }
}

/// A pcapng interface: its link type, snap length and timestamp units.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// `if_tsresol`: bit 7 clear, 10^-n seconds; set, 2^-n seconds.
    tsresol: u8,
    /// `if_tsoffset`, seconds.
    tsoffset: i64,
}

enum Format {
    Pcap {
        big_endian: bool,
        nano: bool,
        /// Extra record header bytes (modified pcap).
        extra: usize,
        minor: u16,
        linktype: u32,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// One record's header; its bytes are still in the file (see [`CaptureReader::read_data`]).
#[derive(Clone, Copy, Debug)]
pub struct RecordHeader {
    /// Timestamp, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Bytes of packet data in the file.
    pub caplen: u32,
    /// Length of the packet on the wire.
    pub orig_len: u32,
    pub linktype: u32,
    /// File position of the record (its header), in bytes.
    pub filepos: u64,
    /// Bytes to skip after the packet data (padding, options, trailer, excess data).
    rest: u64,
}

/// A streaming reader of pcap and pcapng files.
pub struct CaptureReader {
    r: BufReader<Source>,
    name: String,
    pos: u64,
    size: Option<u64>,
    format: Format,
    /// A problem found after a record's data was read (its trailer); reported next time.
    deferred: Option<String>,
    /// Records skipped because they were unusable but the file could still be followed
    /// (a pcapng packet naming an unknown interface).
    pub skipped_bad: u64,
}

fn u16_of(b: &[u8], big: bool) -> u16 {
    let a = [b[0], b[1]];
    if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

fn u32_of(b: &[u8], big: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn u64_of(b: &[u8], big: bool) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    if big {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    }
}

/// pcapng timestamp units to nanoseconds since the epoch (clamped to `u64`).
fn ng_timestamp(units: u64, tsresol: u8, tsoffset: i64) -> u64 {
    let units = u128::from(units);
    let ns: u128 = if tsresol & 0x80 == 0 {
        let k = u32::from(tsresol);
        if k <= 9 {
            units * 10u128.pow(9 - k)
        } else {
            10u128.checked_pow(k - 9).map_or(0, |d| units / d)
        }
    } else {
        (units * 1_000_000_000) >> u32::from(tsresol & 0x7F)
    };
    let total = ns as i128 + i128::from(tsoffset) * 1_000_000_000;
    total.clamp(0, i128::from(u64::MAX)) as u64
}

impl CaptureReader {
    /// Open `path` (`-` is standard input) and read its file header. `name` is how messages
    /// call the file. Errors: `cannot open 'x.pcap': No such file or directory`,
    /// `'x.pcap' is not a pcap or pcapng file`.
    pub fn open(path: &Path, name: &str) -> Result<CaptureReader, String> {
        let (source, size) = if path.as_os_str() == "-" {
            (Source::Stdin(io::stdin()), None)
        } else {
            let f = File::open(path).map_err(|e| format!("cannot open '{name}': {}", io_reason(&e)))?;
            let meta = f.metadata().map_err(|e| format!("cannot open '{name}': {}", io_reason(&e)))?;
            if meta.is_dir() {
                return Err(format!("cannot open '{name}': Is a directory"));
            }
            (Source::File(f), Some(meta.len()))
        };
        let mut reader = CaptureReader {
            r: BufReader::with_capacity(64 * 1024, source),
            name: name.to_string(),
            pos: 0,
            size,
            format: Format::Pcap { big_endian: false, nano: false, extra: 0, minor: 4, linktype: 0 },
            deferred: None,
            skipped_bad: 0,
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    fn not_capture(&self, why: &str) -> String {
        format!("'{}' is not a pcap or pcapng file ({why})", self.name)
    }

    /// Read until `buf` is full or the input ends; the number of bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pos += n as u64;
                    return Err(format!("read error at byte {}: {}", self.pos, io_reason(&e)));
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    /// Fill `buf` completely, or fail saying what was cut short.
    fn fill_exact(&mut self, buf: &mut [u8], what: &str, at: u64) -> Result<(), String> {
        let n = self.fill(buf)?;
        if n < buf.len() {
            return Err(format!("file ends inside {what} at byte {at} ({n} of {} bytes)", buf.len()));
        }
        Ok(())
    }

    /// Skip `n` bytes, or fail saying what was cut short.
    fn skip(&mut self, n: u64, what: &str, at: u64) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        let got = io::copy(&mut (&mut self.r).take(n), &mut io::sink())
            .map_err(|e| format!("read error at byte {}: {}", self.pos, io_reason(&e)))?;
        self.pos += got;
        if got < n {
            return Err(format!("file ends inside {what} at byte {at} ({got} of {n} bytes)"));
        }
        Ok(())
    }

    fn read_file_header(&mut self) -> Result<(), String> {
        let mut m = [0u8; 4];
        let n = self.fill(&mut m)?;
        if n < 4 {
            return Err(self.not_capture(if n == 0 { "empty" } else { "too short" }));
        }
        let magic = u32::from_le_bytes(m);
        if magic == PCAPNG_SHB {
            let mut rest = [0u8; 8];
            if self.fill(&mut rest)? < 8 {
                return Err(self.not_capture("too short"));
            }
            let big = match u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) {
                PCAPNG_BOM => false,
                x if x.swap_bytes() == PCAPNG_BOM => true,
                _ => return Err(self.not_capture("bad pcapng byte-order magic")),
            };
            self.format = Format::PcapNg { big_endian: big, interfaces: Vec::new() };
            let len = u32_of(&rest[..4], big);
            return self.read_section_header(len, 0);
        }
        let (big, nano, extra) = match magic {
            PCAP_MAGIC => (false, false, 0),
            PCAP_MAGIC_NANO => (false, true, 0),
            PCAP_MAGIC_MODIFIED => (false, false, 8),
            m if m.swap_bytes() == PCAP_MAGIC => (true, false, 0),
            m if m.swap_bytes() == PCAP_MAGIC_NANO => (true, true, 0),
            m if m.swap_bytes() == PCAP_MAGIC_MODIFIED => (true, false, 8),
            _ => return Err(self.not_capture("bad magic number")),
        };
        let mut h = [0u8; 20];
        if self.fill(&mut h)? < 20 {
            return Err(self.not_capture("too short"));
        }
        let major = u16_of(&h[0..], big);
        let minor = u16_of(&h[2..], big);
        if major != 2 {
            return Err(format!("'{}': unknown pcap major version {major}", self.name));
        }
        // The upper bits of the link type field carry FCS information.
        let linktype = u32_of(&h[16..], big) & 0xFFFF;
        self.format = Format::Pcap { big_endian: big, nano, extra, minor, linktype };
        Ok(())
    }

    /// The rest of a section header block whose first 12 bytes (type, length, byte-order
    /// magic) were read; `at` is its file position.
    fn read_section_header(&mut self, len: u32, at: u64) -> Result<(), String> {
        if len < 28 || len & 3 != 0 || len > MAX_HEADER_BLOCK {
            return Err(format!("bad section header block length {len} at byte {at}"));
        }
        let mut v = [0u8; 2];
        self.fill_exact(&mut v, "a section header block", at)?;
        let big = matches!(self.format, Format::PcapNg { big_endian: true, .. });
        let major = u16_of(&v, big);
        if major != 1 {
            return Err(format!("'{}': unknown pcapng major version {major}", self.name));
        }
        // Minor version, section length, options, trailer.
        self.skip(u64::from(len) - 14, "a section header block", at)
    }

    /// The link types known so far (pcap: the file's; pcapng: the interfaces described yet).
    pub fn linktypes(&self) -> Vec<u32> {
        match &self.format {
            Format::Pcap { linktype, .. } => vec![*linktype],
            Format::PcapNg { interfaces, .. } => interfaces.iter().map(|i| i.linktype).collect(),
        }
    }

    pub fn is_pcapng(&self) -> bool {
        matches!(self.format, Format::PcapNg { .. })
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Size of the file, if it is a regular file.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Skip forward to file position `to` (Click's FILEPOS).
    pub fn seek_forward(&mut self, to: u64) -> Result<(), String> {
        if to < self.pos {
            return Err(format!("FILEPOS {to} is inside the file header (which ends at byte {})", self.pos));
        }
        let at = self.pos;
        self.skip(to - at, "the data before FILEPOS", at)
    }

    /// The next record's header, `None` at the end of the file. An error means the file
    /// cannot be followed any further.
    pub fn next_header(&mut self) -> Result<Option<RecordHeader>, String> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        match self.format {
            Format::Pcap { big_endian, nano, extra, minor, linktype } => {
                self.next_pcap(big_endian, nano, extra, minor, linktype)
            }
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(
        &mut self,
        big: bool,
        nano: bool,
        extra: usize,
        minor: u16,
        linktype: u32,
    ) -> Result<Option<RecordHeader>, String> {
        let filepos = self.pos;
        let mut h = [0u8; 24];
        let hlen = 16 + extra;
        let n = self.fill(&mut h[..hlen])?;
        if n == 0 {
            return Ok(None);
        }
        if n < hlen {
            return Err(format!("file ends inside a record header at byte {filepos} ({n} of {hlen} bytes)"));
        }
        let sec = u64::from(u32_of(&h[0..], big));
        let frac = u64::from(u32_of(&h[4..], big));
        let (mut caplen, mut len) = (u32_of(&h[8..], big), u32_of(&h[12..], big));
        // Files of pcap 2.2 and older may have the two lengths the other way round.
        if !(minor > 3 || (minor == 3 && caplen <= len)) {
            std::mem::swap(&mut caplen, &mut len);
        }
        if caplen > MAX_CAPLEN {
            return Err(format!("bad record header at byte {filepos} (captured length {caplen}); giving up"));
        }
        // tcptrace writes a captured length one more than the length; like Click and
        // tcpdump, keep `len` bytes and skip the rest.
        let rest = u64::from(caplen.saturating_sub(len));
        caplen = caplen.min(len);
        let ts_ns = sec * 1_000_000_000 + if nano { frac } else { frac * 1000 };
        Ok(Some(RecordHeader { ts_ns, caplen, orig_len: len, linktype, filepos, rest }))
    }

    fn next_pcapng(&mut self) -> Result<Option<RecordHeader>, String> {
        loop {
            let at = self.pos;
            let mut bh = [0u8; 8];
            let n = self.fill(&mut bh)?;
            if n == 0 {
                return Ok(None);
            }
            if n < 8 {
                return Err(format!("file ends inside a block header at byte {at} ({n} of 8 bytes)"));
            }
            let Format::PcapNg { big_endian, .. } = self.format else { unreachable!("pcapng reader") };
            let btype = u32_of(&bh[0..], big_endian);
            if btype == PCAPNG_SHB {
                // A new section: it may change the byte order, and forgets the interfaces.
                let mut bom = [0u8; 4];
                self.fill_exact(&mut bom, "a section header block", at)?;
                let big = match u32::from_le_bytes(bom) {
                    PCAPNG_BOM => false,
                    x if x.swap_bytes() == PCAPNG_BOM => true,
                    _ => return Err(format!("bad byte-order magic in the section header block at byte {at}")),
                };
                self.format = Format::PcapNg { big_endian: big, interfaces: Vec::new() };
                self.read_section_header(u32_of(&bh[4..], big), at)?;
                continue;
            }
            let blen = u32_of(&bh[4..], big_endian);
            if blen < 12 || blen & 3 != 0 {
                return Err(format!("bad block length {blen} at byte {at}; giving up"));
            }
            let body = u64::from(blen - 12);
            match btype {
                PCAPNG_IDB => {
                    if blen > MAX_HEADER_BLOCK || body < 8 {
                        return Err(format!("bad interface description block length {blen} at byte {at}"));
                    }
                    let mut b = vec![0u8; body as usize];
                    self.fill_exact(&mut b, "an interface description block", at)?;
                    self.skip(4, "an interface description block", at)?;
                    let iface = parse_idb(&b, big_endian);
                    if let Format::PcapNg { interfaces, .. } = &mut self.format {
                        interfaces.push(iface);
                    }
                }
                PCAPNG_EPB | PCAPNG_OPB => {
                    if body < 20 {
                        return Err(format!("bad packet block length {blen} at byte {at}"));
                    }
                    let mut f = [0u8; 20];
                    self.fill_exact(&mut f, "a packet block", at)?;
                    let iface_id = if btype == PCAPNG_EPB {
                        u32_of(&f[0..], big_endian)
                    } else {
                        u32::from(u16_of(&f[0..], big_endian))
                    };
                    let units = u64::from(u32_of(&f[4..], big_endian)) << 32 | u64::from(u32_of(&f[8..], big_endian));
                    let caplen = u32_of(&f[12..], big_endian);
                    let len = u32_of(&f[16..], big_endian);
                    if caplen > MAX_CAPLEN || u64::from(caplen) > body - 20 {
                        return Err(format!("bad packet block at byte {at} (captured length {caplen}); giving up"));
                    }
                    let Some(iface) = self.interface(iface_id) else {
                        self.skip(body - 20 + 4, "a packet block", at)?;
                        self.skipped_bad += 1;
                        tracing::warn!("{}: packet block at byte {at} names unknown interface {iface_id}", self.name);
                        continue;
                    };
                    // As for pcap: never more data than the packet's length.
                    let caplen = caplen.min(len);
                    return Ok(Some(RecordHeader {
                        ts_ns: ng_timestamp(units, iface.tsresol, iface.tsoffset),
                        caplen,
                        orig_len: len,
                        linktype: iface.linktype,
                        filepos: at,
                        rest: body - 20 - u64::from(caplen) + 4,
                    }));
                }
                PCAPNG_SPB => {
                    if body < 4 {
                        return Err(format!("bad simple packet block length {blen} at byte {at}"));
                    }
                    let mut f = [0u8; 4];
                    self.fill_exact(&mut f, "a simple packet block", at)?;
                    let len = u32_of(&f, big_endian);
                    let Some(iface) = self.interface(0) else {
                        self.skip(body - 4 + 4, "a simple packet block", at)?;
                        self.skipped_bad += 1;
                        tracing::warn!("{}: simple packet block at byte {at} before any interface", self.name);
                        continue;
                    };
                    let mut caplen = u64::from(len).min(body - 4);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(u64::from(iface.snaplen));
                    }
                    if caplen > u64::from(MAX_CAPLEN) {
                        return Err(format!("bad simple packet block at byte {at} (length {len}); giving up"));
                    }
                    return Ok(Some(RecordHeader {
                        ts_ns: 0,
                        caplen: caplen as u32,
                        orig_len: len,
                        linktype: iface.linktype,
                        filepos: at,
                        rest: body - 4 - caplen + 4,
                    }));
                }
                _ => self.skip(body + 4, "a block", at)?,
            }
        }
    }

    fn interface(&self, id: u32) -> Option<Interface> {
        match &self.format {
            Format::PcapNg { interfaces, .. } => interfaces.get(id as usize).copied(),
            Format::Pcap { .. } => None,
        }
    }

    /// Read the record's packet data into a new packet.
    pub fn read_data(&mut self, h: &RecordHeader) -> Result<Packet, String> {
        let mut p = Packet::new(h.caplen as usize);
        let n = self.fill(p.data_mut())?;
        if n < h.caplen as usize {
            return Err(format!(
                "file ends inside the record at byte {} ({n} of {} bytes of packet data)",
                h.filepos, h.caplen
            ));
        }
        if let Err(e) = self.skip(h.rest, "a record", h.filepos) {
            // The packet itself is whole: deliver it, and report the damage next time.
            self.deferred = Some(e);
        }
        Ok(p)
    }

    /// Skip the record's packet data.
    pub fn skip_data(&mut self, h: &RecordHeader) -> Result<(), String> {
        self.skip(u64::from(h.caplen) + h.rest, "a record", h.filepos)
    }
}

/// Link type, snap length and timestamp options of an interface description block body.
fn parse_idb(b: &[u8], big: bool) -> Interface {
    let mut iface =
        Interface { linktype: u32::from(u16_of(&b[0..], big)), snaplen: u32_of(&b[4..], big), tsresol: 6, tsoffset: 0 };
    let mut o = 8;
    while o + 4 <= b.len() {
        let code = u16_of(&b[o..], big);
        let len = usize::from(u16_of(&b[o + 2..], big));
        let v = o + 4;
        if code == 0 || v + len > b.len() {
            break;
        }
        match (code, len) {
            (9, 1) => iface.tsresol = b[v],
            (14, 8) => iface.tsoffset = u64_of(&b[v..], big) as i64,
            _ => {}
        }
        o = v + len.div_ceil(4) * 4;
    }
    iface
}

/// The 24-byte pcap file header ToDump writes (host byte order, as Click and libpcap do).
pub fn pcap_file_header(nano: bool, snaplen: u32, linktype: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    let magic = if nano { PCAP_MAGIC_NANO } else { PCAP_MAGIC };
    h[0..4].copy_from_slice(&magic.to_ne_bytes());
    h[4..6].copy_from_slice(&2u16.to_ne_bytes());
    h[6..8].copy_from_slice(&4u16.to_ne_bytes());
    // thiszone 0 (GMT), sigfigs 0
    h[16..20].copy_from_slice(&snaplen.to_ne_bytes());
    h[20..24].copy_from_slice(&linktype.to_ne_bytes());
    h
}

/// A 16-byte pcap record header in host byte order.
pub fn pcap_record_header(ts_ns: u64, nano: bool, caplen: u32, len: u32) -> [u8; 16] {
    let sec = u32::try_from(ts_ns / 1_000_000_000).unwrap_or(u32::MAX);
    let sub = (ts_ns % 1_000_000_000) as u32;
    let frac = if nano { sub } else { sub / 1000 };
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&sec.to_ne_bytes());
    h[4..8].copy_from_slice(&frac.to_ne_bytes());
    h[8..12].copy_from_slice(&caplen.to_ne_bytes());
    h[12..16].copy_from_slice(&len.to_ne_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    }

    fn pcap_be_nano() -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&PCAP_MAGIC_NANO.to_be_bytes());
        f.extend_from_slice(&2u16.to_be_bytes());
        f.extend_from_slice(&4u16.to_be_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&96u32.to_be_bytes());
        f.extend_from_slice(&(0x0400_0000u32 | 101).to_be_bytes()); // FCS bits set
        for (i, len) in [(0u32, 4u32), (1, 200)] {
            f.extend_from_slice(&(1_700_000_000 + i).to_be_bytes());
            f.extend_from_slice(&123_456_789u32.to_be_bytes());
            f.extend_from_slice(&4u32.to_be_bytes());
            f.extend_from_slice(&len.to_be_bytes());
            f.extend_from_slice(&[0x45, 0, 0, i as u8]);
        }
        f
    }

    #[test]
    fn reads_big_endian_nanosecond_pcap() {
        let p = temp("be-nano.pcap", &pcap_be_nano());
        let mut r = CaptureReader::open(&p, "be-nano.pcap").unwrap();
        assert_eq!(r.linktypes(), vec![linktype::RAW]);
        let h = r.next_header().unwrap().unwrap();
        assert_eq!((h.ts_ns, h.caplen, h.orig_len, h.filepos), (1_700_000_000_123_456_789, 4, 4, 24));
        assert_eq!(r.read_data(&h).unwrap().data(), &[0x45, 0, 0, 0]);
        let h = r.next_header().unwrap().unwrap();
        assert_eq!((h.caplen, h.orig_len, h.filepos), (4, 200, 44));
        r.skip_data(&h).unwrap();
        assert!(r.next_header().unwrap().is_none());
        assert_eq!(r.pos(), 64);
    }

    #[test]
    fn a_record_cut_short_is_an_error_not_a_panic() {
        let mut f = pcap_be_nano();
        f.truncate(f.len() - 2);
        let p = temp("cut.pcap", &f);
        let mut r = CaptureReader::open(&p, "cut.pcap").unwrap();
        let h = r.next_header().unwrap().unwrap();
        r.read_data(&h).unwrap();
        let h = r.next_header().unwrap().unwrap();
        let e = r.read_data(&h).unwrap_err();
        assert!(e.contains("file ends inside the record at byte 44"), "{e}");
        // A header cut short too.
        let mut f = pcap_be_nano();
        f.truncate(24 + 20 + 5);
        let p = temp("cut2.pcap", &f);
        let mut r = CaptureReader::open(&p, "cut2.pcap").unwrap();
        let h = r.next_header().unwrap().unwrap();
        r.skip_data(&h).unwrap();
        assert!(r.next_header().unwrap_err().contains("record header"));
    }

    #[test]
    fn refuses_what_is_not_a_capture() {
        let p = temp("text.pcap", b"hello, world, this is not a capture file");
        let e = CaptureReader::open(&p, "text.pcap").err().unwrap();
        assert_eq!(e, "'text.pcap' is not a pcap or pcapng file (bad magic number)");
        let p = temp("empty.pcap", b"");
        let e = CaptureReader::open(&p, "empty.pcap").err().unwrap();
        assert_eq!(e, "'empty.pcap' is not a pcap or pcapng file (empty)");
        let e = CaptureReader::open(Path::new("/nonexistent/x.pcap"), "x.pcap").err().unwrap();
        assert_eq!(e, "cannot open 'x.pcap': No such file or directory");
    }

    #[test]
    fn pcapng_timestamp_units() {
        assert_eq!(ng_timestamp(1_500_000, 6, 0), 1_500_000_000);
        assert_eq!(ng_timestamp(7, 9, 0), 7);
        assert_eq!(ng_timestamp(1, 0, 10), 11_000_000_000);
        assert_eq!(ng_timestamp(1 << 20, 0x80 | 20, 0), 1_000_000_000);
        assert_eq!(ng_timestamp(12_345, 12, 0), 12);
        assert_eq!(ng_timestamp(5, 6, -1), 0);
    }

    #[test]
    fn encap_names_round_trip() {
        assert_eq!(parse_encap("ETHER"), Some(1));
        assert_eq!(parse_encap("ip"), Some(101));
        assert_eq!(parse_encap("#147"), Some(147));
        assert_eq!(parse_encap("WAT"), None);
        assert_eq!(unparse_encap(1), "ETHER");
        assert_eq!(unparse_encap(12), "IP");
        assert_eq!(unparse_encap(147), "#147");
    }

    #[test]
    fn force_ip_finds_headers_behind_link_headers() {
        // Ethernet + 802.1Q + IPv4 with options (IHL 6).
        let mut d = vec![0u8; 18 + 24];
        d[12..14].copy_from_slice(&[0x81, 0x00]);
        d[16..18].copy_from_slice(&[0x08, 0x00]);
        d[18] = 0x46;
        d[18 + 16..18 + 20].copy_from_slice(&[10, 0, 0, 1]);
        let mut p = Packet::from_slice(&d);
        assert!(force_ip(&mut p, linktype::ETHER));
        assert_eq!(p.network_header_offset(), Some(18));
        assert_eq!(p.transport_header_offset(), Some(18 + 24));
        assert_eq!(p.anno().dst_ip, [10, 0, 0, 1]);
        // IHL claims more than the packet holds.
        let mut short = Packet::from_slice(&d[..18 + 22]);
        assert!(!force_ip(&mut short, linktype::ETHER));
        // ARP is not IP.
        let mut arp = vec![0u8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!force_ip(&mut Packet::from_slice(&arp), linktype::ETHER));
        // Linux cooked IPv6.
        let mut sll = vec![0u8; 16 + 40];
        sll[14..16].copy_from_slice(&[0x86, 0xDD]);
        sll[16] = 0x60;
        let mut p = Packet::from_slice(&sll);
        assert!(force_ip(&mut p, linktype::LINUX_SLL));
        assert_eq!(p.network_header_offset(), Some(16));
        // Raw IP, too short for an IPv6 header; empty packets.
        assert!(!force_ip(&mut Packet::from_slice(&[0x60; 39]), linktype::RAW));
        assert!(!force_ip(&mut Packet::from_slice(&[]), linktype::RAW));
        assert!(!force_ip(&mut Packet::from_slice(&[]), linktype::ETHER));
        assert!(!force_ip(&mut Packet::from_slice(&[0x45; 20]), linktype::IEEE802_11));
    }

    /// Read a whole file with the reader; returns (packets, ended with an error).
    fn read_all(path: &Path) -> Option<(usize, bool)> {
        let mut r = CaptureReader::open(path, "f").ok()?;
        let mut n = 0;
        loop {
            match r.next_header() {
                Ok(Some(h)) => {
                    let skip = n % 2 == 1;
                    let res = if skip {
                        r.skip_data(&h)
                    } else {
                        r.read_data(&h).map(|p| assert_eq!(p.len(), h.caplen as usize))
                    };
                    if res.is_err() {
                        return Some((n, true));
                    }
                    assert!(h.caplen <= h.orig_len && h.caplen <= MAX_CAPLEN);
                    n += 1;
                }
                Ok(None) => return Some((n, false)),
                Err(_) => return Some((n, true)),
            }
        }
    }

    #[test]
    fn corrupted_files_never_panic() {
        // Deterministic corruption of a real pcap and of a small pcapng: random bytes
        // changed, and cuts at random places.
        let real =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/pcaps/snabb__v4-tcp-udp.pcap"))
                .unwrap();
        let mut ng = Vec::new();
        let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
        // SHB (28 bytes), IDB with if_tsresol (32 bytes), EPB with 5 bytes of data (40 bytes), SPB (20 bytes).
        for x in [PCAPNG_SHB, 28, PCAPNG_BOM, 1, 0xFFFF_FFFF, 0xFFFF_FFFF, 28] {
            le32(&mut ng, x);
        }
        for x in [PCAPNG_IDB, 28, 1, 0] {
            le32(&mut ng, x);
        }
        ng.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]);
        le32(&mut ng, 28);
        for x in [PCAPNG_EPB, 40, 0, 0, 1_000, 5, 60] {
            le32(&mut ng, x);
        }
        ng.extend_from_slice(&[1, 2, 3, 4, 5, 0, 0, 0]);
        le32(&mut ng, 40);
        for x in [PCAPNG_SPB, 20, 3] {
            le32(&mut ng, x);
        }
        ng.extend_from_slice(&[7, 8, 9, 0]);
        le32(&mut ng, 20);
        let p = temp("ng-ok.pcapng", &ng);
        assert_eq!(read_all(&p), Some((2, false)));

        let mut rng = 0x1234_5678_9ABC_DEF0u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for (k, base) in [real, ng].iter().enumerate() {
            for i in 0..400 {
                let mut f = base.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % f.len();
                    f[at] = next() as u8;
                }
                if i % 3 == 0 {
                    f.truncate((next() as usize) % (f.len() + 1));
                }
                let p = temp(&format!("fuzz-{k}-{i}"), &f);
                let _ = read_all(&p);
            }
        }
    }
}

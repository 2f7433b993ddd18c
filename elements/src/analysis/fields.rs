//! The fields of Click's IP summary dump format (`ipsumdumpinfo.cc`, `ipsumdump_anno.cc`,
//! `ipsumdump_ip.cc`, `ipsumdump_tcp.cc`, `ipsumdump_udp.cc`, `ipsumdump_icmp.cc`,
//! `ipsumdump_payload.cc`): their names and synonyms, how ToIPSummaryDump extracts and
//! prints them, and how FromIPSummaryDump parses them and builds packets from them.

use crate::io::{extra_length_anno, set_extra_length_anno};
use crate::standard::anno::{first_timestamp_anno, set_first_timestamp_anno, AnnoByte};
use crate::wire::checksum;
use crate::wire::icmp::{code_names, TYPE_NAMES};
use sluice::Packet;
use std::fmt::Write as _;

/// Version written in the `!IPSummaryDump` banner.
pub const MAJOR_VERSION: u32 = 1;
pub const MINOR_VERSION: u32 = 3;

/// A field's binary representation (Click's `B_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    B1,
    B2,
    B4,
    /// Four bytes kept in network order (addresses).
    B4Net,
    B8,
    /// Variable length; not supported in BINARY mode by Sluice.
    Special,
}

impl Ty {
    pub fn size(self) -> Option<usize> {
        match self {
            Ty::B1 => Some(1),
            Ty::B2 => Some(2),
            Ty::B4 | Ty::B4Net => Some(4),
            Ty::B8 => Some(8),
            Ty::Special => None,
        }
    }
}

/// A field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F {
    Timestamp,
    NTimestamp,
    TsSec,
    TsUsec,
    TsUsec1,
    FirstTimestamp,
    FirstNTimestamp,
    Count,
    Link,
    Direction,
    Aggregate,
    WireLen,
    IpSrc,
    IpDst,
    IpTos,
    IpDscp,
    IpEcn,
    IpTtl,
    IpFrag,
    IpFragoff,
    IpId,
    IpSum,
    IpProto,
    IpHl,
    IpLen,
    IpCaptureLen,
    IpOpt,
    Sport,
    Dport,
    TcpSeq,
    TcpAck,
    TcpOff,
    TcpFlags,
    TcpWindow,
    TcpUrp,
    TcpOpt,
    TcpNtopt,
    TcpSack,
    UdpLen,
    IcmpType,
    IcmpCode,
    IcmpTypeName,
    IcmpCodeName,
    IcmpFlowid,
    IcmpSeq,
    IcmpNextmtu,
    PayloadLen,
    Payload,
}

/// One field of the table.
#[derive(Debug)]
pub struct Field {
    /// Click's canonical name (what `!data` lines say).
    pub name: &'static str,
    pub f: F,
    pub ty: Ty,
    /// FromIPSummaryDump applies fields in this order (Click's `order_*`).
    pub order: i32,
    /// FromIPSummaryDump can build packets from it (others are ignored on input).
    pub readable: bool,
}

const ANNO: i32 = 100;
const NET: i32 = 300;
const TRANSP: i32 = 400;
const PAYLOAD: i32 = 500;

macro_rules! fields {
    ($($name:literal $f:ident $ty:ident $order:expr, $r:literal;)*) => {
        /// Every field, as Click's tables list them.
        pub const FIELDS: &[Field] = &[$(Field { name: $name, f: F::$f, ty: Ty::$ty, order: $order, readable: $r }),*];
    };
}

fields! {
    "timestamp" Timestamp B8 ANNO, true;
    "ntimestamp" NTimestamp B8 ANNO, true;
    "ts_sec" TsSec B4 ANNO, true;
    "ts_usec" TsUsec B4 ANNO, true;
    "ts_usec1" TsUsec1 B8 ANNO, true;
    "first_timestamp" FirstTimestamp B8 ANNO, true;
    "first_ntimestamp" FirstNTimestamp B8 ANNO, true;
    "count" Count B4 ANNO, true;
    "link" Link B1 ANNO, true;
    "paint" Link B1 ANNO, true;
    "direction" Direction B1 ANNO, true;
    "aggregate" Aggregate B4 ANNO, true;
    "wire_len" WireLen B4 ANNO, true;
    "ip_src" IpSrc B4Net NET, true;
    "ip_dst" IpDst B4Net NET, true;
    "ip_tos" IpTos B1 NET, true;
    "ip_dscp" IpDscp B1 NET, true;
    "ip_ecn" IpEcn B1 NET, true;
    "ip_ttl" IpTtl B1 NET, true;
    "ip_frag" IpFrag B1 NET - 2, true;
    "ip_fragoff" IpFragoff B2 NET - 1, true;
    "ip_id" IpId B2 NET, true;
    "ip_sum" IpSum B2 NET + 2, true;
    "ip_proto" IpProto B1 NET, true;
    "ip_hl" IpHl B1 NET - 1, true;
    "ip_len" IpLen B4 NET + 1, true;
    "ip_capture_len" IpCaptureLen B4 PAYLOAD + 2, true;
    "ip_opt" IpOpt Special NET, false;
    "sport" Sport B2 TRANSP, true;
    "dport" Dport B2 TRANSP, true;
    "tcp_seq" TcpSeq B4 TRANSP, true;
    "tcp_ack" TcpAck B4 TRANSP, true;
    "tcp_off" TcpOff B1 TRANSP - 1, true;
    "tcp_flags" TcpFlags B1 TRANSP, true;
    "tcp_window" TcpWindow B2 TRANSP, true;
    "tcp_urp" TcpUrp B2 TRANSP, true;
    "tcp_opt" TcpOpt Special TRANSP + 3, false;
    "tcp_ntopt" TcpNtopt Special TRANSP + 2, false;
    "tcp_sack" TcpSack Special TRANSP + 1, false;
    "udp_len" UdpLen B4 TRANSP, true;
    "icmp_type" IcmpType B1 TRANSP, true;
    "icmp_code" IcmpCode B1 TRANSP + 1, true;
    "icmp_type_name" IcmpTypeName B1 TRANSP, true;
    "icmp_code_name" IcmpCodeName B1 TRANSP + 1, true;
    "icmp_flowid" IcmpFlowid B2 TRANSP + 2, true;
    "icmp_seq" IcmpSeq B2 TRANSP + 2, true;
    "icmp_nextmtu" IcmpNextmtu B2 TRANSP + 2, true;
    "payload_len" PayloadLen B4 PAYLOAD + 1, true;
    "payload" Payload Special PAYLOAD, true;
}

/// Click's synonyms: name, what it stands for.
const SYNONYMS: &[(&str, &str)] = &[
    ("utimestamp", "timestamp"),
    ("ts", "utimestamp"),
    ("sec", "ts_sec"),
    ("usec", "ts_usec"),
    ("usec1", "ts_usec1"),
    ("first_utimestamp", "first_timestamp"),
    ("first_ts", "first_utimestamp"),
    ("pkt_count", "count"),
    ("packet_count", "count"),
    ("agg", "aggregate"),
    ("wire_length", "wire_len"),
    ("length", "ip_len"),
    ("ip_p", "ip_proto"),
    ("tcp_seqno", "tcp_seq"),
    ("tcp_ackno", "tcp_ack"),
    ("tcp_win", "tcp_window"),
    ("payload_length", "payload_len"),
];

/// Click's `FieldWriter::find`/`FieldReader::find`: synonyms first, then the table; a name
/// with a space is retried with its first space made an underscore, and a name without an
/// underscore is retried as `ip_NAME` (so `src`, `"ip src"` and `ip_src` are one field).
pub fn find(name: &str) -> Option<&'static Field> {
    if let Some((_, to)) = SYNONYMS.iter().find(|(n, _)| *n == name) {
        return find(to);
    }
    if let Some(f) = FIELDS.iter().find(|f| f.name == name) {
        return Some(f);
    }
    if let Some(i) = name.find(' ') {
        return find(&format!("{}_{}", &name[..i], &name[i + 1..]));
    }
    if !name.contains('_') {
        return find(&format!("ip_{name}"));
    }
    None
}

/// Click's `cp_spacevec`: words separated by blanks outside double or single quotes,
/// quotes kept.
pub fn space_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                continue;
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            Some('"') if c == '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                continue;
            }
            Some(q) if c == q => quote = None,
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Click's `cp_quote`: a double-quoted string, with `\\`, `\"`, `$`, tab, CR, LF and other
/// bytes outside 32..126 escaped (octal).
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'\\' | b'"' | b'$' => {
                s.push('\\');
                s.push(b as char);
            }
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            32..=126 => s.push(b as char),
            _ => {
                let _ = write!(s, "\\{}{}{}", b >> 6, (b >> 3) & 7, b & 7);
            }
        }
    }
    s.push('"');
    s
}

// ------------------------------------------------------------------ annotations

/// Click's `EXTRA_PACKETS_ANNO`: bytes 24..28 of the annotation area, host order.
pub fn extra_packets_anno(p: &Packet) -> u32 {
    let u = &p.anno().user;
    u32::from_ne_bytes([u[24], u[25], u[26], u[27]])
}

pub fn set_extra_packets_anno(p: &mut Packet, v: u32) {
    p.anno_mut().user[24..28].copy_from_slice(&v.to_ne_bytes());
}

/// Click's `AGGREGATE_ANNO`: bytes 20..24 of the annotation area, host order (as IPPrint
/// reads it).
pub fn aggregate_anno(p: &Packet) -> u32 {
    u32::from_le_bytes(std::array::from_fn(|i| AnnoByte(20 + i as u8).get(p)))
}

pub fn set_aggregate_anno(p: &mut Packet, v: u32) {
    for (i, b) in v.to_le_bytes().into_iter().enumerate() {
        AnnoByte(20 + i as u8).set(p, b);
    }
}

/// Click's timestamp text: `SEC.USEC` (6 digits) when the nanoseconds are a whole number
/// of microseconds, `SEC.NSEC` (9 digits) otherwise.
pub fn fmt_ts(out: &mut String, ns: u64) {
    let (sec, sub) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if sub % 1000 == 0 {
        let _ = write!(out, "{sec}.{:06}", sub / 1000);
    } else {
        let _ = write!(out, "{sec}.{sub:09}");
    }
}

/// Click's `cp_time` for timestamps: `SEC[.FRAC]`, rounded to nanoseconds.
pub fn parse_ts(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut ns = 0u64;
    for (i, b) in frac.bytes().take(9).enumerate() {
        ns += u64::from(b - b'0') * 10u64.pow(8 - i as u32);
    }
    if frac.len() > 9 && frac.as_bytes()[9] >= b'5' {
        ns += 1;
    }
    sec.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// Click's `IntArg` for unsigned 32-bit numbers (decimal, `0x` hex, leading `0` octal).
pub fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        return u64::from_str_radix(&s[1..], 8).ok();
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `cp_integer` at the start of `s`: the value (saturated) and the rest of `s`.
fn leading_int(s: &str) -> (Option<u32>, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return (None, s);
    }
    (Some(s[..n].parse::<u64>().map_or(u32::MAX, |v| v.min(u64::from(u32::MAX)) as u32)), &s[n..])
}

// ------------------------------------------------------------------ writing

const TCP_FLAGS_WORD: &[u8; 9] = b"FSRPAUECN";
const IP_DF: u32 = 0x4000;
const IP_MF: u32 = 0x2000;
const IP_OFFMASK: u32 = 0x1fff;
/// Click's `IP_PROTO_TCP_OR_UDP` in field-missing messages.
const TCP_OR_UDP: u32 = 256;

fn be16(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn has_udp_ports(p: u8) -> bool {
    matches!(p, 6 | 17 | 33 | 136)
}

/// A value extracted from a packet.
pub enum Val<'a> {
    Num(u64),
    /// Nanoseconds since the epoch.
    Ts(u64),
    Addr([u8; 4]),
    /// An option area (empty: none).
    Opts(&'a [u8]),
    /// Payload bytes.
    Bytes(&'a [u8]),
}

/// What ToIPSummaryDump knows about one packet (Click's `PacketDesc`, after `ip_prepare`).
pub struct Desc<'a> {
    data: &'a [u8],
    /// Offset of a valid IPv4 header.
    nh: Option<usize>,
    /// Offset of the transport header (as the packet says, or after the IP header).
    th: Option<usize>,
    tcp: bool,
    udp: bool,
    icmp: bool,
    tailpad: usize,
    /// The extra length annotation, adjusted as `ip_prepare` does.
    pub extra: u32,
    pub ts: u64,
    pub first_ts: u64,
    pub extra_packets: u32,
    paint: u8,
    aggregate: u32,
    force_extra_length: bool,
    /// The first `!bad` line, when BAD_PACKETS asks for them.
    pub bad: Option<String>,
    want_bad: bool,
}

impl<'a> Desc<'a> {
    /// Describe `p`. `prepare`: some field needs the IP header (Click's `ip_prepare`).
    /// `over`: timestamp, extra length and extra packets to use instead of the packet's
    /// annotations (MULTIPACKET).
    pub fn new(
        p: &'a Packet,
        prepare: bool,
        careful_trunc: bool,
        extra_length: bool,
        bad_packets: bool,
        over: Option<(u64, u32, u32)>,
    ) -> Desc<'a> {
        let data = p.data();
        let mut d = Desc {
            data,
            nh: None,
            th: None,
            tcp: false,
            udp: false,
            icmp: false,
            tailpad: 0,
            extra: extra_length_anno(p),
            ts: p.anno().timestamp_ns,
            first_ts: first_timestamp_anno(p),
            extra_packets: extra_packets_anno(p),
            paint: p.anno().paint,
            aggregate: aggregate_anno(p),
            force_extra_length: extra_length,
            bad: None,
            want_bad: bad_packets,
        };
        if let Some((ts, extra, extra_packets)) = over {
            (d.ts, d.extra, d.extra_packets) = (ts, extra, extra_packets);
        }
        if prepare {
            d.prepare(p, careful_trunc);
        }
        d
    }

    fn set_bad(&mut self, msg: String) {
        if self.want_bad && self.bad.is_none() {
            self.bad = Some(format!("!bad {msg}\n"));
        }
    }

    fn prepare(&mut self, p: &Packet, careful_trunc: bool) {
        let len = self.data.len();
        let Some(nh) = p.network_header_offset().and_then(|o| usize::try_from(o).ok()).filter(|&o| o <= len) else {
            return;
        };
        let b = &self.data[nh..];
        let nl = b.len();
        let mut ok = false;
        if nl < 4 {
            self.set_bad("truncated IP header".into());
        } else if b[0] >> 4 != 4 {
            self.set_bad(format!("IP version {}", b[0] >> 4));
        } else if b[0] & 15 < 5 {
            self.set_bad(format!("IP header length {}", b[0] & 15));
        } else if (be16(b, 2) as usize) < usize::from(b[0] & 15) * 4 {
            self.set_bad(format!("IP length {}", be16(b, 2)));
        } else {
            ok = true;
            let ip_len = be16(b, 2) as usize;
            if nl > ip_len {
                self.extra = self.extra.wrapping_add((nl - ip_len) as u32);
                self.tailpad = nl - ip_len;
            } else if careful_trunc && (nl as u64 + u64::from(self.extra)) < ip_len as u64 {
                self.set_bad(format!("truncated IP missing {}", ip_len as u64 - nl as u64 - u64::from(self.extra)));
            }
        }
        if !ok {
            return;
        }
        self.nh = Some(nh);
        let hl = usize::from(b[0] & 15) * 4;
        let th = p
            .transport_header_offset()
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o <= len)
            .or(Some(nh + hl).filter(|&o| o <= len));
        self.th = th;
        let net_len = self.network_length();
        let first_frag = be16(b, 6) & IP_OFFMASK == 0;
        let proto = b[9];
        let deep = th.is_some() && net_len > hl as i64 && first_frag;
        self.tcp = deep && proto == 6;
        if self.tcp && self.transport_length() > 12 && self.data[th.unwrap() + 12] >> 4 < 5 {
            self.set_bad(format!("TCP header length {}", self.data[th.unwrap() + 12] >> 4));
            self.tcp = false;
        }
        // Click subtracts the tail padding twice here.
        self.udp = th.is_some() && net_len - (self.tailpad as i64) > hl as i64 && first_frag && proto == 17;
        self.icmp = deep && proto == 1;
        if self.extra > 0 {
            let full = net_len as u64 + u64::from(self.extra);
            if be16(b, 2) != 0xFFFF || full <= 0xFFFF {
                self.extra = 0;
            } else {
                self.extra = (full - 0xFFFF) as u32;
            }
        }
    }

    fn iph(&self) -> Option<&'a [u8]> {
        self.nh.map(|nh| &self.data[nh..])
    }

    fn length(&self) -> i64 {
        self.data.len() as i64 - self.tailpad as i64
    }

    fn network_length(&self) -> i64 {
        self.nh.map_or(0, |nh| (self.data.len() - nh) as i64 - self.tailpad as i64)
    }

    fn transport_length(&self) -> i64 {
        self.th.map_or(0, |th| (self.data.len() - th) as i64 - self.tailpad as i64)
    }

    fn transport(&self) -> &'a [u8] {
        self.th.map_or(&[][..], |th| &self.data[th..])
    }

    /// Click's `field_missing`: note why the field is absent (with BAD_PACKETS).
    fn missing(&mut self, proto: u32, l: i64) -> Option<Val<'a>> {
        if !self.want_bad || self.bad.is_some() {
            return None;
        }
        let Some(iph) = self.iph() else {
            self.set_bad("no IP header".into());
            return None;
        };
        let name = match proto {
            6 => "TCP",
            17 => "UDP",
            1 => "ICMP",
            TCP_OR_UDP => "TCP/UDP",
            _ => "?",
        };
        if proto == 0 {
            self.set_bad("truncated IP header capture".into());
        } else if self.network_length() > 9
            && ((proto < 256 && u32::from(iph[9]) != proto) || (proto == TCP_OR_UDP && !matches!(iph[9], 6 | 17)))
        {
            // A field of another protocol: silently absent.
        } else if be16(iph, 6) & IP_OFFMASK != 0 {
            self.set_bad(format!("fragmented {name} header"));
        } else if self.transport_length() + i64::from(self.extra) >= l {
            self.set_bad(format!("truncated {name} header capture"));
        } else {
            self.set_bad(format!("truncated {name} header"));
        }
        None
    }

    /// The payload's offset and length (Click's `payload_info`).
    fn payload_info(&self) -> (i64, u32) {
        let Some(iph) = self.iph() else { return (0, self.length() as u32) };
        let nh = self.nh.unwrap() as i64;
        let mut len = be16(iph, 2);
        let mut off = self.th.map_or(nh + i64::from(iph[0] & 15) * 4, |t| t as i64);
        if be16(iph, 6) & IP_OFFMASK == 0 {
            match iph[9] {
                6 => {
                    let t = self.transport();
                    if self.transport_length() >= 13 && usize::from(t[12] >> 4) * 4 >= 20 {
                        off += i64::from(t[12] >> 4) * 4;
                    } else {
                        off += 20;
                    }
                }
                17 | 136 => off += 8,
                _ => {}
            }
        }
        len = len.wrapping_sub((off - nh) as u32);
        (off, len)
    }

    /// Click's `extract` for field `f`: its value, or `None` ('-').
    pub fn extract(&mut self, f: F) -> Option<Val<'a>> {
        let nl = self.network_length();
        macro_rules! ip {
            ($l:expr) => {{
                match self.iph() {
                    Some(b) if nl >= $l => b,
                    _ => return self.missing(0, $l),
                }
            }};
        }
        macro_rules! tcp {
            ($l:expr) => {{
                if !self.tcp || self.transport_length() < $l {
                    return self.missing(6, $l);
                }
                self.transport()
            }};
        }
        macro_rules! icmp {
            ($l:expr) => {{
                if !self.icmp || self.transport_length() < $l {
                    return self.missing(1, $l);
                }
                self.transport()
            }};
        }
        let num = |v: u32| Some(Val::Num(u64::from(v)));
        match f {
            F::Timestamp | F::NTimestamp => Some(Val::Ts(self.ts)),
            F::TsSec => num((self.ts / 1_000_000_000) as u32),
            F::TsUsec => num((self.ts % 1_000_000_000 / 1000) as u32),
            F::TsUsec1 => Some(Val::Num(self.ts / 1_000_000_000 * 1_000_000 + self.ts % 1_000_000_000 / 1000)),
            F::FirstTimestamp | F::FirstNTimestamp => Some(Val::Ts(self.first_ts)),
            F::Count => num(self.extra_packets.wrapping_add(1)),
            F::Link | F::Direction => num(u32::from(self.paint)),
            F::Aggregate => num(self.aggregate),
            F::WireLen => num(self.data.len() as u32),
            F::IpSrc => {
                let b = ip!(16);
                Some(Val::Addr([b[12], b[13], b[14], b[15]]))
            }
            F::IpDst => {
                let b = ip!(20);
                Some(Val::Addr([b[16], b[17], b[18], b[19]]))
            }
            F::IpTos => num(u32::from(ip!(2)[1])),
            F::IpDscp => num(u32::from(ip!(2)[1] >> 2)),
            F::IpEcn => num(u32::from(ip!(2)[1] & 3)),
            F::IpTtl => num(u32::from(ip!(9)[8])),
            F::IpFrag => {
                let off = be16(ip!(8), 6);
                let c = if off & (IP_MF | IP_OFFMASK) != 0 {
                    if off & IP_OFFMASK == 0 {
                        b'F'
                    } else {
                        b'f'
                    }
                } else if off & IP_DF != 0 {
                    b'!'
                } else {
                    b'.'
                };
                num(u32::from(c))
            }
            F::IpFragoff => num(be16(ip!(8), 6)),
            F::IpId => num(be16(ip!(6), 4)),
            F::IpSum => num(be16(ip!(12), 10)),
            F::IpProto => num(u32::from(ip!(10)[9])),
            F::IpHl => num(u32::from(ip!(1)[0] & 15) * 4),
            F::IpOpt => {
                let Some(b) = self.iph() else { return self.missing(0, 20) };
                let hl = usize::from(b[0] & 15) * 4;
                if hl > 20 && nl < hl as i64 {
                    return self.missing(0, hl as i64);
                }
                Some(Val::Opts(if hl <= 20 { &[] } else { &b[20..hl] }))
            }
            F::IpLen => {
                let mut v = match self.iph() {
                    Some(b) => be16(b, 2),
                    None => self.length() as u32,
                };
                if self.force_extra_length {
                    v = v.wrapping_add(self.extra);
                }
                num(v)
            }
            F::IpCaptureLen => {
                let (allow, len) = match self.iph() {
                    Some(b) => (nl as u32, be16(b, 2)),
                    None => (self.length() as u32, self.length() as u32),
                };
                num(len.min(allow))
            }
            F::Sport | F::Dport => {
                let dport = f == F::Dport;
                let need = if dport { 4 } else { 2 };
                if let Some(b) = self.iph() {
                    let hl = i64::from(b[0] & 15) * 4;
                    if nl > hl
                        && be16(b, 6) & IP_OFFMASK == 0
                        && has_udp_ports(b[9])
                        && self.th.is_some()
                        && self.transport_length() >= need
                    {
                        return num(be16(self.transport(), if dport { 2 } else { 0 }));
                    }
                }
                self.missing(TCP_OR_UDP, need)
            }
            F::TcpSeq => num(be32(tcp!(8), 4)),
            F::TcpAck => num(be32(tcp!(12), 8)),
            F::TcpFlags => {
                let t = tcp!(14);
                num(u32::from(t[13]) | (u32::from(t[12] & 15) << 8))
            }
            F::TcpOff => num(u32::from(tcp!(13)[12] >> 4) * 4),
            F::TcpWindow => num(be16(tcp!(16), 14)),
            F::TcpUrp => num(be16(tcp!(20), 18)),
            F::TcpOpt | F::TcpNtopt | F::TcpSack => {
                let tl = self.transport_length();
                if !self.tcp || tl < 13 {
                    return self.missing(6, tl + 1);
                }
                let t = self.transport();
                let off = usize::from(t[12] >> 4) * 4;
                if f == F::TcpOpt {
                    if off > 20 && tl < off as i64 {
                        return self.missing(6, tl + 1);
                    }
                } else if off <= 20 || (off == 32 && tl >= 24 && be32(t, 20) == 0x0101_080A) {
                    return Some(Val::Opts(&[]));
                } else if tl < off as i64 {
                    return self.missing(6, tl + 1);
                }
                Some(Val::Opts(if off <= 20 { &[] } else { &t[20..off] }))
            }
            F::UdpLen => {
                if !self.udp || self.transport_length() < 6 {
                    return self.missing(17, 6);
                }
                num(be16(self.transport(), 4))
            }
            F::IcmpType | F::IcmpTypeName => num(u32::from(icmp!(1)[0])),
            F::IcmpCode | F::IcmpCodeName => num(u32::from(icmp!(2)[1])),
            F::IcmpFlowid | F::IcmpSeq => {
                let t = icmp!(1)[0];
                if !has_flow(t) {
                    return None;
                }
                num(be16(icmp!(8), if f == F::IcmpFlowid { 4 } else { 6 }))
            }
            F::IcmpNextmtu => {
                let t = icmp!(2);
                if t[0] != 3 || t[1] != 4 {
                    return None;
                }
                num(be16(icmp!(8), 6))
            }
            F::PayloadLen => {
                let (_, mut len) = self.payload_info();
                if self.nh.is_none() || self.force_extra_length {
                    len = len.wrapping_add(self.extra);
                }
                num(len)
            }
            F::Payload => {
                let (off, len) = self.payload_info();
                if !(len == 0 || (off >= 0 && (off as usize) < self.data.len())) {
                    return None;
                }
                let (off, len) = (off.max(0), i64::from(len));
                let end = (off + len).min(self.length()).max(off);
                let (off, end) = (off as usize, end as usize);
                Some(Val::Bytes(self.data.get(off..end).unwrap_or(&[])))
            }
        }
    }

    /// The ICMP type of the packet (for `icmp_code_name`).
    fn icmp_type(&self) -> u8 {
        self.transport().first().copied().unwrap_or(0)
    }

    /// Click's `outa`: the ASCII text of a value.
    pub fn write_ascii(&self, out: &mut String, f: F, v: &Val<'_>) {
        match (f, v) {
            (_, Val::Ts(t)) => fmt_ts(out, *t),
            (_, Val::Addr(a)) => {
                let _ = write!(out, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
            }
            (F::IpOpt, Val::Opts(o)) => {
                if o.is_empty() {
                    out.push('.');
                } else {
                    unparse_ip_opt(out, o);
                }
            }
            (F::TcpOpt | F::TcpNtopt | F::TcpSack, Val::Opts(o)) => {
                if o.is_empty() {
                    out.push('.');
                } else {
                    let mask = match f {
                        F::TcpOpt => TCPOPT_ALL_NOPAD,
                        F::TcpNtopt => TCPOPT_NTALL,
                        _ => TCPOPT_SACK,
                    };
                    unparse_tcp_opt(out, o, mask);
                }
            }
            (_, Val::Bytes(b)) => out.push_str(&quote(b)),
            (_, Val::Opts(_)) => out.push('-'),
            (_, Val::Num(n)) => {
                let n = *n;
                match f {
                    F::Direction if n < 2 => out.push(if n == 0 { '>' } else { '<' }),
                    F::IpFrag => out.push(n as u8 as char),
                    F::IpFragoff => {
                        let n = n as u32;
                        let _ = write!(out, "{}", (n & IP_OFFMASK) << 3);
                        if n & IP_MF != 0 {
                            out.push('+');
                        }
                        if n & IP_DF != 0 {
                            out.push('!');
                        }
                    }
                    F::IpProto => match n {
                        6 => out.push('T'),
                        17 => out.push('U'),
                        1 => out.push('I'),
                        _ => {
                            let _ = write!(out, "{n}");
                        }
                    },
                    F::IpEcn => out.push_str(["no", "ect1", "ect2", "ce"][(n & 3) as usize]),
                    F::TcpFlags => match n {
                        0x18 => out.push_str("PA"),
                        0x10 => out.push('A'),
                        0 => out.push('.'),
                        _ => {
                            for (i, &c) in TCP_FLAGS_WORD.iter().enumerate() {
                                if n & (1 << i) != 0 {
                                    out.push(c as char);
                                }
                            }
                        }
                    },
                    F::IcmpTypeName => match TYPE_NAMES.iter().find(|(_, t)| u64::from(*t) == n) {
                        Some((name, _)) => out.push_str(name),
                        None => {
                            let _ = write!(out, "{n}");
                        }
                    },
                    F::IcmpCodeName => match code_names(self.icmp_type()).iter().find(|(_, c)| u64::from(*c) == n) {
                        Some((name, _)) => out.push_str(name),
                        None => {
                            let _ = write!(out, "{n}");
                        }
                    },
                    _ => {
                        let _ = write!(out, "{n}");
                    }
                }
            }
        }
    }

    /// Click's `outb`: the binary form of a value (zeros when absent).
    pub fn write_binary(out: &mut Vec<u8>, field: &Field, v: Option<&Val<'_>>) {
        let n = match v {
            Some(Val::Num(n)) => *n,
            _ => 0,
        };
        match (field.f, v) {
            (F::Timestamp | F::FirstTimestamp, _) => {
                let t = if let Some(Val::Ts(t)) = v { *t } else { 0 };
                out.extend_from_slice(&((t / 1_000_000_000) as u32).to_be_bytes());
                out.extend_from_slice(&((t % 1_000_000_000 / 1000) as u32).to_be_bytes());
            }
            (F::NTimestamp | F::FirstNTimestamp, _) => {
                // Click writes the nanoseconds first, then the seconds.
                let t = if let Some(Val::Ts(t)) = v { *t } else { 0 };
                out.extend_from_slice(&((t % 1_000_000_000) as u32).to_be_bytes());
                out.extend_from_slice(&((t / 1_000_000_000) as u32).to_be_bytes());
            }
            (_, Some(Val::Addr(a))) => out.extend_from_slice(a),
            _ => match field.ty {
                Ty::B1 => out.push(n as u8),
                Ty::B2 => out.extend_from_slice(&(n as u16).to_be_bytes()),
                Ty::B4 | Ty::B4Net => out.extend_from_slice(&(n as u32).to_be_bytes()),
                Ty::B8 => out.extend_from_slice(&n.to_be_bytes()),
                Ty::Special => {}
            },
        }
    }
}

fn has_flow(t: u8) -> bool {
    matches!(t, 0 | 8 | 13 | 14 | 15 | 16)
}

const TCPOPT_PADDING: u32 = 1;
const TCPOPT_MSS: u32 = 2;
const TCPOPT_WSCALE: u32 = 4;
const TCPOPT_SACKM: u32 = 8;
const TCPOPT_TIMESTAMP: u32 = 16;
const TCPOPT_UNKNOWN: u32 = 32;
const TCPOPT_ALL_NOPAD: u32 = 0xFFFF_FFFE;
const TCPOPT_NTALL: u32 = 0xFFFF_FFEE;
const TCPOPT_SACK: u32 = TCPOPT_SACKM;

/// Click's `unparse_tcp_opt`.
fn unparse_tcp_opt(sa: &mut String, opt: &[u8], mask: u32) {
    let initial = sa.len();
    let mut sep = "";
    let mut i = 0;
    let bad = |sa: &mut String| {
        sa.truncate(initial);
        sa.push('?');
    };
    while i < opt.len() {
        let kind = opt[i];
        if kind == 0 {
            if mask & TCPOPT_PADDING != 0 {
                let _ = write!(sa, "{sep}eol");
            }
            break;
        }
        if kind == 1 {
            if mask & TCPOPT_PADDING != 0 {
                let _ = write!(sa, "{sep}nop");
                sep = ";";
            }
            i += 1;
            continue;
        }
        let Some(&l) = opt.get(i + 1) else { return bad(sa) };
        let l = usize::from(l);
        if i + l > opt.len() {
            return bad(sa);
        }
        let (want, ok) = match kind {
            2 => (TCPOPT_MSS, l == 4),
            3 => (TCPOPT_WSCALE, l == 3),
            4 => (TCPOPT_SACKM, l == 2),
            5 => (TCPOPT_SACKM, l % 8 == 2),
            8 => (TCPOPT_TIMESTAMP, l == 10),
            _ => (TCPOPT_UNKNOWN, l >= 2),
        };
        if !ok {
            return bad(sa);
        }
        if mask & want == 0 {
            i += if l >= 2 { l } else { 128 };
            continue;
        }
        let o = &opt[i..i + l];
        match kind {
            2 => {
                let _ = write!(sa, "{sep}mss{}", be16(o, 2));
            }
            3 => {
                let _ = write!(sa, "{sep}wscale{}", o[2]);
            }
            4 => {
                let _ = write!(sa, "{sep}sackok");
            }
            5 => {
                for blk in o[2..].chunks(8) {
                    let _ = write!(sa, "{sep}sack{}-{}", be32(blk, 0), be32(blk, 4));
                    sep = ";";
                }
            }
            8 => {
                let _ = write!(sa, "{sep}ts{}:{}", be32(o, 2), be32(o, 6));
            }
            _ => {
                let _ = write!(sa, "{sep}{kind}");
                for (j, b) in o[2..].iter().enumerate() {
                    let _ = write!(sa, "{}{b}", if j == 0 { '=' } else { ':' });
                }
            }
        }
        sep = ";";
        i += l;
    }
    if sa.len() == initial {
        sa.push('.');
    }
}

/// Click's `unparse_ip_opt` (all options but padding).
fn unparse_ip_opt(sa: &mut String, opt: &[u8]) {
    let initial = sa.len();
    let mut sep = "";
    let mut i = 0;
    let bad = |sa: &mut String| {
        sa.truncate(initial);
        sa.push('?');
    };
    while i < opt.len() {
        let kind = opt[i];
        match kind {
            0 => break,
            1 => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let (Some(&l), p) = (opt.get(i + 1), opt.get(i + 2).copied().unwrap_or(0)) else { return bad(sa) };
        let l = usize::from(l);
        match kind {
            7 | 131 | 137 => {
                if i + l > opt.len() || l < 3 || p < 4 {
                    return bad(sa);
                }
                let name = match kind {
                    7 => "rr",
                    131 => "lsrr",
                    _ => "ssrr",
                };
                let _ = write!(sa, "{sep}{name}{{");
                let (mut o, ol, op) = (i + 3, i + l, i + usize::from(p) - 1);
                let mut s = "";
                while o + 4 <= ol {
                    if o == op {
                        if kind == 7 {
                            break;
                        }
                        s = "^";
                    }
                    let _ = write!(sa, "{s}{}.{}.{}.{}", opt[o], opt[o + 1], opt[o + 2], opt[o + 3]);
                    s = ",";
                    o += 4;
                }
                if o == ol && o == op && kind != 7 {
                    sa.push('^');
                }
                sa.push('}');
                if o + 4 <= ol && o == op && kind == 7 {
                    let _ = write!(sa, "+{}", (ol - o) / 4);
                }
                i = ol;
            }
            68 => {
                if i + l > opt.len() || l < 4 || p < 5 {
                    return bad(sa);
                }
                let flag = opt[i + 3] & 15;
                let size = if (1..=3).contains(&flag) { 8 } else { 4 };
                let _ = write!(sa, "{sep}ts");
                match flag {
                    0 => {}
                    1 => sa.push_str(".ip"),
                    3 => sa.push_str(".preip"),
                    _ => {
                        let _ = write!(sa, ".{flag}");
                    }
                }
                sa.push('{');
                let (mut o, ol, op) = (i + 4, i + l, i + usize::from(p) - 1);
                let mut s = "";
                while o + size <= ol {
                    if o == op {
                        if flag != 3 {
                            break;
                        }
                        s = "^";
                    }
                    if flag != 0 {
                        let _ = write!(sa, "{s}{}.{}.{}.{}=", opt[o], opt[o + 1], opt[o + 2], opt[o + 3]);
                        o += 4;
                    } else {
                        sa.push_str(s);
                    }
                    if flag == 3 && o > op {
                        sa.pop();
                    } else {
                        let v = be32(opt, o);
                        if v & 0x8000_0000 != 0 {
                            sa.push('!');
                        }
                        let _ = write!(sa, "{}", v & 0x7FFF_FFFF);
                    }
                    s = ",";
                    o += 4;
                }
                if o == ol && o == op {
                    sa.push('^');
                }
                sa.push('}');
                if o + size <= ol && o == op {
                    let _ = write!(sa, "+{}", (ol - o) / size);
                }
                if opt[i + 3] & 0xF0 != 0 {
                    let _ = write!(sa, "++{}", opt[i + 3] >> 4);
                }
                i = ol;
            }
            _ => {
                if i + l > opt.len() || l < 2 {
                    return bad(sa);
                }
                let _ = write!(sa, "{sep}{kind}");
                for (j, b) in opt[i + 2..i + l].iter().enumerate() {
                    let _ = write!(sa, "{}{b}", if j == 0 { '=' } else { ':' });
                }
                i += l;
            }
        }
        sep = ";";
    }
    if sa.len() == initial {
        sa.push('.');
    }
}

// ------------------------------------------------------------------ reading

/// A parsed field value (Click's `PacketOdesc` value union).
#[derive(Clone, Debug)]
pub enum In {
    Num(u32),
    Ts(u64),
    Addr([u8; 4]),
    Bytes(Vec<u8>),
}

/// Click's `ina`: parse the text of field `f`. `minor`: the file's minor version;
/// `icmp_type`: the ICMP type already set on the packet, if any.
pub fn parse_ascii(f: F, s: &str, minor: u32, icmp_type: Option<u8>) -> Option<In> {
    let n = |v: Option<u32>| v.map(In::Num);
    let ranged = |max: u32| parse_u32(s).filter(|&v| v <= max).map(In::Num);
    let field = FIELDS.iter().find(|x| x.f == f)?;
    match f {
        F::Timestamp | F::NTimestamp | F::FirstTimestamp | F::FirstNTimestamp => parse_ts(s).map(In::Ts),
        F::TsUsec1 => parse_u64(s).map(|v| In::Ts((v / 1_000_000) * 1_000_000_000 + (v % 1_000_000) * 1000)),
        F::Link | F::Direction => match s {
            ">" => Some(In::Num(0)),
            "<" => Some(In::Num(1)),
            _ => n(parse_u32(s)),
        },
        F::IpSrc | F::IpDst => s.parse::<std::net::Ipv4Addr>().ok().map(|a| In::Addr(a.octets())),
        F::IpFrag | F::IpFragoff => {
            match s {
                "." => return Some(In::Num(0)),
                "!" => return Some(In::Num(IP_DF)),
                "F" => return Some(In::Num(IP_MF)),
                "f" => return Some(In::Num(100)),
                _ => {}
            }
            if s.is_empty() {
                return None;
            }
            let (v, mut rest) = leading_int(s);
            let mut v = v.unwrap_or(0);
            if minor > 0 {
                v >>= 3;
            }
            while let Some(c) = rest.chars().next() {
                match c {
                    '!' => v |= IP_DF,
                    '+' => v |= IP_MF,
                    _ => return None,
                }
                rest = &rest[1..];
            }
            Some(In::Num(v))
        }
        F::IpProto => match s {
            "T" => Some(In::Num(6)),
            "U" => Some(In::Num(17)),
            "I" => Some(In::Num(1)),
            _ => ranged(255),
        },
        F::IpEcn => match s {
            "0" | "1" | "2" | "3" => n(parse_u32(s)),
            "no" | "-" => Some(In::Num(0)),
            "ect1" | "ECT(1)" => Some(In::Num(1)),
            "ect2" | "ECT(0)" => Some(In::Num(2)),
            "ce" | "CE" => Some(In::Num(3)),
            _ => None,
        },
        F::TcpFlags => {
            if s == "." {
                return Some(In::Num(0));
            }
            if s.starts_with(|c: char| c.is_ascii_digit()) {
                return parse_u32(s).filter(|&v| v < 0x1000).map(In::Num);
            }
            if s.is_empty() {
                return None;
            }
            let mut v = 0;
            for c in s.bytes() {
                let bit = match c {
                    b'F' => 0,
                    b'S' => 1,
                    b'R' => 2,
                    b'P' => 3,
                    b'A' => 4,
                    b'U' => 5,
                    b'E' | b'X' => 6,
                    b'C' | b'W' | b'Y' => 7,
                    b'N' => 8,
                    _ => return None,
                };
                v |= 1 << bit;
            }
            Some(In::Num(v))
        }
        F::IcmpType | F::IcmpTypeName => {
            TYPE_NAMES.iter().find(|(name, _)| *name == s).map(|(_, t)| In::Num(u32::from(*t))).or_else(|| ranged(255))
        }
        F::IcmpCode | F::IcmpCodeName => match icmp_type {
            Some(t) => code_names(t)
                .iter()
                .find(|(name, _)| *name == s)
                .map(|(_, c)| In::Num(u32::from(*c)))
                .or_else(|| ranged(255)),
            None => ranged(255),
        },
        F::Payload => sluice::args::unquote_bytes(s).ok().map(In::Bytes),
        _ => match field.ty {
            Ty::B1 => ranged(255),
            Ty::B2 => ranged(65535),
            _ => n(parse_u32(s)),
        },
    }
}

/// Click's `inb`: read field `f` from binary record data; returns the value and the bytes
/// used, or `None` when the record is too short.
pub fn parse_binary(field: &Field, b: &[u8]) -> Option<(In, usize)> {
    let size = field.ty.size()?;
    let b = b.get(..size)?;
    let v = match (field.f, field.ty) {
        (F::Timestamp | F::FirstTimestamp, _) => {
            In::Ts(u64::from(be32(b, 0)) * 1_000_000_000 + u64::from(be32(b, 4)) * 1000)
        }
        (F::NTimestamp | F::FirstNTimestamp, _) => {
            In::Ts(u64::from(be32(b, 4)) * 1_000_000_000 + u64::from(be32(b, 0)))
        }
        (F::TsUsec1, _) => {
            let v = u64::from_be_bytes(b.try_into().ok()?);
            In::Ts((v / 1_000_000) * 1_000_000_000 + (v % 1_000_000) * 1000)
        }
        (_, Ty::B4Net) => In::Addr([b[0], b[1], b[2], b[3]]),
        (_, Ty::B1) => In::Num(u32::from(b[0])),
        (_, Ty::B2) => In::Num(be16(b, 0)),
        (_, Ty::B4) => In::Num(be32(b, 0)),
        _ => return None,
    };
    Some((v, size))
}

/// A packet under construction (Click's `PacketOdesc`). The IP header, once made, is at
/// offset 0 of `buf`.
pub struct Builder<'a> {
    pub buf: Vec<u8>,
    /// The network header is set (`make_ip` ran).
    has_ip: bool,
    /// Transport header offset (the network header's length).
    th: usize,
    pub want_len: u32,
    have_icmp_type: bool,
    have_icmp_code: bool,
    have_ip_hl: bool,
    have_tcp_hl: bool,
    default_proto: u8,
    flowid: Option<&'a FlowId>,
    pub ts: u64,
    pub first_ts: Option<u64>,
    pub extra_packets: u32,
    pub paint: u8,
    pub aggregate: Option<u32>,
}

/// A default flow (`FLOWID`, `!flowid`): source, source port, destination, destination port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowId {
    pub src: [u8; 4],
    pub sport: u16,
    pub dst: [u8; 4],
    pub dport: u16,
}

impl<'a> Builder<'a> {
    pub fn new(default_proto: u8, flowid: Option<&'a FlowId>) -> Builder<'a> {
        Builder {
            buf: Vec::new(),
            has_ip: false,
            th: 0,
            want_len: 0,
            have_icmp_type: false,
            have_icmp_code: false,
            have_ip_hl: false,
            have_tcp_hl: false,
            default_proto,
            flowid,
            ts: 0,
            first_ts: None,
            extra_packets: 0,
            paint: 0,
            aggregate: None,
        }
    }

    pub fn has_ip(&self) -> bool {
        self.has_ip
    }

    fn put(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    fn transport_length(&self) -> i64 {
        self.buf.len() as i64 - self.th as i64
    }

    fn first_frag(&self) -> bool {
        be16(&self.buf, 6) & IP_OFFMASK == 0
    }

    fn proto(&self) -> u8 {
        self.buf[9]
    }

    /// Write `bytes` at `at` when it lies inside the packet (Click writes past the end
    /// into tail room, where the bytes are lost).
    fn set(&mut self, at: usize, bytes: &[u8]) {
        if let Some(d) = self.buf.get_mut(at..at + bytes.len()) {
            d.copy_from_slice(bytes);
        }
    }

    /// Click's `make_ip`: make sure there is an IP header; then whether its protocol is
    /// `ip_p` (or unset, or `ip_p` is 0).
    pub fn make_ip(&mut self, ip_p: u8) -> bool {
        if !self.has_ip || self.buf.len() < 20 {
            if !self.has_ip {
                self.has_ip = true;
                self.th = 0;
            }
            if self.buf.len() < 20 {
                self.put(20 - self.buf.len());
                self.th = 20;
                let b = &mut self.buf;
                b[0] = 0x45;
                b[9] = self.default_proto;
                b[2..4].fill(0);
                b[6..8].fill(0);
                b[8] = 100;
                if let Some(f) = self.flowid {
                    b[12..16].copy_from_slice(&f.src);
                    b[16..20].copy_from_slice(&f.dst);
                }
            }
        }
        ip_p == 0 || self.proto() == 0 || self.proto() == ip_p
    }

    /// Click's `make_transp` (after `make_ip`).
    pub fn make_transp(&mut self) -> bool {
        if !self.first_frag() {
            return false;
        }
        if self.transport_length() >= 8 {
            return true;
        }
        let mut len: i64 = match self.proto() {
            6 => 20,
            17 | 136 => 8,
            33 => 12,
            1 => 8,
            _ => return true,
        };
        if self.want_len > 0 && i64::from(self.want_len) < self.th as i64 + len {
            len = i64::from(self.want_len) - self.th as i64;
        }
        if self.transport_length() < len {
            let xlen = len.max(4);
            self.put((xlen - self.transport_length()) as usize);
            if self.proto() == 6 && len >= 13 {
                let th = self.th;
                self.buf[th + 12] = (self.buf[th + 12] & 0x0F) | (5 << 4);
            }
            if let Some(f) = self.flowid {
                let th = self.th;
                self.buf[th..th + 2].copy_from_slice(&f.sport.to_be_bytes());
                self.buf[th + 2..th + 4].copy_from_slice(&f.dport.to_be_bytes());
            }
            if xlen > len {
                self.buf.truncate(self.buf.len() - (xlen - len) as usize);
            }
        }
        true
    }

    /// Click's `inject`: apply one parsed field.
    pub fn inject(&mut self, f: F, v: &In) {
        let n = match v {
            In::Num(n) => *n,
            _ => 0,
        };
        match f {
            F::Timestamp | F::NTimestamp | F::TsUsec1 => {
                if let In::Ts(t) = v {
                    self.ts = *t;
                }
            }
            F::TsSec => self.ts = u64::from(n) * 1_000_000_000 + self.ts % 1_000_000_000,
            F::TsUsec => self.ts = self.ts / 1_000_000_000 * 1_000_000_000 + u64::from(n) * 1000,
            F::FirstTimestamp | F::FirstNTimestamp => {
                if let In::Ts(t) = v {
                    self.first_ts = Some(*t);
                }
            }
            F::Count => self.extra_packets = n.saturating_sub(1),
            F::Link | F::Direction => self.paint = n as u8,
            F::Aggregate => self.aggregate = Some(n),
            F::WireLen => self.want_len = n,
            F::IpSrc
            | F::IpDst
            | F::IpTos
            | F::IpDscp
            | F::IpEcn
            | F::IpTtl
            | F::IpFrag
            | F::IpFragoff
            | F::IpId
            | F::IpSum
            | F::IpProto
            | F::IpHl
            | F::IpLen
            | F::IpCaptureLen
            | F::IpOpt => self.inject_ip(f, v, n),
            F::Sport | F::Dport => {
                if !self.make_ip(0) || !self.make_transp() {
                    return;
                }
                if self.proto() != 0 && !has_udp_ports(self.proto()) {
                    return;
                }
                let at = self.th + if f == F::Dport { 2 } else { 0 };
                self.set(at, &(n as u16).to_be_bytes());
            }
            F::TcpSeq
            | F::TcpAck
            | F::TcpOff
            | F::TcpFlags
            | F::TcpWindow
            | F::TcpUrp
            | F::TcpOpt
            | F::TcpNtopt
            | F::TcpSack => {
                if !self.make_ip(6) || !self.make_transp() {
                    return;
                }
                let th = self.th;
                match f {
                    F::TcpSeq => self.set(th + 4, &n.to_be_bytes()),
                    F::TcpAck => self.set(th + 8, &n.to_be_bytes()),
                    F::TcpFlags => {
                        if let Some(b) = self.buf.get(th + 12).copied() {
                            self.set(th + 12, &[(b & 0xF0) | ((n >> 8) as u8 & 15), n as u8]);
                        }
                    }
                    F::TcpOff => {
                        let Some(&b12) = self.buf.get(th + 12) else { return };
                        let v = (n.saturating_add(3)) & !3;
                        let cur = u32::from(b12 >> 4) * 4;
                        if v > cur {
                            // Click fills the new bytes with EOL (0): `put` zero-fills.
                            self.put((v - cur) as usize);
                        }
                        self.buf[th + 12] = (b12 & 0x0F) | (((v >> 2) as u8) << 4);
                    }
                    F::TcpWindow => self.set(th + 14, &(n as u16).to_be_bytes()),
                    F::TcpUrp => self.set(th + 18, &(n as u16).to_be_bytes()),
                    _ => self.have_tcp_hl = true,
                }
            }
            F::UdpLen => {
                if !self.make_ip(0) || !self.make_transp() {
                    return;
                }
                if self.proto() != 0 && self.proto() != 17 && self.proto() != 136 {
                    return;
                }
                if self.transport_length() < 8 {
                    self.put((8 - self.transport_length()) as usize);
                }
                let th = self.th;
                self.set(th + 4, &(n as u16).to_be_bytes());
            }
            F::IcmpType
            | F::IcmpTypeName
            | F::IcmpCode
            | F::IcmpCodeName
            | F::IcmpFlowid
            | F::IcmpSeq
            | F::IcmpNextmtu => self.inject_icmp(f, n),
            F::PayloadLen | F::Payload => self.inject_payload(f, v, n),
        }
    }

    /// The ICMP type set on the packet (for parsing `icmp_code` names).
    pub fn icmp_type(&self) -> Option<u8> {
        if self.have_icmp_type {
            self.buf.get(self.th).copied()
        } else {
            None
        }
    }

    fn inject_ip(&mut self, f: F, v: &In, n: u32) {
        if !self.make_ip(0) {
            return;
        }
        let b = &mut self.buf;
        match f {
            F::IpSrc | F::IpDst => {
                if let In::Addr(a) = v {
                    let at = if f == F::IpSrc { 12 } else { 16 };
                    b[at..at + 4].copy_from_slice(a);
                }
            }
            F::IpTos => b[1] = n as u8,
            F::IpDscp => b[1] = (b[1] & 3) | ((n << 2) as u8 & 0xFC),
            F::IpEcn => b[1] = (b[1] & 0xFC) | (n as u8 & 3),
            F::IpTtl => b[8] = n as u8,
            F::IpFrag | F::IpFragoff => b[6..8].copy_from_slice(&(n as u16).to_be_bytes()),
            F::IpId => b[4..6].copy_from_slice(&(n as u16).to_be_bytes()),
            F::IpSum => b[10..12].copy_from_slice(&(n as u16).to_be_bytes()),
            F::IpProto => b[9] = n as u8,
            F::IpHl => {
                self.have_ip_hl = true;
                let v = n.saturating_add(3) & !3;
                let cur = u32::from(self.buf[0] & 15) * 4;
                if v > cur && v <= 60 {
                    // New option bytes (EOL, 0) go between the header and what follows.
                    let at = self.th;
                    let more = (v - cur) as usize;
                    self.buf.splice(at..at, std::iter::repeat_n(0, more));
                    self.th = v as usize;
                }
                self.buf[0] = (self.buf[0] & 0xF0) | ((v >> 2) as u8 & 15);
            }
            F::IpLen => self.want_len = n,
            _ => {}
        }
    }

    fn inject_icmp(&mut self, f: F, n: u32) {
        if !self.make_ip(1) || !self.make_transp() {
            return;
        }
        if self.transport_length() < 8 {
            self.put((8 - self.transport_length()) as usize);
        }
        let th = self.th;
        let ty = self.buf[th];
        match f {
            F::IcmpType | F::IcmpTypeName => {
                self.buf[th] = n as u8;
                self.have_icmp_type = true;
                let len = match n {
                    13 | 14 => 20,
                    17 | 18 => 12,
                    _ => 8,
                };
                if self.transport_length() < len {
                    self.put((len - self.transport_length()) as usize);
                }
            }
            F::IcmpCode | F::IcmpCodeName => {
                self.buf[th + 1] = n as u8;
                self.have_icmp_code = true;
            }
            F::IcmpFlowid | F::IcmpSeq if (!self.have_icmp_type || has_flow(ty)) => {
                let at = th + if f == F::IcmpFlowid { 4 } else { 6 };
                self.set(at, &(n as u16).to_be_bytes());
            }
            F::IcmpNextmtu if (!self.have_icmp_type || ty == 3) && (!self.have_icmp_code || self.buf[th + 1] == 4) => {
                self.set(th + 6, &(n as u16).to_be_bytes());
            }
            _ => {}
        }
    }

    /// Click's `payload_info` on the packet being built.
    fn payload_off(&self) -> usize {
        let mut off = self.th;
        if self.first_frag() {
            match self.proto() {
                6 => {
                    let tl = self.transport_length();
                    let o = if tl >= 13 { usize::from(self.buf[self.th + 12] >> 4) * 4 } else { 0 };
                    off += if tl >= 13 && o >= 20 { o } else { 20 };
                }
                17 | 136 => off += 8,
                _ => {}
            }
        }
        off
    }

    fn inject_payload(&mut self, f: F, v: &In, n: u32) {
        if self.make_ip(0) {
            self.make_transp();
        }
        let off = self.payload_off();
        match (f, v) {
            (F::Payload, In::Bytes(bytes)) => {
                if bytes.is_empty() {
                    return;
                }
                let off = self.account_payload_len(off, bytes.len() as u32);
                if self.buf.len() < off + bytes.len() {
                    self.buf.resize(off + bytes.len(), 0);
                }
                self.buf[off..off + bytes.len()].copy_from_slice(bytes);
            }
            (F::PayloadLen, _) => {
                self.account_payload_len(off, n);
            }
            _ => {}
        }
    }

    /// Click's `account_payload_len`: a payload length and the IP length together say how
    /// long the TCP and IP options are. Returns the payload offset afterwards.
    fn account_payload_len(&mut self, mut off: usize, plen: u32) -> usize {
        let ip_len_field = be16(&self.buf, 2);
        if ip_len_field == 0 && self.want_len == 0 {
            self.want_len = (off as u32).wrapping_add(plen);
            return off;
        }
        let ip_len = if ip_len_field != 0 { ip_len_field } else { self.want_len };
        let mut delta = i64::from(ip_len) - (off as i64 + i64::from(plen));
        if delta > 0
            && self.first_frag()
            && self.proto() == 6
            && !self.have_tcp_hl
            && self.transport_length() >= 13
            && self.buf[self.th + 12] >> 4 == 5
        {
            let th_delta = (delta - (delta & 3)).min(40) as usize;
            let at = self.th + 20;
            self.buf.splice(at..at, std::iter::repeat_n(0, th_delta));
            let th = self.th;
            self.buf[th + 12] = (self.buf[th + 12] & 0x0F) | ((((20 + th_delta) >> 2) as u8) << 4);
            delta -= th_delta as i64;
            off += th_delta;
        }
        if delta > 0 && !self.have_ip_hl && self.buf[0] & 15 == 5 {
            let ip_delta = (delta - (delta & 3)).min(40) as usize;
            self.buf.splice(20..20, std::iter::repeat_n(0, ip_delta));
            self.buf[0] = (self.buf[0] & 0xF0) | (((20 + ip_delta) >> 2) as u8);
            self.th = 20 + ip_delta;
            off += ip_delta;
        }
        off
    }

    /// The end of Click's `read_packet`: default flow, transport header, IP and UDP
    /// lengths, checksums (with CHECKSUM), annotations. Returns the packet.
    pub fn finish(mut self, checksum: bool) -> Packet {
        if self.flowid.is_some() {
            self.make_ip(0);
        }
        if self.has_ip {
            self.make_transp();
            let ip_len = if be16(&self.buf, 2) == 0 {
                let mut l = self.want_len.min(0xFFFF);
                if l == 0 {
                    l = self.buf.len() as u32;
                }
                self.buf[2..4].copy_from_slice(&(l as u16).to_be_bytes());
                l
            } else {
                be16(&self.buf, 2)
            };
            let th = self.th;
            if self.proto() == 17 && self.first_frag() && self.buf.len() >= th + 6 && be16(&self.buf, th + 4) == 0 {
                let len = (ip_len as i64 - th as i64) as u16;
                self.set(th + 4, &len.to_be_bytes());
            }
            if checksum {
                if (ip_len as usize) > self.buf.len() {
                    self.buf.resize(ip_len as usize, 0);
                }
                self.set_checksums();
            }
        }
        let mut p = Packet::from_slice(&self.buf);
        if self.has_ip {
            let th = self.th.min(p.len());
            p.set_network_header(0, th);
            let dst = [self.buf[16], self.buf[17], self.buf[18], self.buf[19]];
            p.anno_mut().dst_ip = dst;
        }
        p.anno_mut().timestamp_ns = self.ts;
        p.anno_mut().paint = self.paint;
        if let Some(t) = self.first_ts {
            set_first_timestamp_anno(&mut p, t);
        }
        if let Some(a) = self.aggregate {
            set_aggregate_anno(&mut p, a);
        }
        set_extra_packets_anno(&mut p, self.extra_packets);
        if self.want_len as usize > self.buf.len() {
            set_extra_length_anno(&mut p, self.want_len - self.buf.len() as u32);
        }
        p
    }

    fn set_checksums(&mut self) {
        let hl = (usize::from(self.buf[0] & 15) * 4).min(self.buf.len());
        self.buf[10..12].fill(0);
        let s = checksum::in_cksum(&self.buf[..hl]);
        self.buf[10..12].copy_from_slice(&s.to_be_bytes());
        if be16(&self.buf, 6) & (IP_MF | IP_OFFMASK) != 0 {
            return;
        }
        let th = self.th.min(self.buf.len());
        let (src, dst) = (
            [self.buf[12], self.buf[13], self.buf[14], self.buf[15]],
            [self.buf[16], self.buf[17], self.buf[18], self.buf[19]],
        );
        let proto = self.proto();
        let at = match proto {
            6 => 16,
            17 => 6,
            1 => 2,
            _ => return,
        };
        let t = &mut self.buf[th..];
        if t.len() < at + 2 {
            return;
        }
        t[at..at + 2].fill(0);
        let csum = checksum::in_cksum(t);
        let sum = if proto == 1 { csum } else { checksum::in_cksum_pseudohdr(csum, src, dst, proto, t.len() as u32) };
        t[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    }
}

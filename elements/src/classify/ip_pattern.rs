//! The tcpdump-like pattern language of IPClassifier and IPFilter, parsed as Click parses
//! it (`elements/ip/ipfilter.cc`): the same words, abbreviations, defaults and errors.
//!
//! A pattern is an expression of primitives joined by `and`/`&&` (or juxtaposition), `or`/
//! `||`, `not`/`!`, parentheses and `c ? a : b`. A primitive is `[QUALIFIERS] [OP] DATA`:
//! qualifiers are `src`, `dst`, `src and dst`, `src or dst`, `ip`, a protocol (`tcp`,
//! `udp`, `icmp`, ...) and a type (`host`, `net`, `port`, `proto`, `opt`, `vers`, `hl`,
//! `tos`, `dscp`, `ttl`, `id`, `len`, `win`, `type`, `frag`, `unfrag`, `ect`, `ce`, or a
//! `[POS:LEN]` field); OP is `==`, `!=`, `<`, `>`, `<=`, `>=`, optionally after a mask
//! `& MASK`; DATA is a number, a name (port, protocol, TCP flag, ICMP type), an address or a
//! prefix. What is left out is inferred from the data or taken from the previous primitive
//! (`src port 80 or 81`), exactly as Click does.
//!
//! Each primitive is compiled into word tests on the network header (`Region::Net`) and the
//! transport header (`Region::Transp`) the way Click compiles it, including its rules for
//! short packets, the implicit protocol and first-fragment checks of transport fields, and
//! its decomposition of `<`/`>` into prefix tests.

use super::program::{Expr, Region, Test};
use sluice::args::{FromArg, Ipv4Prefix};
use std::net::Ipv4Addr;

const PROTO_ICMP: u32 = 1;
const PROTO_TCP: u32 = 6;
const PROTO_UDP: u32 = 17;
const PROTO_DCCP: u32 = 33;
/// Click's pseudo-protocols: TCP or UDP, and any transport protocol.
const PROTO_TCP_OR_UDP: u32 = 0x100;
const PROTO_TRANSP: u32 = 0x101;

/// A header field: `bits` bits from bit `bit_offset` of the IP header (proto 0) or of the
/// transport header of protocol `proto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FieldSpec {
    proto: u32,
    bit_offset: u32,
    bits: u32,
}

const fn field(proto: u32, bit_offset: u32, bits: u32) -> Kind {
    Kind::Field(FieldSpec { proto, bit_offset, bits })
}

const FIELD_IPLEN: Kind = field(0, 16, 16);
const FIELD_ID: Kind = field(0, 32, 16);
const FIELD_VERSION: Kind = field(0, 0, 4);
const FIELD_HL: Kind = field(0, 4, 4);
const FIELD_TOS: Kind = field(0, 8, 8);
const FIELD_DSCP: Kind = field(0, 8, 6);
const FIELD_TTL: Kind = field(0, 64, 8);
const FIELD_TCP_WIN: Kind = field(PROTO_TCP, 112, 16);
const FIELD_ICMP_TYPE: Kind = field(PROTO_ICMP, 0, 8);

/// Click's primitive types and data types (`TYPE_*`, `FIELD_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Kind {
    #[default]
    None,
    Int,
    Host,
    Proto,
    IpFrag,
    Port,
    TcpOpt,
    Net,
    IpUnfrag,
    IpEct,
    IpCe,
    Field(FieldSpec),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Op {
    #[default]
    Eq,
    Gt,
    Lt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum SrcDst {
    #[default]
    None,
    Src,
    Dst,
    And,
    Or,
}

/// The type words of the language (Click's `type_entries`); `None` marks syntax words.
fn type_word(w: &str) -> Option<Option<Kind>> {
    Some(Some(match w {
        "ce" => Kind::IpCe,
        "dscp" => FIELD_DSCP,
        "ect" => Kind::IpEct,
        "frag" => Kind::IpFrag,
        "hl" => FIELD_HL,
        "host" => Kind::Host,
        "id" => FIELD_ID,
        "len" => FIELD_IPLEN,
        "net" => Kind::Net,
        "opt" => Kind::TcpOpt,
        "port" => Kind::Port,
        "proto" => Kind::Proto,
        "tos" => FIELD_TOS,
        "ttl" => FIELD_TTL,
        "type" => FIELD_ICMP_TYPE,
        "unfrag" => Kind::IpUnfrag,
        "vers" => FIELD_VERSION,
        "win" => FIELD_TCP_WIN,
        "dest" | "dst" | "ether" | "ip" | "not" | "src" => return Some(None),
        _ => return None,
    }))
}

/// IP protocol names (Click's `ip_protos`).
pub const PROTOCOLS: &[(&str, u32)] = &[
    ("icmp", PROTO_ICMP),
    ("igmp", 2),
    ("ipip", 4),
    ("tcp", PROTO_TCP),
    ("tcpudp", PROTO_TCP_OR_UDP),
    ("transp", PROTO_TRANSP),
    ("udp", PROTO_UDP),
];

/// TCP and UDP port names (Click's `known_ports`).
pub const PORTS: &[(&str, u32)] = &[
    ("auth", 113),
    ("bootpc", 68),
    ("bootps", 67),
    ("chargen", 19),
    ("daytime", 13),
    ("discard", 9),
    ("dns", 53),
    ("domain", 53),
    ("echo", 7),
    ("finger", 79),
    ("ftp", 21),
    ("ftp-data", 20),
    ("https", 443),
    ("imap3", 220),
    ("imaps", 993),
    ("irc", 194),
    ("netbios-dgm", 138),
    ("netbios-ns", 137),
    ("netbios-ssn", 139),
    ("nntp", 119),
    ("ntp", 123),
    ("pop3", 110),
    ("pop3s", 995),
    ("rip", 520),
    ("route", 520),
    ("smtp", 25),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("ssh", 22),
    ("sunrpc", 111),
    ("telnet", 23),
    ("tftp", 69),
    ("www", 80),
];

/// TCP flag names for `tcp opt` (Click's `tcp_opt_entries`).
pub const TCP_FLAGS: &[(&str, u32)] =
    &[("ack", 0x10), ("fin", 0x01), ("psh", 0x08), ("rst", 0x04), ("syn", 0x02), ("urg", 0x20)];

/// ICMP type names (Click's `icmp_types`).
pub const ICMP_TYPES: &[(&str, u32)] = &[
    ("echo", 8),
    ("echo-reply", 0),
    ("inforeq", 15),
    ("inforeq-reply", 16),
    ("maskreq", 17),
    ("maskreq-reply", 18),
    ("parameterproblem", 12),
    ("redirect", 5),
    ("routeradvert", 9),
    ("routersolicit", 10),
    ("sourcequench", 4),
    ("timeexceeded", 11),
    ("timestamp", 13),
    ("timestamp-reply", 14),
    ("unreachable", 3),
];

fn find(table: &[(&str, u32)], w: &str) -> Option<u32> {
    table.iter().find(|(n, _)| *n == w).map(|&(_, v)| v)
}

fn unparse_transp(proto: Option<u32>) -> String {
    match proto {
        None => String::new(),
        Some(p) => match PROTOCOLS.iter().find(|(_, v)| *v == p) {
            Some((n, _)) => n.to_string(),
            None => format!("ip proto {p}"),
        },
    }
}

fn unparse_type(srcdst: SrcDst, kind: Kind) -> String {
    let sd = match srcdst {
        SrcDst::None => "",
        SrcDst::Src => "src ",
        SrcDst::Dst => "dst ",
        SrcDst::Or => "src or dst ",
        SrcDst::And => "src and dst ",
    };
    let t = match kind {
        Kind::None | Kind::Int => "<none>".to_string(),
        Kind::Host => "ip host".into(),
        Kind::Proto => "proto".into(),
        Kind::IpFrag => "ip frag".into(),
        Kind::Port => "port".into(),
        Kind::TcpOpt => "tcp opt".into(),
        Kind::Net => "ip net".into(),
        Kind::IpUnfrag => "ip unfrag".into(),
        Kind::IpEct => "ip ect".into(),
        Kind::IpCe => "ip ce".into(),
        k if k == FIELD_IPLEN => "ip len".into(),
        k if k == FIELD_ID => "ip id".into(),
        k if k == FIELD_VERSION => "ip vers".into(),
        k if k == FIELD_HL => "ip hl".into(),
        k if k == FIELD_TOS => "ip tos".into(),
        k if k == FIELD_DSCP => "ip dscp".into(),
        k if k == FIELD_TTL => "ip ttl".into(),
        k if k == FIELD_TCP_WIN => "tcp win".into(),
        k if k == FIELD_ICMP_TYPE => "icmp type".into(),
        Kind::Field(f) if f.proto == 0 => "ip[...]".into(),
        Kind::Field(f) => format!("{}[...]", unparse_transp(Some(f.proto))),
    };
    format!("{sd}{t}")
}

/// What a word means where it stands (Click's `IPFilter::lookup`).
enum Lookup {
    /// A type word (`port`, `ttl`, ...).
    Type(Kind),
    /// `src`, `dst`, `ip`, `not`, ...
    Syntax,
    /// No name: maybe a number or an address.
    Unknown,
    /// A named value of this data type.
    Value(Kind, u32),
    /// An ambiguous or meaningless name.
    Bad(String),
}

fn lookup(word: &str, kind: Kind, proto: Option<u32>) -> Lookup {
    if kind == Kind::None {
        if let Some(t) = type_word(word) {
            return t.map_or(Lookup::Syntax, Lookup::Type);
        }
    }
    let got =
        [find(PROTOCOLS, word), find(PORTS, word), find(PORTS, word), find(TCP_FLAGS, word), find(ICMP_TYPES, word)];
    if got.iter().all(Option::is_none) {
        return Lookup::Unknown;
    }
    let kinds = [Kind::Proto, Kind::Port, Kind::Port, Kind::TcpOpt, FIELD_ICMP_TYPE];
    let any_type = kind == Kind::None;
    let in_proto = |ps: &[u32]| proto.is_none_or(|p| ps.contains(&p));
    let mut ok = [
        got[0].is_some() && (any_type || kind == Kind::Proto),
        got[1].is_some() && (any_type || kind == Kind::Port) && in_proto(&[PROTO_TCP, PROTO_TCP_OR_UDP]),
        got[2].is_some() && (any_type || kind == Kind::Port) && in_proto(&[PROTO_UDP, PROTO_TCP_OR_UDP]),
        got[3].is_some() && (any_type || kind == Kind::TcpOpt) && in_proto(&[PROTO_TCP, PROTO_TCP_OR_UDP]),
        got[4].is_some() && (any_type || kind == FIELD_ICMP_TYPE) && in_proto(&[PROTO_ICMP]),
    ];
    // The TCP and UDP port tables agree: one of them is enough.
    if ok[1] && ok[2] && got[1] == got[2] {
        ok[2] = false;
    }
    let n = ok.iter().filter(|&&b| b).count();
    if n == 1 {
        let i = ok.iter().position(|&b| b).unwrap_or(0);
        return Lookup::Value(kinds[i], got[i].unwrap_or(0));
    }
    let mut tries: Vec<String> = Vec::new();
    for i in 0..5 {
        if got[i].is_some() {
            let t = format!("'{}'", unparse_word(kinds[i], None, word));
            if !tries.contains(&t) {
                tries.push(t);
            }
        }
    }
    Lookup::Bad(format!(
        "'{}' is {}; try {}",
        unparse_word(kind, proto, word),
        if n > 1 { "ambiguous" } else { "meaningless" },
        tries.join(", ")
    ))
}

fn unparse_word(kind: Kind, proto: Option<u32>, word: &str) -> String {
    let t = if kind == Kind::None { String::new() } else { unparse_type(SrcDst::None, kind) };
    let p = unparse_transp(proto);
    [p, t, word.to_string()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Click's `separate_text`: words, operators and punctuation.
pub fn tokenize(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut words = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        if b[pos].is_ascii_whitespace() {
            pos += 1;
            continue;
        }
        let next = b.get(pos + 1).copied();
        let len = match b[pos] {
            c @ (b'&' | b'|') if next == Some(c) => 2,
            b'<' | b'>' | b'!' | b'=' if next == Some(b'=') => 2,
            b'&' | b'|' | b'<' | b'>' | b'!' | b'=' | b'(' | b')' | b'[' | b']' | b',' | b';' | b'?' => 1,
            _ => {
                let word = b[pos..]
                    .iter()
                    .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'/' | b'@' | b'_' | b':'))
                    .count();
                if word > 0 {
                    word
                } else {
                    // Any other character stands alone (whole, if it is not ASCII).
                    text[pos..].chars().next().map_or(1, char::len_utf8)
                }
            }
        };
        words.push(&text[pos..pos + len]);
        pos += len;
    }
    words
}

/// Reads a Click integer (`80`, `0x50`, `0120`); `None` if the word is not one.
fn parse_int(w: &str) -> Option<Result<u32, String>> {
    match i64::from_arg(w) {
        Ok(v) if v > i64::from(u32::MAX) => Some(Err(format!("value '{w}' out of range"))),
        Ok(v) => Some(Ok(v as u32)),
        Err(e) if e.contains("out of range") => Some(Err(format!("value '{w}' out of range"))),
        Err(_) => None,
    }
}

fn prefix_mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// One primitive being parsed (Click's `IPFilter::Primitive`).
#[derive(Clone, Debug, Default)]
struct Prim {
    kind: Kind,
    data: Kind,
    op: Op,
    negated: bool,
    srcdst: SrcDst,
    transp: Option<u32>,
    u: u32,
    mask: u32,
}

impl Prim {
    fn set_kind(&mut self, k: Kind) -> Result<(), String> {
        if self.kind != Kind::None {
            return Err("type specified twice".into());
        }
        self.kind = k;
        Ok(())
    }

    fn set_srcdst(&mut self, s: SrcDst) -> Result<(), String> {
        if self.srcdst != SrcDst::None {
            return Err("'src' or 'dst' specified twice".into());
        }
        self.srcdst = s;
        Ok(())
    }

    fn set_transp(&mut self, p: u32) -> Result<(), String> {
        if self.transp.is_some_and(|q| q != p) {
            return Err("transport protocol specified twice".into());
        }
        self.transp = Some(p);
        Ok(())
    }

    fn name(&self) -> String {
        unparse_type(self.srcdst, self.kind)
    }

    fn err(&self, msg: &str) -> String {
        format!("'{}': {msg}", self.name())
    }

    fn unparse_op(&self) -> &'static str {
        match (self.op, self.negated) {
            (Op::Gt, false) => ">",
            (Op::Gt, true) => "<=",
            (Op::Lt, false) => "<",
            (Op::Lt, true) => ">=",
            (Op::Eq, false) => "=",
            (Op::Eq, true) => "!=",
        }
    }

    /// Click's `set_mask`: range checks, and the normal form of relations.
    fn set_mask(&mut self, full: u32, provided: Option<u32>, warnings: &mut Vec<String>) -> Result<(), String> {
        let data = self.u;
        let this_mask = provided.unwrap_or(full);
        if this_mask & !full != 0 {
            return Err(self.err(&format!("mask out of range, bound 0x{full:X}")));
        }
        if self.op != Op::Eq {
            if (self.op == Op::Lt && (data == 0 || data > this_mask)) || (self.op == Op::Gt && data >= this_mask) {
                let will_be = if self.op == Op::Lt && data > this_mask { !self.negated } else { self.negated };
                warnings.push(format!(
                    "relation '{} {data}' is always {} (range 0-{this_mask})",
                    self.unparse_op(),
                    will_be
                ));
                self.u = 0;
                self.mask = 0;
                self.negated = !will_be;
                self.op = Op::Eq;
                return Ok(());
            }
            // value < X is !(value > X - 1).
            if self.op == Op::Lt {
                self.u -= 1;
                self.negated = !self.negated;
                self.op = Op::Gt;
            }
            self.mask = this_mask;
            // `x & 5 > 2` is `x & 5 > 1`: use the largest value under the mask.
            if self.u & self.mask != self.u {
                let missing = (self.u & self.mask) ^ (self.u & full);
                let top = missing.leading_zeros() + 1;
                let add = u32::MAX.checked_shr(top).unwrap_or(0);
                self.u = (self.u | add) & self.mask;
            }
            return Ok(());
        }
        if data > full {
            return Err(self.err(&format!("out of range, bound {full}")));
        }
        self.mask = this_mask;
        Ok(())
    }

    /// Click's `Primitive::check`: fill in what was left out and check what was given.
    fn check(
        &mut self,
        prev: &Prim,
        mask: Option<(Kind, u32)>,
        rejected: Option<&str>,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let old_srcdst = self.srcdst;
        let value_missing = |p: &Prim| match rejected {
            Some(w) => p.err(&format!("value missing (cannot read '{w}')")),
            None => p.err("value missing"),
        };
        if self.kind == Kind::None {
            let mut data = self.data;
            loop {
                match data {
                    Kind::Host | Kind::Net | Kind::TcpOpt => {
                        self.kind = data;
                        if self.srcdst == SrcDst::None {
                            self.srcdst = prev.srcdst;
                        }
                    }
                    Kind::Proto => self.kind = Kind::Proto,
                    Kind::Port => {
                        self.kind = Kind::Port;
                        if self.srcdst == SrcDst::None {
                            self.srcdst = prev.srcdst;
                        }
                        if self.transp.is_none() {
                            self.transp = prev.transp;
                        }
                    }
                    Kind::Int => {
                        if !matches!(prev.kind, Kind::Field(_) | Kind::Proto | Kind::Port) {
                            return Err(format!("'{}': specify header field or 'port'", self.u));
                        }
                        self.data = prev.kind;
                        data = prev.kind;
                        continue;
                    }
                    Kind::None => {
                        if self.transp.is_some() {
                            self.kind = Kind::Proto;
                        } else {
                            return Err(match rejected {
                                Some(w) => format!("unknown word '{w}'"),
                                None => "partial directive".to_string(),
                            });
                        }
                    }
                    Kind::Field(f) => {
                        self.kind = data;
                        if f.proto != 0 && self.transp.is_none() {
                            self.transp = Some(f.proto);
                        }
                    }
                    k => return Err(format!("unknown type '{}'", unparse_type(SrcDst::None, k))),
                }
                break;
            }
        }
        let mask_kind = mask.map(|m| m.0);
        let mask_val = mask.map(|m| m.1);
        match self.kind {
            Kind::Host | Kind::Net => {
                if self.data != self.kind {
                    return Err(self.err("address missing"));
                }
                if self.op != Op::Eq {
                    return Err(self.err("operator not supported"));
                }
                if self.kind == Kind::Host {
                    self.mask = u32::MAX;
                }
                self.kind = Kind::Host;
                match mask_kind {
                    None => {}
                    Some(Kind::Int | Kind::Host) => self.mask = mask_val.unwrap_or(u32::MAX),
                    Some(_) => return Err(self.err("bad mask")),
                }
            }
            Kind::Proto => {
                let u = if matches!(self.data, Kind::Int | Kind::Proto) {
                    if self.transp.is_some_and(|t| t != self.u) {
                        return Err(self.err("specified twice"));
                    }
                    self.data = Kind::None;
                    Some(self.u)
                } else {
                    self.transp
                };
                self.transp = None;
                match u {
                    Some(u) if self.data == Kind::None => self.u = u,
                    _ => return Err(value_missing(self)),
                }
                if self.u >= 256 {
                    if self.op != Op::Eq || mask.is_some() {
                        return Err(format!("'{}': operator or mask not supported", unparse_transp(Some(self.u))));
                    }
                    self.mask = 0xFF;
                } else if mask_kind.is_some_and(|k| k != Kind::Int) {
                    return Err(self.err("bad mask"));
                } else {
                    self.set_mask(0xFF, mask_val, warnings)?;
                }
                if self.op == Op::Eq && self.mask == 0xFF && !self.negated {
                    self.transp = Some(self.u);
                }
            }
            Kind::Port => {
                if self.data == Kind::Int {
                    self.data = Kind::Port;
                }
                if self.data != Kind::Port {
                    return Err(value_missing(self));
                }
                match self.transp {
                    None => self.transp = Some(PROTO_TCP_OR_UDP),
                    Some(PROTO_TCP | PROTO_UDP | PROTO_TCP_OR_UDP | PROTO_DCCP) => {}
                    Some(p) => return Err(format!("'port': bad protocol {p}")),
                }
                if mask_kind.is_some_and(|k| k != Kind::Int) {
                    return Err(self.err("bad mask"));
                }
                self.set_mask(0xFFFF, mask_val, warnings)?;
            }
            Kind::TcpOpt => {
                if self.data == Kind::Int {
                    self.data = Kind::TcpOpt;
                }
                if self.data != Kind::TcpOpt {
                    return Err(value_missing(self));
                }
                match self.transp {
                    None => self.transp = Some(PROTO_TCP),
                    Some(PROTO_TCP) => {}
                    Some(p) => return Err(format!("'tcp opt': bad protocol {p}")),
                }
                if self.op != Op::Eq || self.negated || mask.is_some() {
                    return Err(self.err("operator or mask not supported"));
                }
                if self.u > 255 {
                    return Err(format!("'tcp opt': value {} out of range", self.u));
                }
                self.mask = self.u;
            }
            Kind::IpEct => {
                if !matches!(self.data, Kind::None | Kind::Int) {
                    return Err(value_missing(self));
                }
                if self.data == Kind::None {
                    self.u = 0;
                    self.negated = true;
                } else if mask_kind.is_some_and(|k| k != Kind::Int) {
                    return Err(self.err("bad mask"));
                }
                self.set_mask(0x3, mask_val, warnings)?;
                self.kind = FIELD_TOS;
            }
            Kind::IpCe => {
                if self.data != Kind::None || mask.is_some() {
                    return Err(self.err("value not supported"));
                }
                self.mask = 0x3;
                self.u = 0x3;
                self.kind = FIELD_TOS;
            }
            Kind::IpFrag | Kind::IpUnfrag => {
                if self.data != Kind::None || mask.is_some() {
                    return Err(self.err("value not supported"));
                }
                if self.kind == Kind::IpUnfrag {
                    self.negated = true;
                    self.kind = Kind::IpFrag;
                }
            }
            Kind::Field(f) => {
                if self.data != Kind::Int && self.data != self.kind {
                    return Err(value_missing(self));
                }
                if mask_kind.is_some_and(|k| k != Kind::Int && k != self.kind) {
                    return Err(self.err("bad mask"));
                }
                let full = if f.bits >= 32 { u32::MAX } else { (1 << f.bits) - 1 };
                self.set_mask(full, mask_val, warnings)?;
            }
            Kind::None | Kind::Int => return Err("partial directive".into()),
        }
        if matches!(self.kind, Kind::Host | Kind::Port) {
            if self.srcdst == SrcDst::None {
                self.srcdst = SrcDst::Or;
            }
        } else if old_srcdst != SrcDst::None {
            warnings.push(format!("'{}': 'src' or 'dst' ignored", self.name()));
        }
        Ok(())
    }

    /// `(word & mask) OP u` on the word at `offset` of `region`, the field shifted left by
    /// `shift`: Click's `add_comparison_exprs`.
    fn comparison(&self, region: Region, offset: u16, shift: u32, op_negate: bool) -> Expr {
        let mut mask = u64::from(self.mask);
        let mut u = u64::from(self.u) & mask;
        let test = |value: u64, mask: u64| {
            Expr::test(Test::new(region, offset, (value << shift) as u32, (mask << shift) as u32))
        };
        let e = if self.op == Op::Eq {
            test(u, mask)
        } else {
            // `x > u`, decomposed into tests of the top bits, as Click does: where u's top
            // bit is 0, x > u if x has a 1 above u's top bit, or else its lower bits are
            // greater; where it is 1, x must have the same top bits and greater lower bits.
            let mut steps: Vec<(Expr, bool)> = Vec::new();
            while u < mask {
                let high = u > (mask >> 1);
                let x = if high { !(u + 1) & mask } else { u };
                let first_different = if x == 0 { 33 } else { 64 - x.leading_zeros() };
                let upper_mask = if first_different >= 33 { mask } else { mask & !((1u64 << first_different) - 1) };
                let upper_u = if high { upper_mask } else { 0 };
                let t = test(upper_u, upper_mask);
                steps.push((if high { t } else { t.negate_keep_short() }, high));
                mask &= !upper_mask;
                u &= mask;
            }
            let mut e: Option<Expr> = None;
            for (t, high) in steps.into_iter().rev() {
                e = Some(match e {
                    None => t,
                    Some(rest) if high => Expr::and(vec![t, rest]),
                    Some(rest) => Expr::or(vec![t, rest]),
                });
            }
            e.unwrap_or(Expr::Const(false))
        };
        if self.negated && op_negate {
            e.negate_keep_short()
        } else {
            e
        }
    }

    /// Click's `Primitive::compile`.
    fn compile(&self) -> Expr {
        let mut parts = Vec::new();
        if let Some(p) = self.transp {
            parts.push(proto_test(p));
        }
        let transport_field =
            matches!(self.kind, Kind::Port | Kind::TcpOpt) || matches!(self.kind, Kind::Field(f) if f.proto != 0);
        if transport_field {
            // Only the first fragment has the transport header.
            parts.push(Expr::test(Test::new(Region::Net, 4, 0, 0x1FFF)));
        }
        let sides = |src: Expr, dst: Expr| {
            let e = match self.srcdst {
                SrcDst::Src => src,
                SrcDst::Dst => dst,
                SrcDst::And => Expr::and(vec![src, dst]),
                SrcDst::Or | SrcDst::None => Expr::or(vec![src, dst]),
            };
            if self.negated {
                e.negate_keep_short()
            } else {
                e
            }
        };
        parts.push(match self.kind {
            Kind::Host => sides(self.comparison(Region::Net, 12, 0, false), self.comparison(Region::Net, 16, 0, false)),
            Kind::Proto => match self.transp {
                Some(p) if p >= 256 => Expr::Const(true),
                _ if self.u >= 256 => {
                    let e = proto_test(self.u);
                    if self.negated {
                        e.negate_keep_short()
                    } else {
                        e
                    }
                }
                _ => self.comparison(Region::Net, 8, 16, true),
            },
            Kind::IpFrag => {
                let t = Expr::test(Test::new(Region::Net, 4, 0, 0x3FFF));
                if self.negated {
                    t
                } else {
                    t.negate_keep_short()
                }
            }
            Kind::Port => {
                sides(self.comparison(Region::Transp, 0, 16, false), self.comparison(Region::Transp, 0, 0, false))
            }
            Kind::TcpOpt => Expr::test(Test::new(Region::Transp, 12, self.u << 16, self.mask << 16)),
            Kind::Field(f) => {
                let word = ((f.bit_offset >> 3) & !3) as u16;
                let bit = f.bit_offset & 31;
                let region = if f.proto != 0 { Region::Transp } else { Region::Net };
                self.comparison(region, word, 32 - (bit + f.bits), true)
            }
            _ => Expr::Const(false),
        });
        Expr::and(parts)
    }
}

/// The test that the IP protocol is `p` (or TCP or UDP, or anything with a transport header).
fn proto_test(p: u32) -> Expr {
    let is = |p: u32| Expr::test(Test::new(Region::Net, 8, p << 16, 0x00FF_0000));
    match p {
        PROTO_TCP_OR_UDP => Expr::or(vec![is(PROTO_TCP), is(PROTO_UDP)]),
        p if p >= 256 => Expr::Const(true),
        p => is(p),
    }
}

struct Parser<'a> {
    words: Vec<&'a str>,
    pos: usize,
    prev: Prim,
    warnings: &'a mut Vec<String>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.pos).copied()
    }

    /// The word at `pos` if another word follows it (Click only looks for `[`, `&` and
    /// relations where something can come after them).
    fn peek_before_more(&self) -> Option<&'a str> {
        if self.pos + 1 < self.words.len() {
            self.peek()
        } else {
            None
        }
    }

    fn at(&self, alternatives: &[&str]) -> bool {
        self.peek().is_some_and(|w| alternatives.contains(&w))
    }

    /// expr ::= orexpr | orexpr ? expr : expr
    fn expr(&mut self) -> Result<Expr, String> {
        let c = self.orexpr()?;
        if !self.at(&["?"]) {
            return Ok(c);
        }
        self.pos += 1;
        let a = self.expr()?;
        if !self.at(&[":"]) {
            return Err(match self.peek() {
                Some(w) => format!("missing ':' in ternary expression before '{w}'"),
                None => "missing ':' in ternary expression".to_string(),
            });
        }
        self.pos += 1;
        let b = self.expr()?;
        Ok(Expr::ternary(c, a, b))
    }

    /// orexpr ::= term (or term)*
    fn orexpr(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.term(None)?];
        while self.at(&["or", "||"]) {
            let op = self.peek();
            self.pos += 1;
            terms.push(self.term(op)?);
        }
        Ok(Expr::or(terms))
    }

    /// term ::= factor ((and)? factor)*; `after` is the operator before it, for messages.
    fn term(&mut self, after: Option<&str>) -> Result<Expr, String> {
        let first = self.factor()?.ok_or_else(|| match (after, self.peek()) {
            (Some(op), _) => format!("missing expression after '{op}'"),
            (None, Some(w)) => format!("missing expression before '{w}'"),
            (None, None) => "missing expression".to_string(),
        })?;
        let mut factors = vec![first];
        loop {
            if self.at(&["and", "&&"]) {
                let op = self.peek().unwrap_or("and");
                self.pos += 1;
                factors.push(self.factor()?.ok_or_else(|| format!("missing expression after '{op}'"))?);
            } else {
                match self.factor()? {
                    Some(f) => factors.push(f),
                    None => break,
                }
            }
        }
        Ok(Expr::and(factors))
    }

    /// factor ::= ! factor | ( expr ) | test
    fn factor(&mut self) -> Result<Option<Expr>, String> {
        match self.peek() {
            Some(w @ ("not" | "!")) => {
                self.pos += 1;
                let f = self.factor()?.ok_or_else(|| format!("missing expression after '{w}'"))?;
                Ok(Some(f.negate()))
            }
            Some("(") => {
                self.pos += 1;
                if self.at(&[")"]) || self.peek().is_none() {
                    return Err("missing expression after '('".into());
                }
                let e = self.expr()?;
                match self.peek() {
                    Some(")") => self.pos += 1,
                    Some(w) => return Err(format!("missing ')' before '{w}'")),
                    None => return Err("missing ')'".into()),
                }
                Ok(Some(e))
            }
            _ => self.test(),
        }
    }

    /// test ::= true | false | quals [& mask] [relop] data
    fn test(&mut self) -> Result<Option<Expr>, String> {
        let Some(first) = self.peek() else { return Ok(None) };
        if matches!(first, ")" | "||" | "or" | "?" | ":" | "&&" | "and") {
            return Ok(None);
        }
        if first == "true" || first == "false" {
            self.pos += 1;
            return Ok(Some(Expr::Const(first == "true")));
        }
        let first_pos = self.pos;
        let mut prim = Prim::default();
        let mut header: Option<&str> = None;
        let mut negated = false;

        // Qualifiers.
        while let Some(wd) = self.peek() {
            match lookup(wd, Kind::None, None) {
                Lookup::Type(k) => {
                    prim.set_kind(k)?;
                    if let Kind::Field(f) = k {
                        if f.proto != 0 {
                            prim.set_transp(f.proto)?;
                        }
                    }
                }
                Lookup::Value(Kind::Proto, p) => prim.set_transp(p)?,
                Lookup::Value(..) | Lookup::Bad(_) => break,
                Lookup::Syntax | Lookup::Unknown => match wd {
                    "src" => {
                        let next = self.words.get(self.pos + 1).copied();
                        let after = self.words.get(self.pos + 2).copied();
                        if matches!(after, Some("dst" | "dest")) && matches!(next, Some("and" | "&&")) {
                            prim.set_srcdst(SrcDst::And)?;
                            self.pos += 2;
                        } else if matches!(after, Some("dst" | "dest")) && matches!(next, Some("or" | "||")) {
                            prim.set_srcdst(SrcDst::Or)?;
                            self.pos += 2;
                        } else {
                            prim.set_srcdst(SrcDst::Src)?;
                        }
                    }
                    "dst" | "dest" => prim.set_srcdst(SrcDst::Dst)?,
                    "ip" | "ether" => {
                        if header.is_some() {
                            break;
                        }
                        header = Some(wd);
                    }
                    "not" | "!" => negated = !negated,
                    _ => break,
                },
            }
            self.pos += 1;
        }
        if self.pos != first_pos {
            self.prev = Prim::default();
        }
        if header == Some("ether") {
            return Err("'ether host' is not supported: Sluice packets carry no MAC header annotation".into());
        }

        // Optional [POS:LEN].
        if self.peek_before_more() == Some("[") && self.pos > first_pos && prim.kind == Kind::None {
            self.brackets(&mut prim)?;
        }

        // Optional bitmask.
        let mut mask: Option<(Kind, u32)> = None;
        if self.peek_before_more() == Some("&") {
            let w = self.words[self.pos + 1];
            let m = match parse_int(w) {
                Some(r) => Some((Kind::Int, r.map_err(|e| format!("mask: {e}"))?)),
                None => Ipv4Addr::from_arg(w).ok().map(|a| (Kind::Host, u32::from(a))),
            };
            match m {
                Some((_, 0)) => return Err(format!("zero mask '{w}' ignored")),
                Some(m) => {
                    mask = Some(m);
                    self.pos += 2;
                }
                None => return Err(format!("bad mask '{w}' after '&'")),
            }
        }

        // Optional relation.
        let relation = match self.peek_before_more() {
            Some("=" | "==") => true,
            Some("!=") => {
                prim.negated = true;
                true
            }
            Some(">") => {
                prim.op = Op::Gt;
                true
            }
            Some("<") => {
                prim.op = Op::Lt;
                true
            }
            Some(">=") => {
                prim.op = Op::Lt;
                prim.negated = true;
                true
            }
            Some("<=") => {
                prim.op = Op::Gt;
                prim.negated = true;
                true
            }
            _ => false,
        };
        if relation {
            self.pos += 1;
        }

        // The data.
        let mut rejected = None;
        if let Some(wd) = self.peek() {
            self.pos += 1;
            match lookup(wd, prim.kind, prim.transp) {
                Lookup::Bad(msg) => return Err(msg),
                Lookup::Value(k, v) => {
                    prim.data = k;
                    prim.u = v;
                }
                _ => {
                    if let Some(r) = parse_int(wd) {
                        prim.u = r?;
                        prim.data = Kind::Int;
                    } else if let Ok(a) = Ipv4Addr::from_arg(wd) {
                        prim.u = u32::from(a);
                        let m = self.words.get(self.pos + 1).and_then(|w| Ipv4Addr::from_arg(w).ok());
                        if self.peek() == Some("mask") && m.is_some() {
                            prim.mask = m.map_or(u32::MAX, u32::from);
                            prim.data = Kind::Net;
                            self.pos += 2;
                        } else if prim.kind == Kind::Net {
                            // `net NAME`: an AddressInfo name's prefix, when it has one
                            // (Click's ipfilter.cc tries IPPrefixArg() here).
                            match Ipv4Prefix::parse_net(wd) {
                                Ok(p) => {
                                    prim.u = u32::from(p.addr);
                                    prim.mask = prefix_mask(p.len);
                                }
                                Err(_) => prim.mask = u32::MAX,
                            }
                            prim.data = Kind::Net;
                        } else {
                            prim.data = Kind::Host;
                        }
                    } else if let Ok(p) = Ipv4Prefix::from_arg(wd) {
                        prim.u = u32::from(p.addr);
                        prim.mask = prefix_mask(p.len);
                        prim.data = Kind::Net;
                    } else {
                        if prim.op != Op::Eq || prim.negated {
                            return Err(format!("dangling operator near '{wd}'"));
                        }
                        rejected = Some(wd);
                        self.pos -= 1;
                    }
                }
            }
        }
        if self.pos == first_pos {
            let wd = self.peek().unwrap_or("");
            return Err(match lookup(wd, Kind::None, None) {
                Lookup::Unknown => format!("unknown word '{wd}'"),
                _ => format!("empty term near '{wd}'"),
            });
        }

        let prev = std::mem::take(&mut self.prev);
        prim.check(&prev, mask, rejected, self.warnings)?;
        let e = prim.compile();
        self.prev = prim;
        Ok(Some(if negated { e.negate() } else { e }))
    }

    /// `[POS]`, `[POS:LEN]` or `[POS,LAST]` after `ip`, `transp`, `tcp`, ...
    fn brackets(&mut self, prim: &mut Prim) -> Result<(), String> {
        self.pos += 1;
        let mut inside = String::new();
        while let Some(w) = self.peek() {
            if w == "]" {
                break;
            }
            inside.push_str(w);
            self.pos += 1;
        }
        if self.peek().is_none() {
            return Err(format!("missing ']' after '[{inside}'"));
        }
        self.pos += 1;
        let int = |s: &str| i64::from_arg(s).ok();
        let syntax = || format!("syntax error in '[{inside}]', expected '[POS]' or '[POS:LEN]'");
        let (pos, len) = if let Some((a, b)) = inside.split_once(':') {
            (int(a).ok_or_else(syntax)?, int(b).ok_or_else(syntax)?)
        } else if let Some((a, b)) = inside.split_once(',') {
            let (a, b) = (int(a).ok_or_else(syntax)?, int(b).ok_or_else(syntax)?);
            (a, b - a + 1)
        } else {
            (int(&inside).ok_or_else(syntax)?, 1)
        };
        if !(1..=4).contains(&len) {
            return Err(format!("LEN in '[{inside}]' out of range, should be between 1 and 4"));
        }
        if !(0..8192).contains(&pos) {
            return Err(format!("POS in '[{inside}]' out of range, should be between 0 and 8191"));
        }
        let (bit, bits) = (pos as u32 * 8, len as u32 * 8);
        if bit & !31 != (bit + bits - 1) & !31 {
            return Err(format!("field [{pos}:{len}] does not fit in a single word"));
        }
        prim.set_kind(field(prim.transp.unwrap_or(0), bit, bits))
    }
}

/// Parse one pattern (without action) into an expression. Warnings (relations that are
/// always true or false, ignored `src`/`dst`) are appended to `warnings`.
pub fn parse_pattern(text: &str, warnings: &mut Vec<String>) -> Result<Expr, String> {
    let words = tokenize(text);
    parse_words(words, warnings)
}

fn parse_words(words: Vec<&str>, warnings: &mut Vec<String>) -> Result<Expr, String> {
    if words.is_empty() {
        return Ok(Expr::Const(true));
    }
    if words.len() == 1 && matches!(words[0], "-" | "any" | "all") {
        return Ok(Expr::Const(true));
    }
    let mut p = Parser { words, pos: 0, prev: Prim::default(), warnings };
    let e = p.expr()?;
    if let Some(w) = p.peek() {
        return Err(format!("garbage after expression at '{w}'"));
    }
    Ok(e)
}

/// What IPFilter does with packets matching a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Output(usize),
    Drop,
}

/// Parse IPFilter's `ACTION PATTERN` arguments for an element with `noutputs` outputs.
pub fn parse_filter(
    args: &[String],
    noutputs: usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<(Action, Expr)>, String> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        match parse_filter_rule(arg, noutputs, warnings) {
            Ok(r) => rules.push(r),
            Err(e) => errors.push(format!("pattern {i}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors.join("; "))
    }
}

fn parse_filter_rule(arg: &str, noutputs: usize, warnings: &mut Vec<String>) -> Result<(Action, Expr), String> {
    let text = sluice::args::unquote(arg)?;
    let words = tokenize(&text);
    let Some(&slot) = words.first() else { return Err("empty pattern".into()) };
    let action = match slot {
        "allow" if noutputs == 0 => return Err("'allow' is meaningless, element has zero outputs".into()),
        "allow" => Action::Output(0),
        "deny" | "drop" => Action::Drop,
        w => match parse_int(w) {
            Some(Ok(n)) if (n as usize) < noutputs => Action::Output(n as usize),
            Some(_) => return Err(format!("slot '{w}' out of range (the element has {noutputs} outputs)")),
            None => return Err(format!("unknown slot ID '{w}' (expected allow, deny, drop or an output number)")),
        },
    };
    let mut w = Vec::new();
    let e = parse_words(words[1..].to_vec(), &mut w)?;
    warnings.extend(w);
    Ok((action, e))
}

/// Parse IPClassifier's patterns: one per output.
pub fn parse_classifier(args: &[String], noutputs: usize, warnings: &mut Vec<String>) -> Result<Vec<Expr>, String> {
    if args.len() != noutputs {
        return Err(format!("need {noutputs} arguments, one per output port (got {})", args.len()));
    }
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        match sluice::args::unquote(arg).and_then(|t| parse_pattern(&t, warnings)) {
            Ok(e) => rules.push(e),
            Err(e) => errors.push(format!("pattern {i}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
#[path = "ip_pattern_tests.rs"]
mod tests;

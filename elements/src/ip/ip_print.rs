//! `IPPrint`: prints one line per IP packet, like tcpdump.

use super::common::{nh_offset, th_offset};
use crate::standard::anno::AnnoByte;
use crate::wire::icmp::{self, msg_type};
use crate::wire::ipv4;
use sluice::args::{Args, FromArg, Word};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet};
use std::fmt::Write as _;
use std::io::Write as _;

sluice::element_class! {
    /// IPPrint([LABEL, KEYWORDS])
    ///
    /// Pretty-prints IP packets.
    ///
    /// Expects IP packets as input (the IP header annotation must be set; packets without
    /// it pass unprinted). Prints one line per packet, in Click's format, on standard
    /// error (or into OUTFILE), and passes packets on unchanged. The line is
    /// `LABEL: TIMESTAMP: ` followed by a tcpdump-like description:
    /// `SRC.SPORT > DST.DPORT: FLAGS SEQ:SEQEND(SEQLEN,PACKETLEN,IPLEN) ack ACK win WIN`
    /// for TCP (flags `S`, `F`, `R`, `P`, or `.`), `SRC.SPORT > DST.DPORT: udp LEN` for
    /// UDP, `SRC > DST: icmp ...` for ICMP (echo and echo-reply with identifier and
    /// sequence, unreachables with the quoted destination and code, other types by name),
    /// `SRC > DST: ip-proto-N` otherwise; short headers print `truncated-tcp` and the
    /// like, fewer than 20 bytes `truncated-ip`. Fragments get
    /// ` (frag ID:LEN@OFFSET[+])`. With CONTENTS or PAYLOAD, packet bytes follow on
    /// indented lines (24 bytes per line in hex, 48 in ASCII).
    ///
    /// Lines are built in a reused buffer; the data path allocates nothing after the first
    /// packets. With several workers, each worker's instance opens OUTFILE itself, so give
    /// OUTFILE only to single-worker graphs.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `LABEL` — string, positional. Text before each line. Default empty.
    /// - `CONTENTS` — `NONE`, `HEX` or `ASCII` (or a boolean: HEX/NONE). Print the packet
    ///   data from its first byte. Default NONE.
    /// - `PAYLOAD` — `NO`, `HEX` (or `YES`/`TRUE`) or `ASCII`. Print the transport
    ///   payload instead. At most one of CONTENTS and PAYLOAD. Default NO.
    /// - `MAXLENGTH` — integer. Most bytes of CONTENTS/PAYLOAD; negative: all. Default
    ///   1500. `NBYTES` is a deprecated name for it.
    /// - `ID` — boolean. Print the IP ID. Default false.
    /// - `TIMESTAMP` — boolean. Print the timestamp annotation. Default true.
    /// - `PAINT` — boolean. Print the paint annotation. Default false.
    /// - `TOS` — boolean. Print the IP TOS. Default false.
    /// - `TTL` — boolean. Print the IP TTL. Default false.
    /// - `LENGTH` — boolean. Print the IP length. Default false.
    /// - `AGGREGATE` — boolean. Print the aggregate annotation. Default false.
    /// - `SWAP` — boolean. Print ICMP echo identifiers and sequence numbers in network
    ///   byte order (Click's default on little-endian hosts). Default true.
    /// - `ACTIVE` — boolean. If false, print nothing. Default true.
    /// - `OUTFILE` — file name. Write lines there instead of standard error.
    /// - `CHANNEL` — accepted and ignored (Sluice has one chatter channel).
    ///
    /// # Handlers
    /// - `active` (read/write) — the ACTIVE setting.
    ///
    /// # Example
    /// ```text
    /// FromDump(http.pcap) -> CheckIPHeader(14) -> IPPrint(in, TIMESTAMP false) -> Discard;
    /// // in: 145.254.160.237.3372 > 65.208.228.223.80: S 951057939:951057940(1,62,48) win 8760
    /// ```
    pub const IP_PRINT = "IPPrint" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("active", Combine::First, "whether IPPrint prints")];

/// What IPPrint shows.
#[derive(Clone, Debug)]
pub struct IPPrintFormat {
    label: String,
    /// 0 none, 1 hex, 2 ASCII.
    contents: u8,
    payload: bool,
    bytes: i64,
    id: bool,
    timestamp: bool,
    paint: bool,
    tos: bool,
    ttl: bool,
    length: bool,
    aggregate: bool,
    swap: bool,
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let label = args.read_p::<String>("LABEL")?.unwrap_or_default();
    let contents = args.read_kw::<Word>("CONTENTS")?.map(|w| w.0);
    let payload = args.read_kw::<Word>("PAYLOAD")?.map(|w| w.0);
    let mut bytes = args.read_kw::<i64>("MAXLENGTH")?.unwrap_or(1500);
    if let Some(b) = args.read_kw::<i64>("NBYTES")? {
        bytes = b;
    }
    let mut flag =
        |name: &str, default: bool| -> Result<bool, ConfigError> { Ok(args.read_kw::<bool>(name)?.unwrap_or(default)) };
    let id = flag("ID", false)?;
    let timestamp = flag("TIMESTAMP", true)?;
    let paint = flag("PAINT", false)?;
    let tos = flag("TOS", false)?;
    let ttl = flag("TTL", false)?;
    let swap = flag("SWAP", true)?;
    let length = flag("LENGTH", false)?;
    let aggregate = flag("AGGREGATE", false)?;
    let active = flag("ACTIVE", true)?;
    let outfile = args.read_kw::<String>("OUTFILE")?;
    let _channel = args.read_kw::<Word>("CHANNEL")?;
    args.finish()?;
    let mut contents = match contents {
        None => 0,
        Some(c) => match bool::from_arg(&c) {
            Ok(b) => b as u8,
            Err(_) => match c.to_ascii_uppercase().as_str() {
                "NONE" => 0,
                "HEX" => 1,
                "ASCII" => 2,
                _ => return Err(format!("bad contents value '{c}'; should be 'NONE', 'HEX', or 'ASCII'").into()),
            },
        },
    };
    let payloadv = match payload.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("NO") | Some("FALSE") => 0,
        Some("YES") | Some("TRUE") | Some("HEX") => 1,
        Some("ASCII") => 2,
        Some(p) => return Err(format!("bad payload value '{p}'; should be 'false', 'hex', or 'ascii'").into()),
    };
    if payloadv > 0 && contents > 0 {
        return Err("specify at most one of PAYLOAD and CONTENTS".into());
    }
    let payload = payloadv > 0;
    if payload {
        contents = payloadv;
    }
    let format =
        IPPrintFormat { label, contents, payload, bytes, id, timestamp, paint, tos, ttl, length, aggregate, swap };
    Ok(Box::new(IPPrint {
        format,
        active,
        outfile: outfile.map(|f| ctx.path(&f)),
        out: None,
        line: String::with_capacity(256),
    }))
}

/// `SRC > DST`.
fn address_pair(out: &mut String, ip: &ipv4::Packet<&[u8]>) {
    let _ = write!(out, "{} > {}", ip.src_addr(), ip.dst_addr());
}

/// Click's protocol names (`NameInfo::T_IP_PROTO`).
fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        1 => "icmp",
        2 => "igmp",
        4 => "ipip",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        47 => "gre",
        132 => "sctp",
        _ => return None,
    })
}

impl IPPrintFormat {
    fn tcp_line(&self, out: &mut String, p: &Packet, ip: &ipv4::Packet<&[u8]>, t: &[u8], tlen: i64) {
        if tlen < 4 || !ip.is_first_fragment() {
            address_pair(out, ip);
            out.push_str(if ip.is_first_fragment() { ": truncated-tcp" } else { ": tcp" });
            return;
        }
        let _ = write!(
            out,
            "{}.{} > {}.{}: ",
            ip.src_addr(),
            u16::from_be_bytes([t[0], t[1]]),
            ip.dst_addr(),
            u16::from_be_bytes([t[2], t[3]])
        );
        if tlen < 14 {
            out.push_str("truncated-tcp");
            return;
        }
        let ip_len = ip.total_len() as i64;
        let mut seqlen = ip_len - ip.header_len() as i64 - (((t[12] >> 4) as i64) << 2);
        let flags = t[13];
        if flags & 0x02 != 0 {
            out.push('S');
            seqlen += 1;
        }
        if flags & 0x01 != 0 {
            out.push('F');
            seqlen += 1;
        }
        if flags & 0x04 != 0 {
            out.push('R');
        }
        if flags & 0x08 != 0 {
            out.push('P');
        }
        if flags & 0x0f == 0 {
            out.push('.');
        }
        let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
        let _ = write!(out, " {seq}:{}({seqlen},{},{ip_len})", seq.wrapping_add(seqlen as i32 as u32), p.len());
        if flags & 0x10 != 0 {
            let _ = write!(out, " ack {}", u32::from_be_bytes([t[8], t[9], t[10], t[11]]));
        }
        if tlen < 16 {
            out.push_str("truncated-tcp");
            return;
        }
        let _ = write!(out, " win {}", u16::from_be_bytes([t[14], t[15]]));
    }

    fn udp_line(&self, out: &mut String, ip: &ipv4::Packet<&[u8]>, t: &[u8], tlen: i64) {
        if tlen < 4 || !ip.is_first_fragment() {
            address_pair(out, ip);
            out.push_str(if ip.is_first_fragment() { ": truncated-udp" } else { ": udp" });
            return;
        }
        let _ = write!(
            out,
            "{}.{} > {}.{}: ",
            ip.src_addr(),
            u16::from_be_bytes([t[0], t[1]]),
            ip.dst_addr(),
            u16::from_be_bytes([t[2], t[3]])
        );
        if tlen < 8 {
            out.push_str("truncated-udp");
            return;
        }
        let _ = write!(out, "udp {}", u16::from_be_bytes([t[4], t[5]]));
    }

    fn icmp_line(&self, out: &mut String, ip: &ipv4::Packet<&[u8]>, t: &[u8], tlen: i64) {
        address_pair(out, ip);
        out.push_str(": ");
        if !ip.is_first_fragment() {
            out.push_str("icmp");
            return;
        }
        if tlen < 2 {
            out.push_str("truncated-icmp");
            return;
        }
        let (typ, code) = (t[0], t[1]);
        match typ {
            msg_type::ECHO_REPLY | msg_type::ECHO_REQUEST => {
                out.push_str(if typ == msg_type::ECHO_REPLY { "icmp echo-reply " } else { "icmp echo " });
                if tlen < 8 {
                    out.push_str("truncated-icmp");
                    return;
                }
                let (id, seq) = (u16::from_be_bytes([t[4], t[5]]), u16::from_be_bytes([t[6], t[7]]));
                let (id, seq) = if self.swap { (id, seq) } else { (id.swap_bytes(), seq.swap_bytes()) };
                let _ = write!(out, "({id}, {seq})");
            }
            msg_type::DST_UNREACHABLE => {
                // The code's name, or `code N`.
                let code_s = |out: &mut String| match icmp::code_name(typ, code) {
                    Some(n) => out.push_str(n),
                    None => {
                        let _ = write!(out, "code {code}");
                    }
                };
                let eiph_len = tlen - 8;
                if eiph_len < 20 {
                    out.push_str("icmp unreachable ");
                    code_s(out);
                    out.push_str(" truncated-icmp");
                    return;
                }
                let e = ipv4::Packet::new_unchecked(&t[8..]);
                let ehl = e.header_len() as i64;
                let eudph_len = eiph_len - ehl;
                let _ = write!(out, "icmp {} unreachable ", e.dst_addr());
                code_s(out);
                match code {
                    2 => match proto_name(e.protocol()) {
                        Some(n) => {
                            let _ = write!(out, " {n}");
                        }
                        None => {
                            let _ = write!(out, " {}", e.protocol());
                        }
                    },
                    3 => {
                        match proto_name(e.protocol()) {
                            Some(n) => {
                                let _ = write!(out, " {n}");
                            }
                            None => {
                                let _ = write!(out, " protocol {}", e.protocol());
                            }
                        }
                        if eudph_len < 4 {
                            out.push_str("truncated-icmp");
                            return;
                        }
                        let u = 8 + ehl as usize;
                        let _ = write!(out, "/{}", u16::from_be_bytes([t[u + 2], t[u + 3]]));
                    }
                    4 => {
                        let mtu = u16::from_be_bytes([t[6], t[7]]);
                        if mtu != 0 {
                            let _ = write!(out, " (mtu {mtu})");
                        }
                    }
                    _ => {}
                }
            }
            _ => {
                out.push_str("icmp ");
                match icmp::type_name(typ) {
                    Some(n) => out.push_str(n),
                    None => {
                        let _ = write!(out, "type {typ}");
                    }
                }
                match icmp::code_name(typ, code) {
                    Some(n) => {
                        let _ = write!(out, " {n}");
                    }
                    None if code != 0 => {
                        let _ = write!(out, " code {code}");
                    }
                    None => {}
                }
            }
        }
    }

    /// Append Click's line for `p` (no final newline); `false` if `p` has no IP header
    /// annotation (nothing is printed then).
    pub fn format(&self, p: &Packet, out: &mut String) -> bool {
        let Some(nh) = nh_offset(p) else { return false };
        if !self.label.is_empty() {
            out.push_str(&self.label);
            out.push_str(": ");
        }
        if self.timestamp {
            let ts = p.anno().timestamp_ns;
            let _ = write!(out, "{}.{:06}: ", ts / 1_000_000_000, (ts % 1_000_000_000) / 1000);
        }
        if self.aggregate {
            let b: [u8; 4] = std::array::from_fn(|i| AnnoByte(20 + i as u8).get(p));
            let _ = write!(out, "#{}", u32::from_le_bytes(b));
        }
        if self.paint {
            let _ = write!(out, "{}{}", if self.aggregate { "." } else { "paint " }, p.anno().paint);
        }
        if self.aggregate || self.paint {
            out.push_str(": ");
        }
        let Ok(ip) = ipv4::Packet::new_fixed(&p.data()[nh..]) else {
            out.push_str("truncated-ip");
            return true;
        };
        let ip_len = ip.total_len() as i64;
        let payload_len = ip_len - ip.header_len() as i64;
        let th = th_offset(p).unwrap_or(p.len());
        let t = &p.data()[th..];
        let tlen = (t.len() as i64).min(payload_len);
        if self.id {
            let _ = write!(out, "id {} ", ip.ident());
        }
        if self.ttl {
            let _ = write!(out, "ttl {} ", ip.ttl());
        }
        if self.tos {
            let _ = write!(out, "tos {} ", ip.tos());
        }
        if self.length {
            let _ = write!(out, "length {ip_len} ");
        }
        match ip.protocol() {
            ipv4::protocol::TCP => self.tcp_line(out, p, &ip, t, tlen),
            ipv4::protocol::UDP => self.udp_line(out, &ip, t, tlen),
            ipv4::protocol::ICMP => self.icmp_line(out, &ip, t, tlen),
            proto => {
                address_pair(out, &ip);
                let _ = write!(out, ": ip-proto-{proto}");
            }
        }
        if ip.is_fragment() {
            let _ = write!(
                out,
                " (frag {}:{payload_len}@{}{})",
                ip.ident(),
                ip.frag_offset(),
                if ip.more_frags() { "+" } else { "" }
            );
        }
        if self.contents > 0 {
            let start = if self.payload {
                let first = ip.is_first_fragment();
                match ip.protocol() {
                    ipv4::protocol::TCP if first => th + ((t.get(12).copied().unwrap_or(0) >> 4) as usize) * 4,
                    ipv4::protocol::UDP if first => th + 8,
                    _ => th,
                }
            } else {
                0
            };
            let data = p.data().get(start..).unwrap_or(&[]);
            let n = if self.bytes < 0 { data.len() } else { data.len().min(self.bytes as usize) };
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for (i, &b) in data[..n].iter().enumerate() {
                if self.contents == 1 {
                    if i % 24 == 0 {
                        out.push_str("\n  ");
                    } else if i % 4 == 0 {
                        out.push(' ');
                    }
                    out.push(HEX[(b >> 4) as usize] as char);
                    out.push(HEX[(b & 15) as usize] as char);
                } else {
                    if i % 48 == 0 {
                        out.push_str("\n  ");
                    } else if i % 8 == 0 {
                        out.push(' ');
                    }
                    out.push(if (32..=126).contains(&b) { b as char } else { '.' });
                }
            }
        }
        true
    }
}

/// The element: the format, where lines go, and a reused line buffer.
pub struct IPPrint {
    format: IPPrintFormat,
    active: bool,
    outfile: Option<std::path::PathBuf>,
    out: Option<std::io::BufWriter<std::fs::File>>,
    line: String,
}

impl IPPrint {
    fn print(&mut self, batch: &Batch) {
        if !self.active || batch.is_empty() {
            return;
        }
        let stderr = std::io::stderr();
        let mut err = if self.out.is_none() { Some(stderr.lock()) } else { None };
        for p in batch.iter() {
            self.line.clear();
            if !self.format.format(p, &mut self.line) {
                continue;
            }
            self.line.push('\n');
            // Printing is best effort: a closed output must not stop the packets.
            let _ = match (&mut self.out, &mut err) {
                (Some(f), _) => f.write_all(self.line.as_bytes()),
                (None, Some(e)) => e.write_all(self.line.as_bytes()),
                (None, None) => Ok(()),
            };
        }
    }
}

impl Element for IPPrint {
    fn initialize(&mut self, _ctx: &mut InitCtx) -> Result<(), String> {
        if let Some(path) = &self.outfile {
            let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.out = Some(std::io::BufWriter::new(f));
        }
        Ok(())
    }

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

    fn cleanup(&mut self) {
        if let Some(f) = &mut self.out {
            let _ = f.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{run, PCAPS};
    use sluice::testing::build as build_elem;

    /// Run a capture through IPPrint into a file and return its lines.
    fn lines(file: &str, chain: &str, config: &str) -> Vec<String> {
        let out = std::env::temp_dir().join(format!(
            "sluice-ipprint-{}-{}.txt",
            std::process::id(),
            sluice::testing::new_id()
        ));
        let cfg = format!(
            "FromDump(\"{PCAPS}/{file}\", STOP true) -> {chain} -> IPPrint({config}, OUTFILE \"{}\") -> Discard;",
            out.display()
        );
        run(&cfg);
        let text = std::fs::read_to_string(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn tcp_session_like_tcpdump() {
        // snabb__v4.pcap is Wireshark's http.cap: the handshake of 145.254.160.237:3372
        // with 65.208.228.223:80, then the request.
        let l = lines("snabb__v4.pcap", "CheckIPHeader(14)", "x, TIMESTAMP false");
        assert_eq!(l.len(), 43);
        assert_eq!(l[0], "x: 145.254.160.237.3372 > 65.208.228.223.80: S 951057939:951057940(1,62,48) win 8760");
        assert_eq!(
            l[1],
            "x: 65.208.228.223.80 > 145.254.160.237.3372: S 290218379:290218380(1,62,48) ack 951057940 win 5840"
        );
        assert_eq!(
            l[2],
            "x: 145.254.160.237.3372 > 65.208.228.223.80: . 951057940:951057940(0,54,40) ack 290218380 win 9660"
        );
        assert!(
            l[3].starts_with(
                "x: 145.254.160.237.3372 > 65.208.228.223.80: P 951057940:951058419(479,533,519) ack 290218380"
            ),
            "{}",
            l[3]
        );
        assert!(l.iter().any(|s| s.contains(": udp ")), "DNS lookups print as udp");
    }

    #[test]
    fn fragments_icmp_and_options() {
        // tcpdump__afs.pcap: UDP fragments and ICMP port unreachables.
        let l = lines("tcpdump__afs.pcap", "CheckIPHeader(14)", "TIMESTAMP false, ID true, TTL true");
        assert_eq!(l.len(), 601);
        assert!(l.iter().any(|s| s.contains("(frag ") && s.ends_with("+)")));
        assert!(l.iter().any(|s| s.contains(": udp (frag ") && !s.ends_with("+)")));
        let unreach: Vec<&String> = l.iter().filter(|s| s.contains("unreachable")).collect();
        assert_eq!(unreach.len(), 25);
        assert!(
            unreach.iter().all(|s| s.contains(": icmp ") && s.contains(" unreachable port udp/")),
            "{}",
            unreach[0]
        );
        assert!(l.iter().all(|s| s.starts_with("id ") && s.contains(" ttl ")));
    }

    #[test]
    fn timestamps_contents_and_payload() {
        let l = lines("snabb__v4-tcp-udp.pcap", "CheckIPHeader(14)", "CONTENTS hex, MAXLENGTH 30");
        assert_eq!(l.len(), 6, "{l:?}");
        assert!(l[0].contains(": 127.0.0.1.58341 > 127.0.0.1.12345: . "), "{}", l[0]);
        assert!(l[0].split(':').next().unwrap().contains('.'), "timestamp first: {}", l[0]);
        assert_eq!(l[1], "  00000000 00000000 00000000 08004500 003475f9 40004006");
        assert_eq!(l[2], "  c6c87f00 0001");
        let l = lines("snabb__v4-tcp-udp.pcap", "CheckIPHeader(14)", "p, TIMESTAMP false, PAYLOAD ascii");
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l[1], "p: 127.0.0.1.37729 > 127.0.0.1.12345: udp 9");
        assert_eq!(l[2], "  .");
        let l = lines("tcpdump__vrrp.pcap", "CheckIPHeader(14)", "TIMESTAMP false, PAINT true");
        assert!(l[0].starts_with("paint 0: ") && l[0].ends_with(": ip-proto-112"), "{}", l[0]);
    }

    #[test]
    fn config() {
        assert!(build_elem(&IP_PRINT, "x, CONTENTS true, PAYLOAD true", 1, 1).is_err());
        assert!(build_elem(&IP_PRINT, "x, CONTENTS bogus", 1, 1).is_err());
        assert!(build_elem(&IP_PRINT, "x, PAYLOAD bogus", 1, 1).is_err());
        assert!(build_elem(&IP_PRINT, "x, CHANNEL foo, NBYTES 10, AGGREGATE true, SWAP false", 1, 1).is_ok());
    }
}

//! Tests of the IPClassifier/IPFilter language: every construct on packets built field by
//! field, every error message, Click's warnings, and random cross-checks of the compiled
//! decision tree against the reference interpreter.

use super::*;
use crate::classify::program::{reference_first_match, View};
use crate::classify::tree::Tree;
use sluice::Packet;

/// An IPv4 packet for tests; fields are set with the builder methods.
#[derive(Clone)]
struct Pkt {
    d: Vec<u8>,
    hl: usize,
}

impl Pkt {
    fn new(proto: u8) -> Pkt {
        let mut d = vec![0u8; 40];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&40u16.to_be_bytes());
        d[8] = 64;
        d[9] = proto;
        d[12..16].copy_from_slice(&[10, 0, 0, 1]);
        d[16..20].copy_from_slice(&[192, 168, 1, 2]);
        d[20..22].copy_from_slice(&1234u16.to_be_bytes());
        d[22..24].copy_from_slice(&80u16.to_be_bytes());
        d[32] = 0x50;
        d[33] = 0x10;
        d[34..36].copy_from_slice(&512u16.to_be_bytes());
        Pkt { d, hl: 20 }
    }
    fn set(mut self, at: usize, bytes: &[u8]) -> Pkt {
        self.d[at..at + bytes.len()].copy_from_slice(bytes);
        self
    }
    fn src(self, a: [u8; 4]) -> Pkt {
        self.set(12, &a)
    }
    fn dst(self, a: [u8; 4]) -> Pkt {
        self.set(16, &a)
    }
    fn sport(self, p: u16) -> Pkt {
        let at = self.hl;
        self.set(at, &p.to_be_bytes())
    }
    fn dport(self, p: u16) -> Pkt {
        let at = self.hl + 2;
        self.set(at, &p.to_be_bytes())
    }
    fn flags(self, f: u8) -> Pkt {
        let at = self.hl + 13;
        self.set(at, &[f])
    }
    fn frag(self, v: u16) -> Pkt {
        self.set(6, &v.to_be_bytes())
    }
    fn truncate(mut self, n: usize) -> Pkt {
        self.d.truncate(n);
        self
    }
    /// Add 4 bytes of IP options.
    fn options(mut self) -> Pkt {
        self.d.splice(20..20, [1, 1, 1, 1]);
        self.d[0] = 0x46;
        self.hl = 24;
        self
    }
    fn packet(&self) -> Packet {
        let mut p = Packet::from_slice(&self.d);
        p.set_network_header(0, self.hl.min(self.d.len()));
        p
    }
}

/// Does `pattern` match? Checks the interpreter, the jump program and the tree agree.
fn m(pattern: &str, pkt: &Pkt) -> bool {
    let e = parse_pattern(pattern, &mut Vec::new()).unwrap_or_else(|err| panic!("{pattern}: {err}"));
    let p = pkt.packet();
    let v = View::ip(&p);
    let want = e.eval(&v);
    let tree = Tree::new(std::slice::from_ref(&e));
    assert_eq!(tree.first_match(&v).is_some(), want, "tree disagrees on '{pattern}'");
    assert_eq!(tree.first_match_linear(&v).is_some(), want, "program disagrees on '{pattern}'");
    want
}

fn err(pattern: &str) -> String {
    match parse_pattern(pattern, &mut Vec::new()) {
        Ok(e) => panic!("'{pattern}' parsed as {e:?}"),
        Err(e) => e,
    }
}

fn warnings(pattern: &str) -> Vec<String> {
    let mut w = Vec::new();
    parse_pattern(pattern, &mut w).unwrap();
    w
}

#[test]
fn tokens_follow_clicks_separate_text() {
    assert_eq!(
        tokenize("src port>=80&&!(tcp||udp)"),
        ["src", "port", ">=", "80", "&&", "!", "(", "tcp", "||", "udp", ")"]
    );
    assert_eq!(
        tokenize("ip[12:4]==10.0.0.0/8 ? a : b"),
        ["ip", "[", "12:4", "]", "==", "10.0.0.0/8", "?", "a", ":", "b"]
    );
    assert_eq!(tokenize("x & 5 != 3, é"), ["x", "&", "5", "!=", "3", ",", "é"]);
    assert!(tokenize("   ").is_empty());
}

#[test]
fn protocols() {
    let tcp = Pkt::new(6);
    let udp = Pkt::new(17);
    let icmp = Pkt::new(1);
    for p in ["tcp", "ip proto tcp", "ip proto 6", "ip proto == 6", "proto tcp", "ip proto 0x6"] {
        assert!(m(p, &tcp) && !m(p, &udp), "{p}");
    }
    assert!(m("udp", &udp) && m("icmp", &icmp) && !m("icmp", &tcp));
    assert!(m("tcpudp", &tcp) && m("tcpudp", &udp) && !m("tcpudp", &icmp));
    assert!(m("ip proto tcpudp", &udp));
    assert!(m("transp", &icmp), "transp is any protocol");
    assert!(m("ip proto != tcp", &udp) && !m("ip proto != tcp", &tcp));
    assert!(m("ip proto > 10", &udp) && !m("ip proto > 10", &tcp));
    assert!(m("ip proto < 2", &icmp) && m("ip proto <= 6", &tcp) && m("ip proto >= 17", &udp));
    assert!(m("ip proto & 0xf0 == 0x10", &udp));
    assert!(m("igmp", &Pkt::new(2)) && m("ipip", &Pkt::new(4)));
    assert!(m("ip proto 6 or 17", &udp), "a value alone repeats the previous primitive");
}

#[test]
fn hosts_and_nets() {
    let p = Pkt::new(6).src([10, 0, 0, 1]).dst([192, 168, 1, 2]);
    assert!(m("host 10.0.0.1", &p) && m("host 192.168.1.2", &p) && !m("host 10.0.0.2", &p));
    assert!(m("src host 10.0.0.1", &p) && !m("dst host 10.0.0.1", &p) && m("dst host 192.168.1.2", &p));
    assert!(m("src 10.0.0.1", &p) && m("dst 192.168.1.2", &p) && m("dest 192.168.1.2", &p));
    assert!(m("10.0.0.1", &p), "an address alone is 'src or dst host'");
    assert!(m("src or dst host 10.0.0.1", &p) && !m("src and dst host 10.0.0.1", &p));
    assert!(m("src and dst host 7.7.7.7", &Pkt::new(6).src([7, 7, 7, 7]).dst([7, 7, 7, 7])));
    assert!(m("host != 10.0.0.2", &p) && !m("host != 10.0.0.1", &p));
    assert!(m("src host 10.0.0.1 or 10.0.0.2", &Pkt::new(6).src([10, 0, 0, 2])));
    assert!(!m("src host 10.0.0.1 or 10.0.0.2", &Pkt::new(6).src([1, 0, 0, 2]).dst([10, 0, 0, 2])));
    assert!(m("ip host 10.0.0.1", &p));
    for n in [
        "net 10.0.0.0/8",
        "src net 10.0.0.0/8",
        "src net 10/8",
        "10.0.0.0/8",
        "net 10.0.0.0 mask 255.0.0.0",
        "src net 10.0.0.0/255.0.0.0",
        "net 10.1.2.3/8",
        "src host & 255.0.0.0 == 10.0.0.0",
        "src net 10.0.0.1",
    ] {
        assert!(m(n, &p), "{n}");
    }
    assert!(!m("dst net 10.0.0.0/8", &p) && m("dst net 192.168.0.0/16", &p) && m("net 0.0.0.0/0", &p));
    assert!(m("src net 10.0.0.0/8 and not dst net 10.0.0.0/8", &p));
    assert!(m("src net != 11.0.0.0/8", &p));
}

#[test]
fn ports() {
    let tcp = Pkt::new(6).sport(1234).dport(80);
    let udp = Pkt::new(17).sport(53).dport(5353);
    let icmp = Pkt::new(1).sport(1234).dport(80);
    assert!(m("port 80", &tcp) && m("port 1234", &tcp) && !m("port 81", &tcp));
    assert!(m("dst port 80", &tcp) && !m("src port 80", &tcp) && m("src port 1234", &tcp));
    assert!(m("tcp port 80", &tcp) && !m("udp port 80", &tcp) && !m("port 80", &icmp));
    assert!(m("dst port www", &tcp) && m("www", &tcp) && m("port www", &tcp) && !m("ssh", &tcp));
    assert!(m("udp port dns", &udp) && m("udp port domain", &udp) && m("src udp port 53", &udp));
    assert!(m("src tcp port 1234", &tcp) && m("tcp src port 1234", &tcp));
    assert!(m("port 80 or 443", &tcp) && m("tcp port 443 or 80", &tcp) && !m("udp port 443 or 80", &tcp));
    assert!(m("src port 1 or 1234", &tcp) && !m("src port 1 or 80", &tcp), "src is inherited");
    assert!(m("tcp port www or https", &tcp));
    assert!(m("port > 1023", &tcp) && m("dst port > 79", &tcp) && !m("dst port > 80", &tcp));
    assert!(m("dst port >= 80", &tcp) && !m("dst port >= 81", &tcp));
    assert!(m("dst port < 81", &tcp) && !m("dst port < 80", &tcp) && m("dst port <= 80", &tcp));
    // Relations apply to the src-or-dst combination, as in Click.
    assert!(!m("port <= 1023", &tcp), "1234 > 1023: not both <= 1023");
    assert!(m("port <= 1234", &tcp));
    assert!(!m("port != 80", &tcp) && m("port != 81", &tcp));
    assert!(!m("src tcp port != 5", &udp) && m("src udp port != 5", &udp), "!= does not match other protocols");
    assert!(m("not src tcp port 5", &udp), "while not (...) does");
    assert!(m("src port & 0xff00 == 0x0400", &tcp) && m("src tcp port & 10 == 0", &tcp.clone().sport(5)));
    assert!(m("dst port 80 and < 100 and > 50", &tcp));
    // Ports exist only in first fragments.
    assert!(!m("port 80", &tcp.clone().frag(0x0010)) && m("port 80", &tcp.clone().frag(0x2000)));
    assert!(m("port 80", &tcp.clone().options().dport(80)), "the transport header follows the options");
}

#[test]
fn ip_fields() {
    let p = Pkt::new(6).set(1, &[0xB9]).set(4, &[0x12, 0x34]);
    assert!(m("ip vers 4", &p) && !m("ip vers 6", &p) && m("ip hl 5", &p) && !m("ip hl > 5", &p));
    assert!(m("ip hl > 5", &p.clone().options()));
    assert!(m("ip id 0x1234", &p) && m("ip id 4660", &p) && m("ip id > 4000", &p));
    assert!(m("ip tos 0xb9", &p) && m("ip tos 185", &p) && m("ip dscp 46", &p) && !m("ip dscp 47", &p));
    assert!(m("ip ect", &p) && !m("ip ce", &p) && m("ect", &p) && m("ip ce", &Pkt::new(6).set(1, &[0x03])));
    assert!(!m("ip ect", &Pkt::new(6)) && m("ip ect 1", &p) && !m("ip ect 2", &p));
    assert!(m("ip ttl 64", &p) && m("ip ttl > 10 and < 100", &p) && !m("ip ttl < 64", &p));
    assert!(m("ip ttl & 0xf0 == 0x40", &p) && m("ip ttl != 63", &p));
    assert!(m("ip len 40", &p) && m("ip len <= 40", &p) && !m("ip len > 40", &p));
    assert!(m("src ip ttl 64", &p), "src is ignored (with a warning)");
    let frag = Pkt::new(17).frag(0x2000);
    let later = Pkt::new(17).frag(0x00b9);
    for (pat, f, l, whole) in [
        ("ip frag", true, true, false),
        ("frag", true, true, false),
        ("ip unfrag", false, false, true),
        ("unfrag", false, false, true),
    ] {
        assert_eq!((m(pat, &frag), m(pat, &later), m(pat, &p)), (f, l, whole), "{pat}");
    }
    assert!(!m("ip frag", &Pkt::new(17).frag(0x4000)), "DF is not fragmentation");
}

#[test]
fn tcp_and_icmp_fields() {
    let syn = Pkt::new(6).flags(0x02);
    let synack = Pkt::new(6).flags(0x12);
    let finack = Pkt::new(6).flags(0x11);
    assert!(m("tcp opt syn", &syn) && m("syn", &syn) && m("syn", &synack) && !m("syn", &finack));
    assert!(m("syn && !ack", &syn) && !m("syn && !ack", &synack) && m("syn and not ack", &syn));
    assert!(m("fin ack", &finack) && !m("fin ack", &synack) && m("tcp opt 0x12", &synack));
    for f in ["rst", "psh", "urg"] {
        assert!(m(f, &Pkt::new(6).flags(0x3c)), "{f}");
    }
    assert!(!m("syn", &Pkt::new(17).flags(0x02)), "only TCP has flags");
    assert!(m("tcp win 512", &syn) && m("tcp win > 100", &syn) && !m("tcp win 512", &Pkt::new(17)));
    let echo = Pkt::new(1).set(20, &[8, 0]);
    let reply = Pkt::new(1).set(20, &[0, 0]);
    assert!(m("icmp type echo", &echo) && m("icmp type 8", &echo) && m("icmp echo", &echo));
    assert!(m("echo-reply", &reply) && m("icmp type echo-reply", &reply) && !m("icmp type echo", &reply));
    assert!(m("icmp type != echo", &reply) && !m("icmp type != echo", &Pkt::new(6)), "!= is ICMP only");
    assert!(m("icmp type < 3", &reply) && m("icmp type unreachable", &Pkt::new(1).set(20, &[3])));
    for (name, t) in ICMP_TYPES {
        assert!(m(&format!("icmp type {name}"), &Pkt::new(1).set(20, &[*t as u8])), "{name}");
    }
    assert!(!m("icmp type echo", &echo.clone().frag(0x0001)), "first fragments only");
}

#[test]
fn header_data() {
    let p = Pkt::new(6).dport(0x0050).flags(0x12);
    assert!(m("ip[9] 6", &p) && m("ip[9] == 6", &p) && m("ip[9:1] 6", &p) && m("ip[9] > 5", &p));
    assert!(m("ip[12:4] == 0x0a000001", &p) && m("ip[12:2] 0x0a00", &p) && m("ip[8,9] 0x4006", &p));
    assert!(m("ip[0] & 0xf0 == 0x40", &p) && m("ip[0] & 0x0f != 0", &p));
    assert!(m("transp[2:2] 80", &p) && m("tcp[13] & 2 != 0", &p) && m("tcp[13] & 0x12 == 0x12", &p));
    assert!(!m("udp[2:2] 80", &p) && m("udp[0:2] 53", &Pkt::new(17).sport(53)));
    assert!(m("icmp[0] 8", &Pkt::new(1).set(20, &[8])));
    assert!(!m("transp[2:2] 80", &p.clone().frag(0x0001)), "transport fields: first fragments only");
    assert!(m("ip[0:4] > 0x45000027", &p) && m("ip[0:4] < 0x45000029", &p));
}

#[test]
fn connectives() {
    let tcp = Pkt::new(6).dport(80);
    let udp = Pkt::new(17).dport(53);
    for (pat, t, u) in [
        ("true", true, true),
        ("false", false, false),
        ("-", true, true),
        ("any", true, true),
        ("all", true, true),
        ("", true, true),
        ("not tcp", false, true),
        ("! tcp", false, true),
        ("!tcp", false, true),
        ("tcp and udp", false, false),
        ("tcp && port 80", true, false),
        ("tcp port 80", true, false),
        ("tcp or udp", true, true),
        ("tcp || udp", true, true),
        ("(tcp or udp) and port 53", false, true),
        ("tcp or udp and port 53", true, true),
        ("not (tcp or udp)", false, false),
        ("not not tcp", true, false),
        ("tcp ? port 80 : port 53", true, true),
        ("tcp ? port 53 : port 80", false, false),
        ("udp ? false : true", true, false),
        ("tcp ? false : udp ? true : false", false, true),
        ("true and false or true", true, true),
        ("(((tcp)))", true, false),
    ] {
        assert_eq!((m(pat, &tcp), m(pat, &udp)), (t, u), "{pat}");
    }
}

#[test]
fn short_packets_and_missing_headers() {
    let p = Pkt::new(6).dport(80);
    // 20 IP bytes and 3 transport bytes: the destination port is incomplete.
    let cut = p.clone().truncate(23);
    assert!(!m("dst port 80", &cut) && m("not dst port 80", &cut), "short: false, and not of it true");
    assert!(!m("dst port != 80", &cut), "negated relations are false on short packets too");
    assert!(!m("dst port != 81", &cut));
    assert!(m("ip[22] 0", &cut) && m("transp[2] 0", &cut) && !m("transp[3] 80", &cut));
    assert!(!m("ip[40] 0", &p) && !m("ip[40] != 0", &p) && m("not ip[40] 0", &p));
    // A header that ends exactly at the end of the data: no transport bytes at all.
    let bare = p.clone().truncate(20);
    assert!(m("tcp", &bare) && !m("syn", &bare) && m("not syn", &bare) && !m("transp[0] 0", &bare));
    assert!(!m("tcp win 512", &bare) && m("not tcp win 512", &bare));
    // No network header annotation: no bytes.
    let e = parse_pattern("tcp", &mut Vec::new()).unwrap();
    let t = parse_pattern("not tcp", &mut Vec::new()).unwrap();
    let none = Packet::from_slice(&p.d);
    assert!(!e.eval(&View::ip(&none)) && t.eval(&View::ip(&none)));
}

#[test]
fn every_error_names_its_token() {
    for (pat, msg) in [
        ("foo", "unknown word 'foo'"),
        ("tcp foo", "unknown word 'foo'"),
        ("tcp port", "'port': value missing"),
        ("port 1000-2000", "'port': value missing (cannot read '1000-2000')"),
        ("host 10.0.0.0/8", "'ip host': address missing"),
        ("net 5", "'ip net': address missing"),
        ("host > 10.0.0.1", "'ip host': operator not supported"),
        ("ip ttl 256", "'ip ttl': out of range, bound 255"),
        ("ip ttl -1", "'ip ttl': out of range, bound 255"),
        ("ip ttl & 0x100 1", "'ip ttl': mask out of range, bound 0xFF"),
        ("ip ttl & 0 5", "zero mask '0' ignored"),
        ("ip ttl & foo 5", "bad mask 'foo' after '&'"),
        ("ip ttl & 1.2.3.4 5", "'ip ttl': bad mask"),
        ("ip ttl 99999999999", "value '99999999999' out of range"),
        ("ip ttl > foo", "dangling operator near 'foo'"),
        ("tcp opt & 2 syn", "'tcp opt': operator or mask not supported"),
        ("tcp opt != syn", "'tcp opt': operator or mask not supported"),
        ("tcp opt 300", "'tcp opt': value 300 out of range"),
        ("udp opt syn", "'udp tcp opt syn' is meaningless; try 'tcp opt syn'"),
        ("ip frag 1", "'ip frag': value not supported"),
        ("ip ce 1", "'ip ce': value not supported"),
        ("icmp port 80", "'port': bad protocol 1"),
        ("echo", "'echo' is ambiguous; try 'port echo', 'icmp type echo'"),
        ("tcp echo-reply", "'tcp echo-reply' is meaningless; try 'icmp type echo-reply'"),
        ("port port 80", "type specified twice"),
        ("src dst host 1.2.3.4", "'src' or 'dst' specified twice"),
        ("tcp udp port 80", "transport protocol specified twice"),
        ("ip proto tcp 17", "'proto': specified twice"),
        ("ip proto > tcpudp", "'tcpudp': operator or mask not supported"),
        ("src", "partial directive"),
        ("ip", "partial directive"),
        ("5", "'5': specify header field or 'port'"),
        ("syn or 3", "'3': specify header field or 'port'"),
        ("(tcp", "missing ')'"),
        ("(tcp or udp", "missing ')'"),
        ("tcp udp", "transport protocol specified twice"),
        ("(tcp ]", "unknown word ']'"),
        ("(tcp ? udp", "missing ':' in ternary expression"),
        ("()", "missing expression after '('"),
        ("tcp and", "missing expression after 'and'"),
        ("tcp && or udp", "missing expression after '&&'"),
        ("tcp or", "missing expression after 'or'"),
        ("not", "missing expression after 'not'"),
        ("!", "missing expression after '!'"),
        ("or tcp", "missing expression before 'or'"),
        ("tcp )", "garbage after expression at ')'"),
        ("tcp : udp", "garbage after expression at ':'"),
        ("tcp ? udp", "missing ':' in ternary expression"),
        ("tcp ? udp port 53", "missing ':' in ternary expression"),
        ("ip[0:5] 1", "LEN in '[0:5]' out of range, should be between 1 and 4"),
        ("ip[0:0] 1", "LEN in '[0:0]' out of range, should be between 1 and 4"),
        ("ip[3:2] 1", "field [3:2] does not fit in a single word"),
        ("ip[9000] 1", "POS in '[9000]' out of range, should be between 0 and 8191"),
        ("ip[x] 1", "syntax error in '[x]', expected '[POS]' or '[POS:LEN]'"),
        ("ip[1:x] 1", "syntax error in '[1:x]', expected '[POS]' or '[POS:LEN]'"),
        ("ip[0 1", "missing ']' after '[01'"),
        ("ip ttl[0] 1", "'ip ttl': value missing (cannot read '[')"),
        ("port port 80", "type specified twice"),
        ("ip[9] 10.0.0.1", "'ip[...]': value missing"),
        (
            "ether host 00:11:22:33:44:55",
            "'ether host' is not supported: Sluice packets carry no MAC header annotation",
        ),
        ("1.2.3.4 mask", "unknown word 'mask'"),
        (", tcp", "unknown word ','"),
    ] {
        assert_eq!(err(pat), msg, "pattern '{pat}'");
    }
}

#[test]
fn clicks_warnings() {
    assert_eq!(warnings("ip ttl < 0"), ["relation '< 0' is always false (range 0-255)"]);
    assert_eq!(warnings("ip ttl >= 0"), ["relation '>= 0' is always true (range 0-255)"]);
    assert_eq!(warnings("ip ttl > 255"), ["relation '> 255' is always false (range 0-255)"]);
    assert_eq!(warnings("ip ttl <= 300"), ["relation '<= 300' is always true (range 0-255)"]);
    assert_eq!(warnings("src ip ttl 5"), ["'src ip ttl': 'src' or 'dst' ignored"]);
    let p = Pkt::new(6);
    assert!(!m("ip ttl < 0", &p) && m("ip ttl >= 0", &p) && !m("ip ttl > 255", &p) && m("ip ttl <= 300", &p));
    assert!(m("port >= 0", &p) && !m("port >= 0", &Pkt::new(1)), "still TCP or UDP only");
}

#[test]
fn filter_and_classifier_arguments() {
    let mut w = Vec::new();
    let r = parse_filter(&["allow tcp".into(), "2 udp".into(), "deny".into(), "drop all".into()], 3, &mut w).unwrap();
    let actions: Vec<Action> = r.iter().map(|x| x.0).collect();
    assert_eq!(actions, [Action::Output(0), Action::Output(2), Action::Drop, Action::Drop]);
    assert_eq!(r[2].1, Expr::Const(true));
    assert_eq!(parse_filter(&["".into()], 1, &mut w).unwrap_err(), "pattern 0: empty pattern");
    assert_eq!(parse_filter(&["allow \"tcp".into()], 1, &mut w).unwrap_err(), "pattern 0: unterminated double quote");
    assert!(parse_filter(&["allow \"tcp or udp\"".into()], 1, &mut w).is_ok(), "patterns may be quoted");
    let e = parse_filter(&["allow tcp".into(), "allow xyz".into(), "9 tcp".into()], 1, &mut w).unwrap_err();
    assert_eq!(e, "pattern 1: unknown word 'xyz'; pattern 2: slot '9' out of range (the element has 1 outputs)");
    assert_eq!(parse_classifier(&["tcp".into(), "".into()], 2, &mut w).unwrap()[1], Expr::Const(true));
}

/// Patterns with `<`, `>` and masks mean numeric comparisons of the masked field.
#[test]
fn relations_are_numeric_comparisons() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let packets: Vec<(u32, Packet)> = (0..=255u32).map(|x| (x, Pkt::new(6).set(1, &[x as u8]).packet())).collect();
    for _ in 0..300 {
        let mask = match rnd() % 3 {
            0 => 0xFFu32,
            1 => (0xFFu32 << (rnd() % 8)) & 0xFF,
            _ => (rnd() % 255 + 1) as u32,
        };
        let u = (rnd() % 260) as u32;
        for (op, f) in [
            (">", (|a, b| a > b) as fn(u32, u32) -> bool),
            ("<", |a, b| a < b),
            (">=", |a, b| a >= b),
            ("<=", |a, b| a <= b),
            ("!=", |a, b| a != b),
            ("==", |a, b| a == b),
        ] {
            if u > 255 && matches!(op, "!=" | "==") {
                continue;
            }
            let pattern = format!("ip tos & {mask} {op} {u}");
            let e = parse_pattern(&pattern, &mut Vec::new()).unwrap();
            for (x, p) in &packets {
                let want = if op == "==" || op == "!=" { f(x & mask, u & mask) } else { f(x & mask, u) };
                assert_eq!(e.eval(&View::ip(p)), want, "{pattern} on {x}");
            }
        }
    }
}

/// Random rule sets in the language, random packets: the tree, the jump programs and the
/// interpreter agree on the first match.
#[test]
fn random_rule_sets_cross_check() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let addrs = ["10.0.0.1", "10.0.0.2", "10.1.0.1", "192.168.1.2", "0.0.0.0"];
    let nets = ["10.0.0.0/8", "10.0.0.0/24", "10.1.0.0/16", "192.168.0.0/16", "0.0.0.0/1", "128.0.0.0/1"];
    let ports = ["80", "53", "1234", "1023", "65535", "0"];
    let prim = |rnd: &mut dyn FnMut(u64) -> u64| -> String {
        let pick = |rnd: &mut dyn FnMut(u64) -> u64, v: &[&str]| v[rnd(v.len() as u64) as usize].to_string();
        let ops = ["", "== ", "!= ", "> ", "< ", ">= ", "<= "];
        let op = ops[rnd(ops.len() as u64) as usize];
        match rnd(16) {
            0 => pick(rnd, &["tcp", "udp", "icmp", "ip proto 47", "tcpudp"]),
            1 => {
                format!("{}host {}", pick(rnd, &["", "src ", "dst ", "src and dst ", "src or dst "]), pick(rnd, &addrs))
            }
            2 => format!("{}net {}", pick(rnd, &["", "src ", "dst "]), pick(rnd, &nets)),
            3 | 4 => format!(
                "{}{}port {op}{}",
                pick(rnd, &["", "src ", "dst "]),
                pick(rnd, &["", "tcp ", "udp "]),
                pick(rnd, &ports)
            ),
            5 => pick(rnd, &["syn", "ack", "fin", "tcp opt rst", "syn ack"]),
            6 => format!("ip ttl {op}{}", rnd(256)),
            7 => pick(rnd, &["ip frag", "ip unfrag", "ip ect", "ip ce"]),
            8 => format!("icmp type {op}{}", rnd(20)),
            9 => format!("ip[{}] & {} {op}{}", rnd(24), rnd(255) + 1, rnd(256)),
            10 => format!("transp[{}:2] {op}{}", rnd(4) * 2, rnd(70000).min(65535)),
            11 => format!("tcp win {op}{}", rnd(1024)),
            12 => format!("ip hl {op}{}", rnd(16)),
            13 => format!("ip len {op}{}", rnd(80)),
            14 => pick(rnd, &["true", "false"]),
            _ => format!("src port {op}{} or {}", pick(rnd, &ports), pick(rnd, &ports)),
        }
    };
    let expr = |rnd: &mut dyn FnMut(u64) -> u64, depth: u32| -> String {
        let mut s = prim(rnd);
        for _ in 0..rnd(4) {
            let conn = ["and", "or", "&&", "||", ""][rnd(5) as usize];
            let not = if rnd(4) == 0 { "not " } else { "" };
            let next = prim(rnd);
            s = if depth > 0 && rnd(3) == 0 {
                format!("({s}) {conn} {not}({next})")
            } else if rnd(8) == 0 {
                format!("{s} ? {next} : {}", prim(rnd))
            } else {
                format!("{s} {conn} {not}{next}")
            };
        }
        s
    };
    let mut checked = 0;
    for round in 0..60 {
        let n = 1 + rnd(if round % 10 == 0 { 300 } else { 40 }) as usize;
        let mut exprs = Vec::new();
        let mut texts = Vec::new();
        while exprs.len() < n {
            let t = expr(&mut rnd, 1);
            if let Ok(e) = parse_pattern(&t, &mut Vec::new()) {
                exprs.push(e);
                texts.push(t);
            }
        }
        let tree = Tree::new(&exprs);
        for _ in 0..300 {
            let mut p = Pkt::new([6u8, 17, 1, 47, 6][rnd(5) as usize]);
            p = p.src([[10, 0, 0, 1], [10, 0, 0, 2], [10, 1, 0, 1], [192, 168, 1, 2], [200, 1, 1, 1]][rnd(5) as usize]);
            p = p.dst([[10, 0, 0, 1], [10, 0, 0, 2], [10, 1, 0, 1], [192, 168, 1, 2], [0, 0, 0, 0]][rnd(5) as usize]);
            if rnd(4) == 0 {
                p = p.options();
            }
            let port = |r: u64| [80u16, 53, 1234, 1023, 65535, 0, 1024, 81][r as usize];
            p = p.sport(port(rnd(8))).dport(port(rnd(8))).flags(rnd(64) as u8);
            p = p.set(1, &[rnd(256) as u8]).set(8, &[[64, 1, 0, 255][rnd(4) as usize]]);
            p = p.set(20, &[rnd(20) as u8]);
            if rnd(5) == 0 {
                p = p.frag([0x2000, 0x0001, 0x4000, 0x1fff][rnd(4) as usize]);
            }
            if rnd(6) == 0 {
                let len = p.d.len() as u64;
                p = p.truncate(rnd(len) as usize);
            }
            let packet = p.packet();
            let v = View::ip(&packet);
            let want = reference_first_match(&exprs, &v);
            let got = tree.first_match(&v);
            assert_eq!(got, want, "round {round}: packet {:02x?}, rules {:?}", p.d, want.or(got).map(|r| &texts[r]));
            assert_eq!(tree.first_match_linear(&v), want);
            checked += 1;
        }
    }
    assert_eq!(checked, 60 * 300);
}

/// Any sequence of words parses to an expression or an error, never a panic.
#[test]
fn token_soup_never_panics() {
    let vocab = [
        "tcp",
        "udp",
        "icmp",
        "src",
        "dst",
        "and",
        "or",
        "not",
        "!",
        "(",
        ")",
        "?",
        ":",
        "[",
        "]",
        "&",
        "==",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "port",
        "host",
        "net",
        "ip",
        "proto",
        "ttl",
        "opt",
        "syn",
        "www",
        "echo",
        "type",
        "80",
        "0",
        "-1",
        "0xffffffff",
        "10.0.0.1",
        "10/8",
        "mask",
        "255.0.0.0",
        "transp",
        "1:2",
        "3,4",
        "true",
        "false",
        "ether",
        "frag",
        "ect",
        "ce",
        "win",
        "len",
        "dscp",
        ",",
        "x",
        "9999999999999",
    ];
    let mut state = 0x1234_5678_9ABC_DEF1u64;
    for _ in 0..20000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut s = state;
        let n = (s % 9) as usize;
        let mut words = Vec::new();
        for _ in 0..n {
            s = s.rotate_left(7) ^ 0x9E37_79B9;
            words.push(vocab[(s % vocab.len() as u64) as usize]);
        }
        let text = words.join(" ");
        if let Ok(e) = parse_pattern(&text, &mut Vec::new()) {
            let p = Pkt::new(6).packet();
            let _ = e.eval(&View::ip(&p));
        }
    }
}

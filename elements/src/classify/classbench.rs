//! ClassBench rule sets and traces (`shared/data/acl`), for tests and benchmarks.
//!
//! A rule line is `@SRC/LEN DST/LEN SPORT_LO : SPORT_HI DPORT_LO : DPORT_HI PROTO/MASK
//! [FLAGS/MASK] [ACTION]`; a trace line is `SRC DST SPORT DPORT PROTO FLAGS FILTER`, with
//! addresses as integers and FILTER the (0-based) rule the header was generated from. That
//! rule matches the header, but an earlier one may match too: the first match is at or
//! before it. [`Rule::matches`] is an independent oracle (plain integer comparisons);
//! [`Rule::pattern`] writes the rule in IPFilter's language. The flags column is ClassBench's
//! own synthetic field and is not used (the traces' filter ids agree with the five-tuple
//! alone).

use sluice::Packet;

/// One ClassBench rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub src: (u32, u8),
    pub dst: (u32, u8),
    pub sport: (u16, u16),
    pub dport: (u16, u16),
    pub proto: (u8, u8),
    /// `ACCEPT`, `DROP`, ... when the set has an action column.
    pub action: Option<String>,
}

fn prefix(s: &str) -> Result<(u32, u8), String> {
    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
    let addr: std::net::Ipv4Addr = a.parse().map_err(|_| format!("bad address '{a}'"))?;
    let len: u8 = l.parse().ok().filter(|&l| l <= 32).ok_or_else(|| format!("bad prefix length '{l}'"))?;
    Ok((u32::from(addr), len))
}

fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn hex(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0x").trim_start_matches("0X"), 16).map_err(|_| format!("bad hex '{s}'"))
}

/// Parse a rule set.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.is_empty() {
            continue;
        }
        let bad = |e: String| format!("line {}: {e}", n + 1);
        if t.len() < 9 || !t[0].starts_with('@') || t[3] != ":" || t[6] != ":" {
            return Err(bad(format!("not a ClassBench rule: '{line}'")));
        }
        let port = |s: &str| s.parse::<u16>().map_err(|_| bad(format!("bad port '{s}'")));
        let (pv, pm) = t[8].split_once('/').ok_or_else(|| bad(format!("bad protocol '{}'", t[8])))?;
        let action = t[9..].iter().find(|w| !w.contains('/')).map(|w| w.to_string());
        rules.push(Rule {
            src: prefix(&t[0][1..]).map_err(bad)?,
            dst: prefix(t[1]).map_err(bad)?,
            sport: (port(t[2])?, port(t[4])?),
            dport: (port(t[5])?, port(t[7])?),
            proto: (hex(pv).map_err(bad)? as u8, hex(pm).map_err(bad)? as u8),
            action,
        });
    }
    Ok(rules)
}

/// A packet header of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    /// The rule the header was generated from.
    pub filter: usize,
}

/// Parse a trace.
pub fn parse_trace(text: &str) -> Result<Vec<Header>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| format!("line {}: not a ClassBench trace line: '{line}'", n + 1))?;
        if t.is_empty() {
            continue;
        }
        if t.len() < 7 {
            return Err(format!("line {}: not a ClassBench trace line: '{line}'", n + 1));
        }
        out.push(Header {
            src: t[0] as u32,
            dst: t[1] as u32,
            sport: t[2] as u16,
            dport: t[3] as u16,
            proto: t[4] as u8,
            filter: t[6] as usize,
        });
    }
    Ok(out)
}

impl Rule {
    /// Does the rule match the header? (Integer comparisons, independent of IPFilter.)
    pub fn matches(&self, h: &Header) -> bool {
        let m = |(a, l): (u32, u8), x: u32| x & mask(l) == a & mask(l);
        m(self.src, h.src)
            && m(self.dst, h.dst)
            && (self.sport.0..=self.sport.1).contains(&h.sport)
            && (self.dport.0..=self.dport.1).contains(&h.dport)
            && h.proto & self.proto.1 == self.proto.0 & self.proto.1
    }

    /// The rule as an IPFilter pattern (without action). Port ranges use `port` for TCP and
    /// UDP rules; for other protocols, whose packets ClassBench still matches on the first
    /// four transport bytes, they use `transp[0:2]` and `transp[2:2]`.
    pub fn pattern(&self) -> String {
        let mut parts = Vec::new();
        let net = |(a, l): (u32, u8)| format!("{}/{l}", std::net::Ipv4Addr::from(a & mask(l)));
        if self.src.1 > 0 {
            parts.push(format!("src net {}", net(self.src)));
        }
        if self.dst.1 > 0 {
            parts.push(format!("dst net {}", net(self.dst)));
        }
        let exact = self.proto.1 == 0xFF;
        match self.proto {
            (_, 0) => {}
            (6, 0xFF) => parts.push("tcp".into()),
            (17, 0xFF) => parts.push("udp".into()),
            (p, 0xFF) => parts.push(format!("ip proto {p}")),
            (p, m) => parts.push(format!("ip proto & 0x{m:x} == 0x{:x}", p & m)),
        }
        let tcp_udp = exact && matches!(self.proto.0, 6 | 17);
        for (which, (lo, hi)) in [("src", self.sport), ("dst", self.dport)] {
            let field = match (tcp_udp, which) {
                (true, w) => format!("{w} port"),
                (false, "src") => "transp[0:2]".into(),
                (false, _) => "transp[2:2]".into(),
            };
            match (lo, hi) {
                (0, 65535) => {}
                (l, h) if l == h => parts.push(format!("{field} {l}")),
                (0, h) => parts.push(format!("{field} <= {h}")),
                (l, 65535) => parts.push(format!("{field} >= {l}")),
                (l, h) => parts.push(format!("{field} >= {l} and <= {h}")),
            }
        }
        if parts.is_empty() {
            "all".into()
        } else {
            parts.join(" && ")
        }
    }
}

impl Header {
    /// An IPv4 packet with this header: a 20-byte IP header and 20 bytes of transport
    /// header (the ports first), network header annotation set.
    pub fn packet(&self) -> Packet {
        let mut d = [0u8; 40];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&40u16.to_be_bytes());
        d[8] = 64;
        d[9] = self.proto;
        d[12..16].copy_from_slice(&self.src.to_be_bytes());
        d[16..20].copy_from_slice(&self.dst.to_be_bytes());
        d[20..22].copy_from_slice(&self.sport.to_be_bytes());
        d[22..24].copy_from_slice(&self.dport.to_be_bytes());
        d[32] = 0x50;
        let mut p = Packet::from_slice(&d);
        p.set_network_header(0, 20);
        p
    }
}

/// The first rule matching `h`, by the oracle.
pub fn first_match(rules: &[Rule], h: &Header) -> Option<usize> {
    rules.iter().position(|r| r.matches(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ip_filter::IP_FILTER;
    use crate::classify::ip_pattern::parse_pattern;
    use crate::classify::program::{reference_first_match, View};
    use crate::classify::testdata::data_path;
    use crate::classify::tree::Tree;
    use sluice::testing::run_element;

    fn load(name: &str) -> Vec<Rule> {
        parse_rules(&std::fs::read_to_string(data_path("acl", name)).unwrap()).unwrap()
    }

    fn trace(name: &str) -> Vec<Header> {
        parse_trace(&std::fs::read_to_string(data_path("acl", name)).unwrap()).unwrap()
    }

    #[test]
    fn rules_and_patterns() {
        let r = parse_rules("@10.1.0.0/16\t0.0.0.0/0\t0 : 65535\t1024 : 2047\t0x06/0xFF\t0x1000/0x1000\t\n").unwrap();
        assert_eq!(r[0].pattern(), "src net 10.1.0.0/16 && tcp && dst port >= 1024 and <= 2047");
        let r = parse_rules("@0.0.0.0/0 1.2.3.4/32 53 : 53 0 : 1023 0x00/0x00 ACCEPT").unwrap();
        assert_eq!(r[0].pattern(), "dst net 1.2.3.4/32 && transp[0:2] 53 && transp[2:2] <= 1023");
        assert_eq!(r[0].action.as_deref(), Some("ACCEPT"));
        assert_eq!(parse_rules("@1.2.3.4 0.0.0.0/0 0 : 1 0 : 1 0x00/0x00").unwrap()[0].src, (0x0102_0304, 32));
        assert!(parse_rules("@1.2.3.4/33 0.0.0.0/0 0 : 1 0 : 1 0x00/0x00").unwrap_err().contains("prefix length"));
        assert!(parse_trace("1 2 3").is_err());
    }

    /// Every trace header: the compiled tree, the reference interpreter and the oracle
    /// agree on the first matching rule, and the rule the header came from matches it.
    fn check_set(rules: &str, trace_file: &str) {
        let rules = load(rules);
        let headers = trace(trace_file);
        let mut warnings = Vec::new();
        let exprs: Vec<_> = rules.iter().map(|r| parse_pattern(&r.pattern(), &mut warnings).unwrap()).collect();
        assert!(warnings.is_empty(), "{warnings:?}");
        let tree = Tree::new(&exprs);
        let (nodes, _, depth, widest) = tree.shape();
        assert!(depth < 48 && widest <= 64, "tree of {nodes} nodes, depth {depth}, widest leaf {widest}");
        let mut earlier = 0;
        for (i, h) in headers.iter().enumerate() {
            let p = h.packet();
            let v = View::ip(&p);
            let want = first_match(&rules, h);
            assert!(rules[h.filter].matches(h), "header {i}: its own rule does not match");
            assert!(want.is_some_and(|w| w <= h.filter));
            earlier += usize::from(want != Some(h.filter));
            assert_eq!(tree.first_match(&v), want, "header {i}: {h:?}, rule {:?}", want.map(|w| &rules[w]));
            if i % 4 == 0 {
                assert_eq!(reference_first_match(&exprs, &v), want, "header {i}");
            }
        }
        assert!(earlier < headers.len() / 10);
    }

    #[test]
    fn acl1_trace_first_matches() {
        check_set("acl1_1000", "acl1_1000_trace");
    }

    #[test]
    fn fw1_trace_first_matches() {
        check_set("fw1_1000", "fw1_1000_trace");
    }

    #[test]
    fn morpheus_firewall_actions_through_the_element() {
        // The bpf-iptables rule set with its ACCEPT/DROP column, as an IPFilter; headers are
        // taken from the acl traces and from the corners of every rule.
        let rules = load("fw1_morpheus.classbench");
        let config: Vec<String> = rules
            .iter()
            .map(|r| {
                format!("{} {}", if r.action.as_deref() == Some("ACCEPT") { "allow" } else { "deny" }, r.pattern())
            })
            .collect();
        let mut headers = trace("fw1_1000_trace");
        for r in &rules {
            for (s, d, sp, dp) in [(0, 0, 0, 0), (1, 1, 1, 1)] {
                let pick = |(a, l): (u32, u8), hi: u32| (a & mask(l)) | (hi * !mask(l));
                headers.push(Header {
                    src: pick(r.src, s),
                    dst: pick(r.dst, d),
                    sport: if sp == 0 { r.sport.0 } else { r.sport.1 },
                    dport: if dp == 0 { r.dport.0 } else { r.dport.1 },
                    proto: r.proto.0,
                    filter: 0,
                });
            }
        }
        let accepted = headers
            .iter()
            .filter(|h| first_match(&rules, h).is_some_and(|i| rules[i].action.as_deref() == Some("ACCEPT")))
            .count();
        let input = headers.iter().map(Header::packet).collect();
        let (out, router) = run_element(&IP_FILTER, &config.join(",\n"), 1, input).unwrap();
        assert_eq!(out[0].len(), accepted);
        let drops: usize = router.read_handler("e", "drops").unwrap().parse().unwrap();
        assert_eq!(drops + accepted, headers.len());
        assert!(accepted > 100 && drops > 100, "{accepted} accepted, {drops} dropped");
    }
}

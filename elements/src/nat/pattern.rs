//! Input specs and rewrite patterns, as Click's `IPRewriterBase::parse_input_spec` and
//! `IPRewriterPattern` read and apply them.
//!
//! An input spec says what a rewriter does with a packet of a flow it has no mapping for:
//! `drop` (or `discard`), `pass OUTPUT` (or `passthrough`, `nochange`), `keep FOUTPUT
//! ROUTPUT`, or `pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT` (or `xpattern`). A pattern
//! field is `-` for "unchanged"; SADDR may be a range `L-H` or a prefix `ADDR/LEN` in the
//! two-field form `SADDR DADDR` (Basic NAT), SPORT a range `L-H` in the four-field form. A
//! range ending in `#` is allocated sequentially, one ending in `?` randomly; otherwise the
//! packet's own source port is preferred when it is free, then a random one is tried, then
//! the following ones in order (Click's rule). A single pattern word names a pattern of an
//! `IPRewriterPatterns` element, resolved by the caller (see [`super::ip_rewriter_patterns`]).

use super::flow::FlowId;
use sluice::args::{FromArg, Ipv4Prefix};
use std::net::Ipv4Addr;

/// Click's `IPRewriterPattern`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// New source address; 0.0.0.0 means unchanged (as in Click).
    saddr: [u8; 4],
    /// New source port; 0 means unchanged.
    sport: u16,
    daddr: [u8; 4],
    dport: u16,
    /// Size of the port (or address) range minus one; 0 for a single value.
    variation_top: u32,
    next_variation: u32,
    /// Four-field pattern (ports vary); else the two-field Basic NAT form (addresses vary).
    napt: bool,
    sequential: bool,
    same_first: bool,
}

/// Click's pattern error messages.
const PE_SYNTAX: &str = "syntax error";
const PE_SADDR: &str = "bad source address";
const PE_SPORT: &str = "bad source port";
const PE_DADDR: &str = "bad destination address";
const PE_DPORT: &str = "bad destination port";

/// Click's `IntArg` for ports: an integer (which must then be in range).
fn int(s: &str) -> Option<i32> {
    i32::from_arg(s).ok()
}

fn addr(s: &str) -> Option<[u8; 4]> {
    Ipv4Addr::from_arg(s).ok().map(|a| a.octets())
}

/// Strip a `#` (sequential) or `?` (random) suffix, setting the allocation flags.
fn strip_suffix<'a>(s: &'a str, sequential: &mut bool, same_first: &mut bool) -> &'a str {
    if let Some(t) = s.strip_suffix('#') {
        *sequential = true;
        *same_first = false;
        t
    } else if let Some(t) = s.strip_suffix('?') {
        *same_first = false;
        t
    } else {
        s
    }
}

/// Click's `ip_address_variation`: `L-H` or a prefix `ADDR/LEN` (all but the network and
/// broadcast addresses), each with an optional `#` or `?`.
fn ip_address_variation(s: &str, sequential: &mut bool, same_first: &mut bool) -> Option<([u8; 4], u32)> {
    let s = strip_suffix(s, sequential, same_first);
    if let Some((lo, hi)) = s.split_once('-') {
        let (lo, hi) = (u32::from_be_bytes(addr(lo)?), u32::from_be_bytes(addr(hi)?));
        return (hi >= lo).then(|| (lo.to_be_bytes(), hi - lo));
    }
    let p = Ipv4Prefix::from_arg(s).ok()?;
    let (a, mask) = (u32::from(p.addr), u32::from(p.mask()));
    if a == 0 || mask == 0 {
        return None;
    }
    Some(match p.len {
        32 => (a.to_be_bytes(), 0),
        31 => ((a & mask).to_be_bytes(), 1),
        _ => (((a & mask) | 1).to_be_bytes(), !mask - 2),
    })
}

/// Click's `port_variation`: `L-H` with an optional `#` or `?`.
fn port_variation(s: &str, sequential: &mut bool, same_first: &mut bool) -> Option<(u16, u32)> {
    let s = strip_suffix(s, sequential, same_first);
    let (lo, hi) = s.split_once('-')?;
    let (lo, hi) = (int(lo)?, int(hi)?);
    (lo >= 0 && hi >= lo && hi < 65536).then(|| (lo as u16, (hi - lo) as u32))
}

impl Pattern {
    /// Click's `IPRewriterPattern::parse` of the pattern words (without the output ports):
    /// `SADDR DADDR`, `SADDR DADDR SPORT` (Click's three-word order), or
    /// `SADDR SPORT DADDR DPORT`. A single word names an `IPRewriterPatterns` pattern,
    /// which `named` looks up (a copy of it, with its own allocation state).
    pub fn parse(words: &[&str], named: &dyn Fn(&str) -> Option<Pattern>) -> Result<Pattern, String> {
        if words.is_empty() || words.len() > 4 {
            return Err(PE_SYNTAX.into());
        }
        if words.len() == 1 {
            return named(words[0]).ok_or_else(|| format!("no such pattern '{}'", words[0]));
        }
        let (mut sequential, mut same_first) = (false, true);
        let mut variation = 0u32;
        let mut p = Pattern {
            saddr: [0; 4],
            sport: 0,
            daddr: [0; 4],
            dport: 0,
            variation_top: 0,
            next_variation: 0,
            napt: words.len() >= 3,
            sequential: false,
            same_first: true,
        };

        // Source address.
        let mut i = 0;
        if words[i] != "-" {
            if let Some(a) = addr(words[i]) {
                p.saddr = a;
            } else if let Some((a, v)) = ip_address_variation(words[i], &mut sequential, &mut same_first) {
                p.saddr = a;
                variation = v;
            } else {
                return Err(PE_SADDR.into());
            }
        }

        // Source port: the second word of four, the third of three.
        if words.len() >= 3 {
            i = if words.len() == 3 { 2 } else { 1 };
            let w = words[i];
            if w != "-" {
                match int(w) {
                    Some(port) if port > 0 && port < 65536 => p.sport = port as u16,
                    _ => match port_variation(w, &mut sequential, &mut same_first) {
                        Some((port, v)) => {
                            p.sport = port;
                            variation = v;
                        }
                        None => return Err(PE_SPORT.into()),
                    },
                }
            }
            i = if words.len() == 3 { 0 } else { 1 };
        }

        // Destination address.
        i += 1;
        if words[i] != "-" {
            p.daddr = addr(words[i]).ok_or(PE_DADDR)?;
        }

        // Destination port.
        if words.len() == 4 {
            i += 1;
            if words[i] != "-" {
                match int(words[i]) {
                    Some(port) if port > 0 && port < 65536 => p.dport = port as u16,
                    _ => return Err(PE_DPORT.into()),
                }
            }
        }

        p.variation_top = variation;
        p.sequential = sequential;
        p.same_first = same_first;
        Ok(p)
    }

    /// Click's `IPRewriterPattern::rewrite_flowid`: the rewritten flow for `flow`, choosing
    /// a source port (or address) whose reply flow is not `taken`; `None` when every choice
    /// is taken (a mapping failure).
    pub fn rewrite(&mut self, flow: &FlowId, rng: &mut Rng, taken: impl Fn(&FlowId) -> bool) -> Option<FlowId> {
        let mut r = *flow;
        if self.saddr != [0; 4] {
            r.saddr = self.saddr;
        }
        if self.sport != 0 {
            r.sport = self.sport;
        }
        if self.daddr != [0; 4] {
            r.daddr = self.daddr;
        }
        if self.dport != 0 {
            r.dport = self.dport;
        }
        if self.variation_top == 0 {
            return Some(r);
        }

        let top = self.variation_top;
        let mut lookup = r.reverse();
        let base = if self.napt { u32::from(self.sport) } else { u32::from_be_bytes(self.saddr) };
        let set = |lookup: &mut FlowId, val: u32| {
            if self.napt {
                lookup.dport = base.wrapping_add(val) as u16;
            } else {
                lookup.daddr = base.wrapping_add(val).to_be_bytes();
            }
        };

        let mut found = None;
        // Prefer the packet's own source port when it lies in the range and is free.
        // (Click tests the source *port* against the base here even for address ranges.)
        let own = u32::from(flow.sport).wrapping_sub(base);
        if self.same_first && own <= top {
            lookup.dport = flow.sport;
            if !taken(&lookup) {
                found = Some(own);
            }
        }
        if found.is_none() {
            let mut val = if self.sequential {
                if self.next_variation > top {
                    0
                } else {
                    self.next_variation
                }
            } else {
                rng.up_to(top)
            };
            for _ in 0..=u64::from(top) {
                set(&mut lookup, val);
                if !taken(&lookup) {
                    found = Some(val);
                    break;
                }
                val = if val == top { 0 } else { val + 1 };
            }
        }

        let val = found?;
        if self.napt {
            r.sport = lookup.dport;
        } else {
            r.saddr = lookup.daddr;
        }
        self.next_variation = val.wrapping_add(1);
        Some(r)
    }

    /// Click's `IPRewriterPattern::unparse` (the `#`/`?` suffixes are not shown).
    pub fn unparse(&self) -> String {
        let a = |b: [u8; 4]| Ipv4Addr::from(b).to_string();
        let mut s = if !self.napt && self.variation_top != 0 {
            let hi = u32::from_be_bytes(self.saddr).wrapping_add(self.variation_top);
            format!("{}-{}", a(self.saddr), Ipv4Addr::from(hi))
        } else if self.saddr != [0; 4] {
            a(self.saddr)
        } else {
            "-".to_string()
        };
        if self.napt {
            if self.sport == 0 {
                s += " -";
            } else if self.variation_top != 0 {
                s += &format!(" {}-{}", self.sport, u32::from(self.sport) + self.variation_top);
            } else {
                s += &format!(" {}", self.sport);
            }
        }
        if self.daddr != [0; 4] {
            s += &format!(" {}", a(self.daddr));
        } else {
            s += " -";
        }
        if self.napt {
            if self.dport == 0 {
                s += " -";
            } else {
                s += &format!(" {}", self.dport);
            }
        }
        s
    }

    /// The sequential allocator's position (handed over in swaps).
    pub fn next_variation(&self) -> u32 {
        self.next_variation
    }

    pub fn set_next_variation(&mut self, v: u32) {
        self.next_variation = v;
    }
}

/// What an input does with a packet that has no mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Spec {
    Drop,
    Pass(u32),
    Keep(u32, u32),
    Pattern(Pattern, u32, u32),
}

impl Spec {
    /// Click's `patterns` handler line for this input (without the count).
    pub fn unparse(&self) -> String {
        match self {
            Spec::Drop => "<drop>".into(),
            Spec::Pass(_) => "<nochange>".into(),
            Spec::Keep(..) => "<keep>".into(),
            Spec::Pattern(p, ..) => p.unparse(),
        }
    }
}

/// `FOUTPUT ROUTPUT` (Click's `IPRewriterPattern::parse_ports`).
fn parse_ports(words: &[&str]) -> Result<(u32, u32), String> {
    let [f, r] = words else {
        return Err("bad forward port".into());
    };
    let f = int(f).ok_or("bad forward port")?;
    let r = int(r).ok_or("bad reply port")?;
    Ok((f as u32, r as u32))
}

/// Click's `IPRewriterBase::parse_input_spec` for input `index`, checking output ports
/// against `noutputs`; `named` resolves `pattern NAME FOUTPUT ROUTPUT`. Errors read like
/// Click's: `input spec 0: bad source port`, `input spec 1: no such pattern 'NAT'`.
pub(crate) fn parse_input_spec(
    line: &str,
    index: usize,
    noutputs: usize,
    named: &dyn Fn(&str) -> Option<Pattern>,
) -> Result<Spec, String> {
    let err = |m: &str| format!("input spec {index}: {m}");
    let line = line.trim();
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    if word.is_empty() {
        return Err(err("empty argument"));
    }
    let in_range = |f: u32, r: u32| {
        if (f as usize) < noutputs && (r as usize) < noutputs {
            Ok(())
        } else {
            Err(err("output port out of range"))
        }
    };
    match word {
        "pass" | "passthrough" | "nochange" => {
            let out = if rest.is_empty() {
                0
            } else {
                int(rest).ok_or_else(|| err("syntax error, expected 'nochange [OUTPUT]'"))?
            };
            in_range(out as u32, 0)?;
            Ok(Spec::Pass(out as u32))
        }
        "keep" => {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (f, r) = parse_ports(&words).map_err(|m| err(&m))?;
            in_range(f, r)?;
            Ok(Spec::Keep(f, r))
        }
        "drop" | "discard" => {
            if rest.is_empty() {
                Ok(Spec::Drop)
            } else {
                Err(err(&format!("syntax error, expected '{word}'")))
            }
        }
        "pattern" | "xpattern" => {
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.len() <= 2 {
                return Err(err(PE_SYNTAX));
            }
            let (pat, ports) = words.split_at(words.len() - 2);
            let p = Pattern::parse(pat, named).map_err(|m| err(&m))?;
            let (f, r) = parse_ports(ports).map_err(|m| err(&m))?;
            in_range(f, r)?;
            Ok(Spec::Pattern(p, f, r))
        }
        _ => Err(err(&format!(
            "unknown specification '{line}' (expected drop, pass, keep or pattern; \
             mapper elements such as RoundRobinIPMapper are not supported by Sluice)"
        ))),
    }
}

/// A small xorshift64* generator for random port choice (Click's `click_random`).
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from the process's random hash keys and the clock.
    pub fn new() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        Rng(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..=top`.
    pub fn up_to(&mut self, top: u32) -> u32 {
        (self.next() % (u64::from(top) + 1)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Result<Pattern, String> {
        Pattern::parse(&s.split_whitespace().collect::<Vec<_>>(), &|_| None)
    }

    fn spec(s: &str, index: usize, noutputs: usize) -> Result<Spec, String> {
        parse_input_spec(s, index, noutputs, &|_| None)
    }

    #[test]
    fn parses_click_pattern_forms() {
        let p = pat("1.0.0.1 1024-65535# - -").unwrap();
        assert_eq!((p.saddr, p.sport, p.variation_top, p.napt), ([1, 0, 0, 1], 1024, 64511, true));
        assert!(p.sequential && !p.same_first);
        assert_eq!(p.unparse(), "1.0.0.1 1024-65535 - -");
        let p = pat("- - 2.0.0.2 80").unwrap();
        assert_eq!(p.unparse(), "- - 2.0.0.2 80");
        let p = pat("1.0.0.1 5000? - -").unwrap_err();
        assert_eq!(p, "bad source port", "a lone port cannot carry a suffix, as in Click");
        let p = pat("1.0.0.1 5000-5009? - -").unwrap();
        assert!(!p.sequential && !p.same_first);
        // Basic NAT forms: a range or a prefix of addresses.
        let p = pat("10.0.0.1-10.0.0.9 -").unwrap();
        assert_eq!((p.napt, p.variation_top, p.unparse().as_str()), (false, 8, "10.0.0.1-10.0.0.9 -"));
        let p = pat("10.0.0.0/24# -").unwrap();
        assert_eq!((p.saddr, p.variation_top), ([10, 0, 0, 1], 253));
        let p = pat("10.0.0.7/31 -").unwrap();
        assert_eq!((p.saddr, p.variation_top), ([10, 0, 0, 6], 1));
        // Click's three-word order: SADDR DADDR SPORT.
        let p = pat("1.0.0.1 2.0.0.2 99").unwrap();
        assert_eq!((p.saddr, p.daddr, p.sport, p.dport), ([1, 0, 0, 1], [2, 0, 0, 2], 99, 0));
        assert_eq!(pat("x - - -").unwrap_err(), "bad source address");
        assert_eq!(pat("- 0 - -").unwrap_err(), "bad source port");
        assert_eq!(pat("- 9-8 - -").unwrap_err(), "bad source port");
        assert_eq!(pat("- - x -").unwrap_err(), "bad destination address");
        assert_eq!(pat("- - - 65536").unwrap_err(), "bad destination port");
        assert_eq!(pat("- - - - -").unwrap_err(), "syntax error");
        assert_eq!(pat("NAT").unwrap_err(), "no such pattern 'NAT'");
        // A named pattern is whatever the resolver gives (a copy).
        let nat = pat("1.0.0.1 1024-2047# - -").unwrap();
        let named = |n: &str| (n == "NAT").then(|| nat.clone());
        assert_eq!(Pattern::parse(&["NAT"], &named), Ok(nat.clone()));
        assert_eq!(Pattern::parse(&["TAN"], &named).unwrap_err(), "no such pattern 'TAN'");
    }

    #[test]
    fn parses_input_specs_like_click() {
        assert_eq!(spec("drop", 0, 1), Ok(Spec::Drop));
        assert_eq!(spec("discard", 0, 1), Ok(Spec::Drop));
        assert_eq!(spec("pass", 0, 1), Ok(Spec::Pass(0)));
        assert_eq!(spec("nochange 1", 0, 2), Ok(Spec::Pass(1)));
        assert_eq!(spec("keep 0 1", 0, 2), Ok(Spec::Keep(0, 1)));
        let Ok(Spec::Pattern(_, 1, 0)) = spec("pattern 1.0.0.1 1024-2047 - - 1 0", 0, 2) else {
            panic!("pattern spec")
        };
        let e = |s: &str, n| spec(s, 3, n).unwrap_err();
        assert_eq!(e("pass 2", 2), "input spec 3: output port out of range");
        assert_eq!(e("keep 0 2", 2), "input spec 3: output port out of range");
        assert_eq!(e("keep 0", 2), "input spec 3: bad forward port");
        assert_eq!(e("keep 0 x", 2), "input spec 3: bad reply port");
        assert_eq!(e("drop 1", 2), "input spec 3: syntax error, expected 'drop'");
        assert_eq!(e("pass x", 2), "input spec 3: syntax error, expected 'nochange [OUTPUT]'");
        assert_eq!(e("pattern 0 1", 2), "input spec 3: syntax error");
        assert_eq!(e("pattern 1.0.0.1 x - - 0 1", 2), "input spec 3: bad source port");
        assert!(e("mapper", 2).contains("unknown specification 'mapper'"));
        assert_eq!(e("pattern NAT 0 1", 2), "input spec 3: no such pattern 'NAT'");
        let nat = pat("1.0.0.1 1024-2047# - -").unwrap();
        let named = |n: &str| (n == "NAT").then(|| nat.clone());
        assert_eq!(parse_input_spec("pattern NAT 1 0", 0, 2, &named), Ok(Spec::Pattern(nat.clone(), 1, 0)));
        assert_eq!(
            parse_input_spec("pattern NAT 1 2", 0, 2, &named).unwrap_err(),
            "input spec 0: output port out of range"
        );
        assert_eq!(parse_input_spec("pattern NAT 1", 0, 2, &named).unwrap_err(), "input spec 0: syntax error");
    }

    fn all_free(_: &FlowId) -> bool {
        false
    }

    #[test]
    fn prefers_the_source_port_then_allocates() {
        let f = FlowId::new([10, 0, 0, 5], 3000, [8, 8, 8, 8], 53);
        let mut rng = Rng::new();
        let mut p = pat("1.0.0.1 1024-65535 - -").unwrap();
        assert_eq!(p.rewrite(&f, &mut rng, all_free).unwrap().sport, 3000);
        // Sequential: 1024, 1025, ... whatever the source port.
        let mut p = pat("1.0.0.1 1024-1026# - -").unwrap();
        let ports: Vec<u16> = (0..3).map(|_| p.rewrite(&f, &mut rng, all_free).unwrap().sport).collect();
        assert_eq!(ports, [1024, 1025, 1026]);
        // Wraps around, and skips ports whose reply flow is taken.
        let taken = |l: &FlowId| l.dport == 1024;
        assert_eq!(p.rewrite(&f, &mut rng, taken).unwrap().sport, 1025);
        assert_eq!(p.rewrite(&f, &mut rng, |_| true), None);
        // Random: always in range.
        let mut p = pat("1.0.0.1 2000-2009? - -").unwrap();
        for _ in 0..100 {
            let port = p.rewrite(&f, &mut rng, all_free).unwrap().sport;
            assert!((2000..=2009).contains(&port));
        }
    }

    #[test]
    fn allocates_addresses_for_basic_nat() {
        let f = FlowId::new([10, 0, 0, 5], 0, [0; 4], 0);
        let mut rng = Rng::new();
        let mut p = pat("1.0.0.1-1.0.0.2# -").unwrap();
        let a = p.rewrite(&f, &mut rng, all_free).unwrap();
        assert_eq!((a.saddr, a.sport, a.daddr), ([1, 0, 0, 1], 0, [0; 4]));
        let taken = |l: &FlowId| l.daddr == [1, 0, 0, 2];
        assert_eq!(p.rewrite(&f, &mut rng, taken).unwrap().saddr, [1, 0, 0, 1]);
    }
}

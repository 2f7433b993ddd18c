//! `Classifier`: classifies packets by byte patterns.

use super::element::{Classify, HANDLERS};
use super::program::{Expr, Region, Test};
use sluice::args::Args;
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// Classifier(PATTERN_1, ..., PATTERN_N)
    ///
    /// Classifies packets by contents.
    ///
    /// Each output has a pattern. A pattern is a set of `OFFSET/VALUE[%MASK]` clauses
    /// separated by spaces; it matches a packet whose data has the value at each offset.
    /// OFFSET is decimal, counted from the start of the packet data; VALUE and MASK are
    /// hexadecimal with an even number of digits (the number of digits gives the length),
    /// and MASK must have as many digits as VALUE. `?` in VALUE or MASK is a nibble that
    /// does not matter. Only the bits set in MASK are compared. A clause preceded by `!`
    /// must not match. The pattern `-` (or an empty pattern) matches every packet.
    ///
    /// Patterns are tried in order: a packet goes to the output of the first pattern that
    /// matches, and is dropped (and counted) if none does. A clause needs the packet to
    /// have every byte its mask selects; on a shorter packet the clause does not match, so
    /// a negated clause does, as in Click.
    ///
    /// Patterns are compiled into a decision tree over the tested fields (see IPFilter),
    /// so a packet is not tried against every pattern in turn.
    ///
    /// Ports: 1 input; one output per pattern (the number of patterns must equal the
    /// number of connected outputs); push.
    ///
    /// # Keywords
    /// None: every argument is a pattern.
    ///
    /// # Handlers
    /// - `program` (read) — the decision tree and the instructions of every pattern.
    /// - `drops` (read) — packets that matched no pattern.
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// c :: Classifier(12/0806 20/0001,   // ARP requests
    ///                 12/0806 20/0002,   // ARP replies
    ///                 12/0800,           // IP
    ///                 -);                // everything else
    /// ```
    pub const CLASSIFIER = "Classifier" { ports: "1/-", processing: "h/h", handlers: HANDLERS, build: build }
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let patterns = Args::new(config).rest();
    let rules = parse_patterns(&patterns, ctx.noutputs)?;
    let actions = (0..rules.len()).map(Some).collect();
    let c = Classify::new(&rules, actions, false, ctx.noutputs);
    for &r in c.unreachable() {
        tracing::warn!("{}: Classifier pattern {r} matches no packets", ctx.name);
    }
    Ok(Box::new(c))
}

/// Parse the patterns of a Classifier with `noutputs` outputs.
pub fn parse_patterns(patterns: &[String], noutputs: usize) -> Result<Vec<Expr>, String> {
    if patterns.len() != noutputs {
        return Err(format!("need {noutputs} arguments, one per output port (got {})", patterns.len()));
    }
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        match parse_pattern(p) {
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

/// Highest offset a clause may test.
const MAX_OFFSET: usize = 0xFFF0;

fn nibble(c: u8) -> (u32, u32) {
    match c {
        b'?' => (0, 0),
        c => ((c as char).to_digit(16).unwrap_or(0), 0xF),
    }
}

/// One Classifier pattern: clauses `[!]OFFSET/VALUE[%MASK]`, all of which must hold.
pub fn parse_pattern(s: &str) -> Result<Expr, String> {
    let b = s.as_bytes();
    if s == "-" {
        return Ok(Expr::Const(true));
    }
    let word_at = |i: usize| s[i..].split_whitespace().next().unwrap_or("").to_string();
    let mut clauses = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let clause_start = i;
        let negated = b[i] == b'!';
        if negated {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        if i >= b.len() || !b[i].is_ascii_digit() {
            return Err(match i < b.len() {
                true => format!("expected a decimal offset at '{}'", word_at(i)),
                false => "expected a clause after '!'".to_string(),
            });
        }
        let off_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let offset: usize = s[off_start..i].parse().unwrap_or(usize::MAX);
        if offset > MAX_OFFSET {
            return Err(format!("offset {} in '{}' is too large", &s[off_start..i], word_at(clause_start)));
        }
        if i >= b.len() || b[i] != b'/' {
            return Err(format!("expected '/' after the offset in '{}'", word_at(clause_start)));
        }
        i += 1;
        let hex = |i: &mut usize| {
            let start = *i;
            while *i < b.len() && (b[*i].is_ascii_hexdigit() || b[*i] == b'?') {
                *i += 1;
            }
            &b[start..*i]
        };
        let value = hex(&mut i);
        let mask = if i < b.len() && b[i] == b'%' {
            i += 1;
            Some(hex(&mut i))
        } else {
            None
        };
        let clause = word_at(clause_start);
        if value.len() < 2 {
            return Err(format!("value in '{clause}' has less than 2 hex digits"));
        }
        if value.len() % 2 != 0 {
            return Err(format!("value in '{clause}' has an odd number of hex digits"));
        }
        if let Some(m) = mask {
            if m.len() != value.len() {
                let which = if m.len() > value.len() { "many" } else { "few" };
                return Err(format!("mask in '{clause}' has too {which} hex digits"));
            }
        }
        // Click goes straight on to a next clause `!...` written without a space.
        if i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'!' {
            return Err(format!("bad character '{}' in clause '{clause}'", &s[i..].chars().next().unwrap_or('?')));
        }
        // Byte by byte, grouped into the 4-byte words of the packet data.
        let mut words: Vec<(usize, u32, u32)> = Vec::new();
        for k in 0..value.len() / 2 {
            let (vh, mh) = nibble(value[2 * k]);
            let (vl, ml) = nibble(value[2 * k + 1]);
            let mut m = mh << 4 | ml;
            if let Some(mask) = mask {
                let (xh, yh) = nibble(mask[2 * k]);
                let (xl, yl) = nibble(mask[2 * k + 1]);
                m &= (xh << 4 | xl) & (yh << 4 | yl);
            }
            let v = (vh << 4 | vl) & m;
            let at = offset + k;
            let shift = 24 - 8 * (at % 4) as u32;
            match words.last_mut() {
                Some(w) if w.0 == at / 4 * 4 => {
                    w.1 |= v << shift;
                    w.2 |= m << shift;
                }
                _ => words.push((at / 4 * 4, v << shift, m << shift)),
            }
        }
        let c = Expr::and(
            words.into_iter().map(|(off, v, m)| Expr::test(Test::new(Region::Data, off as u16, v, m))).collect(),
        );
        clauses.push(if negated { c.negate() } else { c });
    }
    Ok(Expr::and(clauses))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::program::View;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    fn matches(pattern: &str, data: &[u8]) -> bool {
        parse_pattern(pattern).unwrap().eval(&View::from_slices(data, &[], &[]))
    }

    #[test]
    fn clauses_values_masks_and_wildcards() {
        let arp = [&[0u8; 12][..], &[0x08, 0x06], &[0; 6], &[0x00, 0x01]].concat();
        assert!(matches("12/0806 20/0001", &arp));
        assert!(!matches("12/0806 20/0002", &arp));
        assert!(matches("12/08??", &arp));
        assert!(matches("12/0800%fff0", &arp));
        assert!(matches("12/f8f6%0f0f", &arp));
        assert!(matches("13/?6", &arp));
        assert!(matches("12/0806%ff??", &arp), "'?' in a mask is a nibble that does not matter");
        assert!(matches("!12/0800", &arp));
        assert!(matches("! 12/0800 12/0806", &arp));
        assert!(matches("12/0806!12/0800", &arp));
        assert!(!matches("!12/0806", &arp));
        assert!(matches("-", &[]));
        assert!(matches("", &[]));
        assert!(matches("  ", &[1]));
    }

    #[test]
    fn short_packets_fail_clauses_and_match_negated_ones() {
        assert!(!matches("12/0806", &[0; 13]));
        assert!(matches("12/08", &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]));
        assert!(matches("!12/0806", &[0; 13]), "Click: a negated clause matches a short packet");
        assert!(matches("12/08??", &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]), "'??' needs no byte");
        assert!(!matches("0/00", &[]));
    }

    #[test]
    fn errors_name_the_bad_clause() {
        let err = |p: &str| parse_pattern(p).unwrap_err();
        assert_eq!(err("x/08"), "expected a decimal offset at 'x/08'");
        assert_eq!(err("12"), "expected '/' after the offset in '12'");
        assert_eq!(err("12/0"), "value in '12/0' has less than 2 hex digits");
        assert_eq!(err("12/080"), "value in '12/080' has an odd number of hex digits");
        assert_eq!(err("12/0806%ff"), "mask in '12/0806%ff' has too few hex digits");
        assert_eq!(err("12/08%ffff"), "mask in '12/08%ffff' has too many hex digits");
        assert_eq!(err("12/08g0"), "bad character 'g' in clause '12/08g0'");
        assert_eq!(err("!"), "expected a clause after '!'");
        assert_eq!(err("99999999/00"), "offset 99999999 in '99999999/00' is too large");
        let e = parse_patterns(&["12/0800".into(), "12/zz".into()], 2).unwrap_err();
        assert_eq!(e, "pattern 1: value in '12/zz' has less than 2 hex digits");
        assert_eq!(parse_patterns(&["-".into()], 2).unwrap_err(), "need 2 arguments, one per output port (got 1)");
        let e = build_elem(&CLASSIFIER, "12/0800, 12/08x6", 1, 2).err().unwrap();
        assert!(e.0.contains("pattern 1: bad character 'x'"), "{e}");
    }

    #[test]
    fn first_matching_pattern_wins_and_unmatched_packets_are_dropped() {
        let frame = |et: u16, op: u8| {
            let mut d = vec![0u8; 42];
            d[12..14].copy_from_slice(&et.to_be_bytes());
            d[21] = op;
            Packet::from_slice(&d)
        };
        let input = vec![frame(0x0806, 1), frame(0x0806, 2), frame(0x0800, 0), frame(0x86dd, 0), frame(0x0806, 1)];
        let (out, router) = run_element(&CLASSIFIER, "12/0806 20/0001, 12/0806 20/0002, 12/0800", 3, input).unwrap();
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 1, 1]);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "1");
        assert_eq!(router.read_handler("e", "drop_details").unwrap(), "1 matched no pattern");
        let program = router.read_handler("e", "program").unwrap();
        assert!(program.contains("decision tree") && program.contains("12/08060000%ffff0000"), "{program}");
    }

    #[test]
    fn the_example_of_the_click_manual() {
        let mut input = Vec::new();
        for (et, op) in [(0x0806u16, 1u8), (0x0806, 2), (0x0800, 9), (0x1234, 0), (0x0806, 3)] {
            let mut d = vec![0u8; 60];
            d[12..14].copy_from_slice(&et.to_be_bytes());
            d[21] = op;
            input.push(Packet::from_slice(&d));
        }
        input.push(Packet::from_slice(&[0x08; 5]));
        let config = "12/0806 20/0001, 12/0806 20/0002, 12/0800, -";
        let (out, _) = run_element(&CLASSIFIER, config, 4, input).unwrap();
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 1, 3]);
    }
}

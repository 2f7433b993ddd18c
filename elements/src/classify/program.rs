//! What the classifiers compile patterns into: boolean expressions over word tests, the
//! packet view they read, a simple reference interpreter, and a flat jump program.
//!
//! A [`Test`] is Click's classification instruction: the 32-bit big-endian word at an
//! offset of a packet region, ANDed with a mask, compared with a value. A test needs the
//! bytes up to the last nonzero byte of its mask; when the region is shorter, the test
//! takes its `short` outcome instead of reading. Click negates a subtree in two ways, and
//! so does [`Expr`]: `not` in a pattern is plain logical negation (a test on a short packet
//! counts as false, so `not` of it is true), while `!=` and the other negated relations
//! flip the short outcome too, so that they are false on short packets (Click's
//! `negate_subtree(tree, true)`). Negations are pushed down to the tests when expressions
//! are built, so an [`Expr`] is made of tests, constants, `and`, `or` and `?:` only.
//!
//! [`Expr::eval`] is the reference semantics (a direct recursive interpreter, used by tests
//! to cross-check compiled forms). [`Code`] compiles each rule into a flat jump program
//! (Click's wordwise program without its optimizer); it evaluates one rule at a time and
//! backs both the leaves of the decision tree (`tree.rs`) and the linear baseline.

use sluice::Packet;
use std::fmt::Write;

/// Which bytes of a packet a test reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// From the start of the packet data (Classifier).
    Data = 0,
    /// From the network header annotation to the end of the data (IPClassifier, IPFilter).
    Net = 1,
    /// From the transport header annotation to the end of the data.
    Transp = 2,
}

impl Region {
    fn name(self) -> &'static str {
        match self {
            Region::Data => "",
            Region::Net => "ip+",
            Region::Transp => "transp+",
        }
    }
}

/// The bytes a packet offers to tests, by [`Region`].
#[derive(Clone, Copy, Debug, Default)]
pub struct View<'a> {
    pub regions: [&'a [u8]; 3],
}

impl<'a> View<'a> {
    /// The packet data from its start (Classifier).
    pub fn data(p: &'a Packet) -> View<'a> {
        View { regions: [p.data(), &[], &[]] }
    }

    /// The IP view of a packet, as Click's IPFilter sees it: the network region runs from
    /// the network header annotation to the end of the data, the transport region from
    /// the transport header annotation. A packet without a network header annotation
    /// offers no bytes, so only patterns that need none (`true`, `-`) match it. As in
    /// Click, a packet whose data ends at the transport header has no transport bytes.
    pub fn ip(p: &'a Packet) -> View<'a> {
        match p.network_header() {
            Some(net) => View { regions: [p.data(), net, p.transport_header().unwrap_or(&[])] },
            None => View { regions: [p.data(), &[], &[]] },
        }
    }

    /// A view over explicit bytes (tests and benchmarks).
    pub fn from_slices(data: &'a [u8], net: &'a [u8], transp: &'a [u8]) -> View<'a> {
        View { regions: [data, net, transp] }
    }

    #[inline(always)]
    pub fn region(&self, r: Region) -> &'a [u8] {
        self.regions[r as usize]
    }
}

/// The big-endian word at `off`, with bytes past the end of `s` read as zero.
#[inline(always)]
pub fn read_word(s: &[u8], off: usize) -> u32 {
    match s.get(off..off + 4) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => {
            let mut w = [0u8; 4];
            for (k, x) in w.iter_mut().enumerate() {
                *x = s.get(off + k).copied().unwrap_or(0);
            }
            u32::from_be_bytes(w)
        }
    }
}

/// Bytes of a region a test with this word offset and mask needs (Click's `required_length`).
pub fn required_length(offset: u16, mask: u32) -> usize {
    if mask == 0 {
        0
    } else {
        offset as usize + 4 - (mask.trailing_zeros() / 8) as usize
    }
}

/// One word test: `(word(region, offset) & mask == value) != negate`, or `short` when the
/// region is too short for the mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Test {
    pub region: Region,
    pub offset: u16,
    pub mask: u32,
    pub value: u32,
    pub negate: bool,
    pub short: bool,
}

impl Test {
    /// A positive test (false on short packets). The value is masked, as in Click.
    pub fn new(region: Region, offset: u16, value: u32, mask: u32) -> Test {
        Test { region, offset, mask, value: value & mask, negate: false, short: false }
    }

    pub fn need(&self) -> usize {
        required_length(self.offset, self.mask)
    }

    #[inline]
    pub fn eval(&self, v: &View) -> bool {
        let s = v.region(self.region);
        if s.len() < self.need() {
            return self.short;
        }
        ((read_word(s, self.offset as usize) & self.mask) == self.value) != self.negate
    }
}

/// A pattern: a boolean combination of tests, with negations pushed down to the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Const(bool),
    Test(Test),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `c ? a : b`, Click's ternary operator.
    Ternary(Box<(Expr, Expr, Expr)>),
}

impl Expr {
    /// A test, simplified: a test with an empty mask needs no bytes and always holds.
    pub fn test(t: Test) -> Expr {
        if t.mask == 0 {
            Expr::Const(t.value == 0)
        } else {
            Expr::Test(t)
        }
    }

    /// Conjunction, flattened and simplified.
    pub fn and(parts: Vec<Expr>) -> Expr {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Expr::Const(true) => {}
                Expr::Const(false) => return Expr::Const(false),
                Expr::And(v) => out.extend(v),
                e => out.push(e),
            }
        }
        match out.len() {
            0 => Expr::Const(true),
            1 => out.pop().unwrap_or(Expr::Const(true)),
            _ => Expr::And(out),
        }
    }

    /// Disjunction, flattened and simplified.
    pub fn or(parts: Vec<Expr>) -> Expr {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Expr::Const(false) => {}
                Expr::Const(true) => return Expr::Const(true),
                Expr::Or(v) => out.extend(v),
                e => out.push(e),
            }
        }
        match out.len() {
            0 => Expr::Const(false),
            1 => out.pop().unwrap_or(Expr::Const(false)),
            _ => Expr::Or(out),
        }
    }

    pub fn ternary(c: Expr, a: Expr, b: Expr) -> Expr {
        match c {
            Expr::Const(true) => a,
            Expr::Const(false) => b,
            c => Expr::Ternary(Box::new((c, a, b))),
        }
    }

    /// Logical negation (`not`, `!` in patterns): a short packet's test outcome is negated too.
    pub fn negate(self) -> Expr {
        match self {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Test(t) => Expr::Test(Test { negate: !t.negate, short: !t.short, ..t }),
            Expr::And(v) => Expr::or(v.into_iter().map(Expr::negate).collect()),
            Expr::Or(v) => Expr::and(v.into_iter().map(Expr::negate).collect()),
            Expr::Ternary(b) => {
                let (c, x, y) = *b;
                Expr::ternary(c, x.negate(), y.negate())
            }
        }
    }

    /// Click's `negate_subtree(tree, true)`: negate, but keep every test's outcome on short
    /// packets (so `src port != 80` is false when the port is not there).
    pub fn negate_keep_short(self) -> Expr {
        self.flip_short().negate()
    }

    fn flip_short(self) -> Expr {
        match self {
            Expr::Test(t) => Expr::Test(Test { short: !t.short, ..t }),
            Expr::And(v) => Expr::And(v.into_iter().map(Expr::flip_short).collect()),
            Expr::Or(v) => Expr::Or(v.into_iter().map(Expr::flip_short).collect()),
            Expr::Ternary(b) => {
                let (c, x, y) = *b;
                Expr::Ternary(Box::new((c.flip_short(), x.flip_short(), y.flip_short())))
            }
            c => c,
        }
    }

    /// The reference semantics: evaluate directly.
    pub fn eval(&self, v: &View) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Test(t) => t.eval(v),
            Expr::And(es) => es.iter().all(|e| e.eval(v)),
            Expr::Or(es) => es.iter().any(|e| e.eval(v)),
            Expr::Ternary(b) => {
                if b.0.eval(v) {
                    b.1.eval(v)
                } else {
                    b.2.eval(v)
                }
            }
        }
    }

    /// Every test in the expression, in order.
    pub fn for_each_test(&self, f: &mut impl FnMut(&Test)) {
        match self {
            Expr::Const(_) => {}
            Expr::Test(t) => f(t),
            Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| e.for_each_test(f)),
            Expr::Ternary(b) => {
                b.0.for_each_test(f);
                b.1.for_each_test(f);
                b.2.for_each_test(f);
            }
        }
    }
}

/// The first of `rules` that matches, by the reference interpreter (a linear scan).
pub fn reference_first_match(rules: &[Expr], v: &View) -> Option<usize> {
    rules.iter().position(|e| e.eval(v))
}

/// Jump targets at or above this value are exits.
const EXIT: u32 = u32::MAX - 1;
const EXIT_FALSE: u32 = u32::MAX - 1;
const EXIT_TRUE: u32 = u32::MAX;

/// One instruction of a rule's jump program.
#[derive(Clone, Copy, Debug)]
struct Insn {
    mask: u32,
    value: u32,
    offset: u16,
    /// Bytes of the region the test needs.
    need: u16,
    region: u8,
    /// Where to go when the masked word equals the value, differs, or the region is short.
    on_eq: u32,
    on_ne: u32,
    on_short: u32,
}

/// Every rule compiled into a jump program (Click's wordwise instructions without the
/// optimizer), sharing one instruction array. A rule is evaluated from its entry point
/// until it exits true or false; no allocation, no recursion.
#[derive(Clone, Debug, Default)]
pub struct Code {
    insns: Vec<Insn>,
    entries: Vec<u32>,
}

impl Code {
    pub fn new(rules: &[Expr]) -> Code {
        let mut c = Code::default();
        for e in rules {
            let entry = c.emit(e, EXIT_TRUE, EXIT_FALSE);
            c.entries.push(entry);
        }
        c
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Instructions in all rule programs.
    pub fn insn_count(&self) -> usize {
        self.insns.len()
    }

    /// Emit `e` so that it jumps to `t` when true and `f` when false; returns its entry.
    /// Sub-expressions are emitted before the tests that jump to them, so no target is
    /// ever patched and nothing is duplicated.
    fn emit(&mut self, e: &Expr, t: u32, f: u32) -> u32 {
        match e {
            Expr::Const(true) => t,
            Expr::Const(false) => f,
            Expr::Test(x) => {
                let (on_match, on_miss) = if x.negate { (f, t) } else { (t, f) };
                self.insns.push(Insn {
                    mask: x.mask,
                    value: x.value,
                    offset: x.offset,
                    need: x.need() as u16,
                    region: x.region as u8,
                    on_eq: on_match,
                    on_ne: on_miss,
                    on_short: if x.short { t } else { f },
                });
                (self.insns.len() - 1) as u32
            }
            Expr::And(es) => es.iter().rev().fold(t, |next, a| self.emit(a, next, f)),
            Expr::Or(es) => es.iter().rev().fold(f, |next, a| self.emit(a, t, next)),
            Expr::Ternary(b) => {
                let ta = self.emit(&b.1, t, f);
                let tb = self.emit(&b.2, t, f);
                self.emit(&b.0, ta, tb)
            }
        }
    }

    /// Does rule `r` match?
    #[inline]
    pub fn eval(&self, r: usize, v: &View) -> bool {
        let mut pc = self.entries[r];
        while pc < EXIT {
            let i = &self.insns[pc as usize];
            let s = v.regions[i.region as usize];
            pc = if s.len() < i.need as usize {
                i.on_short
            } else if read_word(s, i.offset as usize) & i.mask == i.value {
                i.on_eq
            } else {
                i.on_ne
            };
        }
        pc == EXIT_TRUE
    }

    /// The first matching rule, trying every rule in order (the linear baseline).
    pub fn first_match(&self, v: &View) -> Option<usize> {
        (0..self.entries.len()).find(|&r| self.eval(r, v))
    }

    /// The program of rule `r`, one instruction per line, in Click's notation.
    pub fn unparse_rule(&self, r: usize, out: &mut String) {
        let jump = |j: u32| match j {
            EXIT_TRUE => "[match]".to_string(),
            EXIT_FALSE => "[no]".to_string(),
            j => format!("step {j}"),
        };
        let entry = self.entries[r];
        if entry >= EXIT {
            let _ = writeln!(out, "  always {}", jump(entry));
            return;
        }
        // Reachable instructions of this rule, in ascending order.
        let mut seen = vec![entry];
        let mut k = 0;
        while k < seen.len() {
            let i = &self.insns[seen[k] as usize];
            for j in [i.on_eq, i.on_ne, i.on_short] {
                if j < EXIT && !seen.contains(&j) {
                    seen.push(j);
                }
            }
            k += 1;
        }
        seen.sort_unstable_by(|a, b| b.cmp(a));
        for pc in seen {
            let i = &self.insns[pc as usize];
            let region = [Region::Data, Region::Net, Region::Transp][i.region as usize];
            let _ = write!(
                out,
                "  {pc:>5}: {}{:>3}/{:08x}%{:08x}  yes->{}  no->{}",
                region.name(),
                i.offset,
                i.value,
                i.mask,
                jump(i.on_eq),
                jump(i.on_ne)
            );
            if i.on_short == i.on_eq && i.on_eq != i.on_ne {
                out.push_str("  short->yes");
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(off: u16, value: u32, mask: u32) -> Expr {
        Expr::test(Test::new(Region::Data, off, value, mask))
    }

    #[test]
    fn tests_read_big_endian_words_and_respect_short_packets() {
        let data = [0x08, 0x00, 0x45, 0x00, 0xAA];
        let v = View::from_slices(&data, &[], &[]);
        assert!(t(0, 0x0800_0000, 0xFFFF_0000).eval(&v));
        assert!(t(4, 0xAA00_0000, 0xFF00_0000).eval(&v), "one byte of a partial word is enough");
        assert!(!t(4, 0x0000_0000, 0xFFFF_0000).eval(&v), "two bytes needed, one there");
        // `not` makes a short test true; `!=` (negate_keep_short) keeps it false.
        assert!(t(4, 0, 0xFFFF_0000).negate().eval(&v));
        assert!(!t(4, 0, 0xFFFF_0000).negate_keep_short().eval(&v));
        assert!(t(0, 0x0801_0000, 0xFFFF_0000).negate_keep_short().eval(&v));
        assert_eq!(t(0, 1, 0), Expr::Const(true), "an empty mask tests nothing");
    }

    #[test]
    fn code_agrees_with_the_interpreter() {
        let a = t(0, 0x0800_0000, 0xFFFF_0000);
        let b = t(4, 0xAA00_0000, 0xFF00_0000);
        let c = t(2, 0x4500, 0xFF00);
        let rules = vec![
            Expr::and(vec![a.clone(), b.clone().negate()]),
            Expr::or(vec![a.clone().negate(), c.clone()]),
            Expr::ternary(c.clone(), b.clone().negate_keep_short(), a.clone()),
            Expr::Const(true),
        ];
        let code = Code::new(&rules);
        for len in 0..=6 {
            for seed in 0..64u8 {
                let data: Vec<u8> =
                    (0..len).map(|i| if seed & (1 << i) != 0 { [0x08, 0, 0x45, 0, 0xAA, 1][i] } else { 0 }).collect();
                let v = View::from_slices(&data, &[], &[]);
                for (r, e) in rules.iter().enumerate() {
                    assert_eq!(code.eval(r, &v), e.eval(&v), "rule {r} on {data:?}");
                }
                assert_eq!(code.first_match(&v), reference_first_match(&rules, &v));
            }
        }
        let mut s = String::new();
        code.unparse_rule(0, &mut s);
        assert!(s.contains("/08000000%ffff0000"), "{s}");
    }
}

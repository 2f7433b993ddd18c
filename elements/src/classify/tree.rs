//! The decision structure classifiers run: a decision tree over packet fields whose leaves
//! hold the few rules that can still match, evaluated in rule order.
//!
//! **Fields.** Every test reads a word of a region through a mask. Tests of the same word
//! whose masks overlap (a /8 and a /24 test of the source address; the fragment-offset and
//! the fragment tests) are grouped into one *field*: the contiguous bits spanning their
//! masks, read as an unsigned number (bytes past the end of the region read as zero).
//! Masks that do not overlap make separate fields, so the source and destination ports of
//! one transport word are two fields. The length of each region tested is a field too: a
//! test is "region long enough, and the word's bits compare", or, for the tests whose
//! outcome on short packets is true, "region too short, or the bits compare".
//!
//! **Projections.** For every rule and field, the set of field values for which the rule
//! can match (a union of intervals) is computed from the rule's expression: a test gives
//! the values that satisfy it, `and` intersects, `or` joins. The set is exact for a test
//! whose mask is a prefix of its field (addresses, ports, the pieces Click makes of port
//! ranges); otherwise it is a safe over-approximation. A rule can match a packet only if
//! the packet's value of every field lies in the rule's set for that field. A rule that is
//! a conjunction of constraints on one field each is a *box*; its sure sets say which
//! packets it surely matches, and whether it matches exactly those.
//!
//! **Tree.** Each node covers a box of packet space (an interval per field) and the rules
//! whose sets meet it, in rule order. The packets too short for some test are split off at
//! the top, once. A node is then cut on the field and threshold that divide its rules best
//! (HyperSplit's binary cuts at rule boundaries, choosing the cut that copies the fewest
//! rules into both halves); a rule goes to each side its set meets. A box rule that
//! contains the node's box matches every packet reaching the node: the rules after it are
//! dropped there, and it becomes the node's default. Nodes are built largest first, within
//! a budget of nodes and rule copies proportional to the number of rules, so that rule sets
//! that no cut separates (firewalls full of wildcards) cannot blow up build time or memory:
//! past the budget, nodes become leaves, which is only slower.
//!
//! **Lookup.** Read the fields, walk from the root comparing one field per node, then try
//! the leaf's rules in rule order; the first that matches wins, else the leaf's default.
//! An exact box rule is tried by checking only the fields the leaf's box does not settle,
//! most selective first; other rules run their jump programs ([`Code`]). Because a leaf
//! keeps, in order, every rule that can match inside its box, the result is exactly the
//! first matching rule of the whole list. Lookup allocates nothing and costs the tree depth
//! plus a handful of rule checks, instead of one evaluation per rule.

use super::program::{read_word, Code, Expr, Region, Test, View};
use std::fmt::Write;

/// Leaves hold at most this many rules to evaluate (unless no cut separates them).
const LEAF_RULES: usize = 4;
/// Deepest tree built.
const MAX_DEPTH: usize = 48;
/// Nodes and rule references (rules are copied into every leaf they reach) a tree may have
/// per rule, plus a constant; past this budget, nodes become leaves (correct, only slower).
/// This bounds build time and memory for rule sets that no cut separates well.
const NODES_PER_RULE: usize = 64;
const REFS_PER_RULE: usize = 64;
const BUDGET_BASE: usize = 1024;
/// A test whose set of values has more intervals than 2^this is over-approximated.
const MAX_FREE_BITS: u32 = 6;

/// Inclusive intervals, sorted, disjoint and not adjacent.
type Set = Vec<(u64, u64)>;

fn normalize(mut v: Set) -> Set {
    v.sort_unstable();
    let mut out: Set = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn union(a: &Set, b: &Set) -> Set {
    normalize(a.iter().chain(b.iter()).copied().collect())
}

fn intersect(a: &Set, b: &Set) -> Set {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// `[0, top] \ a`.
fn complement(a: &Set, top: u64) -> Set {
    let mut out = Vec::new();
    let mut next = 0u64;
    for &(lo, hi) in a {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi.saturating_add(1);
    }
    if next <= top {
        out.push((next, top));
    }
    out
}

/// The contiguous bits from the highest to the lowest set bit of `mask` (nonzero).
fn hull(mask: u32) -> u32 {
    let hi = 31 - mask.leading_zeros();
    let lo = mask.trailing_zeros();
    (u32::MAX >> (31 - hi)) & (u32::MAX << lo)
}

/// A packet field: contiguous bits of one word of a region (missing bytes read as zero),
/// or the length of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    region: Region,
    /// True for the length of the region; then `offset`, `mask` and `shift` are unused.
    length: bool,
    offset: u16,
    mask: u32,
    shift: u32,
    /// Largest value.
    max: u64,
}

impl Field {
    fn word(region: Region, offset: u16, mask: u32) -> Field {
        let shift = mask.trailing_zeros();
        Field { region, length: false, offset, mask, shift, max: u64::from(mask >> shift) }
    }

    fn length(region: Region) -> Field {
        Field { region, length: true, offset: 0, mask: 0, shift: 0, max: u64::from(u32::MAX) }
    }

    fn contains(&self, t: &Test) -> bool {
        !self.length && t.region == self.region && t.offset == self.offset && t.mask & !self.mask == 0
    }

    #[inline(always)]
    fn value(&self, v: &View) -> u64 {
        let s = v.region(self.region);
        if self.length {
            (s.len() as u64).min(self.max)
        } else {
            u64::from((read_word(s, self.offset as usize) & self.mask) >> self.shift)
        }
    }

    fn describe(&self) -> String {
        let region = match self.region {
            Region::Data => "data",
            Region::Net => "ip",
            Region::Transp => "transp",
        };
        if self.length {
            format!("len({region})")
        } else {
            format!("{region}[{}]&{:08x}", self.offset, self.mask)
        }
    }

    /// Values of this (word) field for which `t`'s comparison holds, ignoring short packets:
    /// a superset, and whether it is exact.
    fn test_set(&self, t: &Test) -> (Set, bool) {
        let m = u64::from(t.mask >> self.shift);
        let v = u64::from(t.value >> self.shift);
        let block = (1u64 << m.trailing_zeros()) - 1;
        let free = self.max & !m & !block;
        let (matching, exact) = if free.count_ones() <= MAX_FREE_BITS {
            // Every combination of the free bits above the lowest mask bit is an interval.
            let mut ivs = Vec::new();
            let mut sub = 0u64;
            loop {
                ivs.push((v | sub, v | sub | block));
                sub = sub.wrapping_sub(free) & free;
                if sub == 0 {
                    break;
                }
            }
            (normalize(ivs), true)
        } else {
            (vec![(v, v | free | block)], false)
        };
        match (t.negate, exact) {
            (false, _) => (matching, exact),
            (true, true) => (complement(&matching, self.max), true),
            (true, false) => (vec![(0, self.max)], false),
        }
    }

    /// Values for which `t`'s comparison surely holds (a subset).
    fn test_must(&self, t: &Test) -> Set {
        let (set, exact) = self.test_set(&Test { negate: false, ..*t });
        match (t.negate, exact) {
            (false, true) => set,
            (false, false) => Vec::new(),
            (true, _) => complement(&set, self.max),
        }
    }
}

/// The values of field `f` for which `e` can be true (a superset).
///
/// A test is `len >= need && cmp(word)`, or `len < need || cmp(word)` when its short outcome
/// is true: the first constrains both the word's field and the region's length field, the
/// second neither.
fn project(e: &Expr, fields: &[Field], f: usize) -> Set {
    let field = &fields[f];
    let all = vec![(0, field.max)];
    match e {
        Expr::Const(true) => all,
        Expr::Const(false) => Vec::new(),
        Expr::Test(t) if t.short => all,
        Expr::Test(t) if field.length && t.region == field.region => vec![(t.need() as u64, field.max)],
        Expr::Test(t) if field.contains(t) => field.test_set(t).0,
        Expr::Test(_) => all,
        Expr::And(es) => es.iter().fold(all, |s, e| intersect(&s, &project(e, fields, f))),
        Expr::Or(es) => es.iter().fold(Vec::new(), |s, e| union(&s, &project(e, fields, f))),
        Expr::Ternary(b) => {
            let (c, a, x) = (&b.0, &b.1, &b.2);
            let yes = intersect(&project(c, fields, f), &project(a, fields, f));
            let no = intersect(&project(&c.clone().negate(), fields, f), &project(x, fields, f));
            union(&yes, &no)
        }
    }
}

/// The values of word field `f` for which `e` is surely true, given that the region holds
/// every byte `e`'s tests need (a subset). Only tests of field `f` may occur in `e`.
fn must(e: &Expr, field: &Field) -> Set {
    match e {
        Expr::Const(true) => vec![(0, field.max)],
        Expr::Const(false) => Vec::new(),
        Expr::Test(t) => field.test_must(t),
        Expr::And(es) => es.iter().fold(vec![(0, field.max)], |s, e| intersect(&s, &must(e, field))),
        Expr::Or(es) => es.iter().fold(Vec::new(), |s, e| union(&s, &must(e, field))),
        Expr::Ternary(b) => {
            let yes = intersect(&must(&b.0, field), &must(&b.1, field));
            let no = intersect(&must(&b.0.clone().negate(), field), &must(&b.2, field));
            union(&yes, &no)
        }
    }
}

/// The fields of a rule set: per word, the overlapping test masks merged; and the length
/// of every region tested.
fn derive_fields(rules: &[Expr]) -> Vec<Field> {
    let mut words: Vec<(Region, u16, Vec<u32>)> = Vec::new();
    let mut regions: Vec<Region> = Vec::new();
    for e in rules {
        e.for_each_test(&mut |t| {
            if !regions.contains(&t.region) {
                regions.push(t.region);
            }
            let h = hull(t.mask);
            match words.iter_mut().find(|w| w.0 == t.region && w.1 == t.offset) {
                Some(w) => {
                    if !w.2.contains(&h) {
                        w.2.push(h)
                    }
                }
                None => words.push((t.region, t.offset, vec![h])),
            }
        });
    }
    let mut fields: Vec<Field> = Vec::new();
    for (region, offset, mut merged) in words {
        // Merge overlapping bit ranges until none overlap.
        let mut i = 0;
        while i < merged.len() {
            match (i + 1..merged.len()).find(|&j| merged[i] & merged[j] != 0) {
                Some(j) => {
                    merged[i] = hull(merged[i] | merged[j]);
                    merged.remove(j);
                }
                None => i += 1,
            }
        }
        fields.extend(merged.into_iter().map(|m| Field::word(region, offset, m)));
    }
    regions.sort_unstable();
    fields.extend(regions.into_iter().map(Field::length));
    fields
}

/// If `e` is a conjunction whose every conjunct tests a single word field, the box of
/// packets it surely matches: per field, the values (lengths at least the bytes its tests
/// need, and words in the conjuncts' sure sets). `None` otherwise. The flag tells whether
/// the rule matches exactly the packets of the box: every test's set is exact, false on
/// short packets, and the tests of a conjunct need the same bytes.
fn sure_box(e: &Expr, fields: &[Field]) -> Option<(Vec<Set>, bool)> {
    let conjuncts: &[Expr] = match e {
        Expr::And(v) => v,
        e => std::slice::from_ref(e),
    };
    let mut bx: Vec<Set> = fields.iter().map(|f| vec![(0, f.max)]).collect();
    let mut exact = true;
    for c in conjuncts {
        let mut field: Option<usize> = None;
        let mut single = true;
        let mut need = 0;
        let mut min_need = usize::MAX;
        c.for_each_test(&mut |t| {
            need = need.max(t.need());
            min_need = min_need.min(t.need());
            if t.short {
                exact = false;
            }
            if let Some(f) = fields.iter().find(|f| f.contains(t)) {
                if !f.test_set(t).1 {
                    exact = false;
                }
            }
            match (field, fields.iter().position(|f| f.contains(t))) {
                (_, None) => single = false,
                (None, Some(f)) => field = Some(f),
                (Some(g), Some(f)) if g != f => single = false,
                _ => {}
            }
        });
        match (c, field) {
            (Expr::Const(true), _) => continue,
            (_, Some(f)) if single => {
                let l = fields.iter().position(|x| x.length && x.region == fields[f].region)?;
                bx[f] = intersect(&bx[f], &must(c, &fields[f]));
                bx[l] = intersect(&bx[l], &vec![(need as u64, fields[l].max)]);
                if min_need != need {
                    exact = false;
                }
            }
            _ => return None,
        }
    }
    Some((bx, exact))
}

const LEAF: u32 = u32::MAX;
/// Up to this many fields, a lookup reads them all first.
const CACHED: usize = 16;
const NO_RULE: u64 = u64::MAX;

/// A rule of a leaf: evaluated by its jump program, or (for rules that are exactly a box)
/// by checking the fields the leaf's box does not settle: `checks[start..start + n]`.
#[derive(Clone, Copy, Debug)]
struct LeafRule {
    rule: u32,
    start: u32,
    /// `BY_CODE`: run the rule's jump program.
    n: u32,
}

const BY_CODE: u32 = u32::MAX;

/// One field check of a box rule in a leaf: the field's value lies in `intervals[a..b]`.
#[derive(Clone, Copy, Debug)]
struct Check {
    field: u32,
    a: u32,
    b: u32,
}

/// A tree node: a split on `field` at `thresh` (values ≤ go to `a`, others to `b`), or a
/// leaf (`field == LEAF`) whose rules are `leaf_rules[a..b]` and whose default rule is
/// `thresh` (`NO_RULE` if none).
#[derive(Clone, Copy, Debug)]
struct Node {
    thresh: u64,
    field: u32,
    a: u32,
    b: u32,
}

/// The compiled classifier: rules as jump programs, and the decision tree over them.
#[derive(Clone, Debug)]
pub struct Tree {
    code: Code,
    fields: Vec<Field>,
    nodes: Vec<Node>,
    leaf_rules: Vec<LeafRule>,
    checks: Vec<Check>,
    intervals: Vec<(u64, u64)>,
    depth: usize,
    /// Rules that no packet can reach (an earlier rule always matches first, or the rule
    /// contradicts itself).
    unreachable: Vec<usize>,
}

/// A node waiting to be built: its rules (in order) and its box.
struct Pending {
    node: u32,
    rules: Vec<u32>,
    bx: Vec<(u64, u64)>,
    depth: usize,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.rules.len() == o.rules.len()
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.rules.len().cmp(&o.rules.len())
    }
}

struct Builder {
    max_nodes: usize,
    max_refs: usize,
    proj: Vec<Vec<Set>>,
    boxes: Vec<Option<(Vec<Set>, bool)>>,
    nodes: Vec<Node>,
    leaf_rules: Vec<LeafRule>,
    checks: Vec<Check>,
    intervals: Vec<(u64, u64)>,
    /// Rule references held by leaves and by nodes still to be built.
    refs: usize,
    depth: usize,
}

/// The part of `set` inside `[lo, hi]`: its smallest and largest values there.
fn clip(set: &Set, (lo, hi): (u64, u64)) -> Option<(u64, u64)> {
    let first = set.iter().find(|iv| iv.1 >= lo && iv.0 <= hi)?;
    let last = set.iter().rev().find(|iv| iv.1 >= lo && iv.0 <= hi)?;
    Some((first.0.max(lo), last.1.min(hi)))
}

fn contains_box(set: &Set, (lo, hi): (u64, u64)) -> bool {
    set.iter().any(|iv| iv.0 <= lo && hi <= iv.1)
}

impl Builder {
    fn placeholder(&mut self) -> u32 {
        self.nodes.push(Node { thresh: NO_RULE, field: LEAF, a: 0, b: 0 });
        (self.nodes.len() - 1) as u32
    }

    fn make_leaf(&mut self, node: u32, rules: &[u32], default: Option<u32>, bx: &[(u64, u64)]) {
        let a = self.leaf_rules.len() as u32;
        for &r in rules {
            let lr = match &self.boxes[r as usize] {
                Some((sure, true)) => {
                    let start = self.checks.len() as u32;
                    // Check the fields the box does not settle, the most selective first.
                    let mut open: Vec<(f64, usize, Set)> = Vec::new();
                    for (f, (set, &b)) in sure.iter().zip(bx).enumerate() {
                        if !contains_box(set, b) {
                            let inside: Vec<(u64, u64)> = set
                                .iter()
                                .filter(|iv| iv.1 >= b.0 && iv.0 <= b.1)
                                .map(|iv| (iv.0.max(b.0), iv.1.min(b.1)))
                                .collect();
                            let covered: f64 = inside.iter().map(|iv| (iv.1 - iv.0) as f64 + 1.0).sum();
                            open.push((covered / ((b.1 - b.0) as f64 + 1.0), f, inside));
                        }
                    }
                    open.sort_by(|x, y| x.0.total_cmp(&y.0));
                    for (_, f, inside) in open {
                        let a = self.intervals.len() as u32;
                        self.intervals.extend(inside);
                        self.checks.push(Check { field: f as u32, a, b: self.intervals.len() as u32 });
                    }
                    LeafRule { rule: r, start, n: self.checks.len() as u32 - start }
                }
                _ => LeafRule { rule: r, start: 0, n: BY_CODE },
            };
            self.leaf_rules.push(lr);
        }
        self.nodes[node as usize] =
            Node { thresh: default.map_or(NO_RULE, u64::from), field: LEAF, a, b: self.leaf_rules.len() as u32 };
    }

    /// Turn `p`'s node into a cut of field `f` at `t`; returns the two halves.
    fn split(&mut self, p: Pending, f: usize, t: u64) -> (Pending, Pending) {
        let (lo, hi) = p.bx[f];
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for &r in &p.rules {
            if let Some((a, b)) = clip(&self.proj[r as usize][f], (lo, hi)) {
                if a <= t {
                    left.push(r);
                }
                if b > t {
                    right.push(r);
                }
            }
        }
        self.refs = self.refs + left.len() + right.len() - p.rules.len();
        let (a, b) = (self.placeholder(), self.placeholder());
        self.nodes[p.node as usize] = Node { thresh: t, field: f as u32, a, b };
        let depth = p.depth + 1;
        self.depth = self.depth.max(depth);
        let mut lbox = p.bx.clone();
        lbox[f] = (lo, t);
        let mut rbox = p.bx;
        rbox[f] = (t + 1, hi);
        (Pending { node: a, rules: left, bx: lbox, depth }, Pending { node: b, rules: right, bx: rbox, depth })
    }

    /// Build the tree best-first: the node with the most rules is split first, so that the
    /// budget goes where it shortens lookups most.
    fn build(&mut self, pending: Vec<Pending>) {
        let mut heap: std::collections::BinaryHeap<Pending> = pending.into();
        while let Some(mut p) = heap.pop() {
            // The first rule that surely matches the whole box ends the list.
            let mut default = None;
            if let Some(k) = p.rules.iter().position(|&r| {
                self.boxes[r as usize]
                    .as_ref()
                    .is_some_and(|(sure, _)| p.bx.iter().zip(sure).all(|(&b, s)| contains_box(s, b)))
            }) {
                default = Some(p.rules[k]);
                self.refs -= p.rules.len() - k;
                p.rules.truncate(k);
            }
            let over_budget = self.nodes.len() + 2 > self.max_nodes || self.refs > self.max_refs;
            if p.rules.len() <= LEAF_RULES || p.depth >= MAX_DEPTH || over_budget {
                self.make_leaf(p.node, &p.rules, default, &p.bx);
                continue;
            }
            let Some((f, t)) = self.best_cut(&p.rules, &p.bx) else {
                self.make_leaf(p.node, &p.rules, default, &p.bx);
                continue;
            };
            // The default covers the whole box, so it covers both halves.
            if let Some(d) = default {
                p.rules.push(d);
                self.refs += 1;
            }
            let (l, r) = self.split(p, f, t);
            heap.push(l);
            heap.push(r);
        }
    }

    /// The cut that copies the fewest rules into both halves (and then the most even).
    /// A cut must either leave one half empty (it narrows the box, which costs nothing
    /// and lets a rule cover it), or take at least a sixteenth of the rules out of the
    /// larger half without copying more than half of them into both.
    fn best_cut(&self, rules: &[u32], bx: &[(u64, u64)]) -> Option<(usize, u64)> {
        let n = rules.len();
        let mut best: Option<((usize, usize), usize, u64)> = None;
        let mut mins = Vec::with_capacity(n);
        let mut maxs = Vec::with_capacity(n);
        let mut cuts = Vec::new();
        for (f, &(lo, hi)) in bx.iter().enumerate() {
            if lo == hi {
                continue;
            }
            mins.clear();
            maxs.clear();
            cuts.clear();
            for &r in rules {
                let set = &self.proj[r as usize][f];
                if let Some((a, b)) = clip(set, (lo, hi)) {
                    mins.push(a);
                    maxs.push(b);
                    for &(x, y) in set.iter().filter(|iv| iv.1 >= lo && iv.0 <= hi) {
                        if x > lo {
                            cuts.push(x - 1);
                        }
                        if y < hi {
                            cuts.push(y);
                        }
                    }
                }
            }
            if cuts.is_empty() {
                continue;
            }
            mins.sort_unstable();
            maxs.sort_unstable();
            cuts.sort_unstable();
            cuts.dedup();
            for &t in &cuts {
                let nl = mins.partition_point(|&a| a <= t);
                let nr = maxs.len() - maxs.partition_point(|&b| b <= t);
                let shrink = nl.min(nr) == 0;
                let splits = nl.max(nr) + (n / 16).max(1) <= n && nl + nr <= n + n / 2 + 1;
                if !shrink && !splits {
                    continue;
                }
                let cost = (nl + nr, nl.max(nr));
                if best.as_ref().is_none_or(|b| cost < b.0) {
                    best = Some((cost, f, t));
                }
            }
        }
        best.map(|(_, f, t)| (f, t))
    }
}

impl Tree {
    /// Compile `rules` (in priority order).
    pub fn new(rules: &[Expr]) -> Tree {
        let code = Code::new(rules);
        let fields = derive_fields(rules);
        let proj: Vec<Vec<Set>> =
            rules.iter().map(|e| (0..fields.len()).map(|f| project(e, &fields, f)).collect()).collect();
        let boxes = rules.iter().map(|e| sure_box(e, &fields)).collect();
        let max_nodes = NODES_PER_RULE * rules.len() + BUDGET_BASE;
        let max_refs = REFS_PER_RULE * rules.len() + BUDGET_BASE;
        let mut b = Builder {
            max_nodes,
            max_refs,
            proj,
            boxes,
            nodes: Vec::new(),
            leaf_rules: Vec::new(),
            checks: Vec::new(),
            intervals: Vec::new(),
            refs: 0,
            depth: 0,
        };
        // Rules that cannot match anything (an empty set on some field) are left out.
        let live: Vec<u32> =
            (0..rules.len() as u32).filter(|&r| b.proj[r as usize].iter().all(|s| !s.is_empty())).collect();
        b.refs = live.len();
        let root = b.placeholder();
        let mut main = Pending { node: root, rules: live, bx: fields.iter().map(|f| (0, f.max)).collect(), depth: 0 };
        // First split off the packets too short for some test of a region, once, at the
        // top: below, every test has its bytes, and rules can cover boxes.
        let mut pending = Vec::new();
        for (f, field) in fields.iter().enumerate().filter(|(_, f)| f.length) {
            let mut need = 0;
            for e in rules {
                e.for_each_test(&mut |t| {
                    if t.region == field.region {
                        need = need.max(t.need());
                    }
                });
            }
            if need > 0 {
                let (short, long) = b.split(main, f, need as u64 - 1);
                pending.push(short);
                main = long;
            }
        }
        pending.push(main);
        b.build(pending);
        let mut reached = vec![false; rules.len()];
        for lr in &b.leaf_rules {
            reached[lr.rule as usize] = true;
        }
        for n in &b.nodes {
            if n.field == LEAF && n.thresh != NO_RULE {
                reached[n.thresh as usize] = true;
            }
        }
        let unreachable = (0..rules.len()).filter(|&r| !reached[r]).collect();
        Tree {
            code,
            fields,
            nodes: b.nodes,
            leaf_rules: b.leaf_rules,
            checks: b.checks,
            intervals: b.intervals,
            depth: b.depth,
            unreachable,
        }
    }

    /// The first rule that matches the packet.
    #[inline]
    pub fn first_match(&self, v: &View) -> Option<usize> {
        // With few fields (the usual case), read them all once up front: a handful of loads,
        // and then every comparison of the walk and the leaf is a register compare.
        let mut vals = [0u64; CACHED];
        let cached = self.fields.len() <= CACHED;
        if cached {
            for (x, f) in vals.iter_mut().zip(&self.fields) {
                *x = f.value(v);
            }
        }
        let value = |f: u32| if cached { vals[f as usize % CACHED] } else { self.fields[f as usize].value(v) };
        let mut n = &self.nodes[0];
        while n.field != LEAF {
            n = &self.nodes[if value(n.field) <= n.thresh { n.a } else { n.b } as usize];
        }
        for lr in &self.leaf_rules[n.a as usize..n.b as usize] {
            let hit = if lr.n == BY_CODE {
                self.code.eval(lr.rule as usize, v)
            } else {
                self.checks[lr.start as usize..(lr.start + lr.n) as usize].iter().all(|c| {
                    let x = value(c.field);
                    self.intervals[c.a as usize..c.b as usize].iter().any(|&(lo, hi)| lo <= x && x <= hi)
                })
            };
            if hit {
                return Some(lr.rule as usize);
            }
        }
        (n.thresh != NO_RULE).then_some(n.thresh as usize)
    }

    /// The first matching rule by trying every rule's jump program in order (the linear
    /// baseline the tree is measured against).
    pub fn first_match_linear(&self, v: &View) -> Option<usize> {
        self.code.first_match(v)
    }

    /// Rules that can never be the first match.
    pub fn unreachable(&self) -> &[usize] {
        &self.unreachable
    }

    /// Node count, leaf count, depth, and the largest number of rules a leaf evaluates.
    pub fn shape(&self) -> (usize, usize, usize, usize) {
        let leaves: Vec<&Node> = self.nodes.iter().filter(|n| n.field == LEAF).collect();
        let widest = leaves.iter().map(|n| (n.b - n.a) as usize).max().unwrap_or(0);
        (self.nodes.len(), leaves.len(), self.depth, widest)
    }

    /// Human-readable description: the tree's shape and fields, then every rule's program.
    pub fn unparse(&self) -> String {
        let (nodes, leaves, depth, widest) = self.shape();
        let mut s = format!(
            "decision tree: {nodes} nodes, {leaves} leaves, depth {depth}, at most {widest} rules tested per leaf\n"
        );
        let names: Vec<String> = self.fields.iter().map(Field::describe).collect();
        let _ = writeln!(s, "fields: {}", if names.is_empty() { "none".to_string() } else { names.join(" ") });
        for r in 0..self.code.len() {
            let _ = writeln!(s, "rule {r}:");
            self.code.unparse_rule(r, &mut s);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::program::reference_first_match;

    #[test]
    fn interval_sets() {
        assert_eq!(normalize(vec![(5, 6), (0, 2), (3, 4), (9, 9)]), vec![(0, 6), (9, 9)]);
        assert_eq!(intersect(&vec![(0, 5), (8, 10)], &vec![(4, 9)]), vec![(4, 5), (8, 9)]);
        assert_eq!(complement(&vec![(0, 5), (8, 10)], 12), vec![(6, 7), (11, 12)]);
        assert_eq!(complement(&vec![], 3), vec![(0, 3)]);
        assert_eq!(hull(0x0001_0100), 0x0001_FF00);
    }

    #[test]
    fn test_sets_are_exact_for_prefix_masks() {
        let f = Field::word(Region::Net, 12, 0xFFFF_FFFF);
        let t = Test::new(Region::Net, 12, 0x0A00_0000, 0xFF00_0000);
        assert_eq!(f.test_set(&t), (vec![(0x0A00_0000, 0x0AFF_FFFF)], true));
        let neg = Test { negate: true, short: false, ..t };
        assert_eq!(f.test_set(&neg), (vec![(0, 0x09FF_FFFF), (0x0B00_0000, 0xFFFF_FFFF)], true));
        let fields = [f, Field::length(Region::Net)];
        assert_eq!(project(&Expr::Test(t), &fields, 1), vec![(13, u64::from(u32::MAX))]);
        let short = Test { short: true, ..t };
        assert_eq!(project(&Expr::Test(short), &fields, 0), vec![(0, u64::from(u32::MAX))]);
        assert!(sure_box(&Expr::Test(t), &fields).is_some());
        // A single-bit test of a 16-bit field: many intervals, approximated.
        let g = Field::word(Region::Transp, 0, 0xFFFF);
        let (s, exact) = g.test_set(&Test::new(Region::Transp, 0, 1, 1));
        assert!(!exact && s[0] == (1, 0xFFFF));
    }

    #[test]
    fn fields_merge_overlapping_masks_only() {
        let rules = vec![
            Expr::test(Test::new(Region::Transp, 0, 80 << 16, 0xFFFF_0000)),
            Expr::test(Test::new(Region::Transp, 0, 80, 0xFFFF)),
            Expr::test(Test::new(Region::Net, 12, 0x0A00_0000, 0xFF00_0000)),
            Expr::test(Test::new(Region::Net, 12, 0x0A01_0200, 0xFFFF_FF00)),
        ];
        let fields = derive_fields(&rules);
        assert_eq!(fields.len(), 5, "{fields:?}");
        assert!(fields.contains(&Field::word(Region::Net, 12, 0xFFFF_FF00)));
        assert!(fields.contains(&Field::length(Region::Transp)));
    }

    /// A tiny deterministic generator for tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn tree_agrees_with_the_reference_on_random_rules_and_packets() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..40 {
            let nrules = 1 + rng.below(60) as usize;
            let mut rules = Vec::new();
            for _ in 0..nrules {
                let mut parts = Vec::new();
                for _ in 0..1 + rng.below(4) {
                    let off = [0u16, 4, 8][rng.below(3) as usize];
                    let len = 1 + rng.below(32) as u32;
                    let mask = match rng.below(3) {
                        0 => u32::MAX << (32 - len),
                        1 => 0xFFFF_0000 & (u32::MAX << (32 - len.min(16))),
                        _ => rng.next() as u32 & 0x0F0F_FFFF,
                    };
                    let value = (rng.below(4) as u32).wrapping_mul(0x4000_0001) & mask;
                    let t = Test {
                        negate: rng.below(4) == 0,
                        short: rng.below(3) == 0,
                        ..Test::new(Region::Data, off, value, mask)
                    };
                    parts.push(Expr::test(t));
                }
                let e = match rng.below(4) {
                    0 => Expr::or(parts),
                    1 if parts.len() >= 3 => {
                        let c = parts.pop().unwrap();
                        let a = parts.pop().unwrap();
                        Expr::ternary(c, a, Expr::and(parts))
                    }
                    _ => Expr::and(parts),
                };
                rules.push(e);
            }
            let tree = Tree::new(&rules);
            for _ in 0..400 {
                let len = rng.below(13) as usize;
                let data: Vec<u8> = (0..len)
                    .map(|_| match rng.below(3) {
                        0 => 0,
                        1 => 0x40,
                        _ => rng.next() as u8,
                    })
                    .collect();
                let v = View::from_slices(&data, &[], &[]);
                let want = reference_first_match(&rules, &v);
                assert_eq!(tree.first_match(&v), want, "round {round}, packet {data:02x?}");
                assert_eq!(tree.first_match_linear(&v), want);
            }
        }
    }
}

/// Shapes and build times of the trees of the ClassBench sets (run with
/// `cargo test --release -p sluice-elements tree_shapes -- --ignored --nocapture`).
#[cfg(test)]
mod shapes {
    use super::*;
    use crate::classify::classbench::parse_rules;
    use crate::classify::ip_pattern::parse_pattern;

    #[test]
    #[ignore]
    fn tree_shapes() {
        for name in ["acl1_1000", "fw1_1000", "acl1_10000", "fw1_10000", "fw1_morpheus.classbench"] {
            let path = crate::classify::testdata::data_path("acl", name);
            let rules = parse_rules(&std::fs::read_to_string(path).unwrap()).unwrap();
            for n in [10, 100, 1000, rules.len()] {
                let n = n.min(rules.len());
                let exprs: Vec<Expr> =
                    rules[..n].iter().map(|r| parse_pattern(&r.pattern(), &mut Vec::new()).unwrap()).collect();
                let t = std::time::Instant::now();
                let tree = Tree::new(&exprs);
                let (nodes, leaves, depth, widest) = tree.shape();
                println!(
                    "{name} {n}: {nodes} nodes, {leaves} leaves, depth {depth}, widest {widest}, {} refs, built in {:?}",
                    tree.leaf_rules.len(),
                    t.elapsed()
                );
            }
        }
    }
}

//! The element body Classifier, IPClassifier and IPFilter share: a compiled rule list, what
//! each rule does with a packet, and the batch split.

use super::program::{Expr, View};
use super::tree::Tree;
use sluice::drops::DropCounts;
use sluice::{Batch, Combine, Ctx, Element, HandlerSpec, Packet};

/// Drop reasons of all three classes (each class uses a prefix of this list).
pub const REASONS_IP: &[&str] = &[
    "matched no pattern",
    "no network header annotation (set it with CheckIPHeader or MarkIPHeader)",
    "matched a drop or deny rule",
];
pub const REASONS_DATA: &[&str] = &["matched no pattern"];
const NO_MATCH: usize = 0;
const NO_HEADER: usize = 1;
const DROP_RULE: usize = 2;

/// The handlers of the three classes.
pub const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("program", Combine::First, "the compiled decision tree and rule programs"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped (no match, or a drop rule)"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

/// A classifier element: rules in priority order, each sending its packets to an output
/// (`Some`) or dropping them (`None`).
pub struct Classify {
    tree: Tree,
    actions: Vec<Option<usize>>,
    /// Tests read the IP view of packets (IPClassifier, IPFilter) rather than their data.
    ip: bool,
    drops: DropCounts,
    /// One batch per output, reused for every split.
    outs: Vec<Batch>,
}

impl Classify {
    pub fn new(rules: &[Expr], actions: Vec<Option<usize>>, ip: bool, noutputs: usize) -> Classify {
        let tree = Tree::new(rules);
        Classify {
            tree,
            actions,
            ip,
            drops: DropCounts::new(if ip { REASONS_IP } else { REASONS_DATA }),
            outs: (0..noutputs).map(|_| Batch::new()).collect(),
        }
    }

    /// Rules no packet can reach, for Click's "pattern N matches no packets" warning.
    pub fn unreachable(&self) -> &[usize] {
        self.tree.unreachable()
    }

    /// The output for a packet (`None`: drop), counting drops by reason.
    #[inline]
    fn route(tree: &Tree, actions: &[Option<usize>], ip: bool, counts: &mut [u64; 3], p: &Packet) -> Option<usize> {
        let view = if ip { View::ip(p) } else { View::data(p) };
        match tree.first_match(&view) {
            Some(r) => {
                let out = actions[r];
                if out.is_none() {
                    counts[DROP_RULE] += 1;
                }
                out
            }
            None => {
                counts[if ip && p.network_header().is_none() { NO_HEADER } else { NO_MATCH }] += 1;
                None
            }
        }
    }
}

impl Element for Classify {
    #[inline]
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let (tree, actions, ip) = (&self.tree, &self.actions[..], self.ip);
        let mut counts = [0u64; 3];
        batch.split_into(&mut self.outs, |p| Self::route(tree, actions, ip, &mut counts, p).unwrap_or(usize::MAX));
        for (reason, &n) in counts.iter().enumerate() {
            if n > 0 {
                self.drops.count(reason, n);
            }
        }
        for (port, out) in self.outs.iter_mut().enumerate() {
            if !out.is_empty() {
                ctx.push(port, std::mem::take(out));
            }
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "program" => Some(self.tree.unparse()),
            _ => self.drops.read_handler(name),
        }
    }
}

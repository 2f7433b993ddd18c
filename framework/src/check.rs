//! The checker: turns a parsed [`Graph`] into a [`Plan`] the router can instantiate, or
//! refuses it with every error found.
//!
//! It resolves classes against the [`Registry`], checks port counts and that every port in
//! range is connected, builds each element once to validate its configuration, and resolves
//! push/pull processing the way Click does: agnostic ports of an element take one kind, a
//! connection joins the kinds of its two ends, unconstrained ports default to push, and a
//! push output meeting a pull input is an error.

use crate::element::{BuildCtx, Declarations, ElementClass};
use crate::error::{GraphErrors, Loc};
use crate::graph::Graph;
use crate::ports::PortKind;
use crate::registry::Registry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A checked graph, ready to instantiate on any number of workers.
#[derive(Clone)]
pub struct Plan {
    pub graph: Graph,
    pub classes: Vec<ElementClass>,
    /// Resolved kind (Push or Pull) of every input and output port, per element.
    pub inputs: Vec<Vec<PortKind>>,
    pub outputs: Vec<Vec<PortKind>>,
    /// For each element's output port: the connected (element, input port) pairs.
    pub out_edges: Vec<Vec<Vec<(usize, usize)>>>,
    /// For each element's input port: the connected (element, output port) pairs.
    pub in_edges: Vec<Vec<Vec<(usize, usize)>>>,
    /// Directory of the graph file, for relative paths in configurations.
    pub base_dir: PathBuf,
    /// Elements that lie on a cycle of connections: a call can come back to them while
    /// they run, so the router guards them against re-entry.
    pub on_cycle: Vec<bool>,
    /// The graph's elements by name, shared by every [`BuildCtx`] of the plan (for
    /// configurations that name another element).
    pub declarations: Arc<Declarations>,
}

impl Plan {
    pub fn len(&self) -> usize {
        self.graph.elements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.elements.is_empty()
    }

    pub fn build_ctx(&self, e: usize, worker: usize, nworkers: usize) -> BuildCtx {
        BuildCtx {
            name: self.graph.elements[e].name.clone(),
            class: self.classes[e].name,
            ninputs: self.inputs[e].len(),
            noutputs: self.outputs[e].len(),
            worker,
            nworkers,
            base_dir: self.base_dir.clone(),
            declarations: Arc::clone(&self.declarations),
        }
    }
}

/// Check `graph` against `registry`. `base_dir` is where relative file names resolve.
pub fn check(graph: Graph, registry: &Registry, base_dir: &Path) -> Result<Plan, GraphErrors> {
    let mut errs = GraphErrors::default();
    let n = graph.elements.len();

    // Classes.
    let mut classes: Vec<Option<ElementClass>> = Vec::with_capacity(n);
    for e in &graph.elements {
        let c = registry.get(&e.class);
        if c.is_none() {
            errs.push(e.loc.clone(), registry.unknown_class_message(&e.class));
        }
        classes.push(c);
    }

    // Port usage: the highest connected port decides the count, as in Click.
    let mut out_edges: Vec<Vec<Vec<(usize, usize)>>> = vec![Vec::new(); n];
    let mut in_edges: Vec<Vec<Vec<(usize, usize)>>> = vec![Vec::new(); n];
    let mut out_locs: Vec<Vec<Vec<Loc>>> = vec![Vec::new(); n];
    let mut in_locs: Vec<Vec<Vec<Loc>>> = vec![Vec::new(); n];
    for c in &graph.connections {
        grow(&mut out_edges[c.from], c.from_port);
        grow(&mut out_locs[c.from], c.from_port);
        grow(&mut in_edges[c.to], c.to_port);
        grow(&mut in_locs[c.to], c.to_port);
        if !out_edges[c.from][c.from_port].contains(&(c.to, c.to_port)) {
            out_edges[c.from][c.from_port].push((c.to, c.to_port));
            out_locs[c.from][c.from_port].push(c.loc.clone());
            in_edges[c.to][c.to_port].push((c.from, c.from_port));
            in_locs[c.to][c.to_port].push(c.loc.clone());
        }
    }

    for (i, e) in graph.elements.iter().enumerate() {
        let Some(class) = &classes[i] else { continue };
        let (imax, omax) = class.port_count();
        for (side, edges, range) in [("input", &mut in_edges[i], imax), ("output", &mut out_edges[i], omax)] {
            let used = edges.len();
            if let Some(max) = range.max {
                if used > max {
                    let plural = if max == 1 { "" } else { "s" };
                    errs.push(
                        e.loc.clone(),
                        format!(
                            "'{}' ({}) has {} {side}{plural}, but {side} {} is connected",
                            e.name,
                            e.class,
                            range.describe(),
                            used - 1
                        ),
                    );
                    continue;
                }
            }
            // Ports below the minimum and holes below the highest used port are unconnected.
            let count = used.max(range.min);
            edges.resize(count, Vec::new());
            for (port, list) in edges.iter().enumerate() {
                if list.is_empty() {
                    errs.push(e.loc.clone(), format!("{side} {port} of '{}' is not connected", e.name));
                }
            }
        }
    }

    // Configurations: build once on a scratch context to report argument errors now.
    let mut plan_base = PathBuf::from(base_dir);
    if plan_base.as_os_str().is_empty() {
        plan_base = PathBuf::from(".");
    }
    let declarations = Arc::new(Declarations::of_graph(&graph));
    for (i, e) in graph.elements.iter().enumerate() {
        let Some(class) = &classes[i] else { continue };
        let ctx = BuildCtx {
            name: e.name.clone(),
            class: class.name,
            ninputs: in_edges[i].len(),
            noutputs: out_edges[i].len(),
            worker: 0,
            nworkers: 1,
            base_dir: plan_base.clone(),
            declarations: Arc::clone(&declarations),
        };
        if let Err(err) = class.instantiate(&e.config, &ctx) {
            errs.push(e.config_loc.clone(), format!("{} '{}': {}", e.class, e.name, err));
        }
    }

    // Push/pull resolution needs every class; with an unknown one, report what we have.
    let Some(classes) = classes.into_iter().collect::<Option<Vec<ElementClass>>>() else {
        return Err(errs.into_result(()).unwrap_err());
    };
    let (inputs, outputs) = resolve_processing(&graph, &classes, &in_edges, &out_edges, &in_locs, &out_locs, &mut errs);
    let on_cycle = on_cycle(&out_edges);
    errs.into_result(Plan {
        graph,
        classes,
        inputs,
        outputs,
        out_edges,
        in_edges,
        base_dir: plan_base,
        on_cycle,
        declarations,
    })
}

/// Which elements lie on a directed cycle (Kosaraju's strongly connected components,
/// iterative so that huge graphs cannot overflow the stack).
fn on_cycle(out_edges: &[Vec<Vec<(usize, usize)>>]) -> Vec<bool> {
    let n = out_edges.len();
    let succ: Vec<Vec<usize>> =
        out_edges.iter().map(|ports| ports.iter().flatten().map(|&(t, _)| t).collect()).collect();
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (f, ts) in succ.iter().enumerate() {
        for &t in ts {
            pred[t].push(f);
        }
    }
    // Pass 1: finishing order on the graph.
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut stack = vec![(root, 0usize)];
        while let Some((v, k)) = stack.pop() {
            if k < succ[v].len() {
                stack.push((v, k + 1));
                let w = succ[v][k];
                if !seen[w] {
                    seen[w] = true;
                    stack.push((w, 0));
                }
            } else {
                order.push(v);
            }
        }
    }
    // Pass 2: components on the reversed graph, in reverse finishing order.
    let mut comp = vec![usize::MAX; n];
    let mut sizes = Vec::new();
    for &root in order.iter().rev() {
        if comp[root] != usize::MAX {
            continue;
        }
        let c = sizes.len();
        sizes.push(0usize);
        comp[root] = c;
        let mut stack = vec![root];
        while let Some(v) = stack.pop() {
            sizes[c] += 1;
            for &w in &pred[v] {
                if comp[w] == usize::MAX {
                    comp[w] = c;
                    stack.push(w);
                }
            }
        }
    }
    (0..n).map(|v| sizes[comp[v]] > 1 || succ[v].contains(&v)).collect()
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, port: usize) {
    if v.len() <= port {
        v.resize(port + 1, T::default());
    }
}

/// Union-find over "kind variables": one per element for all its agnostic ports.
struct Kinds {
    parent: Vec<usize>,
    fixed: Vec<Option<PortKind>>,
}

impl Kinds {
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
}

/// A port's kind before resolution: fixed, or the element's agnostic variable.
#[derive(Clone, Copy)]
enum Term {
    Fixed(PortKind),
    Var(usize),
}

#[allow(clippy::too_many_arguments)]
fn resolve_processing(
    graph: &Graph,
    classes: &[ElementClass],
    in_edges: &[Vec<Vec<(usize, usize)>>],
    out_edges: &[Vec<Vec<(usize, usize)>>],
    in_locs: &[Vec<Vec<Loc>>],
    out_locs: &[Vec<Vec<Loc>>],
    errs: &mut GraphErrors,
) -> (Vec<Vec<PortKind>>, Vec<Vec<PortKind>>) {
    let n = classes.len();
    let procs: Vec<_> = classes.iter().map(|c| c.processing_spec()).collect();
    let term = |e: usize, input: bool, port: usize| -> Term {
        let k = if input { procs[e].input(port) } else { procs[e].output(port) };
        match k {
            PortKind::Agnostic => Term::Var(e),
            k => Term::Fixed(k),
        }
    };
    let mut kinds = Kinds { parent: (0..n).collect(), fixed: vec![None; n] };
    // The element whose agnostic ports first got each kind, to explain conflicts.
    let name = |e: usize| graph.elements[e].name.as_str();

    for from in 0..n {
        for (fport, targets) in out_edges[from].iter().enumerate() {
            for (k, &(to, tport)) in targets.iter().enumerate() {
                let loc = out_locs[from].get(fport).and_then(|l| l.get(k)).cloned().unwrap_or_else(Loc::none);
                match (term(from, false, fport), term(to, true, tport)) {
                    (Term::Fixed(a), Term::Fixed(b)) if a != b => {
                        errs.push(
                            loc,
                            format!(
                                "{} output {fport} of '{}' connected to {} input {tport} of '{}' ({} output connected to {} input)",
                                a.word(),
                                name(from),
                                b.word(),
                                name(to),
                                a.word(),
                                b.word()
                            ),
                        );
                    }
                    (Term::Fixed(_), Term::Fixed(_)) => {}
                    (Term::Fixed(k), Term::Var(v)) | (Term::Var(v), Term::Fixed(k)) => {
                        let r = kinds.find(v);
                        match kinds.fixed[r] {
                            Some(old) if old != k => errs.push(
                                loc,
                                format!(
                                    "'{}' is agnostic and gets both push and pull connections here ({} output connected to {} input)",
                                    name(v),
                                    if matches!(term(from, false, fport), Term::Fixed(_)) { k.word() } else { old.word() },
                                    if matches!(term(from, false, fport), Term::Fixed(_)) { old.word() } else { k.word() },
                                ),
                            ),
                            _ => kinds.fixed[r] = Some(k),
                        }
                    }
                    (Term::Var(a), Term::Var(b)) => {
                        let (ra, rb) = (kinds.find(a), kinds.find(b));
                        if ra != rb {
                            match (kinds.fixed[ra], kinds.fixed[rb]) {
                                (Some(x), Some(y)) if x != y => errs.push(
                                    loc,
                                    format!(
                                        "'{}' and '{}' are agnostic but one is push and the other pull ({} output connected to {} input)",
                                        name(from),
                                        name(to),
                                        x.word(),
                                        y.word()
                                    ),
                                ),
                                (fa, fb) => {
                                    kinds.parent[ra] = rb;
                                    kinds.fixed[rb] = fb.or(fa);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    let mut resolve = |e: usize, input: bool, port: usize| -> PortKind {
        match term(e, input, port) {
            Term::Fixed(k) => k,
            Term::Var(v) => {
                let r = kinds.find(v);
                kinds.fixed[r].unwrap_or(PortKind::Push)
            }
        }
    };
    let inputs: Vec<Vec<PortKind>> =
        (0..n).map(|e| (0..in_edges[e].len()).map(|p| resolve(e, true, p)).collect()).collect();
    let outputs: Vec<Vec<PortKind>> =
        (0..n).map(|e| (0..out_edges[e].len()).map(|p| resolve(e, false, p)).collect()).collect();

    // A push output feeds exactly one input; a pull input reads exactly one output.
    for e in 0..n {
        for (p, targets) in out_edges[e].iter().enumerate() {
            if outputs[e][p] == PortKind::Push && targets.len() > 1 {
                let loc = out_locs[e][p][1].clone();
                errs.push(
                    loc,
                    format!("push output {p} of '{}' is connected more than once (use Tee to copy packets)", name(e)),
                );
            }
        }
        for (p, sources) in in_edges[e].iter().enumerate() {
            if inputs[e][p] == PortKind::Pull && sources.len() > 1 {
                let loc = in_locs[e][p][1].clone();
                errs.push(
                    loc,
                    format!(
                        "pull input {p} of '{}' is connected more than once (use a scheduler such as RoundRobinSched)",
                        name(e)
                    ),
                );
            }
        }
    }
    (inputs, outputs)
}

#[cfg(test)]
mod tests {
    use super::on_cycle;
    use crate::element::{BuildCtx, ConfigError, Element, ElementClass};
    use crate::load::plan_str;
    use crate::testing::registry;
    use std::path::Path;

    /// `Refer(NAME)`: finds NAME as Click's `Router::find` would and fails with what it found
    /// (a 0/0 element, so it needs no connections).
    fn refer(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
        let e = ctx.require_element(config)?;
        Err(ConfigError(format!("found {} :: {}({})", e.name, e.class, e.config)))
    }

    const REFER: ElementClass = ElementClass {
        name: "Refer",
        ports: "0/0",
        processing: "a/a",
        doc: "Refer(NAME)\nTest.",
        handlers: &[],
        build: refer,
    };

    fn found(text: &str) -> Vec<String> {
        let errs = plan_str("t.click", text, &[], &registry(&[REFER]), Path::new(".")).err().unwrap();
        let mut v: Vec<String> = errs.to_string().lines().map(|l| l.split_once(": ").unwrap().1.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn build_contexts_find_declared_elements_with_clicks_scoping() {
        // At top level: the element itself, another one, an unknown name.
        let v = found("x :: Refer(y); y :: Refer(nope);");
        assert_eq!(v, ["Refer 'x': found y :: Refer(nope)", "Refer 'y': no element named 'nope'"]);
        // Inside compounds: the innermost scope first, then the enclosing ones, then top level.
        let v = found(
            "elementclass In { t :: Refer(cfg); a :: Refer(top); b :: Refer(mid) }
             elementclass Mid { mid :: Refer(cfg); cfg :: Refer(cfg); i :: In }
             cfg :: Refer(top); top :: Refer(x); m :: Mid;",
        );
        assert!(v.contains(&"Refer 'm/i/t': found m/cfg :: Refer(cfg)".to_string()), "{v:?}");
        assert!(v.contains(&"Refer 'm/i/a': found top :: Refer(x)".to_string()), "{v:?}");
        assert!(v.contains(&"Refer 'm/i/b': found m/mid :: Refer(cfg)".to_string()), "{v:?}");
        assert!(v.contains(&"Refer 'm/cfg': found m/cfg :: Refer(cfg)".to_string()), "{v:?}");
        assert!(v.contains(&"Refer 'cfg': found top :: Refer(x)".to_string()), "{v:?}");
        // A compound's internals are not visible from outside by their short name.
        let v = found("elementclass C { hidden :: Refer(c) } c :: C; o :: Refer(hidden);");
        assert!(v.contains(&"Refer 'o': no element named 'hidden'".to_string()), "{v:?}");
        // A compound instance is not an element of the flattened graph.
        assert!(v.contains(&"Refer 'c/hidden': no element named 'c'".to_string()), "{v:?}");
    }

    #[test]
    fn standalone_contexts_find_nothing_and_plans_share_one_table() {
        assert!(BuildCtx::standalone("x", 0, 0).find_element("x").is_none());
        let plan =
            plan_str("t.click", "a :: Null; b :: Null; a -> b;", &[], &registry(&[NULL]), Path::new(".")).unwrap();
        let (c0, c1) = (plan.build_ctx(0, 0, 2), plan.build_ctx(1, 1, 2));
        assert!(std::sync::Arc::ptr_eq(&c0.declarations, &c1.declarations));
        assert_eq!(c1.find_element("a").map(|e| e.class.as_str()), Some("Null"));
        assert_eq!(c0.declared_elements().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }

    struct Nothing;
    impl Element for Nothing {}
    const NULL: ElementClass = ElementClass {
        name: "Null",
        ports: "-/-",
        processing: "a/a",
        doc: "Null\nTest.",
        handlers: &[],
        build: |_, _| Ok(Box::new(Nothing)),
    };

    #[test]
    fn finds_cycles_and_self_loops() {
        // 0 -> 1 -> 2 -> 1 (cycle 1,2), 2 -> 3, 4 -> 4 (self loop), 5 alone.
        let e = |ts: &[usize]| vec![ts.iter().map(|&t| (t, 0)).collect::<Vec<_>>()];
        let edges = vec![e(&[1]), e(&[2]), e(&[1, 3]), e(&[]), e(&[4]), e(&[])];
        assert_eq!(on_cycle(&edges), vec![false, true, true, false, true, false]);
    }
}

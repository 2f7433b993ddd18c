//! Expansion: templates to the flat [`Graph`].
//!
//! Each compound instance `f` has its internal elements copied in as `f/x`, with its
//! arguments and `define`s bound as variables. Its ports become two "tunnels" (as in
//! Click): what enters `f [i]` comes out of `input [i]` inside, what enters `[j] output`
//! inside comes out of `f [j]`. After everything is copied, connections are traced
//! through tunnels so that only primitive elements remain connected.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::error::{GraphError, Loc};
use crate::graph::{Connection, ElementDecl, Graph};

use super::config;
use super::scope::{CompoundClass, Kind, TElem, Template};

/// Limits that keep hostile or runaway configurations from exhausting memory or stack.
const MAX_ELEMENTS: usize = 100_000;
const MAX_CONNECTIONS: usize = 4_000_000;
const MAX_DEPTH: usize = 100;

/// Flatten the top-level template. `defines` are command-line `NAME=value`s: they are
/// variables of the top scope and override its `define`s.
pub fn flatten(top: &Template, defines: &[(String, String)], errors: &mut Vec<GraphError>) -> Graph {
    flatten_limited(top, defines, errors, MAX_ELEMENTS)
}

/// [`flatten`] with a chosen element limit (tests use a small one).
fn flatten_limited(
    top: &Template,
    defines: &[(String, String)],
    errors: &mut Vec<GraphError>,
    max_elements: usize,
) -> Graph {
    let mut x = Expander {
        max_elements,
        elems: Vec::new(),
        edges: Vec::new(),
        instances: Vec::new(),
        ntunnels: 0,
        too_big: false,
        too_deep: false,
        errors,
    };
    let mut env = Env { vars: HashMap::new(), parent: None, depth: 0 };
    let mut overridden = HashSet::new();
    for (name, value) in defines {
        let name = name.trim().trim_start_matches('$').to_string();
        overridden.insert(name.clone());
        env.vars.insert(name, value.clone());
    }
    x.bind_defines(&mut env, top, &overridden);
    x.instantiate(top, &Rc::from(""), &Rc::new(env), None, 0);
    x.finish()
}

/// Variables of one scope instance, chained to the lexically enclosing one.
struct Env {
    vars: HashMap<String, String>,
    parent: Option<Rc<Env>>,
    depth: usize,
}

impl Env {
    fn lookup(&self, name: &str) -> Option<String> {
        match self.vars.get(name) {
            Some(v) => Some(v.clone()),
            None => self.parent.as_ref()?.lookup(name),
        }
    }

    /// The enclosing scope instance at lexical `depth` (where a class was defined).
    fn ancestor(self: &Rc<Self>, depth: usize) -> Rc<Env> {
        let mut e = self.clone();
        while e.depth > depth {
            match &e.parent {
                Some(p) => e = p.clone(),
                None => break,
            }
        }
        e
    }
}

/// One end of a connection before tunnels are traced through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Node {
    Elem(usize),
    Tunnel(usize),
}

/// What an element of a compound class turns out to be.
enum Chosen<'c> {
    /// One overload of the class, with its parameters' values.
    Body(&'c Template, HashMap<String, String>),
    /// The primitive class a `|| ...` extension falls back to.
    Primitive(String),
}

/// What a template's local element became.
#[derive(Clone, Copy)]
enum Slot {
    Real(usize),
    /// A compound instance: edges to it enter `in_t`, edges from it leave `out_t`.
    Compound {
        in_t: usize,
        out_t: usize,
    },
    /// `input` or `output` inside a compound instance.
    Tunnel(usize),
    /// Nothing, because of an error already reported.
    Dead,
}

/// An element before anonymous elements get their final `Class@N` names.
struct Pending {
    /// `outer/` for elements inside compound `outer`; shared by all elements of an instance.
    prefix: Rc<str>,
    name: Option<String>,
    anon_base: String,
    class: String,
    config: String,
    loc: Loc,
    config_loc: Loc,
}

struct Edge {
    from: Node,
    from_port: usize,
    to: Node,
    to_port: usize,
    loc: Loc,
    /// Instance nesting level where the arrow was written (0 = top level).
    depth: usize,
}

/// A compound instance, for checking that its ports and the outside agree.
struct Instance {
    name: String,
    class: String,
    loc: Loc,
    in_t: usize,
    out_t: usize,
    ninputs: usize,
    noutputs: usize,
}

struct Expander<'e> {
    max_elements: usize,
    elems: Vec<Pending>,
    edges: Vec<Edge>,
    instances: Vec<Instance>,
    ntunnels: usize,
    too_big: bool,
    too_deep: bool,
    errors: &'e mut Vec<GraphError>,
}

impl Expander<'_> {
    fn error(&mut self, loc: Loc, msg: impl Into<String>) {
        self.errors.push(GraphError::new(loc, msg));
    }

    /// Bind a scope's `define`s in order (a value may use earlier ones), skipping overridden names.
    fn bind_defines(&mut self, env: &mut Env, t: &Template, overridden: &HashSet<String>) {
        for d in &t.defines {
            if overridden.contains(&d.name) {
                continue;
            }
            let value = config::substitute(&d.value, &|n| env.lookup(n));
            env.vars.insert(d.name.clone(), value);
        }
    }

    /// Copy template `t` in with names prefixed by `prefix`; `tunnels` are this instance's
    /// (input, output) tunnels, None at top level.
    fn instantiate(
        &mut self,
        t: &Template,
        prefix: &Rc<str>,
        env: &Rc<Env>,
        tunnels: Option<(usize, usize)>,
        level: usize,
    ) {
        let mut slots = Vec::with_capacity(t.elements.len());
        for (i, el) in t.elements.iter().enumerate() {
            if self.too_big {
                return;
            }
            let slot = match &el.kind {
                Kind::Input => tunnels.map_or(Slot::Dead, |(a, _)| Slot::Tunnel(a)),
                Kind::Output => tunnels.map_or(Slot::Dead, |(_, b)| Slot::Tunnel(b)),
                Kind::Primitive(class) => {
                    let config = self.config(el, env);
                    self.push(prefix, el, class, config)
                }
                Kind::Compound(cc) => self.compound(t, i, cc, prefix, env, level),
            };
            slots.push(slot);
        }
        for h in &t.hookups {
            let from = match slots[h.from] {
                Slot::Real(e) => Node::Elem(e),
                Slot::Compound { out_t, .. } => Node::Tunnel(out_t),
                Slot::Tunnel(x) => Node::Tunnel(x),
                Slot::Dead => continue,
            };
            let to = match slots[h.to] {
                Slot::Real(e) => Node::Elem(e),
                Slot::Compound { in_t, .. } => Node::Tunnel(in_t),
                Slot::Tunnel(x) => Node::Tunnel(x),
                Slot::Dead => continue,
            };
            let edge = Edge { from, from_port: h.from_port, to, to_port: h.to_port, loc: h.loc.clone(), depth: level };
            self.edges.push(edge);
        }
    }

    /// The element's configuration with variables substituted ("" when it has none).
    fn config(&mut self, el: &TElem, env: &Env) -> String {
        match &el.config {
            Some(c) => config::substitute(c, &|n| env.lookup(n)),
            None => String::new(),
        }
    }

    fn push(&mut self, prefix: &Rc<str>, el: &TElem, class: &str, config: String) -> Slot {
        if self.elems.len() >= self.max_elements {
            let msg = format!("the configuration expands to more than {} elements", self.max_elements);
            self.error(el.loc.clone(), msg);
            self.too_big = true;
            return Slot::Dead;
        }
        self.elems.push(Pending {
            prefix: prefix.clone(),
            name: el.name.clone(),
            anon_base: el.written_class.clone(),
            class: class.to_string(),
            config,
            loc: el.loc.clone(),
            config_loc: el.config_loc.clone(),
        });
        Slot::Real(self.elems.len() - 1)
    }

    /// Instantiate element `i` of `t`, whose class is the compound `cc`.
    fn compound(
        &mut self,
        t: &Template,
        i: usize,
        cc: &CompoundClass,
        prefix: &Rc<str>,
        env: &Rc<Env>,
        level: usize,
    ) -> Slot {
        let el = &t.elements[i];
        if level >= MAX_DEPTH {
            if !self.too_deep {
                self.error(el.loc.clone(), format!("element classes expand more than {MAX_DEPTH} levels deep"));
                self.too_deep = true;
            }
            return Slot::Dead;
        }
        let config = self.config(el, env);
        let args = config::split_args_str(&config);
        let (nin, nout) = el.used_ports;
        let (body, values) = match self.choose(cc, nin, nout, &args, &el.loc) {
            Some(Chosen::Body(body, values)) => (body, values),
            // An extension falls back to a primitive class: the element is that class.
            Some(Chosen::Primitive(class)) => return self.push(prefix, el, &class, config),
            None => return Slot::Dead,
        };
        // Anonymous compounds are named after the position their first element will take.
        let local = el.name.clone().unwrap_or_else(|| format!("{}@{}", el.written_class, self.elems.len() + 1));
        let full = format!("{prefix}{local}");
        // Variables: the arguments, then the body's defines, over the scope the class was defined in.
        let parent = env.ancestor(body.depth.saturating_sub(1));
        let mut inner = Env { vars: values, parent: Some(parent), depth: body.depth };
        self.bind_defines(&mut inner, body, &HashSet::new());
        let (in_t, out_t) = (self.ntunnels, self.ntunnels + 1);
        self.ntunnels += 2;
        self.instances.push(Instance {
            name: full.clone(),
            class: cc.display_name().to_string(),
            loc: el.loc.clone(),
            in_t,
            out_t,
            ninputs: body.ninputs,
            noutputs: body.noutputs,
        });
        self.instantiate(body, &Rc::from(format!("{full}/")), &Rc::new(inner), Some((in_t, out_t)), level + 1);
        Slot::Compound { in_t, out_t }
    }

    /// Pick the overload to use: the only one, or (as in Click) the first whose port
    /// counts match how the element is connected and whose parameters fit the arguments;
    /// failing that, in a class extended with `|| ...`, what its previous definition picks.
    fn choose<'c>(
        &mut self,
        cc: &'c CompoundClass,
        nin: usize,
        nout: usize,
        args: &[String],
        loc: &Loc,
    ) -> Option<Chosen<'c>> {
        let name = cc.display_name();
        if let ([only], None) = (cc.overloads.as_slice(), &cc.extends) {
            return match assign(only, args, name) {
                Ok(values) => Some(Chosen::Body(only, values)),
                Err(msg) => {
                    self.error(loc.clone(), msg);
                    None
                }
            };
        }
        let mut class = cc;
        loop {
            for t in &class.overloads {
                if t.ninputs == nin && t.noutputs == nout {
                    if let Ok(values) = assign(t, args, name) {
                        return Some(Chosen::Body(t, values));
                    }
                }
            }
            match &class.extends {
                Some(Kind::Compound(prev)) => class = prev,
                Some(Kind::Primitive(p)) => return Some(Chosen::Primitive(p.clone())),
                Some(Kind::Input | Kind::Output) | None => break,
            }
        }
        let msg = format!(
            "no version of element class '{name}' takes {}, {} and {}",
            plural(args.len(), "argument"),
            plural(nin, "input"),
            plural(nout, "output")
        );
        self.error(loc.clone(), msg);
        None
    }

    /// Name anonymous elements, check names are unique, trace connections, check compound ports.
    fn finish(mut self) -> Graph {
        let elements = self.name_elements();
        let connections = self.trace_connections();
        // A cut-short expansion leaves instances half wired: their port errors would be noise.
        if !self.too_big {
            self.check_instance_ports();
        }
        Graph { elements, connections, requirements: Vec::new() }
    }

    /// Final names: declared ones as written (prefixed); anonymous ones `Class@N`, N being
    /// the 1-based position in the element list, raised past any name already taken.
    fn name_elements(&mut self) -> Vec<ElementDecl> {
        let mut taken: HashMap<String, Loc> = HashMap::new();
        let mut names: Vec<Option<String>> = vec![None; self.elems.len()];
        for (i, p) in self.elems.iter().enumerate() {
            let Some(n) = &p.name else { continue };
            let full = format!("{}{}", p.prefix, n);
            if let Some(first) = taken.get(&full) {
                let msg = format!("redeclaration of element '{full}' (first declared at {first})");
                self.errors.push(GraphError::new(p.loc.clone(), msg));
            } else {
                taken.insert(full.clone(), p.loc.clone());
            }
            names[i] = Some(full);
        }
        for (i, p) in self.elems.iter().enumerate() {
            if names[i].is_some() {
                continue;
            }
            let mut n = i + 1;
            let mut full = format!("{}{}@{}", p.prefix, p.anon_base, n);
            while taken.contains_key(&full) {
                n += 1;
                full = format!("{}{}@{}", p.prefix, p.anon_base, n);
            }
            taken.insert(full.clone(), p.loc.clone());
            names[i] = Some(full);
        }
        let elems = std::mem::take(&mut self.elems);
        elems
            .into_iter()
            .zip(names)
            .map(|(p, name)| ElementDecl {
                name: name.unwrap_or_default(),
                anonymous: p.name.is_none(),
                class: p.class,
                config: p.config,
                loc: p.loc,
                config_loc: p.config_loc,
            })
            .collect()
    }

    /// Every edge from a real element, followed through tunnels to real elements. A
    /// connection's location is the arrow written at the outermost level along the way,
    /// which is where the user of a compound wrote it. Result is in source order.
    fn trace_connections(&mut self) -> Vec<Connection> {
        let mut out_of: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            if let Node::Tunnel(t) = e.from {
                out_of.entry((t, e.from_port)).or_default().push(i);
            }
        }
        let mut conns = Vec::new();
        for (ei, e) in self.edges.iter().enumerate() {
            let Node::Elem(src) = e.from else { continue };
            let mut stack = vec![(e.to, e.to_port, ei)];
            let mut seen = HashSet::new();
            while let Some((node, port, best)) = stack.pop() {
                match node {
                    Node::Elem(dst) => conns.push(Connection {
                        from: src,
                        from_port: e.from_port,
                        to: dst,
                        to_port: port,
                        loc: self.edges[best].loc.clone(),
                    }),
                    // `seen` stops cycles such as `f -> f` through a pass-through compound.
                    Node::Tunnel(t) if seen.insert((t, port)) => {
                        for &ni in out_of.get(&(t, port)).into_iter().flatten().rev() {
                            let n = &self.edges[ni];
                            let b = if n.depth < self.edges[best].depth { ni } else { best };
                            stack.push((n.to, n.to_port, b));
                        }
                    }
                    Node::Tunnel(_) => {}
                }
            }
            if conns.len() > MAX_CONNECTIONS {
                let msg = format!("the configuration expands to more than {MAX_CONNECTIONS} connections");
                self.errors.push(GraphError::new(e.loc.clone(), msg));
                break;
            }
        }
        conns.sort_by_key(|c| (c.loc.line, c.loc.col));
        conns
    }

    /// Outside connections must use exactly the ports the compound's body provides.
    fn check_instance_ports(&mut self) {
        let mut into: HashMap<usize, Vec<(usize, usize)>> = HashMap::new(); // tunnel -> (port, edge)
        let mut from: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            if let Node::Tunnel(t) = e.to {
                into.entry(t).or_default().push((e.to_port, i));
            }
            if let Node::Tunnel(t) = e.from {
                from.entry(t).or_default().push((e.from_port, i));
            }
        }
        let mut errs = Vec::new();
        for inst in &self.instances {
            let sides =
                [("input", inst.ninputs, into.get(&inst.in_t)), ("output", inst.noutputs, from.get(&inst.out_t))];
            for (dir, count, used) in sides {
                let used = used.map_or(&[][..], |v| v.as_slice());
                let what = |p: usize| format!("{dir} {p} of compound '{}' (class {})", inst.name, inst.class);
                for &(p, ei) in used {
                    if p >= count {
                        errs.push(GraphError::new(
                            self.edges[ei].loc.clone(),
                            format!("{} is not used inside it", what(p)),
                        ));
                    }
                }
                for p in 0..count {
                    if !used.iter().any(|&(q, _)| q == p) {
                        errs.push(GraphError::new(inst.loc.clone(), format!("{} is not connected", what(p))));
                    }
                }
            }
        }
        self.errors.extend(errs);
    }
}

/// Click keywords are upper-case words such as `LIMIT` or `BURST_2`.
fn is_keyword_like(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_uppercase())
        && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// "1 argument", "2 arguments".
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Bind arguments to a class's parameters as Click does: positional parameters take
/// arguments in order, `KEYWORD value` arguments go to keyword parameters (all required),
/// `__REST__` takes what is left, joined with ", ".
fn assign(t: &Template, args: &[String], class: &str) -> Result<HashMap<String, String>, String> {
    let positional: Vec<&str> = t.formals.iter().filter(|f| f.keyword.is_none()).map(|f| f.name.as_str()).collect();
    let keywords: Vec<(&str, &str)> = t
        .formals
        .iter()
        .filter_map(|f| f.keyword.as_deref().filter(|k| *k != "__REST__").map(|k| (k, f.name.as_str())))
        .collect();
    let rest = t.formals.iter().find(|f| f.keyword.as_deref() == Some("__REST__"));
    let mut values = HashMap::new();
    if keywords.is_empty() && rest.is_none() {
        if args.len() != positional.len() {
            let were = if args.len() == 1 { "was" } else { "were" };
            return Err(format!(
                "element class '{class}' takes {}, but {} {were} given",
                plural(positional.len(), "argument"),
                args.len()
            ));
        }
        values.extend(positional.iter().map(|n| n.to_string()).zip(args.iter().cloned()));
        return Ok(values);
    }
    let mut next_positional = 0;
    let mut extra = Vec::new();
    for arg in args {
        let (word, value) = arg.split_once(char::is_whitespace).unwrap_or((arg.as_str(), ""));
        if let Some(&(kw, name)) = keywords.iter().find(|(k, _)| *k == word) {
            if values.insert(name.to_string(), value.trim().to_string()).is_some() {
                return Err(format!("element class '{class}' got keyword argument '{kw}' twice"));
            }
        } else if let Some(name) = positional.get(next_positional) {
            values.insert(name.to_string(), arg.clone());
            next_positional += 1;
        } else {
            extra.push(arg.clone());
        }
    }
    if let Some(name) = positional.get(next_positional) {
        return Err(format!("element class '{class}' is missing a value for parameter '${name}'"));
    }
    if let Some((kw, _)) = keywords.iter().find(|(_, n)| !values.contains_key(*n)) {
        return Err(format!("element class '{class}' is missing keyword argument '{kw}'"));
    }
    match rest {
        Some(r) => {
            values.insert(r.name.clone(), extra.join(", "));
        }
        None if !extra.is_empty() => {
            let word = extra[0].split_whitespace().next().unwrap_or("");
            if !keywords.is_empty() && word != extra[0] && is_keyword_like(word) {
                return Err(format!("element class '{class}' has no keyword parameter '{word}'"));
            }
            return Err(format!("element class '{class}' got an unexpected argument '{}'", extra[0]));
        }
        None => {}
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::super::{lexer, parser, scope};
    use super::*;
    use std::sync::Arc;

    fn expand(text: &str, defines: &[(&str, &str)]) -> (Graph, Vec<String>) {
        let file: Arc<str> = Arc::from("e.graph");
        let mut errs = Vec::new();
        let toks = lexer::tokenize(&file, text, &mut errs);
        let stmts = parser::parse(toks, &mut errs);
        let (top, _) = scope::resolve(&stmts, Loc::new(file, 1, 1), &mut errs);
        let defines: Vec<(String, String)> = defines.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let g = flatten(&top, &defines, &mut errs);
        (g, errs.iter().map(|e| e.to_string()).collect())
    }

    fn ok(text: &str) -> Graph {
        let (g, e) = expand(text, &[]);
        assert!(e.is_empty(), "unexpected errors: {e:?}");
        g
    }

    fn errs(text: &str) -> Vec<String> {
        expand(text, &[]).1
    }

    fn names(g: &Graph) -> Vec<&str> {
        g.elements.iter().map(|e| e.name.as_str()).collect()
    }

    /// Connections as "a[0]->[0]b" strings.
    fn conns(g: &Graph) -> Vec<String> {
        g.connections
            .iter()
            .map(|c| format!("{}[{}]->[{}]{}", g.elements[c.from].name, c.from_port, c.to_port, g.elements[c.to].name))
            .collect()
    }

    #[test]
    fn anonymous_names_use_final_positions() {
        let g = ok("a :: A; a -> B -> C(1)");
        assert_eq!(names(&g), ["a", "B@2", "C@3"]);
        assert!(g.elements[1].anonymous && !g.elements[0].anonymous);
        assert_eq!(g.elements[2].config, "1");
    }

    #[test]
    fn anonymous_names_avoid_declared_ones() {
        let g = ok("X -> X@1 :: Y");
        assert_eq!(names(&g), ["X@2", "X@1"]);
    }

    #[test]
    fn compound_is_wired_through() {
        let g = ok("elementclass Twice { $n | input -> a :: Counter($n) -> Null -> output; }\n\
                    FromDump(x.pcap) -> t :: Twice(3) -> [0] ToDump(y.pcap);");
        assert_eq!(names(&g), ["FromDump@1", "t/a", "t/Null@3", "ToDump@4"]);
        assert_eq!(g.elements[1].config, "3");
        assert_eq!(conns(&g), ["t/a[0]->[0]t/Null@3", "FromDump@1[0]->[0]t/a", "t/Null@3[0]->[0]ToDump@4"]);
        // Connections through the compound carry the outer arrow's location.
        assert_eq!(g.connections[1].loc.to_string(), "e.graph:2:18");
        assert_eq!(g.connections[2].loc.to_string(), "e.graph:2:35");
        assert_eq!(g.connections[0].loc.to_string(), "e.graph:1:53");
    }

    #[test]
    fn pass_through_and_fan_out() {
        let g = ok("elementclass P { input -> output }\nelementclass F { input -> a :: A; input -> b :: B; a -> [0] output; b -> [1] output }\n\
                    s :: S -> P -> f :: F; f [0] -> x :: X; f [1] -> y :: Y");
        assert_eq!(names(&g), ["s", "f/a", "f/b", "x", "y"]);
        let mut c = conns(&g);
        c.sort();
        assert_eq!(c, ["f/a[0]->[0]x", "f/b[0]->[0]y", "s[0]->[0]f/a", "s[0]->[0]f/b"]);
    }

    #[test]
    fn pass_through_cycle_terminates() {
        let (g, _) = expand("elementclass P { input -> output } p :: P; p -> p", &[]);
        assert!(g.connections.is_empty());
    }

    #[test]
    fn nested_compounds_and_anonymous_instances() {
        let g = ok("elementclass In { input -> Counter -> output }\n\
                    elementclass Out { $x | input -> i :: In -> Queue($x) -> output }\n\
                    A -> Out(5) -> o :: Out(6) -> B");
        assert_eq!(names(&g), ["A@1", "Out@2/i/Counter@2", "Out@2/Queue@3", "o/i/Counter@4", "o/Queue@5", "B@6"]);
        assert_eq!(g.elements[2].config, "5");
        assert_eq!(g.elements[4].config, "6");
        assert_eq!(g.connections.len(), 5);
    }

    #[test]
    fn inline_anonymous_class() {
        let g = ok("a :: A -> { input -> Null -> output } -> b :: B");
        assert_eq!(names(&g), ["a", "@2/Null@2", "b"]);
        assert_eq!(conns(&g), ["a[0]->[0]@2/Null@2", "@2/Null@2[0]->[0]b"]);
    }

    #[test]
    fn variables_defines_and_command_line() {
        let text = "define($N 10, $M $N$N)\ns :: S(LIMIT $N, X $M, Y ${N}0)";
        let g = ok(text);
        assert_eq!(g.elements[0].config, "LIMIT 10, X 1010, Y 100");
        let (g, e) = expand(text, &[("N", "7"), ("$Q", "q")]);
        assert!(e.is_empty());
        // $M is bound from the overridden $N.
        assert_eq!(g.elements[0].config, "LIMIT 7, X 77, Y 70");
        let (g, e) = expand("s :: S($Q)", &[("Q", "\"a b\"")]);
        assert!(e.is_empty());
        assert_eq!(g.elements[0].config, "\"a b\"");
    }

    #[test]
    fn define_applies_to_the_whole_scope() {
        let g = ok("s :: S($N); define($N 3)");
        assert_eq!(g.elements[0].config, "3");
    }

    #[test]
    fn compound_variables_are_lexically_scoped() {
        let g = ok("define($G g)\n\
                    elementclass A { $p | define($L l$p) elementclass B { input -> X($p $L $G) -> output } input -> B -> output }\n\
                    s :: S -> A(1) -> A(2) -> d :: D");
        let cfg: Vec<_> = g.elements.iter().map(|e| e.config.as_str()).collect();
        assert_eq!(cfg, ["", "1 l1 g", "2 l2 g", ""]);
    }

    #[test]
    fn keyword_and_rest_parameters() {
        let g = ok("elementclass K { $a, KEY $k, __REST__ $r | input -> X($a|$k|$r) -> output }\n\
                    s :: S -> K(KEY 2, 1, z, w) -> d :: D");
        assert_eq!(g.elements[1].config, "1|2|z, w");
    }

    #[test]
    fn argument_errors() {
        let cls = "elementclass T { $n | input -> output }\n";
        assert_eq!(
            errs(&format!("{cls}s :: S -> t :: T(1, 2) -> d :: D")),
            vec!["e.graph:2:11: element class 'T' takes 1 argument, but 2 were given"]
        );
        assert_eq!(
            errs(&format!("{cls}s :: S -> T -> d :: D")),
            vec!["e.graph:2:11: element class 'T' takes 1 argument, but 0 were given"]
        );
        let kcls = "elementclass K { $a, KEY $k | input -> output }\n";
        assert_eq!(
            errs(&format!("{kcls}s :: S -> K(1) -> d :: D")),
            vec!["e.graph:2:11: element class 'K' is missing keyword argument 'KEY'"]
        );
        assert_eq!(
            errs(&format!("{kcls}s :: S -> K(KEY 1) -> d :: D")),
            vec!["e.graph:2:11: element class 'K' is missing a value for parameter '$a'"]
        );
        assert_eq!(
            errs(&format!("{kcls}s :: S -> K(0, KEY 1, 2) -> d :: D")),
            vec!["e.graph:2:11: element class 'K' got an unexpected argument '2'"]
        );
        assert_eq!(
            errs(&format!("{kcls}s :: S -> K(0, KEY 1, LIMIT 2) -> d :: D")),
            vec!["e.graph:2:11: element class 'K' has no keyword parameter 'LIMIT'"]
        );
        assert_eq!(
            errs(&format!("{kcls}s :: S -> K(0, KEY 1, KEY 2) -> d :: D")),
            vec!["e.graph:2:11: element class 'K' got keyword argument 'KEY' twice"]
        );
    }

    #[test]
    fn undefined_variables_stay_as_written() {
        // Click's cp_expand leaves them: Script elements keep their own `$VAR`s this way.
        let g = ok("s :: S(a, $Z)");
        assert_eq!(g.elements[0].config, "a, $Z");
        let g = ok("elementclass T { input -> X($q) -> output }\na :: A -> T -> b :: B");
        assert_eq!(g.elements[1].config, "$q");
        let g = ok("define($A $B)\nx :: X($A)");
        assert_eq!(g.elements[0].config, "$B");
    }

    #[test]
    fn compound_port_errors() {
        let cls = "elementclass Name { input -> Null -> output }\n";
        assert_eq!(
            errs(&format!("{cls}a :: A -> [1] f :: Name -> b :: B; a [1] -> f")),
            vec!["e.graph:2:8: input 1 of compound 'f' (class Name) is not used inside it"]
        );
        assert_eq!(
            errs(&format!("{cls}a :: A -> f :: Name; f [2] -> b :: B; f -> c :: C")),
            vec!["e.graph:2:28: output 2 of compound 'f' (class Name) is not used inside it"]
        );
        assert_eq!(
            errs(&format!("{cls}f :: Name -> b :: B")),
            vec!["e.graph:2:1: input 0 of compound 'f' (class Name) is not connected"]
        );
    }

    #[test]
    fn overloads_are_chosen_by_ports() {
        let text = "elementclass O { input -> A -> output || input -> B -> output; input [1] -> C -> output }\n\
                    s :: S -> O -> d :: D; s2 :: S -> [0] o :: O -> d2 :: D; s3 :: S -> [1] o";
        let g = ok(text);
        assert_eq!(names(&g), ["s", "O@2/A@2", "d", "s2", "o/B@5", "o/C@6", "d2", "s3"]);
        assert_eq!(
            errs("elementclass O { input -> A -> output || input [1] -> B -> output; input -> output }\nO -> d :: D"),
            vec!["e.graph:2:1: no version of element class 'O' takes 0 arguments, 0 inputs and 1 output"]
        );
    }

    #[test]
    fn synonym_classes() {
        let g = ok(
            "elementclass C Counter; elementclass P { input -> output } elementclass Q P;\na :: A -> C -> Q -> c :: C",
        );
        assert_eq!(names(&g), ["a", "C@2", "c"]);
        assert_eq!(g.elements[1].class, "Counter");
        assert_eq!(conns(&g), ["a[0]->[0]C@2", "C@2[0]->[0]c"]);
    }

    #[test]
    fn slash_names_can_collide_with_compound_internals() {
        assert_eq!(
            errs("elementclass T { input -> x :: X -> output } a :: A -> t :: T -> b :: B; t/x :: Y"),
            vec!["e.graph:1:74: redeclaration of element 't/x' (first declared at e.graph:1:27)"]
        );
    }

    #[test]
    fn deep_expansion_is_refused() {
        let mut text = String::from("elementclass C0 { input -> output }\n");
        for i in 1..=150 {
            text += &format!("elementclass C{i} {{ input -> C{} -> output }}\n", i - 1);
        }
        text += "a :: A -> C150 -> b :: B";
        let e = errs(&text);
        assert!(e.iter().any(|m| m.contains("element classes expand more than 100 levels deep")), "{e:?}");
    }

    #[test]
    fn exponential_expansion_is_bounded() {
        let mut text = String::from("elementclass C0 { input -> X -> output }\n");
        for i in 1..=40 {
            text += &format!("elementclass C{i} {{ input -> C{p} -> C{p} -> output }}\n", p = i - 1);
        }
        text += "a :: A -> C40 -> b :: B";
        let file: Arc<str> = Arc::from("e.graph");
        let mut errs = Vec::new();
        let stmts = parser::parse(lexer::tokenize(&file, &text, &mut errs), &mut errs);
        let (top, _) = scope::resolve(&stmts, Loc::new(file, 1, 1), &mut errs);
        let g = flatten_limited(&top, &[], &mut errs, 1000);
        assert_eq!(g.elements.len(), 1000);
        let msgs: Vec<_> = errs.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(msgs, ["the configuration expands to more than 1000 elements"]);
    }
}

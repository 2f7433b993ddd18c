//! Name resolution: statements to templates, one per configuration and per element class.
//!
//! A template is what Click calls a compound: its elements (with class and raw config),
//! the connections among them by local index, its formal parameters and `define`s. Here
//! bare words are resolved (Click's rule: a declared element, else an anonymous element of
//! that class), element classes are looked up lexically (an `elementclass` is visible after
//! its definition, in its scope and nested ones), and errors that do not depend on how a
//! class is instantiated are reported once.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{GraphError, Loc};
use crate::graph::Requirement;

use super::ast::*;
use super::config::{self, Cleaned};
use super::lexer::is_var_char;

/// The body of a configuration or of one overload of an element class.
#[derive(Debug)]
pub struct Template {
    /// Class name for messages ("" for the whole configuration or an anonymous class).
    pub class_name: String,
    pub is_compound: bool,
    /// Lexical nesting: 0 for the configuration, 1 for a class defined in it, and so on.
    pub depth: usize,
    pub formals: Vec<Formal>,
    pub defines: Vec<Define>,
    /// In a compound, 0 and 1 are the `input` and `output` pseudo-elements.
    pub elements: Vec<TElem>,
    pub hookups: Vec<Hookup>,
    /// Ports of a compound: one more than the highest `input [n]` / `[n] output` used.
    pub ninputs: usize,
    pub noutputs: usize,
}

/// `define($NAME value)`: the value still has its `$VARIABLES`.
#[derive(Debug)]
pub struct Define {
    pub name: String,
    pub value: Cleaned,
}

/// An element class after lookup.
#[derive(Debug, Clone)]
pub enum Kind {
    Input,
    Output,
    Primitive(String),
    Compound(Rc<CompoundClass>),
}

/// An `elementclass` with its overloads (usually one).
#[derive(Debug)]
pub struct CompoundClass {
    pub name: String,
    pub overloads: Vec<Template>,
    /// The class's previous definition, for arguments no overload takes (`|| ...`).
    pub extends: Option<Kind>,
}

impl CompoundClass {
    /// Name for messages.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            "<anonymous>"
        } else {
            &self.name
        }
    }
}

/// One element of a template.
#[derive(Debug)]
pub struct TElem {
    /// Declared name; None for anonymous elements (named `Class@N` when flattened).
    pub name: Option<String>,
    /// The class as written, for anonymous names (`""` for an inline `{ ... }` class).
    pub written_class: String,
    pub kind: Kind,
    pub config: Option<Cleaned>,
    pub loc: Loc,
    pub config_loc: Loc,
    /// (inputs, outputs) the template's connections use: one more than the highest port.
    pub used_ports: (usize, usize),
}

/// A connection between two elements of the same template.
#[derive(Debug, Clone)]
pub struct Hookup {
    pub from: usize,
    pub from_port: usize,
    pub to: usize,
    pub to_port: usize,
    pub loc: Loc,
}

/// Resolve a parsed configuration into its top-level template, collecting `require`s.
pub fn resolve(stmts: &[Stmt], start: Loc, errors: &mut Vec<GraphError>) -> (Template, Vec<Requirement>) {
    let mut r = Resolver { scopes: Vec::new(), requirements: Vec::new(), errors };
    let top = r.template("", start, &[], stmts, false, 0);
    (top, r.requirements)
}

struct Resolver<'e> {
    /// Element classes visible here, innermost scope last.
    scopes: Vec<HashMap<String, Kind>>,
    requirements: Vec<Requirement>,
    errors: &'e mut Vec<GraphError>,
}

/// A template being built, with the names declared in it so far.
struct Builder {
    t: Template,
    names: HashMap<String, usize>,
    /// Where each variable of this scope was defined (formals and defines share one namespace).
    vars: HashMap<String, Loc>,
}

impl Resolver<'_> {
    fn error(&mut self, loc: Loc, msg: impl Into<String>) {
        self.errors.push(GraphError::new(loc, msg));
    }

    /// Build the template of a configuration (is_compound false) or of a class overload.
    fn template(
        &mut self,
        name: &str,
        loc: Loc,
        formals: &[Formal],
        stmts: &[Stmt],
        is_compound: bool,
        depth: usize,
    ) -> Template {
        let mut b = Builder {
            t: Template {
                class_name: name.to_string(),
                is_compound,
                depth,
                formals: formals.to_vec(),
                defines: Vec::new(),
                elements: Vec::new(),
                hookups: Vec::new(),
                ninputs: 0,
                noutputs: 0,
            },
            names: HashMap::new(),
            vars: HashMap::new(),
        };
        if is_compound {
            for (kind, pseudo) in [(Kind::Input, "input"), (Kind::Output, "output")] {
                b.names.insert(pseudo.to_string(), b.t.elements.len());
                b.t.elements.push(TElem {
                    name: Some(pseudo.to_string()),
                    written_class: String::new(),
                    kind,
                    config: None,
                    loc: loc.clone(),
                    config_loc: loc.clone(),
                    used_ports: (0, 0),
                });
            }
        }
        self.check_formals(&mut b, formals);
        self.scopes.push(HashMap::new());
        for stmt in stmts {
            self.statement(&mut b, stmt);
        }
        self.scopes.pop();
        count_used_ports(&mut b.t);
        if is_compound {
            self.count_ports(&mut b.t, &loc);
        }
        b.t
    }

    /// Formals must be distinct and ordered: positional, then keywords, then `__REST__`.
    fn check_formals(&mut self, b: &mut Builder, formals: &[Formal]) {
        let mut rank = 0;
        let mut order_reported = false;
        for f in formals {
            if let Some(first) = b.vars.get(&f.name) {
                let msg = format!("parameter '${}' is declared twice (first at {first})", f.name);
                self.error(f.loc.clone(), msg);
            } else {
                b.vars.insert(f.name.clone(), f.loc.clone());
            }
            let r = match f.keyword.as_deref() {
                None => 0,
                Some("__REST__") => 2,
                Some(_) => 1,
            };
            if (r < rank || (r == 2 && rank == 2)) && !order_reported {
                self.error(
                    f.loc.clone(),
                    "element class parameters must be positional ones first, then keywords, then one __REST__",
                );
                order_reported = true;
            }
            rank = rank.max(r);
        }
    }

    fn statement(&mut self, b: &mut Builder, stmt: &Stmt) {
        match stmt {
            Stmt::Chain(chain) => self.chain(b, chain),
            Stmt::ElementClass { name, def } => {
                let kind = match def {
                    ClassDef::Body(body) => Kind::Compound(Rc::new(self.compound(&name.name, body, b.t.depth + 1))),
                    ClassDef::Synonym(other) => self.lookup_class(&other.name),
                };
                if let Some(scope) = self.scopes.last_mut() {
                    scope.insert(name.name.clone(), kind);
                }
            }
            Stmt::Require { config, loc } => {
                let text = config::strip_comments(&config.raw, &config.loc).as_string();
                let args = config::words(&text);
                if args.is_empty() {
                    self.error(loc.clone(), "'require' needs at least one word, as in require(package NAME)");
                } else {
                    self.requirements.push(Requirement { args, loc: loc.clone() });
                }
            }
            Stmt::Define { config, .. } => self.define(b, config),
        }
    }

    /// Each argument of `define(...)` is `$NAME value`; the value may be empty.
    fn define(&mut self, b: &mut Builder, config: &ConfigText) {
        let c = config::strip_comments(&config.raw, &config.loc);
        for (from, to) in config::split_args(&c.text) {
            let arg = c.slice(from, to);
            let word_end = arg.text.iter().position(|ch| ch.is_whitespace()).unwrap_or(arg.text.len());
            let word: String = arg.text[..word_end].iter().collect();
            let name = word.strip_prefix('$').filter(|n| !n.is_empty() && n.chars().all(is_var_char));
            let Some(name) = name else {
                let shown = if arg.text.is_empty() { "nothing".to_string() } else { format!("'{word}'") };
                self.error(arg.loc(0), format!("expected '$NAME value' in define, found {shown}"));
                continue;
            };
            if let Some(first) = b.vars.get(name) {
                let msg = format!("variable '${name}' is already defined in this scope (at {first})");
                self.error(arg.loc(0), msg);
                continue;
            }
            b.vars.insert(name.to_string(), arg.loc(0));
            let (vf, vt) = trimmed(&arg.text, word_end);
            b.t.defines.push(Define { name: name.to_string(), value: arg.slice(vf, vt) });
        }
    }

    /// Resolve every element of a chain, then connect neighbouring element sets.
    fn chain(&mut self, b: &mut Builder, chain: &Chain) {
        // Each set: its members (element index and link) and the arrow before it.
        let mut prev: Vec<(usize, &Link)> = Vec::new();
        let mut cur: Vec<(usize, &Link)> = Vec::new();
        let mut cur_arrow: Option<(&Loc, bool)> = None;
        let mut broken = false; // a member did not resolve: connect nothing to or from this set
        let mut prev_broken = true;
        for (k, link) in chain.links.iter().enumerate() {
            if !link.joined && k > 0 {
                self.connect_sets(b, &prev, prev_broken, &cur, broken, cur_arrow);
                prev = std::mem::take(&mut cur);
                prev_broken = broken;
                broken = false;
            }
            if let Some(a) = &link.arrow {
                cur_arrow = Some((a, link.double_arrow));
            } else if !link.joined {
                cur_arrow = None;
            }
            match self.element(b, &link.elem) {
                Some(i) => cur.push((i, link)),
                None => broken = true,
            }
        }
        self.connect_sets(b, &prev, prev_broken, &cur, broken, cur_arrow);
    }

    /// Connect the outputs of one element set to the inputs of the next, as Click's
    /// `Lexer::yconnection_connect_all` does: a set of several elements, or a port list,
    /// steps through its ports one connection at a time; a set with a single port repeats
    /// it. When both sides step, the connector must be `=>` and the counts must match,
    /// unless one side is expandable (`[N, ]`, or with `=>` a lone element without ports).
    fn connect_sets(
        &mut self,
        b: &mut Builder,
        outs: &[(usize, &Link)],
        outs_broken: bool,
        ins: &[(usize, &Link)],
        ins_broken: bool,
        arrow: Option<(&Loc, bool)>,
    ) {
        let Some((arrow, double)) = arrow else { return };
        if outs.is_empty() || ins.is_empty() || outs_broken || ins_broken {
            return;
        }
        // Side 0 is the inputs, side 1 the outputs, as in Click.
        let ports = |side: usize, l: &Link| -> (Vec<usize>, bool) {
            let p = if side == 0 { &l.in_port } else { &l.out_port };
            p.as_ref().map_or((Vec::new(), false), |p| (p.list(), p.expandable))
        };
        let sides: [&[(usize, &Link)]; 2] = [ins, outs];
        let mut minp = [0usize; 2];
        let mut expandable = [false; 2];
        for k in 0..2 {
            let mut nexp = 0;
            for (_, l) in sides[k] {
                let (list, exp) = ports(k, l);
                if exp {
                    minp[k] += list.len();
                    nexp += 1;
                } else {
                    minp[k] += list.len().max(1);
                }
            }
            expandable[k] = nexp > 0;
            if nexp > 1 {
                expandable[k] = false;
                self.error(arrow.clone(), "at most one expandable port list is allowed per connection");
            }
        }
        if expandable[0] && expandable[1] {
            self.error(arrow.clone(), "at most one expandable port list is allowed per connection");
            expandable[usize::from(minp[0] < minp[1])] = false;
        }
        if double {
            // `=>` reads a lone element without ports as expandable.
            for k in 0..2 {
                if minp[k] == 1 && minp[1 - k] > 1 && ports(k, sides[k][0].1).0.is_empty() {
                    expandable[k] = true;
                }
            }
        }
        let mut step = [false; 2];
        let mut extra = [0isize; 2];
        for k in 0..2 {
            step[k] = minp[k] > 1 || expandable[k];
            extra[k] = if expandable[k] { minp[1 - k] as isize - minp[k] as isize } else { 0 };
        }
        if step[0] && step[1] {
            let msg = if !double {
                Some("connecting several outputs to several inputs needs '=>' instead of '->'".to_string())
            } else if !expandable[0] && !expandable[1] && minp[0] != minp[1] {
                Some(format!("connection mismatch: {} outputs connected to {} inputs", minp[1], minp[0]))
            } else if !expandable[0] && minp[0] < minp[1] {
                Some(format!("connection mismatch: {} or more outputs connected to {} inputs", minp[1], minp[0]))
            } else if !expandable[1] && minp[1] < minp[0] {
                Some(format!("connection mismatch: {} outputs connected to {} or more inputs", minp[1], minp[0]))
            } else {
                None
            };
            if let Some(msg) = msg {
                self.error(arrow.clone(), msg);
                return;
            }
        } else if !step[0] && !step[1] {
            step[0] = true;
        }
        let mut it = [0usize; 2];
        let mut pos = [0usize; 2];
        let mut port: [Option<usize>; 2] = [None, None];
        while it[0] < ins.len() && it[1] < outs.len() {
            for k in 0..2 {
                if port[k].is_none() {
                    port[k] = Some(ports(k, sides[k][it[k]].1).0.first().copied().unwrap_or(0));
                }
            }
            let from = outs[it[1]].0;
            let (to, to_link) = ins[it[0]];
            self.connect(b, (from, port[1].unwrap_or(0)), (to, port[0].unwrap_or(0)), to_link, arrow);
            for k in 0..2 {
                if !step[k] {
                    continue;
                }
                let (list, exp) = ports(k, sides[k][it[k]].1);
                pos[k] += 1;
                if pos[k] < list.len() {
                    port[k] = Some(list[pos[k]]);
                } else if exp && extra[k] > 0 {
                    port[k] = Some(list[list.len() - 1] + 1 + pos[k] - list.len());
                    extra[k] -= 1;
                } else if list.is_empty() && minp[k] == 1 && extra[k] > 0 {
                    port[k] = Some(pos[k]);
                    extra[k] -= 1;
                } else {
                    port[k] = None;
                    pos[k] = 0;
                    it[k] += 1;
                }
            }
        }
    }

    /// Record a hookup, refusing `x -> input` and `output -> x` (pseudo-elements have one direction).
    fn connect(&mut self, b: &mut Builder, from: (usize, usize), to: (usize, usize), link: &Link, arrow: &Loc) {
        if matches!(b.t.elements[to.0].kind, Kind::Input) {
            self.error(link.elem.loc().clone(), "'input' can only appear on the left of '->'");
            return;
        }
        if matches!(b.t.elements[from.0].kind, Kind::Output) {
            self.error(arrow.clone(), "'output' can only appear on the right of '->'");
            return;
        }
        b.t.hookups.push(Hookup { from: from.0, from_port: from.1, to: to.0, to_port: to.1, loc: arrow.clone() });
    }

    /// The local index an element reference means, creating elements as needed.
    fn element(&mut self, b: &mut Builder, e: &ElemRef) -> Option<usize> {
        match e {
            ElemRef::Name(id) => {
                if let Some(&i) = b.names.get(&id.name) {
                    return Some(i);
                }
                if id.name == "input" || id.name == "output" {
                    self.error(id.loc.clone(), format!("'{}' used outside an element class", id.name));
                    return None;
                }
                let kind = self.lookup_class(&id.name);
                Some(push(b, None, &id.name, kind, None, &id.loc, &id.loc))
            }
            ElemRef::Anon { class, config } => {
                let (written, kind) = self.class_ref(class, b.t.depth);
                Some(push(b, None, &written, kind, config.as_ref(), class.loc(), class.loc()))
            }
            ElemRef::Decl { names, class, config } => {
                let (written, kind) = self.class_ref(class, b.t.depth);
                let mut first = None;
                for n in names {
                    let i = self.declare(b, n, (&written, &kind, class.loc()), config.as_ref());
                    first = first.or(i);
                }
                first
            }
        }
    }

    /// Declare one named element; on a redeclaration the existing element is returned so
    /// that the chain still connects to something.
    fn declare(
        &mut self,
        b: &mut Builder,
        n: &Ident,
        (written, kind, class_loc): (&str, &Kind, &Loc),
        config: Option<&ConfigText>,
    ) -> Option<usize> {
        if let Some(&i) = b.names.get(&n.name) {
            let msg = if b.t.is_compound && i < 2 {
                format!("'{}' is reserved inside an element class and cannot be declared", n.name)
            } else {
                format!("redeclaration of element '{}' (first declared at {})", n.name, b.t.elements[i].loc)
            };
            self.error(n.loc.clone(), msg);
            return Some(i);
        }
        if self.find_class(&n.name).is_some() {
            self.error(n.loc.clone(), format!("'{}' is an element class, so it cannot also name an element", n.name));
            return None;
        }
        if n.name.split('/').any(|part| part.chars().all(|c| c.is_ascii_digit())) {
            self.error(n.loc.clone(), format!("element name '{}' has an all-digit component", n.name));
        }
        let i = push(b, Some(&n.name), written, kind.clone(), config, &n.loc, class_loc);
        b.names.insert(n.name.clone(), i);
        Some(i)
    }

    /// `Name` or an inline `{ ... }`: the class as written and what it resolves to.
    fn class_ref(&mut self, class: &ClassRef, depth: usize) -> (String, Kind) {
        match class {
            ClassRef::Named(id) => (id.name.clone(), self.lookup_class(&id.name)),
            ClassRef::Inline(body) => (String::new(), Kind::Compound(Rc::new(self.compound("", body, depth + 1)))),
        }
    }

    /// An element class defined in an enclosing scope, innermost first.
    fn find_class(&self, name: &str) -> Option<&Kind> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    /// Unknown names are primitive classes; the checker decides whether they exist.
    fn lookup_class(&self, name: &str) -> Kind {
        self.find_class(name).cloned().unwrap_or_else(|| Kind::Primitive(name.to_string()))
    }

    /// Build each overload of a class body. The class is not visible inside itself (as in Click).
    fn compound(&mut self, name: &str, body: &ClassBody, depth: usize) -> CompoundClass {
        let overloads = body
            .overloads
            .iter()
            .map(|o| self.template(name, body.loc.clone(), &o.formals, &o.stmts, true, depth))
            .collect();
        // The previous definition is the one visible here, before this one is added.
        let extends = body.extends.as_ref().and_then(|loc| {
            if name.is_empty() {
                self.error(loc.clone(), "an anonymous element class cannot be extended with '...'");
                None
            } else {
                Some(self.lookup_class(name))
            }
        });
        CompoundClass { name: name.to_string(), overloads, extends }
    }

    /// A compound's ports are those its body uses; a gap (input 1 used, input 0 not) is an error.
    fn count_ports(&mut self, t: &mut Template, loc: &Loc) {
        let mut ins: Vec<bool> = Vec::new();
        let mut outs: Vec<bool> = Vec::new();
        for h in &t.hookups {
            if matches!(t.elements[h.from].kind, Kind::Input) {
                mark(&mut ins, h.from_port);
            }
            if matches!(t.elements[h.to].kind, Kind::Output) {
                mark(&mut outs, h.to_port);
            }
        }
        t.ninputs = ins.len();
        t.noutputs = outs.len();
        let class = if t.class_name.is_empty() { "<anonymous>".to_string() } else { t.class_name.clone() };
        for (dir, used) in [("input", &ins), ("output", &outs)] {
            if let Some(p) = used.iter().position(|u| !u) {
                self.error(loc.clone(), format!("{dir} {p} of element class '{class}' is not used inside it"));
            }
        }
    }
}

/// Add an element to a template; returns its local index. Without a configuration string,
/// argument errors point at the class name (`class_loc`).
fn push(
    b: &mut Builder,
    name: Option<&str>,
    written: &str,
    kind: Kind,
    config: Option<&ConfigText>,
    loc: &Loc,
    class_loc: &Loc,
) -> usize {
    let cleaned = config.map(|c| config::strip_comments(&c.raw, &c.loc));
    let config_loc = config.map_or_else(|| class_loc.clone(), |c| c.loc.clone());
    b.t.elements.push(TElem {
        name: name.map(str::to_string),
        written_class: written.to_string(),
        kind,
        config: cleaned,
        loc: loc.clone(),
        config_loc,
        used_ports: (0, 0),
    });
    b.t.elements.len() - 1
}

/// Fill each element's `used_ports` (an overloaded class is chosen by them).
fn count_used_ports(t: &mut Template) {
    for h in &t.hookups {
        let to = &mut t.elements[h.to].used_ports.0;
        *to = (*to).max(h.to_port.saturating_add(1));
        let from = &mut t.elements[h.from].used_ports.1;
        *from = (*from).max(h.from_port.saturating_add(1));
    }
}

/// Set `used[port]`, growing the vector; absurd port numbers are capped to keep memory bounded.
fn mark(used: &mut Vec<bool>, port: usize) {
    let port = port.min(1 << 16);
    if used.len() <= port {
        used.resize(port + 1, false);
    }
    used[port] = true;
}

/// The range `from..` of `t` without surrounding blanks.
fn trimmed(t: &[char], from: usize) -> (usize, usize) {
    let mut a = from.min(t.len());
    let mut z = t.len();
    while a < z && t[a].is_whitespace() {
        a += 1;
    }
    while z > a && t[z - 1].is_whitespace() {
        z -= 1;
    }
    (a, z)
}

#[cfg(test)]
mod tests {
    use super::super::{lexer, parser};
    use super::*;
    use std::sync::Arc;

    fn resolve_text(text: &str) -> (Template, Vec<Requirement>, Vec<String>) {
        let file: Arc<str> = Arc::from("s.graph");
        let mut errs = Vec::new();
        let toks = lexer::tokenize(&file, text, &mut errs);
        let stmts = parser::parse(toks, &mut errs);
        let (t, reqs) = resolve(&stmts, Loc::new(file, 1, 1), &mut errs);
        (t, reqs, errs.iter().map(|e| e.to_string()).collect())
    }

    fn errs(text: &str) -> Vec<String> {
        resolve_text(text).2
    }

    fn names(t: &Template) -> Vec<String> {
        t.elements.iter().map(|e| e.name.clone().unwrap_or_else(|| format!("<{}>", e.written_class))).collect()
    }

    #[test]
    fn bare_words_follow_clicks_rule() {
        let (t, _, e) = resolve_text("a :: Counter; a -> b; b -> a");
        assert!(e.is_empty(), "{e:?}");
        // `b` was never declared: each use is a new anonymous element of class b.
        assert_eq!(names(&t), ["a", "<b>", "<b>"]);
        assert_eq!(t.hookups.len(), 2);
    }

    #[test]
    fn declaration_in_chain_and_lists() {
        let (t, _, e) = resolve_text("x, y :: Queue(5) -> z :: Discard");
        assert!(e.is_empty());
        assert_eq!(names(&t), ["x", "y", "z"]);
        assert_eq!((t.hookups[0].from, t.hookups[0].to), (0, 2));
        assert!(matches!(&t.elements[1].kind, Kind::Primitive(c) if c == "Queue"));
    }

    #[test]
    fn redeclaration() {
        assert_eq!(
            errs("x :: A;\n  x :: B"),
            vec!["s.graph:2:3: redeclaration of element 'x' (first declared at s.graph:1:1)"]
        );
        assert_eq!(
            errs("a, a :: A"),
            vec!["s.graph:1:4: redeclaration of element 'a' (first declared at s.graph:1:1)"]
        );
    }

    #[test]
    fn class_names_and_digits_cannot_name_elements() {
        assert_eq!(
            errs("elementclass T { input -> output }\nT :: Counter"),
            vec!["s.graph:2:1: 'T' is an element class, so it cannot also name an element"]
        );
        assert_eq!(errs("12 :: Counter"), vec!["s.graph:1:1: element name '12' has an all-digit component"]);
        assert_eq!(errs("a/7 :: Counter"), vec!["s.graph:1:1: element name 'a/7' has an all-digit component"]);
    }

    #[test]
    fn pseudo_elements() {
        assert_eq!(errs("input -> Counter"), vec!["s.graph:1:1: 'input' used outside an element class"]);
        assert_eq!(errs("x -> output"), vec!["s.graph:1:6: 'output' used outside an element class"]);
        assert_eq!(
            errs("elementclass T { input -> x :: Null -> input; x -> output }"),
            vec!["s.graph:1:40: 'input' can only appear on the left of '->'"]
        );
        assert_eq!(
            errs("elementclass T { input -> output -> Null -> output }"),
            vec!["s.graph:1:34: 'output' can only appear on the right of '->'"]
        );
        assert_eq!(
            errs("elementclass T { input :: Null; input -> output }"),
            vec!["s.graph:1:18: 'input' is reserved inside an element class and cannot be declared"]
        );
    }

    #[test]
    fn compound_ports_are_counted() {
        let (t, _, e) = resolve_text("elementclass T { input [1] -> output; input -> [0] output } T -> x");
        assert!(e.is_empty(), "{e:?}");
        let Kind::Compound(c) = &t.elements[0].kind else { panic!("not a compound") };
        assert_eq!((c.overloads[0].ninputs, c.overloads[0].noutputs), (2, 1));
        assert_eq!(
            errs("elementclass T { input [1] -> output; input -> [2] output }"),
            vec!["s.graph:1:16: output 1 of element class 'T' is not used inside it"]
        );
    }

    #[test]
    fn elementclass_scoping() {
        // A class defined inside another is local to it; outside the name is a primitive.
        let (t, _, e) =
            resolve_text("elementclass A { elementclass B { input -> output } input -> B -> output } B -> A -> x");
        assert!(e.is_empty(), "{e:?}");
        assert!(matches!(&t.elements[0].kind, Kind::Primitive(c) if c == "B"));
        assert!(matches!(&t.elements[1].kind, Kind::Compound(_)));
        // A class used before its definition is a primitive there.
        let (t, _, _) = resolve_text("a :: A; elementclass A { input -> output } b :: A");
        assert!(matches!(&t.elements[0].kind, Kind::Primitive(_)));
        assert!(matches!(&t.elements[1].kind, Kind::Compound(_)));
    }

    #[test]
    fn synonyms() {
        let (t, _, _) =
            resolve_text("elementclass C Counter; elementclass T { input -> output } elementclass U T; a :: C; b :: U");
        assert!(matches!(&t.elements[0].kind, Kind::Primitive(c) if c == "Counter"));
        assert!(matches!(&t.elements[1].kind, Kind::Compound(c) if c.name == "T"));
        assert_eq!(t.elements[0].written_class, "C");
    }

    #[test]
    fn requirements() {
        let (_, reqs, e) = resolve_text("require(package foo)\nrequire(library plugins/x.so) require(bar /* c */)");
        assert!(e.is_empty());
        let args: Vec<_> = reqs.iter().map(|r| r.args.join(" ")).collect();
        assert_eq!(args, ["package foo", "library plugins/x.so", "bar"]);
        assert_eq!(reqs[1].loc.to_string(), "s.graph:2:1");
        assert_eq!(
            errs("require( )"),
            vec!["s.graph:1:1: 'require' needs at least one word, as in require(package NAME)"]
        );
    }

    #[test]
    fn defines() {
        let (t, _, e) = resolve_text("define($N 10, $E, $S a b )");
        assert!(e.is_empty(), "{e:?}");
        let d: Vec<_> = t.defines.iter().map(|d| (d.name.clone(), d.value.as_string())).collect();
        assert_eq!(d, [("N".into(), "10".into()), ("E".into(), "".into()), ("S".into(), "a b".into())]);
        assert_eq!(errs("define(N 10)"), vec!["s.graph:1:8: expected '$NAME value' in define, found 'N'"]);
        assert_eq!(
            errs("define($N 1)\ndefine($N 2)"),
            vec!["s.graph:2:8: variable '$N' is already defined in this scope (at s.graph:1:8)"]
        );
    }

    #[test]
    fn formals_are_checked() {
        assert_eq!(
            errs("elementclass T { $a, $a | input -> output }"),
            vec!["s.graph:1:22: parameter '$a' is declared twice (first at s.graph:1:18)"]
        );
        assert_eq!(
            errs("elementclass T { K $a, $b | input -> output }"),
            vec!["s.graph:1:24: element class parameters must be positional ones first, then keywords, then one __REST__"]
        );
        assert_eq!(
            errs("elementclass T { $a | define($a 1) input -> output }"),
            vec!["s.graph:1:30: variable '$a' is already defined in this scope (at s.graph:1:18)"]
        );
    }
}

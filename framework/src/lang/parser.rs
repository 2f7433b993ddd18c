//! Parser: tokens to statements, by recursive descent over Click's grammar.
//!
//! Statements need no separator: a chain ends where the next token cannot continue it
//! (anything but `->` or a port after an element). On a syntax error the parser reports
//! it, skips to a likely statement start and goes on, so one run shows many errors.

use crate::error::{GraphError, Loc};

use super::ast::*;
use super::lexer::{Tok, Token};

/// How deeply `{ ... }` element classes may nest; deeper input is refused, not overflowed.
const MAX_NESTING: usize = 64;

/// Parse a whole configuration. Syntax errors go to `errors`; what parsed is returned.
pub fn parse(tokens: Vec<Token>, errors: &mut Vec<GraphError>) -> Vec<Stmt> {
    let mut p = Parser { toks: tokens, pos: 0, depth: 0, gave_up: false, errors };
    if p.toks.last().map(|t| &t.tok) != Some(&Tok::Eof) {
        // The lexer always ends with Eof; keep the parser safe if handed anything else.
        let loc = p.toks.last().map_or_else(Loc::none, |t| t.loc.clone());
        p.toks.push(Token { tok: Tok::Eof, loc, line_start: true });
    }
    p.statements(false)
}

/// A syntax error has been reported; the caller should resynchronise.
struct Failed;

type PResult<T> = Result<T, Failed>;

struct Parser<'e> {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Set when nesting was too deep: the rest of the input is skipped without more messages.
    gave_up: bool,
    errors: &'e mut Vec<GraphError>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[self.pos.min(last)]
    }

    fn peek2(&self) -> &Tok {
        let last = self.toks.len() - 1;
        &self.toks[(self.pos + 1).min(last)].tok
    }

    /// Consume and return the current token (Eof is never consumed).
    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn error(&mut self, loc: Loc, msg: impl Into<String>) {
        self.errors.push(GraphError::new(loc, msg));
    }

    /// Report "expected WHAT, found X" at the current token.
    fn expected(&mut self, what: &str) -> Failed {
        let t = self.peek().clone();
        self.error(t.loc, format!("expected {what}, found {}", t.tok.describe()));
        Failed
    }

    /// Statements up to end of input, or (nested) up to `}` / `||`, which are left unconsumed.
    fn statements(&mut self, nested: bool) -> Vec<Stmt> {
        let mut out = Vec::new();
        loop {
            let t = self.peek().clone();
            let result = match t.tok {
                Tok::Eof => return out,
                Tok::Punct('}') | Tok::DoubleBar if nested => return out,
                Tok::Punct('}') => {
                    self.bump();
                    self.error(t.loc, "'}' without a matching '{'");
                    Ok(())
                }
                Tok::DoubleBar => {
                    self.bump();
                    self.error(t.loc, "'||' used outside an element class");
                    Ok(())
                }
                Tok::Punct(';') => {
                    self.bump();
                    Ok(())
                }
                Tok::Elementclass => self.elementclass(&mut out),
                Tok::Require | Tok::Define => self.require_or_define(&mut out),
                Tok::ConnectionTunnel => {
                    self.bump();
                    self.error(t.loc, "connection tunnels are not supported");
                    Err(Failed)
                }
                Tok::Ident(_) | Tok::Punct('[') | Tok::Punct('{') => self.chain(&mut out),
                _ => {
                    let e = self.expected("an element or a statement");
                    self.bump();
                    Err(e)
                }
            };
            if result.is_err() {
                self.recover();
            }
        }
    }

    /// Skip to where a new statement probably starts: after `;`, before `}`/`||`/a keyword/end,
    /// or before a word that begins a line and does not continue the previous line.
    fn recover(&mut self) {
        let mut braces = 0usize;
        loop {
            let t = self.peek();
            match &t.tok {
                Tok::Eof => return,
                Tok::Punct(';') if braces == 0 => {
                    self.bump();
                    return;
                }
                Tok::Punct('}') | Tok::DoubleBar if braces == 0 => return,
                tok if tok.is_keyword() && braces == 0 => return,
                Tok::Ident(_) if braces == 0 && t.line_start && !self.prev_continues() => return,
                Tok::Punct('{') => braces += 1,
                Tok::Punct('}') => braces -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    /// Whether the previous token expects more on the next line (`a ->` / `a ::` / `a,`).
    fn prev_continues(&self) -> bool {
        self.pos.checked_sub(1).and_then(|i| self.toks.get(i)).is_some_and(|t| {
            matches!(t.tok, Tok::Arrow | Tok::DoubleArrow | Tok::DoubleColon | Tok::Punct(',') | Tok::Punct('['))
        })
    }

    /// `elementclass Name { ... }` or `elementclass Name Other`.
    fn elementclass(&mut self, out: &mut Vec<Stmt>) -> PResult<()> {
        self.bump();
        let name = match self.peek().tok.clone() {
            Tok::Ident(name) => Ident { name, loc: self.bump().loc },
            _ => return Err(self.expected("an element class name after 'elementclass'")),
        };
        let def = match self.peek().tok.clone() {
            Tok::Punct('{') => ClassDef::Body(self.class_body(Some(&name.name))?),
            Tok::Ident(other) => ClassDef::Synonym(Ident { name: other, loc: self.bump().loc }),
            _ => {
                let what = format!("'{{' or a class name after 'elementclass {}'", name.name);
                return Err(self.expected(&what));
            }
        };
        out.push(Stmt::ElementClass { name, def });
        Ok(())
    }

    /// `require(...)` or `define(...)`: the keyword and one configuration string.
    fn require_or_define(&mut self, out: &mut Vec<Stmt>) -> PResult<()> {
        let kw = self.bump();
        let word = if kw.tok == Tok::Require { "require" } else { "define" };
        let Tok::Config { text, start } = self.peek().tok.clone() else {
            return Err(self.expected(&format!("'(' after '{word}'")));
        };
        self.bump();
        let config = ConfigText { raw: text, loc: start };
        out.push(if kw.tok == Tok::Require {
            Stmt::Require { config, loc: kw.loc }
        } else {
            Stmt::Define { config, loc: kw.loc }
        });
        Ok(())
    }

    /// A chain `[p] elem [p] -> [p] elem [p] ...`. The part parsed before an error is kept.
    fn chain(&mut self, out: &mut Vec<Stmt>) -> PResult<()> {
        let mut links: Vec<Link> = Vec::new();
        let result = self.chain_links(&mut links);
        if !links.is_empty() {
            out.push(Stmt::Chain(Chain { links }));
        }
        result
    }

    fn chain_links(&mut self, links: &mut Vec<Link>) -> PResult<()> {
        let mut arrow: Option<(Loc, bool)> = None;
        let mut joined = false;
        // Where the last set's output ports are, for "connects to nothing" at the end.
        let mut end_ports: Vec<Loc> = Vec::new();
        loop {
            let in_port = self.port()?;
            let first_set = links.is_empty() || (joined && links.iter().all(|l| l.arrow.is_none()));
            if let (true, Some(p)) = (first_set, &in_port) {
                self.error(p.loc.clone(), "an input port at the start of a chain connects to nothing");
            }
            let Some(elem) = self.element(links.is_empty())? else {
                return Err(self.expected(match (links.is_empty(), joined, &arrow) {
                    (true, _, _) => "an element",
                    (_, true, _) => "an element after ','",
                    (_, _, Some((_, true))) => "an element after '=>'",
                    _ => "an element after '->'",
                }));
            };
            let out_port = self.port()?;
            if !joined {
                end_ports.clear();
            }
            end_ports.extend(out_port.as_ref().map(|p| p.loc.clone()));
            let (arrow_loc, double_arrow) = match arrow.take() {
                Some((loc, double)) => (Some(loc), double),
                None => (None, false),
            };
            links.push(Link { in_port, elem, out_port, arrow: arrow_loc, double_arrow, joined });
            let t = self.peek().clone();
            joined = false;
            match t.tok {
                Tok::Arrow | Tok::DoubleArrow => {
                    self.bump();
                    arrow = Some((t.loc, t.tok == Tok::DoubleArrow));
                    continue;
                }
                Tok::Punct(',') => {
                    self.bump();
                    joined = true;
                    continue;
                }
                Tok::Punct(';') => {
                    self.bump();
                }
                // Things that can start the next statement end this one (Click needs no ';').
                Tok::Eof | Tok::Ident(_) | Tok::Punct('{') | Tok::Punct('}') | Tok::DoubleBar => {}
                ref tok if tok.is_keyword() => {}
                _ => return Err(self.expected("'->' or ';'")),
            }
            for loc in end_ports {
                self.error(loc, "an output port at the end of a chain connects to nothing");
            }
            return Ok(());
        }
    }

    /// An optional `[N]`, or a port list `[N, M, ...]` (`[N, ]` and `[]` are expandable).
    fn port(&mut self) -> PResult<Option<Port>> {
        if self.peek().tok != Tok::Punct('[') {
            return Ok(None);
        }
        let open = self.bump();
        let mut ports: Vec<usize> = Vec::new();
        let mut expandable = false;
        loop {
            let t = self.peek().clone();
            match &t.tok {
                Tok::Ident(w) if w.chars().all(|c| c.is_ascii_digit()) => {
                    self.bump();
                    match w.parse::<usize>() {
                        Ok(n) => ports.push(n),
                        Err(_) => {
                            self.error(t.loc.clone(), format!("port number {w} is too large"));
                            ports.push(0);
                        }
                    }
                }
                Tok::Punct(']') => {
                    // `[]` or `[N, ]`: an expandable list (Click).
                    self.bump();
                    if ports.is_empty() {
                        ports.push(0);
                    }
                    expandable = true;
                    break;
                }
                _ => {
                    self.error(t.loc.clone(), "port number must be a non-negative integer");
                    self.skip_to_port_end();
                    return Ok(Some(Port { n: 0, loc: open.loc, more: Vec::new(), expandable: false }));
                }
            }
            match self.peek().tok {
                Tok::Punct(']') => {
                    self.bump();
                    break;
                }
                Tok::Punct(',') => {
                    self.bump();
                }
                _ => return Err(self.expected("',' or ']' after the port number")),
            }
        }
        let n = ports[0];
        Ok(Some(Port { n, loc: open.loc, more: ports[1..].to_vec(), expandable }))
    }

    /// After a bad port number: skip to the closing `]` if it is near, so the chain goes on.
    fn skip_to_port_end(&mut self) {
        let save = self.pos;
        for _ in 0..4 {
            match self.peek().tok {
                Tok::Punct(']') => {
                    self.bump();
                    return;
                }
                Tok::Eof | Tok::Arrow | Tok::Punct(';') => break,
                _ => {
                    self.bump();
                }
            }
        }
        self.pos = save;
    }

    /// An element in a chain, or None (nothing consumed) if the next token cannot start one.
    /// `first`: at the start of a chain, where `a, b :: C` is allowed.
    fn element(&mut self, first: bool) -> PResult<Option<ElemRef>> {
        match self.peek().tok.clone() {
            Tok::Ident(name) => {
                let id = Ident { name, loc: self.bump().loc };
                match self.peek().tok {
                    Tok::Config { .. } => {
                        let config = self.opt_config();
                        Ok(Some(ElemRef::Anon { class: ClassRef::Named(id), config }))
                    }
                    Tok::DoubleColon => self.declaration(vec![id]).map(Some),
                    Tok::Punct(',') if first && self.name_list_declares() => {
                        let names = self.more_names(id)?;
                        self.declaration(names).map(Some)
                    }
                    _ => Ok(Some(ElemRef::Name(id))),
                }
            }
            Tok::Punct('{') => {
                let body = self.class_body(None)?;
                let config = self.opt_config();
                Ok(Some(ElemRef::Anon { class: ClassRef::Inline(body), config }))
            }
            _ => Ok(None),
        }
    }

    /// At `,` after a first word: whether `, b, c ::` follows, making `a, b, c :: Class` a
    /// declaration of several elements. Otherwise the words form an element list.
    fn name_list_declares(&self) -> bool {
        let mut i = self.pos;
        loop {
            match self.toks.get(i).map(|t| &t.tok) {
                Some(Tok::Punct(',')) => {}
                _ => return false,
            }
            match self.toks.get(i + 1).map(|t| &t.tok) {
                Some(Tok::Ident(_)) => {}
                // `a, -> b`: let the declaration path report the missing name.
                _ => return true,
            }
            match self.toks.get(i + 2).map(|t| &t.tok) {
                Some(Tok::DoubleColon) => return true,
                Some(Tok::Punct(',')) => i += 2,
                _ => return false,
            }
        }
    }

    /// `a, b, c` before `::`.
    fn more_names(&mut self, first: Ident) -> PResult<Vec<Ident>> {
        let mut names = vec![first];
        while self.peek().tok == Tok::Punct(',') {
            self.bump();
            match self.peek().tok.clone() {
                Tok::Ident(name) => names.push(Ident { name, loc: self.bump().loc }),
                _ => return Err(self.expected("an element name after ','")),
            }
        }
        Ok(names)
    }

    /// `:: Class(config)` after the names being declared.
    fn declaration(&mut self, names: Vec<Ident>) -> PResult<ElemRef> {
        if self.peek().tok != Tok::DoubleColon {
            return Err(self.expected("'::' after the element names"));
        }
        self.bump();
        let class = match self.peek().tok.clone() {
            Tok::Ident(name) => ClassRef::Named(Ident { name, loc: self.bump().loc }),
            Tok::Punct('{') => ClassRef::Inline(self.class_body(None)?),
            _ => return Err(self.expected("an element class after '::'")),
        };
        let config = self.opt_config();
        Ok(ElemRef::Decl { names, class, config })
    }

    fn opt_config(&mut self) -> Option<ConfigText> {
        match self.peek().tok.clone() {
            Tok::Config { text, start } => {
                self.bump();
                Some(ConfigText { raw: text, loc: start })
            }
            _ => None,
        }
    }

    /// `{ [formals |] statements [|| ...] }`, at the `{`.
    fn class_body(&mut self, name: Option<&str>) -> PResult<ClassBody> {
        let open = self.bump().loc;
        if self.depth >= MAX_NESTING {
            self.error(open, "element classes are nested too deeply");
            self.pos = self.toks.len() - 1;
            self.gave_up = true;
            return Err(Failed);
        }
        self.depth += 1;
        let body = self.class_body_inner(open, name);
        self.depth -= 1;
        body
    }

    fn class_body_inner(&mut self, open: Loc, name: Option<&str>) -> PResult<ClassBody> {
        let mut overloads = Vec::new();
        let mut extends = None;
        loop {
            if self.peek().tok == Tok::Ellipsis {
                // `|| ...`: the previous definition serves what no overload here takes.
                let t = self.bump();
                if overloads.is_empty() || self.peek().tok != Tok::Punct('}') {
                    self.error(t.loc.clone(), "'...' should occur last, after one or more overloads");
                }
                extends = Some(t.loc);
                if self.peek().tok == Tok::Punct('}') {
                    self.bump();
                    return Ok(ClassBody { loc: open, overloads, extends });
                }
            }
            let formals = self.formals();
            let stmts = self.statements(true);
            overloads.push(Overload { formals, stmts });
            let t = self.bump();
            match t.tok {
                Tok::DoubleBar => continue,
                Tok::Punct('}') => return Ok(ClassBody { loc: open, overloads, extends }),
                _ if self.gave_up => return Err(Failed),
                _ => {
                    let what = name.map_or("element class".to_string(), |n| format!("element class '{n}'"));
                    self.error(open, format!("unterminated {what}: missing '}}'"));
                    return Err(Failed);
                }
            }
        }
    }

    /// Optional formal parameters `$a, $b, KEYWORD $c |` at the start of a class body.
    fn formals(&mut self) -> Vec<Formal> {
        let mut formals = Vec::new();
        let starts = matches!(
            (&self.peek().tok, self.peek2()),
            (Tok::Var(_), _) | (Tok::Punct('|'), _) | (Tok::Ident(_), Tok::Var(_))
        );
        if !starts {
            return formals;
        }
        loop {
            let t = self.peek().clone();
            match (&t.tok, self.peek2().clone()) {
                (Tok::Punct('|'), _) if formals.is_empty() => {
                    self.bump();
                    return formals;
                }
                (Tok::Var(name), _) => {
                    self.bump();
                    formals.push(Formal { name: name.clone(), keyword: None, loc: t.loc });
                }
                (Tok::Ident(kw), Tok::Var(name)) => {
                    self.bump();
                    self.bump();
                    formals.push(Formal { name, keyword: Some(kw.clone()), loc: t.loc });
                }
                _ => {
                    self.expected("a parameter such as '$x' or 'KEYWORD $x'");
                    self.skip_past_bar();
                    return formals;
                }
            }
            match self.peek().tok {
                Tok::Punct(',') => {
                    self.bump();
                }
                Tok::Punct('|') => {
                    self.bump();
                    return formals;
                }
                _ => {
                    self.expected("',' or '|' after a parameter");
                    self.skip_past_bar();
                    return formals;
                }
            }
        }
    }

    /// After a bad parameter list: skip to just after its `|`, or to the end of the body.
    fn skip_past_bar(&mut self) {
        let mut braces = 0usize;
        loop {
            match self.peek().tok {
                Tok::Eof => return,
                Tok::Punct('|') if braces == 0 => {
                    self.bump();
                    return;
                }
                Tok::Punct('}') | Tok::DoubleBar if braces == 0 => return,
                Tok::Punct('{') => braces += 1,
                Tok::Punct('}') => braces -= 1,
                _ => {}
            }
            self.bump();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;
    use std::sync::Arc;

    fn parse_text(text: &str) -> (Vec<Stmt>, Vec<String>) {
        let mut errs = Vec::new();
        let toks = tokenize(&Arc::from("p.graph"), text, &mut errs);
        let stmts = parse(toks, &mut errs);
        (stmts, errs.iter().map(|e| e.to_string()).collect())
    }

    fn ok(text: &str) -> Vec<Stmt> {
        let (s, e) = parse_text(text);
        assert!(e.is_empty(), "unexpected errors: {e:?}");
        s
    }

    fn errs(text: &str) -> Vec<String> {
        parse_text(text).1
    }

    fn chain(s: &Stmt) -> &Chain {
        match s {
            Stmt::Chain(c) => c,
            other => panic!("not a chain: {other:?}"),
        }
    }

    fn name_of(e: &ElemRef) -> String {
        match e {
            ElemRef::Name(id) => id.name.clone(),
            ElemRef::Anon { class: ClassRef::Named(c), .. } => format!("<{}>", c.name),
            ElemRef::Anon { .. } => "<{}>".into(),
            ElemRef::Decl { names, .. } => names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(","),
        }
    }

    #[test]
    fn declaration_forms() {
        let s = ok("a :: Counter; b :: Queue(10)\nc, d :: Print(\"x\")");
        assert_eq!(s.len(), 3);
        match &chain(&s[1]).links[0].elem {
            ElemRef::Decl { names, class: ClassRef::Named(c), config: Some(cfg) } => {
                assert_eq!(names[0].name, "b");
                assert_eq!(c.name, "Queue");
                assert_eq!(cfg.raw, "10");
                assert_eq!(cfg.loc.to_string(), "p.graph:1:26");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(name_of(&chain(&s[2]).links[0].elem), "c,d");
    }

    #[test]
    fn chains_with_ports_and_inline_declarations() {
        let s = ok("src -> c :: Counter -> Strip(14)\n  -> [1]x[2]->y; a[1]->b");
        let links = &chain(&s[0]).links;
        let names: Vec<_> = links.iter().map(|l| name_of(&l.elem)).collect();
        assert_eq!(names, ["src", "c", "<Strip>", "x", "y"]);
        assert_eq!(links[3].in_port.as_ref().unwrap().n, 1);
        assert_eq!(links[3].out_port.as_ref().unwrap().n, 2);
        assert_eq!(links[1].arrow.as_ref().unwrap().to_string(), "p.graph:1:5");
        assert!(links[0].arrow.is_none());
        let l2 = &chain(&s[1]).links;
        assert_eq!(l2[0].out_port.as_ref().unwrap().n, 1);
    }

    #[test]
    fn statements_need_no_semicolons() {
        let s = ok("a :: A b :: B\na -> b c -> d");
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn elementclass_with_formals_and_overloads() {
        let s = ok("elementclass T { $a, KEY $b | input -> X($a) -> output || input -> output }");
        let Stmt::ElementClass { name, def: ClassDef::Body(body) } = &s[0] else { panic!() };
        assert_eq!(name.name, "T");
        assert_eq!(body.overloads.len(), 2);
        let f = &body.overloads[0].formals;
        assert_eq!((f[0].name.as_str(), f[0].keyword.as_deref()), ("a", None));
        assert_eq!((f[1].name.as_str(), f[1].keyword.as_deref()), ("b", Some("KEY")));
        assert!(body.overloads[1].formals.is_empty());
        assert_eq!(body.overloads[1].stmts.len(), 1);
    }

    #[test]
    fn empty_formals_and_synonyms() {
        let s = ok("elementclass E { | input -> output } elementclass S Counter;");
        assert!(matches!(&s[1], Stmt::ElementClass { def: ClassDef::Synonym(id), .. } if id.name == "Counter"));
    }

    #[test]
    fn anonymous_inline_class() {
        let s = ok("a -> { input -> Null -> output } -> b; x :: {input -> output}");
        assert!(matches!(&chain(&s[0]).links[1].elem, ElemRef::Anon { class: ClassRef::Inline(_), .. }));
        assert!(matches!(&chain(&s[1]).links[0].elem, ElemRef::Decl { class: ClassRef::Inline(_), .. }));
    }

    #[test]
    fn require_and_define() {
        let s = ok("require(package foo) define($N 10, $M 2)");
        assert!(matches!(&s[0], Stmt::Require { config, .. } if config.raw == "package foo"));
        assert!(matches!(&s[1], Stmt::Define { config, loc } if config.raw == "$N 10, $M 2" && loc.col == 22));
    }

    #[test]
    fn unexpected_token() {
        assert_eq!(errs("a [1] [2] -> b"), vec!["p.graph:1:7: expected '->' or ';', found '['"]);
        assert_eq!(errs("a -> b :: C :: D"), vec!["p.graph:1:13: expected '->' or ';', found '::'"]);
        assert_eq!(errs("a -> ;"), vec!["p.graph:1:6: expected an element after '->', found ';'"]);
        assert_eq!(errs("-> a"), vec!["p.graph:1:1: expected an element or a statement, found '->'"]);
    }

    #[test]
    fn missing_class_after_colons() {
        assert_eq!(errs("a :: ;"), vec!["p.graph:1:6: expected an element class after '::', found ';'"]);
        assert_eq!(errs("a :: -> b"), vec!["p.graph:1:6: expected an element class after '::', found '->'"]);
    }

    #[test]
    fn name_list_errors() {
        assert_eq!(errs("a, -> b"), vec!["p.graph:1:4: expected an element name after ',', found '->'"]);
        assert_eq!(errs("a, b :: ;"), vec!["p.graph:1:9: expected an element class after '::', found ';'"]);
        assert_eq!(errs("a -> b, ;"), vec!["p.graph:1:9: expected an element after ',', found ';'"]);
        assert_eq!(errs("a => ;"), vec!["p.graph:1:6: expected an element after '=>', found ';'"]);
    }

    #[test]
    fn element_lists_and_port_lists() {
        // Click: `a, b -> c` is an element list unless `::` follows the names.
        let s = ok("a, b -> [1] c, d [0, 2,] => e");
        let links = &chain(&s[0]).links;
        let names: Vec<_> = links.iter().map(|l| name_of(&l.elem)).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        let joined: Vec<_> = links.iter().map(|l| l.joined).collect();
        assert_eq!(joined, [false, true, false, true, false]);
        assert!(links[2].arrow.is_some() && !links[2].double_arrow);
        assert!(links[4].double_arrow);
        let p = links[3].out_port.as_ref().unwrap();
        assert_eq!((p.list(), p.expandable), (vec![0, 2], true));
        let p = ok("x [] -> y");
        let p = chain(&p[0]).links[0].out_port.clone().unwrap();
        assert_eq!((p.list(), p.expandable), (vec![0], true));
        // A declaration list still declares.
        assert!(
            matches!(&chain(&ok("a, b :: C -> d")[0]).links[0].elem, ElemRef::Decl { names, .. } if names.len() == 2)
        );
    }

    #[test]
    fn port_errors() {
        assert_eq!(errs("a [x] -> b"), vec!["p.graph:1:4: port number must be a non-negative integer"]);
        assert_eq!(errs("a -> [-1] b"), vec!["p.graph:1:7: port number must be a non-negative integer"]);
        assert_eq!(errs("a [1,,2] -> b"), vec!["p.graph:1:6: port number must be a non-negative integer"]);
        assert_eq!(errs("a [1 -> b"), vec!["p.graph:1:6: expected ',' or ']' after the port number, found '->'"]);
        assert_eq!(
            errs("a [99999999999999999999999] -> b"),
            vec!["p.graph:1:4: port number 99999999999999999999999 is too large"]
        );
        assert_eq!(errs("[0] a -> b"), vec!["p.graph:1:1: an input port at the start of a chain connects to nothing"]);
        assert_eq!(errs("a -> b [0];"), vec!["p.graph:1:8: an output port at the end of a chain connects to nothing"]);
    }

    #[test]
    fn bad_port_keeps_chain() {
        let (s, e) = parse_text("a [x] -> b");
        assert_eq!(e.len(), 1);
        assert_eq!(chain(&s[0]).links.len(), 2);
    }

    #[test]
    fn class_errors() {
        assert_eq!(
            errs("elementclass { }"),
            vec!["p.graph:1:14: expected an element class name after 'elementclass', found '{'"]
        );
        assert_eq!(
            errs("elementclass A ;"),
            vec!["p.graph:1:16: expected '{' or a class name after 'elementclass A', found ';'"]
        );
        assert_eq!(
            errs("elementclass A { input -> output"),
            vec!["p.graph:1:16: unterminated element class 'A': missing '}'"]
        );
        assert_eq!(errs("a -> { input -> output"), vec!["p.graph:1:6: unterminated element class: missing '}'"]);
        assert_eq!(
            errs("elementclass A { $a b | }"),
            vec!["p.graph:1:21: expected ',' or '|' after a parameter, found 'b'"]
        );
        assert_eq!(
            errs("elementclass A { $a, -> }"),
            vec!["p.graph:1:22: expected a parameter such as '$x' or 'KEYWORD $x', found '->'"]
        );
        assert_eq!(
            errs("elementclass A { ... }"),
            vec!["p.graph:1:18: '...' should occur last, after one or more overloads"]
        );
    }

    #[test]
    fn stray_braces_and_bars() {
        assert_eq!(errs("a -> b }"), vec!["p.graph:1:8: '}' without a matching '{'"]);
        assert_eq!(errs("a || b"), vec!["p.graph:1:3: '||' used outside an element class"]);
        assert_eq!(errs("connectiontunnel a -> b"), vec!["p.graph:1:1: connection tunnels are not supported"]);
        assert_eq!(errs("require package"), vec!["p.graph:1:9: expected '(' after 'require', found 'package'"]);
    }

    #[test]
    fn recovers_and_reports_several_errors() {
        let (s, e) = parse_text("a -> ]\nb -> c\nd :: ;\ne -> f\n$x\ng -> h");
        assert_eq!(
            e,
            vec![
                "p.graph:1:6: expected an element after '->', found ']'",
                "p.graph:3:6: expected an element class after '::', found ';'",
                "p.graph:5:1: expected '->' or ';', found '$x'",
            ]
        );
        // a (kept), b -> c, e -> f, g -> h
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "a -> ".to_string() + &"{".repeat(500);
        let e = errs(&text);
        assert!(e.iter().any(|m| m.ends_with("element classes are nested too deeply")), "{e:?}");
    }
}

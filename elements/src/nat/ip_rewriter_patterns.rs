//! `IPRewriterPatterns`: named patterns for IPRewriter, TCPRewriter, UDPRewriter and
//! IPAddrRewriter (`pattern NAME FOUTPUT ROUTPUT`).
//!
//! The element itself does nothing at run time. Each rewriter reads the configurations of
//! the graph's IPRewriterPatterns elements while it is being built (through
//! [`BuildCtx::declared_elements`]) and parses the pattern it names into its own
//! [`Pattern`], resolving names with Click's scoping rules ([`NamedPatterns`]).

use super::pattern::Pattern;
use sluice::args::{split_args, FromArg};
use sluice::element::{scope_of, DeclaredElement};
use sluice::{BuildCtx, ConfigError, Element};

sluice::element_class! {
    /// IPRewriterPatterns(NAME PATTERN, ...)
    ///
    /// Specifies shared IPRewriter patterns.
    ///
    /// Declares named patterns that IPRewriter, TCPRewriter, UDPRewriter and
    /// IPAddrRewriter input specs can use: `pattern NAME FOUTPUT ROUTPUT` rewrites by the
    /// pattern called NAME. Each argument is a name and a pattern, usually `NAME SADDR SPORT
    /// DADDR DPORT` (for IPAddrRewriter, `NAME SADDR DADDR`); every form of pattern an input
    /// spec accepts is accepted here, with the same meaning (ranges, prefixes, `#` and `?`),
    /// including a single word naming a pattern defined before. Empty arguments are
    /// ignored.
    ///
    /// Names are scoped as Click scopes them: a name defined by an IPRewriterPatterns inside
    /// a compound element instance is visible to rewriters inside that instance only; a
    /// rewriter looks a name up in its own compound scope first, then in each enclosing
    /// one, then at top level. Patterns are defined in the order the IPRewriterPatterns
    /// elements are declared, and a name may not be defined again where an earlier
    /// definition of it is visible (`pattern 'NAME' already defined`): an inner scope can
    /// reuse an outer name only when it is declared first. As in Click, a number names the
    /// pattern defined at that position in the whole configuration (counting from 0), so
    /// a number cannot be a pattern's name.
    ///
    /// IPRewriterPatterns has no ports and no handlers. Its configuration is checked when
    /// the graph is built; a rewriter naming an undefined pattern is refused with
    /// `input spec N: no such pattern 'NAME'`.
    ///
    /// Unlike Click, rewriters do not share the pattern object: every input of every
    /// rewriter that names a pattern (and every worker's instance of it) holds its own
    /// copy. This matters only for sequential (`#`) ranges: in Click the next port (or
    /// address) is shared by all users of the pattern, in Sluice each input goes through
    /// the range on its own. (Each rewriter only avoids ports its own table uses, in Click
    /// as in Sluice.) Changing an IPRewriterPatterns element's configuration by a swap does
    /// not change the rewriters already built from it.
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// None.
    ///
    /// # Handlers
    /// None beyond the framework's (`name`, `class`, `config`, ...).
    ///
    /// # Example
    /// ```text
    /// IPRewriterPatterns(NAT 10.0.0.1 1024-65535# - -);
    /// rw :: IPRewriter(pattern NAT 0 1, drop);
    /// ```
    pub const IP_REWRITER_PATTERNS = "IPRewriterPatterns" { ports: "0/0", processing: "a/a", handlers: &[], build: build }
}

/// Click's class name, as rewriters look for it.
const CLASS: &str = "IPRewriterPatterns";

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    // Define every pattern as Click's configure phase would, up to this element (which
    // may not be in the graph's declarations: a standalone build, or a swap with a new
    // configuration), and report this element's own errors.
    let mut named = NamedPatterns::default();
    for e in ctx.declared_elements().iter().filter(|e| e.class == CLASS) {
        if e.name == ctx.name {
            break;
        }
        named.define(e.scope(), &e.config);
    }
    let errors = named.define(ctx.scope(), config);
    if errors.is_empty() {
        Ok(Box::new(IPRewriterPatterns))
    } else {
        Err(ConfigError(errors.join("; ")))
    }
}

/// The element: nothing at run time.
pub struct IPRewriterPatterns;

impl Element for IPRewriterPatterns {}

/// One named pattern.
struct Named {
    /// The compound scope of the IPRewriterPatterns element that defined it.
    scope: String,
    name: String,
    pattern: Pattern,
}

/// The named patterns of a configuration, in definition order: Click's
/// `NameInfo::T_IPREWRITER_PATTERN` names and the router's vector of patterns.
#[derive(Default)]
pub(crate) struct NamedPatterns {
    defs: Vec<Named>,
}

impl NamedPatterns {
    /// Every pattern the graph's IPRewriterPatterns elements define, in declaration
    /// order (Click configures them, in element order, before any rewriter). Definitions
    /// with errors are left out (their element reports them).
    pub fn of(elements: &[DeclaredElement]) -> NamedPatterns {
        let mut named = NamedPatterns::default();
        for e in elements.iter().filter(|e| e.class == CLASS) {
            named.define(e.scope(), &e.config);
        }
        named
    }

    /// Click's `IPRewriterPatterns::configure` for an element in compound scope `scope`:
    /// defines its patterns, returning the errors (in Click's words where it has them).
    fn define(&mut self, scope: &str, config: &str) -> Vec<String> {
        let mut errors = Vec::new();
        for arg in split_args(config) {
            let words: Vec<&str> = arg.split_whitespace().collect();
            let Some((&name, rest)) = words.split_first() else { continue };
            if self.find(name, scope).is_some() {
                errors.push(format!("pattern '{name}' already defined"));
                continue;
            }
            match Pattern::parse(rest, &|n| self.find(n, scope).cloned()) {
                Ok(pattern) => self.defs.push(Named { scope: scope.to_string(), name: name.to_string(), pattern }),
                Err(m) => errors.push(format!("pattern '{name}': {m}")),
            }
        }
        errors
    }

    /// Click's `NameInfo::query_int(T_IPREWRITER_PATTERN, context, name)`: the pattern
    /// named `name` in compound scope `scope` or the nearest enclosing scope that defines
    /// it; else, for a number, the pattern defined at that position.
    pub fn find(&self, name: &str, scope: &str) -> Option<&Pattern> {
        let mut scope = scope;
        loop {
            if let Some(d) = self.defs.iter().find(|d| d.scope == scope && d.name == name) {
                return Some(&d.pattern);
            }
            if scope.is_empty() {
                break;
            }
            scope = scope_of(&scope[..scope.len() - 1]);
        }
        let index = i32::from_arg(name).ok()?;
        usize::try_from(index).ok().and_then(|i| self.defs.get(i)).map(|d| &d.pattern)
    }
}

/// A resolver for [`super::pattern::parse_input_spec`] in a rewriter being built with
/// `ctx`: looks names up from the rewriter's scope. The graph's patterns are read on the
/// first lookup only, so rewriters without named patterns pay nothing.
pub(crate) fn resolver(ctx: &BuildCtx) -> impl Fn(&str) -> Option<Pattern> + '_ {
    let named = std::cell::OnceCell::new();
    move |name| named.get_or_init(|| NamedPatterns::of(ctx.declared_elements())).find(name, ctx.scope()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat::testutil::*;
    use crate::nat::{ip_addr_rewriter, ip_rewriter, tcp_rewriter, udp_rewriter};
    use sluice::load::plan_str;
    use std::path::Path;
    use std::time::Instant;

    fn errors(text: &str) -> Vec<String> {
        match plan_str("nat.click", text, &[], &crate::registry(), Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(e) => e.to_string().lines().map(str::to_string).collect(),
        }
    }

    fn patterns_of(text: &str) -> NamedPatterns {
        let g = sluice::lang::parse_str("t.click", text, &[]).unwrap();
        NamedPatterns::of(sluice::element::Declarations::of_graph(&g).elements())
    }

    #[test]
    fn defines_patterns_in_every_form_and_resolves_names_and_numbers() {
        let n = patterns_of(
            "IPRewriterPatterns(NAT 10.0.0.1 1024-65535# - -, , BASIC 10.1.0.0/24 -, ALIAS NAT);
             IPRewriterPatterns(DST - - 1.2.3.4 80);",
        );
        assert_eq!(n.find("NAT", "").unwrap().unparse(), "10.0.0.1 1024-65535 - -");
        assert_eq!(n.find("BASIC", "").unwrap().unparse(), "10.1.0.1-10.1.0.254 -");
        assert_eq!(n.find("ALIAS", "").unwrap(), n.find("NAT", "").unwrap());
        assert_eq!(n.find("DST", "x/y/").unwrap().unparse(), "- - 1.2.3.4 80");
        // Click's numbers: the position in definition order (the empty argument defines nothing).
        assert_eq!(n.find("3", "").unwrap().unparse(), "- - 1.2.3.4 80");
        assert_eq!(n.find("1", "").unwrap(), n.find("BASIC", "").unwrap());
        assert!(n.find("4", "").is_none() && n.find("-1", "").is_none() && n.find("nat", "").is_none());
    }

    #[test]
    fn names_are_scoped_like_clicks() {
        // Inner definitions come first: an outer one, visible from inside, would make the
        // inner ones "already defined" (Click's NameInfo does the same).
        let n = patterns_of(
            "elementclass Inside { IPRewriterPatterns(P 2.2.2.2 - - -, Q 3.3.3.3 - - -) }
             elementclass Outer { i :: Inside; IPRewriterPatterns(P 4.4.4.4 - - -) }
             o :: Outer; plain :: Inside;
             IPRewriterPatterns(P 1.1.1.1 - - -);",
        );
        let saddr = |name: &str, scope: &str| n.find(name, scope).map(|p| p.unparse());
        assert_eq!(saddr("P", "").as_deref(), Some("1.1.1.1 - - -"));
        assert_eq!(saddr("P", "o/").as_deref(), Some("4.4.4.4 - - -"));
        assert_eq!(saddr("P", "o/i/").as_deref(), Some("2.2.2.2 - - -"));
        assert_eq!(saddr("P", "plain/").as_deref(), Some("2.2.2.2 - - -"));
        assert_eq!(saddr("Q", "o/i/").as_deref(), Some("3.3.3.3 - - -"));
        assert_eq!(saddr("Q", ""), None, "an inner name is not visible outside");
        assert_eq!(saddr("Q", "o/"), None);
    }

    #[test]
    fn refuses_bad_and_repeated_patterns_with_clicks_words_and_locations() {
        let e = errors(
            "IPRewriterPatterns(A 1.0.0.1 - - -, A 1.0.0.2 - - -, B 1.0.0.1 x - -, C, 0 1.0.0.1 - - -, D E);\n\
             p2 :: IPRewriterPatterns(A 1.0.0.3 - - -);",
        );
        assert_eq!(
            e,
            [
                "nat.click:1:20: IPRewriterPatterns 'IPRewriterPatterns@1': pattern 'A' already defined; \
                 pattern 'B': bad source port; pattern 'C': syntax error; pattern '0' already defined; \
                 pattern 'D': no such pattern 'E'",
                "nat.click:2:26: IPRewriterPatterns 'p2': pattern 'A' already defined",
            ]
        );
        // The same name in a compound scope and at top level: the inner one is defined
        // first here, so both are (as in Click); the other order is refused.
        assert!(errors(
            "elementclass C { IPRewriterPatterns(A 1.0.0.1 - - -) } c :: C; IPRewriterPatterns(A 1.0.0.2 - - -);"
        )
        .is_empty());
        let e = errors(
            "IPRewriterPatterns(A 1.0.0.2 - - -); elementclass C { IPRewriterPatterns(A 1.0.0.1 - - -) } c :: C;",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].ends_with("IPRewriterPatterns 'c/IPRewriterPatterns@2': pattern 'A' already defined"), "{e:?}");
        // Standalone (no graph): the configuration alone is checked.
        let b = |c: &str| build(c, &BuildCtx::standalone("p", 0, 0)).err().map(|e| e.0);
        assert_eq!(b("NAT 10.0.0.1 1024-65535# - -, OTHER NAT"), None);
        assert_eq!(b("NAT 10.0.0.1 1024-65535# - - 9").as_deref(), Some("pattern 'NAT': syntax error"));
    }

    #[test]
    fn rewriters_refuse_unknown_pattern_names_at_their_location() {
        let e = errors(
            "IPRewriterPatterns(NAT 10.0.0.1 1024-65535 - -);\n\
             Idle -> rw :: IPRewriter(pattern NAT 0 1, pattern TAN 1 0) -> Discard; rw[1] -> Discard; Idle -> [1]rw;\n\
             Idle -> arw :: IPAddrRewriter(pattern nat 0 0) -> Discard;",
        );
        assert_eq!(
            e,
            [
                "nat.click:2:26: IPRewriter 'rw': input spec 1: no such pattern 'TAN'",
                "nat.click:3:31: IPAddrRewriter 'arw': input spec 0: no such pattern 'nat'",
            ]
        );
        // A name defined only inside a compound instance is unknown outside it.
        let e = errors(
            "elementclass C { IPRewriterPatterns(IN 10.0.0.1 - - -); input -> IPRewriter(pattern IN 0 0) -> output }
             Idle -> C -> Discard; Idle -> TCPRewriter(pattern IN 0 0) -> Discard;",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].ends_with("TCPRewriter 'TCPRewriter@6': input spec 0: no such pattern 'IN'"), "{e:?}");
    }

    /// A rewriter of `class` built inside the graph `text` (as element `rw`), with `n` inputs and outputs.
    fn built<T>(
        text: &str,
        configure: fn(&str, &BuildCtx) -> Result<T, ConfigError>,
        ninputs: usize,
        noutputs: usize,
    ) -> T {
        let plan = plan_str("nat.click", text, &[], &crate::registry(), Path::new(".")).unwrap();
        let i = plan.graph.find("rw").unwrap();
        let ctx = plan.build_ctx(i, 0, 1);
        assert_eq!((ctx.ninputs, ctx.noutputs), (ninputs, noutputs));
        configure(&plan.graph.elements[i].config, &ctx).unwrap_or_else(|e| panic!("{e}"))
    }

    type Configure = fn(&str, &BuildCtx) -> Result<crate::nat::rewriter::Rewriter, ConfigError>;

    #[test]
    fn every_rewriter_rewrites_by_a_named_pattern_and_maps_replies_back() {
        let pk = capture(SNABB_V4);
        let graph = |class: &str, spec: &str| {
            format!(
                "IPRewriterPatterns(NAT 10.0.0.1 2000-2009# - -, BASIC 10.1.0.1-10.1.0.2# -);
                 Idle -> rw :: {class}({spec}, drop) -> Discard; Idle -> [1]rw; rw[1] -> Discard;"
            )
        };
        let t0 = Instant::now();
        for (class, configure) in [
            ("IPRewriter", ip_rewriter::configure as Configure),
            ("TCPRewriter", tcp_rewriter::configure),
            ("UDPRewriter", udp_rewriter::configure),
        ] {
            let mut rw = built(&graph(class, "pattern NAT 0 1"), configure, 2, 2);
            assert_eq!(rw.read_handler("patterns").unwrap(), "10.0.0.1 2000-2009 - -\n<drop>\n", "{class}");
            // The first TCP packet from the client: source 10.0.0.1:2000 (sequential).
            let p = pk.iter().find(|p| p.data()[12..16] == CLIENT && p.data()[9] == 6).unwrap();
            let d = p.data();
            let (dst, dport) = ([d[16], d[17], d[18], d[19]], u16::from_be_bytes([d[22], d[23]]));
            let (out, q) = run(&mut rw, 0, p.clone_packet(), t0);
            assert_eq!(out, 0, "{class}");
            assert_rewritten(&q, [10, 0, 0, 1], 2000, dst, dport);
            assert_same_except(&q, p, &napt_fields(p));
            // The server's reply to it, as seen outside: back to the client, byte for byte.
            let reply = pk
                .iter()
                .find(|r| r.data()[16..20] == CLIENT && r.data()[20..22] == d[22..24] && r.data()[22..24] == d[20..22])
                .unwrap();
            let (out, back) = run(&mut rw, 1, to_outside_view(reply, [10, 0, 0, 1], 2000), t0);
            assert_eq!((out, back.data()), (1, reply.data()), "{class}");
        }
        // IPAddrRewriter with the two-field (Basic NAT) form.
        let mut rw = built(&graph("IPAddrRewriter", "pattern BASIC 0 1"), ip_addr_rewriter::configure, 2, 2);
        let p = pk.iter().find(|p| p.data()[12..16] == CLIENT).unwrap();
        let (out, q) = run(&mut rw, 0, p.clone_packet(), t0);
        assert_eq!((out, &q.data()[12..16]), (0, &[10, 1, 0, 1][..]));
        assert_checksums(&q);
        assert_eq!(rw.read_handler("patterns").unwrap(), "10.1.0.1-10.1.0.2 - [1]\n<drop>\n");
    }

    #[test]
    fn each_input_keeps_its_own_copy_of_a_named_pattern() {
        let pk = capture(SNABB_V4);
        let p = pk.iter().find(|p| p.data()[12..16] == CLIENT && p.data()[9] == 6).unwrap();
        let text = "IPRewriterPatterns(NAT 10.0.0.1 2000-2009# - -);
                    Idle -> rw :: IPRewriter(pattern NAT 0 0, pattern NAT 0 0) -> Discard; Idle -> [1]rw;";
        let mut rw = built(text, ip_rewriter::configure, 2, 1);
        let t0 = Instant::now();
        // Flows to two servers, from two inputs: each input's copy of the pattern starts at
        // the range's start, and 2000 is free for the second server. (Click's one shared
        // pattern would give the second flow 2001.)
        let (_, a) = run(&mut rw, 0, p.clone_packet(), t0);
        let mut other = p.data().to_vec();
        other[19] ^= 1; // another server
        let hl = (other[0] & 15) as usize * 4;
        let end = other.len();
        refresh_checksums(&mut other, hl, end);
        let (_, b) = run(&mut rw, 1, ip_packet(&other), t0);
        let sport = |q: &sluice::Packet| u16::from_be_bytes([q.data()[20], q.data()[21]]);
        assert_eq!((sport(&a), sport(&b)), (2000, 2000));
        assert_eq!(rw.read_handler("nmappings").unwrap(), "2");
    }
}

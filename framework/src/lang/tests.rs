//! End-to-end tests of the public API on whole configurations.

use super::{parse_file, parse_str};
use crate::graph::Graph;

fn ok(text: &str) -> Graph {
    match parse_str("t.graph", text, &[]) {
        Ok(g) => g,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn errs(text: &str) -> Vec<String> {
    match parse_str("t.graph", text, &[]) {
        Ok(g) => panic!("expected errors, got {g:?}"),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn names(g: &Graph) -> Vec<&str> {
    g.elements.iter().map(|e| e.name.as_str()).collect()
}

fn conns(g: &Graph) -> Vec<String> {
    g.connections
        .iter()
        .map(|c| format!("{}[{}]->[{}]{}", g.elements[c.from].name, c.from_port, c.to_port, g.elements[c.to].name))
        .collect()
}

#[test]
fn simple_click_config() {
    let g = ok("// test\n\
                define($N 10)\n\
                src :: InfiniteSource(LIMIT $N, STOP true);\n\
                src -> c :: Counter -> Strip(14) -> Unstrip(14)\n    -> Discard;\n");
    assert_eq!(g.elements.len(), 5);
    assert_eq!(g.connections.len(), 4);
    assert_eq!(names(&g), ["src", "c", "Strip@3", "Unstrip@4", "Discard@5"]);
    let src = &g.elements[0];
    assert_eq!((src.class.as_str(), src.config.as_str()), ("InfiniteSource", "LIMIT 10, STOP true"));
    assert_eq!(src.loc.to_string(), "t.graph:3:1");
    assert_eq!(src.config_loc.to_string(), "t.graph:3:23");
    let strip = &g.elements[2];
    assert_eq!((strip.class.as_str(), strip.config.as_str(), strip.anonymous), ("Strip", "14", true));
    assert_eq!(strip.loc.to_string(), "t.graph:4:24");
    // Without a configuration string, argument errors point at the class name.
    assert_eq!(g.elements[1].config_loc.to_string(), "t.graph:4:13");
    assert_eq!(g.elements[4].config_loc.to_string(), "t.graph:5:8");
    assert_eq!(
        conns(&g),
        ["src[0]->[0]c", "c[0]->[0]Strip@3", "Strip@3[0]->[0]Unstrip@4", "Unstrip@4[0]->[0]Discard@5"]
    );
    assert_eq!(g.connections[3].loc.to_string(), "t.graph:5:5");
}

#[test]
fn compound_example() {
    let g = ok("elementclass Twice { $n | input -> a :: Counter -> Null -> output; }\n\
                FromDump(x.pcap) -> t :: Twice(3) -> [0] ToDump(y.pcap);\n");
    assert_eq!(names(&g), ["FromDump@1", "t/a", "t/Null@3", "ToDump@4"]);
    assert_eq!(g.elements[0].config, "x.pcap");
    assert_eq!(g.elements[3].config, "y.pcap");
    let mut c = conns(&g);
    c.sort();
    assert_eq!(c, ["FromDump@1[0]->[0]t/a", "t/Null@3[0]->[0]ToDump@4", "t/a[0]->[0]t/Null@3"]);
}

#[test]
fn click_style_router_fragment() {
    // Adapted from Click's test configurations: ports, fan-out, comments, no semicolons.
    let text = r#"
        /* classify ARP and IP */
        FromDevice(eth0) -> c :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -)
        c [0] -> ARPResponder(1.0.0.1 00:01:02:03:04:05) -> q :: Queue -> ToDevice(eth0)
        c [1] -> [1] arpq :: ARPQuerier(1.0.0.1, 00:01:02:03:04:05)
        c [2] -> Strip(14) -> CheckIPHeader -> arpq -> q
        c [3] -> Discard
        #line 1 "ignored"
    "#;
    let g = ok(text);
    assert_eq!(
        names(&g),
        ["FromDevice@1", "c", "ARPResponder@3", "q", "ToDevice@5", "arpq", "Strip@7", "CheckIPHeader@8", "Discard@9"]
    );
    assert_eq!(g.elements[1].config, "12/0806 20/0001, 12/0806 20/0002, 12/0800, -");
    assert_eq!(g.connections.len(), 10);
    assert!(conns(&g).contains(&"c[1]->[1]arpq".to_string()));
    assert!(conns(&g).contains(&"arpq[0]->[0]q".to_string()));
}

#[test]
fn indexed_variables_in_compounds() {
    // Click's test/compound/variables-01.testie (Copyright (c) Eddie Kohler; Click's
    // MIT-style license): ${a[N]} picks one word of a compound argument.
    let g = ok("elementclass Foo {\n\
                   $a | input -> Print(\"$a\") -> Print(\"${a[0]}\") -> Print(\"${a[2]}\") -> Print(\"${a[3]}\") -> output\n\
                }\n\
                elementclass Bar {\n\
                   $a, $n | input -> Print(\"${a[$n]}\") -> output\n\
                }\n\
                elementclass Baz {\n\
                   $a | input -> Bar(${a[1]} ${a[0]}, ${a[2]}) -> output\n\
                }\n\
                InfiniteSource(DATA \"\", LIMIT 1, STOP true)\n\
                  -> Foo(A B C)\n\
                  -> Bar(D E F, 2)\n\
                  -> Baz(G H 1)\n\
                  -> Baz(I J 0)\n\
                  -> Discard\n");
    let prints: Vec<&str> = g.elements.iter().filter(|e| e.class == "Print").map(|e| e.config.as_str()).collect();
    assert_eq!(prints, ["\"A B C\"", "\"A\"", "\"C\"", "\"\"", "\"F\"", "\"G\"", "\"J\""]);
}

#[test]
fn port_lists_and_element_lists() {
    // Click's test/ip/IPFilter-04.testie writes `c [0,1,2,3,4,5] -> i`.
    let g = ok("i :: Idle; i -> c :: IPClassifier(a, b, -) [0,1,2] -> i;");
    assert_eq!(conns(&g), ["i[0]->[0]c", "c[0]->[0]i", "c[1]->[0]i", "c[2]->[0]i"]);
    // A list of elements on either side.
    let g = ok("a, b :: Idle; a, b -> c :: Discard");
    assert_eq!(conns(&g), ["a[0]->[0]c", "b[0]->[0]c"]);
    let g = ok("t :: Tee(2); x :: Null; y :: Null; s :: Idle -> t; t [0, 1] => x, y; x, y => [0, 1] Idle");
    assert_eq!(conns(&g), ["s[0]->[0]t", "t[0]->[0]x", "t[1]->[0]y", "x[0]->[0]Idle@5", "y[0]->[1]Idle@5"]);
    // `=>` reads a lone element without ports as expandable; `[N, ]` is expandable too.
    let g = ok("t :: Tee(3); a, b, c :: Null; t => a, b, c");
    assert_eq!(conns(&g), ["t[0]->[0]a", "t[1]->[0]b", "t[2]->[0]c"]);
    let g = ok("t :: Tee(3); a, b :: Null; t [1, ] => a, b");
    assert_eq!(conns(&g), ["t[1]->[0]a", "t[2]->[0]b"]);
    // FastClick's conf/router/router-vanilla.click: a compound's outputs to a list.
    let g = ok("elementclass Ip { input -> t :: Tee(2); t[0] -> [0]output; t[1] -> [1]output }\n\
                a, b :: Null; Idle -> Ip() [0,1]=> a, b");
    assert_eq!(conns(&g), ["Idle@3[0]->[0]Ip@4/t", "Ip@4/t[0]->[0]a", "Ip@4/t[1]->[0]b"]);
}

#[test]
fn port_list_errors() {
    assert_eq!(
        errs("t :: Tee(2); a, b :: Null; t [0, 1] -> a, b"),
        ["t.graph:1:37: connecting several outputs to several inputs needs '=>' instead of '->'"]
    );
    assert_eq!(
        errs("t :: Tee(3); a, b :: Null; t [0, 1, 2] => a, b"),
        ["t.graph:1:40: connection mismatch: 3 outputs connected to 2 inputs"]
    );
    assert_eq!(
        errs("t :: Tee(3); a, b :: Null; t [0, ] => [0, ] a, b"),
        ["t.graph:1:36: at most one expandable port list is allowed per connection"]
    );
}

#[test]
fn class_extensions_fall_back_to_the_previous_definition() {
    // Click's test/compound/overload-01.testie (Click, MIT-style license): Foo(A) takes
    // overload 2, f :: Foo(A, TWO B) overload 1; after Foo is extended with `|| ...`,
    // Foo(A, B) takes the new overload 4 and Foo(A, B, C) falls back to the old overload 2.
    let g = ok(r#"
elementclass Foo {
   $a, $b | input -> Print(1) -> output
|| $a, __REST__ $b | input -> Print(2) -> output
|| $a, TWO $b, __REST__ $c | input -> Print(3) -> output
}
InfiniteSource(DATA "", LIMIT 1, STOP true)
  -> Foo(A)
  -> f::Foo(A, TWO B)
elementclass Foo {
   $a, $b | input -> Print(4) -> output
|| ...
}
f -> Foo(A, B) -> Foo(A, B, C) -> Discard
"#);
    let prints: Vec<&str> = g.elements.iter().filter(|e| e.class == "Print").map(|e| e.config.as_str()).collect();
    assert_eq!(prints, ["2", "1", "4", "2"]);
    assert_eq!(conns(&g).len(), 5);

    // An extension of a primitive class: what no overload takes builds the primitive.
    let g = ok("elementclass Counter { $a, $b, $c | input -> Print($a) -> output || ... }
                Idle -> Counter(x, y, z) -> Counter -> Discard;");
    let classes: Vec<&str> = g.elements.iter().map(|e| e.class.as_str()).collect();
    assert_eq!(classes, ["Idle", "Print", "Counter", "Discard"]);

    // `...` must come last, after an overload.
    assert_eq!(
        errs("elementclass A { ... || input -> output }"),
        ["t.graph:1:18: '...' should occur last, after one or more overloads"]
    );
}

#[test]
fn requirements_are_recorded() {
    let g = ok("require(package foo)\nrequire(library plugins/x.so);\na :: A");
    let args: Vec<_> = g.requirements.iter().map(|r| r.args.clone()).collect();
    assert_eq!(args, [vec!["package", "foo"], vec!["library", "plugins/x.so"]]);
}

#[test]
fn config_strings_keep_quotes_and_drop_comments() {
    let defs = vec![("N".to_string(), "5".to_string())];
    let text = "p :: Print(\"a, (b) // no\" /* c */, 'x $y', // d\n  \"$N\")";
    let g = parse_str("t.graph", text, &defs).unwrap();
    assert_eq!(g.elements[0].config, "\"a, (b) // no\"  , 'x $y', \n  \"5\"");
}

#[test]
fn command_line_defines() {
    let defs = vec![("N".to_string(), "5".to_string()), ("EXTRA".to_string(), "x".to_string())];
    let g = parse_str("<expr>", "define($N 10) s :: S($N, $EXTRA)", &defs).unwrap();
    assert_eq!(g.elements[0].config, "5, x");
    assert_eq!(g.elements[0].loc.to_string(), "<expr>:1:15");
}

#[test]
fn bare_undeclared_word_is_an_anonymous_element() {
    let g = ok("src :: S; src -> Dscard");
    assert_eq!(names(&g), ["src", "Dscard@2"]);
    assert_eq!(g.elements[1].class, "Dscard");
}

#[test]
fn errors_are_collected_and_sorted() {
    let e = errs("a :: A;\nb -> [x] c\na :: B\nd :: D(1)\ne -> f [1] [2] -> g\n");
    assert_eq!(
        e,
        vec![
            "t.graph:2:7: port number must be a non-negative integer",
            "t.graph:3:1: redeclaration of element 'a' (first declared at t.graph:1:1)",
            "t.graph:5:12: expected '->' or ';', found '['",
        ]
    );
}

#[test]
fn each_error_kind_end_to_end() {
    let cases: &[(&str, &str)] = &[
        ("a -> b [1] [2] -> c", "t.graph:1:12: expected '->' or ';', found '['"),
        ("a :: Queue(10\n-> b", "t.graph:1:11: unterminated configuration string: missing ')'"),
        ("a -> b /* oops", "t.graph:1:8: unterminated '/*' comment"),
        ("a :: P(\"abc) -> b", "t.graph:1:8: unterminated quoted string"),
        ("x :: A; x :: B", "t.graph:1:9: redeclaration of element 'x' (first declared at t.graph:1:1)"),
        ("a [z] -> b", "t.graph:1:4: port number must be a non-negative integer"),
        ("input -> a", "t.graph:1:1: 'input' used outside an element class"),
        ("a :: ;", "t.graph:1:6: expected an element class after '::', found ';'"),
        (
            "elementclass T { $a | input -> output }\nb :: B -> T(1, 2) -> c :: C",
            "t.graph:2:11: element class 'T' takes 1 argument, but 2 were given",
        ),
        (
            "elementclass T { input -> output }\nb :: B -> [1] f :: T -> c :: C; b [1] -> f",
            "t.graph:2:8: input 1 of compound 'f' (class T) is not used inside it",
        ),
        ("elementclass T { input [1] -> output }", "t.graph:1:16: input 0 of element class 'T' is not used inside it"),
    ];
    for (text, want) in cases {
        let got = errs(text);
        assert!(got.first().map(String::as_str) == Some(*want), "for {text:?}: got {got:?}, want {want:?}");
    }
}

#[test]
fn unreadable_file() {
    let path = std::path::Path::new("/nonexistent/dir/x.graph");
    let e = parse_file(path, &[]).unwrap_err();
    assert_eq!(e.len(), 1);
    let msg = e.to_string();
    assert!(
        msg.starts_with("/nonexistent/dir/x.graph:0:0: cannot read graph file '/nonexistent/dir/x.graph': "),
        "{msg}"
    );
}

#[test]
fn reads_a_file() {
    let dir = std::env::temp_dir().join(format!("sluice-lang-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.graph");
    std::fs::write(&path, "a :: A -> B").unwrap();
    let g = parse_file(&path, &[]).unwrap();
    assert_eq!(names(&g), ["a", "B@2"]);
    assert_eq!(&*g.elements[0].loc.file, path.display().to_string().as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn empty_and_comment_only_configs_are_empty_graphs() {
    for text in ["", "   \n", "// nothing\n/* at all */", ";;;", "#line 3\n"] {
        assert_eq!(ok(text), Graph::default(), "{text:?}");
    }
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "(((",
        ")))",
        "[[[",
        "]]]",
        "{{{",
        "}}}",
        "-> -> ->",
        ":: ::",
        "a :: (",
        "a -> [",
        "a [99999999999999999999] -> b",
        "élément :: Çlass",
        "日本 -> 語",
        "a -> 🚀",
        "\"",
        "'",
        "/*",
        "a // b /* c",
        "$",
        "${",
        "define(",
        "define($)",
        "require(",
        "elementclass",
        "elementclass {",
        "elementclass A {",
        "elementclass A { $",
        "elementclass A { $a,",
        "{ || || }",
        "a, b, :: C",
        "x :: T(\"\\",
        "\\<",
        "X(\\<",
        "a -> b ->",
        "[0]",
        "|",
        "||",
        "...",
        "input [",
        "\0\u{1}\u{7f}",
        "elementclass A { input -> A -> output } A(",
        "a :: {",
        "{ input -> output }(",
        "#",
        "\r\r\n\r",
        "a->b->c->[",
        "define($A $A)",
        "elementclass T { $a | input -> output } T($b)",
        "x :: y :: z",
        "a :: b(c) :: d",
        "connectiontunnel",
    ];
    for s in samples {
        let r = std::panic::catch_unwind(|| parse_str("g.graph", s, &[]));
        assert!(r.is_ok(), "panicked on {s:?}");
    }
    let must_fail =
        ["(((", ")))", "{{{", "}}}", "-> -> ->", "a :: (", "日本 -> 語", "\"", "/*", "elementclass A {", "a -> b ->"];
    for s in must_fail {
        assert!(parse_str("g.graph", s, &[]).is_err(), "accepted {s:?}");
    }
}

#[test]
fn many_chained_compounds_do_not_overflow() {
    // Long chains through pass-through compounds are traced without deep recursion.
    let mut text = String::from("elementclass P { input -> output }\na :: A");
    for _ in 0..5000 {
        text += " -> P";
    }
    text += " -> b :: B";
    let g = ok(&text);
    assert_eq!(conns(&g), ["a[0]->[0]b"]);
}

#[test]
fn class_bodies_are_checked_even_when_unused() {
    assert_eq!(
        errs("elementclass T {\n  x :: A; x :: B\n}"),
        vec!["t.graph:2:11: redeclaration of element 'x' (first declared at t.graph:2:3)"]
    );
}

#[test]
fn require_inside_a_class_is_recorded_once() {
    let g = ok("elementclass T { require(package p) input -> output }\na :: A -> T -> T -> b :: B");
    assert_eq!(g.requirements.len(), 1);
    assert_eq!(g.requirements[0].args, ["package", "p"]);
    assert_eq!(conns(&g), ["a[0]->[0]b"]);
}

#[test]
fn same_class_many_instances_get_distinct_names() {
    let g = ok("elementclass Q { $n | input -> q :: Queue($n) -> output }\n\
                s :: S; s -> a :: Q(1) -> d :: D; s -> b :: Q(2) -> d; s -> Q(3) -> d");
    assert_eq!(names(&g), ["s", "a/q", "d", "b/q", "Q@5/q"]);
    let cfg: Vec<_> = g.elements.iter().map(|e| e.config.as_str()).collect();
    assert_eq!(cfg, ["", "1", "", "2", "3"]);
    assert_eq!(g.connections.len(), 6);
}

/// Deterministic pseudo-random numbers (no dependency needed for a fuzz loop).
fn lcg(state: &mut u64) -> usize {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*state >> 33) as usize
}

#[test]
fn random_token_soup_never_panics() {
    let pieces = [
        "a",
        "B",
        "x/y",
        "0",
        "7",
        "99999999999999999999",
        "->",
        "::",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        ",",
        ";",
        "|",
        "||",
        "...",
        "$x",
        "${x}",
        "$",
        "\"",
        "'",
        "/*",
        "*/",
        "//",
        "\n",
        " ",
        "é",
        "🚀",
        "#",
        "\\<",
        ">",
        "elementclass",
        "define(",
        "require(",
        "input",
        "output",
        "KEY",
        "__REST__",
        "connectiontunnel",
        "\r",
        "\t",
    ];
    let mut seed = 42u64;
    for _ in 0..3000 {
        let n = lcg(&mut seed) % 40;
        let text: String = (0..n).map(|_| pieces[lcg(&mut seed) % pieces.len()]).collect();
        let defs = vec![("x".to_string(), "1".to_string())];
        let r = std::panic::catch_unwind(|| parse_str("f.graph", &text, &defs));
        assert!(r.is_ok(), "panicked on {text:?}");
    }
}

#[test]
fn every_prefix_of_valid_configs_never_panics() {
    let configs = [
        "define($N 10)\nsrc :: InfiniteSource(LIMIT $N, STOP true);\nsrc -> c :: Counter -> Strip(14) -> Discard;",
        "elementclass T { $n, K $k | input [1] -> a :: A(\"$n\") -> [1] output; input -> output || input -> output }\n\
         x :: X -> [1] t :: T(1, K 2) [1] -> y :: Y; x [1] -> t -> y; X -> { input -> output } -> Y",
        "require(library \"a b.so\") a, b :: Q(/* ) */ '(' \\<0a>) a [0] -> [0] b",
    ];
    for text in configs {
        for (i, _) in text.char_indices() {
            let prefix = &text[..i];
            let r = std::panic::catch_unwind(|| parse_str("f.graph", prefix, &[]));
            assert!(r.is_ok(), "panicked on {prefix:?}");
        }
    }
}

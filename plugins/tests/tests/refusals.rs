//! Every way a library can be wrong is refused with a clear sentence, and nothing of it
//! stays loaded: no class is registered, and its private copy is no longer mapped. Also
//! refused: graphs and swaps naming a class nobody loaded, and configurations a plugin
//! rejects.

use sluice::plugin;
use sluice_plugin_tests::*;
use std::path::Path;

fn registry() -> sluice::registry::Registry {
    sluice_elements::registry()
}

/// Load `lib` directly; it must fail with a message containing every one of `says`, and
/// leave nothing behind.
fn refused(lib: &Path, class: &str, says: &[&str]) -> String {
    let r = registry();
    let err = plugin::load(lib, &|n| r.is_builtin(n)).map(|l| l.classes).expect_err("must be refused");
    for s in says {
        assert!(err.contains(s), "'{err}' should say '{s}'");
    }
    assert!(err.contains(&lib.display().to_string()), "'{err}' should name the file");
    assert!(plugin::class(class).is_none() || r.is_builtin(class), "{class} must not be registered");
    let file = lib.file_name().unwrap().to_string_lossy().into_owned();
    assert!(!mapped(&file), "{file} must be closed again");
    err
}

fn crafted(dir: &Path, file: &str, defines: &[&str]) -> std::path::PathBuf {
    compile_c(&c_fixture("crafted.c"), dir, file, defines)
}

#[test]
fn bad_libraries_are_refused_and_nothing_stays_loaded() {
    let dir = scratch("refusals");
    // A sound library from the same source loads: the fixtures differ only in their flaw.
    let good = crafted(&dir, "libgood.so", &["CLASS=\"CraftedGood\""]);
    let r = registry();
    let l = plugin::load(&good, &|n| r.is_builtin(n)).expect("the sound one loads");
    assert_eq!(
        (l.name.as_str(), l.version.as_str(), l.classes.as_slice()),
        ("crafted", "0", &["CraftedGood".to_string()][..])
    );
    assert!(plugin::class("CraftedGood").is_some());

    let missing = dir.join("libnothere.so");
    refused(&missing, "Crafted", &["no such file"]);

    let text = dir.join("libtext.so");
    std::fs::write(&text, "this is not a shared object\n").unwrap();
    let e = refused(&text, "Crafted", &["cannot load plugin"]);
    eprintln!("not a library: {e}");

    let e = refused(
        &crafted(&dir, "libnosym.so", &["NO_SYMBOL", "CLASS=\"CraftedNoSym\""]),
        "CraftedNoSym",
        &["is not a Sluice plugin: it has no 'sluice_plugin_v1' symbol"],
    );
    eprintln!("no symbol: {e}");

    let e = refused(
        &crafted(&dir, "libmagic.so", &["MAGIC=0x1234", "CLASS=\"CraftedMagic\""]),
        "CraftedMagic",
        &["is not a Sluice plugin (bad magic number)"],
    );
    eprintln!("bad magic: {e}");

    let e = refused(
        &crafted(&dir, "libabi3.so", &["ABI=3", "CLASS=\"CraftedAbi\""]),
        "CraftedAbi",
        &["built for plugin ABI version 3, and this Sluice speaks versions 1 to 2"],
    );
    eprintln!("ABI version: {e}");
    let e = refused(
        &crafted(&dir, "libabi0.so", &["ABI=0", "CLASS=\"CraftedAbi0\""]),
        "CraftedAbi0",
        &["built for plugin ABI version 0, and this Sluice speaks versions 1 to 2"],
    );
    eprintln!("ABI version: {e}");

    refused(
        &crafted(&dir, "libnull.so", &["NULL_DESC", "CLASS=\"CraftedNull\""]),
        "CraftedNull",
        &["its entry point returned nothing"],
    );
    refused(
        &crafted(&dir, "libempty.so", &["NCLASSES=0", "CLASS=\"CraftedEmpty\""]),
        "CraftedEmpty",
        &["it defines no element classes"],
    );
    refused(
        &crafted(&dir, "libbuiltin.so", &["CLASS=\"Counter\""]),
        "Counter",
        &["its class 'Counter' has the name of a built-in class"],
    );
    refused(
        &crafted(&dir, "libname.so", &["CLASS=\"Bad-Name\""]),
        "Bad-Name",
        &["'Bad-Name' is not a valid class name"],
    );
    refused(
        &crafted(&dir, "libouts.so", &["CLASS=\"CraftedOuts\"", "PORTS=\"1/9\""]),
        "CraftedOuts",
        &["class 'CraftedOuts' may have more than 8 outputs"],
    );
    refused(
        &crafted(&dir, "libouts2.so", &["CLASS=\"CraftedOuts2\"", "PORTS=\"1/1-\""]),
        "CraftedOuts2",
        &["more than 8 outputs"],
    );

    // The built-in Counter is still the built-in one, and the sound library is still there.
    assert!(r.is_builtin("Counter"));
    assert!(plugin::class("CraftedGood").is_some());
    assert!(mapped("libgood.so"));
}

#[test]
fn a_graph_requiring_a_bad_library_is_refused_with_its_place() {
    let dir = scratch("require");
    let lib = crafted(&dir, "libreqabi.so", &["ABI=7", "CLASS=\"CraftedReq\""]);
    let cfg =
        format!("require(library \"{}\");\nInfiniteSource(LIMIT 10) -> CraftedReq(pass) -> Discard;", lib.display());
    let err = Fixture::try_new(&cfg).err().expect("refused");
    assert!(err.contains("<test>:1:1:"), "{err}");
    assert!(err.contains("built for plugin ABI version 7"), "{err}");
    assert!(plugin::class("CraftedReq").is_none());
    assert!(!mapped("libreqabi.so"));

    // A relative path resolves against the graph's directory.
    let good = crafted(&dir, "libreqgood.so", &["CLASS=\"CraftedRel\""]);
    let r = registry();
    let text = "require(library libreqgood.so);\nInfiniteSource(LIMIT 10) -> x :: CraftedRel(pass) -> c :: Counter -> Discard;";
    let plan = sluice::load::plan_str("<rel>", text, &[], &r, &dir).unwrap_or_else(|e| panic!("{e}"));
    let router = sluice::runtime::Router::new(plan, 1).unwrap().run(&Default::default());
    assert_eq!(router.read_handler("c", "count").unwrap(), "10");
    assert_eq!(router.read_handler("x", "count").unwrap(), "10");
    assert!(good.is_file());
}

#[test]
fn unknown_classes_and_refused_configurations() {
    // A graph naming a plugin class that no library provides.
    let err = Fixture::try_new("InfiniteSource(LIMIT 1) -> NoSuchPluginClass(3) -> Discard;").err().expect("refused");
    assert!(err.contains("unknown element class 'NoSuchPluginClass'"), "{err}");

    let f = Fixture::new(
        "src :: InfiniteSource(LIMIT 1000, BURST 10) -> c :: Counter -> x :: Null -> out :: Counter -> Discard;",
    );
    let mut c = f.client();
    // LOAD of a bad library over the control socket: 520 and the loader's sentence.
    let dir = scratch("ctl");
    let bad = crafted(&dir, "libctlmagic.so", &["MAGIC=1", "CLASS=\"CraftedCtl\""]);
    let r = c.request(&format!("LOAD {}", bad.display()), None, true).unwrap();
    assert_eq!(r.code, 520, "{r:?}");
    assert!(r.message().contains("bad magic number"), "{r:?}");
    let r = c.request("LOAD /nonexistent/libx.so", None, true).unwrap();
    assert_eq!(r.code, 520);
    assert!(r.message().contains("no such file"), "{r:?}");

    // SWAP to a class nobody loaded: refused, the element keeps running as it was.
    let r = c.swap("x", "CraftedCtl(pass)").unwrap();
    assert_eq!(r.code, 520, "{r:?}");
    assert!(r.lines[0].contains("unknown element class 'CraftedCtl'"), "{r:?}");
    assert!(c.list().unwrap().text().contains("x\tNull\tbuiltin\n"));

    // A plugin refusing its configuration: its own sentence, nothing changes.
    let good = crafted(&dir, "libctlgood.so", &["CLASS=\"CraftedCtlGood\""]);
    let msg = load(&mut c, &good);
    assert_eq!(msg, "Loaded plugin crafted 0");
    let r = c.swap("x", "CraftedCtlGood(dance)").unwrap();
    assert_eq!(r.code, 520, "{r:?}");
    assert_eq!(r.lines[0], "CraftedCtlGood: unknown MODE", "{r:?}");
    let cpaint = copy_as(&cpaint(), &dir, "libcpaint-refusals.so");
    load(&mut c, &cpaint);
    let r = c.swap("x", "CPaint(300)").unwrap();
    assert_eq!(r.code, 520, "{r:?}");
    assert!(r.lines[0].contains("COLOR must be an integer from 0 to 255"), "{r:?}");
    // And a port mismatch: CPaint has one output, TokenBucket-like classes may have more.
    let r = c.swap("src", "CPaint(3)").unwrap();
    assert_eq!(r.code, 520, "{r:?}");
    assert!(c.list().unwrap().text().contains("x\tNull\tbuiltin\n"));
    assert_eq!(settle(&mut c, "out.count"), 1000);
}

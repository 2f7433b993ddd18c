//! Library lifetime: a library stays loaded while any element made from it remains (and
//! while its classes are registered), and is unloaded once the last one is swapped out
//! and every worker has passed a quiescent point. A new version loaded from another file
//! runs next to the old one's elements. Observed in the process's mappings (each load is a
//! private copy with its own name) and through CPaint's `live` handler (instances alive in
//! one copy of the library, a static of that copy).

use sluice_plugin_tests::*;
use std::sync::Mutex;

/// Both tests register class CPaint: one at a time, so each knows which copy a swap uses.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn a_library_goes_only_when_its_last_element_goes() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = scratch("unload");
    let v1 = copy_as(&cpaint(), &dir, "libcpaint-unload-v1.so");
    let v2 =
        compile_c(std::path::Path::new(sluice_cpaint::SOURCE), &dir, "libcpaint-unload-v2.so", &["CPAINT_VERSION=2"]);
    let f = Fixture::new(&format!(
        "require(library \"{}\");\n\
         src :: InfiniteSource(LIMIT -1, BURST 16) -> x :: CPaint(1) -> y :: CPaint(2) -> out :: Counter -> Discard;",
        v1.display()
    ));
    let mut c = f.client();
    let (a, b) = ("libcpaint-unload-v1.so", "libcpaint-unload-v2.so");
    assert!(mapped(a) && !mapped(b));
    assert_eq!((read(&mut c, "x.version"), read(&mut c, "x.live")), ("1".into(), "2".into()));

    // v2 from another file: registered for new elements; v1 stays for x and y.
    assert_eq!(load(&mut c, &v2), "Loaded plugin cpaint 2.0");
    assert!(mapped(a) && mapped(b));
    swap(&mut c, "y", "CPaint(5)");
    assert_eq!(read(&mut c, "y.version"), "2", "new elements come from v2");
    assert_eq!(read(&mut c, "x.version"), "1", "x still runs v1's code");
    assert_eq!((read(&mut c, "x.live"), read(&mut c, "y.live")), ("1".into(), "1".into()), "one instance per copy");
    assert!(mapped(a), "x still uses v1");
    // Both run: their counters move.
    let (x0, y0) = (count(&mut c, "x.count"), count(&mut c, "y.count"));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(count(&mut c, "x.count") > x0 && count(&mut c, "y.count") > y0, "both versions process packets");

    // x's replacement comes from v2 and carries x's count across versions; v1 is gone.
    let before = count(&mut c, "x.count");
    swap(&mut c, "x", "CPaint(1)");
    assert!(!mapped(a), "v1 unloaded with its last element");
    assert!(mapped(b));
    assert_eq!(read(&mut c, "x.version"), "2");
    assert_eq!(read(&mut c, "x.live"), "2");
    assert!(count(&mut c, "x.count") >= before, "count carried from v1 to v2");

    // Elements gone but the class still registered: v2 stays loaded for later swaps.
    swap(&mut c, "x", "Null");
    swap(&mut c, "y", "Null");
    assert!(mapped(b), "v2's class is still registered");
    swap(&mut c, "y", "CPaint(7)");
    assert_eq!(read(&mut c, "y.live"), "1");
    let n = count(&mut c, "out.count");
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(count(&mut c, "out.count") > n, "traffic flows throughout");
}

#[test]
fn loading_the_same_file_again_makes_a_new_copy() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // The loader copies each library to a private path, so a file rebuilt in place (same
    // name, new contents) is loaded as new code, never confused with the mapped old one.
    let dir = scratch("reload");
    let path = dir.join("libcpaint-reload.so");
    std::fs::copy(cpaint(), &path).unwrap();
    let f = Fixture::new(&format!(
        "require(library \"{}\");\n\
         src :: InfiniteSource(LIMIT -1, BURST 16) -> x :: CPaint(1) -> out :: Counter -> Discard;",
        path.display()
    ));
    let mut c = f.client();
    assert_eq!(read(&mut c, "x.version"), "1");
    // Rebuild the file in place as version 2 and load it again.
    compile_c(std::path::Path::new(sluice_cpaint::SOURCE), &dir, "libcpaint-reload.so", &["CPAINT_VERSION=2"]);
    assert_eq!(load(&mut c, &path), "Loaded plugin cpaint 2.0");
    assert_eq!(read(&mut c, "x.version"), "1", "x keeps the code it was made from");
    swap(&mut c, "x", "CPaint(1)");
    assert_eq!(read(&mut c, "x.version"), "2");
    assert_eq!(read(&mut c, "x.live"), "1");
}

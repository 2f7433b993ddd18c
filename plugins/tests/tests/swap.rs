//! Swaps with plugins while packets flow: built-in → plugin → plugin v2 → built-in, and
//! plugin v1 ↔ v2 many times, with exact accounting (every packet the source made is
//! counted out or as a counted drop), and the token buckets carried to the new version.

use sluice_plugin_tests::*;
use std::path::PathBuf;
use std::sync::Mutex;

/// Tests here load libraries that register the same class name (TokenBucket): one at a
/// time, so each knows which library a swap builds from.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Copies of v1 and v2 under names of this test's own, to follow them in the mappings.
fn versions(tag: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(tag);
    (
        copy_as(&token_bucket_v1(), &dir, &format!("libtb-{tag}-v1.so")),
        copy_as(&token_bucket_v2(), &dir, &format!("libtb-{tag}-v2.so")),
    )
}

/// Private copies of `file` mapped now.
fn copies(file: &str) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut paths: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.contains("sluice-plugins-") && p.ends_with(&format!("-{file}")))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths.len()
}

const FLOW_A: ([u8; 4], u16) = ([192, 168, 1, 1], 4000);
const FLOW_B: ([u8; 4], u16) = ([192, 168, 1, 2], 4001);

fn data(flow: ([u8; 4], u16)) -> String {
    hex_data(&udp_packet(flow.0, flow.1))
}

#[test]
fn builtin_to_plugin_to_v2_to_builtin_under_load_loses_nothing() {
    let _g = serial();
    const N: u64 = 1_000_000;
    let (v1, v2) = versions("cycle");
    let cfg = format!(
        "src :: InfiniteSource({}, LIMIT {N}, BURST 64) -> c :: Counter -> x :: Null \
         -> q :: Queue(200000) -> Unqueue(BURST 64) -> out :: Counter -> Discard;",
        data(FLOW_A)
    );
    let f = Fixture::new(&cfg);
    let mut c = f.client();
    // A rate no flow reaches: the plugin passes everything, so every packet must come out.
    let spec = "TokenBucket(RATE 1e12, BURST 1000000)";
    let mut while_flowing = 0;
    let cycles = 40;
    for i in 0..cycles {
        load(&mut c, &v1);
        swap(&mut c, "x", spec);
        let list = c.list().unwrap().text();
        assert!(list.contains(&format!("x\tTokenBucket\tplugin token_bucket 1.0 ({})\n", v1.display())), "{list}");
        load(&mut c, &v2);
        swap(&mut c, "x", spec);
        let list = c.list().unwrap().text();
        assert!(list.contains(&format!("x\tTokenBucket\tplugin token_bucket 2.0 ({})\n", v2.display())), "{list}");
        swap(&mut c, "x", "Null");
        assert!(c.list().unwrap().text().contains("x\tNull\tbuiltin\n"));
        if count(&mut c, "c.count") < N {
            while_flowing += 1;
        }
        if i == cycles / 2 {
            // Mid-way no old version lingers: v1's copies went with their last element; v2
            // stays registered (and so loaded) with no element using it.
            assert_eq!((copies("libtb-cycle-v1.so"), copies("libtb-cycle-v2.so")), (0, 1));
        }
    }
    eprintln!("cycles with traffic: {while_flowing}/{cycles}");
    assert!(while_flowing >= 5, "swaps must happen while packets flow ({while_flowing} cycles saw traffic)");
    let out = settle(&mut c, "out.count");
    let drops = count(&mut c, "q.drops");
    assert_eq!(count(&mut c, "c.count"), N);
    assert_eq!(out + drops, N, "packets in = packets out + counted drops");
    assert_eq!(drops, 0, "the queue is big enough");
}

#[test]
fn v1_and_v2_swap_back_and_forth_under_load_with_exact_accounting() {
    let _g = serial();
    const N: u64 = 1_000_000;
    let (v1, v2) = versions("flip");
    // One output: packets over the rate are dropped by the plugin's verdict.
    let cfg = format!(
        "require(library \"{}\");\n\
         src :: InfiniteSource({}, LIMIT {N}, BURST 64) -> c :: Counter \
         -> x :: TokenBucket(RATE 300000, BURST 64) \
         -> q :: Queue(200000) -> Unqueue(BURST 64) -> out :: Counter -> Discard;",
        v1.display(),
        data(FLOW_A)
    );
    let f = Fixture::new(&cfg);
    let mut c = f.client();
    let mut while_flowing = 0;
    for i in 0..60 {
        let (lib, version) = if i % 2 == 0 { (&v2, "2.0") } else { (&v1, "1.0") };
        load(&mut c, lib);
        swap(&mut c, "x", "TokenBucket(RATE 300000, BURST 64)");
        assert_eq!(read(&mut c, "x.version"), version);
        if count(&mut c, "c.count") < N {
            while_flowing += 1;
        }
    }
    assert!(while_flowing >= 5, "swaps must happen while packets flow ({while_flowing} saw traffic)");
    let out = settle(&mut c, "out.count");
    let (passed, limited) = (count(&mut c, "x.passed"), count(&mut c, "x.limited"));
    let qdrops = count(&mut c, "q.drops");
    eprintln!("passed {passed}, limited {limited}, x.drops {}", count(&mut c, "x.drops"));
    assert_eq!(count(&mut c, "c.count"), N);
    // The buckets' counters went from version to version through 60 swaps: every packet
    // was decided exactly once, by one of the 61 instances.
    assert_eq!(passed + limited, N, "every packet decided once");
    assert_eq!(out + qdrops, passed, "every packet within the rate came out");
    assert!(limited > 0 && passed > 0, "the rate limited some packets and passed others");
    let details = read(&mut c, "x.drop_details");
    // The host's drop counts carry over every swap too: every limited packet was dropped
    // by a verdict and counted once.
    assert_eq!(count(&mut c, "x.drops"), limited, "the host counts the plugin's drops: {details}");
    // The last version loaded (v1) is mapped once; v2's copies all went with their elements.
    assert_eq!((copies("libtb-flip-v1.so"), copies("libtb-flip-v2.so")), (1, 0));
}

#[test]
fn the_buckets_survive_a_swap_to_v2() {
    let _g = serial();
    let (v1, v2) = versions("state");
    // RATE 0.001: a bucket refills one token in 1000 s, so only bursts pass in this test.
    let cfg = format!(
        "require(library \"{}\");\n\
         a :: InfiniteSource({fa}, LIMIT 100, BURST 10) -> x :: TokenBucket(RATE 0.001, BURST 10) -> out :: Counter -> Discard;\n\
         b :: InfiniteSource({fa}, LIMIT 100, BURST 10, ACTIVE false) -> x;\n\
         n :: InfiniteSource({fb}, LIMIT 30, BURST 10, ACTIVE false) -> x;\n\
         x [1] -> over :: Counter -> Discard;",
        v1.display(),
        fa = data(FLOW_A),
        fb = data(FLOW_B),
    );
    let f = Fixture::new(&cfg);
    let mut c = f.client();
    wait_for(&mut c, "over.count", 90);
    assert_eq!(count(&mut c, "out.count"), 10, "a burst of 10, then over the rate");
    assert_eq!((count(&mut c, "x.passed"), count(&mut c, "x.limited"), count(&mut c, "x.flows")), (10, 90, 1));
    assert_eq!(read(&mut c, "x.version"), "1.0");

    assert_eq!(load(&mut c, &v2), "Loaded plugin token_bucket 2.0");
    swap(&mut c, "x", "TokenBucket(RATE 0.001, BURST 10)");
    assert_eq!(read(&mut c, "x.version"), "2.0");
    assert_eq!((count(&mut c, "x.passed"), count(&mut c, "x.limited"), count(&mut c, "x.flows")), (10, 90, 1));

    // Flow A's bucket is still empty in v2: all 100 more packets are over the rate.
    assert!(c.write("b.active", "true").unwrap().is_ok());
    wait_for(&mut c, "over.count", 190);
    assert_eq!(count(&mut c, "out.count"), 10, "v2 kept flow A's empty bucket");
    // A new flow gets its own full bucket.
    assert!(c.write("n.active", "true").unwrap().is_ok());
    wait_for(&mut c, "over.count", 210);
    assert_eq!(count(&mut c, "out.count"), 20);
    assert_eq!((count(&mut c, "x.passed"), count(&mut c, "x.limited"), count(&mut c, "x.flows")), (20, 210, 2));
    assert_eq!(count(&mut c, "x.drops"), 0, "with output 1 connected nothing is dropped");

    // Handlers of the new version work; a change of BURST keeps the buckets.
    assert!(c.write("x.burst", "20").unwrap().is_ok());
    assert_eq!(read(&mut c, "x.burst"), "20");
    let r = c.write("x.rate", "-3").unwrap();
    assert_eq!(r.code, 520);
    assert!(r.lines[0].contains("RATE: expected a number of packets per second"), "{r:?}");
    // A built-in with other ports cannot replace it; the plugin keeps running.
    let r = c.swap("x", "Null").unwrap();
    assert_eq!(r.code, 520, "{r:?}");
    assert_eq!(read(&mut c, "x.version"), "2.0");
}

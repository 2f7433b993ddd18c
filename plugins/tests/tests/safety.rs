//! A plugin that panics or misbehaves costs its own packets, never the worker: a panic is
//! caught at the ABI boundary and the element disabled (its packets counted as dropped);
//! a failing push disables it too; packets moved outside their buffers or sent to outputs
//! that do not exist are dropped and counted; everything else keeps running.

use sluice::packet::PacketType;
use sluice::runtime::{Router, RunOptions};
use sluice::Packet;
use sluice_plugin_tests::*;
use std::path::Path;

fn run(config: &str) -> Router {
    let registry = sluice_elements::registry();
    let plan =
        sluice::load::plan_str("<test>", config, &[], &registry, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    Router::new(plan, 1).unwrap_or_else(|e| panic!("{e}")).run(&RunOptions::default())
}

fn handler(r: &Router, element: &str, handler: &str) -> String {
    r.read_handler(element, handler).unwrap_or_else(|e| panic!("{e}"))
}

fn number(r: &Router, element: &str, h: &str) -> u64 {
    handler(r, element, h).trim().parse().unwrap()
}

/// The count on the `drop_details` line for `reason`.
fn dropped_for(details: &str, reason: &str) -> u64 {
    details
        .lines()
        .find(|l| l.trim_start().split_once(' ').is_some_and(|(_, r)| r == reason))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no line for '{reason}' in:\n{details}"))
}

#[test]
fn a_panic_disables_the_element_and_the_worker_goes_on() {
    let cfg = format!(
        "require(library \"{}\");\n\
         src :: InfiniteSource(LIMIT 1000, BURST 10) -> c :: Counter -> p :: PanicAfter(95) -> out :: Counter -> Discard;\n\
         src2 :: InfiniteSource(LIMIT 1000, BURST 10) -> c2 :: Counter -> Discard;",
        faulty().display()
    );
    // The run ends normally: the worker thread survived the panic.
    let r = run(&cfg);
    assert_eq!(number(&r, "c", "count"), 1000);
    assert_eq!(number(&r, "c2", "count"), 1000, "the other path ran on");
    // Batches of 10: nine went through; the tenth (packets 91-100) panicked and is dropped,
    // and so is everything after it.
    assert_eq!(number(&r, "out", "count"), 90);
    assert_eq!(number(&r, "p", "drops"), 910);
    let details = handler(&r, "p", "drop_details");
    assert_eq!(dropped_for(&details, "plugin element disabled after a failure"), 910, "{details}");
    assert_eq!(number(&r, "p", "seen"), 100, "the plugin saw no packet after its panic");
}

#[test]
fn a_disabled_element_is_replaced_by_a_swap_and_traffic_resumes() {
    let f = Fixture::new(&format!(
        "require(library \"{}\");\n\
         src :: InfiniteSource(LIMIT 1000, BURST 10) -> c :: Counter -> p :: PanicAfter(95) -> out :: Counter -> Discard;\n\
         more :: InfiniteSource(LIMIT 500, BURST 10, ACTIVE false) -> c;",
        faulty().display()
    ));
    let mut c = f.client();
    wait_for(&mut c, "c.count", 1000);
    assert_eq!(settle(&mut c, "p.drops"), 910);
    assert_eq!(count(&mut c, "out.count"), 90);

    swap(&mut c, "p", "PanicAfter(1000000)");
    assert_eq!(count(&mut c, "p.seen"), 100, "state handed over from the disabled instance");
    assert!(c.write("more.active", "true").unwrap().is_ok());
    wait_for(&mut c, "out.count", 590);
    assert_eq!(count(&mut c, "p.seen"), 600);
    assert_eq!(count(&mut c, "c.count"), 1500);
}

#[test]
fn panics_in_handlers_and_in_create() {
    let f = Fixture::new(&format!(
        "require(library \"{}\");\n\
         src :: InfiniteSource(LIMIT 100, BURST 10, ACTIVE false) -> w :: PanicAfter(1000000, IN write) -> out :: Counter -> Discard;\n\
         Idle -> r :: PanicAfter(5, IN read) -> Discard;",
        faulty().display()
    ));
    let mut c = f.client();
    // A write handler that panics: an error reply, and the element is disabled.
    let reply = c.write("w.poke", "1").unwrap();
    assert_eq!(reply.code, 520, "{reply:?}");
    assert!(reply.message().contains("the plugin panicked; the element is disabled"), "{reply:?}");
    assert!(c.write("src.active", "true").unwrap().is_ok());
    wait_for(&mut c, "w.drops", 100);
    assert_eq!(count(&mut c, "out.count"), 0);
    // A read handler that panics: the read fails; the router is unharmed.
    let reply = c.read("r.seen").unwrap();
    assert!(!reply.is_ok(), "{reply:?}");
    assert_eq!(count(&mut c, "r.drops"), 0, "host handlers still answer");
    // A panic in create refuses the swap with a sentence; the old element stays.
    let reply = c.swap("r", "PanicAfter(1, IN create)").unwrap();
    assert_eq!(reply.code, 520, "{reply:?}");
    assert!(reply.lines[0].contains("the plugin panicked while creating the element"), "{reply:?}");
    assert!(c.list().unwrap().text().contains("r\tPanicAfter\tplugin faulty 0.1"));
    // A panic while saving state during a swap loses only that state.
    swap(&mut c, "r", "PanicAfter(1, IN save)");
    swap(&mut c, "r", "PanicAfter(1)");
    assert_eq!(count(&mut c, "r.seen"), 0);
}

/// Load the crafted C plugin under class name `class` and run `class(mode)` over `input`.
fn crafted(class: &str, mode: &str, noutputs: usize, input: Vec<Packet>) -> (Vec<Vec<Packet>>, Router) {
    crafted_with(class, &[], mode, noutputs, input)
}

/// `crafted`, compiled with more `-D` definitions (e.g. `ABI=1`).
fn crafted_with(
    class: &str,
    defines: &[&str],
    mode: &str,
    noutputs: usize,
    input: Vec<Packet>,
) -> (Vec<Vec<Packet>>, Router) {
    let dir = scratch(class);
    let name = format!("CLASS=\"{class}\"");
    let defines: Vec<&str> = std::iter::once(name.as_str()).chain(defines.iter().copied()).collect();
    let lib = compile_c(&c_fixture("crafted.c"), &dir, &format!("lib{class}.so"), &defines);
    let registry = sluice_elements::registry();
    sluice::plugin::load(&lib, &|n| registry.is_builtin(n)).unwrap_or_else(|e| panic!("{e}"));
    let class = sluice::plugin::class(class).expect("registered");
    sluice::testing::run_element(&class, mode, noutputs, input).unwrap_or_else(|e| panic!("{e}"))
}

fn packets(n: usize) -> Vec<Packet> {
    (0..n).map(|i| Packet::from_slice(&udp_packet([10, 0, 0, 1], i as u16))).collect()
}

#[test]
fn misbehaving_c_plugins_cost_only_their_packets() {
    let (outs, r) = crafted("CraftedBefore", "before", 1, packets(100));
    assert_eq!(outs[0].len(), 0);
    assert_eq!(dropped_for(&handler(&r, "e", "drop_details"), "plugin moved the packet outside its buffer"), 100);

    let (outs, r) = crafted("CraftedBeyond", "beyond", 1, packets(100));
    assert_eq!(outs[0].len(), 0);
    assert_eq!(dropped_for(&handler(&r, "e", "drop_details"), "plugin moved the packet outside its buffer"), 100);

    let (outs, r) = crafted("CraftedVerdict", "verdict 5", 1, packets(100));
    assert_eq!(outs[0].len(), 0);
    assert_eq!(dropped_for(&handler(&r, "e", "drop_details"), "verdict names no output"), 100);

    let (outs, r) = crafted("CraftedFail", "fail", 1, packets(100));
    assert_eq!(outs[0].len(), 0);
    assert_eq!(dropped_for(&handler(&r, "e", "drop_details"), "plugin element disabled after a failure"), 100);
    assert_eq!(number(&r, "e", "drops"), 100);

    let (outs, r) = crafted("CraftedDropOdd", "drop_odd", 1, packets(100));
    assert_eq!(outs[0].len(), 50);
    assert_eq!(dropped_for(&handler(&r, "e", "drop_details"), "dropped by the plugin"), 50);
    assert_eq!(number(&r, "e", "count"), 100);

    // Allowed changes are applied: the window moves, a bad packet type is made valid.
    let (outs, r) = crafted("CraftedStrip", "strip 14", 1, packets(10));
    assert_eq!(outs[0].len(), 10);
    assert!(outs[0].iter().all(|p| p.len() == 50 && p.data()[0] == 0x45), "the Ethernet header is gone");
    assert_eq!(number(&r, "e", "drops"), 0);
    let (outs, _) = crafted("CraftedType", "type 200", 1, packets(10));
    assert!(outs[0].iter().all(|p| p.anno().packet_type() == PacketType::Host));
    let (outs, _) = crafted("CraftedType3", "type 3", 1, packets(10));
    assert!(outs[0].iter().all(|p| p.anno().packet_type() == PacketType::OtherHost));
}

#[test]
fn bounds_apply_only_when_push_says_they_moved() {
    // Moved without SLUICE_PUSH_MOVED: the host keeps the bounds it lent, whatever the view says.
    let (outs, r) = crafted("CraftedSilent", "silent 14", 1, packets(10));
    assert_eq!(outs[0].len(), 10);
    assert!(outs[0].iter().all(|p| p.len() == 64 && p.data()[12..14] == [0x08, 0x00]), "the packets are whole");
    assert_eq!(number(&r, "e", "drops"), 0);

    // A version 1 library has no flag: the host checks and applies every packet's view.
    let (outs, r) = crafted_with("CraftedV1Silent", &["ABI=1"], "silent 14", 1, packets(10));
    assert!(outs[0].iter().all(|p| p.len() == 50 && p.data()[0] == 0x45), "the Ethernet header is gone");
    assert_eq!(number(&r, "e", "drops"), 0);
    let (outs, r) = crafted_with("CraftedV1Beyond", &["ABI=1"], "beyond", 1, packets(10));
    assert_eq!(outs[0].len(), 0);
    assert_eq!(dropped_for(&handler(&r, "e", "drop_details"), "plugin moved the packet outside its buffer"), 10);
}

#[test]
fn the_rust_sdk_reports_the_bounds_it_moved() {
    let registry = sluice_elements::registry();
    sluice::plugin::load(&faulty(), &|n| registry.is_builtin(n)).unwrap_or_else(|e| panic!("{e}"));
    let class = sluice::plugin::class("Trim").expect("registered");
    let mut input = packets(10);
    input.push(Packet::from_slice(&[1, 2, 3]));
    let (outs, r) = sluice::testing::run_element(&class, "14, 4", 1, input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outs[0].len(), 10);
    assert!(outs[0].iter().all(|p| p.len() == 46 && p.data()[0] == 0x45), "Ethernet header and 4 bytes gone");
    assert_eq!(dropped_for(&handler(&r, "e", "drop_details"), "dropped by the plugin"), 1);
    // Nothing moved: the batch passes whole.
    let (outs, _) = sluice::testing::run_element(&class, "0, 0", 1, packets(10)).unwrap_or_else(|e| panic!("{e}"));
    assert!(outs[0].iter().all(|p| p.len() == 64));
}

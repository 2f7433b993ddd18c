//! Tests of the lookup structures (against a naive reference) and of the elements (Click's
//! handler sequences and messages, real packets).

use super::dir24::Dir24;
use super::direct_ip_lookup::DIRECT_IP_LOOKUP;
use super::linear_ip_lookup::{Linear, LINEAR_IP_LOOKUP};
use super::lookup_ip6_route::{Table6, LOOKUP_IP6_ROUTE};
use super::poptrie::Poptrie;
use super::radix_ip_lookup::RADIX_IP_LOOKUP;
use super::static_ip_lookup::STATIC_IP_LOOKUP;
use super::table::{read_prefix_file, Lpm4, NextHop, Route, RouteError, RouteTable};
use super::{dst_ip6_anno, set_dst_ip6_anno, CLASSES};
use sluice::element::ElementClass;
use sluice::runtime::Router;
use sluice::testing::{build, collected, new_id, run_config, run_element};
use sluice::Packet;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

fn data(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(dir).join(name)
}

fn prefixes(name: &str) -> Vec<(u32, u8)> {
    read_prefix_file(&data("routes", name)).unwrap()
}

fn ip(s: &str) -> u32 {
    s.parse::<Ipv4Addr>().unwrap().into()
}

/// SplitMix64: a small seeded generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A next hop derived from the prefix: 4 ports, a third of the routes without gateway.
fn hop_for(addr: u32, len: u8) -> (u32, i32) {
    let h = (u64::from(addr) << 8 | u64::from(len)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    let gw = if h % 3 == 0 { 0 } else { 0x0a00_0000 | (h >> 8) as u32 & 0xff };
    (gw, (h >> 16) as i32 & 3)
}

fn with_hops(prefixes: &[(u32, u8)]) -> Vec<Route> {
    prefixes
        .iter()
        .map(|&(a, l)| {
            let (gw, port) = hop_for(a, l);
            Route::new(a, l, gw, port)
        })
        .collect()
}

/// The naive reference: every route, longest first; the first that contains the address.
struct Reference {
    routes: Vec<Route>,
    /// (address, mask, next hop) in the same order, for a tight loop.
    flat: Vec<(u32, u32, NextHop)>,
}

impl Reference {
    /// From routes in configuration order: the first route for a prefix is kept.
    fn new<'a>(routes: impl IntoIterator<Item = &'a Route>) -> Reference {
        let mut seen = HashMap::new();
        let mut v: Vec<Route> =
            routes.into_iter().filter(|r| seen.insert((r.addr, r.len), ()).is_none()).copied().collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.len));
        let flat =
            v.iter().map(|r| (r.addr, super::table::mask(r.len), NextHop { port: r.port as u32, gw: r.gw })).collect();
        Reference { routes: v, flat }
    }

    fn lookup(&self, a: u32) -> Option<NextHop> {
        for &(addr, mask, hop) in &self.flat {
            if a & mask == addr {
                return Some(hop);
            }
        }
        None
    }
}

/// Every route's first and last address (and for every `edge_step`-th route, the addresses
/// just outside it), plus `n` random addresses.
fn probes(routes: &[Route], rng: &mut Rng, n: usize, edge_step: usize) -> Vec<u32> {
    let mut v = Vec::with_capacity(routes.len() * 2 + n);
    for (i, r) in routes.iter().enumerate() {
        let last = r.addr | !super::table::mask(r.len);
        v.extend([r.addr, last]);
        if i % edge_step == 0 {
            v.extend([r.addr.wrapping_sub(1), last.wrapping_add(1)]);
        }
    }
    v.extend((0..n).map(|_| rng.next() as u32));
    v
}

/// Check a table against expected answers (every `step`-th address), with batch and
/// single lookups.
fn check<S: Lpm4>(t: &RouteTable<S>, addrs: &[u32], expected: &[Option<NextHop>], step: usize) {
    let addrs: Vec<u32> = addrs.iter().step_by(step).copied().collect();
    let expected: Vec<Option<NextHop>> = expected.iter().step_by(step).copied().collect();
    let mut out = vec![0u32; addrs.len()];
    for (a, o) in addrs.chunks(64).zip(out.chunks_mut(64)) {
        t.lookup_batch(a, o);
    }
    for (i, (&a, &nh)) in addrs.iter().zip(&out).enumerate() {
        let got = (nh != 0).then(|| t.next_hops()[nh as usize]);
        assert_eq!(got, expected[i], "{}: lookup of {}", S::NAME, Ipv4Addr::from(a));
        if i % 7 == 0 {
            assert_eq!(t.lookup(a), expected[i], "{}: single lookup of {}", S::NAME, Ipv4Addr::from(a));
        }
    }
}

// ---------------------------------------------------------------- structures

#[test]
fn structures_match_the_naive_reference_on_10k_bgp_and_stanford_routes() {
    let mut routes = with_hops(&prefixes("bgp_v4_10k.txt"));
    // Stanford's table adds a default route, many /32s and /25../31 (some prefixes repeat:
    // the first route is kept).
    routes.extend(with_hops(&prefixes("stanford_yozb_prefixes.txt")));
    let reference = Reference::new(&routes);
    let mut rng = Rng(1);
    let addrs = probes(&reference.routes, &mut rng, 3000, 4);
    let expected: Vec<Option<NextHop>> = addrs.iter().map(|&a| reference.lookup(a)).collect();

    let (dir, dups) = RouteTable::<Dir24>::from_routes(routes.iter().copied()).unwrap();
    assert_eq!(dir.len(), reference.routes.len());
    assert_eq!(dups, routes.len() - reference.routes.len());
    check(&dir, &addrs, &expected, 1);
    check(&RouteTable::<Poptrie>::from_routes(routes.iter().copied()).unwrap().0, &addrs, &expected, 1);
    check(&RouteTable::<Linear>::from_routes(routes.iter().copied()).unwrap().0, &addrs, &expected, 8);
    // Without a default route, addresses outside every prefix have no route.
    let no_default: Vec<Route> = with_hops(&prefixes("bgp_v4_500.txt"));
    let reference = Reference::new(&no_default);
    let addrs = probes(&no_default, &mut rng, 3000, 1);
    let expected: Vec<Option<NextHop>> = addrs.iter().map(|&a| reference.lookup(a)).collect();
    assert!(expected.iter().any(Option::is_none));
    check(&RouteTable::<Dir24>::from_routes(no_default.iter().copied()).unwrap().0, &addrs, &expected, 1);
    check(&RouteTable::<Poptrie>::from_routes(no_default.iter().copied()).unwrap().0, &addrs, &expected, 1);
    check(&RouteTable::<Linear>::from_routes(no_default.iter().copied()).unwrap().0, &addrs, &expected, 1);
}

/// A random prefix: lengths around the interesting boundaries (0, /18, /24, /32), often
/// nested in an existing route.
fn random_prefix(rng: &mut Rng, near: &[Route]) -> (u32, u8) {
    // Very short prefixes rebuild much of a structure: rarer, but there.
    const SHORT: [u8; 5] = [0, 1, 4, 8, 12];
    const LENS: [u8; 17] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 24, 25, 26, 28, 30, 31, 32];
    let len = if rng.below(20) == 0 { SHORT[rng.below(SHORT.len())] } else { LENS[rng.below(LENS.len())] };
    let base = if !near.is_empty() && rng.below(3) > 0 {
        near[rng.below(near.len())].addr ^ (rng.next() as u32 >> rng.below(33).min(31))
    } else {
        rng.next() as u32
    };
    (base & super::table::mask(len), len)
}

#[test]
fn updates_keep_every_structure_consistent_with_the_reference() {
    let mut base = with_hops(&prefixes("bgp_v4_10k.txt")[..1000]);
    base.extend(with_hops(&prefixes("stanford_yozb_prefixes.txt")));
    let mut dir = RouteTable::<Dir24>::from_routes(base.iter().copied()).unwrap().0;
    let mut pop = RouteTable::<Poptrie>::from_routes(base.iter().copied()).unwrap().0;
    let mut lin = RouteTable::<Linear>::from_routes(base.iter().copied()).unwrap().0;
    let chunks_before = dir.structure().chunks();
    let mut model: HashMap<(u32, u8), Route> = HashMap::new();
    for r in &base {
        model.entry((r.addr, r.len)).or_insert(*r);
    }
    let mut rng = Rng(7);
    for round in 0..10 {
        let mut touched = Vec::new();
        for _ in 0..120 {
            let current: Vec<Route> = model.values().copied().collect();
            let op = rng.below(10);
            if op < 4 || current.is_empty() {
                // add or set a (usually new) prefix
                let (a, l) = random_prefix(&mut rng, &current);
                let (gw, port) = hop_for(a ^ round, l);
                let r = Route::new(a, l, gw, port);
                let set = op == 3;
                let want = match model.get(&(a, l)) {
                    Some(old) if !set => Err(RouteError::Conflict(*old)),
                    old => Ok(old.copied()),
                };
                assert_eq!(dir.add(r, set), want);
                assert_eq!(pop.add(r, set), want);
                assert_eq!(lin.add(r, set), want);
                if want.is_ok() {
                    model.insert((a, l), r);
                }
                touched.push(r);
            } else if op < 6 {
                // replace the next hop of an existing route
                let old = current[rng.below(current.len())];
                let r = Route::new(old.addr, old.len, rng.next() as u32 & 0xff, rng.below(4) as i32);
                for res in [dir.add(r, true), pop.add(r, true), lin.add(r, true)] {
                    assert_eq!(res, Ok(Some(old)));
                }
                model.insert((r.addr, r.len), r);
                touched.push(r);
            } else if op < 9 {
                // remove an existing route, by prefix or with gateway and port
                let old = current[rng.below(current.len())];
                let req = if rng.below(2) == 0 { Route { port: -1, ..old } } else { old };
                for res in [dir.remove(&req), pop.remove(&req), lin.remove(&req)] {
                    assert_eq!(res, Ok(old));
                }
                model.remove(&(old.addr, old.len));
                touched.push(old);
            } else {
                // remove a route that is not there (or not with that port)
                let (a, l) = random_prefix(&mut rng, &current);
                let req = match model.get(&(a, l)) {
                    Some(r) => Route { port: r.port + 1, ..*r },
                    None => Route::new(a, l, 0, -1),
                };
                for res in [dir.remove(&req), pop.remove(&req), lin.remove(&req)] {
                    assert_eq!(res, Err(RouteError::NotFound(req)));
                }
            }
        }
        let reference = Reference::new(model.values());
        let addrs = probes(&touched, &mut rng, 1000, 1);
        let expected: Vec<Option<NextHop>> = addrs.iter().map(|&a| reference.lookup(a)).collect();
        check(&dir, &addrs, &expected, 1);
        check(&pop, &addrs, &expected, 1);
        check(&lin, &addrs, &expected, 4);
        assert_eq!(dir.len(), model.len());
    }
    // Emptied, every structure answers "no route" and gives its memory back.
    let all: Vec<Route> = model.values().copied().collect();
    for r in &all {
        dir.remove(r).unwrap();
        pop.remove(r).unwrap();
        lin.remove(r).unwrap();
    }
    assert!(chunks_before > 0);
    assert_eq!(dir.structure().chunks(), 0, "every second-level chunk merged back");
    assert!(dir.routes().nexthops.is_empty());
    let addrs = probes(&all, &mut rng, 1000, 1);
    let none = vec![None; addrs.len()];
    check(&dir, &addrs, &none, 1);
    check(&pop, &addrs, &none, 1);
    check(&lin, &addrs, &none, 1);
}

#[test]
fn dir24_limits_are_reported() {
    let mut t = RouteTable::<Dir24>::new().unwrap();
    for i in 0..0x7fff {
        t.add(Route::new(i << 8, 24, i, 0), false).unwrap();
    }
    let e = t.add(Route::new(0x7fff << 8, 24, 0x7fff, 0), false).unwrap_err();
    assert!(matches!(&e, RouteError::Full(m) if m.contains("at most 32767")), "{e}");
    assert!(t.lookup(0x7fff << 8).is_none(), "the failed route left nothing behind");
    assert_eq!(t.len(), 0x7fff);
}

/// The full BGP table (901 899 prefixes): both fast structures against an independent
/// reference (one hash table per length) on every prefix's edges and 1M random addresses.
#[test]
#[cfg_attr(debug_assertions, ignore = "900k routes: run with `cargo test --release -p sluice-elements full_bgp`")]
fn full_bgp_table() {
    let routes = with_hops(&prefixes("bgp_v4_full.txt"));
    assert_eq!(routes.len(), 901_899);
    let mut by_len: Vec<HashMap<u32, NextHop>> = vec![HashMap::new(); 33];
    for r in &routes {
        by_len[r.len as usize].entry(r.addr).or_insert(NextHop { port: r.port as u32, gw: r.gw });
    }
    let reference =
        |a: u32| (0..=32usize).rev().find_map(|l| by_len[l].get(&(a & super::table::mask(l as u8))).copied());
    let mut rng = Rng(3);
    let addrs = probes(&routes, &mut rng, 1_000_000, 1);
    let expected: Vec<Option<NextHop>> = addrs.iter().map(|&a| reference(a)).collect();
    let t = std::time::Instant::now();
    let dir = RouteTable::<Dir24>::from_routes(routes.iter().copied()).unwrap().0;
    let dir_build = t.elapsed();
    let t = std::time::Instant::now();
    let pop = RouteTable::<Poptrie>::from_routes(routes.iter().copied()).unwrap().0;
    let pop_build = t.elapsed();
    check(&dir, &addrs, &expected, 1);
    check(&pop, &addrs, &expected, 1);
    eprintln!(
        "full table: DIR-24-8 built in {dir_build:?}, {:?}, {} chunks; poptrie built in {pop_build:?}, {:?}, {} nodes",
        dir.memory(),
        dir.structure().chunks(),
        pop.memory(),
        pop.structure().nodes()
    );
}

// ---------------------------------------------------------------- elements

const MUTABLE: [ElementClass; 3] = [RADIX_IP_LOOKUP, DIRECT_IP_LOOKUP, LINEAR_IP_LOOKUP];

fn lookup(router: &mut Router, addr: &str) -> String {
    router.write_handler("e", "lookup", addr).unwrap();
    router.read_handler("e", "lookup").unwrap()
}

/// Click's test/ip/iplookups-01.clicktest, for every class that takes updates.
#[test]
fn click_handler_sequence() {
    for class in MUTABLE {
        let (_, mut r) = run_element(&class, "", 3, vec![]).unwrap();
        let mut answers = Vec::new();
        for (handler, value) in [
            ("add", "18.26/16 1.0.0.1 0"),
            ("", ""),
            ("add", "18.26.0/18 2.0.0.2 1"),
            ("", ""),
            ("add", "18.26.0/17 3.0.0.3 2"),
            ("", ""),
            ("remove", "18.26.0/18 2.0.0.2 1"),
            ("", ""),
            ("remove", "18.26.0/16 1.0.0.1 0"),
            ("", ""),
            ("add", "18.26.0/12 4.0.0.4 0"),
            ("", ""),
            ("remove", "18.26.0/17 3.0.0.3 2"),
            ("", ""),
            ("add", "0.0.0.0/32 99.99.99.99 0"),
            ("add", "18.26.4.9/32 5.0.0.5 0"),
            ("", ""),
            ("remove", "18.26.4.9/32 5.0.0.5 0"),
            ("", ""),
            ("add", "18.26.0/12 6.0.0.6 0"),
            ("", ""),
            ("set", "18.26.0/12 7.0.0.7 0"),
            ("", ""),
            ("remove", "18.26.0/12 7.0.0.7 0"),
            ("", ""),
        ] {
            if handler.is_empty() {
                answers.push(lookup(&mut r, "18.26.4.9"));
            } else if let Err(e) = r.write_handler("e", handler, value) {
                answers.push(format!("error: {e}"));
            }
        }
        assert_eq!(
            answers,
            [
                "0 1.0.0.1",
                "1 2.0.0.2",
                "1 2.0.0.2",
                "2 3.0.0.3",
                "2 3.0.0.3",
                "2 3.0.0.3",
                "0 4.0.0.4",
                "0 5.0.0.5",
                "0 4.0.0.4",
                "error: e.add: conflict with existing route '18.16.0.0/12 4.0.0.4 0'",
                "0 4.0.0.4",
                "0 7.0.0.7",
                "-1",
            ],
            "{}",
            class.name
        );
        assert_eq!(r.read_handler("e", "table").unwrap(), "0.0.0.0/32\t\t99.99.99.99\t0\n", "{}", class.name);
    }
}

#[test]
fn table_handler_prints_routes_in_click_order_and_format() {
    let config = "18.26.4.24/32 0, 18.26.4.255 0, 18.26.4/24 1, 0/0 18.26.4.1 1, 192.168.100.0/24 192.168.100.254 1";
    for class in [RADIX_IP_LOOKUP, DIRECT_IP_LOOKUP, LINEAR_IP_LOOKUP, STATIC_IP_LOOKUP] {
        let (_, mut r) = run_element(&class, config, 2, vec![]).unwrap();
        let expected = "18.26.4.24/32\t\t-\t\t0\n\
                        18.26.4.255/32\t\t-\t\t0\n\
                        18.26.4.0/24\t\t-\t\t1\n\
                        0.0.0.0/0\t\t18.26.4.1\t1\n\
                        192.168.100.0/24\t192.168.100.254\t1\n";
        assert_eq!(r.read_handler("e", "table").unwrap(), expected, "{}", class.name);
        assert_eq!(lookup(&mut r, "18.26.4.24"), "0");
        assert_eq!(lookup(&mut r, "18.26.4.7"), "1");
        assert_eq!(lookup(&mut r, "8.8.8.8"), "1 18.26.4.1");
        if class.name == "StaticIPLookup" {
            continue;
        }
        // A removed route's slot is reused by the next route added; `set` keeps the slot.
        r.write_handler("e", "remove", "18.26.4.255/32").unwrap();
        r.write_handler("e", "add", "10.0.0.0/8 - 0").unwrap();
        r.write_handler("e", "set", "18.26.4.0/24 10.1.1.1 0").unwrap();
        let table = r.read_handler("e", "table").unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[1], "10.0.0.0/8\t\t-\t\t0", "{}", class.name);
        assert_eq!(lines[2], "18.26.4.0/24\t\t10.1.1.1\t0", "{}", class.name);
    }
}

#[test]
fn handler_errors_use_clicks_messages() {
    let (_, mut r) = run_element(&RADIX_IP_LOOKUP, "1.0.0.0/8 1", 2, vec![]).unwrap();
    let err = |r: &mut Router, h: &str, v: &str| r.write_handler("e", h, v).unwrap_err().to_string();
    assert_eq!(err(&mut r, "add", "1.0.0.0/8 0"), "e.add: conflict with existing route '1.0.0.0/8 - 1'");
    assert_eq!(err(&mut r, "add", "1.0.0.0/8"), "e.add: expected 'ADDR/MASK [GATEWAY] OUTPUT', found '1.0.0.0/8'");
    assert_eq!(err(&mut r, "add", "2.0.0.0/8 2"), "e.add: bad OUTPUT 2 (the element has 2 outputs)");
    assert_eq!(err(&mut r, "add", "2.0.0.0/8 -1"), "e.add: bad OUTPUT -1 (the element has 2 outputs)");
    assert_eq!(err(&mut r, "remove", "2.0.0.0/8"), "e.remove: route '2.0.0.0/8 - -1' not found");
    assert_eq!(err(&mut r, "remove", "1.0.0.0/8 - 0"), "e.remove: route '1.0.0.0/8 - 0' not found");
    assert_eq!(
        err(&mut r, "remove", "1.0.0.0/8 1 1 1"),
        "e.remove: expected 'ADDR/MASK [GATEWAY OUTPUT]', found '1.0.0.0/8 1 1 1'"
    );
    assert_eq!(err(&mut r, "lookup", "1.2.3"), "e.lookup: expected IP address, found '1.2.3'");
    r.write_handler("e", "remove", "1.0.0.0/8 - 1").unwrap();
    assert_eq!(lookup(&mut r, "1.2.3.4"), "-1");
    // Static tables offer no update handlers at all.
    let (_, mut s) = run_element(&STATIC_IP_LOOKUP, "1.0.0.0/8 1", 2, vec![]).unwrap();
    assert_eq!(err(&mut s, "add", "2.0.0.0/8 0"), "element 'e' has no handler 'add'");
    assert_eq!(lookup(&mut s, "1.9.9.9"), "1");
}

#[test]
fn ctrl_applies_all_commands_or_none() {
    for class in MUTABLE {
        let (_, mut r) = run_element(&class, "1.0.0.0/8 0, 2.0.0.0/8 1", 2, vec![]).unwrap();
        let before = r.read_handler("e", "table").unwrap();
        let e = r
            .write_handler(
                "e",
                "ctrl",
                "add 3.0.0.0/8 1\nset 1.0.0.0/8 9.9.9.9 1 // comment\nremove 2.0.0.0/8\nadd 1.0.0.0/8 0",
            )
            .unwrap_err()
            .to_string();
        assert_eq!(e, "e.ctrl: line 4: conflict with existing route '1.0.0.0/8 9.9.9.9 1'", "{}", class.name);
        assert_eq!(r.read_handler("e", "table").unwrap(), before, "{}: rolled back", class.name);
        let e = r.write_handler("e", "ctrl", "add 3.0.0.0/8 1\nreplace 1.0.0.0/8 0").unwrap_err().to_string();
        assert_eq!(e, "e.ctrl: line 2: bad command 'replace' (expected add, set or remove)");
        assert_eq!(r.read_handler("e", "table").unwrap(), before);
        r.write_handler("e", "ctrl", "\nadd 3.0.0.0/8 1\n\nset 1.0.0.0/8 9.9.9.9 1\nremove 2.0.0.0/8\n").unwrap();
        assert_eq!(lookup(&mut r, "3.1.1.1"), "1");
        assert_eq!(lookup(&mut r, "1.1.1.1"), "1 9.9.9.9");
        assert_eq!(lookup(&mut r, "2.1.1.1"), "-1");
    }
}

#[test]
fn flush_empties_the_table() {
    for class in [RADIX_IP_LOOKUP, DIRECT_IP_LOOKUP] {
        let (_, mut r) = run_element(&class, "1.0.0.0/8 0, 0/0 1", 2, vec![]).unwrap();
        r.write_handler("e", "flush", "").unwrap();
        assert_eq!(r.read_handler("e", "table").unwrap(), "");
        assert_eq!(lookup(&mut r, "1.1.1.1"), "-1");
        r.write_handler("e", "add", "1.0.0.0/8 1").unwrap();
        assert_eq!(lookup(&mut r, "1.1.1.1"), "1");
    }
}

#[test]
fn configuration_is_checked() {
    for class in CLASSES.iter().filter(|c| c.name != "LookupIP6Route") {
        let e = build(class, "1.0.0.0/8 0, 2.0.0.0/8 x 1, 3.0.0.0/8 2, 4.0.0.0/33 0", 1, 2).err().unwrap();
        assert_eq!(
            e.0,
            "argument 2 should be 'ADDR/MASK [GATEWAY] OUTPUT', found '2.0.0.0/8 x 1'; \
             argument 3: bad OUTPUT 2 (the element has 2 outputs); \
             argument 4 should be 'ADDR/MASK [GATEWAY] OUTPUT', found '4.0.0.0/33 0'",
            "{}",
            class.name
        );
        assert!(build(class, "", 1, 0).is_ok());
        // A repeated prefix keeps the first route (with a warning), as Click does.
        let (_, mut r) = run_element(class, "1.0.0.0/8 0, 1.0.0.0/8 1, 1.0.0.0/255.0.0.0 1", 2, vec![]).unwrap();
        assert_eq!(lookup(&mut r, "1.2.3.4"), "0", "{}", class.name);
    }
}

#[test]
fn classes_are_well_formed_and_documented() {
    for c in CLASSES {
        let _ = c.port_count();
        let _ = c.processing_spec();
        assert!(c.synopsis().starts_with(c.name), "{}: synopsis '{}'", c.name, c.synopsis());
        assert!(!c.summary().is_empty(), "{}: no summary", c.name);
        for section in ["# Keywords", "# Handlers", "# Example"] {
            assert!(c.doc.contains(section), "{}: no {section}", c.name);
        }
        let mut hs: Vec<&str> = c.handlers.iter().map(|h| h.name).collect();
        hs.sort_unstable();
        hs.dedup();
        assert_eq!(hs.len(), c.handlers.len(), "{}: duplicate handlers", c.name);
    }
}

fn packet_to(dst: u32) -> Packet {
    let mut p = Packet::from_slice(&dst.to_be_bytes());
    p.anno_mut().dst_ip = dst.to_be_bytes();
    p
}

#[test]
fn packets_go_out_their_routes_port_with_the_gateway_as_annotation() {
    let config = "10.0.0.0/8 0, 10.1.0.0/16 192.168.1.1 1, 10.1.2.128/25 2, 0.0.0.0/1 172.16.0.1 2";
    let dsts = ["10.9.9.9", "10.1.9.9", "10.1.2.200", "10.1.2.100", "100.0.0.1", "200.0.0.1", "127.255.255.255"];
    let expected: [(usize, &str); 7] = [
        (0, "10.9.9.9"),
        (1, "192.168.1.1"),
        (2, "10.1.2.200"),
        (1, "192.168.1.1"),
        (2, "172.16.0.1"),
        (9, ""),
        (2, "172.16.0.1"),
    ];
    for class in CLASSES.iter().filter(|c| c.name != "LookupIP6Route") {
        // 100 packets per batch-ish run, in order: the pattern repeated.
        let input: Vec<Packet> = (0..140).map(|i| packet_to(ip(dsts[i % 7]))).collect();
        let (out, r) = run_element(class, config, 3, input).unwrap();
        let mut want: Vec<Vec<(u32, String)>> = vec![Vec::new(); 3];
        for i in 0..140 {
            let (port, anno) = expected[i % 7];
            if port < 3 {
                want[port].push((ip(dsts[i % 7]), anno.to_string()));
            }
        }
        for port in 0..3 {
            let got: Vec<(u32, String)> = out[port]
                .iter()
                .map(|p| {
                    let d = p.data();
                    (u32::from_be_bytes([d[0], d[1], d[2], d[3]]), Ipv4Addr::from(p.anno().dst_ip).to_string())
                })
                .collect();
            assert_eq!(got, want[port], "{} output {port}", class.name);
        }
        assert_eq!(r.read_handler("e", "drops").unwrap(), "20", "{}", class.name);
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "20 no route");
    }
}

/// Real traffic: every IPv4 packet of a capture (802.1Q, 4096 packets) through each table
/// with 500 BGP routes plus routes for the capture's busiest destinations; each packet must
/// leave on the port of its longest match with the right annotation.
#[test]
fn routes_real_packets_from_a_capture() {
    let pcap = data("pcaps", "snabb__sanitized4k.pcap");
    let mut routes = vec![
        Route::new(ip("118.0.0.0"), 8, 0, 0),
        Route::new(ip("118.129.210.0"), 24, ip("10.0.0.1"), 1),
        Route::new(ip("26.177.0.0"), 16, ip("10.0.0.2"), 2),
        Route::new(ip("167.173.28.221"), 32, 0, 3),
        Route::new(ip("128.0.0.0"), 2, ip("10.0.0.3"), 0),
    ];
    routes.extend(with_hops(&prefixes("bgp_v4_500.txt")));
    let reference = Reference::new(&routes);
    let config: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
    for class in CLASSES.iter().filter(|c| c.name != "LookupIP6Route") {
        let ids: Vec<u64> = (0..4).map(|_| new_id()).collect();
        let text = format!(
            "FromDump(\"{}\", STOP true, FORCE_IP true) -> rt :: {}({});\n{}",
            pcap.display(),
            class.name,
            config.join(", "),
            ids.iter().enumerate().map(|(i, id)| format!("rt[{i}] -> Collect(ID {id});\n")).collect::<String>()
        );
        let router = run_config(&text, &[crate::io::from_dump::FROM_DUMP, *class]).unwrap();
        let mut total = 0;
        for (port, id) in ids.iter().enumerate() {
            for p in collected(*id) {
                total += 1;
                let h = p.network_header().expect("FORCE_IP sets the network header");
                let dst = if h[0] >> 4 == 4 { u32::from_be_bytes([h[16], h[17], h[18], h[19]]) } else { 0 };
                let hop = reference.lookup(dst).expect("packets without route are dropped");
                assert_eq!(hop.port as usize, port, "{}: {}", class.name, Ipv4Addr::from(dst));
                let anno = u32::from_be_bytes(p.anno().dst_ip);
                assert_eq!(anno, if hop.gw != 0 { hop.gw } else { dst }, "{}", class.name);
            }
        }
        let drops: usize = router.read_handler("rt", "drops").unwrap().parse().unwrap();
        assert!(total > 1000 && drops > 0, "{}: {total} routed, {drops} dropped", class.name);
        assert_eq!(total + drops, 4096, "{}", class.name);
    }
}

// ---------------------------------------------------------------- IPv6

fn v6(s: &str) -> u128 {
    s.parse::<Ipv6Addr>().unwrap().into()
}

fn packet6(dst: &str) -> Packet {
    let mut p = Packet::from_slice(dst.as_bytes());
    set_dst_ip6_anno(&mut p, dst.parse().unwrap());
    p
}

#[test]
fn ip6_routes_packets_by_longest_prefix() {
    let config = "3ffe:1ce1:2::/128 ::0 0, 3ffe:1ce1:2:0:200::/128 ::0 0, 3ffe:1ce1:2::/80 ::0 1, \
                  3ffe:1ce1:2:0:200::/80 ::0 2, 0::ffff:0:0/96 ::0 3, ::0/0 3ffe:1ce1:2::2 1";
    let cases = [
        ("3ffe:1ce1:2::", 0, "3ffe:1ce1:2::"),
        ("3ffe:1ce1:2::1", 1, "3ffe:1ce1:2::1"),
        ("3ffe:1ce1:2:0:200::", 0, "3ffe:1ce1:2:0:200::"),
        ("3ffe:1ce1:2:0:200::9", 2, "3ffe:1ce1:2:0:200::9"),
        ("::ffff:1.2.3.4", 3, "::ffff:1.2.3.4"),
        ("2001:db8::1", 1, "3ffe:1ce1:2::2"),
    ];
    let input: Vec<Packet> = cases.iter().map(|c| packet6(c.0)).collect();
    let (out, mut r) = run_element(&LOOKUP_IP6_ROUTE, config, 4, input).unwrap();
    for (dst, port, anno) in cases {
        let p = out[port].iter().find(|p| p.data() == dst.as_bytes()).unwrap_or_else(|| panic!("{dst} on {port}"));
        assert_eq!(dst_ip6_anno(p).to_string(), anno);
        // Click's DST_IP6_ANNO overlaps DST_IP_ANNO: its first 4 bytes are the IPv4 field.
        assert_eq!(p.anno().dst_ip, dst_ip6_anno(p).octets()[..4]);
    }
    assert_eq!(out.iter().map(Vec::len).sum::<usize>(), cases.len());
    assert_eq!(
        r.read_handler("e", "table").unwrap(),
        "# Active routes\n3ffe:1ce1:2::/128\t::\t0\n3ffe:1ce1:2:0:200::/128\t::\t0\n3ffe:1ce1:2::/80\t::\t1\n\
         3ffe:1ce1:2:0:200::/80\t::\t2\n::ffff:0.0.0.0/96\t::\t3\n::/0\t3ffe:1ce1:2::2\t1\n"
    );
    // Click's IPv6 handlers: add replaces, remove of an absent route is no error.
    r.write_handler("e", "add", "3ffe:1ce1:2::/80 2").unwrap();
    r.write_handler("e", "remove", "::/0").unwrap();
    r.write_handler("e", "remove", "::/0").unwrap();
    r.write_handler("e", "lookup", "3ffe:1ce1:2::1").unwrap();
    assert_eq!(r.read_handler("e", "lookup").unwrap(), "2");
    r.write_handler("e", "lookup", "2001:db8::1").unwrap();
    assert_eq!(r.read_handler("e", "lookup").unwrap(), "-1");
    let err = |r: &mut Router, h: &str, v: &str| r.write_handler("e", h, v).unwrap_err().to_string();
    assert_eq!(err(&mut r, "add", "::/0 4"), "e.add: bad OUTPUT 4 (the element has 4 outputs)");
    assert_eq!(err(&mut r, "add", "x/0 1"), "e.add: DST: expected IPv6 prefix, found 'x/0'");
    assert_eq!(err(&mut r, "add", "::/0"), "e.add: expected 'DST/MASK [GATEWAY] OUTPUT', found '::/0'");
    let before = r.read_handler("e", "table").unwrap();
    assert_eq!(
        err(&mut r, "ctrl", "add ::/0 1\nremove 3ffe:1ce1:2::/80\nfrob"),
        "e.ctrl: line 3: bad command 'frob', should be 'add' or 'remove'"
    );
    assert_eq!(r.read_handler("e", "table").unwrap(), before, "ctrl rolled back");
    let e = build(&LOOKUP_IP6_ROUTE, "::/0 1, 1.2.3.4/8 0", 1, 1).err().unwrap();
    assert_eq!(
        e.0,
        "argument 1: bad OUTPUT 1 (the element has 1 output); argument 2: DST: expected IPv6 prefix, found '1.2.3.4/8'"
    );
}

#[test]
fn ip6_table_matches_a_naive_reference_on_bgp_prefixes() {
    let text = std::fs::read_to_string(data("routes", "bgp_v6_10k.txt")).unwrap();
    let mut rng = Rng(11);
    let mut routes = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (a, l) = line.split_once('/').unwrap();
        let len: u8 = l.parse().unwrap();
        let addr = v6(a) & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        routes.push(super::lookup_ip6_route::Route6 {
            addr,
            len,
            gw: rng.next() as u128 & 3,
            port: rng.below(4) as u32,
        });
    }
    routes.push(super::lookup_ip6_route::Route6 { addr: 0, len: 0, gw: 0, port: 0 });
    routes.push(super::lookup_ip6_route::Route6 { addr: v6("2000::"), len: 3, gw: 0, port: 1 });
    let mut t = Table6::new();
    for r in &routes {
        t.add(*r);
    }
    let mut sorted = routes.clone();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.len));
    let mask6 = |l: u8| u128::MAX.checked_shl(128 - u32::from(l)).unwrap_or(0);
    let flat: Vec<(u128, u128)> = sorted.iter().map(|r| (r.addr, mask6(r.len))).collect();
    let reference = |a: u128| {
        for (i, &(addr, mask)) in flat.iter().enumerate() {
            if a & mask == addr {
                return Some(sorted[i]);
            }
        }
        None
    };
    let mut addrs: Vec<u128> = Vec::new();
    for r in routes.iter().step_by(5) {
        let last = r.addr | !mask6(r.len);
        addrs.extend([r.addr, last, r.addr.wrapping_sub(1), last.wrapping_add(1)]);
    }
    addrs.extend((0..1000).map(|_| (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> rng.below(8)));
    for &a in &addrs {
        assert_eq!(t.lookup(a).map(|s| *t.route(s)), reference(a), "{}", Ipv6Addr::from(a));
    }
    // Remove half the routes; the lengths each first 16 bits can match shrink with them.
    for r in routes.iter().step_by(2) {
        t.remove(r.addr, r.len);
    }
    let removed: std::collections::HashSet<(u128, u8)> = routes.iter().step_by(2).map(|r| (r.addr, r.len)).collect();
    let kept: Vec<_> = sorted.iter().filter(|r| !removed.contains(&(r.addr, r.len))).copied().collect();
    for &a in addrs.iter().step_by(5) {
        let want = kept.iter().find(|r| a & mask6(r.len) == r.addr).copied();
        assert_eq!(t.lookup(a).map(|s| *t.route(s)), want, "{}", Ipv6Addr::from(a));
    }
    assert_eq!(t.len(), kept.len());
}

#[test]
fn lookup_reads_with_an_address_parameter() {
    let r = sluice::testing::run_config(
        "Idle -> rt :: RadixIPLookup(10.0.0.0/8 1, 10.1.0.0/16 10.1.0.1 0) -> Discard; rt[1] -> Discard;",
        &crate::classes(),
    )
    .unwrap();
    let by_write = {
        let mut r = r;
        r.write_handler("rt", "lookup", "10.1.2.3").unwrap();
        let w = r.read_handler("rt", "lookup").unwrap();
        assert_eq!(r.read_handler_with("rt", "lookup", "10.1.2.3").unwrap(), w, "both ways agree");
        assert_ne!(r.read_handler_with("rt", "lookup", "10.9.9.9").unwrap(), w, "another route");
        w
    };
    assert!(by_write.contains("10.1.0.1"), "{by_write}");
}

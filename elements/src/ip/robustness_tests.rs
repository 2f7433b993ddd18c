//! Every capture, sample and malformed, through every IP element: no panic, and every
//! element's packets add up (packets in = packets out + `drops`).

use super::common::test_util::{all_captures, classes, num};
use sluice::testing::run_config;

/// An element under test: its configuration, whether it has an output 1, and whether it
/// needs the IP header annotation set first (by MarkIPHeader).
pub(crate) struct Case {
    config: &'static str,
    two_outputs: bool,
    mark: bool,
    /// How its output relates to its input.
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// in = out (+ out 1) + dropped; `drops` counts every refused packet.
    Filter,
    /// One output per input at most; in = out + drops.
    Generator,
    /// Passes every packet: in = out.
    Pass,
    /// Counts only: out may be more than in (fragmenter) or less (reassembler).
    Any,
}

pub(crate) const fn case(config: &'static str, two_outputs: bool, mark: bool, kind: Kind) -> Case {
    Case { config, two_outputs, mark, kind }
}

pub(crate) const CASES: &[Case] = &[
    case("CheckIPHeader", true, false, Kind::Filter),
    case("CheckIPHeader(CHECKSUM false, INTERFACES 10.0.0.1/8)", true, false, Kind::Filter),
    case("CheckIPHeader2", true, false, Kind::Filter),
    case("MarkIPHeader", false, false, Kind::Filter),
    case("CheckTCPHeader", true, true, Kind::Filter),
    case("CheckUDPHeader", true, true, Kind::Filter),
    case("CheckICMPHeader", true, true, Kind::Filter),
    case("DecIPTTL", true, true, Kind::Filter),
    case("SetIPChecksum", false, true, Kind::Filter),
    case("SetIPChecksum", false, false, Kind::Filter),
    case("SetTCPChecksum(true)", false, true, Kind::Filter),
    case("SetUDPChecksum", true, true, Kind::Filter),
    case("GetIPAddress(IP dst)", false, true, Kind::Filter),
    case("GetIPAddress(16)", false, false, Kind::Filter),
    case("StoreIPAddress(1.2.3.4, src)", true, true, Kind::Filter),
    case("StoreIPAddress(dst)", true, true, Kind::Filter),
    case("ICMPError(1.2.3.4, unreachable, port)", false, true, Kind::Generator),
    case("ICMPError(1.2.3.4, parameterproblem, erroratptr, MTU 40)", false, true, Kind::Generator),
    case("ICMPError(1.2.3.4, redirect, host)", false, true, Kind::Generator),
    case("ICMPPingResponder", true, true, Kind::Filter),
    case("DropBroadcasts", true, false, Kind::Filter),
];

/// Extra cases the later elements add (kept apart so each file can grow its own list).
fn all_cases() -> Vec<&'static Case> {
    CASES.iter().chain(super::robustness_cases()).collect()
}

/// The configuration: one Tee branch per case.
fn graph(file: &str, strip: usize, cases: &[&Case]) -> String {
    let mut g = format!("src :: FromDump(\"{file}\", STOP true) -> Strip({strip}) -> t :: Tee({});\n", cases.len());
    for (k, c) in cases.iter().enumerate() {
        let mark = if c.mark { "MarkIPHeader -> " } else { "" };
        g += &format!("t[{k}] -> {mark}i{k} :: Counter -> e{k} :: {} -> o{k} :: Counter -> Discard;\n", c.config);
        if c.two_outputs {
            g += &format!("e{k}[1] -> b{k} :: Counter -> Discard;\n");
        }
    }
    g
}

#[test]
fn every_capture_through_every_element() {
    let cases = all_cases();
    let classes = classes();
    let mut files = 0;
    for file in all_captures() {
        for strip in [0, 14, 18] {
            let config = graph(&file, strip, &cases);
            let r = run_config(&config, &classes).unwrap_or_else(|e| panic!("{file}: {e}"));
            files += 1;
            for (k, c) in cases.iter().enumerate() {
                let what = format!("{file} Strip({strip}) {}", c.config);
                let i = num(&r, &format!("i{k}"), "count");
                let o = num(&r, &format!("o{k}"), "count");
                let b = if c.two_outputs { num(&r, &format!("b{k}"), "count") } else { 0 };
                let drops = r.read_handler(&format!("e{k}"), "drops").ok().map(|v| v.trim().parse::<u64>().unwrap());
                match c.kind {
                    Kind::Filter => {
                        let d = drops.unwrap_or_else(|| panic!("{what}: no drops handler"));
                        assert_eq!(i, o + d, "{what}: in {i}, out {o}, out1 {b}, drops {d}");
                        assert!(b <= d, "{what}: out1 {b} > drops {d}");
                    }
                    Kind::Generator => {
                        let d = drops.unwrap_or_else(|| panic!("{what}: no drops handler"));
                        assert_eq!(i, o + d, "{what}: in {i}, out {o}, drops {d}");
                    }
                    Kind::Pass => assert_eq!(i, o, "{what}: in {i}, out {o}"),
                    Kind::Any => {}
                }
            }
        }
    }
    assert!(files >= 3 * 30, "{files} runs");
}

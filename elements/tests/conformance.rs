//! Conformance: small graphs in Click's language over real captures, each stating what Click
//! would report. A graph lists its expectations in comments:
//!
//! ```text
//! // input: snabb__v4.pcap          (a capture in ../shared/data/pcaps, bound to $IN)
//! // expect: c.count = 43           (a handler's value after the run)
//! // expect-output: 43 packets      (packets written to $OUT by ToDump)
//! ```
//!
//! The runner binds `$IN` and `$OUT`, runs the graph to its end, and compares. The expected
//! numbers come from the RFCs, Click's documentation and independent tools (each graph says
//! how its numbers were derived); the graphs use only Click syntax and Click elements, so
//! they are valid Click configurations too.

use sluice::load::plan_file;
use sluice::runtime::{Router, RunOptions};
use std::path::{Path, PathBuf};

const PCAPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/pcaps");
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance");

struct Case {
    path: PathBuf,
    input: Option<String>,
    expects: Vec<(String, String, String)>,
    output_packets: Option<usize>,
}

fn parse(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let mut case = Case { path: path.to_path_buf(), input: None, expects: Vec::new(), output_packets: None };
    for line in text.lines() {
        let Some(c) = line.trim().strip_prefix("//") else { continue };
        let c = c.trim();
        if let Some(v) = c.strip_prefix("input:") {
            case.input = Some(v.trim().to_string());
        } else if let Some(v) = c.strip_prefix("expect:") {
            let (lhs, rhs) =
                v.split_once('=').unwrap_or_else(|| panic!("{}: bad expect line '{line}'", path.display()));
            let (e, h) =
                lhs.trim().split_once('.').unwrap_or_else(|| panic!("{}: '{lhs}' is not ELEM.HANDLER", path.display()));
            case.expects.push((e.to_string(), h.to_string(), rhs.trim().to_string()));
        } else if let Some(v) = c.strip_prefix("expect-output:") {
            let n = v.trim().trim_end_matches("packets").trim();
            case.output_packets =
                Some(n.parse().unwrap_or_else(|_| panic!("{}: bad expect-output '{v}'", path.display())));
        }
    }
    case
}

fn count_records(path: &Path) -> usize {
    let data = std::fs::read(path).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(&data[..]).unwrap();
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        p.unwrap();
        n += 1;
    }
    n
}

fn run_case(case: &Case) -> Result<(), String> {
    let name = case.path.file_name().unwrap().to_string_lossy().into_owned();
    let out = std::env::temp_dir().join(format!("sluice-conformance-{}-{name}.pcap", std::process::id()));
    let mut defines = vec![("OUT".to_string(), out.display().to_string())];
    if let Some(i) = &case.input {
        defines.push(("IN".to_string(), format!("{PCAPS}/{i}")));
    }
    let plan = plan_file(&case.path, &defines, &sluice_elements::registry()).map_err(|e| format!("{name}: {e}"))?;
    let router = Router::new(plan, 1).map_err(|e| format!("{name}: {e}"))?.run(&RunOptions::default());
    let mut failures = Vec::new();
    for (e, h, want) in &case.expects {
        match router.read_handler(e, h) {
            Ok(got) if got.trim() == want => {}
            Ok(got) => failures.push(format!("{name}: {e}.{h} = {}, expected {want}", got.trim())),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    if let Some(n) = case.output_packets {
        let got = count_records(&out);
        if got != n {
            failures.push(format!("{name}: wrote {got} packets, expected {n}"));
        }
    }
    let _ = std::fs::remove_file(&out);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

#[test]
fn every_conformance_graph_meets_its_expectations() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "graph"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no conformance graphs in {DIR}");
    let mut failures = Vec::new();
    for p in &paths {
        let case = parse(p);
        assert!(!case.expects.is_empty() || case.output_packets.is_some(), "{}: states no expectation", p.display());
        if let Err(e) = run_case(&case) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} conformance graphs failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}

//! The measuring harness: interleaved rounds, medians, a table, and the `RESULT` line.
//!
//! The machines are shared and noisy, so every scenario runs its variants alternately,
//! several rounds, and reports medians; ratios between variants measured side by side are
//! the figures to compare.

use std::time::Instant;

/// Scenario settings from the command line.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub quick: bool,
}

impl Settings {
    /// Rounds per variant.
    pub fn rounds(&self) -> usize {
        if self.quick {
            3
        } else {
            9
        }
    }

    /// Packets per run: `quick` runs are short, full runs long enough to be stable.
    pub fn packets(&self, full: u64) -> u64 {
        if self.quick {
            (full / 8).max(1)
        } else {
            full
        }
    }
}

/// Time `f`, in seconds.
pub fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

pub fn median(v: &mut [f64]) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Run every variant once per round, alternating, and return each variant's samples.
pub fn interleave(rounds: usize, variants: usize, mut run: impl FnMut(usize) -> f64) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(rounds); variants];
    for _ in 0..rounds {
        for (v, s) in samples.iter_mut().enumerate() {
            s.push(run(v));
        }
    }
    samples
}

/// A plain text table with aligned columns.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{:>w$}", c, w = widths[i])).collect();
        println!("{}", s.join("  "));
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

/// The last line of every scenario: `RESULT name key=value ...`.
pub fn print_result(name: &str, pairs: &[(&str, String)]) {
    let kv: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("RESULT {name} {}", kv.join(" "));
}

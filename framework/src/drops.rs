//! Drop counters by reason: the one way elements count what they drop and say why.
//!
//! An element declares its reasons once, as a static list of short sentences, and counts
//! with the reason's index on the data path (an array increment, no allocation). The
//! framework-wide convention for handlers, following Click's CheckIPHeader: `drops` reads the
//! total, `drop_details` one line per reason with its count.

/// Counts of dropped packets, one per declared reason.
#[derive(Clone, Debug)]
pub struct DropCounts {
    reasons: &'static [&'static str],
    counts: Box<[u64]>,
}

impl DropCounts {
    /// Counters for `reasons`, e.g. `&["bad IP version", "truncated header"]`.
    pub fn new(reasons: &'static [&'static str]) -> Self {
        DropCounts { reasons, counts: vec![0; reasons.len()].into_boxed_slice() }
    }

    /// Count `n` packets dropped for reason number `reason`.
    #[inline]
    pub fn count(&mut self, reason: usize, n: u64) {
        self.counts[reason] += n;
    }

    /// Packets dropped for reason number `reason`.
    pub fn get(&self, reason: usize) -> u64 {
        self.counts[reason]
    }

    /// Packets dropped for any reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    /// `count reason` per line, for the `drop_details` handler.
    pub fn details(&self) -> String {
        let w = self.counts.iter().map(|c| c.to_string().len()).max().unwrap_or(1);
        self.reasons.iter().zip(self.counts.iter()).map(|(r, c)| format!("{c:>w$} {r}")).collect::<Vec<_>>().join("\n")
    }

    /// Answer the conventional handlers (`drops`, `drop_details`); `None` for others.
    pub fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "drops" => Some(self.total().to_string()),
            "drop_details" => Some(self.details()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reason_and_renders_details() {
        let mut d = DropCounts::new(&["bad version", "too short"]);
        d.count(1, 3);
        d.count(0, 12);
        assert_eq!(d.total(), 15);
        assert_eq!(d.read_handler("drops").unwrap(), "15");
        assert_eq!(d.details(), "12 bad version\n 3 too short");
        d.reset();
        assert_eq!(d.total(), 0);
    }
}

//! Click's port-count and processing notations, and port kinds.
//!
//! Port counts are written `inputs/outputs`, each `N`, `N-M`, `N-` (at least N) or `-`
//! (any number): `1/1`, `0/1`, `1/-`, `1/1-2`. Processing is written per port with `h`
//! (push), `l` (pull) and `a` (agnostic), the last letter repeating for further ports:
//! `a/a`, `h/l`, `l/h`, `a/ah`.

/// How many ports of one side an element accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortCount {
    pub min: usize,
    /// `None`: no upper bound.
    pub max: Option<usize>,
}

impl PortCount {
    pub fn allows(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }

    /// Parse one side: `1`, `1-2`, `1-`, `-`.
    pub fn parse(s: &str) -> Result<PortCount, String> {
        let s = s.trim();
        let num = |t: &str| t.parse::<usize>().map_err(|_| format!("bad port count '{s}'"));
        if s == "-" {
            return Ok(PortCount { min: 0, max: None });
        }
        match s.split_once('-') {
            None => {
                let n = num(s)?;
                Ok(PortCount { min: n, max: Some(n) })
            }
            Some((a, "")) => Ok(PortCount { min: num(a)?, max: None }),
            Some((a, b)) => {
                let (lo, hi) = (num(a)?, num(b)?);
                if lo > hi {
                    return Err(format!("bad port count '{s}'"));
                }
                Ok(PortCount { min: lo, max: Some(hi) })
            }
        }
    }

    /// Parse `inputs/outputs`.
    pub fn parse_spec(s: &str) -> Result<(PortCount, PortCount), String> {
        let (i, o) = s.split_once('/').ok_or_else(|| format!("bad port spec '{s}'"))?;
        Ok((PortCount::parse(i)?, PortCount::parse(o)?))
    }

    /// Click's wording of the range, e.g. "1", "1 or 2", "at least 1", "any number of".
    pub fn describe(&self) -> String {
        match (self.min, self.max) {
            (0, None) => "any number of".into(),
            (n, None) => format!("at least {n}"),
            (a, Some(b)) if a == b => format!("{a}"),
            (a, Some(b)) if b == a + 1 => format!("{a} or {b}"),
            (a, Some(b)) => format!("{a} to {b}"),
        }
    }
}

/// The processing of one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortKind {
    Push,
    Pull,
    Agnostic,
}

impl PortKind {
    fn from_char(c: char) -> Option<PortKind> {
        match c {
            'h' => Some(PortKind::Push),
            'l' => Some(PortKind::Pull),
            'a' => Some(PortKind::Agnostic),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            PortKind::Push => "push",
            PortKind::Pull => "pull",
            PortKind::Agnostic => "agnostic",
        }
    }
}

/// Processing of all ports of an element class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processing {
    inputs: Vec<PortKind>,
    outputs: Vec<PortKind>,
}

impl Processing {
    pub fn parse(s: &str) -> Result<Processing, String> {
        let (i, o) = s.split_once('/').unwrap_or((s, s));
        let side = |t: &str| -> Result<Vec<PortKind>, String> {
            t.chars().map(|c| PortKind::from_char(c).ok_or_else(|| format!("bad processing code '{s}'"))).collect()
        };
        let (inputs, outputs) = (side(i)?, side(o)?);
        if inputs.is_empty() || outputs.is_empty() {
            return Err(format!("bad processing code '{s}'"));
        }
        Ok(Processing { inputs, outputs })
    }

    fn at(v: &[PortKind], port: usize) -> PortKind {
        *v.get(port).unwrap_or_else(|| v.last().expect("non-empty"))
    }

    pub fn input(&self, port: usize) -> PortKind {
        Self::at(&self.inputs, port)
    }

    pub fn output(&self, port: usize) -> PortKind {
        Self::at(&self.outputs, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_counts() {
        let (i, o) = PortCount::parse_spec("1/1-2").unwrap();
        assert!(i.allows(1) && !i.allows(0) && !i.allows(2));
        assert!(o.allows(1) && o.allows(2) && !o.allows(3));
        let (i, o) = PortCount::parse_spec("-/1-").unwrap();
        assert!(i.allows(0) && i.allows(9));
        assert!(!o.allows(0) && o.allows(100));
        assert_eq!(o.describe(), "at least 1");
        assert!(PortCount::parse_spec("x/1").is_err());
        assert!(PortCount::parse_spec("3-1/1").is_err());
    }

    #[test]
    fn processing_codes_repeat_the_last_letter() {
        let p = Processing::parse("a/ah").unwrap();
        assert_eq!(p.input(0), PortKind::Agnostic);
        assert_eq!(p.input(5), PortKind::Agnostic);
        assert_eq!(p.output(0), PortKind::Agnostic);
        assert_eq!(p.output(1), PortKind::Push);
        assert_eq!(p.output(7), PortKind::Push);
        let q = Processing::parse("h/l").unwrap();
        assert_eq!((q.input(0), q.output(0)), (PortKind::Push, PortKind::Pull));
        assert!(Processing::parse("x/h").is_err());
        assert!(Processing::parse("/h").is_err());
    }
}

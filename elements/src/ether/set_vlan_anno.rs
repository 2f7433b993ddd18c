//! `SetVLANAnno`: sets the VLAN TCI annotation.

use super::parse_value;
use sluice::args::Args;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};

sluice::element_class! {
    /// SetVLANAnno(VLAN_TCI [, VLAN_PCP, KEYWORDS])
    ///
    /// Sets VLAN annotation.
    ///
    /// Sets passing packets' VLAN_TCI annotations to the configured values. Set the
    /// annotation using VLAN_TCI (the whole annotation), or VLAN_ID and VLAN_PCP (setting
    /// the ID and Priority Code Point components, respectively). As in Click, the value
    /// set is `(VLAN_TCI, or VLAN_ID when VLAN_TCI is not given) | VLAN_PCP << 13`.
    ///
    /// (Click keeps the annotation in network byte order; Sluice's `vlan_tci` holds the
    /// same TCI as a number.) `SetVlanAnno` is another name for this class, as in Click.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `VLAN_TCI` — integer 0..0xFFFF, positional. The whole TCI.
    /// - `VLAN_PCP` — integer 0..7, positional. The priority code point. Default 0.
    /// - `VLAN_ID` — integer 0..0xFFF. The VLAN ID, used when VLAN_TCI is not given.
    ///   Default 0.
    ///
    /// # Handlers
    /// - `vlan_tci` (read/write) — reads the TCI set; writing sets VLAN_TCI (keeping
    ///   VLAN_PCP), as Click's reconfiguration does.
    /// - `vlan_id` (read/write) — reads the ID part of the TCI set; writing sets VLAN_ID
    ///   (which matters only when VLAN_TCI was not given).
    /// - `vlan_pcp` (read/write) — reads the PCP part of the TCI set; writing sets
    ///   VLAN_PCP. (Click's reads of `vlan_id` and `vlan_pcp` return the keyword's text
    ///   from the configuration, empty when it was not given as a keyword; Sluice returns
    ///   the values in effect.)
    ///
    /// # Example
    /// ```text
    /// ... -> SetVLANAnno(VLAN_ID 2001, VLAN_PCP 3) -> EtherVLANEncap(0x0800, SRC, DST, ANNO) -> ...
    /// ```
    pub const SET_VLAN_ANNO = "SetVLANAnno" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read_write("vlan_tci", Combine::First, "the TCI set"),
    HandlerSpec::read_write("vlan_id", Combine::First, "the VLAN ID set"),
    HandlerSpec::read_write("vlan_pcp", Combine::First, "the priority code point set"),
];

/// A number within bounds (Click's `BoundedIntArg`).
fn bounded(name: &str, v: i64, lo: i64, hi: i64) -> Result<i64, String> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{name}: {v} out of range ({lo}..={hi})"))
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let tci = args.read_p::<i64>("VLAN_TCI")?.map(|v| bounded("VLAN_TCI", v, 0, 0xffff)).transpose()?;
    let pcp = args.read_p::<i64>("VLAN_PCP")?.map(|v| bounded("VLAN_PCP", v, 0, 7)).transpose()?.unwrap_or(0);
    let id = args.read_kw::<i64>("VLAN_ID")?.map(|v| bounded("VLAN_ID", v, 0, 0xfff)).transpose()?.unwrap_or(0);
    args.finish()?;
    Ok(Box::new(SetVlanAnno { tci: tci.map(|t| t as u16), id: id as u16, pcp: pcp as u8 }))
}

/// The element: the arguments as configured (the TCI is recomputed from them).
pub struct SetVlanAnno {
    tci: Option<u16>,
    id: u16,
    pcp: u8,
}

impl SetVlanAnno {
    #[inline]
    fn value(&self) -> u16 {
        self.tci.unwrap_or(self.id) | u16::from(self.pcp) << 13
    }

    #[inline]
    fn set(&self, batch: &mut Batch) {
        let v = self.value();
        for p in batch.iter_mut() {
            p.anno_mut().vlan_tci = v;
        }
    }
}

impl Element for SetVlanAnno {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.set(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.set(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        let v = self.value();
        Some(match name {
            "vlan_tci" => v.to_string(),
            "vlan_id" => (v & 0xfff).to_string(),
            "vlan_pcp" => (v >> 13).to_string(),
            _ => return None,
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "vlan_tci" => self.tci = Some(bounded("VLAN_TCI", parse_value("VLAN_TCI", value)?, 0, 0xffff)? as u16),
            "vlan_id" => self.id = bounded("VLAN_ID", parse_value("VLAN_ID", value)?, 0, 0xfff)? as u16,
            "vlan_pcp" => self.pcp = bounded("VLAN_PCP", parse_value("VLAN_PCP", value)?, 0, 7)? as u8,
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    fn tcis(config: &str) -> Vec<u16> {
        let (out, _) =
            run_element(&SET_VLAN_ANNO, config, 1, (0..3).map(|_| Packet::from_slice(b"ab")).collect()).unwrap();
        assert!(out[0].iter().all(|p| p.data() == b"ab"));
        out[0].iter().map(|p| p.anno().vlan_tci).collect()
    }

    #[test]
    fn sets_the_annotation_as_click_computes_it() {
        assert_eq!(tcis("0x1234"), vec![0x1234; 3]);
        assert_eq!(tcis("100, 5"), vec![100 | 5 << 13; 3]);
        assert_eq!(tcis("VLAN_ID 2001, VLAN_PCP 3"), vec![2001 | 3 << 13; 3]);
        // VLAN_TCI wins over VLAN_ID; PCP is ORed in.
        assert_eq!(tcis("VLAN_TCI 7, VLAN_ID 9, VLAN_PCP 1"), vec![7 | 1 << 13; 3]);
        assert_eq!(tcis(""), vec![0; 3]);
    }

    #[test]
    fn handlers_reconfigure() {
        let mut e = build_elem(&SET_VLAN_ANNO, "VLAN_ID 10, VLAN_PCP 2", 1, 1).unwrap();
        assert_eq!(e.read_handler("vlan_tci").unwrap(), (10 | 2 << 13).to_string());
        assert_eq!(e.read_handler("vlan_id").unwrap(), "10");
        assert_eq!(e.read_handler("vlan_pcp").unwrap(), "2");
        e.write_handler("vlan_id", "20").unwrap();
        assert_eq!(e.read_handler("vlan_tci").unwrap(), (20 | 2 << 13).to_string());
        e.write_handler("vlan_tci", "0x0100").unwrap();
        assert_eq!(e.read_handler("vlan_tci").unwrap(), (0x100 | 2 << 13).to_string());
        e.write_handler("vlan_id", "30").unwrap();
        assert_eq!(e.read_handler("vlan_id").unwrap(), "256", "VLAN_TCI given: VLAN_ID is ignored");
        e.write_handler("vlan_pcp", "0").unwrap();
        assert_eq!(e.read_handler("vlan_tci").unwrap(), "256");
        assert!(e.write_handler("vlan_pcp", "8").unwrap_err().contains("out of range"));
        assert!(e.write_handler("vlan_id", "4096").is_err());
        assert!(e.write_handler("vlan_tci", "x").is_err());
    }

    #[test]
    fn config_is_checked() {
        assert!(build_elem(&SET_VLAN_ANNO, "65536", 1, 1).is_err());
        assert!(build_elem(&SET_VLAN_ANNO, "1, 8", 1, 1).is_err());
        assert!(build_elem(&SET_VLAN_ANNO, "VLAN_ID 4096", 1, 1).is_err());
        assert!(build_elem(&SET_VLAN_ANNO, "1, 2, 3", 1, 1).is_err());
        assert!(build_elem(&SET_VLAN_ANNO, "VLAN_ID -1", 1, 1).is_err());
    }
}

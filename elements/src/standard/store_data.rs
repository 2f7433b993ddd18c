//! `StoreData`: overwrites packet bytes at an offset.

use sluice::args::{Args, Bytes};
use sluice::{Batch, BuildCtx, ConfigError, Ctx, Element, Packet};

sluice::element_class! {
    /// StoreData(OFFSET, DATA [, MASK, KEYWORDS])
    ///
    /// Changes packet data.
    ///
    /// Changes packet data starting at OFFSET to DATA. Bytes past the end of the packet
    /// are not stored (unless GROW is true); packets no longer than OFFSET pass
    /// unchanged.
    ///
    /// Optionally MASK can be specified, so only those bits of packet data are changed
    /// whose corresponding bits of MASK are 1. MASK may be shorter than DATA; bytes of
    /// DATA past the end of MASK are stored whole. MASK and GROW are FastClick's
    /// additions, with FastClick's meaning.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `OFFSET` — unsigned, mandatory, positional. Where DATA goes.
    /// - `DATA` — data, mandatory, positional. The bytes to store, e.g. `\<FF 00>`.
    /// - `MASK` — data, positional. Bit mask for the first bytes of DATA; no longer than
    ///   DATA.
    /// - `GROW` — boolean. If true, packets are extended so that all of DATA fits.
    ///   Default false.
    ///
    /// # Handlers
    /// None besides the generic ones.
    ///
    /// # Example
    /// ```text
    /// // set the IP TTL (after a 14-byte Ethernet header) to 1
    /// ... -> StoreData(22, \<01>) -> ...
    /// // set the DSCP bits only
    /// ... -> StoreData(15, \<b8>, MASK \<fc>) -> ...
    /// ```
    pub const STORE_DATA = "StoreData" { ports: "1/1", processing: "a/a", handlers: &[], build: build }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let offset = args.read_mp::<u32>("OFFSET")? as usize;
    let mut data = args.read_mp::<Bytes>("DATA")?.0;
    let mask = args.read_p::<Bytes>("MASK")?.map(|m| m.0).unwrap_or_default();
    let grow = args.read_kw::<bool>("GROW")?.unwrap_or(false);
    args.finish()?;
    if mask.len() > data.len() {
        return Err("MASK must be no longer than DATA".into());
    }
    // As FastClick does: keep only the masked bits of DATA.
    for (d, m) in data.iter_mut().zip(&mask) {
        *d &= m;
    }
    Ok(Box::new(StoreData { offset, data, mask, grow }))
}

/// The element: where and what to store.
pub struct StoreData {
    offset: usize,
    data: Vec<u8>,
    mask: Vec<u8>,
    grow: bool,
}

impl StoreData {
    #[inline]
    fn store(&self, p: &mut Packet) {
        if p.len() <= self.offset {
            return;
        }
        let want = self.offset + self.data.len();
        if self.grow && want > p.len() {
            p.put(want - p.len());
        }
        let end = want.min(p.len());
        let target = &mut p.data_mut()[self.offset..end];
        for (i, b) in target.iter_mut().enumerate() {
            *b = match self.mask.get(i) {
                Some(m) => (*b & !m) | self.data[i],
                None => self.data[i],
            };
        }
    }
}

impl Element for StoreData {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        for p in batch.iter_mut() {
            self.store(p);
        }
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        for p in batch.iter_mut() {
            self.store(p);
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::testing::{build as build_elem, run_element};

    fn one(config: &str, data: &[u8]) -> Vec<u8> {
        let (out, _) = run_element(&STORE_DATA, config, 1, vec![Packet::from_slice(data)]).unwrap();
        out[0][0].data().to_vec()
    }

    #[test]
    fn stores_clips_and_grows() {
        assert_eq!(one(r"1, \<aa bb>", &[0; 4]), [0, 0xaa, 0xbb, 0]);
        assert_eq!(one(r"3, \<aa bb>", &[0; 4]), [0, 0, 0, 0xaa]);
        assert_eq!(one(r"4, \<aa bb>", &[0; 4]), [0; 4]);
        assert_eq!(one(r"3, \<aa bb>, GROW true", &[0; 4]), [0, 0, 0, 0xaa, 0xbb]);
        assert_eq!(one(r#"0, "GET""#, b"PUT /"), b"GET /");
    }

    #[test]
    fn mask_changes_only_masked_bits() {
        // DSCP 46 (0xb8) into the TOS byte, keeping the ECN bits.
        assert_eq!(one(r"1, \<b8>, MASK \<fc>", &[0x45, 0x03]), [0x45, 0xbb]);
        // DATA bits outside MASK are ignored; DATA past MASK is stored whole.
        assert_eq!(one(r"0, \<ff 12>, \<0f>", &[0xa5, 0x00]), [0xaf, 0x12]);
        assert!(build_elem(&STORE_DATA, r"0, \<ff>, \<ff ff>", 1, 1).is_err());
        assert!(build_elem(&STORE_DATA, "0", 1, 1).is_err());
    }
}

//! What the IP elements share: finding the IP header a packet's annotation points at, and
//! sending the packets an element refuses to its error output (or dropping them), counted
//! by reason.

use crate::wire::ipv4;
use sluice::drops::DropCounts;
use sluice::{Batch, Ctx, Packet};
use std::cell::Cell;

/// Offset of the network header from the start of the data, when it is set and inside the
/// data. (Click allows a header before the data; Sluice's IP elements do not reach back.)
#[inline]
pub fn nh_offset(p: &Packet) -> Option<usize> {
    let off = usize::try_from(p.network_header_offset()?).ok()?;
    (off <= p.len()).then_some(off)
}

/// Offset of the transport header from the start of the data, when set and inside the data.
#[inline]
pub fn th_offset(p: &Packet) -> Option<usize> {
    let off = usize::try_from(p.transport_header_offset()?).ok()?;
    (off <= p.len()).then_some(off)
}

/// The IPv4 fixed header at the network header annotation, if at least 20 bytes are there.
#[inline]
pub fn ip_fixed(p: &Packet) -> Option<ipv4::Packet<&[u8]>> {
    let off = nh_offset(p)?;
    ipv4::Packet::new_fixed(p.data().get(off..)?).ok()
}

/// [`ip_fixed`], writable.
#[inline]
pub fn ip_fixed_mut(p: &mut Packet) -> Option<ipv4::Packet<&mut [u8]>> {
    let off = nh_offset(p)?;
    ipv4::Packet::new_fixed(p.data_mut().get_mut(off..)?).ok()
}

/// Keep the packets of `batch` for which `check` says `Ok`. The others are counted under
/// the reason index `check` returns and go out of output 1 when it is connected (Click's
/// `checked_output_push(1, p)`), else they are dropped. Allocates nothing.
#[inline]
pub fn filter(
    batch: &mut Batch,
    ctx: &mut Ctx<'_>,
    drops: &mut DropCounts,
    mut check: impl FnMut(&mut Packet) -> Result<(), usize>,
) {
    let reason = Cell::new(0usize);
    let mut rejected = Batch::new();
    batch.retain_or(
        |p| match check(p) {
            Ok(()) => true,
            Err(r) => {
                reason.set(r);
                false
            }
        },
        |p| {
            drops.count(reason.get(), 1);
            // A batch never holds more than MAX_BATCH packets, so this cannot overflow.
            let _ = rejected.push(p);
        },
    );
    reject(rejected, ctx);
}

/// Send refused packets to output 1 if connected, else drop them.
#[inline]
pub fn reject(rejected: Batch, ctx: &mut Ctx<'_>) {
    if !rejected.is_empty() && ctx.noutputs() > 1 {
        ctx.push(1, rejected);
    }
}

/// Test helpers shared by the IP elements' tests.
#[cfg(test)]
pub mod test_util {
    use sluice::element::ElementClass;
    use sluice::runtime::Router;
    use sluice::testing::run_config;
    use sluice::Packet;

    /// Directory of the sample captures.
    pub const PCAPS: &str = "/work/shared/data/pcaps";
    /// Directory of the malformed captures.
    pub const MALFORMED: &str = "/work/shared/data/malformed";

    /// Every class a test configuration may use.
    pub fn classes() -> Vec<ElementClass> {
        crate::classes()
    }

    /// Run a configuration (Click language) to completion.
    pub fn run(config: &str) -> Router {
        run_config(config, &classes()).unwrap_or_else(|e| panic!("{e}\n{config}"))
    }

    /// Run `FromDump(<capture>, STOP true) -> CHAIN -> Collect` and return what reached
    /// the end, and the stopped router (for handlers). `capture` is a file name in the
    /// sample directory or an absolute path.
    pub fn run_capture(capture: &str, chain: &str) -> (Vec<Packet>, Router) {
        let path = if capture.starts_with('/') { capture.to_string() } else { format!("{PCAPS}/{capture}") };
        let id = sluice::testing::new_id();
        let r = run(&format!("FromDump(\"{path}\", STOP true) -> {chain} -> Collect(ID {id});"));
        (sluice::testing::collected(id), r)
    }

    /// A handler's value as a number.
    pub fn num(r: &Router, element: &str, handler: &str) -> u64 {
        let v = r.read_handler(element, handler).unwrap_or_else(|e| panic!("{element}.{handler}: {e:?}"));
        v.trim().parse().unwrap_or_else(|_| panic!("{element}.{handler} = {v:?}"))
    }

    /// The records of a capture as packets (Ethernet frames for most files).
    pub fn frames(file: &str) -> Vec<Packet> {
        crate::wire::pcap_records(&format!("{PCAPS}/{file}")).1.iter().map(|r| Packet::from_slice(r)).collect()
    }

    /// Every capture file in the sample and malformed directories.
    pub fn all_captures() -> Vec<String> {
        let mut v = Vec::new();
        for dir in [PCAPS, MALFORMED] {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "pcap") {
                    v.push(p.to_string_lossy().into_owned());
                }
            }
        }
        v.sort();
        v
    }
}

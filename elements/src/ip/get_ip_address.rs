//! `GetIPAddress`: sets the destination IP address annotation from packet data.

use super::common::ip_fixed;
use crate::standard::anno::AnnoByte;
use sluice::args::{Args, FromArg, Word};
use sluice::drops::DropCounts;
use sluice::packet::USER_ANNO_BYTES;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// GetIPAddress(OFFSET [, ANNO, KEYWORDS])
    ///
    /// Sets destination IP address annotation from packet data.
    ///
    /// Copies 4 bytes from the packet, starting at OFFSET, to the destination IP address
    /// annotation (or to the 4-byte annotation ANNO). OFFSET is relative to the start of
    /// the data. Instead of OFFSET, the keyword `IP` may name the IP header's `src` or
    /// `dst` field (using the IP header annotation).
    ///
    /// Click copies whatever memory lies at OFFSET; Sluice drops packets too short for
    /// OFFSET + 4 bytes, and packets without an IP header when IP is given, and counts
    /// them.
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `OFFSET` — unsigned, positional. Where the address is in the data. Exactly one of
    ///   OFFSET and IP must be given.
    /// - `ANNO` — 4-byte annotation, positional: `DST_IP` (default) or a byte offset in
    ///   Click's annotation area (0..44).
    /// - `IP` — `src` or `dst`: the IP header field to copy.
    ///
    /// # Handlers
    /// - `drops` (read) — packets too short (Sluice only).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// # Example
    /// ```text
    /// ... -> GetIPAddress(16) -> LookupIPRoute(...) -> ...
    /// ... -> GetIPAddress(IP src) -> ...
    /// ```
    pub const GET_IP_ADDRESS = "GetIPAddress" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets too short"),
    HandlerSpec::read("drop_details", Combine::Sum, "drops by reason"),
];

const REASONS: &[&str] = &["packet too short for OFFSET", "no IP header"];

/// A 4-byte annotation of Click's annotation area: `DST_IP` or a byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anno4(pub u8);

impl FromArg for Anno4 {
    const DESCRIPTION: &'static str = "4-byte annotation (DST_IP or offset)";
    fn from_arg(s: &str) -> Result<Self, String> {
        match s {
            "DST_IP" | "DST_IP_ANNO" => Ok(Anno4(0)),
            _ => match u8::from_arg(s) {
                Ok(o) if (o as usize) + 4 <= USER_ANNO_BYTES => Ok(Anno4(o)),
                Ok(_) => Err(format!("annotation offset {s} out of range (0..{})", USER_ANNO_BYTES - 4)),
                Err(_) => Err(sluice::args::expected(Self::DESCRIPTION, s)),
            },
        }
    }
}

impl Anno4 {
    /// Store `v` (network order) in the annotation.
    #[inline]
    pub fn set(self, p: &mut Packet, v: [u8; 4]) {
        if self.0 == 0 {
            p.anno_mut().dst_ip = v;
        } else {
            for (i, b) in v.into_iter().enumerate() {
                AnnoByte(self.0 + i as u8).set(p, b);
            }
        }
    }
}

/// Where the address comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    Offset(usize),
    /// Byte offset in the IP header (12 for src, 16 for dst).
    Ip(usize),
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let offset = args.read_p::<u32>("OFFSET")?;
    let anno = args.read_p::<Anno4>("ANNO")?.unwrap_or(Anno4(0));
    let ip = args.read_kw::<Word>("IP")?;
    args.finish()?;
    let source = match (offset, ip) {
        (Some(o), None) => Source::Offset(o as usize),
        (None, Some(w)) => match w.0.as_str() {
            "src" => Source::Ip(12),
            "dst" => Source::Ip(16),
            _ => return Err("bad IP (expected 'src' or 'dst')".into()),
        },
        _ => return Err("set one of OFFSET, IP".into()),
    };
    Ok(Box::new(GetIPAddress { source, anno, drops: DropCounts::new(REASONS) }))
}

/// The element: where to read, where to store, drop counters.
pub struct GetIPAddress {
    source: Source,
    anno: Anno4,
    drops: DropCounts,
}

#[inline]
fn get(source: Source, anno: Anno4, p: &mut Packet) -> Result<(), usize> {
    let v = match source {
        Source::Offset(o) => {
            let Some(b) = p.data().get(o..o.saturating_add(4)) else { return Err(0) };
            [b[0], b[1], b[2], b[3]]
        }
        Source::Ip(12) => ip_fixed(p).ok_or(1usize)?.src_bytes(),
        Source::Ip(_) => ip_fixed(p).ok_or(1usize)?.dst_bytes(),
    };
    anno.set(p, v);
    Ok(())
}

impl GetIPAddress {
    #[inline]
    fn process(&mut self, batch: &mut Batch) {
        let (source, anno) = (self.source, self.anno);
        let reason = std::cell::Cell::new(0);
        let drops = &mut self.drops;
        batch.retain_or(|p| get(source, anno, p).map_err(|r| reason.set(r)).is_ok(), |_| drops.count(reason.get(), 1));
    }
}

impl Element for GetIPAddress {
    #[inline]
    fn push(&mut self, _port: usize, mut batch: Batch, mut ctx: Ctx<'_>) {
        self.process(&mut batch);
        ctx.push(0, batch);
    }

    #[inline]
    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let mut batch = ctx.pull(0, max);
        self.process(&mut batch);
        batch
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        self.drops.read_handler(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{frames, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn copies_addresses_of_a_capture() {
        // In the Ethernet frames of snabb__v4.pcap the IP destination is at bytes 30..34.
        let input = frames("snabb__v4.pcap");
        let want: Vec<[u8; 4]> = input.iter().map(|p| p.data()[30..34].try_into().unwrap()).collect();
        let (out, _) = run_element(&GET_IP_ADDRESS, "30", 1, input).unwrap();
        assert_eq!(out[0].iter().map(|p| p.anno().dst_ip).collect::<Vec<_>>(), want);
        let (out, _) = run_capture("snabb__v4.pcap", "MarkIPHeader(14) -> GetIPAddress(IP src)");
        assert_eq!(out[0].anno().dst_ip, [145, 254, 160, 237]);
        let (out, _) = run_capture("snabb__v4.pcap", "GetIPAddress(26, 4)");
        assert_eq!(out[0].anno().user[4..8], [145, 254, 160, 237]);
        assert_eq!(out[0].anno().dst_ip, [0; 4]);
    }

    #[test]
    fn short_packets_and_config() {
        let (out, r) = run_element(&GET_IP_ADDRESS, "30", 1, vec![Packet::from_slice(&[0; 33])]).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(r.read_handler("e", "drops").unwrap(), "1");
        assert!(build_elem(&GET_IP_ADDRESS, "", 1, 1).is_err());
        assert!(build_elem(&GET_IP_ADDRESS, "16, IP dst", 1, 1).is_err());
        assert!(build_elem(&GET_IP_ADDRESS, "IP foo", 1, 1).is_err());
        assert!(build_elem(&GET_IP_ADDRESS, "0, 45", 1, 1).is_err());
        assert!(build_elem(&GET_IP_ADDRESS, "0, DST_IP", 1, 1).is_ok());
    }
}

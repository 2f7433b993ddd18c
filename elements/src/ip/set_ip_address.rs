//! `SetIPAddress`: sets the destination IP address annotation.

use super::get_ip_address::Anno4;
use sluice::args::{Args, FromArg};
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec};
use std::net::Ipv4Addr;

sluice::element_class! {
    /// SetIPAddress(IPADDR [, KEYWORDS])
    ///
    /// Sets destination IP address annotations.
    ///
    /// Set the destination IP address annotation of incoming packets to the static IP
    /// address IPADDR (or the 4-byte annotation ANNO, if given).
    ///
    /// Ports: 1 input, 1 output, agnostic.
    ///
    /// # Keywords
    /// - `IPADDR` — IPv4 address, mandatory, positional. The address to set.
    /// - `ANNO` — 4-byte annotation: `DST_IP` (default) or a byte offset in Click's
    ///   annotation area (0..44). Keyword only, as in Click.
    ///
    /// # Handlers
    /// - `addr` (read/write) — the IPADDR parameter.
    ///
    /// # Example
    /// ```text
    /// ... -> SetIPAddress(10.0.0.1) -> ARPQuerier(10.0.0.2, 00:01:02:03:04:05) -> ...
    /// ```
    pub const SET_IP_ADDRESS = "SetIPAddress" { ports: "1/1", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[HandlerSpec::read_write("addr", Combine::First, "the address set")];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let addr = args.read_mp::<Ipv4Addr>("IPADDR")?;
    let anno = args.read_kw::<Anno4>("ANNO")?.unwrap_or(Anno4(0));
    args.finish()?;
    Ok(Box::new(SetIPAddress { addr, anno }))
}

/// The element: the address and where it goes.
pub struct SetIPAddress {
    addr: Ipv4Addr,
    anno: Anno4,
}

impl SetIPAddress {
    #[inline]
    fn set(&self, batch: &mut Batch) {
        let v = self.addr.octets();
        for p in batch.iter_mut() {
            self.anno.set(p, v);
        }
    }
}

impl Element for SetIPAddress {
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
        (name == "addr").then(|| self.addr.to_string())
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "addr" => {
                self.addr = Ipv4Addr::from_arg(value.trim()).map_err(|e| format!("addr: {e}"))?;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::anno::AnnoByte;
    use sluice::testing::{build as build_elem, run_element};
    use sluice::Packet;

    #[test]
    fn sets_the_destination_annotation() {
        let input: Vec<Packet> = (0..100u8).map(|i| Packet::from_slice(&[i; 20])).collect();
        let (out, router) = run_element(&SET_IP_ADDRESS, "10.1.2.3", 1, input).unwrap();
        assert_eq!(out[0].len(), 100);
        for (i, p) in out[0].iter().enumerate() {
            assert_eq!(p.anno().dst_ip, [10, 1, 2, 3]);
            assert_eq!(p.data(), &[i as u8; 20], "data untouched");
        }
        assert_eq!(router.read_handler("e", "addr").unwrap(), "10.1.2.3");
    }

    #[test]
    fn anno_keyword_selects_another_annotation() {
        let mut p = Packet::from_slice(&[0; 4]);
        p.anno_mut().dst_ip = [9, 9, 9, 9];
        let (out, _) = run_element(&SET_IP_ADDRESS, "1.2.3.4, ANNO 40", 1, vec![p]).unwrap();
        let p = &out[0][0];
        assert_eq!(p.anno().dst_ip, [9, 9, 9, 9]);
        let got: Vec<u8> = (40..44).map(|o| AnnoByte(o).get(p)).collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
    }

    #[test]
    fn handlers_and_config() {
        let mut e = build_elem(&SET_IP_ADDRESS, "IPADDR 192.168.0.1", 1, 1).unwrap();
        assert_eq!(e.read_handler("addr").unwrap(), "192.168.0.1");
        e.write_handler("addr", "172.16.0.9").unwrap();
        assert_eq!(e.read_handler("addr").unwrap(), "172.16.0.9");
        assert!(e.write_handler("addr", "1.2.3").unwrap_err().starts_with("addr: "));
        assert!(build_elem(&SET_IP_ADDRESS, "", 1, 1).is_err());
        assert!(build_elem(&SET_IP_ADDRESS, "300.1.1.1", 1, 1).is_err());
        // ANNO is a keyword only.
        assert!(build_elem(&SET_IP_ADDRESS, "1.2.3.4, 40", 1, 1).is_err());
        assert!(build_elem(&SET_IP_ADDRESS, "1.2.3.4, ANNO DST_IP", 1, 1).is_ok());
        assert!(build_elem(&SET_IP_ADDRESS, "1.2.3.4, ANNO 46", 1, 1).is_err());
    }
}

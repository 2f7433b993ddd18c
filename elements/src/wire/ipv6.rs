//! IPv6 fixed headers (RFC 8200).
//!
//! [`Packet`] is a view of the 40-byte fixed header and the payload its payload length
//! announces. `new_checked` accepts a buffer holding the fixed header and the whole
//! payload; bytes after it (link padding) are outside [`Packet::payload`]. A payload length
//! of 0 is taken literally (jumbograms, RFC 2675, are not interpreted). The version is not
//! checked by `new_checked`; [`Repr::parse`] refuses anything but 6. Extension headers are
//! part of the payload: walking them is the caller's business.

use super::checksum;
use super::{get_u16, set_u16, Error, Result};
use std::net::Ipv6Addr;

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 40;

/// Next-header values with meaning to IPv6 itself.
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT: u8 = 59;
    pub const DEST_OPTS: u8 = 60;
}

mod field {
    use crate::wire::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// A view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose fixed header and payload are inside the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` unless the buffer holds 40 bytes plus the payload length.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < HEADER_LEN + self.payload_len() as usize {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    #[inline]
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// The 20-bit flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    #[inline]
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    #[inline]
    pub fn src_bytes(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC_ADDR]);
        a
    }

    #[inline]
    pub fn dst_bytes(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST_ADDR]);
        a
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src_bytes())
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst_bytes())
    }

    /// The payload (extension headers included), as long as the payload length says.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.payload_len() as usize]
    }

    /// Sum of the pseudo-header for an upper-layer packet of `len` bytes with protocol
    /// `next_header` (RFC 8200 §8.1), using this header's addresses.
    pub fn pseudo_header_sum(&self, next_header: u8, len: u32) -> u16 {
        checksum::pseudo_header_v6(&self.src_bytes(), &self.dst_bytes(), next_header, len)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_first_word(&mut self, w: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
    }

    pub fn set_version(&mut self, v: u8) {
        let w = self.first_word();
        self.set_first_word((w & 0x0fff_ffff) | ((v as u32 & 0xf) << 28));
    }

    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = self.first_word();
        self.set_first_word((w & 0xf00f_ffff) | ((tc as u32) << 20));
    }

    pub fn set_flow_label(&mut self, fl: u32) {
        let w = self.first_word();
        self.set_first_word((w & 0xfff0_0000) | (fl & 0x000f_ffff));
    }

    pub fn set_payload_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, v);
    }

    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = v;
    }

    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let n = self.payload_len() as usize;
        &mut self.buffer.as_mut()[HEADER_LEN..HEADER_LEN + n]
    }
}

/// The owned form of an IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Repr {
    /// Parse a checked view; `Malformed` unless the version is 6.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len() as usize,
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the 40-byte fixed header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_first_word(0);
        p.set_version(6);
        p.set_traffic_class(self.traffic_class);
        p.set_flow_label(self.flow_label);
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};

    #[test]
    fn deconstruct_real_tcp_packet() {
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v6-tcp-udp.pcap"));
        let p = Packet::new_checked(&recs[0][14..]).unwrap();
        assert_eq!((p.version(), p.traffic_class(), p.flow_label()), (6, 0, 0));
        assert_eq!((p.payload_len(), p.next_header(), p.hop_limit()), (40, next_header::TCP, 61));
        assert_eq!(p.src_addr(), "3ffe:501:410:0:2c0:dfff:fe47:33e".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "3ffe:507:0:1:200:86ff:fe05:80da".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.payload().len(), 40);
        // The TCP checksum verifies with the pseudo-header.
        let sum = checksum::combine(&[checksum::data(p.payload()), p.pseudo_header_sum(6, 40)]);
        assert_eq!(sum, 0xffff);
    }

    #[test]
    fn construct_matches_the_capture() {
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v6-tcp-udp.pcap"));
        let ip = &recs[1][14..];
        let repr = Repr::parse(&Packet::new_checked(ip).unwrap()).unwrap();
        assert_eq!(repr.next_header, next_header::UDP);
        let mut buf = ip.to_vec();
        buf[..40].fill(0xaa);
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, ip);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_traffic_class(0xb8);
        p.set_flow_label(0xabcde);
        assert_eq!((p.version(), p.traffic_class(), p.flow_label()), (6, 0xb8, 0xabcde));
    }

    #[test]
    fn short_and_wrong_version() {
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v6-tcp-udp.pcap"));
        let ip = &recs[0][14..];
        assert_eq!(Packet::new_checked(&ip[..39]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&ip[..79]).unwrap_err(), Error::Truncated);
        let mut v4 = ip.to_vec();
        v4[0] = 0x45;
        assert_eq!(Repr::parse(&Packet::new_checked(&v4[..]).unwrap()).unwrap_err(), Error::Malformed);
    }
}

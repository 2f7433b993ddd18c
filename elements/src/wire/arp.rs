//! ARP packets (RFC 826).
//!
//! [`Packet`] is a view of an ARP packet for any hardware and protocol address sizes: the
//! fixed 8 bytes (hardware type, protocol type, address lengths, operation) followed by the
//! sender and target addresses, whose sizes come from the length fields. `new_checked`
//! makes sure all four addresses are inside the buffer, so the address accessors never
//! panic. Ethernet/IPv4 ARP, the only kind Click's ARP elements handle (`click_ether_arp`,
//! 28 bytes), has typed accessors and a [`Repr`].
//!
//! ```
//! use sluice_elements::wire::arp::{Operation, Repr};
//! let request = Repr {
//!     operation: Operation::REQUEST,
//!     sender_hw: [0, 1, 2, 3, 4, 5],
//!     sender_ip: [10, 0, 0, 1],
//!     target_hw: [0; 6],
//!     target_ip: [10, 0, 0, 2],
//! };
//! let mut buf = [0u8; 28];
//! request.emit(&mut buf);
//! assert_eq!(Repr::parse(&buf[..]).unwrap(), request);
//! ```

use super::ether::Address as EtherAddress;
use super::{get_u16, set_u16, Error, Result};

/// ARP operation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation(pub u16);

impl Operation {
    pub const REQUEST: Operation = Operation(1);
    pub const REPLY: Operation = Operation(2);
    pub const RARP_REQUEST: Operation = Operation(3);
    pub const RARP_REPLY: Operation = Operation(4);
}

/// Hardware type for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// Protocol type for IPv4 (the IPv4 EtherType).
pub const PTYPE_IPV4: u16 = 0x0800;
/// Bytes of the fixed part.
pub const FIXED_LEN: usize = 8;
/// Bytes of an Ethernet/IPv4 ARP packet.
pub const ETHER_IPV4_LEN: usize = 28;

mod field {
    use crate::wire::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const fn sha(hlen: usize, _plen: usize) -> Field {
        8..8 + hlen
    }
    pub const fn spa(hlen: usize, plen: usize) -> Field {
        8 + hlen..8 + hlen + plen
    }
    pub const fn tha(hlen: usize, plen: usize) -> Field {
        8 + hlen + plen..8 + 2 * hlen + plen
    }
    pub const fn tpa(hlen: usize, plen: usize) -> Field {
        8 + 2 * hlen + plen..8 + 2 * hlen + 2 * plen
    }
}

/// A view of an ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view of a buffer holding the fixed part and all four addresses.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` unless the buffer holds the fixed part and the addresses it announces.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < FIXED_LEN || b.len() < self.packet_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the packet as its address lengths say: 8 + 2·hlen + 2·plen.
    pub fn packet_len(&self) -> usize {
        FIXED_LEN + 2 * (self.hardware_len() as usize + self.protocol_len() as usize)
    }

    #[inline]
    pub fn hardware_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }

    #[inline]
    pub fn protocol_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE)
    }

    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    #[inline]
    pub fn operation(&self) -> Operation {
        Operation(get_u16(self.buffer.as_ref(), field::OPER))
    }

    fn lens(&self) -> (usize, usize) {
        (self.hardware_len() as usize, self.protocol_len() as usize)
    }

    /// Sender hardware address bytes.
    pub fn sender_hardware_addr(&self) -> &[u8] {
        let (h, p) = self.lens();
        &self.buffer.as_ref()[field::sha(h, p)]
    }

    /// Sender protocol address bytes.
    pub fn sender_protocol_addr(&self) -> &[u8] {
        let (h, p) = self.lens();
        &self.buffer.as_ref()[field::spa(h, p)]
    }

    /// Target hardware address bytes.
    pub fn target_hardware_addr(&self) -> &[u8] {
        let (h, p) = self.lens();
        &self.buffer.as_ref()[field::tha(h, p)]
    }

    /// Target protocol address bytes.
    pub fn target_protocol_addr(&self) -> &[u8] {
        let (h, p) = self.lens();
        &self.buffer.as_ref()[field::tpa(h, p)]
    }

    /// True for Ethernet/IPv4 ARP (hardware type 1, protocol 0x0800, lengths 6 and 4).
    pub fn is_ether_ipv4(&self) -> bool {
        self.hardware_type() == HTYPE_ETHERNET
            && self.protocol_type() == PTYPE_IPV4
            && self.hardware_len() == 6
            && self.protocol_len() == 4
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_hardware_type(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::HTYPE, v);
    }

    pub fn set_protocol_type(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::PTYPE, v);
    }

    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    pub fn set_operation(&mut self, op: Operation) {
        set_u16(self.buffer.as_mut(), field::OPER, op.0);
    }

    /// Set the sender hardware address; `a` must be `hardware_len` bytes.
    pub fn set_sender_hardware_addr(&mut self, a: &[u8]) {
        let (h, p) = self.lens();
        self.buffer.as_mut()[field::sha(h, p)].copy_from_slice(a);
    }

    pub fn set_sender_protocol_addr(&mut self, a: &[u8]) {
        let (h, p) = self.lens();
        self.buffer.as_mut()[field::spa(h, p)].copy_from_slice(a);
    }

    pub fn set_target_hardware_addr(&mut self, a: &[u8]) {
        let (h, p) = self.lens();
        self.buffer.as_mut()[field::tha(h, p)].copy_from_slice(a);
    }

    pub fn set_target_protocol_addr(&mut self, a: &[u8]) {
        let (h, p) = self.lens();
        self.buffer.as_mut()[field::tpa(h, p)].copy_from_slice(a);
    }
}

/// The owned form of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub operation: Operation,
    pub sender_hw: EtherAddress,
    pub sender_ip: [u8; 4],
    pub target_hw: EtherAddress,
    pub target_ip: [u8; 4],
}

impl Repr {
    /// Parse an Ethernet/IPv4 ARP packet (`Malformed` for other hardware or protocols).
    pub fn parse(bytes: &[u8]) -> Result<Repr> {
        let p = Packet::new_checked(bytes)?;
        if !p.is_ether_ipv4() {
            return Err(Error::Malformed);
        }
        let mut r = Repr {
            operation: p.operation(),
            sender_hw: [0; 6],
            sender_ip: [0; 4],
            target_hw: [0; 6],
            target_ip: [0; 4],
        };
        r.sender_hw.copy_from_slice(p.sender_hardware_addr());
        r.sender_ip.copy_from_slice(p.sender_protocol_addr());
        r.target_hw.copy_from_slice(p.target_hardware_addr());
        r.target_ip.copy_from_slice(p.target_protocol_addr());
        Ok(r)
    }

    /// Bytes `emit` writes: 28.
    pub const fn buffer_len(&self) -> usize {
        ETHER_IPV4_LEN
    }

    /// Write the packet into the first 28 bytes of `buf` (panics if `buf` is shorter).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Packet::new_unchecked(&mut buf[..ETHER_IPV4_LEN]);
        p.set_hardware_type(HTYPE_ETHERNET);
        p.set_protocol_type(PTYPE_IPV4);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(self.operation);
        p.set_sender_hardware_addr(&self.sender_hw);
        p.set_sender_protocol_addr(&self.sender_ip);
        p.set_target_hardware_addr(&self.target_hw);
        p.set_target_protocol_addr(&self.target_ip);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::ether::{ethertype, Frame};

    /// An ARP request as captured on Ethernet ("who has 24.166.173.159? tell 24.166.172.1",
    /// from Wireshark's arp-storm sample), padded to the 60-byte minimum frame.
    static FRAME: [u8; 60] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x08, 0x06, // Ethernet
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, oper
        0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x18, 0xa6, 0xac, 0x01, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0xa6, 0xad, 0x9f, // target
        0x06, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x03, 0x02, 0x00, 0x00, 0x05, 0x01, 0x03,
        0x01, // trailer
    ];

    #[test]
    fn deconstruct() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.ethertype(), ethertype::ARP);
        let p = Packet::new_checked(f.payload()).unwrap();
        assert!(p.is_ether_ipv4());
        assert_eq!(p.packet_len(), 28);
        assert_eq!(p.operation(), Operation::REQUEST);
        assert_eq!(p.sender_hardware_addr(), &[0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54]);
        assert_eq!(p.sender_protocol_addr(), &[24, 166, 172, 1]);
        assert_eq!(p.target_hardware_addr(), &[0; 6]);
        assert_eq!(p.target_protocol_addr(), &[24, 166, 173, 159]);
        let r = Repr::parse(f.payload()).unwrap();
        assert_eq!(r.sender_ip, [24, 166, 172, 1]);
        assert_eq!(r.target_ip, [24, 166, 173, 159]);
    }

    #[test]
    fn construct() {
        let r = Repr::parse(&FRAME[14..]).unwrap();
        let mut buf = [0xeeu8; 28];
        assert_eq!(r.buffer_len(), 28);
        r.emit(&mut buf);
        assert_eq!(&buf[..], &FRAME[14..42]);
        let reply = Repr { operation: Operation::REPLY, ..r };
        reply.emit(&mut buf);
        assert_eq!(Packet::new_checked(&buf[..]).unwrap().operation(), Operation::REPLY);
    }

    #[test]
    fn checks_lengths_and_kinds() {
        assert_eq!(Packet::new_checked(&FRAME[14..21]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&FRAME[14..41]).unwrap_err(), Error::Truncated);
        assert!(Packet::new_checked(&FRAME[14..42]).is_ok());
        // Address lengths are taken from the packet: 255-byte addresses do not fit.
        let mut big = FRAME;
        big[18] = 0xff;
        assert_eq!(Packet::new_checked(&big[14..]).unwrap_err(), Error::Truncated);
        // Other hardware: the view works, the Ethernet/IPv4 Repr refuses it.
        let mut other = FRAME;
        other[15] = 6; // IEEE 802
        assert!(Packet::new_checked(&other[14..]).is_ok());
        assert_eq!(Repr::parse(&other[14..]).unwrap_err(), Error::Malformed);
    }
}

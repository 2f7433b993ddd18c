//! UDP headers (RFC 768).
//!
//! [`Packet`] is a view of a UDP datagram: `new_checked` accepts a buffer of at least 8
//! bytes whose length field is at least 8 and within the buffer; [`Packet::payload`] ends
//! where the length field says. A checksum field of 0 means "no checksum" over IPv4; a
//! computed checksum of 0 is sent as 0xFFFF.

use super::checksum;
use super::{get_u16, set_u16, Error, Result};

/// Bytes of the header.
pub const HEADER_LEN: usize = 8;

mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// A view of a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose header and payload (as long as the length field) are inside the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` for fewer than 8 bytes or a length beyond the buffer; `Malformed` for a
    /// length field below 8.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(Error::Truncated)
        } else if (self.len() as usize) < HEADER_LEN {
            Err(Error::Malformed)
        } else if len < self.len() as usize {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header plus payload.
    #[inline]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The datagram (header and payload) as long as the length field says.
    #[inline]
    pub fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.len() as usize]
    }

    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len() as usize]
    }

    /// True when the checksum field is 0 (not computed) or right with the IPv4 pseudo-header.
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        self.checksum() == 0 || self.verify_checksum_with(checksum::pseudo_header_v4(src, dst, 17, self.len() as u32))
    }

    /// True when the checksum is right given the pseudo-header's sum (a 0 field is wrong:
    /// IPv6 requires UDP checksums).
    pub fn verify_checksum_with(&self, pseudo_sum: u16) -> bool {
        checksum::combine(&[checksum::data(self.datagram()), pseudo_sum]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    pub fn set_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Compute and store the checksum with the IPv4 pseudo-header (0 becomes 0xFFFF).
    pub fn fill_checksum_v4(&mut self, src: [u8; 4], dst: [u8; 4]) {
        let len = self.len() as u32;
        self.fill_checksum_with(checksum::pseudo_header_v4(src, dst, 17, len));
    }

    /// Compute and store the checksum given the pseudo-header's sum (0 becomes 0xFFFF).
    pub fn fill_checksum_with(&mut self, pseudo_sum: u16) {
        self.set_checksum(0);
        let c = !checksum::combine(&[checksum::data(self.datagram()), pseudo_sum]);
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// The owned form of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        Ok(Repr { src_port: p.src_port(), dst_port: p.dst_port(), payload_len: p.payload().len() })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header with a zero checksum (fill it afterwards).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len((HEADER_LEN + self.payload_len) as u16);
        p.set_checksum(0);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::ipv4;
    use crate::wire::{pcap_records, PCAPS};

    #[test]
    fn deconstruct_and_rebuild_real_datagrams() {
        // The two UDP datagrams of snabb__v4.pcap verify; rebuilt, they are the same bytes.
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4.pcap"));
        let mut n = 0;
        for rec in &recs {
            let ip = ipv4::Packet::new_checked(&rec[14..]).unwrap();
            if ip.protocol() != 17 {
                continue;
            }
            n += 1;
            let u = Packet::new_checked(ip.payload()).unwrap();
            assert_eq!(u.len() as usize, ip.payload().len());
            assert!(u.verify_checksum_v4(ip.src_bytes(), ip.dst_bytes()));
            let repr = Repr::parse(&u).unwrap();
            let mut b = ip.payload().to_vec();
            b[..8].fill(0xee);
            let mut v = Packet::new_unchecked(&mut b[..]);
            repr.emit(&mut v);
            v.fill_checksum_v4(ip.src_bytes(), ip.dst_bytes());
            assert_eq!(&b[..], ip.payload());
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn known_fields_and_zero_checksum() {
        // snabb__v4-tcp-udp.pcap record 1: 37729 -> 12345, length 9, one byte "\n".
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4-tcp-udp.pcap"));
        let u = Packet::new_checked(&recs[1][34..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.len()), (37729, 12345, 9));
        assert_eq!(u.payload(), b"\n");
        let mut b = recs[1][34..].to_vec();
        let mut v = Packet::new_unchecked(&mut b[..]);
        v.set_checksum(0);
        assert!(v.verify_checksum_v4([1, 2, 3, 4], [5, 6, 7, 8]), "0 means no checksum over IPv4");
        assert!(!v.verify_checksum_with(0));
    }

    #[test]
    fn bad_lengths() {
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4-tcp-udp.pcap"));
        let d = &recs[1][34..];
        assert_eq!(Packet::new_checked(&d[..7]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&d[..8]).unwrap_err(), Error::Truncated);
        let mut s = d.to_vec();
        s[5] = 7;
        assert_eq!(Packet::new_checked(&s[..]).unwrap_err(), Error::Malformed);
    }
}

//! TCP headers (RFC 793).
//!
//! [`Packet`] is a view of a TCP segment: the header (options included) and the data after
//! it, up to the end of the buffer. Give it exactly the segment (the IPv4 or IPv6 payload)
//! so that checksums cover the right bytes. `new_checked` accepts a buffer holding at least
//! 20 bytes whose data offset is at least 5 words and within the buffer. Checksums are
//! verified and filled with the IPv4 pseudo-header (`*_v4`) or a precomputed pseudo-header
//! sum (`*_with`, for IPv6).

use super::checksum;
use super::{get_u16, get_u32, set_u16, set_u32, Error, Result};

/// Bytes of a header without options.
pub const HEADER_LEN: usize = 20;

/// Flag bits (the low byte of the offset/flags word, plus NS).
pub mod flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const NS: u16 = 0x100;
}

mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const OFF_FLAGS: Field = 12..14;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// A view of a TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose header and options are inside the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` for fewer than 20 bytes or a header longer than the buffer; `Malformed`
    /// for a data offset below 5.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(Error::Truncated)
        } else if (self.header_len() as usize) < HEADER_LEN {
            Err(Error::Malformed)
        } else if len < self.header_len() as usize {
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

    #[inline]
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ_NUM)
    }

    #[inline]
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK_NUM)
    }

    /// Header length in bytes (data offset times 4).
    #[inline]
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::OFF_FLAGS.start] >> 4) * 4
    }

    /// The nine flag bits (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OFF_FLAGS) & 0x01ff
    }

    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    #[inline]
    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WINDOW)
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    #[inline]
    pub fn urgent_at(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The option bytes.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len() as usize]
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len() as usize..]
    }

    /// True when the checksum over the whole buffer with the IPv4 pseudo-header is right.
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        self.verify_checksum_with(checksum::pseudo_header_v4(src, dst, 6, self.buffer.as_ref().len() as u32))
    }

    /// True when the checksum is right given the pseudo-header's sum.
    pub fn verify_checksum_with(&self, pseudo_sum: u16) -> bool {
        checksum::combine(&[checksum::data(self.buffer.as_ref()), pseudo_sum]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    pub fn set_seq_number(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::SEQ_NUM, v);
    }

    pub fn set_ack_number(&mut self, v: u32) {
        set_u32(self.buffer.as_mut(), field::ACK_NUM, v);
    }

    /// Set the header length in bytes (a multiple of 4) and the flags.
    pub fn set_header_len_and_flags(&mut self, header_len: u8, flags: u16) {
        let w = ((header_len as u16 / 4) << 12) | (flags & 0x01ff);
        set_u16(self.buffer.as_mut(), field::OFF_FLAGS, w);
    }

    pub fn set_window_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::WINDOW, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_urgent_at(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::URGENT, v);
    }

    /// Compute and store the checksum over the whole buffer with the IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: [u8; 4], dst: [u8; 4]) {
        let len = self.buffer.as_ref().len() as u32;
        self.fill_checksum_with(checksum::pseudo_header_v4(src, dst, 6, len));
    }

    /// Compute and store the checksum given the pseudo-header's sum.
    pub fn fill_checksum_with(&mut self, pseudo_sum: u16) {
        self.set_checksum(0);
        let c = !checksum::combine(&[checksum::data(self.buffer.as_ref()), pseudo_sum]);
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::ipv4;
    use crate::wire::{pcap_records, PCAPS};

    #[test]
    fn deconstruct_real_segment() {
        // First packet of snabb__v4.pcap.
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4.pcap"));
        let ip = ipv4::Packet::new_checked(&recs[0][14..]).unwrap();
        assert_eq!(ip.protocol(), 6);
        let t = Packet::new_checked(ip.payload()).unwrap();
        assert!(t.header_len() >= 20);
        assert_eq!(t.options().len(), t.header_len() as usize - 20);
        assert!(t.verify_checksum_v4(ip.src_bytes(), ip.dst_bytes()));
        let mut seg = ip.payload().to_vec();
        let want = t.checksum();
        let mut t2 = Packet::new_checked(&mut seg[..]).unwrap();
        t2.set_checksum(0x1234);
        assert!(!t2.verify_checksum_v4(ip.src_bytes(), ip.dst_bytes()));
        t2.fill_checksum_v4(ip.src_bytes(), ip.dst_bytes());
        assert_eq!(t2.checksum(), want);
    }

    #[test]
    fn fields_of_a_known_segment() {
        // snabb__v4-tcp-udp.pcap record 0: 58341 -> 12345, ACK, timestamps option.
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4-tcp-udp.pcap"));
        let t = Packet::new_checked(&recs[0][34..]).unwrap();
        assert_eq!((t.src_port(), t.dst_port()), (58341, 12345));
        assert_eq!(t.seq_number(), 0xc799fec3);
        assert_eq!(t.ack_number(), 0xc31e6d87);
        assert_eq!(t.header_len(), 32);
        assert_eq!(t.flags(), flags::ACK);
        assert!(t.ack() && !t.syn() && !t.fin() && !t.rst());
        assert_eq!(t.window_len(), 0x0156);
        assert_eq!(t.options(), &[1, 1, 8, 10, 0x01, 0x46, 0x8f, 0xd8, 0x01, 0x46, 0x8f, 0xd8]);
        assert!(t.payload().is_empty());
        // Built again field by field, the header is the same.
        let mut b = [0u8; 32];
        b[20..].copy_from_slice(t.options());
        let mut u = Packet::new_unchecked(&mut b[..]);
        u.set_src_port(58341);
        u.set_dst_port(12345);
        u.set_seq_number(0xc799fec3);
        u.set_ack_number(0xc31e6d87);
        u.set_header_len_and_flags(32, flags::ACK);
        u.set_window_len(0x0156);
        u.set_checksum(t.checksum());
        u.set_urgent_at(0);
        assert_eq!(&b[..], &recs[0][34..]);
    }

    #[test]
    fn bad_lengths() {
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4-tcp-udp.pcap"));
        let seg = &recs[0][34..];
        assert_eq!(Packet::new_checked(&seg[..19]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&seg[..31]).unwrap_err(), Error::Truncated);
        let mut s = seg.to_vec();
        s[12] = 0x40;
        assert_eq!(Packet::new_checked(&s[..]).unwrap_err(), Error::Malformed);
    }
}

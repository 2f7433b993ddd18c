//! Ethernet II frames and 802.1Q VLAN tags.
//!
//! [`Frame`] is a view of an Ethernet II header (destination, source, EtherType) and its
//! payload; `Frame::new_checked` only asks for the 14 header bytes. An 802.1Q (or 802.1ad)
//! tagged frame has EtherType [`ethertype::VLAN`] (or [`ethertype::QINQ`]), and its payload
//! starts with a [`VlanTag`]: the 16-bit TCI (priority, drop-eligible bit, VLAN ID) and the
//! encapsulated EtherType, followed by the encapsulated payload. Use
//! [`Frame::inner_ethertype`] and [`Frame::inner_header_len`] to see through one tag without
//! caring whether it is there.
//!
//! Addresses are plain `[u8; 6]` (the framework's `sluice::args::EtherAddr` wraps the same
//! array). [`Repr`] is the owned form of the untagged header, for building frames.
//!
//! ```
//! use sluice_elements::wire::ether::{ethertype, Frame};
//! let bytes = [0xff; 14];
//! let f = Frame::new_checked(&bytes[..]).unwrap();
//! assert!(f.dst_is_broadcast());
//! assert_eq!(f.ethertype(), 0xffff);
//! # let _ = ethertype::IPV4;
//! ```

use super::{get_u16, set_u16, Error, Result};

/// An Ethernet (MAC) address.
pub type Address = [u8; 6];

/// The broadcast address ff:ff:ff:ff:ff:ff.
pub const BROADCAST: Address = [0xff; 6];

/// True for group (multicast or broadcast) addresses: the low bit of the first octet.
#[inline]
pub fn is_multicast(a: &Address) -> bool {
    a[0] & 1 != 0
}

/// True for ff:ff:ff:ff:ff:ff.
#[inline]
pub fn is_broadcast(a: &Address) -> bool {
    *a == BROADCAST
}

/// EtherType values (host order).
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const RARP: u16 = 0x8035;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
    /// 802.1ad service tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
}

/// Bytes of an Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Bytes of one 802.1Q tag (TCI and encapsulated EtherType).
pub const VLAN_TAG_LEN: usize = 4;

mod field {
    use crate::wire::{Field, Rest};
    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: Rest = 14..;
    /// Within a VLAN tag.
    pub const TCI: Field = 0..2;
    pub const INNER_ETHERTYPE: Field = 2..4;
    pub const TAG_PAYLOAD: Rest = 4..;
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view without checking the length; accessors panic if the buffer is shorter than 14.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// A view of a buffer holding at least the 14-byte header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Frame::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// `Err(Truncated)` if the buffer cannot hold the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Address {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        a
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Address {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        a
    }

    /// The EtherType field (0x8100 for a tagged frame).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    #[inline]
    pub fn dst_is_broadcast(&self) -> bool {
        is_broadcast(&self.dst_addr())
    }

    #[inline]
    pub fn dst_is_multicast(&self) -> bool {
        is_multicast(&self.dst_addr())
    }

    /// True when the EtherType announces an 802.1Q or 802.1ad tag.
    #[inline]
    pub fn is_tagged(&self) -> bool {
        matches!(self.ethertype(), ethertype::VLAN | ethertype::QINQ)
    }

    /// The VLAN tag right after the header, if the frame is tagged and long enough.
    pub fn vlan_tag(&self) -> Option<VlanTag<&[u8]>> {
        if self.is_tagged() {
            VlanTag::new_checked(self.payload()).ok()
        } else {
            None
        }
    }

    /// The EtherType of the payload, looking through one VLAN tag: the tag's encapsulated
    /// EtherType for a tagged frame (`None` if the tag is cut short), else [`Self::ethertype`].
    pub fn inner_ethertype(&self) -> Option<u16> {
        if self.is_tagged() {
            self.vlan_tag().map(|t| t.ethertype())
        } else {
            Some(self.ethertype())
        }
    }

    /// Bytes before the payload of [`Self::inner_ethertype`]: 18 for a tagged frame, else 14.
    pub fn inner_header_len(&self) -> usize {
        if self.is_tagged() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    /// The bytes after the 14-byte header (a VLAN tag, for tagged frames).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }

    /// Total length of the buffer.
    pub fn len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    #[inline]
    pub fn set_dst_addr(&mut self, a: Address) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a);
    }

    #[inline]
    pub fn set_src_addr(&mut self, a: Address) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a);
    }

    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE, t);
    }

    /// The bytes after the 14-byte header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// A view of an 802.1Q tag: the 4 bytes after a frame header with EtherType 0x8100, then
/// the encapsulated payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    pub const fn new_unchecked(buffer: T) -> VlanTag<T> {
        VlanTag { buffer }
    }

    /// A view of a buffer holding at least the 4 tag bytes.
    pub fn new_checked(buffer: T) -> Result<VlanTag<T>> {
        let t = VlanTag::new_unchecked(buffer);
        t.check_len()?;
        Ok(t)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < VLAN_TAG_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole tag control information (Click's `VLAN_TCI_ANNO` value, host order).
    #[inline]
    pub fn tci(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TCI)
    }

    /// The 12-bit VLAN identifier.
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The 3-bit priority code point.
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// The drop-eligible indicator (formerly CFI).
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// The encapsulated EtherType.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::INNER_ETHERTYPE)
    }

    /// The bytes after the tag.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::TAG_PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanTag<T> {
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        set_u16(self.buffer.as_mut(), field::TCI, tci);
    }

    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        set_u16(self.buffer.as_mut(), field::INNER_ETHERTYPE, t);
    }
}

/// The owned form of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: Address,
    pub dst_addr: Address,
    pub ethertype: u16,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Repr> {
        frame.check_len()?;
        Ok(Repr { src_addr: frame.src_addr(), dst_addr: frame.dst_addr(), ethertype: frame.ethertype() })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first 14 bytes of `frame` (the payload is left alone).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }
}

/// `00-11-22-AA-BB-CC`, as Click prints Ethernet addresses (`EtherAddress::unparse`).
pub fn fmt_addr(a: &Address, f: &mut impl std::fmt::Write) -> std::fmt::Result {
    write!(f, "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}", a[0], a[1], a[2], a[3], a[4], a[5])
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};

    /// First record of snabb__source-vlan.pcap: an 802.1Q-tagged (VLAN 1) IPv4 packet.
    static TAGGED: [u8; 38] = [
        0x90, 0x72, 0x82, 0x78, 0xc9, 0x7a, 0x50, 0x46, 0x5d, 0x74, 0x1d, 0xf9, 0x81, 0x00, 0x00, 0x01, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x5e, 0xd3, 0xac, 0x10, 0xac, 0x03, 0x01, 0x02,
        0x00, 0x01,
    ];

    #[test]
    fn the_sample_is_the_first_record_of_the_capture() {
        let (linktype, recs) = pcap_records(&format!("{PCAPS}/snabb__source-vlan.pcap"));
        assert_eq!(linktype, 1);
        assert_eq!(recs[0], TAGGED);
    }

    #[test]
    fn deconstruct_tagged() {
        let f = Frame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(f.dst_addr(), [0x90, 0x72, 0x82, 0x78, 0xc9, 0x7a]);
        assert_eq!(f.src_addr(), [0x50, 0x46, 0x5d, 0x74, 0x1d, 0xf9]);
        assert_eq!(f.ethertype(), ethertype::VLAN);
        assert!(f.is_tagged() && !f.dst_is_multicast() && !f.dst_is_broadcast());
        let tag = f.vlan_tag().unwrap();
        assert_eq!((tag.tci(), tag.vid(), tag.pcp(), tag.dei()), (1, 1, 0, false));
        assert_eq!(tag.ethertype(), ethertype::IPV4);
        assert_eq!(f.inner_ethertype(), Some(ethertype::IPV4));
        assert_eq!(f.inner_header_len(), 18);
        assert_eq!(tag.payload()[0], 0x45);
    }

    #[test]
    fn deconstruct_untagged_from_capture() {
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4-tcp-udp.pcap"));
        let f = Frame::new_checked(&recs[0][..]).unwrap();
        assert_eq!(f.dst_addr(), [0; 6]);
        assert_eq!(f.ethertype(), ethertype::IPV4);
        assert_eq!(f.inner_ethertype(), Some(ethertype::IPV4));
        assert_eq!(f.inner_header_len(), 14);
        assert!(f.vlan_tag().is_none());
        assert_eq!(f.payload().len(), recs[0].len() - 14);
        // VRRP goes to a multicast group address.
        let (_, recs) = pcap_records(&format!("{PCAPS}/tcpdump__vrrp.pcap"));
        let f = Frame::new_checked(&recs[0][..]).unwrap();
        assert!(f.dst_is_multicast() && !f.dst_is_broadcast());
    }

    #[test]
    fn construct_and_retag() {
        let mut buf = [0u8; 38];
        buf[14..].copy_from_slice(&TAGGED[14..]);
        let repr = Repr::parse(&Frame::new_checked(&TAGGED[..]).unwrap()).unwrap();
        assert_eq!(repr.buffer_len(), 14);
        repr.emit(&mut Frame::new_unchecked(&mut buf[..]));
        assert_eq!(buf, TAGGED);
        let mut f = Frame::new_checked(&mut buf[..]).unwrap();
        let mut tag = VlanTag::new_checked(f.payload_mut()).unwrap();
        tag.set_tci(0xa00a);
        tag.set_ethertype(ethertype::IPV6);
        let f = Frame::new_checked(&buf[..]).unwrap();
        let tag = f.vlan_tag().unwrap();
        assert_eq!((tag.vid(), tag.pcp(), tag.dei()), (10, 5, false));
        assert_eq!(f.inner_ethertype(), Some(ethertype::IPV6));
    }

    #[test]
    fn short_buffers_are_refused() {
        assert_eq!(Frame::new_checked(&TAGGED[..13]).unwrap_err(), Error::Truncated);
        let f = Frame::new_checked(&TAGGED[..16]).unwrap();
        assert!(f.vlan_tag().is_none(), "tag cut short");
        assert_eq!(f.inner_ethertype(), None);
        assert_eq!(VlanTag::new_checked(&[0u8; 3][..]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn address_helpers() {
        assert!(is_broadcast(&BROADCAST) && is_multicast(&BROADCAST));
        assert!(is_multicast(&[0x01, 0, 0x5e, 0, 0, 1]) && !is_broadcast(&[0x01, 0, 0x5e, 0, 0, 1]));
        let mut s = String::new();
        fmt_addr(&[0, 0x11, 0x22, 0xaa, 0xbb, 0xcc], &mut s).unwrap();
        assert_eq!(s, "00-11-22-AA-BB-CC");
    }
}

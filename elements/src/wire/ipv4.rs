//! IPv4 headers (RFC 791).
//!
//! [`Packet`] is a view of an IPv4 header, its options and its payload. `new_checked`
//! accepts a buffer when it holds the 20-byte fixed header, the header length field is at
//! least 5 words, the total length is at least the header length, and the buffer holds the
//! total length; after that no accessor can panic. Bytes after the total length (Ethernet
//! padding) are outside [`Packet::payload`]. The version field is not checked by
//! `new_checked` (as in smoltcp); [`Packet::check_click`] runs Click's `CheckIPHeader`
//! tests in Click's order and names the first that fails.
//!
//! The checksum helpers are Click's: [`Packet::verify_checksum`] is `click_in_cksum` over
//! the header being 0, [`Packet::fill_checksum`] stores the complement of the header's sum
//! computed with a zero checksum field. [`Repr`] is the owned form of an option-less header.

use super::checksum;
use super::{get_u16, set_u16, Error, Result};
use std::net::Ipv4Addr;

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 20;
/// Most bytes a header can have (header length field 15).
pub const MAX_HEADER_LEN: usize = 60;

/// Protocol numbers.
pub mod protocol {
    pub const ICMP: u8 = 1;
    pub const IGMP: u8 = 2;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const PIM: u8 = 103;
    pub const VRRP: u8 = 112;
}

/// Option types (the whole first byte, copy bit included).
pub mod option {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const RR: u8 = 7;
    pub const TS: u8 = 68;
    pub const SECURITY: u8 = 130;
    pub const LSRR: u8 = 131;
    pub const SATID: u8 = 136;
    pub const SSRR: u8 = 137;
    pub const RA: u8 = 148;
}

/// Flag bits of the flags/fragment offset word.
pub const FLAG_RF: u16 = 0x8000;
pub const FLAG_DF: u16 = 0x4000;
pub const FLAG_MF: u16 = 0x2000;
/// Fragment offset mask (in 8-byte units).
pub const OFFSET_MASK: u16 = 0x1fff;

mod field {
    use crate::wire::Field;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// Why Click's `CheckIPHeader` refuses a packet, in the order it tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Fewer than 20 bytes.
    Tiny,
    /// Version is not 4.
    BadVersion,
    /// Header length below 20 bytes.
    BadHeaderLen,
    /// Total length beyond the buffer, or below the header length.
    BadLength,
}

/// A view of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose header, options and payload are all inside the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// A view that only promises the 20-byte fixed header: for packets an element must
    /// handle whatever their length fields say (after `MarkIPHeader`, say). The fixed
    /// fields and their setters are safe; [`Self::header`], [`Self::options`] and
    /// [`Self::payload`] are cut to what the buffer holds.
    pub fn new_fixed(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        if p.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(p)
        }
    }

    /// `Truncated` when the buffer is shorter than 20 bytes or than the total length;
    /// `Malformed` when the header length is below 20 or above the total length.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len() as usize;
        let total = self.total_len() as usize;
        if hl < HEADER_LEN || total < hl {
            Err(Error::Malformed)
        } else if len < total {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Click's `CheckIPHeader` tests without the checksum and source checks: length at
    /// least 20, version 4, header length at least 20, header length ≤ total length ≤ buffer.
    /// When it passes, the view is as good as one from `new_checked`.
    pub fn check_click(&self) -> std::result::Result<(), Problem> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Problem::Tiny);
        }
        if self.version() != 4 {
            return Err(Problem::BadVersion);
        }
        let hl = self.header_len() as usize;
        if hl < HEADER_LEN {
            return Err(Problem::BadHeaderLen);
        }
        let total = self.total_len() as usize;
        if total > len || total < hl {
            return Err(Problem::BadLength);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (the IHL field times 4).
    #[inline]
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Type of service / DSCP and ECN byte.
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    #[inline]
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos() & 3
    }

    /// Total length field: header plus payload, in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    #[inline]
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The whole flags and fragment offset word.
    #[inline]
    pub fn flags_frag(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::FLG_OFF)
    }

    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    #[inline]
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field times 8).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.flags_frag() & OFFSET_MASK) << 3
    }

    /// True for a fragment: MF set or a nonzero offset (Click's `IP_ISFRAG`).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// True for an unfragmented packet or a first fragment (Click's `IP_FIRSTFRAG`).
    #[inline]
    pub fn is_first_fragment(&self) -> bool {
        self.flags_frag() & OFFSET_MASK == 0
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src_bytes())
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst_bytes())
    }

    #[inline]
    pub fn src_bytes(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[12], b[13], b[14], b[15]]
    }

    #[inline]
    pub fn dst_bytes(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[16], b[17], b[18], b[19]]
    }

    /// End of the header within the buffer: the header length, cut to the buffer.
    #[inline]
    fn header_end(&self) -> usize {
        (self.header_len() as usize).min(self.buffer.as_ref().len())
    }

    /// The whole header, options included (cut to the buffer for a `new_fixed` view).
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_end()]
    }

    /// The option bytes (between the fixed header and the header length).
    #[inline]
    pub fn options(&self) -> &[u8] {
        let end = self.header_end().max(HEADER_LEN);
        &self.buffer.as_ref()[HEADER_LEN..end]
    }

    /// The payload: from the header length to the total length (cut to the buffer for a
    /// `new_fixed` view).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let start = self.header_end();
        let end = (self.total_len() as usize).clamp(start, b.len());
        &b[start..end]
    }

    /// True when `click_in_cksum` over the header is 0.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::in_cksum(self.header()) == 0
    }

    /// The destination used in the TCP/UDP pseudo-header: the last address of a source
    /// route option if there is one, else the destination (Click's
    /// `click_in_cksum_pseudohdr`).
    pub fn pseudo_dst_bytes(&self) -> [u8; 4] {
        let opts = self.options();
        let mut i = 0;
        while i < opts.len() {
            match opts[i] {
                option::NOP => {
                    i += 1;
                    continue;
                }
                option::EOL => break,
                _ => {}
            }
            let Some(&olen) = opts.get(i + 1) else { break };
            let olen = olen as usize;
            if olen < 2 || i + olen > opts.len() {
                break;
            }
            if (opts[i] == option::SSRR || opts[i] == option::LSRR) && olen >= 7 {
                let a = &opts[i + olen - 4..i + olen];
                return [a[0], a[1], a[2], a[3]];
            }
            i += olen;
        }
        self.dst_bytes()
    }

    /// Click's `click_in_cksum_pseudohdr(data_csum, iph, len)` for this header.
    pub fn in_cksum_pseudohdr(&self, data_csum: u16, transport_len: u32) -> u16 {
        checksum::in_cksum_pseudohdr(
            data_csum,
            self.src_bytes(),
            self.pseudo_dst_bytes(),
            self.protocol(),
            transport_len,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    #[inline]
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Set the header length in bytes (a multiple of 4).
    #[inline]
    pub fn set_header_len(&mut self, len: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) & 0x0f);
    }

    #[inline]
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[field::TOS] = v;
    }

    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT, v);
    }

    #[inline]
    pub fn set_flags_frag(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::FLG_OFF, v);
    }

    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// Compute and store the header checksum (Click's `SetIPChecksum`).
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::in_cksum(self.header());
        self.set_checksum(c);
    }

    /// The header, writable.
    #[inline]
    pub fn header_mut(&mut self) -> &mut [u8] {
        let end = self.header_end();
        &mut self.buffer.as_mut()[..end]
    }

    /// The payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_end();
        let len = self.buffer.as_ref().len();
        let end = (self.total_len() as usize).clamp(start, len);
        &mut self.buffer.as_mut()[start..end]
    }
}

/// The owned form of an IPv4 header without options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    /// Flags and fragment offset word.
    pub flags_frag: u16,
}

impl Repr {
    /// Parse a checked view; `Malformed` for a version other than 4 or a bad checksum.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.version() != 4 || !p.verify_checksum() {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: p.payload().len(),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            flags_frag: p.flags_frag(),
        })
    }

    /// Bytes of the header `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write a 20-byte header with a correct checksum (the payload is left alone).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_version(4);
        p.set_header_len(HEADER_LEN as u8);
        p.set_tos(self.tos);
        p.set_total_len((HEADER_LEN + self.payload_len) as u16);
        p.set_ident(self.ident);
        p.set_flags_frag(self.flags_frag);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};

    fn record(file: &str, i: usize) -> Vec<u8> {
        pcap_records(&format!("{PCAPS}/{file}")).1.swap_remove(i)
    }

    #[test]
    fn deconstruct_real_tcp_packet() {
        let rec = record("snabb__v4-tcp-udp.pcap", 0);
        let p = Packet::new_checked(&rec[14..]).unwrap();
        assert_eq!(p.check_click(), Ok(()));
        assert_eq!((p.version(), p.header_len(), p.tos(), p.total_len()), (4, 20, 0, 52));
        assert_eq!(p.ident(), 0x75f9);
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment() && p.is_first_fragment());
        assert_eq!((p.ttl(), p.protocol(), p.checksum()), (64, protocol::TCP, 0xc6c8));
        assert_eq!(p.src_addr(), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(127, 0, 0, 1));
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 32);
        assert!(p.options().is_empty());
    }

    #[test]
    fn construct_matches_the_capture() {
        let rec = record("snabb__v4-tcp-udp.pcap", 1);
        let ip = &rec[14..];
        let repr = Repr::parse(&Packet::new_checked(ip).unwrap()).unwrap();
        assert_eq!(repr.protocol, protocol::UDP);
        assert_eq!(repr.payload_len, 9);
        let mut buf = ip.to_vec();
        buf[..20].fill(0);
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, ip);
    }

    #[test]
    fn ethernet_padding_is_outside_the_payload() {
        // The capture's VLAN frames carry 20-byte IP packets padded to 24 bytes.
        let rec = record("snabb__source-vlan.pcap", 0);
        let p = Packet::new_checked(&rec[18..]).unwrap();
        assert_eq!(p.total_len(), 20);
        assert!(p.payload().is_empty());
        assert_eq!(rec[18..].len(), 20);
    }

    #[test]
    fn fragments() {
        // Build a middle fragment from a real header: offset 1480, MF set.
        let rec = record("snabb__v4-tcp-udp.pcap", 0);
        let mut ip = rec[14..].to_vec();
        let mut p = Packet::new_checked(&mut ip[..]).unwrap();
        p.set_flags_frag(FLAG_MF | (1480 / 8));
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert!(p.is_fragment() && !p.is_first_fragment() && p.more_frags() && !p.dont_frag());
        assert_eq!(p.frag_offset(), 1480);
    }

    #[test]
    fn options_and_source_route_pseudo_destination() {
        let rec = record("snabb__v4-tcp-udp.pcap", 0);
        let mut ip = vec![0u8; 28];
        ip[..20].copy_from_slice(&rec[14..34]);
        ip.extend_from_slice(&rec[34..]);
        // NOP, then LSRR with one address (length 7), then EOL.
        ip[20..28].copy_from_slice(&[option::NOP, option::LSRR, 7, 4, 10, 9, 8, 7]);
        let mut p = Packet::new_unchecked(&mut ip[..]);
        p.set_header_len(28);
        p.set_total_len(60);
        p.fill_checksum();
        let p = Packet::new_checked(&ip[..]).unwrap();
        assert_eq!(p.options().len(), 8);
        assert_eq!(p.pseudo_dst_bytes(), [10, 9, 8, 7]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn fixed_views_never_panic() {
        let rec = record("snabb__v4-tcp-udp.pcap", 0);
        let mut ip = rec[14..34].to_vec();
        assert_eq!(Packet::new_fixed(&ip[..19]).unwrap_err(), Error::Truncated);
        for vihl in [0x40u8, 0x45, 0x4f] {
            for total in [0u16, 19, 20, 52, 65535] {
                ip[0] = vihl;
                ip[2..4].copy_from_slice(&total.to_be_bytes());
                let mut p = Packet::new_fixed(&mut ip[..]).unwrap();
                assert!(p.header().len() <= 20 && p.options().is_empty() && p.payload().len() <= 20);
                let _ = (p.pseudo_dst_bytes(), p.header_mut().len(), p.payload_mut().len());
                p.fill_checksum();
            }
        }
    }

    #[test]
    fn checks_in_clicks_order() {
        let rec = record("snabb__v4-tcp-udp.pcap", 0);
        let ip = &rec[14..];
        assert_eq!(Packet::new_unchecked(&ip[..19]).check_click(), Err(Problem::Tiny));
        assert_eq!(Packet::new_checked(&ip[..19]).unwrap_err(), Error::Truncated);
        let mut v6 = ip.to_vec();
        v6[0] = 0x65;
        assert_eq!(Packet::new_unchecked(&v6[..]).check_click(), Err(Problem::BadVersion));
        let mut hl = ip.to_vec();
        hl[0] = 0x44;
        assert_eq!(Packet::new_unchecked(&hl[..]).check_click(), Err(Problem::BadHeaderLen));
        assert_eq!(Packet::new_checked(&hl[..]).unwrap_err(), Error::Malformed);
        assert_eq!(Packet::new_unchecked(&ip[..51]).check_click(), Err(Problem::BadLength));
        assert_eq!(Packet::new_checked(&ip[..51]).unwrap_err(), Error::Truncated);
        let mut short = ip.to_vec();
        short[3] = 19;
        assert_eq!(Packet::new_unchecked(&short[..]).check_click(), Err(Problem::BadLength));
        // A header length beyond the total length.
        let mut big = ip.to_vec();
        big[0] = 0x4f;
        big[3] = 40;
        assert_eq!(Packet::new_checked(&big[..]).unwrap_err(), Error::Malformed);
    }
}

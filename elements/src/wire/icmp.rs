//! ICMP messages for IPv4 (RFC 792).
//!
//! [`Packet`] is a view of an ICMP message: type, code, checksum and the 4-byte "rest of
//! header" (identifier and sequence number for echoes, the pointer of a parameter problem,
//! the gateway of a redirect, the next-hop MTU of "fragmentation needed"), then the data.
//! `new_checked` only asks for the 8 header bytes; the checksum covers the whole buffer,
//! so give the view exactly the message (the IP payload).

use super::checksum;
use super::{get_u16, set_u16, Error, Result};

/// Bytes of the header.
pub const HEADER_LEN: usize = 8;

/// ICMP message types.
pub mod msg_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const SOURCE_QUENCH: u8 = 4;
    pub const REDIRECT: u8 = 5;
    pub const ECHO_REQUEST: u8 = 8;
    pub const ROUTER_ADVERT: u8 = 9;
    pub const ROUTER_SOLICIT: u8 = 10;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAM_PROBLEM: u8 = 12;
    pub const TIMESTAMP: u8 = 13;
    pub const TIMESTAMP_REPLY: u8 = 14;
    pub const INFO_REQUEST: u8 = 15;
    pub const INFO_REPLY: u8 = 16;
    pub const MASK_REQUEST: u8 = 17;
    pub const MASK_REPLY: u8 = 18;
}

/// True for the error messages (unreachable, source quench, redirect, time exceeded,
/// parameter problem), after which no ICMP error may be sent (RFC 1812 4.3.2.7).
pub fn is_error(t: u8) -> bool {
    use msg_type::*;
    matches!(t, DST_UNREACHABLE | SOURCE_QUENCH | REDIRECT | TIME_EXCEEDED | PARAM_PROBLEM)
}

/// Click's names of ICMP types (`NameInfo::T_ICMP_TYPE`).
pub const TYPE_NAMES: &[(&str, u8)] = &[
    ("echo-reply", 0),
    ("unreachable", 3),
    ("sourcequench", 4),
    ("redirect", 5),
    ("echo", 8),
    ("routeradvert", 9),
    ("routersolicit", 10),
    ("timeexceeded", 11),
    ("parameterproblem", 12),
    ("timestamp", 13),
    ("timestamp-reply", 14),
    ("inforeq", 15),
    ("inforeq-reply", 16),
    ("maskreq", 17),
    ("maskreq-reply", 18),
];

/// Click's names of the codes of one ICMP type (`NameInfo::T_ICMP_CODE + type`).
pub fn code_names(msg_type: u8) -> &'static [(&'static str, u8)] {
    match msg_type {
        msg_type::DST_UNREACHABLE => &[
            ("net", 0),
            ("host", 1),
            ("protocol", 2),
            ("port", 3),
            ("needfrag", 4),
            ("srcroutefail", 5),
            ("netunknown", 6),
            ("hostunknown", 7),
            ("isolated", 8),
            ("netprohibited", 9),
            ("hostprohibited", 10),
            ("tosnet", 11),
            ("toshost", 12),
            ("filterprohibited", 13),
            ("hostprecedence", 14),
            ("precedencecutoff", 15),
        ],
        msg_type::REDIRECT => &[("net", 0), ("host", 1), ("tosnet", 2), ("toshost", 3)],
        msg_type::TIME_EXCEEDED => &[("transit", 0), ("reassembly", 1)],
        msg_type::PARAM_PROBLEM => &[("erroratptr", 0), ("missingopt", 1), ("length", 2)],
        _ => &[],
    }
}

/// The name of an ICMP type, if Click has one.
pub fn type_name(t: u8) -> Option<&'static str> {
    TYPE_NAMES.iter().find(|(_, v)| *v == t).map(|(n, _)| *n)
}

/// The name of a code of type `t`, if Click has one.
pub fn code_name(t: u8, code: u8) -> Option<&'static str> {
    code_names(t).iter().find(|(_, v)| *v == code).map(|(n, _)| *n)
}

mod field {
    use crate::wire::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const SEQ: Field = 6..8;
    pub const REST: Field = 4..8;
    pub const POINTER: usize = 4;
    pub const MTU: Field = 6..8;
}

/// A view of an ICMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view of a buffer holding at least the 8 header bytes.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

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

    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier.
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Echo sequence number.
    #[inline]
    pub fn echo_seq(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SEQ)
    }

    /// The 4 bytes after the checksum.
    #[inline]
    pub fn rest_of_header(&self) -> [u8; 4] {
        let b = &self.buffer.as_ref()[field::REST];
        [b[0], b[1], b[2], b[3]]
    }

    /// Parameter problem pointer.
    #[inline]
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Next-hop MTU of a "fragmentation needed" message (RFC 1191).
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::MTU)
    }

    /// The bytes after the 8-byte header (for errors: the offending IP header and data).
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// True when the checksum over the whole buffer is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::in_cksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_echo_ident(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT, v);
    }

    pub fn set_echo_seq(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::SEQ, v);
    }

    pub fn set_rest_of_header(&mut self, v: [u8; 4]) {
        self.buffer.as_mut()[field::REST].copy_from_slice(&v);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::in_cksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::ipv4;
    use crate::wire::{pcap_records, PCAPS};

    /// The ICMP messages of tcpdump__afs.pcap (25 of them, all port unreachables).
    fn afs_icmp() -> Vec<Vec<u8>> {
        let (_, recs) = pcap_records(&format!("{PCAPS}/tcpdump__afs.pcap"));
        recs.iter()
            .filter_map(|r| {
                let ip = ipv4::Packet::new_checked(&r[14..]).ok()?;
                (ip.protocol() == 1).then(|| ip.payload().to_vec())
            })
            .collect()
    }

    #[test]
    fn deconstruct_real_errors() {
        let msgs = afs_icmp();
        assert_eq!(msgs.len(), 25);
        for m in &msgs {
            let p = Packet::new_checked(&m[..]).unwrap();
            assert_eq!(p.msg_type(), msg_type::DST_UNREACHABLE);
            assert!(is_error(p.msg_type()));
            assert!(p.verify_checksum());
            // The data starts with the offending IPv4 header.
            let inner = ipv4::Packet::new_unchecked(p.data());
            assert_eq!(inner.version(), 4);
            assert_eq!(inner.protocol(), 17);
        }
    }

    #[test]
    fn names() {
        assert_eq!(type_name(11), Some("timeexceeded"));
        assert_eq!(type_name(99), None);
        assert_eq!(code_name(3, 4), Some("needfrag"));
        assert_eq!(code_name(5, 1), Some("host"));
        assert_eq!(code_name(8, 0), None);
    }

    #[test]
    fn build_an_echo_reply() {
        let mut m = vec![0u8; 8];
        m.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
        let mut p = Packet::new_checked(&mut m[..]).unwrap();
        p.set_msg_type(msg_type::ECHO_REQUEST);
        p.set_msg_code(0);
        p.set_echo_ident(0x0200);
        p.set_echo_seq(0x1b00);
        p.fill_checksum();
        assert!(p.verify_checksum());
        // Summed by hand: 0x0800 + 0x0200 + 0x1b00 + the payload words = 0xcfa3, so 0x305c.
        assert_eq!(p.checksum(), 0x305c);
        let c = p.checksum();
        p.set_msg_type(msg_type::ECHO_REPLY);
        p.set_checksum(checksum::update(c, 0x0800, 0x0000));
        assert!(p.verify_checksum());
        assert_eq!((p.echo_ident(), p.echo_seq()), (0x0200, 0x1b00));
        assert!(!is_error(p.msg_type()));
        assert_eq!(Packet::new_checked(&m[..7]).unwrap_err(), Error::Truncated);
    }
}

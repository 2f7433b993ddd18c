//! Click's annotation area, byte by byte.
//!
//! Click keeps a packet's annotations in a 48-byte area at fixed offsets (`packet_anno.hh`):
//! the destination IP address at 0..4, the paint at 16, the VLAN TCI at 20..22 (network
//! order), the extra length at 28..32, the "first timestamp" at 32..40, and so on. Elements
//! such as Paint take an `ANNO` argument naming one byte of that area. Sluice keeps the
//! destination IP, paint and VLAN TCI as typed fields of [`sluice::packet::Annotations`] and
//! everything else in its 48 `user` bytes at Click's offsets; [`AnnoByte`] maps a Click
//! offset to the right place, so `Paint(3)` and `Paint(3, 16)` and `Paint(3, PAINT)` all set
//! `anno().paint`.

use sluice::args::FromArg;
use sluice::packet::USER_ANNO_BYTES;
use sluice::Packet;

/// Offset of the destination IP annotation (4 bytes).
pub const DST_IP_ANNO_OFFSET: usize = 0;
/// Offset of the paint annotation (1 byte).
pub const PAINT_ANNO_OFFSET: usize = 16;
/// Offset of the VLAN TCI annotation (2 bytes, network order).
pub const VLAN_TCI_ANNO_OFFSET: usize = 20;
/// Offset of the "first timestamp" annotation (8 bytes). Sluice stores nanoseconds since
/// the epoch there, as a native-endian `u64`.
pub const FIRST_TIMESTAMP_ANNO_OFFSET: usize = 32;

/// Named annotations of Click, with offset and size, for the `ANNO` argument.
const NAMES: &[(&str, u8, u8)] = &[
    ("DST_IP", 0, 4),
    ("PAINT", 16, 1),
    ("ICMP_PARAMPROB", 17, 1),
    ("FIX_IP_SRC", 19, 1),
    ("VLAN_TCI", 20, 2),
    ("AGGREGATE", 20, 4),
    ("EXTRA_PACKETS", 24, 4),
    ("SEND_ERR", 26, 1),
    ("GRID_ROUTE_CB", 27, 1),
    ("EXTRA_LENGTH", 28, 4),
    ("FIRST_TIMESTAMP", 32, 8),
    ("PACKET_NUMBER", 32, 4),
    ("SEQUENCE_NUMBER", 36, 4),
];

/// One byte of Click's annotation area (Click's `AnnoArg(1)`): written as an annotation
/// name of size 1 (`PAINT`, `ICMP_PARAMPROB`, `FIX_IP_SRC`, `SEND_ERR`, `GRID_ROUTE_CB`)
/// or as a byte offset 0..47.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnoByte(pub u8);

impl AnnoByte {
    /// Click's `PAINT_ANNO`, the default of every `ANNO` argument.
    pub const PAINT: AnnoByte = AnnoByte(PAINT_ANNO_OFFSET as u8);

    /// The annotation byte of `p`.
    #[inline]
    pub fn get(self, p: &Packet) -> u8 {
        let a = p.anno();
        match self.0 as usize {
            o @ 0..=3 => a.dst_ip[o],
            PAINT_ANNO_OFFSET => a.paint,
            VLAN_TCI_ANNO_OFFSET => a.vlan_tci.to_be_bytes()[0],
            21 => a.vlan_tci.to_be_bytes()[1],
            o => a.user[o],
        }
    }

    /// Set the annotation byte of `p` to `v`.
    #[inline]
    pub fn set(self, p: &mut Packet, v: u8) {
        let a = p.anno_mut();
        match self.0 as usize {
            o @ 0..=3 => a.dst_ip[o] = v,
            PAINT_ANNO_OFFSET => a.paint = v,
            VLAN_TCI_ANNO_OFFSET => a.vlan_tci = (a.vlan_tci & 0x00ff) | (u16::from(v) << 8),
            21 => a.vlan_tci = (a.vlan_tci & 0xff00) | u16::from(v),
            o => a.user[o] = v,
        }
    }
}

impl FromArg for AnnoByte {
    const DESCRIPTION: &'static str = "one-byte annotation (name or offset)";

    fn from_arg(s: &str) -> Result<Self, String> {
        if let Some(&(name, offset, size)) = NAMES.iter().find(|(n, _, _)| *n == s) {
            return if size == 1 {
                Ok(AnnoByte(offset))
            } else {
                Err(format!("annotation {name} is {size} bytes long, expected a one-byte annotation"))
            };
        }
        match u8::from_arg(s) {
            Ok(o) if (o as usize) < USER_ANNO_BYTES => Ok(AnnoByte(o)),
            Ok(_) => Err(format!("annotation offset {s} out of range (0..{})", USER_ANNO_BYTES - 1)),
            Err(_) => Err(sluice::args::expected(Self::DESCRIPTION, s)),
        }
    }
}

impl std::fmt::Display for AnnoByte {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match NAMES.iter().find(|(_, o, size)| *o == self.0 && *size == 1) {
            Some((name, _, _)) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Click's `FIRST_TIMESTAMP_ANNO`, in nanoseconds since the epoch (0 when unset).
pub fn first_timestamp_anno(p: &Packet) -> u64 {
    let o = FIRST_TIMESTAMP_ANNO_OFFSET;
    let mut b = [0; 8];
    b.copy_from_slice(&p.anno().user[o..o + 8]);
    u64::from_ne_bytes(b)
}

/// Set Click's `FIRST_TIMESTAMP_ANNO`.
pub fn set_first_timestamp_anno(p: &mut Packet, ns: u64) {
    let o = FIRST_TIMESTAMP_ANNO_OFFSET;
    p.anno_mut().user[o..o + 8].copy_from_slice(&ns.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_offsets() {
        assert_eq!(AnnoByte::from_arg("PAINT"), Ok(AnnoByte::PAINT));
        assert_eq!(AnnoByte::from_arg("16"), Ok(AnnoByte::PAINT));
        assert_eq!(AnnoByte::from_arg("FIX_IP_SRC"), Ok(AnnoByte(19)));
        assert_eq!(AnnoByte::from_arg("0x2f"), Ok(AnnoByte(47)));
        assert!(AnnoByte::from_arg("48").unwrap_err().contains("out of range"));
        assert!(AnnoByte::from_arg("VLAN_TCI").unwrap_err().contains("2 bytes"));
        assert!(AnnoByte::from_arg("COLOUR").is_err());
        assert_eq!(AnnoByte::PAINT.to_string(), "PAINT");
        assert_eq!(AnnoByte(40).to_string(), "40");
    }

    #[test]
    fn bytes_map_to_the_typed_annotations() {
        let mut p = Packet::from_slice(&[0; 4]);
        AnnoByte::PAINT.set(&mut p, 7);
        assert_eq!(p.anno().paint, 7);
        AnnoByte(2).set(&mut p, 9);
        assert_eq!(p.anno().dst_ip, [0, 0, 9, 0]);
        AnnoByte(20).set(&mut p, 0x12);
        AnnoByte(21).set(&mut p, 0x34);
        assert_eq!(p.anno().vlan_tci, 0x1234);
        assert_eq!((AnnoByte(20).get(&p), AnnoByte(21).get(&p)), (0x12, 0x34));
        AnnoByte(45).set(&mut p, 1);
        assert_eq!(p.anno().user[45], 1);
        assert_eq!(AnnoByte(45).get(&p), 1);
        set_first_timestamp_anno(&mut p, 1_234_567_890_123);
        assert_eq!(first_timestamp_anno(&p), 1_234_567_890_123);
    }
}

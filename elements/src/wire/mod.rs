//! Zero-copy views of protocol headers, in the style of smoltcp's `wire` module: a view
//! over a byte slice, a private `field` module naming byte ranges, `new_checked` that checks
//! lengths once so no accessor can panic afterwards. Elements parse untrusted bytes only
//! through these views.
//!
//! Every view is generic over its buffer: `Frame<&[u8]>` reads, `Frame<&mut [u8]>` also
//! writes. `new_checked` fails with [`Error::Truncated`] when the buffer is too short for
//! what the header says it holds, and with [`Error::Malformed`] when a field contradicts
//! itself (an IPv4 header length below 20, a version that is not 4). `new_unchecked` skips
//! the check; its accessors may then panic on short buffers, so elements never use it on
//! packets they have not checked. `Repr` types, where they exist, are the parsed, owned form
//! of a header: `parse` takes a checked view, `emit` writes one.

pub mod arp;
pub mod checksum;
pub mod ether;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

/// Why a buffer is not a valid header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the header (or than the length the header claims).
    Truncated,
    /// A field has a value the header cannot have.
    Malformed,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated header",
            Error::Malformed => "malformed header",
        })
    }
}

impl std::error::Error for Error {}

/// Results of parsing headers.
pub type Result<T> = std::result::Result<T, Error>;

/// A byte range of a header, as named in each view's private `field` module.
pub(crate) type Field = std::ops::Range<usize>;
/// The bytes from an offset to the end of a header or packet.
pub(crate) type Rest = std::ops::RangeFrom<usize>;

#[inline]
pub(crate) fn get_u16(b: &[u8], f: Field) -> u16 {
    u16::from_be_bytes([b[f.start], b[f.start + 1]])
}

#[inline]
pub(crate) fn set_u16(b: &mut [u8], f: Field, v: u16) {
    b[f].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn get_u32(b: &[u8], f: Field) -> u32 {
    u32::from_be_bytes([b[f.start], b[f.start + 1], b[f.start + 2], b[f.start + 3]])
}

#[inline]
pub(crate) fn set_u32(b: &mut [u8], f: Field, v: u32) {
    b[f].copy_from_slice(&v.to_be_bytes());
}

/// Test helper: the records of a classic pcap file (either byte order), as
/// `(link type, captured bytes)`.
#[cfg(test)]
pub(crate) fn pcap_records(path: &str) -> (u32, Vec<Vec<u8>>) {
    let d = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let le = d[0] == 0xd4;
    let rd = |o: usize| -> u32 {
        let b = [d[o], d[o + 1], d[o + 2], d[o + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let linktype = rd(20);
    let mut out = Vec::new();
    let mut o = 24;
    while o + 16 <= d.len() {
        let caplen = rd(o + 8) as usize;
        let end = (o + 16 + caplen).min(d.len());
        out.push(d[o + 16..end].to_vec());
        o += 16 + caplen;
    }
    (linktype, out)
}

/// Directory of the shared sample captures.
#[cfg(test)]
pub(crate) const PCAPS: &str = "/work/shared/data/pcaps";

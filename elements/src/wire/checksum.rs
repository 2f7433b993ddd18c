//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624), computed
//! exactly as Click computes them.
//!
//! [`data`] is the folded one's-complement sum of a byte range (16-bit big-endian words, an
//! odd last byte padded with zero), and [`combine`] adds such sums. A checksum field holds
//! the complement: [`in_cksum`] is Click's `click_in_cksum`, so a header whose checksum is
//! right sums to 0xFFFF and `in_cksum` over it is 0. [`pseudo_header_v4`] and
//! [`pseudo_header_v6`] are the sums of the TCP/UDP pseudo-headers; [`in_cksum_pseudohdr`] is
//! Click's `click_in_cksum_pseudohdr_raw`. [`update`] is Click's `click_update_in_cksum`:
//! like every end-around-carry implementation it never produces 0xFFFF, so Click and Sluice
//! agree byte for byte. One's-complement sums do not depend on byte order, so these
//! functions give the bytes Click's little-endian code stores.

/// Fold a wide sum into 16 bits with end-around carry (0xFFFF stays 0xFFFF).
#[inline]
pub fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The folded one's-complement sum of `bytes` (not complemented).
#[inline]
pub fn data(bytes: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        sum += u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as u64;
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for w in &mut pairs {
        sum += u16::from_be_bytes([w[0], w[1]]) as u64;
    }
    if let [b] = pairs.remainder() {
        sum += (*b as u64) << 8;
    }
    fold(sum)
}

/// One's-complement sum of several partial sums.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| s as u64).sum())
}

/// Click's `click_in_cksum`: the complement of [`data`]. Over a header with a correct
/// checksum field this is 0; over a header whose checksum field is 0 it is the value to store.
#[inline]
pub fn in_cksum(bytes: &[u8]) -> u16 {
    !data(bytes)
}

/// Sum of the IPv4 pseudo-header: source, destination, zero, protocol, and the transport
/// length (RFC 793 / RFC 768).
#[inline]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, len: u32) -> u16 {
    let s = u16::from_be_bytes([src[0], src[1]]) as u64 + u16::from_be_bytes([src[2], src[3]]) as u64;
    let d = u16::from_be_bytes([dst[0], dst[1]]) as u64 + u16::from_be_bytes([dst[2], dst[3]]) as u64;
    fold(s + d + protocol as u64 + (len & 0xffff) as u64 + (len >> 16) as u64)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, upper-layer length
/// (32 bits), three zero bytes, next header.
#[inline]
pub fn pseudo_header_v6(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: u32) -> u16 {
    combine(&[data(src), data(dst), fold(len as u64), next_header as u16])
}

/// Click's `click_in_cksum_pseudohdr_raw`: given `in_cksum` of a transport segment (its
/// checksum field included), the checksum with the IPv4 pseudo-header added. 0 when the
/// segment's checksum is right; when the field was 0, the value to store.
#[inline]
pub fn in_cksum_pseudohdr(data_csum: u16, src: [u8; 4], dst: [u8; 4], protocol: u8, len: u32) -> u16 {
    !combine(&[!data_csum, pseudo_header_v4(src, dst, protocol, len)])
}

/// Click's `click_update_in_cksum` (RFC 1624, eqn. 3): the checksum `csum` after a 16-bit
/// word of the covered data changed from `old` to `new`: `~(~csum + ~old + new)`.
#[inline]
pub fn update(csum: u16, old: u16, new: u16) -> u16 {
    let sum = (!csum) as u32 + (!old) as u32 + new as u32;
    let sum = (sum & 0xffff) + (sum >> 16);
    !((sum + (sum >> 16)) as u16)
}

/// [`update`] for a 32-bit field (an IPv4 address), one half at a time as Click does.
#[inline]
pub fn update32(csum: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    let c = update(csum, u16::from_be_bytes([old[0], old[1]]), u16::from_be_bytes([new[0], new[1]]));
    update(c, u16::from_be_bytes([old[2], old[3]]), u16::from_be_bytes([new[2], new[3]]))
}

/// Click's `click_update_zero_in_cksum`: after [`update`], a checksum of 0 over all-zero
/// data must be 0xFFFF.
#[inline]
pub fn update_zero(csum: u16, covered: &[u8]) -> u16 {
    if csum == 0 && covered.iter().all(|&b| b == 0) {
        0xffff
    } else {
        csum
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};

    /// The IPv4 header of the first packet of snabb__v4-tcp-udp.pcap (checksum 0xc6c8).
    static IP_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x34, 0x75, 0xf9, 0x40, 0x00, 0x40, 0x06, 0xc6, 0xc8, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00,
        0x00, 0x01,
    ];

    #[test]
    fn verifies_and_computes_a_real_header_checksum() {
        assert_eq!(in_cksum(&IP_HEADER), 0);
        assert_eq!(data(&IP_HEADER), 0xffff);
        let mut h = IP_HEADER;
        h[10] = 0;
        h[11] = 0;
        assert_eq!(in_cksum(&h), 0xc6c8);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        assert_eq!(data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
        // Odd lengths pad with a zero byte; every split of the words gives the same sum.
        assert_eq!(data(&[0x01, 0x02, 0x03]), 0x0402);
        assert_eq!(data(&[]), 0);
        assert_eq!(in_cksum(&[0, 0, 0, 0]), 0xffff);
        for n in 0..8 {
            let b = &[0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04][..n];
            let pairs: u64 = b.chunks(2).map(|c| (c[0] as u64) << 8 | c.get(1).copied().unwrap_or(0) as u64).sum();
            assert_eq!(data(b), fold(pairs), "{n} bytes");
        }
    }

    #[test]
    fn tcp_and_udp_checksums_of_a_real_capture_verify() {
        // snabb__v4.pcap: 41 TCP and 2 UDP segments, all with correct checksums.
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v4.pcap"));
        let mut good = [0, 0];
        let mut bad = [0, 0];
        for rec in &recs {
            let ip = &rec[14..];
            let hl = (ip[0] & 15) as usize * 4;
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            let seg = &ip[hl..total];
            let src = [ip[12], ip[13], ip[14], ip[15]];
            let dst = [ip[16], ip[17], ip[18], ip[19]];
            let k = if ip[9] == 6 { 0 } else { 1 };
            let ok = in_cksum_pseudohdr(in_cksum(seg), src, dst, ip[9], seg.len() as u32) == 0;
            let ok2 = combine(&[data(seg), pseudo_header_v4(src, dst, ip[9], seg.len() as u32)]) == 0xffff;
            assert_eq!(ok, ok2);
            if ok {
                good[k] += 1;
            } else {
                bad[k] += 1;
            }
        }
        assert_eq!((good, bad), ([41, 2], [0, 0]));
    }

    #[test]
    fn ipv6_pseudo_header_of_a_real_capture_verifies() {
        let (_, recs) = pcap_records(&format!("{PCAPS}/snabb__v6-tcp-udp.pcap"));
        for rec in &recs {
            let ip = &rec[14..];
            let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let src: [u8; 16] = ip[8..24].try_into().unwrap();
            let dst: [u8; 16] = ip[24..40].try_into().unwrap();
            let seg = &ip[40..40 + plen];
            assert_eq!(combine(&[data(seg), pseudo_header_v6(&src, &dst, ip[6], plen as u32)]), 0xffff);
        }
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        // Decrement the TTL of the real header: RFC 1624 gives the recomputed checksum.
        let mut h = IP_HEADER;
        let old = u16::from_be_bytes([h[8], h[9]]);
        h[8] -= 1;
        let new = u16::from_be_bytes([h[8], h[9]]);
        let c = update(u16::from_be_bytes([h[10], h[11]]), old, new);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(in_cksum(&h), 0);
        assert_eq!(c, 0xc7c8);
        // Rewrite the source address.
        let c2 = update32(c, [127, 0, 0, 1], [10, 1, 2, 3]);
        h[12..16].copy_from_slice(&[10, 1, 2, 3]);
        h[10..12].copy_from_slice(&c2.to_be_bytes());
        assert_eq!(in_cksum(&h), 0);
        // RFC 1624 section 4: never yields 0xFFFF (-0).
        assert_eq!(update(0x0000, 0x0000, 0x0000), 0x0000);
        assert_eq!(update_zero(0, &[0, 0]), 0xffff);
        assert_eq!(update_zero(0, &[0, 1]), 0);
    }
}

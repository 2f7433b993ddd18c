//! `IPFragmenter`: fragments IP packets larger than the MTU.

use super::common::{ip_fixed, nh_offset};
use crate::wire::{checksum, ipv4};
use sluice::args::Args;
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};

sluice::element_class! {
    /// IPFragmenter(MTU, [HONOR_DF, VERBOSE, KEYWORDS])
    ///
    /// Fragments IP packets.
    ///
    /// Expects IP packets as input, with the IP header annotation set. Packets whose
    /// length from the IP header on is at most MTU pass unchanged. Larger ones are
    /// fragmented: the first fragment is the packet itself, cut after
    /// `(MTU - header length) & ~7` data bytes, with its link-level bytes, IP options and
    /// annotations; each following fragment is a new packet holding an IP header (the
    /// options whose copy flag is set, padded with EOL to a multiple of 4) and the next
    /// `(MTU - its header length) & ~7` bytes, with the original's annotations. All get
    /// MF (cleared on the last unless the original had it), their offset, length and a
    /// fresh checksum, and leave in order on output 0.
    ///
    /// Packets with DF set (when HONOR_DF is true) or whose MTU leaves fewer than 8 data
    /// bytes are sent to output 1 if it is connected (e.g. to ICMPError for
    /// "fragmentation needed"), else dropped, and counted. With HONOR_DF false, DF is
    /// cleared and, as in Click, the IP ID replaced by a random one.
    ///
    /// Sluice drops and counts packets whose IP header or length is inconsistent (header
    /// length below 20, total length beyond the packet); Click would read beyond them.
    /// Click's current option copying loops forever on packets with options; Sluice copies
    /// the options with the copy flag as RFC 791 says. A packet longer than MTU only
    /// because of bytes after its IP total length passes unchanged.
    ///
    /// IPFragmenter is a push element (it makes several packets of one).
    ///
    /// Ports: 1 input; 1 or 2 outputs; push.
    ///
    /// # Keywords
    /// - `MTU` — unsigned, positional, mandatory. Largest IP packet; at least 8.
    /// - `HONOR_DF` — boolean, positional. Refuse DF packets. Default true.
    /// - `VERBOSE` — boolean, positional. Accepted; Sluice does not print per packet.
    /// - `HEADROOM` — unsigned. Headroom of the new fragments. Default 128 (Sluice's
    ///   default headroom).
    ///
    /// # Handlers
    /// - `drops` (read) — packets refused (DF or MTU too small, bad headers).
    /// - `drop_details` (read) — refused packets by reason.
    /// - `fragments` (read) — fragments emitted.
    ///
    /// # Example
    /// ```text
    /// ... -> fr :: IPFragmenter(1500) -> ...;
    /// fr[1] -> ICMPError(18.26.4.24, unreachable, needfrag, PMTU 1500) -> ...;
    /// ```
    pub const IP_FRAGMENTER = "IPFragmenter" { ports: "1/1-2", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("drops", Combine::Sum, "packets refused"),
    HandlerSpec::read("drop_details", Combine::Sum, "refused packets by reason"),
    HandlerSpec::read("fragments", Combine::Sum, "fragments emitted"),
];

const REASONS: &[&str] = &["DF set or MTU too small", "bad IP header"];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let mtu = args.read_mp::<u32>("MTU")? as usize;
    let honor_df = args.read_p::<bool>("HONOR_DF")?.unwrap_or(true);
    let _verbose = args.read_p::<bool>("VERBOSE")?;
    let headroom = args.read_kw::<u32>("HEADROOM")?.map_or(sluice::packet::DEFAULT_HEADROOM, |h| h as usize);
    args.finish()?;
    if mtu < 8 {
        return Err("MTU must be at least 8".into());
    }
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    Ok(Box::new(IPFragmenter { mtu, honor_df, headroom, fragments: 0, rng: seed | 1, drops: DropCounts::new(REASONS) }))
}

/// The element: settings, counters, and the random IDs' state.
pub struct IPFragmenter {
    mtu: usize,
    honor_df: bool,
    headroom: usize,
    fragments: u64,
    rng: u64,
    drops: DropCounts,
}

/// The options of `header` (a whole IP header) with the copy flag set, EOL-padded to a
/// multiple of 4, written into `out`; returns their length.
fn copied_options(header: &[u8], out: &mut [u8; 40]) -> usize {
    let opts = header.get(ipv4::HEADER_LEN..).unwrap_or(&[]);
    let mut i = 0;
    let mut n = 0;
    while i < opts.len() {
        let opt = opts[i];
        let len = if opt == ipv4::option::NOP {
            1
        } else if opt == ipv4::option::EOL || i + 1 == opts.len() {
            break;
        } else {
            let l = opts[i + 1] as usize;
            if l < 2 || i + l > opts.len() {
                break;
            }
            l
        };
        if opt & 0x80 != 0 {
            out[n..n + len].copy_from_slice(&opts[i..i + len]);
            n += len;
        }
        i += len;
    }
    while n & 3 != 0 {
        out[n] = ipv4::option::EOL;
        n += 1;
    }
    n
}

/// Collects output packets into batches, pushing full ones at once.
struct Out<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    port: usize,
    batch: Batch,
}

impl Out<'_, '_> {
    fn push(&mut self, p: Packet) {
        if let Err(p) = self.batch.push(p) {
            let full = std::mem::take(&mut self.batch);
            self.ctx.push(self.port, full);
            let _ = self.batch.push(p);
        }
    }

    fn flush(&mut self) {
        let b = std::mem::take(&mut self.batch);
        self.ctx.push(self.port, b);
    }
}

impl IPFragmenter {
    fn random_id(&mut self) -> u16 {
        // xorshift64*: Click uses click_random(); any random ID will do.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 48) as u16
    }

    /// Fragment `p` into `out`; `Err` gives the packet back with the reason it was refused.
    fn fragment(&mut self, mut p: Packet, out: &mut Out<'_, '_>) -> Result<(), (Packet, usize)> {
        let (Some(ip), Some(nh)) = (ip_fixed(&p), nh_offset(&p)) else { return Err((p, 1)) };
        let network_len = p.len() - nh;
        if network_len <= self.mtu {
            out.push(p);
            return Ok(());
        }
        let hlen = ip.header_len() as usize;
        let total = ip.total_len() as usize;
        if hlen < ipv4::HEADER_LEN || total < hlen || total > network_len {
            return Err((p, 1));
        }
        let in_dlen = total - hlen;
        let first_dlen = self.mtu.saturating_sub(hlen) & !7;
        if (ip.dont_frag() && self.honor_df) || first_dlen < 8 {
            return Err((p, 0));
        }
        if in_dlen <= first_dlen {
            out.push(p);
            return Ok(());
        }
        let th = nh + hlen;
        // The first fragment: the packet itself.
        let new_id = if ip.dont_frag() { Some(self.random_id()) } else { None };
        let mut opts = [0u8; 40];
        let olen = copied_options(ip.header(), &mut opts);
        let mut ip = ipv4::Packet::new_unchecked(&mut p.data_mut()[nh..]);
        if let Some(id) = new_id {
            ip.set_ident(id);
            ip.set_flags_frag(ip.flags_frag() & !ipv4::FLAG_DF);
        }
        let had_mf = ip.more_frags();
        let base_off = ip.flags_frag() | ipv4::FLAG_MF;
        ip.set_total_len((hlen + first_dlen) as u16);
        ip.set_flags_frag(base_off);
        ip.fill_checksum();
        let mut header = [0u8; ipv4::HEADER_LEN];
        header.copy_from_slice(&p.data()[nh..nh + ipv4::HEADER_LEN]);
        // The first fragment: the packet's bytes up to the first cut, its annotations.
        // (Click trims the packet itself; Sluice copies those bytes into a fresh packet so
        // that the rest of the data can still be read while fragments leave in order.)
        let keep = nh + hlen + first_dlen;
        let mut first = Packet::with_room(p.headroom(), keep, 0);
        first.data_mut().copy_from_slice(&p.data()[..keep]);
        *first.anno_mut() = p.anno().clone();
        first.set_network_header(nh, hlen);
        out.push(first);
        self.fragments += 1;
        // The following fragments.
        let out_hlen = ipv4::HEADER_LEN + olen;
        let step = self.mtu.saturating_sub(out_hlen) & !7;
        let mut off = first_dlen;
        while off < in_dlen {
            let out_dlen = if step == 0 { in_dlen - off } else { step.min(in_dlen - off) };
            let mut q = Packet::with_room(self.headroom, out_hlen + out_dlen, 0);
            let d = q.data_mut();
            d[..ipv4::HEADER_LEN].copy_from_slice(&header);
            d[ipv4::HEADER_LEN..out_hlen].copy_from_slice(&opts[..olen]);
            d[out_hlen..].copy_from_slice(&p.data()[th + off..th + off + out_dlen]);
            let mut qip = ipv4::Packet::new_unchecked(&mut d[..out_hlen]);
            qip.set_header_len(out_hlen as u8);
            let mut fo = base_off.wrapping_add((off >> 3) as u16);
            if out_dlen + off >= in_dlen && !had_mf {
                fo &= !ipv4::FLAG_MF;
            }
            qip.set_flags_frag(fo);
            qip.set_total_len((out_hlen + out_dlen) as u16);
            qip.set_checksum(0);
            let c = checksum::in_cksum(&d[..out_hlen]);
            d[10..12].copy_from_slice(&c.to_be_bytes());
            *q.anno_mut() = p.anno().clone();
            q.set_network_header(0, out_hlen);
            out.push(q);
            self.fragments += 1;
            off += out_dlen;
        }
        Ok(())
    }
}

impl Element for IPFragmenter {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let has_out1 = ctx.noutputs() > 1;
        let mut refused = Batch::new();
        {
            let mut out = Out { ctx: &mut ctx, port: 0, batch: Batch::new() };
            for p in batch {
                if let Err((p, reason)) = self.fragment(p, &mut out) {
                    self.drops.count(reason, 1);
                    if has_out1 && reason == 0 {
                        // At most one refused packet per input packet.
                        let _ = refused.push(p);
                    }
                }
            }
            out.flush();
        }
        super::common::reject(refused, &mut ctx);
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "fragments" => Some(self.fragments.to_string()),
            _ => self.drops.read_handler(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::common::test_util::{num, run_capture};
    use sluice::testing::{build as build_elem, run_element};

    #[test]
    fn fragments_reassemble_to_the_original() {
        // tcpdump__afs.pcap: IPReassembler rebuilds datagrams up to 5720 bytes; fragmenting
        // them at MTU 576 and reassembling again gives the same bytes.
        let (whole, _) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> IPReassembler");
        let big: Vec<Vec<u8>> = whole.iter().filter(|p| p.len() > 14 + 576).map(|p| p.data().to_vec()).collect();
        assert!(!big.is_empty());
        let input: Vec<Packet> = whole
            .into_iter()
            .filter(|p| p.len() > 14 + 576)
            .map(|mut p| {
                // The capture's fragments carry DF; clear it so that HONOR_DF keeps its default.
                p.data_mut()[20] &= !0x40;
                p
            })
            .collect();
        let (frags, r) = run_element(&IP_FRAGMENTER, "576", 1, input).unwrap();
        assert_eq!(num(&r, "e", "drops"), 0);
        assert_eq!(num(&r, "e", "fragments") as usize, frags[0].len());
        for f in &frags[0] {
            let nh = f.network_header_offset().unwrap() as usize;
            let ip = ipv4::Packet::new_checked(&f.data()[nh..]).unwrap();
            assert!(ip.total_len() <= 576 && ip.verify_checksum() && ip.is_fragment());
            assert!(ip.payload().len() % 8 == 0 || !ip.more_frags());
        }
        let (back, _) =
            run_element(&crate::ip::ip_reassembler::IP_REASSEMBLER, "", 1, frags.into_iter().next().unwrap()).unwrap();
        assert_eq!(back[0].len(), big.len());
        for (b, want) in back[0].iter().zip(&big) {
            let mut want = want.clone();
            want[20] &= !0x40;
            let mut ip = ipv4::Packet::new_checked(&mut want[14..]).unwrap();
            ip.fill_checksum();
            assert!(b.data() == &want[..], "reassembled datagram differs");
        }
    }

    #[test]
    fn df_small_and_passing_packets() {
        let (whole, _) = run_capture("tcpdump__afs.pcap", "CheckIPHeader(14) -> IPReassembler");
        let big = whole.iter().find(|p| p.len() > 2000).unwrap().clone_packet();
        let small = whole.iter().find(|p| p.len() < 200).unwrap().clone_packet();
        let (out, r) = run_element(&IP_FRAGMENTER, "1500", 2, vec![big.clone_packet(), small]).unwrap();
        assert_eq!((out[0].len(), out[1].len()), (1, 1), "the DF packet goes to output 1");
        assert_eq!(r.read_handler("e", "drop_details").unwrap(), "1 DF set or MTU too small\n0 bad IP header");
        let (out, _) = run_element(&IP_FRAGMENTER, "1500, false", 1, vec![big]).unwrap();
        assert!(out[0].len() >= 2);
        let first = &out[0][0];
        assert_eq!(first.data()[20] & 0x40, 0, "DF cleared");
        assert!(build_elem(&IP_FRAGMENTER, "7", 1, 1).is_err());
        assert!(build_elem(&IP_FRAGMENTER, "", 1, 1).is_err());
    }

    #[test]
    fn options_with_the_copy_flag_are_copied() {
        let mut out = [0u8; 40];
        // NOP, RR (not copied, length 7), LSRR (copied, length 7), EOL.
        let mut h = vec![0x48u8; 20];
        h.extend_from_slice(&[1, 7, 7, 4, 0, 0, 0, 0, 131, 7, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0]);
        let n = copied_options(&h, &mut out);
        assert_eq!(n, 8);
        assert_eq!(&out[..8], &[131, 7, 4, 1, 2, 3, 4, 0]);
    }
}

//! `ARPResponder`: answers ARP requests for configured addresses.

use super::unparse_ether;
use crate::wire::arp::{self, Operation};
use crate::wire::ether::{self, ethertype, Frame, HEADER_LEN};
use sluice::args::{Args, EtherAddr, FromArg, Ipv4Prefix};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, Packet};
use std::net::Ipv4Addr;

sluice::element_class! {
    /// ARPResponder(IP/MASK [IP/MASK...] ETH, IP2/MASK2 ETH2, ...)
    ///
    /// Generates responses to ARP queries.
    ///
    /// Input should be ARP request packets, including the Ethernet header. Forwards an ARP
    /// reply if we know the answer -- that is, if one of the IP/MASK arguments matches the
    /// requested IP address, then it outputs an ARP reply giving the corresponding ETH
    /// address; otherwise the ARP request packet is pushed out of output 1 (if it exists,
    /// else dropped and counted). Could be used for proxy ARP as well as producing replies
    /// for a host's own address.
    ///
    /// The IP/MASK arguments are IP network addresses (IP address/netmask pairs). The
    /// netmask can be specified in CIDR form (`18.26.7.0/24`) or dotted decimal form
    /// (`18.26.7.0/255.255.255.0`); a bare address means /32. When several networks
    /// contain the requested address, the most specific one answers; for the same network
    /// given twice, the later entry wins.
    ///
    /// A reply is a new 42-byte frame, byte for byte what Click builds: to the requester's
    /// hardware address, from ETH, type ARP, operation reply, sender ETH and the requested
    /// IP, target the requester's hardware and IP addresses. Its VLAN TCI annotation is the
    /// query's; its other annotations are cleared. Requests are recognised as Click does
    /// (EtherType 0x0806, hardware type Ethernet, protocol IPv4, operation request, at
    /// least 42 bytes); requests announcing other address lengths are not answered.
    ///
    /// Ports: 1 input; 1 or 2 outputs. Input and output 0 agnostic, output 1 push.
    ///
    /// # Keywords
    /// - `IP/MASK ... ETH` — one argument per Ethernet address: any number of IP networks
    ///   or addresses, and exactly one Ethernet address, separated by spaces.
    ///
    /// # Handlers
    /// - `table` (read) — the table, one `IP/LEN ETH` network per line, in lookup order.
    /// - `add` (write) — adds entries; takes `IP/MASK [IP/MASK...] ETH`.
    /// - `remove` (write) — deletes the entry for exactly `IP/MASK`.
    /// - `drops` (read) — requests dropped (not answered, no output 1).
    /// - `drop_details` (read) — drops by reason.
    ///
    /// Click's `lookup` read-with-parameter handler is not available (Sluice handlers
    /// take no parameters on read); read `table` instead.
    ///
    /// # Example
    /// ```text
    /// // replies for the local machine (18.26.4.24) and proxy ARP for net 18.26.7
    /// c :: Classifier(12/0806 20/0001, ...);
    /// ar :: ARPResponder(18.26.4.24 18.26.7.0/24 00-00-C0-AE-67-EF);
    /// c[0] -> ar;
    /// ar -> ToDevice(eth0);
    /// ```
    pub const ARP_RESPONDER = "ARPResponder" { ports: "1/1-2", processing: "a/ah", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("table", Combine::First, "the table, one network per line"),
    HandlerSpec::write("add", "add entries: IP/MASK [IP/MASK...] ETH"),
    HandlerSpec::write("remove", "remove the entry for IP/MASK"),
    HandlerSpec::read("drops", Combine::Sum, "requests dropped"),
    HandlerSpec::read("drop_details", Combine::First, "drops by reason"),
];

const REASONS: &[&str] = &[
    "too short for an Ethernet ARP packet (42 bytes)",
    "not an Ethernet/IPv4 ARP request",
    "no entry for the requested address",
];

/// Bytes of an Ethernet/IPv4 ARP frame without padding.
pub const ARP_FRAME_LEN: usize = HEADER_LEN + arp::ETHER_IPV4_LEN;

/// One network and the address to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// Network address (host bits cleared) and mask, as numbers.
    dst: u32,
    mask: u32,
    ena: [u8; 6],
}

impl Entry {
    fn contains(&self, addr: u32) -> bool {
        addr & self.mask == self.dst
    }

    /// This network lies inside `other` (or is the same).
    fn within(&self, other: &Entry) -> bool {
        self.dst & other.mask == other.dst && self.mask & other.mask == other.mask
    }
}

/// Parse one argument, `IP/MASK [IP/MASK...] ETH`, into entries.
fn parse_entries(arg: &str) -> Result<Vec<Entry>, String> {
    let mut nets = Vec::new();
    let mut ena: Option<EtherAddr> = None;
    for word in arg.split_whitespace() {
        if let Ok(p) = Ipv4Prefix::from_arg(word) {
            let mask = u32::from(p.mask());
            nets.push((u32::from(p.addr) & mask, mask));
        } else if let Ok(e) = EtherAddr::from_arg(word) {
            if ena.is_some() {
                return Err("more than one ETH".into());
            }
            ena = Some(e);
        } else {
            return Err("expected IP/MASK ETH".into());
        }
    }
    // An AddressInfo name can be both an IP address and an Ethernet address (Click's
    // arpresponder.cc: "check for an argument that is both IP address and Ethernet address").
    if ena.is_none() {
        ena = arg.split_whitespace().find_map(|word| EtherAddr::from_arg(word).ok());
    }
    if nets.is_empty() {
        return Err("missing IP/MASK".into());
    }
    let ena = ena.ok_or("missing ETH")?;
    Ok(nets.into_iter().map(|(dst, mask)| Entry { dst, mask, ena: ena.0 }).collect())
}

/// Add `e` to a table kept in lookup order: a network comes before every network that
/// contains it (so the first match is the most specific), otherwise entries keep the order
/// they were given in; the same network again replaces the old entry (Click's
/// `normalize`).
fn insert(table: &mut Vec<Entry>, e: Entry) {
    if let Some(old) = table.iter_mut().find(|x| x.dst == e.dst && x.mask == e.mask) {
        old.ena = e.ena;
        return;
    }
    let at = table.iter().position(|x| e.within(x)).unwrap_or(table.len());
    table.insert(at, e);
}

fn unparse_net(dst: u32, mask: u32) -> String {
    let len = (0..=32u32).rev().find(|&l| u32::MAX.checked_shl(32 - l).unwrap_or(0) == mask);
    match len {
        Some(l) => format!("{}/{l}", Ipv4Addr::from(dst)),
        None => format!("{}/{}", Ipv4Addr::from(dst), Ipv4Addr::from(mask)),
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut args = Args::new(config);
    let words = args.rest();
    args.finish()?;
    let mut table = Vec::new();
    for (i, w) in words.iter().enumerate() {
        for e in parse_entries(w).map_err(|m| ConfigError(format!("argument {i}: {m}")))? {
            insert(&mut table, e);
        }
    }
    Ok(Box::new(ArpResponder { table, drops: DropCounts::new(REASONS) }))
}

/// Build Click's ARP reply: from `my_eth`/`my_ip` (the address asked about) to the
/// requester `their_eth`/`their_ip`.
pub fn make_reply(their_eth: [u8; 6], their_ip: [u8; 4], my_eth: [u8; 6], my_ip: [u8; 4]) -> Packet {
    let mut q = Packet::new(ARP_FRAME_LEN);
    let d = q.data_mut();
    ether::Repr { dst_addr: their_eth, src_addr: my_eth, ethertype: ethertype::ARP }
        .emit(&mut Frame::new_unchecked(&mut d[..HEADER_LEN]));
    arp::Repr {
        operation: Operation::REPLY,
        sender_hw: my_eth,
        sender_ip: my_ip,
        target_hw: their_eth,
        target_ip: their_ip,
    }
    .emit(&mut d[HEADER_LEN..]);
    q
}

/// The element: the table in lookup order, and the drop counter.
pub struct ArpResponder {
    table: Vec<Entry>,
    drops: DropCounts,
}

impl ArpResponder {
    /// The Ethernet address for `ip`, if a network contains it.
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<[u8; 6]> {
        let a = u32::from(ip);
        self.table.iter().find(|e| e.contains(a)).map(|e| e.ena)
    }

    /// The reply to `p`, or why there is none.
    #[inline]
    fn respond(&self, p: &Packet) -> Result<Packet, usize> {
        let d = p.data();
        if d.len() < ARP_FRAME_LEN {
            return Err(0);
        }
        let f = Frame::new_unchecked(d);
        let req = match arp::Packet::new_checked(&d[HEADER_LEN..]) {
            Ok(a)
                if f.ethertype() == ethertype::ARP
                    && a.hardware_type() == arp::HTYPE_ETHERNET
                    && a.protocol_type() == arp::PTYPE_IPV4
                    && a.operation() == Operation::REQUEST =>
            {
                arp::Repr::parse(&d[HEADER_LEN..]).map_err(|_| 1usize)?
            }
            _ => return Err(1),
        };
        let ena = self.lookup(Ipv4Addr::from(req.target_ip)).ok_or(2usize)?;
        let mut q = make_reply(req.sender_hw, req.sender_ip, ena, req.target_ip);
        q.anno_mut().vlan_tci = p.anno().vlan_tci;
        Ok(q)
    }

    /// Replies for `batch`; unanswered requests go to output 1 or are dropped.
    #[inline]
    fn process(&mut self, batch: Batch, ctx: &mut Ctx<'_>) -> Batch {
        let mut replies = Batch::new();
        let mut rest = Batch::new();
        let mut counts = [0u64; 3];
        for p in batch {
            // At most MAX_BATCH packets come in, so neither batch overflows.
            match self.respond(&p) {
                Ok(q) => {
                    let _ = replies.push(q);
                }
                Err(r) => {
                    counts[r] += 1;
                    let _ = rest.push(p);
                }
            }
        }
        if !rest.is_empty() {
            if ctx.noutputs() > 1 {
                ctx.push(1, rest);
            } else {
                for (r, n) in counts.into_iter().enumerate() {
                    if n > 0 {
                        self.drops.count(r, n);
                    }
                }
            }
        }
        replies
    }
}

impl Element for ArpResponder {
    fn push(&mut self, _port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let replies = self.process(batch, &mut ctx);
        ctx.push(0, replies);
    }

    fn pull(&mut self, _port: usize, max: usize, mut ctx: Ctx<'_>) -> Batch {
        let batch = ctx.pull(0, max);
        self.process(batch, &mut ctx)
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "table" => Some(
                self.table
                    .iter()
                    .map(|e| format!("{} {}\n", unparse_net(e.dst, e.mask), unparse_ether(&e.ena)))
                    .collect(),
            ),
            _ => self.drops.read_handler(name),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "add" => {
                for e in parse_entries(value)? {
                    insert(&mut self.table, e);
                }
                Ok(())
            }
            "remove" => {
                let p = Ipv4Prefix::from_arg(value.trim()).map_err(|_| "expected IP/MASK".to_string())?;
                let mask = u32::from(p.mask());
                let dst = u32::from(p.addr) & mask;
                match self.table.iter().position(|e| e.dst == dst && e.mask == mask) {
                    Some(i) => {
                        self.table.remove(i);
                        Ok(())
                    }
                    None => Err(format!("{} not found", unparse_net(dst, mask))),
                }
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{pcap_records, PCAPS};
    use sluice::testing::{build as build_elem, collected, new_id, run_config, run_element};

    /// The request and reply of tcpdump's 802.1ad sample, with both VLAN tags removed and
    /// without the trailer: 172.21.79.97 (00:20:d2:5a:fb:3f) asks for 172.21.79.100, which
    /// is at 00:80:ea:81:88:63.
    fn sample() -> (Vec<u8>, Vec<u8>) {
        let (_, recs) = pcap_records(&format!("{PCAPS}/tcpdump__802.1ad_QinQ.pcap"));
        let untag = |r: &Vec<u8>| {
            let mut v = r[..12].to_vec();
            v.extend_from_slice(&r[20..20 + 30]);
            v
        };
        (untag(&recs[0]), untag(&recs[1]))
    }

    /// RFC 826 layout, written out by hand.
    const REPLY: [u8; 42] = [
        0x00, 0x20, 0xd2, 0x5a, 0xfb, 0x3f, // Ethernet destination: the requester
        0x00, 0x80, 0xea, 0x81, 0x88, 0x63, // Ethernet source: the answer
        0x08, 0x06, // EtherType ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, // Ethernet, IPv4, 6, 4, reply
        0x00, 0x80, 0xea, 0x81, 0x88, 0x63, 172, 21, 79, 100, // sender
        0x00, 0x20, 0xd2, 0x5a, 0xfb, 0x3f, 172, 21, 79, 97, // target
    ];

    #[test]
    fn the_reply_is_the_captured_one_byte_for_byte() {
        let (request, reply) = sample();
        assert_eq!(reply, REPLY, "the capture's reply is RFC 826's");
        let mut q = Packet::from_slice(&request);
        q.anno_mut().vlan_tci = 2001;
        q.anno_mut().timestamp_ns = 5;
        let (out, _) = run_element(&ARP_RESPONDER, "172.21.79.100 00:80:ea:81:88:63", 2, vec![q]).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].data(), &REPLY[..]);
        assert_eq!(out[0][0].anno().vlan_tci, 2001);
        assert_eq!(out[0][0].anno().timestamp_ns, 0);
        assert!(out[1].is_empty());
    }

    #[test]
    fn answers_inside_qinq_and_retags() {
        // Take both tags off, answer, put the tags back: the captured reply frame, minus
        // the capture's padding.
        let path = format!("{PCAPS}/tcpdump__802.1ad_QinQ.pcap");
        let (_, recs) = pcap_records(&path);
        let (sink, other) = (new_id(), new_id());
        let config = format!(
            "ar :: ARPResponder(172.21.79.0/24 00-80-EA-81-88-63); \
             FromDump(\"{path}\", STOP true) -> VLANDecap(ETHERTYPE 0x88a8) -> VLANDecap \
             -> ar -> VLANEncap(ANNO) -> VLANEncap(VLAN_ID 200, ETHERTYPE 0x88a8) \
             -> Collect(ID {sink}); ar[1] -> Collect(ID {other});"
        );
        run_config(&config, &crate::classes()).unwrap();
        let got = collected(sink);
        assert_eq!(got.len(), 1, "one request, one reply");
        assert_eq!(got[0].data(), &recs[1][..50]);
        // The captured reply is not a request: it goes to output 1.
        assert_eq!(collected(other).len(), 1);
    }

    #[test]
    fn unanswered_requests_and_bad_packets() {
        let (request, reply) = sample();
        let mut not_ours = request.clone();
        not_ours[41] = 1; // asks for 172.21.79.1
        let input = vec![
            Packet::from_slice(&not_ours),
            Packet::from_slice(&reply),
            Packet::from_slice(&request[..41]),
            Packet::from_slice(&request),
        ];
        let (out, router) = run_element(&ARP_RESPONDER, "172.21.79.100/32 00:80:ea:81:88:63", 1, input).unwrap();
        assert_eq!(out[0].len(), 1);
        assert_eq!(router.read_handler("e", "drops").unwrap(), "3");
        let details = router.read_handler("e", "drop_details").unwrap();
        for reason in REASONS {
            assert!(details.contains(&format!("1 {reason}")), "{details}");
        }
    }

    #[test]
    fn most_specific_network_answers_and_table_handlers() {
        let mut e = build_elem(
            &ARP_RESPONDER,
            "10.0.0.0/8 00:00:00:00:00:08, 18.26.4.24 18.26.7.0/255.255.255.0 00-00-C0-AE-67-EF, 10.1.0.0/16 00:00:00:00:00:16",
            1,
            1,
        )
        .unwrap();
        let table = "18.26.4.24/32 00-00-C0-AE-67-EF\n18.26.7.0/24 00-00-C0-AE-67-EF\n\
                     10.1.0.0/16 00-00-00-00-00-16\n10.0.0.0/8 00-00-00-00-00-08\n";
        let got = e.read_handler("table").unwrap();
        // 10.1/16 must come before 10/8; unrelated networks keep their order.
        let lines: Vec<&str> = got.lines().collect();
        let pos = |s: &str| lines.iter().position(|l| l.starts_with(s)).unwrap();
        assert!(pos("10.1.0.0/16") < pos("10.0.0.0/8"));
        assert_eq!(lines.len(), 4);
        assert!(table.lines().all(|l| lines.contains(&l)), "{got}");
        e.write_handler("add", "10.1.2.3 00:00:00:00:00:32").unwrap();
        e.write_handler("add", "10.0.0.0/8 00:00:00:00:00:09").unwrap();
        let got = e.read_handler("table").unwrap();
        assert!(got.contains("10.0.0.0/8 00-00-00-00-00-09\n") && !got.contains("-08\n"));
        let lines: Vec<&str> = got.lines().collect();
        let pos = |s: &str| lines.iter().position(|l| l.starts_with(s)).unwrap();
        assert!(pos("10.1.2.3/32") < pos("10.1.0.0/16"));
        e.write_handler("remove", "10.1.2.3/32").unwrap();
        assert_eq!(e.write_handler("remove", "10.1.2.3").unwrap_err(), "10.1.2.3/32 not found");
        assert!(e.write_handler("add", "10.9.9.9").unwrap_err().contains("missing ETH"));
        assert!(e.write_handler("add", "00:00:00:00:00:01").unwrap_err().contains("missing IP/MASK"));
        assert!(e.write_handler("add", "1.2.3.4 00:00:00:00:00:01 00:00:00:00:00:02").is_err());
        assert!(build_elem(&ARP_RESPONDER, "1.2.3.4 bogus", 1, 1).err().unwrap().0.starts_with("argument 0: "));
    }
}

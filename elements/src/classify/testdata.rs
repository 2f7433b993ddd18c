//! Test helpers: IPv4 packets built field by field, and the IPv4 packets of the shared
//! captures with their network header annotation set.

use crate::io::capture::{force_ip, CaptureReader};
use sluice::Packet;
use std::path::PathBuf;

/// A file of the shared data directory (`shared/data/DIR/NAME`).
pub fn data_path(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(dir).join(name)
}

/// A 20-byte IPv4 header and a 20-byte TCP-shaped transport header (ports at 0..4, flags
/// at 13), with the network header annotation set.
pub fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Packet {
    let mut d = vec![0u8; 40];
    d[0] = 0x45;
    d[2..4].copy_from_slice(&40u16.to_be_bytes());
    d[8] = 64;
    d[9] = proto;
    d[12..16].copy_from_slice(&src);
    d[16..20].copy_from_slice(&dst);
    d[20..22].copy_from_slice(&sport.to_be_bytes());
    d[22..24].copy_from_slice(&dport.to_be_bytes());
    d[32] = 0x50;
    d[33] = flags;
    let mut p = Packet::from_slice(&d);
    p.set_network_header(0, 20);
    p
}

/// Every record of a capture, with the network header annotation set where Click's
/// FromDump(FORCE_IP true) would set it (Ethernet with at most one VLAN tag, ...).
pub fn pcap_all(name: &str) -> Vec<Packet> {
    let path = data_path("pcaps", name);
    let mut r = CaptureReader::open(&path, name).unwrap();
    let mut out = Vec::new();
    while let Some(h) = r.next_header().unwrap() {
        let mut p = r.read_data(&h).unwrap();
        force_ip(&mut p, h.linktype);
        out.push(p);
    }
    out
}

/// The IPv4 packets of a capture (as CheckIPHeader would pass them on).
pub fn pcap_ipv4(name: &str) -> Vec<Packet> {
    pcap_all(name).into_iter().filter(|p| p.network_header().is_some_and(|h| h[0] >> 4 == 4)).collect()
}

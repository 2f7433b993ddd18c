//! Packet input and output: capture files (pcap, pcapng) and Linux interfaces (AF_PACKET).
use sluice::element::ElementClass;
use sluice::Packet;

pub mod afpacket;
pub mod capture;
pub mod from_device;
pub mod from_dump;
pub mod to_device;
pub mod to_dump;

/// The classes of this group.
pub const CLASSES: &[ElementClass] =
    &[from_dump::FROM_DUMP, to_dump::TO_DUMP, from_device::FROM_DEVICE, to_device::TO_DEVICE];

/// Where Click keeps the extra length annotation (`EXTRA_LENGTH_ANNO`): bytes 28..32 of the
/// annotation area, a host-order `u32`. FromDump stores there how many bytes of the packet
/// the capture did not keep (original length − captured length); ToDump adds it back to the
/// length it records (EXTRA_LENGTH).
pub const EXTRA_LENGTH_ANNO_OFFSET: usize = 28;

/// Click's `EXTRA_LENGTH_ANNO(p)`.
pub fn extra_length_anno(p: &Packet) -> u32 {
    let u = &p.anno().user;
    let o = EXTRA_LENGTH_ANNO_OFFSET;
    u32::from_ne_bytes([u[o], u[o + 1], u[o + 2], u[o + 3]])
}

/// Click's `SET_EXTRA_LENGTH_ANNO(p, v)`.
pub fn set_extra_length_anno(p: &mut Packet, v: u32) {
    let o = EXTRA_LENGTH_ANNO_OFFSET;
    p.anno_mut().user[o..o + 4].copy_from_slice(&v.to_ne_bytes());
}

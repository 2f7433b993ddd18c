//! Packet input and output: capture files (pcap, pcapng), Linux interfaces (AF_PACKET) and,
//! with the `dpdk` feature, DPDK devices.
use sluice::element::ElementClass;
use sluice::Packet;

pub mod afpacket;
pub mod capture;
#[cfg(feature = "dpdk")]
pub mod dpdk_common;
pub mod from_device;
pub mod from_dpdk_device;
pub mod from_dump;
pub mod kernel_tun;
pub mod socket;
pub mod to_device;
pub mod to_dpdk_device;
pub mod to_dump;
pub mod tun;

/// The classes of this group. The DPDK classes are always listed (their docs, `sluice
/// check`); without the `dpdk` feature they refuse to build, saying so.
pub const CLASSES: &[ElementClass] = &[
    from_dump::FROM_DUMP,
    to_dump::TO_DUMP,
    from_device::FROM_DEVICE,
    to_device::TO_DEVICE,
    from_dpdk_device::FROM_DPDK_DEVICE,
    to_dpdk_device::TO_DPDK_DEVICE,
    kernel_tun::KERNEL_TUN,
    kernel_tun::KERNEL_TAP,
    socket::SOCKET,
];

/// Sluice's DPDK bindings (EAL, mempools, ports), for programs that drive DPDK directly.
#[cfg(feature = "dpdk")]
pub use dpdk_sys;

/// Set the DPDK EAL arguments, as one string split like a shell would (`sluice run --eal
/// '...'`, `[dpdk] eal = "..."` in sluice.toml), before the first DPDK element starts: the
/// EAL starts once per process. Unset, the EAL runs with
/// `-l 0 --no-huge --no-pci --no-shconf --no-telemetry -m 512` (`dpdk_sys::eal::DEFAULT_ARGS`).
/// Fails after the EAL started, on unbalanced quotes, and in a Sluice built without the
/// `dpdk` feature.
pub fn set_dpdk_eal_args(args: &str) -> Result<(), String> {
    #[cfg(feature = "dpdk")]
    {
        dpdk_sys::eal::set_args_str(args).map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "dpdk"))]
    {
        Err(format!(
            "DPDK EAL arguments '{args}' given, but this Sluice was built without DPDK support; rebuild with the `dpdk` feature (cargo build --features dpdk), which needs DPDK's development files (Debian: libdpdk-dev)"
        ))
    }
}

/// The configuration error of a DPDK element in a Sluice built without DPDK support.
#[cfg(not(feature = "dpdk"))]
fn dpdk_not_built(class: &str) -> sluice::ConfigError {
    sluice::ConfigError(format!(
        "{class}: this Sluice was built without DPDK support; rebuild with the `dpdk` feature (cargo build --features dpdk), which needs DPDK's development files (Debian: libdpdk-dev)"
    ))
}

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

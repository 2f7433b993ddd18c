//! Linux's universal TUN/TAP driver (`/dev/net/tun`), behind `KernelTun`/`KernelTap`:
//! create a tun (IP) or tap (Ethernet) device, give it an IPv4 address and bring it up with
//! the same ioctls Click's KernelTun uses (`SIOCSIFADDR`, `SIOCSIFNETMASK`,
//! `SIOCSIFHWADDR`, `SIOCSIFMTU`, `SIOCSIFFLAGS`), add a default route with `SIOCADDRT`
//! (what Click's `route -n add default gw` does), and move packets.
//!
//! The driver is a character device: a `read` returns one packet and a `write` takes one
//! packet, so there is one system call per packet each way — there is no batched interface
//! (no `recvmmsg`/`sendmmsg` on a tun descriptor). The descriptor is non-blocking: a read
//! with nothing queued returns `WouldBlock` at once, so the worker never waits.

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// An open tun/tap queue. Closing it (drop) deletes the device with its addresses and
/// routes when it is the last queue (the device is not persistent).
#[derive(Debug)]
pub struct TunDevice {
    fd: OwnedFd,
    name: String,
}

fn err(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| {
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => " (tun/tap devices need CAP_NET_ADMIN: run as root)",
            Some(libc::ENOENT) | Some(libc::ENODEV) => {
                " (perhaps you need to enable tun in your kernel or load the 'tun' module)"
            }
            _ => "",
        };
        io::Error::new(e.kind(), format!("{what}: {e}{hint}"))
    }
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// An `ifreq` naming interface `name`, the rest zero.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name '{name}' (1 to {} bytes)", libc::IFNAMSIZ - 1),
        ));
    }
    // SAFETY: an all-zero ifreq is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(ifr)
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    // SAFETY: an all-zero sockaddr_in is valid.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr = libc::in_addr { s_addr: u32::from(addr).to_be() };
    // SAFETY: sockaddr_in and sockaddr have the same size (16 bytes) on Linux.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

impl TunDevice {
    /// Open `/dev/net/tun` (non-blocking, close-on-exec) and attach a new tun (`tap`
    /// false: IP packets) or tap (Ethernet frames) device without packet information
    /// headers (`IFF_NO_PI`), named `name` or, without one, as the kernel chooses (`tun0`,
    /// `tap0`, ...). `multi_queue`: the device takes several queues, one per worker; the
    /// later ones attach to the device by name.
    pub fn open(tap: bool, name: Option<&str>, multi_queue: bool) -> io::Result<TunDevice> {
        let path = c"/dev/net/tun";
        // SAFETY: plain libc call with a valid C string.
        let fd = check(unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) })
            .map_err(err("cannot open /dev/net/tun".into()))?;
        // SAFETY: `fd` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut ifr = match name {
            Some(n) => ifreq(n)?,
            // SAFETY: an all-zero ifreq is valid (empty name: the kernel picks one).
            None => unsafe { std::mem::zeroed() },
        };
        let flags = if tap { libc::IFF_TAP } else { libc::IFF_TUN }
            | libc::IFF_NO_PI
            | if multi_queue { libc::IFF_MULTI_QUEUE } else { 0 };
        ifr.ifr_ifru.ifru_flags = flags as libc::c_short;
        let what = match name {
            Some(n) => format!("cannot attach {} device '{n}' (TUNSETIFF)", if tap { "tap" } else { "tun" }),
            None => format!("cannot create a {} device (TUNSETIFF)", if tap { "tap" } else { "tun" }),
        };
        // SAFETY: TUNSETIFF reads and writes one ifreq.
        check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr as *mut libc::ifreq) }).map_err(|e| {
            let hint = match (e.raw_os_error(), name) {
                (Some(libc::EBUSY), _) => " (the device is in use: another program or element has it open)",
                (Some(libc::EINVAL), Some(_)) => {
                    " (a device of that name exists and is not a tun/tap device of this kind and queue mode)"
                }
                _ => "",
            };
            err(what)(io::Error::new(e.kind(), format!("{e}{hint}")))
        })?;
        let name: String = ifr.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect();
        Ok(TunDevice { fd, name })
    }

    /// The device's name (`tun0`, or the DEVNAME asked for).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Read one packet into `buf`: its length (truncated to `buf`'s), or `WouldBlock`
    /// when none is queued.
    #[inline]
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    /// Hand one packet to the kernel.
    #[inline]
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        // SAFETY: `data` is valid for reads of its length.
        let r = unsafe { libc::write(self.fd.as_raw_fd(), data.as_ptr() as *const libc::c_void, data.len()) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

/// How to set up a device, as Click's KernelTun does in `updown`.
#[derive(Clone, Debug)]
pub struct Setup {
    pub addr: Ipv4Addr,
    pub mask: Ipv4Addr,
    /// Ethernet address to give the device (ETHER).
    pub ether: Option<[u8; 6]>,
    /// MTU to set (only when it differs from the default 1500, as in Click).
    pub mtu: Option<u32>,
    /// A tap: ARP is turned on (`IFF_NOARP` cleared).
    pub tap: bool,
}

/// A datagram socket for interface ioctls, closed on drop.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain libc call.
    let s = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })
        .map_err(err("socket() failed".into()))?;
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(s) })
}

fn ioctl(s: &OwnedFd, req: libc::c_ulong, ifr: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request used here reads or writes one ifreq.
    check(unsafe { libc::ioctl(s.as_raw_fd(), req as _, ifr as *mut libc::ifreq) }).map(|_| ())
}

/// Give device `name` its address and netmask, Ethernet address and MTU, and bring it up
/// (`IFF_UP | IFF_PROMISC`; for a tap, ARP on). Errors setting the address, netmask or
/// flags fail; the Ethernet address and MTU only warn, as in Click: the warnings are returned.
pub fn setup(name: &str, cfg: &Setup) -> io::Result<Vec<String>> {
    let s = ioctl_socket()?;
    let mut warnings = Vec::new();
    let mut ifr = ifreq(name)?;
    // Linux wants the address first (it sets a classful mask), then the netmask.
    ifr.ifr_ifru.ifru_addr = sockaddr_in(cfg.addr);
    ioctl(&s, libc::SIOCSIFADDR, &mut ifr).map_err(err(format!("SIOCSIFADDR {} on '{name}' failed", cfg.addr)))?;
    ifr.ifr_ifru.ifru_netmask = sockaddr_in(cfg.mask);
    ioctl(&s, libc::SIOCSIFNETMASK, &mut ifr)
        .map_err(err(format!("SIOCSIFNETMASK {} on '{name}' failed", cfg.mask)))?;
    if let Some(mac) = cfg.ether {
        let mut ifr = ifreq(name)?;
        // SAFETY: an all-zero sockaddr is valid.
        let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
        sa.sa_family = libc::ARPHRD_ETHER;
        for (d, s) in sa.sa_data.iter_mut().zip(mac) {
            *d = s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_hwaddr = sa;
        if let Err(e) = ioctl(&s, libc::SIOCSIFHWADDR, &mut ifr) {
            warnings.push(format!("could not set interface Ethernet address: {e}"));
        }
    }
    if let Some(mtu) = cfg.mtu {
        let mut ifr = ifreq(name)?;
        ifr.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        if let Err(e) = ioctl(&s, libc::SIOCSIFMTU, &mut ifr) {
            warnings.push(format!("could not set interface MTU: {e}"));
        }
    }
    let mut ifr = ifreq(name)?;
    ioctl(&s, libc::SIOCGIFFLAGS, &mut ifr).map_err(err(format!("SIOCGIFFLAGS on '{name}' failed")))?;
    // SAFETY: SIOCGIFFLAGS filled in the flags member.
    let mut flags = unsafe { ifr.ifr_ifru.ifru_flags } as libc::c_int;
    if cfg.tap {
        flags &= !libc::IFF_NOARP;
    }
    flags |= libc::IFF_UP | libc::IFF_PROMISC;
    ifr.ifr_ifru.ifru_flags = flags as libc::c_short;
    ioctl(&s, libc::SIOCSIFFLAGS, &mut ifr).map_err(err(format!("SIOCSIFFLAGS on '{name}' failed")))?;
    Ok(warnings)
}

/// The kernel's `struct rtentry` (linux/route.h), for `SIOCADDRT`; the libc crate has it
/// for musl only.
#[repr(C)]
struct RtEntry {
    rt_pad1: libc::c_ulong,
    rt_dst: libc::sockaddr,
    rt_gateway: libc::sockaddr,
    rt_genmask: libc::sockaddr,
    rt_flags: libc::c_ushort,
    rt_pad2: libc::c_short,
    rt_pad3: libc::c_ulong,
    rt_pad4: *mut libc::c_void,
    rt_metric: libc::c_short,
    rt_dev: *mut libc::c_char,
    rt_mtu: libc::c_ulong,
    rt_window: libc::c_ulong,
    rt_irtt: libc::c_ushort,
}

/// Add a default route through `gw` on device `name` (Click: `route -n add default gw GW`).
pub fn add_default_route(name: &str, gw: Ipv4Addr) -> io::Result<()> {
    let s = ioctl_socket()?;
    let dev = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
    let mut rt = RtEntry {
        rt_pad1: 0,
        rt_dst: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        rt_gateway: sockaddr_in(gw),
        rt_genmask: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        rt_flags: libc::RTF_UP | libc::RTF_GATEWAY,
        rt_pad2: 0,
        rt_pad3: 0,
        rt_pad4: std::ptr::null_mut(),
        rt_metric: 0,
        rt_dev: dev.as_ptr() as *mut libc::c_char,
        rt_mtu: 0,
        rt_window: 0,
        rt_irtt: 0,
    };
    // SAFETY: SIOCADDRT reads one rtentry; `dev` outlives the call.
    check(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCADDRT as _, &mut rt as *mut RtEntry) })
        .map(|_| ())
        .map_err(err(format!("cannot add a default route via {gw} on '{name}' (SIOCADDRT)")))
}

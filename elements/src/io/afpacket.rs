//! Linux AF_PACKET sockets: a TPACKET_V3 receive ring shared with the kernel (packets are
//! read from memory, no system call per packet or per batch while traffic flows) and a
//! transmit socket that sends a whole batch with one `sendmmsg`. Several workers on one
//! interface join a PACKET_FANOUT group, so the kernel spreads flows over them.

use sluice::packet::PacketType;
use sluice::{Batch, Packet};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{fence, Ordering};

/// Receive ring geometry: 8 blocks of 1 MiB, frames of 2 KiB; a block is handed to us when
/// full or after `RETIRE_MS` milliseconds.
const BLOCK_SIZE: usize = 1 << 20;
const BLOCK_COUNT: usize = 8;
const FRAME_SIZE: usize = 2048;
const RETIRE_MS: u32 = 2;

fn last_error(what: &str, ifname: &str) -> io::Error {
    let e = io::Error::last_os_error();
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => " (AF_PACKET needs CAP_NET_RAW: run as root)",
        _ => "",
    };
    io::Error::new(e.kind(), format!("{what} on '{ifname}': {e}{hint}"))
}

/// The index of interface `ifname`.
pub fn ifindex(ifname: &str) -> io::Result<i32> {
    let c = CString::new(ifname).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
    // SAFETY: plain libc call with a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no network interface named '{ifname}'")));
    }
    Ok(i as i32)
}

fn packet_socket(ifname: &str, nonblock: bool) -> io::Result<(OwnedFd, i32)> {
    let index = ifindex(ifname)?;
    let flags = libc::SOCK_RAW | libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain libc call.
    let fd = unsafe { libc::socket(libc::AF_PACKET, flags, (libc::ETH_P_ALL as u16).to_be() as i32) };
    if fd < 0 {
        return Err(last_error("cannot open an AF_PACKET socket", ifname));
    }
    // SAFETY: `fd` is a fresh descriptor we own.
    Ok((unsafe { OwnedFd::from_raw_fd(fd) }, index))
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, value: &T, what: &str, ifname: &str) -> io::Result<()> {
    // SAFETY: `value` points to a valid T of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as u32,
        )
    };
    if r < 0 {
        return Err(last_error(what, ifname));
    }
    Ok(())
}

fn bind(fd: &OwnedFd, index: i32, ifname: &str) -> io::Result<()> {
    // SAFETY: a zeroed sockaddr_ll is valid; fields set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = index;
    // SAFETY: valid address of the right size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r < 0 {
        return Err(last_error("cannot bind", ifname));
    }
    Ok(())
}

/// How to open a receive ring.
#[derive(Clone, Debug, Default)]
pub struct RxOptions {
    pub promisc: bool,
    /// Also see packets this host sends on the interface.
    pub outgoing: bool,
    /// Join this PACKET_FANOUT group (flows hashed over the group's sockets).
    pub fanout: Option<u16>,
}

/// A TPACKET_V3 receive ring.
pub struct RxRing {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    block: usize,
    /// Inside the current block: packets left and the next packet header.
    left: u32,
    next: *const u8,
}

// SAFETY: the ring is used by one worker at a time; the mapping is owned by it.
unsafe impl Send for RxRing {}

impl RxRing {
    pub fn open(ifname: &str, opts: &RxOptions) -> io::Result<RxRing> {
        let (fd, index) = packet_socket(ifname, true)?;
        let version = libc::tpacket_versions::TPACKET_V3 as i32;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &version, "cannot select TPACKET_V3", ifname)?;
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: BLOCK_COUNT as u32,
            tp_frame_size: FRAME_SIZE as u32,
            tp_frame_nr: (BLOCK_SIZE * BLOCK_COUNT / FRAME_SIZE) as u32,
            tp_retire_blk_tov: RETIRE_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req, "cannot set up the receive ring", ifname)?;
        let map_len = BLOCK_SIZE * BLOCK_COUNT;
        // SAFETY: mapping the ring the kernel just allocated for this socket.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(last_error("cannot map the receive ring", ifname));
        }
        let ring = RxRing { fd, map: map as *mut u8, map_len, block: 0, left: 0, next: std::ptr::null() };
        if !opts.outgoing {
            let one: i32 = 1;
            // Older kernels lack the option: outgoing packets are then filtered by type below.
            let _ = setsockopt(&ring.fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one, "", ifname);
        }
        bind(&ring.fd, index, ifname)?;
        if opts.promisc {
            let mreq = libc::packet_mreq {
                mr_ifindex: index,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                &ring.fd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "cannot enable promiscuous mode",
                ifname,
            )?;
        }
        if let Some(group) = opts.fanout {
            let arg: u32 = group as u32 | (libc::PACKET_FANOUT_HASH << 16);
            setsockopt(&ring.fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg, "cannot join the fanout group", ifname)?;
        }
        Ok(ring)
    }

    fn block_desc(&self, i: usize) -> *mut libc::tpacket_block_desc {
        // SAFETY: i < BLOCK_COUNT, inside the mapping.
        unsafe { self.map.add(i * BLOCK_SIZE) as *mut libc::tpacket_block_desc }
    }

    /// Copy up to `max` received packets into `out` (pooled packets, timestamps set). Reads
    /// shared memory only; returns how many were added.
    pub fn recv(&mut self, out: &mut Batch, max: usize, snaplen: usize, outgoing: bool) -> usize {
        let mut n = 0;
        while n < max {
            if self.left == 0 {
                let bd = self.block_desc(self.block);
                // SAFETY: the block descriptor lives in the mapping; the kernel writes
                // block_status last, so read it first and fence before reading the block.
                let status = unsafe { std::ptr::read_volatile(&(*bd).hdr.bh1.block_status) };
                if status & libc::TP_STATUS_USER == 0 {
                    break;
                }
                fence(Ordering::Acquire);
                // SAFETY: the block is ours until we hand it back.
                unsafe {
                    self.left = (*bd).hdr.bh1.num_pkts;
                    self.next = (bd as *const u8).add((*bd).hdr.bh1.offset_to_first_pkt as usize);
                }
                if self.left == 0 {
                    self.release_block();
                    continue;
                }
            }
            // SAFETY: `next` points at a tpacket3_hdr inside the current block.
            let h = unsafe { &*(self.next as *const libc::tpacket3_hdr) };
            let data = unsafe { std::slice::from_raw_parts(self.next.add(h.tp_mac as usize), h.tp_snaplen as usize) };
            // The link-level address that follows the header says whether we sent it.
            let sll = unsafe {
                &*(self.next.add(
                    (std::mem::size_of::<libc::tpacket3_hdr>() + libc::TPACKET_ALIGNMENT - 1)
                        & !(libc::TPACKET_ALIGNMENT - 1),
                ) as *const libc::sockaddr_ll)
            };
            let mine = sll.sll_pkttype == libc::PACKET_OUTGOING;
            if outgoing || !mine {
                let take = data.len().min(snaplen);
                let mut p = Packet::from_slice(&data[..take]);
                let a = p.anno_mut();
                a.timestamp_ns = h.tp_sec as u64 * 1_000_000_000 + h.tp_nsec as u64;
                // Linux numbers its packet types as Click does (host, broadcast, multicast, ...).
                a.set_packet_type(PacketType::from_u8(sll.sll_pkttype));
                let _ = out.push(p);
                n += 1;
            }
            self.left -= 1;
            if self.left == 0 {
                self.release_block();
            } else {
                // SAFETY: the kernel gives the offset of the next packet in the block.
                self.next = unsafe { self.next.add(h.tp_next_offset as usize) };
            }
        }
        n
    }

    fn release_block(&mut self) {
        let bd = self.block_desc(self.block);
        fence(Ordering::Release);
        // SAFETY: giving the block back to the kernel.
        unsafe { std::ptr::write_volatile(&mut (*bd).hdr.bh1.block_status, libc::TP_STATUS_KERNEL) };
        self.block = (self.block + 1) % BLOCK_COUNT;
        self.left = 0;
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping once.
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.map_len) };
    }
}

/// A transmit socket that sends a batch with one system call.
pub struct TxSocket {
    fd: OwnedFd,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    ifname: String,
}

// SAFETY: used by one worker at a time; the raw pointers in `iov`/`msgs` are rebuilt for
// every send and never outlive it.
unsafe impl Send for TxSocket {}

impl TxSocket {
    pub fn open(ifname: &str) -> io::Result<TxSocket> {
        let (fd, index) = packet_socket(ifname, false)?;
        bind(&fd, index, ifname)?;
        Ok(TxSocket {
            fd,
            iov: Vec::with_capacity(sluice::MAX_BATCH),
            msgs: Vec::with_capacity(sluice::MAX_BATCH),
            ifname: ifname.into(),
        })
    }

    /// Send every packet of `batch`; returns how many the kernel took.
    pub fn send(&mut self, batch: &Batch) -> io::Result<usize> {
        self.iov.clear();
        self.msgs.clear();
        for p in batch {
            self.iov.push(libc::iovec { iov_base: p.data().as_ptr() as *mut libc::c_void, iov_len: p.len() });
        }
        for iov in self.iov.iter_mut() {
            // SAFETY: a zeroed msghdr is valid; it points at one iovec.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            self.msgs.push(h);
        }
        let mut sent = 0;
        while sent < self.msgs.len() {
            // SAFETY: `msgs[sent..]` are valid headers pointing at live packet data.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    self.msgs.as_mut_ptr().add(sent),
                    (self.msgs.len() - sent) as u32,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if sent > 0 {
                    break;
                }
                return Err(io::Error::new(e.kind(), format!("cannot send on '{}': {e}", self.ifname)));
            }
            sent += r as usize;
        }
        Ok(sent)
    }
}

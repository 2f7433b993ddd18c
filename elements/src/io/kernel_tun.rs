//! `KernelTun` and `KernelTap`: packets to and from the host's own network stack through a
//! Linux tun (IP) or tap (Ethernet) device.

use super::tun::{self, Setup, TunDevice};
use sluice::args::Args;
use sluice::args::{EtherAddr, Ipv4Prefix};
use sluice::drops::DropCounts;
use sluice::packet::DEFAULT_HEADROOM;
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::io;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// KernelTun(ADDR/MASK [, GATEWAY, KEYWORDS])
    ///
    /// Exchanges IP packets with the host's kernel through a Linux tun device.
    ///
    /// Creates a tun device through Linux's universal TUN/TAP driver (`/dev/net/tun`,
    /// without packet information headers), gives it the kernel-side address ADDR and
    /// netmask MASK, and brings it up (with the ioctls Click uses: `SIOCSIFADDR`,
    /// `SIOCSIFNETMASK`, `SIOCSIFFLAGS`, no command is run), so that the kernel routes
    /// ADDR/MASK to it. If a nonzero GATEWAY is given (it must be inside ADDR/MASK), a
    /// default route through GATEWAY on the device is added (`SIOCADDRT`, what Click's
    /// `route -n add default gw GATEWAY` does). The device disappears, with its address and
    /// routes, when the router stops.
    ///
    /// Packets the kernel sends to the device come out output 0 as IP packets, without a
    /// link header, with the IP header annotation set (IPv4 or IPv6), the destination IP
    /// annotation set (IPv4) and the timestamp annotation set to the time they were read.
    /// A packet that is not a valid IP packet goes to output 1 if it is connected, else it
    /// is dropped and counted. Packets arriving on input 0 are handed to the kernel: each
    /// must have its IP header annotation set (e.g. by CheckIPHeader or MarkIPHeader), and
    /// whatever precedes the IP header is stripped. Packets without one, of an IP version
    /// other than 4 or 6, or longer than MTU are dropped and counted, as Click drops them.
    ///
    /// As in Click, packets sent to ADDR itself are the kernel's: to see packets, send them
    /// to another address in ADDR/MASK. With TAP true the element is a KernelTap.
    ///
    /// The driver takes and gives one packet per system call (a tun descriptor has no
    /// batched interface): a task run reads up to BURST packets, one `read` each, and stops
    /// at the first that finds nothing (the descriptor is non-blocking, the worker never
    /// waits); each packet written costs one `write`. With several workers the device has
    /// one queue per worker (`IFF_MULTI_QUEUE`) and the kernel spreads flows over them.
    ///
    /// As in Click, the router keeps running while the device is open: the element is a
    /// source, with or without an input. A STOP stops reading the device at once while the
    /// rest of the graph drains; with a pull input, packets still queued for the device
    /// then are not written.
    ///
    /// Ports: at most 1 input (agnostic: pushed packets are written at once, a pull input
    /// is pulled by the task, up to BURST per run); 1 or 2 outputs (push).
    ///
    /// # Keywords
    /// - `TAP` — boolean. Make a tap device and exchange Ethernet frames (KernelTap).
    ///   Default false.
    /// - `HEADROOM` — unsigned. Bytes left free in front of each packet read, for
    ///   encapsulation. At most 8192. Default 128 (Click's default is 28; more room changes
    ///   no packet).
    /// - `BURST` — unsigned, at least 1. Most packets read (and pulled) per task run.
    ///   Default 32 (Click's default is 1 per select wakeup; the packets emitted are the
    ///   same).
    /// - `ETHER` — Ethernet address. The device's Ethernet address (a tun device has none:
    ///   the failure is a warning, as in Click). Default: the kernel's choice.
    /// - `MTU` — unsigned, 20 to 65535. The device's MTU, link header not included; longer
    ///   packets are not written. Set on the device when not 1500. Default 1500.
    /// - `DEVNAME` — string. Name of the device to create (or attach to). Default: the
    ///   kernel's choice, `tun0`, `tun1`, ... `DEV_NAME` is a deprecated synonym.
    /// - `IGNORE_QUEUE_OVERFLOWS` — boolean. Log only the first ENOBUFS read or write
    ///   error. Default false.
    ///
    /// # Handlers
    /// - `dev_name` (read) — the device's name.
    /// - `packets` (read) — packets read from the device.
    /// - `selected_calls` (read) — task runs that found packets to read (Click: select
    ///   wakeups).
    /// - `sent` (read) — packets written to the device (Sluice only).
    /// - `drops` (read) — packets dropped (Sluice only).
    /// - `drop_details` (read) — those packets by reason.
    ///
    /// # Example
    /// ```text
    /// tun :: KernelTun(1.0.0.1/8);
    /// tun -> IPClassifier(icmp type echo) -> ICMPPingResponder -> tun;
    /// // ping 1.0.0.2: Sluice answers
    /// ```
    pub const KERNEL_TUN = "KernelTun" { ports: "0-1/1-2", processing: "a/h", handlers: HANDLERS, build: build_tun }
}

sluice::element_class! {
    /// KernelTap(ADDR/MASK [, GATEWAY, KEYWORDS])
    ///
    /// Exchanges Ethernet frames with the host's kernel through a Linux tap device.
    ///
    /// KernelTun with TAP true, and the same arguments: creates a tap device (ARP on) with
    /// kernel-side address ADDR and netmask MASK, brings it up, optionally adds a default
    /// route through GATEWAY. Frames the kernel sends on the device come out output 0,
    /// Ethernet header first, with the timestamp annotation set. Frames arriving on input 0
    /// are written to the device: each must be at least an Ethernet header long and carry
    /// at most MTU bytes after it, else it is dropped and counted.
    ///
    /// The kernel resolves addresses on the device with ARP: answer its queries (e.g. with
    /// ARPResponder) and address frames to the device's Ethernet address (set it with
    /// ETHER), or the kernel ignores them.
    ///
    /// Ports: at most 1 input (agnostic); 1 or 2 outputs (push).
    ///
    /// # Keywords
    /// As KernelTun (TAP defaults to true).
    ///
    /// # Handlers
    /// - `dev_name` (read) — the device's name.
    /// - `packets` (read) — frames read from the device.
    /// - `selected_calls` (read) — task runs that found frames to read.
    /// - `sent` (read) — frames written to the device (Sluice only).
    /// - `drops` (read) — frames dropped (Sluice only).
    /// - `drop_details` (read) — those frames by reason.
    ///
    /// # Example
    /// ```text
    /// tap0 :: KernelTap(192.0.0.1/8, ETHER 2:0:0:0:0:1)
    ///     -> fromhost_cl :: Classifier(12/0806, 12/0800);
    /// fromhost_cl[0] -> ARPResponder(0.0.0.0/0 1:1:1:1:1:1) -> tap0;
    /// fromhost_cl[1] -> Discard; // IP packets
    /// ```
    pub const KERNEL_TAP = "KernelTap" { ports: "0-1/1-2", processing: "a/h", handlers: HANDLERS, build: build_tap }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("dev_name", Combine::First, "the device's name"),
    HandlerSpec::read("packets", Combine::Sum, "packets read from the device"),
    HandlerSpec::read("selected_calls", Combine::Sum, "task runs that found packets to read"),
    HandlerSpec::read("sent", Combine::Sum, "packets written to the device"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::Sum, "dropped packets by reason"),
];

const NOT_IP: usize = 0;
const TOO_SMALL: usize = 1;
const NO_NETWORK_HEADER: usize = 2;
const BAD_IP_VERSION: usize = 3;
const TOO_LONG: usize = 4;
const WRITE_FAILED: usize = 5;
const REASONS: &[&str] = &[
    "not an IP packet, read from the device (no output 1)",
    "packet too small (shorter than an Ethernet header)",
    "no network header (IP header annotation missing or shorter than 20 bytes)",
    "unknown IP version",
    "packet larger than MTU",
    "write to the device failed",
];

/// Click's KernelTun default MTU; only other values are set on the device.
const DEFAULT_MTU: u32 = 1500;
const ETHER_HEADER: usize = 14;

/// The configuration, as Click's KernelTun reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub addr: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub gateway: Option<Ipv4Addr>,
    pub tap: bool,
    pub headroom: usize,
    pub burst: usize,
    pub ether: Option<[u8; 6]>,
    pub mtu: u32,
    pub devname: Option<String>,
    pub ignore_queue_overflows: bool,
}

/// Read a KernelTun/KernelTap configuration; `tap` is the class's default for TAP.
pub fn parse_config(config: &str, tap: bool) -> Result<Config, ConfigError> {
    let mut a = Args::new(config);
    let addr: String = a.read_mp("ADDR")?;
    let gateway = a.read_p::<Ipv4Addr>("GATEWAY")?;
    let tap = a.read_kw::<bool>("TAP")?.unwrap_or(tap);
    let headroom = a.read_kw::<u64>("HEADROOM")?;
    let burst = a.read_kw::<u64>("BURST")?.unwrap_or(32);
    let ether = a.read_kw::<EtherAddr>("ETHER")?;
    let ignore_queue_overflows = a.read_kw::<bool>("IGNORE_QUEUE_OVERFLOWS")?.unwrap_or(false);
    let mtu = a.read_kw::<u64>("MTU")?.unwrap_or(DEFAULT_MTU as u64);
    let dev_name_old = a.read_kw::<String>("DEV_NAME")?;
    let devname = a.read_kw::<String>("DEVNAME")?.or(dev_name_old);
    a.finish()?;
    // Click's IPPrefixArg(): ADDR/MASK, not a bare address.
    let prefix = Ipv4Prefix::parse_net(&addr).map_err(|e| format!("ADDR: {e}"))?;
    let (addr, mask) = (prefix.addr, prefix.mask());
    let gateway = gateway.filter(|g| !g.is_unspecified());
    if let Some(g) = gateway {
        if !prefix.contains(g) {
            return Err(format!("bad GATEWAY: {g} is not in {prefix}").into());
        }
    }
    if burst < 1 {
        return Err("BURST must be >= 1".into());
    }
    if mtu < 20 {
        return Err("MTU must be greater than 20".into());
    }
    if mtu > 65535 {
        return Err(format!("MTU {mtu} is too big: a tun/tap device's MTU is at most 65535").into());
    }
    let headroom = match headroom {
        Some(h) if h > 8192 => return Err("HEADROOM too big".into()),
        Some(h) => h as usize,
        None => DEFAULT_HEADROOM,
    };
    if let Some(n) = &devname {
        if n.is_empty() || n.len() >= libc::IFNAMSIZ || n.contains(['/', ' ', '\0']) {
            return Err(format!(
                "DEVNAME '{n}' is not a valid interface name (1 to {} characters, no '/' or spaces)",
                libc::IFNAMSIZ - 1
            )
            .into());
        }
    }
    Ok(Config {
        addr,
        mask,
        gateway,
        tap,
        headroom,
        burst: burst.min(usize::MAX as u64) as usize,
        ether: ether.map(|e| e.0),
        mtu: mtu as u32,
        devname,
        ignore_queue_overflows,
    })
}

fn build_tun(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    build(config, ctx, false)
}

fn build_tap(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    build(config, ctx, true)
}

fn build(config: &str, ctx: &BuildCtx, tap: bool) -> Result<Box<dyn Element>, ConfigError> {
    let cfg = parse_config(config, tap)?;
    let class = if ctx.class.is_empty() {
        if tap {
            "KernelTap"
        } else {
            "KernelTun"
        }
    } else {
        ctx.class
    };
    Ok(Box::new(KernelTun::new(cfg, class, &ctx.name)))
}

/// Device names made by worker 0, for the other workers' queues: (building thread, element
/// name, device name). Every worker's instance of a graph is initialized in turn on one
/// thread, worker 0 first.
static QUEUES: Mutex<Vec<(std::thread::ThreadId, String, String)>> = Mutex::new(Vec::new());

/// The element: one device queue per worker.
pub struct KernelTun {
    class: &'static str,
    name: String,
    cfg: Config,
    /// Bytes read per packet: the MTU, plus the Ethernet header for a tap.
    mtu_in: usize,
    dev: Option<TunDevice>,
    dev_name: String,
    pull_input: bool,
    packets: u64,
    selected_calls: u64,
    sent: u64,
    drops: DropCounts,
    printed_read_err: bool,
    printed_write_err: bool,
}

/// Click's `fake_pcap_force_ip` for raw IP: set the IP header annotation (and the
/// destination IP annotation for IPv4) of a packet that starts with a plausible IPv4 or
/// IPv6 header.
fn force_ip(p: &mut Packet) -> bool {
    let d = p.data();
    match d.first().map(|b| b >> 4) {
        Some(4) => {
            let hl = (d[0] & 0x0f) as usize * 4;
            if hl < 20 || hl > d.len() {
                return false;
            }
            let dst = [d[16], d[17], d[18], d[19]];
            p.set_network_header(0, hl);
            p.anno_mut().dst_ip = dst;
            true
        }
        Some(6) if d.len() >= 40 => {
            p.set_network_header(0, 40);
            true
        }
        _ => false,
    }
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl KernelTun {
    fn new(cfg: Config, class: &'static str, name: &str) -> KernelTun {
        KernelTun {
            class,
            name: name.to_string(),
            mtu_in: cfg.mtu as usize + if cfg.tap { ETHER_HEADER } else { 0 },
            cfg,
            dev: None,
            dev_name: String::new(),
            pull_input: false,
            packets: 0,
            selected_calls: 0,
            sent: 0,
            drops: DropCounts::new(REASONS),
            printed_read_err: false,
            printed_write_err: false,
        }
    }

    fn open(&mut self, worker: usize, nworkers: usize) -> Result<(), String> {
        let key = (std::thread::current().id(), self.name.clone());
        if worker > 0 {
            let mut q = QUEUES.lock().unwrap_or_else(|e| e.into_inner());
            let Some(i) = q.iter().position(|(t, n, _)| (t, n) == (&key.0, &key.1)) else {
                return Err("worker 0's device is missing: workers must be initialized in turn".into());
            };
            let name = if worker + 1 == nworkers { q.swap_remove(i).2 } else { q[i].2.clone() };
            drop(q);
            let dev = TunDevice::open(self.cfg.tap, Some(&name), true).map_err(|e| e.to_string())?;
            self.dev_name = name;
            self.dev = Some(dev);
            return Ok(());
        }
        let dev =
            TunDevice::open(self.cfg.tap, self.cfg.devname.as_deref(), nworkers > 1).map_err(|e| e.to_string())?;
        let setup = Setup {
            addr: self.cfg.addr,
            mask: self.cfg.mask,
            ether: self.cfg.ether,
            mtu: (self.cfg.mtu != DEFAULT_MTU).then_some(self.cfg.mtu),
            tap: self.cfg.tap,
        };
        for w in tun::setup(dev.name(), &setup).map_err(|e| e.to_string())? {
            tracing::warn!("{}({}): {w}", self.class, dev.name());
        }
        if let Some(gw) = self.cfg.gateway {
            tun::add_default_route(dev.name(), gw).map_err(|e| e.to_string())?;
        }
        self.dev_name = dev.name().to_string();
        if nworkers > 1 {
            let mut q = QUEUES.lock().unwrap_or_else(|e| e.into_inner());
            q.retain(|(t, n, _)| (t, n) != (&key.0, &key.1));
            q.push((key.0, key.1, self.dev_name.clone()));
        }
        self.dev = Some(dev);
        Ok(())
    }

    /// Read up to BURST packets; returns how many were read.
    fn receive(&mut self, ctx: &mut Ctx<'_>) -> usize {
        let Some(dev) = self.dev.as_ref() else { return 0 };
        let second = ctx.noutputs() > 1;
        let (mut out, mut other) = (Batch::new(), Batch::new());
        let mut now = 0;
        let mut n = 0;
        while n < self.cfg.burst {
            let mut p = Packet::with_room(self.cfg.headroom, self.mtu_in, 0);
            let len = match dev.read(p.data_mut()) {
                Ok(0) => break,
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    let enobufs = e.raw_os_error() == Some(libc::ENOBUFS);
                    if !enobufs || !self.cfg.ignore_queue_overflows || !self.printed_read_err {
                        self.printed_read_err = true;
                        tracing::warn!("{}({}): read failed: {e}", self.class, self.dev_name);
                    }
                    break;
                }
            };
            n += 1;
            p.take(self.mtu_in - len);
            if self.cfg.tap || force_ip(&mut p) {
                if now == 0 {
                    now = now_ns();
                }
                p.anno_mut().timestamp_ns = now;
                let _ = out.push(p);
                if out.is_full() {
                    ctx.push(0, std::mem::take(&mut out));
                }
            } else if second {
                let _ = other.push(p);
                if other.is_full() {
                    ctx.push(1, std::mem::take(&mut other));
                }
            } else {
                self.drops.count(NOT_IP, 1);
            }
        }
        ctx.push(0, out);
        if second {
            ctx.push(1, other);
        }
        if n > 0 {
            self.packets += n as u64;
            self.selected_calls += 1;
        }
        n
    }

    /// Write every packet of `batch` to the device, one `write` each.
    fn send(&mut self, batch: Batch) {
        for p in &batch {
            let data = if self.cfg.tap {
                if p.len() < ETHER_HEADER {
                    self.drops.count(TOO_SMALL, 1);
                    continue;
                }
                if p.len() - ETHER_HEADER > self.cfg.mtu as usize {
                    self.drops.count(TOO_LONG, 1);
                    continue;
                }
                p.data()
            } else {
                // Click writes from the IP header on, stripping any link header.
                let Some(ip) = p.network_header().filter(|h| h.len() >= 20) else {
                    self.drops.count(NO_NETWORK_HEADER, 1);
                    continue;
                };
                if !matches!(ip[0] >> 4, 4 | 6) {
                    self.drops.count(BAD_IP_VERSION, 1);
                    continue;
                }
                if ip.len() > self.cfg.mtu as usize {
                    self.drops.count(TOO_LONG, 1);
                    continue;
                }
                ip
            };
            let r = match self.dev.as_ref() {
                Some(dev) => dev.write(data),
                None => Err(io::Error::from_raw_os_error(libc::EBADF)),
            };
            match r {
                Ok(w) if w == data.len() => self.sent += 1,
                r => {
                    self.drops.count(WRITE_FAILED, 1);
                    let e = r.err();
                    let enobufs = e.as_ref().and_then(|e| e.raw_os_error()) == Some(libc::ENOBUFS);
                    if !enobufs || !self.cfg.ignore_queue_overflows || !self.printed_write_err {
                        self.printed_write_err = true;
                        let why = e.map_or_else(|| "short write".to_string(), |e| e.to_string());
                        tracing::warn!("{}({}): write failed: {why}", self.class, self.dev_name);
                    }
                }
            }
        }
    }
}

impl Element for KernelTun {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.open(ctx.worker, ctx.nworkers)?;
        self.pull_input = ctx.input_pull.first().copied().unwrap_or(false);
        // A device is a source even with an input: the graph runs while it is open, and a
        // STOP stops reading it at once.
        ctx.schedule_source_task();
        Ok(())
    }

    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        self.send(batch);
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let got = self.receive(&mut ctx);
        let mut moved = false;
        if self.pull_input {
            let mut left = self.cfg.burst;
            while left > 0 {
                let b = ctx.pull(0, left.min(MAX_BATCH));
                if b.is_empty() {
                    break;
                }
                left = left.saturating_sub(b.len());
                moved = true;
                self.send(b);
            }
        }
        if got > 0 || moved {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "dev_name" => Some(self.dev_name.clone()),
            "packets" => Some(self.packets.to_string()),
            "selected_calls" => Some(self.selected_calls.to_string()),
            "sent" => Some(self.sent.to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn cleanup(&mut self) {
        // Closing the last queue deletes the device, its address and its routes.
        self.dev = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(config: &str) -> String {
        parse_config(config, false).expect_err("refused").0
    }

    #[test]
    fn configuration_as_click_reads_it() {
        let c = parse_config("10.9.0.1/24", false).unwrap();
        assert_eq!(c.addr, Ipv4Addr::new(10, 9, 0, 1));
        assert_eq!(c.mask, Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!((c.gateway, c.tap, c.mtu, c.burst, c.headroom), (None, false, 1500, 32, DEFAULT_HEADROOM));
        let c = parse_config(
            "10.9.0.1/255.255.0.0, 10.9.3.4, HEADROOM 64, BURST 8, ETHER 2:0:0:0:0:1, MTU 1400, \
             IGNORE_QUEUE_OVERFLOWS true, DEVNAME slt0",
            false,
        )
        .unwrap();
        assert_eq!(c.mask, Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(c.gateway, Some(Ipv4Addr::new(10, 9, 3, 4)));
        assert_eq!((c.headroom, c.burst, c.mtu), (64, 8, 1400));
        assert_eq!(c.ether, Some([2, 0, 0, 0, 0, 1]));
        assert!(c.ignore_queue_overflows);
        assert_eq!(c.devname.as_deref(), Some("slt0"));
        // KernelTap is KernelTun with TAP true; TAP can still be given.
        assert!(parse_config("10.0.0.1/8", true).unwrap().tap);
        assert!(parse_config("10.0.0.1/8, TAP true", false).unwrap().tap);
        assert!(!parse_config("10.0.0.1/8, TAP false", true).unwrap().tap);
        // The deprecated DEV_NAME, and a zero GATEWAY (Click: none).
        assert_eq!(parse_config("10.0.0.1/8, DEV_NAME x0", false).unwrap().devname.as_deref(), Some("x0"));
        assert_eq!(parse_config("10.0.0.1/8, 0.0.0.0", false).unwrap().gateway, None);
    }

    #[test]
    fn bad_configurations_are_refused_with_a_reason() {
        assert!(refused("").contains("ADDR"), "{}", refused(""));
        assert!(refused("10.9.0.1").contains("ADDR"), "a bare address is not a prefix");
        assert!(refused("10.9.0.1/24, 10.8.0.1").contains("bad GATEWAY"));
        assert!(refused("10.9.0.1/24, BURST 0").contains("BURST must be >= 1"));
        assert!(refused("10.9.0.1/24, MTU 10").contains("MTU must be greater than 20"));
        assert!(refused("10.9.0.1/24, MTU 70000").contains("at most 65535"));
        assert!(refused("10.9.0.1/24, HEADROOM 9000").contains("HEADROOM too big"));
        assert!(refused("10.9.0.1/24, DEVNAME averyveryverylongname").contains("not a valid interface name"));
        assert!(refused("10.9.0.1/24, ETHER nope").contains("ETHER"), "{}", refused("10.9.0.1/24, ETHER nope"));
        assert!(refused("10.9.0.1/24, SNAPLEN 3").contains("SNAPLEN"));
    }

    #[test]
    fn classes_build() {
        assert!(sluice::testing::build(&KERNEL_TUN, "10.9.0.1/24", 1, 1).is_ok());
        assert!(sluice::testing::build(&KERNEL_TAP, "10.9.0.1/24, ETHER 2:0:0:0:0:1", 1, 2).is_ok());
    }

    #[test]
    fn force_ip_marks_ip_headers_and_refuses_the_rest() {
        let mut v4 = vec![0u8; 28];
        v4[0] = 0x45;
        v4[16..20].copy_from_slice(&[10, 9, 0, 2]);
        let mut p = Packet::from_slice(&v4);
        assert!(force_ip(&mut p));
        assert_eq!(p.network_header_offset(), Some(0));
        assert_eq!(p.transport_header_offset(), Some(20));
        assert_eq!(p.anno().dst_ip, [10, 9, 0, 2]);
        let mut opts = v4.clone();
        opts[0] = 0x4f; // 60-byte header in a 28-byte packet
        assert!(!force_ip(&mut Packet::from_slice(&opts)));
        let mut short = v4.clone();
        short[0] = 0x44; // header length 16
        assert!(!force_ip(&mut Packet::from_slice(&short)));
        let mut v6 = vec![0u8; 40];
        v6[0] = 0x60;
        let mut p = Packet::from_slice(&v6);
        assert!(force_ip(&mut p));
        assert_eq!(p.transport_header_offset(), Some(40));
        assert!(!force_ip(&mut Packet::from_slice(&v6[..39])));
        assert!(!force_ip(&mut Packet::from_slice(&[0x10, 0, 0])));
        assert!(!force_ip(&mut Packet::from_slice(&[])));
    }

    /// Packets that cannot be written are dropped and counted without touching a device.
    #[test]
    fn malformed_packets_are_counted_not_written() {
        let mut e = KernelTun::new(parse_config("10.9.0.1/24, MTU 100", false).unwrap(), "KernelTun", "t");
        let mut b = Batch::new();
        let _ = b.push(Packet::from_slice(&[0x45; 40])); // no annotation
        let mut v5 = Packet::from_slice(&[0x55; 40]);
        v5.set_network_header(0, 20);
        let _ = b.push(v5);
        let mut long = Packet::from_slice(&[0x45; 140]);
        long.set_network_header(0, 20);
        let _ = b.push(long);
        let mut tiny = Packet::from_slice(&[0x45; 30]);
        tiny.set_network_header(14, 16);
        let _ = b.push(tiny);
        e.send(b);
        assert_eq!(e.drops.get(NO_NETWORK_HEADER), 2);
        assert_eq!(e.drops.get(BAD_IP_VERSION), 1);
        assert_eq!(e.drops.get(TOO_LONG), 1);
        e.cfg.tap = true;
        let mut b = Batch::new();
        let _ = b.push(Packet::from_slice(&[0; 13]));
        let _ = b.push(Packet::from_slice(&[0; 14 + 101]));
        let _ = b.push(Packet::from_slice(&[0; 60])); // well formed: no device, write fails
        e.send(b);
        assert_eq!(e.drops.get(TOO_SMALL), 1);
        assert_eq!(e.drops.get(TOO_LONG), 2);
        assert_eq!(e.drops.get(WRITE_FAILED), 1);
        assert_eq!(e.read_handler("drops").unwrap(), "7");
        assert_eq!(e.sent, 0);
    }
}

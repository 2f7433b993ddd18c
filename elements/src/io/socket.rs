//! `Socket`: packets carried over TCP, UDP and Unix-domain sockets (Click's userlevel
//! Socket element).

use super::set_extra_length_anno;
use sluice::args::{split_args, Args, FromArg, Ipv4Prefix};
use sluice::drops::DropCounts;
use sluice::packet::DEFAULT_HEADROOM;
use sluice::{
    Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, TaskStatus, MAX_BATCH,
};
use std::collections::VecDeque;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{SystemTime, UNIX_EPOCH};

sluice::element_class! {
    /// Socket(TYPE, ADDR, PORT [, LOCAL_ADDR, LOCAL_PORT, KEYWORDS])
    ///
    /// A socket transport (user-level).
    ///
    /// Transports packets over TCP, UDP or Unix-domain sockets:
    /// `Socket(TCP, ADDR, PORT [, LOCAL_ADDR, LOCAL_PORT])`,
    /// `Socket(UDP, ADDR, PORT [, LOCAL_ADDR, LOCAL_PORT])`,
    /// `Socket(UNIX, FILENAME [, LOCAL_FILENAME])`,
    /// `Socket(UNIX_DGRAM, FILENAME [, LOCAL_FILENAME])` (TYPE in any case). Packets do not
    /// flow through Socket elements: packets arriving on the input are sent to a remote host
    /// or process, and data received from it is emitted on the output.
    ///
    /// A Socket of type TCP or UNIX is either a server (the default unless CLIENT is set,
    /// or the element has no output) or a client. A server binds the address/port/file,
    /// listens (backlog 2) and accepts connections one at a time: the next is accepted when
    /// the current one ends. A client connects to the address/port/file when the router is
    /// initialized; if that fails the router does not start, and, as in Click, a client
    /// whose connection ends does not reconnect (its task ends, and packets sent to it are
    /// dropped and counted).
    ///
    /// A Socket of type UDP or UNIX_DGRAM is also a server or a client. A datagram server
    /// receives from any host or process, and sends input packets to the last one that
    /// sent it a datagram (before any, to ADDR/PORT as configured, as Click does). A
    /// client sends input packets to ADDR/PORT (or FILENAME). As in Click, a UDP client
    /// configured with ADDR 0.0.0.0 sends each packet to its destination IP annotation, at
    /// PORT.
    ///
    /// With a local address (LOCAL_PORT nonzero, or LOCAL_FILENAME), a client binds it
    /// before connecting; a server ignores it (this is what Click does, although its
    /// documentation says the local arguments imply CLIENT).
    ///
    /// Output 0 emits what is received, as Click emits it: for TCP and UNIX the bytes one
    /// `read` returned (up to SNAPLEN) make one packet; for UDP and UNIX_DGRAM each
    /// datagram is one packet, cut to SNAPLEN with the missing length in the extra length
    /// annotation. Packets get HEADROOM bytes of headroom and, with TIMESTAMP, the time
    /// they were read. As in Click, an element without an output neither reads nor
    /// accepts connections.
    ///
    /// The input is agnostic. Every descriptor is non-blocking and the worker never waits:
    /// where Click blocks a pushed packet until the socket can take it, Sluice keeps what
    /// the socket cannot take now (the rest of a partly written packet included) in a send
    /// queue of at most SEND_QUEUE packets, written first on the task's next runs; packets
    /// arriving while it is full are dropped and counted. A pull input is pulled only
    /// while there is a connection and the socket takes everything (Click's behaviour,
    /// with up to BURST packets per task run). Stream data is sent with `MSG_NOSIGNAL`: a
    /// peer that went away ends the connection, never the process.
    ///
    /// Errors: a stream connection that ends (peer closed, reset, write error) is closed;
    /// the packets queued for it are dropped and counted. Unlike Click, which closes the
    /// socket on any error, a datagram socket stays open: a datagram that cannot be sent
    /// (too long, unreachable, no permission) is dropped and counted, and an empty
    /// datagram received is dropped and counted (Click closes the socket on one).
    ///
    /// ALLOW and DENY name route-table elements (RadixIPLookup, DirectIPLookup,
    /// LinearIPLookup, StaticIPLookup): a server accepts a connection (or a datagram) from
    /// a source address found in ALLOW, else refuses it if the address is found in DENY,
    /// else accepts it. Sluice reads the routes from those elements' configurations; routes
    /// added later through their handlers are not seen.
    ///
    /// With several workers only worker 0's instance opens the socket; packets reaching
    /// the instances of other workers are dropped and counted. A Socket with an output is
    /// a source: the router keeps running while it is open (a server always; a client
    /// until its connection ends).
    ///
    /// Ports: at most 1 input (agnostic), at most 1 output (push).
    ///
    /// # Keywords
    /// - `TYPE` — word, mandatory, positional. `TCP`, `UDP`, `UNIX` or `UNIX_DGRAM`.
    /// - `ADDR` — IPv4 address, mandatory, positional (TCP, UDP). The address to bind
    ///   (server) or to connect or send to (client).
    /// - `PORT` — port number, mandatory, positional (TCP, UDP).
    /// - `LOCAL_ADDR`, `LOCAL_PORT` — positional (TCP, UDP). A client's local address;
    ///   bound only when LOCAL_PORT is nonzero, as in Click.
    /// - `FILENAME`, `LOCAL_FILENAME` — positional (UNIX, UNIX_DGRAM), in place of the four
    ///   above. Shorter than 108 bytes.
    /// - `CLIENT` — boolean. Connect (client) rather than bind and listen (server). Default
    ///   false, or true when the element has no output.
    /// - `SNAPLEN` — unsigned. Most bytes per packet received. Default 2048.
    /// - `HEADROOM` — unsigned, at most 8192. Headroom of packets received. Default 128
    ///   (Click's default is 28; more room changes no packet).
    /// - `TIMESTAMP` — boolean. Set the timestamp annotation of packets received to the
    ///   time they were read. Default true.
    /// - `NODELAY` — boolean (or integer, as Click reads it). TCP only: disable Nagle's
    ///   algorithm. Default true.
    /// - `RCVBUF`, `SNDBUF` — integer. The socket's receive and send buffer sizes
    ///   (`SO_RCVBUF`, `SO_SNDBUF`). Default: the system's.
    /// - `VERBOSE` — boolean. Log connections opened, refused and closed, and errors.
    ///   Default false.
    /// - `PROPER` — boolean. PlanetLab's Proper port binding; accepted and ignored (Click
    ///   ignores it too unless built with Proper).
    /// - `ALLOW`, `DENY` — element names. Route tables of allowed and denied clients.
    /// - `BURST` — unsigned, at least 1. Most packets read, and pulled, per task run
    ///   (Sluice only; Click reads one per select wakeup). Default 32.
    /// - `SEND_QUEUE` — unsigned, at least 1. Most packets waiting for the socket to take
    ///   them (Sluice only). Default 256.
    ///
    /// # Handlers
    /// - `received` (read) — packets emitted (Sluice only).
    /// - `sent` (read) — packets sent whole (Sluice only).
    /// - `connections` (read) — connections accepted or opened (Sluice only).
    /// - `connected` (read) — whether there is a connection (or an open datagram socket)
    ///   now (Sluice only).
    /// - `queue_length` (read) — packets in the send queue (Sluice only).
    /// - `drops` (read) — packets dropped (Sluice only).
    /// - `drop_details` (read) — those packets by reason.
    ///
    /// # Example
    /// ```text
    /// // A server socket
    /// Socket(TCP, 0.0.0.0, 80) -> ...
    /// // A client socket
    /// ... -> Socket(TCP, 1.2.3.4, 80)
    /// // A bi-directional client socket bound to a particular local port
    /// ... -> Socket(TCP, 1.2.3.4, 80, 0.0.0.0, 54321, CLIENT true) -> ...
    /// // A UDP echo server
    /// s :: Socket(UDP, 0.0.0.0, 7777) -> Queue -> s;
    /// ```
    pub const SOCKET = "Socket" { ports: "0-1/0-1", processing: "a/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("received", Combine::Sum, "packets emitted"),
    HandlerSpec::read("sent", Combine::Sum, "packets sent whole"),
    HandlerSpec::read("connections", Combine::Sum, "connections accepted or opened"),
    HandlerSpec::read("connected", Combine::First, "whether there is a connection now"),
    HandlerSpec::read("queue_length", Combine::Sum, "packets in the send queue"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::Sum, "dropped packets by reason"),
];

const NO_CONNECTION: usize = 0;
const QUEUE_FULL: usize = 1;
const CONNECTION_LOST: usize = 2;
const SEND_FAILED: usize = 3;
const EMPTY_DATAGRAM: usize = 4;
const DENIED: usize = 5;
const OTHER_WORKER: usize = 6;
const REASONS: &[&str] = &[
    "no connection to send on",
    "send queue full",
    "connection ended with the packet unsent",
    "datagram could not be sent",
    "empty datagram received",
    "datagram from a denied address received",
    "reached a worker other than worker 0 (only worker 0 has the socket)",
];

/// Route-table classes ALLOW and DENY may name.
const ROUTE_TABLES: &[&str] = &["RadixIPLookup", "DirectIPLookup", "LinearIPLookup", "StaticIPLookup", "IPRouteTable"];

/// How long a client's connect may take in `initialize` (Click waits as long as the
/// kernel does).
const CONNECT_TIMEOUT_MS: i32 = 30_000;

/// The configuration, as Click's Socket reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub unix: bool,
    pub stream: bool,
    pub remote_ip: Ipv4Addr,
    pub remote_port: u16,
    pub local_ip: Ipv4Addr,
    pub local_port: u16,
    pub remote_path: String,
    pub local_path: String,
    pub client: bool,
    pub snaplen: usize,
    pub headroom: usize,
    pub timestamp: bool,
    pub nodelay: bool,
    pub rcvbuf: Option<i32>,
    pub sndbuf: Option<i32>,
    pub verbose: bool,
    pub burst: usize,
    pub send_queue: usize,
    pub allow: Option<Vec<Ipv4Prefix>>,
    pub deny: Option<Vec<Ipv4Prefix>>,
}

/// NODELAY: Click reads an integer; its documentation says boolean. Both are accepted.
struct Flag(bool);

impl FromArg for Flag {
    const DESCRIPTION: &'static str = "boolean";
    fn from_arg(s: &str) -> Result<Self, String> {
        bool::from_arg(s).map(Flag).or_else(|e| i64::from_arg(s).map(|n| Flag(n != 0)).map_err(|_| e))
    }
}

/// The prefixes a route-table element's configuration names (`ADDR/MASK [GW] OUT` each).
fn route_table(ctx: &BuildCtx, keyword: &str, name: &str) -> Result<Vec<Ipv4Prefix>, ConfigError> {
    let e = ctx.require_element(name).map_err(|e| ConfigError(format!("{keyword}: {e}")))?;
    if !ROUTE_TABLES.contains(&e.class.as_str()) {
        return Err(ConfigError(format!("{keyword}: {} is not an IPRouteTable", e.name)));
    }
    let mut out = Vec::new();
    for route in split_args(&e.config) {
        let Some(prefix) = route.split_whitespace().next() else { continue };
        out.push(Ipv4Prefix::from_arg(prefix).map_err(|err| ConfigError(format!("{keyword}: {}: {err}", e.name)))?);
    }
    Ok(out)
}

/// Read a Socket configuration; `noutputs` decides CLIENT's default, as in Click.
pub fn parse_config(config: &str, ctx: &BuildCtx) -> Result<Config, ConfigError> {
    let mut a = Args::new(config);
    let ty: String = a.read_mp("TYPE")?;
    let verbose = a.read_kw::<bool>("VERBOSE")?.unwrap_or(false);
    let snaplen = a.read_kw::<u32>("SNAPLEN")?.unwrap_or(2048) as usize;
    let headroom = a.read_kw::<u32>("HEADROOM")?.map_or(DEFAULT_HEADROOM, |h| h as usize);
    let timestamp = a.read_kw::<bool>("TIMESTAMP")?.unwrap_or(true);
    let rcvbuf = a.read_kw::<i32>("RCVBUF")?.filter(|&n| n >= 0);
    let sndbuf = a.read_kw::<i32>("SNDBUF")?.filter(|&n| n >= 0);
    let nodelay = a.read_kw::<Flag>("NODELAY")?.is_none_or(|f| f.0);
    let client = a.read_kw::<bool>("CLIENT")?.unwrap_or(ctx.noutputs == 0);
    let _proper = a.read_kw::<bool>("PROPER")?;
    let allow = a.read_kw::<String>("ALLOW")?;
    let deny = a.read_kw::<String>("DENY")?;
    let burst = a.read_kw::<u32>("BURST")?.unwrap_or(32) as usize;
    let send_queue = a.read_kw::<u32>("SEND_QUEUE")?.unwrap_or(256) as usize;
    let (unix, stream) = match ty.to_ascii_uppercase().as_str() {
        "TCP" => (false, true),
        "UDP" => (false, false),
        "UNIX" => (true, true),
        "UNIX_DGRAM" => (true, false),
        _ => return Err(ConfigError(format!("unknown socket type `{ty}'"))),
    };
    let mut c = Config {
        unix,
        stream,
        remote_ip: Ipv4Addr::UNSPECIFIED,
        remote_port: 0,
        local_ip: Ipv4Addr::UNSPECIFIED,
        local_port: 0,
        remote_path: String::new(),
        local_path: String::new(),
        client,
        snaplen,
        headroom,
        timestamp,
        nodelay,
        rcvbuf,
        sndbuf,
        verbose,
        burst,
        send_queue,
        allow: None,
        deny: None,
    };
    if unix {
        c.remote_path = a.read_mp("FILENAME")?;
        c.local_path = a.read_p("LOCAL_FILENAME")?.unwrap_or_default();
        a.finish()?;
        let max = std::mem::size_of::<libc::sockaddr_un>() - std::mem::size_of::<libc::sa_family_t>();
        for (what, p) in [("remote", &c.remote_path), ("local", &c.local_path)] {
            if p.len() >= max || p.contains('\0') {
                return Err(ConfigError(format!("{what} filename '{p}' too long")));
            }
        }
        if c.remote_path.is_empty() {
            return Err(ConfigError("FILENAME must not be empty".into()));
        }
    } else {
        c.remote_ip = a.read_mp("ADDR")?;
        c.remote_port = a.read_mp("PORT")?;
        c.local_ip = a.read_p("LOCAL_ADDR")?.unwrap_or(Ipv4Addr::UNSPECIFIED);
        c.local_port = a.read_p("LOCAL_PORT")?.unwrap_or(0);
        a.finish()?;
    }
    if snaplen == 0 {
        return Err(ConfigError("SNAPLEN must be at least 1".into()));
    }
    if snaplen > 65536 {
        return Err(ConfigError(format!("SNAPLEN {snaplen} too big (at most 65536)")));
    }
    if headroom > 8192 {
        return Err(ConfigError("HEADROOM too big".into()));
    }
    if burst == 0 {
        return Err(ConfigError("BURST must be >= 1".into()));
    }
    if send_queue == 0 {
        return Err(ConfigError("SEND_QUEUE must be >= 1".into()));
    }
    if let Some(n) = allow {
        c.allow = Some(route_table(ctx, "ALLOW", &n)?);
    }
    if let Some(n) = deny {
        c.deny = Some(route_table(ctx, "DENY", &n)?);
    }
    Ok(c)
}

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let cfg = parse_config(config, ctx)?;
    Ok(Box::new(Socket::new(cfg, &ctx.name, ctx.noutputs > 0)))
}

/// A socket address (IPv4 or Unix), as the system calls take it.
#[derive(Clone, Copy)]
struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    fn empty() -> SockAddr {
        // SAFETY: all-zero bytes are a valid sockaddr_storage.
        SockAddr { storage: unsafe { std::mem::zeroed() }, len: std::mem::size_of::<libc::sockaddr_storage>() as _ }
    }

    fn inet(ip: Ipv4Addr, port: u16) -> SockAddr {
        let mut a = SockAddr::empty();
        // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
        let sin = unsafe { &mut *(&mut a.storage as *mut _ as *mut libc::sockaddr_in) };
        sin.sin_family = libc::AF_INET as _;
        sin.sin_port = port.to_be();
        sin.sin_addr.s_addr = u32::from_ne_bytes(ip.octets());
        a.len = std::mem::size_of::<libc::sockaddr_in>() as _;
        a
    }

    fn unix(path: &str) -> SockAddr {
        let mut a = SockAddr::empty();
        // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_un.
        let sun = unsafe { &mut *(&mut a.storage as *mut _ as *mut libc::sockaddr_un) };
        sun.sun_family = libc::AF_UNIX as _;
        // The length was checked against sun_path when configured.
        for (d, s) in sun.sun_path.iter_mut().zip(path.bytes()) {
            *d = s as libc::c_char;
        }
        a.len = (std::mem::size_of::<libc::sa_family_t>() + path.len() + 1) as _;
        a
    }

    fn ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }

    /// The IPv4 address, for an AF_INET address.
    fn ipv4(&self) -> Option<(Ipv4Addr, u16)> {
        if i32::from(self.storage.ss_family) != libc::AF_INET {
            return None;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let sin = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in) };
        Some((Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()), u16::from_be(sin.sin_port)))
    }

    fn with_ipv4_addr(&self, ip: [u8; 4]) -> SockAddr {
        let mut a = *self;
        // SAFETY: only called for an AF_INET address, a sockaddr_in.
        let sin = unsafe { &mut *(&mut a.storage as *mut _ as *mut libc::sockaddr_in) };
        sin.sin_addr.s_addr = u32::from_ne_bytes(ip);
        a
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn syscall_error(call: &str) -> String {
    format!("{call}: {}", io::Error::last_os_error())
}

fn setsockopt_int(fd: &OwnedFd, level: i32, name: i32, value: i32, call: &str) -> Result<(), String> {
    // SAFETY: a valid descriptor and a c_int option value of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &value as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as _,
        )
    };
    if r < 0 {
        Err(syscall_error(call))
    } else {
        Ok(())
    }
}

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on a valid descriptor.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// Connect with a bounded wait (non-blocking connect, then poll).
fn connect(fd: &OwnedFd, to: &SockAddr) -> Result<(), String> {
    set_nonblocking(fd);
    // SAFETY: a valid descriptor and address.
    let r = unsafe { libc::connect(fd.as_raw_fd(), to.ptr(), to.len) };
    if r == 0 {
        return Ok(());
    }
    let e = errno();
    if e != libc::EINPROGRESS && e != libc::EAGAIN {
        return Err(syscall_error("connect"));
    }
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, CONNECT_TIMEOUT_MS) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        if n < 0 {
            return Err(syscall_error("connect"));
        }
        if n == 0 {
            return Err(format!("connect: timed out after {} s", CONNECT_TIMEOUT_MS / 1000));
        }
        break;
    }
    let mut err: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: SO_ERROR into a c_int.
    unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut err as *mut i32 as *mut libc::c_void,
            &mut len,
        )
    };
    if err != 0 {
        return Err(format!("connect: {}", io::Error::from_raw_os_error(err)));
    }
    Ok(())
}

/// How writing one packet went.
enum Write {
    /// All of it was sent.
    Done,
    /// The socket takes no more now; what is left of the packet is still in it.
    WouldBlock,
    /// Dropped, for this reason.
    Failed(usize),
}

/// The element: worker 0's socket, its connection, and the send queue.
pub struct Socket {
    cfg: Config,
    name: String,
    has_output: bool,
    /// A stream server's listening socket.
    listener: Option<OwnedFd>,
    /// The connection (stream), or the socket itself (datagram, or stream client).
    active: Option<OwnedFd>,
    /// Where datagrams go: the configured address, or a datagram server's last peer.
    remote: SockAddr,
    /// A Unix socket file this element bound, removed at cleanup.
    bound_path: Option<String>,
    pull_input: bool,
    /// Not worker 0: no socket, packets dropped.
    idle_worker: bool,
    /// A packet buffer read into without success, for the next read.
    spare: Option<Packet>,
    queue: VecDeque<Packet>,
    received: u64,
    sent: u64,
    connections: u64,
    drops: DropCounts,
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl Socket {
    fn new(cfg: Config, name: &str, has_output: bool) -> Socket {
        let remote =
            if cfg.unix { SockAddr::unix(&cfg.remote_path) } else { SockAddr::inet(cfg.remote_ip, cfg.remote_port) };
        Socket {
            queue: VecDeque::with_capacity(cfg.send_queue),
            cfg,
            name: name.to_string(),
            has_output,
            listener: None,
            active: None,
            remote,
            bound_path: None,
            pull_input: false,
            idle_worker: false,
            spare: None,
            received: 0,
            sent: 0,
            connections: 0,
            drops: DropCounts::new(REASONS),
        }
    }

    fn peer(&self) -> String {
        if self.cfg.unix {
            self.cfg.remote_path.clone()
        } else {
            format!("{}:{}", self.cfg.remote_ip, self.cfg.remote_port)
        }
    }

    /// Click's `Socket::initialize`: open, set options, bind, connect or listen.
    fn open(&mut self) -> Result<(), String> {
        let c = &self.cfg;
        let domain = if c.unix { libc::AF_UNIX } else { libc::AF_INET };
        let ty = if c.stream { libc::SOCK_STREAM } else { libc::SOCK_DGRAM };
        // SAFETY: plain socket(2).
        let raw = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(syscall_error("socket"));
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if !c.unix && c.stream && c.nodelay {
            setsockopt_int(&fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)")?;
        }
        if let Some(n) = c.sndbuf {
            setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, n, "setsockopt(SO_SNDBUF)")?;
        }
        if let Some(n) = c.rcvbuf {
            setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, n, "setsockopt(SO_RCVBUF)")?;
        }
        // A server binds the first address; a client its local one, if given.
        let local = if !c.client {
            Some((self.remote, c.remote_path.clone()))
        } else if c.unix && !c.local_path.is_empty() {
            Some((SockAddr::unix(&c.local_path), c.local_path.clone()))
        } else if !c.unix && c.local_port != 0 {
            Some((SockAddr::inet(c.local_ip, c.local_port), String::new()))
        } else {
            None
        };
        if let Some((addr, path)) = local {
            // SAFETY: a valid descriptor and address.
            if unsafe { libc::bind(fd.as_raw_fd(), addr.ptr(), addr.len) } < 0 {
                return Err(syscall_error("bind"));
            }
            if c.unix {
                self.bound_path = Some(path);
            }
        }
        if c.client {
            if c.stream {
                connect(&fd, &self.remote)?;
                self.connections += 1;
                if c.verbose {
                    tracing::info!("{}: opened connection to {}", self.name, self.peer());
                }
            }
            set_nonblocking(&fd);
            self.active = Some(fd);
        } else if c.stream {
            // SAFETY: listen(2) on a bound socket.
            if unsafe { libc::listen(fd.as_raw_fd(), 2) } < 0 {
                return Err(syscall_error("listen"));
            }
            if c.verbose {
                tracing::info!("{}: listening for connections on {}", self.name, self.peer());
            }
            set_nonblocking(&fd);
            self.listener = Some(fd);
        } else {
            set_nonblocking(&fd);
            self.active = Some(fd);
        }
        Ok(())
    }

    fn allowed(&self, ip: Ipv4Addr) -> bool {
        let found = |t: &Option<Vec<Ipv4Prefix>>| t.as_ref().is_some_and(|t| t.iter().any(|p| p.contains(ip)));
        found(&self.cfg.allow) || !found(&self.cfg.deny)
    }

    /// Click's `close_active`: the connection ends; what was queued for it is dropped.
    fn close_active(&mut self, why: &str) {
        if self.active.take().is_some() && self.cfg.verbose {
            tracing::info!("{}: closed connection ({why})", self.name);
        }
        let n = self.queue.len() as u64;
        self.queue.clear();
        self.drops.count(CONNECTION_LOST, n);
    }

    /// Accept one connection when there is none (a stream server).
    fn accept(&mut self) {
        let Some(l) = self.listener.as_ref() else { return };
        let mut from = SockAddr::empty();
        // SAFETY: a listening descriptor and room for any address.
        let raw = unsafe {
            libc::accept4(
                l.as_raw_fd(),
                &mut from.storage as *mut _ as *mut libc::sockaddr,
                &mut from.len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if raw < 0 {
            let e = errno();
            if e != libc::EAGAIN && e != libc::EINTR && self.cfg.verbose {
                tracing::warn!("{}: accept: {}", self.name, io::Error::from_raw_os_error(e));
            }
            return;
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if let Some((ip, port)) = from.ipv4() {
            let allow = self.allowed(ip);
            if self.cfg.verbose {
                tracing::info!(
                    "{}: {} connection from {ip}:{port}",
                    self.name,
                    if allow { "opened" } else { "denied" }
                );
            }
            if !allow {
                return;
            }
        } else if self.cfg.verbose {
            tracing::info!("{}: opened connection", self.name);
        }
        self.connections += 1;
        self.active = Some(fd);
    }

    /// Read up to BURST packets; returns how many were emitted.
    fn receive(&mut self, ctx: &mut Ctx<'_>) -> usize {
        if !self.has_output {
            return 0;
        }
        if self.cfg.stream && !self.cfg.client && self.active.is_none() {
            self.accept();
        }
        let snaplen = self.cfg.snaplen;
        let mut out = Batch::new();
        let (mut n, mut now) = (0, 0);
        let mut reads = 0;
        while reads < self.cfg.burst {
            let Some(fd) = self.active.as_ref().map(|f| f.as_raw_fd()) else { break };
            reads += 1;
            let mut p = self.spare.take().unwrap_or_else(|| Packet::with_room(self.cfg.headroom, snaplen, 0));
            let mut from = SockAddr::empty();
            let buf = p.data_mut();
            let (ptr, len) = (buf.as_mut_ptr() as *mut libc::c_void, buf.len());
            // SAFETY: reading into the packet's own `len` bytes.
            let r = unsafe {
                if self.cfg.stream {
                    libc::recv(fd, ptr, len, 0)
                } else if self.cfg.client {
                    libc::recv(fd, ptr, len, libc::MSG_TRUNC)
                } else {
                    libc::recvfrom(
                        fd,
                        ptr,
                        len,
                        libc::MSG_TRUNC,
                        &mut from.storage as *mut _ as *mut libc::sockaddr,
                        &mut from.len,
                    )
                }
            };
            if r <= 0 {
                let e = if r < 0 { errno() } else { 0 };
                self.spare = Some(p);
                match (r, e) {
                    (_, libc::EINTR) => continue,
                    (_, libc::EAGAIN) => break,
                    (0, _) if self.cfg.stream => {
                        self.close_active("closed by peer");
                        break;
                    }
                    (0, _) => {
                        self.drops.count(EMPTY_DATAGRAM, 1);
                        continue;
                    }
                    _ if self.cfg.stream => {
                        self.close_active(&io::Error::from_raw_os_error(e).to_string());
                        break;
                    }
                    _ => {
                        if self.cfg.verbose {
                            tracing::warn!("{}: receive: {}", self.name, io::Error::from_raw_os_error(e));
                        }
                        break;
                    }
                }
            }
            let r = r as usize;
            if !self.cfg.stream && !self.cfg.client {
                if let Some((ip, port)) = from.ipv4() {
                    if !self.allowed(ip) {
                        if self.cfg.verbose {
                            tracing::info!("{}: dropped datagram from {ip}:{port}", self.name);
                        }
                        self.drops.count(DENIED, 1);
                        self.spare = Some(p);
                        continue;
                    }
                }
                self.remote = from;
            }
            if r > snaplen {
                set_extra_length_anno(&mut p, (r - snaplen).min(u32::MAX as usize) as u32);
            } else {
                p.take(snaplen - r);
            }
            if self.cfg.timestamp {
                if now == 0 {
                    now = now_ns();
                }
                p.anno_mut().timestamp_ns = now;
            }
            n += 1;
            let _ = out.push(p);
            if out.is_full() {
                ctx.push(0, std::mem::take(&mut out));
            }
        }
        if !out.is_empty() {
            ctx.push(0, out);
        }
        self.received += n as u64;
        n
    }

    /// Click's `write_packet`, without blocking.
    fn write_packet(&mut self, p: &mut Packet) -> Write {
        loop {
            let Some(fd) = self.active.as_ref().map(|f| f.as_raw_fd()) else { return Write::Failed(NO_CONNECTION) };
            if p.is_empty() {
                return Write::Done;
            }
            let data = p.data();
            let (ptr, len) = (data.as_ptr() as *const libc::c_void, data.len());
            // SAFETY: sending the packet's own bytes to a valid address.
            let r = unsafe {
                if self.cfg.stream {
                    libc::send(fd, ptr, len, libc::MSG_NOSIGNAL)
                } else {
                    let to = if !self.cfg.unix && self.cfg.client && self.cfg.remote_ip.is_unspecified() {
                        self.remote.with_ipv4_addr(p.anno().dst_ip)
                    } else {
                        self.remote
                    };
                    libc::sendto(fd, ptr, len, libc::MSG_NOSIGNAL, to.ptr(), to.len)
                }
            };
            if r >= 0 {
                if !self.cfg.stream {
                    return Write::Done;
                }
                p.pull(r as usize);
                continue;
            }
            match errno() {
                libc::EINTR => continue,
                libc::EAGAIN | libc::ENOBUFS => return Write::WouldBlock,
                e => {
                    let err = io::Error::from_raw_os_error(e);
                    if self.cfg.verbose {
                        tracing::warn!("{}: send: {err}", self.name);
                    }
                    if self.cfg.stream {
                        self.close_active(&err.to_string());
                        return Write::Failed(CONNECTION_LOST);
                    }
                    return Write::Failed(SEND_FAILED);
                }
            }
        }
    }

    fn enqueue(&mut self, p: Packet) {
        if self.queue.len() < self.cfg.send_queue {
            self.queue.push_back(p);
        } else {
            self.drops.count(QUEUE_FULL, 1);
        }
    }

    /// Send a packet now, or queue it behind the ones waiting.
    fn send(&mut self, mut p: Packet) {
        if self.idle_worker {
            self.drops.count(OTHER_WORKER, 1);
        } else if self.active.is_none() {
            self.drops.count(NO_CONNECTION, 1);
        } else if !self.queue.is_empty() {
            self.enqueue(p);
        } else {
            match self.write_packet(&mut p) {
                Write::Done => self.sent += 1,
                Write::WouldBlock => self.enqueue(p),
                Write::Failed(r) => self.drops.count(r, 1),
            }
        }
    }

    /// Write the queued packets while the socket takes them; true if any went.
    fn flush(&mut self) -> bool {
        let mut any = false;
        while let Some(mut p) = self.queue.pop_front() {
            match self.write_packet(&mut p) {
                Write::Done => {
                    self.sent += 1;
                    any = true;
                }
                Write::WouldBlock => {
                    self.queue.push_front(p);
                    break;
                }
                Write::Failed(r) => self.drops.count(r, 1),
            }
        }
        any
    }

    /// The socket will never do anything again: a client (or datagram socket) whose
    /// connection ended.
    fn finished(&self) -> bool {
        self.idle_worker || (self.active.is_none() && self.listener.is_none())
    }
}

impl Element for Socket {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.pull_input = ctx.input_pull.first().copied().unwrap_or(false);
        if ctx.worker != 0 {
            self.idle_worker = true;
        } else {
            self.open()?;
        }
        if self.has_output {
            ctx.schedule_source_task();
        } else {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        for p in batch {
            self.send(p);
        }
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if self.idle_worker {
            return TaskStatus::Done;
        }
        let got = self.receive(&mut ctx);
        let mut wrote = self.flush();
        if self.pull_input && self.active.is_some() && self.queue.is_empty() {
            let mut left = self.cfg.burst;
            while left > 0 && self.queue.is_empty() && self.active.is_some() {
                let b = ctx.pull(0, left.min(MAX_BATCH));
                if b.is_empty() {
                    break;
                }
                left = left.saturating_sub(b.len());
                wrote = true;
                for p in b {
                    self.send(p);
                }
            }
        }
        if got > 0 || wrote {
            TaskStatus::Busy
        } else if !self.queue.is_empty() {
            TaskStatus::Waiting
        } else if self.finished() {
            TaskStatus::Done
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "received" => Some(self.received.to_string()),
            "sent" => Some(self.sent.to_string()),
            "connections" => Some(self.connections.to_string()),
            "connected" => Some(self.active.is_some().to_string()),
            "queue_length" => Some(self.queue.len().to_string()),
            _ => self.drops.read_handler(name),
        }
    }

    fn cleanup(&mut self) {
        let n = self.queue.len() as u64;
        self.queue.clear();
        self.drops.count(CONNECTION_LOST, n);
        self.active = None;
        if let Some(l) = self.listener.take() {
            // SAFETY: shutdown(2) on our descriptor, as Click does in case we forked.
            unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) };
        }
        if let Some(path) = self.bound_path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::runtime::{Router, RunOptions, Running};
    use sluice::testing::{collected, inject, new_id};
    use std::io::{Read, Write as _};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::time::{Duration, Instant};

    /// Every wait in these tests ends by this.
    const LIMIT: Duration = Duration::from_secs(10);

    fn cfg(config: &str, noutputs: usize) -> Result<Config, String> {
        parse_config(config, &BuildCtx::standalone("s", 1, noutputs)).map_err(|e| e.0)
    }

    fn start(config: &str) -> Result<Running, String> {
        let classes = crate::classes();
        let plan = sluice::load::plan_str(
            "<test>",
            config,
            &[],
            &sluice::testing::registry(&classes),
            std::path::Path::new("."),
        )
        .map_err(|e| e.to_string())?;
        Ok(Router::new(plan, 1).map_err(|e| e.to_string())?.start(&RunOptions::default()))
    }

    fn free_tcp_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    fn free_udp_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// Wait (bounded) until `done` holds.
    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let t = Instant::now();
        while !done() {
            assert!(t.elapsed() < LIMIT, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn handler(r: &Running, h: &str) -> String {
        r.read_handler("s", h).unwrap()
    }

    #[test]
    fn configuration_as_click_reads_it() {
        let c = cfg("TCP, 0.0.0.0, 80", 1).unwrap();
        assert!(c.stream && !c.unix && !c.client && c.nodelay && c.timestamp);
        assert_eq!(
            (c.remote_port, c.snaplen, c.headroom, c.burst, c.send_queue),
            (80, 2048, DEFAULT_HEADROOM, 32, 256)
        );
        // No output: a client by default; CLIENT overrides either way.
        assert!(cfg("TCP, 1.2.3.4, 80", 0).unwrap().client);
        assert!(!cfg("tcp, 1.2.3.4, 80, CLIENT false", 0).unwrap().client);
        let c = cfg("UDP, 1.2.3.4, 53, 0.0.0.0, 5353, CLIENT true, SNAPLEN 100, NODELAY 0, RCVBUF 65536", 1).unwrap();
        assert!(!c.stream && c.client && !c.nodelay);
        assert_eq!((c.local_port, c.snaplen, c.rcvbuf, c.sndbuf), (5353, 100, Some(65536), None));
        let c = cfg("UNIX_DGRAM, /tmp/a.sock, /tmp/b.sock, VERBOSE true, PROPER false", 1).unwrap();
        assert!(c.unix && !c.stream && c.verbose);
        assert_eq!((c.remote_path.as_str(), c.local_path.as_str()), ("/tmp/a.sock", "/tmp/b.sock"));
        assert!(cfg("SCTP, 1.2.3.4, 80", 1).unwrap_err().contains("unknown socket type"));
        assert!(cfg("TCP, 1.2.3.4", 1).unwrap_err().contains("PORT"));
        assert!(cfg("TCP, 1.2.3.4, 70000", 1).is_err());
        assert!(cfg("TCP, 1.2.3.4, 80, SNAPLEN 0", 1).unwrap_err().contains("SNAPLEN"));
        assert!(cfg("TCP, 1.2.3.4, 80, BURST 0", 1).unwrap_err().contains("BURST"));
        assert!(cfg(&format!("UNIX, /{}", "x".repeat(120)), 1).unwrap_err().contains("too long"));
        assert!(cfg("TCP, 1.2.3.4, 80, ALLOW nope", 1).unwrap_err().contains("no element named"));
        assert!(cfg("TCP, 1.2.3.4, 80, FOO 1", 1).is_err());
    }

    #[test]
    fn allow_and_deny_read_route_tables() {
        let err =
            start("c :: Counter; Idle -> c -> Discard; Socket(UDP, 127.0.0.1, 9, ALLOW c) -> Discard;").err().unwrap();
        assert!(err.contains("not an IPRouteTable"), "{err}");
        let decls = sluice::element::Declarations::new(vec![
            sluice::element::DeclaredElement {
                name: "allow".into(),
                class: "RadixIPLookup".into(),
                config: "127.0.0.1 0".into(),
            },
            sluice::element::DeclaredElement {
                name: "deny".into(),
                class: "RadixIPLookup".into(),
                config: "0.0.0.0/0 0".into(),
            },
        ]);
        let ctx = BuildCtx { declarations: std::sync::Arc::new(decls), ..BuildCtx::standalone("s", 0, 1) };
        let c = parse_config("TCP, 0.0.0.0, 80, ALLOW allow, DENY deny", &ctx).unwrap();
        let s = Socket::new(c, "s", true);
        assert!(s.allowed(Ipv4Addr::LOCALHOST));
        assert!(!s.allowed(Ipv4Addr::new(10, 0, 0, 1)));
    }

    /// A UDP echo server in Sluice (push and pull inputs), with a std peer: every datagram
    /// comes back whole; an empty datagram is counted and the socket stays open.
    #[test]
    fn udp_echo_server_answers_the_last_peer() {
        for echo in ["s -> s", "s -> Queue(100) -> s"] {
            let port = free_udp_port();
            let r = start(&format!("s :: Socket(UDP, 127.0.0.1, {port}); {echo};")).unwrap();
            let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
            peer.set_read_timeout(Some(LIMIT)).unwrap();
            peer.send_to(&[], ("127.0.0.1", port)).unwrap();
            let mut buf = [0u8; 4096];
            for i in 0..50u32 {
                let msg: Vec<u8> =
                    (0..(i * 20) as usize).map(|k| (k as u32 + i) as u8).chain(i.to_be_bytes()).collect();
                peer.send_to(&msg, ("127.0.0.1", port)).unwrap();
                let (n, from) = peer.recv_from(&mut buf).expect("echo");
                assert_eq!(&buf[..n], &msg[..], "{echo}: datagram {i}");
                assert_eq!(from.port(), port);
            }
            assert_eq!(handler(&r, "received"), "50");
            assert_eq!(handler(&r, "sent"), "50");
            assert!(handler(&r, "drop_details").contains("1 empty datagram received"));
            r.stop();
            r.wait();
        }
    }

    /// SNAPLEN cuts datagrams, the extra length annotation keeps the rest, TIMESTAMP
    /// stamps them; a UDP client with ADDR 0.0.0.0 sends to each packet's destination IP
    /// annotation.
    #[test]
    fn udp_snaplen_timestamps_and_destination_annotation() {
        let port = free_udp_port();
        let id = new_id();
        let r = start(&format!("s :: Socket(UDP, 127.0.0.1, {port}, SNAPLEN 10, HEADROOM 4) -> Collect(ID {id});"))
            .unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(&[7u8; 25], ("127.0.0.1", port)).unwrap();
        let mut got = Vec::new();
        wait_for("a datagram", || {
            got.extend(collected(id));
            !got.is_empty()
        });
        r.stop();
        r.wait();
        let p = &got[0];
        assert_eq!(p.data(), &[7u8; 10]);
        assert_eq!(super::super::extra_length_anno(p), 15);
        assert_eq!(p.headroom(), 4);
        assert!(p.anno().timestamp_ns > 0);

        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(LIMIT)).unwrap();
        let sink_port = sink.local_addr().unwrap().port();
        let src = new_id();
        inject(
            src,
            (0..5u8).map(|i| {
                let mut p = Packet::from_slice(&[i; 3]);
                p.anno_mut().dst_ip = [127, 0, 0, 1];
                p
            }),
        );
        let r = start(&format!("Inject(ID {src}) -> s :: Socket(UDP, 0.0.0.0, {sink_port});")).unwrap();
        let mut buf = [0u8; 64];
        for i in 0..5u8 {
            let n = sink.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i; 3]);
        }
        let router = r.wait(); // no output: not a source, the graph ends with its input
        assert_eq!(router.read_handler("s", "sent").unwrap(), "5");
    }

    /// A TCP client and a TCP server, both Sluice elements in one graph: the bytes of the
    /// packets sent arrive in order (as however many reads the server makes).
    #[test]
    fn tcp_client_to_server_between_two_elements() {
        let port = free_tcp_port();
        let (src, sink) = (new_id(), new_id());
        let sent: Vec<Vec<u8>> = (0..200u32).map(|i| (0..(i % 97 + 1)).map(|k| (k + i) as u8).collect()).collect();
        inject(src, sent.iter().map(|d| Packet::from_slice(d)));
        let r = start(&format!(
            "s :: Socket(TCP, 127.0.0.1, {port}) -> Collect(ID {sink}); \
             Inject(ID {src}) -> c :: Socket(TCP, 127.0.0.1, {port}, CLIENT true);"
        ))
        .unwrap();
        let want: Vec<u8> = sent.concat();
        let mut got = Vec::new();
        wait_for("the client's bytes", || {
            got.extend(collected(sink).iter().flat_map(|p| p.data().to_vec()));
            got.len() >= want.len()
        });
        assert_eq!(got, want);
        assert_eq!(r.read_handler("c", "sent").unwrap(), "200");
        assert_eq!(handler(&r, "connections"), "1");
        r.stop();
        r.wait();
    }

    /// A TCP echo server with std peers: one connection at a time, the next accepted when
    /// the first closes; a peer that goes away mid-stream ends the connection only.
    #[test]
    fn tcp_server_accepts_one_connection_at_a_time() {
        let port = free_tcp_port();
        let r = start(&format!("s :: Socket(TCP, 127.0.0.1, {port}, VERBOSE true) -> s;")).unwrap();
        for round in 0..3u8 {
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.set_read_timeout(Some(LIMIT)).unwrap();
            let msg = vec![round; 3000];
            c.write_all(&msg).unwrap();
            let mut back = vec![0u8; msg.len()];
            c.read_exact(&mut back).unwrap();
            assert_eq!(back, msg);
            if round == 1 {
                // Shut down both ways before closing: the server reads the end at once.
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
            drop(c);
            wait_for("the connection to end", || handler(&r, "connected") == "false");
        }
        assert_eq!(handler(&r, "connections"), "3");
        r.stop();
        r.wait();
    }

    /// Connection refused: the router does not start, with connect's error. A peer that
    /// closes ends a client: it emits what it read, its task ends, and the graph with it.
    #[test]
    fn refused_and_closed_connections() {
        let port = free_tcp_port();
        let err = start(&format!("Idle -> Socket(TCP, 127.0.0.1, {port});")).err().unwrap();
        assert!(err.contains("connect") && err.contains("refused"), "{err}");

        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let sink = new_id();
        let peer = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            c.write_all(b"hello, sluice").unwrap();
        });
        let r =
            start(&format!("Idle -> s :: Socket(TCP, 127.0.0.1, {port}, CLIENT true) -> Collect(ID {sink});")).unwrap();
        peer.join().unwrap();
        let t = Instant::now();
        while !r.is_finished() {
            assert!(t.elapsed() < LIMIT, "the client ends when its peer closes");
            std::thread::sleep(Duration::from_millis(5));
        }
        let router = r.wait();
        let got: Vec<u8> = collected(sink).iter().flat_map(|p| p.data().to_vec()).collect();
        assert_eq!(got, b"hello, sluice");
        assert_eq!(router.read_handler("s", "connected").unwrap(), "false");
    }

    /// A peer that does not read: the worker never blocks, the send queue fills and
    /// overflows (counted), and what the peer finally reads is whole packets in order.
    #[test]
    fn a_slow_peer_never_blocks_the_worker() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let src = new_id();
        const N: u32 = 3000;
        const SIZE: usize = 1000;
        inject(
            src,
            (0..N).map(|i| {
                let mut d = vec![(i % 251) as u8; SIZE];
                d[..4].copy_from_slice(&i.to_be_bytes());
                Packet::from_slice(&d)
            }),
        );
        let r = start(&format!(
            "Inject(ID {src}) -> s :: Socket(TCP, 127.0.0.1, {port}, CLIENT true, SNDBUF 4096, SEND_QUEUE 8);"
        ))
        .unwrap();
        let (mut c, _) = l.accept().unwrap();
        // Everything is pushed (sent, queued or dropped) without the peer reading a byte.
        wait_for("every packet pushed", || {
            let sent: u64 = handler(&r, "sent").parse().unwrap();
            let queued: u64 = handler(&r, "queue_length").parse().unwrap();
            let dropped: u64 = handler(&r, "drops").parse().unwrap();
            sent + queued + dropped == u64::from(N)
        });
        assert!(handler(&r, "drop_details").contains("send queue full"));
        // Now read: the queue drains; the bytes are whole packets, increasing.
        c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        let t = Instant::now();
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) if handler(&r, "queue_length") == "0" => break,
                Err(_) => {}
            }
            assert!(t.elapsed() < LIMIT);
        }
        r.stop();
        let router = r.wait();
        let sent: usize = router.read_handler("s", "sent").unwrap().parse().unwrap();
        assert_eq!(got.len(), sent * SIZE, "whole packets only");
        let mut last = None;
        for chunk in got.chunks(SIZE) {
            let i = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            assert!(last.is_none_or(|l| i > l), "in order");
            assert!(chunk[4..].iter().all(|&b| b == (i % 251) as u8), "not torn");
            last = Some(i);
        }
    }

    /// Unix stream and datagram sockets, with std peers; the server's socket file goes
    /// away when the router stops.
    #[test]
    fn unix_stream_and_datagram_echo() {
        use std::os::unix::net::{UnixDatagram, UnixStream};
        let dir = std::env::temp_dir().join(format!("sluice-socket-{}-{}", std::process::id(), new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let r = start(&format!("s :: Socket(UNIX, {}) -> s;", path.display())).unwrap();
        let mut c = UnixStream::connect(&path).unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        c.write_all(b"over a unix socket").unwrap();
        let mut back = [0u8; 18];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"over a unix socket");
        r.stop();
        r.wait();
        assert!(!path.exists());

        let path = dir.join("d.sock");
        let r = start(&format!("s :: Socket(UNIX_DGRAM, {}) -> s;", path.display())).unwrap();
        let me = dir.join("peer.sock");
        let peer = UnixDatagram::bind(&me).unwrap();
        peer.set_read_timeout(Some(LIMIT)).unwrap();
        for i in 0..10u8 {
            peer.send_to(&[i; 5], &path).unwrap();
            let mut buf = [0u8; 16];
            let n = peer.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i; 5]);
        }
        r.stop();
        r.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

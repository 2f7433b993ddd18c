//! The element behind IPRewriter, TCPRewriter, UDPRewriter and IPAddrRewriter: Click's
//! `IPRewriterBase` and its subclasses' `push`, in one place.
//!
//! Each class differs only in which packets it takes ([`Mode`]), which kind of flow it makes
//! ([`FlowKind`]), its keywords and defaults (read in the class's own file into a
//! [`Config`]), and its handler names. Packets are processed one at a time in arrival
//! order, exactly as Click's `push(port, p)`, and sent out in one batch per output.

use super::flow::{first_fragment, transport_len, Flow, FlowId, FlowKind, PROTO_DCCP, PROTO_TCP, PROTO_UDP};
use super::ip_rewriter_patterns::resolver;
use super::pattern::{parse_input_spec, Rng, Spec};
use super::table::{after, FlowTable, Timeouts, UNLIMITED};
use crate::standard::anno::AnnoByte;
use sluice::args::{Args, FromArg};
use sluice::drops::DropCounts;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, Packet, State, TaskStatus};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Which of Click's rewriters this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// IPRewriter: TCP and UDP, in separate maps.
    Ip,
    /// TCPRewriter: TCP only.
    Tcp,
    /// UDPRewriter: TCP, UDP and DCCP in one map, all with UDP-style timeouts.
    Udp,
    /// IPAddrRewriter: any IP packet, by address only.
    Addr,
}

impl Mode {
    fn class(self) -> &'static str {
        match self {
            Mode::Ip => "IPRewriter",
            Mode::Tcp => "TCPRewriter",
            Mode::Udp => "UDPRewriter",
            Mode::Addr => "IPAddrRewriter",
        }
    }

    fn reasons(self) -> &'static [&'static str] {
        match self {
            Mode::Ip => NAPT_REASONS,
            Mode::Tcp => TCP_REASONS,
            Mode::Udp => UDP_REASONS,
            Mode::Addr => ADDR_REASONS,
        }
    }
}

/// Why a rewriter drops a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// No network header annotation, or fewer than 20 bytes there.
    NoIp,
    /// A protocol the class does not rewrite.
    Protocol,
    /// Second or later fragment.
    Fragment,
    /// Fewer than 8 bytes of transport header.
    Short,
    /// No mapping, and the input's spec is `drop`.
    SpecDrop,
    /// The pattern found no free port (or address).
    Exhausted,
    /// The table is at capacity and every mapping is guaranteed.
    Full,
    /// An IPAddrRewriter pattern that changes ports or the destination.
    AddrPattern,
}

const NAPT_REASONS: &[&str] = &[
    "no IP header",
    "not TCP or UDP",
    "non-first fragment",
    "transport header shorter than 8 bytes",
    "no mapping, input spec drops",
    "no free port or address for a new mapping",
    "mapping table full of guaranteed mappings",
];
const TCP_REASONS: &[&str] = &[
    "no IP header",
    "not TCP",
    "non-first fragment",
    "transport header shorter than 8 bytes",
    "no mapping, input spec drops",
    "no free port or address for a new mapping",
    "mapping table full of guaranteed mappings",
];
const UDP_REASONS: &[&str] = &[
    "no IP header",
    "not TCP, UDP or DCCP",
    "non-first fragment",
    "transport header shorter than 8 bytes",
    "no mapping, input spec drops",
    "no free port or address for a new mapping",
    "mapping table full of guaranteed mappings",
];
const ADDR_REASONS: &[&str] = &[
    "no IP header",
    "no mapping, input spec drops",
    "no free address for a new mapping",
    "mapping table full of guaranteed mappings",
    "pattern changes ports or destination",
];

/// Output index meaning "drop" in a batch split.
const DROP: usize = usize::MAX;
/// Most flows one reaping step may touch (the rest wait for the next batch or task run).
const REAP_BUDGET: usize = 256;
/// Flows the table has room for before it first grows, when the capacity is unlimited.
const DEFAULT_RESERVE: usize = 1024;
/// Most flows reserved up front for a given MAPPING_CAPACITY.
const MAX_RESERVE: usize = 1 << 16;

/// Handlers every rewriter has (Click's `add_rewriter_handlers`, plus drop counts).
macro_rules! common_handlers {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            HandlerSpec::read("nmappings", Combine::Sum, "mappings in the table, counted by the inputs that made them"),
            HandlerSpec::read("mapping_failures", Combine::Sum, "new flows refused (no free port or address, table full)"),
            HandlerSpec::read("patterns", Combine::First, "each input's spec and its live mapping count"),
            HandlerSpec::read("size", Combine::Sum, "flows in the table"),
            HandlerSpec::read("length", Combine::Sum, "flows in the table (same as size)"),
            HandlerSpec::read_write("capacity", Combine::First, "most flows the table holds (MAPPING_CAPACITY)"),
            HandlerSpec::write("clear", "remove every mapping"),
            HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
            HandlerSpec::read("drop_details", Combine::First, "packets dropped, by reason"),
        ]
    };
}

pub(crate) const NAPT_HANDLERS: &[HandlerSpec] = common_handlers!(
    HandlerSpec::read("table", Combine::First, "the mapping table, one entry per line (Click's format)"),
    HandlerSpec::read("mappings", Combine::First, "same as table (Click's deprecated name)"),
);

pub(crate) const IP_HANDLERS: &[HandlerSpec] = common_handlers!(
    HandlerSpec::read("tcp_table", Combine::First, "the TCP mapping table (Click's format)"),
    HandlerSpec::read("udp_table", Combine::First, "the UDP mapping table (Click's format)"),
    HandlerSpec::read("tcp_mappings", Combine::First, "same as tcp_table (Click's deprecated name)"),
    HandlerSpec::read("udp_mappings", Combine::First, "same as udp_table (Click's deprecated name)"),
    HandlerSpec::read("table", Combine::First, "tcp_table followed by udp_table"),
    HandlerSpec::read("mappings", Combine::First, "same as table"),
);

/// A rewriter's configuration, as its class read it.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub mode: Mode,
    pub specs: Vec<Spec>,
    pub timeouts: Timeouts,
    pub dst_anno: bool,
    pub reply_anno: Option<AnnoByte>,
    pub capacity: i32,
    /// REAP_INTERVAL; zero: never reap (Click schedules no timer then).
    pub reap_interval: Duration,
}

/// The keywords of Click's `IPRewriterBase::configure`, read after the class's own.
pub(crate) struct BaseKeywords {
    pub capacity: i32,
    pub guarantee: Option<Duration>,
    pub reap_interval: Duration,
}

/// Default REAP_INTERVAL: 15 minutes.
pub(crate) const DEFAULT_REAP: Duration = Duration::from_secs(15 * 60);
/// Default GUARANTEE: 5 seconds.
pub(crate) const DEFAULT_GUARANTEE: Duration = Duration::from_secs(5);

/// CAPACITY / MAPPING_CAPACITY, GUARANTEE, REAP_INTERVAL / REAP_TIME (the later name wins
/// when both are given, as in Click).
pub(crate) fn read_base_keywords(args: &mut Args) -> Result<BaseKeywords, ConfigError> {
    let mut capacity_word = args.read_kw::<String>("CAPACITY")?;
    if let Some(w) = args.read_kw::<String>("MAPPING_CAPACITY")? {
        capacity_word = Some(w);
    }
    let capacity = match capacity_word {
        None => UNLIMITED,
        Some(w) => i32::from_arg(&w).map_err(|_| {
            ConfigError(format!(
                "bad MAPPING_CAPACITY '{w}' (expected an integer; sharing another rewriter's capacity by \
                 element name is not supported by Sluice)"
            ))
        })?,
    };
    let guarantee = args.read_kw::<Duration>("GUARANTEE")?;
    let mut reap_interval = args.read_kw::<Duration>("REAP_INTERVAL")?.unwrap_or(DEFAULT_REAP);
    if let Some(t) = args.read_kw::<Duration>("REAP_TIME")? {
        reap_interval = t;
    }
    Ok(BaseKeywords { capacity, guarantee, reap_interval })
}

/// The input specs: every argument left, one per input (Click: "need N arguments, one per
/// input port"). Call it after reading every keyword of the class, listed in `known`:
/// a leftover `NAME value` argument is an unknown keyword, reported as `Args` reports one.
/// `pattern NAME ...` names a pattern of the graph's IPRewriterPatterns elements, found
/// from this element's compound scope.
pub(crate) fn read_specs(args: &mut Args, ctx: &BuildCtx, known: &[&str]) -> Result<Vec<Spec>, ConfigError> {
    let (keywords, rest): (Vec<String>, Vec<String>) = args.rest().into_iter().partition(|a| looks_like_keyword(a));
    if !keywords.is_empty() {
        let mut unknown = Args::from_args(keywords);
        for k in known {
            let _ = unknown.read_kw::<String>(k);
        }
        unknown.finish()?;
    }
    if rest.is_empty() {
        return Err(ConfigError("too few arguments; expected 'INPUTSPEC, ...'".into()));
    }
    if rest.len() != ctx.ninputs {
        return Err(ConfigError(format!(
            "need {} arguments, one per input port (found {} input specs)",
            ctx.ninputs,
            rest.len()
        )));
    }
    let named = resolver(ctx);
    let specs =
        rest.iter().enumerate().map(|(i, s)| parse_input_spec(s, i, ctx.noutputs, &named)).collect::<Result<_, _>>()?;
    Ok(specs)
}

/// `NAME value` with NAME an uppercase identifier: a keyword argument (input specs begin
/// with a lowercase word).
fn looks_like_keyword(arg: &str) -> bool {
    let Some((word, _)) = arg.split_once(char::is_whitespace) else { return false };
    let mut b = word.bytes();
    b.next().is_some_and(|c| c.is_ascii_uppercase())
        && b.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// One input: its spec and the mappings it failed to make.
#[derive(Clone, Debug)]
struct Input {
    spec: Spec,
    failures: u64,
}

/// The element.
pub(crate) struct Rewriter {
    mode: Mode,
    inputs: Vec<Input>,
    table: FlowTable,
    timeouts: Timeouts,
    dst_anno: bool,
    reply_anno: Option<AnnoByte>,
    reap_interval: Duration,
    next_reap: Option<Instant>,
    /// A reaping pass is under way (continued on the next batch or task run).
    reaping: bool,
    drops: DropCounts,
    outs: Vec<Batch>,
    noutputs: usize,
    rng: Rng,
}

impl Rewriter {
    pub fn new(cfg: Config, ctx: &BuildCtx) -> Rewriter {
        let reserve =
            if cfg.capacity == UNLIMITED { DEFAULT_RESERVE } else { (cfg.capacity.max(0) as usize).min(MAX_RESERVE) };
        Rewriter {
            mode: cfg.mode,
            table: FlowTable::new(reserve, cfg.specs.len(), cfg.capacity),
            inputs: cfg.specs.into_iter().map(|spec| Input { spec, failures: 0 }).collect(),
            timeouts: cfg.timeouts,
            dst_anno: cfg.dst_anno,
            reply_anno: cfg.reply_anno,
            reap_interval: cfg.reap_interval,
            next_reap: None,
            reaping: false,
            drops: DropCounts::new(cfg.mode.reasons()),
            outs: (0..ctx.noutputs).map(|_| Batch::new()).collect(),
            noutputs: ctx.noutputs,
            rng: Rng::new(),
        }
    }

    fn count(&mut self, r: Reason) {
        let i = match (self.mode, r) {
            (Mode::Addr, Reason::SpecDrop) => 1,
            (Mode::Addr, Reason::Exhausted) => 2,
            (Mode::Addr, Reason::Full) => 3,
            (Mode::Addr, Reason::AddrPattern) => 4,
            (Mode::Addr, _) => 0,
            (_, Reason::NoIp) => 0,
            (_, Reason::Protocol) => 1,
            (_, Reason::Fragment) => 2,
            (_, Reason::Short) => 3,
            (_, Reason::SpecDrop) => 4,
            (_, Reason::Exhausted) => 5,
            (_, Reason::Full | Reason::AddrPattern) => 6,
        };
        self.drops.count(i, 1);
    }

    /// The output for `p`, arrived on `port` at `now`, after rewriting it (or [`DROP`]).
    pub(crate) fn process(&mut self, port: usize, p: &mut Packet, now: Instant) -> usize {
        let Some((nh, th)) = headers(p) else {
            self.count(Reason::NoIp);
            return DROP;
        };
        match self.mode {
            Mode::Addr => self.process_addr(port, p, nh, th, now),
            _ => self.process_napt(port, p, nh, th, now),
        }
    }

    /// Click's `IPRewriter::push`, `TCPRewriter::push`, `UDPRewriter::push`.
    fn process_napt(&mut self, port: usize, p: &mut Packet, nh: usize, th: usize, now: Instant) -> usize {
        let data = p.data();
        let proto = data[nh + 9];
        let proto_ok = match self.mode {
            Mode::Tcp => proto == PROTO_TCP,
            Mode::Udp => matches!(proto, PROTO_TCP | PROTO_UDP | PROTO_DCCP),
            _ => matches!(proto, PROTO_TCP | PROTO_UDP),
        };
        let refused = if !proto_ok {
            Some(Reason::Protocol)
        } else if !first_fragment(data, nh) {
            Some(Reason::Fragment)
        } else if transport_len(data, th) < 8 {
            Some(Reason::Short)
        } else {
            None
        };
        if let Some(r) = refused {
            // Only a `pass` input lets these through.
            return match self.inputs[port].spec {
                Spec::Pass(out) => out as usize,
                _ => {
                    self.count(r);
                    DROP
                }
            };
        }
        let be = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
        let ip4 = |i: usize| [data[i], data[i + 1], data[i + 2], data[i + 3]];
        let id = FlowId::new(ip4(nh + 12), be(th), ip4(nh + 16), be(th + 2));
        let map = u8::from(self.mode == Mode::Ip && proto == PROTO_UDP);
        let (idx, dir) = match self.table.lookup(map, id) {
            Some(found) => found,
            None => match self.new_mapping(port, map, proto, id, now) {
                Ok(idx) => {
                    self.note_reply_anno(idx, p);
                    (idx, 0)
                }
                Err(out) => return out,
            },
        };
        self.rewrite(idx, dir, p, nh, th, now)
    }

    /// Click's `IPAddrRewriter::push`: look up the source address, then the destination.
    fn process_addr(&mut self, port: usize, p: &mut Packet, nh: usize, th: usize, now: Instant) -> usize {
        let data = p.data();
        let (src, dst) = (
            [data[nh + 12], data[nh + 13], data[nh + 14], data[nh + 15]],
            [data[nh + 16], data[nh + 17], data[nh + 18], data[nh + 19]],
        );
        let id = FlowId::new(src, 0, [0; 4], 0);
        let found = self.table.lookup(0, id).or_else(|| self.table.lookup(0, FlowId::new([0; 4], 0, dst, 0)));
        let (idx, dir) = match found {
            Some(found) => found,
            None => match self.new_mapping(port, 0, 0, id, now) {
                Ok(idx) => {
                    self.note_reply_anno(idx, p);
                    (idx, 0)
                }
                Err(out) => return out,
            },
        };
        self.rewrite(idx, dir, p, nh, th, now)
    }

    /// A new flow's mapping from the input spec; `Err` holds the output for the packet
    /// (a `pass` output, or [`DROP`]).
    fn new_mapping(&mut self, port: usize, map: u8, proto: u8, id: FlowId, now: Instant) -> Result<u32, usize> {
        let Rewriter { inputs, table, rng, .. } = self;
        let input = &mut inputs[port];
        let (rewritten, outs) = match &mut input.spec {
            Spec::Drop => {
                self.count(Reason::SpecDrop);
                return Err(DROP);
            }
            Spec::Pass(out) => return Err(*out as usize),
            Spec::Keep(f, r) => (id, [*f, *r]),
            Spec::Pattern(pat, f, r) => {
                let outs = [*f, *r];
                match pat.rewrite(&id, rng, |l| table.contains(map, l)) {
                    Some(rw) => (rw, outs),
                    None => {
                        input.failures += 1;
                        self.count(Reason::Exhausted);
                        return Err(DROP);
                    }
                }
            }
        };
        let kind = match self.mode {
            Mode::Ip if proto == PROTO_UDP => FlowKind::Udp,
            Mode::Ip | Mode::Tcp => FlowKind::Tcp,
            Mode::Udp => FlowKind::Udp,
            Mode::Addr => FlowKind::Addr,
        };
        if kind == FlowKind::Addr && (rewritten.sport != 0 || rewritten.dport != 0 || rewritten.daddr != [0; 4]) {
            // Click's IPAddrRewriter::add_flow refuses such mappings: the packet is dropped.
            self.count(Reason::AddrPattern);
            return Err(DROP);
        }
        let guarantee = self.timeouts.guarantee(kind);
        let mut flow = Flow::new(kind, map, id, rewritten, outs, port as u32, !guarantee.is_zero(), now);
        // Click's relevant_timeout: the guarantee if there is one, else the timeout.
        flow.expiry = after(now, if guarantee.is_zero() { self.timeouts.timeout(&flow) } else { guarantee });
        match self.table.insert(flow, now, &self.timeouts) {
            Ok(idx) => Ok(idx),
            Err(()) => {
                self.inputs[port].failures += 1;
                self.count(Reason::Full);
                Err(DROP)
            }
        }
    }

    /// REPLY_ANNO: remember the annotation of the packet that made the mapping.
    fn note_reply_anno(&mut self, idx: u32, p: &Packet) {
        if let Some(a) = self.reply_anno {
            self.table.flow_mut(idx).reply_anno = a.get(p);
        }
    }

    /// Apply mapping `idx` in direction `dir`, refresh its expiry, and return its output.
    fn rewrite(&mut self, idx: u32, dir: usize, p: &mut Packet, nh: usize, th: usize, now: Instant) -> usize {
        let flow = self.table.flow_mut(idx);
        let dst = flow.apply(p.data_mut(), nh, th, dir);
        let (out, reply_anno, kind) = (flow.out[dir] as usize, flow.reply_anno, flow.kind);
        if let Some(d) = dst {
            if self.dst_anno || self.mode == Mode::Addr {
                p.anno_mut().dst_ip = d;
            }
        }
        if dir == 1 {
            if let Some(a) = self.reply_anno {
                a.set(p, reply_anno);
            }
        }
        let guarantee = self.timeouts.guarantee(kind);
        if guarantee.is_zero() {
            let t = self.timeouts.timeout(self.table.flow(idx));
            self.table.change_expiry(idx, false, after(now, t));
        } else {
            self.table.change_expiry(idx, true, after(now, guarantee));
        }
        out
    }

    /// Reap if it is time (or a pass is under way); true if anything was done.
    fn maybe_reap(&mut self, now: Instant) -> bool {
        if !self.reaping {
            if self.reap_interval.is_zero() {
                return false;
            }
            match self.next_reap {
                None => {
                    self.next_reap = Some(after(now, self.reap_interval));
                    return false;
                }
                Some(t) if now < t => return false,
                Some(_) => self.reaping = true,
            }
        }
        if self.table.reap(now, &self.timeouts, REAP_BUDGET) {
            self.reaping = false;
            self.next_reap = (!self.reap_interval.is_zero()).then(|| after(now, self.reap_interval));
        }
        true
    }

    /// Lines of the mapping table `map`, in Click's format.
    fn table_text(&self, map: u8, now: Instant) -> String {
        let mut s = String::new();
        for (idx, dir) in self.table.entries(map) {
            let f = self.table.flow(idx);
            if f.kind == FlowKind::Addr {
                let _ = write!(s, "{} => {}", Ipv4Addr::from(f.e[dir].saddr), Ipv4Addr::from(f.e[1 - dir].daddr));
            } else {
                let _ = write!(s, "{} => {}", f.e[dir], f.rewritten(dir));
            }
            let star = |d: usize| if d == dir { "*" } else { "" };
            let expiry = if f.guaranteed { self.timeouts.best_effort_expiry(f) } else { f.expiry };
            let _ = writeln!(
                s,
                " [{}{} {}{}] i{} exp{}",
                star(0),
                f.out[0],
                star(1),
                f.out[1],
                f.input,
                seconds_until(expiry, now)
            );
        }
        s
    }

    fn patterns_text(&self) -> String {
        let mut s = String::new();
        for (i, input) in self.inputs.iter().enumerate() {
            s += &input.spec.unparse();
            let count = self.table.counts.get(i).copied().unwrap_or(0);
            if count != 0 {
                let _ = write!(s, " [{count}]");
            }
            s.push('\n');
        }
        s
    }
}

/// Click's `(expiry + HZ/2 - now) / HZ`: seconds to expiry, rounded.
fn seconds_until(expiry: Instant, now: Instant) -> i64 {
    let ms = if expiry >= now { (expiry - now).as_millis() as i64 } else { -((now - expiry).as_millis() as i64) };
    (ms + 500).div_euclid(1000)
}

/// The offsets of the IP header (with its 20 fixed bytes inside the data) and of the
/// transport header (the annotation, or right after the IP header).
#[inline]
fn headers(p: &Packet) -> Option<(usize, usize)> {
    let nh = usize::try_from(p.network_header_offset()?).ok()?;
    let data = p.data();
    if data.len() < nh.checked_add(20)? {
        return None;
    }
    let th = match p.transport_header_offset().map(usize::try_from) {
        Some(Ok(th)) => th,
        Some(Err(_)) => return None,
        None => nh + ((data[nh] & 0x0f) as usize) * 4,
    };
    Some((nh, th))
}

/// What a rewriter hands to a replacement of the same class: its mappings and counters.
struct RewriterState {
    class: &'static str,
    table: FlowTable,
    inputs: Vec<Input>,
    drops: DropCounts,
    next_reap: Option<Instant>,
}

impl Element for Rewriter {
    fn push(&mut self, port: usize, batch: Batch, mut ctx: Ctx<'_>) {
        let now = Instant::now();
        self.maybe_reap(now);
        let mut outs = std::mem::take(&mut self.outs);
        batch.split_into(&mut outs, |p| self.process(port, p, now));
        for (i, b) in outs.iter_mut().enumerate() {
            if !b.is_empty() {
                ctx.push(i, std::mem::take(b));
            }
        }
        self.outs = outs;
    }

    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        if !self.reap_interval.is_zero() {
            self.next_reap = Some(after(Instant::now(), self.reap_interval));
            ctx.schedule_task();
        }
        Ok(())
    }

    fn run_task(&mut self, _ctx: Ctx<'_>) -> TaskStatus {
        if self.maybe_reap(Instant::now()) {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        let now = Instant::now();
        Some(match name {
            "table" | "mappings" if self.mode == Mode::Ip => self.table_text(0, now) + &self.table_text(1, now),
            "table" | "mappings" => self.table_text(0, now),
            "tcp_table" | "tcp_mappings" if self.mode == Mode::Ip => self.table_text(0, now),
            "udp_table" | "udp_mappings" if self.mode == Mode::Ip => self.table_text(1, now),
            "nmappings" => self.table.counts.iter().sum::<u64>().to_string(),
            "mapping_failures" => self.inputs.iter().map(|i| i.failures).sum::<u64>().to_string(),
            "patterns" => self.patterns_text(),
            "size" | "length" => self.table.size().to_string(),
            "capacity" => self.table.capacity.to_string(),
            _ => return self.drops.read_handler(name),
        })
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "capacity" => {
                let mut args = Args::from_args(value.split_whitespace().map(str::to_string).collect());
                let capacity: i32 = args.read_mp("CAPACITY").map_err(|e| e.to_string())?;
                args.finish().map_err(|e| e.to_string())?;
                self.table.capacity = capacity;
                self.table.reap_all(Instant::now(), &self.timeouts);
                Ok(())
            }
            "clear" => {
                self.table.clear();
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }

    fn take_state(&mut self) -> Option<State> {
        let empty = FlowTable::new(0, self.inputs.len(), self.table.capacity);
        Some(Box::new(RewriterState {
            class: self.mode.class(),
            table: std::mem::replace(&mut self.table, empty),
            inputs: self.inputs.clone(),
            drops: self.drops.clone(),
            next_reap: self.next_reap,
        }))
    }

    fn give_state(&mut self, state: State) {
        let Ok(s) = state.downcast::<RewriterState>() else { return };
        if s.class != self.mode.class() {
            return;
        }
        let mut table = s.table;
        // Mappings made by inputs or leading to outputs this element lacks are dropped.
        let (ninputs, noutputs) = (self.inputs.len(), self.noutputs);
        table.retain(|f| (f.input as usize) < ninputs && f.out.iter().all(|&o| (o as usize) < noutputs));
        table.counts.resize(ninputs, 0);
        table.capacity = self.table.capacity;
        self.table = table;
        for (new, old) in self.inputs.iter_mut().zip(s.inputs) {
            new.failures = old.failures;
            // The sequential allocator goes on where it was, for an unchanged pattern.
            if let (Spec::Pattern(p, ..), Spec::Pattern(q, ..)) = (&mut new.spec, &old.spec) {
                let mut same = q.clone();
                same.set_next_variation(p.next_variation());
                if same == *p {
                    p.set_next_variation(q.next_variation());
                }
            }
        }
        self.drops = s.drops;
        if s.next_reap.is_some() {
            self.next_reap = s.next_reap;
        }
        // A smaller capacity takes effect at once, a little at a time.
        self.reaping = self.table.size() as i64 > i64::from(self.table.capacity);
    }
}

#[cfg(test)]
impl Rewriter {
    pub(crate) fn table_at(&self, name: &str, now: Instant) -> String {
        match name {
            "udp_table" => self.table_text(1, now),
            _ => self.table_text(0, now),
        }
    }

    pub(crate) fn reap_now(&mut self, now: Instant) {
        self.reaping = true;
        while self.maybe_reap(now) && self.reaping {}
    }

    pub(crate) fn check_table(&self) {
        self.table.check();
    }
}

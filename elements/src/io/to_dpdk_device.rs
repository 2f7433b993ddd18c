//! `ToDPDKDevice`: packets out of a DPDK port (a NIC bound to DPDK, or a virtual device).

use sluice::{BuildCtx, Combine, ConfigError, Element, HandlerSpec};
#[cfg(feature = "dpdk")]
use {
    super::dpdk_common::{mbuf_from_packet, port_handler, NoMbuf, PortArgs},
    dpdk_sys::burst::TxQueue,
    dpdk_sys::ffi::rte_mbuf,
    dpdk_sys::mempool::release_mbuf,
    dpdk_sys::{port, Mempool, Needs, Port},
    sluice::args::Args,
    sluice::drops::DropCounts,
    sluice::{Batch, Ctx, InitCtx, TaskStatus, MAX_BATCH},
    std::time::{Duration, Instant},
};

sluice::element_class! {
    /// ToDPDKDevice(PORT [, QUEUE, N_QUEUES, KEYWORDS])
    ///
    /// Sends packets to a network device through DPDK.
    ///
    /// Sends every packet it receives, which must start with an Ethernet header, out DPDK
    /// port PORT (a port number, a device name, or a virtual device created on first use:
    /// see FromDPDKDevice). A packet received by a FromDPDKDevice is sent in its own mbuf,
    /// without a copy; any other packet is copied into an mbuf from the port's pool.
    ///
    /// Its input is agnostic: pushed batches are sent at once, BURST packets per call to
    /// the driver (Sluice's batches make FastClick's internal queue unnecessary: IQUEUE and
    /// TIMEOUT are accepted and ignored); with a pull input it runs as a task pulling up to
    /// BURST packets per run. Worker w sends on TX queue QUEUE + (w modulo N_QUEUES).
    ///
    /// When the device's queue is full, BLOCKING true (the default) retries until the
    /// device takes the packets — but gives up after one second without progress, so a
    /// dead link cannot hang the worker; BLOCKING false drops what the device did not take.
    /// (A queue that only the same worker empties — a net_ring port looping back to a
    /// FromDPDKDevice on this worker — cannot drain while it waits: use BLOCKING false
    /// there.) Dropped packets are counted by reason.
    ///
    /// Needs Sluice built with the `dpdk` feature (and DPDK's development files); without
    /// it the class is listed but refuses to build, saying so.
    ///
    /// Ports: 1 input (agnostic), no outputs.
    ///
    /// # Keywords
    /// - `QUEUE` — unsigned. First TX queue to use. Default 0.
    /// - `N_QUEUES` — integer. Number of TX queues; -1 (the default) means one per worker.
    /// - `BURST` — unsigned. Most packets per call to the driver, and per pull. Default 32.
    /// - `BLOCKING` — boolean. Wait for room in the device queue. Default true.
    /// - `NDESC` — unsigned. Descriptors per TX queue. Default 1024.
    /// - `IQUEUE`, `TIMEOUT` — accepted for FastClick compatibility; no effect.
    /// - `ALLOW_NONEXISTENT` — boolean. If PORT does not exist, drop packets instead of
    ///   failing. Default false.
    ///
    /// # Handlers
    /// - `count`, `n_sent` (read) — packets the device took.
    /// - `dropped`, `n_dropped`, `drops` (read) — packets dropped.
    /// - `drop_details` (read) — dropped packets by reason.
    /// - `reset_counts` (write) — reset the counts.
    /// - `device` (read) — the port number.
    /// - `mac`, `carrier`, `speed`, `duplex` (read) — the port's address and link state.
    /// - `hw_count`, `hw_bytes`, `hw_errors` (read) — the device's own TX counters.
    ///
    /// # Example
    /// ```text
    /// FromDPDKDevice(0) -> EtherMirror -> ToDPDKDevice(0);
    /// ```
    pub const TO_DPDK_DEVICE = "ToDPDKDevice" { ports: "1/0", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets sent"),
    HandlerSpec::read("n_sent", Combine::Sum, "packets sent (FastClick's older name)"),
    HandlerSpec::read("dropped", Combine::Sum, "packets dropped"),
    HandlerSpec::read("n_dropped", Combine::Sum, "packets dropped (FastClick's older name)"),
    HandlerSpec::read("drops", Combine::Sum, "packets dropped"),
    HandlerSpec::read("drop_details", Combine::First, "dropped packets by reason"),
    HandlerSpec::write("reset_counts", "reset the counts"),
    HandlerSpec::read("device", Combine::First, "the DPDK port number"),
    HandlerSpec::read("mac", Combine::First, "the port's Ethernet address"),
    HandlerSpec::read("carrier", Combine::First, "1 when the link is up"),
    HandlerSpec::read("speed", Combine::First, "link speed in Mbit/s"),
    HandlerSpec::read("duplex", Combine::First, "1 full duplex, 0 half, -1 link down"),
    HandlerSpec::read("hw_count", Combine::First, "packets the device sent"),
    HandlerSpec::read("hw_bytes", Combine::First, "bytes the device sent"),
    HandlerSpec::read("hw_errors", Combine::First, "transmit errors"),
];

#[cfg(feature = "dpdk")]
const DROP_REASONS: &[&str] = &[
    "the device queue stayed full",
    "no free mbuf to copy the packet into",
    "longer than one mbuf",
    "the port does not exist (ALLOW_NONEXISTENT)",
];
#[cfg(feature = "dpdk")]
const FULL: usize = 0;
#[cfg(feature = "dpdk")]
const NO_MBUF: usize = 1;
#[cfg(feature = "dpdk")]
const TOO_LONG: usize = 2;
#[cfg(feature = "dpdk")]
const NO_PORT: usize = 3;

/// How long BLOCKING waits for a device queue that takes nothing.
#[cfg(feature = "dpdk")]
const BLOCK_LIMIT: Duration = Duration::from_secs(1);

/// Without the `dpdk` feature the class exists (for docs and `sluice check`) but refuses
/// to build, saying how to get it.
#[cfg(not(feature = "dpdk"))]
fn build(_config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Err(super::dpdk_not_built("ToDPDKDevice"))
}

#[cfg(feature = "dpdk")]
fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut a = Args::new(config);
    let port = PortArgs::read(&mut a, ctx.nworkers)?;
    let burst = a.read_kw::<usize>("BURST")?.unwrap_or(32).clamp(1, dpdk_sys::burst::MAX_BURST);
    let blocking = a.read_kw::<bool>("BLOCKING")?.unwrap_or(true);
    let _ = a.read_kw::<u32>("IQUEUE")?;
    let _ = a.read_kw::<i64>("TIMEOUT")?;
    a.finish()?;
    let needs = Needs { tx_queues: port.queue_end(), tx_desc: port.ndesc, ..Needs::default() };
    port::declare(&port.spec, needs);
    Ok(Box::new(ToDPDKDevice {
        args: port,
        needs,
        burst,
        blocking,
        port: None,
        queue: None,
        pool: None,
        count: 0,
        drops: DropCounts::new(DROP_REASONS),
    }))
}

/// The element: the TX queue this worker sends on.
#[cfg(feature = "dpdk")]
pub struct ToDPDKDevice {
    args: PortArgs,
    needs: Needs,
    burst: usize,
    blocking: bool,
    port: Option<Port>,
    queue: Option<TxQueue>,
    pool: Option<Mempool>,
    count: u64,
    drops: DropCounts,
}

#[cfg(feature = "dpdk")]
impl ToDPDKDevice {
    fn send(&mut self, batch: Batch) {
        let (Some(q), Some(pool)) = (&self.queue, &self.pool) else {
            self.drops.count(NO_PORT, batch.len() as u64);
            return;
        };
        let mut raw: [*mut rte_mbuf; MAX_BATCH] = [std::ptr::null_mut(); MAX_BATCH];
        let mut n = 0;
        for p in batch {
            match mbuf_from_packet(p, pool) {
                Ok(m) => {
                    raw[n] = m;
                    n += 1;
                }
                Err(NoMbuf::Exhausted) => self.drops.count(NO_MBUF, 1),
                Err(NoMbuf::TooLong) => self.drops.count(TOO_LONG, 1),
            }
        }
        let mut sent = 0;
        let mut stalled: Option<Instant> = None;
        while sent < n {
            let end = (sent + self.burst).min(n);
            // SAFETY: raw[sent..end] are mbufs we own, with their lengths set.
            let k = unsafe { q.send_raw(&mut raw[sent..end]) };
            sent += k;
            if k > 0 {
                stalled = None;
                continue;
            }
            if !self.blocking {
                break;
            }
            match stalled {
                None => stalled = Some(Instant::now()),
                Some(t) if t.elapsed() >= BLOCK_LIMIT => break,
                Some(_) => std::hint::spin_loop(),
            }
        }
        for &m in &raw[sent..n] {
            // SAFETY: the device did not take these; they are still ours.
            unsafe { release_mbuf(m.cast()) };
        }
        self.count += sent as u64;
        self.drops.count(FULL, (n - sent) as u64);
    }
}

#[cfg(feature = "dpdk")]
impl Element for ToDPDKDevice {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.port = self.args.acquire(self.needs)?;
        if let Some(p) = &self.port {
            self.queue = Some(p.tx_queue(self.args.tx_queue_of(ctx.worker)).map_err(|e| e.to_string())?);
            self.pool = Some(p.pool());
        }
        if ctx.input_pull.first().copied().unwrap_or(false) {
            ctx.schedule_task();
        }
        Ok(())
    }

    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        self.send(batch);
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let mut left = self.burst;
        let mut moved = false;
        while left > 0 {
            let b = ctx.pull(0, left.min(MAX_BATCH));
            if b.is_empty() {
                break;
            }
            left = left.saturating_sub(b.len());
            moved = true;
            self.send(b);
        }
        if moved {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" | "n_sent" => Some(self.count.to_string()),
            "dropped" | "n_dropped" => Some(self.drops.total().to_string()),
            "drops" | "drop_details" => self.drops.read_handler(name),
            _ => port_handler(self.port.as_ref(), name, false),
        }
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "reset_counts" => {
                self.count = 0;
                self.drops.reset();
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(all(test, feature = "dpdk"))]
mod tests {
    use super::*;

    #[test]
    fn configuration() {
        assert!(sluice::testing::build(&TO_DPDK_DEVICE, "0, BURST 8, BLOCKING false", 1, 0).is_ok());
        assert!(sluice::testing::build(&TO_DPDK_DEVICE, "net_null1, IQUEUE 1024, TIMEOUT -1, NDESC 512", 1, 0).is_ok());
        assert!(sluice::testing::build(&TO_DPDK_DEVICE, "0, PROMISC true", 1, 0).is_err());
    }
}

#[cfg(all(test, not(feature = "dpdk")))]
mod tests {
    #[test]
    fn without_the_feature_the_class_says_how_to_get_it() {
        let e = sluice::testing::build(&super::TO_DPDK_DEVICE, "0", 1, 0).err().unwrap();
        assert!(e.0.contains("built without DPDK support"), "{e}");
    }
}

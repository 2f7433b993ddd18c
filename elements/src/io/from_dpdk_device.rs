//! `FromDPDKDevice`: packets from a DPDK port (a NIC bound to DPDK, or a virtual device).

use sluice::{BuildCtx, Combine, ConfigError, Element, HandlerSpec};
#[cfg(feature = "dpdk")]
use {
    super::dpdk_common::{packet_from_mbuf, port_handler, PortArgs},
    dpdk_sys::burst::RxQueue,
    dpdk_sys::ffi::rte_mbuf,
    dpdk_sys::{port, Needs, Port},
    sluice::args::{Args, FromArg},
    sluice::{Batch, Ctx, InitCtx, TaskStatus, MAX_BATCH},
};

sluice::element_class! {
    /// FromDPDKDevice(PORT [, QUEUE, N_QUEUES, KEYWORDS])
    ///
    /// Reads packets from a network device through DPDK.
    ///
    /// Receives packets from DPDK port PORT and pushes them out its output, up to BURST
    /// per queue per task run. PORT is a port number, a device name (`net_null0`, a PCI
    /// address), or a DPDK virtual device to create on first use: `net_null0`, `net_ring0`,
    /// `net_tap0`, or one with driver arguments in quotes (`"net_pcap0,rx_pcap=in.pcap"`).
    /// Unlike FromDevice, it does not sniff: a device driven by DPDK is invisible to the
    /// kernel, and each packet is processed once.
    ///
    /// Packets are not copied: each wraps the receive buffer (mbuf) in place, and a
    /// ToDPDKDevice sends that same mbuf. The element uses RX queues QUEUE to
    /// QUEUE+N_QUEUES−1; with several workers, worker w reads the queues whose index from
    /// QUEUE is w modulo the number of workers (the device spreads flows over queues by
    /// RSS, with a symmetric key: both directions of a flow reach the same queue, so one
    /// worker keeps its NAT mapping or per-flow state), and a worker left without a queue
    /// does not read. The port is configured and started once for all elements using it,
    /// with as many RX and TX queues as they need, when the first of them starts; it stops
    /// when the graph is gone.
    ///
    /// The DPDK EAL starts with the first DPDK element, with the arguments of
    /// `sluice run --eal '...'` (or `[dpdk] eal` in sluice.toml); by default
    /// `-l 0 --no-huge --no-pci --no-shconf --no-telemetry -m 512`, which needs no
    /// hugepages and no privileges but sees virtual devices only.
    ///
    /// Needs Sluice built with the `dpdk` feature (and DPDK's development files); without
    /// it the class is listed but refuses to build, saying so.
    ///
    /// Ports: no inputs, 1 output (push).
    ///
    /// # Keywords
    /// - `QUEUE` — unsigned. First RX queue to read. Default 0.
    /// - `N_QUEUES` — integer. Number of RX queues to read; -1 (the default) means one
    ///   per worker.
    /// - `PROMISC` — boolean. Put the device in promiscuous mode. Default false.
    /// - `BURST` — unsigned. Most packets read from one queue per task run. Default 32.
    /// - `NDESC` — unsigned. Descriptors per RX queue. Default 256.
    /// - `ACTIVE` — boolean. Read packets; when false the port is only started. Default true.
    /// - `ALLOW_NONEXISTENT` — boolean. If PORT does not exist, stay idle instead of
    ///   failing. Default false.
    ///
    /// # Handlers
    /// - `count` (read) — packets received by this element.
    /// - `reset_counts` (write) — reset `count`.
    /// - `burst` (read/write) — BURST.
    /// - `active` (read/write) — whether the element reads packets.
    /// - `device` (read) — the port number.
    /// - `mac`, `carrier`, `speed`, `duplex` (read) — the port's address and link state.
    /// - `hw_count`, `hw_bytes`, `hw_dropped`, `hw_errors`, `nombufs` (read) — the device's
    ///   own RX counters: packets, bytes, packets missed for lack of descriptors, errors,
    ///   mbuf allocation failures.
    ///
    /// # Example
    /// ```text
    /// FromDPDKDevice(0, PROMISC true) -> c :: Counter -> ToDPDKDevice(1);
    /// FromDPDKDevice(net_null0, BURST 64) -> Discard;
    /// ```
    pub const FROM_DPDK_DEVICE = "FromDPDKDevice" { ports: "0/1", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets received"),
    HandlerSpec::write("reset_counts", "reset the packet count"),
    HandlerSpec::read_write("burst", Combine::First, "most packets read from one queue per task run"),
    HandlerSpec::read_write("active", Combine::First, "whether the element reads packets"),
    HandlerSpec::read("device", Combine::First, "the DPDK port number"),
    HandlerSpec::read("mac", Combine::First, "the port's Ethernet address"),
    HandlerSpec::read("carrier", Combine::First, "1 when the link is up"),
    HandlerSpec::read("speed", Combine::First, "link speed in Mbit/s"),
    HandlerSpec::read("duplex", Combine::First, "1 full duplex, 0 half, -1 link down"),
    HandlerSpec::read("hw_count", Combine::First, "packets the device received"),
    HandlerSpec::read("hw_bytes", Combine::First, "bytes the device received"),
    HandlerSpec::read("hw_dropped", Combine::First, "packets the device missed (no free descriptor)"),
    HandlerSpec::read("hw_errors", Combine::First, "receive errors"),
    HandlerSpec::read("nombufs", Combine::First, "mbuf allocation failures"),
];

/// Without the `dpdk` feature the class exists (for docs and `sluice check`) but refuses
/// to build, saying how to get it.
#[cfg(not(feature = "dpdk"))]
fn build(_config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    Err(super::dpdk_not_built("FromDPDKDevice"))
}

#[cfg(feature = "dpdk")]
fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut a = Args::new(config);
    let port = PortArgs::read(&mut a, ctx.nworkers)?;
    let promisc = a.read_kw::<bool>("PROMISC")?.unwrap_or(false);
    let burst = a.read_kw::<usize>("BURST")?.unwrap_or(32).max(1);
    let active = a.read_kw::<bool>("ACTIVE")?.unwrap_or(true);
    a.finish()?;
    let needs = Needs { rx_queues: port.queue_end(), rx_desc: port.ndesc, promisc, ..Needs::default() };
    // Tell the port what this element needs before any user starts it.
    port::declare(&port.spec, needs);
    Ok(Box::new(FromDPDKDevice { args: port, needs, burst, active, port: None, queues: Vec::new(), count: 0 }))
}

/// The element: the RX queues this worker reads.
#[cfg(feature = "dpdk")]
pub struct FromDPDKDevice {
    args: PortArgs,
    needs: Needs,
    burst: usize,
    active: bool,
    port: Option<Port>,
    queues: Vec<RxQueue>,
    count: u64,
}

#[cfg(feature = "dpdk")]
impl FromDPDKDevice {
    /// Read up to `self.burst` packets from `q`, pushing them in batches.
    #[inline]
    fn read_queue(q: &RxQueue, burst: usize, ctx: &mut Ctx<'_>) -> usize {
        let mut raw: [*mut rte_mbuf; MAX_BATCH] = [std::ptr::null_mut(); MAX_BATCH];
        let mut got = 0;
        while got < burst {
            let want = (burst - got).min(MAX_BATCH);
            let n = q.recv_raw(&mut raw[..want]);
            if n == 0 {
                break;
            }
            let mut b = Batch::new();
            for &m in &raw[..n] {
                // SAFETY: the driver handed us `m`; the packet owns it from here.
                let _ = b.push(unsafe { packet_from_mbuf(m) });
            }
            ctx.push(0, b);
            got += n;
            if n < want {
                break;
            }
        }
        got
    }
}

#[cfg(feature = "dpdk")]
impl Element for FromDPDKDevice {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.port = self.args.acquire(self.needs)?;
        if let Some(p) = &self.port {
            for q in self.args.rx_queues_of(ctx.worker, ctx.nworkers) {
                self.queues.push(p.rx_queue(q).map_err(|e| e.to_string())?);
            }
        }
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        if self.queues.is_empty() {
            return TaskStatus::Done;
        }
        if !self.active {
            return TaskStatus::Idle;
        }
        let mut got = 0;
        for q in &self.queues {
            got += Self::read_queue(q, self.burst, &mut ctx);
        }
        self.count += got as u64;
        if got > 0 {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(self.count.to_string()),
            "burst" => Some(self.burst.to_string()),
            "active" => Some(self.active.to_string()),
            _ => port_handler(self.port.as_ref(), name, true),
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "reset_counts" => {
                self.count = 0;
                Ok(())
            }
            "burst" => {
                self.burst = usize::from_arg(value.trim()).map_err(|e| format!("burst: {e}"))?.max(1);
                Ok(())
            }
            "active" => {
                self.active = bool::from_arg(value.trim()).map_err(|e| format!("active: {e}"))?;
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
        assert!(sluice::testing::build(&FROM_DPDK_DEVICE, "0, PROMISC true, BURST 64, NDESC 512", 0, 1).is_ok());
        assert!(sluice::testing::build(&FROM_DPDK_DEVICE, "net_null0, 1, 2, ACTIVE false", 0, 1).is_ok());
        let e = sluice::testing::build(&FROM_DPDK_DEVICE, "0, BLOCKING true", 0, 1).err().unwrap();
        assert!(e.0.contains("BLOCKING"), "{e}");
        assert!(sluice::testing::build(&FROM_DPDK_DEVICE, "", 0, 1).is_err());
    }
}

#[cfg(all(test, not(feature = "dpdk")))]
mod tests {
    #[test]
    fn without_the_feature_the_class_says_how_to_get_it() {
        let e = sluice::testing::build(&super::FROM_DPDK_DEVICE, "0", 0, 1).err().unwrap();
        assert!(e.0.contains("built without DPDK support"), "{e}");
    }
}

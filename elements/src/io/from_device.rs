//! `FromDevice`: packets from a Linux network interface, through an AF_PACKET ring.

use super::afpacket::{RxOptions, RxRing};
use sluice::args::Args;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};

sluice::element_class! {
    /// FromDevice(DEVNAME [, KEYWORDS])
    ///
    /// Reads packets from a Linux network interface.
    ///
    /// Captures every packet arriving on interface DEVNAME through an AF_PACKET socket
    /// with a TPACKET_V3 ring shared with the kernel, and pushes them out its output,
    /// Ethernet header first, with the capture time in the timestamp annotation and, as in
    /// Click, the packet type annotation set from the kernel's verdict (HOST, BROADCAST,
    /// MULTICAST, OTHERHOST, OUTGOING: what DropBroadcasts and ICMPError read). While
    /// traffic flows no system call is made: packets are copied from the ring into pooled
    /// packets, up to BURST per task run. With several workers, each opens its own ring in
    /// one PACKET_FANOUT group, and the kernel spreads flows over them by hash.
    ///
    /// Like Click's FromDevice on Linux, it sniffs: the kernel's own stack sees the packets
    /// too (SNIFFER false is refused: stealing packets needs a different mechanism).
    /// Packets this host sends on the interface are ignored unless OUTBOUND is true.
    ///
    /// Ports: no inputs, 1 output (push).
    ///
    /// # Keywords
    /// - `SNIFFER` — boolean. Must be true (the default).
    /// - `PROMISC` — boolean. Put the interface in promiscuous mode. Default false.
    /// - `SNAPLEN` — unsigned. Keep at most this many bytes of each packet. Default 2046.
    /// - `BURST` — unsigned. Most packets per task run. Default 32.
    /// - `OUTBOUND` — boolean. Also emit packets sent by this host. Default false.
    /// - `METHOD` — `LINUX` (the default) or `PCAP` (accepted: the AF_PACKET ring is used).
    ///
    /// # Handlers
    /// - `count` (read) — packets received.
    /// - `reset_counts` (write) — reset `count`.
    ///
    /// # Example
    /// ```text
    /// FromDevice(veth0, PROMISC true) -> c :: Counter -> Discard;
    /// ```
    pub const FROM_DEVICE = "FromDevice" { ports: "0/1", processing: "h/h", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets received"),
    HandlerSpec::write("reset_counts", "reset the packet count"),
];

fn build(config: &str, ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut a = Args::new(config);
    let devname: String = a.read_mp("DEVNAME")?;
    let sniffer = a.read_kw::<bool>("SNIFFER")?.unwrap_or(true);
    let promisc = a.read_kw::<bool>("PROMISC")?.unwrap_or(false);
    let snaplen = a.read_kw::<u32>("SNAPLEN")?.unwrap_or(2046) as usize;
    let burst = a.read_kw::<usize>("BURST")?.unwrap_or(32).max(1);
    let outbound = a.read_kw::<bool>("OUTBOUND")?.unwrap_or(false);
    let method = a.read_kw::<String>("METHOD")?.unwrap_or_else(|| "LINUX".into());
    a.finish()?;
    if !sniffer {
        return Err("SNIFFER false is not supported: FromDevice reads a copy of the interface's traffic".into());
    }
    if !matches!(method.to_ascii_uppercase().as_str(), "LINUX" | "PCAP") {
        return Err(format!("METHOD must be LINUX or PCAP, not '{method}'").into());
    }
    // One fanout group per element and process, so several workers share the traffic.
    let group =
        (std::process::id() as u16) ^ (ctx.name.bytes().fold(0u16, |h, b| h.wrapping_mul(31).wrapping_add(b as u16)));
    Ok(Box::new(FromDevice {
        devname,
        opts: RxOptions { promisc, outgoing: outbound, fanout: (ctx.nworkers > 1).then_some(group) },
        snaplen,
        burst,
        ring: None,
        count: 0,
    }))
}

/// The element: one receive ring per worker.
pub struct FromDevice {
    devname: String,
    opts: RxOptions,
    snaplen: usize,
    burst: usize,
    ring: Option<RxRing>,
    count: u64,
}

impl Element for FromDevice {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.ring = Some(RxRing::open(&self.devname, &self.opts).map_err(|e| e.to_string())?);
        ctx.schedule_task();
        Ok(())
    }

    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let Some(ring) = self.ring.as_mut() else { return TaskStatus::Done };
        let mut left = self.burst;
        let mut got = 0;
        while left > 0 {
            let mut b = Batch::new();
            let n = ring.recv(&mut b, left.min(MAX_BATCH), self.snaplen, self.opts.outgoing);
            if n == 0 {
                break;
            }
            got += n;
            left -= n;
            ctx.push(0, b);
        }
        self.count += got as u64;
        if got > 0 {
            TaskStatus::Busy
        } else {
            TaskStatus::Idle
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        (name == "count").then(|| self.count.to_string())
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "reset_counts" => {
                self.count = 0;
                Ok(())
            }
            _ => Err(format!("handler '{name}' is not writable")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration() {
        assert!(sluice::testing::build(&FROM_DEVICE, "eth0, PROMISC true, BURST 64", 0, 1).is_ok());
        let e = sluice::testing::build(&FROM_DEVICE, "eth0, SNIFFER false", 0, 1).err().unwrap();
        assert!(e.0.contains("SNIFFER false is not supported"), "{e}");
        assert!(sluice::testing::build(&FROM_DEVICE, "", 0, 1).is_err());
    }

    #[test]
    fn a_missing_interface_is_named() {
        let r = sluice::testing::run_config("FromDevice(nosuchif0) -> Discard", &crate::classes());
        let e = r.err().expect("refused").to_string();
        assert!(e.contains("no network interface named 'nosuchif0'"), "{e}");
    }
}

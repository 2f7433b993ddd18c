//! `ToDevice`: packets out of a Linux network interface, through an AF_PACKET socket.

use super::afpacket::TxSocket;
use sluice::args::Args;
use sluice::{Batch, BuildCtx, Combine, ConfigError, Ctx, Element, HandlerSpec, InitCtx, TaskStatus, MAX_BATCH};

sluice::element_class! {
    /// ToDevice(DEVNAME [, KEYWORDS])
    ///
    /// Sends packets out a Linux network interface.
    ///
    /// Sends every packet it receives, which must start with a link-level (Ethernet)
    /// header, out interface DEVNAME through an AF_PACKET socket: one `sendmmsg` system
    /// call per batch. Its input is agnostic: pushed packets are sent at once; with a pull
    /// input it runs as a task pulling up to BURST packets per run. Packets the kernel
    /// refuses (e.g. a full device queue) are dropped and counted in `drops`.
    ///
    /// Ports: 1 input (agnostic), no outputs.
    ///
    /// # Keywords
    /// - `BURST` — unsigned. Most packets pulled per task run. Default 32.
    /// - `METHOD` — `LINUX` (the default) or `PCAP` (accepted: AF_PACKET is used).
    ///
    /// # Handlers
    /// - `count` (read) — packets sent.
    /// - `drops` (read) — packets the kernel did not take.
    /// - `reset_counts` (write) — reset both.
    ///
    /// # Example
    /// ```text
    /// FromDevice(veth0) -> Queue -> ToDevice(veth1);
    /// ```
    pub const TO_DEVICE = "ToDevice" { ports: "1/0", processing: "a/a", handlers: HANDLERS, build: build }
}

const HANDLERS: &[HandlerSpec] = &[
    HandlerSpec::read("count", Combine::Sum, "packets sent"),
    HandlerSpec::read("drops", Combine::Sum, "packets the kernel did not take"),
    HandlerSpec::write("reset_counts", "reset the counts"),
];

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    let mut a = Args::new(config);
    let devname: String = a.read_mp("DEVNAME")?;
    let burst = a.read_kw::<usize>("BURST")?.unwrap_or(32).max(1);
    let method = a.read_kw::<String>("METHOD")?.unwrap_or_else(|| "LINUX".into());
    a.finish()?;
    if !matches!(method.to_ascii_uppercase().as_str(), "LINUX" | "PCAP") {
        return Err(format!("METHOD must be LINUX or PCAP, not '{method}'").into());
    }
    Ok(Box::new(ToDevice { devname, burst, sock: None, count: 0, drops: 0 }))
}

/// The element: one transmit socket per worker.
pub struct ToDevice {
    devname: String,
    burst: usize,
    sock: Option<TxSocket>,
    count: u64,
    drops: u64,
}

impl ToDevice {
    fn send(&mut self, batch: Batch) {
        let n = batch.len() as u64;
        let sent = match self.sock.as_mut().map(|s| s.send(&batch)) {
            Some(Ok(k)) => k as u64,
            Some(Err(e)) => {
                tracing::warn!("{e}");
                0
            }
            None => 0,
        };
        self.count += sent;
        self.drops += n - sent;
    }
}

impl Element for ToDevice {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        self.sock = Some(TxSocket::open(&self.devname).map_err(|e| e.to_string())?);
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
            "count" => Some(self.count.to_string()),
            "drops" => Some(self.drops.to_string()),
            _ => None,
        }
    }

    fn write_handler(&mut self, name: &str, _value: &str) -> Result<(), String> {
        match name {
            "reset_counts" => {
                self.count = 0;
                self.drops = 0;
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
        assert!(sluice::testing::build(&TO_DEVICE, "eth0, BURST 8", 1, 0).is_ok());
        assert!(sluice::testing::build(&TO_DEVICE, "eth0, METHOD NETMAP", 1, 0).is_err());
    }
}

//! `PanicAfter(N [, IN where])`: passes packets until it has seen N of them, then panics, in
//! `push` (default), or in a handler or while being created, as configured. The plugin
//! tests use it to check that a panic is caught at the ABI boundary, the element is
//! disabled and its packets are counted as dropped, and the worker goes on. `Trim` moves
//! packet bounds through the SDK.

use sluice_plugins::abi::{HANDLER_READ, HANDLER_WRITE};
use sluice_plugins::{export_plugin, BuildInfo, Packet, PluginElement};

#[derive(Clone, Copy, PartialEq)]
enum Where {
    Push,
    ReadHandler,
    WriteHandler,
    Create,
    SaveState,
}

pub struct PanicAfter {
    limit: u64,
    seen: u64,
    at: Where,
}

impl PluginElement for PanicAfter {
    const CLASS: &'static str = "PanicAfter";
    const PORTS: &'static str = "1/1";
    const DOC: &'static str = "PanicAfter(N [, IN push|read|write|create|save])

Passes packets, and panics once it has seen N of them (a test element).";
    const HANDLERS: &'static [(&'static str, u32)] =
        &[("seen", HANDLER_READ), ("poke", HANDLER_WRITE), ("limit", HANDLER_READ | HANDLER_WRITE)];

    fn create(config: &str, _info: &BuildInfo) -> Result<Self, String> {
        let mut parts = config.split(',').map(str::trim);
        let limit = parts
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("expected PanicAfter(N), found '{config}'"))?;
        let at = match parts.next() {
            None | Some("IN push") => Where::Push,
            Some("IN read") => Where::ReadHandler,
            Some("IN write") => Where::WriteHandler,
            Some("IN create") => Where::Create,
            Some("IN save") => Where::SaveState,
            Some(other) => return Err(format!("unknown place '{other}'")),
        };
        if at == Where::Create {
            panic!("PanicAfter: panicking in create, as configured");
        }
        Ok(PanicAfter { limit, seen: 0, at })
    }

    fn push(&mut self, _port: u32, pkts: &mut [Packet], _verdicts: &mut [u16]) {
        self.seen += pkts.len() as u64;
        if self.at == Where::Push && self.seen >= self.limit {
            panic!("PanicAfter: {} packets seen, panicking as configured", self.seen);
        }
    }

    fn read_handler(&self, name: &str) -> Option<String> {
        if self.at == Where::ReadHandler {
            panic!("PanicAfter: panicking in a read handler, as configured");
        }
        match name {
            "seen" => Some(self.seen.to_string()),
            "limit" => Some(self.limit.to_string()),
            _ => None,
        }
    }

    fn write_handler(&mut self, name: &str, value: &str) -> Result<(), String> {
        if self.at == Where::WriteHandler {
            panic!("PanicAfter: panicking in a write handler, as configured");
        }
        match name {
            "limit" => self.limit = value.trim().parse().map_err(|_| format!("limit: bad number '{value}'"))?,
            "poke" => {}
            _ => return Err(format!("handler '{name}' is not writable")),
        }
        Ok(())
    }

    fn save_state(&self) -> Vec<u8> {
        if self.at == Where::SaveState {
            panic!("PanicAfter: panicking while saving state, as configured");
        }
        self.seen.to_le_bytes().to_vec()
    }

    fn restore_state(&mut self, state: &[u8]) {
        if let Ok(b) = <[u8; 8]>::try_from(state) {
            self.seen += u64::from_le_bytes(b);
        }
    }
}

/// `Trim(FRONT, BACK)`: removes FRONT bytes from the front and BACK from the end of every
/// packet long enough, through the SDK's `pull` and `take`; drops shorter packets. The
/// tests use it to check that the SDK tells the host about moved bounds.
pub struct Trim {
    front: usize,
    back: usize,
}

impl PluginElement for Trim {
    const CLASS: &'static str = "Trim";
    const PORTS: &'static str = "1/1";
    const DOC: &'static str = "Trim(FRONT, BACK)

Removes FRONT bytes at the front and BACK at the end of each packet (a test element).";

    fn create(config: &str, _info: &BuildInfo) -> Result<Self, String> {
        let n: Vec<usize> = config
            .split(',')
            .map(|s| s.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("expected Trim(FRONT, BACK), found '{config}'"))?;
        match n[..] {
            [front, back] => Ok(Trim { front, back }),
            _ => Err(format!("expected Trim(FRONT, BACK), found '{config}'")),
        }
    }

    fn push(&mut self, _port: u32, pkts: &mut [Packet], verdicts: &mut [u16]) {
        for (p, v) in pkts.iter_mut().zip(verdicts) {
            if p.len() < self.front + self.back {
                *v = sluice_plugins::VERDICT_DROP;
            } else if self.front + self.back > 0 {
                p.pull(self.front);
                p.take(self.back);
            }
        }
    }
}

export_plugin!("faulty", "0.1", PanicAfter, Trim);

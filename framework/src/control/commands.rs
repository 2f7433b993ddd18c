//! Carrying out one parsed command on the router host and phrasing the reply as Click's
//! ControlSocket does (same codes, same sentences where Click has one).

use super::host::{HostError, RouterHost};
use super::protocol::{self, Reply, Request};
use crate::runtime::ControlError;

/// Options of one control socket.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Refuse write handlers, swaps and hot-swaps (Click's READONLY).
    pub read_only: bool,
}

/// Do `req`, whose payload (handler argument or configuration) is `arg`, and say how it went.
pub fn execute(host: &RouterHost, access: &Access, req: &Request, arg: &str) -> Reply {
    match req {
        Request::Read { handler, .. } => match host.read_with(handler, arg) {
            Ok(v) => Reply::new(protocol::OK, format!("Read handler '{handler}' OK")).with_data(v.into_bytes()),
            Err(e) => error_reply(handler, e, false),
        },
        Request::Write { handler, .. } => {
            if access.read_only {
                return Reply::new(protocol::PERMISSION, format!("Permission denied for '{handler}'"));
            }
            match host.write(handler, arg) {
                Ok(()) => Reply::new(protocol::OK, format!("Write handler '{handler}' OK")),
                Err(e) => error_reply(handler, e, true),
            }
        }
        Request::Check { handler, write } => {
            if *write && access.read_only {
                return Reply::new(protocol::PERMISSION, format!("Permission denied for '{handler}'"));
            }
            match host.check(handler, *write) {
                Ok(()) => Reply::new(
                    protocol::OK,
                    format!("{} handler '{handler}' OK", if *write { "Write" } else { "Read" }),
                ),
                Err(HostError::Control(ControlError::NotReadable { .. })) => {
                    Reply::new(protocol::NO_HANDLER, format!("Handler '{handler}' not readable"))
                }
                Err(HostError::Control(ControlError::NotWritable { .. })) => {
                    Reply::new(protocol::NO_HANDLER, format!("Handler '{handler}' not writable"))
                }
                Err(e) => error_reply(handler, e, *write),
            }
        }
        Request::Llrpc => Reply::new(
            protocol::UNIMPLEMENTED,
            "LLRPCs are not supported: Sluice elements have no low-level RPC interface; use handlers",
        ),
        Request::Help => protocol::help(),
        Request::Quit => Reply::new(protocol::OK, "Goodbye!"),
        Request::Swap { element, spec } => {
            if access.read_only {
                return Reply::new(protocol::PERMISSION, format!("Permission denied for swapping '{element}'"));
            }
            match host.swap(element, spec) {
                Ok(()) => Reply::new(protocol::OK, format!("Swapped '{element}' for {spec}")),
                Err(e) => error_reply(element, e, true),
            }
        }
        Request::Hotswap { .. } => {
            if access.read_only {
                return Reply::new(protocol::PERMISSION, "Permission denied for hot-swapping");
            }
            match host.hotswap(arg) {
                Ok(h) => Reply::new(
                    protocol::OK,
                    format!("Hot-swapped the configuration; state carried for {} element(s)", h.carried.len()),
                )
                .with_data(h.carried.join("\n").into_bytes()),
                Err(e) => error_reply("hotconfig", e, true),
            }
        }
        Request::List => match host.list() {
            Ok(rows) => {
                let text: String = rows.iter().map(|(n, c, how)| format!("{n}\t{c}\t{how}\n")).collect();
                Reply::new(protocol::OK, format!("{} elements", rows.len())).with_data(text.into_bytes())
            }
            Err(e) => error_reply("LIST", e, false),
        },
        Request::Load { path } => {
            if access.read_only {
                return Reply::new(protocol::PERMISSION, "Permission denied for loading libraries");
            }
            match host.load_library(std::path::Path::new(path)) {
                Ok(l) => Reply::new(protocol::OK, format!("Loaded plugin {} {}", l.name, l.version))
                    .with_data(l.classes.join("\n").into_bytes()),
                Err(e) => Reply::new(protocol::HANDLER_ERROR, e.to_string()),
            }
        }
        Request::Auth { .. } => Reply::new(protocol::OK, "Already authenticated"),
        Request::Nothing => Reply { code: protocol::OK, lines: Vec::new(), data: None },
    }
}

/// Click's wording for each kind of failure on `name` (a handler or element).
fn error_reply(name: &str, e: HostError, write: bool) -> Reply {
    match e {
        HostError::Control(c) => match c {
            ControlError::NoSuchElement { element, suggestion } => Reply::new(
                protocol::NO_ELEMENT,
                match suggestion {
                    Some(s) => format!("No element named '{element}' (did you mean '{s}'?)"),
                    None => format!("No element named '{element}'"),
                },
            ),
            ControlError::NoSuchHandler { .. } => {
                Reply::new(protocol::NO_HANDLER, format!("No handler named '{name}'"))
            }
            ControlError::NotReadable { .. } => {
                Reply::new(protocol::PERMISSION, format!("Handler '{name}' write-only"))
            }
            ControlError::NotWritable { .. } => Reply::new(protocol::PERMISSION, format!("Handler '{name}' read-only")),
            ControlError::HandlerFailed { message, .. } => Reply::multi(
                protocol::HANDLER_ERROR,
                vec![message],
                format!("{} handler '{name}' error", if write { "Write" } else { "Read" }),
            ),
            ControlError::SwapRefused { message, .. } => Reply::multi(
                protocol::HANDLER_ERROR,
                vec![message],
                format!("Swap of '{name}' refused; it keeps running as it was"),
            ),
            ControlError::Stopped => Reply::new(protocol::NO_ROUTER, "No router installed (the router has stopped)"),
        },
        HostError::Graph(errs) => Reply::multi(
            protocol::HANDLER_ERROR,
            errs.iter().map(|e| e.to_string()).collect(),
            "Configuration refused; the old configuration keeps running",
        ),
        HostError::Syntax(s) => Reply::new(protocol::SYNTAX, s),
    }
}

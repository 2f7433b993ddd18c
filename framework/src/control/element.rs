//! `ControlSocket`: the element through which a graph opens a control socket, as in Click.
//! The element does nothing on the data path; when the graph starts, the control plane reads
//! the configurations of all `ControlSocket` elements and opens their sockets.

use super::commands::Access;
use super::server::{Endpoint, ListenerSpec};
use crate::args::{Args, Word};
use crate::check::Plan;
use crate::element::{BuildCtx, ConfigError, Element};
use crate::error::{GraphErrors, Loc};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

crate::element_class! {
    /// ControlSocket(TYPE, FILENAME or PORT [, READONLY?, KEYWORDS])
    ///
    /// Opens a control socket for other programs (Click's ControlSocket protocol).
    ///
    /// `ControlSocket(unix, FILENAME)` listens on a Unix-domain socket at FILENAME (created
    /// with mode 0600; a stale socket file is replaced). `ControlSocket(tcp, PORT)` listens
    /// on TCP port PORT of 127.0.0.1 (of ADDRESS if given), and every connection must
    /// first send `AUTH token` with the token from the TOKEN keyword or from `[control]
    /// token` in `sluice.toml`; a TCP socket without a token is refused. Clients speak
    /// Click's protocol (greeting `Click::ControlSocket/1.3`, READ, READDATA, READUNTIL,
    /// WRITE, WRITEDATA, WRITEUNTIL, CHECKREAD, CHECKWRITE, LLRPC (refused), QUIT) plus
    /// Sluice's SWAP, HOTSWAP and LIST; see `docs/control.md`. While a graph has a control
    /// socket, it keeps running after its sources are done, as Click does.
    ///
    /// Differences from Click: TCP sockets bind to the loopback address unless ADDRESS is
    /// given (Click binds every address unless LOCALHOST is true) and need a token; PROXY
    /// is refused; RETRIES and RETRY_WARNINGS are accepted and ignored (a socket that
    /// cannot be opened stops the run at start).
    ///
    /// Ports: none.
    ///
    /// # Keywords
    /// - `READONLY` — boolean. Refuse write handlers, swaps and hot-swaps. Default false.
    /// - `TOKEN` — string. The token TCP clients must send with `AUTH`.
    /// - `ADDRESS` — IP address for a TCP socket. Default 127.0.0.1.
    /// - `LOCALHOST` — boolean. Accepted for Click compatibility (TCP binds to the loopback
    ///   address by default anyway).
    /// - `VERBOSE`, `RETRIES`, `RETRY_WARNINGS` — accepted, ignored.
    ///
    /// # Example
    /// ```text
    /// ControlSocket(unix, /tmp/sluice.sock);
    /// ControlSocket(tcp, 7777, TOKEN s3cret);
    /// ```
    pub const CONTROL_SOCKET = "ControlSocket" { ports: "0/0", processing: "h/h", handlers: &[], build: build }
}

/// A parsed ControlSocket configuration.
#[derive(Debug)]
struct Config {
    endpoint: Option<Endpoint>,
    tcp: Option<(SocketAddr, Option<String>)>,
    read_only: bool,
}

fn parse(config: &str) -> Result<Config, ConfigError> {
    let mut a = Args::new(config);
    let kind: Word = a.read_mp("TYPE")?;
    let target: String = a.read_mp("FILENAME")?;
    let read_only: Option<bool> = a.read_p("READONLY")?;
    let read_only_kw: Option<bool> = a.read_kw("READONLY")?;
    let token: Option<String> = a.read_kw("TOKEN")?;
    let address: Option<IpAddr> = a.read_kw::<Ipv4Addr>("ADDRESS")?.map(IpAddr::V4);
    let _: Option<bool> = a.read_kw("LOCALHOST")?;
    let _: Option<bool> = a.read_kw("VERBOSE")?;
    let _: Option<i64> = a.read_kw("RETRIES")?;
    let _: Option<bool> = a.read_kw("RETRY_WARNINGS")?;
    if a.read_kw::<String>("PROXY")?.is_some() {
        return Err("PROXY is not supported".into());
    }
    a.finish()?;
    let read_only = read_only_kw.or(read_only).unwrap_or(false);
    match kind.to_ascii_lowercase().as_str() {
        "unix" => Ok(Config { endpoint: Some(Endpoint::Unix(PathBuf::from(target))), tcp: None, read_only }),
        "tcp" => {
            let port: u16 =
                target.trim().parse().map_err(|_| format!("PORT: expected a port number, found '{target}'"))?;
            let addr = SocketAddr::new(address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), port);
            Ok(Config { endpoint: None, tcp: Some((addr, token)), read_only })
        }
        other => Err(format!("TYPE must be 'unix' or 'tcp', not '{other}'").into()),
    }
}

fn build(config: &str, _ctx: &BuildCtx) -> Result<Box<dyn Element>, ConfigError> {
    parse(config)?;
    Ok(Box::new(ControlSocket))
}

/// The element: nothing to do on the data path.
pub struct ControlSocket;

impl Element for ControlSocket {}

/// The sockets the `ControlSocket` elements of `plan` ask for. `default_token` is the token
/// from `sluice.toml`, used by TCP sockets without their own TOKEN.
pub fn listeners(plan: &Plan, default_token: Option<&str>) -> Result<Vec<ListenerSpec>, GraphErrors> {
    Ok(located_listeners(plan, default_token)?.into_iter().map(|(spec, _)| spec).collect())
}

/// [`listeners`], each with the place of the ControlSocket's configuration (for errors
/// about a socket that cannot be opened).
pub fn located_listeners(plan: &Plan, default_token: Option<&str>) -> Result<Vec<(ListenerSpec, Loc)>, GraphErrors> {
    let mut out = Vec::new();
    let mut errs = GraphErrors::default();
    for (i, e) in plan.graph.elements.iter().enumerate() {
        if plan.classes[i].name != CONTROL_SOCKET.name {
            continue;
        }
        let c = match parse(&e.config) {
            Ok(c) => c,
            Err(err) => {
                errs.push(e.config_loc.clone(), format!("ControlSocket '{}': {err}", e.name));
                continue;
            }
        };
        let access = Access { read_only: c.read_only };
        let endpoint = match (c.endpoint, c.tcp) {
            (Some(ep), _) => ep,
            (None, Some((addr, token))) => match token.or(default_token.map(str::to_string)) {
                Some(token) if !token.is_empty() => Endpoint::Tcp { addr, token },
                _ => {
                    errs.push(
                        e.config_loc.clone(),
                        format!(
                            "ControlSocket '{}': a TCP control socket needs a token (TOKEN keyword, or [control] token in sluice.toml)",
                            e.name
                        ),
                    );
                    continue;
                }
            },
            (None, None) => unreachable!("parse gives one endpoint"),
        };
        out.push((ListenerSpec { endpoint, access }, e.config_loc.clone()));
    }
    errs.into_result(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_and_tcp_forms() {
        let c = parse("unix, /tmp/x.sock").unwrap();
        assert_eq!(c.endpoint, Some(Endpoint::Unix("/tmp/x.sock".into())));
        assert!(!c.read_only);
        let c = parse("TCP, 7777, true, TOKEN abc").unwrap();
        assert_eq!(c.tcp, Some(("127.0.0.1:7777".parse().unwrap(), Some("abc".into()))));
        assert!(c.read_only);
        let c = parse("tcp, 80, ADDRESS 10.0.0.1").unwrap();
        assert_eq!(c.tcp.unwrap().0, "10.0.0.1:80".parse().unwrap());
    }

    #[test]
    fn refuses_bad_configurations() {
        assert!(parse("udp, 5").unwrap_err().0.contains("TYPE must be 'unix' or 'tcp'"));
        assert!(parse("tcp, eighty").unwrap_err().0.contains("expected a port number"));
        assert!(parse("unix, /x, PROXY foo").unwrap_err().0.contains("PROXY is not supported"));
        assert!(parse("unix").is_err());
    }
}

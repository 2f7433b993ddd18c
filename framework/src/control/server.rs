//! The control socket server, on actix: one actor owns the router host and carries out
//! commands one at a time; every connection is a task on the same actix system that reads
//! command lines, sends them to that actor as messages, and writes the replies.
//!
//! The server runs on its own thread. Sockets are bound before that thread starts, so a
//! socket that cannot be opened is an error for the caller, not a log line. Input is
//! bounded: a line longer than [`protocol::MAX_LINE`], binary bytes in a command line, or
//! data beyond [`protocol::MAX_DATA`] get an error reply and the connection is closed; the
//! data plane never notices.

use super::commands::{execute, Access};
use super::host::RouterHost;
use super::protocol::{self, Payload, Reply, Request};
use crate::error::GraphErrors;
use actix::prelude::*;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

/// Where a control socket listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix-domain socket file, created with mode 0600.
    Unix(PathBuf),
    /// A TCP address; connections must authenticate with the token first.
    Tcp { addr: SocketAddr, token: String },
}

/// One socket to open.
#[derive(Clone, Debug)]
pub struct ListenerSpec {
    pub endpoint: Endpoint,
    pub access: Access,
}

/// The owner of the router host in the actor system.
struct HostActor {
    host: Arc<RouterHost>,
}

impl Actor for HostActor {
    type Context = SyncContext<Self>;
}

/// A command with its payload, from one connection.
struct Exec {
    request: Request,
    arg: String,
    access: Access,
}

impl Message for Exec {
    type Result = Reply;
}

impl Handler<Exec> for HostActor {
    type Result = MessageResult<Exec>;

    fn handle(&mut self, msg: Exec, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(execute(&self.host, &msg.access, &msg.request, &msg.arg))
    }
}

enum Bound {
    Unix(std::os::unix::net::UnixListener, PathBuf),
    Tcp(std::net::TcpListener),
}

/// What identifies a socket across hot-swaps: its path or its declared address.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Key {
    fn of(e: &Endpoint) -> Key {
        match e {
            Endpoint::Unix(p) => Key::Unix(p.clone()),
            Endpoint::Tcp { addr, .. } => Key::Tcp(*addr),
        }
    }
}

/// A TCP socket's token (`None` for Unix sockets) and the access its connections get; read
/// at each accept, so a hot-swap can change them without closing the socket.
type Terms = Arc<Mutex<(Option<String>, Access)>>;

fn terms_of(spec: &ListenerSpec) -> (Option<String>, Access) {
    let token = match &spec.endpoint {
        Endpoint::Tcp { token, .. } => Some(token.clone()),
        Endpoint::Unix(_) => None,
    };
    (token, spec.access.clone())
}

/// A socket being served.
struct Open {
    key: Key,
    terms: Terms,
    /// Dropping it ends the socket's accept loop (connections already made go on).
    _close: oneshot::Sender<()>,
    /// Opened for a ControlSocket element of the graph: it follows hot-swaps. Sockets
    /// given on the command line stay whatever the graph says.
    from_graph: bool,
}

type OpenSet = Arc<Mutex<Vec<Open>>>;

fn lock(open: &OpenSet) -> std::sync::MutexGuard<'_, Vec<Open>> {
    open.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bind `endpoint` (not yet served).
fn bind(endpoint: &Endpoint) -> io::Result<Bound> {
    match endpoint {
        Endpoint::Unix(path) => {
            // Like Click, take over a stale socket file left by an earlier run.
            if std::fs::symlink_metadata(path).map(|m| m.file_type().is_socket()).unwrap_or(false) {
                let _ = std::fs::remove_file(path);
            }
            let l = bind_private(path)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on '{}': {e}", path.display())))?;
            l.set_nonblocking(true)?;
            Ok(Bound::Unix(l, path.clone()))
        }
        Endpoint::Tcp { addr, .. } => {
            let l = std::net::TcpListener::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
            l.set_nonblocking(true)?;
            Ok(Bound::Tcp(l))
        }
    }
}

/// A running control plane; dropping it (or `shutdown`) closes every socket.
pub struct ControlPlane {
    system: actix_rt::System,
    thread: Option<JoinHandle<()>>,
    open: OpenSet,
    arbiter: actix_rt::ArbiterHandle,
    actor: Addr<HostActor>,
    /// The TCP addresses actually bound at start (port 0 becomes a real port).
    pub tcp_addrs: Vec<SocketAddr>,
}

impl ControlPlane {
    /// Bind every socket, then serve them on a new thread.
    pub fn start(host: Arc<RouterHost>, specs: Vec<ListenerSpec>) -> io::Result<ControlPlane> {
        let mut bound = Vec::new();
        let mut tcp_addrs = Vec::new();
        for spec in &specs {
            let b = match bind(&spec.endpoint) {
                Ok(b) => b,
                Err(e) => {
                    // Leave no socket file of those bound so far behind.
                    for (b, _) in bound {
                        if let Bound::Unix(_, p) = b {
                            let _ = std::fs::remove_file(p);
                        }
                    }
                    return Err(e);
                }
            };
            if let Bound::Tcp(l) = &b {
                tcp_addrs.push(l.local_addr()?);
            }
            bound.push((b, spec));
        }
        let mut open = Vec::new();
        let mut loops = Vec::new();
        for (b, spec) in bound {
            let (close, closed) = oneshot::channel();
            let terms: Terms = Arc::new(Mutex::new(terms_of(spec)));
            open.push(Open { key: Key::of(&spec.endpoint), terms: terms.clone(), _close: close, from_graph: false });
            loops.push((b, terms, closed));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name("sluice-control".into()).spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let actor = SyncArbiter::start(1, move || HostActor { host: host.clone() });
                for (b, terms, closed) in loops {
                    actix_rt::spawn(accept_loop(b, actor.clone(), terms, closed));
                }
                let _ = tx.send((actix_rt::System::current(), actix_rt::Arbiter::current(), actor));
            });
            let _ = sys.run();
        })?;
        let (system, arbiter, actor) = rx.recv().map_err(|_| io::Error::other("the control thread failed to start"))?;
        Ok(ControlPlane { system, thread: Some(thread), open: Arc::new(Mutex::new(open)), arbiter, actor, tcp_addrs })
    }

    /// Keep the sockets of the graph's ControlSocket elements in step with hot-swaps, as
    /// Click's hot-swapped ControlSockets are: a new graph's sockets open (or the hot-swap
    /// is refused, with the ControlSocket's place, if one cannot), sockets it no longer
    /// declares close, kept ones take its token and access. `graph` are the sockets among
    /// those `start` got that come from the running graph (not the command line);
    /// `default_token` is the TCP token from `sluice.toml`.
    pub fn follow_hotswaps(&self, host: &RouterHost, graph: &[ListenerSpec], default_token: Option<String>) {
        for o in lock(&self.open).iter_mut() {
            o.from_graph = graph.iter().any(|g| Key::of(&g.endpoint) == o.key);
        }
        let (open, arbiter, actor) = (self.open.clone(), self.arbiter.clone(), self.actor.clone());
        host.set_hotswap_hook(Box::new(move |plan| {
            let wanted = super::element::located_listeners(plan, default_token.as_deref())?;
            let mut fresh: Vec<(Key, Bound, ListenerSpec)> = Vec::new();
            let mut errs = GraphErrors::default();
            {
                let current = lock(&open);
                for (spec, loc) in &wanted {
                    let key = Key::of(&spec.endpoint);
                    if current.iter().any(|o| o.key == key) || fresh.iter().any(|(k, _, _)| *k == key) {
                        continue;
                    }
                    match bind(&spec.endpoint) {
                        Ok(b) => fresh.push((key, b, spec.clone())),
                        Err(e) => errs.push(loc.clone(), format!("ControlSocket: {e}")),
                    }
                }
            }
            if !errs.0.is_empty() {
                for (_, b, _) in fresh {
                    if let Bound::Unix(_, p) = b {
                        let _ = std::fs::remove_file(p);
                    }
                }
                return Err(errs);
            }
            let (open, arbiter, actor) = (open.clone(), arbiter.clone(), actor.clone());
            Ok(Box::new(move || {
                let mut current = lock(&open);
                current.retain(|o| {
                    let keep = !o.from_graph || wanted.iter().any(|(w, _)| Key::of(&w.endpoint) == o.key);
                    if !keep {
                        if let Key::Unix(p) = &o.key {
                            let _ = std::fs::remove_file(p);
                        }
                    }
                    keep
                });
                for o in current.iter().filter(|o| o.from_graph) {
                    if let Some((w, _)) = wanted.iter().find(|(w, _)| Key::of(&w.endpoint) == o.key) {
                        *o.terms.lock().unwrap_or_else(|p| p.into_inner()) = terms_of(w);
                    }
                }
                for (key, b, spec) in fresh {
                    let (close, closed) = oneshot::channel();
                    let terms: Terms = Arc::new(Mutex::new(terms_of(&spec)));
                    arbiter.spawn(accept_loop(b, actor.clone(), terms.clone(), closed));
                    current.push(Open { key, terms, _close: close, from_graph: true });
                }
            }))
        }));
    }

    /// Close every socket and stop the control thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for o in lock(&self.open).drain(..) {
            if let Key::Unix(p) = &o.key {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Bind a Unix socket at `path` that nobody but its owner can ever connect to: bind it
/// inside a fresh 0700 directory next to `path`, make it 0600, then move it into place.
fn bind_private(path: &std::path::Path) -> io::Result<std::os::unix::net::UnixListener> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = parent.join(format!(
        ".sluice-bind-{}-{}",
        std::process::id(),
        path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    std::fs::create_dir(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let tmp = dir.join("s");
    let result = (|| {
        let l = std::os::unix::net::UnixListener::bind(&tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a file is in the way"));
        }
        std::fs::rename(&tmp, path)?;
        Ok(l)
    })();
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_dir(&dir);
    result
}

/// Accept connections on `b` until `closed` fires (its sender is dropped), serving each
/// with the socket's terms at the time it connects.
async fn accept_loop(b: Bound, actor: Addr<HostActor>, terms: Terms, mut closed: oneshot::Receiver<()>) {
    let current = || terms.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match b {
        Bound::Unix(l, path) => {
            let Ok(l) = tokio::net::UnixListener::from_std(l) else {
                tracing::error!("control socket {}: cannot register with the runtime", path.display());
                return;
            };
            loop {
                tokio::select! {
                    _ = &mut closed => break,
                    r = l.accept() => match r {
                        Ok((s, _)) => {
                            let (_, access) = current();
                            actix_rt::spawn(serve(s, actor.clone(), None, access));
                        }
                        Err(e) => tracing::warn!("control socket {}: accept: {e}", path.display()),
                    },
                }
            }
        }
        Bound::Tcp(l) => {
            let Ok(l) = tokio::net::TcpListener::from_std(l) else {
                tracing::error!("TCP control socket: cannot register with the runtime");
                return;
            };
            loop {
                tokio::select! {
                    _ = &mut closed => break,
                    r = l.accept() => match r {
                        Ok((s, _)) => {
                            let (token, access) = current();
                            actix_rt::spawn(serve(s, actor.clone(), token, access));
                        }
                        Err(e) => tracing::warn!("TCP control socket: accept: {e}"),
                    },
                }
            }
        }
    }
}

/// Why a connection is being closed early.
enum Abort {
    Io,
    Eof,
    Refuse(Reply),
}

/// Reads command lines ended by CR, LF or CRLF, as Click accepts them.
struct Lines<R> {
    r: BufReader<R>,
    /// The last line ended with CR: a LF right after it belongs to that line end.
    after_cr: bool,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    async fn skip_lf_after_cr(&mut self) -> Result<(), Abort> {
        if self.after_cr {
            self.after_cr = false;
            let buf = self.r.fill_buf().await.map_err(|_| Abort::Io)?;
            if buf.first() == Some(&b'\n') {
                self.r.consume(1);
            }
        }
        Ok(())
    }

    /// The next line, without its end; `Eof` at the end of input.
    async fn line(&mut self) -> Result<String, Abort> {
        self.skip_lf_after_cr().await?;
        let mut line = Vec::new();
        loop {
            let buf = self.r.fill_buf().await.map_err(|_| Abort::Io)?;
            if buf.is_empty() {
                if line.is_empty() {
                    return Err(Abort::Eof);
                }
                break;
            }
            match buf.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    line.extend_from_slice(&buf[..i]);
                    self.after_cr = buf[i] == b'\r';
                    self.r.consume(i + 1);
                    break;
                }
                None => {
                    let n = buf.len();
                    line.extend_from_slice(buf);
                    self.r.consume(n);
                }
            }
            if line.len() > protocol::MAX_LINE {
                return Err(Abort::Refuse(Reply::new(
                    protocol::SYNTAX,
                    format!("Line too long (more than {} bytes); closing the connection", protocol::MAX_LINE),
                )));
            }
        }
        if line.len() > protocol::MAX_LINE {
            return Err(Abort::Refuse(Reply::new(
                protocol::SYNTAX,
                format!("Line too long (more than {} bytes); closing the connection", protocol::MAX_LINE),
            )));
        }
        if line.contains(&0) {
            return Err(Abort::Refuse(binary()));
        }
        String::from_utf8(line).map_err(|_| Abort::Refuse(binary()))
    }

    /// Exactly `n` bytes of payload, as text.
    async fn bytes(&mut self, n: usize) -> Result<String, Abort> {
        self.skip_lf_after_cr().await?;
        let mut data = vec![0u8; n];
        self.r
            .read_exact(&mut data)
            .await
            .map_err(|_| Abort::Refuse(Reply::new(protocol::SYNTAX, "Not enough data")))?;
        String::from_utf8(data).map_err(|_| Abort::Refuse(binary()))
    }

    /// The lines up to one equal to `term` (trailing spaces ignored), with their line ends.
    async fn until(&mut self, term: &str) -> Result<String, Abort> {
        let mut data = String::new();
        loop {
            let line = match self.line().await {
                Ok(l) => l,
                Err(Abort::Eof) => return Err(Abort::Refuse(Reply::new(protocol::SYNTAX, "Connection closed"))),
                Err(e) => return Err(e),
            };
            if line.trim_end() == term.trim_end() {
                return Ok(data);
            }
            data.push_str(&line);
            data.push('\n');
            if data.len() > protocol::MAX_DATA {
                return Err(Abort::Refuse(Reply::new(protocol::SYNTAX, "Data too large; closing the connection")));
            }
        }
    }
}

fn binary() -> Reply {
    Reply::new(protocol::SYNTAX, "Binary data in a command line; closing the connection")
}

/// Serve one connection until QUIT, end of input, or bad input.
async fn serve<S>(stream: S, actor: Addr<HostActor>, token: Option<String>, access: Access)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (r, mut w) = tokio::io::split(stream);
    let mut lines = Lines { r: BufReader::new(r), after_cr: false };
    if w.write_all(format!("{}\r\n", protocol::GREETING).as_bytes()).await.is_err() {
        return;
    }
    let mut authenticated = token.is_none();
    loop {
        let line = match lines.line().await {
            Ok(l) => l,
            Err(Abort::Refuse(reply)) => {
                let _ = w.write_all(&reply.to_bytes()).await;
                break;
            }
            Err(Abort::Eof | Abort::Io) => break,
        };
        let request = match protocol::parse(&line) {
            Ok(Request::Nothing) => continue,
            Ok(r) => r,
            Err(reply) => {
                // A refused command that announced data would leave that data to be read
                // as commands: close instead.
                let carries_data = line
                    .split_ascii_whitespace()
                    .next()
                    .map(|w| {
                        matches!(w.to_ascii_uppercase().as_str(), "READDATA" | "WRITEDATA" | "SETDATA" | "HOTSWAP")
                    })
                    .unwrap_or(false);
                if w.write_all(&reply.to_bytes()).await.is_err() || carries_data {
                    break;
                }
                continue;
            }
        };
        if !authenticated {
            let reply = match &request {
                Request::Auth { token: t } if Some(t) == token.as_ref() => {
                    authenticated = true;
                    Reply::new(protocol::OK, "Authenticated")
                }
                Request::Auth { .. } => Reply::new(protocol::PERMISSION, "Wrong token"),
                Request::Quit => Reply::new(protocol::OK, "Goodbye!"),
                _ => Reply::new(protocol::PERMISSION, "Permission denied: send AUTH <token> first"),
            };
            let quit = matches!(request, Request::Quit);
            if w.write_all(&reply.to_bytes()).await.is_err() || quit {
                break;
            }
            continue;
        }
        let payload = match &request {
            Request::Read { arg, .. } | Request::Write { arg, .. } => match arg {
                Payload::Inline(s) => Ok(s.clone()),
                Payload::Bytes(n) => lines.bytes(*n).await,
                Payload::Until(t) => lines.until(t).await,
            },
            Request::Hotswap { len } => lines.bytes(*len).await,
            _ => Ok(String::new()),
        };
        let arg = match payload {
            Ok(a) => a,
            Err(Abort::Refuse(reply)) => {
                let _ = w.write_all(&reply.to_bytes()).await;
                break;
            }
            Err(_) => break,
        };
        let quit = matches!(request, Request::Quit);
        let reply = actor
            .send(Exec { request, arg, access: access.clone() })
            .await
            .unwrap_or_else(|_| Reply::new(protocol::NO_ROUTER, "No router installed (the control plane is stopping)"));
        if w.write_all(&reply.to_bytes()).await.is_err() || quit {
            break;
        }
    }
    let _ = w.shutdown().await;
}

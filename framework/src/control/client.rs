//! A blocking client for the control protocol, used by `sluicectl` and the tests.

use super::protocol::GREETING;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// One reply: code, message lines, data (for reads, LIST, HOTSWAP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub lines: Vec<String>,
    pub data: Option<Vec<u8>>,
}

impl Response {
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The message lines joined, for error output.
    pub fn message(&self) -> String {
        self.lines.join("\n")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.data.as_deref().unwrap_or_default()).into_owned()
    }
}

/// A connection to a control socket.
pub struct Client {
    s: BufReader<Stream>,
}

impl Client {
    /// Connect to a Unix-domain control socket and read its greeting.
    pub fn connect_unix(path: &Path) -> io::Result<Client> {
        let s = UnixStream::connect(path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to '{}': {e}", path.display())))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Self::greet(Stream::Unix(s))
    }

    /// Connect to a TCP control socket, read its greeting, and authenticate with `token`.
    pub fn connect_tcp(addr: &str, token: Option<&str>) -> io::Result<Client> {
        let s =
            TcpStream::connect(addr).map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {addr}: {e}")))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut c = Self::greet(Stream::Tcp(s))?;
        if let Some(t) = token {
            let r = c.request(&format!("AUTH {t}"), None, false)?;
            if !r.is_ok() {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, r.message()));
            }
        }
        Ok(c)
    }

    fn greet(s: Stream) -> io::Result<Client> {
        let mut c = Client { s: BufReader::new(s) };
        let line = c.read_line()?;
        if !line.starts_with("Click::ControlSocket/") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a control socket (greeting '{line}', expected '{GREETING}')"),
            ));
        }
        Ok(c)
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.s.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the control socket closed the connection"));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Send `line` (and `payload` right after it), read the reply; `data` says whether a
    /// successful reply carries `DATA n`.
    pub fn request(&mut self, line: &str, payload: Option<&[u8]>, data: bool) -> io::Result<Response> {
        let w = self.s.get_mut();
        w.write_all(line.as_bytes())?;
        w.write_all(b"\r\n")?;
        if let Some(p) = payload {
            w.write_all(p)?;
        }
        w.flush()?;
        self.read_response(data)
    }

    /// Read one reply.
    pub fn read_response(&mut self, data: bool) -> io::Result<Response> {
        let mut lines = Vec::new();
        let code = loop {
            let l = self.read_line()?;
            let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("malformed reply line '{l}'"));
            let code: u16 = l.get(..3).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
            let sep = l.as_bytes().get(3).copied().unwrap_or(b' ');
            lines.push(l.get(4..).unwrap_or("").to_string());
            if sep != b'-' {
                break code;
            }
        };
        let mut resp = Response { code, lines, data: None };
        if data && resp.is_ok() {
            let l = self.read_line()?;
            let n: usize = l
                .strip_prefix("DATA ")
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("expected 'DATA n', got '{l}'")))?;
            let mut buf = vec![0; n];
            self.s.read_exact(&mut buf)?;
            resp.data = Some(buf);
        }
        Ok(resp)
    }

    pub fn read(&mut self, handler: &str) -> io::Result<Response> {
        self.request(&format!("READ {handler}"), None, true)
    }

    pub fn write(&mut self, handler: &str, value: &str) -> io::Result<Response> {
        if value.contains(['\r', '\n']) {
            let line = format!("WRITEDATA {handler} {}", value.len());
            self.request(&line, Some(value.as_bytes()), false)
        } else {
            self.request(&format!("WRITE {handler} {value}"), None, false)
        }
    }

    pub fn swap(&mut self, element: &str, spec: &str) -> io::Result<Response> {
        self.request(&format!("SWAP {element} {spec}"), None, false)
    }

    pub fn hotswap(&mut self, config: &str) -> io::Result<Response> {
        self.request(&format!("HOTSWAP {}", config.len()), Some(config.as_bytes()), true)
    }

    pub fn list(&mut self) -> io::Result<Response> {
        self.request("LIST", None, true)
    }

    pub fn quit(mut self) -> io::Result<Response> {
        self.request("QUIT", None, false)
    }
}

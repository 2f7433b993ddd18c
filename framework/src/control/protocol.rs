//! Click's ControlSocket protocol, version 1.3, plus Sluice's own commands: parsing command
//! lines and formatting replies. Pure functions; the server does the I/O.
//!
//! A command is one line of words. A reply is one or more lines `CODE text` (all but the
//! last written `CODE-text`), terminated by CRLF, optionally followed by `DATA n` and n
//! bytes. Codes are Click's: 200 OK, 220 OK with warnings, 500 syntax error, 501
//! unimplemented, 510 no such element, 511 no such handler, 520 handler error, 530
//! permission denied, 540 no router.

/// The line a client receives when it connects.
pub const GREETING: &str = "Click::ControlSocket/1.3";

/// Longest command line accepted; longer ones close the connection.
pub const MAX_LINE: usize = 64 * 1024;

/// Most bytes a `...DATA n` command may carry.
pub const MAX_DATA: usize = 16 * 1024 * 1024;

pub const OK: u16 = 200;
pub const OK_WARN: u16 = 220;
pub const SYNTAX: u16 = 500;
pub const UNIMPLEMENTED: u16 = 501;
pub const NO_ELEMENT: u16 = 510;
pub const NO_HANDLER: u16 = 511;
pub const HANDLER_ERROR: u16 = 520;
pub const PERMISSION: u16 = 530;
pub const NO_ROUTER: u16 = 540;

/// Where a command's argument comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// The rest of the command line.
    Inline(String),
    /// The next `n` bytes after the line (`READDATA`, `WRITEDATA`, `HOTSWAP`).
    Bytes(usize),
    /// The lines up to one equal to the terminator (`READUNTIL`, `WRITEUNTIL`); empty
    /// terminator: a blank line.
    Until(String),
}

/// One parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Read {
        handler: String,
        arg: Payload,
    },
    Write {
        handler: String,
        arg: Payload,
    },
    Check {
        handler: String,
        write: bool,
    },
    Llrpc,
    Quit,
    Help,
    /// Sluice: replace an element, `SWAP elem Class(args)`.
    Swap {
        element: String,
        spec: String,
    },
    /// Sluice: replace the whole configuration, `HOTSWAP n` then n bytes.
    Hotswap {
        len: usize,
    },
    /// Sluice: the elements and what implements each.
    List,
    /// Sluice: load a plugin library, `LOAD path`.
    Load {
        path: String,
    },
    /// Sluice: present the token a TCP socket requires.
    Auth {
        token: String,
    },
    /// A blank line: no reply, as in Click.
    Nothing,
}

/// A reply: status lines and optional data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
    pub data: Option<Vec<u8>>,
}

impl Reply {
    pub fn new(code: u16, line: impl Into<String>) -> Reply {
        Reply { code, lines: vec![line.into()], data: None }
    }

    /// A reply with several message lines (e.g. one per error in a refused graph), the
    /// summary last.
    pub fn multi(code: u16, mut details: Vec<String>, summary: impl Into<String>) -> Reply {
        details.push(summary.into());
        Reply { code, lines: details, data: None }
    }

    pub fn with_data(mut self, data: Vec<u8>) -> Reply {
        self.data = Some(data);
        self
    }

    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let n = self.lines.len();
        for (i, l) in self.lines.iter().enumerate() {
            let sep = if i + 1 < n { '-' } else { ' ' };
            // A message line must stay one line.
            let l = l.replace(['\r', '\n'], " ");
            out.extend_from_slice(format!("{}{sep}{l}\r\n", self.code).as_bytes());
        }
        if let Some(d) = &self.data {
            out.extend_from_slice(format!("DATA {}\r\n", d.len()).as_bytes());
            out.extend_from_slice(d);
        }
        out
    }
}

/// Split a line into words on whitespace, as Click does.
fn words(line: &str) -> Vec<&str> {
    line.split_ascii_whitespace().collect()
}

/// The rest of the line after the first `n` words, with inner spacing kept.
fn rest_after(line: &str, n: usize) -> String {
    let mut s = line.trim_start();
    for _ in 0..n {
        let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
        s = s[end..].trim_start();
    }
    s.trim_end().to_string()
}

fn wrong_args() -> Reply {
    Reply::new(SYNTAX, "Wrong number of arguments")
}

fn length(word: &str, command: &str) -> Result<usize, Reply> {
    match word.parse::<usize>() {
        Ok(n) if n <= MAX_DATA => Ok(n),
        Ok(_) => Err(Reply::new(SYNTAX, format!("Data too large for '{command}' (at most {MAX_DATA} bytes)"))),
        Err(_) => Err(Reply::new(SYNTAX, format!("Syntax error in '{command}'"))),
    }
}

/// Parse one command line (without its line terminator).
pub fn parse(line: &str) -> Result<Request, Reply> {
    let w = words(line);
    let Some(first) = w.first() else { return Ok(Request::Nothing) };
    let command = first.to_ascii_uppercase();
    match command.as_str() {
        "READ" | "GET" | "WRITE" | "SET" => {
            if w.len() < 2 {
                return Err(wrong_args());
            }
            let handler = w[1].to_string();
            let arg = Payload::Inline(rest_after(line, 2));
            Ok(if command.starts_with('R') || command.starts_with('G') {
                Request::Read { handler, arg }
            } else {
                Request::Write { handler, arg }
            })
        }
        "READDATA" | "WRITEDATA" | "SETDATA" => {
            if w.len() != 3 {
                return Err(wrong_args());
            }
            let arg = Payload::Bytes(length(w[2], &command)?);
            let handler = w[1].to_string();
            Ok(if command.starts_with('R') { Request::Read { handler, arg } } else { Request::Write { handler, arg } })
        }
        "READUNTIL" | "WRITEUNTIL" => {
            if w.len() < 2 {
                return Err(wrong_args());
            }
            let arg = Payload::Until(rest_after(line, 2));
            let handler = w[1].to_string();
            Ok(if command.starts_with('R') { Request::Read { handler, arg } } else { Request::Write { handler, arg } })
        }
        "CHECKREAD" | "CHECKWRITE" => {
            if w.len() != 2 {
                return Err(wrong_args());
            }
            Ok(Request::Check { handler: w[1].to_string(), write: command == "CHECKWRITE" })
        }
        "LLRPC" => Ok(Request::Llrpc),
        "QUIT" | "CLOSE" => Ok(Request::Quit),
        "HELP" => Ok(Request::Help),
        "SWAP" => {
            if w.len() < 3 {
                return Err(Reply::new(SYNTAX, "Wrong number of arguments: SWAP element Class(arguments)"));
            }
            Ok(Request::Swap { element: w[1].to_string(), spec: rest_after(line, 2) })
        }
        "HOTSWAP" => {
            if w.len() != 2 {
                return Err(Reply::new(SYNTAX, "Wrong number of arguments: HOTSWAP length, then the configuration"));
            }
            Ok(Request::Hotswap { len: length(w[1], &command)? })
        }
        "LIST" => {
            if w.len() != 1 {
                return Err(wrong_args());
            }
            Ok(Request::List)
        }
        "LOAD" => {
            if w.len() < 2 {
                return Err(Reply::new(SYNTAX, "Wrong number of arguments: LOAD path"));
            }
            Ok(Request::Load { path: rest_after(line, 1) })
        }
        "AUTH" => {
            if w.len() != 2 {
                return Err(wrong_args());
            }
            Ok(Request::Auth { token: w[1].to_string() })
        }
        _ => Err(Reply::new(UNIMPLEMENTED, format!("Command '{command}' unimplemented"))),
    }
}

/// The HELP text, Click's list plus Sluice's commands.
pub fn help() -> Reply {
    let lines = [
        "Commands supported:",
        "READ handler [arg...]   call read handler, return DATA",
        "READDATA handler len    call read handler with len data bytes, return DATA",
        "READUNTIL handler term  call read handler, take data until term, return DATA",
        "WRITE handler [arg...]  call write handler",
        "WRITEDATA handler len   call write handler, pass len data bytes",
        "WRITEUNTIL handler term call write handler, take data until term",
        "CHECKREAD handler       check if read handler is valid",
        "CHECKWRITE handler      check if write handler is valid",
        "SWAP element Class(args) replace an element while packets flow (Sluice)",
        "HOTSWAP len             replace the configuration with len data bytes (Sluice)",
        "LIST                    elements and their implementations (Sluice)",
        "LOAD path               load a plugin library (Sluice)",
        "AUTH token              authenticate a TCP connection (Sluice)",
        "QUIT                    close connection",
    ];
    Reply { code: OK, lines: lines.iter().map(|s| s.to_string()).collect(), data: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_click_commands() {
        assert_eq!(
            parse("READ c.count").unwrap(),
            Request::Read { handler: "c.count".into(), arg: Payload::Inline(String::new()) }
        );
        assert_eq!(
            parse("write  q.capacity   200 300 ").unwrap(),
            Request::Write { handler: "q.capacity".into(), arg: Payload::Inline("200 300".into()) }
        );
        assert_eq!(parse("READDATA x.y 12").unwrap(), Request::Read { handler: "x.y".into(), arg: Payload::Bytes(12) });
        assert_eq!(
            parse("WRITEUNTIL x.y END").unwrap(),
            Request::Write { handler: "x.y".into(), arg: Payload::Until("END".into()) }
        );
        assert_eq!(parse("CHECKWRITE a.b").unwrap(), Request::Check { handler: "a.b".into(), write: true });
        assert_eq!(parse("quit").unwrap(), Request::Quit);
        assert_eq!(parse("   ").unwrap(), Request::Nothing);
        assert_eq!(parse("LLRPC e#1234").unwrap(), Request::Llrpc);
    }

    #[test]
    fn parses_sluice_commands() {
        assert_eq!(
            parse("SWAP q  Queue(CAPACITY 50, ) ").unwrap(),
            Request::Swap { element: "q".into(), spec: "Queue(CAPACITY 50, )".into() }
        );
        assert_eq!(parse("HOTSWAP 120").unwrap(), Request::Hotswap { len: 120 });
        assert_eq!(parse("LIST").unwrap(), Request::List);
        assert_eq!(parse("AUTH s3cret").unwrap(), Request::Auth { token: "s3cret".into() });
    }

    #[test]
    fn refuses_with_click_codes() {
        assert_eq!(parse("READ").unwrap_err(), Reply::new(500, "Wrong number of arguments"));
        assert_eq!(parse("CHECKREAD a b").unwrap_err().code, 500);
        assert_eq!(parse("READDATA x.y many").unwrap_err(), Reply::new(500, "Syntax error in 'READDATA'"));
        assert_eq!(parse("READDATA x.y 999999999999").unwrap_err().code, 500);
        assert_eq!(parse("FROB x").unwrap_err(), Reply::new(501, "Command 'FROB' unimplemented"));
    }

    #[test]
    fn formats_multi_line_replies_and_data() {
        let r = Reply::multi(520, vec!["first problem".into(), "second\nproblem".into()], "Write handler 'x' error");
        assert_eq!(
            String::from_utf8(r.to_bytes()).unwrap(),
            "520-first problem\r\n520-second problem\r\n520 Write handler 'x' error\r\n"
        );
        let r = Reply::new(200, "Read handler 'c.count' OK").with_data(b"43".to_vec());
        assert_eq!(String::from_utf8(r.to_bytes()).unwrap(), "200 Read handler 'c.count' OK\r\nDATA 2\r\n43");
    }
}

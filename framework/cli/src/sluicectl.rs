//! `sluicectl`: talk to a running Sluice through its control socket.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;
use sluice::control::client::{Client, Response};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "sluicectl", version, about = "Read and write handlers, swap elements and graphs of a running Sluice")]
struct Cli {
    /// Unix control socket (default: $SLUICE_SOCKET, else /tmp/sluice.sock).
    #[arg(short = 's', long = "socket", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Connect to a TCP control socket instead (HOST:PORT).
    #[arg(long = "tcp", value_name = "HOST:PORT", conflicts_with = "socket")]
    tcp: Option<String>,
    /// Token for a TCP control socket (default: $SLUICE_TOKEN).
    #[arg(long = "token")]
    token: Option<String>,
    /// Print results as JSON.
    #[arg(long = "json")]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read a handler: `read c.count`, or a global one: `read list`.
    Read { handler: String },
    /// Write a handler: `write q.capacity 500`.
    Write {
        handler: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        value: Vec<String>,
    },
    /// Replace an element while packets flow: `swap q 'Queue(2000)'`.
    Swap { element: String, spec: String },
    /// Replace the whole graph by FILE, carrying the state of elements that keep their
    /// name and class.
    Hotswap { file: PathBuf },
    /// List the elements and what implements each.
    List,
    /// Load a plugin library (a path the router can read): its classes become usable in
    /// swaps and hot-swaps.
    Load { path: PathBuf },
    /// Read a handler again and again.
    Watch {
        handler: String,
        /// Seconds between reads.
        #[arg(short = 'i', long = "interval", default_value_t = 1.0)]
        interval: f64,
        /// Stop after this many reads (default: until interrupted).
        #[arg(short = 'n', long = "count")]
        count: Option<u64>,
    },
    /// Stop the router.
    Stop,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sluicectl: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn connect(cli: &Cli) -> Result<Client> {
    if let Some(addr) = &cli.tcp {
        let token = cli.token.clone().or_else(|| std::env::var("SLUICE_TOKEN").ok());
        return Ok(Client::connect_tcp(addr, token.as_deref())?);
    }
    let path = cli
        .socket
        .clone()
        .or_else(|| std::env::var_os("SLUICE_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/tmp/sluice.sock"));
    Ok(Client::connect_unix(&path)?)
}

/// Print a reply; true when it was a success.
fn show(json: bool, what: &str, r: &Response) -> bool {
    if json {
        let mut v = json!({ "ok": r.is_ok(), "code": r.code, "message": r.message(), "command": what });
        if r.data.is_some() {
            v["value"] = json!(r.text());
        }
        println!("{v}");
    } else if r.is_ok() {
        if r.data.is_some() {
            let t = r.text();
            print!("{t}");
            if !t.ends_with('\n') {
                println!();
            }
        }
    } else {
        eprintln!("sluicectl: {} {}", r.code, r.message());
    }
    r.is_ok()
}

fn run(cli: Cli) -> Result<bool> {
    let mut c = connect(&cli)?;
    let json = cli.json;
    Ok(match &cli.command {
        Command::Read { handler } => show(json, "read", &c.read(handler)?),
        Command::Write { handler, value } => show(json, "write", &c.write(handler, &value.join(" "))?),
        Command::Swap { element, spec } => {
            let r = c.swap(element, spec)?;
            if !json && r.is_ok() {
                println!("{}", r.message());
            }
            show(json, "swap", &r)
        }
        Command::Hotswap { file } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading '{}'", file.display()))?;
            let r = c.hotswap(&text)?;
            if json {
                let carried: Vec<String> = r.text().lines().map(str::to_string).collect();
                println!("{}", json!({ "ok": r.is_ok(), "code": r.code, "message": r.message(), "carried": carried }));
            } else if r.is_ok() {
                println!("{}", r.message());
            } else {
                eprintln!("sluicectl: {} {}", r.code, r.message());
            }
            r.is_ok()
        }
        Command::List => {
            let r = c.list()?;
            if json && r.is_ok() {
                let rows: Vec<_> = r
                    .text()
                    .lines()
                    .map(|l| {
                        let f: Vec<&str> = l.split('\t').collect();
                        json!({ "name": f.first(), "class": f.get(1), "implementation": f.get(2) })
                    })
                    .collect();
                println!("{}", json!(rows));
                true
            } else {
                show(json, "list", &r)
            }
        }
        Command::Load { path } => {
            // The router resolves the path, so make a relative one absolute here.
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            let r = c.request(&format!("LOAD {}", path.display()), None, true)?;
            if !json && r.is_ok() {
                println!("{}", r.message());
            }
            show(json, "load", &r)
        }
        Command::Watch { handler, interval, count } => {
            let mut n = 0u64;
            loop {
                let r = c.read(handler)?;
                if json {
                    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                    println!(
                        "{}",
                        json!({ "time": t.as_secs_f64(), "ok": r.is_ok(), "value": r.text(), "code": r.code })
                    );
                } else if r.is_ok() {
                    println!("{}", r.text().trim_end());
                } else {
                    eprintln!("sluicectl: {} {}", r.code, r.message());
                    return Ok(false);
                }
                n += 1;
                if count.is_some_and(|c| n >= c) {
                    break true;
                }
                std::thread::sleep(Duration::from_secs_f64(interval.max(0.01)));
            }
        }
        Command::Stop => show(json, "stop", &c.write("stop", "")?),
    })
}

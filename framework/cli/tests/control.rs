//! The control plane end to end, in process: Click's ControlSocket protocol over a real Unix
//! socket (and TCP), every command and error code, swaps under load with exact accounting,
//! hot-swaps that carry state, many clients at once, and bad input that must not disturb
//! the data plane.

use sluice::control::client::{Client, Response};
use sluice::control::{commands::Access, ControlPlane, Endpoint, ListenerSpec, RouterHost};
use sluice::load::plan_str;
use sluice::runtime::RunOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    host: Arc<RouterHost>,
    plane: Option<ControlPlane>,
    path: PathBuf,
}

impl Fixture {
    fn new(config: &str) -> Fixture {
        Self::with(config, |p| {
            vec![ListenerSpec { endpoint: Endpoint::Unix(p.to_path_buf()), access: Access::default() }]
        })
    }

    fn with(config: &str, specs: impl FnOnce(&Path) -> Vec<ListenerSpec>) -> Fixture {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sluice-ctl-{}-{n}.sock", std::process::id()));
        let registry = sluice_elements::registry();
        let plan = plan_str("<test>", config, &[], &registry, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
        let opts = RunOptions { workers: 1, keep_running: true };
        let host = Arc::new(RouterHost::start(plan, config.into(), "<test>".into(), registry, opts).unwrap());
        let plane = ControlPlane::start(host.clone(), specs(&path)).unwrap();
        Fixture { host, plane: Some(plane), path }
    }

    fn client(&self) -> Client {
        Client::connect_unix(&self.path).unwrap()
    }

    fn count(&self, c: &mut Client, handler: &str) -> u64 {
        let r = c.read(handler).unwrap();
        assert!(r.is_ok(), "{handler}: {r:?}");
        r.text().trim().parse().unwrap()
    }

    /// Read `handler` until it stops changing (the graph has drained).
    fn settle(&self, c: &mut Client, handler: &str) -> u64 {
        let t = Instant::now();
        let mut last = self.count(c, handler);
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.count(c, handler);
            if now == last {
                return now;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "{handler} never settled");
            last = now;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.host.stop();
        if let Some(p) = self.plane.take() {
            p.shutdown();
        }
    }
}

/// Raw protocol access: write bytes, read the reply lines (and DATA when `data`).
fn raw(stream: &mut BufReader<UnixStream>, send: &[u8], data: bool) -> Vec<String> {
    stream.get_mut().write_all(send).unwrap();
    let mut out = Vec::new();
    loop {
        let mut l = String::new();
        if stream.read_line(&mut l).unwrap() == 0 {
            out.push("<closed>".into());
            return out;
        }
        let done = l.as_bytes().get(3) == Some(&b' ');
        out.push(l.trim_end().to_string());
        if done {
            break;
        }
    }
    if data && out.last().is_some_and(|l| l.starts_with('2')) {
        let mut l = String::new();
        stream.read_line(&mut l).unwrap();
        let n: usize = l.trim().strip_prefix("DATA ").unwrap().parse().unwrap();
        let mut buf = vec![0; n];
        stream.read_exact(&mut buf).unwrap();
        out.push(format!("{} {}", l.trim(), String::from_utf8(buf).unwrap()));
    }
    out
}

fn connect_raw(path: &Path) -> BufReader<UnixStream> {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s);
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    assert_eq!(greeting, "Click::ControlSocket/1.3\r\n");
    r
}

const COUNTING: &str = "src :: InfiniteSource(LIMIT 1000, BURST 64) -> c :: Counter -> q :: Queue(2000) -> u :: Unqueue(BURST 64) -> out :: Counter -> Discard;";

#[test]
fn every_click_command_and_reply_code() {
    let f = Fixture::new(COUNTING);
    let mut s = connect_raw(&f.path);
    std::thread::sleep(Duration::from_millis(100));
    let r = |s: &mut BufReader<UnixStream>, cmd: &str, data: bool| raw(s, format!("{cmd}\r\n").as_bytes(), data);

    assert_eq!(r(&mut s, "READ c.count", true), ["200 Read handler 'c.count' OK", "DATA 4 1000"]);
    assert_eq!(
        r(&mut s, "get 2.count", true),
        ["200 Read handler '2.count' OK", "DATA 4 1000"],
        "element by number, GET alias"
    );
    assert_eq!(raw(&mut s, b"READDATA c.count 0\r\n", true), ["200 Read handler 'c.count' OK", "DATA 4 1000"]);
    assert_eq!(
        raw(&mut s, b"READUNTIL c.count END\r\nEND\r\n", true),
        ["200 Read handler 'c.count' OK", "DATA 4 1000"]
    );
    assert_eq!(r(&mut s, "READ x.count", false), ["510 No element named 'x'"]);
    assert_eq!(r(&mut s, "READ c.cuont", false), ["511 No handler named 'c.cuont'"]);
    assert_eq!(r(&mut s, "READ c.reset", false), ["530 Handler 'c.reset' write-only"]);
    assert_eq!(r(&mut s, "WRITE c.count 3", false), ["530 Handler 'c.count' read-only"]);
    assert_eq!(
        r(&mut s, "WRITE q.capacity many", false),
        ["520-capacity: expected integer, found 'many'", "520 Write handler 'q.capacity' error"]
    );
    assert_eq!(r(&mut s, "WRITE q.capacity 3000", false), ["200 Write handler 'q.capacity' OK"]);
    assert_eq!(raw(&mut s, b"WRITEDATA q.capacity 4\r\n2500", false), ["200 Write handler 'q.capacity' OK"]);
    assert_eq!(raw(&mut s, b"WRITEUNTIL q.capacity .\r\n2400\r\n.\r\n", false), ["200 Write handler 'q.capacity' OK"]);
    assert_eq!(r(&mut s, "READ q.capacity", true), ["200 Read handler 'q.capacity' OK", "DATA 4 2400"]);
    assert_eq!(r(&mut s, "CHECKREAD c.count", false), ["200 Read handler 'c.count' OK"]);
    assert_eq!(r(&mut s, "CHECKWRITE c.count", false), ["511 Handler 'c.count' not writable"]);
    assert_eq!(r(&mut s, "CHECKREAD c.reset", false), ["511 Handler 'c.reset' not readable"]);
    assert_eq!(r(&mut s, "CHECKWRITE c.reset", false), ["200 Write handler 'c.reset' OK"]);
    assert_eq!(r(&mut s, "CHECKREAD nope.x", false), ["510 No element named 'nope'"]);
    assert_eq!(r(&mut s, "READ", false), ["500 Wrong number of arguments"]);
    assert_eq!(r(&mut s, "FROB x", false), ["501 Command 'FROB' unimplemented"]);
    assert!(r(&mut s, "LLRPC c#0x1234", false)[0].starts_with("501 LLRPCs are not supported"));
    assert_eq!(r(&mut s, "READ version", true)[1], format!("DATA 5 {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(
        r(&mut s, "READ list", true)[1],
        "DATA 26 6\nsrc\nc\nq\nu\nout\nDiscard@6\n",
        "Click's list: count, then names"
    );
    assert!(r(&mut s, "READ flatconfig", true)[1].contains("c [0] -> [0] q;"));
    assert_eq!(r(&mut s, "WRITE version 1", false), ["530 Handler 'version' read-only"]);
    assert_eq!(r(&mut s, "HELP", false).len(), 15);
    assert_eq!(r(&mut s, "QUIT", false), ["200 Goodbye!"]);
    let mut rest = String::new();
    assert_eq!(s.read_line(&mut rest).unwrap(), 0, "closed after QUIT");
}

#[test]
fn sluice_commands_swap_list_hotswap() {
    let f = Fixture::new(COUNTING);
    let mut c = f.client();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(f.settle(&mut c, "out.count"), 1000);

    let r = c.swap("q", "SimpleQueue(500)").unwrap();
    assert!(r.is_ok(), "{r:?}");
    let list = c.list().unwrap().text();
    assert!(list.contains("q\tSimpleQueue\tbuiltin\n"), "{list}");
    assert_eq!(c.read("q.capacity").unwrap().text().trim(), "500");
    let flat = c.read("flatconfig").unwrap().text();
    assert!(flat.contains("q :: SimpleQueue(500);\n"), "flatconfig shows the element as it runs now: {flat}");
    assert!(!flat.contains(":: Queue"), "{flat}");

    // Refusals name the problem and leave the element as it was.
    let r = c.swap("q", "Queeu(10)").unwrap();
    assert_eq!(r.code, 520);
    assert_eq!(
        r.lines,
        ["unknown element class 'Queeu' — did you mean 'Queue'?", "Swap of 'q' refused; it keeps running as it was"]
    );
    let r = c.swap("q", "Counter").unwrap();
    assert_eq!(r.code, 520);
    assert!(r.lines[0].contains("agnostic") && r.lines[0].contains("push and pull"), "{r:?}");
    let r = c.swap("zz", "Queue").unwrap();
    assert_eq!(r.code, 510);
    let r = c.swap("q", "Queue(10").unwrap();
    assert_eq!((r.code, r.lines[0].as_str()), (500, "'Queue(10' is not Class(arguments)"));
    assert!(c.list().unwrap().text().contains("q\tSimpleQueue\tbuiltin\n"));

    // A refused hot-swap: every error, with its place; the old graph keeps running.
    let r = c.hotswap("a :: Countr;\nb :: Queue -> Queue;").unwrap();
    assert_eq!(r.code, 520, "{r:?}");
    assert!(r.lines.iter().any(|l| l.contains("<test> (hotswap):1:1: unknown element class 'Countr'")), "{r:?}");
    assert_eq!(r.lines.last().unwrap(), "Configuration refused; the old configuration keeps running");
    assert_eq!(f.count(&mut c, "c.count"), 1000);
}

#[test]
fn hotswap_carries_counters_and_queued_packets() {
    // Packets wait in q (the Unqueue is inactive); after the hot-swap the new graph has the
    // same q and c, with an active Unqueue: the waiting packets come out, counts go on.
    let before = "src :: InfiniteSource(LIMIT 300, BURST 50) -> c :: Counter -> q :: Queue(1000) -> u :: Unqueue(ACTIVE false) -> out :: Counter -> Discard;";
    let after = "src :: InfiniteSource(LIMIT 20, BURST 10) -> c :: Counter -> q :: Queue(1000) -> Unqueue -> out2 :: Counter -> Discard;";
    let f = Fixture::new(before);
    let mut c = f.client();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(f.settle(&mut c, "q.length"), 300);
    let r = c.hotswap(after).unwrap();
    assert!(r.is_ok(), "{r:?}");
    let carried = r.text();
    assert!(carried.lines().any(|l| l == "c") && carried.lines().any(|l| l == "q"), "{carried}");
    assert_eq!(f.settle(&mut c, "out2.count"), 320, "300 carried in the queue + 20 new");
    assert_eq!(f.count(&mut c, "c.count"), 320, "the counter went on from 300");
    assert_eq!(c.read("config").unwrap().text(), after);
}

#[test]
fn thousand_swaps_under_load_lose_nothing() {
    // An endless source keeps packets flowing through all 1000 swaps; then it is switched
    // off, the graph drains, and every packet that came in has gone out.
    let cfg = "src :: InfiniteSource(BURST 64) -> c :: Counter -> x :: Null -> q :: Queue(100000) -> Unqueue(BURST 64) -> out :: Counter -> Discard;";
    let f = Fixture::new(cfg);
    let mut c = f.client();
    let mut before = f.count(&mut c, "c.count");
    let mut flowing = 0;
    for i in 0..1000 {
        let (elem, spec) = if i % 2 == 0 {
            ("x", "Null")
        } else {
            ("q", if i % 4 == 1 { "SimpleQueue(100000)" } else { "Queue(100000)" })
        };
        let r = c.swap(elem, spec).unwrap();
        assert!(r.is_ok(), "swap {i}: {r:?}");
        if i % 50 == 49 {
            let now = f.count(&mut c, "c.count");
            flowing += (now > before) as u32;
            before = now;
        }
    }
    assert_eq!(flowing, 20, "packets flowed between every 50 swaps");
    assert!(c.write("src.active", "false").unwrap().is_ok());
    let out = f.settle(&mut c, "out.count");
    let input = f.count(&mut c, "c.count");
    let drops = f.count(&mut c, "q.drops");
    eprintln!("{input} packets in, {out} out, {drops} dropped by the queue");
    assert!(input > 0);
    assert_eq!(out + drops, input, "packets in = packets out + counted drops");
}

#[test]
fn hundred_and_twenty_clients_at_once() {
    let f = Fixture::new(COUNTING);
    std::thread::sleep(Duration::from_millis(100));
    let barrier = Arc::new(std::sync::Barrier::new(120));
    let threads: Vec<_> = (0..120)
        .map(|_| {
            let (path, b) = (f.path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect_unix(&path).unwrap();
                b.wait(); // all 120 connected at the same time
                let r: Response = c.read("c.count").unwrap();
                assert!(r.is_ok(), "{r:?}");
                r.text()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), "1000");
    }
}

#[test]
fn bad_input_closes_the_connection_and_the_data_plane_runs_on() {
    let f = Fixture::new("src :: InfiniteSource(BURST 64) -> c :: Counter -> Discard;");
    let mut c = f.client();
    let before = f.count(&mut c, "c.count");

    let mut s = connect_raw(&f.path);
    let long = vec![b'A'; 70 * 1024];
    let r = raw(&mut s, &long, false);
    assert!(r[0].starts_with("500 Line too long"), "{r:?}");
    let mut rest = String::new();
    assert_eq!(s.read_line(&mut rest).unwrap_or(0), 0, "closed");

    let mut s = connect_raw(&f.path);
    let r = raw(&mut s, b"\x00\xff\xfe garbage\r\n", false);
    assert_eq!(r[0], "500 Binary data in a command line; closing the connection");
    let mut rest = String::new();
    assert_eq!(s.read_line(&mut rest).unwrap_or(0), 0, "closed");

    // A refused command that announced data closes the connection: the data must not be
    // read as commands.
    for bad in [&b"WRITEDATA c.reset 99999999999\r\n"[..], b"READDATA c.count lots\r\n"] {
        let mut s = connect_raw(&f.path);
        let r = raw(&mut s, bad, false);
        assert_eq!(r[0].split(' ').next(), Some("500"), "{r:?}");
        let mut rest = String::new();
        assert_eq!(s.read_line(&mut rest).unwrap_or(0), 0, "closed");
    }

    std::thread::sleep(Duration::from_millis(50));
    let after = f.count(&mut c, "c.count");
    assert!(after > before, "the data plane kept running ({before} -> {after})");
}

#[test]
fn tcp_socket_needs_its_token_and_read_only_refuses_writes() {
    let f = Fixture::with(COUNTING, |p| {
        vec![
            ListenerSpec { endpoint: Endpoint::Unix(p.to_path_buf()), access: Access { read_only: true } },
            ListenerSpec {
                endpoint: Endpoint::Tcp { addr: "127.0.0.1:0".parse().unwrap(), token: "s3cret".into() },
                access: Access::default(),
            },
        ]
    });
    let addr = f.plane.as_ref().unwrap().tcp_addrs[0].to_string();
    assert!(addr.starts_with("127.0.0.1:"));
    // Without a token nothing but AUTH and QUIT is allowed.
    let mut c = Client::connect_tcp(&addr, None).unwrap();
    let r = c.read("c.count").unwrap();
    assert_eq!((r.code, r.message()), (530, "Permission denied: send AUTH <token> first".into()));
    let r = c.request("AUTH wrong", None, false).unwrap();
    assert_eq!(r.code, 530);
    let r = c.request("AUTH s3cret", None, false).unwrap();
    assert!(r.is_ok());
    assert!(c.read("c.count").unwrap().is_ok());
    assert!(Client::connect_tcp(&addr, Some("nope")).is_err());

    let mut ro = f.client();
    assert!(ro.read("c.count").unwrap().is_ok());
    let r = ro.write("c.reset", "").unwrap();
    assert_eq!((r.code, r.message()), (530, "Permission denied for 'c.reset'".into()));
    assert_eq!(ro.swap("q", "Queue").unwrap().code, 530);
    assert_eq!(ro.hotswap("x :: Null").unwrap().code, 530);
}

#[test]
fn write_stop_stops_the_router() {
    let f = Fixture::new("src :: InfiniteSource(BURST 64) -> c :: Counter -> Discard;");
    let mut c = f.client();
    assert!(c.write("stop", "").unwrap().is_ok());
    let t = Instant::now();
    while !f.host.is_finished() {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = c.read("c.count").unwrap();
    assert_eq!(r.code, 540, "{r:?}");
}

//! FromDevice and ToDevice against a real kernel peer: a network namespace joined to the
//! test by a veth pair that the test creates and removes. Traffic is bounded (100 frames of
//! a local experimental EtherType) and local to the pair. Needs root (CAP_NET_ADMIN and
//! CAP_NET_RAW), as the CI machines have.

use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// EtherType 0x88B5: IEEE 802 local experimental, so no other traffic matches.
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

/// A veth pair: `outer` in this namespace, `inner` in namespace `ns`. Removed on drop.
struct Veth {
    ns: String,
    outer: String,
    inner: String,
}

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().expect("command runs");
    assert!(o.status.success(), "{:?}: {}", args, String::from_utf8_lossy(&o.stderr));
}

impl Veth {
    fn new(tag: &str) -> Veth {
        let id = std::process::id() % 100_000;
        let v = Veth { ns: format!("slc{tag}{id}"), outer: format!("slo{tag}{id}"), inner: format!("sli{tag}{id}") };
        let _ = Command::new("ip").args(["netns", "del", &v.ns]).output();
        sh(&["ip", "netns", "add", &v.ns]);
        sh(&["ip", "link", "add", &v.outer, "type", "veth", "peer", "name", &v.inner, "netns", &v.ns]);
        for (ns, dev) in [(None, &v.outer), (Some(&v.ns), &v.inner)] {
            let mut pre: Vec<&str> = Vec::new();
            if let Some(ns) = ns {
                pre.extend(["ip", "netns", "exec", ns]);
            }
            let sysctl = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
            sh(&[pre.clone(), vec!["sysctl", "-qw", &sysctl]].concat());
            sh(&[pre, vec!["ip", "link", "set", dev, "up"]].concat());
        }
        v
    }

    /// A Python snippet run inside the namespace with a raw socket on the inner end.
    fn python(&self, code: &str) -> std::process::Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", code])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs")
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.outer]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

fn frame(seq: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6]; // broadcast
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&ETHERTYPE);
    f.extend(std::iter::repeat_n(seq, 46));
    f
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn from_device_receives_exactly_what_the_peer_sends() {
    let v = Veth::new("r");
    let out = std::env::temp_dir().join(format!("sluice-fromdevice-{}.pcap", std::process::id()));
    let cfg = format!("FromDevice({}, BURST 64) -> c :: Counter -> ToDump(\"{}\");", v.outer, out.display());
    let registry = sluice_elements::registry();
    let plan = plan_str("<test>", &cfg, &[], &registry, Path::new(".")).unwrap();
    let running = Router::new(plan, 1).unwrap().start(&RunOptions { workers: 1, keep_running: true });
    std::thread::sleep(Duration::from_millis(200));
    let code = format!(
        "import socket,time\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind(('{}',0))\nf=bytes.fromhex('{}')\nfor i in range(100): s.send(f)\n",
        v.inner,
        hex(&frame(7))
    );
    let o = v.python(&code).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Wait until the 100 frames are in (bounded).
    let t = Instant::now();
    while running.read_handler("c", "count").unwrap().parse::<u64>().unwrap() < 100
        && t.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    running.stop();
    running.wait();
    // Count our frames in the capture, byte for byte.
    let data = std::fs::read(&out).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(&data[..]).unwrap();
    let mut ours = 0;
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        if p.data.as_ref() == frame(7).as_slice() {
            ours += 1;
        }
    }
    let _ = std::fs::remove_file(&out);
    assert_eq!(ours, 100, "every frame the peer sent arrived once, unchanged");
}

#[test]
fn from_device_sets_the_packet_type_as_click_does() {
    // 100 broadcast frames and 40 unicast frames for another host: Click's FromDevice marks
    // them BROADCAST and OTHERHOST (from the kernel's sll_pkttype), so DropBroadcasts
    // keeps exactly the 40.
    let v = Veth::new("p");
    let cfg = format!(
        "FromDevice({}, BURST 64) -> db :: DropBroadcasts -> cl :: Classifier(12/88b5, -);\n\
         cl [0] -> c :: Counter -> Discard; cl [1] -> Discard;",
        v.outer
    );
    let registry = sluice_elements::registry();
    let plan = plan_str("<test>", &cfg, &[], &registry, Path::new(".")).unwrap();
    let running = Router::new(plan, 1).unwrap().start(&RunOptions { workers: 1, keep_running: true });
    std::thread::sleep(Duration::from_millis(200));
    let mut unicast = frame(9);
    unicast[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x77]);
    let code = format!(
        "import socket\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind(('{}',0))\n\
         for i in range(100): s.send(bytes.fromhex('{}'))\nfor i in range(40): s.send(bytes.fromhex('{}'))\n",
        v.inner,
        hex(&frame(8)),
        hex(&unicast)
    );
    let o = v.python(&code).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = Instant::now();
    while running.read_handler("db", "drops").unwrap().parse::<u64>().unwrap() < 100
        && t.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    running.stop();
    let r = running.wait();
    assert_eq!(r.read_handler("c", "count").unwrap(), "40", "only the unicast frames pass DropBroadcasts");
    assert!(r.read_handler("db", "drops").unwrap().parse::<u64>().unwrap() >= 100);
}

#[test]
fn to_device_sends_exactly_what_the_graph_emits() {
    let v = Veth::new("t");
    // The peer listens first and counts our EtherType for at most 5 seconds.
    let code = format!(
        "import socket,time\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(0x88b5))\ns.bind(('{}',0))\ns.settimeout(0.5)\nprint('ready',flush=True)\nn=0\nend=time.time()+5\nwant=bytes.fromhex('{}')\nwhile time.time()<end and n<100:\n  try:\n    d=s.recv(2048)\n  except socket.timeout:\n    continue\n  if d==want: n+=1\nprint(n)\n",
        v.inner,
        hex(&frame(9))
    );
    let mut peer = v.python(&code);
    let mut line = String::new();
    use std::io::BufRead;
    let mut stdout = std::io::BufReader::new(peer.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let cfg = format!(
        "InfiniteSource(DATA \\<{}>, LIMIT 100, BURST 10, STOP true) -> ToDevice({});",
        hex(&frame(9)),
        v.outer
    );
    let registry = sluice_elements::registry();
    let plan = plan_str("<test>", &cfg, &[], &registry, Path::new(".")).unwrap();
    let r = Router::new(plan, 1).unwrap().run(&RunOptions::default());
    assert_eq!(r.read_handler("ToDevice@2", "count").unwrap(), "100");
    let mut n = String::new();
    stdout.read_line(&mut n).unwrap();
    peer.wait().unwrap();
    assert_eq!(n.trim(), "100", "the peer received every frame, unchanged");
}

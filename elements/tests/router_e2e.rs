//! End to end: `graphs/router.graph` routes between two network namespaces joined to it by
//! veth pairs, and the kernels on both sides talk through it: ping, a UDP exchange and a TCP
//! transfer. The test creates and removes the namespaces and links; traffic is bounded in
//! count and time and stays on the veth pairs. Needs root, as the CI machines have, and
//! `ping`, `ethtool` and `python3` (the Makefile installs them).

use sluice::load::plan_file;
use sluice::runtime::{Router, RunOptions};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn sh(args: &[&str]) -> Output {
    let o = Command::new(args[0]).args(&args[1..]).output().expect("command runs");
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Two namespaces, each with a veth pair into this one. Removed on drop.
struct Net {
    ns: [String; 2],
    outer: [String; 2],
}

impl Net {
    fn new() -> Net {
        let id = std::process::id() % 100_000;
        let net =
            Net { ns: [format!("sr0n{id}"), format!("sr1n{id}")], outer: [format!("sr0o{id}"), format!("sr1o{id}")] };
        for k in 0..2 {
            let (ns, outer, inner) = (&net.ns[k], &net.outer[k], format!("sr{k}i{id}"));
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "link", "add", outer, "type", "veth", "peer", "name", &inner, "netns", ns]);
            sh(&["sysctl", "-qw", &format!("net.ipv6.conf.{outer}.disable_ipv6=1")]);
            sh(&["ip", "link", "set", outer, "up"]);
            let exec = |args: &[&str]| sh(&[&["ip", "netns", "exec", ns.as_str()], args].concat());
            exec(&["sysctl", "-qw", &format!("net.ipv6.conf.{inner}.disable_ipv6=1")]);
            exec(&["ip", "addr", "add", &format!("10.0.{k}.2/24"), "dev", &inner]);
            exec(&["ip", "link", "set", &inner, "up"]);
            // veth hands locally sent TCP/UDP over with the checksum left to "hardware";
            // a software router between two veths must receive complete checksums.
            exec(&["ethtool", "-K", &inner, "tx", "off"]);
            exec(&["ip", "link", "set", "lo", "up"]);
            exec(&["ip", "route", "add", "default", "via", &format!("10.0.{k}.1")]);
        }
        net
    }

    fn mac(&self, k: usize) -> String {
        std::fs::read_to_string(format!("/sys/class/net/{}/address", self.outer[k])).unwrap().trim().to_string()
    }

    fn exec(&self, k: usize, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns[k]]).args(args);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for k in 0..2 {
            let _ = Command::new("ip").args(["link", "del", &self.outer[k]]).output();
            let _ = Command::new("ip").args(["netns", "del", &self.ns[k]]).output();
        }
    }
}

fn python(net: &Net, k: usize, code: &str) -> std::process::Child {
    net.exec(k, &["timeout", "30", "python3", "-c", code])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_ready(child: &mut std::process::Child) -> std::io::BufReader<std::process::ChildStdout> {
    use std::io::BufRead;
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    out
}

fn last_line(out: std::io::BufReader<std::process::ChildStdout>, child: std::process::Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    let mut out = out;
    out.read_to_string(&mut s).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.lines().last().unwrap_or("").to_string()
}

#[test]
fn kernels_talk_through_the_router_graph() {
    let net = Net::new();
    let graph = Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs/router.graph");
    let defines: Vec<(String, String)> = vec![
        ("IF0".into(), net.outer[0].clone()),
        ("MAC0".into(), net.mac(0)),
        ("IF1".into(), net.outer[1].clone()),
        ("MAC1".into(), net.mac(1)),
    ];
    let plan = plan_file(&graph, &defines, &sluice_elements::registry()).unwrap_or_else(|e| panic!("{e}"));
    let running = Router::new(plan, 1).unwrap().start(&RunOptions { workers: 1, keep_running: true });

    // Ping across the router, and the router itself.
    let o = net.exec(0, &["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.1.2"]).output().unwrap();
    assert!(o.status.success(), "ping through the router: {}", String::from_utf8_lossy(&o.stdout));
    let o = net.exec(1, &["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.1.1"]).output().unwrap();
    assert!(o.status.success(), "ping the router: {}", String::from_utf8_lossy(&o.stdout));

    // UDP: 200 datagrams of 1000 bytes, each answered.
    let mut server = python(
        &net,
        1,
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('10.0.1.2',9000))\ns.settimeout(10)\nprint('ready',flush=True)\nn=0\ntry:\n  while n<200:\n    d,a=s.recvfrom(2000)\n    if len(d)==1000: n+=1; s.sendto(d[:10],a)\nexcept socket.timeout: pass\nprint(n)\n",
    );
    let ready = wait_ready(&mut server);
    let client = net
        .exec(0, &["timeout", "30", "python3", "-c", "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(5)\nn=0\nfor i in range(200):\n  s.sendto(bytes([i%256])*1000,('10.0.1.2',9000))\n  try:\n    s.recv(100); n+=1\n  except socket.timeout: pass\nprint(n)\n"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&client.stdout).trim(), "200", "every UDP datagram answered");
    assert_eq!(last_line(ready, server), "200", "every UDP datagram received");

    // TCP: 2 MB in one connection.
    let mut server = python(
        &net,
        1,
        "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('10.0.1.2',9001))\ns.listen(1)\ns.settimeout(20)\nprint('ready',flush=True)\nc,a=s.accept()\nc.settimeout(20)\nn=0\nwhile True:\n  d=c.recv(65536)\n  if not d: break\n  n+=len(d)\nc.sendall(str(n).encode())\nc.close()\nprint(n)\n",
    );
    let ready = wait_ready(&mut server);
    let client = net
        .exec(0, &["timeout", "30", "python3", "-c", "import socket\nc=socket.create_connection(('10.0.1.2',9001),timeout=20)\nc.sendall(b'x'*2000000)\nc.shutdown(socket.SHUT_WR)\nprint(c.recv(100).decode())\n"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&client.stdout).trim(),
        "2000000",
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert_eq!(last_line(ready, server), "2000000");

    // Everything the kernels sent had good IP headers.
    assert_eq!(running.read_handler("chk", "drops").unwrap(), "0");
    std::thread::sleep(Duration::from_millis(50));
    running.stop();
    running.wait();
}

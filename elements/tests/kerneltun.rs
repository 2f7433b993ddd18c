//! KernelTun and KernelTap against the real kernel: each test creates its own network
//! namespace (removed on drop), runs the graph on a thread that has joined it (the router's
//! workers, started from that thread, are in it too, and so are the devices they create),
//! and pings addresses the graph answers for from inside the namespace. Needs root
//! (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns), as the CI machines have.

use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().expect("command runs");
    assert!(o.status.success(), "{:?}: {}", args, String::from_utf8_lossy(&o.stderr));
}

/// A network namespace with IPv6 off (so the kernel sends the devices nothing
/// unasked-for). Removed on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let ns = Netns { name: format!("slk{tag}{}", std::process::id() % 100_000) };
        let _ = Command::new("ip").args(["netns", "del", &ns.name]).output();
        sh(&["ip", "netns", "add", &ns.name]);
        for key in ["all", "default"] {
            ns.sh(&["sysctl", "-qw", &format!("net.ipv6.conf.{key}.disable_ipv6=1")]);
        }
        ns
    }

    fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip").args(["netns", "exec", &self.name]).args(args).output().expect("ip netns exec runs")
    }

    fn sh(&self, args: &[&str]) -> String {
        let o = self.exec(args);
        assert!(
            o.status.success(),
            "{:?}: {}{}",
            args,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Run `f` on a thread that joined this namespace.
    fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("namespace file");
            // SAFETY: setns on this thread only, with a namespace descriptor.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// `ping -c COUNT ADDR` inside the namespace; returns how many replies came back.
fn ping(ns: &str, addr: &str, count: u32) -> u32 {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-n", "-c", &count.to_string(), "-i", "0.2", "-W", "2", addr])
        .output()
        .expect("ping runs");
    let out = String::from_utf8_lossy(&o.stdout);
    let received = out
        .lines()
        .find_map(|l| l.split(", ").find_map(|part| part.strip_suffix(" received").and_then(|n| n.parse().ok())))
        .unwrap_or_else(|| panic!("no ping summary: {out}{}", String::from_utf8_lossy(&o.stderr)));
    received
}

fn handler(r: &sluice::runtime::Running, h: &str) -> String {
    let (e, h) = h.split_once('.').unwrap();
    r.read_handler(e, h).unwrap()
}

/// `KernelTun(ADDR/MASK, GATEWAY) -> ICMPPingResponder -> KernelTun`: pings to another
/// address of the subnet, and through the default route to any address, come back.
fn tun_answers_pings(workers: usize, tag: &str) {
    let ns = Netns::new(tag);
    let dev = format!("sltun{tag}");
    let name = ns.name.clone();
    let cfg = format!(
        "tun :: KernelTun(10.9.0.1/24, 10.9.0.254, DEVNAME {dev}, BURST 16);\n\
         tun -> c :: Counter -> pr :: ICMPPingResponder -> tun;"
    );
    let (ns_name, dev2) = (name.clone(), dev.clone());
    let (replies, via_gw, route, h) = ns.run(move || {
        let plan = plan_str("<test>", &cfg, &[], &sluice_elements::registry(), Path::new(".")).unwrap();
        let running = Router::new(plan, workers).unwrap().start(&RunOptions { workers, keep_running: true });
        let route =
            String::from_utf8_lossy(&Command::new("ip").args(["route", "show", "default"]).output().unwrap().stdout)
                .into_owned();
        let link =
            String::from_utf8_lossy(&Command::new("ip").args(["-d", "link", "show", &dev2]).output().unwrap().stdout)
                .into_owned();
        assert!(link.contains(",UP,"), "{link}");
        if workers > 1 {
            assert!(link.contains(&format!("multi_queue numqueues {workers} ")), "one queue per worker: {link}");
        }
        let replies = ping(&ns_name, "10.9.0.2", 3);
        let via_gw = ping(&ns_name, "10.77.0.9", 2);
        let h: Vec<String> = ["tun.dev_name", "tun.packets", "tun.sent", "tun.drops", "c.count", "pr.drops"]
            .iter()
            .map(|x| handler(&running, x))
            .collect();
        running.stop();
        running.wait();
        (replies, via_gw, route, h)
    });
    assert_eq!(replies, 3, "every ping to the tun's subnet was answered");
    assert_eq!(via_gw, 2, "pings through the default route were answered");
    assert!(route.contains(&format!("default via 10.9.0.254 dev {dev}")), "GATEWAY's route: {route}");
    assert_eq!(h[0], dev);
    let packets: u64 = h[1].parse().unwrap();
    assert!(packets >= 5, "5 echo requests read, got {packets}");
    assert_eq!(h[1], h[4], "every packet read came out output 0");
    assert_eq!(h[2], "5", "5 echo replies written");
    assert_eq!(h[3], "0", "nothing dropped");
    // The device went away with the router.
    let o = ns.exec(&["ip", "link", "show", &dev]);
    assert!(!o.status.success(), "{dev} still exists after the router stopped");
}

#[test]
fn kernel_tun_answers_kernel_pings() {
    tun_answers_pings(1, "a");
}

#[test]
fn kernel_tun_with_two_workers_uses_one_queue_each() {
    tun_answers_pings(2, "b");
}

/// KernelTap: the kernel ARPs for the peer first; the graph answers ARP and ping, and
/// drops (and counts) frames too short for a tap.
#[test]
fn kernel_tap_answers_arp_and_ping() {
    let ns = Netns::new("c");
    let dev = "sltapc".to_string();
    let cfg = format!(
        "tap :: KernelTap(10.9.1.1/24, ETHER 02:00:00:00:01:01, DEVNAME {dev}, MTU 1400);\n\
         tap -> cl :: Classifier(12/0806 20/0001, 12/0800, -);\n\
         cl[0] -> ARPResponder(10.9.1.2 02:00:00:00:01:02) -> tap;\n\
         cl[1] -> Strip(14) -> CheckIPHeader -> ICMPPingResponder\n\
             -> EtherEncap(0x0800, 02:00:00:00:01:02, 02:00:00:00:01:01) -> tap;\n\
         cl[2] -> Discard;\n\
         InfiniteSource(DATA \\<0001>, LIMIT 2) -> tap;"
    );
    let name = ns.name.clone();
    let dev2 = dev.clone();
    let (replies, link, h) = ns.run(move || {
        let plan = plan_str("<test>", &cfg, &[], &sluice_elements::registry(), Path::new(".")).unwrap();
        let running = Router::new(plan, 1).unwrap().start(&RunOptions { workers: 1, keep_running: true });
        let link = String::from_utf8_lossy(&Command::new("ip").args(["link", "show", &dev2]).output().unwrap().stdout)
            .into_owned();
        let replies = ping(&name, "10.9.1.2", 3);
        let h: Vec<String> =
            ["tap.packets", "tap.sent", "tap.drops", "tap.drop_details"].iter().map(|x| handler(&running, x)).collect();
        running.stop();
        running.wait();
        (replies, link, h)
    });
    assert_eq!(replies, 3, "every ping was answered");
    assert!(link.contains("02:00:00:00:01:01"), "ETHER set the device's address: {link}");
    assert!(link.contains("mtu 1400"), "MTU set: {link}");
    let sent: u64 = h[1].parse().unwrap();
    assert!(sent >= 4, "at least one ARP reply and 3 echo replies written, got {sent}");
    assert_eq!(h[2], "2", "the two 2-byte frames were dropped: {}", h[3]);
    assert!(h[3].contains("2 packet too small"), "{}", h[3]);
}

#[test]
fn a_device_name_in_use_is_refused() {
    let ns = Netns::new("d");
    let r = ns.run(|| {
        let cfg = "a :: KernelTun(10.9.2.1/24, DEVNAME sltund) -> Discard;\n\
                   b :: KernelTap(10.9.3.1/24, DEVNAME sltund) -> Discard;";
        let plan = plan_str("<test>", cfg, &[], &sluice_elements::registry(), Path::new(".")).unwrap();
        Router::new(plan, 1).err().map(|e| e.to_string())
    });
    let e = r.expect("the second device cannot take the first one's name");
    assert!(e.contains("sltund"), "{e}");
}

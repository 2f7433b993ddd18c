//! FromDPDKDevice and ToDPDKDevice on DPDK's virtual devices, without hardware, hugepages
//! or privileges: net_null (endless RX, TX swallows) and net_ring (a port whose TX queue
//! loops back to its RX queue). Built only with `--features dpdk`.
//!
//! The EAL starts once per process, so every DPDK test lives in this binary, and they run
//! one at a time (`serial`). The EAL gets explicit arguments, as `sluice run --eal` gives
//! them: two net_null devices come from `--vdev`, the net_ring devices are created on first
//! use. One test starts a child process to see the EAL fail without hugepages.
#![cfg(feature = "dpdk")]

use dpdk_sys::{eal, Port};
use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions, Running};
use sluice::testing::{collected, inject, new_id};
use sluice::Packet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

const EAL_ARGS: &str = "-l 0 --no-huge --no-pci --no-shconf --no-telemetry -m 512 --vdev=net_null0 --vdev=net_null1";

/// One test at a time, with the EAL started.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    static EAL: Once = Once::new();
    let g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    EAL.call_once(|| {
        // As the CLI does for `sluice run --eal '...'`.
        sluice_elements::io::set_dpdk_eal_args(EAL_ARGS).unwrap();
        eal::init().unwrap_or_else(|e| panic!("{e}\n{}", eal::init_log()));
    });
    g
}

fn start(cfg: &str) -> Running {
    let registry = sluice::testing::registry(&sluice_elements::classes());
    let plan = plan_str("<test>", cfg, &[], &registry, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let router = Router::new(plan, 1).unwrap_or_else(|e| panic!("{e}"));
    router.start(&RunOptions { workers: 1, keep_running: true })
}

fn count(r: &Running, element: &str, handler: &str) -> u64 {
    r.read_handler(element, handler).unwrap().parse().unwrap()
}

/// Wait (bounded) until `done` holds.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Mbufs in use in the default pool (every port here shares the socket's pool).
fn mbufs_in_use() -> u32 {
    dpdk_sys::Mempool::for_socket(0).unwrap().in_use()
}

/// Distinct frames of varied lengths (60..=1514 bytes), each carrying its sequence number.
fn frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = 60 + (i * 97) % 1455;
            let mut f: Vec<u8> = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
            f[..6].copy_from_slice(&[0xff; 6]);
            f[12..14].copy_from_slice(&[0x88, 0xb5]);
            f[14..18].copy_from_slice(&(i as u32).to_be_bytes());
            f
        })
        .collect()
}

#[test]
fn null_to_null_moves_packets() {
    let _g = serial();
    let base = mbufs_in_use();
    let r = start("FromDPDKDevice(net_null0, BURST 32) -> c :: Counter -> t :: ToDPDKDevice(net_null1);");
    wait_for("100000 packets", Duration::from_secs(20), || count(&r, "c", "count") >= 100_000);
    r.stop();
    let r = r.wait();
    let got: u64 = r.read_handler("FromDPDKDevice@1", "count").unwrap().parse().unwrap();
    let counted: u64 = r.read_handler("c", "count").unwrap().parse().unwrap();
    let sent: u64 = r.read_handler("t", "count").unwrap().parse().unwrap();
    assert!(got >= 100_000);
    assert_eq!(counted, got, "every received packet reached the Counter");
    assert_eq!(sent, got, "net_null took every packet");
    assert_eq!(r.read_handler("t", "drops").unwrap(), "0");
    // 64-byte packets from net_null, counted by the devices themselves too.
    assert_eq!(r.read_handler("c", "byte_count").unwrap().parse::<u64>().unwrap(), 64 * got);
    let hw_tx: u64 = r.read_handler("t", "hw_count").unwrap().parse().unwrap();
    assert_eq!(hw_tx, sent);
    assert_eq!(r.read_handler("t", "device").unwrap(), dpdk_sys::port::find("net_null1").unwrap().to_string());
    drop(r);
    assert_eq!(mbufs_in_use(), base, "every mbuf went back to the pool");
}

#[test]
fn ring_loopback_delivers_exactly_what_was_sent() {
    let _g = serial();
    let base = mbufs_in_use();
    let sent = frames(500);
    let (src, sink) = (new_id(), new_id());
    inject(src, sent.iter().map(|f| Packet::from_slice(f)));
    // Packets from the graph (heap buffers) are copied into mbufs on the way out.
    let r = start(&format!(
        "Inject(ID {src}) -> t :: ToDPDKDevice(net_ring0, BLOCKING true);
         f :: FromDPDKDevice(net_ring0) -> Collect(ID {sink});"
    ));
    wait_for("500 packets back", Duration::from_secs(20), || count(&r, "f", "count") >= 500);
    r.stop();
    let r = r.wait();
    assert_eq!(r.read_handler("t", "count").unwrap(), "500");
    assert_eq!(r.read_handler("f", "count").unwrap(), "500");
    let got: Vec<Vec<u8>> = collected(sink).iter().map(|p| p.data().to_vec()).collect();
    assert_eq!(got.len(), sent.len());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        assert!(g == s, "frame {i} differs: {} bytes back for {} sent", g.len(), s.len());
    }
    drop(r);
    assert_eq!(mbufs_in_use(), base, "every mbuf went back to the pool");
}

#[test]
fn received_mbufs_are_forwarded_in_place() {
    let _g = serial();
    let base = mbufs_in_use();
    let sent = frames(300);
    let (src, sink) = (new_id(), new_id());
    inject(src, sent.iter().map(|f| Packet::from_slice(f)));
    // ring1 -> ring2 forwards the received mbufs themselves, after Strip moved the start of
    // the data and Unstrip(4) moved it partly back: the mbuf must carry the new window.
    let r = start(&format!(
        "Inject(ID {src}) -> ToDPDKDevice(net_ring1);
         FromDPDKDevice(net_ring1) -> Strip(14) -> Unstrip(4) -> fwd :: ToDPDKDevice(net_ring2);
         f :: FromDPDKDevice(net_ring2) -> Collect(ID {sink});"
    ));
    wait_for("300 packets back", Duration::from_secs(20), || count(&r, "f", "count") >= 300);
    r.stop();
    let r = r.wait();
    assert_eq!(r.read_handler("fwd", "count").unwrap(), "300");
    let got = collected(sink);
    assert_eq!(got.len(), 300);
    for (i, (p, s)) in got.iter().zip(&sent).enumerate() {
        assert!(p.data() == &s[10..], "frame {i}: {} bytes back for {} sent", p.len(), s.len());
        // A received packet wraps its mbuf: DPDK's headroom (128) plus the 10 bytes pulled.
        assert_eq!(p.headroom(), 128 + 10, "frame {i} arrived in place");
    }
    drop(got);
    drop(r);
    assert_eq!(mbufs_in_use(), base, "every mbuf went back to the pool, once");
}

#[test]
fn a_missing_port_is_named_with_the_ports_there_are() {
    let _g = serial();
    let registry = sluice::testing::registry(&sluice_elements::classes());
    let plan = plan_str("<test>", "FromDPDKDevice(eth7) -> Discard;", &[], &registry, Path::new(".")).unwrap();
    let e = Router::new(plan, 1).err().expect("refused").to_string();
    assert!(e.contains("no DPDK port 'eth7': available ports are "), "{e}");
    assert!(e.contains("(net_null0)") && e.contains("(net_null1)"), "{e}");
    let plan = plan_str("<test>", "Idle -> ToDPDKDevice(42);", &[], &registry, Path::new(".")).unwrap();
    let e = Router::new(plan, 1).err().expect("refused").to_string();
    assert!(e.contains("no DPDK port '42'"), "{e}");
    // ALLOW_NONEXISTENT: an idle element instead of an error.
    let plan =
        plan_str("<test>", "FromDPDKDevice(eth7, ALLOW_NONEXISTENT true) -> Discard;", &[], &registry, Path::new("."))
            .unwrap();
    let r = Router::new(plan, 1).expect("accepted");
    assert_eq!(r.read_handler("FromDPDKDevice@1", "device").unwrap(), "undefined");
}

#[test]
fn port_handlers_and_queues() {
    let _g = serial();
    // Two workers: one RX and one TX queue each, on one port configured once for both.
    let registry = sluice::testing::registry(&sluice_elements::classes());
    let plan = plan_str(
        "<test>",
        "f :: FromDPDKDevice(net_null0, PROMISC true) -> t :: ToDPDKDevice(net_null0, BLOCKING false);",
        &[],
        &registry,
        Path::new("."),
    )
    .unwrap();
    let r = Router::new(plan, 2).unwrap().start(&RunOptions { workers: 2, keep_running: true });
    wait_for("packets on both workers", Duration::from_secs(20), || count(&r, "t", "count") >= 10_000);
    let port = Port::acquire("net_null0", Default::default()).unwrap();
    assert_eq!((port.rx_queues(), port.tx_queues()), (2, 2));
    assert_eq!(r.read_handler("f", "device").unwrap(), port.id().to_string());
    assert_eq!(r.read_handler("f", "mac").unwrap().len(), 17);
    assert_eq!(r.read_handler("f", "carrier").unwrap(), "1");
    let sent = count(&r, "t", "count"); // first: the device's count only grows after
    assert!(count(&r, "f", "hw_count") >= sent);
    r.write_handler("f", "burst", "8").unwrap();
    assert_eq!(r.read_handler("f", "burst").unwrap(), "8");
    r.write_handler("f", "active", "false").unwrap();
    r.stop();
    drop(r.wait());
    drop(port);
}

/// The EAL refuses to start without hugepages unless told --no-huge; the error says so.
/// Runs in a child process (the EAL starts once per process), on machines without
/// hugepages reserved.
#[test]
fn eal_without_hugepages_says_what_to_do() {
    if std::env::var_os("SLUICE_DPDK_CHILD").is_some() {
        eal::set_args_str("-l 0 --no-pci --no-shconf --no-telemetry -m 64").unwrap();
        let e = eal::init().expect_err("no hugepages");
        println!("ERROR: {e}");
        return;
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if !meminfo.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["HugePages_Total:", "0"]) {
        eprintln!("hugepages are reserved on this machine: nothing to check");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "eal_without_hugepages_says_what_to_do", "--nocapture", "--test-threads=1"])
        .env("SLUICE_DPDK_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.find("ERROR: ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("child said: {stdout}"));
    assert!(line.contains("DPDK EAL initialization failed with arguments '-l 0 --no-pci"), "{line}");
    assert!(line.contains("reserve hugepages"), "{line}");
    assert!(line.contains("or run with --no-huge"), "{line}");
}

#[test]
fn a_ring_loop_restarts_clean() {
    let _g = serial();
    let base = mbufs_in_use();
    // 512 packets circulate through a net_ring port (its TX ring is its RX ring). When the
    // graph stops, packets are left in the ring; the next graph's port starts empty, so
    // its own 512 fit again.
    for round in 0..2 {
        let r = start(
            "InfiniteSource(LENGTH 64, LIMIT 512, BURST 64) -> prime :: ToDPDKDevice(net_ring3, BLOCKING false);
             FromDPDKDevice(net_ring3) -> c :: Counter -> ToDPDKDevice(net_ring3, BLOCKING false);",
        );
        wait_for("the loop to turn", Duration::from_secs(20), || count(&r, "c", "count") >= 20_000);
        r.stop();
        let r = r.wait();
        assert_eq!(r.read_handler("prime", "count").unwrap(), "512", "round {round}");
        assert_eq!(r.read_handler("prime", "drops").unwrap(), "0", "round {round}");
    }
    assert_eq!(mbufs_in_use(), base, "every mbuf went back to the pool");
}

#[test]
fn a_virtual_device_with_driver_arguments_is_created_on_first_use() {
    let _g = serial();
    // net_pcap replays a capture once: PORT carries the driver arguments, quoted.
    let path = std::env::temp_dir().join(format!("sluice-dpdk-{}.pcap", std::process::id()));
    let sent = frames(20);
    {
        use pcap_file::pcap::{PcapPacket, PcapWriter};
        let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
        for f in &sent {
            w.write_packet(&PcapPacket::new(Duration::ZERO, f.len() as u32, f)).unwrap();
        }
    }
    let sink = new_id();
    let r = start(&format!("f :: FromDPDKDevice(\"net_pcap7,rx_pcap={}\") -> Collect(ID {sink});", path.display()));
    wait_for("the capture", Duration::from_secs(20), || count(&r, "f", "count") >= 20);
    r.stop();
    drop(r.wait());
    let _ = std::fs::remove_file(&path);
    let got: Vec<Vec<u8>> = collected(sink).iter().map(|p| p.data().to_vec()).collect();
    assert_eq!(got, sent);
    assert!(dpdk_sys::port::find("net_pcap7").is_ok(), "the device stays, under its name");
}

//! The safe layer against DPDK's virtual devices, without hardware or hugepages. The EAL
//! starts once per process, so everything runs in one test, step by step.
#![cfg(not(dpdk_unavailable))]

use dpdk_sys::{eal, port, Needs, Port};

#[test]
fn eal_ports_mempool_and_bursts() {
    let cpus_before = cpus();
    eal::init().expect("the EAL starts with the default arguments");
    assert!(eal::is_initialized());
    assert!(dpdk_sys::version().starts_with("DPDK "), "{}", dpdk_sys::version());
    assert!(matches!(eal::set_args_str("-l 0"), Err(dpdk_sys::Error::AlreadyInitialized { .. })));
    // The EAL pinned this thread to lcore 0; init put its affinity back, so threads started
    // later (workers) may run on every CPU this process may use.
    assert_eq!(std::thread::spawn(cpus).join().unwrap(), cpus_before);

    // A virtual device named as a port is created on first use.
    let one = Needs { rx_queues: 1, tx_queues: 1, ..Default::default() };
    let null = Port::acquire("net_null0", one).expect("net_null0");
    assert_eq!(port::name(null.id()), "net_null0");
    assert_eq!(port::find("net_null0").unwrap(), null.id());
    assert_eq!(port::find(&null.id().to_string()).unwrap(), null.id());

    // net_null receives endless 64-byte packets and swallows what it is sent.
    let rx = null.rx_queue(0).unwrap();
    let tx = null.tx_queue(0).unwrap();
    let mut got = Vec::new();
    assert_eq!(rx.recv(&mut got, 32), 32);
    assert!(got.iter().all(|m| m.pkt_len() == 64 && m.segments() == 1));
    let in_use = null.pool().in_use();
    assert_eq!(tx.send(&mut got), 32);
    assert!(got.is_empty());
    assert!(null.pool().in_use() <= in_use - 32, "net_null freed what it sent");
    assert!(null.rx_queue(1).is_err());

    // net_ring with no arguments loops a port's TX queue back to its RX queue.
    let ring = Port::acquire("net_ring0", one).expect("net_ring0");
    let mut out = Vec::new();
    for i in 0..10u8 {
        let mut m = ring.pool().alloc().expect("an mbuf");
        assert!(m.set_data(&[i; 60]));
        out.push(m);
    }
    assert_eq!(ring.tx_queue(0).unwrap().send(&mut out), 10);
    let mut back = Vec::new();
    assert_eq!(ring.rx_queue(0).unwrap().recv(&mut back, 32), 10);
    for (i, m) in back.iter().enumerate() {
        assert_eq!(m.data(), &[i as u8; 60]);
    }
    let s = ring.stats().unwrap();
    assert_eq!((s.opackets, s.ipackets), (10, 10));

    // A running port refuses users that need more queues than it has.
    let e = Port::acquire("net_ring0", Needs { rx_queues: 4, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("running with 1 RX and 1 TX queues"), "{e}");
    // Once every user is gone it stops, and the next user configures it afresh.
    drop(ring);
    let ring = Port::acquire("net_ring0", Needs { rx_queues: 2, tx_queues: 2, ..Default::default() }).unwrap();
    assert_eq!((ring.rx_queues(), ring.tx_queues()), (2, 2));

    // Declared needs count when the port starts, once: the next start uses its own.
    drop(ring);
    port::declare("net_ring0", Needs { rx_queues: 3, tx_queues: 1, ..Default::default() });
    let ring = Port::acquire("net_ring0", one).unwrap();
    assert_eq!((ring.rx_queues(), ring.tx_queues()), (3, 1));
    drop(ring);
    let ring = Port::acquire("net_ring0", one).unwrap();
    assert_eq!((ring.rx_queues(), ring.tx_queues()), (1, 1));

    // Unknown ports are named, with the ports there are.
    let e = Port::acquire("eth9", one).unwrap_err().to_string();
    assert!(e.starts_with("no DPDK port 'eth9': available ports are "), "{e}");
    assert!(e.contains("(net_null0)") && e.contains("(net_ring0)"), "{e}");
    assert!(port::find("77").is_err());
    let e = port::find("net_nosuchdriver0").unwrap_err().to_string();
    assert!(e.contains("no DPDK port 'net_nosuchdriver0' (creating it as a virtual device failed: "), "{e}");
    drop(ring);
}

/// How many CPUs the calling thread may run on.
fn cpus() -> usize {
    // SAFETY: a zeroed cpu_set_t is valid; the kernel fills it; CPU_ISSET stays inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).count()
    }
}

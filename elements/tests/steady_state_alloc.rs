//! The data path allocates nothing per packet: running a graph over 100x more packets makes
//! (almost) no more heap allocations. Counted with a counting global allocator; this file
//! holds a single test so nothing else allocates meanwhile.

use sluice::load::plan_str;
use sluice::runtime::{Router, RunOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A UDP packet 10.0.0.1:1234 -> 10.0.1.2:53 in Ethernet, with a valid IP checksum.
const UDP_FRAME: &str = "02000000000202000000000108004500002e00010000401165bc0a0000010a00010204d20035001a0000736c756963652d616c6c6f632d7465737421";

/// The standard path: queues, tees, header stripping.
fn standard(packets: u64) -> String {
    format!(
        "InfiniteSource(LENGTH 64, LIMIT {packets}, BURST 64, STOP true)
           -> Counter -> Strip(14) -> Unstrip(14) -> t :: Tee(2);
         t[0] -> Queue(512) -> Unqueue(BURST 64) -> c :: Counter -> Discard;
         t[1] -> Discard;"
    )
}

/// A router path: header check, filter, route lookup, TTL, NAT, encapsulation.
fn router(packets: u64) -> String {
    format!(
        "InfiniteSource(DATA \\<{UDP_FRAME}>, LIMIT {packets}, BURST 64, STOP true)
           -> Strip(14) -> CheckIPHeader -> IPFilter(allow udp, deny all)
           -> rt :: RadixIPLookup(10.0.1.0/24 0, 0.0.0.0/0 1) -> DecIPTTL
           -> IPRewriter(pattern 192.0.2.1 1024-65535 - - 0 0)
           -> EtherEncap(0x0800, 2:0:0:0:0:1, 2:0:0:0:0:2) -> c :: Counter -> Discard;
         rt[1] -> Discard;"
    )
}

/// Allocations made while running the graph `cfg(packets)` (build excluded).
fn allocations_for(cfg: fn(u64) -> String, packets: u64) -> u64 {
    let cfg = cfg(packets);
    let plan = plan_str("<alloc>", &cfg, &[], &sluice_elements::registry(), Path::new(".")).unwrap();
    let router = Router::new(plan, 1).unwrap();
    let before = ALLOCS.load(Ordering::Relaxed);
    let router = router.run(&RunOptions::default());
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(router.read_handler("c", "count").unwrap(), packets.to_string());
    n
}

#[test]
fn data_path_allocations_do_not_grow_with_packets() {
    for (name, cfg) in [("standard", standard as fn(u64) -> String), ("router", router)] {
        let small = allocations_for(cfg, 10_000);
        let large = allocations_for(cfg, 1_000_000);
        // Start-up (thread, pool warm-up) allocates; 990 000 more packets may add only noise.
        eprintln!("{name}: {small} allocations for 10k packets, {large} for 1M");
        assert!(large <= small + 64, "{name}: {small} allocations for 10k packets, {large} for 1M");
    }
}

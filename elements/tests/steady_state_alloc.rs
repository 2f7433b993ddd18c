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

/// Allocations made while running the graph over `packets` packets (build excluded).
fn allocations_for(packets: u64) -> u64 {
    let cfg = format!(
        "InfiniteSource(LENGTH 64, LIMIT {packets}, BURST 64, STOP true)
           -> Counter -> Strip(14) -> Unstrip(14) -> t :: Tee(2);
         t[0] -> Queue(512) -> Unqueue(BURST 64) -> c :: Counter -> Discard;
         t[1] -> Discard;"
    );
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
    let small = allocations_for(10_000);
    let large = allocations_for(1_000_000);
    // Start-up (thread, pool warm-up) allocates; 990 000 more packets may add only noise.
    eprintln!("allocations: {small} for 10k packets, {large} for 1M");
    assert!(large <= small + 64, "{small} allocations for 10k packets, {large} for 1M");
}

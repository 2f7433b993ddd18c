//! FromDump and ToDump on real captures: round trips checked with an independent reader
//! (`pcap-file`), pcapng files written by `pcap-file`, damaged files, pull mode, several
//! workers.

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter, RawPcapPacket};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::blocks::section_header::SectionHeaderBlock;
use pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness, TsResolution};
use sluice::runtime::{Router, RunOptions};
use sluice::{Batch, Ctx, Element, ElementClass, InitCtx, Packet, TaskStatus};
use sluice_elements::io::from_dump::FROM_DUMP;
use sluice_elements::io::to_dump::TO_DUMP;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

const PCAPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/pcaps");
const MALFORMED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/malformed");

fn pcap(name: &str) -> PathBuf {
    Path::new(PCAPS).join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-pcap-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn q(p: &Path) -> String {
    format!("\"{}\"", p.display())
}

// ------------------------------------------------------------------ test-only elements

static STORE: Mutex<Vec<(u64, Vec<Packet>)>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn take_store(id: u64) -> Vec<Packet> {
    let mut s = STORE.lock().unwrap();
    match s.iter().position(|(i, _)| *i == id) {
        Some(k) => s.remove(k).1,
        None => Vec::new(),
    }
}

/// `PullCollect(n)`: a task pulling its input and keeping the packets under id n.
struct PullCollect {
    id: u64,
}

impl Element for PullCollect {
    fn initialize(&mut self, ctx: &mut InitCtx) -> Result<(), String> {
        ctx.schedule_task();
        Ok(())
    }
    fn run_task(&mut self, mut ctx: Ctx<'_>) -> TaskStatus {
        let b = ctx.pull(0, 64);
        if b.is_empty() {
            return TaskStatus::Idle;
        }
        let mut s = STORE.lock().unwrap();
        match s.iter_mut().find(|(i, _)| *i == self.id) {
            Some((_, v)) => v.extend(b),
            None => s.push((self.id, b.into_iter().collect())),
        }
        TaskStatus::Busy
    }
}

const PULL_COLLECT: ElementClass = ElementClass {
    name: "PullCollect",
    ports: "1/0",
    processing: "l/h",
    doc: "PullCollect(ID)\nTest sink that pulls.",
    handlers: &[],
    build: |c, _| Ok(Box::new(PullCollect { id: c.trim().parse().map_err(|_| "expected an id")? })),
};

/// `TestQueue`: push in, pull out, unbounded.
struct TestQueue {
    q: VecDeque<Packet>,
}

impl Element for TestQueue {
    fn push(&mut self, _port: usize, batch: Batch, _ctx: Ctx<'_>) {
        self.q.extend(batch);
    }
    fn pull(&mut self, _port: usize, max: usize, _ctx: Ctx<'_>) -> Batch {
        let mut b = Batch::new();
        while b.len() < max {
            match self.q.pop_front() {
                Some(p) => {
                    let _ = b.push(p);
                }
                None => break,
            }
        }
        b
    }
}

const TEST_QUEUE: ElementClass = ElementClass {
    name: "TestQueue",
    ports: "1/1",
    processing: "h/l",
    doc: "TestQueue\nTest queue.",
    handlers: &[],
    build: |_, _| Ok(Box::new(TestQueue { q: VecDeque::new() })),
};

/// Run a configuration text on `workers` workers until it stops.
fn run(text: &str, workers: usize) -> Router {
    let g = sluice::lang::parse_str("<test>", text, &[]).unwrap_or_else(|e| panic!("{e}"));
    let plan =
        sluice::testing::plan(g, &[FROM_DUMP, TO_DUMP, PULL_COLLECT, TEST_QUEUE]).unwrap_or_else(|e| panic!("{e}"));
    let router = Router::new(plan, workers).unwrap_or_else(|e| panic!("{e}"));
    router.run(&RunOptions { workers, keep_running: false })
}

fn try_router(text: &str) -> Result<Router, String> {
    let g = sluice::lang::parse_str("<test>", text, &[]).map_err(|e| e.to_string())?;
    let plan = sluice::testing::plan(g, &[FROM_DUMP, TO_DUMP, PULL_COLLECT, TEST_QUEUE]).map_err(|e| e.to_string())?;
    Router::new(plan, 1).map_err(|e| e.to_string())
}

fn handler(r: &Router, e: &str, h: &str) -> String {
    r.read_handler(e, h).unwrap_or_else(|err| panic!("{e}.{h}: {err}"))
}

// ------------------------------------------------------------------ independent reading

/// Raw records of a pcap file, read by `pcap-file`: (sec, frac, caplen, len, data).
type Rec = (u32, u32, u32, u32, Vec<u8>);

fn records(path: &Path) -> (PcapHeader, Vec<Rec>) {
    let mut r = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let h = r.header();
    let mut v = Vec::new();
    while let Some(p) = r.next_raw_packet() {
        let p = p.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        v.push((p.ts_sec, p.ts_frac, p.incl_len, p.orig_len, p.data.into_owned()));
    }
    (h, v)
}

/// Records as (timestamp ns, caplen, len, data), whatever the resolution.
fn records_ns(path: &Path) -> Vec<(u64, u32, u32, Vec<u8>)> {
    let (h, v) = records(path);
    let mult = if h.ts_resolution == TsResolution::NanoSecond { 1 } else { 1000 };
    v.into_iter().map(|(s, f, c, l, d)| (u64::from(s) * 1_000_000_000 + u64::from(f) * mult, c, l, d)).collect()
}

/// Compare record lists, naming the first difference instead of printing megabytes.
/// Records whose original timestamp is 0 are compared without it: ToDump writes the
/// current time for packets without a timestamp, as Click does.
fn assert_same_records(got: &[Rec], want: &[Rec], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: number of records");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ts_ok = (w.0, w.1) == (0, 0) || (g.0, g.1) == (w.0, w.1);
        assert!(ts_ok, "{what}: record {i}: timestamp {}.{} instead of {}.{}", g.0, g.1, w.0, w.1);
        assert_eq!((g.2, g.3), (w.2, w.3), "{what}: record {i}: caplen, len");
        assert!(g.4 == w.4, "{what}: record {i}: bytes differ");
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn every_real_capture_round_trips_through_fromdump_and_todump() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(PCAPS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "expected the shared captures");
    for (i, f) in files.iter().enumerate() {
        let out = tmp(&format!("rt{i}.pcap"));
        let r = run(&format!("e :: FromDump({}) -> t :: ToDump({}, SNAPLEN 0);", q(f), q(&out)), 1);
        let (_, orig) = records(f);
        let (h, copy) = records(&out);
        assert_eq!(h.datalink, DataLink::ETHERNET, "{}", f.display());
        assert_same_records(&copy, &orig, &f.display().to_string());
        assert_eq!(handler(&r, "e", "count"), orig.len().to_string());
        assert_eq!(handler(&r, "t", "count"), orig.len().to_string());
        assert_eq!(handler(&r, "e", "errors"), "0");
    }
}

#[test]
fn known_packet_counts() {
    for (name, n) in
        [("snabb__v4.pcap", 43), ("snabb__v6.pcap", 161), ("snabb__sanitized4k.pcap", 4096), ("tcpdump__afs.pcap", 601)]
    {
        let r = run(
            &format!("e :: FromDump({}) -> t :: ToDump({});", q(&pcap(name)), q(&tmp(&format!("count-{name}")))),
            1,
        );
        assert_eq!(handler(&r, "e", "count"), n.to_string(), "{name}");
    }
}

#[test]
fn truncated_records_round_trip_with_their_original_length() {
    // ToDump with a snap length makes records with caplen < len; FromDump reads them with
    // the captured bytes and the extra length annotation; ToDump restores the length.
    let snapped = tmp("snapped64.pcap");
    run(&format!("FromDump({}) -> ToDump({}, SNAPLEN 64);", q(&pcap("snabb__v4.pcap")), q(&snapped)), 1);
    let (h, recs) = records(&snapped);
    assert_eq!(h.snaplen, 64);
    let n_trunc = recs.iter().filter(|r| r.2 < r.3).count();
    assert!(n_trunc > 10);
    assert!(recs.iter().all(|r| r.2 <= 64 && r.4.len() == r.2 as usize));

    let again = tmp("snapped64-again.pcap");
    let r = run(&format!("e :: FromDump({}) -> ToDump({}, SNAPLEN 0);", q(&snapped), q(&again)), 1);
    assert_eq!(handler(&r, "e", "truncated"), n_trunc.to_string());
    assert_eq!(handler(&r, "e", "count"), "43");
    assert_same_records(&records(&again).1, &recs, "snapped again");

    // EXTRA_LENGTH false records what was kept.
    let kept = tmp("snapped64-kept.pcap");
    run(&format!("FromDump({}) -> ToDump({}, SNAPLEN 0, EXTRA_LENGTH false);", q(&snapped), q(&kept)), 1);
    assert!(records(&kept).1.iter().all(|r| r.2 == r.3));

    // Truncated packets flow through with their captured bytes only.
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    run(&format!("FromDump({}, STOP true) -> TestQueue -> PullCollect({id});", q(&snapped)), 1);
    let pkts = take_store(id);
    assert_eq!(pkts.len(), 43);
    for (p, r) in pkts.iter().zip(&recs) {
        assert_eq!(p.data(), &r.4[..]);
    }
}

#[test]
fn nanosecond_and_big_endian_pcaps() {
    // Write the v4 packets as a big-endian nanosecond pcap with pcap-file, with distinct
    // nanosecond parts, and read it back.
    let src = records(&pcap("snabb__v4.pcap")).1;
    let nano = tmp("v4-be-nano.pcap");
    {
        let header =
            PcapHeader { ts_resolution: TsResolution::NanoSecond, endianness: Endianness::Big, ..Default::default() };
        let mut w = PcapWriter::with_header(std::fs::File::create(&nano).unwrap(), header).unwrap();
        for (i, (s, us, _, len, d)) in src.iter().enumerate() {
            let ts = Duration::new(u64::from(*s), us * 1000 + i as u32);
            w.write_packet(&PcapPacket::new(ts, *len, d)).unwrap();
        }
    }
    let expect = records_ns(&nano);
    assert_eq!(expect.len(), 43);

    let out = tmp("v4-nano-copy.pcap");
    run(&format!("FromDump({}) -> ToDump({}, SNAPLEN 0, NANO true);", q(&nano), q(&out)), 1);
    let (h, _) = records(&out);
    assert_eq!(h.ts_resolution, TsResolution::NanoSecond);
    assert_eq!(records_ns(&out), expect);

    // Written with microseconds, the nanoseconds are cut, the rest is kept.
    let micro = tmp("v4-micro-copy.pcap");
    run(&format!("FromDump({}) -> ToDump({}, SNAPLEN 0);", q(&nano), q(&micro)), 1);
    let got = records_ns(&micro);
    for (a, b) in got.iter().zip(&expect) {
        assert_eq!(a.0, b.0 / 1000 * 1000);
        assert_eq!((a.1, a.2, &a.3), (b.1, b.2, &b.3));
    }
}

/// A pcapng file: section (given byte order), interface 0 Ethernet with nanosecond
/// timestamps, interface 1 raw IP with the default (microsecond) resolution; packets of
/// v4.pcap alternate between them (Ethernet header stripped for raw IP); then a second
/// section with one interface and Simple Packet Blocks. Returns the expected records
/// (timestamp ns, data, original length, link type).
fn write_pcapng(path: &Path, endianness: Endianness) -> Vec<(u64, Vec<u8>, u32, u32)> {
    let src = records_ns(&pcap("snabb__v4.pcap"));
    let mut expect = Vec::new();
    let file = std::fs::File::create(path).unwrap();
    let mut w =
        PcapNgWriter::with_section_header(file, SectionHeaderBlock { endianness, ..Default::default() }).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
    })
    .unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock { linktype: DataLink::RAW, snaplen: 65535, options: vec![] })
        .unwrap();
    for (i, (ts, _, len, d)) in src.iter().enumerate() {
        let (iface, data, len, units, lt) = if i % 2 == 0 {
            (0, d.clone(), *len, *ts, 1)
        } else {
            // pcap-file writes the timestamp's nanoseconds as the raw units: give it the
            // microsecond count this interface's resolution means.
            (1, d[14..].to_vec(), len - 14, ts / 1000, 101)
        };
        let epb = EnhancedPacketBlock {
            interface_id: iface,
            timestamp: Duration::from_nanos(units),
            original_len: len,
            data: Cow::Owned(data.clone()),
            options: vec![],
        };
        w.write_pcapng_block(epb).unwrap();
        expect.push((ts / 1000 * 1000, data, len, lt));
    }
    // Second section: interface 0 is now Ethernet with snaplen 40; SPBs have no time.
    w.write_pcapng_block(SectionHeaderBlock { endianness, ..Default::default() }).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock { linktype: DataLink::ETHERNET, snaplen: 40, options: vec![] })
        .unwrap();
    for (_, _, len, d) in src.iter().take(5) {
        w.write_pcapng_block(SimplePacketBlock { original_len: *len, data: Cow::Owned(d[..40.min(d.len())].to_vec()) })
            .unwrap();
        expect.push((0, d[..40.min(d.len())].to_vec(), *len, 1));
    }
    expect
}

#[test]
fn pcapng_files_with_several_interfaces_and_sections() {
    for (k, endianness) in [Endianness::Little, Endianness::Big].into_iter().enumerate() {
        let ng = tmp(&format!("multi{k}.pcapng"));
        let expect = write_pcapng(&ng, endianness);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let r = run(&format!("e :: FromDump({}, STOP true) -> TestQueue -> PullCollect({id});", q(&ng)), 1);
        let got = take_store(id);
        assert_eq!(got.len(), expect.len());
        assert_eq!(handler(&r, "e", "count"), expect.len().to_string());
        assert_eq!(handler(&r, "e", "errors"), "0");
        assert_eq!(handler(&r, "e", "encap"), "ETHER");
        let mut truncated = 0;
        for (i, (p, (ts, data, len, lt))) in got.iter().zip(&expect).enumerate() {
            assert_eq!(p.anno().timestamp_ns, *ts, "packet {i}");
            assert_eq!(p.data(), &data[..], "packet {i}");
            assert_eq!(sluice_elements::io::extra_length_anno(p), len - data.len() as u32, "packet {i}");
            truncated += usize::from((data.len() as u32) < *len);
            // Raw IP interfaces force IP: the network header is on the first byte.
            let want = if *lt == 101 { Some(0) } else { None };
            assert_eq!(p.network_header_offset(), want, "packet {i}");
        }
        assert_eq!(handler(&r, "e", "truncated"), truncated.to_string());

        // And on to a pcap file: records as expected (the Simple Packet Blocks' time is 0,
        // which ToDump replaces by the current time, so compare those without it).
        let out = tmp(&format!("multi{k}-copy.pcap"));
        run(&format!("FromDump({}) -> ToDump({}, SNAPLEN 0);", q(&ng), q(&out)), 1);
        let copy = records_ns(&out);
        assert_eq!(copy.len(), expect.len());
        for ((ts, c, l, d), (ets, edata, elen, _)) in copy.iter().zip(&expect) {
            if *ets != 0 {
                assert_eq!(ts, ets);
            }
            assert_eq!((*c as usize, l, d), (edata.len(), elen, edata));
        }
    }
}

#[test]
fn pcapng_timestamp_resolution_and_offset_options() {
    // if_tsresol 2^-10 s and if_tsoffset 1000 s, written by hand.
    let ng = tmp("tsresol.pcapng");
    let file = std::fs::File::create(&ng).unwrap();
    let mut w = PcapNgWriter::with_endianness(file, Endianness::Little).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![InterfaceDescriptionOption::IfTsResol(0x80 | 10), InterfaceDescriptionOption::IfTsOffset(1000)],
    })
    .unwrap();
    let data = vec![0u8; 60];
    for units in [0u64, 512, 1024 * 3] {
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(units),
            original_len: 60,
            data: Cow::Borrowed(&data),
            options: vec![],
        };
        w.write_pcapng_block(epb).unwrap();
    }
    drop(w);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    run(&format!("FromDump({}, STOP true) -> TestQueue -> PullCollect({id});", q(&ng)), 1);
    let ts: Vec<u64> = take_store(id).iter().map(|p| p.anno().timestamp_ns).collect();
    assert_eq!(ts, vec![1_000_000_000_000, 1_000_500_000_000, 1_003_000_000_000]);
}

#[test]
fn every_malformed_capture_loads_without_panic() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(MALFORMED).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 10);
    let mut total = 0;
    for f in &files {
        // The same records as an independent reader finds (pcap-file stops at the first
        // record it cannot complete; FromDump counts that as an error).
        let mut expect = 0;
        let mut damaged = 0;
        let mut reader = PcapReader::new(std::fs::File::open(f).unwrap()).unwrap();
        while let Some(p) = reader.next_raw_packet() {
            match p {
                Ok(_) => expect += 1,
                Err(_) => {
                    damaged = 1;
                    break;
                }
            }
        }
        for extra in ["", ", FORCE_IP true"] {
            // Output 1 takes what FORCE_IP (implied for raw IP files) rejects.
            let (out0, out1) = (tmp("malformed-0.pcap"), tmp("malformed-1.pcap"));
            let r = run(
                &format!(
                    "e :: FromDump({}{extra}) -> t0 :: ToDump({}, SNAPLEN 0); e[1] -> t1 :: ToDump({}, SNAPLEN 0);",
                    q(f),
                    q(&out0),
                    q(&out1)
                ),
                1,
            );
            let n = |e: &str| handler(&r, e, "count").parse::<usize>().unwrap();
            let what = format!("{}{extra}", f.display());
            assert_eq!(n("e"), n("t0"), "{what}");
            assert_eq!(n("t0") + n("t1"), expect, "{what}");
            assert_eq!(handler(&r, "e", "errors"), damaged.to_string(), "{what}");
            assert_eq!(records(&out0).1.len() + records(&out1).1.len(), expect, "{what}");
            total += n("t0");
        }
    }
    assert!(total > 0);
}

#[test]
fn a_file_cut_anywhere_ends_cleanly_with_an_error() {
    let whole = std::fs::read(pcap("snabb__v4.pcap")).unwrap();
    let recs = records(&pcap("snabb__v4.pcap")).1;
    // Offsets of each record, to cut inside the 10th record's header and data.
    let mut offs = vec![24usize];
    for r in &recs {
        offs.push(offs.last().unwrap() + 16 + r.2 as usize);
    }
    for (cut, want_count, want_errors) in
        [(offs[10], 10, 0), (offs[10] + 7, 10, 1), (offs[10] + 16 + 5, 10, 1), (offs[43] - 1, 42, 1), (30, 0, 1)]
    {
        let f = tmp(&format!("cut{cut}.pcap"));
        std::fs::write(&f, &whole[..cut]).unwrap();
        let r = run(&format!("e :: FromDump({}) -> ToDump({});", q(&f), q(&tmp("cut-out.pcap"))), 1);
        assert_eq!(handler(&r, "e", "count"), want_count.to_string(), "cut at {cut}");
        assert_eq!(handler(&r, "e", "errors"), want_errors.to_string(), "cut at {cut}");
    }
    // A pcapng file cut inside a block.
    let ng = tmp("cut-src.pcapng");
    write_pcapng(&ng, Endianness::Little);
    let bytes = std::fs::read(&ng).unwrap();
    let f = tmp("cut.pcapng");
    std::fs::write(&f, &bytes[..bytes.len() / 2 + 3]).unwrap();
    let r = run(&format!("e :: FromDump({}) -> ToDump({});", q(&f), q(&tmp("cut-out2.pcap"))), 1);
    assert!(handler(&r, "e", "count").parse::<usize>().unwrap() > 10);
    assert_eq!(handler(&r, "e", "errors"), "1");
}

#[test]
fn bad_files_give_clear_errors() {
    let missing = tmp("does-not-exist.pcap");
    let e = try_router(&format!("FromDump({}) -> ToDump({});", q(&missing), q(&tmp("x.pcap")))).err().unwrap();
    assert!(e.contains(&format!("cannot open '{}': No such file or directory", missing.display())), "{e}");
    let text = tmp("not-a-capture.pcap");
    std::fs::write(&text, "this is plainly text, not packets\n").unwrap();
    let e = try_router(&format!("FromDump({}) -> ToDump({});", q(&text), q(&tmp("x.pcap")))).err().unwrap();
    assert!(e.contains(&format!("'{}' is not a pcap or pcapng file", text.display())), "{e}");
    let dir = tmp("");
    let e = try_router(&format!("FromDump({}) -> ToDump({});", q(&dir), q(&tmp("x.pcap")))).err().unwrap();
    assert!(e.contains("Is a directory"), "{e}");
    let e =
        try_router(&format!("FromDump({}) -> ToDump({});", q(&pcap("snabb__v4.pcap")), q(&tmp("no/such/dir/x.pcap"))))
            .err()
            .unwrap();
    assert!(e.contains("cannot create") && e.contains("No such file or directory"), "{e}");
    // FORCE_IP refuses link types it does not understand.
    let wifi = tmp("wifi.pcap");
    let header = PcapHeader { datalink: DataLink::IEEE802_11, ..Default::default() };
    PcapWriter::with_header(std::fs::File::create(&wifi).unwrap(), header).unwrap();
    let e =
        try_router(&format!("FromDump({}, FORCE_IP true) -> ToDump({});", q(&wifi), q(&tmp("x.pcap")))).err().unwrap();
    assert!(e.contains("can't force IP packets"), "{e}");
}

#[test]
fn pull_mode_stop_and_todump_as_a_pulling_task() {
    // FromDump pulled from; ToDump pulling through a queue; STOP ends the run.
    let out = tmp("pull.pcap");
    let r = run(
        &format!(
            "e :: FromDump({}, STOP true) -> TestQueue -> t :: ToDump({}, SNAPLEN 0, BURST 5);",
            q(&pcap("tcpdump__afs.pcap")),
            q(&out)
        ),
        1,
    );
    assert_eq!(handler(&r, "t", "count"), "601");
    assert_same_records(&records(&out).1, &records(&pcap("tcpdump__afs.pcap")).1, "afs pulled");

    // FromDump as a pull source feeding a pulling sink.
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let r = run(&format!("e :: FromDump({}, STOP true) -> PullCollect({id});", q(&pcap("snabb__v6.pcap"))), 1);
    assert_eq!(take_store(id).len(), 161);
    assert_eq!(handler(&r, "e", "count"), "161");

    // ToDump with an output passes pulled packets on.
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = tmp("pull-through.pcap");
    let r = run(
        &format!(
            "FromDump({}, STOP true) -> TestQueue -> t :: ToDump({}) -> PullCollect({id});",
            q(&pcap("snabb__v4.pcap")),
            q(&out)
        ),
        1,
    );
    assert_eq!(take_store(id).len(), 43);
    assert_eq!(handler(&r, "t", "count"), "43");
    assert_eq!(records(&out).1.len(), 43);
}

#[test]
fn only_worker_zero_reads_and_every_worker_can_write() {
    let out = tmp("workers.pcap");
    let r = run(
        &format!("e :: FromDump({}) -> t :: ToDump({}, SNAPLEN 0);", q(&pcap("snabb__sanitized4k.pcap")), q(&out)),
        3,
    );
    assert_eq!(handler(&r, "e", "count"), "4096");
    assert_eq!(handler(&r, "t", "count"), "4096");
    assert_same_records(&records(&out).1, &records(&pcap("snabb__sanitized4k.pcap")).1, "3 workers");
}

#[test]
fn raw_packet_api_is_what_todump_writes() {
    // Sanity check of the comparison helper itself on a file pcap-file writes.
    let f = tmp("raw.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&f).unwrap()).unwrap();
    w.write_raw_packet(&RawPcapPacket {
        ts_sec: 1,
        ts_frac: 2,
        incl_len: 3,
        orig_len: 9,
        data: Cow::Borrowed(&[1, 2, 3]),
    })
    .unwrap();
    drop(w);
    assert_eq!(records(&f).1, vec![(1, 2, 3, 9, vec![1, 2, 3])]);
    let copy = tmp("raw-copy.pcap");
    let r = run(&format!("e :: FromDump({}) -> ToDump({}, SNAPLEN 0);", q(&f), q(&copy)), 1);
    assert_eq!(handler(&r, "e", "truncated"), "1");
    assert_eq!(records(&copy).1, vec![(1, 2, 3, 9, vec![1, 2, 3])]);
}

#[test]
fn filepos_packet_filepos_and_reset_counts() {
    let f = pcap("snabb__v4.pcap");
    let recs = records(&f).1;
    let mut offs = vec![24u64];
    for r in &recs {
        offs.push(offs.last().unwrap() + 16 + u64::from(r.2));
    }
    let out = tmp("filepos.pcap");
    let mut r = run(&format!("e :: FromDump({}, FILEPOS {}) -> ToDump({}, SNAPLEN 0);", q(&f), offs[10], q(&out)), 1);
    assert_eq!(handler(&r, "e", "count"), "33");
    assert_same_records(&records(&out).1, &recs[10..], "from FILEPOS");
    assert_eq!(handler(&r, "e", "packet_filepos"), offs[42].to_string());
    assert_eq!(handler(&r, "e", "filepos"), offs[43].to_string());
    assert_eq!(handler(&r, "e", "filesize"), offs[43].to_string());
    assert_eq!(handler(&r, "e", "filename"), f.display().to_string());
    r.write_handler("e", "reset_counts", "").unwrap();
    assert_eq!(handler(&r, "e", "count"), "0");
    // FILEPOS inside the file header is refused.
    let e = try_router(&format!("FromDump({}, FILEPOS 3) -> ToDump({});", q(&f), q(&tmp("x2.pcap")))).err().unwrap();
    assert!(e.contains("FILEPOS"), "{e}");
}

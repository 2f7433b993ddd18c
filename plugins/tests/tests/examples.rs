//! The example plugins do what their documentation says: TokenBucket limits each IPv4 flow
//! to its rate after a burst, over-rate packets go to output 1 or are dropped and counted;
//! CPaint paints and counts.

use sluice::element::ElementClass;
use sluice::Packet;
use sluice_plugin_tests::*;
use std::sync::Once;

fn class(name: &str) -> ElementClass {
    static LOAD: Once = Once::new();
    LOAD.call_once(|| {
        let r = sluice_elements::registry();
        for lib in [token_bucket_v1(), cpaint()] {
            sluice::plugin::load(&lib, &|n| r.is_builtin(n)).unwrap_or_else(|e| panic!("{e}"));
        }
    });
    sluice::plugin::class(name).expect("loaded")
}

fn udp(src: u8, sport: u16) -> Packet {
    Packet::from_slice(&udp_packet([10, 0, 0, src], sport))
}

#[test]
fn token_bucket_limits_each_flow_after_its_burst() {
    let tb = class("TokenBucket");
    // Flows A (10 packets), B (3), C (7), interleaved; plus 4 packets that are not IPv4.
    let mut input = Vec::new();
    for i in 0..10 {
        input.push(udp(1, 1000));
        if i < 3 {
            input.push(udp(2, 1000));
        }
        if i < 7 {
            input.push(udp(1, 1001)); // another source port: another flow
        }
        if i < 4 {
            input.push(Packet::from_slice(b"not an IPv4 packet, just some bytes of text......"));
        }
    }
    let (outs, r) = sluice::testing::run_element(&tb, "RATE 0.001, BURST 5", 2, input).unwrap();
    let h = |n: &str| r.read_handler("e", n).unwrap();
    assert_eq!(outs[0].len(), 5 + 3 + 5 + 4, "bursts of 5 per flow, and the non-IP packets");
    assert_eq!(outs[1].len(), 5 + 2, "over the rate: to output 1");
    assert_eq!((h("passed"), h("limited"), h("non_ip"), h("flows")), ("13".into(), "7".into(), "4".into(), "3".into()));
    assert_eq!(h("drops"), "0");
    assert_eq!(h("capacity"), "4096");
    assert_eq!(h("version"), "1.0");

    // One output: the over-rate packets are dropped, and the host counts them.
    let input = (0..20).map(|_| udp(9, 9)).collect();
    let (outs, r) = sluice::testing::run_element(&tb, "0.001, 8, FLOWS 16", 1, input).unwrap();
    assert_eq!(outs[0].len(), 8);
    assert_eq!(r.read_handler("e", "drops").unwrap(), "12");
    assert!(r.read_handler("e", "drop_details").unwrap().contains("12 dropped by the plugin"));
    assert_eq!(r.read_handler("e", "capacity").unwrap(), "16");

    // Bare IP packets (no Ethernet header), found automatically or at OFFSET 0.
    for cfg in ["0.001, 2", "0.001, 2, OFFSET 0"] {
        let input = (0..6).map(|_| Packet::from_slice(&udp_packet([10, 0, 0, 7], 7)[14..])).collect();
        let (outs, r) = sluice::testing::run_element(&tb, cfg, 2, input).unwrap();
        assert_eq!((outs[0].len(), outs[1].len()), (2, 4), "{cfg}");
        assert_eq!(r.read_handler("e", "flows").unwrap(), "1");
    }
}

#[test]
fn token_bucket_refills_at_its_rate() {
    let tb = class("TokenBucket");
    // 1000 packets/s with bursts of 100, for a flow sending as fast as it can: over a time T
    // at most 100 + T × 1000/s pass, and (on a busy machine the worker may pause, and a full
    // bucket does not fill further) well over half of T × 1000/s.
    let f = Fixture::new(&format!(
        "src :: InfiniteSource({}, LIMIT -1, BURST 8) -> x :: {}(1000, 100) -> out :: Counter -> Discard; x[1] -> over :: Counter -> Discard;",
        hex_data(&udp_packet([10, 0, 0, 1], 1)),
        tb.name
    ));
    let mut c = f.client();
    let t = std::time::Instant::now();
    let start = count(&mut c, "out.count");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let passed = count(&mut c, "out.count") - start;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(count(&mut c, "over.count") > passed, "most packets are over the rate");
    assert!((passed as f64) <= ms + 100.0, "{passed} packets passed in {ms:.0} ms at 1000/s");
    assert!((passed as f64) >= ms * 0.5, "{passed} packets passed in {ms:.0} ms at 1000/s");
}

#[test]
fn token_bucket_refuses_bad_configurations_with_their_place() {
    class("TokenBucket");
    for (cfg, says) in [
        ("TokenBucket(fast, 3)", "RATE: expected a number of packets per second (≥ 0), found 'fast'"),
        ("TokenBucket(10)", "missing RATE or BURST"),
        ("TokenBucket(10, 3, MODE x)", "unknown keyword 'MODE'"),
    ] {
        let err = Fixture::try_new(&format!("InfiniteSource -> {cfg} -> Discard;")).err().expect("refused");
        assert!(err.contains("<test>:1:") && err.contains(says), "{cfg}: {err}");
    }
}

#[test]
fn cpaint_paints_and_counts() {
    let cp = class("CPaint");
    let input: Vec<Packet> = (0..100).map(|i| udp(1, i)).collect();
    let (outs, r) = sluice::testing::run_element(&cp, "7", 1, input).unwrap();
    assert_eq!(outs[0].len(), 100);
    assert!(outs[0].iter().all(|p| p.anno().paint == 7));
    assert_eq!(r.read_handler("e", "count").unwrap(), "100");
    assert_eq!(r.read_handler("e", "color").unwrap(), "7");
    assert_eq!(r.read_handler("e", "version").unwrap(), "1");

    // Downstream elements see the paint: CheckPaint passes them all.
    let f = Fixture::new(
        "src :: InfiniteSource(LIMIT 500, BURST 50) -> p :: CPaint(COLOR 3) -> CheckPaint(3) -> out :: Counter -> Discard;",
    );
    let mut c = f.client();
    wait_for(&mut c, "out.count", 500);
    assert!(c.write("p.color", "4").unwrap().is_ok());
    assert_eq!(read(&mut c, "p.color"), "4");
    let r = c.write("p.color", "red").unwrap();
    assert_eq!(r.code, 520);
    assert!(r.lines[0].contains("color: expected an integer from 0 to 255"), "{r:?}");
    assert!(c.write("p.reset", "").unwrap().is_ok());
    assert_eq!(count(&mut c, "p.count"), 0);
}

//! Tests of [`Args`] as elements use it, and of robustness against garbage.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::*;

fn err<T: std::fmt::Debug>(r: Result<T, ArgError>) -> String {
    r.unwrap_err().message
}

#[test]
fn no_arguments() {
    let mut args = Args::new("");
    assert_eq!(args.read_p::<u32>("X"), Ok(None));
    assert_eq!(args.read_kw::<bool>("STOP"), Ok(None));
    assert!(args.rest().is_empty());
    args.finish().unwrap();
    Args::new("  /* nothing */ ").finish().unwrap();
}

#[test]
fn strip_mandatory_positional() {
    let mut args = Args::new("14");
    assert_eq!(args.read_mp::<usize>("LENGTH"), Ok(14));
    args.finish().unwrap();

    let mut args = Args::new("LENGTH 14");
    assert_eq!(args.read_mp::<usize>("LENGTH"), Ok(14));
    args.finish().unwrap();

    assert_eq!(err(Args::new("").read_mp::<usize>("LENGTH")), "missing mandatory argument LENGTH");
    assert_eq!(err(Args::new("fourteen").read_mp::<usize>("LENGTH")), "LENGTH: expected integer, found 'fourteen'");
    assert_eq!(
        err(Args::new("LENGHT 14").read_mp::<usize>("LENGTH")),
        "missing mandatory argument LENGTH (is 'LENGHT' a misspelling?)"
    );

    let mut args = Args::new("14, 15");
    args.read_mp::<usize>("LENGTH").unwrap();
    assert_eq!(err(args.finish()), "too many arguments: '15'");

    let mut args = Args::new("14,");
    args.read_mp::<usize>("LENGTH").unwrap();
    args.finish().unwrap();
}

#[test]
fn infinite_source_keywords() {
    let read = |config: &str| {
        let mut args = Args::new(config);
        let data: Option<Bytes> = args.read_p("DATA")?;
        let limit: Option<i64> = args.read_p("LIMIT")?;
        let burst: Option<u32> = args.read_p("BURST")?;
        let active: Option<bool> = args.read_kw("ACTIVE")?;
        let stop: Option<bool> = args.read_kw("STOP")?;
        args.finish()?;
        Ok::<_, ArgError>((data.map(|d| d.0), limit, burst, active, stop))
    };
    let expect = (Some(vec![0x00, 0x11, 0x22]), Some(10), None, None, Some(true));
    assert_eq!(read(r"DATA \<00 11 22>, LIMIT 10, STOP true"), Ok(expect.clone()));
    assert_eq!(read(r"STOP true, LIMIT 10, DATA \<00 11 22>"), Ok(expect.clone()));
    assert_eq!(read(r"\<00 11 22>, 10, STOP true"), Ok(expect.clone()));
    assert_eq!(read(r"\<00 11 22>, LIMIT 10, STOP"), Ok(expect));
    assert_eq!(read(r#""ab", -1, 5, ACTIVE false"#), Ok((Some(b"ab".to_vec()), Some(-1), Some(5), Some(false), None)));
    assert_eq!(err(read("LIMIT ten")), "LIMIT: expected integer, found 'ten'");
    assert_eq!(err(read("STPO true")), "unknown keyword 'STPO' (did you mean 'STOP'?)");
    assert_eq!(err(read("LIMT 5")), "unknown keyword 'LIMT' (did you mean 'LIMIT'?)");
    assert_eq!(err(read(r"DATA \<00>, STPO")), "unknown keyword 'STPO' (did you mean 'STOP'?)");
    // A lone unknown word in the positional part is a value (here DATA), as in Click.
    assert_eq!(read("STPO").unwrap().0, Some(b"STPO".to_vec()));
    assert_eq!(err(read("LIMIT 1, stop true")), "unknown keyword 'stop' (did you mean 'STOP'?)");
    assert_eq!(err(read("BOGUS 1")), "unknown keyword 'BOGUS' (known keywords: DATA, LIMIT, BURST, ACTIVE, STOP)");
    assert_eq!(err(read("STOP maybe")), "STOP: expected boolean (true/false, yes/no, 1/0), found 'maybe'");
    assert_eq!(err(read(r"DATA \<0>")), "DATA: odd number of hex digits in \\<...>");
    assert_eq!(err(read("a, 1, 2, 3")), "too many arguments: '3'");
    assert_eq!(err(read("a, 1, 2, 3, 4")), "too many arguments: '3', '4'");
}

#[test]
fn from_dump_quoted_filename() {
    let mut args = Args::new(r#""x y.pcap", STOP true, FORCE_IP true"#);
    assert_eq!(args.read_mp::<String>("FILENAME").unwrap(), "x y.pcap");
    assert_eq!(args.read_kw::<bool>("FORCE_IP"), Ok(Some(true)));
    assert_eq!(args.read_kw::<bool>("STOP"), Ok(Some(true)));
    assert_eq!(args.read_kw::<Duration>("TIMING"), Ok(None));
    args.finish().unwrap();

    let mut args = Args::new("FILENAME x.pcap /* trace */, STOP true // done");
    assert_eq!(args.read_mp::<String>("FILENAME").unwrap(), "x.pcap");
    assert_eq!(args.read_kw::<bool>("STOP"), Ok(Some(true)));
    args.finish().unwrap();
}

#[test]
fn classifier_rest() {
    let mut args = Args::new("tcp port 80, -");
    assert_eq!(args.rest(), ["tcp port 80", "-"]);
    args.finish().unwrap();

    let mut args = Args::new("12/0800, (x, y), -, LIMIT 3");
    assert_eq!(args.read_kw::<u32>("LIMIT"), Ok(Some(3)));
    assert_eq!(args.rest(), ["12/0800", "(x, y)", "-"]);
    assert_eq!(args.read_p::<u32>("X"), Ok(None));
    args.finish().unwrap();
}

#[test]
fn keyword_rules() {
    // Repeated keyword: the last wins.
    let mut args = Args::new("LIMIT 1, LIMIT 2");
    assert_eq!(args.read_kw::<u32>("LIMIT"), Ok(Some(2)));
    args.finish().unwrap();

    // Positional and keyword for one name: the keyword wins and the slot is used up.
    let mut args = Args::new("1, 2, A 3");
    assert_eq!(args.read_p::<u32>("A"), Ok(Some(3)));
    assert_eq!(args.read_p::<u32>("B"), Ok(Some(2)));
    args.finish().unwrap();

    // Positionals must come first.
    let mut args = Args::new("LIMIT 5, 7");
    assert_eq!(args.read_p::<u32>("BURST"), Ok(None));
    assert_eq!(args.read_kw::<u32>("LIMIT"), Ok(Some(5)));
    assert_eq!(err(args.finish()), "too many arguments: '7'");

    // A positional can be given by keyword in between positionals' order.
    let mut args = Args::new("B 2, A 1");
    assert_eq!(args.read_p::<u32>("A"), Ok(Some(1)));
    assert_eq!(args.read_p::<u32>("B"), Ok(Some(2)));
    args.finish().unwrap();

    // Mandatory keyword.
    let mut args = Args::new("SRC 1.2.3.4");
    assert_eq!(args.read_mk::<Ipv4Addr>("SRC"), Ok(Ipv4Addr::new(1, 2, 3, 4)));
    assert_eq!(err(args.read_mk::<Ipv4Addr>("DST")), "missing mandatory argument DST");
    // A keyword is not taken as a positional value, even if the name is never read.
    let mut args = Args::new("SRC 1.2.3.4");
    assert_eq!(err(args.read_mp::<String>("DATA")), "missing mandatory argument DATA");

    // An empty positional counts as absent.
    let mut args = Args::new(", 5");
    assert_eq!(args.read_p::<u32>("A"), Ok(None));
    assert_eq!(args.read_p::<u32>("B"), Ok(Some(5)));
    args.finish().unwrap();
    assert_eq!(err(Args::new(",").read_mp::<u32>("A")), "missing mandatory argument A");
    Args::new(",,").finish().unwrap();

    // Keyword values keep inner spacing; whitespace after the name may be a tab or newline.
    let mut args = Args::new("LABEL\t  a  b, X\n1");
    assert_eq!(args.read_kw::<String>("LABEL").unwrap().unwrap(), "a  b");
    assert_eq!(args.read_kw::<u8>("X"), Ok(Some(1)));
    args.finish().unwrap();

    // Keyword names are uppercase identifiers; anything else is positional.
    let mut args = Args::new("Limit 5, 1ABC x, A-B y, _X z");
    assert_eq!(args.rest(), ["Limit 5", "1ABC x", "A-B y", "_X z"]);
}

#[test]
fn bare_words() {
    // A bare uppercase word is a positional value unless the element reads that name.
    let mut args = Args::new("RX");
    assert_eq!(args.read_p::<String>("LABEL").unwrap().unwrap(), "RX");
    args.finish().unwrap();

    // ... and a flag if it does.
    let mut args = Args::new("STOP");
    assert_eq!(args.read_kw::<bool>("STOP"), Ok(Some(true)));
    assert_eq!(args.read_p::<String>("LABEL"), Ok(None));
    args.finish().unwrap();
    let mut args = Args::new("RX, STOP");
    assert_eq!(args.read_p::<String>("LABEL").unwrap().unwrap(), "RX");
    assert_eq!(args.read_kw::<bool>("STOP"), Ok(Some(true)));
    assert_eq!(args.read_p::<String>("OTHER"), Ok(None));
    args.finish().unwrap();

    // Taken as a value before the keyword was read: an error, not a guess.
    let mut args = Args::new("STOP");
    assert_eq!(args.read_p::<String>("LABEL").unwrap().unwrap(), "STOP");
    assert_eq!(
        err(args.read_kw::<bool>("STOP")),
        "'STOP' was read as positional argument LABEL, so it cannot also be keyword STOP; \
         write 'STOP true' for the keyword or '\"STOP\"' for the value"
    );
    // Quoting makes it a plain value.
    let mut args = Args::new(r#""STOP""#);
    assert_eq!(args.read_p::<String>("LABEL").unwrap().unwrap(), "STOP");
    assert_eq!(args.read_kw::<bool>("STOP"), Ok(None));
    args.finish().unwrap();

    // Non-flag types need a value.
    let mut args = Args::new("LIMIT");
    assert_eq!(err(args.read_kw::<u32>("LIMIT")), "LIMIT: missing value (expected integer)");

    // Unread bare words far from any name are just extra arguments.
    let mut args = Args::new("1, XYZZY");
    args.read_mp::<u32>("A").unwrap();
    assert_eq!(err(args.finish()), "too many arguments: 'XYZZY'");
}

#[test]
fn keyword_shaped_values_need_quotes() {
    let mut args = Args::new("HELLO world");
    assert_eq!(args.read_p::<String>("LABEL"), Ok(None));
    assert_eq!(err(args.finish()), "unknown keyword 'HELLO' (known keywords: LABEL)");

    let mut args = Args::new(r#""HELLO world""#);
    assert_eq!(args.read_p::<String>("LABEL").unwrap().unwrap(), "HELLO world");
    args.finish().unwrap();

    assert_eq!(err(Args::new("X 1").finish()), "unknown keyword 'X' (this element takes no keywords)");
}

#[test]
fn all_types_through_args() {
    let mut args = Args::new(
        "A 1.2.3.4, B ::1, C 10.0.0.0/8, D 2001:db8::/32, E 0:1:2:3:4:5, F 2.5ms, G eth0, H 0.25, I 0x7f, J -3",
    );
    assert_eq!(args.read_kw::<Ipv4Addr>("A").unwrap(), Some(Ipv4Addr::new(1, 2, 3, 4)));
    assert_eq!(args.read_kw::<Ipv6Addr>("B").unwrap(), Some(Ipv6Addr::LOCALHOST));
    assert_eq!(args.read_kw::<Ipv4Prefix>("C").unwrap().unwrap().to_string(), "10.0.0.0/8");
    assert_eq!(args.read_kw::<Ipv6Prefix>("D").unwrap().unwrap().len, 32);
    assert_eq!(args.read_kw::<EtherAddr>("E").unwrap().unwrap().to_string(), "00:01:02:03:04:05");
    assert_eq!(args.read_kw::<Duration>("F").unwrap(), Some(Duration::from_micros(2500)));
    assert_eq!(args.read_kw::<Word>("G").unwrap().unwrap().0, "eth0");
    assert_eq!(args.read_kw::<f64>("H").unwrap(), Some(0.25));
    assert_eq!(args.read_kw::<u8>("I").unwrap(), Some(127));
    assert_eq!(args.read_kw::<i32>("J").unwrap(), Some(-3));
    args.finish().unwrap();
}

#[test]
fn messages_show_values_safely() {
    let long = "x".repeat(100);
    let message = err(Args::new(&format!("N {long}")).read_kw::<u32>("N"));
    assert_eq!(message, format!("N: expected integer, found '{}...'", "x".repeat(40)));
    assert_eq!(expected("integer", "a\nb"), "expected integer, found 'a\\nb'");
}

/// Inputs that are no valid value of any type but the text ones (String, Bytes, Word).
const GARBAGE: &[&str] = &[
    "",
    " ",
    "é",
    "💥💥💥",
    "\u{0}",
    "\u{202e}1",
    "\u{feff}5",
    "١٢٣",
    "\"unbalanced",
    "'open",
    "\\",
    "\\<zz",
    "\\<",
    "\"\\",
    "(( ((",
    "/*",
    "NaN",
    "-inf",
    "0x",
    "--1",
    "1.2.3.4.5",
    ":::::",
    "::1::",
    "1:2:3:4:5:6:7",
    "1e999999999999999999999",
    "1.2.3.4/999999999999999999999999",
    "0:1:2:3:4:5:6",
    "12 34",
    "yes please",
];

/// Runs every parser on `s`; returns how many accepted it.
fn parse_all(s: &str) -> usize {
    let results = [
        u8::from_arg(s).is_ok(),
        u16::from_arg(s).is_ok(),
        u32::from_arg(s).is_ok(),
        u64::from_arg(s).is_ok(),
        usize::from_arg(s).is_ok(),
        i8::from_arg(s).is_ok(),
        i16::from_arg(s).is_ok(),
        i32::from_arg(s).is_ok(),
        i64::from_arg(s).is_ok(),
        isize::from_arg(s).is_ok(),
        f64::from_arg(s).is_ok(),
        bool::from_arg(s).is_ok(),
        Ipv4Addr::from_arg(s).is_ok(),
        Ipv6Addr::from_arg(s).is_ok(),
        Ipv4Prefix::from_arg(s).is_ok(),
        Ipv6Prefix::from_arg(s).is_ok(),
        EtherAddr::from_arg(s).is_ok(),
        Duration::from_arg(s).is_ok(),
    ];
    // Strings, bytes and words accept most text; they only must not panic.
    let _ = (String::from_arg(s), Bytes::from_arg(s), Word::from_arg(s), unquote(s), unquote_bytes(s));
    results.iter().filter(|&&ok| ok).count()
}

/// Reads every type through `Args` from `config`; only checks nothing panics.
fn read_all(config: &str) {
    let mut args = Args::new(config);
    let _ = args.read_p::<String>("A");
    let _ = args.read_p::<Bytes>("B");
    let _ = args.read_mp::<u64>("C");
    let _ = args.read_kw::<bool>("STOP");
    let _ = args.read_kw::<Duration>("D");
    let _ = args.read_mk::<Ipv4Prefix>("E");
    let _ = args.read_p::<EtherAddr>("F");
    let _ = args.clone().rest();
    let _ = args.finish();
}

#[test]
fn garbage_gives_errors_not_panics() {
    let huge = "9".repeat(400);
    let generated =
        [huge.clone(), format!("-{huge}"), format!("0x{huge}"), format!("{huge}.{huge}ms"), "é".repeat(1000)];
    for s in GARBAGE.iter().copied().chain(generated.iter().map(String::as_str)) {
        assert_eq!(parse_all(s), 0, "{s:?} was accepted by some parser");
        let _ = split_args(s);
        read_all(s);
        read_all(&format!("A {s}, B {s}, C {s}, STOP {s}, D {s}, E {s}, F {s}"));
        read_all(&format!("{s}, {s}, {s}"));
    }
}

#[test]
fn random_input_never_panics() {
    const PIECES: &[&str] = &[
        "a", "Z", "STOP", "LIMIT", " ", "\t", "\n", ",", "\"", "'", "\\", "\\<", ">", "<", "/", "*", "//", "/*", "*/",
        "(", ")", "[", "]", "{", "}", "0", "9", "0x", "-", "+", ".", ":", "e", "_", "é", "💥", "\u{0}", "ms", "::",
    ];
    // A fixed linear congruential generator keeps the test deterministic.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    for _ in 0..3000 {
        let len = next(12);
        let s: String = (0..len).map(|_| PIECES[next(PIECES.len())]).collect();
        parse_all(&s);
        let _ = split_args(&s);
        read_all(&s);
    }
}

//! The `sluice` command end to end: run with handlers, check, dot, elements, errors, signals,
//! and every graph shipped in `graphs/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn run(args: &[&str]) -> Output {
    sluice().args(args).output().expect("sluice runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sluice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn run_prints_one_handler_bare_and_several_with_names() {
    let cfg = "InfiniteSource(LIMIT 1000, BURST 32, STOP true) -> c :: Counter -> d :: Discard";
    let o = run(&["run", "-h", "c.count", "-e", cfg]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "1000\n");

    let o = run(&["run", "-h", "c.count", "-h", "d.count", "-e", cfg]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "c.count: 1000\nd.count: 1000\n");
}

#[test]
fn defines_on_the_command_line_override_the_graph() {
    let cfg = "define($N 5)\nInfiniteSource(LIMIT $N, STOP true) -> c :: Counter -> Discard";
    let o = run(&["run", "-h", "c.count", "-e", cfg]);
    assert_eq!(text(&o.stdout), "5\n", "{}", text(&o.stderr));
    let o = run(&["run", "-h", "c.count", "-e", cfg, "N=77"]);
    assert_eq!(text(&o.stdout), "77\n", "{}", text(&o.stderr));
}

#[test]
fn a_bad_graph_is_refused_whole_with_file_line_col_and_status_1() {
    let f = tmp("bad.graph");
    std::fs::write(&f, "src :: InfiniteSource(LIMIT 3)\n  -> c :: Countr\n  -> Discard;\n").unwrap();
    let o = run(&["run", "-h", "c.count", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("{}:2:", f.display())), "{err}");
    assert!(err.contains("unknown element class 'Countr' — did you mean 'Counter'?"), "{err}");
    assert!(o.stdout.is_empty(), "nothing ran");

    let o = run(&["check", "-e", "Queue -> Queue -> Discard"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("pull output connected to push input"), "{}", text(&o.stderr));

    let o = run(&["check", "-e", "t :: Tee; InfiniteSource -> t; t[1] -> Discard"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("output 0 of 't' is not connected"), "{}", text(&o.stderr));
}

#[test]
fn unknown_handler_is_refused_before_running() {
    let o = run(&["run", "-h", "c.cuont", "-e", "InfiniteSource(LIMIT 1, STOP true) -> c :: Counter -> Discard"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("element 'c' has no handler 'cuont'"), "{}", text(&o.stderr));
}

#[test]
fn unreadable_capture_is_an_error_naming_the_file() {
    let o = run(&["run", "-e", "FromDump(/nonexistent/x.pcap, STOP true) -> Discard"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/nonexistent/x.pcap"), "{}", text(&o.stderr));
}

#[test]
fn check_dot_and_elements() {
    let o = run(&["check", "-e", "a :: Null -> Discard; InfiniteSource -> a"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("ok (3 elements, 2 connections)"));

    let o = run(&["dot", "-e", "q :: Queue -> Unqueue -> Discard; InfiniteSource -> q"]);
    let dot = text(&o.stdout);
    assert!(dot.starts_with("digraph sluice {"), "{dot}");
    assert!(dot.contains("label=\"q :: Queue\""), "{dot}");
    assert!(dot.contains("style=dashed"), "pull connection drawn dashed: {dot}");

    let o = run(&["elements"]);
    let list = text(&o.stdout);
    for class in ["Counter", "Discard", "FromDump", "InfiniteSource", "Queue", "ToDump", "Unqueue"] {
        assert!(list.lines().any(|l| l.starts_with(class)), "{class} missing from:\n{list}");
    }
}

#[test]
fn sigint_stops_a_running_graph_cleanly_and_prints_handlers() {
    let mut child = sluice()
        .args(["run", "-h", "c.count", "-e", "InfiniteSource(BURST 64) -> c :: Counter -> Discard"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc_kill(pid, 2) }, 0);
    let t = Instant::now();
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(t.elapsed() < Duration::from_secs(10), "sluice did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n: u64 = text(&out.stdout).trim().parse().expect("a count");
    assert!(n > 0);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn every_shipped_graph_checks() {
    let dir = repo().join("graphs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "graph") {
            let o = run(&["check", p.to_str().unwrap()]);
            assert!(o.status.success(), "{}: {}", p.display(), text(&o.stderr));
            n += 1;
        }
    }
    assert!(n >= 3);
}

#[test]
fn demo_runs_and_writes_the_capture_it_read() {
    let out = tmp("demo-out.pcap");
    let graph = repo().join("graphs/demo.graph");
    let o =
        run(&["run", "-h", "in.count", "-h", "out.count", graph.to_str().unwrap(), &format!("OUT={}", out.display())]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "in.count: 43\nout.count: 43\n");
    // Same packets, same bytes: the output capture equals the input record for record.
    let input = std::fs::read(repo().join("graphs/data/demo.pcap")).unwrap();
    let output = std::fs::read(&out).unwrap();
    assert_eq!(input.len(), output.len());
    assert_eq!(input[24..], output[24..], "records identical after the 24-byte file header");
}

fn sluicectl(sock: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluicectl")).arg("-s").arg(sock).args(args).output().expect("sluicectl runs")
}

#[test]
fn control_socket_from_the_command_line_and_sluicectl() {
    let sock = tmp("run.sock");
    let child = sluice()
        .args(["run", "-h", "c.count", "--control", sock.to_str().unwrap(), "-e"])
        .arg("src :: InfiniteSource(LIMIT 500, BURST 50) -> c :: Counter -> q :: Queue -> Unqueue -> Discard")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !sock.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "no control socket");
        std::thread::sleep(Duration::from_millis(10));
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600);
    std::thread::sleep(Duration::from_millis(200));

    let o = sluicectl(&sock, &["read", "c.count"]);
    assert_eq!(text(&o.stdout), "500\n", "{}", text(&o.stderr));
    let o = sluicectl(&sock, &["--json", "read", "c.count"]);
    assert!(text(&o.stdout).contains("\"value\":\"500\""), "{}", text(&o.stdout));
    let o = sluicectl(&sock, &["read", "c.cuont"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "sluicectl: 511 No handler named 'c.cuont'\n");
    let o = sluicectl(&sock, &["swap", "q", "Queue(64)"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = sluicectl(&sock, &["--json", "list"]);
    assert!(
        text(&o.stdout).contains("{\"class\":\"Queue\",\"implementation\":\"builtin\",\"name\":\"q\"}"),
        "{}",
        text(&o.stdout)
    );
    let o = sluicectl(&sock, &["watch", "c.count", "-n", "2", "-i", "0.05"]);
    assert_eq!(text(&o.stdout), "500\n500\n");
    let g = tmp("next.graph");
    std::fs::write(&g, "src :: InfiniteSource(LIMIT 7) -> c :: Counter -> Discard").unwrap();
    let o = sluicectl(&sock, &["hotswap", g.to_str().unwrap()]);
    assert!(text(&o.stdout).starts_with("Hot-swapped the configuration"), "{}{}", text(&o.stdout), text(&o.stderr));
    let o = sluicectl(&sock, &["stop"]);
    assert!(o.status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "507\n", "the counter carried across the hot-swap");
    assert!(!sock.exists(), "the socket file is removed at exit");
}

#[test]
fn tcp_control_socket_takes_its_token_from_sluice_toml() {
    let port = 40000 + (std::process::id() % 20000) as u16;
    let toml = tmp("sluice.toml");
    std::fs::write(&toml, "[control]\ntoken = \"t0ken\"\n").unwrap();
    let cfg = format!("ControlSocket(tcp, {port}); src :: InfiniteSource(LIMIT 3) -> c :: Counter -> Discard");
    // Without a token anywhere the graph is refused before anything runs.
    let o = run(&["run", "-e", &cfg]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("a TCP control socket needs a token"), "{}", text(&o.stderr));

    let mut child = sluice()
        .args(["run", "--config", toml.to_str().unwrap(), "-e", &cfg])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let t = Instant::now();
    let ctl = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sluicectl")).args(["--tcp", &addr]).args(args).output().unwrap()
    };
    loop {
        let o = ctl(&["--token", "t0ken", "read", "c.count"]);
        if o.status.success() {
            assert_eq!(text(&o.stdout), "3\n");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{}", text(&o.stderr));
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = ctl(&["--token", "wrong", "read", "c.count"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("Wrong token"), "{}", text(&o.stderr));
    assert!(ctl(&["--token", "t0ken", "stop"]).status.success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_hot_swap_opens_and_closes_the_graphs_control_sockets() {
    let (a, b, keep) = (tmp("hs-a.sock"), tmp("hs-b.sock"), tmp("hs-keep.sock"));
    let graph = |sock: &Path| {
        format!(
            "ControlSocket(unix, \"{}\");\nsrc :: InfiniteSource(LIMIT 5) -> c :: Counter -> Discard;",
            sock.display()
        )
    };
    let mut child = KillOnDrop(Some(
        sluice()
            .args(["run", "-h", "c.count", "--control", keep.to_str().unwrap(), "-e", &graph(&a)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let t = Instant::now();
    while !(a.exists() && keep.exists()) {
        assert!(t.elapsed() < Duration::from_secs(10), "no control sockets");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(text(&sluicectl(&a, &["read", "c.count"]).stdout), "5\n");

    // The new graph's ControlSocket opens; the one it no longer declares closes; the
    // command line's stays.
    let g = tmp("hs-next.graph");
    std::fs::write(&g, graph(&b)).unwrap();
    let o = sluicectl(&a, &["hotswap", g.to_str().unwrap()]);
    assert!(text(&o.stdout).starts_with("Hot-swapped the configuration"), "{}{}", text(&o.stdout), text(&o.stderr));
    // The new source's 5 packets follow the 5 carried over; wait for them (bounded).
    let t = Instant::now();
    while text(&sluicectl(&b, &["read", "c.count"]).stdout) != "10\n" {
        assert!(t.elapsed() < Duration::from_secs(10), "not served on the new graph's socket, or no packets");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!a.exists(), "the old graph's socket is closed and its file removed");
    assert_eq!(text(&sluicectl(&keep, &["read", "c.count"]).stdout), "10\n");

    // A socket that cannot be opened refuses the hot-swap, with the ControlSocket's place;
    // the graph and its socket stay.
    std::fs::write(&g, graph(Path::new("/nonexistent-dir/x.sock"))).unwrap();
    let o = sluicectl(&b, &["hotswap", g.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).contains(":1:15: ControlSocket: cannot listen on '/nonexistent-dir/x.sock'"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(text(&sluicectl(&b, &["read", "c.count"]).stdout), "10\n");

    assert!(sluicectl(&keep, &["stop"]).status.success());
    let out = child.0.take().expect("running").wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "10\n");
    assert!(!b.exists() && !keep.exists(), "socket files are removed at exit");
}

#[test]
fn driver_manager_takes_the_stop_event_prints_resets_and_stops() {
    let cfg = "InfiniteSource(LIMIT 10, STOP true) -> c :: Counter -> Discard;\n\
               DriverManager(wait_stop, print c.count, read c.count, write c.reset, stop)";
    let o = run(&["run", "-h", "c.count", "-e", cfg]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // `print` goes to stdout; `read` to stderr as `NAME:` and the value, as in Click; the
    // run's own `-h` comes after the script's reset.
    assert_eq!(text(&o.stdout), "10\n0\n");
    assert!(text(&o.stderr).contains("c.count:\n10\n"), "{}", text(&o.stderr));
}

#[test]
fn driver_manager_wait_time_really_waits() {
    let cfg = "Idle -> Discard; DriverManager(wait_time 0.5, print \"done\", stop)";
    let t = Instant::now();
    let o = run(&["run", "-e", cfg]);
    let e = t.elapsed();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "done\n");
    assert!(e >= Duration::from_millis(500) && e < Duration::from_secs(10), "{e:?}");
}

#[test]
fn driver_manager_wait_stop_2_waits_for_both_sources() {
    let cfg = "a :: InfiniteSource(LIMIT 10, STOP true) -> Discard;\n\
               b :: RatedSource(RATE 20, LIMIT 4, STOP true) -> Discard;\n\
               DriverManager(wait_stop, print a.count, wait_stop, print b.count)";
    let o = run(&["run", "-e", cfg]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The first stop event (a, at once) passes one wait_stop; the second (b, after ~0.2 s)
    // the other; the end of the script stops the router.
    assert_eq!(text(&o.stdout), "10\n4\n");
}

#[test]
fn driver_manager_mistakes_are_refused_with_file_line_col() {
    let f = tmp("dm.graph");
    std::fs::write(&f, "Idle -> c :: Counter -> Discard;\nDriverManager(wait_stop,\n  prnt c.count, write cc.reset)\n")
        .unwrap();
    let o = run(&["run", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("{}:2:", f.display())), "{err}");
    assert!(err.contains("unknown instruction 'prnt' — did you mean 'print'?"), "{err}");
    assert!(err.contains("no element named 'cc'"), "{err}");
    assert!(o.stdout.is_empty(), "nothing ran");
}

#[test]
fn script_variables_pass_through_the_graph_language_as_in_click() {
    // Click leaves an undefined `$x` as written, so a Script gets its own variables.
    let o = run(&[
        "run",
        "-e",
        "Idle -> Discard; Script(set x 0, label top, print $x, set x $(add $x 1), goto top $(lt $x 5), stop)",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "0\n1\n2\n3\n4\n");
}

/// A child process killed if the test fails before it ends (no router left running).
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

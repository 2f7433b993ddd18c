//! The user's path, with the real commands: `sluice new-plugin NAME`, `cargo build` of the
//! template, `sluice run` of its example graph (`require(library ...)`), then a running
//! Sluice with a control socket where `sluicectl load` and `sluicectl swap` put the plugin
//! in while packets flow.

use sluice_plugin_tests::scratch;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>`: the test executable is in its `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The `sluice` and `sluicectl` binaries of this build (built by `cargo test --workspace`;
/// built here when only this crate's tests run).
fn binaries() -> (PathBuf, PathBuf) {
    let dir = profile_dir();
    let (sluice, ctl) = (dir.join("sluice"), dir.join("sluicectl"));
    if !sluice.is_file() || !ctl.is_file() {
        let profile = dir.file_name().unwrap().to_string_lossy().into_owned();
        let profile = if profile == "debug" { "dev".to_string() } else { profile };
        let target = dir.parent().unwrap();
        let st = cargo()
            .args(["build", "-p", "sluice-cli", "--bins", "--profile", &profile, "--target-dir"])
            .arg(target)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(st.success(), "building sluice-cli failed");
    }
    (sluice, ctl)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stops the router on drop, whatever happened.
struct Router(Child);

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn from_new_plugin_to_a_running_swap() {
    let (sluice, ctl_bin) = binaries();
    let dir = scratch("newplugin");

    // 1. The template.
    let out = run(Command::new(&sluice).args(["new-plugin", "len-filter"]).current_dir(&dir));
    assert!(stdout(&out).contains("Created plugin crate 'len-filter'"), "{}", stdout(&out));
    let krate = dir.join("len-filter");
    for f in ["Cargo.toml", "src/lib.rs", "README.md", "example.graph"] {
        assert!(krate.join(f).is_file(), "{f}");
    }
    let refused = Command::new(&sluice).args(["new-plugin", "len-filter"]).current_dir(&dir).output().unwrap();
    assert!(!refused.status.success(), "an existing directory is not overwritten");

    // 2. Build it (it depends on this source tree's SDK, and on nothing else).
    run(cargo()
        .args(["build", "--release", "--offline", "--target-dir"])
        .arg(krate.join("target"))
        .current_dir(&krate)
        .env_remove("CARGO_TARGET_DIR"));
    let lib = krate.join("target/release/liblen_filter.so");
    assert!(lib.is_file());

    // 3. Its example graph: 1000 packets of 64 bytes pass, 500 of 40 are dropped.
    let out = run(Command::new(&sluice)
        .args(["run", "-h", "x.count", "-h", "x.drops", "-h", "c.count", "example.graph"])
        .current_dir(&krate));
    assert_eq!(stdout(&out), "x.count: 1500\nx.drops: 500\nc.count: 1000\n");

    // 4. A running Sluice: load the library and swap the element in and out, by sluicectl.
    let sock = dir.join("ctl.sock");
    let child = Command::new(&sluice)
        .args(["run", "--control"])
        .arg(&sock)
        .args(["-e", "src :: InfiniteSource(LIMIT -1, LENGTH 64, BURST 8) -> x :: Null -> c :: Counter -> Discard;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _router = Router(child);
    let t = Instant::now();
    while !sock.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "no control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ctl = |args: &[&str]| stdout(&run(Command::new(&ctl_bin).arg("-s").arg(&sock).args(args).current_dir(&krate)));
    let count = |ctl: &dyn Fn(&[&str]) -> String| ctl(&["read", "c.count"]).trim().parse::<u64>().unwrap();

    // A relative path: sluicectl makes it absolute for the router.
    assert_eq!(ctl(&["load", "target/release/liblen_filter.so"]), "Loaded plugin len-filter 0.1.0\nLenFilter\n");
    assert!(ctl(&["swap", "x", "LenFilter(100)"]).contains("Swapped 'x' for LenFilter(100)"));
    let list = ctl(&["list"]);
    assert!(list.contains(&format!("x\tLenFilter\tplugin len-filter 0.1.0 ({})", lib.display())), "{list}");
    // Every packet is shorter than 100 bytes now: the count stops.
    std::thread::sleep(Duration::from_millis(100));
    let a = count(&ctl);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(count(&ctl), a, "LenFilter(100) drops the 64-byte packets");
    ctl(&["swap", "x", "LenFilter(60)"]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(count(&ctl) > a, "LenFilter(60) passes them");
    ctl(&["swap", "x", "Null"]);
    assert!(ctl(&["list"]).contains("x\tNull\tbuiltin"));
    // A bad library: sluicectl says why and fails.
    let bad =
        Command::new(&ctl_bin).arg("-s").arg(&sock).args(["load", "Cargo.toml"]).current_dir(&krate).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot load plugin"), "{bad:?}");
    ctl(&["stop"]);
}

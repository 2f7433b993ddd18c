//! Support for the plugin tests: where the built plugins are, C fixtures compiled on the
//! fly, a running router with a control socket, packets, and a look at the process's
//! mappings to see which libraries are loaded.
//!
//! The Rust plugins under test are dev-dependencies of this crate (crate types `cdylib` and
//! `rlib`), so cargo builds their shared objects into `target/<profile>/deps/`, the
//! directory of the test executables, before any test runs; [`shared_object`] finds them
//! there. The C plugin is built by `sluice-cpaint`'s build script, which also says which C
//! compiler to use for the fixtures ([`compile_c`]).

use sluice::control::client::Client;
use sluice::control::{commands::Access, ControlPlane, Endpoint, ListenerSpec, RouterHost};
use sluice::load::plan_str;
use sluice::runtime::RunOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shared object of a plugin crate built for these tests, e.g.
/// `shared_object("sluice_token_bucket")`.
pub fn shared_object(lib_name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("in a directory");
    let file = format!("lib{lib_name}.so");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        let p = dir.join(&file);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{file} is not in {} (nor its parent): run the tests with cargo, which builds the plugins that \
         sluice-plugin-tests depends on",
        deps.display()
    );
}

/// TokenBucket version 1.0.
pub fn token_bucket_v1() -> PathBuf {
    shared_object("sluice_token_bucket")
}

/// TokenBucket version 2.0 (same source, `v2` feature).
pub fn token_bucket_v2() -> PathBuf {
    shared_object("sluice_token_bucket_v2")
}

/// PanicAfter, the plugin that panics on purpose.
pub fn faulty() -> PathBuf {
    shared_object("sluice_faulty_plugin")
}

/// CPaint as `cargo build` made it.
pub fn cpaint() -> PathBuf {
    PathBuf::from(sluice_cpaint::LIBRARY)
}

/// A fresh directory for one test's files.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "sluice-plugin-tests-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("create scratch directory");
    d
}

/// A C file of this crate's `c/` directory.
pub fn c_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c").join(name)
}

/// Compile the C `source` into `dir/file` (`-shared -fPIC`) with `defines`.
pub fn compile_c(source: &Path, dir: &Path, file: &str, defines: &[&str]) -> PathBuf {
    let out = dir.join(file);
    sluice_cpaint::compile(source, &out, defines).unwrap_or_else(|e| panic!("{e}"));
    out
}

/// Copy `lib` to `dir/file` (a file name of its own, to recognize it in the mappings).
pub fn copy_as(lib: &Path, dir: &Path, file: &str) -> PathBuf {
    let to = dir.join(file);
    std::fs::copy(lib, &to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", lib.display(), to.display()));
    to
}

/// Whether a file whose name ends with `file_name` is mapped into this process: the loader
/// maps each load's private copy as `.../sluice-plugins-PID/N-FILE`.
pub fn mapped(file_name: &str) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    let suffix = format!("-{file_name}");
    maps.lines().any(|l| {
        let path = l.trim_end().trim_end_matches(" (deleted)");
        path.contains("sluice-plugins-") && path.ends_with(&suffix)
    })
}

/// Click's `\<hex>` notation for `bytes` (InfiniteSource's DATA).
pub fn hex_data(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("\\<{hex}>")
}

/// An Ethernet + IPv4 + UDP packet (64 bytes) from `src`:`sport` to 10.0.0.2:53.
pub fn udp_packet(src: [u8; 4], sport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut p[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&50u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    ip[20..22].copy_from_slice(&sport.to_be_bytes());
    ip[22..24].copy_from_slice(&53u16.to_be_bytes());
    ip[24..26].copy_from_slice(&30u16.to_be_bytes());
    p
}

/// A router running `config` (checked with the standard elements and whatever plugins are
/// loaded; `require(library ...)` loads more) on one worker, with a control socket.
pub struct Fixture {
    pub host: Arc<RouterHost>,
    plane: Option<ControlPlane>,
    pub socket: PathBuf,
}

impl Fixture {
    pub fn new(config: &str) -> Fixture {
        Self::try_new(config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The graph's errors, as `sluice check` would print them, when it is refused.
    pub fn try_new(config: &str) -> Result<Fixture, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let socket = std::env::temp_dir().join(format!("sluice-plugin-tests-{}-{n}.sock", std::process::id()));
        let registry = sluice_elements::registry();
        let plan = plan_str("<test>", config, &[], &registry, Path::new(".")).map_err(|e| e.to_string())?;
        let opts = RunOptions { workers: 1, keep_running: true };
        let host = Arc::new(
            RouterHost::start(plan, config.into(), "<test>".into(), registry, opts).map_err(|e| e.to_string())?,
        );
        let spec = ListenerSpec { endpoint: Endpoint::Unix(socket.clone()), access: Access::default() };
        let plane = ControlPlane::start(host.clone(), vec![spec]).expect("control plane starts");
        Ok(Fixture { host, plane: Some(plane), socket })
    }

    pub fn client(&self) -> Client {
        Client::connect_unix(&self.socket).expect("connect to the control socket")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.host.stop();
        if let Some(p) = self.plane.take() {
            p.shutdown();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A handler's value as text; panics with the reply when the read fails.
pub fn read(c: &mut Client, handler: &str) -> String {
    let r = c.read(handler).expect("control socket");
    assert!(r.is_ok(), "read {handler}: {} {:?}", r.code, r.lines);
    r.text()
}

/// A handler's value as a number.
pub fn count(c: &mut Client, handler: &str) -> u64 {
    let v = read(c, handler);
    v.trim().parse().unwrap_or_else(|_| panic!("{handler} is not a number: '{v}'"))
}

/// Read `handler` until it stops changing (the graph has drained).
pub fn settle(c: &mut Client, handler: &str) -> u64 {
    let t = Instant::now();
    let mut last = count(c, handler);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = count(c, handler);
        if now == last {
            return now;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{handler} never settled");
        last = now;
    }
}

/// Wait until `handler` reads `want`.
pub fn wait_for(c: &mut Client, handler: &str, want: u64) {
    let t = Instant::now();
    while count(c, handler) != want {
        assert!(t.elapsed() < Duration::from_secs(60), "{handler} never reached {want}: {}", count(c, handler));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `LOAD path` over the control socket; the reply must be OK.
pub fn load(c: &mut Client, path: &Path) -> String {
    let r = c.request(&format!("LOAD {}", path.display()), None, true).expect("control socket");
    assert!(r.is_ok(), "LOAD {}: {} {:?}", path.display(), r.code, r.lines);
    r.message()
}

/// `SWAP element spec`; the reply must be OK.
pub fn swap(c: &mut Client, element: &str, spec: &str) {
    let r = c.swap(element, spec).expect("control socket");
    assert!(r.is_ok(), "swap {element} {spec}: {} {:?}", r.code, r.lines);
}

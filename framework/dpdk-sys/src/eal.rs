//! The EAL (Environment Abstraction Layer): DPDK's process-wide runtime.
//!
//! The EAL starts once per process, with command-line style arguments, the first time a
//! port is used ([`init`]). Set the arguments before that with [`set_args`] or
//! [`set_args_str`] (`sluice run --eal '...'` and `[dpdk] eal = "..."` do); otherwise
//! [`DEFAULT_ARGS`] apply: one lcore, no hugepages, no PCI scan, no shared files, no
//! telemetry socket, 512 MiB of ordinary memory. That works on any Linux machine without
//! privileges or NICs (virtual devices only: `net_null0`, `net_ring0`, `net_pcap0,...`,
//! which ports may also name directly). For real NICs give your own arguments, e.g.
//! `-l 0-3 -a 0000:01:00.0 --huge-dir /dev/hugepages`.
//!
//! What the EAL prints while starting is captured: on success it goes to the `debug` log,
//! on failure into the error, behind a hint when the cause is a known one (no hugepages).
//! Afterwards DPDK logs to standard error. The EAL pins the thread that starts it to its
//! first lcore; [`init`] restores the thread's CPU affinity afterwards, so threads started
//! later (Sluice's workers) are not all confined to that CPU.

use crate::error::{rte_errno, strerror, Error};
use crate::ffi;
use std::cell::Cell;
use std::ffi::{c_char, CString};
use std::sync::{Mutex, OnceLock};

/// The EAL arguments used when none were set.
pub const DEFAULT_ARGS: &str = "-l 0 --no-huge --no-pci --no-shconf --no-telemetry -m 512";

struct Settings {
    args: Option<Vec<String>>,
    /// `init` has begun: arguments are fixed.
    started: bool,
}

static SETTINGS: Mutex<Settings> = Mutex::new(Settings { args: None, started: false });
static INIT: OnceLock<Result<(), Error>> = OnceLock::new();
static INIT_LOG: OnceLock<String> = OnceLock::new();

/// Split EAL arguments written as one string: on whitespace, with `'...'` and `"..."`
/// quoting (no escapes inside quotes; a backslash outside quotes escapes one character).
pub fn split_args(s: &str) -> Result<Vec<String>, Error> {
    let bad = |message: &str| Error::BadArgs { args: s.to_string(), message: message.to_string() };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(x) => cur.push(x),
                        None => return Err(bad("unclosed quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or_else(|| bad("a backslash ends the arguments"))?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Set the EAL arguments (without the program name) for this process. Fails once the EAL
/// has started.
pub fn set_args<I, S>(args: I) -> Result<(), Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut s = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
    if s.started {
        return Err(Error::AlreadyInitialized { args: shown(&effective(&s)) });
    }
    s.args = Some(args.into_iter().map(Into::into).collect());
    Ok(())
}

/// [`set_args`] from one string, split like a shell would (see [`split_args`]).
pub fn set_args_str(args: &str) -> Result<(), Error> {
    set_args(split_args(args)?)
}

fn effective(s: &Settings) -> Vec<String> {
    s.args.clone().unwrap_or_else(|| split_args(DEFAULT_ARGS).expect("the default arguments split"))
}

fn shown(args: &[String]) -> String {
    args.join(" ")
}

/// The EAL arguments in effect: those set, or [`DEFAULT_ARGS`].
pub fn args() -> Vec<String> {
    effective(&SETTINGS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Whether the EAL started successfully.
pub fn is_initialized() -> bool {
    matches!(INIT.get(), Some(Ok(())))
}

/// What the EAL printed while starting (empty before [`init`]).
pub fn init_log() -> &'static str {
    INIT_LOG.get().map(String::as_str).unwrap_or("")
}

/// Start the EAL with the arguments set (or the defaults), once per process. Later calls
/// return the first call's result: the EAL cannot be started twice.
pub fn init() -> Result<(), Error> {
    INIT.get_or_init(|| {
        let args = {
            let mut s = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
            s.started = true;
            effective(&s)
        };
        let (result, log) = start(&args);
        if !log.is_empty() {
            tracing::debug!("DPDK EAL: {}", log.trim_end());
        }
        let _ = INIT_LOG.set(log);
        result
    })
    .clone()
}

/// Run `rte_eal_init`, capturing its log; returns the result and the captured text.
fn start(args: &[String]) -> (Result<(), Error>, String) {
    let mut argv_c: Vec<CString> = Vec::with_capacity(args.len() + 1);
    argv_c.push(CString::new("sluice").unwrap());
    for a in args {
        match CString::new(a.as_str()) {
            Ok(c) => argv_c.push(c),
            Err(_) => {
                let e = Error::BadArgs { args: shown(args), message: "an argument contains a NUL byte".into() };
                return (Err(e), String::new());
            }
        }
    }
    // The EAL may keep pointers into argv: the strings live as long as the process.
    let argv_c: &'static [CString] = Vec::leak(argv_c);
    let argv: &'static mut [*mut c_char] =
        Vec::leak(argv_c.iter().map(|c| c.as_ptr() as *mut c_char).chain([std::ptr::null_mut()]).collect());

    let capture = LogCapture::begin();
    let affinity = Affinity::save();
    // SAFETY: argv is a NULL-terminated array of NUL-terminated strings that live forever.
    let ret = unsafe { ffi::rte_eal_init(argv_c.len() as i32, argv.as_mut_ptr()) };
    let errno = rte_errno();
    affinity.restore();
    let log = capture.end();
    if ret >= 0 {
        return (Ok(()), log);
    }
    let message = explain(&log, errno);
    (Err(Error::Eal { args: shown(args), message }), log)
}

/// The EAL's reason for failing, with a hint in front for the causes we know.
fn explain(log: &str, errno: i32) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("EAL: Detected") && !l.contains("Usage:"))
        .collect();
    // The lines that say what went wrong, if some do; else everything the EAL said.
    let bad = ["error", "cannot", "fail", "invalid", "unable", "not ", "no "];
    let reasons: Vec<&str> =
        lines.iter().copied().filter(|l| bad.iter().any(|b| l.to_ascii_lowercase().contains(b))).collect();
    let lines = if reasons.is_empty() { lines } else { reasons };
    let said = if lines.is_empty() { strerror(errno) } else { lines.join("; ") };
    let lower = said.to_ascii_lowercase();
    if lower.contains("hugepage") && !lower.contains("--legacy-mem is not compatible") {
        format!("reserve hugepages (e.g. `echo 256 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages` as root) or run with --no-huge: {said}")
    } else if lower.contains("--legacy-mem is not compatible with --in-memory") {
        format!("--in-memory needs hugepages; without them use --no-huge --no-shconf instead: {said}")
    } else {
        said
    }
}

/// Sends DPDK's log into memory while the EAL starts, then to standard error.
struct LogCapture {
    stream: *mut libc::FILE,
    buf: Box<(*mut c_char, libc::size_t)>,
}

impl LogCapture {
    fn begin() -> LogCapture {
        let mut buf = Box::new((std::ptr::null_mut(), 0));
        // SAFETY: open_memstream writes the buffer's address and size into `buf`, which is
        // boxed so that its address stays fixed until `end`.
        let stream = unsafe { libc::open_memstream(&mut buf.0, &mut buf.1) };
        if !stream.is_null() {
            // SAFETY: a valid stream; the EAL writes its log there until `end`.
            unsafe { ffi::rte_openlog_stream(stream.cast()) };
        }
        LogCapture { stream, buf }
    }

    fn end(self) -> String {
        if self.stream.is_null() {
            return String::new();
        }
        // SAFETY: switch DPDK's log to a stream on a duplicate of stderr before closing the
        // memory stream; then the memory stream's buffer holds everything written, and is
        // ours to free.
        unsafe {
            let fd = libc::dup(2);
            let err = if fd >= 0 { libc::fdopen(fd, c"w".as_ptr()) } else { std::ptr::null_mut() };
            if !err.is_null() {
                libc::setvbuf(err, std::ptr::null_mut(), libc::_IOLBF, 0);
            }
            ffi::rte_openlog_stream(err.cast());
            libc::fclose(self.stream);
            let text = if self.buf.0.is_null() {
                String::new()
            } else {
                let bytes = std::slice::from_raw_parts(self.buf.0 as *const u8, self.buf.1);
                let s = String::from_utf8_lossy(bytes).into_owned();
                libc::free(self.buf.0.cast());
                s
            };
            text
        }
    }
}

/// The calling thread's CPU affinity, to put back after `rte_eal_init` pinned it.
struct Affinity(Option<libc::cpu_set_t>);

impl Affinity {
    fn save() -> Affinity {
        // SAFETY: a zeroed cpu_set_t is valid; the kernel fills it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let ok = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0;
            Affinity(ok.then_some(set))
        }
    }

    fn restore(self) {
        if let Some(set) = self.0 {
            // SAFETY: `set` came from sched_getaffinity.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        }
    }
}

/// Registration of a thread with the EAL, undone when the thread exits.
struct Registration(bool);

impl Drop for Registration {
    fn drop(&mut self) {
        if self.0 {
            // SAFETY: this thread registered itself in `register_thread`.
            unsafe { ffi::rte_thread_unregister() };
        }
    }
}

thread_local! {
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    static REGISTRATION: Registration = register_now();
}

fn register_now() -> Registration {
    // SAFETY: plain EAL calls on the calling thread; the EAL is running (checked by caller).
    unsafe {
        if ffi::sluice_rte_lcore_id() != ffi::LCORE_ID_ANY {
            return Registration(false); // an EAL thread already (the one that started it)
        }
        if ffi::rte_thread_register() == 0 {
            Registration(true)
        } else {
            tracing::debug!("cannot register thread with the DPDK EAL: {}", strerror(rte_errno()));
            Registration(false)
        }
    }
}

/// Make the calling thread an EAL thread (an lcore id of its own, so that mempool caches
/// work for it); undone when the thread exits. Cheap after the first call on a thread.
/// Threads that are not registered still work, only allocate and free mbufs more slowly.
#[inline]
pub fn register_thread() {
    if !REGISTERED.with(Cell::get) {
        register_slow();
    }
}

#[cold]
fn register_slow() {
    if !is_initialized() {
        return;
    }
    REGISTERED.with(|r| r.set(true));
    REGISTRATION.with(|_| {});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_like_a_shell() {
        assert_eq!(split_args("-l 0  --no-huge").unwrap(), ["-l", "0", "--no-huge"]);
        assert_eq!(
            split_args("--vdev='net_pcap0,rx_pcap=/tmp/a b.pcap' -m 512").unwrap(),
            ["--vdev=net_pcap0,rx_pcap=/tmp/a b.pcap", "-m", "512"]
        );
        assert_eq!(split_args(r#"a\ b "" c"#).unwrap(), ["a b", "", "c"]);
        assert!(split_args("'open").is_err());
        assert!(split_args("").unwrap().is_empty());
    }

    #[test]
    fn hints_name_the_known_causes() {
        let m = explain("EAL: Selected IOVA mode 'PA'\nEAL: Cannot get hugepage information.\n", 13);
        assert!(m.starts_with("reserve hugepages"), "{m}");
        assert!(m.ends_with("or run with --no-huge: EAL: Cannot get hugepage information."), "{m}");
        assert_eq!(explain("", 22), "Invalid argument");
        let m = explain("EAL: --legacy-mem is not compatible with --in-memory\n", 22);
        assert!(m.starts_with("--in-memory needs hugepages"), "{m}");
    }
}
